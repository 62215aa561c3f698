//! `talaria mcp login NAME` end to end against the test kit's OAuth-protected MCP
//! server (`mock::OAuthMcpServer`): discovery, dynamic registration, PKCE, the loopback
//! redirect (the test plays the user by following the printed address, or a `BROWSER`
//! script does), the tokens in the bridge's credential namespace, their use by
//! `mcp list`, `mcp test` and a native turn, refresh, and `mcp logout`.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use talaria_tests::codex::signed_in;
use talaria_tests::mock::mcp_oauth::s256;
use talaria_tests::mock::{function_call_events, AuthorizeAnswer, MockServer, OAuthMcpServer};
use talaria_tests::{Run, TestHome};

const NAME: &str = "secure";

fn configure(home: &TestHome, server: &OAuthMcpServer) {
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("config.toml"),
        format!("[mcp_servers.{NAME}]\nurl = \"{}\"\n", server.mcp_url()),
    )
    .unwrap();
}

/// A plain HTTP/1.1 GET: the status, the `Location` header and the body.
fn http_get(url: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The request line in two pieces, as a browser may send it: the listener must read
    // until the head is complete.
    write!(stream, "GET {path}").unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    write!(
        stream,
        " HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("location")
            .then(|| v.trim().to_owned())
    });
    (status, location, body.to_owned())
}

/// `mcp login NAME` running, and the sign-in address it printed.
struct Login {
    child: Child,
    url: String,
    stderr_seen: String,
    stderr: BufReader<std::process::ChildStderr>,
}

fn start_login(home: &TestHome, extra: &[&str]) -> Login {
    let mut args = vec!["mcp", "login", NAME];
    args.extend_from_slice(extra);
    let mut child = home
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "mcp login ended before printing an address:\n{seen}");
        seen.push_str(&line);
        if let Some(url) = line.split_whitespace().find(|w| w.contains("/authorize?")) {
            break url.to_owned();
        }
    };
    Login {
        child,
        url,
        stderr_seen: seen,
        stderr,
    }
}

impl Login {
    /// Plays the user: opens the address, follows the server's redirect to the loopback
    /// listener, and returns what the listener showed.
    fn follow(&self) -> String {
        let (status, location, body) = http_get(&self.url);
        assert_eq!(status, 302, "authorize answered {status}: {body}");
        let back = location.expect("a redirect");
        assert!(back.starts_with("http://127.0.0.1:"), "{back}");
        let (status, _, page) = http_get(&back);
        assert_eq!(status, 200, "{page}");
        page
    }

    fn finish(mut self) -> Run {
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        let mut run = Run::wait(self.child);
        run.stderr = self.stderr_seen + &rest + &run.stderr;
        run
    }
}

/// Signs in (the test following the redirect) and checks the command succeeded.
fn sign_in(home: &TestHome) -> Run {
    let login = start_login(home, &["--no-browser"]);
    let page = login.follow();
    assert!(page.contains("Signed in"), "{page}");
    let run = login.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("signed in to MCP server {NAME}")),
        "{}",
        run.stderr
    );
    run
}

/// The profile's auth.json, parsed.
fn auth_json(home: &TestHome) -> Value {
    match std::fs::read(home.path("auth.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
        Err(_) => Value::Null,
    }
}

/// The tokens stored for the server, in the bridge's namespace.
fn stored(home: &TestHome) -> Value {
    auth_json(home)["providers"]["mcp-bridge"][NAME].clone()
}

/// Every file under the home except the credential store, as text.
fn files_other_than_auth_json(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_other_than_auth_json(&path, out);
        } else if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("auth.json")
        {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

/// No secret the server issued (nor the PKCE verifier) appears in any output or any file
/// of the home but auth.json.
fn assert_no_secret_leaked(home: &TestHome, server: &OAuthMcpServer, runs: &[&Run]) {
    let mut secrets = server.issued_secrets();
    for r in server.token_requests("authorization_code") {
        secrets.push(r.form()["code_verifier"].clone());
    }
    assert!(secrets.len() >= 3, "{secrets:?}");
    let mut places: Vec<(String, String)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        places.push((format!("run {i} stdout"), run.stdout.clone()));
        places.push((format!("run {i} stderr"), run.stderr.clone()));
    }
    files_other_than_auth_json(&home.root(), &mut places);
    let logs = places.iter().filter(|(p, _)| p.contains("log")).count();
    assert!(logs > 0, "no log file was written: {places:?}");
    for secret in &secrets {
        for (place, text) in &places {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} leaked into {place}"
            );
        }
    }
}

#[test]
fn login_follows_the_spec_stores_the_tokens_and_list_test_and_a_turn_use_them() {
    let server = OAuthMcpServer::start();
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    home.set_env("TALARIA_LOG", "trace");
    configure(&home, &server);

    // Before signing in the server is unusable, and says how to fix that.
    let before = home.run(&["mcp", "list"]).ok();
    assert!(
        before.stdout.contains(&format!("talaria mcp login {NAME}")),
        "{}",
        before.stdout
    );
    server.clear_requests();

    let login = sign_in(&home);
    assert!(
        login.stderr.contains("Open this address"),
        "{}",
        login.stderr
    );

    // Discovery from the 401 challenge, then registration, then the code exchange.
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    for expected in [
        "POST /mcp",
        "GET /.well-known/oauth-protected-resource/mcp",
        "GET /.well-known/oauth-authorization-server",
        "POST /register",
        "GET /authorize",
        "POST /token",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected}: {paths:#?}"
        );
    }
    let register = &server.requests_to("/register")[0];
    let registration = register.json();
    let redirect_uri = registration["redirect_uris"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"),
        "{registration}"
    );
    assert_eq!(registration["client_name"], "talaria");
    let clients = server.registered_clients();
    assert_eq!(clients.len(), 1, "{clients:?}");
    let client_id = &clients[0];

    let authorize = &server.requests_to("/authorize")[0];
    let q = |k: &str| authorize.query_param(k).unwrap_or_default();
    assert_eq!(q("response_type"), "code");
    assert_eq!(&q("client_id"), client_id);
    assert_eq!(q("redirect_uri"), redirect_uri);
    assert_eq!(q("code_challenge_method"), "S256");
    assert_eq!(q("resource"), server.mcp_url());
    assert!(!q("state").is_empty());

    let exchanges = server.token_requests("authorization_code");
    assert_eq!(exchanges.len(), 1);
    let exchange = exchanges[0].form();
    assert_eq!(s256(&exchange["code_verifier"]), q("code_challenge"));
    assert_eq!(&exchange["client_id"], client_id);
    assert_eq!(exchange["redirect_uri"], redirect_uri);
    assert_eq!(exchange["resource"], server.mcp_url());
    assert!(server.token_requests("refresh_token").is_empty());

    // The tokens: in the bridge's namespace of the profile's auth.json (0600), nowhere
    // in config.toml.
    let secrets = server.issued_secrets();
    let (access, refresh) = (&secrets[1], &secrets[2]);
    let tokens = stored(&home);
    assert!(tokens.to_string().contains(access.as_str()), "{tokens}");
    assert!(tokens.to_string().contains(refresh.as_str()), "{tokens}");
    let mode = std::fs::metadata(home.path("auth.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let config = std::fs::read_to_string(home.path("config.toml")).unwrap();
    assert!(!config.contains(access.as_str()) && !config.contains(refresh.as_str()));

    // `mcp list` and `mcp test` connect with the bearer.
    server.clear_requests();
    let list = home.run(&["mcp", "list"]).ok();
    assert_eq!(
        list.stdout.trim_end(),
        format!("{NAME}\thttp\tready\tmcp__{NAME}__add, mcp__{NAME}__whoami"),
        "{}",
        list.stderr
    );
    let test = home.run(&["mcp", "test", NAME]).ok();
    assert!(test.stdout.contains("oauth-mock"), "{}", test.stdout);
    assert!(test.stdout.contains("tools (2):"), "{}", test.stdout);
    let bearer = format!("Bearer {access}");
    let posts: Vec<_> = server
        .requests_to("/mcp")
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(posts.len() >= 4, "{posts:?}");
    for r in posts {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()), "{r:?}");
    }

    // A native turn calls the server's tool with the bearer.
    server.clear_requests();
    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        &format!("mcp__{NAME}__whoami"),
        "{}",
    ));
    let turn = home
        .run(&["chat", "-q", "who am I", "--approvals", "auto", "--json"])
        .ok();
    let calls = server.mcp_calls("tools/call");
    assert_eq!(calls.len(), 1, "{}", turn.stderr);
    assert_eq!(calls[0].header("authorization"), Some(bearer.as_str()));
    assert_eq!(calls[0].json()["params"]["name"], "whoami");
    let result = turn
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "tool_result")
        .unwrap_or_else(|| panic!("no tool result: {}", turn.stdout));
    assert!(
        result
            .to_string()
            .contains(&format!("signed in as {client_id}")),
        "{result}"
    );
    // Nothing needed a new token.
    assert!(server.requests_to("/token").is_empty());

    assert_no_secret_leaked(&home, &server, &[&before, &login, &list, &test, &turn]);
}

#[test]
fn an_expired_access_token_is_refreshed_once_and_the_call_goes_through() {
    let server = OAuthMcpServer::start();
    let mock = MockServer::start();
    let (mut home, _) = signed_in(&mock);
    home.set_env("TALARIA_LOG", "trace");
    configure(&home, &server);
    server.set_access_ttl(2);
    let login = sign_in(&home);
    let first = server.issued_secrets();
    let (old_access, old_refresh) = (first[1].clone(), first[2].clone());
    server.set_access_ttl(3600);
    std::thread::sleep(Duration::from_millis(2100));
    server.clear_requests();

    mock.push_events(function_call_events(
        "resp_1",
        "call_1",
        &format!("mcp__{NAME}__add"),
        &json!({"a": 2, "b": 40}).to_string(),
    ));
    let turn = home
        .run(&["chat", "-q", "add", "--approvals", "auto", "--json"])
        .ok();
    let refreshes = server.token_requests("refresh_token");
    assert_eq!(refreshes.len(), 1, "{:#?}", server.requests());
    let form = refreshes[0].form();
    assert_eq!(form["refresh_token"], old_refresh);
    assert_eq!(form["client_id"], server.registered_clients()[0]);
    // The expired token was not sent; the new one was, and the call went through.
    let new_access = server.issued_secrets()[3].clone();
    let calls = server.mcp_calls("tools/call");
    assert_eq!(calls.len(), 1, "{}", turn.stderr);
    assert_eq!(
        calls[0].header("authorization"),
        Some(format!("Bearer {new_access}").as_str())
    );
    for r in server.requests_to("/mcp") {
        assert_ne!(
            r.header("authorization"),
            Some(format!("Bearer {old_access}").as_str())
        );
    }
    assert!(turn.stdout.contains("\"42\""), "{}", turn.stdout);
    // The rotated tokens are stored: the next run needs no refresh.
    let tokens = stored(&home).to_string();
    assert!(
        tokens.contains(&new_access) && !tokens.contains(&old_refresh),
        "{tokens}"
    );
    server.clear_requests();
    let list = home.run(&["mcp", "list"]).ok();
    assert!(list.stdout.contains("ready"), "{}", list.stdout);
    assert!(server.requests_to("/token").is_empty());

    assert_no_secret_leaked(&home, &server, &[&login, &turn, &list]);
}

#[test]
fn a_refused_refresh_names_the_login_command() {
    let server = OAuthMcpServer::start();
    let home = TestHome::new();
    configure(&home, &server);
    server.set_access_ttl(2);
    sign_in(&home);
    server.refuse_refresh(true);
    std::thread::sleep(Duration::from_millis(2100));
    server.clear_requests();

    let list = home.run(&["mcp", "list"]).ok();
    let line = list.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(line.starts_with(&format!("{NAME}\thttp\tfailed")), "{line}");
    assert!(
        line.contains(&format!("talaria mcp login {NAME}")),
        "{line}"
    );
    assert_eq!(server.token_requests("refresh_token").len(), 1);

    let test = home.run(&["mcp", "test", NAME]);
    assert_ne!(test.code, 0);
    assert!(
        test.stderr.contains(&format!("talaria mcp login {NAME}")),
        "{}",
        test.stderr
    );
}

#[test]
fn a_forged_state_or_a_denied_sign_in_fails_clearly_and_stores_nothing() {
    for (answer, says) in [
        (AuthorizeAnswer::ForgeState, "state"),
        (AuthorizeAnswer::Deny, "access_denied"),
    ] {
        let server = OAuthMcpServer::start();
        let home = TestHome::new();
        configure(&home, &server);
        server.set_authorize_answer(answer);
        let login = start_login(&home, &["--no-browser"]);
        let (status, location, _) = http_get(&login.url);
        assert_eq!(status, 302);
        let (_, _, page) = http_get(&location.unwrap());
        assert!(!page.contains("Signed in"), "{answer:?}: {page}");
        let run = login.finish();
        assert_eq!(run.code, 3, "{answer:?}: {}", run.stderr);
        assert!(
            run.stderr.to_lowercase().contains(says),
            "{answer:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("signed in to MCP server"),
            "{}",
            run.stderr
        );
        assert!(stored(&home).is_null(), "{answer:?}: {}", auth_json(&home));
        // No code was exchanged.
        assert!(server.requests_to("/token").is_empty(), "{answer:?}");
    }
}

#[test]
fn logout_removes_the_tokens() {
    let server = OAuthMcpServer::start();
    let home = TestHome::new();
    configure(&home, &server);
    sign_in(&home);
    assert!(!stored(&home).is_null());
    let out = home.run(&["mcp", "logout", NAME]).ok();
    assert!(
        out.stderr
            .contains(&format!("signed out of MCP server {NAME}")),
        "{}",
        out.stderr
    );
    assert!(stored(&home).is_null(), "{}", auth_json(&home));
    for secret in server.issued_secrets() {
        assert!(
            !auth_json(&home).to_string().contains(&secret),
            "{secret} is still stored"
        );
    }
    let list = home.run(&["mcp", "list"]).ok();
    assert!(
        list.stdout.contains(&format!("talaria mcp login {NAME}")),
        "{}",
        list.stdout
    );
    let again = home.run(&["mcp", "logout", NAME]).ok();
    assert!(again.stderr.contains("not signed in"), "{}", again.stderr);
}

/// With a display, the address goes to the user's browser (`BROWSER`, here a script
/// that fetches it and follows the redirect as a browser would); `--no-browser` only
/// prints it.
#[test]
fn login_hands_the_address_to_the_browser_where_there_is_a_display() {
    let server = OAuthMcpServer::start();
    let mut home = TestHome::new();
    configure(&home, &server);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("opened");
    let browser = dir.path().join("browser");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()' \"$1\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    home.set_env("DISPLAY", ":99");
    home.set_env("BROWSER", &browser);

    // --no-browser: printed only; the test's own follow signs in.
    sign_in(&home);
    assert!(!marker.exists(), "--no-browser opened a browser");
    home.run(&["mcp", "logout", NAME]).ok();

    // With a display: the browser script completes the sign-in by itself.
    let run = Run::from_output(home.command(&["mcp", "login", NAME]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let opened = std::fs::read_to_string(&marker).unwrap();
    assert!(opened.contains("/authorize?"), "{opened}");
    assert!(run.stderr.contains(opened.trim()), "{}", run.stderr);
    assert!(!stored(&home).is_null());
}
