//! One codex process and its thread, kept for the turns of one talaria session.
//!
//! Started on the session's first turn: spawn `codex app-server`, `initialize` with
//! talaria's client info, `initialized`, then `thread/resume` of the thread saved in the
//! session's runtime state (a `chat -c` in a new process) or `thread/start`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use talaria_sdk::{CallContext, Error, ErrorKind, Event, Result};

use crate::rpc::{Connection, RpcError, OVERLOADED};
use crate::settings::{Settings, Version, INSTALL_HINT, MIN_VERSION};

pub const INITIALIZE_TIMEOUT: Duration = Duration::from_secs(20);
pub const THREAD_TIMEOUT: Duration = Duration::from_secs(30);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes every message talaria sends to codex to this file (a diagnostic; the tests
/// validate the messages against codex's own schema).
pub const TRACE_ENV: &str = "TALARIA_CODEX_TRACE";

/// What the runtime keeps in the session's runtime state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub thread_id: String,
}

impl SavedState {
    pub fn from_value(state: Option<&Value>) -> Option<SavedState> {
        state
            .and_then(|v| serde_json::from_value::<SavedState>(v.clone()).ok())
            .filter(|s| !s.thread_id.is_empty())
    }
}

pub struct CodexSession {
    pub conn: Connection,
    pub thread_id: String,
    pub version: Option<Version>,
}

/// Starts codex and opens the thread: resumed when the session has one, else new. The
/// turn's approval policy and sandbox (`read-only`, `workspace-write`,
/// `danger-full-access`: codex's own words) go with `thread/start` and `thread/resume`,
/// so codex enforces talaria's `--sandbox` / `[tools] sandbox`.
pub fn open(
    settings: &Settings,
    saved: Option<&SavedState>,
    cwd: &str,
    approval_policy: Option<&str>,
    sandbox: Option<&str>,
    cx: &CallContext,
) -> Result<CodexSession> {
    let conn = start(settings)?;
    let session = handshake(conn, settings)?;
    let thread_params = |resume: Option<&str>| {
        let mut p = json!({});
        if let Some(id) = resume {
            p["threadId"] = json!(id);
        }
        if !cwd.is_empty() {
            p["cwd"] = json!(cwd);
        }
        if let Some(policy) = approval_policy {
            p["approvalPolicy"] = json!(policy);
        }
        if let Some(sandbox) = sandbox {
            p["sandbox"] = json!(sandbox);
        }
        p
    };
    if let Some(saved) = saved {
        match with_backoff(|| {
            session.conn.request(
                "thread/resume",
                &thread_params(Some(&saved.thread_id)),
                THREAD_TIMEOUT,
            )
        }) {
            Ok(result) => {
                let thread_id = thread_id_of(&result).unwrap_or_else(|| saved.thread_id.clone());
                return Ok(CodexSession {
                    thread_id,
                    ..session
                });
            }
            Err(RpcError::Closed) => return Err(died(&session.conn, "resuming the thread")),
            Err(e) => cx.emit(&Event::Warning {
                message: format!(
                    "could not resume codex thread {} ({e}); starting a new codex thread, which does not remember the earlier turns of this session",
                    saved.thread_id
                ),
            }),
        }
    }
    let result = with_backoff(|| {
        session
            .conn
            .request("thread/start", &thread_params(None), THREAD_TIMEOUT)
    })
    .map_err(|e| failure(&session.conn, "starting a thread", e))?;
    let thread_id = thread_id_of(&result).ok_or_else(|| {
        Error::other(format!(
            "codex answered thread/start without a thread id: {result}"
        ))
    })?;
    Ok(CodexSession {
        thread_id,
        ..session
    })
}

/// Spawns `codex app-server`.
pub fn start(settings: &Settings) -> Result<Connection> {
    let trace = std::env::var_os(TRACE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    Connection::spawn(settings.command(&["app-server"]), trace).map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "cannot start `{} app-server` (from {}): {e}; install the Codex CLI with `{INSTALL_HINT}` or set TALARIA_CODEX_BIN",
                settings.bin.display(),
                settings.bin_source
            ),
        )
    })
}

/// `initialize` + `initialized`; refuses a codex older than the minimum.
pub fn handshake(conn: Connection, settings: &Settings) -> Result<CodexSession> {
    let params = json!({
        "clientInfo": {
            "name": "talaria",
            "title": "talaria",
            "version": env!("CARGO_PKG_VERSION"),
        },
    });
    let result = with_backoff(|| conn.request("initialize", &params, INITIALIZE_TIMEOUT))
        .map_err(|e| failure(&conn, "initialize", e))?;
    let version = result
        .get("userAgent")
        .and_then(Value::as_str)
        .and_then(Version::parse_user_agent);
    if let Some(v) = version.filter(|v| *v < MIN_VERSION) {
        return Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "codex {v} at {} is older than {MIN_VERSION}, the oldest this runtime supports; update it with `{INSTALL_HINT}`",
                settings.bin.display()
            ),
        ));
    }
    conn.notify("initialized")
        .map_err(|e| failure(&conn, "initialized", e))?;
    Ok(CodexSession {
        conn,
        thread_id: String::new(),
        version,
    })
}

/// Retries a request codex refused as overloaded (-32001), with backoff.
pub fn with_backoff(
    mut send: impl FnMut() -> std::result::Result<Value, RpcError>,
) -> std::result::Result<Value, RpcError> {
    let mut delay = Duration::from_millis(200);
    for _ in 0..4 {
        match send() {
            Err(RpcError::Remote { code, .. }) if code == OVERLOADED => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            other => return other,
        }
    }
    send()
}

fn thread_id_of(result: &Value) -> Option<String> {
    [
        &result["thread"]["id"],
        &result["thread"]["sessionId"],
        &result["threadId"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
}

/// A failed step, with codex's stderr when the process died.
pub fn failure(conn: &Connection, step: &str, e: RpcError) -> Error {
    match e {
        RpcError::Closed => died(conn, step),
        RpcError::Timeout => Error::new(
            ErrorKind::Unavailable,
            with_tail(
                conn,
                format!("codex did not answer {step} in time; if ~/.codex (or CODEX_HOME) is read-only, set a writable `[codex] home`"),
            ),
        ),
        e => Error::other(with_tail(conn, format!("codex refused {step}: {e}"))),
    }
}

pub fn died(conn: &Connection, step: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        with_tail(conn, format!("the codex process exited while {step}")),
    )
}

/// `message`, plus the last lines of codex's stderr (redacted) when there are any.
pub fn with_tail(conn: &Connection, message: String) -> String {
    // Give the stderr reader a moment to catch the last lines of a dying process.
    std::thread::sleep(Duration::from_millis(50));
    let tail = conn.stderr_tail();
    if tail.trim().is_empty() {
        message
    } else {
        format!("{message}; codex's stderr ended with:\n{tail}")
    }
}
