use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use talaria_plugin_api::abi::{
    CredentialUpdater, CredentialUpdater_TO, HostServicesBox, PluginError,
};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::sabi_types::RMut;
use talaria_plugin_api::abi_stable::std_types::{ROption, RResult, RStr, RString};
use talaria_plugin_api::methods::{self, Method};
use talaria_plugin_api::payload::{
    ConfigProblem, HostInfo, PluginConfig, ToolCallRequest, ToolList, ToolOutput,
};
use talaria_plugin_api::provider::Empty;
use talaria_plugin_api::transport::{StreamRequest, StreamResult};

use crate::{CallContext, Error, Result};

/// Log levels, as numbered on the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// The plugin's handle on the host. Cheap to clone; safe to share across threads.
#[derive(Clone)]
pub struct Host {
    services: Arc<HostServicesBox>,
}

impl Host {
    pub(crate) fn new(services: HostServicesBox) -> Self {
        Host {
            services: Arc::new(services),
        }
    }

    /// Who and where the plugin runs: profile, folders, versions.
    pub fn info(&self) -> HostInfo {
        serde_json::from_str(&self.services.host_info()).unwrap_or_default()
    }

    /// Logs into the host's log file (plugins have no logger of their own: a library's
    /// copy of `tracing` would not reach the host's subscriber).
    pub fn log(&self, level: LogLevel, message: &str) {
        self.services.log(level as u8, RStr::from_str(message));
    }

    pub fn info_log(&self, message: &str) {
        self.log(LogLevel::Info, message)
    }

    pub fn warn_log(&self, message: &str) {
        self.log(LogLevel::Warn, message)
    }

    fn plugin_config(&self) -> Result<PluginConfig> {
        Ok(serde_json::from_str(&self.services.config())?)
    }

    /// The plugin's `[plugin_config.<id>]` table, deserialized; `None` when the profile
    /// has none. A table that does not fit `T` is an error naming the key.
    pub fn config<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let value = self.plugin_config()?.plugin;
        if value.is_null() {
            return Ok(None);
        }
        let id = self.info().plugin_id;
        serde_json::from_value(value).map(Some).map_err(|e| {
            let message = format!("invalid plugin config: {e}");
            if id.is_empty() {
                Error::invalid(message)
            } else {
                Error::config(&["plugin_config", &id], message)
            }
        })
    }

    /// A top-level config section the plugin's manifest owns (`config = ["name"]`);
    /// `None` when the profile has none. When it does not fit `T`, the error names the
    /// section, so the host can point at the file and line.
    pub fn config_section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let Some(value) = self.plugin_config()?.sections.remove(name) else {
            return Ok(None);
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::config(&[name], e.to_string()))
    }

    /// The stored credentials under `namespace` (`Value::Null` when none): a provider id
    /// the manifest declares, or the plugin's own id.
    pub fn credentials(&self, namespace: &str) -> Result<Value> {
        let text = result(self.services.credentials_get(RStr::from_str(namespace)))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Read-modify-write on the stored credentials under the store's cross-process lock.
    ///
    /// `update` sees the value as it is on disk *now* (another process may have just
    /// rotated a token) and returns `Some(new)` to store it or `None` to leave it.
    /// Returns what is stored afterwards.
    pub fn update_credentials<F>(&self, namespace: &str, update: F) -> Result<Value>
    where
        F: FnMut(Value) -> Result<Option<Value>>,
    {
        let mut updater = ClosureUpdater { update };
        let handle = CredentialUpdater_TO::from_ptr(RMut::new(&mut updater), TD_Opaque);
        let text = result(
            self.services
                .credentials_update(RStr::from_str(namespace), handle),
        )?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Calls a host service ([`talaria_plugin_api::methods`]), forwarding this call's
    /// events and cancellation.
    pub fn call<M: Method>(&self, params: &M::Params, cx: &CallContext) -> Result<M::Output> {
        let params = serde_json::to_string(params)?;
        let text = result(self.services.call(
            RStr::from_str(M::NAME),
            RStr::from_str(&params),
            cx.sink().clone(),
            cx.cancel_flag().clone(),
        ))?;
        // serde's message may quote the value (a token, say): give the place, not the text.
        serde_json::from_str(&text).map_err(|e| {
            Error::other(format!(
                "the host answered {} with a malformed result (line {} column {})",
                M::NAME,
                e.line(),
                e.column()
            ))
        })
    }

    /// One model request, sent by the host through the transport that speaks the
    /// provider's wire API. Deltas stream as events on `cx`.
    pub fn model_stream(&self, request: &StreamRequest, cx: &CallContext) -> Result<StreamResult> {
        self.call::<methods::ModelStream>(request, cx)
    }

    /// Every enabled tool of the profile, whichever plugin serves it.
    pub fn tools(&self, cx: &CallContext) -> Result<ToolList> {
        self.call::<methods::ToolsList>(&Empty {}, cx)
    }

    /// Makes this plugin the process's approver: while approvals are asked, every
    /// `approvals.request` (from any plugin) reaches this plugin's `approvals.decide`
    /// instead of the terminal. For a command whose user is elsewhere (`mcp serve`).
    pub fn delegate_approvals(&self, cx: &CallContext) -> Result<()> {
        self.call::<methods::ApprovalsDelegate>(&Empty {}, cx)
            .map(drop)
    }

    /// Calls a tool by name through the host (the tool asks for its own approvals).
    pub fn call_tool(&self, request: &ToolCallRequest, cx: &CallContext) -> Result<ToolOutput> {
        self.call::<methods::ToolsCall>(request, cx)
    }
}

impl Error {
    /// An error about the plugin's own config: `key` is the path of the offending key
    /// (`["mcp_servers", "files", "timeout"]`), which the host turns into a file and line.
    pub fn config(key: &[&str], message: impl Into<String>) -> Error {
        let problem = ConfigProblem {
            config_key: key.iter().map(|s| (*s).to_owned()).collect(),
        };
        Error::invalid(message).with_data(serde_json::to_value(problem).unwrap_or(Value::Null))
    }
}

fn result(r: RResult<RString, PluginError>) -> Result<String> {
    r.into_result()
        .map(RString::into_string)
        .map_err(Error::from)
}

struct ClosureUpdater<F> {
    update: F,
}

impl<F> CredentialUpdater for ClosureUpdater<F>
where
    F: FnMut(Value) -> Result<Option<Value>>,
{
    fn update(&mut self, current: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        // The host calls this from inside `credentials_update`; a panic must not unwind
        // back across the boundary.
        let run = || -> Result<Option<Value>> {
            let value: Value = serde_json::from_str(current.as_str())?;
            (self.update)(value)
        };
        match crate::adapter::catch_panic(run) {
            Ok(Ok(Some(v))) => RResult::ROk(ROption::RSome(RString::from(v.to_string()))),
            Ok(Ok(None)) => RResult::ROk(ROption::RNone),
            Ok(Err(e)) => RResult::RErr(e.into()),
            Err(panic) => RResult::RErr(crate::adapter::panic_error("credential update", &panic)),
        }
    }
}
