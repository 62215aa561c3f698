//! `GET {base}/models` in the OpenAI list shape (`data[].id`), for the providers of
//! OpenAI-shaped servers. OpenRouter adds `name`, `context_length` and
//! `architecture.input_modalities`; other servers leave them out.

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::provider::Endpoint;
use talaria_sdk::{runtime, CallContext, Error, Result};

use crate::http::deepest;

/// `talaria models` is interactive: a slow or unreachable server should not hang it.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One entry of the list; only `id` is always there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListedModel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub architecture: Option<Architecture>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Architecture {
    #[serde(default)]
    pub input_modalities: Vec<String>,
}

impl ListedModel {
    pub fn input_modalities(&self) -> Vec<String> {
        self.architecture
            .as_ref()
            .map(|a| a.input_modalities.clone())
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct ModelsPage {
    data: Vec<ListedModel>,
}

/// The endpoint's model list, sorted by id without repeats. The endpoint's headers
/// (the key among them) are sent and never appear in an error: reqwest does not show
/// headers, and the message names only the cause.
pub fn fetch(endpoint: &Endpoint, cx: &CallContext) -> Result<Vec<ListedModel>> {
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
    let mut models = match outcome {
        Ok(Ok(page)) => page.data,
        Ok(Err(status)) => return Err(Error::other(status)),
        Err(e) if e.is_timeout() => {
            return Err(Error::other(format!(
                "timed out after {} s",
                FETCH_TIMEOUT.as_secs()
            )))
        }
        Err(e) => return Err(Error::other(deepest(&e.without_url()))),
    };
    models.sort_by(|a, b| a.id.cmp(&b.id));
    models.dedup_by(|a, b| a.id == b.id);
    Ok(models)
}
