//! Chat Completions answers → deltas for the user and the finished [`StreamResult`]:
//! SSE chunks (`choices[0].delta` content, reasoning and tool-call pieces assembled by
//! index, `finish_reason`, a last chunk with `usage`, `[DONE]`), or one whole JSON body
//! from a server that does not stream.

use std::collections::BTreeMap;

use serde_json::Value;
use talaria_sdk::items::{FunctionCall, Item, Reasoning, ReasoningText};
use talaria_sdk::transport::StreamResult;
use talaria_sdk::Usage;
use talaria_transport_kit::classify::{HttpError, Problem};

use crate::wire::{ChatMessage, Chunk, ToolCallDelta};

/// What one chunk means for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Text(String),
    Reasoning(String),
}

/// A tool call being assembled from its pieces.
#[derive(Debug, Clone, Default, PartialEq)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Builds one answer from its chunks.
#[derive(Debug, Default)]
pub struct Assembler {
    id: Option<String>,
    model: Option<String>,
    text: String,
    reasoning: String,
    /// By index. Wider than the wire's `u32`: a call after the one at `u32::MAX` (a
    /// server's index, or one made up for a piece without) still gets an index of its own.
    calls: BTreeMap<u64, PartialCall>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    /// `[DONE]` arrived.
    pub done: bool,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// A finish reason has been seen: the answer is whole even if `[DONE]` never comes.
    pub fn finished(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// One SSE `data` payload. `Err` is a failure the server reported in the stream; a
    /// payload that is not JSON is skipped (`Ok(None)` with a note for the log).
    pub fn data(&mut self, data: &str) -> Result<Vec<Shown>, ChunkError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let chunk: Chunk =
            serde_json::from_str(data).map_err(|e| ChunkError::Malformed(e.to_string()))?;
        self.chunk(&chunk).map_err(ChunkError::Failed)
    }

    /// One parsed chunk (or a whole non-streamed answer).
    pub fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Shown>, Problem> {
        if let Some(error) = &chunk.error {
            return Err(failed(error));
        }
        if self.id.is_none() {
            self.id.clone_from(&chunk.id);
        }
        if chunk.model.is_some() {
            self.model.clone_from(&chunk.model);
        }
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.to_usage());
        }
        let mut shown = Vec::new();
        // One answer is asked for (no `n`): the first choice is it.
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return Ok(shown);
        };
        if let Some(error) = &choice.error {
            return Err(failed(error));
        }
        if let Some(delta) = &choice.delta {
            let reasoning = delta
                .reasoning_content
                .as_deref()
                .or(delta.reasoning.as_deref());
            if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                self.reasoning.push_str(r);
                shown.push(Shown::Reasoning(r.to_owned()));
            }
            if let Some(c) = delta.content.as_deref().filter(|c| !c.is_empty()) {
                self.text.push_str(c);
                shown.push(Shown::Text(c.to_owned()));
            }
            for piece in &delta.tool_calls {
                self.call_piece(piece);
            }
        }
        if let Some(message) = &choice.message {
            shown.extend(self.whole_message(message));
        }
        if let Some(reason) = &choice.finish_reason {
            if reason == "error" {
                return Err(Problem::Failed {
                    code: None,
                    message: "the server ended the answer with an error".into(),
                });
            }
            self.finish_reason = Some(reason.clone());
        }
        Ok(shown)
    }

    fn call_piece(&mut self, piece: &ToolCallDelta) {
        let last = self.calls.keys().next_back().copied();
        let index = match (piece.index, &piece.id) {
            (Some(index), _) => u64::from(index),
            // No index: the call with this id, else a new call after the last one.
            (None, Some(id)) => self
                .calls
                .iter()
                .find(|(_, c)| c.id.as_ref() == Some(id))
                .map(|(i, _)| *i)
                .unwrap_or_else(|| last.map_or(0, |i| i + 1)),
            // Neither: more of the last call.
            (None, None) => last.unwrap_or(0),
        };
        let call = self.calls.entry(index).or_default();
        if let Some(id) = piece.id.as_ref().filter(|id| !id.is_empty()) {
            call.id = Some(id.clone());
        }
        if let Some(function) = &piece.function {
            if let Some(name) = &function.name {
                // The name comes whole in the first piece; some servers repeat it.
                if !call.name.ends_with(name.as_str()) {
                    call.name.push_str(name);
                }
            }
            if let Some(arguments) = &function.arguments {
                call.arguments.push_str(arguments);
            }
        }
    }

    /// A non-streamed answer's message: everything at once.
    fn whole_message(&mut self, message: &ChatMessage) -> Vec<Shown> {
        let mut shown = Vec::new();
        let reasoning = message
            .reasoning_content
            .as_deref()
            .or(message.reasoning.as_deref());
        if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
            self.reasoning.push_str(r);
            shown.push(Shown::Reasoning(r.to_owned()));
        }
        let text = match &message.content {
            Some(crate::wire::ChatContent::Text(t)) => t.clone(),
            Some(crate::wire::ChatContent::Parts(parts)) => parts
                .iter()
                .filter_map(|p| match p {
                    crate::wire::ChatPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
            None => String::new(),
        };
        if !text.is_empty() {
            self.text.push_str(&text);
            shown.push(Shown::Text(text));
        }
        for call in &message.tool_calls {
            let index = self.calls.keys().next_back().map_or(0, |i| i + 1);
            self.calls.insert(
                index,
                PartialCall {
                    id: Some(call.id.clone()).filter(|id| !id.is_empty()),
                    name: call.function.name.clone(),
                    arguments: call.function.arguments.clone(),
                },
            );
        }
        shown
    }

    /// What a finish reason other than a normal stop means for the user.
    pub fn warning(&self) -> Option<String> {
        match self.finish_reason.as_deref()? {
            "length" => Some(
                "The answer was cut off: the model reached its output token limit (finish_reason \"length\")."
                    .into(),
            ),
            "content_filter" => Some(
                "The server's content filter stopped the answer (finish_reason \"content_filter\")."
                    .into(),
            ),
            _ => None,
        }
    }

    /// The result: reasoning, the assistant's text, then the tool calls in index order.
    pub fn finish(self, transport: &str) -> StreamResult {
        let mut output = Vec::new();
        if !self.reasoning.is_empty() {
            output.push(Item::Reasoning(Reasoning {
                summary: Vec::new(),
                content: Some(vec![ReasoningText::ReasoningText {
                    text: self.reasoning.clone(),
                }]),
                encrypted_content: None,
            }));
        }
        if !self.text.is_empty() {
            output.push(Item::assistant_text(&self.text));
        }
        for (index, call) in self.calls {
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_owned()
            } else {
                call.arguments
            };
            output.push(Item::FunctionCall(FunctionCall {
                name: call.name,
                namespace: None,
                arguments,
                // A server that gives no id still needs one to pair the output with.
                call_id: call.id.unwrap_or_else(|| format!("call_{index}")),
            }));
        }
        StreamResult {
            response_id: self.id,
            output,
            text: self.text,
            usage: self.usage,
            model: self.model,
            transport: transport.to_owned(),
        }
    }
}

/// Why a chunk could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkError {
    /// Not a chunk at all (skipped).
    Malformed(String),
    /// The server reported a failure.
    Failed(Problem),
}

/// `{"message": .., "code": 429 | "rate_limit_exceeded", "type": ..}` as a failure. A
/// numeric code is the HTTP status the failure stands for (OpenRouter's mid-stream
/// errors), so it is classified as that status would be.
fn failed(error: &Value) -> Problem {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("the server reported an error")
        .to_owned();
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .filter(|s| (400..600).contains(s));
    if let Some(status) = status {
        return Problem::http(HttpError {
            status: status as u16,
            code: error
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty() && *t != "error")
                .map(str::to_owned),
            retry_after: talaria_transport_kit::retry::parse_try_again(&message),
            message,
            ..Default::default()
        });
    }
    let code = match error.get("code") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => error
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && *t != "error")
            .map(str::to_owned),
    };
    Problem::Failed { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed(a: &mut Assembler, chunks: &[Value]) -> Vec<Shown> {
        chunks
            .iter()
            .flat_map(|c| a.data(&c.to_string()).unwrap())
            .collect()
    }

    #[test]
    fn text_reasoning_and_usage_are_assembled() {
        let mut a = Assembler::new();
        let shown = feed(
            &mut a,
            &[
                json!({"id": "c1", "model": "qwen", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Hmm"}}]}),
                json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
                json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
                json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15,
                    "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 1}}}),
            ],
        );
        assert_eq!(
            shown,
            vec![
                Shown::Reasoning("Hmm".into()),
                Shown::Text("Hel".into()),
                Shown::Text("lo".into())
            ]
        );
        a.data("[DONE]").unwrap();
        assert!(a.done && a.finished());
        assert_eq!(a.warning(), None);
        let r = a.finish("sse");
        assert_eq!(r.text, "Hello");
        assert_eq!(r.response_id.as_deref(), Some("c1"));
        assert_eq!(r.model.as_deref(), Some("qwen"));
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: 11,
                output_tokens: 4,
                cached_input_tokens: 3,
                reasoning_output_tokens: 1,
                total_tokens: 15
            })
        );
        assert_eq!(r.output.len(), 2);
        assert_eq!(r.output[1], Item::assistant_text("Hello"));
    }

    #[test]
    fn tool_calls_are_assembled_by_index_across_chunks() {
        let mut a = Assembler::new();
        let piece = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": args}}
            ]}}]})
        };
        let shown = feed(
            &mut a,
            &[
                piece(0, Some("call_a"), Some("read_file"), ""),
                piece(1, Some("call_b"), Some("list_dir"), "{\"pa"),
                piece(0, None, None, "{\"path\":"),
                piece(0, None, None, "\"a.txt\"}"),
                piece(1, None, None, "th\":\".\"}"),
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            ],
        );
        assert!(shown.is_empty());
        let r = a.finish("sse");
        assert_eq!(
            r.output,
            vec![
                Item::FunctionCall(FunctionCall {
                    name: "read_file".into(),
                    namespace: None,
                    arguments: "{\"path\":\"a.txt\"}".into(),
                    call_id: "call_a".into()
                }),
                Item::FunctionCall(FunctionCall {
                    name: "list_dir".into(),
                    namespace: None,
                    arguments: "{\"path\":\".\"}".into(),
                    call_id: "call_b".into()
                }),
            ]
        );
    }

    #[test]
    fn calls_without_index_or_id_still_pair_up() {
        let mut a = Assembler::new();
        feed(
            &mut a,
            &[
                json!({"choices": [{"delta": {"tool_calls": [
                    {"id": "x", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "y", "function": {"name": "g"}}
                ]}}]}),
                json!({"choices": [{"delta": {"tool_calls": [{"index": 2, "function": {"name": "h", "arguments": "{\"a\":1}"}}]}, "finish_reason": "tool_calls"}]}),
            ],
        );
        let r = a.finish("sse");
        let ids: Vec<(String, String, String)> = r
            .output
            .iter()
            .map(|i| match i {
                Item::FunctionCall(c) => (c.call_id.clone(), c.name.clone(), c.arguments.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            vec![
                ("x".into(), "f".into(), "{}".into()),
                ("y".into(), "g".into(), "{}".into()),
                ("call_2".into(), "h".into(), "{\"a\":1}".into()),
            ]
        );
    }

    #[test]
    fn nulls_where_lists_go_mean_none() {
        let mut a = Assembler::new();
        let shown = feed(
            &mut a,
            &[
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok", "tool_calls": null,
                    "reasoning_content": null}, "finish_reason": null, "logprobs": null}]}),
                json!({"choices": null, "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
            ],
        );
        assert_eq!(shown, vec![Shown::Text("ok".into())]);
        let body: Chunk =
            serde_json::from_value(json!({"choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "x", "tool_calls": null}}]}))
            .unwrap();
        assert_eq!(a.chunk(&body).unwrap(), vec![Shown::Text("x".into())]);
    }

    #[test]
    fn errors_in_the_stream_are_failures() {
        let mut a = Assembler::new();
        let err = a
            .data(&json!({"error": {"message": "Rate limit exceeded", "code": 429}}).to_string())
            .unwrap_err();
        assert_eq!(
            err,
            ChunkError::Failed(Problem::http(HttpError {
                status: 429,
                message: "Rate limit exceeded".into(),
                ..Default::default()
            }))
        );
        let err = a
            .data(&json!({"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                "error": {"message": "upstream died", "code": "server_error"}}]}).to_string())
            .unwrap_err();
        assert_eq!(
            err,
            ChunkError::Failed(Problem::Failed {
                code: Some("server_error".into()),
                message: "upstream died".into()
            })
        );
        assert!(matches!(a.data("not json"), Err(ChunkError::Malformed(_))));
    }

    #[test]
    fn a_whole_body_is_one_answer() {
        let mut a = Assembler::new();
        let body: Chunk = serde_json::from_value(json!({
            "id": "x", "model": "m",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "Hi",
                "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1}
        }))
        .unwrap();
        let shown = a.chunk(&body).unwrap();
        assert_eq!(shown, vec![Shown::Text("Hi".into())]);
        assert!(a.warning().unwrap().contains("output token limit"));
        let r = a.finish("json");
        assert_eq!(r.usage.unwrap().total_tokens, 3);
        assert_eq!(r.output.len(), 2);
        assert_eq!(r.transport, "json");
    }

    /// Found while writing the `chat_sse` fuzz target (the input is in its corpus): the
    /// fallback total of the server's counts overflowed.
    #[test]
    fn absurd_usage_counts_do_not_overflow() {
        let mut a = Assembler::new();
        a.data(r#"{"choices":[],"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1}}"#)
            .unwrap();
        assert_eq!(a.finish("sse").usage.unwrap().total_tokens, u64::MAX);
    }

    /// Found while writing the `chat_sse` fuzz target (fuzz-targets/; these inputs are in
    /// its corpus): a call after one at index `u32::MAX` overflowed the index (a panic in
    /// debug builds; in release it wrapped to 0 and merged two calls into one).
    #[test]
    fn a_call_after_the_largest_index_is_a_call_of_its_own() {
        let mut a = Assembler::new();
        let stream = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":4294967295,"id":"a"},{"id":"b"}]}}]}"#;
        a.data(stream).unwrap();
        let body = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c"}]},"message":{"role":"assistant","content":"x","tool_calls":[{"id":"d","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}"#;
        a.data(body).unwrap();
        let ids: Vec<String> = a
            .finish("sse")
            .output
            .into_iter()
            .filter_map(|item| match item {
                Item::FunctionCall(call) => Some(call.call_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["c", "a", "b", "d"]);
    }
}
