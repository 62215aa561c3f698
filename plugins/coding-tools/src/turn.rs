//! What every tool call needs to know and share: the turn it serves (from the runtime's
//! [`ToolContext`], or this process's defaults), the plugin's settings, and the one path
//! by which commands are approved, sandboxed and run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::provider::ModelInfo;
use talaria_sdk::{ApprovalRequest, CallContext, Decision, Error, Event, Result};

use crate::exec::{self, ExecOutput, ExecRequest};
use crate::policy::{self, ApprovalPolicy, CommandFacts, SandboxMode, Start};
use crate::sandbox::{self, Confinement};
use crate::truncate::{self, Policy};

/// `[plugin_config.coding-tools]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// More folders commands may write to under `workspace-write`.
    pub writable_roots: Vec<PathBuf>,
}

/// State shared by every call of the plugin's life.
pub struct Shared {
    pub settings: Settings,
    /// The kernel's landlock ABI, probed once.
    pub landlock: Option<i64>,
    /// "No landlock" is said once.
    warned_no_landlock: AtomicBool,
    /// `exec_command` processes still running.
    pub sessions: crate::unified::Sessions,
}

impl Shared {
    pub fn new(settings: Settings) -> Shared {
        Shared {
            settings,
            landlock: sandbox::landlock_abi(),
            warned_no_landlock: AtomicBool::new(false),
            sessions: Default::default(),
        }
    }
}

/// The turn a call serves.
#[derive(Debug, Clone)]
pub struct Turn {
    pub cwd: PathBuf,
    pub policy: ApprovalPolicy,
    pub mode: SandboxMode,
    pub model: Option<ModelInfo>,
    /// Where writes are allowed without asking (empty for `read-only`; unused for
    /// `danger-full-access`).
    pub writable: Vec<PathBuf>,
}

impl Turn {
    pub fn of(cx: &CallContext, shared: &Shared) -> Turn {
        let context = cx.tool_context();
        let cwd = context
            .map(|c| PathBuf::from(&c.cwd))
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        let mode = SandboxMode::parse(context.and_then(|c| c.sandbox.as_deref()));
        let writable = match mode {
            SandboxMode::ReadOnly => Vec::new(),
            SandboxMode::WorkspaceWrite | SandboxMode::DangerFullAccess => {
                sandbox::workspace_roots(&cwd, &shared.settings.writable_roots)
            }
        };
        Turn {
            policy: ApprovalPolicy::parse(context.and_then(|c| c.approval_policy.as_deref())),
            mode,
            model: context.and_then(|c| c.model.clone()),
            writable,
            cwd,
        }
    }

    pub fn truncation(&self) -> Policy {
        Policy::for_model(self.model.as_ref())
    }

    /// A path the model gave, against the turn's directory.
    /// Where a command runs: the `workdir` it was given, else the turn's directory.
    pub fn workdir(&self, workdir: Option<&str>) -> PathBuf {
        workdir.map_or_else(|| self.cwd.clone(), |w| self.resolve(w))
    }

    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        if p.is_absolute() {
            p
        } else {
            self.cwd.join(p)
        }
    }

    fn confinement(&self) -> Confinement {
        Confinement {
            writable: self.writable.clone(),
        }
    }
}

/// One command a shell tool wants to run.
#[derive(Debug, Clone)]
pub struct CommandCall {
    pub argv: Vec<String>,
    /// How the command is shown (the script, or the argv joined).
    pub display: String,
    pub workdir: PathBuf,
    pub timeout: Duration,
    pub facts: CommandFacts,
    pub justification: Option<String>,
}

/// What became of a command.
pub enum Ran {
    Done(ExecOutput),
    /// Not run; the text the model gets.
    Refused(String),
}

/// Approves (per policy and sandbox), runs (sandboxed when it should be) and, when the
/// sandbox stopped it, offers or suggests running it again without.
pub fn run_command(
    shared: &Shared,
    turn: &Turn,
    call: &CommandCall,
    cx: &CallContext,
) -> Result<Ran> {
    let sandboxed = match approve(shared, turn, call, cx)? {
        Ok(sandboxed) => sandboxed,
        Err(refused) => return Ok(Ran::Refused(refused)),
    };
    let output = execute(turn, call, sandboxed, cx)?;
    if !(sandboxed && sandbox::looks_denied(output.exit_code, &output.output)) {
        return Ok(Ran::Done(output));
    }
    if policy::ask_after_denial(turn.policy) {
        let summary = format!(
            "run `{}` again without the sandbox (the sandbox stopped it)",
            call.display
        );
        if ask(cx, call, summary)? {
            return execute(turn, call, false, cx).map(Ran::Done);
        }
        return Ok(Ran::Done(output));
    }
    let mut output = output;
    if turn.policy == ApprovalPolicy::OnRequest {
        output.output.push_str(
            "\n[the sandbox may have stopped this command; if it needs to write outside the workspace or reach the network, call the tool again with \"sandbox_permissions\": \"require_escalated\" and a one-line \"justification\"]",
        );
    }
    Ok(Ran::Done(output))
}

/// Whether a command may start, and sandboxed or not: asks when the policy says so.
/// `Ok(Err(text))` is a refusal the model reads.
pub fn approve(
    shared: &Shared,
    turn: &Turn,
    call: &CommandCall,
    cx: &CallContext,
) -> Result<std::result::Result<bool, String>> {
    let landlock = shared.landlock.is_some();
    if !landlock
        && turn.mode != SandboxMode::DangerFullAccess
        && !shared.warned_no_landlock.swap(true, Ordering::SeqCst)
    {
        cx.emit(&Event::Warning {
            message: "this kernel offers no landlock, so commands cannot be sandboxed: every command that is not known to be safe asks first".into(),
        });
    }
    Ok(
        match policy::start(turn.policy, turn.mode, call.facts, landlock) {
            Start::Reject(text) => Err(text),
            Start::Run { sandboxed } => Ok(sandboxed),
            Start::Ask { sandboxed } => {
                let summary = match (&call.justification, sandboxed) {
                    (Some(why), false) => {
                        format!("run `{}` outside the sandbox: {why}", call.display)
                    }
                    _ => format!("run `{}`", call.display),
                };
                if ask(cx, call, summary)? {
                    Ok(sandboxed)
                } else {
                    Err("exec command rejected by user".into())
                }
            }
        },
    )
}

fn execute(
    turn: &Turn,
    call: &CommandCall,
    sandboxed: bool,
    cx: &CallContext,
) -> Result<ExecOutput> {
    let req = ExecRequest {
        argv: call.argv.clone(),
        cwd: call.workdir.clone(),
        timeout: call.timeout,
        sandbox: sandboxed.then(|| turn.confinement()),
    };
    let out = exec::run(&req, &|| cx.is_cancelled())
        .map_err(|e| Error::invalid(format!("execution error: {e}")))?;
    cx.check_cancelled()?;
    Ok(out)
}

/// Asks the host; `Ok(false)` when declined, `Err(cancelled)` when the user cancelled
/// the turn.
pub fn ask(cx: &CallContext, call: &CommandCall, summary: String) -> Result<bool> {
    let mut request = ApprovalRequest::exec(
        cx.call_id(),
        &call.display,
        Some(call.workdir.display().to_string()),
    );
    request.summary = summary;
    answer(cx, &request)
}

pub fn answer(cx: &CallContext, request: &ApprovalRequest) -> Result<bool> {
    let decision = cx.request_approval(request)?;
    if decision.decision == Decision::Cancel {
        return Err(Error::cancelled());
    }
    Ok(decision.approved())
}

/// Codex's text form of a finished command (shell_command, apply_patch).
pub fn exec_text(out: &ExecOutput, timeout: Duration, policy: Policy) -> String {
    let mut body = out.output.clone();
    if out.timed_out {
        body = format!(
            "command timed out after {} milliseconds\n{body}",
            timeout.as_millis()
        );
    }
    let (shown, cut) = truncate::truncate(&body, policy);
    let mut text = format!(
        "Exit code: {}\nWall time: {:.1} seconds\n",
        out.exit_code,
        out.wall.as_secs_f64()
    );
    if cut {
        text.push_str(&format!("Total output lines: {}\n", body.lines().count()));
    }
    text.push_str("Output:\n");
    text.push_str(&shown);
    text
}
