//! The seed corpus of the fuzz targets (`fuzz/corpus/TARGET/`), and every input in it
//! run through its target, so the seeds and the inputs kept from earlier crashes stay
//! green in the ordinary test run.
//!
//! The `kit-*` seeds come from the test kit: the Responses and Chat Completions streams
//! its mock backend sends, the JWTs its issuer mints, the plugins' own manifests and the
//! README's config examples; the others are written here. Regenerate them with
//! `TALARIA_BLESS=1 cargo nextest run -p talaria-fuzz-targets --test corpus`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use talaria_fuzz_targets::TARGETS;
use talaria_tests::mock::{
    chat_completion_body, chat_text_chunks, chat_tool_call_chunks, custom_tool_call_events,
    failed_event, function_call_events, mint_jwt, sse_frame, text_events,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn corpus_dir(target: &str) -> PathBuf {
    root().join("fuzz/corpus").join(target)
}

fn sse(events: &[Value]) -> String {
    events.iter().map(sse_frame).collect()
}

fn ws(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

fn chat(chunks: &[Value]) -> String {
    let mut out: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    out.push_str("data: [DONE]\n\n");
    out
}

fn responses_streams() -> Vec<(&'static str, Vec<Value>)> {
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch";
    vec![
        ("text", text_events("r1", &["Hel", "lo ", "wörld"])),
        (
            "function-call",
            function_call_events("r2", "call_1", "read_file", r#"{"path":"a.txt"}"#),
        ),
        (
            "custom-tool-call",
            custom_tool_call_events("r3", "call_2", "apply_patch", patch),
        ),
        (
            "failed",
            vec![failed_event("context_length_exceeded", "too long")],
        ),
    ]
}

/// Every seed: (target, file name, bytes).
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: &[u8]| {
        out.push((target, name.to_owned(), bytes.to_vec()));
    };
    for (name, events) in responses_streams() {
        add("sse", &format!("kit-{name}"), sse(&events).as_bytes());
        add(
            "responses_sse",
            &format!("kit-{name}"),
            sse(&events).as_bytes(),
        );
        add(
            "responses_ws",
            &format!("kit-{name}"),
            ws(&events).as_bytes(),
        );
    }
    add(
        "responses_ws",
        "hand-error-frame",
        br#"{"type":"error","status":429,"error":{"type":"usage_limit_reached","message":"limit"},"headers":{"x-codex-primary-reset-at":"1800000100"}}"#,
    );
    add(
        "responses_ws",
        "hand-connection-limit",
        br#"{"type":"error","error":{"code":"websocket_connection_limit_reached","message":"60 minutes"}}"#,
    );
    let chats = [
        ("text", chat_text_chunks(&["Hel", "lo"], (9, 4))),
        (
            "tool-call",
            chat_tool_call_chunks("call_1", "read_file", &["{\"pa", "th\":\"a\"}"], (9, 4)),
        ),
    ];
    for (name, chunks) in chats {
        add("chat_sse", &format!("kit-{name}"), chat(&chunks).as_bytes());
        add("sse", &format!("kit-chat-{name}"), chat(&chunks).as_bytes());
    }
    add(
        "chat_sse",
        "kit-whole-body",
        chat_completion_body("Hello", (9, 4)).to_string().as_bytes(),
    );
    add(
        "chat_sse",
        "hand-error",
        b"data: {\"error\":{\"message\":\"model overloaded\",\"code\":\"server_error\"}}\n\n",
    );

    let mut http = |name: &str, status: u16, rest: &str| {
        let mut bytes = status.to_be_bytes().to_vec();
        bytes.extend_from_slice(rest.as_bytes());
        add("http_error", name, &bytes);
    };
    http(
        "hand-usage-limit",
        429,
        "retry-after: 30\nx-codex-primary-reset-at: 1800000100\n\n{\"error\":{\"type\":\"usage_limit_reached\",\"message\":\"The usage limit has been reached\",\"resets_at\":1800000200}}",
    );
    http(
        "hand-unauthorized",
        401,
        "x-request-id: req_1\n\n{\"error\":{\"code\":\"token_expired\",\"message\":\"Provided authentication token is expired.\"}}",
    );
    http(
        "hand-cloudflare",
        403,
        "cf-mitigated: challenge\ncf-ray: 8a1b2c3d4e5f-AMS\n\n<html><body>Just a moment...</body></html>",
    );
    http(
        "hand-context",
        400,
        "\n\n{\"error\":{\"code\":\"context_length_exceeded\",\"message\":\"Your input exceeds the context window of this model.\"}}",
    );
    http("hand-plain", 502, "\n\nBad gateway");

    add(
        "codex_rpc",
        "hand-turn",
        concat!(
            "{\"id\":1,\"result\":{\"userAgent\":\"codex\"}}\n",
            "{\"id\":2,\"result\":{\"thread\":{\"id\":\"t1\"}}}\n",
            "{\"method\":\"thread/started\",\"params\":{\"thread\":{\"id\":\"t1\"}}}\n",
            "{\"method\":\"turn/started\",\"params\":{\"threadId\":\"t1\",\"turn\":{\"id\":\"1\",\"status\":\"inProgress\"}}}\n",
            "{\"method\":\"item/agentMessage/delta\",\"params\":{\"threadId\":\"t1\",\"turnId\":\"1\",\"itemId\":\"i1\",\"delta\":\"Hel\"}}\n",
            "{\"id\":0,\"method\":\"item/commandExecution/requestApproval\",\"params\":{\"threadId\":\"t1\",\"turnId\":\"1\",\"itemId\":\"c1\",\"command\":\"ls\"}}\n",
            "{\"method\":\"item/completed\",\"params\":{\"item\":{\"type\":\"agentMessage\",\"id\":\"i1\",\"text\":\"Hello\"}}}\n",
            "{\"id\":3,\"error\":{\"code\":-32001,\"message\":\"Server overloaded; retry later.\"}}\n",
            "{\"method\":\"turn/completed\",\"params\":{\"threadId\":\"t1\",\"turn\":{\"id\":\"1\",\"status\":\"completed\"}},\"emittedAtMs\":1}\n",
        )
        .as_bytes(),
    );

    add(
        "managed_block",
        "hand-user-config",
        concat!(
            "# Codex config, hand written\n",
            "model = \"gpt-5.5\"   # the default model\n",
            "tui = { theme = \"dark\" }\n\n",
            "# My own servers\n",
            "[mcp_servers.files]\n",
            "command = \"my-files\"\n\n",
            "[plugins.\"slack@openai-curated\"]\n",
            "enabled = false\n",
        )
        .as_bytes(),
    );
    add(
        "managed_block",
        "hand-with-block",
        concat!(
            "model = \"gpt-5.5\"\n",
            "# managed by talaria — `talaria codex-runtime migrate` regenerates this section\n",
            "default_permissions = \":workspace\"\n",
            "# end talaria managed section\n",
            "[profiles.x]\n",
            "model = \"o3\"\n",
        )
        .as_bytes(),
    );

    let claims = json!({
        "exp": 1_900_000_000u64,
        "https://api.openai.com/auth": { "chatgpt_account_id": "acc-1", "chatgpt_plan_type": "plus" },
        "https://api.openai.com/profile": { "email": "a@example.com" },
    });
    let access = mint_jwt(&claims);
    let codex_auth = json!({
        "auth_mode": "chatgpt", "OPENAI_API_KEY": null,
        "tokens": { "id_token": mint_jwt(&claims), "access_token": access, "refresh_token": "rt_1", "account_id": "acc-1" },
        "last_refresh": "2026-11-30T10:00:00Z",
    });
    add(
        "codex_auth_import",
        "kit-chatgpt",
        serde_json::to_string_pretty(&codex_auth)
            .unwrap()
            .as_bytes(),
    );
    add(
        "codex_auth_import",
        "hand-api-key",
        br#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test"}"#,
    );
    let stored = json!({
        "version": 1, "updated_at": "2026-11-30T10:00:00Z",
        "providers": { "openai-codex": { "accounts": [{ "access_token": access, "refresh_token": "rt_1" }] } },
        "future_field": true,
    });
    add(
        "credentials",
        "kit-login",
        serde_json::to_string_pretty(&stored).unwrap().as_bytes(),
    );
    add(
        "credentials",
        "hand-newer",
        br#"{"version":2,"providers":{}}"#,
    );

    for entry in std::fs::read_dir(root().join("plugins")).unwrap() {
        let dir = entry.unwrap().path();
        if let Ok(text) = std::fs::read(dir.join("plugin.toml")) {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            add("plugin_manifest", &format!("kit-{name}"), &text);
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (i, block) in readme.split("```toml\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap_or_default();
        add("config_toml", &format!("kit-readme-{i}"), block.as_bytes());
    }
    add(
        "config_toml",
        "hand-everything",
        concat!(
            "[model]\nprovider = \"openai-codex\"\ndefault = \"gpt-5.5\"\nruntime = \"auto\"\n\n",
            "[fallback_model]\nprovider = \"openai-api\"\nmodel = \"gpt-5.4-mini\"\n\n",
            "[mcp_servers.files]\ncommand = \"npx\"\nargs = [\"-y\", \"server-filesystem\"]\ntimeout = 60.0\n\n",
            "[mcp_servers.docs]\nurl = \"https://mcp.example.com/mcp\"\n\n",
            "[providers.local]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:8080/v1\"\n\n",
            "[plugin_config.responses]\nidle_timeout = 300\n",
        )
        .as_bytes(),
    );

    add(
        "apply_patch",
        "hand-every-hunk",
        concat!(
            "*** Begin Patch\n",
            "*** Add File: new.txt\n+one\n+two\n",
            "*** Delete File: old.txt\n",
            "*** Update File: src/main.rs\n",
            "*** Move to: src/lib.rs\n",
            "@@ fn main() {\n-    println!(\"hi\");\n+    println!(\"hello\");\n }\n",
            "@@\n-last\n+final\n*** End of File\n",
            "*** End Patch\n\0",
            "fn main() {\n    println!(\"hi\");\n}\nlast\n",
        )
        .as_bytes(),
    );
    add(
        "apply_patch",
        "hand-heredoc",
        b"<<'EOF'\n*** Begin Patch\n*** Update File: a.txt\n context \xe2\x80\x94 line\n-old\n+new\n*** End Patch\nEOF\n\0context - line\r\nold\r\n",
    );
    out
}

#[test]
fn the_seed_corpus_is_the_test_kit_s() {
    let seeds = seeds();
    if std::env::var_os("TALARIA_BLESS").is_some() {
        for (target, name, bytes) in &seeds {
            let dir = corpus_dir(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (target, name, bytes) in &seeds {
        // Streams carry the mock's clock (`created_at`): compare all but digits.
        let strip =
            |b: &[u8]| -> Vec<u8> { b.iter().copied().filter(|c| !c.is_ascii_digit()).collect() };
        let path = corpus_dir(target).join(name);
        match std::fs::read(&path) {
            Ok(found) if strip(&found) == strip(bytes) => {}
            _ => stale.push(path.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing seeds (regenerate with TALARIA_BLESS=1, see this file): {stale:?}"
    );
}

#[test]
fn every_target_has_seeds_and_every_corpus_input_passes() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let dir = corpus_dir(name);
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "no seeds for {name}");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{} fails {name}", file.display());
            total += 1;
        }
    }
    let size: u64 = TARGETS
        .iter()
        .flat_map(|(name, _)| std::fs::read_dir(corpus_dir(name)).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(size < 1 << 20, "the seed corpus grew to {size} bytes");
    assert!(total > TARGETS.len());
}
