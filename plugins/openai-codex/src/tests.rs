//! Behaviour through the ABI (`talaria_sdk::testing::Harness`), against the test kit's
//! mock issuer and backend where a test needs one.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use talaria_sdk::methods::{self, Method};
use talaria_sdk::provider::{
    Account, AccountStatus, Empty, Endpoint, LogoutResult, ModelList, ModelSource, ProviderCall,
    ProviderInfo,
};
use talaria_sdk::testing::Harness;
use talaria_sdk::time::now_secs;
use talaria_sdk::{Error, ErrorKind, Event, Exports, Host};
use talaria_tests::codex::{pool_entry, SEEDED_AT};
use talaria_tests::mock::{mint_jwt, AccountSpec, MockResponse, MockServer, Tokens, CLIENT_ID};

use crate::login::{place_login, NewLogin};
use crate::store::{
    parse_pool, IssuedTokens, Pool, SOURCE_AUTH_ADD, SOURCE_CODEX_IMPORT, SOURCE_DEVICE_CODE,
};
use crate::{CodexProvider, PROVIDER_ID};

// ---------------------------------------------------------------- fixtures

/// The account behind entry `id`: `acc-{id}`, `user-{id}`, on the plus plan.
fn account(id: &str, email: &str) -> AccountSpec {
    AccountSpec::new(email, &format!("acc-{id}"), &format!("user-{id}"), "plus")
}

/// A stored entry whose access token is valid for `ttl` more seconds. No issuer knows
/// its tokens; its refresh token is `rt-secret-{id}`, which the leak checks look for.
fn entry(id: &str, email: &str, ttl: i64) -> Value {
    let who = account(id, email);
    let tokens = Tokens {
        refresh_token: format!("rt-secret-{id}"),
        ..who.offline_tokens(ttl)
    };
    pool_entry(id, SOURCE_DEVICE_CODE, &who, &tokens)
}

/// A stored entry with tokens `mock` issued: its issuer refreshes them and its backend
/// takes them.
fn issued_entry(mock: &MockServer, id: &str, email: &str, ttl: i64) -> (Value, Tokens) {
    let who = account(id, email);
    let tokens = mock.issue_tokens(&who, ttl);
    (pool_entry(id, SOURCE_DEVICE_CODE, &who, &tokens), tokens)
}

fn pool(entries: Vec<Value>) -> Value {
    json!({ "credentials": entries })
}

/// Provider methods' params carry the provider id beside their own fields (`null` = none).
fn with_provider(params: Value) -> Value {
    let mut params = if params.is_null() { json!({}) } else { params };
    params["provider"] = json!(PROVIDER_ID);
    params
}

struct Setup {
    harness: Harness,
    host: Host,
}

fn start(credentials: Option<Value>, config: Value, issuer: &str, base: &str) -> Setup {
    let slot: Arc<Mutex<Option<Host>>> = Arc::default();
    let (issuer, base, keep) = (issuer.to_owned(), base.to_owned(), slot.clone());
    let mut builder = Harness::builder().config(config);
    if let Some(c) = credentials {
        builder = builder.credentials(PROVIDER_ID, c);
    }
    let harness = builder
        .start(move |host: Host| {
            *keep.lock().unwrap() = Some(host.clone());
            Ok(Exports::new().provider(CodexProvider::new(host, &issuer, &base)))
        })
        .unwrap();
    let host = slot.lock().unwrap().clone().unwrap();
    Setup { harness, host }
}

/// Nothing listens here: requests fail fast with "connection refused".
const DEAD: &str = "http://127.0.0.1:9";

fn offline(credentials: Value) -> Setup {
    start(
        Some(credentials),
        Value::Null,
        DEAD,
        "https://backend.invalid/codex",
    )
}

/// The provider with `credentials`, signing in and refreshing at `mock`'s issuer and
/// asking its Codex backend.
fn against(mock: &MockServer, credentials: Option<Value>) -> Setup {
    start(
        credentials,
        Value::Null,
        &mock.issuer_url(),
        &mock.codex_base_url(),
    )
}

impl Setup {
    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<(T, Vec<Event>), Error> {
        let (v, events) = self.raw(method, params)?;
        Ok((serde_json::from_value(v).unwrap(), events))
    }
    /// A provider method of `openai-codex`, through the ABI, with its raw result.
    fn raw(&self, method: &str, params: Value) -> Result<(Value, Vec<Event>), Error> {
        self.harness.call(method, with_provider(params))
    }
    fn resolve(&self, params: Value) -> Result<Endpoint, Error> {
        self.call(methods::ProviderResolve::NAME, params)
            .map(|(e, _)| e)
    }
    fn report(&self, params: Value) -> Result<Endpoint, Error> {
        self.call(methods::ProviderReport::NAME, params)
            .map(|(e, _)| e)
    }
    fn accounts(&self) -> Vec<Account> {
        self.call(methods::ProviderAccounts::NAME, json!({}))
            .unwrap()
            .0
    }
    fn stored(&self) -> Value {
        self.harness.credentials(PROVIDER_ID)
    }
    /// Another process rewriting the store.
    fn external_write(&self, f: impl Fn(&mut Value)) {
        self.host
            .update_credentials(PROVIDER_ID, |mut v| {
                f(&mut v);
                Ok(Some(v))
            })
            .unwrap();
    }
}

fn bearer(e: &Endpoint) -> &str {
    e.headers["authorization"].strip_prefix("Bearer ").unwrap()
}

/// Strings that must never show up in what users or logs see.
fn assert_no_secrets(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "a secret leaked into: {text}");
    }
    assert!(
        !text.contains("rt-secret"),
        "a refresh token leaked into: {text}"
    );
    assert!(!text.contains("eyJ"), "a JWT leaked into: {text}");
}

fn assert_logs_clean(s: &Setup, secrets: &[&str]) {
    for (_, line) in s.harness.logs() {
        assert_no_secrets(&line, secrets);
    }
}

// ---------------------------------------------------------------- resolve & endpoint

#[test]
fn resolve_builds_the_codex_headers() {
    let seed = pool(vec![entry("c-000000000001", "a@example.com", 3600)]);
    let s = offline(seed.clone());
    let e = s
        .resolve(json!({"session_id": "sess-1", "model": "gpt-5.5"}))
        .unwrap();
    assert_eq!(e.base_url, "https://backend.invalid/codex");
    assert_eq!(e.credential.as_deref(), Some("c-000000000001"));
    assert!(e.websocket && e.zstd);
    assert_eq!(e.rate_limit_headers, ["x-codex"]);
    assert!(e
        .hint_for(talaria_sdk::transport::FailureClass::Quota, "")
        .is_some_and(|h| h.contains("talaria auth add openai-codex")));
    assert!(e.body.is_empty());
    let h = &e.headers;
    assert!(h["authorization"].starts_with("Bearer eyJ"));
    assert_eq!(h["chatgpt-account-id"], "acc-c-000000000001");
    assert_eq!(h["originator"], "codex_cli_rs");
    assert_eq!(h["version"], "0.169.0");
    assert!(
        h["user-agent"].starts_with("codex_cli_rs/0.169.0 ("),
        "{}",
        h["user-agent"]
    );
    assert!(h["user-agent"].ends_with(&format!("(talaria {})", env!("CARGO_PKG_VERSION"))));
    assert_eq!(h["session_id"], "sess-1");
    assert_eq!(h["x-client-request-id"], "sess-1");
    assert!(!h.contains_key("x-openai-fedramp"));
    assert!(
        h.keys().all(|k| k.chars().all(|c| !c.is_ascii_uppercase())),
        "header names are lowercase"
    );

    let fast = s.resolve(json!({"fast": true})).unwrap();
    assert_eq!(fast.body.get("service_tier"), Some(&json!("priority")));
    assert!(
        !fast.headers.contains_key("session_id")
            && !fast.headers.contains_key("x-client-request-id")
    );
    // Not due for refresh, so nothing went to the (dead) issuer and nothing changed but `current`.
    let stored = s.stored();
    assert_eq!(stored["current"], "c-000000000001");
    assert_eq!(
        stored["credentials"][0]["tokens"],
        seed["credentials"][0]["tokens"]
    );
}

#[test]
fn fedramp_accounts_get_the_fedramp_header_and_the_stored_account_id_is_a_fallback() {
    let mut e = entry("c-1", "f@example.com", 3600);
    e["tokens"]["id_token"] = json!(mint_jwt(
        &json!({"https://api.openai.com/auth": {"chatgpt_account_is_fedramp": true}})
    ));
    e["tokens"]["access_token"] = json!(mint_jwt(&json!({"exp": now_secs() + 3600})));
    e["account_id"] = json!("stored-acc");
    let s = offline(pool(vec![e]));
    let ep = s.resolve(json!({})).unwrap();
    assert_eq!(ep.headers["x-openai-fedramp"], "true");
    assert_eq!(ep.headers["chatgpt-account-id"], "stored-acc");
}

#[test]
fn resolve_without_a_login_says_to_log_in() {
    for creds in [None, Some(pool(vec![]))] {
        let s = start(creds, Value::Null, DEAD, DEAD);
        let err = s.resolve(json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert_eq!(
            err.message,
            "not logged in to openai-codex: run `talaria login`"
        );
    }
}

#[test]
fn a_malformed_store_is_an_error_not_a_reset() {
    let s = offline(json!({"credentials": {"oops": 1}}));
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(err.message.contains("`talaria login`"), "{}", err.message);
    let err = s
        .raw(methods::ProviderAccounts::NAME, json!({}))
        .unwrap_err();
    assert!(err.message.contains("`talaria login`"));
    assert_eq!(
        s.stored(),
        json!({"credentials": {"oops": 1}}),
        "left as it was"
    );
}

#[test]
fn quarantined_and_cooling_pools_explain_themselves() {
    let mut a = entry("c-a", "a@example.com", 3600);
    a["status"] = json!("needs_relogin");
    a["status_code"] = json!("refresh_token_reused");
    a["status_detail"] = json!("its refresh token was already used by another client (Codex CLI, VS Code or another profile sharing this login)");
    let s = offline(pool(vec![a.clone()]));
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message
            .contains("a@example.com: its refresh token was already used by another client"),
        "{}",
        err.message
    );
    assert!(
        err.message
            .contains("`talaria login` (sign in as a@example.com)"),
        "{}",
        err.message
    );

    let mut b = entry("c-b", "b@example.com", 3600);
    b["cooldown_until"] = json!(now_secs() + 12 * 60);
    b["cooldown_reason"] = json!("rate limited (429)");
    let s = offline(pool(vec![a, b]));
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert!(
        err.message.contains(
            "all 2 openai-codex accounts are rate-limited; the first is usable again in 12m"
        ),
        "{}",
        err.message
    );
    assert!(err.data.unwrap()["available_at"].as_u64().unwrap() > now_secs());
}

#[test]
fn fill_first_uses_the_first_usable_and_writes_only_on_change() {
    let seed = json!({"current": "c-a", "credentials": [entry("c-a", "a@x", 3600), entry("c-b", "b@x", 3600)]});
    let s = offline(seed.clone());
    for _ in 0..3 {
        assert_eq!(
            s.resolve(json!({})).unwrap().credential.as_deref(),
            Some("c-a")
        );
    }
    assert_eq!(
        s.stored(),
        seed,
        "nothing to write while the current credential stays"
    );
}

#[test]
fn round_robin_rotates_and_counts() {
    let seed = pool(vec![
        entry("c-a", "a@x", 3600),
        entry("c-b", "b@x", 3600),
        entry("c-c", "c@x", 3600),
    ]);
    let s = start(
        Some(seed),
        json!({"pool_strategy": "round_robin"}),
        DEAD,
        DEAD,
    );
    let picked: Vec<String> = (0..4)
        .map(|_| s.resolve(json!({})).unwrap().credential.unwrap())
        .collect();
    assert_eq!(picked, ["c-a", "c-b", "c-c", "c-a"]);
    let stored = s.stored();
    assert_eq!(stored["current"], "c-a");
    assert_eq!(stored["credentials"][0]["request_count"], 2);
    assert_eq!(stored["credentials"][1]["request_count"], 1);
    // `accounts` marks the one the next resolve will pick, without writing.
    let before = s.stored();
    let accounts = s.accounts();
    assert_eq!(
        accounts
            .iter()
            .filter(|a| a.current)
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["c-b"]
    );
    assert_eq!(s.stored(), before);
}

#[test]
fn an_unknown_strategy_is_a_clear_error() {
    let s = start(
        Some(pool(vec![entry("c-a", "a@x", 3600)])),
        json!({"pool_strategy": "random"}),
        DEAD,
        DEAD,
    );
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message.contains("\"fill_first\"") && err.message.contains("\"round_robin\""),
        "{}",
        err.message
    );
}

#[test]
fn info_names_the_responses_wire_api_and_a_login() {
    let s = offline(pool(vec![]));
    let (info, _) = s
        .harness
        .call_method::<methods::ProviderInfoMethod>(&ProviderCall::new(PROVIDER_ID, Empty {}))
        .unwrap();
    assert_eq!(
        info,
        ProviderInfo {
            id: PROVIDER_ID.into(),
            wire_api: "responses".into(),
            supports_login: true
        }
    );
}

#[test]
fn unknown_methods_are_refused() {
    let s = offline(pool(vec![]));
    assert_eq!(
        s.raw("provider.teleport", json!({})).unwrap_err().kind,
        ErrorKind::UnknownMethod
    );
    assert_eq!(
        s.harness
            .call(methods::ToolCall::NAME, json!({}))
            .unwrap_err()
            .kind,
        ErrorKind::UnknownMethod
    );
}

// ---------------------------------------------------------------- accounts, remove, logout

#[test]
fn accounts_show_status_and_never_tokens() {
    let mut q = entry("c-q", "q@example.com", 3600);
    q["status"] = json!("needs_relogin");
    q["status_detail"] = json!("its refresh token has expired");
    q["tokens"] = json!({"id_token": AccountSpec::new("q@example.com", "acc-q", "u-q", "pro").offline_tokens(99).id_token});
    let mut r = entry("c-r", "r@example.com", 3600);
    r["cooldown_until"] = json!(now_secs() + 600);
    r["cooldown_reason"] = json!("rate limited (429)");
    let x = entry("c-x", "x@example.com", -10);
    let ok = entry("c-o", "o@example.com", 3600);
    let s = offline(pool(vec![q, r, x, ok]));
    let accounts = s.accounts();
    let status: Vec<_> = accounts.iter().map(|a| a.status).collect();
    assert_eq!(
        status,
        [
            AccountStatus::NeedsRelogin,
            AccountStatus::RateLimited,
            AccountStatus::Expired,
            AccountStatus::Ok
        ]
    );
    assert_eq!(
        accounts.iter().map(|a| a.index).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        accounts[0].status_detail.as_deref(),
        Some("its refresh token has expired")
    );
    assert!(accounts[1].available_at.unwrap() > now_secs());
    assert!(
        accounts[2].current,
        "the expired one is still usable (it refreshes on use)"
    );
    assert_eq!(accounts[3].plan.as_deref(), Some("plus"));
    assert_eq!(accounts[3].email.as_deref(), Some("o@example.com"));
    assert_eq!(accounts[3].account_id.as_deref(), Some("acc-c-o"));
    assert_eq!(accounts[3].kind, "oauth");
    assert!(accounts[3].expires_at.unwrap() > now_secs());
    assert_no_secrets(&serde_json::to_string(&accounts).unwrap(), &[]);
}

#[test]
fn remove_account_checks_the_range() {
    let s = offline(
        json!({"current": "c-b", "credentials": [entry("c-a", "a@x", 3600), entry("c-b", "b@x", 3600)]}),
    );
    let err = s
        .raw(methods::ProviderRemoveAccount::NAME, json!({"index": 3}))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(err.message.contains("1 to 2"), "{}", err.message);
    assert!(s
        .raw(methods::ProviderRemoveAccount::NAME, json!({"index": 0}))
        .is_err());
    let (removed, _): (Account, _) = s
        .call(methods::ProviderRemoveAccount::NAME, json!({"index": 2}))
        .unwrap();
    assert_eq!(
        (removed.id.as_str(), removed.label.as_str(), removed.index),
        ("c-b", "b@x", 2)
    );
    let stored = s.stored();
    assert_eq!(stored["credentials"].as_array().unwrap().len(), 1);
    assert!(
        stored.get("current").is_none(),
        "the removed one is no longer current"
    );
}

#[test]
fn logout_removes_everything() {
    let s = offline(pool(vec![
        entry("c-a", "a@x", 3600),
        entry("c-b", "b@x", 3600),
    ]));
    let (out, _): (LogoutResult, _) = s.call(methods::ProviderLogout::NAME, json!({})).unwrap();
    assert_eq!(out.removed, 2);
    assert_eq!(s.stored(), Value::Null);
    let (out, _): (LogoutResult, _) = s.call(methods::ProviderLogout::NAME, Value::Null).unwrap();
    assert_eq!(out.removed, 0);
}

// ---------------------------------------------------------------- refresh

#[test]
fn a_due_token_is_refreshed_under_the_lock_before_use() {
    let mock = MockServer::start();
    let (seed, old) = issued_entry(&mock, "c-a", "a@example.com", 60);
    // By the refresh the account has moved to another plan and workspace.
    mock.account(AccountSpec::new(
        "a@example.com",
        "acc-new",
        "user-new",
        "pro",
    ));
    let s = against(&mock, Some(pool(vec![seed])));
    let e = s.resolve(json!({})).unwrap();
    let refreshes = mock.requests_to("/oauth/token");
    assert_eq!(refreshes.len(), 1);
    let req = &refreshes[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["client_id"], CLIENT_ID);
    assert_eq!(body["refresh_token"], old.refresh_token.as_str());
    let new = mock.issued_tokens().pop().unwrap();
    let stored = &s.stored()["credentials"][0];
    assert_eq!(bearer(&e), new.access_token);
    assert_eq!(stored["tokens"]["access_token"], new.access_token.as_str());
    assert_eq!(
        stored["tokens"]["refresh_token"],
        new.refresh_token.as_str()
    );
    assert_eq!(stored["plan"], "pro");
    assert_eq!(stored["account_id"], "acc-new");
    assert_eq!(e.headers["chatgpt-account-id"], "acc-new");
    assert_ne!(stored["last_refresh"], SEEDED_AT);
    assert_eq!(stored["status"], "ok");
    // Fresh now: no second refresh.
    s.resolve(json!({})).unwrap();
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    assert!(s
        .harness
        .logs()
        .iter()
        .any(|(_, l)| l == "refreshed openai-codex credential a@example.com"));
    assert_logs_clean(&s, &[&old.refresh_token, &new.refresh_token]);
}

#[test]
fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let mock = MockServer::start();
    mock.rotate_refresh_tokens(false);
    let (seed, old) = issued_entry(&mock, "c-a", "a@example.com", -5);
    let s = against(&mock, Some(pool(vec![seed])));
    s.resolve(json!({})).unwrap();
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    let stored = &s.stored()["credentials"][0]["tokens"];
    assert_eq!(stored["refresh_token"], old.refresh_token.as_str());
    assert_eq!(
        stored["access_token"],
        mock.issued_tokens().pop().unwrap().access_token.as_str()
    );
}

#[test]
fn a_terminal_refresh_error_quarantines_and_moves_on() {
    let mock = MockServer::start();
    let (a, a_tokens) = issued_entry(&mock, "c-a", "a@example.com", 30);
    let (b, b_tokens) = issued_entry(&mock, "c-b", "b@example.com", 30);
    // Another client (the Codex CLI, another profile) already spent a's refresh token.
    mock.spend_refresh_token(&a_tokens.refresh_token);
    let s = against(&mock, Some(pool(vec![a, b])));
    let e = s.resolve(json!({})).unwrap();
    assert_eq!(e.credential.as_deref(), Some("c-b"));
    let stored = s.stored();
    let a = &stored["credentials"][0];
    assert_eq!(a["status"], "needs_relogin");
    assert_eq!(a["status_code"], "refresh_token_reused");
    assert!(a["status_detail"]
        .as_str()
        .unwrap()
        .contains("another client"));
    assert!(
        a["tokens"].get("access_token").is_none() && a["tokens"].get("refresh_token").is_none()
    );
    assert!(
        a["tokens"]["id_token"].is_string(),
        "the id token stays for the label and identity"
    );
    assert_eq!(stored["current"], "c-b");
    let sent: Vec<String> = mock
        .requests_to("/oauth/token")
        .iter()
        .map(|r| r.json()["refresh_token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        [
            a_tokens.refresh_token.clone(),
            b_tokens.refresh_token.clone()
        ]
    );

    // The quarantined entry never goes to the network again.
    s.resolve(json!({})).unwrap();
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 2);
    let accounts = s.accounts();
    assert_eq!(accounts[0].status, AccountStatus::NeedsRelogin);
    let rotated = mock.issued_tokens().pop().unwrap().refresh_token;
    assert_logs_clean(
        &s,
        &[&a_tokens.refresh_token, &b_tokens.refresh_token, &rotated],
    );
}

#[test]
fn a_lone_quarantined_login_is_an_auth_error_with_the_command() {
    // The issuer never handed out `rt-secret-c-a`: it answers 400 invalid_grant.
    let mock = MockServer::start();
    let s = against(&mock, Some(pool(vec![entry("c-a", "a@example.com", -1)])));
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message.contains("a@example.com")
            && err
                .message
                .contains("`talaria login` (sign in as a@example.com)"),
        "{}",
        err.message
    );
    assert_no_secrets(&err.message, &[]);
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(
        mock.count("/oauth/token", "refresh_token"),
        1,
        "no network call for a quarantined credential"
    );
}

#[test]
fn transient_refresh_failures_keep_the_login_untouched() {
    for (status, kind) in [
        (500u16, ErrorKind::Network),
        (503, ErrorKind::Network),
        (429, ErrorKind::RateLimited),
    ] {
        let mock = MockServer::start();
        mock.push_response(
            "/oauth/token",
            MockResponse::json(status, json!({"error": {"code": "invalid_grant"}}))
                .with_header("retry-after", "30"),
        );
        let seed = json!({"current": "c-a", "credentials": [entry("c-a", "a@example.com", 30)]});
        let s = against(&mock, Some(seed.clone()));
        let err = s.resolve(json!({})).unwrap_err();
        assert_eq!(err.kind, kind, "{status}");
        assert!(
            err.message.contains("transiently") && err.message.contains("retry"),
            "{}",
            err.message
        );
        assert_eq!(s.stored(), seed, "{status}: nothing written");
        assert_eq!(mock.count("/oauth/token", "refresh_token"), 1, "{status}");
    }
    // No connection at all.
    let seed = json!({"current": "c-a", "credentials": [entry("c-a", "a@example.com", 30)]});
    let s = start(Some(seed.clone()), Value::Null, DEAD, DEAD);
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Network);
    assert_eq!(s.stored(), seed);
}

#[test]
fn another_4xx_is_an_auth_error_but_not_a_quarantine() {
    // The reply echoes the token it was sent: the quoted excerpt must not.
    let mock = MockServer::start();
    mock.push_response(
        "/oauth/token",
        MockResponse::error(401, "token_expired", "bad token rt-secret-c-a"),
    );
    let seed = json!({"current": "c-a", "credentials": [entry("c-a", "a@example.com", 30)]});
    let s = against(&mock, Some(seed.clone()));
    let err = s.resolve(json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message.contains("401") && err.message.contains("token_expired"),
        "{}",
        err.message
    );
    assert_no_secrets(&err.message, &[]);
    assert_logs_clean(&s, &[]);
    assert_eq!(s.stored(), seed);
}

#[test]
fn tokens_another_process_stored_are_adopted_without_a_refresh() {
    let mock = MockServer::start();
    let s = against(&mock, Some(pool(vec![entry("c-a", "a@example.com", 3600)])));
    let first = s.resolve(json!({})).unwrap();
    // Another process refreshes: a new access token lands in the store.
    let newer = account("c-a", "a@example.com")
        .offline_tokens(7200)
        .access_token;
    let n = newer.clone();
    s.external_write(move |v| v["credentials"][0]["tokens"]["access_token"] = json!(n));
    let e = s
        .report(json!({"credential": "c-a", "status": 401, "request": {"session_id": "s"}}))
        .unwrap();
    assert_eq!(bearer(&e), newer);
    assert_ne!(bearer(&first), newer);
    assert_eq!(e.headers["session_id"], "s");
    assert_eq!(mock.requests(), [], "adopting needs no network");
}

#[test]
fn a_401_refreshes_once_then_benches_and_rotates() {
    let mock = MockServer::start();
    let (a, a_tokens) = issued_entry(&mock, "c-a", "a@example.com", 3600);
    let (b, _) = issued_entry(&mock, "c-b", "b@example.com", 3600);
    let s = against(&mock, Some(pool(vec![a, b])));
    let e1 = s.resolve(json!({})).unwrap();
    assert_eq!(e1.credential.as_deref(), Some("c-a"));
    // First 401: a forced refresh.
    let e2 = s
        .report(json!({"credential": "c-a", "status": 401}))
        .unwrap();
    assert_eq!(e2.credential.as_deref(), Some("c-a"));
    assert_ne!(bearer(&e2), bearer(&e1));
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    assert_eq!(
        mock.requests_to("/oauth/token")[0].json()["refresh_token"],
        a_tokens.refresh_token.as_str()
    );
    let rotated = mock.issued_tokens().pop().unwrap();
    assert_eq!(bearer(&e2), rotated.access_token);
    assert_eq!(
        s.stored()["credentials"][0]["tokens"]["refresh_token"],
        rotated.refresh_token.as_str()
    );
    // Second 401 with the refreshed token: benched for 5 minutes, rotate to b.
    let e3 = s
        .report(json!({"credential": "c-a", "status": 401}))
        .unwrap();
    assert_eq!(e3.credential.as_deref(), Some("c-b"));
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    let a = &s.stored()["credentials"][0];
    assert_eq!(a["cooldown_reason"], "401 unauthorized");
    let until = a["cooldown_until"].as_u64().unwrap();
    assert!(
        until >= now_secs() + 290 && until <= now_secs() + 300,
        "{until}"
    );
    // b fails the same way; nothing left: an Auth error naming the command.
    s.report(json!({"credential": "c-b", "status": 401}))
        .unwrap();
    let err = s
        .report(json!({"credential": "c-b", "status": 401}))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message
            .contains("`talaria login` (sign in as b@example.com)"),
        "{}",
        err.message
    );
    assert_no_secrets(&err.message, &[]);
}

#[test]
fn a_429_benches_until_the_reset_and_rotates() {
    let s = offline(pool(vec![
        entry("c-a", "a@x", 3600),
        entry("c-b", "b@x", 3600),
    ]));
    s.resolve(json!({})).unwrap();
    let reset = now_secs() + 900;
    let e = s
        .report(json!({"credential": "c-a", "status": 429, "reset_at": reset}))
        .unwrap();
    assert_eq!(e.credential.as_deref(), Some("c-b"));
    let stored = s.stored();
    assert_eq!(stored["credentials"][0]["cooldown_until"], reset);
    assert_eq!(
        stored["credentials"][0]["cooldown_reason"],
        "rate limited (429)"
    );
    assert_eq!(stored["current"], "c-b");

    let err = s
        .report(json!({"credential": "c-b", "status": 429, "retry_after_secs": 120}))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert!(
        err.message.contains("usable again in 2m"),
        "{}",
        err.message
    );
    let available = err.data.unwrap()["available_at"].as_u64().unwrap();
    assert!(available >= now_secs() + 115 && available <= now_secs() + 120);
    // With no hint at all: an hour.
    let s = offline(pool(vec![entry("c-a", "a@x", 3600)]));
    let err = s
        .report(json!({"credential": "c-a", "status": 429}))
        .unwrap_err();
    assert!(err.message.contains("1h"), "{}", err.message);
}

#[test]
fn report_handles_only_auth_and_rate_limit_failures() {
    let s = offline(pool(vec![entry("c-a", "a@x", 3600)]));
    let err = s
        .report(json!({"credential": "c-a", "status": 500}))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(err
        .message
        .contains("provider.report handles 401, 403 and 429"));
}

// ---------------------------------------------------------------- login

fn login_tokens(email: &str, account: &str, user: &str) -> IssuedTokens {
    let tokens = AccountSpec::new(email, account, user, "plus").offline_tokens(3600);
    IssuedTokens {
        id_token: Some(tokens.id_token),
        access_token: Some(tokens.access_token),
        refresh_token: Some(format!("rt-secret-{email}")),
    }
}

fn new_login(email: &str, account: &str, user: &str, source: &'static str) -> NewLogin {
    NewLogin {
        tokens: login_tokens(email, account, user),
        source,
        account_id: None,
        last_refresh: None,
    }
}

#[test]
fn logins_replace_add_insert_or_heal_by_identity() {
    let now = now_secs();
    let mut pool = Pool::default();
    // First login.
    let a = place_login(
        &mut pool,
        &new_login("a@x", "w1", "u1", SOURCE_DEVICE_CODE),
        false,
        now,
    );
    assert_eq!(pool.credentials.len(), 1);
    assert_eq!(pool.credentials[0].label, "a@x");
    // `auth add` of another account appends.
    let b = place_login(
        &mut pool,
        &new_login("b@x", "w2", "u2", SOURCE_AUTH_ADD),
        true,
        now,
    );
    assert_eq!(
        pool.credentials
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        [a.as_str(), b.as_str()]
    );
    assert_eq!(pool.credentials[1].source, SOURCE_AUTH_ADD);
    // The same account again (a quarantined entry) is healed in place.
    pool.credentials[1].quarantine("refresh_token_reused", "x");
    let b2 = place_login(
        &mut pool,
        &new_login("b@x", "w2", "u2", SOURCE_DEVICE_CODE),
        false,
        now,
    );
    assert_eq!(b2, b);
    assert_eq!(pool.credentials[1].status, "ok");
    assert_eq!(pool.credentials[1].status_code, None);
    assert!(pool.credentials[1].refresh_token().is_some());
    assert_eq!(
        pool.credentials[1].source, SOURCE_AUTH_ADD,
        "healing keeps how it joined the pool"
    );
    // A plain login of a new account replaces the main login.
    let c = place_login(
        &mut pool,
        &new_login("c@x", "w3", "u3", SOURCE_CODEX_IMPORT),
        false,
        now,
    );
    assert_eq!(
        pool.credentials
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        [c.as_str(), b.as_str()]
    );
    // ... but goes in front when the first entry was added by hand.
    pool.credentials.remove(0);
    let d = place_login(
        &mut pool,
        &new_login("d@x", "w4", "u4", SOURCE_DEVICE_CODE),
        false,
        now,
    );
    assert_eq!(
        pool.credentials
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        [d.as_str(), b.as_str()]
    );
    // Tokens without an email get a generated label.
    let anon = NewLogin {
        tokens: IssuedTokens {
            access_token: Some("opaque".into()),
            refresh_token: Some("r".into()),
            id_token: None,
        },
        source: SOURCE_AUTH_ADD,
        account_id: None,
        last_refresh: None,
    };
    place_login(&mut pool, &anon, true, now);
    assert_eq!(pool.credentials[2].label, "openai-codex-oauth-1");
}

fn codex_home(name: &str, auth: Option<Value>) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("occ-home-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(auth) = auth {
        std::fs::write(
            dir.join("auth.json"),
            serde_json::to_vec_pretty(&auth).unwrap(),
        )
        .unwrap();
    }
    dir
}

fn codex_file(email: &str) -> Value {
    let tokens = AccountSpec::new(email, "acc-imp", "user-imp", "plus").offline_tokens(3600);
    json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "last_refresh": "2026-04-25T12:00:00Z",
        "tokens": {"id_token": tokens.id_token, "access_token": tokens.access_token,
                   "refresh_token": "rt-secret-codex", "account_id": "acc-imp"}})
}

#[test]
fn import_codex_copies_the_login_and_warns() {
    let home = codex_home("import", Some(codex_file("i@example.com")));
    let before = std::fs::read(home.join("auth.json")).unwrap();
    let s = offline(Value::Null);
    let (account, events): (Account, _) = s
        .call(
            methods::ProviderLogin::NAME,
            json!({"mode": "import_codex", "codex_home": home}),
        )
        .unwrap();
    assert_eq!(account.label, "i@example.com");
    assert_eq!(account.source, "codex_import");
    assert_eq!(account.index, 1);
    assert!(account.current);
    assert_eq!(account.plan.as_deref(), Some("plus"));
    assert!(
        events.iter().any(|e| matches!(e, Event::Warning { message } if message.contains("single-use refresh token") && message.contains("talaria login"))),
        "{events:?}"
    );
    let stored = s.stored();
    let e = &stored["credentials"][0];
    assert_eq!(stored["current"], e["id"]);
    assert!(e["id"].as_str().unwrap().starts_with("c-"));
    assert_eq!(e["tokens"]["refresh_token"], "rt-secret-codex");
    assert_eq!(e["account_id"], "acc-imp");
    assert_eq!(e["user_id"], "user-imp");
    assert_eq!(e["status"], "ok");
    assert!(e["added_at"].is_string() && e["last_refresh"].is_string());
    assert_eq!(
        std::fs::read(home.join("auth.json")).unwrap(),
        before,
        "the Codex file is never written"
    );
    assert_no_secrets(&serde_json::to_string(&account).unwrap(), &[]);
    std::fs::remove_dir_all(home).unwrap();
}

#[test]
fn import_refuses_api_keys_and_stale_logins() {
    let home = codex_home(
        "apikey",
        Some(json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-secret"})),
    );
    let s = offline(Value::Null);
    let err = s
        .raw(
            methods::ProviderLogin::NAME,
            json!({"mode": "import_codex", "codex_home": home}),
        )
        .unwrap_err();
    assert!(err.message.contains("openai-api"), "{}", err.message);
    assert!(!err.message.contains("sk-secret"));
    let mut stale = codex_file("s@x");
    stale["tokens"]["access_token"] = json!(
        AccountSpec::new("s@x", "a", "u", "plus")
            .offline_tokens(-10)
            .access_token
    );
    let home2 = codex_home("stale", Some(stale));
    let err = s
        .raw(
            methods::ProviderLogin::NAME,
            json!({"mode": "import_codex", "codex_home": home2}),
        )
        .unwrap_err();
    assert!(err.message.contains("run `codex` once"), "{}", err.message);
    assert_eq!(s.stored(), Value::Null);
    for h in [home, home2] {
        std::fs::remove_dir_all(h).unwrap();
    }
}

#[test]
fn a_login_heals_a_quarantined_entry_of_the_same_account() {
    let home = codex_home("heal", Some(codex_file("h@example.com")));
    let mut e = entry("c-h", "h@example.com", 3600);
    e["account_id"] = json!("acc-imp");
    e["user_id"] = json!("user-imp");
    e["status"] = json!("needs_relogin");
    e["status_code"] = json!("refresh_token_reused");
    e["status_detail"] = json!("x");
    e["custom"] = json!("kept");
    let s = offline(pool(vec![entry("c-0", "z@example.com", 3600), e]));
    s.call::<Account>(
        methods::ProviderLogin::NAME,
        json!({"mode": "import_codex", "codex_home": home}),
    )
    .unwrap();
    let stored = s.stored();
    let healed = &stored["credentials"][1];
    assert_eq!(healed["id"], "c-h");
    assert_eq!(healed["status"], "ok");
    assert!(healed.get("status_code").is_none() && healed.get("status_detail").is_none());
    assert_eq!(healed["tokens"]["refresh_token"], "rt-secret-codex");
    assert_eq!(healed["custom"], "kept");
    assert_eq!(stored["current"], "c-h");
    assert_eq!(stored["credentials"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(home).unwrap();
}

#[test]
fn device_code_login_end_to_end() {
    let mock = MockServer::start();
    mock.account(AccountSpec::new("d@example.com", "acc-d", "user-d", "plus"));
    mock.set_device_account("d@example.com");
    // Pending once, then approved.
    mock.set_device_pending_polls(1);
    let issuer = mock.issuer_url();
    // A usable Codex login exists, but nobody can be asked: say how to import, then sign in.
    let home = codex_home("device", Some(codex_file("i@example.com")));
    let s = start(None, Value::Null, &issuer, DEAD);
    let (account, events): (Account, _) = s
        .call(
            methods::ProviderLogin::NAME,
            json!({"mode": "device_code", "codex_home": home}),
        )
        .unwrap();
    assert_eq!(
        (account.label.as_str(), account.source.as_str()),
        ("d@example.com", "device_code")
    );
    assert!(events.iter().any(|e| matches!(e, Event::Progress { message } if message.contains("talaria login --import-codex"))), "{events:?}");
    let code = events.iter().find_map(|e| match e {
        Event::LoginCode {
            verification_url,
            user_code,
            expires_in_secs,
        } => Some((
            verification_url.clone(),
            user_code.clone(),
            *expires_in_secs,
        )),
        _ => None,
    });
    assert_eq!(
        code,
        Some((
            format!("{issuer}/codex/device"),
            "ABCD-1234".to_owned(),
            900
        ))
    );

    let usercode = mock.requests_to("/api/accounts/deviceauth/usercode");
    assert_eq!(usercode.len(), 1);
    assert_eq!(usercode[0].json(), json!({"client_id": CLIENT_ID}));
    let polls = mock.requests_to("/api/accounts/deviceauth/token");
    assert_eq!(polls.len(), 2);
    let device_auth_id = polls[0].json()["device_auth_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for poll in &polls {
        assert_eq!(
            poll.json(),
            json!({"device_auth_id": device_auth_id, "user_code": "ABCD-1234"})
        );
    }
    let exchanges = mock.requests_to("/oauth/token");
    assert_eq!(exchanges.len(), 1);
    assert_eq!(
        exchanges[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = exchanges[0].form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(
        form["redirect_uri"],
        format!("{issuer}/deviceauth/callback")
    );
    // The issuer checked the code and its verifier against the ones it handed out.
    let (auth_code, verifier) = (form["code"].as_str(), form["code_verifier"].as_str());
    assert!(
        auth_code.starts_with("ac_") && verifier.starts_with("cv_"),
        "{form:?}"
    );

    let issued = mock.issued_tokens().pop().unwrap();
    assert_eq!(
        s.stored()["credentials"][0]["tokens"]["refresh_token"],
        issued.refresh_token.as_str()
    );
    let seen = format!("{events:?}{:?}{account:?}", s.harness.logs());
    assert_no_secrets(
        &seen,
        &[&device_auth_id, auth_code, verifier, &issued.refresh_token],
    );
    assert!(s.harness.approval_requests().is_empty());
    std::fs::remove_dir_all(home).unwrap();
}

#[test]
fn an_interactive_login_offers_the_codex_import() {
    let home = codex_home("offer", Some(codex_file("o@example.com")));
    let slot: Arc<Mutex<Option<Host>>> = Arc::default();
    let keep = slot.clone();
    let h = Harness::builder()
        .approve_all()
        .start(move |host: Host| {
            *keep.lock().unwrap() = Some(host.clone());
            Ok(Exports::new().provider(CodexProvider::new(host, DEAD, DEAD)))
        })
        .unwrap();
    let (out, _) = h
        .call(
            methods::ProviderLogin::NAME,
            with_provider(json!({"mode": "device_code", "interactive": true, "codex_home": home})),
        )
        .unwrap();
    let account: Account = serde_json::from_value(out).unwrap();
    assert_eq!(account.source, "codex_import");
    let asked = h.approval_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].kind, talaria_sdk::ApprovalKind::Question);
    assert!(
        asked[0].summary.contains("import the Codex CLI login from")
            && asked[0].summary.contains("instead of signing in again")
    );
    std::fs::remove_dir_all(home).unwrap();
}

#[test]
fn device_login_errors_are_clear() {
    let mock = MockServer::start();
    mock.push_response(
        "/api/accounts/deviceauth/usercode",
        MockResponse::json(404, json!({})),
    );
    let home = codex_home("nodev", None);
    let s = against(&mock, None);
    let err = s
        .raw(methods::ProviderLogin::NAME, json!({"codex_home": home}))
        .unwrap_err();
    assert!(
        err.message
            .contains("device-code login is disabled for this issuer"),
        "{}",
        err.message
    );

    let cancel = talaria_plugin_api::abi::CancelFlag::new();
    cancel.cancel();
    let err = s
        .harness
        .call_with_cancel(
            methods::ProviderLogin::NAME,
            with_provider(json!({"codex_home": home})),
            cancel,
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    std::fs::remove_dir_all(home).unwrap();
}

// ---------------------------------------------------------------- models

#[test]
fn models_without_a_login_are_the_builtin_list() {
    let s = offline(Value::Null);
    let (list, _): (ModelList, _) = s.call(methods::ProviderModels::NAME, json!({})).unwrap();
    assert_eq!(list.source, ModelSource::Builtin);
    assert_eq!(list.default_model, "gpt-5.3-codex");
    assert!(list.note.unwrap().starts_with("not logged in:"));
    assert!(!list.models.iter().any(|m| m.slug == "gpt-5.3-codex-spark"));
}

#[test]
fn models_come_live_from_the_backend_with_the_codex_headers() {
    let mock = MockServer::start();
    mock.set_models(vec![
        json!({"slug": "gpt-5.4", "priority": 2, "display_name": "GPT-5.4"}),
        json!({"slug": "gpt-5.5", "priority": 1, "context_window": 272000}),
        json!({"slug": "secret-preview", "priority": 0, "visibility": "hide"}),
        json!({"slug": "gpt-5.3-codex-spark", "priority": 3, "available_in_plans": ["pro"]}),
    ]);
    let (seed, tokens) = issued_entry(&mock, "c-a", "a@x", 3600);
    // A trailing slash on the base URL is tolerated.
    let s = start(
        Some(pool(vec![seed])),
        Value::Null,
        DEAD,
        &format!("{}/", mock.codex_base_url()),
    );
    let (list, _): (ModelList, _) = s
        .call(methods::ProviderModels::NAME, json!({"refresh": true}))
        .unwrap();
    assert_eq!(list.source, ModelSource::Live);
    assert_eq!(
        list.models
            .iter()
            .map(|m| m.slug.as_str())
            .collect::<Vec<_>>(),
        ["gpt-5.5", "gpt-5.4"]
    );
    assert_eq!(list.note, None);
    let asked = mock.requests();
    assert_eq!(asked.len(), 1);
    let req = &asked[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str(), req.query.as_deref()),
        (
            "GET",
            "/backend-api/codex/models",
            Some("client_version=0.169.0")
        )
    );
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str())
    );
    assert_eq!(req.header("originator"), Some("codex_cli_rs"));
    assert_eq!(req.header("chatgpt-account-id"), Some("acc-c-a"));
}

#[test]
fn models_recover_from_a_401_with_one_refresh() {
    let mock = MockServer::start();
    mock.set_models(vec![json!({"slug": "m"})]);
    let (seed, old) = issued_entry(&mock, "c-a", "a@x", 3600);
    // The backend no longer takes the stored access token (401 token_expired).
    mock.revoke_access(&old.access_token);
    let s = against(&mock, Some(pool(vec![seed])));
    let (list, _): (ModelList, _) = s.call(methods::ProviderModels::NAME, json!({})).unwrap();
    assert_eq!(list.source, ModelSource::Live);
    assert_eq!(list.models[0].slug, "m");
    assert_eq!(mock.count("/oauth/token", "refresh_token"), 1);
    let auths: Vec<String> = mock
        .requests_to("/backend-api/codex/models")
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    let refreshed = mock.issued_tokens().pop().unwrap();
    assert_eq!(
        auths,
        [
            format!("Bearer {}", old.access_token),
            format!("Bearer {}", refreshed.access_token)
        ],
        "the retry used the refreshed token"
    );
}

#[test]
fn models_offline_fall_back_with_a_note() {
    let s = start(
        Some(pool(vec![entry("c-a", "a@x", 3600)])),
        Value::Null,
        DEAD,
        DEAD,
    );
    let (list, _): (ModelList, _) = s.call(methods::ProviderModels::NAME, json!({})).unwrap();
    assert_eq!(list.source, ModelSource::Builtin);
    assert!(list.note.unwrap().starts_with("offline"));
    let mock = MockServer::start();
    mock.push_response(
        "/backend-api/codex/models",
        MockResponse::json(502, json!({})),
    );
    let s = against(&mock, Some(pool(vec![entry("c-a", "a@x", 3600)])));
    let (list, _): (ModelList, _) = s.call(methods::ProviderModels::NAME, json!({})).unwrap();
    assert_eq!(list.source, ModelSource::Builtin);
    assert!(list.note.unwrap().starts_with("offline"));
    assert_eq!(mock.requests_to("/backend-api/codex/models").len(), 1);
}

#[test]
fn stored_shape_survives_a_resolve_write() {
    // An entry with fields this build does not know is rewritten (current changes) intact.
    let mut a = entry("c-a", "a@x", 3600);
    a["future"] = json!({"nested": [1, 2]});
    let mut seed = pool(vec![a]);
    seed["pool_future"] = json!(true);
    let s = offline(seed);
    s.resolve(json!({})).unwrap();
    let stored = s.stored();
    assert_eq!(stored["pool_future"], true);
    assert_eq!(
        stored["credentials"][0]["future"],
        json!({"nested": [1, 2]})
    );
    assert_eq!(stored["current"], "c-a");
    parse_pool(&stored).unwrap();
}
