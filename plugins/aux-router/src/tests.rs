//! The router in the SDK's harness: fake providers and a scripted transport stand in for
//! the host's `model.stream`, so each test sees the exact requests the router made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use talaria_sdk::items::Item;
use talaria_sdk::methods::RouterRun;
use talaria_sdk::provider::{
    Endpoint, ModelInfo, ModelList, ModelSource, ModelsRequest, ProviderInfo, ResolveRequest,
};
use talaria_sdk::router::{AuxRequest, AuxResult, CompactionCheck, GoalCheck, GoalVerdict};
use talaria_sdk::testing::Harness;
use talaria_sdk::transport::{ReasoningRequest, StreamRequest, StreamResult};
use talaria_sdk::turn::ModelRef;
use talaria_sdk::{CallContext, Error, ErrorKind, Provider, Result, Transport, Usage};

/// Providers `p1`, `p2` (Responses API) and `chatty` (another wire API); `p1`'s
/// `vision-model` takes images, the rest do not.
struct Fakes;

impl Provider for Fakes {
    fn info(&self, provider: &str) -> Result<ProviderInfo> {
        Ok(ProviderInfo {
            id: provider.into(),
            wire_api: if provider == "chatty" {
                "chat-completions".into()
            } else {
                "responses".into()
            },
            supports_login: false,
        })
    }
    fn resolve(&self, _: &str, _: ResolveRequest, _: &CallContext) -> Result<Endpoint> {
        Ok(Endpoint::default())
    }
    fn models(&self, provider: &str, _: ModelsRequest, _: &CallContext) -> Result<ModelList> {
        let model = |slug: &str, images: bool| ModelInfo {
            slug: slug.into(),
            context_window: Some(1000),
            input_modalities: if images {
                vec!["text".into(), "image".into()]
            } else {
                vec![]
            },
            ..Default::default()
        };
        let mut models = vec![
            model(&format!("{provider}-default"), false),
            model("m", false),
        ];
        if provider == "p1" {
            models.push(model("vision-model", true));
            let mut limited = model("limited", false);
            limited
                .tools
                .insert("auto_compact_token_limit".into(), json!(900));
            models.push(limited);
        }
        Ok(ModelList {
            default_model: format!("{provider}-default"),
            models,
            source: ModelSource::Builtin,
            note: None,
        })
    }
}

type Answers = Arc<Mutex<HashMap<String, VecDeque<Result<String>>>>>;

/// Answers per `provider/model`, in order; "answer from provider/model" when none is queued.
#[derive(Clone, Default)]
struct Script {
    seen: Arc<Mutex<Vec<StreamRequest>>>,
    answers: Answers,
}

impl Script {
    fn push(&self, model: &str, answer: Result<String>) {
        self.answers
            .lock()
            .unwrap()
            .entry(model.into())
            .or_default()
            .push_back(answer);
    }
    fn seen(&self) -> Vec<StreamRequest> {
        self.seen.lock().unwrap().clone()
    }
    fn models_seen(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|r| format!("{}/{}", r.provider, r.model))
            .collect()
    }
}

impl Transport for Script {
    fn stream(&self, req: StreamRequest, _: &CallContext) -> Result<StreamResult> {
        let key = format!("{}/{}", req.provider, req.model);
        self.seen.lock().unwrap().push(req);
        let next = self
            .answers
            .lock()
            .unwrap()
            .get_mut(&key)
            .and_then(VecDeque::pop_front);
        let text = next.unwrap_or_else(|| Ok(format!("answer from {key}")))?;
        Ok(StreamResult {
            text,
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 2,
                total_tokens: 12,
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

fn failure(kind: ErrorKind, class: &str) -> Error {
    Error::new(kind, format!("injected {class}"))
        .with_data(json!({"class": class, "url": "http://x"}))
}

fn harness(auxiliary: Value) -> (Harness, Script) {
    let script = Script::default();
    let h = Harness::builder()
        .provider(&["p1", "p2", "chatty"], Fakes)
        .transport("responses", script.clone())
        .transport("chat-completions", script.clone())
        .config_section("auxiliary", auxiliary)
        .config_section("model", json!({"provider": "p1", "default": "m"}))
        .config_section("fallback_model", json!({"provider": "p2", "model": "m"}))
        .start(crate::init)
        .unwrap();
    (h, script)
}

fn request(task: &str) -> AuxRequest {
    AuxRequest {
        task: task.into(),
        input: vec![
            Item::user_text("fix the build"),
            Item::assistant_text("done: it builds"),
        ],
        session_id: "s1".into(),
        ..Default::default()
    }
}

fn run(h: &Harness, req: &AuxRequest) -> Result<AuxResult> {
    h.call_method::<RouterRun>(req).map(|(out, _)| out)
}

fn main_model(provider: &str, model: &str) -> Option<ModelRef> {
    Some(ModelRef {
        provider: provider.into(),
        model: model.into(),
    })
}

#[test]
fn auto_goes_to_the_main_model_first_as_plain_https_without_tools() {
    let (h, script) = harness(json!({}));
    let mut req = request("title_generation");
    req.main = main_model("p2", "m");
    script.push("p2/m", Ok("\"Fixing the build.\"".into()));
    let out = run(&h, &req).unwrap();
    assert_eq!(out.text, "Fixing the build");
    assert_eq!(out.model.to_string(), "p2/m");
    let sent = &script.seen()[0];
    assert_eq!(sent.session_id, "s1");
    assert!(sent.tools.is_empty());
    assert!(sent.options.disable_websocket);
    assert_eq!(sent.options.max_retries, Some(0));
    assert_eq!(sent.options.first_byte_timeout_ms, Some(30_000));
    assert!(sent.instructions.as_deref().unwrap().contains("title"));
    let Item::Message(m) = &sent.input[0] else {
        panic!()
    };
    let text = serde_json::to_string(&m.content).unwrap();
    assert!(
        text.contains("USER: fix the build") && text.contains("ASSISTANT: done: it builds"),
        "{text}"
    );
    assert_eq!(out.steps.len(), 1);
    assert_eq!(out.steps[0].reason, "auto: the main model");
}

#[test]
fn without_a_main_model_in_the_request_the_profile_model_is_main() {
    let (h, script) = harness(json!({}));
    run(&h, &request("web_extract")).unwrap();
    assert_eq!(script.models_seen(), ["p1/m"]);
}

#[test]
fn an_explicit_provider_uses_its_default_model_and_main_takes_the_session_model() {
    let (h, script) = harness(json!({
        "title_generation": {"provider": "p2"},
        "web_extract": {"provider": "main", "model": "other"},
        "approval": {"provider": "p2", "model": "auto"},
    }));
    let mut req = request("title_generation");
    req.main = main_model("p1", "m");
    run(&h, &req).unwrap();
    req.task = "web_extract".into();
    run(&h, &req).unwrap();
    req.task = "approval".into();
    run(&h, &req).unwrap();
    assert_eq!(
        script.models_seen(),
        ["p2/p2-default", "p1/other", "p2/p2-default"]
    );
}

#[test]
fn codex_means_openai_codex() {
    let script = Script::default();
    let h = Harness::builder()
        .provider(&["openai-codex"], Fakes)
        .transport("responses", script.clone())
        .config_section(
            "auxiliary",
            json!({"title_generation": {"provider": "codex", "model": "gpt-x"}}),
        )
        .start(crate::init)
        .unwrap();
    run(&h, &request("title_generation")).unwrap();
    assert_eq!(script.models_seen(), ["openai-codex/gpt-x"]);
}

#[test]
fn auto_retries_transient_errors_then_walks_the_chain_in_order() {
    let (h, script) = harness(json!({
        "transient_retries": 1,
        "web_extract": {"fallback_chain": [{"provider": "p1", "model": "second"}]},
    }));
    // Main: a 5xx, retried once, then a 5xx again → next step.
    script.push("p1/m", Err(failure(ErrorKind::Network, "server")));
    script.push("p1/m", Err(failure(ErrorKind::Network, "server")));
    // The chain's model: rate-limited after the provider's pool rotation → next step.
    script.push(
        "p1/second",
        Err(failure(ErrorKind::RateLimited, "rate_limit")),
    );
    let out = run(&h, &request("web_extract")).unwrap();
    assert_eq!(script.models_seen(), ["p1/m", "p1/m", "p1/second", "p2/m"]);
    assert_eq!(out.model.to_string(), "p2/m");
    let outcome: Vec<(u32, &str)> = out
        .steps
        .iter()
        .map(|s| (s.attempts, s.outcome.split(':').next().unwrap()))
        .collect();
    assert_eq!(outcome, [(2, "failed"), (1, "failed"), (1, "ok")]);
    assert_eq!(out.steps[2].reason, "auto: the profile's [fallback_model]");
    let logs: Vec<String> = h.logs().into_iter().map(|(_, m)| m).collect();
    assert!(
        logs.iter().any(|l| l.contains("retrying in 1 s")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("step 2 p1/second") && l.contains("trying the next step")),
        "{logs:?}"
    );
}

#[test]
fn auth_and_invalid_errors_move_auto_on_but_not_an_explicit_provider() {
    let (h, script) = harness(json!({
        "approval": {"provider": "p2", "model": "m", "fallback_chain": [{"provider": "p1", "model": "m"}]},
    }));
    script.push("p1/m", Err(failure(ErrorKind::Auth, "auth")));
    let out = run(&h, &request("web_extract")).unwrap();
    assert_eq!(
        out.model.to_string(),
        "p2/m",
        "auto fell through an auth failure"
    );

    script.push(
        "p2/m",
        Err(failure(ErrorKind::InvalidRequest, "invalid_request")),
    );
    let err = run(&h, &request("approval")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message
            .contains("explicit provider falls back only on capacity"),
        "{}",
        err.message
    );

    script.push("p2/m", Err(failure(ErrorKind::RateLimited, "quota")));
    let out = run(&h, &request("approval")).unwrap();
    assert_eq!(
        out.model.to_string(),
        "p1/m",
        "capacity errors do move an explicit chain"
    );
}

#[test]
fn every_step_failing_is_an_error_naming_each_step() {
    let (h, script) = harness(json!({"transient_retries": 0}));
    script.push("p1/m", Err(failure(ErrorKind::Auth, "auth")));
    script.push("p2/m", Err(failure(ErrorKind::Auth, "auth")));
    let err = run(&h, &request("title_generation")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message
            .contains("p1/m (auto: the main model): failed: injected auth"),
        "{}",
        err.message
    );
    assert!(
        err.message
            .contains("p2/m (auto: the profile's [fallback_model])"),
        "{}",
        err.message
    );
}

#[test]
fn vision_uses_only_models_that_take_images() {
    let (h, script) = harness(json!({
        "vision": {"fallback_chain": [{"provider": "p2", "model": "m"}]},
    }));
    let mut req = request("vision");
    req.images = vec!["data:image/png;base64,AAAA".into()];
    let out = run(&h, &req).unwrap();
    assert_eq!(script.models_seen(), ["p1/vision-model"]);
    assert_eq!(out.steps[0].outcome, "skipped: the model takes no images");
    let Item::Message(m) = &script.seen()[0].input[0] else {
        panic!()
    };
    assert!(serde_json::to_string(&m.content)
        .unwrap()
        .contains("data:image/png;base64,AAAA"));

    // The vision model failing: p2/m takes no images either, so nothing is left.
    script.push("p1/vision-model", Err(failure(ErrorKind::Auth, "auth")));
    let err = run(&h, &req).unwrap_err();
    assert!(
        err.message.contains("skipped: the model takes no images"),
        "{}",
        err.message
    );
    assert_eq!(script.models_seen().len(), 2);

    req.images.clear();
    assert_eq!(run(&h, &req).unwrap_err().kind, ErrorKind::InvalidRequest);
}

#[test]
fn extra_body_reasoning_becomes_the_reasoning_parameter_on_the_responses_api_only() {
    let (h, script) = harness(json!({
        "title_generation": {"provider": "p2", "model": "m", "extra_body": {"reasoning": {"effort": "low"}, "verbosity": "low"}},
        "approval": {"provider": "chatty", "model": "m", "extra_body": {"reasoning": {"effort": "low"}}},
    }));
    run(&h, &request("title_generation")).unwrap();
    run(&h, &request("approval")).unwrap();
    let seen = script.seen();
    assert_eq!(
        seen[0].reasoning,
        Some(ReasoningRequest {
            effort: "low".into(),
            summary: None
        })
    );
    assert_eq!(
        Value::Object(seen[0].extra_body.clone()),
        json!({"verbosity": "low"})
    );
    assert_eq!(seen[1].reasoning, None);
    assert_eq!(
        Value::Object(seen[1].extra_body.clone()),
        json!({"reasoning": {"effort": "low"}}),
        "other wire APIs get the provider's own field"
    );
}

#[test]
fn compression_waits_for_the_threshold_and_keeps_the_recent_turns() {
    let (h, script) = harness(json!({"compression": {"threshold": 0.5, "keep_turns": 1}}));
    let mut req = request("compression");
    req.input = vec![
        Item::user_text("one"),
        Item::assistant_text("ONE"),
        Item::user_text("two"),
        Item::assistant_text("TWO"),
    ];
    req.compaction = Some(CompactionCheck {
        context_tokens: 499,
        force: false,
    });
    let out = run(&h, &req).unwrap();
    assert_eq!((out.text.as_str(), out.replaces), ("", 0));
    assert!(
        script.seen().is_empty(),
        "below the threshold nothing is sent"
    );

    req.compaction = Some(CompactionCheck {
        context_tokens: 500,
        force: false,
    });
    script.push("p1/m", Ok("the summary".into()));
    let out = run(&h, &req).unwrap();
    assert_eq!((out.text.as_str(), out.replaces), ("the summary", 2));
    let sent = serde_json::to_string(&script.seen()[0].input).unwrap();
    assert!(
        sent.contains("USER: one") && !sent.contains("two"),
        "{sent}"
    );

    // /compact: whatever the size.
    req.compaction = Some(CompactionCheck {
        context_tokens: 1,
        force: true,
    });
    assert_eq!(run(&h, &req).unwrap().replaces, 2);
}

#[test]
fn the_catalogs_auto_compact_limit_applies_when_no_threshold_is_set() {
    let (h, script) = harness(json!({}));
    let mut req = request("compression");
    req.main = main_model("p1", "limited");
    req.compaction = Some(CompactionCheck {
        context_tokens: 899,
        force: false,
    });
    assert_eq!(run(&h, &req).unwrap().replaces, 0);
    req.compaction = Some(CompactionCheck {
        context_tokens: 900,
        force: false,
    });
    assert_eq!(run(&h, &req).unwrap().replaces, 2);
    assert_eq!(script.models_seen(), ["p1/limited"]);
}

#[test]
fn goal_verdicts_and_the_budget() {
    let (h, script) = harness(json!({"goal_judge": {"max_turns": 3}}));
    let mut req = request("goal_judge");
    req.goal = Some(GoalCheck {
        goal: "make it build".into(),
        turns_used: 1,
    });
    for (reply, verdict) in [
        (
            r#"{"verdict": "met", "reason": "it builds"}"#,
            GoalVerdict::Met,
        ),
        (
            r#"{"verdict": "needs_user", "reason": "which target?"}"#,
            GoalVerdict::NeedsUser,
        ),
        (
            r#"{"verdict": "continue", "reason": "tests fail"}"#,
            GoalVerdict::Continue,
        ),
        ("no idea", GoalVerdict::Continue),
    ] {
        script.push("p1/m", Ok(reply.into()));
        assert_eq!(run(&h, &req).unwrap().verdict, Some(verdict), "{reply}");
    }
    let sent = serde_json::to_string(&script.seen()[0].input).unwrap();
    assert!(sent.contains("make it build"), "{sent}");
    req.goal.as_mut().unwrap().turns_used = 3;
    script.push(
        "p1/m",
        Ok(r#"{"verdict": "continue", "reason": "tests fail"}"#.into()),
    );
    let out = run(&h, &req).unwrap();
    assert_eq!(
        (out.verdict, out.text.as_str()),
        (Some(GoalVerdict::BudgetSpent), "tests fail")
    );
    req.goal = None;
    assert_eq!(run(&h, &req).unwrap_err().kind, ErrorKind::InvalidRequest);
}

#[test]
fn bad_config_is_refused_naming_the_key() {
    for (section, key) in [
        (json!({"vision": {"timeout": 0}}), "timeout"),
        (json!({"vision": {"modle": "x"}}), "vision"),
        (
            json!({"vision": {"extra_body": {"reasoning": "low"}}}),
            "reasoning",
        ),
        (json!({"compression": {"threshold": 2.0}}), "threshold"),
        (json!({"transient_retries": 9}), "transient_retries"),
        (json!({"bogus": 1}), "bogus"),
    ] {
        let err = Harness::builder()
            .config_section("auxiliary", section.clone())
            .start(crate::init)
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::InvalidRequest, "{section}");
        let path = err.data.unwrap()["config_key"].clone();
        assert_eq!(path[0], "auxiliary", "{section}");
        assert_eq!(path.as_array().unwrap().last().unwrap(), key, "{section}");
    }
}
