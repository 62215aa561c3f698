//! Long use (issue 14): a 500-turn REPL session and a 10,000-message resume.
//!
//! 1. `talaria chat --approvals auto` on a pseudo-terminal against the test kit's mock
//!    backend (signed in to the mock ChatGPT account, websocket transport), typed into
//!    one turn at a time. Every fifth turn the model calls `read_file` (example-tools)
//!    before it answers. After each turn the bench checks the answer reached the screen
//!    and that the model saw the whole history so far (in full, or over the websocket as
//!    `previous_response_id` plus the new items; the mock's usage figures stay far below
//!    the compression threshold, so no compaction happens), then samples talaria's
//!    VmRSS/VmHWM from /proc and the size of `sessions.db` (+ its WAL).
//! 2. A session of 10,000 stored messages: one real turn through `talaria chat -q`, then
//!    4,999 more user/assistant exchanges appended through the host's own `SessionStore`
//!    (the calls a turn makes: message, message, usage, items) — the fixture path, since
//!    5,000 real turns would re-send a history growing to megabytes 5,000 times. Then the
//!    median time of `talaria chat -c -q` (a resumed turn, which loads and re-sends all
//!    10,000 items) against the same command on a two-message session, and of
//!    `talaria sessions show`.
//!
//! Nothing asserts on speed or memory. Writes its part of the `## Long use` section of
//! docs/reliability.md. Run with `cargo bench -p talaria-tests --bench soak`
//! (`TALARIA_SOAK_TURNS=N` for a shorter session, `TALARIA_SOAK_WRAP="heaptrack -o FILE"`
//! to run the REPL under a profiler).

// Benchmark setup that fails should stop the run loudly, as in the test kit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talaria::sessions::SessionStore;
use talaria_plugin_api::items::Item;
use talaria_plugin_api::payload::Usage;
use talaria_tests::artifacts::{artifacts, release_artifacts};
use talaria_tests::codex::seed_pool;
use talaria_tests::doc_block;
use talaria_tests::mock::{
    function_call_events, text_events, AccountSpec, MockServer, TITLE_REQUEST,
};
use talaria_tests::stats::{spread, Stats};
use talaria_tests::TestHome;

const DEFAULT_TURNS: usize = 500;
/// Every this many turns, the turn includes a tool call.
const TOOL_EVERY: usize = 5;
const BIG_MESSAGES: usize = 10_000;
const RUNS: usize = 5;
const RESPONSES: &str = "/backend-api/codex/responses";
const TURN_TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("soak measures only under `cargo bench -p talaria-tests --bench soak`; skipped");
        return;
    }
    let turns = std::env::var("TALARIA_SOAK_TURNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_TURNS);
    // `cargo test -p talaria-tests --bench soak -- --bench` runs it on debug builds, to
    // try a change quickly; the figures in the docs come from `cargo bench`.
    let talaria = if cfg!(debug_assertions) {
        artifacts().talaria.clone()
    } else {
        release_artifacts().talaria.clone()
    };
    let mock = MockServer::start();
    let repl = repl_soak(&talaria, &mock, turns);
    let big = big_session(&talaria, &mock);
    let doc = report(turns, &repl, &big);
    eprintln!("{doc}");
    write_doc(&doc);
}

/// A home signed in to the mock's default account, its environment for a clean run.
fn home(mock: &MockServer) -> (TestHome, Vec<(String, String)>) {
    let home = TestHome::new();
    let who = AccountSpec::default();
    let tokens = mock.issue_tokens(&who, 24 * 3600);
    seed_pool(&home, &[(&tokens, &who)]);
    std::fs::create_dir_all(home.user_home()).unwrap();
    let env = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), home.user_home().display().to_string()),
        ("TALARIA_HOME".into(), home.root().display().to_string()),
        ("TALARIA_AUTH_ISSUER".into(), mock.issuer_url()),
        ("TALARIA_CODEX_BASE_URL".into(), mock.codex_base_url()),
        ("TERM".into(), "dumb".into()),
    ];
    (home, env)
}

struct Sample {
    turn: usize,
    rss_kib: u64,
    hwm_kib: u64,
    db_bytes: u64,
    /// Bytes of the stored history (its items as JSON).
    history_bytes: usize,
    /// Bytes of the turn's last model request.
    request_bytes: usize,
    items: usize,
    turn_ms: f64,
}

struct ReplSoak {
    samples: Vec<Sample>,
    /// sessions.db + WAL after every turn.
    db_per_turn: Vec<u64>,
    turn_ms: Vec<f64>,
    total: Duration,
    /// Model requests that carried the whole history (no `previous_response_id`).
    full_requests: usize,
    failure: Option<String>,
}

fn repl_soak(talaria: &Path, mock: &MockServer, turns: usize) -> ReplSoak {
    let (home, env) = home(mock);
    let workspace = home.dir.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("notes.txt"),
        "soak notes: line one\nline two\n",
    )
    .unwrap();
    mock.push_script_when(TITLE_REQUEST, text_events("resp_title", &["Soak"]));

    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "{}{} chat --approvals auto",
            wrapper(),
            talaria.display()
        ))
        .arg("/dev/null")
        .current_dir(&workspace)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("run script(1) for a pty");
    let screen = Arc::new(Mutex::new(String::new()));
    let readers = [
        pump(child.stdout.take().unwrap(), screen.clone()),
        pump(child.stderr.take().unwrap(), screen.clone()),
    ];
    let mut stdin = child.stdin.take().unwrap();

    let mut out = ReplSoak {
        samples: Vec::new(),
        db_per_turn: Vec::new(),
        turn_ms: Vec::new(),
        total: Duration::ZERO,
        full_requests: 0,
        failure: None,
    };
    let db = home.path("profiles/default/sessions.db");
    let db = if db.parent().is_some_and(Path::is_dir) {
        db
    } else {
        home.path("sessions.db")
    };
    let mut expected_items = 0usize;
    let mut seen_items = 0usize;
    let mut context_base = None;
    let mut full_requests = 0usize;
    let mut pid = None;
    let started = Instant::now();
    for turn in 1..=turns {
        let answer = format!("answer {turn} done.");
        let tool = turn % TOOL_EVERY == 0;
        if tool {
            let args = json!({"path": workspace.join("notes.txt").display().to_string()});
            mock.push_events(function_call_events(
                &format!("resp_{turn}_a"),
                &format!("call_{turn}"),
                "read_file",
                &args.to_string(),
            ));
        }
        mock.push_events(text_events(
            &format!("resp_{turn}"),
            &["answer ", &format!("{turn} done.")],
        ));
        let mark = screen.lock().unwrap().len();
        let t0 = Instant::now();
        write!(stdin, "turn {turn}: tell me something\r").unwrap();
        stdin.flush().unwrap();
        if let Err(why) = wait_for(&screen, mark, &answer, &mut child) {
            out.failure = Some(format!("turn {turn}: {why}"));
            break;
        }
        // The session is stored after the answer is shown; wait for the prompt to return.
        let elapsed = wait_idle(&screen, t0);
        let turn_ms = elapsed.as_secs_f64() * 1e3;
        out.turn_ms.push(turn_ms);

        // The turn's requests: 1 (text) or 2 (tool call, then text). Over the websocket
        // a request that continues the previous response names it
        // (`previous_response_id`) and carries only the new items; the server adds that
        // response's input and output. Either way the model must see the whole history:
        // every prompt, answer, call and output so far.
        let requests: Vec<Value> = mock
            .turn_requests_to(RESPONSES)
            .into_iter()
            .filter(|r| r.method == "WS" || r.method == "POST")
            .map(|r| r.json())
            .collect();
        mock.clear_requests();
        let want_requests = if tool { 2 } else { 1 };
        expected_items += 1 + if tool { 2 } else { 0 };
        if requests.len() != want_requests {
            out.failure = Some(format!(
                "turn {turn}: {} model requests, want {want_requests}",
                requests.len()
            ));
            break;
        }
        let mut request_bytes = 0;
        for request in &requests {
            let input = request["input"].as_array().cloned().unwrap_or_default();
            // A full request starts with the context the loop adds (instructions, the
            // environment); the first turn's request says how many items that is.
            let base = *context_base.get_or_insert(input.len().saturating_sub(1));
            let items = if request.get("previous_response_id").is_some() {
                input.len()
            } else {
                input.len().saturating_sub(base)
            };
            seen_items = if request.get("previous_response_id").is_some() {
                // The previous response's one output item (a message or a call), then these.
                seen_items + 1 + items
            } else {
                full_requests += 1;
                items
            };
            request_bytes = request.to_string().len();
        }
        if seen_items != expected_items {
            out.failure = Some(format!(
                "turn {turn}: the model saw {seen_items} history items, want {expected_items}"
            ));
            break;
        }
        // The answer joins the history the next turn sends.
        expected_items += 1;
        let context_items = seen_items;

        let db_bytes = logical_size(&db);
        out.db_per_turn.push(db_bytes);
        if pid.is_none() {
            pid = talaria_pid(child.id());
        }
        if turn == 1 || turn % 100 == 0 || turn == turns {
            let Some((rss_kib, hwm_kib)) = pid.and_then(memory) else {
                out.failure = Some(format!("turn {turn}: cannot read talaria's /proc status"));
                break;
            };
            // The history as stored (and held by the session): its items as JSON.
            let history_bytes = SessionStore::open(&db)
                .and_then(|store| {
                    let id = store.latest()?.map(|s| s.id).unwrap_or_default();
                    store.items(&id)
                })
                .map(|items| serde_json::to_string(&items).unwrap().len())
                .unwrap_or(0);
            out.samples.push(Sample {
                turn,
                request_bytes,
                rss_kib,
                hwm_kib,
                db_bytes,
                history_bytes,
                items: context_items,
                turn_ms,
            });
            eprintln!(
                "soak: turn {turn}: RSS {rss_kib} KiB (peak {hwm_kib}), sessions.db {db_bytes} B, history {history_bytes} B in {context_items} items, last request {request_bytes} B, {turn_ms:.1} ms"
            );
        }
    }
    out.total = started.elapsed();
    out.full_requests = full_requests;
    let _ = stdin.write_all(b"\x04");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    if let Some(why) = &out.failure {
        eprintln!("soak: stopped: {why}");
        let text = screen.lock().unwrap().clone();
        let tail: String = text
            .chars()
            .rev()
            .take(1500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        eprintln!("soak: screen tail:\n{tail}");
    }
    out
}

/// `TALARIA_SOAK_WRAP`: a command the REPL runs under, to profile it (e.g.
/// `heaptrack -o /tmp/soak`); empty by default.
fn wrapper() -> String {
    match std::env::var("TALARIA_SOAK_WRAP") {
        Ok(w) if !w.trim().is_empty() => format!("{} ", w.trim()),
        _ => String::new(),
    }
}

/// Copies a pipe into `screen` until it closes.
fn pump(
    mut from: impl Read + Send + 'static,
    screen: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            screen
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

/// Waits until `needle` shows on the screen after byte `from`.
fn wait_for(
    screen: &Mutex<String>,
    from: usize,
    needle: &str,
    child: &mut Child,
) -> Result<(), String> {
    let deadline = Instant::now() + TURN_TIMEOUT;
    loop {
        if screen.lock().unwrap()[from..].contains(needle) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "talaria exited ({status}) before {needle:?} showed"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!("{needle:?} did not show within {TURN_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the screen has been quiet for a moment (the turn stored, the prompt
/// back); the time from `t0` to the last output.
fn wait_idle(screen: &Mutex<String>, t0: Instant) -> Duration {
    let mut len = screen.lock().unwrap().len();
    let mut last_change = Instant::now();
    while last_change.elapsed() < Duration::from_millis(30) {
        std::thread::sleep(Duration::from_millis(2));
        let now = screen.lock().unwrap().len();
        if now != len {
            len = now;
            last_change = Instant::now();
        }
    }
    last_change.duration_since(t0)
}

/// The talaria process under script(1).
fn talaria_pid(script: u32) -> Option<u32> {
    let mut todo = vec![script];
    while let Some(pid) = todo.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "talaria" {
            return Some(pid);
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        todo.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    None
}

/// (VmRSS, VmHWM) in KiB.
fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The database's size as SQLite sees it (pages × page size, the WAL's pages
/// included): what the file holds after a checkpoint, free of the WAL's reuse.
fn logical_size(db: &Path) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    let pragma = |name: &str| {
        conn.pragma_query_value(None, name, |r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    (pragma("page_count") * pragma("page_size")) as u64
}

struct BigSession {
    messages: u64,
    build: Duration,
    db_bytes: u64,
    resume_big: Vec<f64>,
    resume_small: Vec<f64>,
    show: Vec<f64>,
    show_json: Vec<f64>,
    failures: Vec<String>,
}

fn big_session(talaria: &Path, mock: &MockServer) -> BigSession {
    let (big_home, env) = home(mock);
    let (small_home, small_env) = home(mock);
    let mut out = BigSession {
        messages: 0,
        build: Duration::ZERO,
        db_bytes: 0,
        resume_big: Vec::new(),
        resume_small: Vec::new(),
        show: Vec::new(),
        show_json: Vec::new(),
        failures: Vec::new(),
    };
    // One real turn in each home makes the session and the profile as a user's would be.
    for (h, e) in [(&big_home, &env), (&small_home, &small_env)] {
        mock.push_script_when(TITLE_REQUEST, text_events("resp_title", &["Big"]));
        mock.push_events(text_events("resp_first", &["first answer"]));
        let run = run(talaria, e, &["chat", "-q", "first prompt"]);
        assert!(run.0, "the first turn failed: {}", run.1);
        let _ = h;
    }
    let db = sessions_db(&big_home);
    let started = Instant::now();
    {
        let store = SessionStore::open(&db).unwrap();
        let session = store.latest().unwrap().expect("the first turn's session");
        let usage = Usage {
            input_tokens: 1200,
            output_tokens: 80,
            total_tokens: 1280,
            ..Usage::default()
        };
        for n in 2..=BIG_MESSAGES / 2 {
            let prompt = format!("prompt {n}: please look at the module and say what it does");
            let answer = format!(
                "answer {n}: the module reads the configuration, checks each section and \
                 reports the first problem it finds, with the file and line."
            );
            store.add_message(&session.id, "user", &prompt).unwrap();
            store
                .add_message(&session.id, "assistant", &answer)
                .unwrap();
            store.add_usage(&session.id, &usage).unwrap();
            store
                .add_items(
                    &session.id,
                    &[Item::user_text(&prompt), Item::assistant_text(&answer)],
                )
                .unwrap();
        }
        out.messages = store
            .get(&session.id)
            .unwrap()
            .unwrap()
            .session
            .message_count;
    }
    out.build = started.elapsed();
    out.db_bytes = logical_size(&db);
    eprintln!(
        "soak: built a session of {} messages in {:.1} s; sessions.db {} B",
        out.messages,
        out.build.as_secs_f64(),
        out.db_bytes
    );

    for round in 0..=RUNS {
        for (label, e, times) in [
            ("big", &env, &mut out.resume_big),
            ("small", &small_env, &mut out.resume_small),
        ] {
            mock.clear_requests();
            mock.push_events(text_events(&format!("resp_r{round}"), &["resumed answer"]));
            let t0 = Instant::now();
            let (ok, text) = run(talaria, e, &["chat", "-c", "-q", "and now?"]);
            let secs = t0.elapsed().as_secs_f64();
            let sent = mock
                .turn_requests_to(RESPONSES)
                .last()
                .map(|r| r.json()["input"].as_array().map_or(0, Vec::len))
                .unwrap_or(0);
            if !ok || !text.contains("resumed answer") {
                out.failures
                    .push(format!("resume ({label}, round {round}): {}", tail(&text)));
            } else if label == "big" && sent < BIG_MESSAGES {
                out.failures.push(format!(
                    "resume (big, round {round}): only {sent} items sent"
                ));
            } else if round > 0 {
                times.push(secs);
            }
        }
        let id = SessionStore::open(&db)
            .unwrap()
            .latest()
            .unwrap()
            .unwrap()
            .id;
        for (args, times) in [
            (vec!["sessions", "show", id.as_str()], &mut out.show),
            (
                vec!["sessions", "show", id.as_str(), "--json"],
                &mut out.show_json,
            ),
        ] {
            let t0 = Instant::now();
            let (ok, text) = run(talaria, &env, &args);
            let secs = t0.elapsed().as_secs_f64();
            if !ok {
                out.failures.push(format!(
                    "{} (round {round}): {}",
                    args.join(" "),
                    tail(&text)
                ));
            } else if round > 0 {
                times.push(secs);
            }
        }
    }
    out
}

fn sessions_db(home: &TestHome) -> PathBuf {
    let profile = home.path("profiles/default/sessions.db");
    if profile.is_file() {
        profile
    } else {
        home.path("sessions.db")
    }
}

/// Runs talaria to the end: (exit 0, stdout + stderr).
fn run(talaria: &Path, env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let out = Command::new(talaria)
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

fn report(turns: usize, repl: &ReplSoak, big: &BigSession) -> String {
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut out = String::new();
    let date = doc_block::utc_now();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let _ = writeln!(
        out,
        "`cargo bench -p talaria-tests --bench soak` (`tests/benches/soak.rs`), {date}, {build} build, \
         mock backend on 127.0.0.1 (websocket).\n"
    );
    let _ = writeln!(
        out,
        "### A {turns}-turn REPL session\n\n`talaria chat --approvals auto` on a pty, one prompt typed per turn; \
         every {TOOL_EVERY}th turn the model calls `read_file` before answering. Each turn is checked: the answer \
         on screen, and the model saw the whole history (every prompt, answer, call and output so far; over the \
         websocket a request that continues the previous response names it with `previous_response_id` and \
         carries only the new items, which {} of the {} requests did not). Compression never starts: the mock \
         reports ~12 input tokens a turn. Memory is talaria's own VmRSS from \
         /proc at the sample turn (peak VmHWM beside it); the store's size is SQLite's (pages × page size, WAL included).\n",
        repl.full_requests,
        repl.turn_ms.len() + repl.turn_ms.len() / TOOL_EVERY
    );
    let _ = writeln!(
        out,
        "| turn | RSS, MiB | peak RSS, MiB | sessions.db, KiB | history, KiB (items) | last request, KiB | turn, ms |\n|---|---|---|---|---|---|---|"
    );
    for s in &repl.samples {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.0} | {:.1} ({}) | {:.1} | {:.1} |",
            s.turn,
            mib(s.rss_kib),
            mib(s.hwm_kib),
            s.db_bytes as f64 / 1024.0,
            s.history_bytes as f64 / 1024.0,
            s.items,
            s.request_bytes as f64 / 1024.0,
            s.turn_ms
        );
    }
    if let (Some(first), Some(last)) = (
        repl.samples
            .iter()
            .find(|s| s.turn >= 100)
            .or(repl.samples.first()),
        repl.samples.last(),
    ) {
        if last.turn > first.turn {
            let span = (last.turn - first.turn) as f64;
            let rss_slope = (last.rss_kib as f64 - first.rss_kib as f64) / span;
            let hist_slope =
                (last.history_bytes as f64 - first.history_bytes as f64) / 1024.0 / span;
            let _ = writeln!(
                out,
                "\nFrom turn {} to {}: RSS {:+.2} KiB per turn; the stored history grows {:.2} KiB per turn.",
                first.turn, last.turn, rss_slope, hist_slope
            );
        }
    }
    if repl.db_per_turn.len() > 1 {
        let n = repl.db_per_turn.len();
        let per_turn =
            (repl.db_per_turn[n - 1] as f64 - repl.db_per_turn[0] as f64) / (n - 1) as f64;
        let _ = writeln!(
            out,
            "sessions.db grows {:.0} B per turn on average ({} turns, of which every {TOOL_EVERY}th with a tool call).",
            per_turn, n
        );
    }
    let _ = writeln!(
        out,
        "Turn time (prompt typed to screen quiet): {} ms; the whole session {:.0} s.",
        spread(Stats::of(repl.turn_ms.clone()), 1.0, 1),
        repl.total.as_secs_f64()
    );
    if let Some(why) = &repl.failure {
        let _ = writeln!(out, "\n**The session stopped early**: {why}");
    }
    let _ = writeln!(
        out,
        "\n### A session of {BIG_MESSAGES} messages\n\nBuilt from one real `chat -q` turn plus {} exchanges \
         appended through the host's `SessionStore` (each exchange: two messages, a usage row, two items, as a \
         turn stores them), in {:.1} s. Stored messages: {}; `sessions.db`: {:.1} MiB. Medians of {RUNS} \
         runs (min–max), after a warm-up:\n",
        BIG_MESSAGES / 2 - 1,
        big.build.as_secs_f64(),
        big.messages,
        big.db_bytes as f64 / 1048576.0
    );
    let _ = writeln!(out, "| command | time, ms |\n|---|---|");
    for (label, times) in [
        (
            format!("`chat -c -q` resuming the {BIG_MESSAGES}-message session (loads and re-sends every item)"),
            &big.resume_big,
        ),
        ("`chat -c -q` resuming a two-message session".to_owned(), &big.resume_small),
        (format!("`sessions show ID` ({BIG_MESSAGES} messages)"), &big.show),
        (format!("`sessions show ID --json` ({BIG_MESSAGES} messages)"), &big.show_json),
    ] {
        let _ = writeln!(out, "| {label} | {} |", spread(Stats::of(times.clone()), 1e-3, 0));
    }
    if !big.failures.is_empty() {
        let _ = writeln!(out, "\nRuns left out:\n");
        for f in &big.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

fn write_doc(generated: &str) {
    // A doc without the block gets it inside `## Long use`, before the next section.
    doc_block::write_block("docs/reliability.md", "soak", generated, |doc| {
        doc.find("## Long use")
            .and_then(|s| doc[s + 1..].find("\n## ").map(|n| s + 1 + n + 1))
            .unwrap_or(doc.len())
    });
}
