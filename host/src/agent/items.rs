//! Responses API conversation items: what the loop sends back to the model.
//!
//! Output items come back from the server with ids and statuses; with `store: false`
//! the server keeps nothing, so an id sent back would point at nothing. Items are
//! normalised to the fields the official client replays (ids dropped, `call_id` kept).

use serde_json::{json, Map, Value};

pub fn user_message(text: &str) -> Value {
    json!({ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": text }] })
}

pub fn assistant_message(text: &str) -> Value {
    json!({ "type": "message", "role": "assistant", "content": [{ "type": "output_text", "text": text }] })
}

pub fn function_call_output(call_id: &str, output: &str) -> Value {
    json!({ "type": "function_call_output", "call_id": call_id, "output": output })
}

/// A function call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionCall {
    pub call_id: String,
    pub name: String,
    /// The raw JSON string the model produced (it may not parse).
    pub arguments: String,
}

/// The function calls among a response's output items, in order.
pub fn function_calls(output: &[Value]) -> Vec<FunctionCall> {
    output
        .iter()
        .filter(|item| item["type"] == "function_call")
        .map(|item| FunctionCall {
            call_id: text(item, "call_id"),
            name: text(item, "name"),
            arguments: text(item, "arguments"),
        })
        .collect()
}

/// Output items as they go back into the next request's input. Items the loop does not
/// replay (web search calls and other server-side items) are dropped.
pub fn replayable(output: &[Value]) -> Vec<Value> {
    output.iter().filter_map(replay_item).collect()
}

fn replay_item(item: &Value) -> Option<Value> {
    let keep: &[&str] = match item["type"].as_str()? {
        "message" => &["type", "role", "content", "phase"],
        "function_call" => &["type", "name", "namespace", "arguments", "call_id"],
        "reasoning" => &["type", "summary", "content", "encrypted_content"],
        _ => return None,
    };
    let object = item.as_object()?;
    let mut out = Map::new();
    for key in keep {
        if let Some(v) = object.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
    // A reasoning item without its encrypted content cannot be replayed usefully.
    if item["type"] == "reasoning" && !out.contains_key("encrypted_content") {
        return None;
    }
    Some(Value::Object(out))
}

fn text(item: &Value, key: &str) -> String {
    item[key].as_str().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_drops_ids_and_server_side_items() {
        let output = vec![
            json!({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"}),
            json!({"type": "reasoning", "id": "rs_2", "summary": []}),
            json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}),
            json!({"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"a\"}"}),
            json!({"type": "web_search_call", "id": "ws_1"}),
        ];
        let replay = replayable(&output);
        assert_eq!(replay.len(), 3);
        assert_eq!(replay[0], json!({"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}));
        assert_eq!(replay[1], json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}));
        assert_eq!(replay[2], json!({"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"a\"}"}));
        assert_eq!(
            function_calls(&output),
            [FunctionCall { call_id: "call_1".into(), name: "read_file".into(), arguments: "{\"path\":\"a\"}".into() }]
        );
    }
}
