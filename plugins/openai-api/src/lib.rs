//! `openai-api`: the plain OpenAI API provider. The key comes from `OPENAI_API_KEY`,
//! the base URL from `TALARIA_OPENAI_BASE_URL` (default `https://api.openai.com/v1`).
//!
//! It is the simplest provider there is, and so the proof that the provider seam does
//! not assume ChatGPT: no login, no pool, no refresh; failures it cannot fix become
//! errors that say what to do.

mod auth;
mod models;
mod settings;

use talaria_sdk::provider::{
    Account, Endpoint, FailureReport, LoginRequest, LogoutResult, ModelList, ModelsRequest,
    ProviderInfo, RemoveAccountRequest, ResolveRequest,
};
use talaria_sdk::{export_plugin, CallContext, Exports, Host, Provider, Result};

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
        let version = if version.is_empty() {
            env!("CARGO_PKG_VERSION").to_owned()
        } else {
            version
        };
        OpenAiApi {
            settings,
            user_agent: format!("talaria/{version}"),
        }
    }
}

/// The plain API speaks the Responses API, so the `responses` transport carries it.
const WIRE_API: &str = "responses";

pub fn init(host: Host) -> Result<Exports> {
    Ok(Exports::new().provider(OpenAiApi::new(&host, Settings::from_process_env())))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

/// reqwest is built with rustls but no crypto provider (the default one needs a long C
/// build); this library's copy of rustls gets ring. Installing twice is harmless, so
/// the "already installed" answer is ignored.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One provider id (`openai-api`, from the manifest), so `provider` is only echoed.
impl Provider for OpenAiApi {
    fn info(&self, provider: &str) -> Result<ProviderInfo> {
        Ok(ProviderInfo {
            id: provider.to_owned(),
            wire_api: WIRE_API.to_owned(),
            supports_login: false,
        })
    }

    fn resolve(
        &self,
        _provider: &str,
        request: ResolveRequest,
        _cx: &CallContext,
    ) -> Result<Endpoint> {
        auth::resolve(&self.settings, &self.user_agent, &request)
    }

    fn report(
        &self,
        _provider: &str,
        report: FailureReport,
        _cx: &CallContext,
    ) -> Result<Endpoint> {
        Err(auth::report(&self.settings, &report))
    }

    fn models(
        &self,
        _provider: &str,
        _request: ModelsRequest,
        cx: &CallContext,
    ) -> Result<ModelList> {
        models::list(&self.settings, &self.user_agent, cx)
    }

    // Not `Error::unsupported`: the user asked to sign in, so say what to do instead.
    fn login(&self, _provider: &str, _request: LoginRequest, _cx: &CallContext) -> Result<Account> {
        Err(auth::login_refused())
    }

    fn logout(&self, _provider: &str, _cx: &CallContext) -> Result<LogoutResult> {
        Ok(auth::logout(&self.settings))
    }

    fn accounts(&self, _provider: &str, _cx: &CallContext) -> Result<Vec<Account>> {
        Ok(auth::accounts(&self.settings))
    }

    fn remove_account(
        &self,
        _provider: &str,
        _request: RemoveAccountRequest,
        _cx: &CallContext,
    ) -> Result<Account> {
        Err(auth::remove_refused())
    }
}

#[cfg(test)]
mod tests;
