//! Builds the `talaria` binary and the plugin cdylibs the tests load, and finds them.
//!
//! A `cargo build` runs once per test process (a no-op when nothing changed), so tests
//! never run a stale binary and `cargo nextest run` alone is enough; it also honours
//! `CARGO_TARGET_DIR`, since the artifacts' paths come from cargo's own report.
//!
//! The tests use debug builds ([`artifacts`]); the benchmarks use release builds of the
//! binary and the plugins they measure ([`release_artifacts`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The first-party plugins: the binary finds them beside itself, so every test run and
/// every benchmark builds them all (a chat needs a provider and the transport).
pub const FIRST_PARTY_PLUGINS: &[&str] = &[
    "talaria-agent-loop",
    "talaria-chat-completions",
    "talaria-aux-router",
    "talaria-coding-tools",
    "talaria-example-tools",
    "talaria-mcp-bridge",
    "talaria-openai-api",
    "talaria-openai-codex",
    "talaria-openai-compatible",
    "talaria-responses",
];

/// Fixture packages the tests need built, besides the host and the first-party plugins.
const FIXTURE_PACKAGES: &[&str] = &[
    "talaria-fixture-word-tools",
    "talaria-fixture-panic-init",
    "talaria-fixture-wrong-abi",
    "talaria-fixture-not-a-plugin",
    "talaria-fixture-event-burst",
    "talaria-fixture-relay-runtime",
    "talaria-fixture-twin-provider",
];

/// Fixtures the benchmarks call.
const BENCH_FIXTURE_PACKAGES: &[&str] = &["talaria-fixture-event-burst"];

pub struct Artifacts {
    pub talaria: PathBuf,
    /// Package name → its cdylib.
    pub libraries: HashMap<String, PathBuf>,
}

impl Artifacts {
    pub fn library(&self, package: &str) -> &Path {
        self.libraries
            .get(package)
            .unwrap_or_else(|| panic!("no cdylib was built for {package}"))
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Debug builds of the host and every plugin the tests load.
pub fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| build(&[], FIXTURE_PACKAGES))
}

/// Release builds of the host, the first-party plugins and the benchmark fixtures.
pub fn release_artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| build(&["--release"], BENCH_FIXTURE_PACKAGES))
}

fn build(profile_args: &[&str], fixtures: &[&str]) -> Artifacts {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet", "--message-format=json", "-p", "talaria"])
        .args(profile_args)
        .stderr(std::process::Stdio::inherit());
    for p in FIRST_PARTY_PLUGINS.iter().chain(fixtures) {
        cmd.args(["-p", p]);
    }
    let out = cmd
        .output()
        .expect("run cargo build for the test artifacts");
    assert!(
        out.status.success(),
        "cargo build of the test artifacts failed"
    );
    let mut talaria = None;
    let mut libraries = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let package = msg["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .replace('_', "-");
        if let Some(exe) = msg["executable"].as_str() {
            if package == "talaria" {
                talaria = Some(PathBuf::from(exe));
            }
        }
        let kinds = msg["target"]["kind"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if kinds.iter().any(|k| k == "cdylib") {
            let lib = msg["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(std::env::consts::DLL_SUFFIX));
            if let Some(lib) = lib {
                libraries.insert(package, PathBuf::from(lib));
            }
        }
    }
    Artifacts {
        talaria: talaria.expect("cargo reported no talaria executable"),
        libraries,
    }
}
