//! The `apply_patch` tool: the patch as freeform text (Codex's grammar) or as the
//! function form's `input`, approved per policy (a unified diff in the question) and
//! applied whole.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use talaria_sdk::{
    ApprovalKind, ApprovalRequest, CallContext, Error, Result, Tool, ToolForm, ToolOutput, ToolSpec,
};

use crate::exec::ExecOutput;
use crate::patch;
use crate::policy::{self, Start};
use crate::sandbox;
use crate::turn::{answer, exec_text, Shared, Turn};

pub struct ApplyPatch(pub Arc<Shared>);

/// What the function form teaches (the freeform form has the grammar instead).
const FUNCTION_DESCRIPTION: &str = r#"Edits files with a patch. The patch is text in this envelope:

*** Begin Patch
[ one or more file sections ]
*** End Patch

Each file section starts with one of three headers:
*** Add File: <path> - create a file; every following line is a line of it, starting with +.
*** Delete File: <path> - remove a file; nothing follows.
*** Update File: <path> - change a file; optionally followed by *** Move to: <new path> to rename it.

An update holds one or more hunks. A hunk starts with @@, optionally followed by a line that locates it (a class or function header). Then come its lines: ' ' (a space) for context, '-' for a removed line, '+' for an added line. Give 3 lines of context before and after each change; when that is not unique, add @@ lines naming the enclosing class or function (several @@ lines may follow each other). End a hunk that reaches the end of the file with *** End of File.

Example:

*** Begin Patch
*** Add File: hello.txt
+Hello world
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-print("Hi")
+print("Hello, world!")
*** Delete File: obsolete.txt
*** End Patch

Paths are relative to the working directory. Every new line starts with +, even in a new file."#;

impl Tool for ApplyPatch {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "apply_patch".into(),
            description: "Edits files with a patch in the apply_patch format. This is a freeform tool: send the patch text itself, not JSON.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {"input": {"type": "string", "description": FUNCTION_DESCRIPTION}},
                "required": ["input"],
                "additionalProperties": false
            }),
            needs_approval: true,
            form: ToolForm::Freeform {
                syntax: "lark".into(),
                definition: patch::GRAMMAR.into(),
            },
        }
    }

    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput> {
        let text = match &args {
            Value::String(s) => s.clone(),
            Value::Object(o) => match o.get("input").and_then(Value::as_str) {
                Some(s) => s.to_owned(),
                None => {
                    return Err(Error::invalid(
                        "invalid arguments: `input` (the patch text) is missing",
                    ))
                }
            },
            _ => return Err(Error::invalid("invalid arguments: send the patch text")),
        };
        let turn = Turn::of(cx, &self.0);
        let started = Instant::now();
        let plan = match patch::prepare(&text, &turn.cwd) {
            Ok(plan) => plan,
            Err(message) => return Ok(ToolOutput::error(message)),
        };
        let writable = turn.mode == policy::SandboxMode::DangerFullAccess
            || plan.paths().all(|p| sandbox::is_below(p, &turn.writable));
        match policy::patch_start(turn.policy, writable) {
            Start::Reject(text) => return Ok(ToolOutput::error(text)),
            Start::Run { .. } => {}
            Start::Ask { .. } => {
                let files: Vec<String> = plan
                    .paths()
                    .map(|p| p.strip_prefix(&turn.cwd).unwrap_or(p).display().to_string())
                    .collect();
                let request = ApprovalRequest {
                    kind: ApprovalKind::Patch,
                    call_id: cx.call_id().to_owned(),
                    summary: format!("edit {}", files.join(", ")),
                    command: None,
                    cwd: Some(turn.cwd.display().to_string()),
                    patch: Some(plan.diff(&turn.cwd)),
                    tool: None,
                    plugin: None,
                };
                if !answer(cx, &request)? {
                    return Ok(ToolOutput::error("patch rejected by user"));
                }
            }
        }
        let (exit_code, output) = match patch::apply::commit(&plan) {
            Ok(()) => (0, plan.summary()),
            Err(message) => (1, message),
        };
        let out = ExecOutput {
            exit_code,
            output,
            wall: started.elapsed(),
            timed_out: false,
        };
        let text = exec_text(&out, std::time::Duration::ZERO, turn.truncation());
        Ok(if exit_code == 0 {
            ToolOutput::text(text)
        } else {
            ToolOutput::error(text)
        })
    }
}
