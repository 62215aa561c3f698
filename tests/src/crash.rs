//! Pieces the crash-safety and concurrency tests share: waiting on an observable state,
//! `kill -9`, SQLite's own integrity check, a Codex CLI login to import, and a full disk
//! (a small tmpfs in a user + mount namespace).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mock::Tokens;
use crate::{Run, TestHome};

/// Generous: the tests share two cores with the rest of the suite. Only a failure ever
/// waits this long; success returns as soon as the state is seen.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `done` until it holds; panics naming `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILL (what `Child::kill` sends on Unix) and reap; returns what the process printed.
pub fn kill_9(mut child: Child) -> Run {
    child.kill().expect("kill -9 talaria");
    let out = child.wait_with_output().expect("reap talaria");
    assert!(
        out.status.code().is_none(),
        "talaria had already exited ({:?}) before the kill:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Run::from_output(out)
}

/// `PRAGMA integrity_check` on a session store, opened as the next talaria would (so a
/// WAL left by a killed writer is recovered first).
pub fn integrity_check(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("open sessions.db");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity_check")
}

/// `(session id, role, content)` of every stored message, in order.
pub fn stored_messages(db: &Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(db).expect("open sessions.db");
    let mut stmt = conn
        .prepare("SELECT session_id, role, content FROM messages ORDER BY session_id, seq")
        .expect("query messages");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query messages")
        .collect::<Result<_, _>>()
        .expect("read messages")
}

/// A Codex CLI home at `dir` signed in with `tokens` (its `auth.json`, as the CLI
/// writes it), for `auth add openai-codex --import-codex` with `CODEX_HOME=dir`.
pub fn codex_login(dir: &Path, tokens: &Tokens) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create codex home");
    let auth = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": tokens.id_token,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "account_id": tokens.account_id,
        },
        "last_refresh": "2026-11-20T12:00:00Z",
    });
    std::fs::write(
        dir.join("auth.json"),
        serde_json::to_vec_pretty(&auth).expect("encode"),
    )
    .expect("write codex auth.json");
    dir.to_path_buf()
}

/// What a run on a full disk left behind.
pub struct FullDiskRun {
    pub run: Run,
    /// A copy of the full file system's files after the run (the tmpfs itself is gone
    /// with its namespace), the filler excepted.
    pub after: PathBuf,
}

/// Runs `cmd` with a full file system at `mount`: in a new user + mount namespace
/// (`unshare -rm`), a 1 MiB tmpfs is mounted over `mount`, `mount`'s current files are
/// copied in, the rest of the space is filled, then `cmd` runs. Fails loudly, never
/// skips, when the machine refuses the namespace.
pub fn on_full_disk(mount: &Path, cmd: Command, scratch: &Path) -> FullDiskRun {
    let seed = scratch.join("full-disk-seed");
    let after = scratch.join("full-disk-after");
    std::fs::create_dir_all(&after).expect("create copy folder");
    copy_dir(mount, &seed);
    let mut sh = Command::new("unshare");
    // $1 mount point, $2 seed, $3 copy-out folder, then the command.
    sh.args([
        "-rm",
        "sh",
        "-c",
        r#"mount -t tmpfs -o size=1m tmpfs "$1" || { echo "full-disk: cannot mount a tmpfs" >&2; exit 97; }
cp -a "$2"/. "$1"/ || exit 98
dd if=/dev/zero of="$1/.filler" bs=4k 2>/dev/null
m="$1"; seed="$2"; out="$3"; shift 3
"$@"; code=$?
rm -f "$m/.filler"
cp -a "$m"/. "$out"/
exit $code"#,
        "sh",
    ]);
    sh.arg(mount).arg(&seed).arg(&after);
    sh.arg(cmd.get_program()).args(cmd.get_args());
    sh.env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            sh.env(key, value);
        }
    }
    sh.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    sh.stdin(std::process::Stdio::null());
    let run =
        Run::from_output(sh.output().unwrap_or_else(|e| {
            panic!("cannot run unshare (util-linux) for the full-disk test: {e}")
        }));
    assert!(
        run.code != 97 && !run.stderr.contains("unshare:"),
        "the full-disk test needs user and mount namespaces (`unshare -rm` then `mount -t tmpfs`), \
         which this machine refused; enable unprivileged user namespaces \
         (sysctl kernel.unprivileged_userns_clone=1 / kernel.apparmor_restrict_unprivileged_userns=0):\n{}",
        run.stderr
    );
    assert_ne!(run.code, 98, "could not seed the tmpfs: {}", run.stderr);
    FullDiskRun { run, after }
}

/// `cp -a`-like copy of a folder's files (recursively).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("read folder");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The names of the files in `dir` (not recursive), sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The profile's `sessions.db` of a home's default profile.
pub fn sessions_db(home: &TestHome) -> PathBuf {
    home.path("sessions.db")
}
