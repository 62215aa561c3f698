//! The one event schema: `docs/events.schema.json` is generated from the types, and
//! what `chat --json` prints validates against it.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use talaria_tests::artifacts::workspace_root;
use talaria_tests::codex::signed_in;
use talaria_tests::mock::{failed_event, function_call_events, MockServer};

fn schema_path() -> std::path::PathBuf {
    workspace_root().join("docs/events.schema.json")
}

/// Regenerate with `TALARIA_BLESS=1 cargo nextest run -p talaria-tests --test events`.
#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&talaria_plugin_api::payload::event_schema()).unwrap()
    );
    if std::env::var_os("TALARIA_BLESS").is_some() {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/events.schema.json is stale; regenerate it with TALARIA_BLESS=1 (see this test)"
    );
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn check(validator: &jsonschema::Validator, stdout: &str) -> Vec<String> {
    let mut types = Vec::new();
    for line in stdout.lines() {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let errors: Vec<String> = validator
            .iter_errors(&event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{line}\n{}", errors.join("\n"));
        types.push(event["type"].as_str().unwrap().to_owned());
    }
    types
}

#[test]
fn chat_json_output_validates_against_the_schema() {
    let validator = validator();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        "run_command",
        r#"{"command":"echo schema"}"#,
    ));
    let run = home
        .run(&["chat", "-q", "run it", "--approvals", "auto", "--json"])
        .ok();
    let types = check(&validator, &run.stdout);
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

    // A failed turn: the `error` event with its class.
    std::fs::write(
        home.path("config.toml"),
        "[plugin_config.responses]\nmax_retries = 0\n",
    )
    .unwrap();
    mock.push_events(vec![failed_event("context_length_exceeded", "too long")]);
    let failed = home.run(&["chat", "-q", "hi", "--json"]).expect_code(1);
    let types = check(&validator, &failed.stdout);
    assert_eq!(types.last().map(String::as_str), Some("error"));

    // Something the schema forbids is caught (the check is not vacuous).
    let bad: Value = serde_json::json!({"type": "turn_completed", "text": 3});
    assert!(!validator.is_valid(&bad));
}
