//! The loop against fake providers, transports and tools in the SDK's harness: no host,
//! no library loading.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use talaria_sdk::items::{FunctionCall, Item};
use talaria_sdk::provider::{
    Endpoint, ModelInfo, ModelList, ModelsRequest, ProviderInfo, ReasoningSupport, ResolveRequest,
};
use talaria_sdk::testing::Harness;
use talaria_sdk::transport::{FailureClass, StreamRequest, StreamResult, TransportFailure};
use talaria_sdk::turn::{ModelRef, SessionContext, TurnRequest, TurnStatus, UserInput};
use talaria_sdk::{
    ApprovalRequest, CallContext, Error, ErrorKind, Event, Exports, Host, Provider, Result, Tool,
    ToolOutput, ToolSet, ToolSpec, Transport,
};

use crate::AgentLoop;

struct Models;
impl Provider for Models {
    fn info(&self, provider: &str) -> Result<ProviderInfo> {
        Ok(ProviderInfo {
            id: provider.into(),
            wire_api: "fake".into(),
            supports_login: false,
        })
    }
    fn resolve(&self, _: &str, _: ResolveRequest, _: &CallContext) -> Result<Endpoint> {
        Ok(Endpoint::default())
    }
    fn models(&self, _: &str, _: ModelsRequest, _: &CallContext) -> Result<ModelList> {
        let reasoning = Some(ReasoningSupport {
            default_effort: Some("high".into()),
            efforts: vec![],
            summaries: true,
        });
        Ok(ModelList {
            models: vec![
                ModelInfo {
                    slug: "thinker".into(),
                    reasoning,
                    ..Default::default()
                },
                ModelInfo {
                    slug: "plain".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    }
}

type Script = Arc<Mutex<VecDeque<Result<StreamResult>>>>;

/// Answers each request with the next scripted result (text "done" when the script is
/// empty) and keeps every request.
#[derive(Clone, Default)]
struct Scripted {
    script: Script,
    seen: Arc<Mutex<Vec<StreamRequest>>>,
}

impl Transport for Scripted {
    fn stream(&self, request: StreamRequest, cx: &CallContext) -> Result<StreamResult> {
        self.seen.lock().unwrap().push(request);
        let next = self.script.lock().unwrap().pop_front();
        match next {
            Some(Err(e)) => {
                if e.kind == ErrorKind::Cancelled {
                    cx.emit(&Event::TextDelta {
                        delta: "part".into(),
                    });
                }
                Err(e)
            }
            Some(Ok(r)) => Ok(r),
            None => {
                cx.emit(&Event::TextDelta {
                    delta: "done".into(),
                });
                Ok(StreamResult {
                    output: vec![Item::assistant_text("done")],
                    text: "done".into(),
                    ..Default::default()
                })
            }
        }
    }
}

struct Shell;
impl Tool for Shell {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "run".into(),
            description: "run".into(),
            input_schema: json!({}),
            needs_approval: true,
            ..Default::default()
        }
    }
    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let command = args["command"].as_str().unwrap_or_default();
        let decision = cx.request_approval(&ApprovalRequest::exec("", command, None))?;
        Ok(if decision.approved() {
            ToolOutput::text(format!("ran {command}"))
        } else {
            ToolOutput::error("declined")
        })
    }
}

fn harness(transport: &Scripted) -> Harness {
    Harness::builder()
        .approve_all()
        .provider(&["p"], Models)
        .transport("fake", transport.clone())
        .tools(ToolSet::new().with(Shell))
        .start(|_: Host| Ok(Exports::new().runtime(AgentLoop::with_budget(4))))
        .unwrap()
}

fn request(model: &str) -> TurnRequest {
    TurnRequest {
        runtime: "auto".into(),
        session: SessionContext {
            id: "s1".into(),
            items: vec![Item::user_text("earlier")],
            state: None,
        },
        input: UserInput {
            text: "now".into(),
            images: vec![],
        },
        model: ModelRef {
            provider: "p".into(),
            model: model.into(),
        },
        tools: vec![Shell.spec()],
        cwd: "/work".into(),
        ..Default::default()
    }
}

fn call(call_id: &str, args: &str) -> StreamResult {
    let item = Item::FunctionCall(FunctionCall {
        name: "run".into(),
        namespace: None,
        arguments: args.into(),
        call_id: call_id.into(),
    });
    StreamResult {
        output: vec![item],
        ..Default::default()
    }
}

#[test]
fn a_plain_answer_with_reasoning_from_the_catalog() {
    let t = Scripted::default();
    let (result, events) = harness(&t).turn(&request("thinker")).unwrap();
    assert_eq!(result.status, TurnStatus::Completed);
    assert_eq!(result.text, "done");
    assert_eq!(
        result.items,
        vec![Item::user_text("now"), Item::assistant_text("done")]
    );
    assert!(events.contains(&Event::TextDelta {
        delta: "done".into()
    }));
    let sent = t.seen.lock().unwrap()[0].clone();
    // Every request opens with the environment, which the session does not store.
    let (opening, rest) = sent.input.split_first().unwrap();
    assert!(
        format!("{opening:?}").contains("<environment_context>"),
        "{opening:?}"
    );
    assert_eq!(rest, [Item::user_text("earlier"), Item::user_text("now")]);
    assert_eq!(
        (sent.session_id.as_str(), sent.prompt_cache_key.as_deref()),
        ("s1", Some("s1"))
    );
    assert_eq!(
        serde_json::to_value(&sent.reasoning).unwrap(),
        json!({"effort": "high", "summary": "auto"})
    );
    assert!(sent.instructions.unwrap().starts_with("You are talaria"));
    assert_eq!(sent.tools[0].name, "run");

    let t = Scripted::default();
    harness(&t).turn(&request("plain")).unwrap();
    assert!(
        t.seen.lock().unwrap()[0].reasoning.is_none(),
        "a model without reasoning gets none"
    );
}

#[test]
fn tool_calls_run_through_the_host_and_go_back_to_the_model() {
    let t = Scripted::default();
    t.script
        .lock()
        .unwrap()
        .push_back(Ok(call("c1", r#"{"command":"ls"}"#)));
    let h = harness(&t);
    let (result, events) = h.turn(&request("plain")).unwrap();
    assert_eq!(result.text, "done");
    let second = t.seen.lock().unwrap()[1].clone();
    let output = serde_json::to_value(second.input.last().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"type": "function_call_output", "call_id": "c1", "output": "ran ls"})
    );
    assert_eq!(h.approval_requests()[0].command.as_deref(), Some("ls"));
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::ToolCall { .. } => "call",
            Event::ToolResult { .. } => "result",
            Event::TextDelta { .. } => "text",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["call", "result", "text"]);
}

#[test]
fn bad_arguments_are_reported_to_the_model() {
    let t = Scripted::default();
    t.script.lock().unwrap().push_back(Ok(call("c1", "{nope")));
    harness(&t).turn(&request("plain")).unwrap();
    let second = t.seen.lock().unwrap()[1].clone();
    let output = serde_json::to_value(second.input.last().unwrap()).unwrap();
    assert!(
        output["output"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{output}"
    );
}

#[test]
fn a_fallback_worthy_failure_moves_to_the_fallback_model() {
    let t = Scripted::default();
    let failure = TransportFailure {
        class: FailureClass::Server,
        url: String::new(),
        status: Some(503),
        reset_at: None,
        request_id: None,
        fallback_worthy: true,
    };
    t.script
        .lock()
        .unwrap()
        .push_back(Err(Error::new(ErrorKind::Network, "overloaded")
            .with_data(serde_json::to_value(failure).unwrap())));
    let mut req = request("thinker");
    req.fallback = Some(ModelRef {
        provider: "p".into(),
        model: "plain".into(),
    });
    let (result, events) = harness(&t).turn(&req).unwrap();
    assert_eq!(result.status, TurnStatus::Completed);
    let models: Vec<String> = t
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.model.clone())
        .collect();
    assert_eq!(models, ["thinker", "plain"]);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Warning { message } if message.contains("fallback"))));
}

#[test]
fn a_failure_is_a_failed_turn_with_its_class() {
    let t = Scripted::default();
    let failure = TransportFailure {
        class: FailureClass::Auth,
        url: String::new(),
        status: Some(401),
        reset_at: None,
        request_id: None,
        fallback_worthy: false,
    };
    t.script
        .lock()
        .unwrap()
        .push_back(Err(Error::new(ErrorKind::Auth, "log in again")
            .with_data(serde_json::to_value(failure).unwrap())));
    let (result, _) = harness(&t).turn(&request("plain")).unwrap();
    assert_eq!(result.status, TurnStatus::Failed);
    let error = result.error.unwrap();
    assert_eq!(
        (error.kind, error.class),
        (ErrorKind::Auth, Some(FailureClass::Auth))
    );
    assert_eq!(
        result.items,
        vec![Item::user_text("now")],
        "the prompt is kept"
    );
}

#[test]
fn an_interrupted_request_keeps_the_partial_answer() {
    let t = Scripted::default();
    t.script.lock().unwrap().push_back(Err(Error::cancelled()));
    let (result, _) = harness(&t).turn(&request("plain")).unwrap();
    assert_eq!(result.status, TurnStatus::Interrupted);
    assert_eq!(result.text, "part");
    assert_eq!(result.items.last(), Some(&Item::assistant_text("part")));
}

#[test]
fn the_budget_stops_a_loop_that_never_answers() {
    let t = Scripted::default();
    for i in 0..10 {
        t.script
            .lock()
            .unwrap()
            .push_back(Ok(call(&format!("c{i}"), r#"{"command":"x"}"#)));
    }
    let (result, events) = harness(&t).turn(&request("plain")).unwrap();
    assert_eq!(t.seen.lock().unwrap().len(), 4);
    assert_eq!(result.status, TurnStatus::Completed);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Warning { message } if message.contains("turn budget"))));
}
