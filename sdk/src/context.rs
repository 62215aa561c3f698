use std::sync::Arc;

use talaria_plugin_api::abi::{event_sink, CancelFlag, EventSink, EventSinkArc};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::input::{InputRequest, InputResponse};
use talaria_plugin_api::methods::{ApprovalsRequest, UserInput};
use talaria_plugin_api::payload::{ApprovalDecision, ApprovalRequest, Event, ToolContext};

use crate::{Error, Host, Result};

/// Everything one call needs: the host, the event stream and the cancellation flag.
/// A clone is the same call (same events, same cancellation).
#[derive(Clone)]
pub struct CallContext {
    host: Host,
    events: EventSinkArc,
    cancel: CancelFlag,
    /// The model's id for the tool call being served (empty outside `tool.call`).
    call_id: String,
    /// The turn the tool call serves, as the runtime described it.
    tool_context: Option<Arc<ToolContext>>,
}

impl CallContext {
    pub(crate) fn new(host: Host, events: EventSinkArc, cancel: CancelFlag) -> Self {
        CallContext {
            host,
            events,
            cancel,
            call_id: String::new(),
            tool_context: None,
        }
    }

    /// The same call, serving tool call `call_id` in the turn `context` describes.
    pub(crate) fn for_tool_call(&self, call_id: &str, context: Option<ToolContext>) -> CallContext {
        CallContext {
            host: self.host.clone(),
            events: self.events.clone(),
            cancel: self.cancel.clone(),
            call_id: call_id.to_owned(),
            tool_context: context.map(Arc::new),
        }
    }

    /// A context for one nested call that can be cancelled on its own: same host, events,
    /// tool call id and turn, a fresh cancellation flag (cancelling it leaves this one
    /// alone). How a server cancels one of many calls it runs for a single command.
    pub fn fork(&self) -> CallContext {
        CallContext {
            host: self.host.clone(),
            events: self.events.clone(),
            cancel: CancelFlag::new(),
            call_id: self.call_id.clone(),
            tool_context: self.tool_context.clone(),
        }
    }

    /// The turn a tool call serves (working directory, approval policy, sandbox, the
    /// model's catalog entry), when the caller described one.
    pub fn tool_context(&self) -> Option<&ToolContext> {
        self.tool_context.as_deref()
    }

    /// The id of the tool call this call serves, for approvals and events (empty outside
    /// a tool call).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Streams an event to the host.
    pub fn emit(&self, event: &Event) {
        if let Ok(text) = serde_json::to_string(event) {
            self.events.emit(RStr::from_str(&text));
        }
    }

    /// Streams an already-serialized event (a JSON object with a `type`); the fast path
    /// for plugins that relay events they received as JSON.
    pub fn emit_raw(&self, json: &str) {
        self.events.emit(RStr::from_str(json));
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// `Err(cancelled)` once the host has cancelled the call; use it between steps.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::cancelled())
        } else {
            Ok(())
        }
    }

    /// Asks for approval; the host fills in the plugin, shows the request (terminal,
    /// `--json`) and remembers acceptances for the session.
    pub fn request_approval(&self, request: &ApprovalRequest) -> Result<ApprovalDecision> {
        self.host.call::<ApprovalsRequest>(request, self)
    }

    /// Asks the user to fill in a form (`user.input`): the host fills in the plugin,
    /// shows the question (terminal, `--json`) and answers `decline` when nobody can be
    /// asked. An accepted answer has a valid value for every required field.
    pub fn ask_user(&self, request: &InputRequest) -> Result<InputResponse> {
        let mut request = request.clone();
        if request.call_id.is_empty() {
            request.call_id = self.call_id.clone();
        }
        self.host.call::<UserInput>(&request, self)
    }

    /// A context for a nested call whose events still reach the host, and are also
    /// shown to `observe` (as JSON) first: how a runtime keeps the text that streamed
    /// before a model request was interrupted.
    pub fn tee(&self, observe: impl Fn(&str) + Send + Sync + 'static) -> CallContext {
        let tee = Tee {
            next: self.events.clone(),
            observe: Arc::new(observe),
        };
        CallContext {
            host: self.host.clone(),
            events: event_sink(tee),
            cancel: self.cancel.clone(),
            call_id: self.call_id.clone(),
            tool_context: self.tool_context.clone(),
        }
    }

    pub(crate) fn sink(&self) -> &EventSinkArc {
        &self.events
    }

    pub fn cancel_flag(&self) -> &CancelFlag {
        &self.cancel
    }
}

struct Tee {
    next: EventSinkArc,
    observe: Arc<dyn Fn(&str) + Send + Sync>,
}

impl EventSink for Tee {
    fn emit(&self, event: RStr<'_>) {
        (self.observe)(event.as_str());
        self.next.emit(event);
    }
}
