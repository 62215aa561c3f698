//! What the host offers each plugin through the ABI: logging, its config, its
//! credentials (only those of the providers it declares, and its own namespace), and the
//! host services behind `HostServices::call`, routed by what is asked for:
//!
//! - `model.stream` → the transport plugin for the provider's wire API;
//! - `tools.list` / `tools.call` → every enabled tool plugin;
//! - `approvals.request` → [`Approvals`] (the terminal, the approval mode, or the
//!   plugin that asked to answer them with `approvals.delegate`);
//! - `user.input` → [`Approvals::ask_user`] (a form on the terminal);
//! - `provider.*` → the plugin serving the provider id in the params.

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use serde::Deserialize;
use serde_json::Value;
use talaria_plugin_api::abi::{
    self, CancelFlag, CredentialUpdaterMut, EventSinkArc, HostServicesBox, HostServices_TO,
    PluginError,
};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::std_types::{ROption, RResult, RStr, RString};
use talaria_plugin_api::manifest::Manifest;
use talaria_plugin_api::methods::{self, Method};
use talaria_plugin_api::payload::{
    ApprovalDecision, ApprovalRequest, Decision, ErrorKind, HostInfo, PluginConfig, ToolCallRequest,
};
use talaria_plugin_api::provider::Empty;
use talaria_plugin_api::runtime::RuntimeDefault;

use crate::app::App;
use crate::approvals::Approvals;
use crate::client;
use crate::config::Config;
use crate::credentials::CredentialStore;
use crate::error::{Error, Exit, Result};
use crate::plugins::Registry;

/// What all plugin hosts of one command share.
pub struct ServicesContext {
    profile: crate::home::Profile,
    config: Config,
    credentials: Arc<CredentialStore>,
    approvals: Arc<Approvals>,
}

impl ServicesContext {
    pub fn new(app: &App, approvals: Arc<Approvals>) -> Result<Self> {
        Ok(ServicesContext {
            profile: app.profile.clone(),
            config: app.config()?.clone(),
            credentials: Arc::new(CredentialStore::new(app.profile.auth_path())),
            approvals,
        })
    }

    pub fn profile_name(&self) -> &str {
        &self.profile.name
    }

    pub fn approvals(&self) -> &Arc<Approvals> {
        &self.approvals
    }

    fn config_path(&self) -> PathBuf {
        self.profile.config_path()
    }

    /// A plugin's complaint about its config, as a config error naming file, line and key.
    pub fn config_error(&self, key: &[String], message: &str) -> Error {
        crate::config::key_error(&self.config_path(), key, message)
    }

    /// The plugin's own table and the sections its manifest says it owns.
    fn plugin_config(&self, manifest: &Manifest) -> PluginConfig {
        let sections = manifest
            .config
            .iter()
            .filter_map(|name| Some((name.clone(), self.config.section(name)?)))
            .collect();
        PluginConfig {
            plugin: self.config.plugin_config(&manifest.id),
            sections,
        }
    }
}

/// The host services one plugin instance holds.
pub struct PluginHost {
    plugin_id: String,
    /// The profile's config.toml (`runtime.default` writes `model.runtime` there).
    config_path: PathBuf,
    /// The credential namespaces it may use: its declared providers and its own id.
    namespaces: Vec<String>,
    info: HostInfo,
    config: String,
    credentials: Arc<CredentialStore>,
    approvals: Arc<Approvals>,
    registry: Weak<Registry>,
}

impl PluginHost {
    pub fn boxed(
        manifest: &Manifest,
        cx: &ServicesContext,
        registry: Weak<Registry>,
    ) -> HostServicesBox {
        let info = HostInfo {
            host_version: env!("CARGO_PKG_VERSION").into(),
            abi_version: talaria_plugin_api::ABI_VERSION.into(),
            profile: cx.profile.name.clone(),
            profile_dir: cx.profile.dir.display().to_string(),
            plugin_data_dir: cx
                .profile
                .plugin_data_dir(&manifest.id)
                .display()
                .to_string(),
            plugin_id: manifest.id.clone(),
        };
        let host = PluginHost {
            plugin_id: manifest.id.clone(),
            config_path: cx.config_path(),
            namespaces: manifest
                .credential_namespaces()
                .map(str::to_owned)
                .collect(),
            info,
            config: serde_json::to_string(&cx.plugin_config(manifest)).unwrap_or_default(),
            credentials: cx.credentials.clone(),
            approvals: cx.approvals.clone(),
            registry,
        };
        HostServices_TO::from_value(host, TD_Opaque)
    }

    /// Credentials are scoped: a tool plugin must not read the ChatGPT refresh token.
    fn check_namespace(&self, namespace: &str) -> std::result::Result<(), PluginError> {
        if self.namespaces.iter().any(|n| n == namespace) {
            return Ok(());
        }
        Err(PluginError::new(
            ErrorKind::Denied,
            format!(
                "plugin {} may not use the credentials of {namespace:?}: a plugin reaches only its own namespace ({}) and the providers its manifest declares",
                self.plugin_id, self.plugin_id
            ),
        ))
    }

    /// This plugin as the process's approver: each request goes to its
    /// `approvals.decide`, with the events and cancellation of the call that delegated
    /// (the command that runs for the rest of the process). A plugin that fails to answer
    /// declines, saying why.
    fn approver(&self, events: EventSinkArc, cancel: CancelFlag) -> crate::approvals::Approver {
        let registry = self.registry.clone();
        let id = self.plugin_id.clone();
        Box::new(move |request: &ApprovalRequest| {
            let answer = registry
                .upgrade()
                .ok_or_else(|| "the host is shutting down".to_owned())
                .and_then(|r| r.plugin(&id).map_err(|e| e.message))
                .and_then(|plugin| {
                    client::call::<methods::ApprovalsDecide>(
                        &plugin,
                        request,
                        events.clone(),
                        cancel.clone(),
                    )
                    .map_err(|e| e.message.to_string())
                });
            answer.unwrap_or_else(|why| ApprovalDecision {
                decision: Decision::Decline,
                reason: format!("declined: plugin {id} could not answer the approval ({why})"),
            })
        })
    }

    fn serve(
        &self,
        method: &str,
        params: &str,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> std::result::Result<String, PluginError> {
        let registry = self
            .registry
            .upgrade()
            .ok_or_else(|| PluginError::new(ErrorKind::Unavailable, "the host is shutting down"))?;
        let unavailable = |e: Error| PluginError::new(ErrorKind::Unavailable, e.message);
        match method {
            methods::ModelStream::NAME => {
                let provider = provider_of(params)?;
                let transport = registry.transport_for_provider(&provider).map_err(unavailable)?;
                client::call_raw(&transport, methods::TransportStream::NAME, params, events, cancel)
            }
            methods::ToolsList::NAME => encode(&registry.tool_list()),
            methods::ToolsCall::NAME => {
                let request: ToolCallRequest = decode::<methods::ToolsCall>(params)?;
                encode(&registry.call_tool(&request, None, events, cancel)?)
            }
            methods::ApprovalsRequest::NAME => {
                let mut request: ApprovalRequest = decode::<methods::ApprovalsRequest>(params)?;
                request.plugin = Some(self.plugin_id.clone());
                let decision = self.approvals.decide(&request, &events);
                // "Cancel" stops the whole call chain the request came from: the turn.
                if decision.decision == Decision::Cancel {
                    cancel.cancel();
                }
                encode(&decision)
            }
            methods::UserInput::NAME => {
                let mut request = decode::<methods::UserInput>(params)?;
                request.plugin = Some(self.plugin_id.clone());
                encode(&self.approvals.ask_user(&request, &events))
            }
            methods::ApprovalsDelegate::NAME => {
                decode::<methods::ApprovalsDelegate>(params)?;
                self.approvals.delegate(self.approver(events, cancel));
                encode(&Empty {})
            }
            methods::RuntimeDefaultMethod::NAME => {
                let request = decode::<methods::RuntimeDefaultMethod>(params)?;
                let runtime = match request.set {
                    Some(id) => {
                        // Unknown or disabled: exit 2 naming it, and nothing written.
                        registry.runtime(&id).map_err(|e| PluginError::new(kind_of(&e), e.message))?;
                        crate::config::edit_config(&self.config_path, |doc| {
                            crate::config::set_string(doc, "model", "runtime", &id)
                        })
                        .map_err(|e| PluginError::new(kind_of(&e), e.message))?;
                        id
                    }
                    None => registry.default_runtime().to_owned(),
                };
                encode(&RuntimeDefault {
                    runtime,
                    profile: self.info.profile.clone(),
                })
            }
            m if m.starts_with("provider.") && methods::ALL.contains(&m) => {
                let provider = provider_of(params)?;
                let plugin = registry.provider_plugin(&provider).map_err(unavailable)?;
                client::call_raw(&plugin, m, params, events, cancel)
            }
            other => Err(PluginError::new(
                ErrorKind::UnknownMethod,
                format!("the host offers no service {other:?} (it offers model.stream, tools.list, tools.call, approvals.request, approvals.delegate, user.input, runtime.default and provider.*)"),
            )),
        }
    }
}

/// The error kind a host error becomes for a plugin (and back into the same exit code).
fn kind_of(e: &Error) -> ErrorKind {
    match e.exit {
        Exit::Usage => ErrorKind::InvalidRequest,
        Exit::Auth => ErrorKind::Auth,
        Exit::Missing => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

fn decode<M: Method>(params: &str) -> std::result::Result<M::Params, PluginError> {
    serde_json::from_str(params).map_err(|e| {
        PluginError::new(
            ErrorKind::InvalidRequest,
            format!("invalid {} params: {e}", M::NAME),
        )
    })
}

fn encode(value: &impl serde::Serialize) -> std::result::Result<String, PluginError> {
    serde_json::to_string(value)
        .map_err(|e| PluginError::new(ErrorKind::Other, format!("cannot encode the result: {e}")))
}

/// The provider id a request is for.
fn provider_of(params: &str) -> std::result::Result<String, PluginError> {
    #[derive(Deserialize)]
    struct Addressed {
        provider: String,
    }
    serde_json::from_str::<Addressed>(params)
        .map(|a| a.provider)
        .map_err(|e| {
            PluginError::new(
                ErrorKind::InvalidRequest,
                format!("the request names no provider: {e}"),
            )
        })
}

/// A host error handed to a plugin, its kind kept (a corrupt `auth.json` is `Auth`: the
/// user must sign in again).
fn plugin_error(e: Error) -> PluginError {
    let kind = match e.exit {
        Exit::Auth => ErrorKind::Auth,
        Exit::Usage => ErrorKind::InvalidRequest,
        Exit::Missing => ErrorKind::Unavailable,
        Exit::Failure | Exit::Interrupted => ErrorKind::Other,
    };
    PluginError::new(kind, e.message)
}

impl abi::HostServices for PluginHost {
    fn host_info(&self) -> RString {
        serde_json::to_string(&self.info).unwrap_or_default().into()
    }

    fn log(&self, level: u8, message: RStr<'_>) {
        crate::logging::plugin_log(&self.plugin_id, level, message.as_str());
    }

    fn config(&self) -> RString {
        self.config.as_str().into()
    }

    fn credentials_get(&self, namespace: RStr<'_>) -> RResult<RString, PluginError> {
        if let Err(e) = self.check_namespace(namespace.as_str()) {
            return RResult::RErr(e);
        }
        self.credentials
            .get(namespace.as_str())
            .map(|v| RString::from(v.to_string()))
            .map_err(plugin_error)
            .into()
    }

    fn credentials_update(
        &self,
        namespace: RStr<'_>,
        mut updater: CredentialUpdaterMut<'_>,
    ) -> RResult<RString, PluginError> {
        if let Err(e) = self.check_namespace(namespace.as_str()) {
            return RResult::RErr(e);
        }
        // The plugin's own error is kept intact (its kind matters, e.g. Auth) by passing
        // it through a side slot rather than flattening it into the host's error type.
        let mut plugin_failure = None;
        let outcome = self
            .credentials
            .update(namespace.as_str(), |current: Value| {
                match updater
                    .update(RStr::from_str(&current.to_string()))
                    .into_result()
                {
                    Ok(ROption::RSome(text)) => {
                        serde_json::from_str(&text).map(Some).map_err(|e| {
                            Error::failure(format!(
                                "the plugin returned credentials that are not JSON: {e}"
                            ))
                        })
                    }
                    Ok(ROption::RNone) => Ok(None),
                    Err(e) => {
                        let message = e.message.to_string();
                        plugin_failure = Some(e);
                        Err(Error::failure(message))
                    }
                }
            });
        match (outcome, plugin_failure) {
            (Ok(v), _) => RResult::ROk(v.to_string().into()),
            (Err(_), Some(e)) => RResult::RErr(e),
            (Err(e), None) => RResult::RErr(plugin_error(e)),
        }
    }

    fn call(
        &self,
        method: RStr<'_>,
        params: RStr<'_>,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> RResult<RString, PluginError> {
        self.serve(method.as_str(), params.as_str(), events, cancel)
            .map(RString::from)
            .into()
    }
}
