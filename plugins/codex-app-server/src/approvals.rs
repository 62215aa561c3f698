//! Codex's own requests during a turn (approvals, questions, elicitations), answered
//! through talaria's approval UI. Every request gets an answer: an unknown one a
//! JSON-RPC error, never silence (codex would wait forever).

use std::collections::HashMap;

use serde_json::{json, Value};
use talaria_sdk::input::{
    fields_from_schema, FieldKind, InputAction, InputChoice, InputField, InputRequest,
    InputResponse,
};
use talaria_sdk::{ApprovalKind, ApprovalRequest, CallContext, Decision, Event};

use crate::items::{call_id, change_diff};

/// Talaria's own tool server as the migration registers it: codex's confirmations of
/// its tool calls (forms without fields) are accepted, since talaria's tools ask for
/// their own approvals; a real form from it (an approval `mcp serve` relays) is asked.
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
        "mcpServer/elicitation/request" => Answer::Result(elicitation(params, cx)),
        "item/tool/requestUserInput" => Answer::Result(user_input(params, cx)),
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

/// An MCP server's elicitation, relayed by codex: asked as a form through the host.
/// A URL elicitation, or a schema a form cannot show, is declined with a warning.
fn elicitation(params: &Value, cx: &CallContext) -> Value {
    let server = params["serverName"].as_str().unwrap_or_default();
    let schema = &params["requestedSchema"];
    let no_fields = schema["properties"]
        .as_object()
        .is_none_or(|p| p.is_empty());
    if server == TALARIA_TOOLS && no_fields {
        return json!({ "action": "accept", "content": {} });
    }
    let message = params["message"].as_str().unwrap_or_default();
    let fields = if params["mode"] == "url" {
        Err(format!(
            "it asks you to open {} in a browser",
            params["url"].as_str().unwrap_or("a page")
        ))
    } else {
        fields_from_schema(schema)
    };
    let form = match fields {
        Ok(fields) => InputRequest {
            title: message.to_owned(),
            message: format!("(asked by MCP server {server}, through codex)"),
            fields,
            ..Default::default()
        },
        Err(why) => {
            cx.emit(&Event::Warning {
                message: format!(
                    "the MCP server {server:?} asked for input through codex that talaria cannot show ({why}); declined"
                ),
            });
            return json!({ "action": "decline", "content": null });
        }
    };
    let answer = ask_user(&form, cx);
    match answer.action {
        InputAction::Accept if form.check(&answer.values).is_ok() => {
            json!({ "action": "accept", "content": answer.values })
        }
        InputAction::Accept | InputAction::Cancel => json!({ "action": "cancel", "content": null }),
        InputAction::Decline => json!({ "action": "decline", "content": null }),
    }
}

/// The form for codex's `request_user_input` questions: one field per question, by
/// its id; a question with options is a choice (with free text when `isOther`), one
/// without is text (read without echo when `isSecret`).
pub fn questions_form(params: &Value) -> InputRequest {
    let questions = params["questions"].as_array().cloned().unwrap_or_default();
    let headers: Vec<&str> = questions
        .iter()
        .filter_map(|q| q["header"].as_str())
        .filter(|h| !h.is_empty())
        .collect();
    let fields = questions
        .iter()
        .map(|q| {
            let options: Vec<InputChoice> = q["options"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    let label = o["label"].as_str()?;
                    Some(InputChoice {
                        value: label.to_owned(),
                        label: label.to_owned(),
                        description: o["description"]
                            .as_str()
                            .filter(|d| !d.is_empty())
                            .map(str::to_owned),
                    })
                })
                .collect();
            let kind = if options.is_empty() {
                FieldKind::Text {
                    secret: q["isSecret"].as_bool().unwrap_or(false),
                    format: None,
                    min_length: None,
                    max_length: None,
                    default: None,
                }
            } else {
                FieldKind::Choice {
                    options,
                    other: q["isOther"].as_bool().unwrap_or(false),
                    default: None,
                }
            };
            InputField {
                name: q["id"].as_str().unwrap_or_default().to_owned(),
                label: q["question"].as_str().unwrap_or_default().to_owned(),
                description: None,
                required: true,
                kind,
            }
        })
        .collect();
    InputRequest {
        title: if headers.is_empty() {
            "codex has a question".to_owned()
        } else {
            headers.join(" / ")
        },
        fields,
        ..Default::default()
    }
}

/// Codex's answer shape: each question's id → `{answers: [text]}`; nothing when the
/// user did not answer (the model reads that as no answer).
pub fn answers_of(answer: &InputResponse) -> Value {
    let answers: serde_json::Map<String, Value> = match answer.action {
        InputAction::Accept => answer
            .values
            .iter()
            .map(|(id, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (id.clone(), json!({ "answers": [text] }))
            })
            .collect(),
        InputAction::Decline | InputAction::Cancel => serde_json::Map::new(),
    };
    json!({ "answers": answers })
}

/// Codex's `request_user_input` tool: its questions asked through the host.
fn user_input(params: &Value, cx: &CallContext) -> Value {
    let form = questions_form(params);
    answers_of(&ask_user(&form, cx))
}

/// Asks the host; a failed request (no host to ask) is a decline.
fn ask_user(form: &InputRequest, cx: &CallContext) -> InputResponse {
    cx.ask_user(form).unwrap_or_else(|e| {
        cx.emit(&Event::Warning {
            message: format!("the question could not be asked ({}); declined", e.message),
        });
        InputResponse::decline(e.message)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Value {
        json!({
            "threadId": "t", "turnId": "u", "itemId": "i", "isBlocking": true,
            "questions": [
                {"id": "db", "header": "Database", "question": "Which database?",
                 "options": [{"label": "SQLite", "description": "one file"}, {"label": "Postgres", "description": ""}],
                 "isOther": true},
                {"id": "token", "header": "Token", "question": "Your API token?", "isSecret": true, "options": null}
            ]
        })
    }

    #[test]
    fn questions_become_fields_by_id_with_their_options() {
        let form = questions_form(&params());
        assert_eq!(form.title, "Database / Token");
        assert_eq!(form.fields.len(), 2);
        let db = &form.fields[0];
        assert_eq!((db.name.as_str(), db.shown()), ("db", "Which database?"));
        let FieldKind::Choice { options, other, .. } = &db.kind else {
            panic!("db is a choice")
        };
        assert!(*other);
        assert_eq!(options[0].value, "SQLite");
        assert_eq!(options[0].description.as_deref(), Some("one file"));
        assert_eq!(options[1].description, None);
        assert!(form.fields[1].is_secret());
        // With `isOther`, free text is an answer too.
        assert_eq!(db.parse("MySQL").unwrap(), json!("MySQL"));
    }

    #[test]
    fn answers_go_back_by_question_id_and_a_decline_answers_nothing() {
        let values = json!({"db": "SQLite", "token": "s3cret"});
        let accepted = answers_of(&InputResponse::accept(
            values.as_object().cloned().unwrap_or_default(),
        ));
        assert_eq!(
            accepted,
            json!({"answers": {"db": {"answers": ["SQLite"]}, "token": {"answers": ["s3cret"]}}})
        );
        assert_eq!(
            answers_of(&InputResponse::decline("no terminal")),
            json!({"answers": {}})
        );
    }
}
