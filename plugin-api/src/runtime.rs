//! Payloads of `runtime.turn`: one turn of a conversation, run by a runtime plugin (the
//! native agent loop, the Codex app-server, or a third party's).
//!
//! The host hands the runtime the session (its items so far and the runtime's own saved
//! state), the user's input, the model and the tools on offer. The runtime streams
//! events while it works and answers with the turn's new items, its text, usage and
//! status. Model requests, tools and approvals go through the host's services, so a
//! runtime never names a transport or another plugin.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::items::Item;
use crate::payload::{ErrorKind, ToolSpec, Usage};
use crate::transport::FailureClass;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnRequest {
    /// The runtime id asked for (a plugin may serve several).
    pub runtime: String,
    pub session: SessionContext,
    pub input: UserInput,
    pub model: ModelRef,
    /// Tried when the model fails in a way another model might not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<ModelRef>,
    /// Fast mode: the priority service tier.
    #[serde(default)]
    pub fast: bool,
    /// The profile's `[tools] approval_policy` (Codex's words: `untrusted`,
    /// `on-request`, `on-failure`, `never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<String>,
    /// The profile's `[tools] sandbox` or `--sandbox` (`read-only`, `workspace-write`,
    /// `danger-full-access`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// `[tools] web_search`: offer the backend's hosted web search where the model has it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub web_search: bool,
    /// The tools on offer (`tools.list` at the start of the turn).
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// The working directory the user started talaria in.
    #[serde(default)]
    pub cwd: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionContext {
    pub id: String,
    /// The conversation so far, oldest first.
    #[serde(default)]
    pub items: Vec<Item>,
    /// What this runtime saved for the session last turn (say, a thread id); `None` on
    /// a new session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInput {
    pub text: String,
    /// Images as `data:` URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    #[default]
    Completed,
    /// Cancelled by the user; what was done so far is in the result.
    Interrupted,
    Failed,
}

/// The turn's outcome. Items, text and usage are filled in even when the turn failed or
/// was interrupted, so the session keeps what happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnResult {
    pub status: TurnStatus,
    /// The new items: the user's message, the model's output, tool outputs.
    #[serde(default)]
    pub items: Vec<Item>,
    /// The final answer (when interrupted, what had streamed so far).
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub usage: Usage,
    /// The runtime's state to keep for the next turn of this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TurnError>,
}

/// Why a turn failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnError {
    pub message: String,
    /// `auth` ends in exit 3, `unavailable` in exit 4, the rest in exit 1.
    pub kind: ErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
}

/// Host service `runtime.default`: read, or set, the runtime the profile runs turns with
/// (`model.runtime`, what `talaria runtime use ID` writes). How a runtime plugin's command
/// (`talaria codex-runtime on`) switches the profile to its runtime or back to `auto`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeDefaultRequest {
    /// The runtime id to make the profile's default; `None` only reads it. The host
    /// refuses an unknown or disabled id (exit 2) and writes nothing then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeDefault {
    /// The profile's default runtime after the call.
    pub runtime: String,
    /// The profile's name (for messages).
    #[serde(default)]
    pub profile: String,
}
