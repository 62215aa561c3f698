//! End-to-end: the transport against a tiny scripted server on 127.0.0.1 (SSE and
//! websocket on one port), with a fake provider behind the `Call` seam.
//!
//! unwrap and expect are allowed here (the workspace denies them in product code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use talaria_responses::config::PluginConfig;
use talaria_responses::driver::{Call, Engine};
use talaria_responses::probe::probe;
use talaria_sdk::items::Item;
use talaria_sdk::provider::{Endpoint, ErrorHint, FailureReport, ResolveRequest};
use talaria_sdk::transport::{
    FailureClass, ProbeRequest, StreamOptions, StreamRequest, TransportFailure,
};
use talaria_sdk::{runtime, Error, ErrorKind, Event, LogLevel, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

// ---------------------------------------------------------------- the mock server

/// What the server does with the next connection.
enum Step {
    /// 200 with these SSE chunks (and extra headers), then close.
    Sse(Vec<(String, String)>, Vec<String>),
    /// 200 with these chunks, then hold the connection open without a word.
    SseStall(Vec<String>),
    /// Accept and never answer.
    Silent,
    /// A plain HTTP answer (errors, the models list).
    Http(u16, Vec<(String, String)>, String),
    /// Accept the websocket; answer each request frame with the next list of frames.
    /// An empty list closes the socket.
    Ws(Vec<Vec<String>>),
}

#[derive(Debug, Clone, Default)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Text frames received on a websocket.
    frames: Vec<String>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn json_body(&self) -> Value {
        let bytes = if self.header("content-encoding").as_deref() == Some("zstd") {
            zstd::decode_all(self.body.as_slice()).unwrap()
        } else {
            self.body.clone()
        };
        serde_json::from_slice(&bytes).unwrap()
    }
    fn is_websocket(&self) -> bool {
        self.header("upgrade").is_some()
    }
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(steps: Vec<Step>) -> Server {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let base = format!(
            "http://{}/backend-api/codex",
            std_listener.local_addr().unwrap()
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let steps = Arc::new(Mutex::new(VecDeque::from(steps)));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        return;
                    };
                    let step = steps.lock().unwrap().pop_front();
                    let seen = seen2.clone();
                    tokio::spawn(async move { serve(socket, step, seen).await });
                }
            });
        });
        Server { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        path,
        headers,
        body,
        frames: Vec::new(),
    })
}

async fn serve(mut socket: TcpStream, step: Option<Step>, seen: Arc<Mutex<Vec<Seen>>>) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let index = {
        let mut all = seen.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    let head = |status: u16, extra: &[(String, String)], content_type: &str| {
        let mut h =
            format!("HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nconnection: close\r\n");
        for (k, v) in extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h
    };
    match step {
        None => {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 599 No Script\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
        Some(Step::Silent) => tokio::time::sleep(Duration::from_secs(30)).await,
        Some(Step::Http(status, headers, body)) => {
            let text = format!(
                "{}content-length: {}\r\n\r\n{body}",
                head(status, &headers, "application/json"),
                body.len()
            );
            let _ = socket.write_all(text.as_bytes()).await;
        }
        Some(Step::Sse(headers, chunks)) => {
            let _ = socket
                .write_all(format!("{}\r\n", head(200, &headers, "text/event-stream")).as_bytes())
                .await;
            for c in chunks {
                let _ = socket.write_all(c.as_bytes()).await;
                let _ = socket.flush().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Some(Step::SseStall(chunks)) => {
            let _ = socket
                .write_all(format!("{}\r\n", head(200, &[], "text/event-stream")).as_bytes())
                .await;
            for c in chunks {
                let _ = socket.write_all(c.as_bytes()).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Some(Step::Ws(turns)) => {
            let key = request.header("sec-websocket-key").unwrap_or_default();
            let accept = derive_accept_key(key.as_bytes());
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\nopenai-model: gpt-ws\r\n\r\n"
            );
            if socket.write_all(response.as_bytes()).await.is_err() {
                return;
            }
            let mut ws = WebSocketStream::from_raw_socket(socket, Role::Server, None).await;
            let mut turns = VecDeque::from(turns);
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                seen.lock().unwrap()[index].frames.push(text.to_string());
                match turns.pop_front() {
                    Some(frames) if !frames.is_empty() => {
                        for f in frames {
                            let _ = ws.send(Message::text(f)).await;
                        }
                    }
                    _ => {
                        let _ = ws.close(None).await;
                        return;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- scripts

fn sse(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .collect()
}

fn answer(id: &str, text: &str) -> Vec<Value> {
    let (a, b) = text.split_at(text.len() / 2);
    vec![
        json!({"type":"response.created","response":{"id":id}}),
        json!({"type":"response.output_text.delta","item_id":"msg_1","delta":a}),
        json!({"type":"response.output_text.delta","item_id":"msg_1","delta":b}),
        json!({"type":"response.output_item.done","item":{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":text}]}}),
        json!({"type":"response.completed","response":{"id":id,"output":null,"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":13}}}),
    ]
}

fn frames(events: &[Value]) -> Vec<String> {
    events.iter().map(Value::to_string).collect()
}

// ---------------------------------------------------------------- the fake host side

type ReportFn = Box<dyn Fn(&FailureReport) -> Result<Endpoint> + Send + Sync>;

struct FakeCall {
    endpoint: Endpoint,
    report: ReportFn,
    reports: Mutex<Vec<FailureReport>>,
    resolves: Mutex<u32>,
    events: Mutex<Vec<Event>>,
    logs: Mutex<Vec<String>>,
    cancel: Arc<AtomicBool>,
}

impl FakeCall {
    fn new(endpoint: Endpoint) -> Self {
        FakeCall {
            endpoint,
            report: Box::new(|r| {
                Err(Error::new(
                    ErrorKind::Auth,
                    format!("no recovery for {}", r.status),
                ))
            }),
            reports: Mutex::default(),
            resolves: Mutex::default(),
            events: Mutex::default(),
            logs: Mutex::default(),
            cancel: Arc::default(),
        }
    }
    fn with_report(
        mut self,
        f: impl Fn(&FailureReport) -> Result<Endpoint> + Send + Sync + 'static,
    ) -> Self {
        self.report = Box::new(f);
        self
    }
    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
    fn text(&self) -> String {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::TextDelta { delta } => Some(delta),
                _ => None,
            })
            .collect()
    }
    fn warnings(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Warning { message } => Some(message),
                _ => None,
            })
            .collect()
    }
    fn progress(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Progress { message } => Some(message),
                _ => None,
            })
            .collect()
    }
}

impl Call for FakeCall {
    fn emit(&self, event: &Event) {
        self.events.lock().unwrap().push(event.clone());
    }
    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
    fn log(&self, _: LogLevel, message: &str) {
        self.logs.lock().unwrap().push(message.to_owned());
    }
    fn resolve(&self, _: &str, _: &ResolveRequest) -> Result<Endpoint> {
        *self.resolves.lock().unwrap() += 1;
        Ok(self.endpoint.clone())
    }
    fn report(&self, _: &str, report: &FailureReport) -> Result<Endpoint> {
        self.reports.lock().unwrap().push(report.clone());
        (self.report)(report)
    }
    fn run<F: std::future::Future>(&self, future: F) -> Result<F::Output> {
        let flag = self.cancel.clone();
        runtime::block_on(async move {
            tokio::select! {
                out = future => Ok(out),
                _ = async { while !flag.load(Ordering::SeqCst) { tokio::time::sleep(Duration::from_millis(10)).await } } => Err(Error::cancelled()),
            }
        })?
    }
}

fn endpoint(server: &Server, websocket: bool) -> Endpoint {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Endpoint {
        base_url: server.base.clone(),
        headers: [
            ("authorization".to_owned(), "Bearer tok-1".to_owned()),
            (
                "user-agent".to_owned(),
                "codex_cli_rs/0.169.0 (test)".to_owned(),
            ),
            ("originator".to_owned(), "codex_cli_rs".to_owned()),
        ]
        .into(),
        credential: Some("cred-1".into()),
        websocket,
        ..Default::default()
    }
}

fn request(session: &str, options: StreamOptions) -> StreamRequest {
    StreamRequest {
        provider: "fake".into(),
        session_id: session.into(),
        model: "gpt-5.5".into(),
        input: vec![Item::user_text("hi")],
        options,
        ..Default::default()
    }
}

fn quick(retries: u32) -> StreamOptions {
    StreamOptions {
        max_retries: Some(retries),
        first_byte_timeout_ms: Some(3000),
        idle_timeout_ms: Some(3000),
        ..Default::default()
    }
}

fn failure(e: &Error) -> TransportFailure {
    serde_json::from_value(e.data.clone().expect("error data")).unwrap()
}

// ---------------------------------------------------------------- tests

#[test]
fn sse_streams_text_usage_and_model_with_a_zstd_body() {
    let server = Server::start(vec![Step::Sse(
        vec![("openai-model".into(), "gpt-5.5-real".into())],
        sse(&answer("resp_1", "Hello")),
    )]);
    let mut ep = endpoint(&server, false);
    ep.zstd = true;
    ep.body.insert("service_tier".into(), json!("priority"));
    let call = FakeCall::new(ep);
    let engine = Engine::new(PluginConfig::default());
    let result = engine.stream(&call, &request("s-sse", quick(0))).unwrap();
    assert_eq!(result.text, "Hello");
    assert_eq!(result.transport, "sse");
    assert_eq!(result.model.as_deref(), Some("gpt-5.5-real"));
    assert_eq!(result.response_id.as_deref(), Some("resp_1"));
    let usage = result.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.reasoning_output_tokens,
            usage.total_tokens
        ),
        (10, 4, 1, 13)
    );
    assert_eq!(call.text(), "Hello");

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/backend-api/codex/responses");
    assert_eq!(seen[0].header("content-encoding").as_deref(), Some("zstd"));
    assert_eq!(
        seen[0].header("accept").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer tok-1")
    );
    let body = seen[0].json_body();
    assert_eq!(body["service_tier"], "priority");
    assert_eq!(body["store"], false);
    assert_eq!(body["stream"], true);
    assert_eq!(body["prompt_cache_key"], "s-sse");
    assert!(body.get("tools").is_none() && body.get("previous_response_id").is_none());
}

#[test]
fn the_websocket_is_reused_and_the_second_turn_is_incremental() {
    let first = answer("resp_1", "Hi there");
    let second = answer("resp_2", "Again");
    let server = Server::start(vec![Step::Ws(vec![frames(&first), frames(&second)])]);
    let call = FakeCall::new(endpoint(&server, true));
    let engine = Engine::new(PluginConfig::default());
    let req1 = request("s-ws", quick(0));
    let r1 = engine.stream(&call, &req1).unwrap();
    assert_eq!(
        (r1.text.as_str(), r1.transport.as_str()),
        ("Hi there", "websocket")
    );
    assert_eq!(r1.model.as_deref(), Some("gpt-ws"));

    let mut req2 = req1.clone();
    req2.input.extend(r1.output.clone());
    req2.input.push(Item::user_text("more"));
    let r2 = engine.stream(&call, &req2).unwrap();
    assert_eq!(r2.text, "Again");

    let seen = server.seen();
    assert_eq!(seen.len(), 1, "one socket for both turns");
    let ws = &seen[0];
    assert!(ws.is_websocket());
    assert_eq!(
        ws.header("openai-beta").as_deref(),
        Some("responses_websockets=2026-02-06")
    );
    assert_eq!(ws.header("user-agent"), None);
    assert_eq!(ws.header("authorization").as_deref(), Some("Bearer tok-1"));
    assert_eq!(ws.frames.len(), 2);
    let f1: Value = serde_json::from_str(&ws.frames[0]).unwrap();
    let f2: Value = serde_json::from_str(&ws.frames[1]).unwrap();
    assert_eq!(f1["type"], "response.create");
    assert!(f1.get("previous_response_id").is_none());
    assert_eq!(f1["input"].as_array().unwrap().len(), 1);
    assert_eq!(f2["previous_response_id"], "resp_1");
    assert_eq!(
        f2["input"],
        json!([{"type":"message","role":"user","content":[{"type":"input_text","text":"more"}]}])
    );
    assert!(call.warnings().is_empty());
}

#[test]
fn a_426_handshake_falls_back_to_sse_for_the_rest_of_the_session() {
    let server = Server::start(vec![
        Step::Http(426, vec![], "{}".into()),
        Step::Sse(vec![], sse(&answer("r1", "one"))),
        Step::Sse(vec![], sse(&answer("r2", "two"))),
    ]);
    let call = FakeCall::new(endpoint(&server, true));
    let engine = Engine::new(PluginConfig::default());
    let r = engine.stream(&call, &request("s-426", quick(0))).unwrap();
    assert_eq!((r.text.as_str(), r.transport.as_str()), ("one", "sse"));
    let r = engine.stream(&call, &request("s-426", quick(0))).unwrap();
    assert_eq!((r.text.as_str(), r.transport.as_str()), ("two", "sse"));
    let warnings = call.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("Falling back from WebSockets to HTTPS transport: "),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("426"), "{}", warnings[0]);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].is_websocket() && !seen[1].is_websocket() && !seen[2].is_websocket());
}

#[test]
fn websocket_stream_errors_are_retried_then_fall_back() {
    // Two sockets that close before completing, then SSE.
    let server = Server::start(vec![
        Step::Ws(vec![vec![]]),
        Step::Ws(vec![vec![]]),
        Step::Sse(vec![], sse(&answer("r", "ok"))),
    ]);
    let call = FakeCall::new(endpoint(&server, true));
    let engine = Engine::new(PluginConfig::default());
    let r = engine
        .stream(&call, &request("s-ws-retry", quick(1)))
        .unwrap();
    assert_eq!((r.text.as_str(), r.transport.as_str()), ("ok", "sse"));
    assert_eq!(call.progress().len(), 1, "{:?}", call.progress());
    assert!(
        call.progress()[0].starts_with("Reconnecting… 1/1 ("),
        "{:?}",
        call.progress()
    );
    assert_eq!(call.warnings().len(), 1);
}

#[test]
fn server_errors_and_early_eof_are_retried_with_progress() {
    let mut cut = sse(&answer("r", "partial answer"));
    cut.truncate(2);
    let server = Server::start(vec![
        Step::Http(502, vec![], "bad gateway".into()),
        Step::Sse(vec![], cut),
        Step::Sse(vec![], sse(&answer("r", "partial answer"))),
    ]);
    let call = FakeCall::new(endpoint(&server, false));
    let engine = Engine::new(PluginConfig::default());
    let r = engine.stream(&call, &request("s-retry", quick(4))).unwrap();
    assert_eq!(r.text, "partial answer");
    let progress = call.progress();
    assert_eq!(progress.len(), 2, "{progress:?}");
    assert_eq!(progress[0], "Reconnecting… 1/4 (HTTP 502)");
    assert!(
        progress[1].contains("stream closed before response.completed"),
        "{progress:?}"
    );
    // The retried answer repeated the shown prefix: the user sees it once.
    assert_eq!(call.text(), "partial answer");
}

#[test]
fn retries_run_out_with_a_stream_error() {
    let mut cut = sse(&answer("r", "abc"));
    cut.truncate(1);
    let server = Server::start(vec![Step::Sse(vec![], cut.clone()), Step::Sse(vec![], cut)]);
    let call = FakeCall::new(endpoint(&server, false));
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-eof", quick(1)))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network);
    let f = failure(&err);
    assert_eq!(f.class, FailureClass::Stream);
    assert!(f.fallback_worthy);
    assert!(
        err.message
            .contains("stream closed before response.completed"),
        "{}",
        err.message
    );
    assert!(err.message.contains("after 1 retry"), "{}", err.message);
}

#[test]
fn a_401_is_reported_and_retried_with_the_providers_new_endpoint() {
    let server = Server::start(vec![
        Step::Http(
            401,
            vec![],
            r#"{"error":{"message":"token expired"}}"#.into(),
        ),
        Step::Sse(vec![], sse(&answer("r", "fresh"))),
    ]);
    let base = endpoint(&server, false);
    let mut refreshed = base.clone();
    refreshed
        .headers
        .insert("authorization".into(), "Bearer tok-2".into());
    let call = FakeCall::new(base).with_report(move |_| Ok(refreshed.clone()));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-401", quick(0)))
        .unwrap();
    assert_eq!(r.text, "fresh");
    let reports = call.reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status, 401);
    assert_eq!(reports[0].credential.as_deref(), Some("cred-1"));
    assert_eq!(reports[0].request.session_id, "s-401");
    let seen = server.seen();
    assert_eq!(
        seen[1].header("authorization").as_deref(),
        Some("Bearer tok-2")
    );
}

#[test]
fn a_provider_auth_error_ends_the_call_with_its_message() {
    let server = Server::start(vec![Step::Http(401, vec![], "{}".into())]);
    let call = FakeCall::new(endpoint(&server, false)).with_report(|_| {
        Err(Error::new(
            ErrorKind::Auth,
            "Sign in again: run `talaria login`.",
        ))
    });
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-auth", quick(3)))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(err.message, "Sign in again: run `talaria login`.");
    let f = failure(&err);
    assert_eq!((f.class, f.status), (FailureClass::Auth, Some(401)));
    assert!(!f.fallback_worthy);
}

#[test]
fn a_usage_limit_is_a_quota_failure_without_retry() {
    let body = r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":4102444800}}"#;
    let server = Server::start(vec![Step::Http(
        429,
        vec![("x-request-id".into(), "req-9".into())],
        body.into(),
    )]);
    let mut ep = endpoint(&server, false);
    ep.hints.push(ErrorHint {
        class: FailureClass::Quota,
        when_message_contains: None,
        hint: "Add another account with `talaria auth add acme`.".into(),
    });
    let call = FakeCall::new(ep).with_report(|_| {
        Err(Error::new(
            ErrorKind::RateLimited,
            "every account is cooling down",
        ))
    });
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-quota", quick(3)))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    let f = failure(&err);
    assert_eq!(f.class, FailureClass::Quota);
    assert_eq!(f.reset_at, Some(4_102_444_800));
    assert_eq!(f.request_id.as_deref(), Some("req-9"));
    assert!(err.message.contains("usage limit"), "{}", err.message);
    assert!(
        err.message.ends_with(
            "Add another account with `talaria auth add acme`. (every account is cooling down)"
        ),
        "the provider's advice, then its note: {}",
        err.message
    );
    assert_eq!(server.seen().len(), 1);
    let reports = call.reports.lock().unwrap().clone();
    assert_eq!(
        (
            reports.len(),
            reports[0].code.as_deref(),
            reports[0].reset_at
        ),
        (1, Some("usage_limit_reached"), Some(4_102_444_800))
    );
}

#[test]
fn reset_times_come_from_the_usage_window_headers_the_provider_names() {
    let windows = || {
        vec![
            ("x-acme-primary-used-percent".to_owned(), "100".to_owned()),
            (
                "x-acme-primary-reset-at".to_owned(),
                "4102444800".to_owned(),
            ),
            (
                "x-codex-primary-reset-at".to_owned(),
                "4102400000".to_owned(),
            ),
        ]
    };
    let reset_seen = |prefixes: &[&str]| {
        let server = Server::start(vec![Step::Http(429, windows(), "{}".into())]);
        let mut ep = endpoint(&server, false);
        ep.rate_limit_headers = prefixes.iter().map(|p| p.to_string()).collect();
        let call = FakeCall::new(ep)
            .with_report(|_| Err(Error::new(ErrorKind::RateLimited, "cooling down")));
        let err = Engine::new(PluginConfig::default())
            .stream(&call, &request("s-windows", quick(0)))
            .unwrap_err();
        let reported = call.reports.lock().unwrap()[0].reset_at;
        assert_eq!(reported, failure(&err).reset_at);
        reported
    };
    assert_eq!(reset_seen(&["x-acme"]), Some(4_102_444_800));
    assert_eq!(reset_seen(&[]), None, "no prefix named, no header read");
}

#[test]
fn a_short_rate_limit_is_waited_out_and_another_credential_is_used_at_once() {
    // First a 429 that says how long to wait; the provider has no other credential.
    let server = Server::start(vec![
        Step::Http(
            429,
            vec![],
            r#"{"error":{"code":"rate_limit_exceeded","message":"Please try again in 50ms."}}"#
                .into(),
        ),
        Step::Sse(vec![], sse(&answer("r", "waited"))),
    ]);
    let call = FakeCall::new(endpoint(&server, false))
        .with_report(|_| Err(Error::new(ErrorKind::RateLimited, "cooling down")));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-429", quick(2)))
        .unwrap();
    assert_eq!(r.text, "waited");
    assert_eq!(call.reports.lock().unwrap()[0].retry_after_secs, Some(1));
    assert!(
        call.progress()[0].starts_with("Rate limited; retrying in 50 ms"),
        "{:?}",
        call.progress()
    );

    // Then a 429 with a long Retry-After where the pool has another account.
    let server = Server::start(vec![
        Step::Http(
            429,
            vec![("retry-after".into(), "3600".into())],
            "{}".into(),
        ),
        Step::Sse(vec![], sse(&answer("r", "rotated"))),
    ]);
    let mut other = endpoint(&server, false);
    other.credential = Some("cred-2".into());
    let call = FakeCall::new(endpoint(&server, false)).with_report(move |_| Ok(other.clone()));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-429b", quick(0)))
        .unwrap();
    assert_eq!(r.text, "rotated");
    assert_eq!(call.reports.lock().unwrap()[0].retry_after_secs, Some(3600));

    // A long wait and no other account: fail with RateLimit.
    let server = Server::start(vec![Step::Http(
        429,
        vec![("retry-after".into(), "3600".into())],
        "{}".into(),
    )]);
    let call = FakeCall::new(endpoint(&server, false))
        .with_report(|_| Err(Error::new(ErrorKind::RateLimited, "cooling down")));
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-429c", quick(3)))
        .unwrap_err();
    assert_eq!(failure(&err).class, FailureClass::RateLimit);
    assert_eq!(err.kind, ErrorKind::RateLimited);
}

#[test]
fn a_cloudflare_challenge_on_sse_fails_at_once() {
    let server = Server::start(vec![Step::Http(
        403,
        vec![
            ("cf-mitigated".into(), "challenge".into()),
            ("cf-ray".into(), "ray-123".into()),
        ],
        "<html>Just a moment...</html>".into(),
    )]);
    let call = FakeCall::new(endpoint(&server, false));
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-cf", quick(4)))
        .unwrap_err();
    let f = failure(&err);
    assert_eq!(
        (f.class, f.status, f.request_id.as_deref()),
        (
            FailureClass::CloudflareChallenge,
            Some(403),
            Some("ray-123")
        )
    );
    assert!(
        err.message.contains("Cloudflare") && err.message.contains("curl -I"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("Just a moment"));
    assert_eq!(server.seen().len(), 1, "never retried");
    assert!(call.reports.lock().unwrap().is_empty());
}

#[test]
fn a_cloudflare_challenge_on_the_websocket_falls_back() {
    let server = Server::start(vec![
        Step::Http(
            403,
            vec![("cf-mitigated".into(), "challenge".into())],
            "<html></html>".into(),
        ),
        Step::Sse(vec![], sse(&answer("r", "via https"))),
    ]);
    let call = FakeCall::new(endpoint(&server, true));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-cf-ws", quick(0)))
        .unwrap();
    assert_eq!(r.transport, "sse");
    assert!(
        call.warnings()[0].contains("Cloudflare challenge"),
        "{:?}",
        call.warnings()
    );
}

#[test]
fn watchdogs_trip_as_timeouts() {
    let server = Server::start(vec![Step::Silent]);
    let call = FakeCall::new(endpoint(&server, false));
    let options = StreamOptions {
        max_retries: Some(0),
        first_byte_timeout_ms: Some(200),
        ..Default::default()
    };
    let started = Instant::now();
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-ttfb", options))
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failure(&err).class, FailureClass::Timeout);
    assert!(err.message.contains("sent nothing"), "{}", err.message);

    let mut events = sse(&answer("r", "slow"));
    events.truncate(2);
    let server = Server::start(vec![Step::SseStall(events)]);
    let call = FakeCall::new(endpoint(&server, false));
    let options = StreamOptions {
        max_retries: Some(0),
        idle_timeout_ms: Some(200),
        ..Default::default()
    };
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-idle", options))
        .unwrap_err();
    assert_eq!(failure(&err).class, FailureClass::Timeout);
    assert!(err.message.contains("went silent"), "{}", err.message);
    assert_eq!(call.text(), "sl");
}

#[test]
fn cancellation_returns_cancelled_promptly() {
    let server = Server::start(vec![Step::Silent]);
    let call = FakeCall::new(endpoint(&server, false));
    let flag = call.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        flag.store(true, Ordering::SeqCst);
    });
    let started = Instant::now();
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-cancel", quick(3)))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn malformed_events_are_skipped_and_logged() {
    let mut chunks = vec!["data: {not json\n\n".to_owned(), ": comment\n\n".to_owned()];
    chunks.extend(sse(&answer("r", "fine")));
    let server = Server::start(vec![Step::Sse(vec![], chunks)]);
    let call = FakeCall::new(endpoint(&server, false));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-bad", quick(0)))
        .unwrap();
    assert_eq!(r.text, "fine");
    assert!(call
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("malformed")));
}

#[test]
fn a_refused_connection_is_a_connect_failure_and_secrets_stay_out() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut ep = Endpoint {
        base_url: format!("http://user:sk-secret-pw@127.0.0.1:{port}/api"),
        ..Default::default()
    };
    ep.headers
        .insert("authorization".into(), "Bearer sk-secret-token".into());
    let call = FakeCall::new(ep);
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-refused", quick(0)))
        .unwrap_err();
    let f = failure(&err);
    assert_eq!(f.class, FailureClass::Connect);
    assert_eq!(err.kind, ErrorKind::Network);
    assert_eq!(f.url, format!("http://127.0.0.1:{port}/api/responses"));
    let everything = format!(
        "{} {:?} {:?}",
        err.message,
        err.data,
        call.logs.lock().unwrap()
    );
    assert!(!everything.contains("sk-secret"), "{everything}");
}

#[test]
fn probe_reports_the_websocket_and_classifies_failures() {
    let server = Server::start(vec![
        Step::Ws(vec![]),
        Step::Http(200, vec![], r#"{"models":[]}"#.into()),
    ]);
    // The provider names what to probe (the Codex backend wants its client version).
    let call = FakeCall::new(Endpoint {
        probe_path: Some("models?client_version=9.9.9".into()),
        ..endpoint(&server, true)
    });
    let engine = Engine::new(PluginConfig::default());
    let r = probe(
        &engine,
        &call,
        &ProbeRequest {
            provider: "fake".into(),
        },
    )
    .unwrap();
    assert_eq!((r.status, r.transport.as_str()), (200, "websocket"));
    assert!(
        r.url.ends_with("/backend-api/codex/models"),
        "the query stays out of messages: {}",
        r.url
    );
    let seen = server.seen();
    assert_eq!(
        seen[1].path,
        "/backend-api/codex/models?client_version=9.9.9"
    );

    let server = Server::start(vec![Step::Http(
        401,
        vec![],
        r#"{"error":{"message":"bad token"}}"#.into(),
    )]);
    let call = FakeCall::new(endpoint(&server, false));
    let err = probe(
        &engine,
        &call,
        &ProbeRequest {
            provider: "fake".into(),
        },
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(failure(&err).class, FailureClass::Auth);
}

fn next_turn(previous: &StreamRequest, output: &[Item]) -> StreamRequest {
    let mut next = previous.clone();
    next.input.extend(output.iter().cloned());
    next.input.push(Item::user_text("more"));
    next
}

#[test]
fn a_kept_socket_the_server_dropped_is_reopened_without_a_retry() {
    // The first socket serves one turn and closes on the next request.
    let server = Server::start(vec![
        Step::Ws(vec![frames(&answer("r1", "first"))]),
        Step::Ws(vec![frames(&answer("r2", "second"))]),
    ]);
    let call = FakeCall::new(endpoint(&server, true));
    let engine = Engine::new(PluginConfig::default());
    let req1 = request("s-stale", quick(0));
    let r1 = engine.stream(&call, &req1).unwrap();
    let r2 = engine.stream(&call, &next_turn(&req1, &r1.output)).unwrap();
    assert_eq!(
        (r2.text.as_str(), r2.transport.as_str()),
        ("second", "websocket")
    );
    assert!(call.progress().is_empty() && call.warnings().is_empty());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    // The new socket got the full conversation.
    let f: Value = serde_json::from_str(&seen[1].frames[0]).unwrap();
    assert!(f.get("previous_response_id").is_none());
    assert_eq!(f["input"].as_array().unwrap().len(), 3);
}

#[test]
fn an_unknown_previous_response_is_answered_with_a_full_request() {
    let forgot = json!({"type":"error","status":400,"error":{"code":"previous_response_not_found","message":"Previous response with id 'r1' not found."}});
    let server = Server::start(vec![
        Step::Ws(vec![
            frames(&answer("r1", "first")),
            vec![forgot.to_string()],
        ]),
        Step::Ws(vec![frames(&answer("r2", "second"))]),
    ]);
    let call = FakeCall::new(endpoint(&server, true));
    let engine = Engine::new(PluginConfig::default());
    let req1 = request("s-forgot", quick(0));
    let r1 = engine.stream(&call, &req1).unwrap();
    let r2 = engine.stream(&call, &next_turn(&req1, &r1.output)).unwrap();
    assert_eq!(r2.text, "second");
    let seen = server.seen();
    let incremental: Value = serde_json::from_str(&seen[0].frames[1]).unwrap();
    assert_eq!(incremental["previous_response_id"], "r1");
    let full: Value = serde_json::from_str(&seen[1].frames[0]).unwrap();
    assert!(full.get("previous_response_id").is_none());
}

#[test]
fn websocket_auth_errors_go_to_the_provider() {
    // A 401 at the handshake, then a wrapped 401 on the socket, then success.
    let wrapped = json!({"type":"error","status":401,"error":{"message":"token expired"},"headers":{"x-request-id":"req-ws"}});
    let server = Server::start(vec![
        Step::Http(401, vec![], "{}".into()),
        Step::Ws(vec![vec![wrapped.to_string()]]),
        Step::Ws(vec![frames(&answer("r", "authorized"))]),
    ]);
    let base = endpoint(&server, true);
    let mut refreshed = base.clone();
    refreshed
        .headers
        .insert("authorization".into(), "Bearer tok-2".into());
    let call = FakeCall::new(base).with_report(move |_| Ok(refreshed.clone()));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-ws-401", quick(0)))
        .unwrap();
    assert_eq!(
        (r.text.as_str(), r.transport.as_str()),
        ("authorized", "websocket")
    );
    assert_eq!(call.reports.lock().unwrap().len(), 2);
    assert!(
        call.warnings().is_empty(),
        "a recovered 401 is no reason to leave the websocket"
    );
    assert_eq!(
        server.seen()[2].header("authorization").as_deref(),
        Some("Bearer tok-2")
    );
}

#[test]
fn response_failed_codes_end_or_retry_the_call() {
    let failed = |code: &str, message: &str| {
        sse(&[
            json!({"type":"response.failed","response":{"id":"r","error":{"code":code,"message":message}}}),
        ])
    };
    let server = Server::start(vec![Step::Sse(
        vec![],
        failed(
            "context_length_exceeded",
            "Your input exceeds the context window",
        ),
    )]);
    let call = FakeCall::new(endpoint(&server, false));
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-ctx", quick(3)))
        .unwrap_err();
    assert_eq!(
        (err.kind, failure(&err).class),
        (ErrorKind::Other, FailureClass::ContextTooLong)
    );
    assert!(
        err.message.contains("exceeds the context window"),
        "{}",
        err.message
    );

    let server = Server::start(vec![
        Step::Sse(
            vec![],
            failed("rate_limit_exceeded", "Please try again in 20ms."),
        ),
        Step::Sse(vec![], failed("server_error", "oops")),
        Step::Sse(vec![], sse(&answer("r", "third time"))),
    ]);
    let call = FakeCall::new(endpoint(&server, false));
    let r = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-failed", quick(3)))
        .unwrap();
    assert_eq!(r.text, "third time");
    assert_eq!(call.progress().len(), 2);

    let server = Server::start(vec![Step::Sse(
        vec![],
        failed("server_is_overloaded", "busy"),
    )]);
    let call = FakeCall::new(endpoint(&server, false));
    let err = Engine::new(PluginConfig::default())
        .stream(&call, &request("s-busy", quick(3)))
        .unwrap_err();
    let f = failure(&err);
    assert_eq!((f.class, f.fallback_worthy), (FailureClass::Server, true));
    assert_eq!(server.seen().len(), 1);
}
