//! The provider through the SDK's harness, with the profile's `[providers]` tables and a
//! test's own environment.

use serde_json::{json, Value};
use talaria_sdk::methods::{
    ProviderAccounts, ProviderInfoMethod, ProviderLogin, ProviderModels, ProviderReport,
    ProviderResolve,
};
use talaria_sdk::provider::{
    Empty, FailureReport, LoginRequest, ModelSource, ModelsRequest, ProviderCall, ResolveRequest,
};
use talaria_sdk::testing::Harness;
use talaria_sdk::{ErrorKind, Exports};
use talaria_tests::mock::{MockResponse, MockServer};

use super::OpenAiCompatible;
use crate::instances::{OPENROUTER_BASE_URL_VAR, OPENROUTER_KEY_VAR};

fn start(providers: Value, vars: &[(&str, &str)]) -> Harness {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Harness::builder()
        .config_section("providers", providers)
        .start(move |host| {
            let env = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            Ok(Exports::new().provider(OpenAiCompatible::new(&host, &env)?))
        })
        .unwrap()
}

fn call<T>(provider: &str, request: T) -> ProviderCall<T> {
    ProviderCall::new(provider, request)
}

fn local_table(base: &str) -> Value {
    json!({"local": {"kind": "openai-compatible", "base_url": base, "api_key_env": "LOCAL_API_KEY",
        "transport": "chat-completions", "models": ["qwen2.5-coder", "llama3"]},
        "gateway": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "transport": "responses"},
        "elsewhere": {"kind": "someone-else", "base_url": "http://x"}})
}

#[test]
fn each_table_is_an_instance_with_its_wire_api() {
    let h = start(
        local_table("http://127.0.0.1:8080/v1/"),
        &[("LOCAL_API_KEY", "sk-local")],
    );
    let (info, _) = h
        .call_method::<ProviderInfoMethod>(&call("local", Empty {}))
        .unwrap();
    assert_eq!(
        (
            info.id.as_str(),
            info.wire_api.as_str(),
            info.supports_login
        ),
        ("local", "chat-completions", false)
    );
    let (info, _) = h
        .call_method::<ProviderInfoMethod>(&call("gateway", Empty {}))
        .unwrap();
    assert_eq!(info.wire_api, "responses");
    let err = h
        .call_method::<ProviderInfoMethod>(&call("elsewhere", Empty {}))
        .unwrap_err();
    assert!(
        err.message.contains("[providers.elsewhere]"),
        "{}",
        err.message
    );
    let (endpoint, _) = h
        .call_method::<ProviderResolve>(&call("local", ResolveRequest::default()))
        .unwrap();
    assert_eq!(endpoint.base_url, "http://127.0.0.1:8080/v1");
    assert_eq!(endpoint.headers["authorization"], "Bearer sk-local");
    assert!(endpoint.headers["user-agent"].starts_with("talaria/"));
    // No `api_key_env`: no authorization header at all.
    let (endpoint, _) = h
        .call_method::<ProviderResolve>(&call("gateway", ResolveRequest::default()))
        .unwrap();
    assert!(!endpoint.headers.contains_key("authorization"));
}

#[test]
fn a_missing_key_is_an_auth_error_naming_the_variable() {
    let h = start(local_table("http://h/v1"), &[]);
    let err = h
        .call_method::<ProviderResolve>(&call("local", ResolveRequest::default()))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(
        err.message.contains("export LOCAL_API_KEY=") && err.message.contains("[providers.local]"),
        "{}",
        err.message
    );
    let err = h
        .call_method::<ProviderResolve>(&call("openrouter", ResolveRequest::default()))
        .unwrap_err();
    assert!(
        err.message.contains("export OPENROUTER_API_KEY="),
        "{}",
        err.message
    );
}

#[test]
fn openrouter_is_built_in_with_its_attribution_headers() {
    let h = start(json!({}), &[(OPENROUTER_KEY_VAR, "sk-or-1")]);
    let (info, _) = h
        .call_method::<ProviderInfoMethod>(&call("openrouter", Empty {}))
        .unwrap();
    assert_eq!(info.wire_api, "chat-completions");
    let (endpoint, _) = h
        .call_method::<ProviderResolve>(&call("openrouter", ResolveRequest::default()))
        .unwrap();
    assert_eq!(endpoint.base_url, "https://openrouter.ai/api/v1");
    assert_eq!(endpoint.headers["authorization"], "Bearer sk-or-1");
    assert_eq!(endpoint.headers["X-Title"], "talaria");
    assert!(endpoint.headers.contains_key("HTTP-Referer"));
    assert_eq!(
        endpoint.probe_path(),
        "key",
        "doctor checks the key, not the public list"
    );
    let (accounts, _) = h
        .call_method::<ProviderAccounts>(&call("openrouter", Empty {}))
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].label, "OPENROUTER_API_KEY");
    let err = h
        .call_method::<ProviderLogin>(&call("openrouter", LoginRequest::default()))
        .unwrap_err();
    assert!(
        err.message.contains("export OPENROUTER_API_KEY"),
        "{}",
        err.message
    );
}

#[test]
fn a_refused_key_ends_with_what_to_check_and_a_rate_limit_hands_the_endpoint_back() {
    let h = start(local_table("http://h/v1"), &[("LOCAL_API_KEY", "sk-local")]);
    let report = |status| FailureReport {
        status,
        message: "Invalid API key".into(),
        ..Default::default()
    };
    let err = h
        .call_method::<ProviderReport>(&call("local", report(401)))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert_eq!(
        err.message,
        "local at http://h/v1 refused the key in LOCAL_API_KEY (HTTP 401: Invalid API key); check it"
    );
    let (endpoint, _) = h
        .call_method::<ProviderReport>(&call("local", report(429)))
        .unwrap();
    assert_eq!(endpoint.base_url, "http://h/v1");
}

#[test]
fn models_come_from_the_table_else_from_the_server() {
    let mock = MockServer::start();
    mock.set_api_key("sk-local");
    let h = start(
        local_table(&mock.openai_base_url()),
        &[("LOCAL_API_KEY", "sk-local")],
    );
    let (list, _) = h
        .call_method::<ProviderModels>(&call("local", ModelsRequest::default()))
        .unwrap();
    let slugs: Vec<&str> = list.models.iter().map(|m| m.slug.as_str()).collect();
    assert_eq!(slugs, ["qwen2.5-coder", "llama3"]);
    assert_eq!(list.default_model, "qwen2.5-coder");
    assert!(mock.requests().is_empty(), "a listed table asks nobody");

    let or = MockServer::start();
    or.push_response(
        "/api/v1/models",
        MockResponse::json(
            200,
            json!({"data": [
                {"id": "google/gemini-3-flash-preview", "name": "Gemini 3 Flash", "context_length": 1048576,
                 "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]}},
                {"id": "deepseek/deepseek-chat", "architecture": {"input_modalities": ["text"]}}
            ]}),
        ),
    );
    let base = format!("{}/api/v1", or.issuer_url());
    let h = start(
        json!({}),
        &[
            (OPENROUTER_KEY_VAR, "sk-or"),
            (OPENROUTER_BASE_URL_VAR, &base),
        ],
    );
    let (list, _) = h
        .call_method::<ProviderModels>(&call("openrouter", ModelsRequest::default()))
        .unwrap();
    assert_eq!(list.source, ModelSource::Live);
    assert_eq!(list.default_model, "google/gemini-3-flash-preview");
    assert_eq!(list.models.len(), 2);
    assert!(list.models[1].takes_images());
    assert_eq!(list.models[1].context_window, Some(1_048_576));
    assert!(!list.models[0].takes_images());
    let sent = or.requests_to("/api/v1/models");
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-or"));
    assert_eq!(sent[0].header("x-title"), Some("talaria"));
    // Without the key the public list is still asked for, without authorization.
    or.push_response(
        "/api/v1/models",
        MockResponse::json(200, json!({"data": [{"id": "deepseek/deepseek-chat"}]})),
    );
    let h = start(json!({}), &[(OPENROUTER_BASE_URL_VAR, &base)]);
    let (list, _) = h
        .call_method::<ProviderModels>(&call("openrouter", ModelsRequest::default()))
        .unwrap();
    assert_eq!(list.models.len(), 1);
    let sent = or.requests_to("/api/v1/models");
    assert_eq!(sent[1].header("authorization"), None);
}

#[test]
fn an_unreachable_list_says_how_to_name_the_models() {
    let h = start(
        json!({"box": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}}),
        &[],
    );
    let (list, _) = h
        .call_method::<ProviderModels>(&call("box", ModelsRequest::default()))
        .unwrap();
    assert!(list.models.is_empty());
    let note = list.note.unwrap();
    assert!(
        note.contains("`models = [...]` in [providers.box]"),
        "{note}"
    );
}

#[test]
fn the_manifest_serves_the_kind_and_owns_the_providers_section() {
    let m = talaria_sdk::Manifest::parse(include_str!("../plugin.toml")).unwrap();
    assert_eq!(m.provides.provider_kinds, ["openai-compatible"]);
    assert_eq!(m.provides.providers, ["openrouter"]);
    assert_eq!(m.config, ["providers"]);
    assert!(m.serves_provider_kind("openai-compatible"));
}
