//! `talaria doctor`'s `backend` check through the real binary: the `responses`
//! transport probes the `openai-codex` provider's backend (the mock, or a socket that
//! misbehaves on purpose) and doctor tells a Cloudflare challenge, a timeout, a TLS
//! failure and an auth failure apart, in words and in `--json`.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::TcpListener;

use serde_json::Value;
use talaria_tests::codex::{home_for, signed_in};
use talaria_tests::mock::{MockResponse, MockServer, WsMode};
use talaria_tests::{Run, TestHome};

const MODELS: &str = "/backend-api/codex/models";
const RESPONSES: &str = "/backend-api/codex/responses";

/// Short network limits for the timeout test (the probe's own are 15 s to connect and
/// 20 s for an answer). The other tests keep the defaults: their failures come at once,
/// and a short limit could turn a slow answer on a busy machine into a timeout.
fn quick_probe(home: &TestHome) {
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        "[plugin_config.responses]\nconnect_timeout_ms = 500\nfirst_byte_timeout_ms = 500\n",
    )
    .unwrap();
}

/// Runs `doctor` and `doctor --json`, both with `code`; the human `backend` line and the
/// JSON `backend` check.
fn doctor(home: &TestHome, code: i32) -> (String, Value) {
    let human = home.run(&["doctor"]).expect_code(code);
    let line = backend_line(&human);
    let json = home.run(&["doctor", "--json"]).expect_code(code).json();
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backend")
        .cloned();
    (
        line,
        check.unwrap_or_else(|| panic!("no backend check in {json}")),
    )
}

/// The `backend` line of a human doctor report, without its verdict column.
fn backend_line(run: &Run) -> String {
    let line = run.stdout.lines().find(|l| l.contains("backend: "));
    line.unwrap_or_else(|| panic!("no backend line:\n{}\nstderr:\n{}", run.stdout, run.stderr))
        .to_owned()
}

fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

/// A port that accepts connections and never says a word. Each socket is held open by
/// a thread that reads (and drops) what the client sends, so the client sees silence,
/// not a reset or a full buffer, until it gives up.
fn silent_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[test]
fn a_reachable_backend_is_ok_and_probed_with_the_codex_headers() {
    let mock = MockServer::start();
    let (home, tokens) = signed_in(&mock);
    let human = home.run(&["doctor"]).ok();
    let line = backend_line(&human);
    let models_url = format!("{}/models", mock.codex_base_url());
    assert_eq!(
        line,
        format!("ok    backend: reachable at {models_url} over websocket (status 200)")
    );

    // The websocket handshake and the models request both carry the Codex headers.
    let handshake = mock
        .requests_to(RESPONSES)
        .into_iter()
        .find(|r| r.method == "GET")
        .expect("a websocket handshake");
    let models = mock
        .requests_to(MODELS)
        .into_iter()
        .find(|r| r.method == "GET")
        .expect("a models request");
    assert!(models.query_param("client_version").is_some(), "{models:?}");
    for request in [&handshake, &models] {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {}", tokens.access_token).as_str())
        );
        assert_eq!(request.header("chatgpt-account-id"), Some("acct-1"));
        assert_eq!(request.header("originator"), Some("codex_cli_rs"));
    }

    let json = home.run(&["doctor", "--json"]).ok().json();
    let backend = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backend")
        .unwrap()
        .clone();
    assert_eq!(backend["status"], "ok");
    assert_eq!(backend["url"], models_url.as_str());
    assert_eq!(backend["http_status"], 200);
    assert_eq!(backend["transport"], "websocket");
    assert!(backend.get("class").is_none(), "{backend}");
    // The other checks are still there, in their shape.
    for name in ["config", "auth", "auth openai-codex"] {
        assert!(
            json["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name),
            "no {name} check: {json}"
        );
    }
    for text in [&human.stdout, &human.stderr, &json.to_string()] {
        assert!(
            !text.contains(&tokens.access_token) && !text.contains(&tokens.refresh_token),
            "a token leaked: {text}"
        );
    }
}

#[test]
fn a_cloudflare_challenge_is_named_with_its_ray_and_what_to_try() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);

    // Challenged on the websocket only: chats still get through over HTTPS, and doctor says so.
    mock.set_websocket(WsMode::Refuse(403));
    let (line, check) = doctor(&home, 0);
    assert_contains(
        &line,
        &["ok    backend: reachable at", "over sse (status 200)"],
    );
    assert_eq!(check["transport"], "sse");

    // Challenged everywhere.
    let base = mock.codex_base_url();
    mock.push_response(MODELS, MockResponse::cloudflare_challenge());
    let human = home.run(&["doctor"]).expect_code(1);
    let line = backend_line(&human);
    assert!(line.starts_with("fail  backend: "), "{line}");
    assert_contains(
        &line,
        &[
            &format!("the backend at {base}/models answered with a Cloudflare challenge"),
            "(HTTP 403, cf-mitigated: challenge, cf-ray 8f0000000000abcd-AMS)",
            "this network is being asked to prove it is a browser",
            "try another network, turn off a VPN or proxy",
            &format!("`curl -I {base}`"),
        ],
    );
    mock.push_response(MODELS, MockResponse::cloudflare_challenge());
    let json = home.run(&["doctor", "--json"]).expect_code(1).json();
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backend")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail");
    assert_eq!(check["class"], "cloudflare_challenge");
    assert_eq!(check["http_status"], 403);
    assert_eq!(check["url"], format!("{base}/models").as_str());
    assert_eq!(check["request_id"], "8f0000000000abcd-AMS");
}

#[test]
fn a_silent_backend_is_a_timeout() {
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    quick_probe(&home);
    let base = format!("http://127.0.0.1:{}/backend-api/codex", silent_port());
    home.set_env("TALARIA_CODEX_BASE_URL", &base);

    let (line, check) = doctor(&home, 1);
    assert!(line.starts_with("fail  backend: "), "{line}");
    assert_contains(
        &line,
        &[
            &format!("no answer from {base}/models within 0.5 s"),
            "check the network connection and any proxy",
        ],
    );
    assert_eq!(check["status"], "fail");
    assert_eq!(check["class"], "timeout");
    assert_eq!(check["url"], format!("{base}/models").as_str());
    assert!(check.get("http_status").is_none(), "{check}");
}

#[test]
fn a_failed_tls_handshake_is_tls_with_its_reason() {
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    // The mock speaks plain HTTP: a TLS client gets garbage back instead of a ServerHello.
    let base = format!("https://127.0.0.1:{}/backend-api/codex", mock.addr().port());
    home.set_env("TALARIA_CODEX_BASE_URL", &base);

    let (line, check) = doctor(&home, 1);
    assert!(line.starts_with("fail  backend: "), "{line}");
    assert_contains(
        &line,
        &[
            &format!("TLS handshake with {base}/models failed: "),
            "intercepts TLS",
            "system clock",
            "certificates",
        ],
    );
    let reason = line
        .split(" failed: ")
        .nth(1)
        .unwrap()
        .split("; check")
        .next()
        .unwrap();
    assert!(!reason.trim().is_empty(), "no reason given: {line}");
    assert_eq!(check["status"], "fail");
    assert_eq!(check["class"], "tls");
    assert_eq!(check["url"], format!("{base}/models").as_str());
}

#[test]
fn a_refused_connection_is_connect_with_its_reason() {
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    // A port nobody listens on any more: the connection is refused at once.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/backend-api/codex");
    home.set_env("TALARIA_CODEX_BASE_URL", &base);

    let (line, check) = doctor(&home, 1);
    assert!(
        line.starts_with(&format!("fail  backend: cannot connect to {base}/models: ")),
        "{line}"
    );
    assert_contains(&line, &["check the network connection"]);
    assert_eq!(check["class"], "connect");
}

#[test]
fn a_401_is_refreshed_once_like_a_chat_would() {
    let mock = MockServer::start();
    let (home, tokens) = signed_in(&mock);
    mock.revoke_access(&tokens.access_token);
    let (line, check) = doctor(&home, 0);
    assert!(line.starts_with("ok    backend: reachable"), "{line}");
    assert_eq!(check["status"], "ok");
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
}

#[test]
fn a_rejected_login_is_auth_and_says_talaria_login() {
    let mock = MockServer::start();
    let (home, tokens) = signed_in(&mock);
    mock.revoke_access(&tokens.access_token);
    // The refresh the provider tries after the 401 is refused for good.
    mock.push_response(
        "/oauth/token",
        MockResponse::error(
            401,
            "refresh_token_reused",
            "Your refresh token has already been used.",
        ),
    );

    let json = home.run(&["doctor", "--json"]).expect_code(1).json();
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backend")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail");
    assert_eq!(check["class"], "auth");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("`talaria login`"),
        "{check}"
    );
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    // The credential is quarantined now: the next doctor says so in the auth check and
    // does not probe, or refresh, again.
    let human = home.run(&["doctor"]).expect_code(1);
    assert_contains(&human.stdout, &["needs re-login", "talaria login"]);
    assert!(
        backend_line(&human).starts_with("skip  backend: not probed"),
        "{}",
        human.stdout
    );
    assert_eq!(
        mock.count("/oauth/token", "refresh_token"),
        1,
        "never refreshed again"
    );
}

#[test]
fn without_a_login_the_backend_is_not_probed() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let (line, check) = doctor(&home, 1);
    assert_eq!(
        line,
        "skip  backend: not probed: not logged in; run `talaria login`"
    );
    assert_eq!(check["status"], "skip");
    assert!(check.get("class").is_none(), "{check}");
    assert!(
        mock.requests()
            .iter()
            .all(|r| !r.path.starts_with("/backend-api")),
        "{:?}",
        mock.requests()
    );
}

#[test]
fn a_disabled_transport_skips_the_probe_and_says_how_to_enable_it() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    home.run(&["plugins", "disable", "responses"]).ok();
    let (line, check) = doctor(&home, 0);
    assert!(line.starts_with("skip  backend: not probed: "), "{line}");
    assert_contains(&line, &["disabled", "talaria plugins enable responses"]);
    assert_eq!(check["status"], "skip");
    assert!(
        mock.requests()
            .iter()
            .all(|r| !r.path.starts_with("/backend-api")),
        "{:?}",
        mock.requests()
    );
}
