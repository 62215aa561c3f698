//! One coding turn against the Codex CLI: the model (the test kit's mock) asks for a
//! shell command, then a patch, then answers. The release `talaria chat -q` and
//! `codex exec` run the same scripted turn against the same mock in the same run; each
//! run is checked (exit 0, the patched file on disk, three `/responses` requests, the
//! answer on stdout) and a failed run is left out of the figures and reported. Both run
//! their commands sandboxed (workspace-write) and answer approvals automatically.
//! Nothing asserts on speed; figures are medians with min–max over repeated runs, the
//! clients taking turns. Writes its section of docs/performance.md. Run with
//! `cargo bench -p talaria-tests --bench tool_turn`.

// Benchmark setup that fails should stop the run loudly, as in the test kit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;
use talaria_tests::artifacts::release_artifacts;
use talaria_tests::codex::seed_pool;
use talaria_tests::doc_block;
use talaria_tests::mock::{
    custom_tool_call_events, function_call_events, text_events, AccountSpec, MockServer,
};
use talaria_tests::peers::{install_codex, CODEX_VERSION};
use talaria_tests::stats::{ratio, spread, Stats};
use talaria_tests::TestHome;

const RUNS: usize = 7;
const PROMPT: &str = "List the files, then add hello.txt";
const ANSWER: [&str; 3] = ["Added", " hello.txt", " for you."];
const PATCH: &str =
    "*** Begin Patch\n*** Add File: hello.txt\n+hello from the patch\n*** End Patch\n";
const MOCK_KEY: &str = "mock-bench-key";

struct Client {
    label: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    responses_path: &'static str,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("tool_turn measures only under `cargo bench -p talaria-tests --bench tool_turn`; skipped");
        return;
    }
    let talaria = release_artifacts().talaria.clone();
    let peers_dir = talaria
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("peers");
    let scratch_root = peers_dir.join("scratch");
    std::fs::create_dir_all(&scratch_root).unwrap();
    let mock = MockServer::start();
    mock.set_api_key(MOCK_KEY);
    let scratch = tempfile::Builder::new()
        .prefix("tool-turn-")
        .tempdir_in(&scratch_root)
        .unwrap();

    let mut clients = vec![talaria_client(&talaria, &mock, scratch.path())];
    let mut unavailable = None;
    match install_codex(&peers_dir) {
        Ok(bin) => clients.push(codex_client(&bin, &mock, scratch.path())),
        Err(why) => unavailable = Some(why),
    }
    let time_tool = Path::new("/usr/bin/time");
    let have_time = time_tool.is_file();

    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); clients.len()];
    let mut rss: Vec<Vec<f64>> = vec![Vec::new(); clients.len()];
    let mut failures: Vec<String> = Vec::new();
    // One warm-up each, then RUNS rounds with the clients taking turns.
    for round in 0..=RUNS {
        for (i, client) in clients.iter().enumerate() {
            match run_once(
                client,
                &mock,
                scratch.path(),
                have_time.then_some(time_tool),
            ) {
                Ok((secs, kib)) if round > 0 => {
                    wall[i].push(secs);
                    if let Some(kib) = kib {
                        rss[i].push(kib);
                    }
                }
                Ok(_) => {}
                Err(why) => failures.push(format!("{} (round {round}): {why}", client.label)),
            }
        }
    }
    let doc = report(&clients, &wall, &rss, &failures, unavailable.as_deref());
    eprintln!("{doc}");
    write_doc(&doc);
}

fn talaria_client(talaria: &Path, mock: &MockServer, scratch: &Path) -> Client {
    let home = TestHome {
        dir: tempfile::Builder::new()
            .prefix("talaria-")
            .tempdir_in(scratch)
            .unwrap(),
        env: Vec::new(),
    };
    let who = AccountSpec::default();
    let tokens = mock.issue_tokens(&who, 24 * 3600);
    seed_pool(&home, &[(&tokens, &who)]);
    let env = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), home.user_home().display().to_string()),
        ("TALARIA_HOME".into(), home.root().display().to_string()),
        ("TALARIA_AUTH_ISSUER".into(), mock.issuer_url()),
        ("TALARIA_CODEX_BASE_URL".into(), mock.codex_base_url()),
    ];
    std::fs::create_dir_all(home.user_home()).unwrap();
    std::mem::forget(home.dir); // the scratch dir owns and removes it
    Client {
        label: "talaria (websocket)".into(),
        program: talaria.to_path_buf(),
        args: [
            "chat",
            "-m",
            "gpt-5.5",
            "-q",
            PROMPT,
            "--approvals",
            "auto",
            "--sandbox",
            "workspace-write",
        ]
        .map(str::to_owned)
        .to_vec(),
        env,
        responses_path: "/backend-api/codex/responses",
    }
}

fn codex_client(codex: &Path, mock: &MockServer, scratch: &Path) -> Client {
    let codex_home = scratch.join("codex-home");
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
    let user_home = scratch.join("codex-user-home");
    std::fs::create_dir_all(&user_home).unwrap();
    Client {
        label: format!("Codex CLI {CODEX_VERSION}"),
        program: codex.to_path_buf(),
        args: [
            "exec",
            "--skip-git-repo-check",
            "-s",
            "workspace-write",
            PROMPT,
        ]
        .map(str::to_owned)
        .to_vec(),
        env: vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), user_home.display().to_string()),
            ("CODEX_HOME".into(), codex_home.display().to_string()),
            ("MOCK_KEY".into(), MOCK_KEY.into()),
        ],
        responses_path: "/v1/responses",
    }
}

/// One checked run in a fresh workspace: (wall seconds, peak RSS KiB).
fn run_once(
    client: &Client,
    mock: &MockServer,
    scratch: &Path,
    time_tool: Option<&Path>,
) -> Result<(f64, Option<f64>), String> {
    let ws = tempfile::Builder::new()
        .prefix("ws-")
        .tempdir_in(scratch)
        .unwrap();
    std::fs::write(ws.path().join("README.md"), "a project\n").unwrap();
    mock.clear_requests();
    let shell = json!({"command": "ls", "workdir": ws.path().display().to_string()});
    mock.push_events(function_call_events(
        "resp_b1",
        "call_ls",
        "shell_command",
        &shell.to_string(),
    ));
    mock.push_events(custom_tool_call_events(
        "resp_b2",
        "call_patch",
        "apply_patch",
        PATCH,
    ));
    mock.push_events(text_events("resp_b3", &ANSWER));
    let rss_file = scratch.join("rss");
    let mut cmd = match time_tool {
        Some(time) => {
            let mut c = Command::new(time);
            c.args(["-f", "%M", "-o"])
                .arg(&rss_file)
                .arg(&client.program);
            c
        }
        None => Command::new(&client.program),
    };
    cmd.args(&client.args)
        .current_dir(ws.path())
        .env_clear()
        .envs(client.env.iter().cloned())
        .stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd.output().map_err(|e| format!("cannot run: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let requests = mock
        .requests_to(client.responses_path)
        .into_iter()
        .filter(|r| r.method == "POST" || r.method == "WS")
        .count();
    // Whatever a failed run left queued goes, so the next run starts clean.
    if requests < 3 {
        for _ in 0..3 {
            if !drain_one(mock) {
                break;
            }
        }
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let patched = std::fs::read_to_string(ws.path().join("hello.txt")).unwrap_or_default();
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            tail(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    if patched != "hello from the patch\n" {
        return Err(format!(
            "hello.txt is {patched:?}; stderr: {}",
            tail(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    if requests != 3 {
        return Err(format!("{requests} /responses requests, not 3"));
    }
    if !stdout.contains(&ANSWER.concat()) {
        return Err(format!(
            "the answer is missing from stdout: {}",
            tail(&stdout)
        ));
    }
    let kib = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.trim().lines().last()?.parse().ok());
    Ok((secs, kib))
}

/// Takes one leftover script off the queue; false when none was left (the mock then
/// answers with its default text).
fn drain_one(mock: &MockServer) -> bool {
    let before = mock.requests_to("/v1/responses").len();
    let body = r#"{"model":"gpt-5.5","stream":true,"input":[]}"#;
    let Ok(out) = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            "-H",
            &format!("authorization: Bearer {MOCK_KEY}"),
            "-H",
            "content-type: application/json",
            "--data",
            body,
        ])
        .arg(format!("{}/responses", mock.openai_base_url()))
        .output()
    else {
        return false;
    };
    let answered = String::from_utf8_lossy(&out.stdout).into_owned();
    mock.requests_to("/v1/responses").len() > before && !answered.contains("Hello from the mock.")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

fn report(
    clients: &[Client],
    wall: &[Vec<f64>],
    rss: &[Vec<f64>],
    failures: &[String],
    unavailable: Option<&str>,
) -> String {
    let mut out = String::new();
    let date = doc_block::utc_now();
    let _ = writeln!(
        out,
        "## One coding turn: a shell command and a patch, talaria and the Codex CLI\n"
    );
    let _ = writeln!(
        out,
        "`tests/benches/tool_turn.rs`, {date}, {RUNS} runs each after a warm-up, the clients taking turns. \
         The mock scripts one turn: the model calls `shell_command` (`ls`), then `apply_patch` (freeform, adds \
         `hello.txt`), then answers. Each run starts in a fresh workspace, runs its commands sandboxed \
         (talaria `--sandbox workspace-write --approvals auto`, Codex `exec -s workspace-write`, whose approval policy in exec is never) and is checked: exit 0, \
         `hello.txt` written, three `/responses` requests, the answer on stdout. Wall time of the whole process; \
         peak RSS from `/usr/bin/time -f %M` (the largest process, not the sum of its children).\n"
    );
    let _ = writeln!(
        out,
        "| client | wall time, ms (min–max) | peak RSS, MiB (min–max) | runs |\n|---|---|---|---|"
    );
    for (i, c) in clients.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.label,
            spread(Stats::of(wall[i].clone()), 1e-3, 0),
            spread(Stats::of(rss[i].clone()), 1024.0, 1),
            wall[i].len()
        );
    }
    if clients.len() > 1 && !wall[0].is_empty() && !wall[1].is_empty() {
        let pairs: Vec<f64> = wall[1].iter().zip(&wall[0]).map(|(c, t)| c / t).collect();
        let _ = writeln!(
            out,
            "\nCodex CLI ÷ talaria, wall time, paired per round: {}",
            ratio(Stats::of(pairs))
        );
        if !rss[0].is_empty() && !rss[1].is_empty() {
            let pairs: Vec<f64> = rss[1].iter().zip(&rss[0]).map(|(c, t)| c / t).collect();
            let _ = writeln!(
                out,
                "\nCodex CLI ÷ talaria, peak RSS: {}",
                ratio(Stats::of(pairs))
            );
        }
    }
    if let Some(why) = unavailable {
        let _ = writeln!(out, "\nThe Codex CLI could not be measured: {why}");
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nRuns left out:\n");
        for f in failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    let _ = writeln!(
        out,
        "\nRe-run: `cargo bench -p talaria-tests --bench tool_turn`."
    );
    out
}

fn write_doc(generated: &str) {
    doc_block::write_block("docs/performance.md", "tool_turn", generated, str::len);
}
