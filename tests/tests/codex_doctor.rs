//! `talaria doctor` with the codex runtime: the plugin's own checks (`doctor.checks`) of
//! the real Codex CLI's binary, version and account, shown with the host's checks, and
//! none of them failing a profile that does not run turns in codex.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use talaria_tests::codex_cli::{CodexHome, CODEX_VERSION};
use talaria_tests::mock::MockServer;

/// The check called `name` in `doctor --json`'s output.
fn check<'a>(doctor: &'a Value, name: &str) -> &'a Value {
    doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {doctor:#}"))
}

fn doctor(codex: &CodexHome) -> (i32, Value) {
    let run = codex.run(&["doctor", "--json"]);
    let code = run.code;
    (code, run.json())
}

#[test]
fn a_codex_that_needs_no_login_passes_both_checks() {
    let mock = MockServer::start();
    // Codex on the mock's API-key provider: no OpenAI login needed.
    let codex = CodexHome::new(&mock, "");
    let (_, out) = doctor(&codex);
    let binary = check(&out, "codex");
    assert_eq!(binary["status"], "ok", "{binary}");
    assert!(
        binary["detail"].as_str().unwrap().contains(CODEX_VERSION),
        "{binary}"
    );
    let account = check(&out, "codex account");
    assert_eq!(account["status"], "ok", "{account}");
    assert!(
        account["detail"]
            .as_str()
            .unwrap()
            .contains("no OpenAI login needed"),
        "{account}"
    );
}

#[test]
fn a_signed_out_codex_fails_its_account_check_naming_how_to_sign_in() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    // Codex on its default (OpenAI) provider with no auth.json: signed out.
    std::fs::write(
        codex.codex_home.join("config.toml"),
        "[features]\nplugins = false\n\n[analytics]\nenabled = false\n",
    )
    .unwrap();
    let (code, out) = doctor(&codex);
    assert_eq!(check(&out, "codex")["status"], "ok");
    let account = check(&out, "codex account");
    assert_eq!(account["status"], "fail", "{account}");
    assert!(
        account["detail"]
            .as_str()
            .unwrap()
            .contains("talaria codex-runtime on"),
        "{account}"
    );
    assert_eq!(code, 1);

    // The same in the human-readable report.
    let run = codex.run(&["doctor"]);
    assert!(
        run.stdout
            .contains("fail  codex account: codex is not signed in"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_codex_fails_naming_the_npm_install() {
    let mock = MockServer::start();
    let mut codex = CodexHome::new(&mock, "");
    codex
        .home
        .set_env("TALARIA_CODEX_BIN", "/nonexistent/codex");
    let (code, out) = doctor(&codex);
    let binary = check(&out, "codex");
    assert_eq!(binary["status"], "fail", "{binary}");
    let detail = binary["detail"].as_str().unwrap();
    assert!(detail.contains("npm install -g @openai/codex"), "{detail}");
    assert!(detail.contains("/nonexistent/codex"), "{detail}");
    assert_eq!(check(&out, "codex account")["status"], "skip");
    assert_eq!(code, 1);
}

#[test]
fn a_profile_on_the_native_runtime_does_not_need_codex() {
    let mock = MockServer::start();
    let mut codex = CodexHome::with_runtime(&mock, "auto", "");
    codex
        .home
        .set_env("TALARIA_CODEX_BIN", "/nonexistent/codex");
    let (_, out) = doctor(&codex);
    let binary = check(&out, "codex");
    assert_eq!(binary["status"], "skip", "{binary}");
    assert!(
        binary["detail"]
            .as_str()
            .unwrap()
            .contains("talaria codex-runtime on"),
        "{binary}"
    );
    assert!(
        out["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "codex account"),
        "{out:#}"
    );
}
