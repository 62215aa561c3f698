//! `openai-api`: the plain OpenAI API provider. The key comes from `OPENAI_API_KEY`,
//! the base URL from `TALARIA_OPENAI_BASE_URL` (default `https://api.openai.com/v1`).
//!
//! It is the simplest provider there is, and so the proof that the provider seam does
//! not assume ChatGPT: no login, no pool, no refresh; failures it cannot fix become
//! errors that say what to do.

mod auth;
mod models;
mod settings;

use serde::de::DeserializeOwned;
use serde_json::Value;
use talaria_sdk::provider::{FailureReport, ResolveRequest};
use talaria_sdk::{export_plugin, methods, CallContext, Error, ErrorKind, Host, Plugin, Result};

pub use settings::Settings;

pub struct OpenAiApi {
    settings: Settings,
    user_agent: String,
}

impl OpenAiApi {
    /// A provider with the given settings; `init` reads them from the process env.
    pub fn new(host: &Host, settings: Settings) -> OpenAiApi {
        install_tls_provider();
        let version = host.info().host_version;
        let version = if version.is_empty() { env!("CARGO_PKG_VERSION").to_owned() } else { version };
        OpenAiApi { settings, user_agent: format!("talaria/{version}") }
    }
}

pub fn init(host: Host) -> Result<OpenAiApi> {
    Ok(OpenAiApi::new(&host, Settings::from_process_env()))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

/// reqwest is built with rustls but no crypto provider (the default one needs a long C
/// build); this library's copy of rustls gets ring. Installing twice is harmless, so
/// the "already installed" answer is ignored.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Plugin for OpenAiApi {
    fn call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value> {
        let settings = &self.settings;
        match method {
            methods::PROVIDER_RESOLVE => {
                let request: ResolveRequest = parse(params)?;
                to_json(auth::resolve(settings, &self.user_agent, &request)?)
            }
            methods::PROVIDER_REPORT => {
                let report: FailureReport = parse(params)?;
                Err(auth::report(settings, &report))
            }
            methods::PROVIDER_ACCOUNTS => to_json(auth::accounts(settings)),
            methods::PROVIDER_LOGIN => Err(auth::login_refused()),
            methods::PROVIDER_LOGOUT => to_json(auth::logout(settings)),
            methods::PROVIDER_REMOVE_ACCOUNT => Err(auth::remove_refused()),
            methods::PROVIDER_MODELS => to_json(models::list(settings, &self.user_agent, cx)?),
            other => Err(Error::new(ErrorKind::UnknownMethod, format!("openai-api has no method {other:?}"))),
        }
    }
}

/// Params of a method; a missing object means all defaults.
fn parse<T: DeserializeOwned + Default>(params: Value) -> Result<T> {
    if params.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(params).map_err(|e| Error::invalid(format!("malformed request: {e}")))
}

fn to_json<T: serde::Serialize>(value: T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::other(format!("cannot encode the result: {e}")))
}

#[cfg(test)]
mod tests;
