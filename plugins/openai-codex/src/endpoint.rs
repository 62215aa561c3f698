//! The endpoint and headers a Codex backend request carries.
//!
//! The backend (and Cloudflare in front of it) expects what the Codex CLI sends: an
//! `originator`, a Codex-style User-Agent and the account id. Requests that look
//! different have been challenged or refused, so we send the same set on every request.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use talaria_sdk::provider::{Endpoint, ErrorHint, ResolveRequest};
use talaria_sdk::transport::FailureClass;

use crate::jwt::Claims;
use crate::store::Entry;
use crate::{CODEX_VERSION, PROVIDER_ID};

const ORIGINATOR: &str = "codex_cli_rs";
/// The backend reports its usage windows as `x-codex-{primary,secondary}-used-percent`
/// and `-reset-at`; the transport reads a quota's reset time from them.
const RATE_LIMIT_HEADER_PREFIX: &str = "x-codex";
/// How the backend words its refusal of a model the ChatGPT plan does not include.
const MODEL_NOT_IN_PLAN: &str = "not supported when using Codex with a ChatGPT account";

/// `codex_cli_rs/0.169.0 (Linux 6.8.0; x86_64) xterm-256color (talaria 0.1.0)`, from
/// this machine.
pub fn user_agent() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS",
        "windows" => "Windows",
        other => other,
    };
    let os_version = if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let terminal = std::env::var("TERM_PROGRAM")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| std::env::var("TERM").ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_default();
    format_user_agent(os, &os_version, std::env::consts::ARCH, &terminal)
}

/// The User-Agent from its parts. Header values must be visible ASCII, so anything else
/// (a terminal name with emoji, a kernel string with control characters) is dropped.
pub fn format_user_agent(os: &str, os_version: &str, arch: &str, terminal: &str) -> String {
    let clean = |s: &str| -> String {
        let kept: String = s
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .collect();
        let kept = kept.trim().to_owned();
        if kept.is_empty() {
            "unknown".to_owned()
        } else {
            kept
        }
    };
    format!(
        "{ORIGINATOR}/{CODEX_VERSION} ({} {}; {}) {} (talaria {})",
        clean(os),
        clean(os_version),
        clean(arch),
        clean(terminal),
        env!("CARGO_PKG_VERSION")
    )
}

/// The account-id header's value: the id token's claim, else the access token's, else
/// what we stored.
pub fn account_id(entry: &Entry) -> Option<String> {
    entry
        .id_claims()
        .account_id()
        .or_else(|| entry.access_claims().account_id())
        .or_else(|| entry.account_id.clone())
}

/// The endpoint for a request made with `entry`'s access token.
pub fn build(
    base_url: &str,
    user_agent: &str,
    entry: &Entry,
    access_token: &str,
    request: &ResolveRequest,
) -> Endpoint {
    let mut headers = BTreeMap::new();
    headers.insert("authorization".to_owned(), format!("Bearer {access_token}"));
    if let Some(account) = account_id(entry) {
        headers.insert("chatgpt-account-id".to_owned(), account);
    }
    headers.insert("originator".to_owned(), ORIGINATOR.to_owned());
    headers.insert("user-agent".to_owned(), user_agent.to_owned());
    headers.insert("version".to_owned(), CODEX_VERSION.to_owned());
    if !request.session_id.is_empty() {
        // Codex 0.169.0 spells these `session-id` and `thread-id` (seen on our mock);
        // older Codex and Hermes send `session_id`, and proxies that drop underscored
        // headers are common. Both spellings go out, with the same conversation id.
        for name in [
            "session_id",
            "session-id",
            "thread-id",
            "x-client-request-id",
        ] {
            headers.insert(name.to_owned(), request.session_id.clone());
        }
    }
    if entry.id_claims().is_fedramp() || Claims::decode(access_token).is_fedramp() {
        headers.insert("x-openai-fedramp".to_owned(), "true".to_owned());
    }
    let mut body = Map::new();
    if request.fast {
        body.insert(
            "service_tier".to_owned(),
            Value::String("priority".to_owned()),
        );
    }
    Endpoint {
        base_url: base_url.to_owned(),
        headers,
        credential: Some(entry.id.clone()),
        websocket: true,
        zstd: true,
        body,
        rate_limit_headers: vec![RATE_LIMIT_HEADER_PREFIX.to_owned()],
        hints: hints(),
        // The models list answers with the credentials' own verdict, as the Codex CLI asks it.
        probe_path: Some(format!("models?client_version={CODEX_VERSION}")),
    }
}

/// What the transport should advise for this backend's failures, in place of its
/// generic advice: the pool can take another account when one is limited, and a model
/// outside the plan has a list of the ones inside it.
fn hints() -> Vec<ErrorHint> {
    let hint = |class, when: Option<&str>, text: String| ErrorHint {
        class,
        when_message_contains: when.map(str::to_owned),
        hint: text,
    };
    vec![
        hint(
            FailureClass::Quota,
            None,
            format!("Wait for the reset, add another account with `talaria auth add {PROVIDER_ID}`, or switch to another provider or model."),
        ),
        hint(
            FailureClass::RateLimit,
            None,
            format!("Wait a moment and try again, or add another account with `talaria auth add {PROVIDER_ID}`."),
        ),
        hint(
            FailureClass::InvalidRequest,
            Some(MODEL_NOT_IN_PLAN),
            "Pick another model: `talaria models` lists the ones this account can use.".to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_has_the_codex_shape() {
        let ua = format_user_agent("Linux", "6.8.0-40-generic\n", "x86_64", "xterm-256color");
        assert_eq!(
            ua,
            format!(
                "codex_cli_rs/0.169.0 (Linux 6.8.0-40-generic; x86_64) xterm-256color (talaria {})",
                env!("CARGO_PKG_VERSION")
            )
        );
        let ua = format_user_agent("Mac OS", "", "aarch64", "WezTerm✨\u{7}");
        assert!(
            ua.starts_with("codex_cli_rs/0.169.0 (Mac OS unknown; aarch64) WezTerm (talaria "),
            "{ua}"
        );
        assert!(ua.chars().all(|c| c.is_ascii_graphic() || c == ' '));
        let live = user_agent();
        assert!(live.starts_with("codex_cli_rs/0.169.0 ("), "{live}");
        assert!(
            live.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{live}"
        );
    }

    #[test]
    fn the_hints_advise_another_account_and_the_model_list() {
        let e = Endpoint {
            hints: hints(),
            ..Default::default()
        };
        for class in [FailureClass::Quota, FailureClass::RateLimit] {
            assert!(
                e.hint_for(class, "")
                    .is_some_and(|h| h.contains("`talaria auth add openai-codex`")),
                "{class:?}"
            );
        }
        let refusal =
            "The 'gpt-5.1-codex' model is not supported when using Codex with a ChatGPT account.";
        assert_eq!(
            e.hint_for(FailureClass::InvalidRequest, refusal),
            Some("Pick another model: `talaria models` lists the ones this account can use.")
        );
        assert_eq!(
            e.hint_for(
                FailureClass::InvalidRequest,
                "Unsupported parameter: temperature"
            ),
            None
        );
        assert_eq!(e.hint_for(FailureClass::Auth, ""), None);
    }
}
