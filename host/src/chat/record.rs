//! What the session store keeps of a turn's events: the tool calls and their results,
//! and the text streamed so far (for a turn interrupted before its runtime answered).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use talaria_plugin_api::payload::Event;

use crate::events::Observer;

pub struct ToolCallRecord {
    pub call_id: String,
    pub name: String,
    pub arguments: Value,
    /// Output and whether it is an error, once the result came.
    pub result: Option<(String, bool)>,
}

/// Passes every event on to the front end and keeps what the store needs.
pub struct TurnRecorder {
    front: Arc<dyn Observer>,
    calls: Mutex<Vec<ToolCallRecord>>,
    text: Mutex<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TurnRecorder {
    pub fn new(front: Arc<dyn Observer>) -> Self {
        TurnRecorder {
            front,
            calls: Mutex::new(Vec::new()),
            text: Mutex::new(String::new()),
        }
    }

    pub fn tool_calls(&self) -> Vec<ToolCallRecord> {
        std::mem::take(&mut *lock(&self.calls))
    }

    pub fn text(&self) -> String {
        lock(&self.text).clone()
    }
}

impl Observer for TurnRecorder {
    fn event(&self, event: &Event) {
        match event {
            Event::TextDelta { delta } => lock(&self.text).push_str(delta),
            Event::ToolCall {
                call_id,
                name,
                arguments,
            } => lock(&self.calls).push(ToolCallRecord {
                call_id: call_id.clone(),
                name: name.clone(),
                arguments: arguments.clone(),
                result: None,
            }),
            Event::ToolResult {
                call_id,
                output,
                is_error,
                ..
            } => {
                if let Some(call) = lock(&self.calls)
                    .iter_mut()
                    .rev()
                    .find(|c| &c.call_id == call_id && c.result.is_none())
                {
                    call.result = Some((output.clone(), *is_error));
                }
            }
            _ => {}
        }
        self.front.event(event);
    }
}
