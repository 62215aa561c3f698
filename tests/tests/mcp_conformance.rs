//! The MCP conformance suite (`@modelcontextprotocol/conformance`, installed by
//! `.ci/install-mcp`) against the bridge: its `conformance-server` target (the suite's
//! fixtures through the bridge's server code) and its `conformance-client` target (the
//! bridge's client and OAuth code), at protocol 2025-11-25, with the expected failures
//! of tests/mcp/conformance-expected-failures.yml. The suite's own mock servers listen
//! on every interface, so the client suite runs in a fresh network namespace with only
//! loopback.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use talaria_tests::artifacts::workspace_root;
use talaria_tests::mcp::peers;

const SPEC: &str = "2025-11-25";

fn target(name: &str) -> PathBuf {
    let path = talaria_tests::artifacts()
        .talaria
        .parent()
        .unwrap()
        .join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn expected_failures() -> String {
    workspace_root()
        .join("tests/mcp/conformance-expected-failures.yml")
        .display()
        .to_string()
}

fn output_dir(which: &str) -> String {
    let dir = workspace_root().join("target/conformance").join(which);
    let _ = std::fs::remove_dir_all(&dir);
    dir.display().to_string()
}

/// Runs the suite and checks its verdict: exit 0 (every failure listed and every listed
/// one still failing) and a summary that passed something.
fn check(mut suite: Command, what: &str) -> String {
    let out = suite.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let total = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("Total:"))
        .unwrap_or_else(|| panic!("{what}: no summary\n{stdout}\n{stderr}"))
        .to_owned();
    eprintln!("{what}: {total}");
    assert!(
        out.status.success(),
        "{what} failed: {total}\n{stdout}\n{stderr}"
    );
    assert!(!total.starts_with("Total: 0 passed"), "{what}: {total}");
    total
}

#[test]
fn the_server_passes_the_conformance_suite() {
    let peers = peers();
    let mut server = Command::new(target("conformance-server"))
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("conformance-server said {first:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let mut suite = Command::new(peers.node());
    suite.arg(peers.conformance()).args([
        "server",
        "--url",
        &url,
        "--suite",
        "all",
        "--spec-version",
        SPEC,
        "--expected-failures",
        &expected_failures(),
        "-o",
        &output_dir("server"),
    ]);
    let total = check(suite, "server suite");
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(total.contains(" 0 failed"), "{total}");
}

#[test]
fn the_client_passes_the_conformance_suite_with_auth() {
    let peers = peers();
    // Only loopback: the suite's mock servers bind every interface.
    let mut suite = Command::new("unshare");
    suite.args(["-rn", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"]);
    suite.arg(peers.node()).arg(peers.conformance()).args([
        "client",
        "--command",
        &target("conformance-client").display().to_string(),
        "--suite",
        "all",
        "--spec-version",
        SPEC,
        // The suite gives each client run 30 s by default; the scenarios run in parallel
        // beside the rest of the test suite on two cores, where a run can take longer.
        "--timeout",
        "180000",
        "--expected-failures",
        &expected_failures(),
        "-o",
        &output_dir("client"),
    ]);
    let total = check(suite, "client suite");
    // Every failure is one the baseline lists (one scenario, one check).
    assert!(total.contains(" 1 failed"), "{total}");
}
