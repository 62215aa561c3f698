//! `exec_command` and `write_stdin`: a command that may outlive the call. The call
//! waits up to `yield_time_ms`; a process still running keeps a session id, which
//! `write_stdin` writes to (or, with no characters, polls). Codex's defaults and output
//! form (reference: codex-tools.md §2, §4).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Map, Value};
use talaria_sdk::{parse_args, CallContext, Result, Tool, ToolOutput, ToolSpec};

use crate::exec::{self, ExecRequest, Running};
use crate::policy::{self, CommandFacts};
use crate::shell::{escalation_properties, user_shell, Escalation};
use crate::truncate::{self, Policy};
use crate::turn::{approve, CommandCall, Shared, Turn};

const EXEC_YIELD_MS: u64 = 10_000;
const WRITE_YIELD_MS: u64 = 250;
const YIELD_RANGE_MS: (u64, u64) = (250, 30_000);
const MAX_SESSIONS: usize = 64;

/// Processes still running, by session id.
#[derive(Default)]
pub struct Sessions {
    next: Mutex<u32>,
    running: Mutex<HashMap<u32, Session>>,
}

struct Session {
    process: Running,
    /// How much of the output the model has seen.
    read: usize,
}

impl Sessions {
    /// Keeps a running process; when too many are open, stops it instead.
    fn insert(&self, mut session: Session) -> Option<u32> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.len() >= MAX_SESSIONS {
            session.process.kill_group();
            let _ = session.process.drain();
            return None;
        }
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        *next += 1;
        running.insert(*next, session);
        Some(*next)
    }

    fn take(&self, id: u32) -> Option<Session> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }
}

pub struct ExecCommand(pub Arc<Shared>);
pub struct WriteStdin(pub Arc<Shared>);

#[derive(Deserialize)]
struct ExecArgs {
    cmd: String,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    login: Option<bool>,
    #[serde(default)]
    yield_time_ms: Option<u64>,
    #[serde(default)]
    max_output_tokens: Option<Value>,
    #[serde(flatten)]
    escalation: Escalation,
}

#[derive(Deserialize)]
struct WriteArgs {
    session_id: u32,
    #[serde(default)]
    chars: String,
    #[serde(default)]
    yield_time_ms: Option<u64>,
    #[serde(default)]
    max_output_tokens: Option<Value>,
}

fn clamp_yield(ms: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(
        ms.unwrap_or(default)
            .clamp(YIELD_RANGE_MS.0, YIELD_RANGE_MS.1),
    )
}

impl Tool for ExecCommand {
    fn spec(&self) -> ToolSpec {
        let mut props = Map::new();
        props.insert(
            "cmd".into(),
            json!({"type": "string", "description": "The shell command to run."}),
        );
        props.insert(
            "workdir".into(),
            json!({"type": "string", "description": "The directory to run it in."}),
        );
        props.insert("shell".into(), json!({"type": "string", "description": "The shell to run it with (default: the user's)."}));
        props.insert(
            "login".into(),
            json!({"type": "boolean", "description": "Run as a login shell (default true)."}),
        );
        props.insert("yield_time_ms".into(), json!({"type": "number", "description": "How long to wait for output before answering (default 10000)."}));
        props.insert("max_output_tokens".into(), json!({"type": "number", "description": "Output budget in tokens (default: the model's)."}));
        escalation_properties(&mut props);
        ToolSpec {
            name: "exec_command".into(),
            description: "Runs a command and returns its output; a command still running after `yield_time_ms` keeps a session id that write_stdin can write to or poll.".into(),
            input_schema: json!({"type": "object", "properties": props, "required": ["cmd"], "additionalProperties": false}),
            needs_approval: true,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let args: ExecArgs = parse_args(args)?;
        let turn = Turn::of(cx, &self.0);
        let flag = if args.login.unwrap_or(true) {
            "-lc"
        } else {
            "-c"
        };
        let call = CommandCall {
            argv: vec![
                args.shell.clone().unwrap_or_else(user_shell),
                flag.into(),
                args.cmd.clone(),
            ],
            display: args.cmd.clone(),
            workdir: turn.workdir(args.workdir.as_deref()),
            timeout: Duration::ZERO,
            facts: CommandFacts {
                known_safe: policy::is_known_safe_script(&args.cmd),
                dangerous: policy::is_dangerous_script(&args.cmd),
                escalated: args.escalation.asked(),
            },
            justification: args.escalation.justification.clone(),
        };
        let sandboxed = match approve(&self.0, &turn, &call, cx)? {
            Ok(sandboxed) => sandboxed,
            Err(refused) => return Ok(ToolOutput::error(refused)),
        };
        let req = ExecRequest {
            argv: call.argv.clone(),
            cwd: call.workdir.clone(),
            timeout: Duration::ZERO,
            sandbox: sandboxed.then(|| crate::sandbox::Confinement {
                writable: turn.writable.clone(),
            }),
        };
        let started = Instant::now();
        let process = match exec::spawn(&req, true) {
            Ok(p) => p,
            Err(e) => return Ok(ToolOutput::error(format!("execution error: {e}"))),
        };
        let budget = truncate::with_max_tokens(turn.truncation(), args.max_output_tokens.as_ref());
        let session = Session { process, read: 0 };
        Ok(self.0.sessions.step(
            session,
            clamp_yield(args.yield_time_ms, EXEC_YIELD_MS),
            started,
            budget,
            cx,
        ))
    }
}

impl Tool for WriteStdin {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "write_stdin".into(),
            description: "Writes characters to a running exec_command session's stdin (empty to just read new output) and returns what it printed since.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "session_id": {"type": "number", "description": "The session id exec_command gave."},
                    "chars": {"type": "string", "description": "What to write; may be empty."},
                    "yield_time_ms": {"type": "number", "description": "How long to wait for output (default 250)."},
                    "max_output_tokens": {"type": "number", "description": "Output budget in tokens."}
                },
                "required": ["session_id"],
                "additionalProperties": false
            }),
            needs_approval: false,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let args: WriteArgs = parse_args(args)?;
        let turn = Turn::of(cx, &self.0);
        let Some(mut session) = self.0.sessions.take(args.session_id) else {
            return Ok(ToolOutput::error(format!(
                "no running session {}: it has exited or never existed",
                args.session_id
            )));
        };
        let started = Instant::now();
        if !args.chars.is_empty() {
            let written = session.process.child.stdin.as_mut().map(|stdin| {
                stdin
                    .write_all(args.chars.as_bytes())
                    .and_then(|()| stdin.flush())
            });
            if let Some(Err(e)) = written {
                self.0.sessions.put_back(args.session_id, session);
                return Ok(ToolOutput::error(format!(
                    "cannot write to session {}: {e}",
                    args.session_id
                )));
            }
        }
        let budget = truncate::with_max_tokens(turn.truncation(), args.max_output_tokens.as_ref());
        Ok(self.0.sessions.resume(
            args.session_id,
            session,
            clamp_yield(args.yield_time_ms, WRITE_YIELD_MS),
            started,
            budget,
            cx,
        ))
    }
}

impl Sessions {
    fn put_back(&self, id: u32, session: Session) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, session);
    }

    /// Waits on a new process and answers; a process still running gets a session.
    fn step(
        &self,
        session: Session,
        wait: Duration,
        started: Instant,
        budget: Policy,
        cx: &CallContext,
    ) -> ToolOutput {
        self.answer(None, session, wait, started, budget, cx)
    }

    fn resume(
        &self,
        id: u32,
        session: Session,
        wait: Duration,
        started: Instant,
        budget: Policy,
        cx: &CallContext,
    ) -> ToolOutput {
        self.answer(Some(id), session, wait, started, budget, cx)
    }

    fn answer(
        &self,
        id: Option<u32>,
        mut session: Session,
        wait: Duration,
        started: Instant,
        budget: Policy,
        cx: &CallContext,
    ) -> ToolOutput {
        let code = session.process.wait_for(wait, &|| cx.is_cancelled());
        let (status, bytes) = match code {
            Some(code) => {
                let read = session.read;
                let all = session.process.drain();
                (
                    format!("Process exited with code {code}"),
                    all.get(read..).map(<[u8]>::to_vec).unwrap_or_default(),
                )
            }
            None => {
                let new = session.process.output.take_from(session.read);
                session.read += new.len();
                let id = match id {
                    Some(id) => {
                        self.put_back(id, session);
                        Some(id)
                    }
                    None => self.insert(session),
                };
                match id {
                    Some(id) => (format!("Process running with session ID {id}"), new),
                    None => (format!("Process still running, but {MAX_SESSIONS} sessions are open: it was stopped"), new),
                }
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let (shown, _) = truncate::truncate(&text, budget);
        let chunk: u32 = rand_chunk_id(started);
        ToolOutput::text(format!(
            "Chunk ID: {chunk:06x}\nWall time: {:.4} seconds\n{status}\nOriginal token count: {}\nOutput:\n{shown}",
            started.elapsed().as_secs_f64(),
            text.len().div_ceil(4)
        ))
    }
}

/// A chunk id: only needs to differ between chunks.
fn rand_chunk_id(started: Instant) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (nanos ^ started.elapsed().subsec_nanos()) & 0xFF_FFFF
}
