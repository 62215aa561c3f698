//! Payloads of the provider methods (`provider.*` in [`crate::methods`]).
//!
//! A provider owns everything about *who* talks to a backend: signing in, the pool of
//! stored credentials, token refresh, and the endpoint and headers a request must carry.
//! A transport asks it for an [`Endpoint`] before each request and reports failures
//! back ([`FailureReport`]); the provider decides whether to refresh, rotate to another
//! credential, or give up with an `Auth` or `RateLimited` error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::transport::FailureClass;

/// Every provider method's params: which provider is asked (one plugin may serve
/// several provider ids), and the method's own fields beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderCall<T> {
    pub provider: String,
    #[serde(flatten)]
    pub request: T,
}

impl<T> ProviderCall<T> {
    pub fn new(provider: &str, request: T) -> Self {
        ProviderCall {
            provider: provider.to_owned(),
            request,
        }
    }
}

/// No parameters beyond the provider id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `provider.info`: what the host must know to route requests for a provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub id: String,
    /// The API the endpoint speaks; the host hands model requests to the transport
    /// plugin that provides a transport of this name (`responses`, `chat-completions`).
    pub wire_api: String,
    /// Whether `provider.login` means anything (false for API-key providers).
    #[serde(default)]
    pub supports_login: bool,
}

/// `provider.login`: sign in and store the credential. Progress arrives as events
/// ([`crate::payload::Event::LoginCode`], `progress`); the result is the stored [`Account`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    #[serde(default)]
    pub mode: LoginMode,
    /// `auth add`: store a further account in the pool instead of replacing the main login.
    #[serde(default)]
    pub add_account: bool,
    /// A person can answer questions (stdin is a terminal); the provider may ask, through
    /// `approvals.request`, e.g. whether to import another client's login.
    #[serde(default)]
    pub interactive: bool,
    /// The Codex CLI home as the profile resolves it (`codex.home`, `$CODEX_HOME`, `~/.codex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex_home: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMode {
    #[default]
    DeviceCode,
    /// Copy the Codex CLI's tokens (never writing its file).
    ImportCodex,
}

/// One stored credential, as `auth list` shows it. Never carries a secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// 1-based position in the pool (`auth remove N`).
    pub index: usize,
    /// Stable id of the pool entry, used in [`Endpoint::credential`].
    pub id: String,
    /// The account's email when known, else a generated name.
    pub label: String,
    /// `oauth` or `api_key`.
    pub kind: String,
    /// Where it came from: `device_code`, `codex_import`, `env`, ...
    pub source: String,
    pub status: AccountStatus,
    /// Why the status is what it is, in words ("refresh token was used by another client").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// Unix seconds when a rate-limited credential becomes usable again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_at: Option<u64>,
    /// Unix seconds when the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The credential the next request will use (`←` in `auth list`).
    #[serde(default)]
    pub current: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The subscription plan (`plus`, `pro`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The ChatGPT account (workspace) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    #[default]
    Ok,
    /// The access token has expired; it is refreshed on next use.
    Expired,
    /// Cooling down after a 429 (or a 401) until `available_at`.
    RateLimited,
    /// Quarantined after a terminal refresh error: never refreshed again until the user
    /// logs in again.
    NeedsRelogin,
    #[serde(other)]
    Unknown,
}

impl AccountStatus {
    /// The words `auth list` prints (without the time left).
    pub fn label(self) -> &'static str {
        match self {
            AccountStatus::Ok => "ok",
            AccountStatus::Expired => "expired",
            AccountStatus::RateLimited => "rate-limited",
            AccountStatus::NeedsRelogin => "needs re-login",
            AccountStatus::Unknown => "unknown",
        }
    }
}

/// `provider.remove_account`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveAccountRequest {
    /// 1-based, as `auth list` numbers them.
    pub index: usize,
}

/// `provider.logout` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogoutResult {
    /// How many stored credentials were removed.
    pub removed: usize,
    /// Anything the user should know (e.g. "the key comes from OPENAI_API_KEY").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `provider.resolve`: the endpoint for the next request of a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResolveRequest {
    /// The conversation id (sent as `session_id`).
    #[serde(default)]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Fast mode: ask for the priority service tier.
    #[serde(default)]
    pub fast: bool,
}

/// Where and how to send a request. Contains the bearer token: the host and transports
/// must never log or print `headers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `{base}`: the Responses API is `{base}/responses`, models `{base}/models`.
    pub base_url: String,
    /// Every header the request needs, authorization included.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The pool entry these headers belong to; echo it in a [`FailureReport`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The backend speaks the Responses websocket protocol.
    #[serde(default)]
    pub websocket: bool,
    /// The backend accepts zstd-compressed request bodies.
    #[serde(default)]
    pub zstd: bool,
    /// Fields to merge into the request body (e.g. `service_tier`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub body: Map<String, Value>,
    /// Prefixes of the backend's rate-limit window headers
    /// (`{prefix}-{window}-used-percent`, `{prefix}-{window}-reset-at`), e.g. `x-codex`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limit_headers: Vec<String>,
    /// Provider-specific advice the transport adds to its messages for a failure class
    /// ("add another account with ...").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<ErrorHint>,
    /// What a probe (`doctor`) GETs below `base_url` to check the credentials, query
    /// included; `models` when the provider names nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_path: Option<String>,
}

/// Advice for one class of failure, optionally only when the backend's message
/// contains a phrase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorHint {
    pub class: FailureClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_message_contains: Option<String>,
    pub hint: String,
}

impl Endpoint {
    /// The path a probe GETs (see [`Endpoint::probe_path`]).
    pub fn probe_path(&self) -> &str {
        self.probe_path.as_deref().unwrap_or("models")
    }

    /// The provider's advice for a failure, if it gave any.
    pub fn hint_for(&self, class: FailureClass, message: &str) -> Option<&str> {
        let specific = self.hints.iter().find(|h| {
            h.class == class
                && h.when_message_contains
                    .as_deref()
                    .is_some_and(|m| message.contains(m))
        });
        specific
            .or_else(|| {
                self.hints
                    .iter()
                    .find(|h| h.class == class && h.when_message_contains.is_none())
            })
            .map(|h| h.hint.as_str())
    }
}

/// `provider.report`: a request made with an [`Endpoint`] failed. The provider answers
/// with the endpoint to retry with (after a refresh or on another credential), or an
/// error (`Auth`: exit 3; `RateLimited`: every credential is cooling down).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureReport {
    /// The request that failed (same session, model and fast mode).
    #[serde(default)]
    pub request: ResolveRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// HTTP status (401, 403, 429, ...).
    pub status: u16,
    /// The backend's error code (`error.code` / `error.type`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub message: String,
    /// From `Retry-After`, or "try again in ..." in the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Unix seconds when the limit resets (`x-codex-*-reset-at`, `resets_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<u64>,
}

/// `provider.models`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelsRequest {
    /// Ignore the cache and ask the backend.
    #[serde(default)]
    pub refresh: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub models: Vec<ModelInfo>,
    /// The model used when the profile names none.
    pub default_model: String,
    pub source: ModelSource,
    /// Why the list is not live, when it is not ("offline: cached 2 h ago").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Reasoning support; `None` for a model that does not reason (send no reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningSupport>,
    /// `text`, `image`; empty when the provider does not say (assume text only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_modalities: Vec<String>,
    /// The Codex catalog's tool forms and limits, passed on as given: `shell_type`,
    /// `apply_patch_tool_type`, `truncation_policy`, `supports_parallel_tool_calls`,
    /// `auto_compact_token_limit`, `experimental_supported_tools`, ...
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tools: Map<String, Value>,
    /// The provider's own system prompt for this model (the Codex catalog's
    /// `base_instructions`, or its instructions template filled in), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_instructions: Option<String>,
}

impl ModelInfo {
    pub fn takes_images(&self) -> bool {
        self.input_modalities.iter().any(|m| m == "image")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningSupport {
    /// The effort to ask for when the user chose none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub efforts: Vec<String>,
    /// The model can stream a summary of its reasoning.
    #[serde(default)]
    pub summaries: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// Just fetched from the backend.
    Live,
    /// The profile's cache of an earlier fetch.
    Cache,
    /// The list compiled into the provider.
    #[default]
    Builtin,
}
