//! The typed conversation (Responses-shaped items) as a Chat Completions request.
//!
//! - instructions → a leading `system` message;
//! - user / system / developer messages → messages of that role (developer as
//!   `system`: most servers know no other), text alone as a plain string, images as
//!   `image_url` parts;
//! - assistant text and the function calls after it → one assistant message with
//!   `tool_calls`; freeform (custom) tool calls travel as function calls too;
//! - function outputs → `tool` messages (text; images in a tool's output follow in a
//!   user message, the only place the API takes them);
//! - reasoning, hosted web searches and unknown items have no Chat Completions form and
//!   are left out (the server keeps no state to refer them to).

use serde_json::{Map, Value};
use talaria_sdk::items::{ContentPart, Item, Message, Role, ToolResultContent};
use talaria_sdk::provider::Endpoint;
use talaria_sdk::transport::StreamRequest;
use talaria_sdk::{ToolForm, ToolSpec};

use crate::wire::{
    ChatContent, ChatMessage, ChatPart, ChatRequest, ChatTool, FunctionCall, FunctionSpec,
    ImageUrl, StreamOptions, ToolCall,
};

/// Keys the request itself sets; a provider's `body` cannot replace them.
const OWN_KEYS: &[&str] = &["model", "messages", "stream", "stream_options", "tools"];

pub fn build_request(req: &StreamRequest, endpoint: &Endpoint) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(instructions) = req.instructions.as_deref().filter(|i| !i.is_empty()) {
        messages.push(ChatMessage::new(
            "system",
            ChatContent::Text(instructions.to_owned()),
        ));
    }
    messages.extend(messages_of(&req.input));
    // Chat Completions has function tools only: a freeform tool goes in its function
    // form, a tool the Responses backend hosts (web search) cannot go at all.
    let tools: Vec<ChatTool> = req
        .tools
        .iter()
        .filter(|t| !matches!(t.form, ToolForm::Hosted { .. }))
        .map(tool)
        .collect();
    // The request's extra fields (an aux task's `extra_body`, `reasoning` included as
    // the server's own field), then the provider's, which win.
    let extra: Map<String, Value> = req
        .extra_body
        .iter()
        .chain(endpoint.body.iter())
        .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ChatRequest {
        model: req.model.clone(),
        messages,
        tool_choice: (!tools.is_empty()).then_some("auto"),
        tools,
        reasoning_effort: req.reasoning.as_ref().map(|r| r.effort.clone()),
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        extra,
    }
}

fn tool(spec: &ToolSpec) -> ChatTool {
    ChatTool {
        kind: "function",
        function: FunctionSpec {
            name: spec.name.clone(),
            description: spec.description.clone(),
            parameters: spec.input_schema.clone(),
        },
    }
}

/// The items as messages, in order.
pub fn messages_of(items: &[Item]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::new();
    for item in items {
        match item {
            Item::Message(m) => out.push(message(m)),
            Item::FunctionCall(call) => push_call(
                &mut out,
                ToolCall {
                    id: call.call_id.clone(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    },
                },
            ),
            Item::CustomToolCall(call) => push_call(
                &mut out,
                ToolCall {
                    id: call.call_id.clone(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: call.name.clone(),
                        arguments: call.input.clone(),
                    },
                },
            ),
            Item::FunctionCallOutput(output) => {
                let (text, images) = match &output.output {
                    ToolResultContent::Text(text) => (text.clone(), Vec::new()),
                    ToolResultContent::Parts(parts) => split_parts(parts),
                };
                out.push(tool_message(&output.call_id, text));
                if !images.is_empty() {
                    let mut parts = vec![ChatPart::Text {
                        text: format!("(images returned by tool call {})", output.call_id),
                    }];
                    parts.extend(images);
                    out.push(ChatMessage::new("user", ChatContent::Parts(parts)));
                }
            }
            Item::CustomToolCallOutput(output) => {
                out.push(tool_message(&output.call_id, output.output.clone()))
            }
            Item::Reasoning(_) | Item::WebSearchCall(_) | Item::Unknown(_) => {}
        }
    }
    out
}

fn tool_message(call_id: &str, text: String) -> ChatMessage {
    let mut m = ChatMessage::new("tool", ChatContent::Text(text));
    m.tool_call_id = Some(call_id.to_owned());
    m
}

/// A call joins the assistant message just before it (its text, or earlier calls of
/// the same turn); otherwise it starts an assistant message of its own.
fn push_call(out: &mut Vec<ChatMessage>, call: ToolCall) {
    if let Some(last) = out.last_mut().filter(|m| m.role == "assistant") {
        last.tool_calls.push(call);
        return;
    }
    out.push(ChatMessage {
        role: "assistant".into(),
        content: None,
        tool_calls: vec![call],
        tool_call_id: None,
        reasoning_content: None,
        reasoning: None,
    });
}

fn message(m: &Message) -> ChatMessage {
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::System | Role::Developer => "system",
    };
    if m.role == Role::Assistant {
        // Assistant content is text only on this API.
        let text: String = m
            .content
            .iter()
            .filter_map(|p| match p {
                ContentPart::OutputText { text, .. } | ContentPart::InputText { text } => {
                    Some(text.as_str())
                }
                ContentPart::Refusal { refusal } => Some(refusal.as_str()),
                _ => None,
            })
            .collect();
        return ChatMessage::new(role, ChatContent::Text(text));
    }
    let (text, images) = split_parts(&m.content);
    if images.is_empty() {
        return ChatMessage::new(role, ChatContent::Text(text));
    }
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(ChatPart::Text { text });
    }
    parts.extend(images);
    ChatMessage::new(role, ChatContent::Parts(parts))
}

/// The text of some parts (joined), and their images as `image_url` parts.
fn split_parts(parts: &[ContentPart]) -> (String, Vec<ChatPart>) {
    let mut text = String::new();
    let mut images = Vec::new();
    for part in parts {
        match part {
            ContentPart::InputText { text: t } | ContentPart::OutputText { text: t, .. } => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
            ContentPart::Refusal { refusal } => text.push_str(refusal),
            ContentPart::InputImage { image_url, detail } => images.push(ChatPart::ImageUrl {
                image_url: ImageUrl {
                    url: image_url.clone(),
                    detail: detail.clone(),
                },
            }),
            ContentPart::Unknown(_) => {}
        }
    }
    (text, images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use talaria_sdk::items::{CustomToolCall, FunctionCall as ItemCall, Reasoning};
    use talaria_sdk::transport::ReasoningRequest;

    fn body(req: &StreamRequest, endpoint: &Endpoint) -> Value {
        serde_json::to_value(build_request(req, endpoint)).unwrap()
    }

    #[test]
    fn a_whole_conversation_has_the_chat_shape() {
        let req = StreamRequest {
            provider: "local".into(),
            model: "qwen".into(),
            instructions: Some("Be brief.".into()),
            input: vec![
                Item::user_text("list files"),
                Item::Reasoning(Reasoning {
                    summary: vec![],
                    content: None,
                    encrypted_content: Some("x".into()),
                }),
                Item::assistant_text("Looking."),
                Item::FunctionCall(ItemCall {
                    name: "list_dir".into(),
                    namespace: None,
                    arguments: "{\"path\":\".\"}".into(),
                    call_id: "call_1".into(),
                }),
                Item::CustomToolCall(CustomToolCall {
                    name: "apply_patch".into(),
                    input: "*** Begin Patch".into(),
                    call_id: "call_2".into(),
                }),
                Item::function_output("call_1", ToolResultContent::Text("a.txt".into())),
                Item::CustomToolCallOutput(talaria_sdk::items::CustomToolCallOutput {
                    call_id: "call_2".into(),
                    output: "done".into(),
                }),
                Item::Unknown(json!({"type": "image_generation_call"})),
            ],
            tools: vec![ToolSpec {
                name: "list_dir".into(),
                description: "Lists".into(),
                input_schema: json!({"type": "object"}),
                needs_approval: false,
                ..Default::default()
            }],
            reasoning: Some(ReasoningRequest {
                effort: "low".into(),
                summary: None,
            }),
            ..Default::default()
        };
        let mut endpoint = Endpoint::default();
        endpoint.body.insert("stream".into(), json!(false));
        endpoint.body.insert("top_k".into(), json!(20));
        assert_eq!(
            body(&req, &endpoint),
            json!({
                "model": "qwen",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "list files"},
                    {"role": "assistant", "content": "Looking.", "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{\"path\":\".\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "apply_patch", "arguments": "*** Begin Patch"}}
                    ]},
                    {"role": "tool", "content": "a.txt", "tool_call_id": "call_1"},
                    {"role": "tool", "content": "done", "tool_call_id": "call_2"}
                ],
                "tools": [{"type": "function", "function": {"name": "list_dir", "description": "Lists", "parameters": {"type": "object"}}}],
                "tool_choice": "auto",
                "reasoning_effort": "low",
                "stream": true,
                "stream_options": {"include_usage": true},
                "top_k": 20
            })
        );
    }

    #[test]
    fn extra_body_fields_pass_as_given_under_the_providers() {
        let req = StreamRequest {
            model: "qwen".into(),
            extra_body: serde_json::from_value(json!({
                "reasoning": {"effort": "low"},
                "top_k": 5,
                "model": "not this",
            }))
            .unwrap(),
            ..Default::default()
        };
        let mut endpoint = Endpoint::default();
        endpoint.body.insert("top_k".into(), json!(20));
        let sent = body(&req, &endpoint);
        assert_eq!(
            sent["reasoning"],
            json!({"effort": "low"}),
            "the server's own field"
        );
        assert_eq!(sent["top_k"], 20, "the provider's wins");
        assert_eq!(sent["model"], "qwen");
    }

    #[test]
    fn images_go_as_image_url_parts_and_tool_images_follow_as_user_parts() {
        let input = vec![
            Item::Message(Message {
                role: Role::User,
                content: vec![
                    ContentPart::InputText {
                        text: "what is this".into(),
                    },
                    ContentPart::InputImage {
                        image_url: "data:image/png;base64,AA".into(),
                        detail: None,
                    },
                ],
                phase: None,
            }),
            Item::FunctionCall(ItemCall {
                name: "shot".into(),
                namespace: None,
                arguments: "{}".into(),
                call_id: "c".into(),
            }),
            Item::function_output(
                "c",
                ToolResultContent::Parts(vec![
                    ContentPart::InputText { text: "ok".into() },
                    ContentPart::InputImage {
                        image_url: "data:image/png;base64,BB".into(),
                        detail: Some("high".into()),
                    },
                ]),
            ),
        ];
        let v = serde_json::to_value(messages_of(&input)).unwrap();
        assert_eq!(
            v,
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
                ]},
                {"role": "tool", "content": "ok", "tool_call_id": "c"},
                {"role": "user", "content": [
                    {"type": "text", "text": "(images returned by tool call c)"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,BB", "detail": "high"}}
                ]}
            ])
        );
    }

    #[test]
    fn hosted_tools_stay_out_and_freeform_ones_go_as_functions() {
        let tool = |name: &str, form: ToolForm| ToolSpec {
            name: name.into(),
            form,
            ..Default::default()
        };
        let req = StreamRequest {
            model: "m".into(),
            input: vec![Item::user_text("hi")],
            tools: vec![
                tool(
                    "apply_patch",
                    ToolForm::Freeform {
                        syntax: "lark".into(),
                        definition: "start: x".into(),
                    },
                ),
                tool(
                    "web_search",
                    ToolForm::Hosted {
                        spec: json!({"type": "web_search"}),
                    },
                ),
            ],
            ..Default::default()
        };
        let v = body(&req, &Endpoint::default());
        let tools = v["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0]["type"], "function");
        assert_eq!(tools[0]["function"]["name"], "apply_patch");
    }

    #[test]
    fn no_tools_means_no_tool_keys() {
        let req = StreamRequest {
            model: "m".into(),
            input: vec![Item::user_text("hi")],
            ..Default::default()
        };
        let v = body(&req, &Endpoint::default());
        assert!(v.get("tools").is_none() && v.get("tool_choice").is_none());
        assert!(v.get("reasoning_effort").is_none());
    }
}
