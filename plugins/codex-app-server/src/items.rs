//! Codex's thread items as talaria sees them: events while they run, and conversation
//! items once they complete, so `sessions show` reads the same whichever runtime
//! produced a session.
//!
//! | codex item | tool call (event and stored item) | output |
//! |---|---|---|
//! | `commandExecution` | `exec_command` {command, cwd} | `aggregatedOutput`, `[exit N]` first when non-zero |
//! | `fileChange` | `apply_patch` {changes[{kind, path}]} | status, count and the diffs |
//! | `mcpToolCall` | `mcp.<server>.<tool>` (its arguments) | the result's text, or `[error] …` |
//! | `webSearch` | `web_search` {query} | the action |
//! | `agentMessage` | — | an assistant message |
//! | `reasoning` | — | a reasoning item (summary and content) |
//!
//! Tool-call ids are `codex_<kind>_<itemId>`, the same in events, approvals and items.

use serde_json::{json, Value};
use talaria_sdk::items::{
    ContentPart, FunctionCall, Item, Message, Reasoning, ReasoningText, Role, ToolResultContent,
    WebSearchCall,
};
use talaria_sdk::Event;

/// The id talaria gives codex's item `item_id` of `kind`.
pub fn call_id(kind: &str, item_id: &str) -> String {
    format!("codex_{kind}_{item_id}")
}

/// A tool-like item: its call (name, arguments) for `item/started`.
pub fn tool_call(item: &Value) -> Option<(String, String, Value)> {
    let id = item["id"].as_str().unwrap_or_default();
    match item["type"].as_str()? {
        "commandExecution" => Some((
            call_id("exec", id),
            "exec_command".into(),
            json!({ "command": item["command"], "cwd": item["cwd"] }),
        )),
        "fileChange" => {
            let changes: Vec<Value> = item["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({ "kind": change_kind(&c["kind"]), "path": c["path"] }))
                .collect();
            Some((
                call_id("patch", id),
                "apply_patch".into(),
                json!({ "changes": changes }),
            ))
        }
        "mcpToolCall" => Some((
            call_id("mcp", id),
            format!(
                "mcp.{}.{}",
                item["server"].as_str().unwrap_or("?"),
                item["tool"].as_str().unwrap_or("?")
            ),
            item["arguments"].clone(),
        )),
        "webSearch" => Some((
            call_id("search", id),
            "web_search".into(),
            json!({ "query": item["query"] }),
        )),
        _ => None,
    }
}

/// `kind` of a file change is `{type: "add"|"delete"|"update", …}` (or a plain string in
/// older releases).
fn change_kind(kind: &Value) -> Value {
    kind.get("type").cloned().unwrap_or_else(|| kind.clone())
}

/// One file change of a `fileChange` item as a unified diff. Codex gives an added file's
/// content and a deleted file's old content as plain text, and an update as a diff.
pub fn change_diff(change: &Value) -> String {
    let path = change["path"].as_str().unwrap_or("?");
    let body = change["diff"].as_str().unwrap_or_default();
    let prefixed =
        |mark: char| -> String { body.lines().map(|l| format!("{mark}{l}\n")).collect() };
    match change_kind(&change["kind"]).as_str().unwrap_or("update") {
        "add" => format!("--- /dev/null\n+++ {path}\n{}", prefixed('+')),
        "delete" => format!("--- {path}\n+++ /dev/null\n{}", prefixed('-')),
        _ if body.starts_with("---") || body.starts_with("diff ") => body.to_owned(),
        _ => {
            let moved = change["kind"]["move_path"].as_str().unwrap_or(path);
            format!("--- {path}\n+++ {moved}\n{body}")
        }
    }
}

/// A completed tool-like item: its output text and whether it failed.
pub fn tool_output(item: &Value) -> Option<(String, bool)> {
    let status = item["status"].as_str().unwrap_or("completed");
    let failed = matches!(status, "failed" | "declined");
    match item["type"].as_str()? {
        "commandExecution" => {
            let output = item["aggregatedOutput"].as_str().unwrap_or_default();
            let exit = item["exitCode"].as_i64();
            let text = match (status, exit) {
                ("declined", _) => "declined: the command was not run".to_owned(),
                (_, Some(code)) if code != 0 => format!("[exit {code}]\n{output}"),
                _ => output.to_owned(),
            };
            Some((text, failed || exit.is_some_and(|c| c != 0)))
        }
        "fileChange" => {
            let changes = item["changes"].as_array().cloned().unwrap_or_default();
            let mut text = format!("apply_patch status={status}, {} change(s)", changes.len());
            for c in &changes {
                text.push('\n');
                text.push_str(change_diff(c).trim_end());
            }
            Some((text, failed))
        }
        "mcpToolCall" => {
            if let Some(message) = item["error"]["message"].as_str() {
                return Some((format!("[error] {message}"), true));
            }
            let result = &item["result"];
            let text: Vec<&str> = result["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|part| part["text"].as_str())
                .collect();
            let text = if text.is_empty() {
                result.to_string()
            } else {
                text.join("\n")
            };
            Some((text, failed))
        }
        "webSearch" => Some((
            item.get("action")
                .filter(|a| !a.is_null())
                .map_or_else(|| "searched".to_owned(), Value::to_string),
            failed,
        )),
        _ => None,
    }
}

/// The conversation items a completed codex item becomes.
pub fn stored(item: &Value) -> Vec<Item> {
    match item["type"].as_str().unwrap_or_default() {
        "agentMessage" => {
            let text = item["text"].as_str().unwrap_or_default();
            if text.is_empty() {
                return Vec::new();
            }
            vec![Item::Message(Message {
                role: Role::Assistant,
                content: vec![ContentPart::OutputText {
                    text: text.to_owned(),
                    annotations: None,
                }],
                phase: item["phase"].as_str().map(str::to_owned),
            })]
        }
        "reasoning" => {
            let texts = |key: &str, make: fn(String) -> ReasoningText| -> Vec<ReasoningText> {
                item[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(|s| make(s.to_owned())))
                    .collect()
            };
            let summary = texts("summary", |text| ReasoningText::SummaryText { text });
            let content = texts("content", |text| ReasoningText::ReasoningText { text });
            if summary.is_empty() && content.is_empty() {
                return Vec::new();
            }
            vec![Item::Reasoning(Reasoning {
                summary,
                content: (!content.is_empty()).then_some(content),
                encrypted_content: None,
            })]
        }
        "webSearch" => vec![Item::WebSearchCall(WebSearchCall {
            status: Some("completed".into()),
            action: item.get("action").filter(|a| !a.is_null()).cloned(),
        })],
        _ => {
            let (Some((call_id, name, arguments)), Some((output, _))) =
                (tool_call(item), tool_output(item))
            else {
                return Vec::new();
            };
            vec![
                Item::FunctionCall(FunctionCall {
                    name,
                    namespace: None,
                    arguments: arguments.to_string(),
                    call_id: call_id.clone(),
                }),
                Item::function_output(&call_id, ToolResultContent::Text(output)),
            ]
        }
    }
}

/// The `tool_result` event of a completed tool-like item.
pub fn result_event(item: &Value) -> Option<Event> {
    let (call_id, name, _) = tool_call(item)?;
    let (output, is_error) = tool_output(item)?;
    Some(Event::ToolResult {
        call_id,
        name,
        output,
        is_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_becomes_a_call_and_its_output() {
        let item = json!({"type": "commandExecution", "id": "c1", "command": "ls", "cwd": "/w",
            "status": "completed", "aggregatedOutput": "a\n", "exitCode": 2, "commandActions": []});
        let items = stored(&item);
        assert_eq!(items.len(), 2);
        let Item::FunctionCall(call) = &items[0] else {
            panic!()
        };
        assert_eq!(call.name, "exec_command");
        assert_eq!(call.call_id, "codex_exec_c1");
        let v = serde_json::to_value(&items[1]).unwrap();
        assert_eq!(v["output"], "[exit 2]\na\n");
        assert!(tool_output(&item).unwrap().1);
    }

    #[test]
    fn file_changes_carry_their_diffs() {
        let item = json!({"type": "fileChange", "id": "p1", "status": "completed",
            "changes": [{"path": "a.txt", "kind": {"type": "add"}, "diff": "hi\n"}]});
        let (text, failed) = tool_output(&item).unwrap();
        assert!(!failed);
        assert!(
            text.contains("1 change(s)") && text.contains("+++ a.txt\n+hi"),
            "{text}"
        );
        let (_, _, args) = tool_call(&item).unwrap();
        assert_eq!(args, json!({"changes": [{"kind": "add", "path": "a.txt"}]}));
    }

    #[test]
    fn mcp_results_and_errors() {
        let ok = json!({"type": "mcpToolCall", "id": "m", "server": "talaria-tools", "tool": "read_file",
            "status": "completed", "arguments": {"path": "x"}, "result": {"content": [{"type": "text", "text": "body"}]}});
        assert_eq!(tool_output(&ok).unwrap(), ("body".into(), false));
        assert_eq!(tool_call(&ok).unwrap().1, "mcp.talaria-tools.read_file");
        let bad = json!({"type": "mcpToolCall", "id": "m", "server": "s", "tool": "t", "status": "failed",
            "arguments": {}, "error": {"message": "boom"}});
        assert_eq!(tool_output(&bad).unwrap(), ("[error] boom".into(), true));
    }
}
