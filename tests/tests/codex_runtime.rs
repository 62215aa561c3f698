//! The `codex_app_server` runtime against the real Codex CLI (installed by
//! `.ci/install-codex`), whose custom model provider is the mock's `/v1/responses`.
//! Every message talaria sends codex is traced and checked against the JSON Schema the
//! pinned codex prints (`codex app-server generate-json-schema`).
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value};
use talaria_tests::codex_cli::{codex_pids, wait_for, CodexHome};
use talaria_tests::mock::{function_call_events, text_events, EventScript, MockServer};
use talaria_tests::Run;

const RESPONSES: &str = "/v1/responses";

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| {
            // On a terminal a JSON line may follow a prompt on the same line.
            let l = l.trim_matches(|c| c == '\r' || c == '\n');
            let start = l.find("{\"type\"")?;
            let l = &l[start..];
            Some(serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        })
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn text_of(events: &[Value]) -> String {
    of_type(events, "text_delta")
        .iter()
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

/// Input items of the `n`th model request codex sent the mock.
fn model_input(mock: &MockServer, n: usize) -> Vec<Value> {
    let posts = mock.requests_to(RESPONSES);
    assert!(posts.len() > n, "only {} model requests", posts.len());
    posts[n].json()["input"].as_array().unwrap().clone()
}

/// A model turn that asks codex to run `cmd` outside the sandbox (so codex asks first).
fn escalated_command(id: &str, call_id: &str, cmd: &str) -> Vec<Value> {
    let args = json!({ "cmd": cmd, "sandbox_permissions": "require_escalated", "justification": "the test asks for it" });
    function_call_events(id, call_id, "exec_command", &args.to_string())
}

fn output_for(input: &[Value], call_id: &str) -> String {
    let item = input
        .iter()
        .find(|i| i["type"] == "function_call_output" && i["call_id"] == call_id)
        .unwrap_or_else(|| panic!("no output for {call_id} in {input:#?}"));
    match &item["output"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn session_shown(codex: &CodexHome) -> Value {
    let sessions = codex.run(&["sessions", "list", "--json"]).ok().json();
    let id = sessions[0]["id"].as_str().unwrap().to_owned();
    codex.run(&["sessions", "show", &id, "--json"]).ok().json()
}

fn no_codex_left(codex: &CodexHome) {
    assert!(
        wait_for(3, || codex_pids(&codex.codex_home).is_empty()),
        "codex processes left behind: {:?}",
        codex_pids(&codex.codex_home)
    );
}

#[test]
fn a_plain_turn_streams_the_answer_and_is_stored_like_a_native_session() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(text_events("r1", &["Hello", " from", " codex."]));
    let run = codex.run(&["chat", "-q", "Say hello", "--json"]).ok();
    let events = json_lines(&run.stdout);
    let deltas: Vec<&str> = of_type(&events, "text_delta")
        .iter()
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    // Streamed, in order; deltas that were already waiting together may come as one.
    assert_eq!(deltas.concat(), "Hello from codex.");
    assert!(!deltas.is_empty() && deltas.len() <= 3, "{deltas:?}");
    assert_eq!(events[0]["type"], "session");
    assert_eq!(events[0]["runtime"], "codex_app_server");
    let done = events.last().unwrap();
    assert_eq!(done["type"], "turn_completed");
    assert_eq!(done["text"], "Hello from codex.");
    assert_eq!(done["usage"]["output_tokens"], 3);
    assert_eq!(done["usage"]["input_tokens"], 12);

    // Codex sent the prompt to the mock, with talaria as its client (originator).
    let posts = mock.requests_to(RESPONSES);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("originator"), Some("talaria"));
    let input = model_input(&mock, 0);
    assert!(input
        .iter()
        .any(|i| i["role"] == "user" && i["content"].to_string().contains("Say hello")));

    // Stored as talaria stores a native turn.
    let shown = session_shown(&codex);
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.first().unwrap()["content"], "Say hello");
    assert_eq!(messages.last().unwrap()["content"], "Hello from codex.");
    no_codex_left(&codex);

    // The handshake in order, and the plain terminal output.
    let sent = codex.sent();
    let methods: Vec<&str> = sent.iter().filter_map(|m| m["method"].as_str()).collect();
    assert_eq!(
        methods,
        ["initialize", "initialized", "thread/start", "turn/start"]
    );
    assert_eq!(sent[0]["params"]["clientInfo"]["name"], "talaria");
    mock.push_events(text_events("r2", &["Plain."]));
    let run = codex.run(&["chat", "-q", "again"]).ok();
    assert_eq!(run.stdout, "Plain.\n");
}

#[test]
fn an_approved_command_runs_and_its_output_reaches_the_model() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(escalated_command("r1", "call_1", "echo approved > out.txt"));
    mock.push_events(text_events("r2", &["Wrote it."]));
    let run = codex
        .run(&[
            "chat",
            "-q",
            "write a file",
            "--json",
            "--approvals",
            "auto",
        ])
        .ok();
    let events = json_lines(&run.stdout);
    let asked = of_type(&events, "approval_request");
    assert_eq!(asked.len(), 1, "{events:#?}");
    assert_eq!(asked[0]["request"]["kind"], "exec");
    assert!(asked[0]["request"]["command"]
        .as_str()
        .unwrap()
        .contains("echo approved > out.txt"));
    assert_eq!(asked[0]["request"]["plugin"], "codex-app-server");
    let decided = of_type(&events, "approval_decision");
    assert_eq!(decided[0]["decision"], "accept");
    let call = of_type(&events, "tool_call")[0];
    assert_eq!(call["name"], "exec_command");
    let result = of_type(&events, "tool_result")[0];
    assert_eq!(result["call_id"], call["call_id"]);
    assert_eq!(result["is_error"], false);
    assert_eq!(
        std::fs::read_to_string(codex.workspace.join("out.txt")).unwrap(),
        "approved\n"
    );
    assert_eq!(text_of(&events), "Wrote it.");
    // The model's second request carries the command's result.
    let input = model_input(&mock, 1);
    let output = output_for(&input, "call_1");
    assert!(output.contains("exited with code 0"), "{output}");
    let replies: Vec<Value> = codex
        .sent()
        .into_iter()
        .filter(|m| m["result"]["decision"].is_string())
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["result"]["decision"], "accept");

    // Stored as a tool call with its output.
    let shown = session_shown(&codex);
    let calls = shown["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{shown:#}");
    assert_eq!(calls[0]["name"], "exec_command");
}

#[test]
fn a_declined_command_is_not_run_and_the_turn_goes_on() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(escalated_command("r1", "call_1", "echo no > out.txt"));
    mock.push_events(text_events("r2", &["Fine, I won't."]));
    // No terminal and `--approvals ask`: declined, and stderr says why.
    let run = codex.run(&["chat", "-q", "write a file", "--json"]).ok();
    assert!(run.stderr.contains("no terminal"), "stderr: {}", run.stderr);
    let events = json_lines(&run.stdout);
    assert_eq!(
        of_type(&events, "approval_decision")[0]["decision"],
        "decline"
    );
    let result = of_type(&events, "tool_result")[0];
    assert_eq!(result["is_error"], true);
    assert!(!codex.workspace.join("out.txt").exists());
    assert_eq!(text_of(&events), "Fine, I won't.");
    let input = model_input(&mock, 1);
    assert!(
        output_for(&input, "call_1")
            .to_lowercase()
            .contains("reject")
            || output_for(&input, "call_1")
                .to_lowercase()
                .contains("declin")
            || output_for(&input, "call_1")
                .to_lowercase()
                .contains("denied"),
        "{}",
        output_for(&input, "call_1")
    );
}

#[test]
fn accept_for_the_session_on_a_terminal_is_sent_to_codex() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(escalated_command("r1", "call_1", "echo one >> log.txt"));
    mock.push_events(escalated_command("r2", "call_2", "echo one >> log.txt"));
    mock.push_events(text_events("r3", &["Twice."]));
    let (code, screen) =
        codex.on_terminal(&["chat", "-q", "log twice", "--json"], &["a"], |_| true);
    assert_eq!(code, 0, "{screen}");
    // Asked once: codex remembers the acceptance for the session itself.
    let events = json_lines(&screen);
    assert_eq!(of_type(&events, "approval_request").len(), 1, "{screen}");
    assert_eq!(
        std::fs::read_to_string(codex.workspace.join("log.txt")).unwrap(),
        "one\none\n"
    );
    let decisions: Vec<Value> = codex
        .sent()
        .into_iter()
        .filter(|m| m["result"]["decision"].is_string())
        .collect();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0]["result"]["decision"], "acceptForSession");
}

#[test]
fn cancel_on_a_terminal_ends_the_turn_and_the_next_turn_works() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(escalated_command("r1", "call_1", "echo no > out.txt"));
    let (code, screen) =
        codex.on_terminal(&["chat", "-q", "write a file", "--json"], &["c"], |_| true);
    assert!(!codex.workspace.join("out.txt").exists());
    let events = json_lines(&screen);
    assert_eq!(
        of_type(&events, "approval_decision")[0]["decision"],
        "cancel",
        "{screen}"
    );
    let done = of_type(&events, "turn_completed");
    assert_eq!(done[0]["interrupted"], true, "{screen}");
    assert_eq!(code, 130, "{screen}");
    let decisions: Vec<Value> = codex
        .sent()
        .into_iter()
        .filter(|m| m["result"]["decision"].is_string())
        .collect();
    assert_eq!(decisions[0]["result"]["decision"], "cancel");
    // The same session goes on.
    mock.push_events(text_events("r2", &["Still here."]));
    let run = codex.run(&["chat", "-c", "-q", "hello?"]).ok();
    assert_eq!(run.stdout, "Still here.\n");
}

#[test]
fn ctrl_c_interrupts_codex_keeps_the_partial_answer_and_the_thread_goes_on() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_script(EventScript::new(text_events("r1", &["partial ", "answer"])).stall_after(3));
    let child = codex.spawn(&["chat", "-q", "hi", "--json"]);
    assert!(wait_for(60, || mock.requests_to(RESPONSES).len() == 1));
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let run = Run::wait(child);
    assert_eq!(run.code, 130, "{}", run.stderr);
    let events = json_lines(&run.stdout);
    assert_eq!(text_of(&events), "partial ");
    let done = of_type(&events, "turn_completed");
    assert_eq!(done[0]["interrupted"], true);
    let sent = codex.sent();
    let interrupt = sent
        .iter()
        .find(|m| m["method"] == "turn/interrupt")
        .expect("turn/interrupt sent");
    assert!(interrupt["params"]["turnId"].is_string());
    no_codex_left(&codex);
    let shown = session_shown(&codex);
    assert_eq!(
        shown["messages"].as_array().unwrap().last().unwrap()["content"],
        "partial "
    );
    // Resumed in a new process: the next turn works on the same thread, and codex tells
    // the model the last turn was aborted.
    mock.push_events(text_events("r2", &["Back."]));
    let run = codex.run(&["chat", "-c", "-q", "go on"]).ok();
    assert_eq!(run.stdout, "Back.\n");
    let input = model_input(&mock, 1);
    assert!(
        input.iter().any(|i| i.to_string().contains("turn_aborted")),
        "{input:#?}"
    );
}

#[test]
fn two_turns_in_the_repl_share_one_codex_process_and_thread() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(text_events("r1", &["First answer."]));
    mock.push_events(text_events("r2", &["Second answer."]));
    let (code, screen) =
        codex.on_terminal(&["chat"], &["first question", "second question"], |n| {
            mock.requests_to(RESPONSES).len() == n
        });
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("First answer.") && screen.contains("Second answer."),
        "{screen}"
    );
    let sent = codex.sent();
    let count = |m: &str| sent.iter().filter(|x| x["method"] == m).count();
    assert_eq!(count("initialize"), 1);
    assert_eq!(count("thread/start"), 1);
    assert_eq!(count("turn/start"), 2);
    // The second model request carries the first exchange: one thread.
    let input = model_input(&mock, 1);
    let text = serde_json::to_string(&input).unwrap();
    assert!(
        text.contains("first question") && text.contains("First answer."),
        "{text}"
    );
    no_codex_left(&codex);
}

#[test]
fn continue_resumes_the_codex_thread_in_a_new_process() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(text_events("r1", &["Remembered."]));
    codex.run(&["chat", "-q", "remember 42"]).ok();
    mock.push_events(text_events("r2", &["It was 42."]));
    let run = codex.run(&["chat", "-c", "-q", "what was it?"]).ok();
    assert_eq!(run.stdout, "It was 42.\n");
    assert!(!run.stderr.contains("could not resume"), "{}", run.stderr);
    let sent = codex.sent();
    let started = sent.iter().find(|m| m["method"] == "thread/start").unwrap();
    let resumed = sent
        .iter()
        .find(|m| m["method"] == "thread/resume")
        .expect("thread/resume sent");
    assert!(resumed["params"]["threadId"].is_string());
    // The profile's sandbox (the default, workspace-write) goes with both.
    assert_eq!(started["params"]["sandbox"], "workspace-write", "{started}");
    assert_eq!(resumed["params"]["sandbox"], "workspace-write", "{resumed}");
    assert_eq!(count(&sent, "thread/start"), 1, "{started}");
    let text = serde_json::to_string(&model_input(&mock, 1)).unwrap();
    assert!(
        text.contains("remember 42") && text.contains("Remembered."),
        "{text}"
    );
}

#[test]
fn a_thread_that_cannot_be_resumed_is_said_plainly_and_a_new_one_starts() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(text_events("r1", &["One."]));
    codex.run(&["chat", "-q", "first"]).ok();
    // Codex forgets its threads.
    std::fs::remove_dir_all(codex.codex_home.join("sessions")).unwrap();
    mock.push_events(text_events("r2", &["Fresh."]));
    let run = codex.run(&["chat", "-c", "-q", "second"]).ok();
    assert_eq!(run.stdout, "Fresh.\n");
    assert!(
        run.stderr.contains("could not resume codex thread"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("new codex thread"), "{}", run.stderr);
}

#[test]
fn a_silent_codex_is_retired_after_the_configured_idle_limit_and_the_next_turn_works() {
    let mock = MockServer::start();
    let codex = CodexHome::new(
        &mock,
        "\n[plugin_config.codex-app-server]\nidle_timeout_ms = 3000\n",
    );
    // The model stream stalls, so codex has nothing to say.
    mock.push_script(EventScript::new(text_events("r1", &["cut ", "off"])).stall_after(3));
    mock.push_events(text_events("r2", &["Recovered."]));
    let (code, screen) = codex.on_terminal(&["chat"], &["first", "second"], |n| {
        if n == 0 {
            return true;
        }
        if mock.requests_to(RESPONSES).len() != 1 {
            return false;
        }
        // The silent codex is stopped by talaria itself, not by the test.
        wait_for(60, || codex_pids(&codex.codex_home).is_empty())
    });
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("codex sent nothing for 3 s"), "{screen}");
    assert!(screen.contains("Recovered."), "{screen}");
    retired_then_resumed(&codex);
}

/// How many messages of `method` talaria sent codex.
fn count(sent: &[serde_json::Value], method: &str) -> usize {
    sent.iter().filter(|m| m["method"] == method).count()
}

/// After a retirement: a second codex was started and resumed the thread once, and no
/// codex is left running.
fn retired_then_resumed(codex: &CodexHome) {
    let sent = codex.sent();
    assert_eq!(count(&sent, "initialize"), 2);
    assert_eq!(count(&sent, "thread/resume"), 1);
    no_codex_left(codex);
}

#[test]
fn a_codex_killed_mid_turn_is_retired_and_the_next_turn_works() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_script(EventScript::new(text_events("r1", &["cut ", "off"])).stall_after(3));
    mock.push_events(text_events("r2", &["Recovered."]));
    let (code, screen) = codex.on_terminal(&["chat"], &["first", "second"], |n| {
        if n == 0 {
            return true;
        }
        // Once the first request stalls, kill every codex process of this home.
        if mock.requests_to(RESPONSES).len() != 1 {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1000));
        for pid in codex_pids(&codex.codex_home) {
            let _ = std::process::Command::new("sh")
                .args(["-c", &format!("kill -KILL {pid}")])
                .status();
        }
        wait_for(10, || codex_pids(&codex.codex_home).is_empty());
        std::thread::sleep(Duration::from_millis(500));
        true
    });
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("codex process exited"), "{screen}");
    assert!(screen.contains("Recovered."), "{screen}");
    retired_then_resumed(&codex);
}

#[test]
fn a_missing_codex_binary_is_exit_4_with_the_install_command() {
    let mock = MockServer::start();
    let mut codex = CodexHome::new(&mock, "");
    codex
        .home
        .set_env("TALARIA_CODEX_BIN", "/nonexistent/codex");
    let run = codex.run(&["chat", "-q", "hi"]).expect_code(4);
    assert!(run.stderr.contains("/nonexistent/codex"), "{}", run.stderr);
    assert!(
        run.stderr.contains("npm install -g @openai/codex"),
        "{}",
        run.stderr
    );
    assert!(mock.requests_to(RESPONSES).is_empty());
}

/// A model turn calling codex's freeform `apply_patch` tool with `patch`.
fn apply_patch_events(id: &str, call_id: &str, patch: &str) -> Vec<Value> {
    use talaria_tests::mock::{completed_event, created_event, usage};
    let item = |input: &str, status: &str| json!({ "id": format!("ctc_{id}"), "type": "custom_tool_call", "status": status, "call_id": call_id, "name": "apply_patch", "input": input });
    let done = item(patch, "completed");
    let mut events = vec![
        created_event(id),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": item("", "in_progress") }),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": done }),
        completed_event(id, vec![done.clone()], usage(20, 0, 8, 0)),
    ];
    for (n, e) in events.iter_mut().enumerate() {
        e["sequence_number"] = json!(n);
    }
    events
}

#[test]
fn a_file_change_is_approved_with_its_diff_shown() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "\n[tools]\napproval_policy = \"untrusted\"\n");
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the patch\n*** End Patch\n";
    mock.push_events(apply_patch_events("r1", "call_p", patch));
    mock.push_events(text_events("r2", &["Patched."]));
    let run = codex
        .run(&["chat", "-q", "make a file", "--json", "--approvals", "auto"])
        .ok();
    let events = json_lines(&run.stdout);
    let asked = of_type(&events, "approval_request");
    assert_eq!(asked.len(), 1, "{}", run.stdout);
    let request = &asked[0]["request"];
    assert_eq!(request["kind"], "patch");
    assert!(
        request["summary"].as_str().unwrap().contains("hello.txt"),
        "{request}"
    );
    assert!(
        request["patch"]
            .as_str()
            .unwrap()
            .contains("+hello from the patch"),
        "{request}"
    );
    assert_eq!(
        std::fs::read_to_string(codex.workspace.join("hello.txt")).unwrap(),
        "hello from the patch\n"
    );
    let call = of_type(&events, "tool_call")
        .into_iter()
        .find(|c| c["name"] == "apply_patch")
        .expect("apply_patch call");
    assert_eq!(call["arguments"]["changes"][0]["kind"], "add");
    let result = of_type(&events, "tool_result")
        .into_iter()
        .find(|r| r["call_id"] == call["call_id"])
        .unwrap();
    assert!(
        result["output"]
            .as_str()
            .unwrap()
            .contains("+hello from the patch"),
        "{result}"
    );
    assert_eq!(text_of(&events), "Patched.");
}

#[test]
#[should_panic(expected = "schema rejects")]
fn the_schema_check_rejects_a_request_codex_would_refuse() {
    // `turn/start` without its `input`.
    talaria_tests::codex_schema::check_trace(&[json!({"dir": "out", "message":
        {"id": 3, "method": "turn/start", "params": {"threadId": "t"}}})]);
}

#[test]
#[should_panic(expected = "schema rejects")]
fn the_schema_check_rejects_a_reply_codex_would_not_understand() {
    talaria_tests::codex_schema::check_trace(&[
        json!({"dir": "in", "message": {"id": 0, "method": "item/commandExecution/requestApproval",
            "params": {"threadId": "t", "turnId": "u", "itemId": "i", "startedAtMs": 1}}}),
        json!({"dir": "out", "message": {"id": 0, "result": {"decision": "approve"}}}),
    ]);
}

/// One model answer that reasons, searches the web (the hosted tool: the server runs it)
/// and answers.
fn reasoning_search_and_answer(id: &str) -> Vec<Value> {
    use talaria_tests::mock::{completed_event, created_event, usage};
    let reasoning = json!({ "id": "rs_1", "type": "reasoning", "summary": [{ "type": "summary_text", "text": "Thinking it over." }] });
    let search = json!({ "id": "ws_1", "type": "web_search_call", "status": "completed", "action": { "type": "search", "query": "talaria sandals" } });
    let message = json!({ "id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
        "content": [{ "type": "output_text", "text": "Winged sandals.", "annotations": [] }] });
    let mut events = vec![
        created_event(id),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": { "id": "rs_1", "type": "reasoning", "summary": [] } }),
        json!({ "type": "response.reasoning_summary_part.added", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": { "type": "summary_text", "text": "" } }),
        json!({ "type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "Thinking " }),
        json!({ "type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "it over." }),
        json!({ "type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "text": "Thinking it over." }),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": reasoning }),
        json!({ "type": "response.output_item.added", "output_index": 1, "item": { "id": "ws_1", "type": "web_search_call", "status": "in_progress" } }),
        json!({ "type": "response.output_item.done", "output_index": 1, "item": search }),
        json!({ "type": "response.output_item.added", "output_index": 2, "item": { "id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": [] } }),
        json!({ "type": "response.output_text.delta", "item_id": "msg_1", "output_index": 2, "content_index": 0, "delta": "Winged sandals." }),
        json!({ "type": "response.output_item.done", "output_index": 2, "item": message }),
        completed_event(
            id,
            vec![reasoning.clone(), search.clone(), message.clone()],
            usage(30, 10, 9, 4),
        ),
    ];
    for (n, e) in events.iter_mut().enumerate() {
        e["sequence_number"] = json!(n);
    }
    events
}

#[test]
fn reasoning_web_searches_and_usage_become_talaria_events_and_items() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_events(reasoning_search_and_answer("r1"));
    let run = codex
        .run(&["chat", "-q", "what are talaria?", "--json"])
        .ok();
    let events = json_lines(&run.stdout);
    let reasoning: String = of_type(&events, "reasoning_delta")
        .iter()
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(reasoning, "Thinking it over.", "{}", run.stdout);
    let search = of_type(&events, "tool_call")
        .into_iter()
        .find(|c| c["name"] == "web_search")
        .unwrap_or_else(|| panic!("no web_search call: {}", run.stdout));
    assert_eq!(search["arguments"]["query"], "talaria sandals");
    assert!(of_type(&events, "tool_result")
        .iter()
        .any(|r| r["call_id"] == search["call_id"]));
    assert_eq!(text_of(&events), "Winged sandals.");
    let done = of_type(&events, "turn_completed")[0];
    assert_eq!(done["usage"]["input_tokens"], 30);
    assert_eq!(done["usage"]["cached_input_tokens"], 10);
    assert_eq!(done["usage"]["reasoning_output_tokens"], 4);
    // Stored like a native session: the search as a tool call with its output.
    let shown = session_shown(&codex);
    let calls = shown["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{shown:#}");
    assert_eq!(calls[0]["name"], "web_search");
    assert_eq!(calls[0]["arguments"]["query"], "talaria sandals");
    assert_eq!(shown["usage"]["input_tokens"], 30);
}

/// The oldest codex the runtime accepts runs the same turn: a command approved, its
/// output back to the model, the answer streamed; what talaria sends validates against
/// that release's own schema.
#[test]
fn the_oldest_supported_codex_runs_a_turn_with_an_approval() {
    use talaria_tests::codex_cli::{codex_bin_of, CODEX_MIN_VERSION};
    let mock = MockServer::start();
    let mut codex = CodexHome::new(&mock, "");
    codex
        .home
        .set_env("TALARIA_CODEX_BIN", codex_bin_of(CODEX_MIN_VERSION));
    codex.schema_version = CODEX_MIN_VERSION.to_owned();
    mock.push_events(escalated_command("r1", "call_1", "echo old > out.txt"));
    mock.push_events(text_events("r2", &["Old ", "but fine."]));
    let run = codex
        .run(&["chat", "-q", "write", "--json", "--approvals", "auto"])
        .ok();
    let events = json_lines(&run.stdout);
    assert_eq!(
        of_type(&events, "approval_request").len(),
        1,
        "{}",
        run.stdout
    );
    assert_eq!(text_of(&events), "Old but fine.");
    assert_eq!(
        std::fs::read_to_string(codex.workspace.join("out.txt")).unwrap(),
        "old\n"
    );
    let on = codex.run(&["codex-runtime", "status"]).ok();
    assert!(on.stdout.contains(CODEX_MIN_VERSION), "{}", on.stdout);
}

/// A model answer that searches codex's deferred tools (codex's `tool_search`, run by
/// codex itself: its answer puts the MCP tools it found in the next request).
fn tool_search_events(id: &str, call_id: &str, query: &str) -> Vec<Value> {
    use talaria_tests::mock::{completed_event, created_event, usage};
    let item = json!({ "type": "tool_search_call", "id": format!("ts_{id}"), "call_id": call_id,
        "execution": "client", "status": "completed", "arguments": { "query": query, "limit": 8 } });
    vec![
        created_event(id),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": item }),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": item }),
        completed_event(id, vec![item.clone()], usage(5, 0, 5, 0)),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, mut e)| {
        e["sequence_number"] = json!(n);
        e
    })
    .collect()
}

/// A model answer calling `tool` in codex's namespace for an MCP server (`mcp__` and the
/// server's name with `-` as `_`, as codex's tool search names it).
fn mcp_call_events(
    id: &str,
    call_id: &str,
    namespace: &str,
    tool: &str,
    args: &Value,
) -> Vec<Value> {
    let mut events = function_call_events(id, call_id, tool, &args.to_string());
    for e in &mut events {
        if let Some(item) = e.get_mut("item").filter(|i| i["type"] == "function_call") {
            item["namespace"] = json!(namespace);
        }
        if let Some(output) = e.pointer_mut("/response/output/0") {
            output["namespace"] = json!(namespace);
        }
    }
    events
}

/// Codex calls talaria's own tools through the MCP server the migration registers
/// (`talaria-tools`, i.e. `talaria mcp serve`): the model finds `read_file` with codex's
/// tool search, calls it in the `mcp__talaria_tools` namespace, codex calls talaria's
/// server, and the file's text goes back to the model; talaria shows and stores it as an
/// MCP tool call.
#[test]
fn codex_calls_talaria_tools_over_mcp() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    let note = codex.workspace.join("note.txt");
    std::fs::write(&note, "the note's text\n").unwrap();
    let run = codex.run(&["codex-runtime", "migrate"]).ok();
    assert!(run.stdout.contains("talaria-tools"), "{}", run.stdout);
    mock.push_events(tool_search_events("r1", "call_s", "read a file"));
    mock.push_events(mcp_call_events(
        "r2",
        "call_m",
        "mcp__talaria_tools",
        "read_file",
        &json!({ "path": note }),
    ));
    mock.push_events(text_events("r3", &["It says hello."]));
    let run = codex
        .run(&[
            "chat",
            "-q",
            "read the note",
            "--json",
            "--approvals",
            "auto",
        ])
        .ok();
    // Codex's search found talaria's tool.
    let found = model_input(&mock, 1);
    let search = found
        .iter()
        .find(|i| i["type"] == "tool_search_output")
        .expect("tool_search_output");
    assert!(search.to_string().contains("read_file"), "{search}");
    let events = json_lines(&run.stdout);
    let call = of_type(&events, "tool_call")
        .into_iter()
        .find(|c| c["name"] == "mcp.talaria-tools.read_file")
        .unwrap_or_else(|| panic!("no MCP call: {}\n{}", run.stdout, run.stderr));
    assert_eq!(call["arguments"]["path"], note.to_str().unwrap());
    let result = of_type(&events, "tool_result")
        .into_iter()
        .find(|r| r["call_id"] == call["call_id"])
        .unwrap();
    assert!(
        result["output"]
            .as_str()
            .unwrap()
            .contains("the note's text"),
        "{result}"
    );
    assert_eq!(result["is_error"], false);
    // The model got the file's text back through codex.
    let output = output_for(&model_input(&mock, 2), "call_m");
    assert!(output.contains("the note's text"), "{output}");
    assert_eq!(text_of(&events), "It says hello.");
    let shown = session_shown(&codex);
    assert_eq!(
        shown["tool_calls"][0]["name"],
        "mcp.talaria-tools.read_file"
    );
}

/// Codex's model provider refuses the key: the turn fails as a login problem (exit 3)
/// that says how to sign codex in again, the process is retired, and codex's own words
/// are kept.
#[test]
fn a_refused_login_is_exit_3_and_says_how_to_sign_codex_in() {
    use talaria_tests::mock::MockResponse;
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    mock.push_script(MockResponse::error(
        401,
        "invalid_api_key",
        "Incorrect API key provided",
    ));
    let run = codex.run(&["chat", "-q", "hi"]).expect_code(3);
    assert!(run.stderr.contains("codex-runtime on"), "{}", run.stderr);
    assert!(
        run.stderr.contains("401") || run.stderr.to_lowercase().contains("unauthorized"),
        "{}",
        run.stderr
    );
    no_codex_left(&codex);
}

#[test]
fn the_repl_slash_command_reaches_codex_runtime() {
    let mock = MockServer::start();
    let codex = CodexHome::with_runtime(&mock, "auto", "");
    // The native runtime's provider is signed in, so the REPL starts without asking.
    let who = talaria_tests::mock::AccountSpec::default();
    let tokens = mock.issue_tokens(&who, 3600);
    talaria_tests::codex::seed_pool(&codex.home, &[(&tokens, &who)]);
    let (code, screen) = codex.on_terminal(
        &["chat"],
        &["/codex-runtime status", "/codex-runtime on"],
        |_| true,
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("runtime: auto"), "{screen}");
    assert!(screen.contains("from the next session"), "{screen}");
    let config = std::fs::read_to_string(codex.home.path("config.toml")).unwrap();
    assert!(
        config.contains("runtime = \"codex_app_server\""),
        "{config}"
    );
}

/// Codex offers `request_user_input` outside Plan mode only with this feature on.
fn with_user_input_feature(codex: &CodexHome) {
    let path = codex.codex_home.join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        config.replacen(
            "[features]\n",
            "[features]\ndefault_mode_request_user_input = true\n",
            1,
        ),
    )
    .unwrap();
}

/// The model asks the user through codex's `request_user_input`.
fn asks_which_database(id: &str, call_id: &str) -> Vec<Value> {
    let args = json!({"questions": [{
        "id": "db",
        "header": "Database",
        "question": "Which database should I use?",
        "options": [
            {"label": "SQLite", "description": "one file"},
            {"label": "Postgres", "description": "a server"}
        ]
    }]});
    function_call_events(id, call_id, "request_user_input", &args.to_string())
}

/// Codex's `request_user_input` is asked on the terminal (its options numbered) and
/// the answer reaches the model as the tool's output, by question id.
#[test]
fn codexs_question_is_asked_on_the_terminal_and_the_answer_reaches_the_model() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    with_user_input_feature(&codex);
    mock.push_events(asks_which_database("r1", "call_1"));
    mock.push_events(text_events("r2", &["Postgres it is."]));
    let (code, screen) =
        codex.on_terminal(&["chat", "-q", "set up storage", "--json"], &["2"], |_| {
            true
        });
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("codex-app-server asks: Database"),
        "{screen}"
    );
    assert!(
        screen.contains("Which database should I use? (required)"),
        "{screen}"
    );
    assert!(screen.contains("  2. Postgres — a server"), "{screen}");
    let events = json_lines(&screen);
    let asked = of_type(&events, "input_request");
    assert_eq!(asked.len(), 1, "{screen}");
    assert_eq!(asked[0]["request"]["fields"][0]["name"], "db");
    let answered = of_type(&events, "input_response");
    assert_eq!(answered[0]["action"], "accept", "{screen}");
    assert_eq!(answered[0]["values"], json!({"db": "Postgres"}));
    let output: Value =
        serde_json::from_str(&output_for(&model_input(&mock, 1), "call_1")).unwrap();
    assert_eq!(
        output,
        json!({"answers": {"db": {"answers": ["Postgres"]}}})
    );
    let replies: Vec<Value> = codex
        .sent()
        .into_iter()
        .filter(|m| m["result"]["answers"].is_object())
        .collect();
    assert_eq!(replies.len(), 1);
}

/// Without a terminal the question is declined: stderr says so, codex hears no answer.
#[test]
fn codexs_question_is_declined_without_a_terminal() {
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, "");
    with_user_input_feature(&codex);
    mock.push_events(asks_which_database("r1", "call_1"));
    mock.push_events(text_events("r2", &["I will pick one."]));
    let run = codex.run(&["chat", "-q", "set up storage", "--json"]).ok();
    assert!(
        run.stderr.contains(
            "declined: codex-app-server asked \"Database\", but there is no terminal to ask on"
        ),
        "{}",
        run.stderr
    );
    let events = json_lines(&run.stdout);
    assert_eq!(of_type(&events, "input_response")[0]["action"], "decline");
    let output: Value =
        serde_json::from_str(&output_for(&model_input(&mock, 1), "call_1")).unwrap();
    assert_eq!(output, json!({"answers": {}}));
    codex.sent();
}

/// An MCP server's elicitation reaches talaria through codex and is asked on the
/// terminal; the server's tool result (which echoes the answer) reaches the model.
#[test]
fn an_mcp_servers_elicitation_through_codex_is_asked_on_the_terminal() {
    let peers = talaria_tests::mcp::peers();
    let mock = MockServer::start();
    let codex = CodexHome::new(&mock, &peers.everything_config("everything"));
    codex.run(&["codex-runtime", "migrate"]).ok();
    mock.push_events(tool_search_events("r1", "call_s", "elicitation"));
    mock.push_events(mcp_call_events(
        "r2",
        "call_m",
        "mcp__everything",
        "trigger_elicitation_request",
        &json!({}),
    ));
    mock.push_events(text_events("r3", &["Thanks."]));
    // The form's fields by name: birthdate, check, email, firstLine, homepage, integer,
    // legacyTitledEnum, name (the only required one), and five with defaults or none.
    let mut lines = vec!["", "", "", "", "", "", "", "Ada Lovelace"];
    lines.extend(["", "", "", "", ""]);
    let (code, screen) = codex.on_terminal(
        &[
            "chat",
            "-q",
            "fill the form",
            "--json",
            "--approvals",
            "auto",
        ],
        &lines,
        |_| true,
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("asks: Please provide inputs for the following fields:"),
        "{screen}"
    );
    assert!(
        screen.contains("(asked by MCP server everything, through codex)"),
        "{screen}"
    );
    let events = json_lines(&screen);
    assert_eq!(
        of_type(&events, "input_response")[0]["action"],
        "accept",
        "{screen}"
    );
    let output = output_for(&model_input(&mock, 2), "call_m");
    assert!(
        output.contains("User provided the requested information"),
        "{output}"
    );
    assert!(output.contains("Ada Lovelace"), "{output}");
    let replies: Vec<Value> = codex
        .sent()
        .into_iter()
        .filter(|m| m["result"]["action"] == "accept")
        .collect();
    assert_eq!(
        replies[0]["result"]["content"]["name"], "Ada Lovelace",
        "{replies:?}"
    );
}
