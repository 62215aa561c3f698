//! The `openai-codex` provider through the real binary against the mock issuer and
//! backend: device-code login, import, refresh, quarantine, the pool, and secrets.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use talaria_plugin_api::time::now_secs;
use talaria_tests::codex::{home_for, pool, seed_pool};
use talaria_tests::mock::{AccountSpec, MockResponse, MockServer, Tokens, CLIENT_ID};
use talaria_tests::{Run, TestHome};

fn accounts(home: &TestHome) -> Vec<Value> {
    home.run(&["auth", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .cloned()
        .unwrap()
}

fn models_ok(home: &TestHome) -> Value {
    let run = home.run(&["models", "--json"]).ok();
    let out = run.json();
    assert_eq!(out["source"], "live", "{}\n{}", run.stdout, run.stderr);
    out
}

fn bearer(r: &talaria_tests::mock::Recorded) -> String {
    r.header("authorization")
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_owned()
}

/// The headers every backend request of the provider carries, checked field by field.
fn assert_codex_headers(r: &talaria_tests::mock::Recorded, access: &str, account_id: &str) {
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {access}").as_str())
    );
    assert_eq!(r.header("chatgpt-account-id"), Some(account_id));
    assert_eq!(r.header("originator"), Some("codex_cli_rs"));
    assert_eq!(r.header("version"), Some("0.169.0"));
    let ua = r.header("user-agent").unwrap();
    assert!(
        ua.starts_with("codex_cli_rs/0.169.0 ("),
        "user-agent {ua:?}"
    );
    assert!(ua.contains("talaria"), "user-agent {ua:?}");
}

#[test]
fn device_code_login_polls_until_approved_and_stores_the_tokens() {
    let mock = MockServer::start();
    let home = home_for(&mock);

    let run = home.run(&["login", "--no-browser"]).ok();
    assert!(
        run.stderr
            .contains(&format!("{}/codex/device", mock.issuer_url())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ABCD-1234"), "{}", run.stderr);
    assert!(run.stdout.contains("a@example.com"), "{}", run.stdout);

    // The exact requests: one usercode request, polls until approved, one exchange.
    let usercode = mock.requests_to("/api/accounts/deviceauth/usercode");
    assert_eq!(usercode.len(), 1);
    assert_eq!(usercode[0].method, "POST");
    assert_eq!(usercode[0].json(), json!({ "client_id": CLIENT_ID }));
    let polls = mock.requests_to("/api/accounts/deviceauth/token");
    assert_eq!(polls.len(), 3, "pending, pending, success");
    let device_auth_id = polls[0].json()["device_auth_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for poll in &polls {
        assert_eq!(
            poll.json(),
            json!({ "device_auth_id": device_auth_id, "user_code": "ABCD-1234" })
        );
    }
    let exchange = mock.requests_to("/oauth/token");
    assert_eq!(exchange.len(), 1);
    assert!(exchange[0]
        .header("content-type")
        .unwrap()
        .starts_with("application/x-www-form-urlencoded"));
    let form = exchange[0].form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(
        form["redirect_uri"],
        format!("{}/deviceauth/callback", mock.issuer_url())
    );
    assert!(form["code"].len() > 4 && form["code_verifier"].len() > 4);
    assert_eq!(form.len(), 5, "{form:?}");

    // Stored through the host's store: 0600, the issued tokens, the account's claims.
    let issued = mock.issued_tokens();
    let entries = pool(&home);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["tokens"]["access_token"], issued[0].access_token);
    assert_eq!(
        entries[0]["tokens"]["refresh_token"],
        issued[0].refresh_token
    );
    assert_eq!(
        (
            entries[0]["source"].as_str(),
            entries[0]["account_id"].as_str()
        ),
        (Some("device_code"), Some("acct-1"))
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(home.path("auth.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let listed = accounts(&home);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["label"], "a@example.com");
    assert_eq!(listed[0]["plan"], "plus");
    assert_eq!(listed[0]["status"], "ok");
    assert_eq!(listed[0]["current"], true);
    assert_secrets_absent(&mock, &home, &[&run]);
}

#[test]
fn a_numeric_interval_and_a_second_account_through_auth_add() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    mock.set_device_interval(json!(1));
    mock.set_device_pending_polls(0);
    home.run(&["login", "--no-browser"]).ok();
    let work = AccountSpec::new("w@work.example", "acct-2", "user-2", "pro");
    mock.account(work.clone());
    mock.set_device_account("w@work.example");
    home.run(&["auth", "add", "openai-codex", "--no-browser"])
        .ok();

    let listed = accounts(&home);
    let labels: Vec<&str> = listed
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["a@example.com", "w@work.example"]);
    // Fill-first: the first account stays the one in use.
    assert_eq!(
        (
            listed[0]["current"].as_bool(),
            listed[1]["current"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let human = home.run(&["auth", "list"]).ok().stdout;
    let first = human.lines().find(|l| l.contains("a@example.com")).unwrap();
    assert!(first.contains('←') && first.contains("ok"), "{human}");

    // Logging in again as the first account updates it in place.
    mock.set_device_account("a@example.com");
    home.run(&["login", "--no-browser"]).ok();
    assert_eq!(accounts(&home).len(), 2);

    home.run(&["auth", "remove", "2"]).ok();
    assert_eq!(accounts(&home).len(), 1);
    home.run(&["auth", "remove", "5"]).expect_code(2);
    let out = home.run(&["logout"]).ok();
    assert!(out.stdout.contains("openai-codex") || out.stderr.contains("openai-codex"));
    assert!(accounts(&home).is_empty());
}

#[test]
fn import_reads_the_codex_file_without_touching_it() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let tokens = mock.issue_tokens("a@example.com", 3600);
    let codex_home = home.user_home().join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let codex_auth = codex_home.join("auth.json");
    let original = serde_json::to_vec_pretty(&json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": { "id_token": tokens.id_token, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token, "account_id": "acct-1" },
        "last_refresh": "2026-11-20T12:00:00Z",
    }))
    .unwrap();
    std::fs::write(&codex_auth, &original).unwrap();
    let modified = std::fs::metadata(&codex_auth).unwrap().modified().unwrap();

    let run = home.run(&["login", "--import-codex"]).ok();
    assert!(
        run.stderr.contains("refresh token"),
        "the shared-token warning: {}",
        run.stderr
    );
    assert!(
        mock.requests().is_empty(),
        "an import makes no network call"
    );
    let entries = pool(&home);
    assert_eq!(entries[0]["source"], "codex_import");
    assert_eq!(entries[0]["tokens"]["refresh_token"], tokens.refresh_token);

    // The imported login works against the backend, and the Codex file is untouched.
    models_ok(&home);
    assert_eq!(std::fs::read(&codex_auth).unwrap(), original);
    assert_eq!(
        std::fs::metadata(&codex_auth).unwrap().modified().unwrap(),
        modified
    );

    // A profile's `codex.home` is where import looks.
    std::fs::write(
        home.path("config.toml"),
        "[codex]\nhome = \"~/elsewhere\"\n",
    )
    .unwrap();
    let missing = home.run(&["login", "--import-codex"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("elsewhere"), "{}", missing.stderr);
}

#[test]
fn an_expired_codex_login_is_not_imported() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let tokens = mock.issue_tokens("a@example.com", -60);
    let codex_home = home.dir.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let doc = json!({ "tokens": { "id_token": tokens.id_token, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token } });
    std::fs::write(codex_home.join("auth.json"), doc.to_string()).unwrap();
    let mut home = home;
    home.set_env("CODEX_HOME", &codex_home);
    let run = home.run(&["login", "--import-codex"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    assert!(!home.path("auth.json").exists() || pool(&home).is_empty());
}

#[test]
fn an_access_token_about_to_expire_is_refreshed_before_use() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let who = AccountSpec::default();
    let old = mock.issue_tokens(&who, 30); // inside the two-minute margin
    seed_pool(&home, &[(&old, &who)]);

    models_ok(&home);
    let refreshes = mock.requests_to("/oauth/token");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        refreshes[0].header("content-type"),
        Some("application/json")
    );
    assert_eq!(
        refreshes[0].json(),
        json!({ "client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": old.refresh_token })
    );

    let new = mock.issued_tokens().last().unwrap().clone();
    assert_ne!(new.access_token, old.access_token);
    let models = mock.requests_to("/backend-api/codex/models");
    assert_eq!(models.len(), 1);
    assert_codex_headers(&models[0], &new.access_token, "acct-1");
    assert_eq!(
        models[0].query_param("client_version").as_deref(),
        Some("0.169.0")
    );
    let stored = &pool(&home)[0]["tokens"];
    assert_eq!(
        (
            stored["access_token"].as_str(),
            stored["refresh_token"].as_str()
        ),
        (
            Some(new.access_token.as_str()),
            Some(new.refresh_token.as_str())
        )
    );

    // Fresh now: the next run makes no refresh call.
    models_ok(&home);
    assert_eq!(mock.requests_to("/oauth/token").len(), 1);
}

#[test]
fn a_401_refreshes_once_and_retries() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let who = AccountSpec::default();
    let old = mock.issue_tokens(&who, 3600);
    seed_pool(&home, &[(&old, &who)]);
    mock.revoke_access(&old.access_token);

    models_ok(&home);
    let seen: Vec<(String, String)> = mock
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let paths: Vec<&str> = seen.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/backend-api/codex/models",
            "/oauth/token",
            "/backend-api/codex/models"
        ]
    );
    let models = mock.requests_to("/backend-api/codex/models");
    assert_eq!(bearer(&models[0]), old.access_token);
    let new = mock.issued_tokens().last().unwrap().clone();
    assert_codex_headers(&models[1], &new.access_token, "acct-1");
}

#[test]
fn a_terminal_refresh_error_quarantines_and_is_never_replayed() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let who = AccountSpec::default();
    let old = mock.issue_tokens(&who, -10);
    seed_pool(&home, &[(&old, &who)]);
    mock.push_response(
        "/oauth/token",
        MockResponse::error(
            401,
            "refresh_token_expired",
            "Your refresh token has expired. Please try signing in again.",
        ),
    );

    let first = home.run(&["chat", "-q", "hi"]).expect_code(3);
    assert!(first.stderr.contains("talaria login"), "{}", first.stderr);
    assert!(first.stderr.contains("a@example.com"), "{}", first.stderr);
    assert_eq!(mock.requests_to("/oauth/token").len(), 1);
    assert!(mock.requests_to("/backend-api/codex/responses").is_empty());

    let entry = &pool(&home)[0];
    assert_eq!(entry["status"], "needs_relogin");
    assert_eq!(entry["status_code"], "refresh_token_expired");
    assert!(
        entry["tokens"].get("refresh_token").is_none()
            && entry["tokens"].get("access_token").is_none(),
        "{entry}"
    );
    assert_eq!(accounts(&home)[0]["status"], "needs_relogin");
    let human = home.run(&["auth", "list"]).ok().stdout;
    assert!(human.contains("needs re-login"), "{human}");

    // The next run fails the same way without asking the issuer again.
    let second = home.run(&["chat", "-q", "hi"]).expect_code(3);
    assert!(second.stderr.contains("talaria login"));
    assert_eq!(
        mock.requests_to("/oauth/token").len(),
        1,
        "a quarantined credential is never refreshed again"
    );

    // Logging in again as that account heals the entry in place.
    mock.set_device_pending_polls(0);
    home.run(&["login", "--no-browser"]).ok();
    let healed = pool(&home);
    assert_eq!(healed.len(), 1);
    assert_eq!(healed[0]["status"], "ok");
    assert_eq!(healed[0]["id"], "c-seed0");
}

#[test]
fn a_reused_refresh_token_moves_on_to_the_next_account() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let a = AccountSpec::default();
    let b = AccountSpec::new("b@example.com", "acct-2", "user-2", "plus");
    mock.account(b.clone());
    let ta = mock.issue_tokens(&a, -10);
    let tb = mock.issue_tokens(&b, 3600);
    seed_pool(&home, &[(&ta, &a), (&tb, &b)]);
    // Another client used a's refresh token first.
    mock.push_response(
        "/oauth/token",
        MockResponse::error(
            401,
            "refresh_token_reused",
            "Your refresh token has already been used to generate a new access token.",
        ),
    );

    models_ok(&home);
    let models = mock.requests_to("/backend-api/codex/models");
    assert_eq!(models.len(), 1);
    assert_codex_headers(&models[0], &tb.access_token, "acct-2");
    let listed = accounts(&home);
    assert_eq!(listed[0]["status"], "needs_relogin");
    assert_eq!(
        (listed[1]["status"].as_str(), listed[1]["current"].as_bool()),
        (Some("ok"), Some(true))
    );
}

#[test]
fn a_transient_refresh_failure_never_quarantines() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let who = AccountSpec::default();
    let old = mock.issue_tokens(&who, -10);
    seed_pool(&home, &[(&old, &who)]);
    mock.push_response(
        "/oauth/token",
        MockResponse::error(503, "server_error", "upstream unavailable"),
    );

    let failed = home.run(&["chat", "-q", "hi"]).expect_code(1);
    assert!(
        failed.stderr.to_lowercase().contains("refresh"),
        "{}",
        failed.stderr
    );
    let entry = &pool(&home)[0];
    assert_eq!(entry["status"], "ok");
    assert_eq!(entry["tokens"]["refresh_token"], old.refresh_token);

    // The next run refreshes with the same token and works.
    models_ok(&home);
    let refreshes = mock.requests_to("/oauth/token");
    assert_eq!(refreshes.len(), 2);
    assert_eq!(refreshes[1].json()["refresh_token"], old.refresh_token);
}

#[test]
fn a_429_cools_the_account_down_and_rotates_the_pool() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let a = AccountSpec::default();
    let b = AccountSpec::new("b@example.com", "acct-2", "user-2", "pro");
    mock.account(b.clone());
    let ta = mock.issue_tokens(&a, 3600);
    let tb = mock.issue_tokens(&b, 3600);
    seed_pool(&home, &[(&ta, &a), (&tb, &b)]);
    mock.push_response(
        "/backend-api/codex/models",
        MockResponse::error(429, "rate_limit_exceeded", "Rate limit reached")
            .with_header("retry-after", "600"),
    );

    models_ok(&home);
    let models = mock.requests_to("/backend-api/codex/models");
    assert_eq!(models.len(), 2);
    assert_codex_headers(&models[0], &ta.access_token, "acct-1");
    assert_codex_headers(&models[1], &tb.access_token, "acct-2");

    let listed = accounts(&home);
    assert_eq!(listed[0]["status"], "rate_limited");
    let left = listed[0]["available_at"]
        .as_u64()
        .unwrap()
        .saturating_sub(now_secs());
    assert!(
        (500..=600).contains(&left),
        "cooldown follows Retry-After: {left}"
    );
    assert_eq!(listed[1]["current"], true);
    let human = home.run(&["auth", "list"]).ok().stdout;
    let line = human.lines().find(|l| l.contains("a@example.com")).unwrap();
    assert!(
        line.contains("rate-limited (") && line.contains("left"),
        "{human}"
    );

    // Both cooling down: the command says when the first is usable again.
    mock.push_response(
        "/backend-api/codex/models",
        MockResponse::error(429, "rate_limit_exceeded", "Rate limit reached")
            .with_header("retry-after", "60"),
    );
    let listed = home.run(&["models", "--json"]).ok();
    assert_ne!(listed.json()["source"], "live", "{}", listed.stdout);
    let run = home.run(&["chat", "-q", "hi"]).expect_code(1);
    assert!(
        run.stderr.contains("rate-limited") && run.stderr.contains("usable again in"),
        "{}",
        run.stderr
    );
    assert!(mock.requests_to("/backend-api/codex/responses").is_empty());
}

#[test]
fn two_processes_refreshing_at_once_make_one_issuer_call() {
    let mock = MockServer::start();
    // Widen the window in which both processes want to refresh.
    mock.refresh_delay(std::time::Duration::from_millis(300));
    let who = AccountSpec::default();
    for round in 0..8 {
        let home = home_for(&mock);
        let old = mock.issue_tokens(&who, -10);
        seed_pool(&home, &[(&old, &who)]);
        mock.clear_requests();
        let children = [
            home.spawn(&["models", "--json"]),
            home.spawn(&["models", "--json"]),
        ];
        let runs: Vec<Run> = children.into_iter().map(Run::wait).collect();
        for run in &runs {
            assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
        }
        assert_eq!(
            mock.count("/oauth/token", "refresh_token"),
            1,
            "round {round}: one issuer call per rotation"
        );
        let new = mock.issued_tokens().last().unwrap().clone();
        let stored = &pool(&home)[0]["tokens"];
        assert_eq!(
            stored["refresh_token"], new.refresh_token,
            "round {round}: the rotated token is kept"
        );
        for r in mock.requests_to("/backend-api/codex/models") {
            assert_eq!(
                bearer(&r),
                new.access_token,
                "round {round}: both used the new token"
            );
        }
    }
}

#[test]
fn a_corrupt_auth_json_is_kept_aside_and_reported() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(home.path("auth.json"), b"{ \"providers\": { oops").unwrap();

    let listed = home.run(&["auth", "list"]);
    assert_ne!(listed.code, 0);
    assert!(listed.stderr.contains("auth.json"), "{}", listed.stderr);
    assert_eq!(
        std::fs::read(home.path("auth.json")).unwrap(),
        b"{ \"providers\": { oops",
        "reading never rewrites"
    );
    // A chat cannot use it either: the user must sign in again (exit 3), not a failure (1).
    let chat = home.run(&["chat", "-q", "hi"]).expect_code(3);
    assert!(chat.stderr.contains("talaria login"), "{}", chat.stderr);
    assert_eq!(
        std::fs::read(home.path("auth.json")).unwrap(),
        b"{ \"providers\": { oops",
        "a chat never rewrites it"
    );

    mock.set_device_pending_polls(0);
    let login = home.run(&["login", "--no-browser"]).ok();
    assert!(login.stderr.contains("corrupt"), "{}", login.stderr);
    assert_eq!(
        std::fs::read(home.path("auth.json.corrupt")).unwrap(),
        b"{ \"providers\": { oops"
    );
    assert_eq!(pool(&home).len(), 1);
}

#[test]
fn models_are_filtered_sorted_and_cached_for_offline_use() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let who = AccountSpec::default();
    let tokens = mock.issue_tokens(&who, 3600);
    seed_pool(&home, &[(&tokens, &who)]);
    mock.set_models(vec![
        json!({"slug": "gpt-late", "display_name": "Late", "visibility": "list", "priority": 9}),
        json!({"slug": "gpt-hidden", "visibility": "hide", "priority": 0}),
        json!({"slug": "gpt-first", "display_name": "First", "visibility": "list", "priority": 1}),
    ]);
    let live = models_ok(&home);
    let slugs: Vec<&str> = live["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["gpt-first", "gpt-late"]);
    assert_eq!(live["default_model"], "gpt-5.3-codex");

    // The backend goes away: the cached list is shown, and says so.
    mock.push_response(
        "/backend-api/codex/models",
        MockResponse::error(503, "server_error", "down"),
    );
    let run = home.run(&["models", "--json"]).ok();
    let cached = run.json();
    assert_eq!(cached["source"], "cache");
    assert_eq!(cached["models"], live["models"]);
}

#[test]
fn the_pro_only_model_is_listed_for_pro_plans_only() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    // Not logged in: the built-in list, without the Pro-only preview.
    let run = home.run(&["models", "--json"]).ok();
    let builtin = run.json();
    assert_eq!(builtin["source"], "builtin");
    let slugs = |v: &Value| {
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["slug"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(slugs(&builtin).contains(&"gpt-5.3-codex".to_owned()));
    assert!(!slugs(&builtin).contains(&"gpt-5.3-codex-spark".to_owned()));

    let pro = AccountSpec::new("p@example.com", "acct-9", "user-9", "pro");
    mock.account(pro.clone());
    let tokens = mock.issue_tokens(&pro, 3600);
    seed_pool(&home, &[(&tokens, &pro)]);
    mock.push_response(
        "/backend-api/codex/models",
        MockResponse::error(503, "server_error", "down"),
    );
    let offline = home.run(&["models", "--json"]).ok().json();
    assert_eq!(offline["source"], "builtin");
    assert!(slugs(&offline).contains(&"gpt-5.3-codex-spark".to_owned()));
}

/// No token, code or verifier the mock handed out appears in any output, log or
/// `--json` record; only auth.json holds them.
fn assert_secrets_absent(mock: &MockServer, home: &TestHome, runs: &[&Run]) {
    let mut secrets: Vec<String> = Vec::new();
    for t in mock.issued_tokens() {
        secrets.extend([t.access_token, t.refresh_token, t.id_token]);
    }
    for r in mock.requests_to("/oauth/token") {
        for key in ["code", "code_verifier", "refresh_token"] {
            if let Some(v) = r.param(key) {
                secrets.push(v);
            }
        }
    }
    for r in mock.requests_to("/api/accounts/deviceauth/token") {
        secrets.push(r.json()["device_auth_id"].as_str().unwrap().to_owned());
    }
    assert!(!secrets.is_empty());
    let mut texts: Vec<(String, String)> = runs
        .iter()
        .flat_map(|r| {
            [
                ("stdout".to_owned(), r.stdout.clone()),
                ("stderr".to_owned(), r.stderr.clone()),
            ]
        })
        .collect();
    for args in [
        &["auth", "list", "--json"][..],
        &["auth", "status", "--json"],
        &["auth", "status"],
        &["models", "--json"],
        &["doctor", "--json"],
    ] {
        let run = home.run(args);
        texts.push((format!("{args:?} stdout"), run.stdout));
        texts.push((format!("{args:?} stderr"), run.stderr));
    }
    for entry in walk(&home.root()) {
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("auth.json"))
        {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&entry) {
            texts.push((entry.display().to_string(), text));
        }
    }
    for secret in &secrets {
        for (name, text) in &texts {
            assert!(
                !text.contains(secret.as_str()),
                "a secret appears in {name}"
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn secrets_stay_out_of_logs_and_output_through_refresh_and_quarantine() {
    let mock = MockServer::start();
    let mut home = home_for(&mock);
    home.set_env("TALARIA_LOG", "trace");
    mock.set_device_pending_polls(1);
    let login = home.run(&["login", "--no-browser"]).ok();
    // Force a refresh, then a terminal failure, so every path has logged what it logs.
    let who = AccountSpec::default();
    let expiring = mock.issue_tokens(&who, 10);
    seed_pool(&home, &[(&expiring, &who)]);
    let refreshed = home.run(&["models", "--json"]).ok();
    let who_tokens = mock.issued_tokens().last().unwrap().clone();
    seed_pool(
        &home,
        &[(
            &Tokens {
                access_token: mock.issue_tokens(&who, -10).access_token,
                ..who_tokens
            },
            &who,
        )],
    );
    mock.push_response(
        "/oauth/token",
        MockResponse::error(400, "invalid_grant", "bad refresh token"),
    );
    let quarantined = home.run(&["chat", "-q", "hi", "--json"]).expect_code(3);
    assert_secrets_absent(&mock, &home, &[&login, &refreshed, &quarantined]);
}

#[test]
fn round_robin_spreads_requests_over_the_pool() {
    let mock = MockServer::start();
    let home = home_for(&mock);
    let a = AccountSpec::default();
    let b = AccountSpec::new("b@example.com", "acct-2", "user-2", "plus");
    mock.account(b.clone());
    let ta = mock.issue_tokens(&a, 3600);
    let tb = mock.issue_tokens(&b, 3600);
    seed_pool(&home, &[(&ta, &a), (&tb, &b)]);
    std::fs::write(
        home.path("config.toml"),
        "[plugin_config.openai-codex]\npool_strategy = \"round_robin\"\n",
    )
    .unwrap();
    for _ in 0..4 {
        models_ok(&home);
    }
    let used: Vec<String> = mock
        .requests_to("/backend-api/codex/models")
        .iter()
        .map(bearer)
        .collect();
    assert_eq!(
        used,
        [
            ta.access_token.as_str(),
            tb.access_token.as_str(),
            ta.access_token.as_str(),
            tb.access_token.as_str()
        ]
    );

    std::fs::write(
        home.path("config.toml"),
        "[plugin_config.openai-codex]\npool_strategy = \"sideways\"\n",
    )
    .unwrap();
    let bad = home.run(&["models", "--json"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("round_robin"), "{}", bad.stderr);
}
