use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn tools() -> McpServer {
    McpServer {
        command: Some("/usr/local/bin/talaria".into()),
        args: vec!["mcp".into(), "serve".into(), "-p".into(), "work".into()],
        env: BTreeMap::from([("TALARIA_HOME".into(), "/home/u/.talaria".into())]),
        ..McpServer::default()
    }
}

fn inputs(servers: serde_json::Value) -> Inputs {
    Inputs {
        servers: serde_json::from_value(servers).unwrap(),
        talaria_tools: Some(tools()),
        plugins: BTreeMap::from([("github@openai-curated".into(), true)]),
    }
}

fn profile_servers() -> serde_json::Value {
    json!({
        "files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                   "env": { "DEBUG": "1" }, "timeout": 60.0, "connect_timeout": 5.0 },
        "docs": { "url": "https://mcp.example.com/mcp", "headers": { "X-Team": "a b" } },
        "old": { "command": "old-server", "enabled": false },
    })
}

/// The text outside the block.
fn outside(text: &str) -> String {
    without_block(text).unwrap()
}

fn block_of(text: &str) -> String {
    let start = text.find(BEGIN).unwrap();
    let end = text.find(END).unwrap() + END.len();
    text[start..end].to_owned()
}

const REAL_WORLD: &str = r#"# Codex config — hand written
model = "gpt-5.5"   # the default model
approval_policy = "on-request"
tui = { theme = "dark", notifications = true }

# My own servers
[mcp_servers.files]
command = "my-files"   # not the profile's
args = ["--root", "/srv"]

[mcp_servers.github]
url = "https://api.githubcopilot.com/mcp/"
bearer_token_env_var = "GH_TOKEN"

[plugins."slack@openai-curated"]
enabled = false

[profiles.fast]
model = "gpt-5.5-mini"
"#;

/// Found by the `managed_block` fuzz target (fuzz-targets/): toml_edit panicked on
/// this file ("all items have spans"); it is refused as invalid TOML instead.
#[test]
fn a_file_the_toml_parser_panics_on_is_refused() {
    let file = "# Cod\":worksfig\ntk@opend =\x00\x00\x00\x00\x00\x00\x00end ==]\n= =e\"]\n=]\n= ?e\"]\n.\x00\x00\x00ehd == fa\t\x00\x00\x00\x00\x00\x00\x00e\x00\x00\x00\x00\x00\x00\x00\x04nd ==]\n= =e\"]\nk@opehd= ?e\"]\nk@opehd == fa\t\x00\x00\x00\x00\x00\x00\x00end ==]\n= =e\"]\nk@o\x00Opehd == fals6\x00 == fals6\x006\x00";
    let Refused(why) = migrate(file, &inputs(profile_servers())).unwrap_err();
    assert!(why.contains("not valid TOML"), "{why}");
}

#[test]
fn a_real_world_file_keeps_every_user_byte_and_gets_one_block_before_its_first_table() {
    let report = migrate(REAL_WORLD, &inputs(profile_servers())).unwrap();
    let text = &report.text;
    assert_eq!(outside(text), REAL_WORLD);
    // Before the first table, after the root keys: its root key stays a root key.
    let block_at = text.find(BEGIN).unwrap();
    assert!(block_at < text.find("# My own servers").unwrap());
    assert!(block_at > text.find("tui = {").unwrap());
    let doc: toml::Table = toml::from_str(text).unwrap();
    assert_eq!(doc["default_permissions"].as_str(), Some(":workspace"));
    assert_eq!(doc["model"].as_str(), Some("gpt-5.5"));
    // The user's `files` is the user's: no duplicate table, a note instead.
    let servers = doc["mcp_servers"].as_table().unwrap();
    assert_eq!(servers["files"]["command"].as_str(), Some("my-files"));
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("files") && n.contains("left to you")));
    assert_eq!(report.servers, ["docs", "old", "talaria-tools"]);
    // Translated into codex's spelling.
    assert_eq!(
        servers["docs"]["url"].as_str(),
        Some("https://mcp.example.com/mcp")
    );
    assert_eq!(
        servers["docs"]["http_headers"]["X-Team"].as_str(),
        Some("a b")
    );
    assert_eq!(servers["old"]["enabled"].as_bool(), Some(false));
    let t = &servers["talaria-tools"];
    assert_eq!(t["command"].as_str(), Some("/usr/local/bin/talaria"));
    assert_eq!(t["env"]["TALARIA_HOME"].as_str(), Some("/home/u/.talaria"));
    // Plugins: the user's own entry is kept, ours added.
    let plugins = doc["plugins"].as_table().unwrap();
    assert_eq!(
        plugins["slack@openai-curated"]["enabled"].as_bool(),
        Some(false)
    );
    assert_eq!(
        plugins["github@openai-curated"]["enabled"].as_bool(),
        Some(true)
    );
    // Idempotent.
    let again = migrate(text, &inputs(profile_servers())).unwrap();
    assert_eq!(&again.text, text);
    assert!(!again.changed);
}

#[test]
fn timeouts_and_stdio_fields_translate() {
    let report = migrate("", &inputs(profile_servers())).unwrap();
    let doc: toml::Table = toml::from_str(&report.text).unwrap();
    let files = &doc["mcp_servers"]["files"];
    assert_eq!(files["tool_timeout_sec"].as_float(), Some(60.0));
    assert_eq!(files["startup_timeout_sec"].as_float(), Some(5.0));
    assert_eq!(files["env"]["DEBUG"].as_str(), Some("1"));
    assert_eq!(files["args"][0].as_str(), Some("-y"));
    assert!(files.get("enabled").is_none());
}

#[test]
fn an_empty_file_gets_just_the_block() {
    let report = migrate("", &inputs(json!({}))).unwrap();
    assert!(report.text.starts_with(BEGIN));
    assert!(report.text.ends_with(&format!("{END}\n")));
    assert_eq!(outside(&report.text), "");
    assert!(report.changed);
}

#[test]
fn an_old_block_is_replaced_in_place_and_nothing_else_moves() {
    let old = format!(
        "model = \"m\"\n{BEGIN}\ndefault_permissions = \":workspace\"\n\n[mcp_servers.gone]\ncommand = \"x\"\n{END}\n[profiles.a]\nmodel = \"n\"\n"
    );
    let report = migrate(&old, &inputs(json!({}))).unwrap();
    assert!(!report.text.contains("gone"));
    assert_eq!(
        outside(&report.text),
        "model = \"m\"\n[profiles.a]\nmodel = \"n\"\n"
    );
    assert_eq!(report.text.matches(BEGIN).count(), 1);
    assert!(report.text.find(BEGIN) < report.text.find("[profiles.a]"));
}

#[test]
fn a_root_key_the_user_sets_is_left_to_the_user() {
    let text = "default_permissions = \":read-only\"\n";
    let report = migrate(text, &inputs(json!({}))).unwrap();
    let doc: toml::Table = toml::from_str(&report.text).unwrap();
    assert_eq!(doc["default_permissions"].as_str(), Some(":read-only"));
    assert!(!report.default_permissions);
}

#[test]
fn an_invalid_file_is_refused_with_the_reason() {
    let err = migrate("model = \"unterminated\n[x\n", &inputs(json!({}))).unwrap_err();
    assert!(err.0.contains("not valid TOML"), "{}", err.0);
    let err = migrate(&format!("{BEGIN}\nx = 1\n"), &inputs(json!({}))).unwrap_err();
    assert!(err.0.contains("no `# end talaria"), "{}", err.0);
}

#[test]
fn an_inline_servers_table_cannot_take_the_block_and_nothing_is_written() {
    let text = "mcp_servers = { mine = { command = \"x\" } }\n[other]\na = 1\n";
    let err = migrate(text, &inputs(json!({}))).unwrap_err();
    assert!(err.0.contains("nothing was written"), "{}", err.0);
}

#[test]
fn servers_that_cannot_translate_are_skipped_with_a_note() {
    let report = migrate(
        "",
        &inputs(json!({
            "nothing": { "args": ["x"] },
            "both": { "command": "c", "url": "http://127.0.0.1/mcp" },
            "odd": { "command": "c", "sampling": true },
        })),
    )
    .unwrap();
    assert!(!report.servers.contains(&"nothing".to_owned()));
    assert!(report.notes.iter().any(|n| n.contains("neither")));
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("both") && n.contains("stdio")));
    assert!(report.notes.iter().any(|n| n.contains("dropped sampling")));
    let doc: toml::Table = toml::from_str(&report.text).unwrap();
    assert!(doc["mcp_servers"]["both"].get("url").is_none());
}

#[test]
fn a_file_without_a_final_newline_gets_one_and_is_otherwise_kept() {
    let text = "model = \"m\"";
    let report = migrate(text, &inputs(json!({}))).unwrap();
    assert_eq!(outside(&report.text), "model = \"m\"\n");
    assert_eq!(
        migrate(&report.text, &inputs(json!({}))).unwrap().text,
        report.text
    );
}

#[test]
fn the_block_is_the_same_whatever_the_file() {
    let a = migrate("", &inputs(profile_servers())).unwrap();
    let b = migrate("x = 1\n[t]\ny = 2\n", &inputs(profile_servers())).unwrap();
    assert_eq!(block_of(&a.text), block_of(&b.text));
}

// ---- property: random user content and random server sets ----

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,8}",
        "[a-z]{1,4}-[a-z]{1,4}",
        Just("default_permissions".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[ -~&&[^\"\\\\]]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("[1, 2, 3]".to_owned()),
        Just("{ a = 1, b = \"two\" }".to_owned()),
        Just("[\n  [1, 2],\n  [3],\n]".to_owned()),
        Just("'''multi\n[not_a_table]\nline'''".to_owned()),
    ]
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof!["# [a-zA-Z ,.]{0,20}".prop_map(|s| s), Just(String::new())]
}

/// A user's config.toml: root keys, then tables (some of them servers and plugins).
fn user_file() -> impl Strategy<Value = String> {
    let root = prop::collection::btree_map(key(), (scalar(), comment()), 0..5);
    let table_name = prop_oneof![
        "[a-z]{1,6}".prop_map(|s| s),
        "[a-z]{1,6}".prop_map(|s| format!("mcp_servers.{s}")),
        "[a-z]{1,6}".prop_map(|s| format!("plugins.\"{s}@m\"")),
        "[a-z]{1,6}".prop_map(|s| format!("profiles.{s}")),
    ];
    let tables = prop::collection::btree_map(
        table_name,
        prop::collection::btree_map("[a-z]{1,6}", scalar(), 0..3),
        0..4,
    );
    (root, tables, comment(), any::<bool>()).prop_map(|(root, tables, lead, final_newline)| {
        let mut s = String::new();
        if !lead.is_empty() {
            s.push_str(&lead);
            s.push('\n');
        }
        for (k, (v, c)) in root {
            s.push_str(&format!("{k} = {v} {c}\n"));
        }
        for (name, keys) in tables {
            s.push_str(&format!("\n[{name}]\n"));
            for (k, v) in keys {
                s.push_str(&format!("{k} = {v}\n"));
            }
        }
        if !final_newline {
            s = s.trim_end_matches('\n').to_owned();
        }
        s
    })
}

fn server_set() -> impl Strategy<Value = serde_json::Value> {
    let server = prop_oneof![
        (
            "[a-z/]{1,10}",
            prop::collection::vec("[a-zA-Z0-9 ._-]{0,8}", 0..3),
            any::<bool>()
        )
            .prop_map(|(c, a, e)| json!({ "command": c, "args": a, "enabled": e })),
        ("[a-z]{1,8}", 1.0f64..600.0).prop_map(|(h, t)| json!({
            "url": format!("https://{h}.example/mcp"), "timeout": t, "headers": { "X-K": h }
        })),
    ];
    prop::collection::btree_map("[a-z]{1,6}", server, 0..4)
        .prop_map(|m| serde_json::to_value(m).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn user_content_is_kept_the_result_parses_and_a_second_run_changes_nothing(
        file in user_file(),
        servers in server_set(),
    ) {
        // Only valid TOML is the user's starting point (the generator can repeat a key).
        prop_assume!(toml_edit::Document::parse(file.as_str()).is_ok());
        let inputs = inputs(servers);
        let first = match migrate(&file, &inputs) {
            Ok(r) => r,
            // Refusing is allowed only when the user's own tables leave no room.
            Err(Refused(why)) => {
                prop_assert!(why.contains("nothing was written"), "{why}");
                return Ok(());
            }
        };
        // Byte for byte, but for a final newline added when the block goes at the end.
        let kept = outside(&first.text);
        prop_assert!(
            kept == file || (kept == format!("{file}\n") && first.text.ends_with(&format!("{END}\n"))),
            "kept {:?}\nfile {:?}", kept, file
        );
        prop_assert!(toml_edit::Document::parse(first.text.as_str()).is_ok());
        prop_assert_eq!(first.text.matches(BEGIN).count(), 1);
        let second = migrate(&first.text, &inputs).unwrap();
        prop_assert_eq!(&second.text, &first.text);
        prop_assert!(!second.changed);
    }
}
