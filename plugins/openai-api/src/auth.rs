//! The credential side of the provider: one key from the environment, no pool, no
//! login. What `resolve`, `report` and the account methods answer.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use talaria_sdk::provider::{
    Account, AccountStatus, Endpoint, FailureReport, LogoutResult, ResolveRequest,
};
use talaria_sdk::time::now_secs;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::settings::{Settings, API_KEY_VAR};

/// The pool entry id of the environment's key (echoed back in failure reports).
pub const ENV_CREDENTIAL: &str = "env";

pub fn no_key_error() -> Error {
    Error::new(
        ErrorKind::Auth,
        format!(
            "the openai-api provider needs an API key: export {API_KEY_VAR}=... \
             (for a ChatGPT subscription use the openai-codex provider and `talaria login`)"
        ),
    )
}

pub fn resolve(
    settings: &Settings,
    user_agent: &str,
    request: &ResolveRequest,
) -> Result<Endpoint> {
    let key = settings.api_key.as_ref().ok_or_else(no_key_error)?;
    // content-type is the transport's business: it knows what body it sends.
    let headers = BTreeMap::from([
        (
            "authorization".to_owned(),
            format!("Bearer {}", key.expose()),
        ),
        ("user-agent".to_owned(), user_agent.to_owned()),
    ]);
    let mut body = Map::new();
    if request.fast {
        body.insert("service_tier".into(), Value::from("priority"));
    }
    Ok(Endpoint {
        base_url: settings.base_url.clone(),
        headers,
        credential: Some(ENV_CREDENTIAL.into()),
        websocket: false,
        zstd: false,
        body,
        ..Default::default()
    })
}

/// With a single key there is nothing to rotate to: every failure ends here, as an
/// error that tells the user what to do.
pub fn report(settings: &Settings, report: &FailureReport) -> Error {
    let code = report
        .code
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    match report.status {
        401 | 403 => Error::new(
            ErrorKind::Auth,
            format!(
                "OpenAI rejected {API_KEY_VAR} ({}{code}); check the key",
                report.status
            ),
        ),
        429 => {
            let wait = retry_after(report, now_secs());
            let when = wait
                .map(|s| format!("try again in {}", talaria_sdk::text::duration_words(s)))
                .unwrap_or_else(|| "try again later".into());
            let error = Error::new(
                ErrorKind::RateLimited,
                format!("OpenAI rate-limited {API_KEY_VAR} (429{code}); {when}"),
            );
            match wait {
                Some(secs) => error.with_data(json!({ "retry_after_secs": secs })),
                None => error,
            }
        }
        status => {
            let detail = if report.message.is_empty() {
                String::new()
            } else {
                format!(": {}", settings.redact(&report.message))
            };
            Error::invalid(format!("OpenAI answered HTTP {status}{code}{detail}"))
        }
    }
}

/// Seconds until the limit lifts: `Retry-After` first, else the reset time.
fn retry_after(report: &FailureReport, now: u64) -> Option<u64> {
    report
        .retry_after_secs
        .or_else(|| report.reset_at.map(|at| at.saturating_sub(now)))
}

pub fn accounts(settings: &Settings) -> Vec<Account> {
    if settings.api_key.is_none() {
        return Vec::new();
    }
    vec![Account {
        index: 1,
        id: ENV_CREDENTIAL.into(),
        label: API_KEY_VAR.into(),
        kind: "api_key".into(),
        source: "env".into(),
        status: AccountStatus::Ok,
        current: true,
        ..Default::default()
    }]
}

pub fn login_refused() -> Error {
    Error::invalid(format!("openai-api has no login: export {API_KEY_VAR}"))
}

pub fn logout(settings: &Settings) -> LogoutResult {
    let note = if settings.api_key.is_some() {
        format!("openai-api stores nothing: its key comes from {API_KEY_VAR} in the environment; unset it to stop using it")
    } else {
        format!("openai-api stores nothing: its key comes from {API_KEY_VAR} in the environment")
    };
    LogoutResult {
        removed: 0,
        note: Some(note),
    }
}

pub fn remove_refused() -> Error {
    Error::invalid(format!("openai-api keeps no stored credentials: its key comes from {API_KEY_VAR}; unset it to stop using it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_says_when_to_retry_from_retry_after_or_the_reset_time() {
        let by_header = FailureReport {
            status: 429,
            retry_after_secs: Some(90),
            ..Default::default()
        };
        assert_eq!(retry_after(&by_header, 1_000), Some(90));
        let by_reset = FailureReport {
            status: 429,
            reset_at: Some(1_030),
            ..Default::default()
        };
        assert_eq!(retry_after(&by_reset, 1_000), Some(30));
    }
}
