//! What the loop asks of a model, from what its provider says about it
//! (`provider.models`): whether and how much it reasons.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use talaria_sdk::methods::ProviderModels;
use talaria_sdk::provider::{ModelInfo, ModelsRequest, ProviderCall};
use talaria_sdk::transport::ReasoningRequest;
use talaria_sdk::turn::ModelRef;
use talaria_sdk::CallContext;

/// The providers' model lists, asked once per provider for the life of the plugin.
#[derive(Default)]
pub struct ModelCatalog {
    lists: Mutex<HashMap<String, Vec<ModelInfo>>>,
}

impl ModelCatalog {
    /// The provider's entry for the model; `None` when the provider does not list it
    /// (or cannot be asked), in which case the loop asks for nothing special.
    pub fn info(&self, model: &ModelRef, cx: &CallContext) -> Option<ModelInfo> {
        let mut lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        if !lists.contains_key(&model.provider) {
            let asked = ProviderCall::new(&model.provider, ModelsRequest { refresh: false });
            match cx.host().call::<ProviderModels>(&asked, cx) {
                Ok(list) => {
                    lists.insert(model.provider.clone(), list.models);
                }
                Err(e) => {
                    cx.host().warn_log(&format!(
                        "agent-loop: the {} model list is unavailable: {}",
                        model.provider, e.message
                    ));
                    return None;
                }
            }
        }
        lists
            .get(&model.provider)?
            .iter()
            .find(|m| m.slug == model.model)
            .cloned()
    }
}

/// Reasoning settings for a model that reasons: its default effort (else `medium`) and
/// a summary when it can stream one.
pub fn reasoning_for(info: Option<&ModelInfo>) -> Option<ReasoningRequest> {
    let support = info?.reasoning.as_ref()?;
    Some(ReasoningRequest {
        effort: support
            .default_effort
            .clone()
            .unwrap_or_else(|| "medium".to_owned()),
        summary: support.summaries.then(|| "auto".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use talaria_sdk::provider::ReasoningSupport;

    #[test]
    fn reasoning_follows_the_catalog() {
        assert_eq!(reasoning_for(None), None);
        let mut info = ModelInfo {
            slug: "m".into(),
            ..Default::default()
        };
        assert_eq!(reasoning_for(Some(&info)), None);
        info.reasoning = Some(ReasoningSupport {
            default_effort: Some("high".into()),
            efforts: vec![],
            summaries: true,
        });
        assert_eq!(
            reasoning_for(Some(&info)),
            Some(ReasoningRequest {
                effort: "high".into(),
                summary: Some("auto".into())
            })
        );
        info.reasoning = Some(ReasoningSupport::default());
        assert_eq!(
            reasoning_for(Some(&info)),
            Some(ReasoningRequest {
                effort: "medium".into(),
                summary: None
            })
        );
    }
}
