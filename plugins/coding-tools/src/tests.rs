//! The tools through the SDK's harness (the ABI adapter, a fake host answering
//! approvals): what runs, what asks, what the model reads back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use talaria_sdk::provider::ModelInfo;
use talaria_sdk::testing::Harness;
use talaria_sdk::{ApprovalKind, Event, StepStatus, ToolContext, ToolForm, ToolOutput};

use crate::init;

fn context(cwd: &std::path::Path, policy: &str, sandbox: &str) -> Option<ToolContext> {
    Some(ToolContext {
        cwd: cwd.display().to_string(),
        approval_policy: Some(policy.into()),
        sandbox: Some(sandbox.into()),
        model: None,
    })
}

fn call(h: &Harness, name: &str, args: Value, cx: Option<ToolContext>) -> (ToolOutput, Vec<Event>) {
    h.call_tool_in(name, args, cx).unwrap()
}

#[test]
fn the_tools_and_their_forms() {
    let h = Harness::start(init).unwrap();
    let tools = h.describe().unwrap().tools;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "shell_command",
            "shell",
            "exec_command",
            "write_stdin",
            "apply_patch",
            "update_plan",
            "view_image"
        ]
    );
    let patch = tools.iter().find(|t| t.name == "apply_patch").unwrap();
    let ToolForm::Freeform { syntax, definition } = &patch.form else {
        panic!("apply_patch is freeform")
    };
    assert_eq!(syntax, "lark");
    assert!(definition.starts_with("start: begin_patch hunk+ end_patch"));
    assert_eq!(patch.input_schema["required"], json!(["input"]));
}

#[test]
fn shell_command_runs_in_the_working_directory_and_output_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::builder().approve_all().start(init).unwrap();
    let mut cx = context(dir.path(), "on-request", "danger-full-access");
    let (out, _) = call(
        &h,
        "shell_command",
        json!({"command": "pwd; echo err >&2; exit 3"}),
        cx.clone(),
    );
    let real = dir.path().canonicalize().unwrap();
    assert!(out.is_error, "a non-zero exit");
    assert!(
        out.content.starts_with("Exit code: 3\nWall time: "),
        "{}",
        out.content
    );
    assert!(
        out.content
            .ends_with(&format!("Output:\n{}\nerr\n", real.display())),
        "{}",
        out.content
    );

    let mut model = ModelInfo::default();
    model.tools.insert(
        "truncation_policy".into(),
        json!({"mode": "bytes", "limit": 40}),
    );
    cx.as_mut().unwrap().model = Some(model);
    let (out, _) = call(
        &h,
        "shell_command",
        json!({"command": "seq 1 100", "login": false}),
        cx,
    );
    assert!(
        out.content
            .contains("Total output lines: 100\nOutput:\n1\n2\n3\n4\n5\n6\n7"),
        "{}",
        out.content
    );
    assert!(out.content.contains("chars truncated…"), "{}", out.content);
    assert!(
        out.content.ends_with("97\n98\n99\n100\n"),
        "{}",
        out.content
    );
}

#[test]
fn a_timeout_is_exit_124() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::builder().approve_all().start(init).unwrap();
    let cx = context(dir.path(), "never", "danger-full-access");
    let (out, _) = call(
        &h,
        "shell_command",
        json!({"command": "echo a; sleep 20", "timeout_ms": 300, "login": false}),
        cx,
    );
    assert!(
        out.content.starts_with("Exit code: 124\n"),
        "{}",
        out.content
    );
    assert!(
        out.content
            .ends_with("Output:\ncommand timed out after 300 milliseconds\na\n"),
        "{}",
        out.content
    );
}

#[test]
fn the_argv_shell_answers_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::builder().approve_all().start(init).unwrap();
    let cx = context(dir.path(), "never", "danger-full-access");
    let (out, _) = call(&h, "shell", json!({"command": ["echo", "hi there"]}), cx);
    let v: Value = serde_json::from_str(&out.content).unwrap();
    assert_eq!(v["output"], "hi there\n");
    assert_eq!(v["metadata"]["exit_code"], 0);
}

#[test]
fn apply_patch_takes_both_forms_and_asks_outside_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
    let h = Harness::builder().deny_all().start(init).unwrap();
    let cx = context(dir.path(), "on-request", "workspace-write");
    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+three\n*** End Patch";
    let (out, _) = call(&h, "apply_patch", json!(patch), cx.clone());
    assert!(!out.is_error, "{}", out.content);
    assert!(
        out.content.starts_with("Exit code: 0\nWall time: "),
        "{}",
        out.content
    );
    assert!(
        out.content
            .ends_with("Output:\nSuccess. Updated the following files:\nM a.txt\n"),
        "{}",
        out.content
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "one\nthree\n"
    );
    assert!(
        h.approval_requests().is_empty(),
        "inside the workspace: no question"
    );

    let (out, _) = call(
        &h,
        "apply_patch",
        json!({"input": "*** Begin Patch\n*** Add File: b.txt\n+new\n*** End Patch"}),
        cx.clone(),
    );
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b.txt")).unwrap(),
        "new\n"
    );

    // Outside the workspace: asked (and declined here), nothing written.
    let outside = tempfile::tempdir_in(dir.path().parent().unwrap()).unwrap();
    let target = outside.path().join("x.txt");
    let patch = format!(
        "*** Begin Patch\n*** Add File: {}\n+x\n*** End Patch",
        target.display()
    );
    let workspace_only = context(dir.path(), "on-request", "workspace-write");
    let mut no_tmp = workspace_only.clone().unwrap();
    no_tmp.sandbox = Some("read-only".into());
    let (out, _) = call(&h, "apply_patch", json!(patch), Some(no_tmp));
    assert_eq!(out.content, "patch rejected by user");
    assert!(!target.exists());
    let asked = h.approval_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].kind, ApprovalKind::Patch);
    assert!(
        asked[0].patch.as_deref().unwrap().contains("+x"),
        "{asked:?}"
    );

    let mut never = workspace_only.unwrap();
    never.sandbox = Some("read-only".into());
    never.approval_policy = Some("never".into());
    let (out, _) = call(&h, "apply_patch", json!(patch), Some(never));
    assert_eq!(
        out.content,
        "writing outside of the project; rejected by user approval settings"
    );

    let (out, _) = call(
        &h,
        "apply_patch",
        json!("*** Begin Patch\n*** Update File: a.txt\n@@\n-nope\n+x\n*** End Patch"),
        cx,
    );
    assert!(out.is_error);
    assert!(
        out.content
            .starts_with("apply_patch verification failed: Failed to find expected lines in a.txt"),
        "{}",
        out.content
    );
}

#[test]
fn update_plan_emits_the_checklist() {
    let h = Harness::start(init).unwrap();
    let (out, events) = call(
        &h,
        "update_plan",
        json!({"explanation": "start", "plan": [{"step": "read", "status": "completed"}, {"step": "write", "status": "in_progress"}]}),
        None,
    );
    assert_eq!(out.content, "Plan updated");
    let Event::Plan { explanation, steps } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(explanation.as_deref(), Some("start"));
    assert_eq!(steps[1].status, StepStatus::InProgress);
    let (out, _) = call(
        &h,
        "update_plan",
        json!({"plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]}),
        None,
    );
    assert!(
        out.is_error && out.content.contains("at most one"),
        "{}",
        out.content
    );
}

#[test]
fn view_image_sends_a_data_url() {
    let dir = tempfile::tempdir().unwrap();
    let png = b"\x89PNG\r\n\x1a\n0000";
    std::fs::write(dir.path().join("i.png"), png).unwrap();
    std::fs::write(dir.path().join("t.txt"), "text").unwrap();
    let h = Harness::start(init).unwrap();
    let cx = context(dir.path(), "on-request", "workspace-write");
    let (out, _) = call(&h, "view_image", json!({"path": "i.png"}), cx.clone());
    assert_eq!(
        out.images,
        vec!["data:image/png;base64,iVBORw0KGgowMDAw".to_string()]
    );
    let (out, _) = call(&h, "view_image", json!({"path": "t.txt"}), cx.clone());
    assert!(
        out.is_error && out.content.contains("not a PNG"),
        "{}",
        out.content
    );
    let mut text_only = cx.unwrap();
    text_only.model = Some(ModelInfo {
        slug: "m".into(),
        input_modalities: vec!["text".into()],
        ..Default::default()
    });
    let (out, _) = call(&h, "view_image", json!({"path": "i.png"}), Some(text_only));
    assert!(
        out.is_error && out.content.contains("cannot read images"),
        "{}",
        out.content
    );
}

#[test]
fn exec_command_keeps_a_session_for_write_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::builder().approve_all().start(init).unwrap();
    let cx = context(dir.path(), "never", "danger-full-access");
    let (out, _) = call(
        &h,
        "exec_command",
        json!({"cmd": "read line; echo got $line", "yield_time_ms": 300, "login": false}),
        cx.clone(),
    );
    assert!(
        out.content.contains("Process running with session ID 1\n"),
        "{}",
        out.content
    );
    let (out, _) = call(
        &h,
        "write_stdin",
        json!({"session_id": 1, "chars": "hello\n", "yield_time_ms": 5000}),
        cx.clone(),
    );
    assert!(
        out.content.contains("Process exited with code 0\n"),
        "{}",
        out.content
    );
    assert!(
        out.content.ends_with("Output:\ngot hello\n"),
        "{}",
        out.content
    );
    let (out, _) = call(&h, "write_stdin", json!({"session_id": 1}), cx);
    assert!(out.is_error, "{}", out.content);
}

#[test]
fn escalation_is_only_for_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::builder().deny_all().start(init).unwrap();
    let args = json!({"command": "touch x", "sandbox_permissions": "require_escalated", "justification": "Create x?"});
    let (out, _) = call(
        &h,
        "shell_command",
        args.clone(),
        context(dir.path(), "never", "workspace-write"),
    );
    assert!(
        out.content
            .starts_with("approval policy is never; reject command"),
        "{}",
        out.content
    );
    let (out, _) = call(
        &h,
        "shell_command",
        args,
        context(dir.path(), "on-request", "workspace-write"),
    );
    assert_eq!(out.content, "exec command rejected by user");
    let asked = h.approval_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].summary,
        "run `touch x` outside the sandbox: Create x?"
    );
    assert!(!dir.path().join("x").exists());
}
