//! Payloads of the transport methods (`transport.*` in [`crate::methods`]), which are
//! also the payloads of the host's `model.stream` service: a runtime asks the host for
//! one model request, the host hands it to the transport that speaks the provider's
//! `wire_api`.
//!
//! A transport sends one model request and streams the answer back as events
//! (`text_delta`, `reasoning_delta`, `progress`, `warning`). It gets its endpoint and
//! headers from the provider named in the request (`provider.resolve`) and reports
//! auth and rate-limit failures back to it (`provider.report`). How the conversation
//! and the tools look on the wire is the transport's business alone.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::items::Item;
use crate::payload::{ToolSpec, Usage};

/// `transport.stream` / `model.stream`: one model request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamRequest {
    /// The provider (by provider id) to resolve the endpoint with.
    pub provider: String,
    /// The conversation id: the provider's `session_id` header, and the key under which
    /// the transport keeps its connection and its websocket/SSE choice.
    pub session_id: String,
    pub model: String,
    #[serde(default)]
    pub fast: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The whole conversation so far, this request's new items last.
    #[serde(default)]
    pub input: Vec<Item>,
    /// The tools the model may call (as function tools).
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// `None` sends no reasoning settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub options: StreamOptions,
    /// Fields the transport merges into the request body as given (an aux task's
    /// `extra_body`); the provider's own body fields and the transport's rules win.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra_body: Map<String, Value>,
}

/// How much the model should reason, and whether to stream a summary of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningRequest {
    /// `low`, `medium`, `high`, ... as the model's catalog entry lists them.
    pub effort: String,
    /// `auto`, `concise`, `detailed`; `None` asks for no summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// Knobs a user or test may turn; `None` means the transport's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Never try the websocket (SSE only).
    #[serde(default)]
    pub disable_websocket: bool,
    /// Retries after the first attempt for network errors, timeouts and 5xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Time allowed until the first event arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_ms: Option<u64>,
    /// Longest silence allowed between two events once the stream has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
}

/// The finished response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// The output items, in order: messages, reasoning, tool calls. The runtime builds
    /// the next request's input from them.
    #[serde(default)]
    pub output: Vec<Item>,
    /// The assistant's text, concatenated.
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The model the server says it used (`OpenAI-Model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `websocket` or `sse`.
    #[serde(default)]
    pub transport: String,
}

/// What went wrong, for the user: carried in the error's `data` by `transport.stream`
/// and `transport.probe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportFailure {
    pub class: FailureClass,
    /// The URL that failed (never with credentials in it).
    #[serde(default)]
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Unix seconds when a rate limit or quota resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<u64>,
    /// `x-request-id` / `cf-ray`, for a bug report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Worth trying the fallback model for.
    #[serde(default)]
    pub fallback_worthy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// HTTP 403 with `cf-mitigated: challenge`.
    CloudflareChallenge,
    Tls,
    /// DNS lookup or TCP connect failed.
    Connect,
    /// No first byte, or the stream went idle, past the watchdog.
    Timeout,
    /// 401/403 that the provider could not recover from.
    Auth,
    RateLimit,
    /// The plan's usage or quota is used up.
    Quota,
    ContextTooLong,
    InvalidRequest,
    /// 5xx or `response.failed` with a server error.
    Server,
    /// The stream broke: ended before `response.completed`, or malformed.
    Stream,
    #[serde(other)]
    Other,
}

/// `transport.probe` (for `doctor`): can the provider's backend be reached with its
/// credentials? An unreachable backend is an error carrying a [`TransportFailure`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub provider: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub url: String,
    pub status: u16,
    /// `websocket` when the websocket handshake succeeded, else `sse`.
    pub transport: String,
}
