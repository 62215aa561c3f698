//! The provider through the SDK's harness (the same ABI adapters the host uses), with
//! the environment handed in rather than set on the process.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;

use serde_json::{json, Value};
use talaria_sdk::methods::{self, Method};
use talaria_sdk::provider::{
    Account, AccountStatus, Endpoint, LogoutResult, ModelList, ModelSource, ModelsRequest,
};
use talaria_sdk::provider::{ProviderCall, ProviderInfo};
use talaria_sdk::testing::Harness;
use talaria_sdk::{Error, ErrorKind, Exports};
use talaria_tests::mock::{MockResponse, MockServer};

use crate::settings::{API_KEY_VAR, BASE_URL_VAR};
use crate::{OpenAiApi, Settings};

const KEY: &str = "sk-test-0123456789";

fn provider(vars: &[(&str, &str)]) -> Harness {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let settings =
        Settings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    Harness::start(move |host| Ok(Exports::new().provider(OpenAiApi::new(&host, settings))))
        .unwrap()
}

/// Calls a provider method of `openai-api` with `params` (an object, or null for none).
fn call(h: &Harness, method: &str, params: Value) -> Result<Value, Error> {
    let mut params = if params.is_null() { json!({}) } else { params };
    params["provider"] = json!("openai-api");
    h.call(method, params).map(|(out, _)| out)
}

fn with_key() -> Harness {
    provider(&[(API_KEY_VAR, KEY)])
}

fn no_secret_in(h: &Harness, text: &str) {
    assert!(!text.contains(KEY), "the key leaked: {text}");
    for (_, line) in h.logs() {
        assert!(!line.contains(KEY), "the key leaked into the log: {line}");
    }
}

#[test]
fn resolve_gives_the_base_url_and_bearer_headers_and_asks_for_priority_when_fast() {
    let h = provider(&[(API_KEY_VAR, KEY), (BASE_URL_VAR, "http://127.0.0.1:9/v1/")]);
    let out = call(
        &h,
        methods::ProviderResolve::NAME,
        json!({"session_id": "", "fast": true}),
    )
    .unwrap();
    let endpoint: Endpoint = serde_json::from_value(out).unwrap();
    assert_eq!(endpoint.base_url, "http://127.0.0.1:9/v1");
    assert_eq!(endpoint.headers["authorization"], format!("Bearer {KEY}"));
    assert!(endpoint.headers["user-agent"].starts_with("talaria/"));
    assert!(!endpoint.headers.contains_key("content-type"));
    assert!(!endpoint.websocket && !endpoint.zstd);
    assert!(endpoint.rate_limit_headers.is_empty() && endpoint.hints.is_empty());
    assert_eq!(endpoint.credential.as_deref(), Some("env"));
    assert_eq!(
        Value::Object(endpoint.body),
        json!({"service_tier": "priority"})
    );

    let out = call(&h, methods::ProviderResolve::NAME, json!({})).unwrap();
    let endpoint: Endpoint = serde_json::from_value(out).unwrap();
    assert_eq!(endpoint.base_url, "http://127.0.0.1:9/v1");
    assert!(endpoint.body.is_empty());
}

#[test]
fn without_a_key_resolve_is_an_auth_error_that_says_what_to_export() {
    let h = provider(&[]);
    let err = call(&h, methods::ProviderResolve::NAME, json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message.contains("export OPENAI_API_KEY=") && err.message.contains("openai-codex"),
        "{}",
        err.message
    );
    let out = call(&h, methods::ProviderAccounts::NAME, json!({})).unwrap();
    assert_eq!(out, json!([]));
}

#[test]
fn failure_reports_become_auth_rate_limit_or_request_errors_without_the_key() {
    let h = with_key();
    let report = |body: Value| call(&h, methods::ProviderReport::NAME, body).unwrap_err();

    let err = report(
        json!({"status": 401, "code": "invalid_api_key", "message": format!("Incorrect API key provided: {KEY}")}),
    );
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(
        err.message,
        "OpenAI rejected OPENAI_API_KEY (401 invalid_api_key); check the key"
    );
    assert_eq!(report(json!({"status": 403})).kind, ErrorKind::Auth);

    let err = report(json!({"status": 429, "retry_after_secs": 20}));
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert!(err.message.contains("try again in 20s"), "{}", err.message);
    assert_eq!(err.data, Some(json!({"retry_after_secs": 20})));

    let err = report(json!({"status": 400, "message": format!("bad request from {KEY}")}));
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(err.message.contains("HTTP 400"), "{}", err.message);
    no_secret_in(&h, &err.message);
}

#[test]
fn the_environment_key_is_the_whole_pool_and_there_is_no_login_to_manage() {
    let h = with_key();
    let out = call(&h, methods::ProviderAccounts::NAME, json!({})).unwrap();
    let accounts: Vec<Account> = serde_json::from_value(out.clone()).unwrap();
    assert_eq!(accounts.len(), 1);
    let a = &accounts[0];
    assert_eq!(
        (
            a.index,
            a.id.as_str(),
            a.label.as_str(),
            a.kind.as_str(),
            a.source.as_str()
        ),
        (1, "env", "OPENAI_API_KEY", "api_key", "env")
    );
    assert_eq!(a.status, AccountStatus::Ok);
    assert!(a.current);
    no_secret_in(&h, &out.to_string());

    let err = call(
        &h,
        methods::ProviderLogin::NAME,
        json!({"mode": "device_code"}),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert_eq!(
        err.message,
        "openai-api has no login: export OPENAI_API_KEY"
    );
    let err = call(
        &h,
        methods::ProviderRemoveAccount::NAME,
        json!({"index": 1}),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);

    let out = call(&h, methods::ProviderLogout::NAME, json!({})).unwrap();
    let logout: LogoutResult = serde_json::from_value(out).unwrap();
    assert_eq!(logout.removed, 0);
    assert!(logout.note.unwrap().contains("environment"));
}

#[test]
fn info_names_the_responses_wire_api_and_no_login() {
    let (info, _) = with_key()
        .call_method::<methods::ProviderInfoMethod>(&ProviderCall::new(
            "openai-api",
            Default::default(),
        ))
        .unwrap();
    assert_eq!(
        info,
        ProviderInfo {
            id: "openai-api".into(),
            wire_api: "responses".into(),
            supports_login: false
        }
    );
    assert_eq!(methods::ProviderInfoMethod::NAME, "provider.info");
}

#[test]
fn unknown_methods_are_refused_as_such() {
    let err = call(&with_key(), "provider.teleport", json!({})).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownMethod);
}

fn models(h: &Harness) -> ModelList {
    let request = ProviderCall::new("openai-api", ModelsRequest { refresh: true });
    h.call_method::<methods::ProviderModels>(&request)
        .unwrap()
        .0
}

fn slugs(list: &ModelList) -> Vec<&str> {
    list.models.iter().map(|m| m.slug.as_str()).collect()
}

#[test]
fn models_come_live_from_the_models_endpoint_sorted_with_the_key_sent() {
    let mock = MockServer::start();
    mock.set_api_key(KEY);
    mock.set_models(vec![
        json!({"slug": "gpt-5.5"}),
        json!({"slug": "gpt-4.1"}),
        json!({"slug": "o3"}),
    ]);
    let h = provider(&[(API_KEY_VAR, KEY), (BASE_URL_VAR, &mock.openai_base_url())]);
    let list = models(&h);
    assert_eq!(list.source, ModelSource::Live);
    assert_eq!(slugs(&list), ["gpt-4.1", "gpt-5.5", "o3"]);
    assert_eq!(list.default_model, "gpt-5.5");
    assert_eq!(list.note, None);
    assert!(list.models[1].reasoning.is_some() && list.models[0].reasoning.is_none());
    let asked = mock.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].method.as_str(), asked[0].path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(
        asked[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("talaria/")),
        "{asked:?}"
    );
}

#[test]
fn a_failed_model_fetch_falls_back_to_the_builtin_list_with_a_note() {
    let mock = MockServer::start();
    mock.set_api_key(KEY);
    mock.push_response(
        "/v1/models",
        MockResponse::json(500, json!({"error": {"message": "down"}})),
    );
    let h = provider(&[(API_KEY_VAR, KEY), (BASE_URL_VAR, &mock.openai_base_url())]);
    let list = models(&h);
    assert_eq!(list.source, ModelSource::Builtin);
    assert_eq!(slugs(&list), ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini"]);
    let note = list.note.unwrap();
    assert!(note.contains("500") && note.contains("built-in"), "{note}");

    // Nothing listens on a port that was just released.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let h = provider(&[
        (API_KEY_VAR, KEY),
        (BASE_URL_VAR, &format!("http://{closed}/v1")),
    ]);
    let list = models(&h);
    assert_eq!(list.source, ModelSource::Builtin);
    no_secret_in(&h, list.note.as_deref().unwrap());

    let list = models(&provider(&[]));
    assert_eq!(list.source, ModelSource::Builtin);
    assert!(list.note.unwrap().contains("OPENAI_API_KEY is not set"));
}
