//! `talaria chat` on the native runtime through the real binary, the `responses`
//! transport and the `openai-codex` provider, against the mock backend (websocket and
//! SSE on 127.0.0.1).
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value};
use talaria_tests::codex::signed_in;
use talaria_tests::mock::{
    failed_event, function_call_events, text_events, EventScript, MockResponse, MockServer,
    Recorded, WsMode, TITLE_REQUEST,
};
use talaria_tests::{Run, TestHome};

const RESPONSES: &str = "/backend-api/codex/responses";

/// Websocket `response.create` frames of the turns.
fn ws_frames(mock: &MockServer) -> Vec<Recorded> {
    mock.requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "WS" && !is_side_request(r))
        .collect()
}

/// SSE `POST`s of the turns.
fn posts(mock: &MockServer) -> Vec<Recorded> {
    mock.requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "POST" && !is_side_request(r))
        .collect()
}

/// A side task's request (the session title after the first turn): it offers no tools,
/// where a turn's request offers the example tools.
fn is_side_request(r: &Recorded) -> bool {
    r.try_json().is_ok_and(|body| body.get("tools").is_none())
}

/// Short watchdogs and retries so failure paths finish quickly.
fn quick_transport(home: &TestHome, max_retries: u32, extra: &str) {
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        format!("[plugin_config.responses]\nfirst_byte_timeout_ms = 2000\nidle_timeout_ms = 700\nmax_retries = {max_retries}\n{extra}"),
    )
    .unwrap();
}

fn chat(home: &TestHome, args: &[&str]) -> Run {
    let mut all = vec!["chat"];
    all.extend_from_slice(args);
    home.run(&all)
}

#[test]
fn a_plain_answer_goes_to_stdout_only_over_the_websocket() {
    let mock = MockServer::start();
    let (home, tokens) = signed_in(&mock);
    mock.push_script_when(
        TITLE_REQUEST,
        text_events("resp_title", &["Greeting the mock"]),
    );
    let run = chat(&home, &["-q", "Say hello"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");

    // Websocket preferred: a handshake and one response.create frame, no SSE POST.
    let frames = ws_frames(&mock);
    assert_eq!(frames.len(), 1);
    assert!(posts(&mock).is_empty());
    let handshake = mock
        .requests_to(RESPONSES)
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    assert_eq!(
        handshake.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str())
    );
    assert_eq!(handshake.header("chatgpt-account-id"), Some("acct-1"));
    assert_eq!(handshake.header("originator"), Some("codex_cli_rs"));
    assert_eq!(
        handshake.header("openai-beta"),
        Some("responses_websockets=2026-02-06")
    );
    assert!(
        handshake.header("user-agent").is_none(),
        "no User-Agent on the websocket, as the official client"
    );
    let session_id = handshake.header("session_id").unwrap().to_owned();
    for spelling in ["session-id", "thread-id", "x-client-request-id"] {
        assert_eq!(
            handshake.header(spelling),
            Some(session_id.as_str()),
            "{spelling}"
        );
    }

    // The request, field by field.
    let body = frames[0].json();
    assert_eq!(body["type"], "response.create");
    assert_eq!(body["model"], "gpt-5.3-codex");
    assert!(body["instructions"].as_str().unwrap().contains("talaria"));
    // A new session opens with the environment (the coding tools' context), then the prompt.
    let input = body["input"].as_array().unwrap();
    assert_eq!(input.len(), 2, "{input:?}");
    assert!(input[0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("<environment_context>"));
    assert_eq!(
        input[1],
        json!({ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "Say hello" }] })
    );
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["parallel_tool_calls"], true);
    assert_eq!(
        body["reasoning"],
        json!({ "effort": "medium", "summary": "auto" })
    );
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["store"], false);
    assert_eq!(body["stream"], true);
    assert_eq!(body["prompt_cache_key"], session_id);
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // The example tools and the coding tools, in the forms the catalog names for the
    // model (shell_command; not shell, exec_command or write_stdin).
    assert_eq!(
        tools,
        [
            "apply_patch",
            "list_dir",
            "read_file",
            "run_command",
            "shell_command",
            "update_plan",
            "view_image"
        ]
    );
    for absent in [
        "max_output_tokens",
        "temperature",
        "previous_response_id",
        "service_tier",
    ] {
        assert!(body.get(absent).is_none(), "{absent} must not be sent");
    }

    // The title, from the aux router after the turn's own request: one plain HTTPS
    // request with no tools, on the session's provider and model.
    let all = mock.requests_to(RESPONSES);
    let title = all.last().unwrap();
    assert!(is_side_request(title) && title.method == "POST");
    assert!(all.iter().position(|r| r.method == "WS").unwrap() < all.len() - 1);
    assert_eq!(title.json()["model"], "gpt-5.3-codex");
    assert!(title.text().contains("USER: Say hello"), "{}", title.text());

    // The turn is stored, with the title.
    let sessions = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(sessions[0]["id"], session_id);
    assert_eq!(sessions[0]["title"], "Greeting the mock");
    let shown = home.run(&["sessions", "show", &session_id]).ok().stdout;
    assert!(
        shown.contains("Say hello") && shown.contains("Hello from the mock."),
        "{shown}"
    );
}

#[test]
fn fast_mode_asks_for_the_priority_tier_over_sse_with_zstd() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    chat(&home, &["-q", "hi", "--fast"]).ok();
    let post = posts(&mock).pop().unwrap();
    assert_eq!(post.header("content-encoding"), Some("zstd"));
    assert_eq!(post.header("accept"), Some("text/event-stream"));
    assert!(post
        .header("user-agent")
        .unwrap()
        .starts_with("codex_cli_rs/0.169.0"));
    assert_eq!(post.header("version"), Some("0.169.0"));
    let body = post.json();
    assert_eq!(body["service_tier"], "priority");
    assert!(body.get("type").is_none() && body.get("max_output_tokens").is_none());

    // `model.fast` in the profile does the same.
    std::fs::write(
        home.path("config.toml"),
        "[model]\nfast = true\n[plugin_config.responses]\nwebsocket = false\n",
    )
    .unwrap();
    chat(&home, &["-q", "again"]).ok();
    assert_eq!(
        posts(&mock).pop().unwrap().json()["service_tier"],
        "priority"
    );
}

#[test]
fn many_small_deltas_arrive_whole() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let chunks: Vec<String> = (0..3000).map(|i| format!("{} ", i % 10)).collect();
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    mock.push_events(text_events("resp_many", &refs));
    let run = chat(&home, &["-q", "count"]).ok();
    assert_eq!(run.stdout, format!("{}\n", chunks.concat()));
}

#[test]
fn a_refused_websocket_falls_back_to_sse_and_says_so_once() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.set_websocket(WsMode::Refuse(426));
    // A tool round trip makes two model requests in one session.
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        "list_dir",
        r#"{"path":"."}"#,
    ));
    let run = chat(&home, &["-q", "list", "--approvals", "auto"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    let handshakes = mock
        .requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(handshakes, 1, "after a 426 the session stays on SSE");
    assert_eq!(posts(&mock).len(), 2);
    assert_eq!(
        run.stderr
            .matches("Falling back from WebSockets to HTTPS")
            .count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_websocket_refused_for_another_reason_also_falls_back() {
    for status in [404, 502] {
        let mock = MockServer::start();
        let (home, _) = signed_in(&mock);
        mock.set_websocket(WsMode::Refuse(status));
        let run = chat(&home, &["-q", "hi"]).ok();
        assert_eq!(run.stdout, "Hello from the mock.\n", "{status}");
        assert_eq!(posts(&mock).len(), 1, "{status}");
        assert!(
            run.stderr.contains("Falling back from WebSockets to HTTPS"),
            "{status}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_rate_limited_response_failed_waits_the_given_delay_and_retries() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    mock.push_events(vec![failed_event(
        "rate_limit_exceeded",
        "Rate limit reached. Please try again in 28ms.",
    )]);
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(posts(&mock).len(), 2);
}

#[test]
fn a_cloudflare_challenge_on_sse_does_not_matter_while_the_websocket_works() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.challenge_sse(true);
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(ws_frames(&mock).len(), 1);
}

#[test]
fn a_challenge_everywhere_fails_fast_and_names_it() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.set_websocket(WsMode::Refuse(403));
    mock.challenge_sse(true);
    let run = chat(&home, &["-q", "hi"]).expect_code(1);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("Cloudflare"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&mock.codex_base_url()),
        "names the URL: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("doctor") || run.stderr.contains("network"),
        "says what to try: {}",
        run.stderr
    );
    assert_eq!(posts(&mock).len(), 1, "a challenge is not retried");

    let json = chat(&home, &["-q", "hi", "--json"]).expect_code(1);
    let error: Value = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "error")
        .unwrap();
    assert_eq!(error["class"], "cloudflare_challenge");
}

#[test]
fn a_server_error_is_retried() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    mock.push_script(MockResponse::error(500, "server_error", "boom"));
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(posts(&mock).len(), 2);
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    mock.push_script(
        MockResponse::error(429, "rate_limit_exceeded", "Rate limit reached")
            .with_header("retry-after", "1"),
    );
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    let sent = posts(&mock);
    assert_eq!(sent.len(), 2);
}

/// On a pipe the answer still streams: deltas that arrive together may share a write,
/// but text is never held back waiting for more. Here the stream stops after two
/// deltas and stays open; both must reach the pipe while talaria still waits.
#[test]
fn a_pipe_gets_the_text_while_the_stream_is_still_open() {
    use std::io::Read;
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.push_script(EventScript::new(text_events("resp_open", &["Hel", "lo"])).stall_after(4));
    let mut child = home.spawn(&["chat", "-q", "hi"]);
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(seen.clone());
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while seen != "Hello" && std::time::Instant::now() < deadline {
        if let Ok(text) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = text;
        }
    }
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, "Hello", "the streamed text did not reach the pipe");
    assert!(still_running, "the turn ended before the text was checked");
}

#[test]
fn a_stalled_stream_trips_the_watchdog_and_is_retried() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "");
    mock.push_script(EventScript::new(text_events("resp_stall", &["par", "tial"])).stall_after(3));
    let run = chat(&home, &["-q", "hi"]).ok();
    assert!(
        run.stdout.ends_with("Hello from the mock.\n"),
        "{}",
        run.stdout
    );
    assert_eq!(ws_frames(&mock).len(), 2);
}

#[test]
fn a_truncated_stream_is_retried() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    mock.push_script(EventScript::new(text_events("resp_cut", &["cut"])).close_after(2));
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(posts(&mock).len(), 2);
}

#[test]
fn a_malformed_event_is_skipped() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    mock.push_script(
        EventScript::new(text_events("resp_raw", &["fine"]))
            .raw(2, "event: response.output_text.delta\ndata: {not json\n\n"),
    );
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "fine\n");
}

#[test]
fn response_failed_is_classified_for_the_user() {
    let cases = [
        ("context_length_exceeded", "context"),
        ("insufficient_quota", "quota"),
        ("invalid_prompt", "invalid"),
        ("server_is_overloaded", "overloaded"),
    ];
    for (code, words) in cases {
        let mock = MockServer::start();
        let (home, _) = signed_in(&mock);
        quick_transport(&home, 0, "");
        mock.push_events(vec![failed_event(code, &format!("{code} happened"))]);
        let run = chat(&home, &["-q", "hi", "--json"]).expect_code(1);
        let lines: Vec<Value> = run
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let error = lines
            .iter()
            .find(|l| l["type"] == "error")
            .unwrap_or_else(|| panic!("{code}: {}", run.stdout));
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(words),
            "{code}: {error}"
        );
    }
}

#[test]
fn a_tool_call_round_trip_with_the_approval_accepted() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        "run_command",
        r#"{"command":"echo tool-ran"}"#,
    ));
    let run = chat(&home, &["-q", "run it", "--approvals", "auto", "--json"]).ok();
    let types: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for t in [
        "session",
        "tool_call",
        "approval_request",
        "approval_decision",
        "tool_result",
        "text_delta",
        "turn_completed",
    ] {
        assert!(types.iter().any(|x| x == t), "missing {t}: {types:?}");
    }
    let frames = ws_frames(&mock);
    assert_eq!(frames.len(), 2);
    // The second request continues the first on the same socket.
    let second = frames[1].json();
    assert_eq!(second["previous_response_id"], "resp_1");
    let input = second["input"].as_array().unwrap();
    let output = input
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .unwrap();
    assert_eq!(output["call_id"], "call_1");
    assert!(
        output["output"].as_str().unwrap().contains("tool-ran"),
        "{output}"
    );
}

#[test]
fn a_declined_or_unattended_approval_is_reported_to_the_model() {
    for (mode, words) in [("deny", "declined"), ("ask", "no terminal")] {
        let mock = MockServer::start();
        let (home, _) = signed_in(&mock);
        quick_transport(&home, 2, "websocket = false\n");
        mock.push_events(function_call_events(
            "resp_1",
            "call_1",
            "run_command",
            r#"{"command":"touch should-not-exist"}"#,
        ));
        let run = chat(&home, &["-q", "run it", "--approvals", mode]).ok();
        assert!(run.stderr.contains(words), "{mode}: {}", run.stderr);
        let second = posts(&mock).pop().unwrap().json();
        let output = second["input"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call_output")
            .unwrap()
            .clone();
        assert!(
            output["output"].as_str().unwrap().contains("declined"),
            "{mode}: {output}"
        );
        assert_eq!(run.stdout, "Hello from the mock.\n");
    }
}

#[test]
fn ctrl_c_mid_stream_stops_the_turn_and_keeps_the_partial_answer() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.push_script(
        EventScript::new(text_events("resp_slow", &["partial ", "answer"])).stall_after(3),
    );
    let child = home.spawn(&["chat", "-q", "hi"]);
    // Wait until the partial text has been sent, then interrupt.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ws_frames(&mock).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    // The shell's builtin kill: no procps needed on the CI machine.
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let run = Run::wait(child);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert_eq!(run.stdout.trim_end(), "partial");
    let sessions = home.run(&["sessions", "list", "--json"]).ok().json();
    let shown = home
        .run(&[
            "sessions",
            "show",
            sessions[0]["id"].as_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["content"], "partial ");
}

#[test]
fn the_fallback_model_takes_over_and_stderr_says_why() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(
        &home,
        0,
        "websocket = false\n[fallback_model]\nprovider = \"openai-codex\"\nmodel = \"gpt-5.5\"\n",
    );
    mock.push_script(MockResponse::error(
        503,
        "server_error",
        "overloaded upstream",
    ));
    let run = chat(&home, &["-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert!(
        run.stderr.contains("fallback") && run.stderr.contains("gpt-5.5"),
        "{}",
        run.stderr
    );
    let models: Vec<String> = posts(&mock)
        .iter()
        .map(|p| p.json()["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(models, ["gpt-5.3-codex", "gpt-5.5"]);
}

#[test]
fn json_events_follow_the_schema() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let run = chat(&home, &["-q", "hi", "--json"]).ok();
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0]["type"], "session");
    for key in ["id", "provider", "model", "runtime"] {
        assert!(lines[0][key].is_string(), "session.{key}: {}", lines[0]);
    }
    let deltas: String = lines
        .iter()
        .filter(|l| l["type"] == "text_delta")
        .map(|l| l["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Hello from the mock.");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "turn_completed");
    assert_eq!(last["text"], "Hello from the mock.");
    assert_eq!(last["usage"]["input_tokens"], 12);
    assert!(last["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn continue_sends_the_earlier_turns() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    chat(&home, &["-q", "first question"]).ok();
    chat(&home, &["-q", "second question", "-c"]).ok();
    let second = posts(&mock).pop().unwrap().json();
    let texts: Vec<String> = second["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .skip(1) // the environment context that opened the session
        .collect();
    assert_eq!(
        texts,
        ["first question", "Hello from the mock.", "second question"]
    );
    let sessions = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    home.run(&["chat", "-q", "x", "--resume", "nope"])
        .expect_code(2);
}

/// The REPL on a real terminal (`script` gives it a pty): slash commands, a turn, the
/// session kept across turns, and Ctrl+D to leave.
#[test]
fn the_repl_runs_turns_and_slash_commands_on_a_terminal() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    let lines = [
        "/help",
        "/fast",
        "/model gpt-5.5",
        "first question",
        "second question",
        "/tools",
        "/sessions",
    ];
    let (run, screen) = home.type_into_repl(&lines, Duration::from_millis(400));
    assert_eq!(run.code, 0, "{screen}");
    assert!(screen.contains("/resume [ID]"), "help: {screen}");
    assert!(screen.contains("fast mode on"), "{screen}");
    assert!(screen.contains("run_command"), "tools: {screen}");
    assert_eq!(
        screen.matches("Hello from the mock.").count(),
        2,
        "{screen}"
    );
    let sent = posts(&mock);
    assert_eq!(sent.len(), 2);
    let second = sent[1].json();
    assert_eq!(second["model"], "gpt-5.5");
    assert_eq!(second["service_tier"], "priority");
    assert_eq!(
        second["input"].as_array().unwrap().len(),
        4,
        "the second turn carries the first (and the environment context before it)"
    );
    let sessions = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

/// The approval prompt on a real terminal: allow once, allow for the session (the same
/// command is not asked again), deny, and cancel the turn, each answered as typed.
#[test]
fn the_repl_approval_prompt_offers_once_session_and_deny() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    quick_transport(&home, 2, "websocket = false\n");
    for (i, command) in [
        "echo one",
        "echo two",
        "echo three",
        "echo two",
        "echo five",
    ]
    .iter()
    .enumerate()
    {
        mock.push_events(function_call_events(
            &format!("resp_call_{i}"),
            &format!("call_{i}"),
            "run_command",
            &format!(r#"{{"command":"{command}"}}"#),
        ));
        mock.push_events(text_events(&format!("resp_text_{i}"), &["done"]));
    }
    // The title after the first turn is answered apart from the turns' scripts.
    mock.push_script_when(TITLE_REQUEST, text_events("resp_title", &["Tools"]));
    let lines = [
        "first", "y", "second", "a", "third", "n", "fourth", "fifth", "c", "",
    ];
    let (run, screen) = home.type_into_repl(&lines, Duration::from_millis(700));
    assert_eq!(run.code, 0, "{screen}");
    assert_eq!(
        screen
            .matches("Allow? [y] once, [a] for this session, [N] no")
            .count(),
        4,
        "{screen}"
    );
    assert!(
        screen.contains("(interrupted; the partial answer is kept)"),
        "cancel ends the turn: {screen}"
    );
    assert!(screen.contains("wants to run `echo one`"), "{screen}");

    // What each tool call answered, as the model was told right after it.
    let outputs: Vec<String> = posts(&mock)
        .iter()
        .filter_map(|p| {
            let body = p.json();
            let last = body["input"].as_array()?.last()?.clone();
            (last["type"] == "function_call_output")
                .then(|| last["output"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert_eq!(outputs.len(), 4, "{outputs:?}");
    assert!(outputs[0].contains("one"), "{outputs:?}");
    assert!(outputs[1].contains("two"), "{outputs:?}");
    assert!(outputs[2].contains("declined"), "{outputs:?}");
    assert!(
        outputs[3].contains("two") && !outputs[3].contains("declined"),
        "accepted for the session: {outputs:?}"
    );
    assert_eq!(
        posts(&mock).len(),
        9,
        "the cancelled turn sends nothing after the tool call"
    );
}
