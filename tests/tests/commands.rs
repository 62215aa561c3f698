//! Commands plugins serve (`[provides] commands`): `talaria NAME ARGS...` and the REPL's
//! `/NAME ARGS...` reach the plugin with the arguments untouched, its output and exit
//! code come through as its own, and a command nobody serves says what is missing.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talaria_tests::codex::signed_in;
use talaria_tests::mock::MockServer;
use talaria_tests::TestHome;

fn with_word_tools() -> TestHome {
    with_word_tools_in(TestHome::new())
}

fn with_word_tools_in(home: TestHome) -> TestHome {
    let folder = home.plugin_folder(
        &home.dir.path().join("build/word-tools"),
        "tests/fixtures/word-tools",
        "talaria-fixture-word-tools",
        |m| m,
    );
    home.run(&["plugins", "install", folder.to_str().unwrap()])
        .ok();
    home
}

#[test]
fn a_plugin_command_gets_its_arguments_untouched_and_owns_stdout() {
    let home = with_word_tools();
    let run = home.run(&["words", "count", "a", "--b", "-c"]).ok();
    assert_eq!(run.stdout, "3 (shell)\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn a_plugin_commands_exit_code_and_errors_become_the_processes() {
    let home = with_word_tools();
    let run = home.run(&["words", "exit", "4"]).expect_code(4);
    // The plugin said why; the host adds no message of its own.
    assert_eq!(run.stderr, "words: exiting with 4\n");
    let run = home.run(&["words", "frobnicate"]).expect_code(2);
    assert!(
        run.stderr.contains("usage: talaria words count"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_command_nobody_serves_is_missing_and_a_disabled_ones_names_its_plugin() {
    let home = TestHome::new();
    for command in [&["words", "count"][..], &["nonesuch", "--flag"]] {
        let run = home.run(command).expect_code(4);
        assert!(
            run.stderr.contains(&format!(
                "no plugin provides the command `talaria {}`",
                command[0]
            )),
            "{}",
            run.stderr
        );
        assert_eq!(run.stdout, "");
    }
    // `mcp` has its plugin (mcp-bridge); disabled, the command says how to enable it.
    home.run(&["plugins", "disable", "mcp-bridge"]).ok();
    let run = home.run(&["mcp", "list"]).expect_code(2);
    assert!(
        run.stderr.contains("talaria plugins enable mcp-bridge"),
        "{}",
        run.stderr
    );
    let home = with_word_tools();
    home.run(&["plugins", "disable", "word-tools"]).ok();
    let run = home.run(&["words", "count", "x"]).expect_code(2);
    assert!(
        run.stderr.contains("talaria plugins enable word-tools"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_repl_runs_a_plugin_command_as_a_slash_command() {
    // The REPL starts only for a provider it can use; no model request is made.
    let mock = MockServer::start();
    let home = with_word_tools_in(signed_in(&mock).0);
    let (run, screen) = home.type_into_repl(
        &["/words count one two", "/words exit 3", "/nonesuch"],
        Duration::from_millis(400),
    );
    assert_eq!(run.code, 0, "{screen}");
    assert!(screen.contains("2 (repl)"), "{screen}");
    assert!(screen.contains("words: exiting with 3"), "{screen}");
    assert!(screen.contains("unknown command /nonesuch"), "{screen}");
    assert!(mock
        .requests()
        .iter()
        .all(|r| !r.path.ends_with("/responses")));
}
