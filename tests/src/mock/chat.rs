//! An OpenAI-compatible Chat Completions server (`POST /v1/chat/completions`), as
//! OpenRouter, llama.cpp, vLLM or Ollama answer it: SSE `data:` chunks ending in
//! `data: [DONE]`, a last chunk with `usage` when `stream_options.include_usage` asks
//! for it, and mid-stream `{"error": ...}` chunks. Scripts queue what the next request
//! gets; with none queued it streams a short text answer.
//!
//! Auth is a local server's: with no key set (`MockServer::set_api_key`) any request is
//! served; with one set, `Authorization: Bearer <key>` must carry it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::record::{MockResponse, Recorded};
use super::{streaming, Shared};

/// The model named in the chunks the helpers build.
pub const CHAT_MODEL: &str = "qwen2.5-coder";

/// What the next `POST /v1/chat/completions` gets.
#[derive(Clone, Debug)]
pub enum ChatScript {
    /// An SSE stream of chunks.
    Stream(ChunkScript),
    /// A plain JSON body (200): a server that ignores `stream: true`.
    Json(Value),
    /// Any other HTTP answer (429 + Retry-After, 500, 401...).
    Http(MockResponse),
}

impl From<ChunkScript> for ChatScript {
    fn from(script: ChunkScript) -> Self {
        ChatScript::Stream(script)
    }
}

impl From<MockResponse> for ChatScript {
    fn from(response: MockResponse) -> Self {
        ChatScript::Http(response)
    }
}

/// Chunks sent as `data: <json>\n\n`, then `data: [DONE]\n\n` unless `done` is off.
#[derive(Clone, Debug)]
pub struct ChunkScript {
    pub chunks: Vec<Value>,
    /// End with `data: [DONE]` (default true).
    pub done: bool,
    /// Pause before every chunk but the first.
    pub delay: Duration,
    /// Send this many chunks, then nothing more while keeping the connection open.
    pub stall_after: Option<usize>,
    /// Send this many chunks, then end the body (no `[DONE]`).
    pub close_after: Option<usize>,
}

impl ChunkScript {
    pub fn new(chunks: Vec<Value>) -> ChunkScript {
        ChunkScript {
            chunks,
            done: true,
            delay: Duration::ZERO,
            stall_after: None,
            close_after: None,
        }
    }

    pub fn without_done(mut self) -> Self {
        self.done = false;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn stall_after(mut self, chunks: usize) -> Self {
        self.stall_after = Some(chunks);
        self
    }

    pub fn close_after(mut self, chunks: usize) -> Self {
        self.close_after = Some(chunks);
        self
    }
}

/// A chunk of choice 0 with this `delta` (and `finish_reason`).
pub fn chat_chunk(delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000u64,
        "model": CHAT_MODEL,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
    })
}

/// The last chunk `stream_options.include_usage` asks for: no choices, the usage.
pub fn chat_usage_chunk(prompt: u64, cached: u64, completion: u64, reasoning: u64) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000u64,
        "model": CHAT_MODEL, "choices": [],
        "usage": {
            "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": { "cached_tokens": cached },
            "completion_tokens_details": { "reasoning_tokens": reasoning },
        },
    })
}

/// A streamed text answer: the role, one chunk per piece, `finish_reason: "stop"`, then
/// the usage (`usage` = prompt, completion).
pub fn chat_text_chunks(pieces: &[&str], usage: (u64, u64)) -> Vec<Value> {
    let mut chunks = vec![chat_chunk(
        json!({ "role": "assistant", "content": "" }),
        None,
    )];
    for piece in pieces {
        chunks.push(chat_chunk(json!({ "content": piece }), None));
    }
    chunks.push(chat_chunk(json!({}), Some("stop")));
    chunks.push(chat_usage_chunk(usage.0, 0, usage.1, 0));
    chunks
}

/// One tool call streamed in pieces: the first chunk brings the id and the name, the
/// following ones the arguments' `pieces`; then `finish_reason: "tool_calls"` and usage.
pub fn chat_tool_call_chunks(
    call_id: &str,
    name: &str,
    pieces: &[&str],
    usage: (u64, u64),
) -> Vec<Value> {
    let mut chunks = vec![chat_chunk(
        json!({ "role": "assistant", "content": null, "tool_calls": [
            { "index": 0, "id": call_id, "type": "function", "function": { "name": name, "arguments": "" } }
        ] }),
        None,
    )];
    for piece in pieces {
        chunks.push(chat_chunk(
            json!({ "tool_calls": [{ "index": 0, "function": { "arguments": piece } }] }),
            None,
        ));
    }
    chunks.push(chat_chunk(json!({}), Some("tool_calls")));
    chunks.push(chat_usage_chunk(usage.0, 0, usage.1, 0));
    chunks
}

/// A whole, non-streamed `chat.completion` with this text.
pub fn chat_completion_body(text: &str, usage: (u64, u64)) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000u64,
        "model": CHAT_MODEL,
        "choices": [{ "index": 0, "finish_reason": "stop",
            "message": { "role": "assistant", "content": text } }],
        "usage": { "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1 },
    })
}

/// The answer when no script is queued.
pub(crate) fn default_script() -> ChatScript {
    ChatScript::Stream(ChunkScript::new(chat_text_chunks(
        &["Hello", " from the mock."],
        (9, 4),
    )))
}

pub(crate) fn completions(shared: &Arc<Shared>, request: &Recorded) -> Response {
    let key = shared.lock().api_key.clone();
    if let Some(key) = key {
        let token = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        if token != Some(key.as_str()) {
            return MockResponse::json(
                401,
                json!({ "error": { "message": "Invalid API key", "type": "invalid_request_error", "code": "invalid_api_key" } }),
            )
            .into_response();
        }
    }
    let body = match request.try_json() {
        Ok(Value::Object(body)) => body,
        Ok(_) => {
            return MockResponse::error(400, "invalid_request", "the body must be a JSON object")
                .into_response()
        }
        Err(e) => return MockResponse::error(400, "invalid_request", &e).into_response(),
    };
    if !body.get("model").is_some_and(Value::is_string) {
        return MockResponse::error(400, "invalid_request", "`model` is required").into_response();
    }
    let messages = body.get("messages").and_then(Value::as_array);
    if messages.is_none_or(Vec::is_empty) {
        return MockResponse::error(
            400,
            "invalid_request",
            "`messages` must be a non-empty array",
        )
        .into_response();
    }
    let script = shared.lock().chat_scripts.pop_front();
    match script.unwrap_or_else(default_script) {
        ChatScript::Http(response) => response.into_response(),
        ChatScript::Json(value) => MockResponse::json(200, value).into_response(),
        ChatScript::Stream(script) => sse(script),
    }
}

fn sse(script: ChunkScript) -> Response {
    let builder = Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache");
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(send(script, tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    streaming(builder, Body::from_stream(stream))
}

async fn send(script: ChunkScript, tx: mpsc::Sender<Bytes>) {
    let limit = script
        .stall_after
        .or(script.close_after)
        .map_or(script.chunks.len(), |n| n.min(script.chunks.len()));
    for (index, chunk) in script.chunks.iter().enumerate().take(limit) {
        if index > 0 && !script.delay.is_zero() {
            tokio::time::sleep(script.delay).await;
        }
        if tx
            .send(Bytes::from(format!("data: {chunk}\n\n")))
            .await
            .is_err()
        {
            return;
        }
    }
    if script.stall_after.is_some() {
        // Keep the connection open until the client goes away.
        tx.closed().await;
        return;
    }
    if script.close_after.is_none() && script.done {
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    }
}
