//! What a turn reports while it runs, and the event sink that feeds it from plugins.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::Value;
use talaria_plugin_api::abi::{event_sink, EventSink, EventSinkArc};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::payload::{ApprovalDecision, ApprovalRequest, Event, Usage};
use talaria_plugin_api::transport::FailureClass;

/// The events of a chat, as `chat --json` prints them (one object per line, `type` first).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    Session { id: String, resumed: bool, runtime: String, provider: String, model: String },
    TextDelta { delta: String },
    ReasoningDelta { delta: String },
    ToolCall { call_id: String, name: String, arguments: Value },
    ToolResult { call_id: String, name: String, output: String, is_error: bool },
    ApprovalRequest { request: ApprovalRequest },
    ApprovalDecision { approved: bool, reason: String },
    /// Progress of the transport or a tool (reconnecting, waiting); not part of `--json`.
    #[serde(skip)]
    Progress { message: String },
    Warning { message: String },
    Error { message: String, #[serde(skip_serializing_if = "Option::is_none")] class: Option<FailureClass> },
    TurnCompleted { text: String, usage: Usage, interrupted: bool },
}

/// Receives a turn's events (the terminal renderer, the JSON printer).
pub trait TurnObserver: Send + Sync {
    fn event(&self, event: &ChatEvent);
}

impl ChatEvent {
    pub fn approval_decision(decision: &ApprovalDecision) -> ChatEvent {
        ChatEvent::ApprovalDecision { approved: decision.approved, reason: decision.reason.clone() }
    }
}

/// Forwards plugin events to the observer and keeps the streamed text, so an
/// interrupted turn still has its partial answer.
pub struct ForwardingSink {
    observer: Arc<dyn TurnObserver>,
    text: Arc<Mutex<String>>,
}

impl ForwardingSink {
    /// The ABI sink, and the text it collects.
    pub fn create(observer: Arc<dyn TurnObserver>) -> (EventSinkArc, Arc<Mutex<String>>) {
        let text = Arc::new(Mutex::new(String::new()));
        (event_sink(ForwardingSink { observer, text: text.clone() }), text)
    }
}

impl EventSink for ForwardingSink {
    fn emit(&self, event: RStr<'_>) {
        let Ok(event) = serde_json::from_str::<Event>(event.as_str()) else {
            tracing::debug!("skipped an event that does not parse");
            return;
        };
        let forwarded = match event {
            Event::TextDelta { delta } => {
                self.text.lock().unwrap_or_else(PoisonError::into_inner).push_str(&delta);
                ChatEvent::TextDelta { delta }
            }
            Event::ReasoningDelta { delta } => ChatEvent::ReasoningDelta { delta },
            Event::Progress { message } => ChatEvent::Progress { message },
            Event::Warning { message } => ChatEvent::Warning { message },
            Event::Error { message } => ChatEvent::Warning { message },
            // Tool call/result events are the loop's own to report; a plugin's copies and
            // unknown events are not forwarded twice.
            _ => return,
        };
        self.observer.event(&forwarded);
    }
}
