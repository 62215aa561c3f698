//! Responses API stream events (the same over SSE and websocket) → deltas for the user
//! and the finished [`StreamResult`].

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;
use talaria_sdk::items::Item;
use talaria_sdk::transport::StreamResult;
use talaria_sdk::Usage;

use crate::classify::Problem;

/// What one event means for the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    /// Nothing to show (bookkeeping events, unknown types).
    Nothing,
    Text(String),
    Reasoning(String),
    /// `response.completed`: stop reading.
    Completed,
    /// The response failed; the stream is over.
    Problem(Problem),
}

/// Builds the result from the events of one response.
#[derive(Debug, Default)]
pub struct ResponseBuilder {
    /// `response.output_item.done` items, in order.
    output: Vec<Value>,
    /// Text deltas as they arrived (the result's text when no message item is done).
    streamed_text: String,
    /// Items whose text was streamed as deltas (by `item_id`).
    streamed_items: HashSet<String>,
    /// Some delta came without an `item_id`: assume every message was streamed.
    streamed_anonymous: bool,
    response_id: Option<String>,
    usage: Option<Usage>,
    /// `response.model`, for when the `OpenAI-Model` header is missing.
    response_model: Option<String>,
    /// `response.output` of `response.completed`, used only when no item was done.
    completed_output: Option<Vec<Value>>,
    /// An event has been seen (the first-event watchdog is off from then on).
    pub started: bool,
}

impl ResponseBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Dispatches one event (a parsed JSON object with a `type`).
    pub fn handle(&mut self, event: &Value) -> Dispatch {
        self.started = true;
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind {
            "response.output_text.delta" => {
                let delta = str_of(event, "delta");
                if delta.is_empty() {
                    return Dispatch::Nothing;
                }
                match event.get("item_id").and_then(Value::as_str) {
                    Some(id) => {
                        self.streamed_items.insert(id.to_owned());
                    }
                    None => self.streamed_anonymous = true,
                }
                self.streamed_text.push_str(delta);
                Dispatch::Text(delta.to_owned())
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let delta = str_of(event, "delta");
                if delta.is_empty() {
                    Dispatch::Nothing
                } else {
                    Dispatch::Reasoning(delta.to_owned())
                }
            }
            // A new summary section: separate it from the previous one, as Codex does.
            "response.reasoning_summary_part.added" => {
                if event
                    .get("summary_index")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    > 0
                {
                    Dispatch::Reasoning("\n\n".to_owned())
                } else {
                    Dispatch::Nothing
                }
            }
            "response.output_item.done" => {
                let Some(item) = event.get("item").filter(|i| i.is_object()) else {
                    return Dispatch::Nothing;
                };
                self.output.push(item.clone());
                // A message that arrived whole, without deltas, must still reach the user.
                let id = item.get("id").and_then(Value::as_str);
                let streamed = self.streamed_anonymous
                    || id.is_some_and(|id| self.streamed_items.contains(id));
                let text = message_text(item);
                if !streamed && !text.is_empty() {
                    Dispatch::Text(text)
                } else {
                    Dispatch::Nothing
                }
            }
            "response.completed" => {
                let response = event.get("response").unwrap_or(&Value::Null);
                self.response_id = response
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.response_model = response
                    .get("model")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.usage = response
                    .get("usage")
                    .filter(|u| u.is_object())
                    .map(usage_of);
                // `output` can be null (seen with gpt-5.5); the done items are the source.
                self.completed_output = response.get("output").and_then(Value::as_array).cloned();
                Dispatch::Completed
            }
            "response.failed" => {
                let error = event
                    .get("response")
                    .and_then(|r| r.get("error"))
                    .unwrap_or(&Value::Null);
                let code = error.get("code").and_then(Value::as_str).map(str::to_owned);
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("response.failed")
                    .to_owned();
                Dispatch::Problem(Problem::Failed { code, message })
            }
            "response.incomplete" => {
                let reason = event
                    .get("response")
                    .and_then(|r| r.get("incomplete_details"))
                    .and_then(|d| d.get("reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("unknown reason");
                Dispatch::Problem(Problem::Stream(format!(
                    "the response was incomplete ({reason})"
                )))
            }
            _ => Dispatch::Nothing,
        }
    }

    /// The finished result (call after [`Dispatch::Completed`]).
    pub fn finish(self, model: Option<String>, transport: &str) -> StreamResult {
        let output = if self.output.is_empty() {
            self.completed_output.unwrap_or_default()
        } else {
            self.output
        };
        let done_text: String = output.iter().map(message_text).collect();
        let text = if done_text.is_empty() {
            self.streamed_text
        } else {
            done_text
        };
        StreamResult {
            response_id: self.response_id,
            output: output.into_iter().map(item_of).collect(),
            text,
            usage: self.usage,
            model: model.or(self.response_model),
            transport: transport.to_owned(),
        }
    }
}

/// A server output item as a typed item: its server id and status go, and a type (or
/// shape) this build does not know is kept whole as `Item::Unknown`.
pub fn item_of(value: Value) -> Item {
    Item::deserialize(&value).unwrap_or(Item::Unknown(value))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The `output_text` parts of an assistant message item, concatenated.
fn message_text(item: &Value) -> String {
    if item.get("type").and_then(Value::as_str) != Some("message") {
        return String::new();
    }
    let Some(parts) = item.get("content").and_then(Value::as_array) else {
        return String::new();
    };
    parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("output_text"))
        .map(|p| str_of(p, "text"))
        .collect()
}

fn usage_of(u: &Value) -> Usage {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let input_tokens = n(u.get("input_tokens"));
    let output_tokens = n(u.get("output_tokens"));
    Usage {
        input_tokens,
        output_tokens,
        cached_input_tokens: n(u
            .get("input_tokens_details")
            .and_then(|d| d.get("cached_tokens"))),
        reasoning_output_tokens: n(u
            .get("output_tokens_details")
            .and_then(|d| d.get("reasoning_tokens"))),
        total_tokens: u
            .get("total_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(input_tokens.saturating_add(output_tokens)),
    }
}

/// Where an attempt sends what it reads: deltas to show, and log lines.
pub struct Feed<'a> {
    pub deltas: &'a mut dyn FnMut(Dispatch),
    pub log: &'a dyn Fn(&str),
}

impl Feed<'_> {
    /// One SSE `data` payload: `Some(Ok)` at `response.completed`, `Some(Err)` when the
    /// response failed, `None` to read on.
    pub fn data(
        &mut self,
        builder: &mut ResponseBuilder,
        data: &str,
    ) -> Option<Result<(), Problem>> {
        let event: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                // One bad event is not worth the whole answer (Codex skips them too).
                (self.log)(&format!(
                    "responses: skipped a malformed stream event ({e})"
                ));
                return None;
            }
        };
        self.event(builder, &event)
    }

    /// One parsed event; same answer as [`Feed::data`].
    pub fn event(
        &mut self,
        builder: &mut ResponseBuilder,
        event: &Value,
    ) -> Option<Result<(), Problem>> {
        if event.get("type").and_then(|t| t.as_str()) == Some("error") {
            // A top-level `error` on SSE is only logged (Codex does the same); what ends
            // the response is `response.failed`.
            let code = event
                .get("error")
                .and_then(|e| e.get("code"))
                .and_then(|c| c.as_str())
                .unwrap_or("none");
            (self.log)(&format!(
                "responses: the stream reported an error event (code {code})"
            ));
            return None;
        }
        match builder.handle(event) {
            Dispatch::Completed => Some(Ok(())),
            Dispatch::Problem(p) => Some(Err(p)),
            Dispatch::Nothing => None,
            delta => {
                (self.deltas)(delta);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(events: &[Value]) -> (Vec<Dispatch>, ResponseBuilder) {
        let mut b = ResponseBuilder::new();
        let d = events.iter().map(|e| b.handle(e)).collect();
        (d, b)
    }

    fn message(id: &str, text: &str) -> Value {
        json!({"type":"message","id":id,"role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]})
    }

    /// Found while writing the `responses_sse` fuzz target (fuzz-targets/; the input is
    /// in its corpus): the fallback total added the server's counts eagerly and overflowed.
    #[test]
    fn absurd_usage_counts_do_not_overflow() {
        let completed = br#"data: {"type":"response.completed","response":{"id":"r","usage":{"input_tokens":18446744073709551615,"output_tokens":1,"total_tokens":5}}}"#;
        let data = std::str::from_utf8(&completed[6..]).unwrap();
        let (_, b) = run(&[serde_json::from_str(data).unwrap()]);
        let usage = b.finish(None, "sse").usage.unwrap();
        assert_eq!((usage.input_tokens, usage.total_tokens), (u64::MAX, 5));
        let (_, b) = run(&[
            json!({"type":"response.completed","response":{"usage":{"input_tokens":u64::MAX,"output_tokens":1}}}),
        ]);
        assert_eq!(b.finish(None, "sse").usage.unwrap().total_tokens, u64::MAX);
    }

    #[test]
    fn a_streamed_answer_builds_the_result() {
        let events = [
            json!({"type":"response.created","response":{"id":"resp_1"}}),
            json!({"type":"response.output_item.added","item":{"type":"reasoning"}}),
            json!({"type":"response.reasoning_summary_part.added","summary_index":0}),
            json!({"type":"response.reasoning_summary_text.delta","delta":"Thinking"}),
            json!({"type":"response.reasoning_summary_part.added","summary_index":1}),
            json!({"type":"response.reasoning_text.delta","delta":"more"}),
            json!({"type":"response.output_item.done","item":{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"xyz"}}),
            json!({"type":"response.output_text.delta","item_id":"msg_1","delta":"Hel"}),
            json!({"type":"response.output_text.delta","item_id":"msg_1","delta":"lo"}),
            json!({"type":"response.output_item.done","item":message("msg_1","Hello")}),
            json!({"type":"response.output_item.done","item":{"type":"function_call","name":"f","arguments":"{}","call_id":"c1"}}),
            json!({"type":"some.future.event","x":1}),
            json!({"type":"response.completed","response":{"id":"resp_1","output":null,"usage":{
                "input_tokens":100,"input_tokens_details":{"cached_tokens":40},
                "output_tokens":20,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":120}}}),
        ];
        let (d, b) = run(&events);
        assert_eq!(
            d,
            vec![
                Dispatch::Nothing,
                Dispatch::Nothing,
                Dispatch::Nothing,
                Dispatch::Reasoning("Thinking".into()),
                Dispatch::Reasoning("\n\n".into()),
                Dispatch::Reasoning("more".into()),
                Dispatch::Nothing,
                Dispatch::Text("Hel".into()),
                Dispatch::Text("lo".into()),
                Dispatch::Nothing,
                Dispatch::Nothing,
                Dispatch::Nothing,
                Dispatch::Completed,
            ]
        );
        let r = b.finish(Some("gpt-5.5".into()), "sse");
        assert_eq!(r.response_id.as_deref(), Some("resp_1"));
        assert_eq!(r.text, "Hello");
        assert_eq!(r.output.len(), 3);
        assert!(
            matches!(&r.output[0], Item::Reasoning(r) if r.encrypted_content.as_deref() == Some("xyz")),
            "{:?}",
            r.output[0]
        );
        assert_eq!(r.output[1].message_text(), "Hello");
        assert!(
            matches!(&r.output[2], Item::FunctionCall(c) if c.call_id == "c1"),
            "{:?}",
            r.output[2]
        );
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: 100,
                output_tokens: 20,
                cached_input_tokens: 40,
                reasoning_output_tokens: 5,
                total_tokens: 120
            })
        );
        assert_eq!(r.model.as_deref(), Some("gpt-5.5"));
        assert_eq!(r.transport, "sse");
    }

    #[test]
    fn a_message_without_deltas_is_shown_whole() {
        let (d, b) = run(&[
            json!({"type":"response.output_item.done","item":message("msg_2","Whole")}),
            json!({"type":"response.completed","response":{"id":"r","model":"gpt-5.5-2026"}}),
        ]);
        assert_eq!(d[0], Dispatch::Text("Whole".into()));
        let r = b.finish(None, "websocket");
        assert_eq!(r.model.as_deref(), Some("gpt-5.5-2026"));
        assert_eq!(r.text, "Whole");
        assert_eq!(r.usage, None);
    }

    #[test]
    fn completed_output_is_used_only_without_done_items() {
        let (_, b) = run(&[
            json!({"type":"response.output_text.delta","delta":"Hi"}),
            json!({"type":"response.completed","response":{"id":"r","output":[message("m","Hi")]}}),
        ]);
        let r = b.finish(None, "sse");
        assert_eq!(r.output.len(), 1);
        assert_eq!(r.text, "Hi");
        // Deltas alone still give the text.
        let (_, b) = run(&[
            json!({"type":"response.output_text.delta","delta":"Only deltas"}),
            json!({"type":"response.completed","response":{"id":"r","output":null}}),
        ]);
        let r = b.finish(None, "sse");
        assert!(r.output.is_empty());
        assert_eq!(r.text, "Only deltas");
    }

    #[test]
    fn failures_and_incomplete_responses_become_problems() {
        let (d, _) = run(&[
            json!({"type":"response.failed","response":{"error":{"code":"context_length_exceeded","message":"too long"}}}),
            json!({"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}}),
        ]);
        assert_eq!(
            d[0],
            Dispatch::Problem(Problem::Failed {
                code: Some("context_length_exceeded".into()),
                message: "too long".into()
            })
        );
        assert!(
            matches!(&d[1], Dispatch::Problem(Problem::Stream(m)) if m.contains("max_output_tokens"))
        );
    }

    #[test]
    fn output_items_lose_server_ids_and_unknown_ones_are_kept_whole() {
        let call = json!({"type":"function_call","id":"fc_1","status":"completed","name":"f","arguments":"{}","call_id":"c1"});
        assert_eq!(
            serde_json::to_value(item_of(call)).unwrap(),
            json!({"type":"function_call","name":"f","arguments":"{}","call_id":"c1"})
        );
        let image = json!({"type":"image_generation_call","id":"ig_1","result":"AAAA"});
        assert_eq!(item_of(image.clone()), Item::Unknown(image));
    }

    #[test]
    fn usage_total_defaults_to_the_sum() {
        let u = usage_of(&json!({"input_tokens": 3, "output_tokens": 4}));
        assert_eq!(u.total_tokens, 7);
        assert_eq!(u.cached_input_tokens, 0);
    }
}
