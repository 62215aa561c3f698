//! `provider.models`: the table's `models = [...]`, else `GET {base}/models` (the
//! OpenAI list shape, `data[].id`, with OpenRouter's `architecture.input_modalities`
//! and `context_length` when the server gives them).

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::provider::{Endpoint, ModelInfo, ModelList, ModelSource};
use talaria_sdk::{runtime, CallContext, Error, ErrorKind, Result};

use crate::instances::{Instance, OPENROUTER, OPENROUTER_DEFAULT_MODEL};

/// `talaria models` is interactive: a slow or unreachable server should not hang it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

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

#[derive(Deserialize)]
struct ModelsPage {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    context_length: Option<u64>,
    #[serde(default)]
    architecture: Option<Architecture>,
}

#[derive(Deserialize)]
struct Architecture {
    #[serde(default)]
    input_modalities: Vec<String>,
}

fn fetch(endpoint: &Endpoint, cx: &CallContext) -> Result<Vec<ModelInfo>> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| Error::other(format!("cannot set up HTTP: {e}")))?;
    let mut request = client.get(format!("{}/models", endpoint.base_url));
    for (name, value) in &endpoint.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let outcome = runtime::block_on_cancellable(cx, async move {
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            return Ok(Err(format!("HTTP {status}")));
        }
        response.json::<ModelsPage>().await.map(Ok)
    })?;
    let page = match outcome {
        Ok(Ok(page)) => page,
        Ok(Err(status)) => return Err(Error::other(status)),
        // The key is never in reqwest's messages (headers are not shown).
        Err(e) => return Err(Error::other(describe(&e))),
    };
    let mut models: Vec<ModelInfo> = page
        .data
        .into_iter()
        .map(|m| ModelInfo {
            slug: m.id,
            display_name: m.name,
            context_window: m.context_length,
            input_modalities: m
                .architecture
                .map(|a| a.input_modalities)
                .unwrap_or_default(),
            ..Default::default()
        })
        .collect();
    models.sort_by(|a, b| a.slug.cmp(&b.slug));
    models.dedup_by(|a, b| a.slug == b.slug);
    Ok(models)
}

/// reqwest's top-level message hides the cause; walk the chain.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("timed out after {} s", FETCH_TIMEOUT.as_secs())
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
