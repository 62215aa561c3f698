//! Self-tests of the mock, over plain `TcpStream`s with hand-written HTTP/1.1 and
//! websocket frames (no client library).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talaria_plugin_api::time::now_secs;

use super::*;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn split_head(raw: &[u8]) -> (u16, Vec<(String, String)>, usize) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, end)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 2 + size + 2..];
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end.
fn http(
    mock: &MockServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = connect(mock.addr());
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        mock.addr(),
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let (status, headers, end) = split_head(&raw);
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(&raw[end..])
    } else {
        raw[end..].to_vec()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn post_json(mock: &MockServer, path: &str, body: &Value) -> Reply {
    http(
        mock,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn post_form(mock: &MockServer, path: &str, pairs: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
        .collect();
    http(
        mock,
        "POST",
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        body.join("&").as_bytes(),
    )
}

fn get_with_token(mock: &MockServer, path: &str, token: &str) -> Reply {
    http(
        mock,
        "GET",
        path,
        &[("authorization", &format!("Bearer {token}"))],
        b"",
    )
}

/// `(event line, data JSON)` for each SSE frame.
fn sse_frames(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"), "{text:?}");
    text.trim_end()
        .split("\n\n")
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            let event = event.strip_prefix("event: ").unwrap().to_owned();
            (
                event,
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect()
}

fn responses_body() -> Value {
    json!({ "model": "gpt-5.5", "instructions": "be brief", "input": [], "store": false, "stream": true })
}

#[test]
fn device_flow_goes_from_pending_to_tokens() {
    let mock = MockServer::start();
    assert_eq!(
        post_json(
            &mock,
            "/api/accounts/deviceauth/usercode",
            &json!({ "client_id": "nope" })
        )
        .status,
        400
    );
    let code = post_json(
        &mock,
        "/api/accounts/deviceauth/usercode",
        &json!({ "client_id": CLIENT_ID }),
    );
    assert_eq!(code.status, 200);
    let code = code.json();
    assert_eq!(code["interval"], "1");
    assert_eq!(code["user_code"], "ABCD-1234");
    let poll = json!({ "device_auth_id": code["device_auth_id"], "user_code": code["user_code"] });
    for _ in 0..2 {
        let pending = post_json(&mock, "/api/accounts/deviceauth/token", &poll);
        assert_eq!(pending.status, 403);
        assert_eq!(
            pending.json()["error"]["code"],
            "deviceauth_authorization_pending"
        );
    }
    let approved = post_json(&mock, "/api/accounts/deviceauth/token", &poll);
    assert_eq!(approved.status, 200, "{}", approved.text());
    let approved = approved.json();
    let (auth_code, verifier) = (
        approved["authorization_code"].as_str().unwrap(),
        approved["code_verifier"].as_str().unwrap(),
    );
    assert!(approved["code_challenge"].is_string());

    let redirect = format!("{}/deviceauth/callback", mock.issuer_url());
    let exchange = |verifier: &str| {
        post_form(
            &mock,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", auth_code),
                ("redirect_uri", &redirect),
                ("client_id", CLIENT_ID),
                ("code_verifier", verifier),
            ],
        )
    };
    let wrong = exchange("wrong");
    assert_eq!(
        (wrong.status, wrong.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let tokens = exchange(verifier);
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    let tokens = tokens.json();
    assert_eq!(tokens["expires_in"], 3600);
    let claims = decode_jwt(tokens["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        claims["https://api.openai.com/auth"]["chatgpt_account_id"],
        "acct-1"
    );
    assert_eq!(
        claims["https://api.openai.com/auth"]["chatgpt_plan_type"],
        "plus"
    );
    assert_eq!(
        decode_jwt(tokens["id_token"].as_str().unwrap()).unwrap()["email"],
        "a@example.com"
    );
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("rt_"));
    assert_eq!(exchange(verifier).status, 400, "a code is single-use");

    let models = get_with_token(
        &mock,
        "/backend-api/codex/models?client_version=1.0.0",
        tokens["access_token"].as_str().unwrap(),
    );
    assert_eq!(models.status, 200);
    let recorded = mock.requests_to("/oauth/token");
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[1].form()["code_verifier"], verifier);
    assert_eq!(
        recorded[1].header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(mock.count("/oauth/token", "authorization_code"), 3);
    assert_eq!(
        mock.requests_to("/backend-api/codex/models")[0]
            .query
            .as_deref(),
        Some("client_version=1.0.0")
    );
}

#[test]
fn device_flow_honours_its_settings() {
    let mock = MockServer::start();
    mock.account(AccountSpec::new("b@example.com", "acct-2", "user-2", "pro"));
    mock.set_device_account("b@example.com");
    mock.set_device_pending_polls(0);
    mock.set_device_interval(json!(5));
    let code = post_json(
        &mock,
        "/api/accounts/deviceauth/usercode",
        &json!({ "client_id": CLIENT_ID }),
    )
    .json();
    assert_eq!(code["interval"], 5);
    let poll = json!({ "device_auth_id": code["device_auth_id"], "user_code": code["user_code"] });
    let approved = post_json(&mock, "/api/accounts/deviceauth/token", &poll).json();
    let body = json!({
        "grant_type": "authorization_code", "code": approved["authorization_code"], "code_verifier": approved["code_verifier"],
        "redirect_uri": format!("{}/deviceauth/callback", mock.issuer_url()), "client_id": CLIENT_ID,
    });
    let tokens = post_json(&mock, "/oauth/token", &body).json();
    let claims = decode_jwt(tokens["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        claims["https://api.openai.com/auth"]["chatgpt_account_id"],
        "acct-2"
    );
    assert_eq!(
        claims["https://api.openai.com/profile"]["email"],
        "b@example.com"
    );
}

#[test]
fn refresh_rotates_and_a_reused_token_is_refused() {
    let mock = MockServer::start();
    let first = mock.issue_tokens("a@example.com", 3600);
    let refresh = |rt: &str| {
        post_json(
            &mock,
            "/oauth/token",
            &json!({ "grant_type": "refresh_token", "refresh_token": rt, "client_id": CLIENT_ID }),
        )
    };
    let rotated = refresh(&first.refresh_token);
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let rotated = rotated.json();
    assert_ne!(rotated["refresh_token"], json!(first.refresh_token));
    assert_ne!(rotated["access_token"], json!(first.access_token));
    assert_eq!(mock.refresh_token_used(&first.refresh_token), Some(true));

    let reused = refresh(&first.refresh_token);
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["error"]["code"], "refresh_token_reused");
    let unknown = refresh("rt_unknown");
    assert_eq!(
        (unknown.status, unknown.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );

    // The rotated token works once, sent as a form this time.
    let form = post_form(
        &mock,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT_ID),
        ],
    );
    assert_eq!(form.status, 200);
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 4);
    assert_eq!(mock.issued_tokens().len(), 3);
    assert_eq!(
        mock.requests_to("/oauth/token")[0].json()["client_id"],
        CLIENT_ID
    );
}

#[test]
fn a_refresh_may_keep_the_refresh_token_and_another_client_may_spend_it() {
    let mock = MockServer::start();
    let refresh = |rt: &str| {
        post_json(
            &mock,
            "/oauth/token",
            &json!({ "grant_type": "refresh_token", "refresh_token": rt, "client_id": CLIENT_ID }),
        )
    };
    mock.rotate_refresh_tokens(false);
    let first = mock.issue_tokens("a@example.com", 3600);
    for _ in 0..2 {
        let kept = refresh(&first.refresh_token);
        assert_eq!(kept.status, 200, "{}", kept.text());
        let kept = kept.json();
        assert!(kept.get("refresh_token").is_none(), "{kept}");
        assert_ne!(kept["access_token"], json!(first.access_token));
        assert_eq!(mock.refresh_token_used(&first.refresh_token), Some(false));
    }
    assert_eq!(
        mock.issued_tokens().last().unwrap().refresh_token,
        first.refresh_token
    );
    // The new access token is one the backend accepts.
    let access = mock.issued_tokens().last().unwrap().access_token.clone();
    assert_eq!(
        get_with_token(&mock, "/backend-api/codex/models", &access).status,
        200
    );

    mock.rotate_refresh_tokens(true);
    let other = mock.issue_tokens("a@example.com", 3600);
    mock.spend_refresh_token(&other.refresh_token);
    let reused = refresh(&other.refresh_token);
    assert_eq!(
        (reused.status, reused.json()["error"]["code"].clone()),
        (401, json!("refresh_token_reused"))
    );
}

#[test]
fn offline_tokens_look_issued_but_no_backend_takes_them() {
    let mock = MockServer::start();
    let who = AccountSpec::new("o@example.com", "acct-o", "user-o", "pro");
    let tokens = who.offline_tokens(-10);
    assert!(tokens.expires_at < now_secs());
    let claims = decode_jwt(&tokens.access_token).unwrap();
    assert_eq!(
        (claims["iss"].clone(), claims["exp"].clone()),
        (json!("https://auth.openai.com"), json!(tokens.expires_at))
    );
    assert_eq!(
        claims["https://api.openai.com/auth"]["chatgpt_plan_type"],
        "pro"
    );
    assert_eq!(
        decode_jwt(&tokens.id_token).unwrap()["email"],
        "o@example.com"
    );
    assert_eq!(tokens.account_id, "acct-o");
    assert_eq!(mock.refresh_token_used(&tokens.refresh_token), None);
    let live = who.offline_tokens(600);
    assert_eq!(
        get_with_token(&mock, "/backend-api/codex/models", &live.access_token).json()["error"]
            ["code"],
        "invalid_token"
    );
}

#[test]
fn models_need_a_valid_access_token() {
    let mock = MockServer::start();
    let path = "/backend-api/codex/models?client_version=1.0.0";
    assert_eq!(
        http(&mock, "GET", path, &[], b"").json()["error"]["code"],
        "invalid_token"
    );
    let unknown = get_with_token(&mock, path, &mint_jwt(&json!({ "exp": now_secs() + 100 })));
    assert_eq!(
        (unknown.status, unknown.json()["error"]["code"].clone()),
        (401, json!("invalid_token"))
    );
    let expired = mock.issue_tokens(&AccountSpec::default(), -10);
    let reply = get_with_token(&mock, path, &expired.access_token);
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].clone()),
        (401, json!("token_expired"))
    );

    let tokens = mock.issue_tokens("a@example.com", 600);
    let models = get_with_token(&mock, path, &tokens.access_token);
    assert_eq!(models.status, 200);
    let models = models.json()["models"].as_array().unwrap().clone();
    assert_eq!(models.len(), 5);
    assert!(models.iter().any(|m| m["visibility"] == "hide"));
    mock.revoke_access(&tokens.access_token);
    assert_eq!(
        get_with_token(&mock, path, &tokens.access_token).status,
        401
    );

    mock.set_models(vec![
        json!({ "slug": "only", "visibility": "list", "priority": 0 }),
    ]);
    mock.set_api_key("sk-test-123");
    assert_eq!(
        get_with_token(&mock, "/v1/models", "sk-wrong").json()["error"]["code"],
        "invalid_api_key"
    );
    let list = get_with_token(&mock, "/v1/models", "sk-test-123").json();
    assert_eq!(
        list,
        json!({ "object": "list", "data": [{ "id": "only", "object": "model", "created": 1_700_000_000, "owned_by": "openai" }] })
    );
}

#[test]
fn scripted_responses_come_first_in_order_and_are_recorded() {
    let mock = MockServer::start();
    mock.push_response(
        "/oauth/token",
        MockResponse::error(503, "unavailable", "try later"),
    );
    mock.push_response(
        "/oauth/token",
        MockResponse::json(429, json!({ "error": "slow down" })).with_header("Retry-After", "7"),
    );
    let body =
        json!({ "grant_type": "refresh_token", "refresh_token": "rt_x", "client_id": CLIENT_ID });
    assert_eq!(post_json(&mock, "/oauth/token", &body).status, 503);
    let limited = post_json(&mock, "/oauth/token", &body);
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("7"))
    );
    assert_eq!(
        post_json(&mock, "/oauth/token", &body).status,
        400,
        "the normal handler again"
    );
    assert_eq!(mock.requests_to("/oauth/token").len(), 3);

    mock.push_response(
        "/backend-api/codex/models",
        MockResponse::cloudflare_challenge(),
    );
    let challenge = http(&mock, "GET", "/backend-api/codex/models", &[], b"");
    assert_eq!(
        (challenge.status, challenge.header("cf-mitigated")),
        (403, Some("challenge"))
    );
    assert!(challenge.text().contains("Just a moment"));
}

#[test]
fn the_default_stream_is_framed_as_sse_and_zstd_bodies_are_decoded() {
    let mock = MockServer::start();
    let tokens = mock.issue_tokens("a@example.com", 600);
    let body = zstd::stream::encode_all(responses_body().to_string().as_bytes(), 3).unwrap();
    let auth = format!("Bearer {}", tokens.access_token);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("content-encoding", "zstd"),
        ("chatgpt-account-id", "acct-1"),
    ];
    let reply = http(
        &mock,
        "POST",
        "/backend-api/codex/responses",
        &headers,
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let frames = sse_frames(&reply.text());
    let types: Vec<&str> = frames.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.output_item.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (event, data) in &frames {
        assert_eq!(data["type"], json!(event));
    }
    let text: String = frames
        .iter()
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock.");
    assert_eq!(
        frames[4].1["item"]["content"][0]["text"],
        "Hello from the mock."
    );
    assert_eq!(frames[5].1["response"]["usage"]["total_tokens"], 14);

    let recorded = &mock.requests_to("/backend-api/codex/responses")[0];
    assert_eq!(recorded.body, body, "recorded as sent");
    assert_eq!(recorded.json()["instructions"], "be brief");
    assert_eq!(recorded.header("ChatGPT-Account-ID"), Some("acct-1"));
    let names: Vec<&str> = recorded.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names[..3], ["host", "connection", "content-length"]);

    // The backend's own body checks.
    let stored =
        json!({ "model": "gpt-5.5", "input": [], "store": true, "stream": true }).to_string();
    let reply = http(
        &mock,
        "POST",
        "/backend-api/codex/responses",
        &[("authorization", auth.as_str())],
        stored.as_bytes(),
    );
    assert_eq!(
        (reply.status, reply.json()["detail"].clone()),
        (400, json!("Store must be set to false"))
    );
}

#[test]
fn scripts_shape_the_stream() {
    let mock = MockServer::start();
    let tokens = mock.issue_tokens("a@example.com", 600);
    let auth = format!("Bearer {}", tokens.access_token);
    let post = || {
        http(
            &mock,
            "POST",
            "/backend-api/codex/responses",
            &[("authorization", auth.as_str())],
            responses_body().to_string().as_bytes(),
        )
    };

    mock.push_script(
        EventScript::new(text_events("resp_1", &["a", "b"]))
            .close_after(3)
            .raw(1, "data: {not json\n\n"),
    );
    mock.push_script(
        MockResponse::error(429, "usage_limit_reached", "limit").with_header("retry-after", "30"),
    );
    mock.push_events(vec![
        created_event("resp_2"),
        failed_event("context_length_exceeded", "too long"),
    ]);

    let cut = post().text();
    assert!(cut.starts_with("event: response.created\n"), "{cut}");
    assert!(cut.contains("\ndata: {not json\n\n"), "{cut}");
    assert!(!cut.contains("response.completed"), "{cut}");
    assert_eq!(cut.matches("event: ").count(), 3);

    let limited = post();
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("30"))
    );
    let failed = sse_frames(&post().text());
    assert_eq!(
        failed[1].1["response"]["error"]["code"],
        "context_length_exceeded"
    );
    assert_eq!(sse_frames(&post().text()).len(), 6, "back to the default");
}

#[test]
fn a_stalled_stream_stays_open_until_the_server_is_dropped() {
    let mock = MockServer::start();
    let tokens = mock.issue_tokens("a@example.com", 600);
    mock.push_script(EventScript::new(text_events("resp_s", &["x"])).stall_after(1));
    let mut stream = connect(mock.addr());
    let body = responses_body().to_string();
    let request = format!(
        "POST /backend-api/codex/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\n\r\n{body}",
        tokens.access_token,
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The whole first event, which may arrive in several reads: up to its blank line.
    let first_event_read = |seen: &[u8]| {
        let text = String::from_utf8_lossy(seen);
        text.find("response.created")
            .is_some_and(|at| text[at..].contains("\n\n"))
    };
    while !first_event_read(&seen) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(stream.read(&mut buf).is_err(), "nothing more arrives");
    let started = Instant::now();
    drop(mock);
    assert!(started.elapsed() < Duration::from_secs(3));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(
        matches!(stream.read(&mut buf), Ok(0) | Err(_)),
        "the connection ends with the server"
    );
}

/// A websocket client frame: FIN + text, masked.
fn ws_text_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one server frame: (opcode, payload).
fn ws_read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).unwrap();
            u16::from_be_bytes(ext) as usize
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).unwrap();
            u64::from_be_bytes(ext) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

fn ws_handshake(mock: &MockServer, token: &str) -> (TcpStream, u16) {
    let mut stream = connect(mock.addr());
    let request = format!(
        "GET /backend-api/codex/responses HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nauthorization: Bearer {token}\r\nopenai-beta: responses_websockets=2026-02-06\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let status = split_head(&head).0;
    (stream, status)
}

#[test]
fn websocket_frames_are_recorded_and_answered_with_events() {
    let mock = MockServer::start();
    let tokens = mock.issue_tokens("a@example.com", 600);
    mock.push_events(function_call_events(
        "resp_ws",
        "call_1",
        "list_dir",
        "{\"path\":\".\"}",
    ));
    let (mut stream, status) = ws_handshake(&mock, &tokens.access_token);
    assert_eq!(status, 101);
    let create = json!({ "type": "response.create", "model": "gpt-5.5", "input": [] }).to_string();
    stream.write_all(&ws_text_frame(&create)).unwrap();
    let mut events = Vec::new();
    loop {
        let (opcode, payload) = ws_read_frame(&mut stream);
        assert_eq!(opcode, 1, "a text frame");
        let event: Value = serde_json::from_slice(&payload).unwrap();
        let done = event["type"] == "response.completed";
        events.push(event);
        if done {
            break;
        }
    }
    assert_eq!(events.len(), 6);
    assert_eq!(events[4]["item"]["arguments"], "{\"path\":\".\"}");

    // A ping is answered with a pong carrying the same payload.
    let mut ping = vec![0x89, 0x80 | 2, 0, 0, 0, 0];
    ping.extend_from_slice(b"hi");
    stream.write_all(&ping).unwrap();
    assert_eq!(ws_read_frame(&mut stream), (0xA, b"hi".to_vec()));

    // A scripted HTTP error arrives as a wrapped error frame.
    mock.push_script(
        MockResponse::error(429, "usage_limit_reached", "limit")
            .with_header("x-codex-active-limit", "primary"),
    );
    stream.write_all(&ws_text_frame(&create)).unwrap();
    let error: Value = serde_json::from_slice(&ws_read_frame(&mut stream).1).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["status"], 429);
    assert_eq!(error["error"]["code"], "usage_limit_reached");
    assert_eq!(error["headers"]["x-codex-active-limit"], "primary");

    let recorded = mock.requests_to("/backend-api/codex/responses");
    let methods: Vec<&str> = recorded.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "WS", "WS"]);
    assert_eq!(recorded[1].json()["type"], "response.create");
    assert_eq!(
        recorded[1].header("openai-beta"),
        Some("responses_websockets=2026-02-06")
    );
}

#[test]
fn websocket_upgrades_can_be_refused_or_need_a_token() {
    let mock = MockServer::start();
    let tokens = mock.issue_tokens("a@example.com", 600);
    assert_eq!(ws_handshake(&mock, "bogus").1, 401);
    mock.set_websocket(WsMode::Refuse(426));
    assert_eq!(ws_handshake(&mock, &tokens.access_token).1, 426);
    mock.set_websocket(WsMode::Refuse(403));
    assert_eq!(ws_handshake(&mock, &tokens.access_token).1, 403);
    mock.set_websocket(WsMode::Accept);
    assert_eq!(ws_handshake(&mock, &tokens.access_token).1, 101);
}

#[test]
fn refresh_delay_holds_the_answer() {
    let mock = MockServer::start();
    let tokens = mock.issue_tokens("a@example.com", 600);
    mock.refresh_delay(Duration::from_millis(300));
    let started = Instant::now();
    let reply = post_json(
        &mock,
        "/oauth/token",
        &json!({ "grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": CLIENT_ID }),
    );
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

// ---- Chat Completions ----

fn chat_body() -> Value {
    json!({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": true})
}

/// The `data:` payloads of an SSE body, in order.
fn data_lines(reply: &Reply) -> Vec<String> {
    reply
        .text()
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn chat_completions_streams_chunks_then_done_and_records_the_request() {
    let mock = MockServer::start();
    let reply = post_json(&mock, "/v1/chat/completions", &chat_body());
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let data = data_lines(&reply);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock.");
    assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 13);
    let recorded = mock.requests_to("/v1/chat/completions");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].json(), chat_body());
}

#[test]
fn chat_completions_scripts_run_in_order_and_a_key_is_checked_only_when_set() {
    let mock = MockServer::start();
    mock.push_chat(ChunkScript::new(chat_text_chunks(&["a"], (1, 1))).without_done());
    mock.push_chat(ChatScript::Json(chat_completion_body("whole", (2, 1))));
    mock.push_chat(MockResponse::error(429, "rate_limit_exceeded", "slow"));
    let first = post_json(&mock, "/v1/chat/completions", &chat_body());
    assert!(!first.text().contains("[DONE]"));
    let second = post_json(&mock, "/v1/chat/completions", &chat_body());
    assert_eq!(second.json()["choices"][0]["message"]["content"], "whole");
    assert_eq!(
        post_json(&mock, "/v1/chat/completions", &chat_body()).status,
        429
    );
    let bad = post_json(
        &mock,
        "/v1/chat/completions",
        &json!({"model": "m", "messages": []}),
    );
    assert_eq!(bad.status, 400);
    mock.set_api_key("k");
    assert_eq!(
        post_json(&mock, "/v1/chat/completions", &chat_body()).status,
        401
    );
    let ok = http(
        &mock,
        "POST",
        "/v1/chat/completions",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer k"),
        ],
        chat_body().to_string().as_bytes(),
    );
    assert_eq!(ok.status, 200);
}
