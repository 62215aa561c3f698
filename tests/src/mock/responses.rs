//! Responses-API event streams (codex-backend.md §4) and the scripts that drive the mock's
//! `/responses` endpoints.

use std::time::Duration;

use serde_json::{json, Value};
use talaria_plugin_api::time::now_secs;

use super::MockResponse;

/// The model named in the events the helpers build.
pub const MOCK_MODEL: &str = "gpt-5.5";

/// What the next `/responses` request (SSE POST or websocket `response.create`) gets.
#[derive(Clone, Debug)]
pub enum ResponseScript {
    /// A stream of Responses events, with timing and failure options.
    Events(EventScript),
    /// A plain HTTP answer instead of a stream (500, 429 + Retry-After, a Cloudflare
    /// challenge...). Over a websocket it is sent as a wrapped error frame
    /// `{"type":"error","status":N,"error":{..},"headers":{..}}`.
    Http(MockResponse),
}

impl ResponseScript {
    /// `Events(EventScript::new(events))`.
    pub fn events(events: Vec<Value>) -> ResponseScript {
        ResponseScript::Events(EventScript::new(events))
    }
}

impl From<Vec<Value>> for ResponseScript {
    fn from(events: Vec<Value>) -> Self {
        ResponseScript::events(events)
    }
}

impl From<EventScript> for ResponseScript {
    fn from(script: EventScript) -> Self {
        ResponseScript::Events(script)
    }
}

impl From<MockResponse> for ResponseScript {
    fn from(response: MockResponse) -> Self {
        ResponseScript::Http(response)
    }
}

/// A stream of events. SSE frames are `event: <type>\ndata: <json>\n\n`; over a websocket
/// each event is one text frame.
#[derive(Clone, Debug, Default)]
pub struct EventScript {
    pub events: Vec<Value>,
    /// Pause before every event but the first.
    pub delay: Duration,
    /// Send this many events, then nothing more while keeping the connection open.
    /// Wins over `close_after`.
    pub stall_after: Option<usize>,
    /// Send this many events, then end the stream (SSE: end of body; websocket: a close
    /// frame), typically without `response.completed`.
    pub close_after: Option<usize>,
    /// `(index, text)`: send `text` verbatim (no framing added) before `events[index]`;
    /// an index at or past the last event sent puts it after them.
    pub raw: Option<(usize, String)>,
    /// Extra HTTP response headers for the SSE answer (ignored on a websocket).
    pub headers: Vec<(String, String)>,
}

impl EventScript {
    pub fn new(events: Vec<Value>) -> EventScript {
        EventScript {
            events,
            ..EventScript::default()
        }
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn stall_after(mut self, events: usize) -> Self {
        self.stall_after = Some(events);
        self
    }

    pub fn close_after(mut self, events: usize) -> Self {
        self.close_after = Some(events);
        self
    }

    pub fn raw(mut self, index: usize, text: impl Into<String>) -> Self {
        self.raw = Some((index, text.into()));
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How many events are sent before stopping.
    pub(crate) fn limit(&self) -> usize {
        self.stall_after
            .or(self.close_after)
            .map_or(self.events.len(), |n| n.min(self.events.len()))
    }
}

/// One SSE frame: `event: <type>\ndata: <json>\n\n`.
pub fn sse_frame(event: &Value) -> String {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    format!("event: {kind}\ndata: {event}\n\n")
}

/// A `usage` object as `response.completed` carries it.
pub fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Value {
    json!({
        "input_tokens": input,
        "input_tokens_details": { "cached_tokens": cached },
        "output_tokens": output,
        "output_tokens_details": { "reasoning_tokens": reasoning },
        "total_tokens": input + output,
    })
}

fn response_object(id: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": now_secs(),
        "status": status,
        "model": MOCK_MODEL,
        "output": output,
        "usage": usage,
    })
}

/// `response.created` for response `id`.
pub fn created_event(id: &str) -> Value {
    json!({ "type": "response.created", "sequence_number": 0, "response": response_object(id, "in_progress", json!([]), Value::Null) })
}

/// `response.completed` for response `id` with these output items and usage.
pub fn completed_event(id: &str, output: Vec<Value>, usage: Value) -> Value {
    json!({ "type": "response.completed", "response": response_object(id, "completed", Value::Array(output), usage) })
}

/// An assistant message streamed in `chunks`: `response.created`,
/// `response.output_item.added` (message), one `response.output_text.delta` per chunk,
/// `response.output_item.done` (the whole message as `output_text`), `response.completed`
/// with `usage(12, 0, chunks.len(), 0)`.
pub fn text_events(id: &str, chunks: &[&str]) -> Vec<Value> {
    let item_id = format!("msg_{id}");
    let text: String = chunks.concat();
    let done_item = json!({
        "id": item_id, "type": "message", "status": "completed", "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [] }],
    });
    let mut events = vec![
        created_event(id),
        json!({
            "type": "response.output_item.added", "output_index": 0,
            "item": { "id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": [] },
        }),
    ];
    for chunk in chunks {
        events.push(json!({ "type": "response.output_text.delta", "item_id": item_id, "output_index": 0, "content_index": 0, "delta": chunk }));
    }
    events
        .push(json!({ "type": "response.output_item.done", "output_index": 0, "item": done_item }));
    events.push(completed_event(
        id,
        vec![done_item],
        usage(12, 0, chunks.len() as u64, 0),
    ));
    number(events)
}

/// A function call: `response.created`, `response.output_item.added` (function_call with
/// empty arguments), `response.function_call_arguments.delta` and `.done`,
/// `response.output_item.done` (the full call), `response.completed`.
pub fn function_call_events(
    id: &str,
    call_id: &str,
    name: &str,
    arguments_json: &str,
) -> Vec<Value> {
    let item_id = format!("fc_{id}");
    let item = |arguments: &str, status: &str| json!({ "id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": name, "arguments": arguments });
    let done_item = item(arguments_json, "completed");
    number(vec![
        created_event(id),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": item("", "in_progress") }),
        json!({ "type": "response.function_call_arguments.delta", "item_id": item_id, "output_index": 0, "delta": arguments_json }),
        json!({ "type": "response.function_call_arguments.done", "item_id": item_id, "output_index": 0, "arguments": arguments_json }),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": done_item }),
        completed_event(id, vec![done_item], usage(20, 0, 8, 0)),
    ])
}

/// A freeform (custom) tool call such as `apply_patch`: `response.created`,
/// `response.output_item.added`, `response.custom_tool_call_input.delta`,
/// `response.output_item.done` (the full call), `response.completed`.
pub fn custom_tool_call_events(id: &str, call_id: &str, name: &str, input: &str) -> Vec<Value> {
    let item_id = format!("ctc_{id}");
    let item = |input: &str, status: &str| json!({ "id": item_id, "type": "custom_tool_call", "status": status, "call_id": call_id, "name": name, "input": input });
    let done_item = item(input, "completed");
    number(vec![
        created_event(id),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": item("", "in_progress") }),
        json!({ "type": "response.custom_tool_call_input.delta", "item_id": item_id, "output_index": 0, "delta": input }),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": done_item }),
        completed_event(id, vec![done_item], usage(20, 0, 8, 0)),
    ])
}

/// `response.failed` whose `response.error` is `{code, message}`.
pub fn failed_event(code: &str, message: &str) -> Value {
    let mut response = response_object("resp_failed", "failed", json!([]), Value::Null);
    response["error"] = json!({ "code": code, "message": message });
    json!({ "type": "response.failed", "response": response })
}

/// The stream sent when no script is queued.
pub(crate) fn default_events(id: &str) -> Vec<Value> {
    text_events(id, &["Hello", " from the mock."])
}

fn number(mut events: Vec<Value>) -> Vec<Value> {
    for (n, event) in events.iter_mut().enumerate() {
        event["sequence_number"] = json!(n);
    }
    events
}
