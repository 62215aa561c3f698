//! Conversation items: what a session is made of, shared by runtimes, transports and
//! the sessions store.
//!
//! The shapes are the Responses API's input/output items (the wire format of the
//! `responses` transport, and what the Codex backend replays), typed so that no two
//! crates spell the same field names. An item this build does not know — a newer item
//! type, or a known type with an unexpected shape — is kept whole as [`Item::Unknown`]
//! and written back unchanged, so history is never silently lost.
//!
//! Server-side ids and statuses (`id`, `status`) are not part of the typed items: with
//! `store: false` the server keeps nothing those ids could point at, so replaying them is
//! useless, and the official client drops them too.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Message(Message),
    Reasoning(Reasoning),
    FunctionCall(FunctionCall),
    FunctionCallOutput(FunctionCallOutput),
    CustomToolCall(CustomToolCall),
    CustomToolCallOutput(CustomToolCallOutput),
    WebSearchCall(WebSearchCall),
    /// Anything else, kept as it came.
    #[serde(untagged)]
    Unknown(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    Developer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentPart>,
    /// `commentary` / `final_answer` on newer models' assistant messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// One part of a message (or of a tool's output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Vec<Value>>,
    },
    /// An image, as a `data:` URL or an `https:` URL.
    InputImage {
        image_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Refusal {
        refusal: String,
    },
    #[serde(untagged)]
    Unknown(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reasoning {
    #[serde(default)]
    pub summary: Vec<ReasoningText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ReasoningText>>,
    /// The only way to hand reasoning back to a server that stores nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningText {
    SummaryText {
        text: String,
    },
    ReasoningText {
        text: String,
    },
    #[serde(untagged)]
    Unknown(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The JSON text the model produced; it may not parse.
    #[serde(default)]
    pub arguments: String,
    pub call_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutput {
    pub call_id: String,
    pub output: ToolResultContent,
}

/// A tool result as the model reads it: plain text, or parts (text and images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// A call of a freeform tool (its input is raw text in the tool's grammar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCall {
    pub name: String,
    #[serde(default)]
    pub input: String,
    pub call_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallOutput {
    pub call_id: String,
    pub output: String,
}

/// A hosted web search the server ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSearchCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
}

/// How the context messages a runtime opens a session with begin (Codex's forms: the
/// environment, the `AGENTS.md` instructions). They are user messages, but no turn of
/// the user's starts with them.
pub const CONTEXT_MESSAGE_PREFIXES: &[&str] =
    &["<environment_context>", "# AGENTS.md instructions for "];

impl Item {
    /// A user message that is session context rather than something the user typed.
    pub fn is_context(&self) -> bool {
        let Item::Message(m) = self else {
            return false;
        };
        m.role == Role::User
            && matches!(m.content.first(), Some(ContentPart::InputText { text })
                if CONTEXT_MESSAGE_PREFIXES.iter().any(|p| text.starts_with(p)))
    }

    pub fn user_text(text: &str) -> Item {
        Item::Message(Message {
            role: Role::User,
            content: vec![ContentPart::InputText {
                text: text.to_owned(),
            }],
            phase: None,
        })
    }

    pub fn assistant_text(text: &str) -> Item {
        Item::Message(Message {
            role: Role::Assistant,
            content: vec![ContentPart::OutputText {
                text: text.to_owned(),
                annotations: None,
            }],
            phase: None,
        })
    }

    pub fn function_output(call_id: &str, output: ToolResultContent) -> Item {
        Item::FunctionCallOutput(FunctionCallOutput {
            call_id: call_id.to_owned(),
            output,
        })
    }

    /// The text of a message item (its text parts, concatenated); empty for other items.
    pub fn message_text(&self) -> String {
        match self {
            Item::Message(m) => m
                .content
                .iter()
                .filter_map(|p| match p {
                    ContentPart::InputText { text } | ContentPart::OutputText { text, .. } => {
                        Some(text.as_str())
                    }
                    _ => None,
                })
                .collect(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_items_lose_ids_and_keep_their_meaning() {
        let server = json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "hi", "annotations": []}]});
        let item: Item = serde_json::from_value(server).unwrap();
        assert_eq!(item.message_text(), "hi");
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi", "annotations": []}]})
        );
        let call: Item = serde_json::from_value(
            json!({"type": "function_call", "id": "fc_1", "status": "completed",
            "call_id": "c1", "name": "read_file", "arguments": "{}"}),
        )
        .unwrap();
        assert_eq!(
            call,
            Item::FunctionCall(FunctionCall {
                name: "read_file".into(),
                namespace: None,
                arguments: "{}".into(),
                call_id: "c1".into()
            })
        );
    }

    #[test]
    fn the_user_message_has_the_wire_shape() {
        assert_eq!(
            serde_json::to_value(Item::user_text("Say hello")).unwrap(),
            json!({ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "Say hello" }] })
        );
        let out = Item::function_output("c1", ToolResultContent::Text("ok".into()));
        assert_eq!(
            serde_json::to_value(out).unwrap(),
            json!({"type": "function_call_output", "call_id": "c1", "output": "ok"})
        );
    }

    #[test]
    fn unknown_items_and_parts_round_trip_unchanged() {
        for raw in [
            json!({"type": "image_generation_call", "id": "ig_1", "result": "AAAA"}),
            json!({"type": "message", "role": "narrator", "content": []}),
            json!({"no_type": true}),
        ] {
            let item: Item = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(item, Item::Unknown(raw.clone()));
            assert_eq!(serde_json::to_value(&item).unwrap(), raw);
        }
        let part: ContentPart =
            serde_json::from_value(json!({"type": "input_audio", "data": "x"})).unwrap();
        assert!(matches!(part, ContentPart::Unknown(_)));
    }

    #[test]
    fn tool_output_may_carry_images() {
        let out = Item::function_output(
            "c",
            ToolResultContent::Parts(vec![
                ContentPart::InputText { text: "see".into() },
                ContentPart::InputImage {
                    image_url: "data:image/png;base64,AA".into(),
                    detail: None,
                },
            ]),
        );
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(v["output"][1]["type"], "input_image");
        assert_eq!(serde_json::from_value::<Item>(v).unwrap(), out);
    }
}
