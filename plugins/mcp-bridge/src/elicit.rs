//! MCP elicitations asked through the host (`user.input`).
//!
//! A server may ask for input (`elicitation/create`) only while one of its tool calls
//! runs; the bridge remembers the calling [`CallContext`] of every call in flight, per
//! server ([`InFlight`]), and asks through the latest one. With no call in flight
//! nobody is waiting for an answer, so the request is declined with a warning. The
//! form is the requested schema mapped to typed fields, and the user's answer is checked
//! against it again before it goes back to the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
use serde_json::Value;
use talaria_sdk::input::{fields_from_schema, InputAction, InputRequest, InputResponse};
use talaria_sdk::{CallContext, Host};

/// Server name → its calls in flight (with the id of their guard), oldest first.
type Calls = HashMap<String, Vec<(u64, Call)>>;

/// The tool calls in flight, per server, in the order they started.
#[derive(Clone, Default)]
pub struct InFlight {
    calls: Arc<Mutex<Calls>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

/// One running call: how to reach its user, and the model's id for it.
#[derive(Clone)]
struct Call {
    cx: CallContext,
    call_id: String,
}

/// Forgets a call when it ends, however it ends.
pub struct Running {
    flight: InFlight,
    server: String,
    id: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut calls = self
            .flight
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = calls.get_mut(&self.server) {
            list.retain(|(id, _)| *id != self.id);
        }
    }
}

impl InFlight {
    /// Remembers `cx` as tool call `call_id` to `server` until the returned guard drops.
    pub fn start(&self, server: &str, call_id: &str, cx: &CallContext) -> Running {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(server.to_owned())
            .or_default()
            .push((
                id,
                Call {
                    cx: cx.clone(),
                    call_id: call_id.to_owned(),
                },
            ));
        Running {
            flight: self.clone(),
            server: server.to_owned(),
            id,
        }
    }

    fn latest(&self, server: &str) -> Option<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(server)
            .and_then(|list| list.last())
            .map(|(_, call)| call.clone())
    }

    /// Answers one elicitation of `server`: asked through its call in flight, or
    /// declined (with a warning in the log) when there is none.
    pub fn elicit(&self, host: &Host, server: &str, request: ElicitRequestParams) -> ElicitResult {
        let Some(Call { cx, call_id }) = self.latest(server) else {
            host.warn_log(&format!(
                "MCP server {server} asked for input while none of its tool calls was running; declined"
            ));
            return ElicitResult::new(ElicitationAction::Decline);
        };
        let form = match to_form(server, &request) {
            Ok(form) => InputRequest { call_id, ..form },
            Err(why) => {
                cx.emit(&talaria_sdk::Event::Warning {
                    message: format!(
                        "MCP server {server} asked for input talaria cannot show ({why}); declined"
                    ),
                });
                return ElicitResult::new(ElicitationAction::Decline);
            }
        };
        match cx.ask_user(&form) {
            Ok(answer) => to_result(&form, answer),
            Err(e) => {
                cx.emit(&talaria_sdk::Event::Warning {
                    message: format!(
                        "the question of MCP server {server} could not be asked ({}); declined",
                        e.message
                    ),
                });
                ElicitResult::new(ElicitationAction::Decline)
            }
        }
    }
}

/// The form for an elicitation: its message, and its requested schema as fields.
/// A URL elicitation (open a page) is not a form: an error saying so.
pub fn to_form(server: &str, request: &ElicitRequestParams) -> Result<InputRequest, String> {
    let wire = serde_json::to_value(request).map_err(|e| e.to_string())?;
    if wire["mode"] == "url" {
        return Err(format!(
            "it asks you to open {} in a browser",
            wire["url"].as_str().unwrap_or("a page")
        ));
    }
    Ok(InputRequest {
        title: wire["message"].as_str().unwrap_or_default().to_owned(),
        message: format!("(asked by MCP server {server})"),
        fields: fields_from_schema(&wire["requestedSchema"])?,
        ..Default::default()
    })
}

/// The server's answer: accepted values (checked against the form once more: a bad
/// answer is a cancel, never invalid content), or decline / cancel.
pub fn to_result(form: &InputRequest, answer: InputResponse) -> ElicitResult {
    match answer.action {
        InputAction::Accept => match form.check(&answer.values) {
            Ok(()) => ElicitResult::new(ElicitationAction::Accept)
                .with_content(Value::Object(answer.values)),
            Err(_) => ElicitResult::new(ElicitationAction::Cancel),
        },
        InputAction::Decline => ElicitResult::new(ElicitationAction::Decline),
        InputAction::Cancel => ElicitResult::new(ElicitationAction::Cancel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> ElicitRequestParams {
        serde_json::from_value(json!({
            "mode": "form",
            "message": "Who are you?",
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "title": "Name"},
                    "age": {"type": "integer", "minimum": 1, "default": 42},
                    "pet": {"type": "string", "enum": ["cat", "dog"], "enumNames": ["Cats", "Dogs"]}
                },
                "required": ["name"]
            }
        }))
        .unwrap()
    }

    #[test]
    fn an_elicitation_becomes_a_form_and_its_answer_the_content() {
        let form = to_form("everything", &request()).unwrap();
        assert_eq!(form.title, "Who are you?");
        assert!(form.message.contains("everything"));
        assert_eq!(form.fields.len(), 3);
        let values = json!({"name": "Ada", "age": 7, "pet": "dog"});
        let result = to_result(
            &form,
            InputResponse::accept(values.as_object().unwrap().clone()),
        );
        assert_eq!(result.action, ElicitationAction::Accept);
        assert_eq!(result.content, Some(values));
    }

    #[test]
    fn an_answer_that_does_not_fit_the_schema_never_reaches_the_server() {
        let form = to_form("s", &request()).unwrap();
        let bad = json!({"name": "Ada", "pet": "fish"});
        let result = to_result(
            &form,
            InputResponse::accept(bad.as_object().unwrap().clone()),
        );
        assert_eq!(result.action, ElicitationAction::Cancel);
        assert_eq!(result.content, None);
        let missing = json!({"age": 3});
        let result = to_result(
            &form,
            InputResponse::accept(missing.as_object().unwrap().clone()),
        );
        assert_eq!(result.action, ElicitationAction::Cancel);
    }

    #[test]
    fn declines_and_cancels_carry_no_content() {
        let form = to_form("s", &request()).unwrap();
        let d = to_result(&form, InputResponse::decline("no"));
        assert_eq!((d.action, d.content), (ElicitationAction::Decline, None));
        let c = to_result(&form, InputResponse::cancel("no"));
        assert_eq!(c.action, ElicitationAction::Cancel);
    }

    #[test]
    fn a_url_elicitation_is_not_a_form() {
        let url: ElicitRequestParams = serde_json::from_value(json!({
            "mode": "url", "message": "sign in", "url": "https://example.test/x", "elicitationId": "e1"
        }))
        .unwrap();
        assert!(to_form("s", &url)
            .unwrap_err()
            .contains("https://example.test/x"));
    }
}
