//! What the `codex_app_server` runtime adds on top of codex itself: the release
//! `talaria chat -q --runtime codex_app_server` against driving the same `codex
//! app-server` directly over stdio (spawn, `initialize`, `initialized`, `thread/start`,
//! `turn/start`, read to `turn/completed`, close stdin, wait for the exit), in one run
//! against the same mock, for a one-shot turn with a short answer and one whose answer
//! streams as 20,000 one-character deltas. Writes its figures into docs/performance.md.
//! Run with `cargo bench -p talaria-tests --bench codex_runtime` (after
//! `.ci/install-codex`).
//!
//! As the other benches: nothing asserts on speed; every figure is a median over repeated
//! runs with its min–max; the two clients take turns within each repetition (the order
//! alternating), and the ratio is paired per repetition. Every measured run is checked
//! (exit status 0, the whole answer received, one model request recorded by the mock);
//! a run that fails a check is left out and reported.

// Benchmark setup that fails should stop the run loudly, as in the test kit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talaria_tests::artifacts::release_artifacts;
use talaria_tests::codex_cli::{codex_bin, CodexHome, CODEX_VERSION};
use talaria_tests::doc_block;
use talaria_tests::mock::{text_events, MockServer};
use talaria_tests::stats::{ratio, spread, Stats};

const PROMPT: &str = "Say hello";
const SHORT_CHUNKS: [&str; 6] = ["Short", " answer", " from", " the", " benchmark", " mock."];
const DRAIN_DELTAS: usize = 20_000;
const SHORT_RUNS: usize = 15;
const DRAIN_RUNS: usize = 7;

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    Short,
    Drain,
}

impl Scenario {
    fn chunks(self) -> Vec<String> {
        match self {
            Scenario::Short => SHORT_CHUNKS.iter().map(|s| (*s).to_owned()).collect(),
            Scenario::Drain => (0..DRAIN_DELTAS)
                .map(|i| char::from(b'a' + (i % 26) as u8).to_string())
                .collect(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Scenario::Short => "one-shot turn, short answer",
            Scenario::Drain => "one-shot turn, 20,000 deltas",
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("codex_runtime measures only under `cargo bench -p talaria-tests --bench codex_runtime`; skipped");
        return;
    }
    eprintln!("building the release binary and the first-party plugins…");
    let talaria = release_artifacts().talaria.clone();
    let codex = codex_bin();
    let mock = MockServer::start();
    let home = CodexHome::new(&mock, "");

    let mut failures = Vec::new();
    let mut report = String::new();
    for scenario in [Scenario::Short, Scenario::Drain] {
        let runs = if scenario == Scenario::Short {
            SHORT_RUNS
        } else {
            DRAIN_RUNS
        };
        let expected: String = scenario.chunks().concat();
        // Warm-up: one of each (page cache, codex's first-run databases).
        let _ = run_talaria(&talaria, &home, &mock, scenario);
        let _ = run_direct(&codex, &home, &mock, scenario);
        let mut ours = Vec::new();
        let mut direct = Vec::new();
        let mut ratios = Vec::new();
        for rep in 0..runs {
            let order = if rep % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            let mut pair = [None, None];
            for talaria_first in order {
                let (slot, result) = if talaria_first {
                    (0, run_talaria(&talaria, &home, &mock, scenario))
                } else {
                    (1, run_direct(&codex, &home, &mock, scenario))
                };
                match result {
                    Ok((secs, text)) if text == expected => pair[slot] = Some(secs),
                    Ok((_, text)) => failures.push(format!(
                        "{} ({}): got {} characters of the answer, not {}",
                        if slot == 0 { "talaria" } else { "direct" },
                        scenario.name(),
                        text.len(),
                        expected.len()
                    )),
                    Err(e) => failures.push(format!("{}: {e}", scenario.name())),
                }
            }
            if let [Some(t), Some(d)] = pair {
                ours.push(t);
                direct.push(d);
                ratios.push(t / d);
            }
        }
        let _ = writeln!(
            report,
            "| {} | {} | {} | {} |",
            scenario.name(),
            spread(Stats::of(ours.clone()), 1e-3, 0),
            spread(Stats::of(direct.clone()), 1e-3, 0),
            ratio(Stats::of(ratios.clone()))
        );
        eprintln!(
            "{}: talaria {:?} direct {:?}",
            scenario.name(),
            Stats::of(ours),
            Stats::of(direct)
        );
    }
    for f in &failures {
        eprintln!("left out: {f}");
    }
    write_doc(&report, &failures);
}

/// Queues the scenario's answer on a cleared mock and returns a command for `program`
/// with the test home's environment: both clients start from the same place.
fn start_run(
    program: &PathBuf,
    home: &CodexHome,
    mock: &MockServer,
    scenario: Scenario,
) -> Command {
    let chunks = scenario.chunks();
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    mock.clear_requests();
    mock.push_events(text_events("bench", &refs));
    let mut cmd = Command::new(program);
    for (key, value) in home.home.command(&[]).get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// `talaria chat -q` on the codex runtime: wall time to exit, and stdout.
fn run_talaria(
    talaria: &PathBuf,
    home: &CodexHome,
    mock: &MockServer,
    scenario: Scenario,
) -> Result<(f64, String), String> {
    let mut cmd = start_run(talaria, home, mock, scenario);
    cmd.env_remove("TALARIA_CODEX_TRACE")
        .args(["chat", "-q", PROMPT, "--runtime", "codex_app_server"])
        .current_dir(&home.workspace)
        .stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd.output().map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "talaria exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if mock.requests_to("/v1/responses").len() != 1 {
        return Err("talaria: not exactly one model request".into());
    }
    let text = String::from_utf8_lossy(&out.stdout)
        .trim_end_matches('\n')
        .to_owned();
    Ok((secs, text))
}

/// The floor: a minimal client of our own driving `codex app-server` over stdio.
fn run_direct(
    codex: &PathBuf,
    home: &CodexHome,
    mock: &MockServer,
    scenario: Scenario,
) -> Result<(f64, String), String> {
    let mut cmd = start_run(codex, home, mock, scenario);
    cmd.env("CODEX_HOME", &home.codex_home)
        .env("RUST_LOG", "warn")
        .arg("app-server")
        .current_dir(&home.workspace)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |v: Value| -> Result<(), String> {
        writeln!(stdin, "{v}").map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())
    };
    let mut wait_for = |id: i64| -> Result<Value, String> {
        for line in lines.by_ref() {
            let v: Value = serde_json::from_str(&line.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            if v["id"] == id && v.get("method").is_none() {
                return Ok(v["result"].clone());
            }
        }
        Err("codex closed stdout".into())
    };
    send(
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "bench", "version": "0"}}}),
    )?;
    wait_for(1)?;
    send(json!({"method": "initialized"}))?;
    send(json!({"id": 2, "method": "thread/start", "params": {"cwd": home.workspace}}))?;
    let thread = wait_for(2)?;
    let thread_id = thread["thread"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    send(
        json!({"id": 3, "method": "turn/start", "params": {"threadId": thread_id,
        "input": [{"type": "text", "text": PROMPT, "text_elements": []}]}}),
    )?;
    let mut text = String::new();
    for line in lines.by_ref() {
        let v: Value =
            serde_json::from_str(&line.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        match v["method"].as_str() {
            Some("item/agentMessage/delta") => {
                text.push_str(v["params"]["delta"].as_str().unwrap_or_default())
            }
            Some("turn/completed") => break,
            _ => {}
        }
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("codex did not exit after stdin closed".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let secs = started.elapsed().as_secs_f64();
    if mock.requests_to("/v1/responses").len() != 1 {
        return Err("direct: not exactly one model request".into());
    }
    Ok((secs, text))
}

fn write_doc(rows: &str, failures: &[String]) {
    let mut section = format!(
        "## The codex runtime: talaria around codex app-server\n\n\
`talaria chat -q \"{PROMPT}\" --runtime codex_app_server` (release build) against a minimal \
client of the bench's own driving the same `codex app-server` over stdio (spawn, initialize, \
thread/start, turn/start, read to turn/completed, close stdin, wait for the exit), in one run, \
both on the Codex CLI {CODEX_VERSION} (its npm launcher) with a custom model provider pointed \
at the test kit's mock (`/v1/responses`, SSE). Wall time from spawn to exit, median (min–max) \
over {SHORT_RUNS} / {DRAIN_RUNS} paired runs after one warm-up each; the ratio is talaria over \
direct, paired per run. Aim: at most 1.10×.\n\n\
| scenario | talaria (ms) | codex app-server direct (ms) | ratio |\n|---|---|---|---|\n{rows}"
    );
    if !failures.is_empty() {
        let _ = writeln!(section, "\nRuns left out: {}", failures.join("; "));
    }
    let _ = write!(
        section,
        "\nWhat talaria adds: starting itself and loading its plugins, a session in SQLite, \
the runtime's own reader thread, an event through the plugin ABI to the renderer for \
each delta (or for the deltas that piled up behind it, gathered into one), and storing \
the turn. Measured on a shared 2-core machine; rerun with \
`cargo bench -p talaria-tests --bench codex_runtime`.\n"
    );
    // A doc without the block gets it right after chat_peers' block (above
    // plugin_abi's, which rewrites everything below its marker).
    doc_block::write_block("docs/performance.md", "codex_runtime", &section, |doc| {
        doc_block::after(doc, &doc_block::end_marker("chat_peers"))
    });
}
