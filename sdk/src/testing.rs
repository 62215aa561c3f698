//! An in-process test harness: runs a plugin through the same ABI adapters the host
//! uses, with a fake host whose credentials, approvals, config and logs a test controls
//! and inspects, and around which a test registers fake providers, transports and tools
//! (so a runtime's `model.stream` and `tools.call` reach them). No library is built or
//! loaded.
//!
//! ```
//! # use talaria_sdk::{testing::Harness, ToolSet, Host, Result};
//! # fn init(_: Host) -> Result<ToolSet> { Ok(ToolSet::new()) }
//! let h = Harness::builder().approve_all().start(init)?;
//! assert!(h.describe()?.tools.is_empty());
//! assert!(h.approval_requests().is_empty());
//! # Ok::<(), talaria_sdk::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use talaria_plugin_api::abi::{
    self, event_sink, CancelFlag, CredentialUpdaterMut, EventSink, EventSinkArc, HostServices_TO,
    PluginBox, PluginError,
};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::std_types::{ROption, RResult, RStr, RString};
use talaria_plugin_api::input::{InputRequest, InputResponse};
use talaria_plugin_api::methods::{self, Method};
use talaria_plugin_api::payload::{
    ApprovalDecision, ApprovalRequest, Decision, Description, ErrorKind, Event, HostInfo,
    ListedTool, PluginConfig, ToolCallRequest, ToolContext, ToolList, ToolOutput,
};
use talaria_plugin_api::provider::{Empty, ProviderCall};
use talaria_plugin_api::runtime::{TurnRequest, TurnResult};

use crate::{CallContext, Error, Exports, Host, Plugin, Provider, Result, ToolSet, Transport};

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
    /// `user.input`: the answers still to give, in order, and the questions asked.
    input_answers: Mutex<std::collections::VecDeque<InputResponse>>,
    input_requests: Mutex<Vec<InputRequest>>,
    logs: Mutex<Vec<(u8, String)>>,
    /// Provider id → the plugin serving it.
    providers: BTreeMap<String, Arc<dyn Plugin>>,
    /// Wire API → the transport speaking it.
    transports: BTreeMap<String, Arc<dyn Plugin>>,
    tools: Vec<Arc<ToolSet>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone)]
struct FakeHost {
    state: Arc<FakeState>,
    config: Value,
    info: HostInfo,
    approvals: ApprovalPolicy,
}

impl FakeHost {
    fn host(&self) -> Host {
        Host::new(HostServices_TO::from_value(self.clone(), TD_Opaque))
    }

    /// A fake plugin's method, run with this host and the caller's events.
    fn run(
        &self,
        plugin: &dyn Plugin,
        method: &str,
        params: Value,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> Result<Value> {
        let cx = CallContext::new(self.host(), events, cancel);
        plugin.call(method, params, &cx)
    }

    fn provider(&self, id: &str) -> Result<&Arc<dyn Plugin>> {
        self.state.providers.get(id).ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                format!("the test harness has no provider {id:?}"),
            )
        })
    }

    fn service(
        &self,
        method: &str,
        params: Value,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> Result<Value> {
        match method {
            methods::ApprovalsRequest::NAME => {
                let request: ApprovalRequest = serde_json::from_value(params)?;
                lock(&self.state.approval_requests).push(request);
                let decision = match self.approvals {
                    ApprovalPolicy::ApproveAll => ApprovalDecision {
                        decision: Decision::Accept,
                        reason: "approved by the test harness".into(),
                    },
                    ApprovalPolicy::DenyAll => ApprovalDecision {
                        decision: Decision::Decline,
                        reason: "declined by the test harness".into(),
                    },
                };
                Ok(serde_json::to_value(decision)?)
            }
            methods::UserInput::NAME => {
                let request: InputRequest = serde_json::from_value(params)?;
                let answer = lock(&self.state.input_answers)
                    .pop_front()
                    .unwrap_or_else(|| {
                        InputResponse::decline("declined by the test harness (no answer scripted)")
                    });
                lock(&self.state.input_requests).push(request);
                Ok(serde_json::to_value(answer)?)
            }
            methods::ToolsList::NAME => {
                let tools = self
                    .state
                    .tools
                    .iter()
                    .flat_map(|set| set.describe().tools)
                    .map(|spec| ListedTool {
                        plugin: "harness".into(),
                        spec,
                    })
                    .collect();
                Ok(serde_json::to_value(ToolList {
                    tools,
                    warnings: Vec::new(),
                })?)
            }
            methods::ToolsCall::NAME => {
                let request: ToolCallRequest = serde_json::from_value(params.clone())?;
                let set = self
                    .state
                    .tools
                    .iter()
                    .find(|set| set.describe().tools.iter().any(|t| t.name == request.name))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::UnknownMethod,
                            format!("no tool named {:?}", request.name),
                        )
                    })?;
                self.run(
                    set.as_ref(),
                    methods::ToolCall::NAME,
                    params,
                    events,
                    cancel,
                )
            }
            methods::ModelStream::NAME => {
                let provider = params["provider"].as_str().unwrap_or_default().to_owned();
                let info = self.run(
                    self.provider(&provider)?.as_ref(),
                    methods::ProviderInfoMethod::NAME,
                    serde_json::to_value(ProviderCall::new(&provider, Empty {}))?,
                    events.clone(),
                    cancel.clone(),
                )?;
                let wire_api = info["wire_api"].as_str().unwrap_or_default();
                let transport = self.state.transports.get(wire_api).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("the test harness has no transport for wire API {wire_api:?}"),
                    )
                })?;
                self.run(
                    transport.as_ref(),
                    methods::TransportStream::NAME,
                    params,
                    events,
                    cancel,
                )
            }
            m if m.starts_with("provider.") => {
                let provider = params["provider"].as_str().unwrap_or_default().to_owned();
                self.run(
                    self.provider(&provider)?.as_ref(),
                    m,
                    params,
                    events,
                    cancel,
                )
            }
            other => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("the host has no service {other:?}"),
            )),
        }
    }
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

    fn credentials_get(&self, namespace: RStr<'_>) -> RResult<RString, PluginError> {
        let value = lock(&self.state.credentials)
            .get(namespace.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        RResult::ROk(value.to_string().into())
    }

    fn credentials_update(
        &self,
        namespace: RStr<'_>,
        mut updater: CredentialUpdaterMut<'_>,
    ) -> RResult<RString, PluginError> {
        let mut store = lock(&self.state.credentials);
        let current = store
            .get(namespace.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        match updater.update(RStr::from_str(&current.to_string())) {
            RResult::ROk(ROption::RSome(new)) => match serde_json::from_str::<Value>(&new) {
                Ok(value) => {
                    store.insert(namespace.to_string(), value.clone());
                    RResult::ROk(value.to_string().into())
                }
                Err(e) => RResult::RErr(PluginError::new(
                    ErrorKind::InvalidRequest,
                    format!("not JSON: {e}"),
                )),
            },
            RResult::ROk(ROption::RNone) => RResult::ROk(current.to_string().into()),
            RResult::RErr(e) => RResult::RErr(e),
        }
    }

    fn call(
        &self,
        method: RStr<'_>,
        params: RStr<'_>,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> RResult<RString, PluginError> {
        let run = || -> Result<String> {
            let params: Value = if params.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(params.as_str())?
            };
            Ok(self
                .service(method.as_str(), params, events, cancel)?
                .to_string())
        };
        match run() {
            Ok(text) => RResult::ROk(text.into()),
            Err(e) => RResult::RErr(e.into()),
        }
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
    config: PluginConfig,
    approvals: ApprovalPolicy,
    state: FakeState,
    info: HostInfo,
}

impl HarnessBuilder {
    /// The plugin's `[plugin_config.<id>]` table, as the host would pass it.
    pub fn config(mut self, config: Value) -> Self {
        self.config.plugin = config;
        self
    }
    /// A config section the plugin owns (`config = ["name"]` in its manifest).
    pub fn config_section(mut self, name: &str, value: Value) -> Self {
        self.config.sections.insert(name.to_owned(), value);
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
    /// The next answer to a `user.input` question (answers are given in the order they
    /// were added; a question with none left is declined).
    pub fn answer_input(self, response: InputResponse) -> Self {
        lock(&self.state.input_answers).push_back(response);
        self
    }
    pub fn credentials(self, namespace: &str, value: Value) -> Self {
        lock(&self.state.credentials).insert(namespace.to_owned(), value);
        self
    }
    /// A fake provider serving `ids` (its `info` names the wire API it speaks).
    pub fn provider(mut self, ids: &[&str], provider: impl Provider) -> Self {
        let plugin: Arc<dyn Plugin> = Arc::new(Exports::new().provider(provider));
        for id in ids {
            self.state
                .providers
                .insert((*id).to_owned(), plugin.clone());
        }
        self
    }
    /// A fake transport for `wire_api`; `model.stream` reaches it.
    pub fn transport(mut self, wire_api: &str, transport: impl Transport) -> Self {
        self.state.transports.insert(
            wire_api.to_owned(),
            Arc::new(Exports::new().transport(transport)),
        );
        self
    }
    /// Fake tools; `tools.list` and `tools.call` reach them.
    pub fn tools(mut self, tools: ToolSet) -> Self {
        self.state.tools.push(Arc::new(tools));
        self
    }

    /// Runs the plugin's init through the ABI adapter.
    pub fn start<P, F>(self, init: F) -> Result<Harness>
    where
        P: Plugin,
        F: FnOnce(Host) -> Result<P>,
    {
        let state = Arc::new(self.state);
        let config = serde_json::to_value(&self.config)?;
        let host = FakeHost {
            state: state.clone(),
            config,
            info: self.info,
            approvals: self.approvals,
        };
        let services = HostServices_TO::from_value(host, TD_Opaque);
        let plugin = crate::export::init_plugin(services, init)
            .into_result()
            .map_err(Error::from)?;
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
            config: PluginConfig::default(),
            approvals: ApprovalPolicy::DenyAll,
            state: FakeState::default(),
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

    /// Calls a typed method.
    pub fn call_method<M: Method>(&self, params: &M::Params) -> Result<(M::Output, Vec<Event>)> {
        let (out, events) = self.call(M::NAME, serde_json::to_value(params)?)?;
        Ok((serde_json::from_value(out)?, events))
    }

    /// Calls a method with a cancellation flag the test controls (already set, or set
    /// from another thread).
    pub fn call_with_cancel(
        &self,
        method: &str,
        params: Value,
        cancel: CancelFlag,
    ) -> Result<(Value, Vec<Event>)> {
        let recorder = Recorder::default();
        let sink = event_sink(recorder.clone());
        let out = self
            .plugin
            .call(
                RStr::from_str(method),
                RStr::from_str(&params.to_string()),
                sink,
                cancel,
            )
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
        self.call_tool_in(name, arguments, None)
    }

    /// [`Harness::call_tool`] as a runtime calls it: in the turn `context` describes.
    pub fn call_tool_in(
        &self,
        name: &str,
        arguments: Value,
        context: Option<ToolContext>,
    ) -> Result<(ToolOutput, Vec<Event>)> {
        let request = ToolCallRequest {
            call_id: "call_test".into(),
            name: name.into(),
            arguments,
            context,
        };
        self.call_method::<methods::ToolCall>(&request)
    }

    /// Runs one turn of a runtime plugin.
    pub fn turn(&self, request: &TurnRequest) -> Result<(TurnResult, Vec<Event>)> {
        self.call_method::<methods::RuntimeTurn>(request)
    }

    /// The questions (`user.input`) the plugin asked so far.
    pub fn input_requests(&self) -> Vec<InputRequest> {
        lock(&self.state.input_requests).clone()
    }

    /// The approval requests the plugin made so far.
    pub fn approval_requests(&self) -> Vec<ApprovalRequest> {
        lock(&self.state.approval_requests).clone()
    }

    /// What the plugin logged, as (level, message).
    pub fn logs(&self) -> Vec<(u8, String)> {
        lock(&self.state.logs).clone()
    }

    /// The fake store's credentials under `namespace` (`Null` when none).
    pub fn credentials(&self, namespace: &str) -> Value {
        lock(&self.state.credentials)
            .get(namespace)
            .cloned()
            .unwrap_or(Value::Null)
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
            ToolSpec {
                name: "echo".into(),
                description: "echo".into(),
                input_schema: json!({}),
                needs_approval: false,
                ..Default::default()
            }
        }
        fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
            #[derive(serde::Deserialize)]
            struct A {
                text: String,
            }
            let a: A = parse_args(args)?;
            cx.emit(&Event::Progress {
                message: "echoing".into(),
            });
            Ok(ToolOutput::text(a.text))
        }
    }

    struct Panics;
    impl Tool for Panics {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "boom".into(),
                description: "".into(),
                input_schema: json!({}),
                needs_approval: false,
                ..Default::default()
            }
        }
        fn call(&self, _: Value, _: &CallContext) -> Result<ToolOutput> {
            panic!("kaboom")
        }
    }

    /// Asks the user for a name and greets them.
    struct Greet;
    impl Tool for Greet {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "greet".into(),
                description: "".into(),
                ..Default::default()
            }
        }
        fn call(&self, _: Value, cx: &CallContext) -> Result<ToolOutput> {
            use talaria_plugin_api::input::{FieldKind, InputAction, InputField};
            let form = InputRequest {
                title: "Who are you?".into(),
                fields: vec![InputField {
                    name: "name".into(),
                    label: String::new(),
                    description: None,
                    required: true,
                    kind: FieldKind::Text {
                        secret: false,
                        format: None,
                        min_length: None,
                        max_length: None,
                        default: None,
                    },
                }],
                ..Default::default()
            };
            let answer = cx.ask_user(&form)?;
            Ok(match answer.action {
                InputAction::Accept => ToolOutput::text(format!(
                    "hello {}",
                    answer.values["name"].as_str().unwrap_or_default()
                )),
                _ => ToolOutput::error(answer.reason),
            })
        }
    }

    fn init(_: Host) -> Result<ToolSet> {
        Ok(ToolSet::new().with(Echo).with(Panics).with(Greet))
    }

    #[test]
    fn questions_get_the_scripted_answers_in_order_then_declines() {
        let values = json!({"name": "Ada"}).as_object().cloned().unwrap();
        let h = Harness::builder()
            .answer_input(InputResponse::accept(values))
            .start(init)
            .unwrap();
        let (first, _) = h.call_tool("greet", json!({})).unwrap();
        assert_eq!(first.content, "hello Ada");
        let (second, _) = h.call_tool("greet", json!({})).unwrap();
        assert!(second.is_error && second.content.contains("no answer scripted"));
        let asked = h.input_requests();
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[0].title, "Who are you?");
    }

    #[test]
    fn tools_are_described_and_called_through_the_abi() {
        let h = Harness::start(init).unwrap();
        let names: Vec<_> = h
            .describe()
            .unwrap()
            .tools
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["echo", "boom", "greet"]);
        let (out, events) = h.call_tool("echo", json!({"text": "hi"})).unwrap();
        assert_eq!(out, ToolOutput::text("hi"));
        assert_eq!(
            events,
            vec![Event::Progress {
                message: "echoing".into()
            }]
        );
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
        let err = Harness::start(|_: Host| -> Result<ToolSet> { panic!("bad init") })
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Panicked);
        assert!(err.message.contains("bad init"));
    }

    #[test]
    fn a_panic_message_loses_what_looks_like_a_credential() {
        let err = Harness::start(|_: Host| -> Result<ToolSet> {
            panic!("refresh failed: Authorization: Bearer tok-0123456789 rejected")
        })
        .err()
        .unwrap();
        assert!(err.message.contains("refresh failed"), "{}", err.message);
        assert!(!err.message.contains("tok-0123456789"), "{}", err.message);
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
        let h = Harness::builder()
            .credentials("p", json!({"n": 1}))
            .start(|host: Host| {
                let stored = host
                    .update_credentials("p", |cur| {
                        Ok(Some(json!({"n": cur["n"].as_i64().unwrap_or(0) + 1})))
                    })
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
        let err = h
            .call_with_cancel(methods::ToolCall::NAME, req, cancel)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cancelled);
    }

    struct FakeProvider;
    impl crate::Provider for FakeProvider {
        fn info(&self, provider: &str) -> Result<crate::provider::ProviderInfo> {
            Ok(crate::provider::ProviderInfo {
                id: provider.into(),
                wire_api: "fake-wire".into(),
                supports_login: false,
            })
        }
        fn resolve(
            &self,
            _: &str,
            _: crate::provider::ResolveRequest,
            _: &CallContext,
        ) -> Result<crate::provider::Endpoint> {
            Ok(Default::default())
        }
        fn models(
            &self,
            _: &str,
            _: crate::provider::ModelsRequest,
            _: &CallContext,
        ) -> Result<crate::provider::ModelList> {
            Ok(Default::default())
        }
    }

    struct FakeTransport;
    impl crate::Transport for FakeTransport {
        fn stream(
            &self,
            req: crate::transport::StreamRequest,
            cx: &CallContext,
        ) -> Result<crate::transport::StreamResult> {
            cx.emit(&Event::TextDelta {
                delta: format!("{}:{}", req.provider, req.model),
            });
            Ok(crate::transport::StreamResult {
                text: "streamed".into(),
                ..Default::default()
            })
        }
    }

    /// A runtime under test: one model request, one approval, one tool call.
    struct Probe;
    impl crate::Runtime for Probe {
        fn turn(&self, req: TurnRequest, cx: &CallContext) -> Result<TurnResult> {
            let stream = crate::transport::StreamRequest {
                provider: req.model.provider.clone(),
                model: req.model.model.clone(),
                ..Default::default()
            };
            let answer = cx.host().model_stream(&stream, cx)?;
            let decision = cx.request_approval(&ApprovalRequest::exec("c1", "true", None))?;
            let listed = cx.host().tools(cx)?.tools.len();
            let call = ToolCallRequest {
                call_id: "c1".into(),
                name: "echo".into(),
                arguments: json!({"text": "tool"}),
                context: None,
            };
            let out = cx.host().call_tool(&call, cx)?;
            Ok(TurnResult {
                text: format!(
                    "{} {} {listed} {}",
                    answer.text,
                    decision.approved(),
                    out.content
                ),
                ..Default::default()
            })
        }
    }

    #[test]
    fn a_runtime_reaches_fake_providers_transports_and_tools() {
        let h = Harness::builder()
            .approve_all()
            .provider(&["p1", "p2"], FakeProvider)
            .transport("fake-wire", FakeTransport)
            .tools(ToolSet::new().with(Echo))
            .start(|_: Host| Ok(Exports::new().runtime(Probe)))
            .unwrap();
        let mut req = TurnRequest::default();
        req.model.provider = "p2".into();
        req.model.model = "m".into();
        let (result, events) = h.turn(&req).unwrap();
        assert_eq!(result.text, "streamed true 1 tool");
        assert!(
            events.contains(&Event::TextDelta {
                delta: "p2:m".into()
            }),
            "{events:?}"
        );
        assert_eq!(h.approval_requests()[0].command.as_deref(), Some("true"));
        req.model.provider = "nobody".into();
        assert_eq!(h.turn(&req).unwrap_err().kind, ErrorKind::Unavailable);
    }
}
