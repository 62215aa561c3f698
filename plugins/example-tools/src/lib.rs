//! `example-tools`: three local tools, written only against `talaria-sdk`.
//!
//! This crate is the worked example in `docs/plugin-guide.md`: `read_file` and
//! `list_dir` are read-only, `run_command` asks the host for approval with the exact
//! command line before it runs anything.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use talaria_sdk::{
    export_plugin, parse_args, ApprovalRequest, CallContext, Host, Result, Tool, ToolOutput,
    ToolSet, ToolSpec,
};

/// Output beyond this is cut, so a huge file or a chatty command cannot flood the
/// model's context.
const MAX_OUTPUT_BYTES: usize = 64 * 1024;

pub fn init(_host: Host) -> Result<ToolSet> {
    Ok(ToolSet::new().with(ReadFile).with(ListDir).with(RunCommand))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

struct ReadFile;

impl Tool for ReadFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "read_file".into(),
            description: "Read a UTF-8 text file and return its contents (cut at 64 KiB).".into(),
            input_schema: json!({
                "type": "object",
                "properties": { "path": { "type": "string", "description": "Path of the file" } },
                "required": ["path"],
                "additionalProperties": false
            }),
            needs_approval: false,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, _cx: &CallContext) -> Result<ToolOutput> {
        #[derive(Deserialize)]
        struct Args {
            path: PathBuf,
        }
        let args: Args = parse_args(args)?;
        let mut file = match std::fs::File::open(&args.path) {
            Ok(f) => f,
            Err(e) => {
                return Ok(ToolOutput::error(format!(
                    "cannot open {}: {e}",
                    args.path.display()
                )))
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = file
            .by_ref()
            .take(MAX_OUTPUT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
        {
            return Ok(ToolOutput::error(format!(
                "cannot read {}: {e}",
                args.path.display()
            )));
        }
        let truncated = bytes.len() > MAX_OUTPUT_BYTES;
        bytes.truncate(MAX_OUTPUT_BYTES);
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if truncated {
            text.push_str("\n[... cut at 64 KiB]");
        }
        Ok(ToolOutput::text(text))
    }
}

struct ListDir;

impl Tool for ListDir {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "list_dir".into(),
            description: "List a folder: one entry per line, folders marked with a trailing '/'."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": { "path": { "type": "string", "description": "Folder to list (default: current folder)" } },
                "additionalProperties": false
            }),
            needs_approval: false,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, _cx: &CallContext) -> Result<ToolOutput> {
        #[derive(Deserialize)]
        struct Args {
            #[serde(default)]
            path: Option<PathBuf>,
        }
        let args: Args = parse_args(if args.is_null() { json!({}) } else { args })?;
        let path = args.path.unwrap_or_else(|| PathBuf::from("."));
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) => {
                return Ok(ToolOutput::error(format!(
                    "cannot list {}: {e}",
                    path.display()
                )))
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    format!("{name}/")
                } else {
                    name
                }
            })
            .collect();
        names.sort();
        Ok(ToolOutput::text(names.join("\n")))
    }
}

struct RunCommand;

impl Tool for RunCommand {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "run_command".into(),
            description: "Run a shell command (after the user approves it) and return its exit code and output.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "command": { "type": "string", "description": "Command line, run with sh -c" },
                    "cwd": { "type": "string", "description": "Working folder" },
                    "timeout_secs": { "type": "integer", "minimum": 1, "description": "Kill after this long (default 120)" }
                },
                "required": ["command"],
                "additionalProperties": false
            }),
            needs_approval: true,
            ..Default::default()
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        #[derive(Deserialize)]
        struct Args {
            command: String,
            #[serde(default)]
            cwd: Option<String>,
            #[serde(default)]
            timeout_secs: Option<u64>,
        }
        let args: Args = parse_args(args)?;
        let request = ApprovalRequest {
            tool: Some(self.spec().name),
            ..ApprovalRequest::exec(cx.call_id(), &args.command, args.cwd.clone())
        };
        let decision = cx.request_approval(&request)?;
        if !decision.approved() {
            return Ok(ToolOutput::error(format!(
                "the command was not run: {}",
                decision.reason
            )));
        }
        run(
            &args.command,
            args.cwd.as_deref(),
            Duration::from_secs(args.timeout_secs.unwrap_or(120)),
            cx,
        )
    }
}

/// Runs the command, polling for exit so cancellation and the timeout can kill it.
fn run(
    command: &str,
    cwd: Option<&str>,
    timeout: Duration,
    cx: &CallContext,
) -> Result<ToolOutput> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Ok(ToolOutput::error(format!("cannot start the command: {e}"))),
    };
    // Drain the pipes on threads so a command that writes a lot cannot block on a full pipe.
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if cx.is_cancelled() || started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let collect = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let (out, err) = (collect(stdout), collect(stderr));
    cx.check_cancelled()?;
    let mut text = String::new();
    match status {
        Some(status) => text.push_str(&format!(
            "exit code: {}\n",
            status.code().map_or("signal".into(), |c| c.to_string())
        )),
        None => text.push_str(&format!("killed after {} s\n", timeout.as_secs())),
    }
    for (label, bytes) in [("stdout", out), ("stderr", err)] {
        if !bytes.is_empty() {
            let shown = &bytes[..bytes.len().min(MAX_OUTPUT_BYTES)];
            text.push_str(&format!("{label}:\n{}\n", String::from_utf8_lossy(shown)));
        }
    }
    let failed = !matches!(status, Some(s) if s.success());
    Ok(if failed {
        ToolOutput::error(text)
    } else {
        ToolOutput::text(text)
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use talaria_sdk::testing::Harness;

    #[test]
    fn run_command_runs_only_after_approval() {
        let dir = std::env::temp_dir().join(format!("example-tools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("ran");
        let cmd = format!("touch {} && echo done", marker.display());

        let denied = Harness::builder().deny_all().start(init).unwrap();
        let (out, _) = denied
            .call_tool("run_command", json!({ "command": cmd }))
            .unwrap();
        assert!(out.is_error && out.content.contains("not run"), "{out:?}");
        assert!(!marker.exists());
        let asked = &denied.approval_requests()[0];
        assert_eq!(asked.kind, talaria_sdk::ApprovalKind::Exec);
        assert_eq!(asked.command.as_deref(), Some(cmd.as_str()));
        assert_eq!(asked.tool.as_deref(), Some("run_command"));

        let approved = Harness::builder().approve_all().start(init).unwrap();
        let (out, _) = approved
            .call_tool("run_command", json!({ "command": cmd }))
            .unwrap();
        assert!(!out.is_error, "{out:?}");
        assert!(
            out.content.contains("exit code: 0") && out.content.contains("done"),
            "{}",
            out.content
        );
        assert!(marker.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failing_command_reports_its_exit_code() {
        let h = Harness::builder().approve_all().start(init).unwrap();
        let (out, _) = h
            .call_tool("run_command", json!({ "command": "echo oops >&2; exit 3" }))
            .unwrap();
        assert!(out.is_error);
        assert!(
            out.content.contains("exit code: 3") && out.content.contains("oops"),
            "{}",
            out.content
        );
    }

    #[test]
    fn read_and_list() {
        let dir = tempdir();
        std::fs::write(dir.join("a.txt"), "alpha").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let h = Harness::start(init).unwrap();
        let (out, _) = h
            .call_tool("read_file", json!({ "path": dir.join("a.txt") }))
            .unwrap();
        assert_eq!(out, ToolOutput::text("alpha"));
        let (out, _) = h.call_tool("list_dir", json!({ "path": dir })).unwrap();
        assert_eq!(out.content, "a.txt\nsub/");
        let (out, _) = h
            .call_tool("read_file", json!({ "path": dir.join("missing") }))
            .unwrap();
        assert!(out.is_error && out.content.contains("cannot open"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("example-tools-rl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
