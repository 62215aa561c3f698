//! One-shot chat against peers: the release `talaria chat -q`, Hermes Agent's
//! `hermes chat -q` and the Codex CLI's `codex exec`, each pointed at the test kit's mock
//! backend in the same run. Measures the wall time and peak RSS of a one-shot prompt with
//! a short answer, and of one whose answer streams as 20,000 one-character deltas.
//! Installs the peers under `<target>/peers` when missing and writes its figures into
//! docs/performance.md. Run with `cargo bench -p talaria-tests --bench chat_peers`.
//!
//! As in plugin_abi: nothing asserts on speed, every figure is a median over repeated runs
//! with its min–max, the clients take turns within each repetition, and ratios are paired
//! per repetition. Every measured run is checked: exit status 0, the mock's answer on
//! stdout, and at least one `/responses` request recorded by the mock. A run that fails a
//! check is left out of the figures and reported.

// Benchmark setup that fails should stop the run loudly, as in the test kit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use talaria_tests::artifacts::release_artifacts;
use talaria_tests::codex::seed_pool;
use talaria_tests::doc_block;
use talaria_tests::mock::{sse_frame, text_events, AccountSpec, MockServer, Recorded};
use talaria_tests::peers::{install_codex, CODEX_VERSION};
use talaria_tests::stats::{ratio, spread, Stats};
use talaria_tests::TestHome;

const HERMES_VERSION: &str = "0.19.0";
/// What Hermes 0.19.0 pip-installs into its own venv on its first `chat` (its lazy
/// dependency for the `tts.edge` feature, `tools/lazy_deps.py`). A user's install has it
/// from then on; without it every run here would retry that install through the proxy
/// trap (~9 s each), so the bench installs it with Hermes.
const HERMES_LAZY_DEPS: [(&str, &str); 1] = [("edge-tts", "7.2.7")];
const PROMPT: &str = "Say hello";
/// The short answer, streamed as these deltas (not the mock's default answer, so a run
/// that got the default instead of its script is caught).
const SHORT_CHUNKS: [&str; 6] = ["Short", " answer", " from", " the", " benchmark", " mock."];
const DRAIN_DELTAS: usize = 20_000;
const SHORT_RUNS: usize = 7;
const DRAIN_RUNS: usize = 5;
const SHORT_TIMEOUT: Duration = Duration::from_secs(120);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);
/// The API key the mock's `/v1` accepts (the Codex CLI's custom provider sends it).
const MOCK_KEY: &str = "mock-bench-key";

fn main() {
    // As plugin_abi: only `cargo bench` passes --bench; `cargo test --all-targets` must not
    // install peers or rewrite the document.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("chat_peers measures only under `cargo bench -p talaria-tests --bench chat_peers`; skipped");
        return;
    }
    let started = Instant::now();
    eprintln!("building the release binary and the first-party plugins…");
    let talaria = release_artifacts().talaria.clone();
    // <target>/release/talaria → <target>/peers
    let peers_dir = talaria
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("peers");
    std::fs::create_dir_all(peers_dir.join("scratch")).unwrap();
    let env = environment();

    let mock = MockServer::start();
    mock.set_api_key(MOCK_KEY);
    let proxy = ProxyTrap::start();

    eprintln!(
        "installing the peers when missing (cached in {})…",
        peers_dir.display()
    );
    let mut clients = vec![
        Client::talaria(&talaria, &mock, &proxy, &peers_dir, Transport::Websocket),
        Client::talaria(&talaria, &mock, &proxy, &peers_dir, Transport::Sse),
    ];
    let mut unavailable: Vec<(String, String)> = Vec::new();
    match Client::curl(&mock, &proxy, &peers_dir) {
        Some(curl) => clients.push(curl),
        None => unavailable.push(("curl (the SSE floor)".into(), "no `curl` on PATH".into())),
    }
    match install_codex(&peers_dir) {
        Ok(bin) => clients.push(Client::codex(&bin, &mock, &proxy, &peers_dir)),
        Err(why) => unavailable.push((format!("Codex CLI {CODEX_VERSION}"), why)),
    }
    match install_hermes(&peers_dir) {
        Ok(bin) => clients.push(Client::hermes(&bin, &mock, &proxy, &peers_dir)),
        Err(why) => unavailable.push((format!("Hermes Agent {HERMES_VERSION}"), why)),
    }
    let time_tool = Some(PathBuf::from("/usr/bin/time")).filter(|t| {
        let probe = peers_dir.join("scratch/time-probe");
        Command::new(t)
            .args(["-f", "%M", "-o"])
            .arg(&probe)
            .arg("true")
            .status()
            .is_ok_and(|s| s.success())
            && std::fs::read_to_string(&probe).is_ok_and(|s| s.trim().parse::<u64>().is_ok())
    });

    let mut bench = Bench {
        mock: &mock,
        proxy: &proxy,
        time_tool: time_tool.as_deref(),
        failures: Vec::new(),
        headers: Vec::new(),
        trapped: Vec::new(),
        others: Vec::new(),
    };
    // Warm-up: one run per client and scenario (first-run work, page cache). A client whose
    // warm-up fails is reported and left out.
    eprintln!("warm-up…");
    let mut kept = Vec::new();
    for client in clients {
        let short = bench.run(&client, Scenario::Short);
        let drain = short
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|_| bench.run(&client, Scenario::Drain));
        match (short, drain) {
            (Ok(_), Ok(_)) => kept.push(client),
            (Err(why), _) | (_, Err(why)) => unavailable.push((
                client.label.clone(),
                format!("its warm-up run failed: {why}"),
            )),
        }
    }
    bench.failures.clear();
    let clients = kept;
    let wrapper = time_tool
        .as_deref()
        .map(|t| wrapper_overhead(t, &peers_dir));

    // results[scenario][client] = runs
    let mut results: Vec<Vec<Vec<Option<Sample>>>> = vec![vec![Vec::new(); clients.len()]; 2];
    for (s, scenario) in [Scenario::Short, Scenario::Drain].into_iter().enumerate() {
        let reps = scenario.runs();
        for rep in 0..reps {
            for k in 0..clients.len() {
                let c = (k + rep) % clients.len();
                let sample = bench.run(&clients[c], scenario).ok();
                results[s][c].push(sample);
            }
            eprintln!("  {} {}/{reps}", scenario.name(), rep + 1);
        }
    }
    let elapsed = started.elapsed();

    let report = report(
        &env,
        &clients,
        &results,
        &unavailable,
        &bench,
        wrapper,
        elapsed,
    );
    write_doc(&report);
    println!("{report}");
}

// ---------------------------------------------------------------------------- stats

/// Ratios a/b of the runs of one repetition (moments apart), where both runs passed.
fn paired(
    a: &[Option<Sample>],
    b: &[Option<Sample>],
    f: impl Fn(&Sample) -> Option<f64>,
) -> Option<Stats> {
    Stats::of(
        a.iter()
            .zip(b)
            .filter_map(|(x, y)| Some(f(x.as_ref()?)? / f(y.as_ref()?)?))
            .collect(),
    )
}

// -------------------------------------------------------------------------- clients

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Talaria,
    Peer,
    /// curl draining the raw SSE stream: what the mock and the loopback cost by themselves.
    Floor,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Websocket,
    Sse,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// A six-delta answer: start-up, one request, shut-down.
    Short,
    /// The answer streams as DRAIN_DELTAS one-character deltas.
    Drain,
}

impl Scenario {
    fn runs(self) -> usize {
        match self {
            Scenario::Short => SHORT_RUNS,
            Scenario::Drain => DRAIN_RUNS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Short => "short answer",
            Scenario::Drain => "20,000-delta answer",
        }
    }

    fn chunks(self) -> Vec<String> {
        match self {
            Scenario::Short => SHORT_CHUNKS.iter().map(|s| s.to_string()).collect(),
            Scenario::Drain => drain_text().chars().map(String::from).collect(),
        }
    }

    fn timeout(self) -> Duration {
        match self {
            Scenario::Short => SHORT_TIMEOUT,
            Scenario::Drain => DRAIN_TIMEOUT,
        }
    }
}

/// DRAIN_DELTAS characters of words and spaces (nothing a Markdown renderer would change)
/// ending in a marker, so a truncated answer is caught.
fn drain_text() -> String {
    let marker = " end of the benchmark stream";
    let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    let mut text: String = words
        .chars()
        .cycle()
        .take(DRAIN_DELTAS - marker.len())
        .collect();
    text.push_str(marker);
    assert_eq!(text.chars().count(), DRAIN_DELTAS);
    text
}

fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// One client, set up once: its home and configuration persist across its runs, as a
/// user's would.
struct Client {
    kind: Kind,
    label: String,
    /// How it reached the mock, for the document.
    how: String,
    /// The command as documented.
    shown: String,
    version: String,
    transport: Transport,
    responses_path: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// An empty working directory outside any git repository.
    cwd: tempfile::TempDir,
    scratch: tempfile::TempDir,
}

/// The environment every client starts from: no inherited settings but PATH and the
/// locale, a private HOME, and every proxy variable pointed at the trap so a request to
/// anything but the mock fails on 127.0.0.1 and is recorded.
fn base_env(home: &Path, proxy: &ProxyTrap) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
        ),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ("HOME".to_owned(), home.display().to_string()),
    ];
    for key in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        env.push((key.to_owned(), proxy.url()));
    }
    for key in ["NO_PROXY", "no_proxy"] {
        env.push((key.to_owned(), "127.0.0.1,localhost".to_owned()));
    }
    // The homes live under target/: a git command a client runs in one must not find
    // this workspace's repository above it.
    if let Some(scratch_root) = home
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "scratch"))
    {
        env.push((
            "GIT_CEILING_DIRECTORIES".to_owned(),
            scratch_root.display().to_string(),
        ));
    }
    env
}

/// The runs' working directory: empty, and in the system's temp dir rather than under
/// target/, because Hermes walks up from its working directory to the enclosing git
/// repository and runs `git status` and `git log` in it for its prompt; under target/
/// that would be this workspace.
fn workdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("chat-peers-cwd-")
        .tempdir()
        .unwrap()
}

fn scratch(peers_dir: &Path) -> tempfile::TempDir {
    // Not under /tmp: the Codex CLI treats a home there specially (it skips its helper
    // binaries and warns), and every client should see the same file system.
    tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(peers_dir.join("scratch"))
        .unwrap()
}

fn first_line(program: &Path, args: &[&str], env: &[(String, String)]) -> String {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

impl Client {
    fn talaria(
        talaria: &Path,
        mock: &MockServer,
        proxy: &ProxyTrap,
        peers_dir: &Path,
        transport: Transport,
    ) -> Client {
        let scratch = scratch(peers_dir);
        // The test kit's signed-in home (codex::signed_in), on the same file system as the others.
        let home = TestHome {
            dir: tempfile::Builder::new()
                .prefix("talaria-")
                .tempdir_in(scratch.path())
                .unwrap(),
            env: Vec::new(),
        };
        let who = AccountSpec::default();
        let tokens = mock.issue_tokens(&who, 24 * 3600);
        seed_pool(&home, &[(&tokens, &who)]);
        if transport == Transport::Sse {
            std::fs::write(
                home.path("config.toml"),
                "[plugin_config.responses]\nwebsocket = false\n",
            )
            .unwrap();
        }
        let mut env = base_env(&home.user_home(), proxy);
        env.push(("TALARIA_HOME".into(), home.root().display().to_string()));
        env.push(("TALARIA_AUTH_ISSUER".into(), mock.issuer_url()));
        env.push(("TALARIA_CODEX_BASE_URL".into(), mock.codex_base_url()));
        let cwd = workdir();
        std::fs::create_dir_all(home.user_home()).unwrap();
        let version = first_line(talaria, &["--version"], &env);
        let (label, how) = match transport {
            Transport::Websocket => (
                "talaria (websocket, default)",
                "`TALARIA_HOME` signed in at the mock with its tokens (the test kit's `signed_in`), \
                 `TALARIA_CODEX_BASE_URL` and `TALARIA_AUTH_ISSUER` = the mock; provider `openai-codex`, \
                 websocket to `/backend-api/codex/responses` (the default)",
            ),
            Transport::Sse => (
                "talaria (SSE)",
                "the same, with `[plugin_config.responses] websocket = false` in its config.toml: \
                 SSE `POST /backend-api/codex/responses`, the peers' transport",
            ),
        };
        std::mem::forget(home.dir); // the scratch dir owns and removes it
        Client {
            kind: Kind::Talaria,
            label: label.into(),
            how: how.into(),
            shown: format!("talaria chat -q \"{PROMPT}\" --approvals deny"),
            version,
            transport,
            responses_path: "/backend-api/codex/responses",
            program: talaria.to_path_buf(),
            args: vec![
                "chat".into(),
                "-q".into(),
                PROMPT.into(),
                "--approvals".into(),
                "deny".into(),
            ],
            env,
            cwd,
            scratch,
        }
    }

    fn codex(codex: &Path, mock: &MockServer, proxy: &ProxyTrap, peers_dir: &Path) -> Client {
        let scratch = scratch(peers_dir);
        let codex_home = scratch.path().join("codex-home");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::write(
            codex_home.join("config.toml"),
            format!(
                "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\n\n[model_providers.mock]\nname = \"mock\"\n\
                 base_url = \"{}\"\nwire_api = \"responses\"\nenv_key = \"MOCK_KEY\"\n",
                mock.openai_base_url()
            ),
        )
        .unwrap();
        let mut env = base_env(&scratch.path().join("user-home"), proxy);
        env.push(("CODEX_HOME".into(), codex_home.display().to_string()));
        env.push(("MOCK_KEY".into(), MOCK_KEY.into()));
        let cwd = workdir();
        let version = first_line(codex, &["--version"], &env);
        Client {
            kind: Kind::Peer,
            label: format!("Codex CLI {CODEX_VERSION}"),
            how: "`CODEX_HOME/config.toml`: `model_provider = \"mock\"`, `[model_providers.mock]` with \
                  `base_url = \"<mock>/v1\"`, `wire_api = \"responses\"`, `env_key = \"MOCK_KEY\"` (the key set \
                  with `set_api_key`); SSE `POST /v1/responses`, plain JSON bodies (custom providers get neither \
                  websockets nor zstd)"
                .into(),
            shown: format!("codex exec --skip-git-repo-check \"{PROMPT}\""),
            version,
            transport: Transport::Sse,
            responses_path: "/v1/responses",
            program: codex.to_path_buf(),
            args: vec!["exec".into(), "--skip-git-repo-check".into(), PROMPT.into()],
            env,
            cwd,
            scratch,
        }
    }

    fn hermes(hermes: &Path, mock: &MockServer, proxy: &ProxyTrap, peers_dir: &Path) -> Client {
        let scratch = scratch(peers_dir);
        let hermes_home = scratch.path().join("hermes-home");
        std::fs::create_dir_all(&hermes_home).unwrap();
        let who = AccountSpec::default();
        let tokens = mock.issue_tokens(&who, 24 * 3600);
        // Hermes 0.19.0 resolves openai-codex credentials from its credential pool, and
        // re-seeds the pool's device_code entry from `providers.openai-codex` with the
        // built-in base URL, ignoring HERMES_CODEX_BASE_URL (upstream #40913). So the
        // tokens go in as a pool entry (what `hermes auth add openai-codex` writes) whose
        // base_url is the mock, and HERMES_CODEX_BASE_URL is set as well.
        let auth = json!({
            "version": 1,
            "updated_at": "2026-11-01T00:00:00Z",
            "active_provider": "openai-codex",
            "providers": {},
            "credential_pool": { "openai-codex": [{
                "id": "bench1", "label": who.email, "auth_type": "oauth", "priority": 0,
                "source": "manual:device_code",
                "access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
                "base_url": mock.codex_base_url(), "last_refresh": "2026-11-01T00:00:00Z", "request_count": 0,
            }] },
        });
        std::fs::write(
            hermes_home.join("auth.json"),
            serde_json::to_vec_pretty(&auth).unwrap(),
        )
        .unwrap();
        // context_length: otherwise Hermes looks the model up on a remote model index
        // before the first request (seen here as a failed name lookup costing ~7 s).
        std::fs::write(
            hermes_home.join("config.yaml"),
            "model:\n  provider: openai-codex\n  default: gpt-5.5\n  context_length: 272000\n",
        )
        .unwrap();
        let mut env = base_env(&scratch.path().join("user-home"), proxy);
        env.push(("HERMES_HOME".into(), hermes_home.display().to_string()));
        env.push(("HERMES_CODEX_BASE_URL".into(), mock.codex_base_url()));
        let cwd = workdir();
        let version = first_line(hermes, &["--version"], &env);
        Client {
            kind: Kind::Peer,
            label: format!("Hermes Agent {HERMES_VERSION}"),
            how: "`HERMES_HOME` with `config.yaml` (`model.provider: openai-codex`, `model.default: gpt-5.5`, \
                  `model.context_length: 272000`) and `auth.json` holding the mock's tokens as an `openai-codex` \
                  credential-pool entry whose `base_url` is the mock; `HERMES_CODEX_BASE_URL` = the mock too. \
                  SSE `POST /backend-api/codex/responses` (Responses API, not Chat Completions); `-Q` is its quiet \
                  mode (the answer and the session id only)"
                .into(),
            shown: format!("hermes chat -Q -q \"{PROMPT}\""),
            version,
            transport: Transport::Sse,
            responses_path: "/backend-api/codex/responses",
            program: hermes.to_path_buf(),
            args: vec!["chat".into(), "-Q".into(), "-q".into(), PROMPT.into()],
            env,
            cwd,
            scratch,
        }
    }
}

impl Client {
    /// curl posting the request and writing the raw SSE to stdout: no parsing, no
    /// rendering, no state. Its wall time is the floor the mock and the loopback set.
    fn curl(mock: &MockServer, proxy: &ProxyTrap, peers_dir: &Path) -> Option<Client> {
        let curl = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("curl"))
                .find(|p| p.is_file())
        })?;
        let scratch = scratch(peers_dir);
        let env = base_env(&scratch.path().join("user-home"), proxy);
        let cwd = workdir();
        let tokens = mock.issue_tokens(&AccountSpec::default(), 24 * 3600);
        let body = json!({
            "model": "gpt-5.5", "stream": true, "store": false,
            "input": [{ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": PROMPT }] }],
        });
        let version = first_line(&curl, &["--version"], &env);
        Some(Client {
            kind: Kind::Floor,
            label: "curl (floor)".into(),
            how: "no client logic: one SSE `POST /backend-api/codex/responses` with a token the mock issued, the raw \
                  stream written to stdout (checked by counting its delta events)"
                .into(),
            shown: "curl -sS -N --fail -X POST <mock>/backend-api/codex/responses -H 'authorization: Bearer …' \
                    -H 'content-type: application/json' --data '{…}'"
                .into(),
            version: version.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            transport: Transport::Sse,
            responses_path: "/backend-api/codex/responses",
            program: curl,
            args: vec![
                "-sS".into(),
                "-N".into(),
                "--fail".into(),
                "-X".into(),
                "POST".into(),
                format!("{}/responses", mock.codex_base_url()),
                "-H".into(),
                format!("authorization: Bearer {}", tokens.access_token),
                "-H".into(),
                format!("chatgpt-account-id: {}", tokens.account_id),
                "-H".into(),
                "content-type: application/json".into(),
                "--data".into(),
                body.to_string(),
            ],
            env,
            cwd,
            scratch,
        })
    }

    /// Whether stdout carries the answer: the text for a client, every delta event for
    /// the floor's raw stream.
    fn answered(&self, stdout: &str, chunks: &[String]) -> bool {
        match self.kind {
            Kind::Floor => {
                stdout
                    .matches("\"type\":\"response.output_text.delta\"")
                    .count()
                    == chunks.len()
                    && stdout.contains("\"type\":\"response.completed\"")
            }
            _ => squeeze(stdout).contains(&squeeze(&chunks.concat())),
        }
    }
}

// ------------------------------------------------------------------------- installs

/// `python3 -m venv <peers>/hermes-0.19.0 && pip install hermes-agent==0.19.0` plus its
/// first-run lazy dependencies, unless that venv already holds those versions.
fn install_hermes(peers_dir: &Path) -> Result<PathBuf, String> {
    let venv = peers_dir.join(format!("hermes-{HERMES_VERSION}"));
    let python = venv.join("bin/python");
    let bin = venv.join("bin/hermes");
    let wanted: Vec<(&str, &str)> = [("hermes-agent", HERMES_VERSION)]
        .into_iter()
        .chain(HERMES_LAZY_DEPS)
        .collect();
    let installed = || {
        let script = format!(
            "import importlib.metadata as m\nfor p in {:?}:\n    try: print(m.version(p))\n    except Exception: print('-')",
            wanted.iter().map(|(p, _)| *p).collect::<Vec<_>>()
        );
        let versions = Command::new(&python)
            .args(["-c", &script])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        versions.is_some_and(|v| v.lines().eq(wanted.iter().map(|(_, v)| *v))) && bin.is_file()
    };
    if installed() {
        return Ok(bin);
    }
    let specs: Vec<String> = wanted.iter().map(|(p, v)| format!("{p}=={v}")).collect();
    eprintln!("  pip install {} (a minute or two)…", specs.join(" "));
    let err_log = peers_dir.join("hermes-install.err");
    let run = |cmd: &mut Command| -> Result<(), String> {
        let status = cmd
            .stdin(Stdio::null())
            .stdout(
                std::fs::File::create(peers_dir.join("hermes-install.log"))
                    .map_err(|e| e.to_string())?,
            )
            .stderr(std::fs::File::create(&err_log).map_err(|e| e.to_string())?)
            .status()
            .map_err(|e| format!("could not run {cmd:?}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed ({status}); see {}",
                err_log.display()
            ))
        }
    };
    if !python.is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .arg("install")
        .args(&specs))?;
    if installed() {
        Ok(bin)
    } else {
        Err(format!(
            "after `pip install`, {} does not hold {}",
            venv.display(),
            specs.join(" ")
        ))
    }
}

// ------------------------------------------------------------------------ the trap

/// A listener every client's proxy variables point at: it records the first line of
/// each connection (`CONNECT host:443 …` or `GET http://…`) and refuses it, so nothing
/// leaves the machine and the document can say what each client tried to reach.
struct ProxyTrap {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ProxyTrap {
    fn start() -> ProxyTrap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || trap(stream, &log));
            }
        });
        ProxyTrap { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn since(&self, from: usize) -> Vec<String> {
        self.seen.lock().unwrap()[from..].to_vec()
    }
}

fn trap(stream: TcpStream, log: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let target = line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    log.lock().unwrap().push(if target.is_empty() {
        "(a connection that sent nothing)".into()
    } else {
        target
    });
    let _ = (&stream)
        .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

// --------------------------------------------------------------------------- runs

#[derive(Clone)]
struct Sample {
    secs: f64,
    rss_kib: Option<f64>,
    /// `/responses` requests (SSE POSTs or websocket `response.create` frames) this run made.
    responses: usize,
    leftovers: bool,
}

struct Bench<'a> {
    mock: &'a MockServer,
    proxy: &'a ProxyTrap,
    time_tool: Option<&'a Path>,
    /// (client, scenario, why) of measured runs left out.
    failures: Vec<(String, &'static str, String)>,
    /// Per client: the header names of its first `/responses` request (the websocket
    /// handshake for a websocket client).
    headers: Vec<(String, Vec<String>)>,
    /// (client, first line) of each distinct connection the proxy trap caught.
    trapped: Vec<(String, String)>,
    /// (client, "METHOD /path") of each distinct request to the mock other than its turns.
    others: Vec<(String, String)>,
}

/// A `/responses` request that asks for an answer.
fn is_turn(r: &Recorded) -> bool {
    match r.method.as_str() {
        "POST" => true,
        "WS" => r.try_json().is_ok_and(|v| v["type"] == "response.create"),
        _ => false,
    }
}

impl Bench<'_> {
    /// One run: queue the answer, run the client, check it. Err says why it does not count.
    fn run(&mut self, client: &Client, scenario: Scenario) -> Result<Sample, String> {
        let chunks = scenario.chunks();
        let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let from = self.mock.requests().len();
        let proxied_from = self.proxy.len();
        self.mock
            .push_events(text_events("resp_bench", &chunk_refs));

        let result = self.spawn(client, scenario.timeout());
        let new: Vec<Recorded> = self.mock.requests()[from..].to_vec();
        let turns = new
            .iter()
            .filter(|r| r.path == client.responses_path && is_turn(r))
            .count();
        if !self.headers.iter().any(|(label, _)| *label == client.label) {
            if let Some(first) = new.iter().find(|r| r.path == client.responses_path) {
                self.headers.push((
                    client.label.clone(),
                    first.headers.iter().map(|(k, _)| k.clone()).collect(),
                ));
            }
        }
        for r in new
            .iter()
            .filter(|r| !(r.path == client.responses_path && (is_turn(r) || r.method == "GET")))
        {
            let line = format!("{} {}", r.method, r.path);
            if !self
                .others
                .iter()
                .any(|(l, x)| *l == client.label && *x == line)
            {
                self.others.push((client.label.clone(), line));
            }
        }
        for line in self.proxy.since(proxied_from) {
            if !self
                .trapped
                .iter()
                .any(|(l, x)| *l == client.label && *x == line)
            {
                self.trapped.push((client.label.clone(), line));
            }
        }
        if turns == 0 {
            // The script is still queued: take it off so the next run gets its own.
            consume_script(self.mock);
        }
        let verdict = match result {
            Err(why) => Err(why),
            Ok((_, out)) if out.code != Some(0) => Err(format!("exit status {:?}; stderr: {}", out.code, tail(&out.stderr))),
            Ok(_) if turns == 0 => Err(format!(
                "the mock recorded no /responses request ({} other request(s): {}); proxy trap saw: {:?}",
                new.len(),
                new.iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>().join(", "),
                self.proxy.since(proxied_from)
            )),
            Ok((_, out)) if !client.answered(&out.stdout, &chunks) => Err(format!(
                "stdout lacks the mock's answer ({} bytes of stdout: {:?}…); stderr: {}",
                out.stdout.len(),
                out.stdout.chars().take(200).collect::<String>(),
                tail(&out.stderr)
            )),
            Ok((secs, out)) => Ok(Sample { secs, rss_kib: out.rss_kib, responses: turns, leftovers: out.leftovers }),
        };
        if let Err(why) = &verdict {
            eprintln!(
                "  {} / {}: run left out: {why}",
                client.label,
                scenario.name()
            );
            self.failures
                .push((client.label.clone(), scenario.name(), why.clone()));
        }
        verdict
    }

    /// Runs the client once (under /usr/bin/time when present); the wall time covers
    /// spawn to exit and the end of its output.
    fn spawn(&self, client: &Client, timeout: Duration) -> Result<(f64, Output), String> {
        let rss_file = client.scratch.path().join("rss");
        let _ = std::fs::remove_file(&rss_file);
        let mut cmd = match self.time_tool {
            Some(time) => {
                let mut cmd = Command::new(time);
                cmd.args(["-f", "%M", "-o"])
                    .arg(&rss_file)
                    .arg(&client.program);
                cmd
            }
            None => Command::new(&client.program),
        };
        cmd.args(&client.args)
            .current_dir(client.cwd.path())
            .env_clear()
            .envs(client.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", client.program.display()))?;
        let pgid = child.id();
        let reader = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = pipe.read_to_end(&mut s);
                s
            })
        };
        let out_reader = reader(Box::new(child.stdout.take().unwrap()));
        let err_reader = reader(Box::new(child.stderr.take().unwrap()));
        // Kills the run's process group (and only it) if it outlives the timeout.
        let (done, stop) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if stop.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pgid}")])
                    .status();
                return true;
            }
            false
        });
        // The clock stops when the client exits (the wrapper exits right after it).
        let status = child.wait().map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        let _ = done.send(());
        let timed_out = watchdog.join().unwrap_or(false);
        // Whatever the client left running in its process group is ended too, so it cannot
        // hold the output open or show up in the next client's run.
        let leftovers = !timed_out
            && Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        let out = out_reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        if timed_out {
            return Err(format!(
                "no exit within {} s; killed. stderr: {}",
                timeout.as_secs(),
                tail(&String::from_utf8_lossy(&err))
            ));
        }
        let rss_kib = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|s| s.lines().last()?.trim().parse().ok());
        Ok((
            secs,
            Output {
                code: status.code(),
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
                rss_kib,
                leftovers,
            },
        ))
    }
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    rss_kib: Option<f64>,
    /// Processes of the run were still alive after the client exited (and were ended).
    leftovers: bool,
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

/// Takes a queued script off the mock with a request of our own (a run that made no
/// request left it there).
fn consume_script(mock: &MockServer) {
    let body = r#"{"model":"gpt-5.5","stream":true,"input":[]}"#;
    let Ok(mut stream) = TcpStream::connect(mock.addr()) else {
        return;
    };
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {MOCK_KEY}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        mock.addr(),
        body.len()
    );
    let _ = stream.write_all(request.as_bytes());
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = std::io::copy(&mut stream, &mut std::io::sink());
}

/// Median wall time of `/usr/bin/time -f %M -o FILE true` minus `true` alone: what the
/// wrapper adds to every figure.
fn wrapper_overhead(time: &Path, peers_dir: &Path) -> f64 {
    let probe = peers_dir.join("scratch/time-overhead");
    let once = |wrapped: bool| {
        let mut cmd = if wrapped {
            let mut c = Command::new(time);
            c.args(["-f", "%M", "-o"]).arg(&probe).arg("true");
            c
        } else {
            Command::new("true")
        };
        let start = Instant::now();
        let _ = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        start.elapsed().as_secs_f64()
    };
    let mut diffs = Vec::new();
    for _ in 0..21 {
        diffs.push(once(true) - once(false));
    }
    Stats::of(diffs).map_or(0.0, |s| s.median)
}

// ----------------------------------------------------------------------------- report

/// When, where and with what the figures were measured.
fn environment() -> Vec<(String, String)> {
    let cmd = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(if o.stdout.is_empty() {
                    &o.stderr
                } else {
                    &o.stdout
                })
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0),
        );
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    vec![
        ("date".into(), cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("`nproc`".into(), cmd("nproc", &[])),
        ("CPU".into(), cpu),
        ("memory".into(), mem),
        ("OS".into(), cmd("uname", &["-sr"])),
        (
            "load average at start".into(),
            load.unwrap_or_else(|| "unknown".into()),
        ),
        ("rustc".into(), cmd(&rustc, &["--version"])),
        (
            "node (runs the Codex CLI's launcher)".into(),
            cmd("node", &["--version"]),
        ),
        (
            "python3 (Hermes' venv)".into(),
            cmd("python3", &["--version"]),
        ),
    ]
}

#[allow(clippy::too_many_arguments)]
fn report(
    env: &[(String, String)],
    clients: &[Client],
    results: &[Vec<Vec<Option<Sample>>>],
    unavailable: &[(String, String)],
    bench: &Bench<'_>,
    wrapper: Option<f64>,
    elapsed: Duration,
) -> String {
    let have_rss = bench.time_tool.is_some();
    let failures = &bench.failures;
    let mut out = String::new();
    let _ = writeln!(out, "### Last run: chat against peers\n\n| | |\n|---|---|");
    for (k, v) in env {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    for c in clients {
        let _ = writeln!(out, "| {} | {} |", c.label, c.version);
    }
    let _ = writeln!(out, "| bench wall time | {:.0} s |", elapsed.as_secs_f64());
    let _ = writeln!(out);
    for (name, why) in unavailable {
        let _ = writeln!(out, "**{name} was not measured:** {why}\n");
    }

    let secs = |s: usize, c: usize| {
        Stats::of(
            results[s][c]
                .iter()
                .flatten()
                .map(|x| x.secs * 1e3)
                .collect(),
        )
    };
    let rss = |s: usize, c: usize| {
        Stats::of(
            results[s][c]
                .iter()
                .flatten()
                .filter_map(|x| x.rss_kib.map(|k| k / 1024.0))
                .collect(),
        )
    };
    let turns = |s: usize, c: usize| {
        let mut n: Vec<usize> = results[s][c]
            .iter()
            .flatten()
            .map(|x| x.responses)
            .collect();
        n.sort_unstable();
        n.dedup();
        n.iter().map(usize::to_string).collect::<Vec<_>>().join("/")
    };
    let rss_note = if have_rss {
        "peak RSS from `/usr/bin/time -f %M`"
    } else {
        "peak RSS not measured (no GNU `/usr/bin/time` here)"
    };
    let _ = writeln!(
        out,
        "Medians with min–max in brackets: {SHORT_RUNS} runs per client for the short answer, {DRAIN_RUNS} for the \
         20,000-delta answer, after one warm-up run of each; {rss_note}.{}\n",
        wrapper.map_or(String::new(), |w| format!(" Every run goes through that wrapper, which adds ~{:.1} ms of wall time.", w * 1e3))
    );
    let _ = writeln!(out, "| client | transport | short answer: ms | short: peak RSS (MiB) | 20,000 deltas: ms | 20,000 deltas: peak RSS (MiB) | streaming cost (ms) | `/responses` requests per run |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (c, client) in clients.iter().enumerate() {
        let cost = match (secs(0, c), secs(1, c)) {
            (Some(a), Some(b)) => format!("{:+.0}", b.median - a.median),
            _ => "—".into(),
        };
        let transport = match client.transport {
            Transport::Websocket => "websocket",
            Transport::Sse => "SSE",
        };
        let _ = writeln!(
            out,
            "| {} | {transport} | {} | {} | {} | {} | {cost} | {} |",
            client.label,
            spread(secs(0, c), 1.0, 0),
            spread(rss(0, c), 1.0, 1),
            spread(secs(1, c), 1.0, 0),
            spread(rss(1, c), 1.0, 1),
            turns(0, c),
        );
    }
    let talaria_short = |t: Transport| {
        clients
            .iter()
            .position(|c| c.kind == Kind::Talaria && c.transport == t)
            .and_then(|c| secs(0, c))
            .map(|s| s.median)
    };
    if let (Some(ws), Some(sse)) = (
        talaria_short(Transport::Websocket),
        talaria_short(Transport::Sse),
    ) {
        if ws - sse > 25.0 {
            let _ = writeln!(
                out,
                "\n**The mock delays talaria's websocket.** Its websocket short runs take {:.0} ms longer than its SSE \
                 runs. An strace of such a run shows the time spent between the mock's first event frame \
                 (`response.created`) and the next: ~40 ms, the signature of Nagle's algorithm on the sender meeting the \
                 receiver's delayed ACK (40 ms on Linux). The mock's sockets have no TCP_NODELAY (`axum::serve` does not \
                 set it), so its second frame waits for talaria's ACK. A server with TCP_NODELAY would not add this; read \
                 ~40 ms of each websocket figure as the mock's.",
                ws - sse
            );
        }
    }
    let sse_bytes: usize = text_events(
        "resp_bench",
        &Scenario::Drain
            .chunks()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .iter()
    .map(|e| sse_frame(e).len())
    .sum();
    let _ = writeln!(
        out,
        "\nStreaming cost = median wall time of the 20,000-delta run minus that of the short run: what draining \
         the stream ({:.1} MB as SSE, 20 KB of text) and printing the answer add to a one-shot prompt.\n",
        sse_bytes as f64 / 1e6
    );

    // Ratios peer / talaria, paired per repetition.
    let bases: Vec<usize> = clients
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == Kind::Talaria)
        .map(|(i, _)| i)
        .collect();
    let peers: Vec<usize> = clients
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == Kind::Peer)
        .map(|(i, _)| i)
        .collect();
    if !bases.is_empty() && !peers.is_empty() {
        let _ = writeln!(out, "Ratios peer / talaria (above 1× means talaria used less), each wall-time and RSS ratio paired per repetition, median (min–max); the streaming-cost column divides the two streaming costs:\n");
        let _ = writeln!(out, "| peer | against | wall, short | wall, 20,000 deltas | streaming cost | peak RSS, short | peak RSS, 20,000 deltas |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for &p in &peers {
            for &b in &bases {
                let wall = |s: usize| paired(&results[s][p], &results[s][b], |x| Some(x.secs));
                let mem = |s: usize| paired(&results[s][p], &results[s][b], |x| x.rss_kib);
                let cost = match (secs(0, p), secs(1, p), secs(0, b), secs(1, b)) {
                    (Some(ps), Some(pd), Some(bs), Some(bd)) if bd.median - bs.median > 0.0 => {
                        format!("{:.1}×", (pd.median - ps.median) / (bd.median - bs.median))
                    }
                    _ => "—".into(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {cost} | {} | {} |",
                    clients[p].label,
                    clients[b].label,
                    ratio(wall(0)),
                    ratio(wall(1)),
                    ratio(mem(0)),
                    ratio(mem(1))
                );
            }
        }
        let _ = writeln!(out);
    }

    let _ =
        writeln!(out, "How each client reached the mock, and the command run (prompt `{PROMPT}`, stdin `/dev/null`, an empty working directory):\n");
    for c in clients {
        let _ = writeln!(out, "- **{}**: {}. `{}`", c.label, c.how, c.shown);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Header names on each client's first `/responses` request (the websocket handshake for talaria's default), as the mock recorded them:\n"
    );
    for (label, names) in &bench.headers {
        let _ = writeln!(
            out,
            "- {label}: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(out);
    let mut left = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let n = results
            .iter()
            .flat_map(|r| r[c].iter().flatten())
            .filter(|x| x.leftovers)
            .count();
        let total = results.iter().flat_map(|r| r[c].iter().flatten()).count();
        if n > 0 {
            left.push(format!("{} in {n} of its {total} runs", client.label));
        }
    }
    if left.is_empty() {
        let _ = writeln!(out, "No client left a process running after it exited.\n");
    } else {
        let _ = writeln!(
            out,
            "Processes still running when the client had exited (the bench ends them; the wall time stops at the client's exit): {}.\n",
            left.join("; ")
        );
    }
    if bench.others.is_empty() {
        let _ = writeln!(out, "The mock recorded no request but the clients' turns (and talaria's websocket handshake).\n");
    } else {
        let _ = writeln!(
            out,
            "Other requests the mock recorded (answered by its routes, mostly 404):\n"
        );
        for c in clients {
            let paths: Vec<String> = bench
                .others
                .iter()
                .filter(|(l, _)| *l == c.label)
                .map(|(_, x)| format!("`{x}`"))
                .collect();
            if !paths.is_empty() {
                let _ = writeln!(out, "- {}: {}", c.label, paths.join(", "));
            }
        }
        let _ = writeln!(out);
    }
    if bench.trapped.is_empty() {
        let _ = writeln!(out, "The proxy trap caught no connection: no client tried to reach anything but the mock.\n");
    } else {
        let _ = writeln!(out, "Connections the proxy trap caught and refused (each client tried these besides the mock):\n");
        for (label, line) in &bench.trapped {
            let _ = writeln!(out, "- {label}: `{line}`");
        }
        let _ = writeln!(out);
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "Measured runs left out (they failed a check):\n");
        for (client, scenario, why) in failures {
            let why: String = why.chars().take(400).collect();
            let _ = writeln!(out, "- {client}, {scenario}: {}", why.replace('\n', " "));
        }
        let _ = writeln!(out);
    }
    out
}

const INTRO: &str = "## One-shot chat: talaria, Hermes Agent and the Codex CLI

`tests/benches/chat_peers.rs` runs one-shot prompts through the release `talaria`, Hermes
Agent and the Codex CLI, in one run, against the test kit's mock backend (`MockServer`,
127.0.0.1), and measures each as a whole process, start to exit:

- **Short answer:** a six-delta answer. Wall time and peak RSS of the whole one-shot run:
  start-up, reading the login, building and sending the request, streaming, printing,
  storing the session, exit.
- **20,000 deltas:** the answer streams as 20,000 one-character
  `response.output_text.delta` events (20 KB of text). Its wall time is the time to
  drain the stream, start to exit; the *streaming cost* is that minus the short run's.

The mock runs in the bench's own process, on the same 2 cores; a `curl` row (one SSE
request, the raw stream to stdout, no parsing) shows what the mock and the loopback cost
by themselves. Each client has one home, set up once and kept across its runs (as a
user's would be); every run gets the same clean environment: `PATH`, `LANG=C.UTF-8`, a
private `HOME`, and every proxy variable pointed at a trap on 127.0.0.1 that records and
refuses what it gets (`NO_PROXY=127.0.0.1,localhost`), so nothing leaves the machine and
the document can say what a client tried to reach. A run counts only if it exits 0, prints the mock's
answer, and the mock recorded its `/responses` request; the ratios pair runs of the same
repetition. Peak RSS is what `wait4` reports for the process tree: the largest single
process in it, not their sum (this matters for the Codex CLI, whose npm command is a
Node launcher that starts the native binary; the figure is the larger of the two).

Re-run it (it installs the peers into `target/peers/` the first time: `npm install
@openai/codex@0.169.0` into `target/peers/codex-0.169.0`, and a venv with `pip install
hermes-agent==0.19.0 edge-tts==7.2.7` in `target/peers/hermes-0.19.0`; later runs reuse
them; about 5 minutes with the installs, 2 without):

```sh
cargo bench -p talaria-tests --bench chat_peers
```

It rewrites only this section, between its markers.

";

const CAVEATS: &str = "#### Caveats

- **The Codex CLI runs on its custom-provider path**: an API key, SSE to `/v1/responses`,
  plain JSON bodies. Its ChatGPT-login path (built-in provider, websocket, zstd bodies)
  was tried with `openai_base_url`/`chatgpt_base_url` pointed at the mock and an
  `auth.json` of mock tokens, and does not run against this mock: before the turn it
  calls `/backend-api/wham/accounts/check` (workspace routing), `/backend-api/ps/plugins/…`,
  `/backend-api/ps/mcp` and `/backend-api/codex/analytics-events/events`, which the mock
  does not serve, cannot decode the mock's `/backend-api/codex/models` answer, and gives
  up after ~13 s on \"workspace routing discovery failed\". talaria's SSE row is the
  like-for-like transport for it. The process it leaves running at exit (see above) is,
  in a trace, a `git ls-remote` of its plugin marketplace on github.com (refused by the
  trap), which it does not wait for.
- **Hermes Agent** reads openai-codex credentials from its credential pool, and 0.19.0
  re-seeds the pool's `device_code` entry from `providers.openai-codex` with the built-in
  base URL, so `HERMES_CODEX_BASE_URL` alone does not reach the mock (upstream #40913);
  the bench writes the tokens as a pool entry with the mock's `base_url`. To that
  non-ChatGPT host it sends neither `ChatGPT-Account-ID` nor `originator`, and because the
  host is a loopback address it first probes it for a local model server (the 404 `GET`s
  listed above). Without `model.context_length` it also looks the model up on
  remote model indexes before the first request (~7 s of failed lookups when tried).
  At start it runs `file`, `python3 -c`, `pip --version`, `uname` and, inside a git
  repository, `git status` and `git log` there: the runs' working directory is an empty
  temporary directory outside any repository.
- **Connections the trap refused** (listed above) fail within a millisecond here; on a
  real network they would go out, and where a client waits for them they would add
  their network time. The figures contain no network time.
- **Peak RSS** is the largest single process of the run's tree (what `wait4` reports), not
  the tree's sum: the Codex CLI's `codex` command is a Node launcher that starts the
  native binary (the figure is the larger of the two), and both peers start short-lived
  helpers (Hermes: the commands above; the Codex CLI, traced once against a dead port:
  `bash -lc` for its shell snapshot, `lsb_release`, `git ls-remote` of its plugin
  marketplace) whose memory is not added. talaria runs as one process.
- The peers run as installed: the venv's bytecode is compiled by pip, and none of this
  machine's `PYTHON*` variables are passed on. The venv also holds `edge-tts==7.2.7`,
  which Hermes 0.19.0 pip-installs into its own venv on its first `chat` (its lazy
  dependency for the `tts.edge` feature) and checks for on every run: a user's install
  has it after the first run. Without it, each run here spent ~9 s on that install
  failing through the trap. Shared, noisy machine: compare runs by
  the ratios, not by the absolute figures.
";

/// Replaces this bench's section of docs/performance.md, keeping everything else. A new
/// section goes right under the title, above plugin_abi's marker: that bench rewrites
/// everything below its marker.
fn write_doc(generated: &str) {
    let body = format!("{INTRO}{generated}{CAVEATS}\n");
    doc_block::write_block("docs/performance.md", "chat_peers", &body, |doc| {
        doc_block::after(doc, "# Performance")
    });
}
