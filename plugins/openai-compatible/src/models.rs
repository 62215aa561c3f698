//! `provider.models`: the table's `models = [...]`, else `GET {base}/models` (the
//! OpenAI list shape, `data[].id`, with OpenRouter's `architecture.input_modalities`
//! and `context_length` when the server gives them).

use talaria_sdk::provider::{Endpoint, ModelInfo, ModelList, ModelSource};
use talaria_sdk::{CallContext, ErrorKind, Result};

use crate::instances::{Instance, OPENROUTER, OPENROUTER_DEFAULT_MODEL};

pub fn list(instance: &Instance, endpoint: &Endpoint, cx: &CallContext) -> Result<ModelList> {
    if !instance.models.is_empty() {
        let models: Vec<ModelInfo> = instance
            .models
            .iter()
            .map(|slug| ModelInfo {
                slug: slug.clone(),
                ..Default::default()
            })
            .collect();
        return Ok(ModelList {
            default_model: instance.models[0].clone(),
            models,
            source: ModelSource::Builtin,
            note: Some(format!("listed in {}", instance.origin)),
        });
    }
    match fetch(endpoint, cx) {
        Ok(models) => Ok(ModelList {
            default_model: default_model(instance, &models),
            models,
            source: ModelSource::Live,
            note: None,
        }),
        Err(e) if e.kind == ErrorKind::Cancelled => Err(e),
        Err(e) => Ok(ModelList {
            default_model: default_model(instance, &[]),
            models: Vec::new(),
            source: ModelSource::Builtin,
            note: Some(format!(
                "could not list the models of {} ({}); name them as `models = [...]` in {}",
                instance.base_url, e.message, instance.origin
            )),
        }),
    }
}

fn default_model(instance: &Instance, models: &[ModelInfo]) -> String {
    if instance.name == OPENROUTER {
        return OPENROUTER_DEFAULT_MODEL.to_owned();
    }
    models.first().map(|m| m.slug.clone()).unwrap_or_default()
}

fn fetch(endpoint: &Endpoint, cx: &CallContext) -> Result<Vec<ModelInfo>> {
    let listed = talaria_transport_kit::models::fetch(endpoint, cx)?;
    Ok(listed
        .into_iter()
        .map(|m| ModelInfo {
            input_modalities: m.input_modalities(),
            slug: m.id,
            display_name: m.name,
            context_window: m.context_length,
            ..Default::default()
        })
        .collect())
}
