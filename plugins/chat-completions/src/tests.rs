//! The transport through the SDK's harness (the same ABI adapters the host uses) against
//! the test kit's loopback Chat Completions server, asserting on what it received.

use std::sync::{Arc, Mutex};

use serde_json::json;
use talaria_sdk::items::{FunctionCall, Item};
use talaria_sdk::methods::{TransportProbe, TransportStream};
use talaria_sdk::provider::{
    Endpoint, FailureReport, ModelList, ModelsRequest, ProviderInfo, ResolveRequest,
};
use talaria_sdk::testing::Harness;
use talaria_sdk::transport::{
    FailureClass, ProbeRequest, StreamOptions, StreamRequest, StreamResult, TransportFailure,
};
use talaria_sdk::{CallContext, Error, ErrorKind, Event, Provider, Result, ToolSpec, Usage};
use talaria_tests::mock::{
    chat_chunk, chat_completion_body, chat_text_chunks, chat_tool_call_chunks, ChunkScript,
    MockResponse, MockServer, CHAT_MODEL,
};

use super::init;

/// A provider handing out the mock's `/v1` with key `k1`, recording what it is asked.
struct Local {
    base: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Provider for Local {
    fn info(&self, provider: &str) -> Result<ProviderInfo> {
        Ok(ProviderInfo {
            id: provider.into(),
            wire_api: "chat-completions".into(),
            supports_login: false,
        })
    }
    fn resolve(&self, provider: &str, _: ResolveRequest, _: &CallContext) -> Result<Endpoint> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("resolve {provider}"));
        let mut endpoint = Endpoint {
            base_url: self.base.clone(),
            credential: Some("k1".into()),
            ..Default::default()
        };
        endpoint
            .headers
            .insert("Authorization".into(), "Bearer k1".into());
        endpoint.headers.insert("X-Title".into(), "talaria".into());
        Ok(endpoint)
    }
    fn report(&self, provider: &str, report: FailureReport, cx: &CallContext) -> Result<Endpoint> {
        self.asked.lock().unwrap().push(format!(
            "report {provider} {} {:?}",
            report.status, report.retry_after_secs
        ));
        if report.status == 401 {
            return Err(Error::new(
                ErrorKind::Auth,
                "the server refused the key in LOCAL_API_KEY",
            ));
        }
        self.resolve(provider, report.request, cx)
    }
    fn models(&self, _: &str, _: ModelsRequest, _: &CallContext) -> Result<ModelList> {
        Ok(ModelList::default())
    }
}

struct Setup {
    mock: MockServer,
    harness: Harness,
    asked: Arc<Mutex<Vec<String>>>,
}

fn setup() -> Setup {
    let mock = MockServer::start();
    mock.set_api_key("k1");
    let asked = Arc::new(Mutex::new(Vec::new()));
    let harness = Harness::builder()
        .provider(
            &["local"],
            Local {
                base: mock.openai_base_url(),
                asked: asked.clone(),
            },
        )
        .start(init)
        .unwrap();
    Setup {
        mock,
        harness,
        asked,
    }
}

fn request(max_retries: u32) -> StreamRequest {
    StreamRequest {
        provider: "local".into(),
        session_id: "s-1".into(),
        model: CHAT_MODEL.into(),
        instructions: Some("You are terse.".into()),
        input: vec![Item::user_text("Say hello")],
        options: StreamOptions {
            max_retries: Some(max_retries),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn stream(s: &Setup, req: &StreamRequest) -> Result<(StreamResult, Vec<Event>)> {
    s.harness.call_method::<TransportStream>(req)
}

fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { delta } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}

fn progress_of(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Progress { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn failure(err: &Error) -> TransportFailure {
    serde_json::from_value(err.data.clone().expect("failure data")).unwrap()
}

#[test]
fn streamed_text_and_usage_arrive_and_the_request_is_exact() {
    let s = setup();
    s.mock
        .push_chat_chunks(chat_text_chunks(&["Hel", "lo!"], (21, 3)));
    let (result, events) = stream(&s, &request(0)).unwrap();
    assert_eq!(text_of(&events), "Hello!");
    assert_eq!(result.text, "Hello!");
    assert_eq!(result.output, vec![Item::assistant_text("Hello!")]);
    assert_eq!(result.model.as_deref(), Some(CHAT_MODEL));
    assert_eq!(result.transport, "sse");
    assert_eq!(
        result.usage,
        Some(Usage {
            input_tokens: 21,
            output_tokens: 3,
            cached_input_tokens: 0,
            reasoning_output_tokens: 0,
            total_tokens: 24
        })
    );
    let sent = s.mock.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(r.header("authorization"), Some("Bearer k1"));
    assert_eq!(r.header("x-title"), Some("talaria"));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "model": CHAT_MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Say hello"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
    assert_eq!(*s.asked.lock().unwrap(), ["resolve local"]);
}

#[test]
fn a_tool_call_streamed_in_pieces_becomes_one_function_call() {
    let s = setup();
    s.mock.push_chat_chunks(chat_tool_call_chunks(
        "call_7",
        "read_file",
        &["{\"pa", "th\": \"RE", "ADME.md\"}"],
        (40, 12),
    ));
    let mut req = request(0);
    req.tools = vec![ToolSpec {
        name: "read_file".into(),
        description: "Reads a file".into(),
        input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        needs_approval: false,
        ..Default::default()
    }];
    let (result, events) = stream(&s, &req).unwrap();
    assert_eq!(text_of(&events), "");
    assert_eq!(
        result.output,
        vec![Item::FunctionCall(FunctionCall {
            name: "read_file".into(),
            namespace: None,
            arguments: "{\"path\": \"README.md\"}".into(),
            call_id: "call_7".into(),
        })]
    );
    assert_eq!(result.usage.unwrap().total_tokens, 52);
    let body = s.mock.requests()[0].json();
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "read_file", "description": "Reads a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}])
    );
    assert_eq!(body["tool_choice"], "auto");
}

#[test]
fn a_server_error_is_retried_and_the_retry_succeeds() {
    let s = setup();
    s.mock
        .push_chat(MockResponse::error(502, "bad_gateway", "upstream down"));
    s.mock.push_chat_chunks(chat_text_chunks(&["ok"], (1, 1)));
    let (result, events) = stream(&s, &request(2)).unwrap();
    assert_eq!(result.text, "ok");
    assert_eq!(
        progress_of(&events),
        ["Reconnecting… 1/2 (HTTP 502: bad_gateway)"]
    );
    assert_eq!(s.mock.requests_to("/v1/chat/completions").len(), 2);
}

#[test]
fn server_errors_fail_after_the_retries_with_the_class_and_url() {
    let s = setup();
    for _ in 0..2 {
        s.mock
            .push_chat(MockResponse::error(500, "server_error", "boom"));
    }
    let err = stream(&s, &request(1)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network);
    assert!(err.message.contains("(after 1 retry)"), "{}", err.message);
    assert!(err.message.contains("boom"), "{}", err.message);
    let f = failure(&err);
    assert_eq!(
        (f.class, f.status, f.fallback_worthy),
        (FailureClass::Server, Some(500), true)
    );
    assert_eq!(
        f.url,
        format!("{}/chat/completions", s.mock.openai_base_url())
    );
    assert_eq!(s.mock.requests_to("/v1/chat/completions").len(), 2);
}

#[test]
fn a_rate_limit_is_reported_then_waited_out_as_retry_after_asks() {
    let s = setup();
    s.mock.push_chat(
        MockResponse::error(429, "rate_limit_exceeded", "slow down")
            .with_header("retry-after", "1"),
    );
    s.mock.push_chat_chunks(chat_text_chunks(&["fine"], (1, 1)));
    let started = std::time::Instant::now();
    let (result, events) = stream(&s, &request(2)).unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(result.text, "fine");
    assert_eq!(progress_of(&events), ["Rate limited; retrying in 1 s… 1/2"]);
    assert_eq!(
        *s.asked.lock().unwrap(),
        ["resolve local", "report local 429 Some(1)", "resolve local"]
    );
}

#[test]
fn a_refused_key_is_reported_and_the_providers_words_end_the_call() {
    let s = setup();
    s.mock.set_api_key("another");
    let err = stream(&s, &request(3)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(err.message, "the server refused the key in LOCAL_API_KEY");
    assert_eq!(failure(&err).class, FailureClass::Auth);
    assert_eq!(
        *s.asked.lock().unwrap(),
        ["resolve local", "report local 401 None"]
    );
    assert_eq!(s.mock.requests().len(), 1, "no retry of a refused key");
}

#[test]
fn a_context_overflow_is_not_retried() {
    let s = setup();
    s.mock.push_chat(MockResponse::error(
        400,
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens",
    ));
    let err = stream(&s, &request(3)).unwrap_err();
    let f = failure(&err);
    assert_eq!(f.class, FailureClass::ContextTooLong);
    assert!(!f.fallback_worthy);
    assert!(
        err.message.contains("maximum context length"),
        "{}",
        err.message
    );
    assert_eq!(s.mock.requests().len(), 1);
}

#[test]
fn a_stream_without_done_is_whole_when_it_finished() {
    let s = setup();
    s.mock
        .push_chat(ChunkScript::new(chat_text_chunks(&["no ", "done"], (5, 2))).without_done());
    let (result, _) = stream(&s, &request(0)).unwrap();
    assert_eq!(result.text, "no done");
    assert_eq!(result.usage.unwrap().total_tokens, 7);
}

#[test]
fn a_stream_cut_before_it_finished_is_retried_without_repeating_text() {
    let s = setup();
    // The first answer breaks after "Hel"; the retry streams the whole text.
    s.mock
        .push_chat(ChunkScript::new(chat_text_chunks(&["Hel", "lo"], (5, 2))).close_after(2));
    s.mock
        .push_chat_chunks(chat_text_chunks(&["Hel", "lo"], (5, 2)));
    let (result, events) = stream(&s, &request(1)).unwrap();
    assert_eq!(text_of(&events), "Hello");
    assert_eq!(result.text, "Hello");
    assert_eq!(progress_of(&events).len(), 1);
    // Without retries the cut stream is the error, said as such.
    s.mock
        .push_chat(ChunkScript::new(chat_text_chunks(&["Hel", "lo"], (5, 2))).close_after(2));
    let err = stream(&s, &request(0)).unwrap_err();
    assert_eq!(failure(&err).class, FailureClass::Stream);
    assert!(
        err.message.contains("without a finish_reason or [DONE]"),
        "{}",
        err.message
    );
}

#[test]
fn a_non_streamed_json_body_is_one_answer() {
    let s = setup();
    s.mock
        .push_chat(talaria_tests::mock::ChatScript::Json(chat_completion_body(
            "Whole answer.",
            (8, 3),
        )));
    let (result, events) = stream(&s, &request(0)).unwrap();
    assert_eq!(text_of(&events), "Whole answer.");
    assert_eq!(result.text, "Whole answer.");
    assert_eq!(result.transport, "json");
    assert_eq!(result.usage.unwrap().total_tokens, 11);
}

#[test]
fn a_mid_stream_error_chunk_fails_the_attempt_and_the_retry_continues_the_text() {
    let s = setup();
    let error_chunk = json!({"id": "x", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        "error": {"code": 502, "message": "Provider returned error"}});
    let mut broken = chat_text_chunks(&["Part"], (1, 1));
    broken.truncate(2);
    broken.push(error_chunk.clone());
    s.mock.push_chat_chunks(broken.clone());
    s.mock
        .push_chat_chunks(chat_text_chunks(&["Part", "ial"], (4, 2)));
    let (result, events) = stream(&s, &request(1)).unwrap();
    assert_eq!(text_of(&events), "Partial");
    assert_eq!(result.text, "Partial");
    assert_eq!(progress_of(&events), ["Reconnecting… 1/1 (HTTP 502)"]);
    // Out of retries, the server's words reach the user.
    s.mock.push_chat_chunks(broken);
    let err = stream(&s, &request(0)).unwrap_err();
    assert_eq!(failure(&err).class, FailureClass::Server);
    assert!(
        err.message.contains("Provider returned error"),
        "{}",
        err.message
    );
}

#[test]
fn a_silent_server_trips_the_watchdogs() {
    let s = setup();
    s.mock.push_chat(
        ChunkScript::new(vec![chat_chunk(json!({"content": "x"}), None)]).stall_after(1),
    );
    let mut req = request(0);
    req.options.idle_timeout_ms = Some(200);
    let err = stream(&s, &req).unwrap_err();
    assert_eq!(failure(&err).class, FailureClass::Timeout);
    assert!(err.message.contains("went silent"), "{}", err.message);
    assert!(
        err.message.contains("[plugin_config.chat-completions]"),
        "{}",
        err.message
    );
}

#[test]
fn nothing_listening_is_a_connect_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let h = Harness::builder()
        .provider(
            &["local"],
            Local {
                base: format!("http://127.0.0.1:{port}/v1"),
                asked,
            },
        )
        .start(init)
        .unwrap();
    let err = h.call_method::<TransportStream>(&request(0)).unwrap_err();
    let f = failure(&err);
    assert_eq!(f.class, FailureClass::Connect);
    assert_eq!(
        f.url,
        format!("http://127.0.0.1:{port}/v1/chat/completions")
    );
}

#[test]
fn the_probe_gets_the_models_list_with_the_endpoints_headers() {
    let s = setup();
    let (result, _) = s
        .harness
        .call_method::<TransportProbe>(&ProbeRequest {
            provider: "local".into(),
        })
        .unwrap();
    assert_eq!(result.status, 200);
    assert_eq!(result.url, format!("{}/models", s.mock.openai_base_url()));
    let sent = s.mock.requests_to("/v1/models");
    assert_eq!(sent[0].header("authorization"), Some("Bearer k1"));
}

#[test]
fn the_manifest_declares_the_transport_and_bad_config_is_named() {
    let m = talaria_sdk::Manifest::parse(include_str!("../plugin.toml")).unwrap();
    assert_eq!(m.id, "chat-completions");
    assert_eq!(m.provides.transports, vec!["chat-completions"]);
    let err = Harness::builder()
        .config(json!({"max_retries": "many"}))
        .start(init)
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message.contains("[plugin_config.chat-completions]"),
        "{}",
        err.message
    );
}
