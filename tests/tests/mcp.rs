//! The MCP bridge through the real binary: `talaria mcp serve` driven by a raw JSON-RPC
//! client and by the Python `mcp` SDK; the profile's MCP servers (the reference
//! servers server-everything and server-filesystem, and deliberately broken ones) as
//! tools of a native turn against the mock backend; `mcp list` and `mcp test`.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talaria_tests::codex::signed_in;
use talaria_tests::mcp::{peers, toml_str};
use talaria_tests::mock::{function_call_events, MockServer};
use talaria_tests::{Run, TestHome};

const RESPONSES: &str = "/backend-api/codex/responses";

fn write_config(home: &TestHome, text: &str) {
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(home.path("config.toml"), text).unwrap();
}

/// A JSON-RPC session with `talaria mcp serve` on stdio.
struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn start(home: &TestHome) -> Serve {
        let mut child = home
            .command(&["mcp", "serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Serve {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line on stdout, which must be a JSON-RPC message.
    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried a line that is not JSON ({e}): {line:?}"));
        assert_eq!(message["jsonrpc"], "2.0", "{message}");
        message
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let reply = self.read();
        assert_eq!(reply["id"], id, "{reply}");
        reply
    }

    fn initialize(&mut self) -> Value {
        let reply = self.request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
        );
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        reply
    }

    /// Closes stdin and waits for the exit (which must come promptly).
    fn close(mut self) -> Run {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "mcp serve did not exit after stdin closed"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        assert!(
            rest.trim().is_empty(),
            "stray stdout after the last reply: {rest:?}"
        );
        Run::wait(self.child)
    }
}

#[test]
fn mcp_serve_offers_the_profiles_tools_on_stdio_and_exits_when_stdin_closes() {
    let home = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "served through MCP").unwrap();
    // A configured MCP server must not be started (nor re-exported) by `mcp serve`.
    write_config(
        &home,
        "[mcp_servers.never]\ncommand = \"/nonexistent/never-started\"\n",
    );
    let mut serve = Serve::start(&home);
    let init = serve.initialize();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "talaria");
    assert!(init["result"]["capabilities"]["tools"].is_object());

    let tools = serve.request(2, "tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for expected in ["list_dir", "read_file", "run_command"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(!names.iter().any(|n| n.starts_with("mcp__")), "{names:?}");
    let read = &tools["result"]["tools"].as_array().unwrap()
        [names.iter().position(|n| *n == "read_file").unwrap()];
    assert_eq!(read["inputSchema"]["required"], json!(["path"]));

    let unknown = serve.request(3, "no/such/method", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");

    let path = dir.path().join("note.txt").display().to_string();
    let call = serve.request(
        4,
        "tools/call",
        json!({"name": "read_file", "arguments": {"path": path}}),
    );
    assert_eq!(call["result"]["isError"], false, "{call}");
    assert_eq!(call["result"]["content"][0]["text"], "served through MCP");

    let missing = serve.request(5, "tools/call", json!({"name": "nope", "arguments": {}}));
    assert_eq!(missing["result"]["isError"], true, "{missing}");
    assert!(missing["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("no tool named"));

    // A tool that needs approval, with no terminal to ask on: refused, clearly.
    let exec = serve.request(
        6,
        "tools/call",
        json!({"name": "run_command", "arguments": {"command": "echo should-not-run"}}),
    );
    assert_eq!(exec["result"]["isError"], true, "{exec}");
    assert!(!exec.to_string().contains("should-not-run\\n"), "{exec}");
    assert!(
        exec.to_string().contains("does not support elicitation"),
        "{exec}"
    );

    let run = serve.close();
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn mcp_serve_exits_quietly_when_stdin_closes_before_a_handshake() {
    let home = TestHome::new();
    let run = Serve::start(&home).close();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn the_python_sdk_drives_mcp_serve_in_both_protocol_modes() {
    let peers = peers();
    let home = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "from python").unwrap();
    let script = talaria_tests::artifacts::workspace_root().join("tests/mcp/python_client.py");
    for mode in ["legacy", "auto"] {
        let out = std::process::Command::new(peers.python())
            .arg(&script)
            .arg(mode)
            .arg(&talaria_tests::artifacts().talaria)
            .arg(home.root())
            .arg(dir.path().join("a.txt"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(
            report["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "read_file"),
            "{report}"
        );
        assert_eq!(report["text"], "from python", "{mode}: {report}");
        assert_eq!(report["is_error"], false);
    }
}

/// The model requests the mock received (websocket `response.create` frames).
fn model_requests(mock: &MockServer) -> Vec<Value> {
    mock.requests_to(RESPONSES)
        .iter()
        .filter(|r| r.method == "WS")
        .map(|r| r.json())
        .collect()
}

/// A native turn whose model calls `tool` with `args`; returns the tool's output as the
/// second model request carried it, and the run.
fn turn_calling(home: &TestHome, mock: &MockServer, tool: &str, args: Value) -> (String, Run) {
    turn_calling_in(home, mock, tool, args, None)
}

fn turn_calling_in(
    home: &TestHome,
    mock: &MockServer,
    tool: &str,
    args: Value,
    cwd: Option<&std::path::Path>,
) -> (String, Run) {
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        tool,
        &args.to_string(),
    ));
    let mut command = home.command(&[
        "chat",
        "-q",
        "use the tool",
        "--approvals",
        "auto",
        "--json",
    ]);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let run = Run::from_output(command.output().unwrap()).ok();
    let frames = model_requests(mock);
    assert!(frames.len() >= 2, "{frames:?}");
    let first_tools: Vec<String> = frames[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert!(
        first_tools.iter().any(|t| t == tool),
        "{tool} not offered: {first_tools:?}"
    );
    let output = frames.last().unwrap()["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .unwrap()["output"]
        .as_str()
        .unwrap()
        .to_owned();
    (output, run)
}

#[test]
fn server_everything_tools_run_in_a_native_turn() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    write_config(&home, &peers.everything_config("everything"));
    let (output, run) = turn_calling(
        &home,
        &mock,
        "mcp__everything__get-sum",
        json!({"a": 2, "b": 40}),
    );
    assert!(output.contains("42"), "{output}");
    let calls: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "tool_call")
        .collect();
    assert_eq!(calls.len(), 1, "{}", run.stdout);
}

/// server-filesystem replaces its allowed folders with the client's roots: the bridge
/// offers the working directory, so a file there is readable although the config
/// allowed only another folder.
#[test]
fn server_filesystem_reads_a_file_under_the_working_directory_root() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let work = tempfile::tempdir().unwrap();
    let work = work.path().canonicalize().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(work.join("hello.txt"), "hello from server-filesystem").unwrap();
    write_config(&home, &peers.filesystem_config("files", elsewhere.path()));
    let path = work.join("hello.txt").display().to_string();
    let (output, _) = turn_calling_in(
        &home,
        &mock,
        "mcp__files__read_text_file",
        json!({"path": path}),
        Some(&work),
    );
    assert!(output.contains("hello from server-filesystem"), "{output}");
}

fn raw_server(name: &str, mode: &str, extra: &str) -> String {
    let script = talaria_tests::artifacts::workspace_root().join("tests/mcp/raw_server.py");
    format!(
        "[mcp_servers.{name}]\ncommand = \"python3\"\nargs = [{}, \"{mode}\"]\n{extra}",
        toml_str(&script)
    )
}

#[test]
fn broken_servers_are_reported_and_skipped_and_the_turn_still_works() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    let config = [
        peers.everything_config("good"),
        raw_server("hung", "hang", "connect_timeout = 2\n"),
        raw_server("crashing", "crash", "connect_timeout = 10\n"),
        raw_server("garbage", "garbage", "connect_timeout = 10\n"),
        raw_server("oversized", "oversized", "connect_timeout = 20\n"),
        "[mcp_servers.missing]\ncommand = \"/nonexistent/mcp-server\"\n".to_owned(),
    ]
    .concat();
    write_config(&home, &config);
    let (output, run) = turn_calling(
        &home,
        &mock,
        "mcp__good__echo",
        json!({"message": "still here"}),
    );
    assert!(output.contains("still here"), "{output}");
    let warnings: Vec<String> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "warning")
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    let said = |name: &str, what: &str| {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("MCP server {name}")) && w.contains(what)),
            "no warning about {name} saying {what:?}: {warnings:#?}"
        )
    };
    said("hung", "did not start within 2s");
    said("missing", "cannot start");
    said("crashing", "exited (exit status: 3)");
    said("oversized", "the limit is 16 MiB");
    // A line that is not JSON-RPC before the handshake is skipped: that server works.
    let tools: Vec<String> = model_requests(&mock)[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert!(
        tools.iter().any(|t| t == "mcp__garbage__add"),
        "{tools:?} {warnings:?}"
    );
    assert!(
        !tools.iter().any(|t| t.starts_with("mcp__hung__")),
        "{tools:?}"
    );
}

#[test]
fn mcp_list_shows_each_server_and_mcp_test_lists_what_one_offers() {
    let peers = peers();
    let home = TestHome::new();
    write_config(
        &home,
        &[
            peers.everything_config("everything"),
            "[mcp_servers.off]\ncommand = \"/nonexistent\"\nenabled = false\n".to_owned(),
            "[mcp_servers.limited]\n".to_owned()
                + &peers
                    .everything_config("x")
                    .replace("[mcp_servers.x]\n", "")
                + "enabled_tools = [\"echo\", \"get-sum\"]\ndisabled_tools = [\"get-sum\"]\n",
        ]
        .concat(),
    );
    let list = home.run(&["mcp", "list"]).ok();
    let line = |name: &str| {
        list.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}\t")))
            .unwrap_or_else(|| panic!("{name} missing: {}", list.stdout))
            .to_owned()
    };
    assert!(line("everything").contains("ready"), "{}", list.stdout);
    assert!(line("everything").contains("mcp__everything__get-sum"));
    assert!(line("off").contains("disabled"));
    assert!(
        line("limited").ends_with("mcp__limited__echo"),
        "{}",
        line("limited")
    );

    let test = home.run(&["mcp", "test", "everything"]).ok();
    assert!(
        test.stdout.contains("mcp__everything__echo"),
        "{}",
        test.stdout
    );
    assert!(
        test.stdout.contains("demo://resource/static/document/"),
        "{}",
        test.stdout
    );
    assert!(
        test.stdout.contains("/mcp:everything:simple-prompt"),
        "{}",
        test.stdout
    );

    let unknown = home.run(&["mcp", "test", "nope"]).expect_code(2);
    assert!(
        unknown.stderr.contains("no MCP server named \"nope\""),
        "{}",
        unknown.stderr
    );
}

/// One raw HTTP/1.1 POST of an `initialize` to `addr`; the status code.
fn post_initialize(addr: &str, host: &str, origin: Option<&str>) -> u16 {
    use std::io::Read;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    .to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

/// An address of this machine other than loopback, if it has one: the one the kernel
/// would use to reach an outside address (no packet is sent by a UDP connect).
fn local_non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn mcp_serve_over_http_listens_on_loopback_and_refuses_foreign_hosts_and_origins() {
    let home = TestHome::new();
    let mut child = home
        .command(&["mcp", "serve", "--http", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let addr = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/mcp"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(post_initialize(&addr, &addr, None), 200);
    let port = addr.rsplit(':').next().unwrap();
    assert_eq!(
        post_initialize(
            &addr,
            &format!("localhost:{port}"),
            Some(&format!("http://localhost:{port}"))
        ),
        200
    );
    // DNS rebinding: a page of evil.example resolving to 127.0.0.1.
    assert_eq!(post_initialize(&addr, "evil.example", None), 403);
    assert_eq!(
        post_initialize(&addr, &addr, Some("http://evil.example")),
        403
    );
    assert_eq!(
        post_initialize(&addr, &format!("evil.example:{port}"), None),
        403
    );
    // A name that merely starts like the loopback address is another site.
    assert_eq!(
        post_initialize(&addr, &addr, Some("http://127.0.0.1.evil.example")),
        403
    );
    assert_eq!(
        post_initialize(
            &addr,
            &addr,
            Some(&format!("http://127.0.0.1.evil.example:{port}"))
        ),
        403
    );
    // The IPv6 loopback names a socket this server never listens on (it binds 127.0.0.1
    // alone), so no honest client sends it: refused like any other foreign name.
    assert_eq!(post_initialize(&addr, &format!("[::1]:{port}"), None), 403);
    assert_eq!(
        post_initialize(&addr, &addr, Some(&format!("http://[::1]:{port}"))),
        403
    );
    // A loopback origin on another port is another (local) site.
    assert_eq!(
        post_initialize(&addr, &addr, Some("http://127.0.0.1:1")),
        403
    );
    // Nothing listens on the other interfaces.
    let other = local_non_loopback_address();
    if let Some(ip) = other {
        assert!(
            std::net::TcpStream::connect((ip, port.parse::<u16>().unwrap())).is_err(),
            "mcp serve --http answered on {ip}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_mcp_tools_progress_reaches_the_event_stream() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    write_config(&home, &peers.everything_config("everything"));
    let (output, run) = turn_calling(
        &home,
        &mock,
        "mcp__everything__trigger-long-running-operation",
        json!({"duration": 1, "steps": 2}),
    );
    assert!(output.contains("completed"), "{output}");
    // Progress events are shown on stderr (stdout keeps the JSON events).
    let progress: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("MCP server everything"))
        .collect();
    assert!(
        progress
            .iter()
            .any(|m| m.starts_with("MCP server everything 1/2")),
        "{progress:?}"
    );
}

#[test]
fn the_model_can_list_mcp_resources() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    write_config(&home, &peers.everything_config("everything"));
    let (output, _) = turn_calling(
        &home,
        &mock,
        "list_mcp_resources",
        json!({"server": "everything"}),
    );
    let listed: Value = serde_json::from_str(&output).unwrap();
    let uris: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["server"], "everything", "{r}");
            r["uri"].as_str().unwrap()
        })
        .collect();
    assert!(
        uris.iter()
            .any(|u| u.starts_with("demo://resource/static/document/")),
        "{uris:?}"
    );
}

/// `/mcp:SERVER:PROMPT` in the REPL fetches server-everything's prompt and sends its
/// text as the user's message: the model request carries it. Bad prompt names and
/// missing required arguments are refused with what to type, and send nothing.
#[test]
fn an_mcp_prompt_typed_in_the_repl_becomes_the_users_message() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    write_config(&home, &peers.everything_config("everything"));
    let (run, screen) = home.type_into_repl(
        &[
            "/mcp:everything:simple-prompt",
            "/mcp:everything:args-prompt Paris \"state=Ile de France\"",
            "/mcp:everything:args-prompt",
            "/mcp:everything:nonesuch",
        ],
        Duration::from_millis(3000),
    );
    assert_eq!(run.code, 0, "{screen}");
    assert!(
        screen.contains("prompt args-prompt needs city; it takes city=VALUE [state=VALUE]"),
        "{screen}"
    );
    assert!(
        screen.contains("has no prompt \"nonesuch\"; it has:") && screen.contains("simple-prompt"),
        "{screen}"
    );
    // The user messages the turns sent, in order.
    let sent: Vec<String> = mock
        .requests_to(RESPONSES)
        .iter()
        .filter(|r| r.method == "WS" || r.method == "POST")
        .map(|r| r.json())
        .filter(|body| body.get("tools").is_some())
        .filter_map(|body| {
            body["input"]
                .as_array()?
                .iter()
                .rev()
                .find(|i| i["role"] == "user")
                .and_then(|i| i["content"][0]["text"].as_str().map(str::to_owned))
        })
        .collect();
    assert_eq!(
        sent,
        [
            "This is a simple prompt without arguments.",
            "What's weather in Paris, Ile de France?"
        ],
        "{screen}"
    );
}

/// The output of the function call the last model request carried back.
fn last_call_output(mock: &MockServer) -> String {
    let frames = model_requests(mock);
    frames
        .last()
        .and_then(|f| f["input"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .and_then(|i| i["output"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no function_call_output in {frames:?}"))
}

/// server-everything's elicitation tool in a REPL turn: the bridge offers elicitation,
/// the server's form is asked on the terminal one field at a time (bad answers asked
/// again with the reason, Enter taking the defaults), and the server's result, which
/// echoes the answers, reaches the model.
#[test]
// 3.14 is server-everything's own default for its number field, not an approximate π.
#[allow(clippy::approx_constant)]
fn an_mcp_servers_elicitation_is_asked_in_the_repl() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    write_config(&home, &peers.everything_config("everything"));
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        "mcp__everything__trigger-elicitation-request",
        "{}",
    ));
    // The fields in the order the form asks them (by name).
    let lines = [
        "fill in the form",
        "yesterday",    // birthdate: not a date, asked again
        "1815-12-10",   // birthdate
        "y",            // check
        "",             // email (optional, skipped)
        "",             // firstLine: its default
        "",             // homepage (optional, skipped)
        "500",          // integer: above the maximum, asked again
        "7",            // integer
        "2",            // legacyTitledEnum: the second option
        "Ada Lovelace", // name (required)
        "",             // number: its default
        "",             // titledMultipleSelectEnum: its default
        "3",            // titledSingleSelectEnum: the third option
        "",             // untitledMultipleSelectEnum: its default
        "",             // untitledSingleSelectEnum: its default
    ];
    let (run, screen) = home.type_into_repl_with(
        &["--approvals", "auto"],
        &lines,
        Duration::from_millis(1000),
    );
    assert_eq!(run.code, 0, "{screen}");
    assert!(
        screen.contains("asks: Please provide inputs for the following fields:"),
        "{screen}"
    );
    assert!(
        screen.contains("\"yesterday\" is not a valid date; try again"),
        "{screen}"
    );
    assert!(
        screen.contains("500 is more than the maximum 100; try again"),
        "{screen}"
    );
    assert!(screen.contains("  2. Dogs"), "{screen}");
    let output = last_call_output(&mock);
    assert!(
        output.contains("User provided the requested information"),
        "{output}"
    );
    assert!(output.contains("- Name: Ada Lovelace"), "{output}");
    assert!(output.contains("- Birthdate: 1815-12-10"), "{output}");
    assert!(output.contains("- Agreed to terms: true"), "{output}");
    assert!(output.contains("- Favorite Integer: 7"), "{output}");
    assert!(output.contains("- Favorite Number: 3.14"), "{output}");
    let raw: Value = serde_json::from_str(
        output
            .split_once("Raw result: ")
            .unwrap_or_else(|| panic!("{output}"))
            .1,
    )
    .unwrap();
    assert_eq!(
        raw,
        json!({"action": "accept", "content": {
            "birthdate": "1815-12-10",
            "check": true,
            "firstLine": "It was a dark and stormy night.",
            "integer": 7,
            "legacyTitledEnum": "pet-2",
            "name": "Ada Lovelace",
            "number": 3.14,
            "titledMultipleSelectEnum": ["fish-1"],
            "titledSingleSelectEnum": "hero-3",
            "untitledMultipleSelectEnum": ["Guitar"],
            "untitledSingleSelectEnum": "Monica"
        }}),
        "{output}"
    );
}

/// Without a terminal the same elicitation is declined: stderr says why, the server
/// hears `decline`, and `--json` shows the question and the answer's action.
#[test]
fn an_mcp_servers_elicitation_is_declined_without_a_terminal() {
    let peers = peers();
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    write_config(&home, &peers.everything_config("everything"));
    let (output, run) = turn_calling(
        &home,
        &mock,
        "mcp__everything__trigger-elicitation-request",
        json!({}),
    );
    assert!(
        output.contains("User declined to provide the requested information"),
        "{output}"
    );
    assert!(
        run.stderr
            .contains("declined: mcp-bridge asked \"Please provide inputs for the following fields:\", but there is no terminal to ask on"),
        "{}",
        run.stderr
    );
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let request = events
        .iter()
        .find(|e| e["type"] == "input_request")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(request["request"]["plugin"], "mcp-bridge");
    assert_eq!(request["request"]["call_id"], "call_1");
    assert_eq!(request["request"]["fields"].as_array().unwrap().len(), 13);
    let response = events
        .iter()
        .find(|e| e["type"] == "input_response")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(response["action"], "decline", "{response}");
    assert_eq!(response["call_id"], "call_1");
}

/// `mcp serve` asks the MCP client to approve a tool that needs it (elicitation): an
/// allow runs it, a decline refuses it saying so, and a client without elicitation gets
/// a refusal that says why and how to allow such tools.
#[test]
fn mcp_serve_asks_its_client_to_approve_through_elicitation() {
    let peers = peers();
    let home = TestHome::new();
    let script = talaria_tests::artifacts::workspace_root().join("tests/mcp/python_approver.py");
    let client = |answer: &str| -> Value {
        let out = std::process::Command::new(peers.python())
            .arg(&script)
            .arg(answer)
            .arg(&talaria_tests::artifacts().talaria)
            .arg(home.root())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{answer}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap()
    };

    let allowed = client("allow");
    assert_eq!(allowed["asked"].as_array().unwrap().len(), 1, "{allowed}");
    let message = allowed["asked"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("example-tools wants to run `echo ran-$((6*7))`"),
        "{message}"
    );
    assert_eq!(
        allowed["asked"][0]["schema"]["required"],
        json!(["decision"])
    );
    assert_eq!(allowed["is_error"], false, "{allowed}");
    assert!(
        allowed["text"].as_str().unwrap().contains("ran-42"),
        "{allowed}"
    );

    let declined = client("deny");
    assert_eq!(declined["asked"].as_array().unwrap().len(), 1);
    assert_eq!(declined["is_error"], true, "{declined}");
    let text = declined["text"].as_str().unwrap();
    assert!(text.contains("declined by the MCP client's user"), "{text}");
    assert!(!text.contains("ran-42"), "{text}");

    let unable = client("none");
    assert_eq!(unable["is_error"], true, "{unable}");
    let text = unable["text"].as_str().unwrap();
    assert!(
        text.contains("the MCP client cannot ask its user (it does not support elicitation)")
            && text.contains("talaria mcp serve --approvals auto"),
        "{text}"
    );
}
