//! What the host offers each plugin through the ABI: logging, config, credentials,
//! approvals and calls to other plugins.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Weak};

use serde_json::Value;
use talaria_plugin_api::abi::{
    self, CancelFlag, CredentialUpdaterMut, EventSinkArc, HostServicesBox, HostServices_TO, PluginError,
};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::std_types::{ROption, RResult, RStr, RString};
use talaria_plugin_api::payload::{ApprovalDecision, ApprovalRequest, ErrorKind, HostInfo};

use crate::app::App;
use crate::cli::ApprovalMode;
use crate::credentials::CredentialStore;
use crate::error::Result;
use crate::plugins::Registry;

/// Decides approval requests for the running command.
pub trait Approver: Send + Sync {
    fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision;
}

/// `--approvals ask|auto|deny`. `ask` prompts on the terminal; with no terminal nobody
/// can answer, so the request is declined and stderr says why.
pub struct PolicyApprover {
    pub mode: ApprovalMode,
}

impl Approver for PolicyApprover {
    fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let what = request.command.as_deref().map(|c| format!("run `{c}`")).unwrap_or_else(|| request.summary.clone());
        let who = request.plugin.as_deref().unwrap_or("a plugin");
        match self.mode {
            ApprovalMode::Auto => ApprovalDecision { approved: true, reason: "approved automatically (--approvals auto)".into() },
            ApprovalMode::Deny => {
                eprintln!("declined: {who} asked to {what} (--approvals deny)");
                ApprovalDecision { approved: false, reason: "declined by policy (--approvals deny)".into() }
            }
            ApprovalMode::Ask if !std::io::stdin().is_terminal() => {
                eprintln!("declined: {who} asked to {what}, but there is no terminal to ask on (use --approvals auto to allow)");
                ApprovalDecision { approved: false, reason: "declined: nobody could answer the approval request (no terminal)".into() }
            }
            ApprovalMode::Ask => ask_on_terminal(who, &what, request),
        }
    }
}

fn ask_on_terminal(who: &str, what: &str, request: &ApprovalRequest) -> ApprovalDecision {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{who} wants to {what}");
    if let Some(cwd) = &request.cwd {
        let _ = writeln!(err, "  in {cwd}");
    }
    if let Some(patch) = &request.patch {
        let _ = writeln!(err, "{patch}");
    }
    let _ = write!(err, "Allow? [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let approved = matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    let reason = if approved { "approved by the user" } else { "declined by the user" };
    ApprovalDecision { approved, reason: reason.into() }
}

/// What all plugin hosts of one command share.
pub struct PluginHostContext {
    profile: crate::home::Profile,
    /// `[plugin_config.<id>]` sections, handed to each plugin as JSON.
    plugin_configs: std::collections::BTreeMap<String, Value>,
    credentials: Arc<CredentialStore>,
    approver: Arc<dyn Approver>,
}

impl PluginHostContext {
    pub fn new(app: &App, approver: Arc<dyn Approver>) -> Result<Self> {
        Ok(PluginHostContext {
            profile: app.profile.clone(),
            plugin_configs: app.config()?.plugin_config.clone(),
            credentials: Arc::new(CredentialStore::new(app.profile.auth_path())),
            approver,
        })
    }

    pub fn profile_name(&self) -> &str {
        &self.profile.name
    }
}

/// The host services one plugin instance holds.
pub struct PluginHost {
    plugin_id: String,
    info: HostInfo,
    config: Value,
    credentials: Arc<CredentialStore>,
    approver: Arc<dyn Approver>,
    registry: Weak<Registry>,
}

impl PluginHost {
    pub fn boxed(plugin_id: &str, cx: &PluginHostContext, registry: Weak<Registry>) -> HostServicesBox {
        let info = HostInfo {
            host_version: env!("CARGO_PKG_VERSION").into(),
            abi_version: talaria_plugin_api::ABI_VERSION.into(),
            profile: cx.profile.name.clone(),
            profile_dir: cx.profile.dir.display().to_string(),
            plugin_data_dir: cx.profile.plugin_data_dir(plugin_id).display().to_string(),
        };
        let host = PluginHost {
            plugin_id: plugin_id.to_owned(),
            info,
            config: cx.plugin_configs.get(plugin_id).cloned().unwrap_or(Value::Null),
            credentials: cx.credentials.clone(),
            approver: cx.approver.clone(),
            registry,
        };
        HostServices_TO::from_value(host, TD_Opaque)
    }
}

fn plugin_error(e: crate::error::Error) -> PluginError {
    PluginError::new(ErrorKind::Other, e.message)
}

impl abi::HostServices for PluginHost {
    fn host_info(&self) -> RString {
        serde_json::to_string(&self.info).unwrap_or_default().into()
    }

    fn log(&self, level: u8, message: RStr<'_>) {
        crate::logging::plugin_log(&self.plugin_id, level, message.as_str());
    }

    fn config(&self) -> RString {
        self.config.to_string().into()
    }

    fn credentials_get(&self, provider: RStr<'_>) -> RResult<RString, PluginError> {
        self.credentials.get(provider.as_str()).map(|v| RString::from(v.to_string())).map_err(plugin_error).into()
    }

    fn credentials_update(&self, provider: RStr<'_>, mut updater: CredentialUpdaterMut<'_>) -> RResult<RString, PluginError> {
        // The plugin's own error is kept intact (its kind matters, e.g. Auth) by passing
        // it through a side slot rather than flattening it into the host's error type.
        let mut plugin_failure = None;
        let outcome = self.credentials.update(provider.as_str(), |current| {
            match updater.update(RStr::from_str(&current.to_string())).into_result() {
                Ok(ROption::RSome(text)) => serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| crate::error::Error::failure(format!("the plugin returned credentials that are not JSON: {e}"))),
                Ok(ROption::RNone) => Ok(None),
                Err(e) => {
                    let message = e.message.to_string();
                    plugin_failure = Some(e);
                    Err(crate::error::Error::failure(message))
                }
            }
        });
        match (outcome, plugin_failure) {
            (Ok(v), _) => RResult::ROk(v.to_string().into()),
            (Err(_), Some(e)) => RResult::RErr(e),
            (Err(e), None) => RResult::RErr(plugin_error(e)),
        }
    }

    fn request_approval(&self, request: RStr<'_>) -> RResult<RString, PluginError> {
        let mut request: ApprovalRequest = match serde_json::from_str(request.as_str()) {
            Ok(r) => r,
            Err(e) => return RResult::RErr(PluginError::new(ErrorKind::InvalidRequest, format!("bad approval request: {e}"))),
        };
        request.plugin = Some(self.plugin_id.clone());
        let decision = self.approver.decide(&request);
        tracing::info!(plugin = %self.plugin_id, approved = decision.approved, "approval: {}", request.summary);
        RResult::ROk(serde_json::to_string(&decision).unwrap_or_default().into())
    }

    fn call_plugin(&self, plugin_id: RStr<'_>, method: RStr<'_>, params: RStr<'_>, events: EventSinkArc, cancel: CancelFlag) -> RResult<RString, PluginError> {
        let Some(registry) = self.registry.upgrade() else {
            return RResult::RErr(PluginError::new(ErrorKind::Unavailable, "the host is shutting down"));
        };
        registry
            .call(plugin_id.as_str(), method.as_str(), params.as_str(), events, cancel)
            .map(RString::from)
            .into()
    }
}
