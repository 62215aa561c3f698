//! The `codex_app_server` runtime against the real Codex CLI (installed by
//! `.ci/install-codex`), whose custom model provider is the mock's `/v1/responses`.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use talaria_tests::codex_cli::CodexHome;
use talaria_tests::mock::{text_events, MockServer};
use talaria_tests::Run;

const RESPONSES: &str = "/v1/responses";

fn json_lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_plain_turn_streams_the_answer_from_codex() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(text_events("r1", &["Hello", " from", " codex."]));
    let run = codex.run(&["chat", "-q", "Say hello", "--json"]);
    eprintln!("{}\n{}", run.stdout, run.stderr);
    let run = run.ok();
    let events = json_lines(&run);
    let deltas: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["Hello", " from", " codex."]);
    let posts = mock.requests_to(RESPONSES);
    assert_eq!(posts.len(), 1);
    let body = posts[0].json();
    eprintln!("{}", serde_json::to_string_pretty(&body["tools"]).unwrap());
}
