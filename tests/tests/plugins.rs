//! Plugins through the real binary: discovery, loading good and broken libraries,
//! install / enable / disable / remove, and calling a tool through the host.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;
use talaria_tests::{artifacts, TestHome};

fn record<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("no record for {id} in {list:#}"))
}

#[test]
fn first_party_plugins_are_found_next_to_the_binary_without_an_install_step() {
    let home = TestHome::new();
    let list = home.run(&["plugins", "list", "--json"]).ok().json();
    let tools = record(&list, "example-tools");
    assert_eq!(tools["source"], "first-party");
    assert_eq!(tools["status"], "ok");
    assert_eq!(tools["enabled"], true);
    assert_eq!(tools["kinds"], serde_json::json!(["tool"]));
    assert_eq!(tools["version"], "0.1.0");
}

#[test]
fn a_first_party_tool_is_called_through_the_host() {
    let home = TestHome::new();
    let dir = home.dir.path().join("files");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "hello").unwrap();
    let args = serde_json::json!({ "path": dir }).to_string();
    let run = home
        .run(&["plugins", "call", "example-tools", "list_dir", &args])
        .ok();
    assert_eq!(run.stdout, "a.txt\nsub/\n");
}

#[test]
fn run_command_needs_approval_and_without_a_terminal_ask_declines() {
    let home = TestHome::new();
    let marker = home.dir.path().join("ran");
    let args = serde_json::json!({ "command": format!("touch {}", marker.display()) }).to_string();

    let run = home
        .run(&["plugins", "call", "example-tools", "run_command", &args])
        .expect_code(1);
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);
    assert!(run.stdout.contains("not run"), "{}", run.stdout);
    assert!(!marker.exists());

    home.run(&[
        "plugins",
        "call",
        "example-tools",
        "run_command",
        &args,
        "--approvals",
        "deny",
    ])
    .expect_code(1);
    assert!(!marker.exists());

    home.run(&[
        "plugins",
        "call",
        "example-tools",
        "run_command",
        &args,
        "--approvals",
        "auto",
    ])
    .ok();
    assert!(marker.exists());
}

/// Lays out one folder of broken plugins beside a good one and points
/// TALARIA_PLUGIN_PATH at it.
fn broken_plugins(home: &mut TestHome) {
    let root = home.dir.path().join("plugin-path");
    let suffix = std::env::consts::DLL_SUFFIX;
    home.plugin_folder(
        &root.join("panic-init"),
        "tests/fixtures/panic-init",
        "talaria-fixture-panic-init",
        |m| m,
    );
    home.plugin_folder(
        &root.join("wrong-abi"),
        "tests/fixtures/wrong-abi",
        "talaria-fixture-wrong-abi",
        |m| m,
    );
    // The same library, but its manifest claims ABI 2: only the library's own report
    // reveals the mismatch.
    home.plugin_folder(
        &root.join("wrong-abi-lying"),
        "tests/fixtures/wrong-abi",
        "talaria-fixture-wrong-abi",
        |m| {
            m.replace("id = \"wrong-abi\"", "id = \"wrong-abi-lying\"")
                .replace("^3.0", "^2.0")
        },
    );
    home.plugin_folder(
        &root.join("mismatch"),
        "tests/fixtures/word-tools",
        "talaria-fixture-word-tools",
        |m| {
            m.replace("version = \"0.3.0\"", "version = \"9.9.9\"")
                .replace("id = \"word-tools\"", "id = \"mismatch\"")
        },
    );
    let not_plugin = root.join("not-a-plugin");
    std::fs::create_dir_all(&not_plugin).unwrap();
    std::fs::write(
        not_plugin.join("plugin.toml"),
        "id = \"not-a-plugin\"\nversion = \"0.1.0\"\nkind = \"tool\"\nabi = \"^2.0\"\nlibrary = \"talaria_fixture_not_a_plugin\"\n",
    )
    .unwrap();
    std::fs::copy(
        artifacts().library("talaria-fixture-not-a-plugin"),
        not_plugin.join(format!("libtalaria_fixture_not_a_plugin{suffix}")),
    )
    .unwrap();
    let garbage = root.join("garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    std::fs::write(
        garbage.join("plugin.toml"),
        "id = \"garbage\"\nversion = \"0.1.0\"\nkind = \"tool\"\nabi = \"^2.0\"\n",
    )
    .unwrap();
    std::fs::write(
        garbage.join(format!("libgarbage{suffix}")),
        "this is not a library\n",
    )
    .unwrap();
    let no_manifest = root.join("no-manifest");
    std::fs::create_dir_all(&no_manifest).unwrap();
    std::fs::copy(
        artifacts().library("talaria-fixture-word-tools"),
        no_manifest.join(format!("libword{suffix}")),
    )
    .unwrap();
    let bad_manifest = root.join("bad-manifest");
    std::fs::create_dir_all(&bad_manifest).unwrap();
    std::fs::write(
        bad_manifest.join("plugin.toml"),
        "id = \"bad-manifest\"\nversion = \"one\"\nkind = \"tool\"\nabi = \"^2.0\"\n",
    )
    .unwrap();
    home.set_env("TALARIA_PLUGIN_PATH", &root);
}

#[test]
fn broken_plugins_are_reported_by_file_and_reason_and_break_nothing_else() {
    let mut home = TestHome::new();
    broken_plugins(&mut home);
    let list = home.run(&["plugins", "list", "--json"]).ok().json();
    let status = |id: &str| record(&list, id)["status"].as_str().unwrap().to_owned();
    let path = |id: &str| record(&list, id)["path"].as_str().unwrap().to_owned();

    // `plugins list` never runs a plugin's init, so the panicking one lists as ok ...
    assert_eq!(status("panic-init"), "ok");
    assert!(
        status("wrong-abi").contains("^3.0") && status("wrong-abi").contains("2.1.0"),
        "{}",
        status("wrong-abi")
    );
    assert!(
        status("wrong-abi-lying").contains("ABI 3.0.0"),
        "{}",
        status("wrong-abi-lying")
    );
    assert!(
        status("wrong-abi-lying").contains("major versions differ"),
        "{}",
        status("wrong-abi-lying")
    );
    assert!(
        status("mismatch").contains("disagrees") && status("mismatch").contains("9.9.9"),
        "{}",
        status("mismatch")
    );
    assert!(
        status("not-a-plugin").contains("not a talaria plugin"),
        "{}",
        status("not-a-plugin")
    );
    assert!(
        status("garbage").contains("could not open it as a library"),
        "{}",
        status("garbage")
    );
    assert!(
        status("no-manifest").contains("missing manifest"),
        "{}",
        status("no-manifest")
    );
    assert!(
        status("bad-manifest").contains("invalid manifest")
            && status("bad-manifest").contains("version"),
        "{}",
        status("bad-manifest")
    );
    assert!(path("not-a-plugin").ends_with(&format!(
        "libtalaria_fixture_not_a_plugin{}",
        std::env::consts::DLL_SUFFIX
    )));
    assert_eq!(status("example-tools"), "ok");

    // ... and doctor, which does run it, names the file and the panic.
    let doctor = home.run(&["doctor", "--json"]).expect_code(1).json();
    let check = |name: &str| {
        doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}"))
            .clone()
    };
    let panic = check("plugin panic-init");
    assert_eq!(panic["status"], "fail");
    let detail = panic["detail"].as_str().unwrap();
    assert!(
        detail.contains("panicked in init") && detail.contains("fixture init exploded"),
        "{detail}"
    );
    assert!(detail.contains("talaria_fixture_panic_init"), "{detail}");
    assert_eq!(check("plugin example-tools")["status"], "ok");
    assert_eq!(check("plugin wrong-abi")["status"], "fail");

    // The host survived every one of them, and the good plugin still works.
    let text = home.run(&["plugins", "list"]).ok().stdout;
    assert!(
        text.contains("panic-init") && text.contains("example-tools"),
        "{text}"
    );
    home.run(&["plugins", "call", "example-tools", "list_dir", "{}"])
        .ok();
    let run = home
        .run(&["plugins", "call", "panic-init", "anything"])
        .expect_code(4);
    assert!(run.stderr.contains("panicked in init"), "{}", run.stderr);
}

#[test]
fn an_unreadable_plugin_folder_is_a_warning_not_a_failure() {
    let mut home = TestHome::new();
    let root = home.dir.path().join("plugin-path");
    std::fs::create_dir_all(&root).unwrap();
    // A symlink loop cannot be read even by root (CI runs as root, where chmod 000
    // would not stop anything).
    std::os::unix::fs::symlink(root.join("loop"), root.join("loop")).unwrap();
    let missing = home.dir.path().join("typo");
    home.set_env(
        "TALARIA_PLUGIN_PATH",
        format!(
            "{}:{}:{}",
            root.display(),
            root.join("loop").display(),
            missing.display()
        ),
    );
    let run = home.run(&["plugins", "list", "--json"]).ok();
    assert!(
        run.stderr.contains("cannot read plugin folder") && run.stderr.contains("loop"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("typo") && run.stderr.contains("no such folder"),
        "{}",
        run.stderr
    );
    assert_eq!(record(&run.json(), "example-tools")["status"], "ok");
    let doctor = home.run(&["doctor", "--json"]).expect_code(1).json();
    assert!(doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"].as_str().unwrap().contains("loop") && c["status"] == "fail"));
}

fn word_tools_folder(home: &TestHome) -> std::path::PathBuf {
    home.plugin_folder(
        &home.dir.path().join("build/word-tools"),
        "tests/fixtures/word-tools",
        "talaria-fixture-word-tools",
        |m| m,
    )
}

#[test]
fn an_sdk_plugin_is_installed_listed_enabled_per_profile_called_and_removed() {
    let home = TestHome::new();
    let folder = word_tools_folder(&home);
    let run = home
        .run(&["plugins", "install", folder.to_str().unwrap()])
        .ok();
    assert!(
        run.stderr.contains("installed word-tools 0.3.0"),
        "{}",
        run.stderr
    );
    let installed = home.path("plugins/word-tools");
    assert!(installed.join("plugin.toml").is_file());

    let list = home.run(&["plugins", "list", "--json"]).ok().json();
    let rec = record(&list, "word-tools");
    assert_eq!(
        (
            rec["source"].as_str(),
            rec["status"].as_str(),
            rec["enabled"].as_bool()
        ),
        (Some("installed"), Some("ok"), Some(true))
    );

    // Installing twice needs --force.
    let again = home
        .run(&["plugins", "install", folder.to_str().unwrap()])
        .expect_code(2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    home.run(&["plugins", "install", "--force", folder.to_str().unwrap()])
        .ok();

    home.run(&["profile", "create", "work"]).ok();
    home.run(&["-p", "work", "plugins", "disable", "word-tools"])
        .ok();
    let work = home
        .run(&["-p", "work", "plugins", "list", "--json"])
        .ok()
        .json();
    assert_eq!(record(&work, "word-tools")["enabled"], false);
    let default = home.run(&["plugins", "list", "--json"]).ok().json();
    assert_eq!(record(&default, "word-tools")["enabled"], true);

    let out = home
        .run(&[
            "plugins",
            "call",
            "word-tools",
            "count_words",
            r#"{"text":"one two  three"}"#,
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "3");
    let refused = home
        .run(&[
            "-p",
            "work",
            "plugins",
            "call",
            "word-tools",
            "count_words",
            "{}",
        ])
        .expect_code(2);
    assert!(
        refused.stderr.contains("disabled in profile work")
            && refused.stderr.contains("plugins enable word-tools"),
        "{}",
        refused.stderr
    );

    home.run(&["-p", "work", "plugins", "enable", "word-tools"])
        .ok();
    let out = home
        .run(&[
            "-p",
            "work",
            "plugins",
            "call",
            "word-tools",
            "count_words",
            r#"{"text":"a b"}"#,
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "2");

    home.run(&["plugins", "remove", "word-tools"]).ok();
    assert!(!installed.exists());
    home.run(&["plugins", "remove", "word-tools"])
        .expect_code(2);
    let first_party = home
        .run(&["plugins", "remove", "example-tools"])
        .expect_code(2);
    assert!(
        first_party.stderr.contains("first-party") && first_party.stderr.contains("disable"),
        "{}",
        first_party.stderr
    );
}

#[test]
fn a_plugin_that_would_not_load_is_not_installed() {
    let home = TestHome::new();
    let folder = home.plugin_folder(
        &home.dir.path().join("bad"),
        "tests/fixtures/wrong-abi",
        "talaria-fixture-wrong-abi",
        |m| m.replace("^3.0", "^2.0"),
    );
    let run = home
        .run(&["plugins", "install", folder.to_str().unwrap()])
        .expect_code(2);
    assert!(
        run.stderr.contains("not installed") && run.stderr.contains("ABI 2.1.0"),
        "{}",
        run.stderr
    );
    assert!(!home.path("plugins/wrong-abi").exists());
    let run = home
        .run(&["plugins", "install", home.dir.path().to_str().unwrap()])
        .expect_code(2);
    assert!(run.stderr.contains("plugin.toml"), "{}", run.stderr);
}

#[test]
fn a_path_plugin_shadows_the_first_party_one() {
    let mut home = TestHome::new();
    let copy = home.dir.path().join("override/example-tools");
    home.plugin_folder(
        &copy,
        "plugins/example-tools",
        "talaria-example-tools",
        |m| m,
    );
    home.set_env("TALARIA_PLUGIN_PATH", &copy);
    let list = home.run(&["plugins", "list", "--json"]).ok().json();
    assert_eq!(record(&list, "example-tools")["source"], "path");
    let info = home.run(&["plugins", "info", "example-tools"]).ok().stdout;
    assert!(
        info.contains("shadows:") && info.contains("first-party"),
        "{info}"
    );
    assert!(info.contains("run_command"), "{info}");
}

#[test]
fn unknown_ids_are_usage_errors() {
    let home = TestHome::new();
    for args in [
        &["plugins", "enable", "nope"][..],
        &["plugins", "disable", "nope"],
        &["plugins", "remove", "nope"],
        &["plugins", "info", "nope"],
        &["plugins", "call", "nope", "x"],
        &["runtime", "use", "nope"],
        &["runtime", "disable", "nope"],
    ] {
        let run = home.run(args).expect_code(2);
        assert!(run.stderr.contains("nope"), "{args:?}: {}", run.stderr);
    }
    assert!(
        !Path::new(&home.path("config.toml")).exists(),
        "a refused command wrote the config"
    );
}
