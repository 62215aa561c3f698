//! `kill -9` at the worst moments, and a full disk: `sessions.db`, `auth.json`, the
//! profile's `config.toml` and codex's `$CODEX_HOME/config.toml` stay consistent (the
//! old content or the new, never torn), and the next run works.
//!
//! The kills wait on observable states (a request the mock received, an event talaria
//! printed, a marker file), never on fixed sleeps. The write-path kills use the debug
//! build's `TALARIA_TEST_PAUSE_BEFORE_RENAME=NAME` hook (host `fsutil.rs`, codex-app-server
//! `command.rs`): the writer stops with the new content complete in its temp file, just
//! before the rename, which is the last moment a crash could tear anything.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use serde_json::Value;
use talaria_tests::codex::{home_for, pool, seed_pool, signed_in};
use talaria_tests::crash::{
    codex_login, file_names, integrity_check, kill_9, on_full_disk, sessions_db, stored_messages,
    wait_until,
};
use talaria_tests::mock::{
    text_events, AccountSpec, EventScript, MockServer, Tokens, TITLE_REQUEST,
};
use talaria_tests::{Run, TestHome};

const RESPONSES: &str = "/backend-api/codex/responses";

/// `talaria chat --json -q PROMPT` with its stdout events handed over line by line.
fn spawn_chat(home: &TestHome, prompt: &str) -> (Child, mpsc::Receiver<Value>) {
    let mut child = home
        .command(&["chat", "--json", "-q", prompt])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                if tx.send(event).is_err() {
                    break;
                }
            }
        }
    });
    (child, rx)
}

/// Waits for an event of `kind` on the chat's stdout.
fn wait_for_event(rx: &mpsc::Receiver<Value>, kind: &str) -> Value {
    loop {
        let event = rx
            .recv_timeout(talaria_tests::crash::PATIENCE)
            .unwrap_or_else(|_| panic!("talaria never printed a {kind} event"));
        if event["type"] == kind {
            return event;
        }
    }
}

/// The turn requests (not the title request) the mock received.
fn turn_requests(mock: &MockServer) -> usize {
    mock.turn_requests_to(RESPONSES)
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

/// After a kill: the store passes SQLite's integrity check, `sessions list` and `show`
/// work, and `chat -c` runs a new turn in the killed session. Returns the session's
/// messages as they were right after the kill, as (role, content).
fn store_survives(home: &TestHome, mock: &MockServer) -> Vec<(String, String)> {
    let db = sessions_db(home);
    assert_eq!(integrity_check(&db), "ok");
    let listed = home.run(&["sessions", "list", "--json"]).ok().json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let shown = home.run(&["sessions", "show", &id, "--json"]).ok().json();
    let before: Vec<(String, String)> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    mock.clear_requests();
    let next = home.run(&["chat", "-c", "-q", "are you there?"]).ok();
    assert_eq!(next.stdout, "Hello from the mock.\n");
    let after: Vec<(String, String, String)> = stored_messages(&db);
    assert!(after.iter().all(|(s, _, _)| *s == id), "still one session");
    let tail: Vec<(&str, &str)> = after[after.len() - 2..]
        .iter()
        .map(|(_, r, c)| (r.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            ("user", "are you there?"),
            ("assistant", "Hello from the mock.")
        ]
    );
    assert_eq!(integrity_check(&db), "ok");
    before
}

/// The texts of the user and assistant messages a turn request sent as history.
fn history_sent(mock: &MockServer) -> Vec<String> {
    let request = mock
        .turn_requests_to(RESPONSES)
        .into_iter()
        .rfind(|r| r.method != "GET")
        .unwrap();
    let body = request.json();
    body["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .filter_map(|i| i["content"][0]["text"].as_str().map(str::to_owned))
        .filter(|t| !t.starts_with('<'))
        .collect()
}

#[test]
fn kill_9_once_the_turn_request_is_out_keeps_the_prompt_and_no_answer() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    // The backend takes the request and says nothing.
    mock.push_script(EventScript::new(text_events("resp_silent", &["never"])).stall_after(0));
    let (child, rx) = spawn_chat(&home, "first question");
    wait_for_event(&rx, "session");
    wait_until("the turn request at the mock", || turn_requests(&mock) == 1);
    kill_9(child);

    let before = store_survives(&home, &mock);
    assert_eq!(before, [("user".into(), "first question".into())]);
    // The unanswered prompt is not history: the model never answered it.
    assert_eq!(history_sent(&mock), ["are you there?"]);
}

#[test]
fn kill_9_mid_stream_keeps_the_prompt_and_drops_the_partial_answer() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.push_script(
        EventScript::new(text_events("resp_slow", &["partial ", "answer"])).stall_after(3),
    );
    let (child, rx) = spawn_chat(&home, "first question");
    let delta = wait_for_event(&rx, "text_delta");
    assert_eq!(delta["delta"], "partial ");
    kill_9(child);

    // The streamed text lives in memory until the runtime returns the turn, which then
    // lands in one transaction: a kill before that leaves the prompt and no answer.
    let before = store_survives(&home, &mock);
    assert_eq!(before, [("user".into(), "first question".into())]);
    assert_eq!(history_sent(&mock), ["are you there?"]);
}

#[test]
fn kill_9_during_the_title_request_keeps_the_whole_turn() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.push_script_when(
        TITLE_REQUEST,
        EventScript::new(text_events("resp_title", &["Never named"])).stall_after(0),
    );
    let (child, rx) = spawn_chat(&home, "first question");
    let done = wait_for_event(&rx, "turn_completed");
    assert_eq!(done["text"], "Hello from the mock.");
    wait_until("the title request at the mock", || {
        mock.requests_to(RESPONSES)
            .iter()
            .any(|r| r.is_title_request())
    });
    kill_9(child);

    let listed = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(
        listed[0]["title"], "first question",
        "the provisional title from the prompt"
    );
    let before = store_survives(&home, &mock);
    assert_eq!(
        before,
        [
            ("user".into(), "first question".into()),
            ("assistant".into(), "Hello from the mock.".into())
        ]
    );
    assert_eq!(
        history_sent(&mock),
        ["first question", "Hello from the mock.", "are you there?"]
    );
}

/// Starts `models --json` with an expired `old` token and kills it while the issuer
/// holds the refresh answer. auth.json must still parse and hold the old tokens (the
/// killed run may have stored which credential is current, under the lock, before it
/// went for the refresh).
fn kill_mid_refresh(mock: &MockServer, home: &TestHome, old: &Tokens) {
    let child = home.spawn(&["models", "--json"]);
    wait_until("the refresh request at the issuer", || {
        mock.count("/oauth/token", "refresh_token") == 1
    });
    let killed = kill_9(child);
    let stored = &pool(home)[0]["tokens"];
    assert_eq!(
        (
            stored["access_token"].as_str(),
            stored["refresh_token"].as_str()
        ),
        (
            Some(old.access_token.as_str()),
            Some(old.refresh_token.as_str())
        ),
        "auth.json keeps the old tokens: {}",
        killed.stderr
    );
}

#[test]
fn kill_9_while_the_issuer_is_slow_keeps_the_old_tokens_and_the_next_run_refreshes() {
    let mock = MockServer::start();
    // The issuer has not looked at the request yet when talaria dies.
    mock.refresh_delay(talaria_tests::crash::PATIENCE);
    let home = home_for(&mock);
    let who = AccountSpec::default();
    let old = mock.issue_tokens(&who, -10);
    seed_pool(&home, &[(&old, &who)]);
    kill_mid_refresh(&mock, &home, &old);
    assert_eq!(mock.refresh_token_used(&old.refresh_token), Some(false));

    mock.refresh_delay(std::time::Duration::ZERO);
    let run = home.run(&["models", "--json"]).ok();
    assert_eq!(run.json()["source"], "live");
    let new = mock.issued_tokens().last().unwrap().clone();
    assert_eq!(pool(&home)[0]["tokens"]["refresh_token"], new.refresh_token);
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 2);
}

/// The real hazard: the issuer rotated the refresh token, and talaria died before the
/// answer (with the only copy of the new one) arrived. The old token is spent; the next
/// refresh is refused as reuse; that login is marked as needing a new sign-in and the
/// user is told how. Other accounts in the pool carry on.
#[test]
fn kill_9_after_the_issuer_rotated_asks_for_a_new_login_and_the_pool_carries_on() {
    let mock = MockServer::start();
    mock.refresh_reply_delay(talaria_tests::crash::PATIENCE);
    let home = home_for(&mock);
    let a = AccountSpec::default();
    let old = mock.issue_tokens(&a, -10);
    seed_pool(&home, &[(&old, &a)]);
    kill_mid_refresh(&mock, &home, &old);
    wait_until("the issuer to spend the old refresh token", || {
        mock.refresh_token_used(&old.refresh_token) == Some(true)
    });

    mock.refresh_reply_delay(std::time::Duration::ZERO);
    let run = home.run(&["chat", "-q", "hi"]);
    assert_eq!(run.code, 3, "exit 3: sign in again\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("a talaria run stopped in the middle of a token refresh")
            && run
                .stderr
                .contains("run `talaria login` (sign in as a@example.com)"),
        "{}",
        run.stderr
    );
    let listed = home.run(&["auth", "list", "--json"]).ok().json();
    assert_eq!(listed[0]["status"], "needs_relogin");
    // The refused token is never sent again.
    home.run(&["chat", "-q", "hi"]).expect_code(3);
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 2);
    assert!(mock.turn_requests_to(RESPONSES).is_empty());

    // With a second account, the same kill costs the first login only.
    let mock = MockServer::start();
    mock.refresh_reply_delay(talaria_tests::crash::PATIENCE);
    let home = home_for(&mock);
    let b = AccountSpec::new("b@example.com", "acct-2", "user-2", "plus");
    let ta = mock.issue_tokens(&a, -10);
    let tb = mock.issue_tokens(&b, 3600);
    seed_pool(&home, &[(&ta, &a), (&tb, &b)]);
    kill_mid_refresh(&mock, &home, &ta);
    wait_until("the issuer to spend the old refresh token", || {
        mock.refresh_token_used(&ta.refresh_token) == Some(true)
    });
    mock.refresh_reply_delay(std::time::Duration::ZERO);
    let run = home.run(&["models", "--json"]).ok();
    assert_eq!(run.json()["source"], "live");
    let used = mock.requests_to("/backend-api/codex/models");
    assert_eq!(
        used.last().unwrap().header("authorization"),
        Some(format!("Bearer {}", tb.access_token).as_str())
    );
    let listed = home.run(&["auth", "list", "--json"]).ok().json();
    assert_eq!(listed[0]["status"], "needs_relogin");
    assert_eq!(listed[1]["status"], "ok");
}

/// Runs `args` with the pause hook on `name`, waits for the writer to stop before its
/// rename, kills it, and returns what it printed.
fn kill_before_rename(home: &TestHome, dir: &Path, name: &str, args: &[&str]) -> Run {
    let marker = dir.join(format!("{name}.paused"));
    let child = home
        .command(args)
        .env("TALARIA_TEST_PAUSE_BEFORE_RENAME", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(&format!("{} to pause before its rename", name), || {
        marker.exists()
    });
    let run = kill_9(child);
    std::fs::remove_file(&marker).unwrap();
    run
}

/// The temp files beside `name` in `dir`.
fn temps_of(dir: &Path, name: &str) -> Vec<String> {
    file_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(&format!(".{name}.")) && n.contains("tmp-"))
        .collect()
}

fn codex_home_for_migration(home: &mut TestHome) -> std::path::PathBuf {
    let codex_home = home.dir.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    home.set_env("CODEX_HOME", &codex_home);
    // No codex needed: `migrate` writes the MCP servers without asking codex.
    home.set_env("TALARIA_CODEX_BIN", "/nonexistent/codex");
    codex_home
}

const CODEX_USER_CONFIG: &str = "# codex settings of my own\nmodel = \"gpt-5.5\"\n\n[projects.\"/work\"]\ntrust_level = \"trusted\"\n";

#[test]
fn kill_9_mid_migration_leaves_codex_config_old_then_new_byte_for_byte() {
    let mut home = TestHome::new();
    let codex_home = codex_home_for_migration(&mut home);
    let path = codex_home.join("config.toml");
    std::fs::write(&path, CODEX_USER_CONFIG).unwrap();

    kill_before_rename(
        &home,
        &codex_home,
        "config.toml",
        &["codex-runtime", "migrate"],
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CODEX_USER_CONFIG);
    assert_eq!(
        temps_of(&codex_home, "config.toml").len(),
        1,
        "the killed writer's complete temp file: {:?}",
        file_names(&codex_home)
    );

    // The next migration clears the leftover and writes the new content in full.
    let run = home.run(&["codex-runtime", "migrate"]).ok();
    assert!(run.stdout.contains("wrote"), "{}", run.stdout);
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(new.contains("# codex settings of my own"));
    assert!(new.contains("[mcp_servers.talaria-tools]"), "{new}");
    new.parse::<toml::Table>().unwrap();
    assert!(temps_of(&codex_home, "config.toml").is_empty());

    // A kill before the rename of a changed block leaves that complete new file.
    std::fs::write(
        home.path("config.toml"),
        "[mcp_servers.extra]\ncommand = \"true\"\n",
    )
    .unwrap();
    kill_before_rename(
        &home,
        &codex_home,
        "config.toml",
        &["codex-runtime", "migrate"],
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), new);
}

#[test]
fn kill_9_mid_write_of_config_and_auth_keeps_the_old_file_and_the_next_write_cleans_up() {
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    let root = home.root();
    let config = "# mine\n[plugin_config.responses]\nwebsocket = false\n";
    std::fs::write(home.path("config.toml"), config).unwrap();

    kill_before_rename(
        &home,
        &root,
        "config.toml",
        &["plugins", "disable", "mcp-bridge"],
    );
    assert_eq!(
        std::fs::read_to_string(home.path("config.toml")).unwrap(),
        config
    );
    assert_eq!(temps_of(&root, "config.toml").len(), 1);
    home.run(&["plugins", "disable", "mcp-bridge"]).ok();
    let text = std::fs::read_to_string(home.path("config.toml")).unwrap();
    assert!(
        text.starts_with(config) && text.contains("mcp-bridge"),
        "{text}"
    );
    assert!(temps_of(&root, "config.toml").is_empty());

    // auth.json: an import killed before its rename.
    let b = AccountSpec::new("b@example.com", "acct-2", "user-2", "plus");
    let tb = mock.issue_tokens(&b, 3600);
    let codex_home = codex_login(&home.dir.path().join("codex-b"), &tb);
    home.set_env("CODEX_HOME", &codex_home);
    let auth = std::fs::read(home.path("auth.json")).unwrap();
    kill_before_rename(
        &home,
        &root,
        "auth.json",
        &["auth", "add", "openai-codex", "--import-codex"],
    );
    assert_eq!(std::fs::read(home.path("auth.json")).unwrap(), auth);
    assert_eq!(temps_of(&root, "auth.json").len(), 1);
    home.run(&["auth", "add", "openai-codex", "--import-codex"])
        .ok();
    assert_eq!(pool(&home).len(), 2);
    assert!(temps_of(&root, "auth.json").is_empty());
}

/// ENOSPC while writing auth.json and config.toml: the write fails with an error naming
/// the file and the cause, and the old file is kept byte for byte.
#[test]
fn a_full_disk_keeps_the_old_auth_json_and_config_toml() {
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    let config = "# mine\n[plugin_config.responses]\nwebsocket = false\n";
    std::fs::write(home.path("config.toml"), config).unwrap();
    let auth = std::fs::read(home.path("auth.json")).unwrap();
    let scratch = home.dir.path().join("scratch-config");

    let full = on_full_disk(
        &home.root(),
        home.command(&["plugins", "disable", "mcp-bridge"]),
        &scratch,
    );
    assert_ne!(full.run.code, 0, "{}", full.run.stderr);
    assert!(
        full.run.stderr.contains("config.toml")
            && full.run.stderr.contains("No space left on device"),
        "{}",
        full.run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(full.after.join("config.toml")).unwrap(),
        config
    );
    assert!(temps_of(&full.after, "config.toml").is_empty());

    let b = AccountSpec::new("b@example.com", "acct-2", "user-2", "plus");
    let tb = mock.issue_tokens(&b, 3600);
    let codex_home = codex_login(&home.dir.path().join("codex-b"), &tb);
    home.set_env("CODEX_HOME", &codex_home);
    let full = on_full_disk(
        &home.root(),
        home.command(&["auth", "add", "openai-codex", "--import-codex"]),
        &home.dir.path().join("scratch-auth"),
    );
    assert_ne!(full.run.code, 0, "{}", full.run.stderr);
    assert!(
        full.run.stderr.contains("auth.json")
            && full.run.stderr.contains("No space left on device"),
        "{}",
        full.run.stderr
    );
    assert_eq!(std::fs::read(full.after.join("auth.json")).unwrap(), auth);
    assert!(temps_of(&full.after, "auth.json").is_empty());
}

#[test]
fn a_full_disk_keeps_the_old_codex_config_toml() {
    let mut home = TestHome::new();
    let codex_home = codex_home_for_migration(&mut home);
    std::fs::write(codex_home.join("config.toml"), CODEX_USER_CONFIG).unwrap();
    let full = on_full_disk(
        &codex_home,
        home.command(&["codex-runtime", "migrate"]),
        &home.dir.path().join("scratch"),
    );
    assert_eq!(full.run.code, 2, "{}", full.run.stderr);
    assert!(
        full.run.stderr.contains("config.toml")
            && full.run.stderr.contains("No space left on device"),
        "{}",
        full.run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(full.after.join("config.toml")).unwrap(),
        CODEX_USER_CONFIG
    );
    assert!(temps_of(&full.after, "config.toml").is_empty());
}
