//! The tool calls among a response's items, run through the host (in parallel), and the
//! output items that answer them.

use std::sync::{Mutex, PoisonError, RwLock};

use serde_json::{json, Value};
use talaria_sdk::items::{ContentPart, CustomToolCallOutput, Item, ToolResultContent};
use talaria_sdk::{CallContext, ErrorKind, Event, ToolCallRequest, ToolContext, ToolOutput};

/// A call the model asked for: a function call (JSON arguments) or a freeform custom
/// tool call (raw text input).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub call_id: String,
    pub name: String,
    pub input: CallInput,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallInput {
    /// The JSON text the model produced; it may not parse.
    Json(String),
    Freeform(String),
}

impl Call {
    /// The arguments as the tool gets them, or the message the model gets when they
    /// are not a JSON object.
    fn arguments(&self) -> Result<Value, String> {
        match &self.input {
            CallInput::Json(text) if text.trim().is_empty() => Ok(json!({})),
            CallInput::Json(text) => serde_json::from_str(text)
                .map_err(|e| format!("the arguments are not valid JSON ({e}); send a JSON object")),
            CallInput::Freeform(text) => Ok(Value::String(text.clone())),
        }
    }

    /// The arguments for events and the session store: parsed when they parse.
    pub fn shown_arguments(&self) -> Value {
        match &self.input {
            CallInput::Json(text) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
            CallInput::Freeform(text) => Value::String(text.clone()),
        }
    }

    /// The item that answers this call. Every call gets one, even an interrupted one: a
    /// call without its output makes the session's next request fail.
    pub fn output_item(&self, output: &ToolOutput) -> Item {
        match self.input {
            CallInput::Freeform(_) => Item::CustomToolCallOutput(CustomToolCallOutput {
                call_id: self.call_id.clone(),
                output: output.content.clone(),
            }),
            CallInput::Json(_) if output.images.is_empty() => Item::function_output(
                &self.call_id,
                ToolResultContent::Text(output.content.clone()),
            ),
            CallInput::Json(_) => {
                // An image-only output (view_image) is just the images.
                let mut parts = Vec::new();
                if !output.content.is_empty() {
                    parts.push(ContentPart::InputText {
                        text: output.content.clone(),
                    });
                }
                parts.extend(output.images.iter().map(|url| ContentPart::InputImage {
                    image_url: url.clone(),
                    detail: None,
                }));
                Item::function_output(&self.call_id, ToolResultContent::Parts(parts))
            }
        }
    }
}

/// The calls among a response's output items, in order.
pub fn calls_in(output: &[Item]) -> Vec<Call> {
    output
        .iter()
        .filter_map(|item| match item {
            Item::FunctionCall(f) => Some(Call {
                call_id: f.call_id.clone(),
                name: f.name.clone(),
                input: CallInput::Json(f.arguments.clone()),
            }),
            Item::CustomToolCall(c) => Some(Call {
                call_id: c.call_id.clone(),
                name: c.name.clone(),
                input: CallInput::Freeform(c.input.clone()),
            }),
            _ => None,
        })
        .collect()
}

/// Output items as they go back into the next request. Server-side items (a hosted web
/// search) and reasoning without its encrypted content cannot be replayed usefully.
pub fn replayable(output: Vec<Item>) -> Vec<Item> {
    output
        .into_iter()
        .filter(|item| match item {
            Item::WebSearchCall(_) | Item::Unknown(_) => false,
            Item::Reasoning(r) => r.encrypted_content.is_some(),
            _ => true,
        })
        .collect()
}

/// Runs the calls (in parallel when there are several), reporting each as `tool_call`
/// and `tool_result` events; `None` for a call that was cancelled. Whatever goes wrong
/// short of cancellation becomes an error output the model reads, so the turn goes on.
pub fn run_all(calls: &[Call], context: &ToolContext, cx: &CallContext) -> Vec<Option<ToolOutput>> {
    for call in calls {
        cx.emit(&Event::ToolCall {
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: call.shown_arguments(),
        });
    }
    let slots: Vec<Mutex<Option<ToolOutput>>> = calls.iter().map(|_| Mutex::new(None)).collect();
    // Tools that change shared state (a patch, the plan, a process's stdin) run one at a
    // time, as in Codex; the others share the lock and run together.
    let exclusive = RwLock::new(());
    std::thread::scope(|scope| {
        for (call, slot) in calls.iter().zip(&slots) {
            let exclusive = &exclusive;
            scope.spawn(move || {
                let (_shared, _alone);
                if SERIAL_TOOLS.contains(&call.name.as_str()) {
                    _alone = exclusive.write().unwrap_or_else(PoisonError::into_inner);
                } else {
                    _shared = exclusive.read().unwrap_or_else(PoisonError::into_inner);
                }
                let outcome = run_one(call, context, cx);
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = outcome;
            });
        }
    });
    calls
        .iter()
        .zip(slots)
        .map(|(call, slot)| {
            let output = slot.into_inner().unwrap_or_else(PoisonError::into_inner)?;
            cx.emit(&Event::ToolResult {
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                output: output.content.clone(),
                is_error: output.is_error,
            });
            Some(output)
        })
        .collect()
}

/// Tools that never run beside another call.
const SERIAL_TOOLS: &[&str] = &["apply_patch", "update_plan", "write_stdin"];

fn run_one(call: &Call, context: &ToolContext, cx: &CallContext) -> Option<ToolOutput> {
    let arguments = match call.arguments() {
        Ok(a) => a,
        Err(message) => return Some(ToolOutput::error(message)),
    };
    let request = ToolCallRequest {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        arguments,
        context: Some(context.clone()),
    };
    match cx.host().call_tool(&request, cx) {
        Ok(output) => Some(output),
        Err(e) if e.kind == ErrorKind::Cancelled || cx.is_cancelled() => None,
        Err(e) => Some(ToolOutput::error(format!(
            "{} failed: {}",
            call.name, e.message
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talaria_sdk::items::{FunctionCall, Reasoning, WebSearchCall};

    #[test]
    fn replay_drops_server_side_items_and_bare_reasoning() {
        let keep = Item::Reasoning(Reasoning {
            summary: vec![],
            content: None,
            encrypted_content: Some("gAAA".into()),
        });
        let bare = Item::Reasoning(Reasoning {
            summary: vec![],
            content: None,
            encrypted_content: None,
        });
        let call = Item::FunctionCall(FunctionCall {
            name: "f".into(),
            namespace: None,
            arguments: "{}".into(),
            call_id: "c".into(),
        });
        let search = Item::WebSearchCall(WebSearchCall {
            status: None,
            action: None,
        });
        let out = replayable(vec![
            keep.clone(),
            bare,
            Item::assistant_text("hi"),
            call.clone(),
            search,
        ]);
        assert_eq!(out, vec![keep, Item::assistant_text("hi"), call.clone()]);
        assert_eq!(
            calls_in(&out),
            vec![Call {
                call_id: "c".into(),
                name: "f".into(),
                input: CallInput::Json("{}".into())
            }]
        );
    }

    #[test]
    fn outputs_match_the_call_form() {
        let json_call = Call {
            call_id: "c".into(),
            name: "f".into(),
            input: CallInput::Json("{bad".into()),
        };
        assert!(json_call
            .arguments()
            .unwrap_err()
            .contains("not valid JSON"));
        assert_eq!(json_call.shown_arguments(), Value::String("{bad".into()));
        let text = json_call.output_item(&ToolOutput::text("ok"));
        assert_eq!(
            serde_json::to_value(text).unwrap(),
            json!({"type":"function_call_output","call_id":"c","output":"ok"})
        );
        let mut with_image = ToolOutput::text("see");
        with_image.images.push("data:image/png;base64,AA".into());
        let v = serde_json::to_value(json_call.output_item(&with_image)).unwrap();
        assert_eq!(
            v["output"][1],
            json!({"type":"input_image","image_url":"data:image/png;base64,AA"})
        );
        let freeform = Call {
            call_id: "p".into(),
            name: "apply_patch".into(),
            input: CallInput::Freeform("*** Begin Patch".into()),
        };
        assert_eq!(freeform.arguments().unwrap(), json!("*** Begin Patch"));
        let v = serde_json::to_value(freeform.output_item(&ToolOutput::text("done"))).unwrap();
        assert_eq!(
            v,
            json!({"type":"custom_tool_call_output","call_id":"p","output":"done"})
        );
    }
}
