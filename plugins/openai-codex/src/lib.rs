//! `openai-codex`: the provider for the ChatGPT "Codex" backend.
//!
//! It signs in with a ChatGPT account (device code, or an import of the Codex CLI's
//! login), keeps a pool of credentials in the profile's auth.json, refreshes tokens
//! under the host's cross-process lock, rotates between credentials on 401/429, and
//! hands transports the endpoint and the Codex CLI's headers.
//!
//! Module map: `store` (stored state, pool choice, status), `jwt` (claims), `issuer`
//! (device flow, code exchange, refresh POST, error classification), `refresh` (the
//! locked refresh and its outcomes), `pool` (resolve and failure reports), `login`,
//! `codex_import`, `endpoint` (headers, User-Agent), `models`, `http`.

// Public only so that the fuzz targets (`fuzz-targets/`) read files through it.
pub mod codex_import;
mod endpoint;
mod http;
mod issuer;
mod jwt;
mod login;
mod models;
mod pool;
mod refresh;
mod store;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use talaria_sdk::provider::{
    Account, Endpoint, FailureReport, LoginRequest, LogoutResult, ModelList, ModelsRequest,
    ProviderInfo, RemoveAccountRequest, ResolveRequest,
};
use talaria_sdk::{export_plugin, CallContext, Exports, Host, Provider, Result};

use crate::store::Strategy;

/// The provider id: the key in auth.json and in `[plugin_config.*]`.
pub const PROVIDER_ID: &str = "openai-codex";
/// The Codex CLI's public OAuth client.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The Codex CLI version we present to the backend (User-Agent, `version`, models).
pub const CODEX_VERSION: &str = "0.169.0";
pub const DEFAULT_ISSUER: &str = "https://auth.openai.com";
pub const DEFAULT_BASE_URL: &str = "https://chatgpt.com/backend-api/codex";
/// The backend speaks the Responses API (websocket and SSE): the `responses` transport.
const WIRE_API: &str = "responses";

/// The initialisation the host runs: URLs come from the environment
/// (`TALARIA_AUTH_ISSUER`, `TALARIA_CODEX_BASE_URL`).
pub fn init(host: Host) -> Result<Exports> {
    let issuer = env_url("TALARIA_AUTH_ISSUER", DEFAULT_ISSUER);
    let base_url = env_url("TALARIA_CODEX_BASE_URL", DEFAULT_BASE_URL);
    Ok(Exports::new().provider(CodexProvider::new(host, &issuer, &base_url)))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

fn env_url(var: &str, default: &str) -> String {
    let value = std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    value.trim().trim_end_matches('/').to_owned()
}

/// What this process handed out for one credential, so a 401 can tell "another process
/// already refreshed" from "our token is bad" and refresh at most once per request.
#[derive(Clone, PartialEq)]
pub(crate) struct Handed {
    pub access_token: String,
    /// A forced refresh already ran for this credential since `resolve` handed it out.
    pub forced: bool,
}

/// Without the token: a debug print reaches logs and panic messages.
impl std::fmt::Debug for Handed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handed")
            .field("access_token", &"[redacted]")
            .field("forced", &self.forced)
            .finish()
    }
}

pub struct CodexProvider {
    host: Host,
    http: http::Http,
    issuer: String,
    base_url: String,
    user_agent: String,
    handed: Mutex<HashMap<String, Handed>>,
}

impl CodexProvider {
    pub fn new(host: Host, issuer: &str, base_url: &str) -> Self {
        CodexProvider {
            host,
            http: http::Http::default(),
            issuer: issuer.trim_end_matches('/').to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            user_agent: endpoint::user_agent(),
            handed: Mutex::new(HashMap::new()),
        }
    }

    fn handed(&self) -> MutexGuard<'_, HashMap<String, Handed>> {
        self.handed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool strategy from `[plugin_config.openai-codex]`, read per call so an edit
    /// to config.toml applies without a restart.
    fn strategy(&self) -> Result<Strategy> {
        let config: Option<Value> = self.host.config()?;
        Strategy::from_config(config.as_ref())
    }
}

/// The `Provider` methods over the inherent ones of `pool`, `login` and `models` (which
/// win method resolution, so these bodies call those, not themselves). The manifest
/// declares one provider id, so `provider` is only echoed.
impl Provider for CodexProvider {
    fn info(&self, provider: &str) -> Result<ProviderInfo> {
        Ok(ProviderInfo {
            id: provider.to_owned(),
            wire_api: WIRE_API.to_owned(),
            supports_login: true,
        })
    }

    fn resolve(
        &self,
        _provider: &str,
        request: ResolveRequest,
        _cx: &CallContext,
    ) -> Result<Endpoint> {
        self.resolve(&request)
    }

    fn report(
        &self,
        _provider: &str,
        report: FailureReport,
        _cx: &CallContext,
    ) -> Result<Endpoint> {
        self.report(&report)
    }

    fn models(
        &self,
        _provider: &str,
        request: ModelsRequest,
        _cx: &CallContext,
    ) -> Result<ModelList> {
        self.models(&request)
    }

    fn login(&self, _provider: &str, request: LoginRequest, cx: &CallContext) -> Result<Account> {
        self.login(&request, cx)
    }

    fn logout(&self, _provider: &str, _cx: &CallContext) -> Result<LogoutResult> {
        self.logout()
    }

    fn accounts(&self, _provider: &str, _cx: &CallContext) -> Result<Vec<Account>> {
        self.accounts()
    }

    fn remove_account(
        &self,
        _provider: &str,
        request: RemoveAccountRequest,
        _cx: &CallContext,
    ) -> Result<Account> {
        self.remove_account(request.index)
    }
}

#[cfg(test)]
mod tests;
