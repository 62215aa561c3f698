//! One turn: model → tool calls → model, until the model answers without calling a
//! tool, the budget is spent, the user interrupts, or the request fails.

use std::sync::{Arc, Mutex, PoisonError};

use talaria_sdk::items::{ContentPart, Item, Message, Role};
use talaria_sdk::provider::ModelInfo;
use talaria_sdk::transport::{FailureClass, StreamRequest, StreamResult, TransportFailure};
use talaria_sdk::turn::{ModelRef, TurnError, TurnRequest, TurnResult, TurnStatus};
use talaria_sdk::{CallContext, Error, ErrorKind, Event, ToolContext, ToolOutput};

use crate::calls::{calls_in, replayable, run_all};
use crate::models::reasoning_for;
use crate::prompt::instructions;
use crate::AgentLoop;
use crate::{context, tools};

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
    fn from_error(error: Error) -> Self {
        let failure: Option<TransportFailure> = error
            .data
            .clone()
            .and_then(|d| serde_json::from_value(d).ok());
        let fallback_worthy = failure.as_ref().is_some_and(|f| f.fallback_worthy)
            || error.kind == ErrorKind::RateLimited;
        RequestFailure {
            class: failure.map(|f| f.class),
            fallback_worthy,
            error,
        }
    }
}

pub fn run(agent: &AgentLoop, req: &TurnRequest, cx: &CallContext) -> TurnResult {
    let mut result = TurnResult::default();
    // Every request opens with the agent instructions and the environment, read afresh
    // each turn and not stored: a compaction never summarizes them away, an edited
    // AGENTS.md counts from the next turn, and the unchanged prefix still caches.
    let opening = context::opening_items(req, agent.global_dir.as_deref());
    result.items.push(user_message(req));
    let mut model = req.model.clone();
    for _ in 0..agent.budget.max(1) {
        let mut input = opening.clone();
        input.extend(req.session.items.iter().cloned());
        input.extend(result.items.iter().cloned());
        let response = match model_request(agent, req, &mut model, input, cx) {
            Ok(r) => r,
            Err(Stop::Interrupted(partial)) => {
                if !partial.is_empty() {
                    result.items.push(Item::assistant_text(&partial));
                }
                result.text = partial;
                result.status = TurnStatus::Interrupted;
                return result;
            }
            Err(Stop::Failed(f)) => {
                result.status = TurnStatus::Failed;
                result.error = Some(TurnError {
                    message: f.error.message,
                    kind: f.error.kind,
                    class: f.class,
                });
                return result;
            }
        };
        if let Some(usage) = &response.usage {
            result.usage.add(usage);
        }
        let output = replayable(response.output);
        result.text = response.text;
        let calls = calls_in(&output);
        result.items.extend(output);
        if calls.is_empty() {
            return result;
        }
        let context = ToolContext {
            cwd: req.cwd.clone(),
            approval_policy: req.approval_policy.clone(),
            sandbox: req.sandbox.clone(),
            // The tools need the model's limits, not its prompt.
            model: agent.models.info(&model, cx).map(|info| ModelInfo {
                base_instructions: None,
                ..info
            }),
        };
        let outputs = run_all(&calls, &context, cx);
        let mut interrupted = false;
        for (call, output) in calls.iter().zip(outputs) {
            let output = output.unwrap_or_else(|| {
                interrupted = true;
                ToolOutput::error("interrupted by the user before the tool finished")
            });
            result.items.push(call.output_item(&output));
        }
        if interrupted || cx.is_cancelled() {
            result.status = TurnStatus::Interrupted;
            return result;
        }
    }
    cx.emit(&Event::Warning {
        message: format!(
            "stopped after {} model requests in one turn (the turn budget); ask again to continue",
            agent.budget.max(1)
        ),
    });
    result
}

/// The user's message: the text, then any images.
fn user_message(req: &TurnRequest) -> Item {
    if req.input.images.is_empty() {
        return Item::user_text(&req.input.text);
    }
    let mut content = vec![ContentPart::InputText {
        text: req.input.text.clone(),
    }];
    content.extend(req.input.images.iter().map(|url| ContentPart::InputImage {
        image_url: url.clone(),
        detail: None,
    }));
    Item::Message(Message {
        role: Role::User,
        content,
        phase: None,
    })
}

/// One model request, on the fallback model when the current one fails in a way worth
/// falling back for. `model` is switched for the rest of the turn.
fn model_request(
    agent: &AgentLoop,
    req: &TurnRequest,
    model: &mut ModelRef,
    input: Vec<Item>,
    cx: &CallContext,
) -> Result<StreamResult, Stop> {
    let failure = match stream(agent, req, model, input.clone(), cx) {
        Err(Stop::Failed(f)) if f.fallback_worthy => f,
        other => return other,
    };
    let Some(fallback) = req.fallback.as_ref().filter(|f| *f != model) else {
        return Err(Stop::Failed(failure));
    };
    cx.emit(&Event::Warning {
        message: format!(
            "{model} failed ({}); trying the fallback model {fallback}",
            first_line(&failure.error.message)
        ),
    });
    *model = fallback.clone();
    stream(agent, req, model, input, cx).map_err(|stop| match stop {
        Stop::Failed(f) => {
            let message = format!(
                "{} (the fallback model {fallback} failed too)",
                f.error.message
            );
            Stop::Failed(RequestFailure {
                error: Error { message, ..f.error },
                ..f
            })
        }
        interrupted => interrupted,
    })
}

fn stream(
    agent: &AgentLoop,
    req: &TurnRequest,
    model: &ModelRef,
    input: Vec<Item>,
    cx: &CallContext,
) -> Result<StreamResult, Stop> {
    let info = agent.models.info(model, cx);
    let request = StreamRequest {
        provider: model.provider.clone(),
        session_id: req.session.id.clone(),
        model: model.model.clone(),
        fast: req.fast,
        instructions: Some(instructions(info.as_ref())),
        input,
        tools: tools::offered(
            &req.tools,
            info.as_ref(),
            req.web_search,
            req.sandbox.as_deref(),
        ),
        reasoning: reasoning_for(info.as_ref()),
        prompt_cache_key: Some(req.session.id.clone()),
        options: Default::default(),
        extra_body: Default::default(),
    };
    // The deltas go straight to the host; a copy of the text is kept so an interrupted
    // request still has its partial answer.
    let streamed = Arc::new(Mutex::new(String::new()));
    let copy = streamed.clone();
    let watched = cx.tee(move |json| {
        if json.starts_with(r#"{"type":"text_delta""#) {
            if let Ok(Event::TextDelta { delta }) = serde_json::from_str(json) {
                copy.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&delta);
            }
        }
    });
    match cx.host().model_stream(&request, &watched) {
        Ok(result) => Ok(result),
        Err(e) if e.kind == ErrorKind::Cancelled || cx.is_cancelled() => Err(Stop::Interrupted(
            streamed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )),
        Err(e) => Err(Stop::Failed(RequestFailure::from_error(e))),
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}
