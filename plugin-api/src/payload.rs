//! The JSON payloads that cross the ABI: method names, tool specs and calls, events,
//! approvals and error kinds.
//!
//! Every struct tolerates unknown fields and defaults missing optional ones, so a newer
//! peer can add fields in a minor ABI version without breaking an older one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Method names understood by `Plugin::call`. A plugin answers an unknown method with
/// [`ErrorKind::UnknownMethod`].
pub mod methods {
    /// Tool plugins: run one tool. Params [`super::ToolCallRequest`], result [`super::ToolOutput`].
    pub const TOOL_CALL: &str = "tool.call";

    /// Providers: sign in. Params [`crate::provider::LoginRequest`], result [`crate::provider::Account`].
    pub const PROVIDER_LOGIN: &str = "provider.login";
    /// Providers: forget every stored credential. Params `{}`, result [`crate::provider::LogoutResult`].
    pub const PROVIDER_LOGOUT: &str = "provider.logout";
    /// Providers: the credential pool. Params `{}`, result `[`[`crate::provider::Account`]`]`.
    pub const PROVIDER_ACCOUNTS: &str = "provider.accounts";
    /// Providers: drop one pooled credential. Params [`crate::provider::RemoveAccountRequest`],
    /// result the removed [`crate::provider::Account`].
    pub const PROVIDER_REMOVE_ACCOUNT: &str = "provider.remove_account";
    /// Providers: endpoint and headers for the next request (refreshing first if due).
    /// Params [`crate::provider::ResolveRequest`], result [`crate::provider::Endpoint`].
    pub const PROVIDER_RESOLVE: &str = "provider.resolve";
    /// Providers: a request failed with 401/429/...; answer with the endpoint to retry
    /// with. Params [`crate::provider::FailureReport`], result [`crate::provider::Endpoint`].
    pub const PROVIDER_REPORT: &str = "provider.report";
    /// Providers: the models on offer. Params [`crate::provider::ModelsRequest`], result
    /// [`crate::provider::ModelList`].
    pub const PROVIDER_MODELS: &str = "provider.models";

    /// Transports: one streamed model request. Params [`crate::transport::StreamRequest`],
    /// result [`crate::transport::StreamResult`].
    pub const TRANSPORT_STREAM: &str = "transport.stream";
    /// Transports: check that the provider's backend answers. Params
    /// [`crate::transport::ProbeRequest`], result [`crate::transport::ProbeResult`].
    pub const TRANSPORT_PROBE: &str = "transport.probe";
}

/// What a plugin instance offers, returned by `Plugin::describe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Description {
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    #[serde(default = "empty_object_schema")]
    pub input_schema: Value,
    /// True when the tool has side effects and the host should expect it to ask for an
    /// approval (the tool still asks itself, with the concrete command or patch).
    #[serde(default)]
    pub needs_approval: bool,
}

fn empty_object_schema() -> Value {
    serde_json::json!({ "type": "object", "properties": {} })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRequest {
    /// The model's id for this call, echoed in events.
    #[serde(default)]
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub arguments: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// Text handed back to the model.
    pub content: String,
    /// The tool ran but failed; the model should see the failure rather than the turn
    /// aborting.
    #[serde(default)]
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(content: impl Into<String>) -> Self {
        ToolOutput { content: content.into(), is_error: false }
    }
    pub fn error(content: impl Into<String>) -> Self {
        ToolOutput { content: content.into(), is_error: true }
    }
}

/// What a plugin asks the host to approve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// One line saying what will happen.
    pub summary: String,
    /// The exact command line, when the action runs a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The exact patch, when the action edits files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Filled in by the host: which plugin and tool asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    pub approved: bool,
    /// Why, in words the model can read ("declined by the user", "no terminal to ask on").
    #[serde(default)]
    pub reason: String,
}

/// Token counts as the server reported them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_input_tokens: u64,
    #[serde(default)]
    pub reasoning_output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// Events a plugin streams into the host's sink while a call runs. The host renders
/// them and, for `chat --json`, prints them one per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TextDelta { delta: String },
    ReasoningDelta { delta: String },
    ToolCall { call_id: String, name: String, #[serde(default)] arguments: Value },
    ToolResult { call_id: String, output: String, #[serde(default)] is_error: bool },
    Progress { message: String },
    Warning { message: String },
    Error { message: String },
    TurnCompleted { text: String, #[serde(default)] usage: Option<Usage> },
    /// Device-code login: show the user where to go and what to type.
    LoginCode { verification_url: String, user_code: String, expires_in_secs: u64 },
    /// An event type this build does not know (sent by a newer peer); skipped.
    #[serde(other)]
    Unknown,
}

/// Stable error kinds, carried as a number across the ABI so a newer peer's kinds
/// degrade to [`ErrorKind::Other`] instead of being undefined behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Other,
    InvalidRequest,
    UnknownMethod,
    Cancelled,
    Auth,
    Network,
    RateLimited,
    Panicked,
    Denied,
    Unavailable,
}

impl ErrorKind {
    pub fn code(self) -> u32 {
        match self {
            ErrorKind::Other => 0,
            ErrorKind::InvalidRequest => 1,
            ErrorKind::UnknownMethod => 2,
            ErrorKind::Cancelled => 3,
            ErrorKind::Auth => 4,
            ErrorKind::Network => 5,
            ErrorKind::RateLimited => 6,
            ErrorKind::Panicked => 7,
            ErrorKind::Denied => 8,
            ErrorKind::Unavailable => 9,
        }
    }

    pub fn from_code(code: u32) -> ErrorKind {
        match code {
            1 => ErrorKind::InvalidRequest,
            2 => ErrorKind::UnknownMethod,
            3 => ErrorKind::Cancelled,
            4 => ErrorKind::Auth,
            5 => ErrorKind::Network,
            6 => ErrorKind::RateLimited,
            7 => ErrorKind::Panicked,
            8 => ErrorKind::Denied,
            9 => ErrorKind::Unavailable,
            _ => ErrorKind::Other,
        }
    }
}

/// Context the host hands a plugin at init (JSON through `HostServices::host_info`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub host_version: String,
    pub abi_version: String,
    /// The active profile ("default" for the root of the home).
    pub profile: String,
    /// The profile's folder (where config.toml, auth.json and sessions.db live).
    pub profile_dir: String,
    /// A folder the plugin may use for its own state.
    pub plugin_data_dir: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_event_types_are_skipped_not_fatal() {
        let e: Event = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
        assert_eq!(e, Event::Unknown);
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let s = serde_json::to_string(&Event::TextDelta { delta: "hi".into() }).unwrap();
        assert_eq!(s, r#"{"type":"text_delta","delta":"hi"}"#);
    }

    #[test]
    fn error_codes_round_trip_and_unknown_codes_degrade() {
        for k in [ErrorKind::Auth, ErrorKind::Cancelled, ErrorKind::Panicked, ErrorKind::Unavailable] {
            assert_eq!(ErrorKind::from_code(k.code()), k);
        }
        assert_eq!(ErrorKind::from_code(999), ErrorKind::Other);
    }
}
