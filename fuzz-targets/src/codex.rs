//! What the codex runtime and the ChatGPT provider read from the Codex CLI: its
//! JSON-RPC output, its `config.toml` (where talaria keeps a managed block) and its
//! `auth.json`.

use std::collections::BTreeMap;

use serde_json::json;
use talaria_codex_app_server::migrate::{migrate, without_block, Inputs};
use talaria_codex_app_server::rpc::{read_all, Inbound};
use talaria_openai_codex::codex_import;
use talaria_plugin_api::mcp::McpServer;
use talaria_sdk::redact::redact;

/// The reader over codex's stdout. Property: no line, however broken, stops the
/// reader: a notification after it still arrives, and the inbox ends with `Closed`.
pub fn codex_rpc(data: &[u8]) {
    let mut input = data.to_vec();
    input.extend_from_slice(b"\n{\"method\":\"fuzz/after\",\"params\":{}}\n");
    let (_answers, inbox) = read_all(input.as_slice());
    let n = inbox.len();
    assert!(
        matches!(inbox.last(), Some(Inbound::Closed)),
        "the inbox does not end with Closed: {inbox:?}"
    );
    assert!(
        n >= 2
            && matches!(&inbox[n - 2], Inbound::Notification { method, .. } if method == "fuzz/after"),
        "a line stopped the reader: the notification after it never arrived"
    );
    // The stderr excerpt's redaction: any line, and a planted key never survives it.
    let line = String::from_utf8_lossy(data);
    let planted = format!("{line} Bearer sk-planted-0123456789");
    assert!(
        !redact(&planted).contains("sk-planted"),
        "the planted key survived"
    );
}

/// What `codex-runtime migrate` writes: two MCP servers of the profile, talaria's tool
/// server and one Codex plugin.
fn migration_inputs() -> Inputs {
    let servers = json!({
        "files": { "command": "npx", "args": ["-y", "server-filesystem", "/tmp"],
                   "env": { "DEBUG": "1" }, "timeout": 60.0 },
        "docs": { "url": "https://mcp.example.com/mcp", "headers": { "X-Team": "a b" } },
    });
    let servers = match servers {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    Inputs {
        servers,
        talaria_tools: Some(McpServer {
            command: Some("/usr/local/bin/talaria".into()),
            args: vec!["mcp".into(), "serve".into()],
            ..McpServer::default()
        }),
        plugins: BTreeMap::from([("github@openai-curated".into(), true)]),
    }
}

/// The managed-block editor over any `config.toml`. Properties: when it writes, the
/// text outside the block is what the user had (plus at most the newline a last line
/// lacked), and a second run changes nothing.
pub fn managed_block(data: &[u8]) {
    // The file is read as UTF-8 (`read_to_string`), so other bytes never get here.
    let Ok(existing) = std::str::from_utf8(data) else {
        return;
    };
    let inputs = migration_inputs();
    let Ok(report) = migrate(existing, &inputs) else {
        return;
    };
    let before = match without_block(existing) {
        Ok(text) => text,
        Err(e) => panic!("migrate accepted a file without_block refuses: {e:?}"),
    };
    let after = match without_block(&report.text) {
        Ok(text) => text,
        Err(e) => panic!("the written file has a broken block: {e:?}"),
    };
    let completed = format!("{before}\n");
    assert!(
        after == before || (!before.ends_with('\n') && after == completed),
        "the text outside the block changed:\nbefore: {before:?}\nafter:  {after:?}"
    );
    match migrate(&report.text, &inputs) {
        Ok(again) => {
            assert_eq!(again.text, report.text, "a second run changed the file");
            assert!(!again.changed, "a second run reports a change");
        }
        Err(e) => panic!("the file written is refused by a second run: {e:?}"),
    }
}

/// The import of the Codex CLI's `auth.json`. Property: a login it accepts has both
/// tokens, and the file is left as it was.
pub fn codex_auth_import(data: &[u8]) {
    let Some(path) = crate::file("auth.json", data) else {
        return;
    };
    if let Ok(login) = codex_import::read(&path, 1_800_000_000) {
        let has = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.is_empty());
        assert!(has(&login.tokens.access_token) && has(&login.tokens.refresh_token));
    }
    assert_eq!(std::fs::read(&path).ok().as_deref(), Some(data));
}
