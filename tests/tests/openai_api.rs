//! The `openai-api` provider: an API key from the environment, no login, its own base URL.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talaria_tests::mock::MockServer;
use talaria_tests::TestHome;

const KEY: &str = "sk-test-0123456789abcdef";

#[test]
fn models_come_from_the_configured_base_url_with_the_key() {
    let mock = MockServer::start();
    mock.set_api_key(KEY);
    let mut home = TestHome::new();
    home.set_env("TALARIA_OPENAI_BASE_URL", mock.openai_base_url());
    home.set_env("OPENAI_API_KEY", KEY);

    let run = home
        .run(&["models", "--provider", "openai-api", "--json"])
        .ok();
    let out = run.json();
    assert_eq!(out["provider"], "openai-api");
    assert_eq!(out["source"], "live");
    let requests = mock.requests_to("/v1/models");
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(
        requests[0].header("chatgpt-account-id").is_none(),
        "ChatGPT headers stay with openai-codex"
    );

    let listed = home
        .run(&["auth", "list", "--provider", "openai-api", "--json"])
        .ok();
    assert_eq!(listed.json()[0]["source"], "env");
    for text in [&run.stdout, &run.stderr, &listed.stdout, &listed.stderr] {
        assert!(!text.contains(KEY), "the key is never printed");
    }
}

#[test]
fn without_a_key_chat_exits_3_and_names_the_variable() {
    let home = TestHome::new();
    let run = home
        .run(&["chat", "--provider", "openai-api", "-q", "hi"])
        .expect_code(3);
    assert!(run.stderr.contains("OPENAI_API_KEY"), "{}", run.stderr);
    let login = home.run(&["login", "--provider", "openai-api"]);
    assert_eq!(login.code, 2, "{}", login.stderr);
    assert!(login.stderr.contains("OPENAI_API_KEY"));
}
