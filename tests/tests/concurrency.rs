//! Many talaria processes on one profile at once: chats, logins, a token refresh and
//! config edits overlapping. Nothing may be lost: every chat's session, every login's
//! tokens, every edit; and an expired token is rotated with one issuer call.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use talaria_tests::codex::{home_for, pool, seed_pool};
use talaria_tests::crash::{codex_login, integrity_check, sessions_db, stored_messages};
use talaria_tests::mock::{AccountSpec, MockServer};
use talaria_tests::{Run, TestHome};

/// The user's own words in config.toml, which every edit must keep.
const USER_CONFIG: &str = "# my talaria settings: keep this line\n\
[plugin_config.responses]\n\
websocket = false # and this comment\n";

/// One operation: talaria's arguments and extra environment.
type Op = (Vec<String>, Vec<(String, String)>);

/// Runs `ops` one after another in one worker; returns each run with its arguments.
fn worker(home: &TestHome, ops: Vec<Op>) -> Vec<(String, Run)> {
    ops.into_iter()
        .map(|(args, env)| {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = home.command(&argv);
            for (k, v) in &env {
                cmd.env(k, v);
            }
            (args.join(" "), Run::from_output(cmd.output().unwrap()))
        })
        .collect()
}

fn op(args: &[&str]) -> Op {
    (args.iter().map(|s| s.to_string()).collect(), Vec::new())
}

fn config(home: &TestHome) -> (String, toml::Table) {
    let text = std::fs::read_to_string(home.path("config.toml")).unwrap();
    let parsed = text
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("config.toml does not parse ({e}):\n{text}"));
    (text, parsed)
}

fn string_set(v: Option<&toml::Value>) -> BTreeSet<String> {
    v.and_then(toml::Value::as_array)
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// 8 processes at once, each toggling its own setting in the same config.toml several
/// times: `plugins disable|enable`, `runtime disable|enable` and `codex-runtime off`
/// (which edits through the host service). Each process's last edit must be there.
#[test]
fn config_edits_from_many_processes_are_all_kept() {
    let home = TestHome::new();
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        format!("{USER_CONFIG}[model]\nruntime = \"codex_app_server\" # the user's pick\n"),
    )
    .unwrap();
    let plugins = [
        "example-tools",
        "aux-router",
        "chat-completions",
        "openai-compatible",
        "mcp-bridge",
        "openai-api",
    ];
    const ROUNDS: usize = 3;
    let mut plans: Vec<Vec<_>> = plugins
        .iter()
        .map(|p| {
            let mut ops = Vec::new();
            for _ in 0..ROUNDS {
                ops.push(op(&["plugins", "disable", p]));
                ops.push(op(&["plugins", "enable", p]));
            }
            ops.push(op(&["plugins", "disable", p]));
            ops
        })
        .collect();
    let mut runtime_ops = Vec::new();
    for _ in 0..ROUNDS {
        runtime_ops.push(op(&["runtime", "disable", "codex_app_server"]));
        runtime_ops.push(op(&["runtime", "enable", "codex_app_server"]));
    }
    runtime_ops.push(op(&["runtime", "disable", "codex_app_server"]));
    plans.push(runtime_ops);
    plans.push(
        (0..=2 * ROUNDS)
            .map(|_| op(&["codex-runtime", "off"]))
            .collect(),
    );

    // Build (or find) the binary first, so the clock measures only the runs.
    talaria_tests::artifacts();
    let started = std::time::Instant::now();
    let runs: Vec<(String, Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .into_iter()
            .map(|plan| s.spawn(|| worker(&home, plan)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for (what, run) in &runs {
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    }
    eprintln!(
        "{} config edits from 8 processes in {:.1} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(runs.len(), 8 * (2 * ROUNDS + 1));

    let (text, parsed) = config(&home);
    assert_eq!(
        string_set(parsed["plugins"].get("disabled")),
        plugins.iter().map(|p| p.to_string()).collect(),
        "every process's last `plugins disable` is kept:\n{text}"
    );
    assert_eq!(
        string_set(parsed["runtimes"].get("disabled")),
        BTreeSet::from(["codex_app_server".to_owned()]),
        "{text}"
    );
    assert_eq!(parsed["model"]["runtime"].as_str(), Some("auto"), "{text}");
    for kept in [
        "# my talaria settings: keep this line",
        "websocket = false # and this comment",
        "# the user's pick",
    ] {
        assert!(text.contains(kept), "lost {kept:?}:\n{text}");
    }
    // No temp file of a writer is left beside the config.
    let names = talaria_tests::crash::file_names(&home.root());
    assert!(
        names.iter().all(|n| !n.contains(".tmp-")),
        "leftover temp files: {names:?}"
    );
}

const WORKERS: usize = 8;
const OPS: usize = 10;

/// 8 processes × 10 operations on one profile: 4 chat workers (each chat a new session),
/// 2 login workers (each `auth add --import-codex` a new account), 2 config-edit workers,
/// all starting together while the profile's first account holds an expired access token.
#[test]
fn eight_processes_times_ten_operations_lose_no_session_token_or_edit() {
    let mock = MockServer::start();
    // Widen the window in which several processes want the refresh at once.
    mock.refresh_delay(Duration::from_millis(300));
    let home = home_for(&mock);
    let first = AccountSpec::default();
    let expired = mock.issue_tokens(&first, -10);
    seed_pool(&home, &[(&expired, &first)]);
    std::fs::write(home.path("config.toml"), USER_CONFIG).unwrap();

    let mut plans: Vec<Vec<_>> = Vec::new();
    // Workers 0-3: chats, each one a new session with its own prompt.
    for w in 0..4 {
        plans.push(
            (0..OPS)
                .map(|k| op(&["chat", "-q", &format!("worker {w} chat {k}")]))
                .collect(),
        );
    }
    // Workers 4-5: logins, each importing another account's Codex CLI login.
    let mut imported = BTreeMap::new();
    for w in 4..6 {
        let mut ops = Vec::new();
        for k in 0..OPS {
            let n = format!("{w}-{k}");
            let who = AccountSpec::new(
                &format!("user{n}@example.com"),
                &format!("acct-{n}"),
                &format!("user-{n}"),
                "plus",
            );
            let tokens = mock.issue_tokens(&who, 3600);
            let dir = codex_login(&home.dir.path().join(format!("codex-{n}")), &tokens);
            imported.insert(who.account_id.clone(), tokens.refresh_token.clone());
            let (args, _) = op(&["auth", "add", "openai-codex", "--import-codex"]);
            ops.push((
                args,
                vec![("CODEX_HOME".to_owned(), dir.display().to_string())],
            ));
        }
        plans.push(ops);
    }
    // Workers 6-7: config edits, each ending in a known state.
    plans.push(vec![
        op(&["plugins", "disable", "chat-completions"]),
        op(&["plugins", "disable", "openai-compatible"]),
        op(&["plugins", "enable", "chat-completions"]),
        op(&["plugins", "disable", "chat-completions"]),
        op(&["runtime", "disable", "codex_app_server"]),
        op(&["runtime", "enable", "codex_app_server"]),
        op(&["runtime", "disable", "codex_app_server"]),
        op(&["codex-runtime", "off"]),
        op(&["plugins", "disable", "openai-api"]),
        op(&["plugins", "enable", "openai-api"]),
    ]);
    plans.push(vec![
        op(&["plugins", "disable", "mcp-bridge"]),
        op(&["plugins", "enable", "mcp-bridge"]),
        op(&["plugins", "disable", "mcp-bridge"]),
        op(&["runtime", "use", "auto"]),
        op(&["profile", "create", "side"]),
        op(&["profile", "use", "default"]),
        op(&["plugins", "disable", "openai-compatible"]),
        op(&["runtime", "list"]),
        op(&["plugins", "list"]),
        op(&["auth", "list", "--json"]),
    ]);
    assert_eq!(plans.len(), WORKERS);
    assert!(plans.iter().all(|p| p.len() == OPS));

    // Build (or find) the binary first, so the clock measures only the runs.
    talaria_tests::artifacts();
    let started = std::time::Instant::now();
    let runs: Vec<(String, Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .into_iter()
            .map(|plan| s.spawn(|| worker(&home, plan)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    eprintln!(
        "{WORKERS} processes x {OPS} operations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(runs.len(), WORKERS * OPS);
    for (what, run) in &runs {
        assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    }

    // No lost session: 40 chats, 40 sessions, each with its prompt and its answer.
    let db = sessions_db(&home);
    assert_eq!(integrity_check(&db), "ok");
    let mut by_session: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (session, role, content) in stored_messages(&db) {
        by_session.entry(session).or_default().push((role, content));
    }
    assert_eq!(by_session.len(), 4 * OPS, "{by_session:#?}");
    let mut prompts = BTreeSet::new();
    for messages in by_session.values() {
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].0, "user");
        assert_eq!(
            messages[1],
            ("assistant".to_owned(), "Hello from the mock.".to_owned())
        );
        prompts.insert(messages[0].1.clone());
    }
    let expected: BTreeSet<String> = (0..4)
        .flat_map(|w| (0..OPS).map(move |k| format!("worker {w} chat {k}")))
        .collect();
    assert_eq!(prompts, expected);
    let listed = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 4 * OPS);

    // No lost token: the first account holds the one rotation's tokens, and every
    // imported account is in the pool with its own.
    assert_eq!(
        mock.count("/oauth/token", "refresh_token"),
        1,
        "one issuer call for the one rotation"
    );
    let rotated = mock
        .issued_tokens()
        .into_iter()
        .rfind(|t| t.account_id == first.account_id)
        .unwrap();
    assert_ne!(rotated.refresh_token, expired.refresh_token);
    let entries = pool(&home);
    assert_eq!(entries.len(), 1 + 2 * OPS);
    let stored: BTreeMap<String, String> = entries
        .iter()
        .map(|e| {
            (
                e["account_id"].as_str().unwrap().to_owned(),
                e["tokens"]["refresh_token"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(stored[&first.account_id], rotated.refresh_token);
    for (account, refresh) in &imported {
        assert_eq!(stored.get(account), Some(refresh), "account {account}");
    }
    for e in &entries {
        assert_eq!(e["status"], "ok", "{e}");
    }
    // Every chat used the first account, with the rotated access token.
    for r in mock.requests_to("/backend-api/codex/responses") {
        if let Some(auth) = r.header("authorization") {
            assert_eq!(auth, format!("Bearer {}", rotated.access_token));
        }
    }

    // No lost edit, and the user's comments are still there.
    let (text, parsed) = config(&home);
    assert_eq!(
        string_set(parsed["plugins"].get("disabled")),
        BTreeSet::from([
            "chat-completions".to_owned(),
            "openai-compatible".to_owned(),
            "mcp-bridge".to_owned()
        ]),
        "{text}"
    );
    assert_eq!(
        string_set(parsed["runtimes"].get("disabled")),
        BTreeSet::from(["codex_app_server".to_owned()])
    );
    assert_eq!(parsed["model"]["runtime"].as_str(), Some("auto"));
    assert!(
        text.starts_with("# my talaria settings: keep this line\n"),
        "{text}"
    );
    assert!(
        text.contains("websocket = false # and this comment"),
        "{text}"
    );
    let profiles = home.run(&["profile", "list"]).ok().stdout;
    assert!(
        profiles.lines().any(|l| l.starts_with("side")),
        "{profiles}"
    );
}
