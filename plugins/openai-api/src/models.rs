//! `provider.models`: the live list from `GET {base}/models`, else the built-in one.

use talaria_sdk::provider::{ModelInfo, ModelList, ModelSource, ReasoningSupport, ResolveRequest};
use talaria_sdk::{CallContext, Error, Result};

use crate::settings::{Settings, API_KEY_VAR};

pub const DEFAULT_MODEL: &str = "gpt-5.5";
const BUILTIN_MODELS: [&str; 3] = ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini"];

pub fn list(settings: &Settings, user_agent: &str, cx: &CallContext) -> Result<ModelList> {
    if settings.api_key.is_none() {
        return Ok(builtin(format!("{API_KEY_VAR} is not set, so the live list cannot be fetched; showing the built-in list")));
    }
    match fetch(settings, user_agent, cx) {
        Ok(slugs) => Ok(ModelList {
            models: slugs.into_iter().map(model).collect(),
            default_model: DEFAULT_MODEL.into(),
            source: ModelSource::Live,
            note: None,
        }),
        Err(e) if e.kind == talaria_sdk::ErrorKind::Cancelled => Err(e),
        Err(e) => Ok(builtin(format!(
            "could not fetch {}/models ({}); showing the built-in list",
            settings.base_url, e.message
        ))),
    }
}

fn builtin(note: String) -> ModelList {
    ModelList {
        models: BUILTIN_MODELS
            .iter()
            .map(|slug| model((*slug).to_owned()))
            .collect(),
        default_model: DEFAULT_MODEL.into(),
        source: ModelSource::Builtin,
        note: Some(note),
    }
}

/// What a model can do. The plain API's `/v1/models` lists ids and owners but no
/// capabilities, so this provider keeps a small table by model family: reasoning for
/// GPT-5 and the o-series (the efforts differ by model, so none are listed), images
/// for those and GPT-4o / GPT-4.1, text only for anything else.
fn model(slug: String) -> ModelInfo {
    let reasons = slug.starts_with("gpt-5") || is_o_series(&slug);
    let images = reasons || slug.starts_with("gpt-4o") || slug.starts_with("gpt-4.1");
    let reasoning = reasons.then(|| ReasoningSupport {
        default_effort: Some("medium".into()),
        efforts: Vec::new(),
        summaries: true,
    });
    let modalities: &[&str] = if images {
        &["text", "image"]
    } else {
        &["text"]
    };
    ModelInfo {
        slug,
        reasoning,
        input_modalities: modalities.iter().map(|m| (*m).to_owned()).collect(),
        ..Default::default()
    }
}

/// `o1`, `o3-mini`, `o4-mini`: an `o` and a digit (not `omni-moderation`).
fn is_o_series(slug: &str) -> bool {
    let mut chars = slug.chars();
    chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// The sorted model ids; every error message has the key masked.
fn fetch(settings: &Settings, user_agent: &str, cx: &CallContext) -> Result<Vec<String>> {
    let endpoint = crate::auth::resolve(settings, user_agent, &ResolveRequest::default())?;
    let listed = talaria_transport_kit::models::fetch(&endpoint, cx)
        .map_err(|e| Error::new(e.kind, settings.redact(&e.message)))?;
    Ok(listed.into_iter().map(|m| m.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_the_model_family() {
        for slug in ["gpt-5.5", "gpt-5-mini", "o3", "o4-mini", "o1-pro"] {
            let m = model(slug.into());
            let reasoning = m
                .reasoning
                .as_ref()
                .unwrap_or_else(|| panic!("{slug} reasons"));
            assert_eq!(
                (reasoning.default_effort.as_deref(), reasoning.summaries),
                (Some("medium"), true),
                "{slug}"
            );
            assert!(m.takes_images(), "{slug}");
        }
        for slug in ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-nano"] {
            let m = model(slug.into());
            assert_eq!(
                (m.reasoning, m.input_modalities),
                (None, vec!["text".to_owned(), "image".to_owned()]),
                "{slug}"
            );
        }
        for slug in [
            "gpt-3.5-turbo",
            "omni-moderation-latest",
            "text-embedding-3-small",
            "o",
        ] {
            let m = model(slug.into());
            assert_eq!(
                (m.reasoning, m.input_modalities),
                (None, vec!["text".to_owned()]),
                "{slug}"
            );
        }
    }
}
