//! `talaria codex-runtime on|off|auto|status|migrate` with the real Codex CLI: the version
//! check (exit 4, nothing written), the profile setting, and the managed block in
//! `$CODEX_HOME/config.toml`.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use talaria_tests::codex_cli::CodexHome;
use talaria_tests::mock::{MockResponse, MockServer, CLIENT_ID};

const BEGIN: &str =
    "# managed by talaria — `talaria codex-runtime migrate` regenerates this section";
const END: &str = "# end talaria managed section";

const SERVERS: &str = r#"
[mcp_servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
timeout = 45

[mcp_servers.remote]
url = "http://127.0.0.1:9/mcp"
enabled = false
"#;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn codex_config(codex: &CodexHome) -> std::path::PathBuf {
    codex.codex_home.join("config.toml")
}

#[test]
fn on_checks_codex_migrates_and_switches_the_profile_every_time() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "auto", SERVERS);
    let user_part = read(&codex_config(&codex));
    let run = codex.run(&["codex-runtime", "on"]).ok();
    assert!(
        run.stdout.contains("0.171.0") || run.stdout.contains("signed in"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("MCP servers: files, remote, talaria-tools"),
        "{}",
        run.stdout
    );
    let config = read(&codex.home.path("config.toml"));
    assert!(
        config.contains("runtime = \"codex_app_server\""),
        "{config}"
    );

    let text = read(&codex_config(&codex));
    assert_eq!(text.matches(BEGIN).count(), 1);
    // The user's part is kept byte for byte; the block goes before the first table.
    let start = text.find(BEGIN).unwrap();
    let end = text.find(END).unwrap() + END.len() + 1;
    assert_eq!(format!("{}{}", &text[..start], &text[end..]), user_part);
    assert!(start < text.find("[model_providers.mock]").unwrap());
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(doc["default_permissions"].as_str(), Some(":workspace"));
    assert_eq!(doc["model_provider"].as_str(), Some("mock"));
    let servers = doc["mcp_servers"].as_table().unwrap();
    assert_eq!(servers["files"]["tool_timeout_sec"].as_float(), Some(45.0));
    assert_eq!(servers["remote"]["enabled"].as_bool(), Some(false));
    let tools = &servers["talaria-tools"];
    let exe = std::path::Path::new(tools["command"].as_str().unwrap());
    assert!(exe.is_absolute() && exe.ends_with("talaria"), "{tools}");
    let args: Vec<&str> = tools["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["mcp", "serve"]);
    assert_eq!(
        tools["env"]["TALARIA_HOME"].as_str(),
        Some(codex.home.root().to_str().unwrap())
    );

    // Already on: `on` migrates again (a server added since shows up), idempotently.
    std::fs::write(
        codex.home.path("config.toml"),
        format!("{config}\n[mcp_servers.later]\ncommand = \"later-server\"\n"),
    )
    .unwrap();
    let run = codex.run(&["codex-runtime", "on"]).ok();
    assert!(run.stdout.contains("later"), "{}", run.stdout);
    let once = read(&codex_config(&codex));
    codex.run(&["codex-runtime", "migrate"]).ok();
    assert_eq!(read(&codex_config(&codex)), once);

    // Codex itself accepts the result: a turn runs with the migrated config.
    let status = codex.run(&["codex-runtime", "status"]).ok();
    assert!(
        status.stdout.contains("runtime: codex_app_server"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("present"), "{}", status.stdout);
}

#[test]
fn off_and_auto_go_back_to_the_native_runtime_and_leave_the_block() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "auto", "");
    codex.run(&["codex-runtime", "on"]).ok();
    let block = read(&codex_config(&codex));
    for spelling in ["off", "auto"] {
        codex.run(&["codex-runtime", "on"]).ok();
        let home = codex.run(&["codex-runtime", spelling]).ok();
        assert!(home.stdout.contains("native runtime"), "{}", home.stdout);
        let config = read(&codex.home.path("config.toml"));
        assert!(config.contains("runtime = \"auto\""), "{config}");
        assert_eq!(read(&codex_config(&codex)), block);
    }
    // `off` never looks at codex: it works with codex gone.
    let mut gone = CodexHome::with_runtime(&mock, "codex_app_server", "");
    gone.home.set_env("TALARIA_CODEX_BIN", "/nonexistent/codex");
    gone.run(&["codex-runtime", "off"]).ok();
}

#[test]
fn codex_missing_or_too_old_is_exit_4_and_nothing_is_written() {
    let mock = MockServer::start();
    let mut codex = CodexHome::with_runtime(&mock, "auto", SERVERS);
    let talaria_before = read(&codex.home.path("config.toml"));
    let codex_before = read(&codex_config(&codex));
    codex
        .home
        .set_env("TALARIA_CODEX_BIN", "/nonexistent/codex");
    let run = codex.run(&["codex-runtime", "on"]).expect_code(4);
    assert!(
        run.stderr.contains("npm install -g @openai/codex"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("/nonexistent/codex"), "{}", run.stderr);
    assert_eq!(read(&codex.home.path("config.toml")), talaria_before);
    assert_eq!(read(&codex_config(&codex)), codex_before);

    // A codex older than the minimum.
    let old = codex.home.dir.path().join("old-codex");
    std::fs::write(&old, "#!/bin/sh\necho 'codex-cli 0.120.0'\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    codex.home.set_env("TALARIA_CODEX_BIN", &old);
    let run = codex.run(&["codex-runtime", "on"]).expect_code(4);
    assert!(
        run.stderr.contains("0.120.0") && run.stderr.contains("0.125.0"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("npm install -g @openai/codex"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&codex.home.path("config.toml")), talaria_before);
    assert_eq!(read(&codex_config(&codex)), codex_before);
}

#[test]
fn an_invalid_or_read_only_codex_config_is_refused_with_exit_2() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "auto", "");
    let talaria_before = read(&codex.home.path("config.toml"));
    let path = codex_config(&codex);
    let valid = read(&path);

    std::fs::write(&path, "model = \"unterminated\n").unwrap();
    let run = codex.run(&["codex-runtime", "migrate"]).expect_code(2);
    assert!(run.stderr.contains("not valid TOML"), "{}", run.stderr);
    assert_eq!(read(&path), "model = \"unterminated\n");
    let run = codex.run(&["codex-runtime", "on"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(&codex.home.path("config.toml")), talaria_before);

    std::fs::write(&path, &valid).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = codex.run(&["codex-runtime", "migrate"]).expect_code(2);
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert_eq!(read(&path), valid);
}

#[test]
fn a_named_profile_registers_talaria_tools_with_its_name() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "auto", "");
    codex.run(&["profile", "create", "work"]).ok();
    std::fs::write(
        codex.home.path("profiles/work/config.toml"),
        read(&codex.home.path("config.toml")),
    )
    .unwrap();
    codex.run(&["-p", "work", "codex-runtime", "on"]).ok();
    let doc: toml::Table = toml::from_str(&read(&codex_config(&codex))).unwrap();
    let tools = &doc["mcp_servers"]["talaria-tools"];
    let args: Vec<&str> = tools["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["mcp", "serve", "-p", "work"]);
    assert_eq!(
        tools["env"]["TALARIA_HOME"].as_str(),
        Some(codex.home.root().to_str().unwrap())
    );
    let work = read(&codex.home.path("profiles/work/config.toml"));
    assert!(work.contains("runtime = \"codex_app_server\""), "{work}");
    let default = read(&codex.home.path("config.toml"));
    assert!(default.contains("runtime = \"auto\""), "{default}");
}

#[test]
fn an_unknown_spelling_of_the_runtime_is_an_error_naming_the_valid_ids() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "codex-app-server", "");
    let run = codex.run(&["chat", "-q", "hi"]).expect_code(2);
    assert!(run.stderr.contains("codex_app_server"), "{}", run.stderr);
    assert!(run.stderr.contains("codex-app-server"), "{}", run.stderr);
    let run = codex.run(&["codex-runtime", "sideways"]).expect_code(2);
    assert!(
        run.stderr.contains("usage: talaria codex-runtime"),
        "{}",
        run.stderr
    );
}

/// Codex has no account: `on` on a terminal offers codex's own sign-in
/// (`account/login/start`, device code) and shows the code in talaria's UI; codex runs
/// the device flow against the issuer (the mock, through codex's
/// `CODEX_APP_SERVER_LOGIN_ISSUER`), exchanges the code, and asks ChatGPT's
/// `/backend-api/wham/accounts/check` for its workspace routing. Codex writes its own
/// auth.json; talaria then reads the account through `account/read` and switches the
/// profile.
#[test]
fn on_signs_codex_in_with_its_own_device_code_flow() {
    let mock = MockServer::start();
    mock.set_device_pending_polls(0);
    let mut codex = CodexHome::with_runtime(&mock, "auto", "");
    // Codex on its default (OpenAI) provider, which needs a ChatGPT login.
    std::fs::write(
        codex_config(&codex),
        format!(
            "chatgpt_base_url = \"{}/backend-api/\"\ncli_auth_credentials_store = \"file\"\n[features]\nplugins = false\n\n[analytics]\nenabled = false\n",
            mock.issuer_url()
        ),
    )
    .unwrap();
    codex
        .home
        .set_env("CODEX_APP_SERVER_LOGIN_ISSUER", mock.issuer_url());
    let codex_auth = codex.codex_home.join("auth.json");
    assert!(!codex_auth.exists());
    let (code, screen) = codex.on_terminal(&["codex-runtime", "on"], &["y"], |_| true);
    assert!(screen.contains("sign codex in"), "{screen}");
    // The device code, shown as talaria shows any login code.
    assert!(
        screen.contains(&format!("{}/codex/device", mock.issuer_url())),
        "{screen}"
    );
    assert_eq!(code, 0, "{screen}");
    // account/read after the sign-in reports the account the issuer signed in.
    assert!(
        screen.contains("codex is signed in: ChatGPT a@example.com (plus)"),
        "{screen}"
    );
    assert!(
        read(&codex.home.path("config.toml")).contains("runtime = \"codex_app_server\""),
        "{}",
        read(&codex.home.path("config.toml"))
    );

    // Exactly the device flow, as codex sends it.
    let usercode = mock.requests_to("/api/accounts/deviceauth/usercode");
    assert_eq!(usercode.len(), 1);
    assert_eq!(usercode[0].json()["client_id"], CLIENT_ID);
    let polls = mock.requests_to("/api/accounts/deviceauth/token");
    assert_eq!(polls.len(), 1);
    let poll = polls[0].json();
    assert!(poll["device_auth_id"].is_string(), "{poll}");
    assert!(poll["user_code"].is_string(), "{poll}");
    let exchanges = mock.requests_to("/oauth/token");
    assert_eq!(exchanges.len(), 1);
    let exchange = exchanges[0].form();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["client_id"], CLIENT_ID);
    assert_eq!(
        exchange["redirect_uri"],
        format!("{}/deviceauth/callback", mock.issuer_url())
    );
    assert!(!exchange["code_verifier"].is_empty());
    let issued = mock.issued_tokens();
    assert_eq!(issued.len(), 1, "one sign-in, no refresh");
    let tokens = &issued[0];
    // The workspace check carries the new access token and the account.
    let checks = mock.requests_to("/backend-api/wham/accounts/check");
    assert!(!checks.is_empty());
    for check in &checks {
        assert_eq!(check.method, "GET");
        assert_eq!(
            check.header("authorization"),
            Some(format!("Bearer {}", tokens.access_token).as_str())
        );
        assert_eq!(
            check.header("chatgpt-account-id"),
            Some(tokens.account_id.as_str()),
            "{check:?}"
        );
    }

    // Codex wrote its own auth.json with the tokens the issuer handed it; talaria wrote
    // no credentials of its own.
    let written: serde_json::Value = serde_json::from_str(&read(&codex_auth)).unwrap();
    assert_eq!(written["tokens"]["access_token"], tokens.access_token);
    assert_eq!(written["tokens"]["refresh_token"], tokens.refresh_token);
    assert_eq!(written["tokens"]["account_id"], tokens.account_id);
    assert!(!codex.home.path("auth.json").exists());

    // A later run finds codex signed in and offers no sign-in.
    let status = codex.run(&["codex-runtime", "on"]).ok();
    assert!(
        !status.stderr.contains("codex is not signed in"),
        "{}",
        status.stderr
    );
    assert_eq!(
        mock.requests_to("/api/accounts/deviceauth/usercode").len(),
        1
    );
}

/// The device flow codex runs fails (the issuer refuses the code exchange): talaria
/// says so with codex's reason, exits 3 and switches nothing.
#[test]
fn a_failed_codex_sign_in_is_exit_3_and_switches_nothing() {
    let mock = MockServer::start();
    mock.set_device_pending_polls(0);
    let mut codex = CodexHome::with_runtime(&mock, "auto", "");
    std::fs::write(
        codex_config(&codex),
        format!(
            "chatgpt_base_url = \"{}/backend-api/\"\ncli_auth_credentials_store = \"file\"\n[features]\nplugins = false\n\n[analytics]\nenabled = false\n",
            mock.issuer_url()
        ),
    )
    .unwrap();
    codex
        .home
        .set_env("CODEX_APP_SERVER_LOGIN_ISSUER", mock.issuer_url());
    mock.push_response(
        "/oauth/token",
        MockResponse::json(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": "code expired"}),
        ),
    );
    let talaria_before = read(&codex.home.path("config.toml"));
    let (code, screen) = codex.on_terminal(&["codex-runtime", "on"], &["y"], |_| true);
    assert!(screen.contains("codex's sign-in failed"), "{screen}");
    assert_eq!(code, 3, "{screen}");
    assert_eq!(read(&codex.home.path("config.toml")), talaria_before);
    assert!(!codex.codex_home.join("auth.json").exists());
    assert!(!codex.home.path("auth.json").exists());
    assert!(mock
        .requests_to("/backend-api/wham/accounts/check")
        .is_empty());
}

#[test]
fn without_a_terminal_on_says_codex_is_signed_out_and_goes_on() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "auto", "");
    std::fs::write(codex_config(&codex), "[features]\nplugins = false\n").unwrap();
    let run = codex.run(&["codex-runtime", "on"]).ok();
    assert!(
        run.stderr.contains("codex is not signed in"),
        "{}",
        run.stderr
    );
    assert!(mock
        .requests_to("/api/accounts/deviceauth/usercode")
        .is_empty());
}
