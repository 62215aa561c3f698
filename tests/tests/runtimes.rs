//! The seam, proven by plugins the host has never heard of: a third-party runtime and a
//! provider serving two ids (fixtures under tests/fixtures, built only against the SDK,
//! installed with `talaria plugins install`), and credentials scoped per plugin.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use talaria_tests::codex::signed_in;
use talaria_tests::mock::{MockServer, TITLE_REQUEST};
use talaria_tests::{Run, TestHome};

const RESPONSES: &str = "/backend-api/codex/responses";

/// Installs a fixture the way a user installs a plugin.
fn install(home: &TestHome, fixture: &str, package: &str) {
    let folder = home.plugin_folder(
        &home.dir.path().join("build").join(fixture),
        &format!("tests/fixtures/{fixture}"),
        package,
        |m| m,
    );
    let run = home
        .run(&["plugins", "install", folder.to_str().unwrap()])
        .ok();
    assert!(
        run.stderr.contains("native code") && run.stderr.contains("credentials it may read"),
        "{}",
        run.stderr
    );
}

fn relay_home(mock: &MockServer) -> TestHome {
    let (home, _) = signed_in(mock);
    install(&home, "relay-runtime", "talaria-fixture-relay-runtime");
    install(&home, "word-tools", "talaria-fixture-word-tools");
    // SSE only, so each model request is one recorded POST.
    std::fs::write(
        home.path("config.toml"),
        "[plugin_config.responses]\nwebsocket = false\n",
    )
    .unwrap();
    home
}

fn json_lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_third_party_runtime_is_installed_listed_and_runs_turns_through_the_host() {
    let mock = MockServer::start();
    let home = relay_home(&mock);

    let runtimes = home.run(&["runtime", "list", "--json"]).ok().json();
    let relay = runtimes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "relay")
        .expect("relay listed");
    assert_eq!(relay["plugin"], "relay-runtime");
    assert!(runtimes
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "auto" && r["plugin"] == "agent-loop"));

    // The answer streams from the model through `model.stream`; the approval is granted,
    // so the host's `count_words` tool (another third-party plugin) counts it.
    let first = home
        .run(&[
            "chat",
            "-q",
            "Say hello",
            "--runtime",
            "relay",
            "--approvals",
            "auto",
        ])
        .ok();
    assert_eq!(
        first.stdout,
        "Hello from the mock.\n[relay turn 1, policy on-request: 4 words]\n"
    );
    // The turn's request, then the session title's (the aux router, on the same model).
    let sent = mock.requests_to(RESPONSES);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json()["instructions"], "You are relay.");
    assert!(sent[1].text().contains(TITLE_REQUEST), "{}", sent[1].text());

    // `-c` continues the session on the runtime that made it, with its saved state and
    // the stored items.
    let second = home
        .run(&["chat", "-c", "-q", "again", "--approvals", "deny"])
        .ok();
    assert_eq!(
        second.stdout,
        "Hello from the mock.\n[relay turn 2, policy on-request: not counted]\n"
    );
    assert!(second.stderr.contains("declined"), "{}", second.stderr);
    let input = mock.requests_to(RESPONSES)[2].json()["input"].clone();
    let texts: Vec<&str> = input
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Say hello",
            "Hello from the mock.\n[relay turn 1, policy on-request: 4 words]",
            "again"
        ]
    );

    let sessions = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["runtime"], "relay");
    let shown = home
        .run(&[
            "sessions",
            "show",
            sessions[0]["id"].as_str().unwrap(),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(shown["tool_calls"][0]["name"], "count_words");
    assert_eq!(shown["tool_calls"][0]["output"], "4");
}

#[test]
fn a_third_party_runtime_reports_its_approvals_and_tools_as_events() {
    let mock = MockServer::start();
    let home = relay_home(&mock);
    let run = home
        .run(&[
            "chat",
            "-q",
            "hi",
            "--runtime",
            "relay",
            "--approvals",
            "auto",
            "--json",
        ])
        .ok();
    let lines = json_lines(&run);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    let at = |t: &str| {
        types
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("no {t}: {types:?}"))
    };
    assert_eq!(at("session"), 0);
    assert!(at("text_delta") < at("approval_request"));
    assert!(
        at("approval_request") < at("approval_decision")
            && at("approval_decision") < at("tool_call")
    );
    assert!(at("tool_call") < at("tool_result"));
    assert_eq!(*types.last().unwrap(), "turn_completed");
    let request = &lines[at("approval_request")]["request"];
    assert_eq!(
        (
            request["kind"].as_str(),
            request["call_id"].as_str(),
            request["plugin"].as_str()
        ),
        (Some("exec"), Some("relay-1"), Some("relay-runtime"))
    );
    assert_eq!(lines[at("approval_decision")]["decision"], "accept");
    assert_eq!(lines[0]["runtime"], "relay");
}

#[test]
fn a_section_the_runtime_owns_reaches_it_and_its_errors_name_file_line_and_key() {
    let mock = MockServer::start();
    let home = relay_home(&mock);
    let config = home.path("config.toml");
    let shown = config.display().to_string();

    std::fs::write(
        &config,
        "[plugin_config.responses]\nwebsocket = false\n\n[relay]\nlabel = \"echo\"\n",
    )
    .unwrap();
    let run = home
        .run(&[
            "chat",
            "-q",
            "hi",
            "--runtime",
            "relay",
            "--approvals",
            "deny",
        ])
        .ok();
    assert!(
        run.stdout
            .ends_with("[echo turn 1, policy on-request: not counted]\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        mock.requests_to(RESPONSES)[0].json()["instructions"],
        "You are echo."
    );

    // The plugin finds the value wrong; the host says where.
    std::fs::write(&config, "# relay settings\n[relay]\nlabel = 5\n").unwrap();
    let run = home
        .run(&["chat", "-q", "hi", "--runtime", "relay"])
        .expect_code(2);
    assert!(
        run.stderr.contains(&shown) && run.stderr.contains("line 2, key relay"),
        "{}",
        run.stderr
    );

    // A section nobody claims is a typo, not silently ignored.
    std::fs::write(&config, "[model]\n[relya]\nlabel = \"x\"\n").unwrap();
    let run = home
        .run(&["chat", "-q", "hi", "--runtime", "relay"])
        .expect_code(2);
    assert!(
        run.stderr.contains("line 2, key relya") && run.stderr.contains("unknown section [relya]"),
        "{}",
        run.stderr
    );
    assert_eq!(
        mock.requests_to(RESPONSES).len(),
        2,
        "the turn and its title"
    );
    // Installing a plugin, the way to make such a section valid, still works; it warns.
    home.run(&["plugins", "list"]).expect_code(2);
    let folder = home.dir.path().join("build").join("relay-runtime");
    let install = home
        .run(&["plugins", "install", "--force", folder.to_str().unwrap()])
        .ok();
    assert!(
        install.stderr.contains("warning:") && install.stderr.contains("[relya]"),
        "{}",
        install.stderr
    );
}

#[test]
fn a_provider_transport_must_be_one_a_plugin_provides() {
    let home = TestHome::new();
    std::fs::create_dir_all(home.root()).unwrap();
    let table = |transport: &str| {
        format!("[providers.local]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\ntransport = \"{transport}\"\n")
    };
    std::fs::write(home.path("config.toml"), table("grpc")).unwrap();
    let run = home.run(&["runtime", "list"]).expect_code(2);
    assert!(
        run.stderr.contains("line 4, key providers.local.transport")
            && run.stderr.contains("\"grpc\""),
        "{}",
        run.stderr
    );
    // `responses` comes from the first-party transport plugin.
    std::fs::write(home.path("config.toml"), table("responses")).unwrap();
    home.run(&["runtime", "list"]).ok();
}

#[test]
fn a_disabled_runtime_or_runtime_plugin_is_refused_by_name() {
    let mock = MockServer::start();
    let home = relay_home(&mock);
    home.run(&["runtime", "disable", "relay"]).ok();
    let run = home
        .run(&["chat", "-q", "hi", "--runtime", "relay"])
        .expect_code(2);
    assert!(
        run.stderr.contains("runtime relay is disabled")
            && run.stderr.contains("talaria runtime enable relay"),
        "{}",
        run.stderr
    );
    home.run(&["runtime", "enable", "relay"]).ok();
    home.run(&["plugins", "disable", "relay-runtime"]).ok();
    let run = home
        .run(&["chat", "-q", "hi", "--runtime", "relay"])
        .expect_code(2);
    assert!(
        run.stderr.contains("talaria plugins enable relay-runtime"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_provider_plugin_serves_two_provider_ids() {
    let mock = MockServer::start();
    mock.set_api_key("sk-twin");
    let mut home = TestHome::new();
    home.set_env("TWIN_BASE_URL", mock.openai_base_url());
    home.set_env("TWIN_API_KEY", "sk-twin");
    install(&home, "twin-provider", "talaria-fixture-twin-provider");
    for id in ["twin-a", "twin-b"] {
        let models = home
            .run(&["models", "--provider", id, "--json"])
            .ok()
            .json();
        assert_eq!(
            models["models"][0]["slug"],
            format!("{id}-model"),
            "{models}"
        );
    }
    let run = home
        .run(&[
            "chat",
            "-q",
            "hi",
            "--provider",
            "twin-b",
            "-m",
            "twin-b-model",
        ])
        .ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    let sent = mock.requests_to("/v1/responses");
    assert_eq!(sent.len(), 2, "the turn, then the title");
    for request in &sent {
        assert_eq!(request.header("x-twin"), Some("twin-b"));
        assert_eq!(request.json()["model"], "twin-b-model");
    }
    let sessions = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(sessions[0]["provider"], "twin-b");
    // `-c` uses (and checks the login of) the session's provider, not the profile's
    // `openai-codex`, which has no login in this home.
    let again = home.run(&["chat", "-c", "-q", "again"]).ok();
    assert_eq!(again.stdout, "Hello from the mock.\n");
    let sent = mock.requests_to("/v1/responses");
    assert_eq!((sent.len(), sent[2].header("x-twin")), (3, Some("twin-b")));
    assert_eq!(sent[2].json()["model"], "twin-b-model");
    let unknown = home.run(&["models", "--provider", "twin-c"]).expect_code(2);
    assert!(unknown.stderr.contains("twin-c"), "{}", unknown.stderr);
}

#[test]
fn a_tool_plugin_cannot_read_or_change_another_providers_credentials() {
    let mock = MockServer::start();
    let (home, tokens) = signed_in(&mock);
    install(&home, "word-tools", "talaria-fixture-word-tools");
    let before = std::fs::read(home.path("auth.json")).unwrap();
    let run = home
        .run(&["plugins", "call", "word-tools", "peek_codex"])
        .ok();
    assert!(
        run.stdout.contains(
            "read refused: plugin word-tools may not use the credentials of \"openai-codex\""
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("write refused"), "{}", run.stdout);
    assert!(
        !run.stdout.contains(&tokens.refresh_token) && !run.stdout.contains(&tokens.access_token)
    );
    assert_eq!(
        std::fs::read(home.path("auth.json")).unwrap(),
        before,
        "auth.json untouched"
    );
    // Its own namespace still works.
    home.run(&[
        "plugins",
        "call",
        "word-tools",
        "remember",
        r#"{"value": "mine"}"#,
    ])
    .ok();
    assert_eq!(
        home.run(&["plugins", "call", "word-tools", "recall"])
            .ok()
            .stdout,
        "mine\n"
    );
    // And openai-codex, which declares the provider, still serves chats.
    assert_eq!(
        home.run(&["chat", "-q", "hi"]).ok().stdout,
        "Hello from the mock.\n"
    );
    let info = home.run(&["plugins", "info", "word-tools"]).ok().stdout;
    assert!(
        info.contains("credentials it may read and change: word-tools")
            && info.contains("native code"),
        "{info}"
    );
}
