//! Codex's own requests during a turn (approvals, questions, elicitations), answered
//! through talaria's approval UI. Every request gets an answer: an unknown one a
//! JSON-RPC error, never silence (codex would wait forever).

use std::collections::HashMap;

use serde_json::{json, Value};
use talaria_sdk::{ApprovalKind, ApprovalRequest, CallContext, Decision, Event};

use crate::items::{call_id, change_diff};

/// Talaria's own tool server as the migration registers it: its elicitations are
/// talaria's and are accepted.
pub const TALARIA_TOOLS: &str = "talaria-tools";

/// JSON-RPC "method not found".
const UNSUPPORTED: i64 = -32601;

/// What to send back to codex.
pub enum Answer {
    Result(Value),
    Error(i64, String),
}

/// File changes seen in `item/started`, so an approval request without a diff can
/// still show one.
#[derive(Default)]
pub struct PatchCache {
    diffs: HashMap<String, (Vec<String>, String)>,
}

impl PatchCache {
    pub fn remember(&mut self, item: &Value) {
        let Some(id) = item["id"].as_str() else {
            return;
        };
        let changes = item["changes"].as_array().cloned().unwrap_or_default();
        let paths = changes
            .iter()
            .filter_map(|c| c["path"].as_str().map(str::to_owned))
            .collect();
        let diff: String = changes.iter().map(change_diff).collect();
        self.diffs.insert(id.to_owned(), (paths, diff));
    }
}

/// Answers one of codex's requests.
pub fn answer(method: &str, params: &Value, patches: &PatchCache, cx: &CallContext) -> Answer {
    match method {
        "item/commandExecution/requestApproval" => {
            let command = params["command"].as_str().unwrap_or_default();
            let mut request = ApprovalRequest::exec(
                &call_id("exec", params["itemId"].as_str().unwrap_or_default()),
                command,
                params["cwd"].as_str().map(str::to_owned),
            );
            if let Some(reason) = params["reason"].as_str().filter(|r| !r.is_empty()) {
                request.summary = format!("run `{command}` ({reason})");
            }
            Answer::Result(json!({ "decision": v2_decision(ask(&request, cx)) }))
        }
        "item/fileChange/requestApproval" => {
            let item_id = params["itemId"].as_str().unwrap_or_default();
            Answer::Result(
                json!({ "decision": v2_decision(ask(&patch_request(item_id, params, patches), cx)) }),
            )
        }
        "item/permissions/requestApproval" => {
            cx.emit(&Event::Warning {
                message: format!(
                    "codex asked for wider permissions{}; talaria declined: widen them in codex's own config (`default_permissions`) if you want to allow this",
                    reason_suffix(params)
                ),
            });
            Answer::Result(json!({ "permissions": {}, "scope": "turn" }))
        }
        "mcpServer/elicitation/request" => {
            let server = params["serverName"].as_str().unwrap_or_default();
            if server == TALARIA_TOOLS {
                return Answer::Result(json!({ "action": "accept", "content": {} }));
            }
            cx.emit(&Event::Warning {
                message: format!(
                    "the MCP server {server:?} asked for input through codex ({}); talaria cannot show MCP forms yet, so it was declined",
                    params["message"].as_str().unwrap_or("no message")
                ),
            });
            Answer::Result(json!({ "action": "decline", "content": null }))
        }
        "item/tool/requestUserInput" => {
            let questions: Vec<String> = params["questions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|q| q["question"].as_str().map(str::to_owned))
                .collect();
            cx.emit(&Event::Warning {
                message: format!(
                    "codex asked: {}; talaria answers such questions in the next message, so none was given here",
                    questions.join(" / ")
                ),
            });
            Answer::Result(json!({ "answers": {} }))
        }
        "execCommandApproval" => {
            let command = params["command"]
                .as_array()
                .map(|parts| {
                    parts
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let request = ApprovalRequest::exec(
                &call_id("exec", params["callId"].as_str().unwrap_or_default()),
                &command,
                params["cwd"].as_str().map(str::to_owned),
            );
            Answer::Result(json!({ "decision": legacy_decision(ask(&request, cx)) }))
        }
        "applyPatchApproval" => {
            let id = params["callId"].as_str().unwrap_or_default();
            let request = ApprovalRequest {
                kind: ApprovalKind::Patch,
                call_id: call_id("patch", id),
                summary: "edit files".into(),
                command: None,
                cwd: None,
                patch: None,
                tool: None,
                plugin: None,
            };
            Answer::Result(json!({ "decision": legacy_decision(ask(&request, cx)) }))
        }
        other => Answer::Error(UNSUPPORTED, format!("Unsupported method: {other}")),
    }
}

fn reason_suffix(params: &Value) -> String {
    params["reason"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

fn patch_request(item_id: &str, params: &Value, patches: &PatchCache) -> ApprovalRequest {
    let (paths, diff) = patches.diffs.get(item_id).cloned().unwrap_or_default();
    let summary = match paths.as_slice() {
        [] => "edit files".to_owned(),
        [one] => format!("edit {one}"),
        many => format!("edit {} files: {}", many.len(), many.join(", ")),
    };
    ApprovalRequest {
        kind: ApprovalKind::Patch,
        call_id: call_id("patch", item_id),
        summary: format!("{summary}{}", reason_suffix(params)),
        command: None,
        cwd: params["grantRoot"].as_str().map(str::to_owned),
        patch: (!diff.is_empty()).then_some(diff),
        tool: None,
        plugin: None,
    }
}

/// Asks the host; a failed request (no host to ask) is a decline.
fn ask(request: &ApprovalRequest, cx: &CallContext) -> Decision {
    match cx.request_approval(request) {
        Ok(d) => d.decision,
        Err(e) => {
            cx.emit(&Event::Warning {
                message: format!("the approval could not be asked ({}); declined", e.message),
            });
            Decision::Decline
        }
    }
}

fn v2_decision(d: Decision) -> &'static str {
    match d {
        Decision::Accept => "accept",
        Decision::AcceptForSession => "acceptForSession",
        Decision::Decline => "decline",
        Decision::Cancel => "cancel",
    }
}

fn legacy_decision(d: Decision) -> Value {
    match d {
        Decision::Accept => json!("approved"),
        Decision::AcceptForSession => json!("approved_for_session"),
        Decision::Decline => json!({ "denied": { "rejection": "declined by the user" } }),
        Decision::Cancel => json!("abort"),
    }
}
