//! Profiles, config, credentials, sessions and logs through the real binary: what one
//! profile holds never leaks into another, and bad input is refused without data loss.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talaria_tests::{Run, TestHome};

fn with_word_tools() -> TestHome {
    let home = TestHome::new();
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

fn recall(home: &TestHome, profile: &str) -> String {
    home.run(&["-p", profile, "plugins", "call", "word-tools", "recall"])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

fn remember(home: &TestHome, profile: &str, value: &str) -> Run {
    let args = serde_json::json!({ "value": value }).to_string();
    home.run(&[
        "-p",
        profile,
        "plugins",
        "call",
        "word-tools",
        "remember",
        &args,
    ])
    .ok()
}

#[test]
fn credentials_written_through_a_plugin_stay_in_their_profile() {
    let home = with_word_tools();
    home.run(&["profile", "create", "work"]).ok();

    remember(&home, "default", "default-secret");
    assert_eq!(recall(&home, "work"), "(nothing stored)");
    remember(&home, "work", "work-secret");
    assert_eq!(recall(&home, "default"), "default-secret");
    assert_eq!(recall(&home, "work"), "work-secret");

    let root_auth = std::fs::read_to_string(home.path("auth.json")).unwrap();
    let work_auth = std::fs::read_to_string(home.path("profiles/work/auth.json")).unwrap();
    assert!(root_auth.contains("default-secret") && !root_auth.contains("work-secret"));
    assert!(work_auth.contains("work-secret") && !work_auth.contains("default-secret"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path("auth.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn config_and_enablement_stay_in_their_profile_and_the_sticky_profile_applies() {
    let home = TestHome::new();
    home.run(&["profile", "create", "work"]).ok();
    home.run(&["-p", "work", "plugins", "disable", "example-tools"])
        .ok();
    home.run(&["-p", "work", "runtime", "disable", "auto"]).ok();

    let work_config = std::fs::read_to_string(home.path("profiles/work/config.toml")).unwrap();
    assert!(
        work_config.contains("example-tools") && work_config.contains("auto"),
        "{work_config}"
    );
    assert!(
        !home.path("config.toml").exists(),
        "the default profile's config was written"
    );

    let enabled = |profile: &str| {
        let list = home
            .run(&["-p", profile, "plugins", "list", "--json"])
            .ok()
            .json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "example-tools")
            .unwrap()["enabled"]
            .as_bool()
            .unwrap()
    };
    assert!(enabled("default"));
    assert!(!enabled("work"));

    // `profile use` makes work the default for later commands.
    home.run(&["profile", "use", "work"]).ok();
    let list = home.run(&["plugins", "list", "--json"]).ok().json();
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "example-tools")
            .unwrap()["enabled"],
        false
    );
    let profiles = home.run(&["profile", "list"]).ok().stdout;
    assert_eq!(profiles, "default\nwork ←\n");

    let run = home.run(&["-p", "nope", "plugins", "list"]).expect_code(2);
    assert!(
        run.stderr.contains("talaria profile create nope"),
        "{}",
        run.stderr
    );
    home.run(&["profile", "delete", "default"]).expect_code(2);
    home.run(&["profile", "delete", "work"]).ok();
    assert!(!home.path("profiles/work").exists());
    // The sticky choice went with the profile.
    assert_eq!(home.run(&["profile", "list"]).ok().stdout, "default ←\n");
}

#[test]
fn sessions_stay_in_their_profile() {
    let home = TestHome::new();
    home.run(&["profile", "create", "work"]).ok();
    // Written with the host's own store, as a chat turn does.
    let store = talaria::sessions::SessionStore::open(&home.path("sessions.db")).unwrap();
    let session = store
        .create("auto", "openai-codex", "gpt-5.3-codex")
        .unwrap();
    store
        .add_message(&session.id, "user", "what is 2+2?")
        .unwrap();
    store.add_message(&session.id, "assistant", "4").unwrap();
    drop(store);

    let default = home.run(&["sessions", "list", "--json"]).ok().json();
    assert_eq!(default.as_array().unwrap().len(), 1);
    assert_eq!(default[0]["id"], session.id.as_str());
    for key in ["title", "created_at", "updated_at", "runtime"] {
        assert!(default[0].get(key).is_some(), "missing {key}");
    }
    let work = home
        .run(&["-p", "work", "sessions", "list", "--json"])
        .ok()
        .json();
    assert_eq!(work, serde_json::json!([]));
    assert!(
        !home.path("profiles/work/sessions.db").exists(),
        "listing created a database"
    );
    home.run(&["-p", "work", "sessions", "show", &session.id])
        .expect_code(2);

    let shown = home
        .run(&["sessions", "show", &session.id[..12]])
        .ok()
        .stdout;
    assert!(
        shown.contains("> what is 2+2?") && shown.contains('4'),
        "{shown}"
    );
    home.run(&["sessions", "delete", &session.id]).ok();
    assert_eq!(
        home.run(&["sessions", "list", "--json"]).ok().json(),
        serde_json::json!([])
    );
    home.run(&["sessions", "delete", &session.id])
        .expect_code(2);
}

#[test]
fn an_invalid_config_is_exit_2_names_file_line_and_key_and_is_never_rewritten() {
    let home = TestHome::new();
    std::fs::create_dir_all(home.root()).unwrap();
    let original = "# my settings\n[model]\nprovider = \"openai-codex\"\nfast = \"yes\"\n";
    std::fs::write(home.path("config.toml"), original).unwrap();

    for args in [
        &["plugins", "list"][..],
        &["plugins", "disable", "example-tools"],
        &["runtime", "use", "auto"],
        &["chat", "-q", "hi"],
    ] {
        let run = home.run(args).expect_code(2);
        assert!(
            run.stderr
                .contains(&home.path("config.toml").display().to_string()),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("line 4") && run.stderr.contains("model.fast"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read_to_string(home.path("config.toml")).unwrap(),
            original
        );
    }
    let doctor = home.run(&["doctor", "--json"]).expect_code(1).json();
    assert_eq!(doctor["checks"][0]["name"], "config");
    assert_eq!(doctor["checks"][0]["status"], "fail");

    std::fs::write(home.path("config.toml"), "[model\nprovider = 1\n").unwrap();
    let run = home.run(&["plugins", "list"]).expect_code(2);
    assert!(run.stderr.contains("line 1"), "{}", run.stderr);

    std::fs::write(home.path("config.toml"), "[modle]\nprovider = \"x\"\n").unwrap();
    let run = home.run(&["plugins", "list"]).expect_code(2);
    assert!(run.stderr.contains("modle"), "{}", run.stderr);
}

#[test]
fn edits_keep_the_users_comments_and_are_idempotent() {
    let home = TestHome::new();
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        "# keep me\n[model]\nfast = true # and me\n",
    )
    .unwrap();
    home.run(&["plugins", "disable", "example-tools"]).ok();
    home.run(&["plugins", "disable", "example-tools"]).ok();
    let text = std::fs::read_to_string(home.path("config.toml")).unwrap();
    assert!(
        text.starts_with("# keep me\n[model]\nfast = true # and me\n"),
        "{text}"
    );
    assert_eq!(text.matches("example-tools").count(), 1, "{text}");
    home.run(&["plugins", "enable", "example-tools"]).ok();
    assert!(!std::fs::read_to_string(home.path("config.toml"))
        .unwrap()
        .contains("example-tools"));
}

#[test]
fn a_disabled_runtime_is_refused_by_name() {
    let home = TestHome::new();
    let list = home.run(&["runtime", "list", "--json"]).ok().json();
    assert_eq!(list[0]["id"], "auto");
    assert_eq!(list[0]["default"], true);
    home.run(&["runtime", "disable", "auto"]).ok();
    let run = home.run(&["runtime", "use", "auto"]).expect_code(2);
    assert!(
        run.stderr.contains("runtime auto is disabled")
            && run.stderr.contains("runtime enable auto"),
        "{}",
        run.stderr
    );
    let run = home.run(&["chat", "-q", "hi"]).expect_code(2);
    assert!(
        run.stderr.contains("runtime auto is disabled"),
        "{}",
        run.stderr
    );
    home.run(&["runtime", "enable", "auto"]).ok();
    home.run(&["runtime", "use", "auto"]).ok();
}

#[test]
fn a_corrupt_auth_file_is_reported_then_kept_aside_never_discarded() {
    let home = with_word_tools();
    let garbage = "{ this is not json";
    std::fs::write(home.path("auth.json"), garbage).unwrap();

    let run = home
        .run(&["plugins", "call", "word-tools", "recall"])
        .expect_code(1);
    assert!(run.stderr.contains("auth.json"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(home.path("auth.json")).unwrap(),
        garbage
    );
    let doctor = home.run(&["doctor", "--json"]).expect_code(1).json();
    let auth = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "auth")
        .unwrap()
        .clone();
    assert_eq!(auth["status"], "fail");

    let run = remember(&home, "default", "fresh");
    assert!(run.stderr.contains("auth.json.corrupt"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(home.path("auth.json.corrupt")).unwrap(),
        garbage
    );
    assert_eq!(recall(&home, "default"), "fresh");
}

#[test]
fn commands_and_plugins_log_into_the_profiles_log() {
    let home = with_word_tools();
    home.run(&["profile", "create", "work"]).ok();
    home.run(&[
        "plugins",
        "call",
        "word-tools",
        "count_words",
        r#"{"text":"a"}"#,
    ])
    .ok();
    let log = home.run(&["logs"]).ok().stdout;
    assert!(
        log.contains("word-tools ready") && log.contains("plugin=\"word-tools\""),
        "{log}"
    );
    let recent = home.run(&["logs", "--since", "1h"]).ok().stdout;
    assert!(recent.contains("word-tools ready"), "{recent}");
    let work = home.run(&["-p", "work", "logs"]).ok().stdout;
    assert!(
        !work.contains("word-tools ready"),
        "the work profile's log holds default's entries: {work}"
    );
    let run = home.run(&["logs", "--since", "soon"]).expect_code(2);
    assert!(run.stderr.contains("10m"), "{}", run.stderr);
}
