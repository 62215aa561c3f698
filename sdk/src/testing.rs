//! An in-process test harness: runs a plugin through the same ABI adapters the host
//! uses, with a fake host whose credentials, approvals, config and logs a test controls
//! and inspects. No library is built or loaded.
//!
//! ```ignore
//! let h = Harness::builder().approve_all().start(my_plugin::init)?;
//! let (out, events) = h.call_tool("run_command", json!({"command": "echo hi"}))?;
//! assert_eq!(h.approval_requests().len(), 1);
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use talaria_plugin_api::abi::{
    self, event_sink, CancelFlag, CredentialUpdaterMut, EventSink, EventSinkArc, HostServices_TO, PluginBox, PluginError,
};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::std_types::{ROption, RResult, RStr, RString};
use talaria_plugin_api::payload::{
    methods, ApprovalDecision, ApprovalRequest, Description, ErrorKind, Event, HostInfo, ToolCallRequest, ToolOutput,
};

use crate::{Error, Host, Plugin, Result};

/// How the fake host answers approval requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalPolicy {
    ApproveAll,
    DenyAll,
}

#[derive(Default)]
struct FakeState {
    credentials: Mutex<BTreeMap<String, Value>>,
    approval_requests: Mutex<Vec<ApprovalRequest>>,
    logs: Mutex<Vec<(u8, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct FakeHost {
    state: Arc<FakeState>,
    config: Value,
    info: HostInfo,
    approvals: ApprovalPolicy,
}

impl abi::HostServices for FakeHost {
    fn host_info(&self) -> RString {
        serde_json::to_string(&self.info).unwrap_or_default().into()
    }

    fn log(&self, level: u8, message: RStr<'_>) {
        lock(&self.state.logs).push((level, message.to_string()));
    }

    fn config(&self) -> RString {
        self.config.to_string().into()
    }

    fn credentials_get(&self, provider: RStr<'_>) -> RResult<RString, PluginError> {
        let value = lock(&self.state.credentials).get(provider.as_str()).cloned().unwrap_or(Value::Null);
        RResult::ROk(value.to_string().into())
    }

    fn credentials_update(&self, provider: RStr<'_>, mut updater: CredentialUpdaterMut<'_>) -> RResult<RString, PluginError> {
        let mut store = lock(&self.state.credentials);
        let current = store.get(provider.as_str()).cloned().unwrap_or(Value::Null);
        match updater.update(RStr::from_str(&current.to_string())) {
            RResult::ROk(ROption::RSome(new)) => match serde_json::from_str::<Value>(&new) {
                Ok(value) => {
                    store.insert(provider.to_string(), value.clone());
                    RResult::ROk(value.to_string().into())
                }
                Err(e) => RResult::RErr(PluginError::new(ErrorKind::InvalidRequest, format!("not JSON: {e}"))),
            },
            RResult::ROk(ROption::RNone) => RResult::ROk(current.to_string().into()),
            RResult::RErr(e) => RResult::RErr(e),
        }
    }

    fn request_approval(&self, request: RStr<'_>) -> RResult<RString, PluginError> {
        let parsed: ApprovalRequest = match serde_json::from_str(request.as_str()) {
            Ok(r) => r,
            Err(e) => return RResult::RErr(PluginError::new(ErrorKind::InvalidRequest, e.to_string())),
        };
        lock(&self.state.approval_requests).push(parsed);
        let decision = match self.approvals {
            ApprovalPolicy::ApproveAll => ApprovalDecision { approved: true, reason: "approved by the test harness".into() },
            ApprovalPolicy::DenyAll => ApprovalDecision { approved: false, reason: "declined by the test harness".into() },
        };
        RResult::ROk(serde_json::to_string(&decision).unwrap_or_default().into())
    }

    fn call_plugin(&self, plugin_id: RStr<'_>, _: RStr<'_>, _: RStr<'_>, _: EventSinkArc, _: CancelFlag) -> RResult<RString, PluginError> {
        RResult::RErr(PluginError::new(
            ErrorKind::Unavailable,
            format!("the test harness has no plugin {plugin_id:?} to call"),
        ))
    }
}

/// Collects the events of one call; shared with the sink handed to the plugin.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl EventSink for Recorder {
    fn emit(&self, event: RStr<'_>) {
        lock(&self.0).push(event.to_string());
    }
}

/// Configures a [`Harness`].
pub struct HarnessBuilder {
    config: Value,
    approvals: ApprovalPolicy,
    credentials: BTreeMap<String, Value>,
    info: HostInfo,
}

impl HarnessBuilder {
    /// The plugin's config section, as the host would pass it.
    pub fn config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }
    pub fn approve_all(mut self) -> Self {
        self.approvals = ApprovalPolicy::ApproveAll;
        self
    }
    pub fn deny_all(mut self) -> Self {
        self.approvals = ApprovalPolicy::DenyAll;
        self
    }
    pub fn credentials(mut self, provider: &str, value: Value) -> Self {
        self.credentials.insert(provider.to_owned(), value);
        self
    }

    /// Runs the plugin's init through the ABI adapter.
    pub fn start<P, F>(self, init: F) -> Result<Harness>
    where
        P: Plugin,
        F: FnOnce(Host) -> Result<P>,
    {
        let state = Arc::new(FakeState { credentials: Mutex::new(self.credentials), ..Default::default() });
        let host = FakeHost { state: state.clone(), config: self.config, info: self.info, approvals: self.approvals };
        let services = HostServices_TO::from_value(host, TD_Opaque);
        let plugin = crate::export::init_plugin(services, init).into_result().map_err(Error::from)?;
        Ok(Harness { plugin, state })
    }
}

/// A plugin running in-process behind a fake host.
pub struct Harness {
    plugin: PluginBox,
    state: Arc<FakeState>,
}

impl Harness {
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            config: Value::Null,
            approvals: ApprovalPolicy::DenyAll,
            credentials: BTreeMap::new(),
            info: HostInfo {
                host_version: "test-harness".into(),
                abi_version: crate::ABI_VERSION.into(),
                profile: "default".into(),
                ..Default::default()
            },
        }
    }

    /// A harness with no config, no credentials, and approvals declined.
    pub fn start<P, F>(init: F) -> Result<Harness>
    where
        P: Plugin,
        F: FnOnce(Host) -> Result<P>,
    {
        Self::builder().start(init)
    }

    pub fn describe(&self) -> Result<Description> {
        let text = self.plugin.describe().into_result().map_err(Error::from)?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Calls a method; returns its result and the events it streamed.
    pub fn call(&self, method: &str, params: Value) -> Result<(Value, Vec<Event>)> {
        self.call_with_cancel(method, params, CancelFlag::new())
    }

    /// Calls a method with a cancellation flag the test controls (already set, or set
    /// from another thread).
    pub fn call_with_cancel(&self, method: &str, params: Value, cancel: CancelFlag) -> Result<(Value, Vec<Event>)> {
        let recorder = Recorder::default();
        let sink = event_sink(recorder.clone());
        let out = self
            .plugin
            .call(RStr::from_str(method), RStr::from_str(&params.to_string()), sink, cancel)
            .into_result()
            .map_err(Error::from)?;
        let events = lock(&recorder.0)
            .iter()
            .map(|e| serde_json::from_str(e))
            .collect::<std::result::Result<Vec<Event>, _>>()?;
        Ok((serde_json::from_str(&out)?, events))
    }

    /// Calls one tool of a tool plugin.
    pub fn call_tool(&self, name: &str, arguments: Value) -> Result<(ToolOutput, Vec<Event>)> {
        let request = ToolCallRequest { call_id: "call_test".into(), name: name.into(), arguments };
        let (out, events) = self.call(methods::TOOL_CALL, serde_json::to_value(request)?)?;
        Ok((serde_json::from_value(out)?, events))
    }

    /// The approval requests the plugin made so far.
    pub fn approval_requests(&self) -> Vec<ApprovalRequest> {
        lock(&self.state.approval_requests).clone()
    }

    /// What the plugin logged, as (level, message).
    pub fn logs(&self) -> Vec<(u8, String)> {
        lock(&self.state.logs).clone()
    }

    /// The fake store's credentials for `provider` (`Null` when none).
    pub fn credentials(&self, provider: &str) -> Value {
        lock(&self.state.credentials).get(provider).cloned().unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args, CallContext, Tool, ToolSet, ToolSpec};
    use serde_json::json;

    struct Echo;
    impl Tool for Echo {
        fn spec(&self) -> ToolSpec {
            ToolSpec { name: "echo".into(), description: "echo".into(), input_schema: json!({}), needs_approval: false }
        }
        fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
            #[derive(serde::Deserialize)]
            struct A {
                text: String,
            }
            let a: A = parse_args(args)?;
            cx.emit(&Event::Progress { message: "echoing".into() });
            Ok(ToolOutput::text(a.text))
        }
    }

    struct Panics;
    impl Tool for Panics {
        fn spec(&self) -> ToolSpec {
            ToolSpec { name: "boom".into(), description: "".into(), input_schema: json!({}), needs_approval: false }
        }
        fn call(&self, _: Value, _: &CallContext) -> Result<ToolOutput> {
            panic!("kaboom")
        }
    }

    fn init(_: Host) -> Result<ToolSet> {
        Ok(ToolSet::new().with(Echo).with(Panics))
    }

    #[test]
    fn tools_are_described_and_called_through_the_abi() {
        let h = Harness::start(init).unwrap();
        let names: Vec<_> = h.describe().unwrap().tools.into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["echo", "boom"]);
        let (out, events) = h.call_tool("echo", json!({"text": "hi"})).unwrap();
        assert_eq!(out, ToolOutput::text("hi"));
        assert_eq!(events, vec![Event::Progress { message: "echoing".into() }]);
    }

    #[test]
    fn a_panicking_tool_becomes_an_error() {
        let h = Harness::start(init).unwrap();
        let err = h.call_tool("boom", json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panicked);
        assert!(err.message.contains("kaboom"), "{}", err.message);
    }

    #[test]
    fn a_panicking_init_becomes_an_error() {
        let err = Harness::start(|_: Host| -> Result<ToolSet> { panic!("bad init") }).err().unwrap();
        assert_eq!(err.kind, ErrorKind::Panicked);
        assert!(err.message.contains("bad init"));
    }

    #[test]
    fn bad_arguments_and_unknown_tools_are_clear_errors() {
        let h = Harness::start(init).unwrap();
        let err = h.call_tool("echo", json!({"txt": 1})).unwrap_err();
        assert!(err.message.contains("invalid arguments"), "{}", err.message);
        let err = h.call_tool("nope", json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownMethod);
        let err = h.call("provider.models", json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownMethod);
    }

    #[test]
    fn credential_updates_see_the_current_value() {
        let h = Harness::builder().credentials("p", json!({"n": 1})).start(|host: Host| {
            let stored = host
                .update_credentials("p", |cur| Ok(Some(json!({"n": cur["n"].as_i64().unwrap_or(0) + 1}))))
                .unwrap();
            assert_eq!(stored, json!({"n": 2}));
            Ok(ToolSet::new())
        });
        assert_eq!(h.unwrap().credentials("p"), json!({"n": 2}));
    }

    #[test]
    fn a_cancelled_call_is_refused() {
        let h = Harness::start(init).unwrap();
        let cancel = CancelFlag::new();
        cancel.cancel();
        let req = json!({"name": "echo", "arguments": {"text": "x"}});
        let err = h.call_with_cancel(methods::TOOL_CALL, req, cancel).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cancelled);
    }
}
