//! Third-party-style providers and the second transport, end to end: the real binary,
//! the `openai-compatible` provider and the `chat-completions` transport against the test
//! kit's loopback Chat Completions server.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use talaria_tests::mock::{chat_text_chunks, chat_tool_call_chunks, MockServer, CHAT_MODEL};
use talaria_tests::{Run, TestHome};

const COMPLETIONS: &str = "/v1/chat/completions";
const KEY: &str = "sk-local-0123456789";

fn json_lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A home whose main provider is the mock, as `[providers.local]`.
fn local_home(mock: &MockServer) -> TestHome {
    let mut home = TestHome::new();
    mock.set_api_key(KEY);
    home.set_env("LOCAL_API_KEY", KEY);
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        format!(
            "[model]\nprovider = \"local\"\ndefault = \"{CHAT_MODEL}\"\n\n\
             [providers.local]\nkind = \"openai-compatible\"\nbase_url = \"{}\"\n\
             api_key_env = \"LOCAL_API_KEY\"\ntransport = \"chat-completions\"\nmodels = [\"{CHAT_MODEL}\"]\n",
            mock.openai_base_url()
        ),
    )
    .unwrap();
    home
}

/// Runs `talaria ARGS` from `cwd`.
fn run_in(home: &TestHome, cwd: &std::path::Path, args: &[&str]) -> Run {
    Run::from_output(home.command(args).current_dir(cwd).output().unwrap())
}

fn messages(request: &talaria_tests::mock::Recorded) -> Vec<Value> {
    request.json()["messages"].as_array().unwrap().clone()
}

#[test]
fn a_native_turn_with_a_tool_call_goes_through_chat_completions() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    let work = home.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("notes.txt"), "hi\n").unwrap();
    // The call's arguments arrive in two pieces.
    mock.push_chat_chunks(chat_tool_call_chunks(
        "call_1",
        "list_dir",
        &["{\"path\"", ": \".\"}"],
        (120, 9),
    ));
    mock.push_chat_chunks(chat_text_chunks(&["One file: ", "notes.txt."], (160, 6)));
    let run = run_in(
        &home,
        &work,
        &[
            "chat",
            "-q",
            "What is here?",
            "--json",
            "--approvals",
            "auto",
        ],
    )
    .ok();

    // What the user sees: the call, its result, the answer, and the usage the server
    // reported over both requests.
    let lines = json_lines(&run);
    let of = |kind: &str| -> Vec<&Value> { lines.iter().filter(|l| l["type"] == kind).collect() };
    assert_eq!(of("session")[0]["provider"], "local");
    assert_eq!(
        *of("tool_call")[0],
        json!({"type": "tool_call", "call_id": "call_1", "name": "list_dir", "arguments": {"path": "."}})
    );
    assert_eq!(of("tool_result")[0]["output"], "notes.txt");
    assert_eq!(
        *of("turn_completed")[0],
        json!({"type": "turn_completed", "text": "One file: notes.txt.", "interrupted": false,
            "usage": {"input_tokens": 280, "output_tokens": 15, "cached_input_tokens": 0,
                      "reasoning_output_tokens": 0, "total_tokens": 295}})
    );

    // What the server got: exactly two POSTs for the turn (the models are listed in the
    // config, so no model list is fetched), each with the key, the second carrying the
    // call and its output as the Chat Completions API wants them; then the session title.
    let mut sent = mock.requests();
    assert!(sent.pop().is_some_and(|title| title.is_title_request()));
    assert_eq!(
        sent.iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>(),
        [format!("POST {COMPLETIONS}"), format!("POST {COMPLETIONS}")]
    );
    for r in &sent {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(r.header("accept"), Some("text/event-stream"));
    }
    let first = sent[0].json();
    let system = first["messages"][0].clone();
    assert_eq!(system["role"], "system");
    // The session opens with the environment: the working directory among it.
    let env = first["messages"][1].clone();
    assert_eq!(env["role"], "user");
    assert!(
        env["content"]
            .as_str()
            .unwrap()
            .contains(&format!("<cwd>{}</cwd>", work.display())),
        "{env}"
    );
    let tool_names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(tool_names.contains(&"list_dir"), "{tool_names:?}");
    assert_eq!(
        first,
        json!({"model": CHAT_MODEL, "messages": [system, env, {"role": "user", "content": "What is here?"}],
            "tools": first["tools"], "tool_choice": "auto", "stream": true,
            "stream_options": {"include_usage": true}})
    );
    let second = sent[1].json();
    assert_eq!(second["tools"], first["tools"]);
    assert_eq!(
        second["messages"],
        json!([
            system,
            env,
            {"role": "user", "content": "What is here?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{\"path\": \".\"}"}}
            ]},
            {"role": "tool", "content": "notes.txt", "tool_call_id": "call_1"}
        ])
    );

    // The typed items were stored: continuing the session sends them back converted.
    mock.clear_requests();
    mock.push_chat_chunks(chat_text_chunks(&["You're welcome."], (200, 4)));
    let run = run_in(&home, &work, &["chat", "-c", "-q", "Thanks"]).ok();
    assert_eq!(run.stdout, "You're welcome.\n");
    let third = mock.turn_requests_to(COMPLETIONS);
    let history = messages(&third[0]);
    assert_eq!(
        history[2..].to_vec(), // after the system prompt and the environment
        vec![
            json!({"role": "user", "content": "What is here?"}),
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{\"path\": \".\"}"}}
            ]}),
            json!({"role": "tool", "content": "notes.txt", "tool_call_id": "call_1"}),
            json!({"role": "assistant", "content": "One file: notes.txt."}),
            json!({"role": "user", "content": "Thanks"}),
        ]
    );
}

#[test]
fn a_plain_answer_streams_to_stdout_and_retries_a_server_error() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    mock.push_chat(talaria_tests::mock::MockResponse::error(
        503,
        "overloaded_upstream",
        "try later",
    ));
    mock.push_chat_chunks(chat_text_chunks(&["Hel", "lo"], (10, 2)));
    let run = home.run(&["chat", "-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello\n");
    assert!(run.stderr.contains("Reconnecting… 1/"), "{}", run.stderr);
    assert_eq!(mock.turn_requests_to(COMPLETIONS).len(), 2);
}

#[test]
fn a_missing_key_exits_3_and_a_kind_nobody_serves_exits_2() {
    let mock = MockServer::start();
    let mut home = local_home(&mock);
    home.set_env("LOCAL_API_KEY", "");
    let run = home.run(&["chat", "-q", "hi"]).expect_code(3);
    assert!(
        run.stderr.contains("export LOCAL_API_KEY="),
        "{}",
        run.stderr
    );
    assert!(mock.requests().is_empty());

    let text = std::fs::read_to_string(home.path("config.toml")).unwrap();
    std::fs::write(
        home.path("config.toml"),
        text.replace(
            "kind = \"openai-compatible\"",
            "kind = \"openai-compatable\"",
        ),
    )
    .unwrap();
    let run = home.run(&["chat", "-q", "hi"]).expect_code(2);
    assert!(
        run.stderr.contains("key providers.local.kind") && run.stderr.contains("openai-compatable"),
        "{}",
        run.stderr
    );
}

#[test]
fn openrouter_is_a_built_in_provider_with_its_key_and_attribution() {
    let mock = MockServer::start();
    mock.set_api_key("sk-or-test");
    let mut home = TestHome::new();
    home.set_env("OPENROUTER_API_KEY", "sk-or-test");
    home.set_env("TALARIA_OPENROUTER_BASE_URL", mock.openai_base_url());
    mock.push_chat_chunks(chat_text_chunks(&["Routed."], (5, 1)));
    let run = home
        .run(&[
            "chat",
            "--provider",
            "openrouter",
            "-m",
            "deepseek/deepseek-chat",
            "-q",
            "hi",
        ])
        .ok();
    assert_eq!(run.stdout, "Routed.\n");
    let sent = mock.turn_requests_to(COMPLETIONS);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-or-test"));
    assert_eq!(sent[0].header("x-title"), Some("talaria"));
    assert!(sent[0].header("http-referer").is_some());
    assert_eq!(sent[0].json()["model"], "deepseek/deepseek-chat");
    assert!(!run.stderr.contains("sk-or-test") && !run.stdout.contains("sk-or-test"));
}

/// The README's config block, as written there.
fn readme_config() -> String {
    let readme =
        std::fs::read_to_string(talaria_tests::artifacts::workspace_root().join("README.md"))
            .unwrap();
    let start = readme
        .find("<!-- local-server-config")
        .expect("the README shows the local-server config");
    let block = &readme[start..];
    let body = &block[block.find("```toml\n").unwrap() + "```toml\n".len()..];
    body[..body.find("```").unwrap()].to_owned()
}

#[test]
fn the_readmes_one_change_switches_the_main_provider_to_a_local_server() {
    let mock = MockServer::start();
    let home = TestHome::new();
    std::fs::create_dir_all(home.root()).unwrap();
    let config = readme_config();
    assert!(config.contains("provider = \"local\""), "{config}");
    std::fs::write(
        home.path("config.toml"),
        config.replace("http://127.0.0.1:8080/v1", &mock.openai_base_url()),
    )
    .unwrap();
    mock.push_chat_chunks(chat_text_chunks(&["Local ", "hello."], (17, 3)));
    let run = home.run(&["chat", "-q", "hi", "--json"]).ok();
    let lines = json_lines(&run);
    let done = lines
        .iter()
        .find(|l| l["type"] == "turn_completed")
        .expect("turn_completed");
    assert_eq!(done["text"], "Local hello.");
    assert_eq!(
        done["usage"],
        json!({"input_tokens": 17, "output_tokens": 3, "cached_input_tokens": 0,
            "reasoning_output_tokens": 0, "total_tokens": 20})
    );
    let sent = mock.turn_requests_to(COMPLETIONS);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["model"], "qwen2.5-coder");
    assert_eq!(
        sent[0].header("authorization"),
        None,
        "no key was configured"
    );
}

#[test]
fn both_plugins_install_like_a_third_partys_and_the_installed_copies_serve_the_turn() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    for (dir, package) in [
        ("plugins/chat-completions", "talaria-chat-completions"),
        ("plugins/openai-compatible", "talaria-openai-compatible"),
    ] {
        let folder = home.plugin_folder(
            &home.dir.path().join("build").join(package),
            dir,
            package,
            |m| m,
        );
        let run = home
            .run(&["plugins", "install", folder.to_str().unwrap()])
            .ok();
        assert!(run.stderr.contains("native code"), "{}", run.stderr);
    }
    let listed = home.run(&["plugins", "list", "--json"]).ok().json();
    for id in ["chat-completions", "openai-compatible"] {
        let entry = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed: {listed}"));
        assert_eq!(
            (entry["source"].as_str(), entry["status"].as_str()),
            (Some("installed"), Some("ok")),
            "{entry}"
        );
        assert!(home.path(&format!("plugins/{id}/plugin.toml")).is_file());
    }
    mock.push_chat_chunks(chat_text_chunks(&["Installed."], (3, 1)));
    let run = home.run(&["chat", "-q", "hi"]).ok();
    assert_eq!(run.stdout, "Installed.\n");
    assert_eq!(mock.turn_requests_to(COMPLETIONS).len(), 1);
}

/// The lines of `text`, trimmed, without blank ones.
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_plugin_guides_provider_chapter_quotes_the_real_code() {
    let root = talaria_tests::artifacts::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/plugin-guide.md")).unwrap();
    let chapter = &guide[guide.find("## 8. Write a provider").expect("the chapter")..];
    let crate_dir = root.join("plugins/openai-compatible");
    let mut source = String::new();
    for entry in std::fs::read_dir(crate_dir.join("src")).unwrap() {
        source.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let source = code_lines(&source);
    let manifest = std::fs::read_to_string(crate_dir.join("plugin.toml")).unwrap();
    let mut checked = 0;
    for (i, block) in chapter.split("```").enumerate().filter(|(i, _)| i % 2 == 1) {
        let (lang, code) = block.split_once('\n').unwrap();
        match lang {
            "rust" => {
                let lines = code_lines(code);
                assert!(
                    source.windows(lines.len()).any(|w| w == lines.as_slice()),
                    "block {i} is not in plugins/openai-compatible/src:\n{code}"
                );
                checked += 1;
            }
            "toml" if code.starts_with("id = ") => {
                assert_eq!(code, manifest, "the manifest in the guide is plugin.toml");
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 5, "{checked} blocks checked");
}

#[test]
fn openrouter_serves_as_the_fallback_model_when_the_local_server_fails() {
    let local = MockServer::start();
    let openrouter = MockServer::start();
    let mut home = local_home(&local);
    openrouter.set_api_key("sk-or-test");
    home.set_env("OPENROUTER_API_KEY", "sk-or-test");
    home.set_env("TALARIA_OPENROUTER_BASE_URL", openrouter.openai_base_url());
    let mut config = std::fs::read_to_string(home.path("config.toml")).unwrap();
    config.push_str(
        "\n[fallback_model]\nprovider = \"openrouter\"\nmodel = \"deepseek/deepseek-chat\"\n\n\
         [plugin_config.chat-completions]\nmax_retries = 0\n",
    );
    std::fs::write(home.path("config.toml"), config).unwrap();
    local.push_chat(talaria_tests::mock::MockResponse::error(
        500,
        "server_error",
        "the GPU fell over",
    ));
    openrouter.push_chat_chunks(chat_text_chunks(&["From the fallback."], (6, 3)));
    let run = home.run(&["chat", "-q", "hi", "--json"]).ok();
    let lines = json_lines(&run);
    let done = lines
        .iter()
        .find(|l| l["type"] == "turn_completed")
        .unwrap();
    assert_eq!(done["text"], "From the fallback.");
    assert_eq!(done["usage"]["total_tokens"], 9);
    assert_eq!(local.turn_requests_to(COMPLETIONS).len(), 1);
    let sent = openrouter.turn_requests_to(COMPLETIONS);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["model"], "deepseek/deepseek-chat");
    assert_eq!(sent[0].header("x-title"), Some("talaria"));
}

#[test]
fn models_doctor_auth_and_login_speak_for_a_configured_instance() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    let models = home.run(&["models", "--json"]).ok().json();
    assert_eq!(
        (
            models["provider"].as_str(),
            models["source"].as_str(),
            models["default_model"].as_str()
        ),
        (Some("local"), Some("builtin"), Some(CHAT_MODEL))
    );
    assert_eq!(models["note"], "listed in [providers.local]");
    assert!(mock.requests().is_empty(), "listed models ask nobody");

    let doctor = home.run(&["doctor", "--json"]).ok().json();
    let backend = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backend")
        .unwrap()
        .clone();
    assert_eq!(backend["status"], "ok", "{backend}");
    assert_eq!(backend["url"], format!("{}/models", mock.openai_base_url()));
    let probe = mock.requests_to("/v1/models");
    assert_eq!(probe.len(), 1);
    assert_eq!(
        probe[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let auth = home.run(&["auth", "list"]).ok();
    assert!(
        auth.stdout.contains("LOCAL_API_KEY") && auth.stdout.contains("env"),
        "{}",
        auth.stdout
    );
    assert!(!auth.stdout.contains(KEY));
    let login = home.run(&["login"]).expect_code(2);
    assert!(
        login.stderr.contains("export LOCAL_API_KEY="),
        "{}",
        login.stderr
    );
}

#[test]
fn an_instance_may_speak_the_responses_api_instead() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    let config = std::fs::read_to_string(home.path("config.toml")).unwrap();
    std::fs::write(
        home.path("config.toml"),
        config.replace(
            "transport = \"chat-completions\"",
            "transport = \"responses\"",
        ) + "\n[plugin_config.responses]\nwebsocket = false\n",
    )
    .unwrap();
    let run = home.run(&["chat", "-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    // The turn, then the session title; both over the Responses API.
    let mut sent = mock.requests();
    assert!(sent.pop().is_some_and(|title| title.is_title_request()));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/v1/responses")
    );
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent[0].json()["model"], CHAT_MODEL);
}

#[test]
fn an_instance_whose_plugin_is_disabled_names_the_command_that_enables_it() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    home.run(&["plugins", "disable", "openai-compatible"]).ok();
    let run = home.run(&["chat", "-q", "hi"]).expect_code(2);
    assert!(
        run.stderr.contains("[providers.local]")
            && run
                .stderr
                .contains("talaria plugins enable openai-compatible"),
        "{}",
        run.stderr
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn a_base_url_that_is_not_a_url_is_a_config_error_with_file_line_and_key() {
    let mock = MockServer::start();
    let home = local_home(&mock);
    let config = std::fs::read_to_string(home.path("config.toml")).unwrap();
    std::fs::write(
        home.path("config.toml"),
        config.replace(&mock.openai_base_url(), "127.0.0.1:8080/v1"),
    )
    .unwrap();
    let run = home.run(&["chat", "-q", "hi"]).expect_code(2);
    assert!(
        run.stderr.contains("config.toml")
            && run.stderr.contains("key providers.local.base_url")
            && run.stderr.contains("http://"),
        "{}",
        run.stderr
    );
    assert!(mock.requests().is_empty());
}

/// A second loopback server standing in for OpenRouter, its model list saying which
/// models take images, and a home whose main model is the local server's (text only).
fn with_openrouter(local: &MockServer, openrouter: &MockServer) -> TestHome {
    let mut home = local_home(local);
    openrouter.set_api_key("sk-or-test");
    home.set_env("OPENROUTER_API_KEY", "sk-or-test");
    home.set_env("TALARIA_OPENROUTER_BASE_URL", openrouter.openai_base_url());
    openrouter.push_response(
        "/v1/models",
        talaria_tests::mock::MockResponse::json(
            200,
            json!({"data": [
                {"id": "google/gemini-3-flash-preview", "architecture": {"input_modalities": ["text", "image"]}},
                {"id": "deepseek/deepseek-chat", "architecture": {"input_modalities": ["text"]}}
            ]}),
        ),
    );
    home
}

#[test]
fn auto_chooses_openrouter_for_vision_when_its_key_is_set() {
    let local = MockServer::start();
    let openrouter = MockServer::start();
    let home = with_openrouter(&local, &openrouter);
    let list = home.run(&["aux", "list", "--json"]).ok().json();
    let vision = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task"] == "vision")
        .unwrap()
        .clone();
    assert_eq!(
        (vision["provider"].as_str(), vision["model"].as_str()),
        (Some("openrouter"), Some("google/gemini-3-flash-preview")),
        "{vision}"
    );
    assert_eq!(vision["reason"], "auto: OpenRouter, whose key is set");
    assert_eq!(vision["chain"][0]["model"]["provider"], "local");
    assert!(
        vision["chain"][0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("skipped"),
        "the text-only main model is skipped: {vision}"
    );

    // Without the key, auto has nowhere to send an image.
    let mut keyless = local_home(&local);
    keyless.set_env("TALARIA_OPENROUTER_BASE_URL", openrouter.openai_base_url());
    let list = keyless.run(&["aux", "list", "--json"]).ok().json();
    let vision = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task"] == "vision")
        .unwrap();
    assert_eq!(vision["provider"], "", "{vision}");
}

#[test]
fn an_image_for_the_local_text_model_is_described_by_openrouter() {
    let local = MockServer::start();
    let openrouter = MockServer::start();
    let home = with_openrouter(&local, &openrouter);
    openrouter.push_chat_chunks(chat_text_chunks(&["A red ", "square."], (900, 5)));
    // The turn, then the title, on the local server.
    local.push_chat_chunks(chat_text_chunks(&["It is a red square."], (40, 6)));
    local.push_chat_chunks(chat_text_chunks(&["Red square"], (30, 2)));
    let path = home.root().join("pic.png");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let (run, screen) = home.type_into_repl(
        &[&format!("/image {}", path.display()), "what is this"],
        std::time::Duration::from_millis(900),
    );
    assert_eq!(run.code, 0, "{screen}");
    let vision = openrouter.requests_to(COMPLETIONS);
    assert_eq!(
        vision.len(),
        1,
        "only the image description goes to OpenRouter: {screen}"
    );
    let body = vision[0].json();
    assert_eq!(body["model"], "google/gemini-3-flash-preview");
    assert_eq!(vision[0].header("authorization"), Some("Bearer sk-or-test"));
    let user = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap();
    let image = user["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "image_url")
        .expect("the image as an image_url part");
    assert!(image["image_url"]["url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let turn = &local.turn_requests_to(COMPLETIONS)[0];
    let text = turn.text();
    assert!(text.contains("A red square."), "{text}");
    assert!(
        !text.contains("image_url"),
        "the text-only model gets no image"
    );
}
