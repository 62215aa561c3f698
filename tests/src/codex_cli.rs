//! The real Codex CLI for the `codex_app_server` runtime's tests: where `.ci/install-codex`
//! puts it, and a `CODEX_HOME` whose model provider is the mock's `/v1/responses`.

use std::path::{Path, PathBuf};

use crate::artifacts::workspace_root;
use crate::mock::MockServer;
use crate::TestHome;

/// The release the tests drive (the newest when written; see `.ci/install-codex`).
pub const CODEX_VERSION: &str = "0.171.0";

/// The key the mock's `/v1` accepts; codex reads it from `MOCK_KEY` (`env_key`).
pub const MOCK_KEY: &str = "mock-codex-key";

/// The oldest release the runtime supports (its `MIN_VERSION`), also installed and tested.
pub const CODEX_MIN_VERSION: &str = "0.125.0";

/// The npm install of [`CODEX_VERSION`] that `.ci/install-codex` makes.
pub fn install_dir() -> PathBuf {
    install_dir_of(CODEX_VERSION)
}

pub fn install_dir_of(version: &str) -> PathBuf {
    workspace_root()
        .join("target/tools")
        .join(format!("codex-{version}"))
}

/// The `codex` command (npm's launcher) of [`CODEX_VERSION`]. Panics, naming the install
/// script, when it is missing: a test that needs codex never skips.
pub fn codex_bin() -> PathBuf {
    codex_bin_of(CODEX_VERSION)
}

pub fn codex_bin_of(version: &str) -> PathBuf {
    let bin = install_dir_of(version).join("node_modules/.bin/codex");
    assert!(
        bin.is_file(),
        "the Codex CLI {version} is not installed at {}: run `.ci/install-codex` (or `.ci/install-peers`, which CI runs)",
        bin.display()
    );
    bin
}

/// Codex's `config.toml` pointing at the mock: a custom provider (SSE to
/// `/v1/responses`, no retries, no websockets), plugins off (no network), the
/// workspace trusted.
pub fn codex_config(mock: &MockServer, workspace: &Path) -> String {
    format!(
        r#"model = "gpt-5.5"
model_provider = "mock"

[model_providers.mock]
name = "Mock Responses API"
base_url = "{base}"
wire_api = "responses"
env_key = "MOCK_KEY"
request_max_retries = 0
stream_max_retries = 0
supports_websockets = false

[features]
plugins = false

[analytics]
enabled = false

[projects."{workspace}"]
trust_level = "trusted"
"#,
        base = mock.openai_base_url(),
        workspace = workspace.display()
    )
}

/// A talaria home whose profile runs turns in the real codex against `mock`.
pub struct CodexHome {
    pub home: TestHome,
    /// `[codex] home` of the profile.
    pub codex_home: PathBuf,
    /// The folder chats run in (codex's thread cwd).
    pub workspace: PathBuf,
    /// Every message talaria sent to codex, one JSON object per line.
    pub trace: PathBuf,
    /// The codex release whose schema the messages are checked against.
    pub schema_version: String,
}

impl CodexHome {
    /// `talaria_config` is appended to the profile's config.toml (after `[codex]`).
    pub fn new(mock: &MockServer, talaria_config: &str) -> CodexHome {
        CodexHome::with_runtime(mock, "codex_app_server", talaria_config)
    }

    /// The same, with `model.runtime = runtime`.
    pub fn with_runtime(mock: &MockServer, runtime: &str, talaria_config: &str) -> CodexHome {
        mock.set_api_key(MOCK_KEY);
        let mut home = TestHome::new();
        let base = home.dir.path().to_path_buf();
        // Codex refuses to make its helper links under the system temp dir; a folder
        // inside the workspace's target/ avoids that warning only where TMPDIR differs, so
        // the tests accept either.
        let codex_home = base.join("codex-home");
        let workspace = base.join("workspace");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(home.user_home()).unwrap();
        std::fs::write(
            codex_home.join("config.toml"),
            codex_config(mock, &workspace),
        )
        .unwrap();
        std::fs::create_dir_all(home.root()).unwrap();
        std::fs::write(
            home.path("config.toml"),
            format!(
                "[model]\nruntime = \"{runtime}\"\n\n[codex]\nhome = \"{}\"\nbin = \"{}\"\n{talaria_config}",
                codex_home.display(),
                codex_bin().display()
            ),
        )
        .unwrap();
        let trace = base.join("codex-trace.jsonl");
        home.set_env("MOCK_KEY", MOCK_KEY);
        home.set_env("TALARIA_CODEX_TRACE", &trace);
        home.set_env("TALARIA_AUTH_ISSUER", mock.issuer_url());
        home.set_env("TALARIA_CODEX_BASE_URL", mock.codex_base_url());
        CodexHome {
            home,
            codex_home,
            workspace,
            trace,
            schema_version: CODEX_VERSION.to_owned(),
        }
    }

    /// `talaria ARGS` run in the workspace folder.
    pub fn run(&self, args: &[&str]) -> crate::Run {
        let out = self
            .home
            .command(args)
            .current_dir(&self.workspace)
            .output()
            .expect("run talaria");
        crate::Run::from_output(out)
    }

    /// Starts `talaria ARGS` in the workspace without waiting.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.home
            .command(args)
            .current_dir(&self.workspace)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start talaria")
    }

    /// The messages talaria sent to codex so far, each checked against the JSON Schema
    /// of the pinned codex (a message that does not validate fails the test).
    pub fn sent(&self) -> Vec<serde_json::Value> {
        let trace: Vec<serde_json::Value> = std::fs::read_to_string(&self.trace)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        crate::codex_schema::check_trace_against(&self.schema_version, &trace);
        trace
            .into_iter()
            .filter(|t| t["dir"] == "out")
            .map(|t| t["message"].clone())
            .collect()
    }
}

/// Live processes (not zombies) whose environment says `CODEX_HOME=<codex_home>`: the
/// codex launcher, the native binary and whatever they started.
pub fn codex_pids(codex_home: &Path) -> Vec<u32> {
    let needle = format!("CODEX_HOME={}", codex_home.display());
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let matches = environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes());
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if matches && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Waits up to `secs` for `done`.
pub fn wait_for(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    done()
}

impl CodexHome {
    /// `talaria ARGS` on a pseudo-terminal (`script` gives it one), in the workspace:
    /// `type_line(n)` is typed (followed by Enter) once `ready(n)` holds, for each n.
    /// Returns the exit code and everything the terminal showed.
    pub fn on_terminal(
        &self,
        args: &[&str],
        lines: &[&str],
        mut ready: impl FnMut(usize) -> bool,
    ) -> (i32, String) {
        use std::io::Write as _;
        let mut child = self
            .home
            .on_pty(args)
            .current_dir(&self.workspace)
            .spawn()
            .expect("start script");
        let mut stdin = child.stdin.take().unwrap();
        for (n, line) in lines.iter().enumerate() {
            assert!(
                wait_for(60, || ready(n)),
                "the terminal was never ready for line {n} ({line:?})"
            );
            write!(stdin, "{line}\r").unwrap();
            stdin.flush().unwrap();
        }
        // Keep stdin open until talaria is done (EOF would end a prompt early), then
        // Ctrl+D for a REPL.
        let out = {
            let _ = stdin.write_all(b"\x04");
            let _ = stdin.flush();
            let out = child.wait_with_output().expect("wait for script");
            drop(stdin);
            out
        };
        let screen = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), screen)
    }
}

/// Every test that drove codex has its messages checked, also the ones that never look
/// at them (a failing check fails the test; skipped while a test is already failing).
impl Drop for CodexHome {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.sent();
        }
    }
}
