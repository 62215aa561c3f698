//! The native runtime (`auto`): the agent loop.
//!
//! One turn sends the conversation plus the user's prompt to the model through the
//! transport plugin, runs the function calls the model asks for through the tool
//! plugins (in parallel; each tool asks for approval itself), sends the results back,
//! and repeats until the model answers without calling a tool or the turn's budget of
//! model requests is spent. When the primary model fails in a way another model might
//! not (Cloudflare, network, overload, rate limits), the profile's fallback model gets
//! the same request.

pub mod approvals;
pub mod events;
pub mod items;
mod tools;

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use talaria_plugin_api::abi::{CancelFlag, PluginError};
use talaria_plugin_api::payload::{methods, ErrorKind, ToolOutput, Usage};
use talaria_plugin_api::transport::{FailureClass, StreamOptions, StreamRequest, StreamResult, TransportFailure};

pub use events::{ChatEvent, TurnObserver};
use events::ForwardingSink;
use items::FunctionCall;
pub use tools::ToolTable;
use tools::CallOutcome;

use crate::error::Error;
use crate::plugins::Registry;

/// The transport the native loop uses.
pub const TRANSPORT: &str = "responses";

/// Model requests one turn may make before the loop stops asking (each tool round trip
/// is one request).
pub const DEFAULT_TURN_BUDGET: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    pub provider: String,
    pub model: String,
}

impl std::fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// Everything about a turn that is not the conversation itself.
#[derive(Debug, Clone)]
pub struct TurnSettings {
    pub session_id: String,
    pub primary: ModelChoice,
    pub fallback: Option<ModelChoice>,
    pub fast: bool,
    pub instructions: String,
    pub budget: usize,
    pub stream_options: StreamOptions,
}

/// What a turn produced. Items, text and usage are kept even when the turn failed or
/// was interrupted, so the session stores what happened.
#[derive(Debug, Default)]
pub struct TurnOutcome {
    /// New conversation items: the user's message, the model's output, tool outputs.
    pub items: Vec<Value>,
    /// The final answer (or, when interrupted, what had streamed so far).
    pub text: String,
    pub usage: Usage,
    pub tool_calls: Vec<ToolCallRecord>,
    pub interrupted: bool,
    pub failure: Option<Error>,
    /// What kind of failure, when the transport said (`cloudflare_challenge`, `auth`, ...).
    pub failure_class: Option<FailureClass>,
}

#[derive(Debug, Clone)]
pub struct ToolCallRecord {
    pub call_id: String,
    pub name: String,
    pub arguments: Value,
    pub output: String,
    pub is_error: bool,
}

pub struct Agent {
    registry: Arc<Registry>,
    tools: ToolTable,
    observer: Arc<dyn TurnObserver>,
}

impl Agent {
    pub fn new(registry: Arc<Registry>, tools: ToolTable, observer: Arc<dyn TurnObserver>) -> Agent {
        Agent { registry, tools, observer }
    }

    pub fn tools(&self) -> &ToolTable {
        &self.tools
    }

    /// Runs one turn on top of `history`. `cancel` interrupts it (Ctrl+C): the transport
    /// stops, running tools are told to stop, and the partial answer is returned.
    pub fn run_turn(&self, settings: &TurnSettings, history: &[Value], prompt: &str, cancel: &CancelFlag) -> TurnOutcome {
        let mut outcome = TurnOutcome { items: vec![items::user_message(prompt)], ..TurnOutcome::default() };
        let mut model = settings.primary.clone();
        for _ in 0..settings.budget.max(1) {
            let mut input = history.to_vec();
            input.extend(outcome.items.iter().cloned());
            let response = match self.model_request(settings, &mut model, input, cancel) {
                Ok(r) => r,
                Err(Stop::Interrupted(partial)) => {
                    outcome.text = partial;
                    outcome.interrupted = true;
                    if !outcome.text.is_empty() {
                        outcome.items.push(items::assistant_message(&outcome.text));
                    }
                    return outcome;
                }
                Err(Stop::Failed(e)) => {
                    outcome.failure_class = e.class;
                    outcome.failure = Some(e.error);
                    return outcome;
                }
            };
            add_usage(&mut outcome.usage, response.usage.as_ref());
            outcome.items.extend(items::replayable(&response.output));
            outcome.text = response.text.clone();
            let calls = items::function_calls(&response.output);
            if calls.is_empty() {
                return outcome;
            }
            let results = self.run_tools(&calls, cancel);
            for (call, result) in calls.iter().zip(results) {
                // Every call gets an output item, even an interrupted one: a function
                // call without its output makes the next request of the session fail.
                let output = result.unwrap_or_else(|| {
                    outcome.interrupted = true;
                    ToolOutput::error("interrupted by the user before the tool finished")
                });
                outcome.items.push(items::function_call_output(&call.call_id, &output.content));
                outcome.tool_calls.push(ToolCallRecord {
                    call_id: call.call_id.clone(),
                    name: call.name.clone(),
                    arguments: serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments.clone())),
                    output: output.content,
                    is_error: output.is_error,
                });
            }
            if outcome.interrupted || cancel.is_cancelled() {
                outcome.interrupted = true;
                return outcome;
            }
        }
        self.observer.event(&ChatEvent::Warning {
            message: format!(
                "stopped after {} model requests in one turn (the turn budget); ask again to continue",
                settings.budget.max(1)
            ),
        });
        outcome
    }

    /// One model request, on the fallback model when the current one fails in a way
    /// worth falling back for. `model` is switched for the rest of the turn.
    fn model_request(&self, settings: &TurnSettings, model: &mut ModelChoice, input: Vec<Value>, cancel: &CancelFlag) -> Result<StreamResult, Stop> {
        let failure = match self.stream(settings, model, input.clone(), cancel) {
            Err(Stop::Failed(e)) if e.fallback_worthy => e,
            other => return other,
        };
        let Some(fallback) = settings.fallback.as_ref().filter(|f| *f != model) else {
            return Err(Stop::Failed(failure));
        };
        self.observer.event(&ChatEvent::Warning {
            message: format!("{model} failed ({}); trying the fallback model {fallback}", first_line(&failure.error.message)),
        });
        *model = fallback.clone();
        self.stream(settings, model, input, cancel).map_err(|stop| match stop {
            Stop::Failed(e) => Stop::Failed(RequestFailure {
                error: e.error.context(format!("the fallback model {fallback} failed too")),
                ..e
            }),
            interrupted => interrupted,
        })
    }

    fn stream(&self, settings: &TurnSettings, model: &ModelChoice, input: Vec<Value>, cancel: &CancelFlag) -> Result<StreamResult, Stop> {
        let request = StreamRequest {
            provider: model.provider.clone(),
            session_id: settings.session_id.clone(),
            model: model.model.clone(),
            fast: settings.fast,
            instructions: Some(settings.instructions.clone()),
            input,
            tools: self.tools.definitions(),
            reasoning: reasoning_for(&model.model),
            prompt_cache_key: Some(settings.session_id.clone()),
            options: settings.stream_options.clone(),
        };
        let params = serde_json::to_string(&request).map_err(|e| Stop::Failed(RequestFailure::plain(Error::failure(e.to_string()))))?;
        let (sink, streamed) = ForwardingSink::create(self.observer.clone());
        let reply = self.registry.call(TRANSPORT, methods::TRANSPORT_STREAM, &params, sink, cancel.clone());
        let partial = || streamed.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match reply {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Stop::Failed(RequestFailure::plain(Error::failure(format!("the {TRANSPORT} transport returned a malformed result: {e}"))))
            }),
            Err(e) if e.kind() == ErrorKind::Cancelled || cancel.is_cancelled() => Err(Stop::Interrupted(partial())),
            Err(e) => Err(Stop::Failed(RequestFailure::from_plugin(&e))),
        }
    }

    /// Runs the calls (in parallel when there are several); `None` for a call that was
    /// cancelled.
    fn run_tools(&self, calls: &[FunctionCall], cancel: &CancelFlag) -> Vec<Option<ToolOutput>> {
        for call in calls {
            self.observer.event(&ChatEvent::ToolCall {
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                arguments: serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments.clone())),
            });
        }
        let results: Vec<Mutex<Option<CallOutcome>>> = calls.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for (call, slot) in calls.iter().zip(&results) {
                scope.spawn(move || {
                    let (sink, _) = ForwardingSink::create(self.observer.clone());
                    let outcome = self.tools.call(call, sink, cancel.clone());
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
                });
            }
        });
        calls
            .iter()
            .zip(results)
            .map(|(call, slot)| match slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
                Some(CallOutcome::Done(output)) => {
                    self.observer.event(&ChatEvent::ToolResult {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        output: output.content.clone(),
                        is_error: output.is_error,
                    });
                    Some(output)
                }
                Some(CallOutcome::Cancelled) | None => None,
            })
            .collect()
    }
}

/// Why a model request did not produce a response.
enum Stop {
    /// Cancelled; the text streamed so far.
    Interrupted(String),
    Failed(RequestFailure),
}

struct RequestFailure {
    error: Error,
    class: Option<FailureClass>,
    fallback_worthy: bool,
}

impl RequestFailure {
    fn plain(error: Error) -> Self {
        RequestFailure { error, class: None, fallback_worthy: false }
    }

    /// A transport error, mapped to the exit code the user should see (an auth failure
    /// the provider could not recover is exit 3).
    fn from_plugin(e: &PluginError) -> Self {
        let failure: Option<TransportFailure> = (!e.data.is_empty()).then(|| serde_json::from_str(&e.data).ok()).flatten();
        let exit = crate::provider::exit_for(e.kind());
        let fallback_worthy = failure.as_ref().is_some_and(|f| f.fallback_worthy) || e.kind() == ErrorKind::RateLimited;
        RequestFailure { error: Error::new(exit, e.message.to_string()), class: failure.map(|f| f.class), fallback_worthy }
    }
}

/// Reasoning settings for models that reason (the gpt-5 family and the o-series).
fn reasoning_for(model: &str) -> Option<Value> {
    let reasons = model.starts_with("gpt-5") || (model.starts_with('o') && model[1..].starts_with(|c: char| c.is_ascii_digit()));
    reasons.then(|| serde_json::json!({ "effort": "medium", "summary": "auto" }))
}

fn add_usage(total: &mut Usage, more: Option<&Usage>) {
    if let Some(u) = more {
        total.input_tokens += u.input_tokens;
        total.output_tokens += u.output_tokens;
        total.cached_input_tokens += u.cached_input_tokens;
        total.reasoning_output_tokens += u.reasoning_output_tokens;
        total.total_tokens += u.total_tokens;
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_only_for_reasoning_models() {
        assert!(reasoning_for("gpt-5.3-codex").is_some());
        assert!(reasoning_for("o4-mini").is_some());
        assert!(reasoning_for("gpt-4.1").is_none());
        assert!(reasoning_for("omni").is_none());
        assert!(reasoning_for("o").is_none());
    }
}
