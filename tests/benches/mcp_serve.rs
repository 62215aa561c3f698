//! MCP: `talaria mcp serve` against the reference server `server-everything`, and what
//! one MCP tool call adds to a native turn. Writes its figures into docs/performance.md.
//! Run with `cargo bench -p talaria-tests --bench mcp_serve` (after `.ci/install-mcp`).
//!
//! - **Session:** a whole stdio session as an MCP client sees it: start the server,
//!   `initialize`, `tools/list`, one `tools/call`, close stdin, the process exits. The
//!   release `talaria mcp serve` (calling `read_file` on a small file) and
//!   `server-everything` on the installed Node 22 (calling `echo`), taking turns.
//! - **Turn:** a one-shot `talaria chat -q` against the mock backend whose model calls one
//!   tool: the native `read_file`, or server-everything's `echo` through the bridge (the
//!   bridge starting the server is part of it: a one-shot chat starts its MCP servers).
//!
//! Nothing asserts on speed; each figure is a median with its min–max, and ratios pair
//! runs of the same repetition. Every run is checked (the reply carries the tool's output).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};
use talaria_tests::artifacts::release_artifacts;
use talaria_tests::codex::signed_in;
use talaria_tests::doc_block;
use talaria_tests::mcp::peers;
use talaria_tests::mock::{function_call_events, MockServer};
use talaria_tests::stats::{ratio, spread, Stats};

const RUNS: usize = 9;

/// One stdio session; the seconds it took, start to exit.
fn session(mut command: Command, tool: &str, arguments: Value, expect: &str) -> f64 {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |message: Value| {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
        if message.get("id").is_none() {
            return Value::Null;
        }
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "the server closed stdout"
            );
            let reply: Value = serde_json::from_str(&line).unwrap();
            if reply.get("id") == message.get("id") {
                return reply;
            }
        }
    };
    ask(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}),
    );
    ask(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let tools = ask(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    assert!(tools.to_string().contains(tool), "{tools}");
    let call = ask(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}}));
    assert!(call.to_string().contains(expect), "{call}");
    drop(stdin);
    assert!(child.wait().unwrap().success());
    started.elapsed().as_secs_f64()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("mcp_serve measures only under `cargo bench -p talaria-tests --bench mcp_serve`; skipped");
        return;
    }
    let peers = peers();
    let talaria = release_artifacts().talaria.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "benchmark file").unwrap();
    let home = tempfile::tempdir().unwrap();

    let talaria_session = || {
        let mut c = Command::new(&talaria);
        c.args(["mcp", "serve"]).env("TALARIA_HOME", home.path());
        c
    };
    let everything_session = || {
        let mut c = Command::new(peers.node());
        c.arg(peers.everything()).arg("stdio");
        c
    };
    // One warm-up each (page cache), then the measured runs, taking turns.
    session(
        talaria_session(),
        "read_file",
        json!({"path": file}),
        "benchmark file",
    );
    session(everything_session(), "echo", json!({"message": "hi"}), "hi");
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let a = session(
            talaria_session(),
            "read_file",
            json!({"path": file}),
            "benchmark file",
        );
        let b = session(everything_session(), "echo", json!({"message": "hi"}), "hi");
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
    }

    // Turns, with the release binary: the test kit's homes run the debug one, so these
    // set the environment themselves.
    let mock = MockServer::start();
    let (kit_home, _) = signed_in(&mock);
    std::fs::write(
        kit_home.path("config.toml"),
        peers.everything_config("everything"),
    )
    .unwrap();
    let native_home = {
        let (h, _) = signed_in(&mock);
        h
    };
    let native_run = ReleaseHome {
        home: &native_home,
        talaria: &talaria,
    };
    let mcp_run = ReleaseHome {
        home: &kit_home,
        talaria: &talaria,
    };
    let (mut native, mut mcp, mut added) = (Vec::new(), Vec::new(), Vec::new());
    native_run.warm(&mock, "read_file", json!({"path": file}), "benchmark file");
    mcp_run.warm(
        &mock,
        "mcp__everything__echo",
        json!({"message": "bench-echo"}),
        "bench-echo",
    );
    for _ in 0..RUNS {
        let a = native_run.turn(&mock, "read_file", json!({"path": file}), "benchmark file");
        let b = mcp_run.turn(
            &mock,
            "mcp__everything__echo",
            json!({"message": "bench-echo"}),
            "bench-echo",
        );
        native.push(a);
        mcp.push(b);
        added.push(b - a);
    }

    let mut out = String::new();
    writeln!(out, "### Last run\n").unwrap();
    writeln!(
        out,
        "| session: start → initialize → tools/list → tools/call → exit | ms |"
    )
    .unwrap();
    writeln!(out, "|---|---|").unwrap();
    writeln!(
        out,
        "| `talaria mcp serve` (release; `read_file`) | {} |",
        spread(Stats::of(ours), 1e-3, 1)
    )
    .unwrap();
    writeln!(
        out,
        "| `server-everything` 2026.8.31 on Node 22 (`echo`) | {} |",
        spread(Stats::of(theirs), 1e-3, 1)
    )
    .unwrap();
    writeln!(
        out,
        "| talaria ÷ server-everything | {} |\n",
        ratio(Stats::of(ratios))
    )
    .unwrap();
    writeln!(out, "| one-shot turn with one tool call | ms |").unwrap();
    writeln!(out, "|---|---|").unwrap();
    writeln!(
        out,
        "| native `read_file` | {} |",
        spread(Stats::of(native), 1e-3, 1)
    )
    .unwrap();
    writeln!(
        out,
        "| server-everything's `echo` through the bridge (server start included) | {} |",
        spread(Stats::of(mcp), 1e-3, 1)
    )
    .unwrap();
    writeln!(
        out,
        "| added by the MCP call | {} |",
        spread(Stats::of(added), 1e-3, 1)
    )
    .unwrap();
    println!("{out}");
    write_doc(&out);
}

/// A test-kit home run with the release binary.
struct ReleaseHome<'a> {
    home: &'a talaria_tests::TestHome,
    talaria: &'a Path,
}

impl ReleaseHome<'_> {
    /// A one-shot chat whose model calls `tool`; seconds, start to exit.
    fn turn(&self, mock: &MockServer, tool: &str, args: Value, expect: &str) -> f64 {
        turn_with(self.home, self.talaria, mock, tool, args, expect)
    }
    fn warm(&self, mock: &MockServer, tool: &str, args: Value, expect: &str) {
        self.turn(mock, tool, args, expect);
    }
}

fn turn_with(
    home: &talaria_tests::TestHome,
    talaria: &Path,
    mock: &MockServer,
    tool: &str,
    args: Value,
    expect: &str,
) -> f64 {
    // The kit's command carries the home's environment; swap in the release binary.
    let kit = home.command(&["chat", "-q", "use the tool", "--approvals", "auto"]);
    let mut command = Command::new(talaria);
    command.args(kit.get_args()).stdin(Stdio::null());
    for (key, value) in kit.get_envs() {
        match value {
            Some(v) => command.env(key, v),
            None => command.env_remove(key),
        };
    }
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        tool,
        &args.to_string(),
    ));
    let started = Instant::now();
    let out = command.output().unwrap();
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = mock.requests_to("/backend-api/codex/responses");
    let last = frames
        .iter()
        .rev()
        .find(|r| r.method == "WS")
        .unwrap()
        .json();
    assert!(
        last.to_string().contains(expect),
        "the tool's output is missing: {last}"
    );
    took
}

const INTRO: &str = "## MCP: `talaria mcp serve` and MCP tool calls

`tests/benches/mcp_serve.rs` measures a whole stdio MCP session as a client sees it (start
the server, `initialize`, `tools/list`, one `tools/call`, close stdin, exit) for the release
`talaria mcp serve` and the reference server `server-everything`, taking turns; and a
one-shot `talaria chat -q` against the mock backend whose model calls one tool, native
(`read_file`) or an MCP server's (`echo` of server-everything, through the bridge, which
starts the server for the turn). Medians of 9 runs with min–max; ratios pair runs of the
same repetition. Re-run with `.ci/install-mcp && cargo bench -p talaria-tests --bench
mcp_serve`; it rewrites only this section.

";

fn write_doc(generated: &str) {
    let body = format!("{INTRO}{generated}\n");
    doc_block::write_block("docs/performance.md", "mcp_serve", &body, |doc| {
        doc_block::after(doc, "# Performance")
    });
}
