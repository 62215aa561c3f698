//! The native runtime as a coding agent: the `coding-tools` plugin through the real
//! binary, the `agent-loop` runtime, the `responses` transport and the `openai-codex`
//! provider, against the mock backend. The model's tool calls are scripted; the tests
//! check the files on disk and the exact requests the mock received.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use talaria_tests::artifacts::workspace_root;
use talaria_tests::codex::signed_in;
use talaria_tests::mock::{
    custom_tool_call_events, default_models, function_call_events, MockServer, Recorded,
};
use talaria_tests::{Run, TestHome};

const RESPONSES: &str = "/backend-api/codex/responses";

/// The turn's requests to the model (websocket `response.create` frames or SSE posts),
/// oldest first; not the session title's.
fn requests(mock: &MockServer) -> Vec<Value> {
    mock.turn_requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "WS" || r.method == "POST")
        .map(|r: Recorded| r.json())
        .collect()
}

/// The catalog: gpt-5.5 as the mock lists it, with `fields` changed.
fn catalog(mock: &MockServer, fields: Value) {
    let mut model = default_models()
        .into_iter()
        .find(|m| m["slug"] == "gpt-5.5")
        .unwrap();
    for (k, v) in fields.as_object().unwrap() {
        model[k] = v.clone();
    }
    mock.set_models(vec![model]);
}

/// `talaria chat -m gpt-5.5 ARGS` run in `cwd`.
fn chat_in(home: &TestHome, cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["chat", "-m", "gpt-5.5"];
    all.extend_from_slice(args);
    Run::from_output(home.command(&all).current_dir(cwd).output().unwrap())
}

/// The item answering `call_id` in a request's input.
fn output_for<'a>(request: &'a Value, call_id: &str) -> &'a Value {
    request["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["call_id"] == call_id && i["type"].as_str().unwrap().ends_with("_output"))
        .unwrap_or_else(|| panic!("no output for {call_id} in {request}"))
}

fn tool_names(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir(ws.path().join(".git")).unwrap();
    ws
}

#[test]
fn apply_patch_freeform_changes_the_file() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    catalog(
        &mock,
        json!({"apply_patch_tool_type": "freeform", "shell_type": "shell_command"}),
    );
    let ws = workspace();
    std::fs::write(
        ws.path().join("app.py"),
        "def greet():\n    print(\"Hi\")\n",
    )
    .unwrap();
    let patch = "*** Begin Patch\n*** Update File: app.py\n@@ def greet():\n-    print(\"Hi\")\n+    print(\"Hello\")\n*** Add File: notes/todo.md\n+- ship it\n*** End Patch";
    mock.push_events(custom_tool_call_events(
        "resp_1",
        "call_p",
        "apply_patch",
        patch,
    ));
    chat_in(&home, ws.path(), &["-q", "edit", "--approvals", "deny"]).ok();

    assert_eq!(
        std::fs::read_to_string(ws.path().join("app.py")).unwrap(),
        "def greet():\n    print(\"Hello\")\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("notes/todo.md")).unwrap(),
        "- ship it\n"
    );
    let reqs = requests(&mock);
    assert_eq!(reqs.len(), 2);
    // The tools as the catalog asks: shell_command and the freeform apply_patch.
    let tools = &reqs[0]["tools"];
    let names = tool_names(&reqs[0]);
    assert!(names.contains(&"shell_command".to_owned()), "{names:?}");
    for absent in ["shell", "exec_command", "write_stdin"] {
        assert!(!names.contains(&absent.to_owned()), "{names:?}");
    }
    let patch_tool = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "apply_patch")
        .unwrap();
    assert_eq!(patch_tool["type"], "custom");
    assert_eq!(patch_tool["format"]["type"], "grammar");
    assert_eq!(patch_tool["format"]["syntax"], "lark");
    assert!(patch_tool["format"]["definition"]
        .as_str()
        .unwrap()
        .contains("\"*** Begin Patch\" LF"));
    let out = output_for(&reqs[1], "call_p");
    assert_eq!(out["type"], "custom_tool_call_output");
    let text = out["output"].as_str().unwrap();
    assert!(text.starts_with("Exit code: 0\nWall time: "), "{text}");
    assert!(
        text.ends_with(
            "Output:\nSuccess. Updated the following files:\nA notes/todo.md\nM app.py\n"
        ),
        "{text}"
    );
}

#[test]
fn apply_patch_function_form_changes_the_file() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    catalog(&mock, json!({"apply_patch_tool_type": "function"}));
    let ws = workspace();
    std::fs::write(ws.path().join("a.txt"), "one\ntwo\n").unwrap();
    let args = json!({"input": "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+2\n*** End Patch"});
    mock.push_events(function_call_events(
        "resp_1",
        "call_f",
        "apply_patch",
        &args.to_string(),
    ));
    chat_in(&home, ws.path(), &["-q", "edit", "--approvals", "deny"]).ok();

    assert_eq!(
        std::fs::read_to_string(ws.path().join("a.txt")).unwrap(),
        "one\n2\n"
    );
    let reqs = requests(&mock);
    let tool = reqs[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "apply_patch")
        .unwrap()
        .clone();
    assert_eq!(tool["type"], "function");
    assert_eq!(tool["parameters"]["required"], json!(["input"]));
    let out = output_for(&reqs[1], "call_f");
    assert_eq!(out["type"], "function_call_output");
    assert!(out["output"].as_str().unwrap().contains("M a.txt"), "{out}");
}

#[test]
fn shell_command_runs_in_the_working_directory_truncated_as_the_catalog_says() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    catalog(
        &mock,
        json!({"truncation_policy": {"mode": "bytes", "limit": 200}}),
    );
    let ws = workspace();
    let args = json!({"command": "pwd; seq 1 1000", "login": false});
    mock.push_events(function_call_events(
        "resp_1",
        "call_s",
        "shell_command",
        &args.to_string(),
    ));
    // A plain command inside the workspace under workspace-write: no question.
    let run = chat_in(
        &home,
        ws.path(),
        &[
            "-q",
            "look",
            "--approvals",
            "deny",
            "--sandbox",
            "danger-full-access",
        ],
    )
    .ok();
    assert!(!run.stderr.contains("declined"), "{}", run.stderr);

    let reqs = requests(&mock);
    let out = output_for(&reqs[1], "call_s")["output"]
        .as_str()
        .unwrap()
        .to_owned();
    let real = ws.path().canonicalize().unwrap();
    assert!(out.starts_with("Exit code: 0\nWall time: "), "{out}");
    assert!(
        out.contains("\nTotal output lines: 1001\nOutput:\n"),
        "{out}"
    );
    let body = out.split("Output:\n").nth(1).unwrap();
    assert!(
        body.starts_with(&format!("{}\n1\n2\n", real.display())),
        "{body}"
    );
    assert!(body.contains("chars truncated…"), "{body}");
    assert!(body.ends_with("999\n1000\n"), "{body}");
    assert!(body.len() < 300, "cut to about 200 bytes: {}", body.len());
}

#[test]
fn update_plan_reaches_the_user_as_a_plan_event() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let ws = workspace();
    let args = json!({"plan": [{"step": "Read the code", "status": "completed"}, {"step": "Fix it", "status": "in_progress"}]});
    mock.push_events(function_call_events(
        "resp_1",
        "call_u",
        "update_plan",
        &args.to_string(),
    ));
    let run = chat_in(&home, ws.path(), &["-q", "plan", "--json"]).ok();
    let plan: Value = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "plan")
        .unwrap_or_else(|| panic!("no plan event: {}", run.stdout));
    assert_eq!(
        plan["steps"][1],
        json!({"step": "Fix it", "status": "in_progress"})
    );
    let reqs = requests(&mock);
    assert_eq!(output_for(&reqs[1], "call_u")["output"], "Plan updated");
    // Without --json the terminal shows a checklist.
    mock.push_events(function_call_events(
        "resp_2",
        "call_v",
        "update_plan",
        &args.to_string(),
    ));
    let run = chat_in(&home, ws.path(), &["-q", "plan"]).ok();
    assert!(run.stderr.contains("✔ Read the code"), "{}", run.stderr);
    assert!(
        run.stderr.contains("□ Fix it") || run.stderr.contains("▶ Fix it"),
        "{}",
        run.stderr
    );
}

#[test]
fn view_image_sends_the_image() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let ws = workspace();
    let png = b"\x89PNG\r\n\x1a\nfake-pixels";
    std::fs::write(ws.path().join("shot.png"), png).unwrap();
    mock.push_events(function_call_events(
        "resp_1",
        "call_i",
        "view_image",
        r#"{"path":"shot.png"}"#,
    ));
    chat_in(&home, ws.path(), &["-q", "look at it"]).ok();
    let reqs = requests(&mock);
    let out = output_for(&reqs[1], "call_i");
    assert_eq!(
        out["output"],
        json!([{"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgpmYWtlLXBpeGVscw=="}])
    );
}

#[test]
fn agents_md_from_two_levels_and_the_home_reach_the_first_request() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let ws = workspace();
    let sub = ws.path().join("crates/core");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(ws.path().join("AGENTS.md"), "Run the tests with nextest.\n").unwrap();
    std::fs::write(sub.join("AGENTS.md"), "This crate has no unsafe code.\n").unwrap();
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(home.path("AGENTS.md"), "Answer in English.\n").unwrap();
    chat_in(&home, &sub, &["-q", "hi", "--sandbox", "read-only"]).ok();

    let reqs = requests(&mock);
    let input = reqs[0]["input"].as_array().unwrap();
    let text = |i: usize| input[i]["content"][0]["text"].as_str().unwrap().to_owned();
    assert_eq!(input.len(), 3, "{input:?}");
    assert_eq!(
        text(0),
        format!(
            "# AGENTS.md instructions for {}\n\n<INSTRUCTIONS>\nAnswer in English.\n\n--- project-doc ---\n\nRun the tests with nextest.\n\n\nThis crate has no unsafe code.\n\n</INSTRUCTIONS>",
            sub.display()
        )
    );
    let env = text(1);
    assert!(env.starts_with("<environment_context>\n"), "{env}");
    assert!(
        env.contains(&format!("<cwd>{}</cwd>", sub.display())),
        "{env}"
    );
    assert!(
        env.contains("<approval_policy>on-request</approval_policy>"),
        "{env}"
    );
    assert!(
        env.contains("<sandbox_mode>read-only</sandbox_mode>"),
        "{env}"
    );
    assert!(
        env.contains("<network_access>restricted</network_access>"),
        "{env}"
    );
    assert_eq!(text(2), "hi");
    // The catalog's own prompt is not in the mock's list: ours goes as instructions.
    assert!(reqs[0]["instructions"]
        .as_str()
        .unwrap()
        .starts_with("You are talaria"));
}

#[test]
fn the_catalogs_base_instructions_are_the_prompt() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    catalog(
        &mock,
        json!({"base_instructions": "You are Codex, based on GPT-5."}),
    );
    let ws = workspace();
    chat_in(&home, ws.path(), &["-q", "hi"]).ok();
    assert_eq!(
        requests(&mock)[0]["instructions"],
        "You are Codex, based on GPT-5."
    );
}

#[test]
fn web_search_is_offered_when_on_and_the_model_has_it() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    catalog(&mock, json!({"web_search_tool_type": "text"}));
    let ws = workspace();
    chat_in(&home, ws.path(), &["-q", "hi"]).ok();
    std::fs::write(home.path("config.toml"), "[tools]\nweb_search = true\n").unwrap();
    chat_in(&home, ws.path(), &["-q", "hi"]).ok();
    let reqs = requests(&mock);
    assert!(!tool_names(&reqs[0]).contains(&"web_search".to_owned()));
    let search = reqs[1]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "web_search")
        .cloned();
    assert_eq!(
        search,
        Some(json!({"type": "web_search", "external_web_access": false}))
    );
}

// ---- approvals × sandbox ----

/// A folder outside the workspace, `/tmp` and `$TMPDIR`: in the build's target folder.
fn outside_dir(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target/sandbox-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn landlock() -> bool {
    talaria_coding_tools::sandbox::landlock_abi().is_some()
}

/// Runs one `shell_command` turn; (approval requests raised, tool output, stderr).
fn one_command(
    mock: &MockServer,
    home: &TestHome,
    ws: &Path,
    command: &str,
    flags: &[&str],
) -> (usize, String, String) {
    mock.clear_requests();
    let args = json!({"command": command, "login": false});
    mock.push_events(function_call_events(
        "resp_c",
        "call_c",
        "shell_command",
        &args.to_string(),
    ));
    let mut all = vec!["-q", "go", "--json"];
    all.extend_from_slice(flags);
    let run = chat_in(home, ws, &all).ok();
    let asked = run
        .stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"approval_request\""))
        .count();
    let reqs = requests(mock);
    let out = output_for(&reqs[1], "call_c")["output"]
        .as_str()
        .unwrap()
        .to_owned();
    (asked, out, run.stderr)
}

#[test]
fn a_write_outside_the_workspace_is_stopped_by_landlock() {
    // Fails loudly on a kernel without landlock, where the sandbox cannot hold: the
    // other branch checks what the user is told instead.
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let ws = workspace();
    let outside = outside_dir("outside-write");
    let target = outside.join("escaped.txt");
    let command = format!("echo x > {}", target.display());
    let (asked, out, stderr) =
        one_command(&mock, &home, ws.path(), &command, &["--approvals", "deny"]);
    if landlock() {
        assert_eq!(asked, 0, "on-request runs sandboxed without asking: {out}");
        assert!(!target.exists(), "landlock let the write through: {out}");
        assert!(out.to_lowercase().contains("permission denied"), "{out}");
        assert!(
            out.contains("require_escalated"),
            "the model is told how to ask: {out}"
        );
        // Inside the workspace the same write goes through.
        let inside = ws.path().join("inside.txt");
        let (asked, out, _) = one_command(
            &mock,
            &home,
            ws.path(),
            &format!("echo x > {}", inside.display()),
            &["--approvals", "deny"],
        );
        assert_eq!(asked, 0);
        assert!(inside.exists(), "{out}");
    } else {
        assert_eq!(
            asked, 1,
            "without landlock every command that is not known-safe asks"
        );
        assert!(!target.exists());
        assert_eq!(stderr.matches("offers no landlock").count(), 1, "{stderr}");
    }
    let _ = std::fs::remove_dir_all(outside);
}

#[test]
fn the_network_is_closed_in_the_sandbox() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let ws = workspace();
    assert!(
        landlock(),
        "this test needs a kernel with landlock (Linux 5.13 or later with landlock enabled)"
    );
    let port = mock.addr().port();
    let command = format!("bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' && echo connected");
    let (_, out, _) = one_command(&mock, &home, ws.path(), &command, &["--approvals", "deny"]);
    assert!(!out.contains("\nconnected"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    let (_, out, _) = one_command(
        &mock,
        &home,
        ws.path(),
        &command,
        &["--approvals", "deny", "--sandbox", "danger-full-access"],
    );
    assert!(out.contains("connected"), "{out}");
}

#[test]
fn each_approval_policy_times_each_sandbox_mode() {
    assert!(
        landlock(),
        "this test needs a kernel with landlock (Linux 5.13 or later with landlock enabled)"
    );
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let ws = workspace();
    // (policy, sandbox) → (approval requests, file written) for a plain write inside the
    // workspace, with every request declined (--approvals deny).
    let cases = [
        ("untrusted", "read-only", 1, false),
        ("untrusted", "workspace-write", 1, false),
        ("untrusted", "danger-full-access", 1, false),
        ("on-request", "read-only", 0, false),
        ("on-request", "workspace-write", 0, true),
        ("on-request", "danger-full-access", 0, true),
        // The sandbox stops it; the user is asked to run it without (declined).
        ("on-failure", "read-only", 1, false),
        ("on-failure", "workspace-write", 0, true),
        ("on-failure", "danger-full-access", 0, true),
        ("never", "read-only", 0, false),
        ("never", "workspace-write", 0, true),
        ("never", "danger-full-access", 0, true),
    ];
    for (policy, sandbox, want_asked, want_written) in cases {
        std::fs::write(
            home.path("config.toml"),
            format!("[tools]\napproval_policy = \"{policy}\"\n"),
        )
        .unwrap();
        let file = ws.path().join(format!("{policy}-{sandbox}.txt"));
        let command = format!("echo x > {}", file.display());
        let (asked, out, _) = one_command(
            &mock,
            &home,
            ws.path(),
            &command,
            &["--approvals", "deny", "--sandbox", sandbox],
        );
        assert_eq!(
            (asked, file.exists()),
            (want_asked, want_written),
            "{policy} × {sandbox}: {out}"
        );
    }
    // A known-safe command never asks, even under untrusted; with --approvals auto an
    // asked command runs. `-a` (Codex's --ask-for-approval) overrides the config.
    std::fs::write(
        home.path("config.toml"),
        "[tools]\napproval_policy = \"never\"\n",
    )
    .unwrap();
    let (asked, out, _) = one_command(
        &mock,
        &home,
        ws.path(),
        "ls",
        &["--approvals", "deny", "-a", "untrusted"],
    );
    assert_eq!(asked, 0, "{out}");
    let (asked, _, _) = one_command(
        &mock,
        &home,
        ws.path(),
        "touch asked.txt",
        &["--approvals", "deny", "-a", "untrusted"],
    );
    assert_eq!(
        asked, 1,
        "-a untrusted asks where the config's never would not"
    );
    std::fs::write(
        home.path("config.toml"),
        "[tools]\napproval_policy = \"untrusted\"\n",
    )
    .unwrap();
    let file = ws.path().join("approved.txt");
    let (asked, out, _) = one_command(
        &mock,
        &home,
        ws.path(),
        &format!("echo x > {}", file.display()),
        &["--approvals", "auto"],
    );
    assert_eq!(asked, 1);
    assert!(file.exists(), "{out}");
}
