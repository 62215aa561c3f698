//! The JSON payloads every kind of plugin shares: tool specs and calls, the one event
//! schema, approvals, usage, error kinds and host info.
//!
//! Every struct tolerates unknown fields and defaults missing optional ones, so a newer
//! peer can add fields in a minor ABI version without breaking an older one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::transport::FailureClass;

/// What a plugin instance offers, returned by `Plugin::describe`. A tool plugin's list
/// may change at run time (an MCP server connecting): the host asks again whenever it
/// lists the tools.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Description {
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Problems the user should hear about (an MCP server that failed to start): the
    /// host shows them as warnings beside the tool list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    /// How the tool is offered to the model: a function tool unless it says otherwise.
    #[serde(default, skip_serializing_if = "ToolForm::is_function")]
    pub form: ToolForm,
}

impl Default for ToolSpec {
    fn default() -> Self {
        ToolSpec {
            name: String::new(),
            description: String::new(),
            input_schema: empty_object_schema(),
            needs_approval: false,
            form: ToolForm::Function,
        }
    }
}

/// The shape a tool takes on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolForm {
    /// A function tool: JSON arguments matching `input_schema`.
    #[default]
    Function,
    /// A freeform ("custom") tool: the model writes raw text that the grammar describes
    /// (Codex's `apply_patch`). Such a tool also takes its function arguments, so a
    /// runtime may offer it either way (the model catalog's `apply_patch_tool_type`);
    /// a freeform call reaches the tool as a JSON string.
    Freeform {
        /// `lark` or `regex`.
        syntax: String,
        definition: String,
    },
    /// A tool the backend runs itself (the hosted web search): sent as `spec`; its calls
    /// come back as output items and never reach a plugin.
    Hosted { spec: Value },
}

impl ToolForm {
    pub fn is_function(&self) -> bool {
        matches!(self, ToolForm::Function)
    }
}

fn empty_object_schema() -> Value {
    serde_json::json!({ "type": "object", "properties": {} })
}

/// `tools.list`: a tool and the plugin that serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedTool {
    pub plugin: String,
    #[serde(flatten)]
    pub spec: ToolSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolList {
    pub tools: Vec<ListedTool>,
    /// Tool plugins that could not be used, in words (they are skipped, not fatal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRequest {
    /// The model's id for this call, echoed in events and approvals.
    #[serde(default)]
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub arguments: Value,
    /// Where and under which rules the call runs, from the runtime that asks; `None`
    /// when the caller has no turn (`plugins call`, `mcp serve`): the tool then uses the
    /// process's working directory and its own defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ToolContext>,
}

/// What a tool that acts on the machine needs to know about the turn it serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolContext {
    /// The turn's working directory.
    #[serde(default)]
    pub cwd: String,
    /// `untrusted`, `on-request`, `on-failure`, `never` (Codex's words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<String>,
    /// `read-only`, `workspace-write`, `danger-full-access`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// The model's catalog entry when the runtime knows it: tool forms, output limits
    /// (`tools.truncation_policy`), whether it takes images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<crate::provider::ModelInfo>,
}

/// What a tool hands back: text for the model, and optionally images and structured
/// data (an MCP tool's `structuredContent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    pub content: String,
    /// The tool ran but failed; the model should see the failure rather than the turn
    /// aborting.
    #[serde(default)]
    pub is_error: bool,
    /// Images as `data:` URLs, shown to the model after the text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
}

impl ToolOutput {
    pub fn text(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            is_error: false,
            images: Vec::new(),
            structured: None,
        }
    }
    pub fn error(content: impl Into<String>) -> Self {
        ToolOutput {
            is_error: true,
            ..ToolOutput::text(content)
        }
    }
}

/// What an approval is for; the front end shows each kind its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Run a command.
    Exec,
    /// Edit files.
    Patch,
    /// Reach the network.
    Network,
    /// Call a tool of an MCP server.
    McpTool,
    /// Widen what the agent may do (a sandbox permission).
    Permission,
    /// A question for the user.
    Question,
    #[serde(other)]
    Other,
}

/// What a plugin asks the host to approve: exactly what will happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalRequest {
    pub kind: ApprovalKind,
    /// The tool call this approval belongs to, when there is one.
    #[serde(default)]
    pub call_id: String,
    /// One line saying what will happen.
    pub summary: String,
    /// The exact command line, for `exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The change as a unified diff, for `patch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// The tool asking, when a tool asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Filled in by the host: which plugin asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

impl ApprovalRequest {
    pub fn exec(call_id: &str, command: &str, cwd: Option<String>) -> Self {
        ApprovalRequest {
            kind: ApprovalKind::Exec,
            call_id: call_id.to_owned(),
            summary: format!("run `{command}`"),
            command: Some(command.to_owned()),
            cwd,
            patch: None,
            tool: None,
            plugin: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    /// Accept, and accept the same request again without asking for the rest of the session.
    AcceptForSession,
    Decline,
    /// Decline and stop the turn.
    Cancel,
}

impl Decision {
    pub fn approved(self) -> bool {
        matches!(self, Decision::Accept | Decision::AcceptForSession)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    pub decision: Decision,
    /// Why, in words the model can read ("declined by the user", "no terminal to ask on").
    #[serde(default)]
    pub reason: String,
}

impl ApprovalDecision {
    pub fn approved(&self) -> bool {
        self.decision.approved()
    }
}

/// One step of a [`Event::Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanStep {
    pub step: String,
    pub status: StepStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    InProgress,
    Completed,
    /// A status this build does not know (a newer peer's).
    #[serde(other)]
    Unknown,
}

/// Token counts as the server reported them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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

impl Usage {
    /// Adds `more`; counts stop at `u64::MAX` (the numbers are the server's, and an
    /// absurd one must not overflow).
    pub fn add(&mut self, more: &Usage) {
        let add = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        add(&mut self.input_tokens, more.input_tokens);
        add(&mut self.output_tokens, more.output_tokens);
        add(&mut self.cached_input_tokens, more.cached_input_tokens);
        add(
            &mut self.reasoning_output_tokens,
            more.reasoning_output_tokens,
        );
        add(&mut self.total_tokens, more.total_tokens);
    }

    pub fn is_empty(&self) -> bool {
        self.input_tokens == 0 && self.total_tokens == 0
    }
}

/// The one event schema: what plugins stream while a call runs, what the renderer draws,
/// what the sessions store records, and what `chat --json` prints, one per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The session a chat runs in (the host's, first).
    Session {
        id: String,
        resumed: bool,
        runtime: String,
        provider: String,
        model: String,
    },
    TextDelta {
        delta: String,
    },
    ReasoningDelta {
        delta: String,
    },
    ToolCall {
        call_id: String,
        name: String,
        #[serde(default)]
        arguments: Value,
    },
    ToolResult {
        call_id: String,
        #[serde(default)]
        name: String,
        output: String,
        #[serde(default)]
        is_error: bool,
    },
    /// Emitted by the host when a plugin asks for an approval.
    ApprovalRequest {
        request: ApprovalRequest,
    },
    /// Emitted by the host with the answer.
    ApprovalDecision {
        #[serde(default)]
        call_id: String,
        decision: Decision,
        approved: bool,
        reason: String,
    },
    /// Reconnecting, waiting, a tool's progress. The terminal shows it; `--json` sends it
    /// to stderr, since it is not one of the contract's event types.
    Progress {
        message: String,
    },
    /// The agent's plan as a checklist (Codex's `update_plan`, a codex runtime's
    /// `turn/plan/updated`): the whole plan each time, not a diff.
    Plan {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        explanation: Option<String>,
        steps: Vec<PlanStep>,
    },
    Warning {
        message: String,
    },
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<FailureClass>,
    },
    /// The end of a turn (the host's, last).
    TurnCompleted {
        text: String,
        #[serde(default)]
        usage: Usage,
        #[serde(default)]
        interrupted: bool,
    },
    /// Device-code login: show the user where to go and what to type.
    LoginCode {
        verification_url: String,
        user_code: String,
        expires_in_secs: u64,
    },
    /// An event type this build does not know (sent by a newer peer); skipped.
    #[serde(other)]
    Unknown,
}

impl Event {
    pub fn approval_decision(call_id: &str, decision: &ApprovalDecision) -> Event {
        Event::ApprovalDecision {
            call_id: call_id.to_owned(),
            decision: decision.decision,
            approved: decision.approved(),
            reason: decision.reason.clone(),
        }
    }
}

/// Stable error kinds, carried as a number across the ABI so a newer peer's kinds
/// degrade to [`ErrorKind::Other`] instead of being undefined behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    InvalidRequest,
    UnknownMethod,
    Cancelled,
    Auth,
    Network,
    RateLimited,
    Panicked,
    Denied,
    Unavailable,
    #[serde(other)]
    Other,
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

/// The `data` of an `InvalidRequest` error about the plugin's own config: which key (as
/// path segments) is wrong, so the host can name the file and line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigProblem {
    pub config_key: Vec<String>,
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
    /// The plugin's own id (its credential namespace, its `[plugin_config.<id>]`).
    #[serde(default)]
    pub plugin_id: String,
}

/// What `HostServices::config` returns: the plugin's `[plugin_config.<id>]` table and
/// the top-level sections its manifest says it owns (`config = ["mcp_servers"]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginConfig {
    #[serde(default)]
    pub plugin: Value,
    #[serde(default)]
    pub sections: serde_json::Map<String, Value>,
}

/// The JSON Schema of the event stream (`docs/events.schema.json`).
pub fn event_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Event)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Usage comes from servers; adding an absurd count to another must not overflow
    /// (found with the transports' usage overflows the fuzz targets turned up).
    #[test]
    fn usage_sums_stop_at_the_largest_count() {
        let mut total = Usage {
            input_tokens: u64::MAX,
            total_tokens: u64::MAX,
            ..Usage::default()
        };
        total.add(&Usage {
            input_tokens: 1,
            output_tokens: 2,
            total_tokens: 3,
            ..Usage::default()
        });
        assert_eq!(total.input_tokens, u64::MAX);
        assert_eq!(total.output_tokens, 2);
        assert_eq!(total.total_tokens, u64::MAX);
    }

    #[test]
    fn unknown_event_types_are_skipped_not_fatal() {
        let e: Event = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
        assert_eq!(e, Event::Unknown);
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let s = serde_json::to_string(&Event::TextDelta { delta: "hi".into() }).unwrap();
        assert_eq!(s, r#"{"type":"text_delta","delta":"hi"}"#);
        let d = ApprovalDecision {
            decision: Decision::AcceptForSession,
            reason: "ok".into(),
        };
        let v = serde_json::to_value(Event::approval_decision("c1", &d)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"approval_decision","call_id":"c1","decision":"accept_for_session","approved":true,"reason":"ok"})
        );
    }

    #[test]
    fn error_codes_round_trip_and_unknown_codes_degrade() {
        for k in [
            ErrorKind::Auth,
            ErrorKind::Cancelled,
            ErrorKind::Panicked,
            ErrorKind::Unavailable,
        ] {
            assert_eq!(ErrorKind::from_code(k.code()), k);
        }
        assert_eq!(ErrorKind::from_code(999), ErrorKind::Other);
        assert_eq!(
            serde_json::from_str::<ErrorKind>("\"teleported\"").unwrap(),
            ErrorKind::Other
        );
    }

    #[test]
    fn the_schema_knows_every_event_type() {
        let schema = event_schema().to_string();
        for t in [
            "session",
            "text_delta",
            "tool_call",
            "approval_request",
            "approval_decision",
            "turn_completed",
            "error",
        ] {
            assert!(schema.contains(&format!("\"{t}\"")), "{t}");
        }
    }
}
