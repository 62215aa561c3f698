//! Security review (issue 14): the modes of what talaria creates, secrets kept out of
//! every output, `mcp serve --http` and `plugins install` refusals.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use talaria_tests::codex::{home_for, signed_in};
use talaria_tests::mock::{text_events, MockResponse, MockServer};
use talaria_tests::{artifacts, Run, TestHome};

/// `talaria ARGS` with this home's environment under `umask`, as a shell would start it.
fn run_with_umask(home: &TestHome, umask: &str, args: &[&str]) -> Run {
    let base = home.command(&[]);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(&artifacts().talaria)
        .args(args)
        .stdin(std::process::Stdio::null());
    for (key, value) in base.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    Run::from_output(cmd.output().unwrap())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        }
        out.push(path);
    }
}

#[test]
fn what_talaria_creates_is_the_users_alone_whatever_the_umask() {
    for umask in ["022", "000"] {
        let mock = MockServer::start();
        let mut home = home_for(&mock);
        home.set_env("TALARIA_LOG", "debug");
        // Every file below is made by talaria itself: a device login writes auth.json,
        // a turn the session store and the log, the model list the provider's cache.
        run_with_umask(&home, umask, &["login", "--no-browser"]).ok();
        mock.push_events(text_events("resp_1", &["hi"]));
        run_with_umask(&home, umask, &["chat", "-q", "hello"]).ok();
        run_with_umask(&home, umask, &["models", "--json"]).ok();
        run_with_umask(&home, umask, &["profile", "create", "work"]).ok();
        run_with_umask(&home, umask, &["--profile", "work", "sessions", "list"]).ok();

        let root = home.root();
        let at = |rel: &str| root.join(rel);
        for (file, want) in [
            ("auth.json", 0o600),
            ("sessions.db", 0o600),
            ("logs/talaria.log", 0o600),
            ("logs", 0o700),
            ("profiles/work", 0o700),
            ("plugin-data/openai-codex", 0o700),
        ] {
            assert_eq!(
                mode(&at(file)),
                want,
                "umask {umask}: {file} is {:o}",
                mode(&at(file))
            );
        }
        assert_eq!(mode(&root), 0o700, "umask {umask}: the home");
        let mut all = Vec::new();
        walk(&root, &mut all);
        for path in &all {
            let m = mode(path);
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            if path.is_dir() {
                assert_eq!(m, 0o700, "umask {umask}: folder {name} is {m:o}");
            } else {
                assert_eq!(m & 0o077, 0, "umask {umask}: {name} is {m:o}");
            }
        }
        // SQLite gives its -wal and -shm files the database's mode and deletes them at
        // the last clean close, so they are checked by the walk above only when a run
        // left them behind; their presence is not talaria's to promise.
    }
}

#[test]
fn an_existing_session_store_and_log_that_others_could_read_are_narrowed() {
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    home.set_env("TALARIA_LOG", "debug");
    mock.push_events(text_events("resp_1", &["hi"]));
    home.run(&["chat", "-q", "hello"]).ok();
    for file in ["sessions.db", "logs/talaria.log"] {
        std::fs::set_permissions(home.path(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    home.run(&["sessions", "list"]).ok();
    for file in ["sessions.db", "logs/talaria.log"] {
        assert_eq!(mode(&home.path(file)), 0o600, "{file}");
    }
}

const API_KEY: &str = "sk-test-SECRETKEY0123456789abcdef";

/// What a 401 from an API that echoes the key looks like (OpenAI's own masks most of it;
/// a proxy or a compatible server may not).
fn echoing_401(key: &str) -> MockResponse {
    MockResponse::json(
        401,
        serde_json::json!({"error": {
            "message": format!("Incorrect API key provided: {key}. Check Authorization: Bearer {key}"),
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }}),
    )
}

fn assert_secret_absent(secret: &str, texts: &[(&str, &str)]) {
    for (what, text) in texts {
        assert!(!text.contains(secret), "{what} shows the secret:\n{text}");
    }
}

#[test]
fn an_api_key_the_server_echoes_stays_out_of_errors_json_and_the_log() {
    let mock = MockServer::start();
    mock.set_api_key("some-other-key");
    let mut home = TestHome::new();
    home.set_env("TALARIA_OPENAI_BASE_URL", mock.openai_base_url());
    home.set_env("OPENAI_API_KEY", API_KEY);
    home.set_env("TALARIA_LOG", "trace");
    for _ in 0..4 {
        mock.push_response("/v1/responses", echoing_401(API_KEY));
    }
    let plain = home.run(&["chat", "--provider", "openai-api", "-q", "hi"]);
    assert_ne!(plain.code, 0, "{}", plain.stderr);
    let json = home.run(&["chat", "--provider", "openai-api", "--json", "-q", "hi"]);
    assert_ne!(json.code, 0, "{}", json.stderr);
    // The error still says what went wrong.
    assert!(
        plain.stderr.contains("401") || plain.stderr.to_lowercase().contains("key"),
        "{}",
        plain.stderr
    );
    let log = std::fs::read_to_string(home.path("logs/talaria.log")).unwrap();
    assert_secret_absent(
        API_KEY,
        &[
            ("chat stderr", &plain.stderr),
            ("chat stdout", &plain.stdout),
            ("chat --json stdout", &json.stdout),
            ("chat --json stderr", &json.stderr),
            ("the trace log", &log),
        ],
    );
}

#[test]
fn an_openrouter_key_the_server_echoes_stays_out_of_errors_json_and_the_log() {
    let key = "sk-or-v1-SECRET0123456789abcdef0123";
    let mock = MockServer::start();
    mock.set_api_key("some-other-key");
    let mut home = TestHome::new();
    home.set_env("OPENROUTER_API_KEY", key);
    home.set_env("TALARIA_OPENROUTER_BASE_URL", mock.openai_base_url());
    home.set_env("TALARIA_LOG", "trace");
    for _ in 0..4 {
        mock.push_response("/v1/chat/completions", echoing_401(key));
    }
    let args = [
        "chat",
        "--provider",
        "openrouter",
        "-m",
        "deepseek/deepseek-chat",
    ];
    let plain = home.run(&[&args[..], &["-q", "hi"]].concat());
    assert_ne!(plain.code, 0, "{}", plain.stderr);
    let json = home.run(&[&args[..], &["--json", "-q", "hi"]].concat());
    assert_ne!(json.code, 0, "{}", json.stderr);
    let log = std::fs::read_to_string(home.path("logs/talaria.log")).unwrap();
    assert_secret_absent(
        key,
        &[
            ("chat stderr", &plain.stderr),
            ("chat --json stdout", &json.stdout),
            ("chat --json stderr", &json.stderr),
            ("the trace log", &log),
        ],
    );
}

#[test]
fn chatgpt_tokens_stay_out_of_json_output_and_the_trace_log() {
    let mock = MockServer::start();
    let (mut home, tokens) = signed_in(&mock);
    home.set_env("TALARIA_LOG", "trace");
    mock.push_events(text_events("resp_1", &["hi"]));
    let json = home.run(&["chat", "--json", "-q", "hello"]).ok();
    // A rejected token: the error path too.
    mock.revoke_access(&tokens.access_token);
    let failed = home.run(&["chat", "--json", "-q", "again"]);
    let log = std::fs::read_to_string(home.path("logs/talaria.log")).unwrap();
    for secret in [
        &tokens.access_token,
        &tokens.refresh_token,
        &tokens.id_token,
    ] {
        assert_secret_absent(
            secret,
            &[
                ("chat --json stdout", &json.stdout),
                ("chat --json stderr", &json.stderr),
                ("the failed chat's stdout", &failed.stdout),
                ("the failed chat's stderr", &failed.stderr),
                ("the trace log", &log),
            ],
        );
    }
}

#[test]
fn a_library_that_is_not_a_talaria_plugin_is_not_installed() {
    let home = TestHome::new();
    // An ordinary cdylib with a manifest that claims it is a plugin.
    let folder = home.dir.path().join("src/not-a-plugin");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        "id = \"not-a-plugin\"\nversion = \"0.1.0\"\nkind = \"tool\"\nabi = \"^2.0\"\nlibrary = \"talaria_fixture_not_a_plugin\"\n",
    )
    .unwrap();
    let lib = artifacts().library("talaria-fixture-not-a-plugin");
    std::fs::copy(lib, folder.join(lib.file_name().unwrap())).unwrap();
    let run = home
        .run(&["plugins", "install", folder.to_str().unwrap()])
        .expect_code(2);
    assert!(
        run.stderr.contains("not installed") && run.stderr.contains("not a talaria plugin"),
        "{}",
        run.stderr
    );
    let plugins = home.path("plugins");
    let left: Vec<_> = std::fs::read_dir(&plugins)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "nothing installed, no staging left: {left:?}"
    );
}

#[test]
fn installing_a_plugin_says_what_it_may_do() {
    let home = TestHome::new();
    let folder = home.plugin_folder(
        &home.dir.path().join("src/word-tools"),
        "tests/fixtures/word-tools",
        "talaria-fixture-word-tools",
        |m| m,
    );
    let run = home
        .run(&["plugins", "install", folder.to_str().unwrap()])
        .ok();
    for said in [
        "credentials it may read and change: word-tools",
        "config it receives: [plugin_config.word-tools]",
        "native code",
        "with your user's rights",
        "your access token or API key",
        "call any enabled tool",
    ] {
        assert!(
            run.stderr.contains(said),
            "{said:?} missing:\n{}",
            run.stderr
        );
    }
}

/// A loopback HTTP server that answers every request with `status` and a body echoing
/// the request's headers, as a misconfigured proxy or a chatty server does.
fn header_echoing_server(status: u16) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap_or(0);
                }
                headers.push(line.trim().to_owned());
            }
            let mut body = vec![0u8; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            let echo = serde_json::json!({"error": format!("rejected: {}", headers.join("; "))})
                .to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Nope\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{echo}",
                echo.len()
            );
        }
    });
    url
}

/// `[mcp_servers.X] headers` and `env` hold tokens. A server that echoes them (in an
/// HTTP error body, or on stderr before it dies) must not carry them into `mcp list`,
/// `mcp test`, a turn's warnings or the trace log; the failure itself is still told.
#[test]
fn mcp_header_and_env_secrets_stay_out_of_errors_and_the_log() {
    let header_secret = "hdr-SECRET-0123456789abcdefXYZ";
    let key_secret = "key-SECRET-9876543210fedcbaQRS";
    let env_secret = "env-SECRET-5555aaaa6666bbbbTUV";
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    home.set_env("TALARIA_LOG", "trace");
    let config = format!(
        r#"[mcp_servers.remote]
url = "{}"
headers = {{ Authorization = "Bearer {header_secret}", X-Api-Key = "{key_secret}" }}
connect_timeout = 10

[mcp_servers.gone]
url = "{}"
headers = {{ Authorization = "Bearer {header_secret}" }}
connect_timeout = 10

[mcp_servers.local]
command = "sh"
args = ["-c", "echo \"cannot authenticate with token $API_TOKEN\" >&2; exit 3"]
env = {{ API_TOKEN = "{env_secret}" }}
connect_timeout = 10
"#,
        header_echoing_server(500),
        header_echoing_server(403),
    );
    std::fs::write(home.path("config.toml"), config).unwrap();

    let list = home.run(&["mcp", "list"]);
    let test_remote = home.run(&["mcp", "test", "remote"]);
    let test_gone = home.run(&["mcp", "test", "gone"]);
    let test_local = home.run(&["mcp", "test", "local"]);
    mock.push_events(text_events("resp_1", &["fine"]));
    let chat = home.run(&["chat", "--json", "-q", "hello"]);
    let log = std::fs::read_to_string(home.path("logs/talaria.log")).unwrap();

    // The failures are still explained.
    assert_ne!(test_remote.code, 0, "{}", test_remote.stdout);
    assert!(test_remote.stderr.contains("500"), "{}", test_remote.stderr);
    assert_ne!(test_local.code, 0, "{}", test_local.stdout);
    assert!(
        test_local.stderr.contains("cannot authenticate with token"),
        "{}",
        test_local.stderr
    );
    assert!(chat.stdout.contains("MCP server local"), "{}", chat.stdout);
    for secret in [header_secret, key_secret, env_secret] {
        assert_secret_absent(
            secret,
            &[
                ("mcp list stdout", &list.stdout),
                ("mcp list stderr", &list.stderr),
                ("mcp test remote stderr", &test_remote.stderr),
                ("mcp test remote stdout", &test_remote.stdout),
                ("mcp test gone stderr", &test_gone.stderr),
                ("mcp test local stderr", &test_local.stderr),
                ("mcp test local stdout", &test_local.stdout),
                ("chat --json stdout", &chat.stdout),
                ("chat --json stderr", &chat.stderr),
                ("the trace log", &log),
            ],
        );
    }
}
