use talaria_plugin_api::abi::{CancelFlag, EventSinkArc};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::methods::ApprovalsRequest;
use talaria_plugin_api::payload::{ApprovalDecision, ApprovalRequest, Event};

use crate::{Error, Host, Result};

/// Everything one call needs: the host, the event stream and the cancellation flag.
pub struct CallContext {
    host: Host,
    events: EventSinkArc,
    cancel: CancelFlag,
}

impl CallContext {
    pub(crate) fn new(host: Host, events: EventSinkArc, cancel: CancelFlag) -> Self {
        CallContext { host, events, cancel }
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

    pub(crate) fn sink(&self) -> &EventSinkArc {
        &self.events
    }

    pub fn cancel_flag(&self) -> &CancelFlag {
        &self.cancel
    }
}
