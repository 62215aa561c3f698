//! The aux-router plugin through the real binary against the mock backend: `aux list`,
//! session titles, the resolution chain under injected errors, the `extra_body`
//! translation, compression at the threshold and `/compact`, and `/goal` loops.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value};
use talaria_tests::codex::signed_in;
use talaria_tests::mock::{text_events, usage, MockResponse, MockServer, Recorded, TITLE_REQUEST};
use talaria_tests::TestHome;

const RESPONSES: &str = "/backend-api/codex/responses";
const TWIN_RESPONSES: &str = "/v1/responses";
/// How the router's compression and judge requests begin (their instructions).
const COMPRESSION_REQUEST: &str = "You compress the history";
const JUDGE_REQUEST: &str = "You judge whether an agent";

fn config(home: &TestHome, text: &str) {
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        format!("[plugin_config.responses]\nwebsocket = false\nfirst_byte_timeout_ms = 3000\nmax_retries = 0\n\n{text}"),
    )
    .unwrap();
}

/// A signed-in home that also has the SDK-built `twin-provider` plugin installed
/// (providers `twin-a` and `twin-b` on the mock's `/v1`).
fn with_twins(mock: &MockServer) -> TestHome {
    let (mut home, _) = signed_in(mock);
    mock.set_api_key("sk-twin");
    home.set_env("TWIN_BASE_URL", mock.openai_base_url());
    home.set_env("TWIN_API_KEY", "sk-twin");
    let folder = home.plugin_folder(
        &home.dir.path().join("build").join("twin-provider"),
        "tests/fixtures/twin-provider",
        "talaria-fixture-twin-provider",
        |m| m,
    );
    home.run(&["plugins", "install", folder.to_str().unwrap()])
        .ok();
    home
}

fn requests_saying(mock: &MockServer, path: &str, needle: &str) -> Vec<Recorded> {
    mock.requests_to(path)
        .into_iter()
        .filter(|r| r.method == "POST" && r.text().contains(needle))
        .collect()
}

fn title_of(home: &TestHome) -> Value {
    home.run(&["sessions", "list", "--json"]).ok().json()[0]["title"].clone()
}

fn route<'a>(list: &'a Value, task: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["task"] == task)
        .unwrap_or_else(|| panic!("{task} not in {list}"))
}

#[test]
fn aux_list_shows_what_each_task_resolves_to_and_why() {
    let mock = MockServer::start();
    let home = with_twins(&mock);
    // The main model takes text only; the catalog's other model takes images.
    mock.set_models(vec![
        json!({"slug": "gpt-5.3-codex", "display_name": "c", "visibility": "list", "priority": 0, "context_window": 1000, "input_modalities": ["text"]}),
        json!({"slug": "gpt-eye", "display_name": "e", "visibility": "list", "priority": 1, "context_window": 1000, "input_modalities": ["text", "image"]}),
    ]);
    config(
        &home,
        "[fallback_model]\nprovider = \"twin-b\"\nmodel = \"twin-b-model\"\n\n\
         [auxiliary.title_generation]\nprovider = \"twin-a\"\n\n\
         [auxiliary.approval]\nprovider = \"main\"\nmodel = \"gpt-5.4\"\n\n\
         [auxiliary.web_extract]\nprovider = \"codex\"\n\n\
         [auxiliary.compression]\nfallback_chain = [{ provider = \"twin-a\", model = \"twin-a-model\" }]\n",
    );
    let list = home.run(&["aux", "list", "--json"]).ok().json();
    let tasks: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "title_generation",
            "compression",
            "vision",
            "web_extract",
            "goal_judge",
            "approval"
        ]
    );
    let summary = |task: &str| {
        let r = route(&list, task);
        (
            r["provider"].as_str().unwrap().to_owned(),
            r["model"].as_str().unwrap().to_owned(),
            r["reason"].as_str().unwrap().to_owned(),
        )
    };
    // An installed third-party provider by id, with its default model.
    assert_eq!(
        summary("title_generation"),
        (
            "twin-a".into(),
            "twin-a-model".into(),
            "[auxiliary.title_generation] provider = \"twin-a\"".into()
        )
    );
    assert_eq!(summary("goal_judge").2, "auto: the main model");
    assert_eq!(summary("goal_judge").1, "gpt-5.3-codex");
    assert_eq!(summary("approval").1, "gpt-5.4");
    assert_eq!(summary("web_extract").0, "openai-codex");
    // `auto`'s chain: main, then the task's fallback_chain, then [fallback_model].
    let chain: Vec<String> = route(&list, "compression")["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["model"]["provider"].as_str().unwrap(),
                s["model"]["model"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        chain,
        [
            "openai-codex/gpt-5.3-codex",
            "twin-a/twin-a-model",
            "twin-b/twin-b-model"
        ]
    );
    // Vision: the text-only main model is skipped for the provider's model with images.
    let vision = route(&list, "vision");
    assert_eq!(vision["model"], "gpt-eye");
    assert_eq!(
        vision["chain"][0]["outcome"],
        "skipped: the model takes no images"
    );

    let table = home.run(&["aux", "list"]).ok().stdout;
    assert!(table.starts_with("TASK"), "{table}");
    assert!(table.contains("twin-a-model"), "{table}");
    assert_eq!(home.run(&["aux", "bogus"]).code, 2);
    // No model was asked anything.
    assert!(mock.requests_to(RESPONSES).is_empty() && mock.requests_to(TWIN_RESPONSES).is_empty());
}

#[test]
fn the_title_comes_after_the_turn_from_a_third_party_provider_and_is_stored() {
    let mock = MockServer::start();
    let home = with_twins(&mock);
    config(
        &home,
        "[auxiliary.title_generation]\nprovider = \"twin-a\"\nextra_body = { reasoning = { effort = \"low\" }, text = { verbosity = \"low\" } }\n",
    );
    mock.push_script_when(
        TITLE_REQUEST,
        text_events("resp_t", &["\"Greeting", " a mock.\""]),
    );
    let run = home.run(&["chat", "-q", "Say hello"]).ok();
    assert_eq!(
        run.stdout, "Hello from the mock.\n",
        "nothing of the title on stdout"
    );
    assert_eq!(title_of(&home), "Greeting a mock");

    let all = mock.requests();
    let turn = all.iter().position(|r| r.path == RESPONSES).unwrap();
    let title_at = all
        .iter()
        .position(|r| r.path == TWIN_RESPONSES && r.text().contains(TITLE_REQUEST))
        .unwrap();
    assert!(
        turn < title_at,
        "the title goes out after the turn's own request"
    );
    let title = &all[title_at];
    assert_eq!(title.header("x-twin"), Some("twin-a"));
    let body = title.json();
    assert_eq!(body["model"], "twin-a-model");
    // extra_body.reasoning is the Responses API's reasoning parameter; the rest as given.
    assert_eq!(body["reasoning"], json!({"effort": "low"}));
    assert_eq!(body["text"], json!({"verbosity": "low"}));
    assert!(body.get("tools").is_none());

    // `-c` is not a first turn: no second title.
    home.run(&["chat", "-c", "-q", "again"]).ok();
    assert_eq!(
        requests_saying(&mock, TWIN_RESPONSES, TITLE_REQUEST).len(),
        1
    );
}

#[test]
fn transient_errors_are_retried_then_the_chain_moves_on_in_order() {
    let mock = MockServer::start();
    let home = with_twins(&mock);
    config(
        &home,
        "[auxiliary]\ntransient_retries = 1\n\n\
         [auxiliary.title_generation]\nfallback_chain = [{ provider = \"twin-a\", model = \"twin-a-model\" }, { provider = \"twin-b\", model = \"twin-b-model\" }]\n",
    );
    // Main: a 500, retried once, a 500 again; twin-a: a 429 (capacity); twin-b answers.
    mock.push_script_when(
        TITLE_REQUEST,
        MockResponse::error(500, "server_error", "boom"),
    );
    mock.push_script_when(
        TITLE_REQUEST,
        MockResponse::error(500, "server_error", "boom again"),
    );
    mock.push_script_when(
        TITLE_REQUEST,
        MockResponse::error(429, "rate_limit_exceeded", "slow down"),
    );
    mock.push_script_when(TITLE_REQUEST, text_events("resp_t", &["Third time lucky"]));
    let run = home.run(&["chat", "-q", "hi"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(title_of(&home), "Third time lucky");
    // In arrival order, across both backends.
    let order: Vec<String> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.text().contains(TITLE_REQUEST))
        .map(|r| r.json()["model"].as_str().unwrap().to_owned())
        .collect();
    let models: Vec<&str> = order.iter().map(String::as_str).collect();
    assert_eq!(
        models,
        [
            "gpt-5.3-codex",
            "gpt-5.3-codex",
            "twin-a-model",
            "twin-b-model"
        ]
    );
    // Each step is logged.
    let logs = std::fs::read_to_string(home.path("logs/talaria.log")).unwrap_or_default();
    assert!(logs.contains("retrying in 1 s"), "{logs}");
    assert!(logs.contains("step 3 twin-b/twin-b-model"), "{logs}");
}

#[test]
fn a_failing_title_never_fails_the_turn() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "[auxiliary]\ntransient_retries = 0\n");
    mock.push_script_when(
        TITLE_REQUEST,
        MockResponse::error(400, "invalid_request", "no titles here"),
    );
    let run = home.run(&["chat", "-q", "Say hello"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(
        title_of(&home),
        "Say hello",
        "the prompt's first line stays the title"
    );
}

/// A turn whose answer reports `input` tokens of context.
fn answer_using(id: &str, text: &str, input: u64) -> Vec<Value> {
    let mut events = text_events(id, &[text]);
    let last = events.last_mut().unwrap();
    last["response"]["usage"] = usage(input, 0, 10, 0);
    events
}

/// The conversation a turn's request carries: its input items without the opening
/// context the native runtime puts before every request (the environment, AGENTS.md).
fn conversation(request: &Recorded) -> Vec<Value> {
    request.json()["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            let text = i["content"][0]["text"].as_str().unwrap_or_default();
            !(text.starts_with("<environment_context>")
                || text.starts_with("# AGENTS.md instructions"))
        })
        .cloned()
        .collect()
}

fn input_texts(request: &Recorded) -> Vec<String> {
    conversation(request)
        .iter()
        .map(|i| {
            i["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn compression_at_the_threshold_stores_a_summary_the_next_requests_carry() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    // gpt-5.3-codex has a 272k window in the mock's catalog: half of it is 136k.
    config(
        &home,
        "[auxiliary.compression]\nthreshold = 0.5\nkeep_turns = 1\n",
    );
    mock.push_events(answer_using("r1", "first answer", 100_000));
    home.run(&["chat", "-q", "first"]).ok();
    mock.push_events(answer_using("r2", "second answer", 136_000));
    home.run(&["chat", "-c", "-q", "second"]).ok();
    assert!(
        requests_saying(&mock, RESPONSES, COMPRESSION_REQUEST).is_empty(),
        "below the threshold nothing is compressed"
    );

    mock.push_script_when(
        COMPRESSION_REQUEST,
        text_events("rs", &["SUMMARY: the user said first"]),
    );
    mock.push_events(answer_using("r3", "third answer", 1_000));
    home.run(&["chat", "-c", "-q", "third"]).ok();
    let compression = &requests_saying(&mock, RESPONSES, COMPRESSION_REQUEST)[0];
    let sent = compression.text();
    assert!(
        sent.contains("USER: first") && !sent.contains("USER: second"),
        "the last turn is kept: {sent}"
    );

    // The turn after it: the summary, the kept turn, the new prompt.
    let turns: Vec<Recorded> = mock
        .requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "POST" && r.json().get("tools").is_some())
        .collect();
    let third = input_texts(&turns[2]);
    assert!(
        third[0].contains("SUMMARY: the user said first"),
        "{third:?}"
    );
    assert_eq!(third[1..], ["second", "second answer", "third"]);
    let all = mock.requests();
    let at = |needle: &str| {
        all.iter()
            .position(|r| r.method == "POST" && r.text().contains(needle))
            .unwrap()
    };
    assert!(
        at(COMPRESSION_REQUEST) < at("\"third\""),
        "compression goes before the turn"
    );

    // Stored: the next run starts from it too.
    home.run(&["chat", "-c", "-q", "fourth"]).ok();
    let turns: Vec<Recorded> = mock
        .requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "POST" && r.json().get("tools").is_some())
        .collect();
    let fourth = input_texts(&turns[3]);
    assert!(
        fourth[0].contains("SUMMARY: the user said first"),
        "{fourth:?}"
    );
    assert_eq!(fourth.last().unwrap(), "fourth");
    assert_eq!(
        requests_saying(&mock, RESPONSES, COMPRESSION_REQUEST).len(),
        1
    );
}

#[test]
fn slash_compact_forces_it() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["A title"]));
    mock.push_script_when(COMPRESSION_REQUEST, text_events("rs", &["FORCED SUMMARY"]));
    let (run, screen) =
        home.type_into_repl(&["one", "/compact", "two"], Duration::from_millis(900));
    assert_eq!(run.code, 0, "{screen}");
    assert!(screen.contains("compacted: 2 items summarized"), "{screen}");
    let turns: Vec<Recorded> = mock
        .requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.method == "POST" && r.json().get("tools").is_some())
        .collect();
    let second = input_texts(turns.last().unwrap());
    assert!(second[0].contains("FORCED SUMMARY"), "{second:?}");
    assert_eq!(second[1..], ["two"]);
}

fn verdict(verdict: &str, reason: &str) -> Vec<Value> {
    text_events(
        "rj",
        &[&json!({"verdict": verdict, "reason": reason}).to_string()],
    )
}

fn goal_of(home: &TestHome) -> Value {
    let id = home.run(&["sessions", "list", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    home.run(&["sessions", "show", &id, "--json"]).ok().json()["goal"].clone()
}

#[test]
fn a_goal_loop_ends_when_the_judge_says_met_and_survives_continue() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Goal"]));
    mock.push_script_when(JUDGE_REQUEST, verdict("continue", "only half done"));
    mock.push_script_when(JUDGE_REQUEST, verdict("met", "all done"));
    let (run, screen) =
        home.type_into_repl(&["/goal make the mock greet"], Duration::from_millis(2500));
    assert_eq!(run.code, 0, "{screen}");
    assert!(
        screen.contains("continuing toward the goal (turn 1 done): only half done"),
        "{screen}"
    );
    assert!(screen.contains("goal achieved: all done"), "{screen}");
    let turns: Vec<Recorded> = mock
        .requests_to(RESPONSES)
        .into_iter()
        .filter(|r| r.json().get("tools").is_some())
        .collect();
    assert_eq!(turns.len(), 2);
    let second = input_texts(&turns[1]);
    assert!(
        second
            .last()
            .unwrap()
            .contains("Keep working toward the goal: make the mock greet"),
        "{second:?}"
    );
    let judged = requests_saying(&mock, RESPONSES, JUDGE_REQUEST);
    assert!(judged[0].text().contains("make the mock greet"));

    let goal = goal_of(&home);
    assert_eq!(
        (goal["status"].as_str(), goal["turns_used"].as_u64()),
        (Some("met"), Some(2))
    );
    let verdicts: Vec<&str> = goal["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["continue", "met"]);

    let id = home.run(&["sessions", "list", "--json"]).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = home.run(&["sessions", "show", &id]).ok().stdout;
    assert!(
        shown.contains("goal: make the mock greet (met, 2 turns used)"),
        "{shown}"
    );

    // `-c` finds the goal and its verdicts.
    let (_, screen) = home.type_into_repl_with(&["-c"], &["/goal"], Duration::from_millis(900));
    assert!(
        screen.contains("goal: make the mock greet (met, 2 turns used)"),
        "{screen}"
    );
    assert!(
        screen.contains("turn 1: continue — only half done"),
        "{screen}"
    );
}

#[test]
fn a_goal_loop_stops_when_the_judge_needs_the_user() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Goal"]));
    mock.push_script_when(JUDGE_REQUEST, verdict("needs_user", "which database?"));
    let (run, screen) =
        home.type_into_repl(&["/goal set up the database"], Duration::from_millis(2000));
    assert_eq!(run.code, 0, "{screen}");
    assert!(
        screen.contains("goal needs you: which database?"),
        "{screen}"
    );
    let goal = goal_of(&home);
    assert_eq!(
        (goal["status"].as_str(), goal["turns_used"].as_u64()),
        (Some("needs_user"), Some(1))
    );
}

#[test]
fn a_goal_loop_stops_when_the_budget_is_spent() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "[auxiliary.goal_judge]\nmax_turns = 2\n");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Goal"]));
    mock.push_script_when(JUDGE_REQUEST, verdict("continue", "not yet"));
    mock.push_script_when(JUDGE_REQUEST, verdict("continue", "still not"));
    let (run, screen) = home.type_into_repl(&["/goal never ends"], Duration::from_millis(3000));
    assert_eq!(run.code, 0, "{screen}");
    assert!(
        screen.contains("goal paused after 2 turns (the budget): still not"),
        "{screen}"
    );
    let goal = goal_of(&home);
    assert_eq!(
        (goal["status"].as_str(), goal["turns_used"].as_u64()),
        (Some("budget_spent"), Some(2))
    );
    assert_eq!(requests_saying(&mock, RESPONSES, JUDGE_REQUEST).len(), 2);
}

#[test]
fn a_401_on_a_side_request_refreshes_through_the_provider() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    mock.push_script_when(
        TITLE_REQUEST,
        MockResponse::error(
            401,
            "token_expired",
            "Provided authentication token is expired",
        ),
    );
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Refreshed title"]));
    home.run(&["chat", "-q", "hi"]).ok();
    assert_eq!(title_of(&home), "Refreshed title");
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    let titles = requests_saying(&mock, RESPONSES, TITLE_REQUEST);
    assert_eq!(titles.len(), 2);
    assert_ne!(
        titles[0].header("authorization"),
        titles[1].header("authorization"),
        "the retry carries the refreshed token"
    );
}

#[test]
fn a_429_on_a_side_request_rotates_the_credential_pool() {
    let mock = MockServer::start();
    let home = talaria_tests::codex::home_for(&mock);
    let first = talaria_tests::mock::AccountSpec::new("a@example.com", "acct-1", "user-1", "plus");
    let second = talaria_tests::mock::AccountSpec::new("b@example.com", "acct-2", "user-2", "plus");
    let t1 = mock.issue_tokens(&first, 3600);
    let t2 = mock.issue_tokens(&second, 3600);
    talaria_tests::codex::seed_pool(&home, &[(&t1, &first), (&t2, &second)]);
    config(&home, "");
    mock.push_script_when(
        TITLE_REQUEST,
        MockResponse::error(429, "rate_limit_exceeded", "Rate limit reached"),
    );
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Rotated title"]));
    home.run(&["chat", "-q", "hi"]).ok();
    assert_eq!(title_of(&home), "Rotated title");
    let accounts: Vec<Option<String>> = requests_saying(&mock, RESPONSES, TITLE_REQUEST)
        .iter()
        .map(|r| r.header("chatgpt-account-id").map(str::to_owned))
        .collect();
    assert_eq!(accounts, [Some("acct-1".into()), Some("acct-2".into())]);
}

/// A tiny PNG file in the home.
fn picture(home: &TestHome) -> String {
    let path = home.root().join("pic.png");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    path.display().to_string()
}

#[test]
fn an_image_goes_to_the_main_model_when_it_takes_images() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Picture"]));
    let path = picture(&home);
    let (run, screen) = home.type_into_repl(
        &[&format!("/image {path}"), "what is this"],
        Duration::from_millis(900),
    );
    assert_eq!(run.code, 0, "{screen}");
    assert!(
        screen.contains("image attached to your next message"),
        "{screen}"
    );
    let turn = &mock.requests_to(RESPONSES)[0];
    let content = conversation(turn)[0]["content"].clone();
    assert_eq!(content[0]["text"], "what is this");
    assert_eq!(content[1]["type"], "input_image");
    assert!(content[1]["image_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
}

#[test]
fn an_image_for_a_text_only_model_is_described_through_vision() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.set_models(vec![
        json!({"slug": "gpt-5.3-codex", "display_name": "c", "visibility": "list", "priority": 0, "context_window": 1000, "input_modalities": ["text"]}),
        json!({"slug": "gpt-eye", "display_name": "e", "visibility": "list", "priority": 1, "context_window": 1000, "input_modalities": ["text", "image"]}),
    ]);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Picture"]));
    mock.push_script_when(
        "Describe the attached image",
        text_events("rv", &["A red square."]),
    );
    let path = picture(&home);
    let (run, screen) = home.type_into_repl(
        &[&format!("/image {path}"), "what is this"],
        Duration::from_millis(900),
    );
    assert_eq!(run.code, 0, "{screen}");
    assert!(screen.contains("gpt-eye described it"), "{screen}");
    let vision = &requests_saying(&mock, RESPONSES, "Describe the attached image")[0];
    let body = vision.json();
    assert_eq!(body["model"], "gpt-eye");
    assert_eq!(body["input"][0]["content"][1]["type"], "input_image");
    let turn = mock
        .requests_to(RESPONSES)
        .into_iter()
        .find(|r| r.json().get("tools").is_some())
        .unwrap();
    let text = conversation(&turn)[0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("A red square.") && text.ends_with("what is this"),
        "{text}"
    );
    assert!(
        !turn.text().contains("input_image"),
        "the text-only model gets no image"
    );
}

#[test]
fn with_json_output_the_title_writes_nothing_to_stdout() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Quiet title"]));
    let run = home.run(&["chat", "--json", "-q", "Say hello"]).ok();
    assert!(!run.stdout.contains("Quiet title"), "{}", run.stdout);
    let last: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "turn_completed");
    assert_eq!(title_of(&home), "Quiet title");
}

#[test]
fn a_bad_auxiliary_section_is_refused_with_file_line_and_key() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(
        &home,
        "[auxiliary.vision]\nprovider = \"auto\"\ntimeout = 0\n",
    );
    for args in [&["chat", "-q", "hi"][..], &["aux", "list"]] {
        let run = home.run(args).expect_code(2);
        assert!(
            run.stderr.contains("line 8, key auxiliary.vision.timeout")
                && run.stderr.contains("positive number of seconds"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(
        mock.requests_to(RESPONSES).is_empty(),
        "refused before any request"
    );
}

#[test]
fn without_the_router_chat_goes_on_with_the_prompts_title() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "");
    home.run(&["plugins", "disable", "aux-router"]).ok();
    let run = home.run(&["chat", "-q", "Say hello"]).ok();
    assert_eq!(run.stdout, "Hello from the mock.\n");
    assert_eq!(mock.requests_to(RESPONSES).len(), 1, "no side request");
    assert_eq!(title_of(&home), "Say hello");
    let aux = home.run(&["aux", "list"]).expect_code(2);
    assert!(
        aux.stderr.contains("talaria plugins enable aux-router"),
        "{}",
        aux.stderr
    );
}

#[test]
fn the_codex_catalogs_auto_compact_limit_sets_the_threshold() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    mock.set_models(vec![json!({
        "slug": "gpt-5.3-codex", "display_name": "c", "visibility": "list", "priority": 0,
        "context_window": 272_000, "auto_compact_token_limit": 5_000,
    })]);
    config(&home, "");
    mock.push_script_when(TITLE_REQUEST, text_events("rt", &["Limits"]));
    mock.push_events(answer_using("r1", "first answer", 4_989));
    home.run(&["chat", "-q", "first"]).ok();
    home.run(&["chat", "-c", "-q", "second"]).ok();
    assert!(requests_saying(&mock, RESPONSES, COMPRESSION_REQUEST).is_empty());
    // The default answer reports 12 + 1 tokens; this one reaches the catalog's limit.
    mock.push_events(answer_using("r3", "third answer", 4_990));
    home.run(&["chat", "-c", "-q", "third"]).ok();
    mock.push_script_when(COMPRESSION_REQUEST, text_events("rs", &["CATALOG SUMMARY"]));
    home.run(&["chat", "-c", "-q", "fourth"]).ok();
    assert_eq!(
        requests_saying(&mock, RESPONSES, COMPRESSION_REQUEST).len(),
        1
    );
    let last = mock.requests_to(RESPONSES).pop().unwrap();
    assert!(input_texts(&last)[0].contains("CATALOG SUMMARY"));
}

#[test]
fn on_chat_completions_extra_body_reasoning_stays_the_servers_own_field() {
    let mock = MockServer::start();
    let mut home = TestHome::new();
    mock.set_api_key("sk-local");
    home.set_env("LOCAL_API_KEY", "sk-local");
    config(
        &home,
        &format!(
            "[model]\nprovider = \"local\"\ndefault = \"{model}\"\n\n\
             [providers.local]\nkind = \"openai-compatible\"\nbase_url = \"{}\"\n\
             api_key_env = \"LOCAL_API_KEY\"\ntransport = \"chat-completions\"\nmodels = [\"{model}\"]\n\n\
             [auxiliary.title_generation]\nextra_body = {{ reasoning = {{ effort = \"low\" }} }}\n",
            mock.openai_base_url(),
            model = talaria_tests::mock::CHAT_MODEL,
        ),
    );
    home.run(&["chat", "-q", "hi"]).ok();
    let sent = requests_saying(&mock, "/v1/chat/completions", TITLE_REQUEST);
    assert_eq!(
        sent.len(),
        1,
        "the title goes to the main provider under auto"
    );
    let body = sent[0].json();
    assert_eq!(body["reasoning"], json!({"effort": "low"}));
    assert!(body.get("reasoning_effort").is_none(), "{body}");
    assert!(body.get("tools").is_none(), "{body}");
}

#[test]
fn the_repl_lists_the_routes_with_slash_aux() {
    let mock = MockServer::start();
    let (home, _) = signed_in(&mock);
    config(&home, "[auxiliary.vision]\nprovider = \"main\"\n");
    let (run, screen) = home.type_into_repl(&["/aux list"], Duration::from_millis(900));
    assert_eq!(run.code, 0, "{screen}");
    assert!(screen.contains("TASK"), "{screen}");
    assert!(
        screen.contains("[auxiliary.vision] provider = \"main\""),
        "{screen}"
    );
    assert!(
        mock.requests_to(RESPONSES).is_empty(),
        "listing asks no model"
    );
}
