//! `shell_command` (a script in the user's login shell) and `shell` (an argv), with
//! Codex's arguments, defaults and output forms (reference: codex-tools.md §2, §4).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use talaria_sdk::{parse_args, CallContext, Result, Tool, ToolOutput, ToolSpec};

use crate::policy::{self, CommandFacts};
use crate::turn::{exec_text, run_command, CommandCall, Ran, Shared, Turn};

/// Codex's default for shell commands.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The arguments every shell tool takes to leave the sandbox.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Escalation {
    #[serde(default)]
    pub sandbox_permissions: Option<String>,
    #[serde(default)]
    pub justification: Option<String>,
    /// A command prefix the user could approve for good (accepted, not yet used).
    #[serde(default)]
    pub prefix_rule: Option<Vec<String>>,
    /// The older spelling of `sandbox_permissions: "require_escalated"`.
    #[serde(default)]
    pub with_escalated_permissions: Option<bool>,
}

impl Escalation {
    pub fn asked(&self) -> bool {
        self.sandbox_permissions.as_deref() == Some("require_escalated")
            || self.with_escalated_permissions == Some(true)
    }
}

/// The schema properties of [`Escalation`], added to each shell tool's own.
pub fn escalation_properties(props: &mut Map<String, Value>) {
    props.insert(
        "sandbox_permissions".into(),
        json!({"type": "string", "description": "\"use_default\" to run in the sandbox (the default), or \"require_escalated\" to ask the user to run this command without it (say why in `justification`)."}),
    );
    props.insert(
        "justification".into(),
        json!({"type": "string", "description": "With \"require_escalated\": one line, phrased as a question for the user, on why the command must run outside the sandbox."}),
    );
    props.insert(
        "prefix_rule".into(),
        json!({"type": "array", "items": {"type": "string"}, "description": "With \"require_escalated\": a command prefix (like [\"npm\", \"install\"]) the user could allow from now on."}),
    );
}

fn schema(mut props: Map<String, Value>, required: &[&str]) -> Value {
    escalation_properties(&mut props);
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// The user's shell: `$SHELL`, else bash.
pub fn user_shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/bash".into())
}

/// The properties both one-shot shell tools take besides their command.
fn where_and_how_long(props: &mut Map<String, Value>) {
    props.insert("workdir".into(), json!({"type": "string", "description": "The directory to run it in; set this rather than using `cd`."}));
    props.insert("timeout_ms".into(), json!({"type": "number", "description": format!("Kill the command after this many milliseconds (default {DEFAULT_TIMEOUT_MS}).")}));
}

pub struct ShellCommand(pub Arc<Shared>);

#[derive(Deserialize)]
struct ShellCommandArgs {
    command: String,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    login: Option<bool>,
    #[serde(flatten)]
    escalation: Escalation,
}

impl Tool for ShellCommand {
    fn spec(&self) -> ToolSpec {
        let mut props = Map::new();
        props.insert(
            "command".into(),
            json!({"type": "string", "description": "The shell script to run."}),
        );
        where_and_how_long(&mut props);
        props.insert("login".into(), json!({"type": "boolean", "description": "Run as a login shell, reading the user's profile (default true)."}));
        ToolSpec {
            name: "shell_command".into(),
            description: "Runs a shell script in the user's default shell and returns its exit code and output (stdout and stderr together). Always set `workdir`; avoid `cd`.".into(),
            input_schema: schema(props, &["command"]),
            needs_approval: true,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let args: ShellCommandArgs = parse_args(args)?;
        let turn = Turn::of(cx, &self.0);
        let flag = if args.login.unwrap_or(true) {
            "-lc"
        } else {
            "-c"
        };
        let timeout = Duration::from_millis(args.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let call = CommandCall {
            argv: vec![user_shell(), flag.into(), args.command.clone()],
            display: args.command.clone(),
            workdir: turn.workdir(args.workdir.as_deref()),
            timeout,
            facts: CommandFacts {
                known_safe: policy::is_known_safe_script(&args.command),
                dangerous: policy::is_dangerous_script(&args.command),
                escalated: args.escalation.asked(),
            },
            justification: args.escalation.justification.clone(),
        };
        Ok(match run_command(&self.0, &turn, &call, cx)? {
            Ran::Refused(text) => ToolOutput::error(text),
            Ran::Done(out) => {
                let text = exec_text(&out, timeout, turn.truncation());
                if out.exit_code == 0 {
                    ToolOutput::text(text)
                } else {
                    ToolOutput::error(text)
                }
            }
        })
    }
}

pub struct Shell(pub Arc<Shared>);

#[derive(Deserialize)]
struct ShellArgs {
    command: Vec<String>,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(flatten)]
    escalation: Escalation,
}

impl Tool for Shell {
    fn spec(&self) -> ToolSpec {
        let mut props = Map::new();
        props.insert("command".into(), json!({"type": "array", "items": {"type": "string"}, "description": "The command and its arguments, run directly (no shell); start with [\"bash\", \"-lc\"] to run a script."}));
        where_and_how_long(&mut props);
        ToolSpec {
            name: "shell".into(),
            description: "Runs a command and returns its output. Prefix scripts with [\"bash\", \"-lc\"]; always set `workdir`; avoid `cd`.".into(),
            input_schema: schema(props, &["command"]),
            needs_approval: true,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let args: ShellArgs = parse_args(args)?;
        if args.command.is_empty() {
            return Ok(ToolOutput::error(
                "the command is empty: give the program and its arguments",
            ));
        }
        let turn = Turn::of(cx, &self.0);
        let timeout = Duration::from_millis(args.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let call = CommandCall {
            display: shlex::try_join(args.command.iter().map(String::as_str))
                .unwrap_or_else(|_| args.command.join(" ")),
            workdir: turn.workdir(args.workdir.as_deref()),
            timeout,
            facts: CommandFacts {
                known_safe: policy::is_known_safe_argv(&args.command),
                dangerous: policy::is_dangerous_argv(&args.command),
                escalated: args.escalation.asked(),
            },
            justification: args.escalation.justification.clone(),
            argv: args.command,
        };
        Ok(match run_command(&self.0, &turn, &call, cx)? {
            Ran::Refused(text) => ToolOutput::error(text),
            Ran::Done(out) => {
                // The JSON form the argv tool has always answered with.
                let mut body = out.output.clone();
                if out.timed_out {
                    body = format!(
                        "command timed out after {} milliseconds\n{body}",
                        timeout.as_millis()
                    );
                }
                let (shown, _) = crate::truncate::truncate(&body, turn.truncation());
                let text = json!({
                    "output": shown,
                    "metadata": {"exit_code": out.exit_code, "duration_seconds": (out.wall.as_secs_f64() * 10.0).round() / 10.0},
                })
                .to_string();
                if out.exit_code == 0 {
                    ToolOutput::text(text)
                } else {
                    ToolOutput::error(text)
                }
            }
        })
    }
}
