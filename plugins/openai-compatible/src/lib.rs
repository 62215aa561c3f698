//! `openai-compatible`: the provider for any OpenAI-compatible endpoint — a local
//! llama.cpp / vLLM / Ollama / LM Studio server, a company gateway — one instance per
//! `[providers.NAME]` table with `kind = "openai-compatible"`:
//!
//! ```toml
//! [providers.local]
//! kind = "openai-compatible"
//! base_url = "http://127.0.0.1:8080/v1"
//! api_key_env = "LOCAL_API_KEY"     # optional
//! transport = "chat-completions"   # or "responses"
//! models = ["qwen2.5-coder"]       # optional; otherwise GET {base}/models
//! ```
//!
//! and OpenRouter built in (`openrouter`, its key from `OPENROUTER_API_KEY`, its app
//! attribution headers). The host routes an instance's name to this plugin because the
//! manifest says `[provides] provider_kinds = ["openai-compatible"]`, and hands it the
//! tables because it owns the `providers` section (`config = ["providers"]`).
//!
//! Built against the SDK only, as a third party would: no login, no pool; a key comes
//! from the environment, and every failure it cannot fix becomes an error that says what
//! to do.

pub mod instances;
mod models;

use std::collections::BTreeMap;

use talaria_sdk::provider::{
    Account, AccountStatus, Endpoint, FailureReport, LoginRequest, LogoutResult, ModelList,
    ModelsRequest, ProviderInfo, RemoveAccountRequest, ResolveRequest,
};
use talaria_sdk::{export_plugin, CallContext, Error, ErrorKind, Exports, Host, Provider, Result};

use crate::instances::{instances, Instance, Table};

pub struct OpenAiCompatible {
    instances: BTreeMap<String, Instance>,
    user_agent: String,
}

pub fn init(host: Host) -> Result<Exports> {
    let env = |name: &str| std::env::var(name).ok();
    Ok(Exports::new().provider(OpenAiCompatible::new(&host, &env)?))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

/// The pool entry id of an instance's key (echoed back in failure reports).
const ENV_CREDENTIAL: &str = "env";

impl OpenAiCompatible {
    /// Reads the profile's `[providers.*]` tables and the keys from `env`.
    pub fn new(host: &Host, env: &dyn Fn(&str) -> Option<String>) -> Result<OpenAiCompatible> {
        // reqwest is built with rustls but no crypto provider; this library's copy gets
        // ring. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tables: BTreeMap<String, Table> = host
            .config_section("providers")
            .map_err(|e| Error::invalid(format!("[providers]: {}", e.message)))?
            .unwrap_or_default();
        check_tables(&tables)?;
        let version = host.info().host_version;
        let version = if version.is_empty() {
            env!("CARGO_PKG_VERSION").to_owned()
        } else {
            version
        };
        Ok(OpenAiCompatible {
            instances: instances(&tables, env),
            user_agent: format!("talaria/{version}"),
        })
    }

    fn instance(&self, provider: &str) -> Result<&Instance> {
        self.instances.get(provider).ok_or_else(|| {
            Error::invalid(format!(
                "no provider {provider:?} is configured: add a [providers.{provider}] table with kind = \"openai-compatible\" and its base_url to config.toml"
            ))
        })
    }
}

/// What only this plugin can say about a table of its kind: the base URL is one a
/// request can go to. The host turns the error into the file, line and key (exit 2).
fn check_tables(tables: &BTreeMap<String, Table>) -> Result<()> {
    for (name, table) in tables.iter().filter(|(_, t)| t.kind == instances::KIND) {
        let url = table.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.len() <= "https://".len()
        {
            return Err(Error::config(
                &["providers", name, "base_url"],
                format!(
                    "[providers.{name}] base_url {url:?} is not an http:// or https:// URL; write the server's API root, e.g. \"http://127.0.0.1:8080/v1\""
                ),
            ));
        }
    }
    Ok(())
}

fn no_key(instance: &Instance, var: &str) -> Error {
    let table = if instance.origin.starts_with('[') {
        format!(" ({} names it as `api_key_env`)", instance.origin)
    } else {
        String::new()
    };
    Error::new(
        ErrorKind::Auth,
        format!(
            "provider {} needs an API key: export {var}=...{table}",
            instance.name
        ),
    )
}

impl Provider for OpenAiCompatible {
    fn info(&self, provider: &str) -> Result<ProviderInfo> {
        let instance = self.instance(provider)?;
        Ok(ProviderInfo {
            id: provider.to_owned(),
            wire_api: instance.wire_api.clone(),
            supports_login: false,
        })
    }

    fn resolve(
        &self,
        provider: &str,
        _request: ResolveRequest,
        _cx: &CallContext,
    ) -> Result<Endpoint> {
        let instance = self.instance(provider)?;
        let mut headers: BTreeMap<String, String> = instance.headers.iter().cloned().collect();
        headers.insert("user-agent".into(), self.user_agent.clone());
        match (&instance.key_var, &instance.key) {
            (Some(_), Some(key)) => {
                headers.insert("authorization".into(), format!("Bearer {}", key.0));
            }
            (Some(var), None) => return Err(no_key(instance, var)),
            // A server that takes no key (most local ones).
            (None, _) => {}
        }
        Ok(Endpoint {
            base_url: instance.base_url.clone(),
            headers,
            credential: Some(ENV_CREDENTIAL.into()),
            probe_path: instance.probe_path.clone(),
            ..Default::default()
        })
    }

    /// One key, nothing to rotate to: a refused key ends the call with what to check; a
    /// rate limit hands the same endpoint back (the transport waits what the server
    /// asked, or gives up with the reset time).
    fn report(&self, provider: &str, report: FailureReport, cx: &CallContext) -> Result<Endpoint> {
        let instance = self.instance(provider)?;
        if matches!(report.status, 401 | 403) {
            let key = match &instance.key_var {
                Some(var) => format!("the key in {var}"),
                None => format!(
                    "the request (no key is configured: set `api_key_env` in {})",
                    instance.origin
                ),
            };
            // A server may echo the key it refused: never repeat it.
            let message = match instance
                .key_var
                .as_deref()
                .and_then(|v| std::env::var(v).ok())
            {
                Some(secret) if !secret.is_empty() => report.message.replace(&secret, "[redacted]"),
                _ => report.message.clone(),
            };
            let said = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "{} at {} refused {key} (HTTP {}{said}); check it",
                    instance.name, instance.base_url, report.status
                ),
            ));
        }
        self.resolve(provider, report.request, cx)
    }

    fn models(
        &self,
        provider: &str,
        _request: ModelsRequest,
        cx: &CallContext,
    ) -> Result<ModelList> {
        let instance = self.instance(provider)?;
        // Without its key a server may still list its models (OpenRouter's list is
        // public): ask without one rather than not at all.
        let endpoint = self
            .resolve(provider, ResolveRequest::default(), cx)
            .unwrap_or_else(|_| Endpoint {
                base_url: instance.base_url.clone(),
                headers: instance.headers.iter().cloned().collect(),
                ..Default::default()
            });
        models::list(instance, &endpoint, cx)
    }

    // Not `Error::unsupported`: the user asked to sign in, so say what to do instead.
    fn login(&self, provider: &str, _request: LoginRequest, _cx: &CallContext) -> Result<Account> {
        let instance = self.instance(provider)?;
        let how = match &instance.key_var {
            Some(var) => format!("export {var}=... instead"),
            None => format!(
                "it takes no key; if the server wants one, name its variable as `api_key_env` in {}",
                instance.origin
            ),
        };
        Err(Error::invalid(format!(
            "provider {provider} has no sign-in: {how}"
        )))
    }

    fn logout(&self, provider: &str, _cx: &CallContext) -> Result<LogoutResult> {
        let instance = self.instance(provider)?;
        Ok(LogoutResult {
            removed: 0,
            note: instance
                .key_var
                .as_ref()
                .map(|var| format!("the key comes from {var}; unset it to stop using it")),
        })
    }

    fn accounts(&self, provider: &str, _cx: &CallContext) -> Result<Vec<Account>> {
        let instance = self.instance(provider)?;
        Ok(match (&instance.key_var, &instance.key) {
            (Some(var), Some(_)) => vec![Account {
                index: 1,
                id: ENV_CREDENTIAL.into(),
                label: var.clone(),
                kind: "api_key".into(),
                source: "env".into(),
                status: AccountStatus::Ok,
                current: true,
                ..Default::default()
            }],
            _ => Vec::new(),
        })
    }

    fn remove_account(
        &self,
        provider: &str,
        _request: RemoveAccountRequest,
        _cx: &CallContext,
    ) -> Result<Account> {
        let instance = self.instance(provider)?;
        Err(Error::invalid(format!(
            "provider {provider} stores no accounts{}",
            instance
                .key_var
                .as_ref()
                .map(|v| format!("; its key comes from {v}"))
                .unwrap_or_default()
        )))
    }
}

#[cfg(test)]
mod tests;
