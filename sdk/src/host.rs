use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use talaria_plugin_api::abi::{CredentialUpdater, CredentialUpdater_TO, HostServicesBox, PluginError};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::sabi_types::RMut;
use talaria_plugin_api::abi_stable::std_types::{ROption, RResult, RStr, RString};
use talaria_plugin_api::payload::{ApprovalDecision, ApprovalRequest, HostInfo};

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
        Host { services: Arc::new(services) }
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

    /// The plugin's config section, deserialized; `None` when the profile has none.
    pub fn config<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let value: Value = serde_json::from_str(&self.services.config())?;
        if value.is_null() {
            return Ok(None);
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::invalid(format!("invalid plugin config: {e}")))
    }

    /// The stored credentials for `provider` (`Value::Null` when none).
    pub fn credentials(&self, provider: &str) -> Result<Value> {
        let text = result(self.services.credentials_get(RStr::from_str(provider)))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Read-modify-write on the stored credentials under the store's cross-process lock.
    ///
    /// `update` sees the value as it is on disk *now* (another process may have just
    /// rotated a token) and returns `Some(new)` to store it or `None` to leave it.
    /// Returns what is stored afterwards.
    pub fn update_credentials<F>(&self, provider: &str, update: F) -> Result<Value>
    where
        F: FnMut(Value) -> Result<Option<Value>>,
    {
        let mut updater = ClosureUpdater { update };
        let handle = CredentialUpdater_TO::from_ptr(RMut::new(&mut updater), TD_Opaque);
        let text = result(self.services.credentials_update(RStr::from_str(provider), handle))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Asks for approval of an action; the host decides how (terminal prompt, policy).
    pub fn request_approval(&self, request: &ApprovalRequest) -> Result<ApprovalDecision> {
        let text = result(self.services.request_approval(RStr::from_str(&serde_json::to_string(request)?)))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Calls a method of another plugin, forwarding this call's events and cancellation.
    pub fn call_plugin(&self, plugin_id: &str, method: &str, params: &Value, cx: &CallContext) -> Result<Value> {
        let text = result(self.services.call_plugin(
            RStr::from_str(plugin_id),
            RStr::from_str(method),
            RStr::from_str(&params.to_string()),
            cx.sink().clone(),
            cx.cancel_flag().clone(),
        ))?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn result(r: RResult<RString, PluginError>) -> Result<String> {
    r.into_result().map(RString::into_string).map_err(Error::from)
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
