//! Talking to the OAuth issuer: the device-code sign-in, the code exchange, token
//! refresh, and telling a refresh failure that needs a new sign-in from one worth
//! retrying.
//!
//! No function here puts a token, authorization code, code verifier or device-auth id
//! into an error message: those go only into request bodies and the returned values.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use talaria_sdk::{runtime, CallContext, Error, ErrorKind, Result};

use crate::http::{
    describe_send_error, excerpt, excerpt_redacted, retry_after, LOGIN_TIMEOUT, REFRESH_TIMEOUT,
};
use crate::store::IssuedTokens;
use crate::CLIENT_ID;

/// How long a user code stays valid.
pub const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);
const DEFAULT_INTERVAL_SECS: u64 = 5;
/// Attempts at getting a user code while the issuer answers 429.
const USERCODE_ATTEMPTS: u32 = 4;

/// Error codes after which a refresh token will never work again.
const TERMINAL_CODES: [&str; 5] = [
    "invalid_grant",
    "refresh_token_reused",
    "refresh_token_expired",
    "refresh_token_invalidated",
    "invalid_token",
];

/// A reply: status, headers and body text.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

async fn send(request: reqwest::RequestBuilder) -> std::result::Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Sends a login request, giving up as soon as the user cancels.
fn send_login(cx: &CallContext, request: reqwest::RequestBuilder, what: &str) -> Result<Reply> {
    match runtime::block_on_cancellable(cx, send(request.timeout(LOGIN_TIMEOUT)))? {
        Ok(reply) => Ok(reply),
        Err(e) => Err(Error::new(
            ErrorKind::Network,
            format!("could not reach the sign-in server for {what}: {}; check the network and run `talaria login` again", describe_send_error(&e)),
        )),
    }
}

/// Sleeps, waking early (with `Cancelled`) when the user cancels.
fn wait(cx: &CallContext, duration: Duration) -> Result<()> {
    let until = Instant::now() + duration;
    loop {
        cx.check_cancelled()?;
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// The code the user types in, and how to ask whether they have.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCode {
    pub device_auth_id: String,
    pub user_code: String,
    pub interval: Duration,
}

/// The poll interval as sent: a string ("5") or a number, default 5 s, within 1–60 s.
pub fn parse_interval(value: Option<&Value>) -> Duration {
    let secs = match value {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f.max(0.0).ceil() as u64)),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    Duration::from_secs(secs.unwrap_or(DEFAULT_INTERVAL_SECS).clamp(1, 60))
}

/// Step 1: ask for a user code.
pub fn request_device_code(
    client: &reqwest::Client,
    issuer: &str,
    cx: &CallContext,
) -> Result<DeviceCode> {
    let url = format!("{issuer}/api/accounts/deviceauth/usercode");
    for attempt in 1..=USERCODE_ATTEMPTS {
        let request = client
            .post(&url)
            .header(ACCEPT, "application/json")
            .json(&json!({ "client_id": CLIENT_ID }));
        let reply = send_login(cx, request, "a device code")?;
        match reply.status.as_u16() {
            200..=299 => return parse_device_code(&reply.body),
            404 => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("device-code login is disabled for this issuer ({issuer}); use `talaria login --import-codex` to reuse a Codex CLI login"),
                ))
            }
            429 if attempt < USERCODE_ATTEMPTS => {
                let secs = retry_after(&reply.headers).unwrap_or(1 << attempt).clamp(1, 60);
                wait(cx, Duration::from_secs(secs))?;
            }
            429 => {
                return Err(Error::new(
                    ErrorKind::RateLimited,
                    format!("the sign-in server is rate-limiting device-code requests ({USERCODE_ATTEMPTS} attempts); wait a minute and run `talaria login` again"),
                ))
            }
            status => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!("the sign-in server refused a device code ({status}: {}); run `talaria login` again later", excerpt(&reply.body)),
                ))
            }
        }
    }
    Err(Error::new(ErrorKind::RateLimited, "the sign-in server kept rate-limiting device-code requests; run `talaria login` again later"))
}

fn parse_device_code(body: &str) -> Result<DeviceCode> {
    let bad = || {
        Error::new(
            ErrorKind::Auth,
            "the sign-in server's device-code reply was incomplete; run `talaria login` again",
        )
    };
    let v: Value = serde_json::from_str(body).map_err(|_| bad())?;
    let text = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(DeviceCode {
        device_auth_id: text("device_auth_id").ok_or_else(bad)?,
        user_code: text("user_code")
            .or_else(|| text("usercode"))
            .ok_or_else(bad)?,
        interval: parse_interval(v.get("interval")),
    })
}

/// What the user's approval yields: a one-time code for the exchange.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Authorization {
    pub authorization_code: String,
    pub code_verifier: String,
    #[serde(default)]
    pub code_challenge: Option<String>,
}

/// Step 2: poll until the user has approved, the code expires, or the user cancels.
pub fn poll_for_authorization(
    client: &reqwest::Client,
    issuer: &str,
    code: &DeviceCode,
    started: Instant,
    cx: &CallContext,
) -> Result<Authorization> {
    let url = format!("{issuer}/api/accounts/deviceauth/token");
    let deadline = started + DEVICE_CODE_LIFETIME;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::new(
                ErrorKind::Auth,
                "the sign-in code expired after 15 minutes without being approved; run `talaria login` again",
            ));
        }
        wait(cx, code.interval.min(left))?;
        let request = client
            .post(&url)
            .header(ACCEPT, "application/json")
            .json(&json!({ "device_auth_id": code.device_auth_id, "user_code": code.user_code }));
        let reply = send_login(cx, request, "the sign-in status")?;
        match reply.status.as_u16() {
            200..=299 => {
                return serde_json::from_str::<Authorization>(&reply.body).map_err(|_| {
                    Error::new(ErrorKind::Auth, "the sign-in server approved the login but sent no usable code; run `talaria login` again")
                })
            }
            // Not approved yet.
            403 | 404 => {}
            status => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "the sign-in server answered {status} while waiting for approval ({}); run `talaria login` again",
                        excerpt_redacted(&reply.body, &[&code.device_auth_id])
                    ),
                ))
            }
        }
    }
}

/// Step 3: trade the authorization code for tokens (form-encoded, as the issuer expects
/// for this grant).
pub fn exchange_code(
    client: &reqwest::Client,
    issuer: &str,
    auth: &Authorization,
    cx: &CallContext,
) -> Result<IssuedTokens> {
    let redirect_uri = format!("{issuer}/deviceauth/callback");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", auth.authorization_code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("client_id", CLIENT_ID),
        ("code_verifier", auth.code_verifier.as_str()),
    ];
    let request = client
        .post(format!("{issuer}/oauth/token"))
        .header(ACCEPT, "application/json")
        .form(&form);
    let reply = send_login(cx, request, "the token exchange")?;
    match reply.status.as_u16() {
        200..=299 => {}
        429 => {
            let wait = retry_after(&reply.headers).map(|s| format!(" (retry after {s} s)")).unwrap_or_default();
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!("the sign-in server is rate-limiting the token exchange{wait}; wait a minute and run `talaria login` again"),
            ));
        }
        status => {
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "the sign-in server refused the token exchange ({status}: {}); run `talaria login` again",
                    excerpt_redacted(&reply.body, &[&auth.authorization_code, &auth.code_verifier])
                ),
            ))
        }
    }
    let tokens: IssuedTokens = serde_json::from_str(&reply.body).map_err(|_| {
        Error::new(
            ErrorKind::Auth,
            "the sign-in server's token reply was not JSON; run `talaria login` again",
        )
    })?;
    if tokens.access_token.as_deref().is_none_or(str::is_empty) {
        return Err(Error::new(
            ErrorKind::Auth,
            "the sign-in server sent no access token; run `talaria login` again",
        ));
    }
    Ok(tokens)
}

/// Why a refresh did not yield new tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshFailure {
    /// The refresh token is dead: the credential needs a new sign-in.
    Terminal { status: u16, code: String },
    /// 429: try again later.
    RateLimited { retry_after: Option<u64> },
    /// 5xx, timeout, no connection, or a garbled success: try again.
    Transient { reason: String },
    /// Another 4xx without a terminal code: not clearly fatal, so not quarantined.
    Rejected {
        status: u16,
        code: Option<String>,
        excerpt: String,
    },
}

/// The error code of an error reply: `{"error":{"code"|"type",..}}` or `{"error":"x",..}`.
pub fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let code = match v.get("error")? {
        Value::Object(e) => e
            .get("code")
            .and_then(Value::as_str)
            .or_else(|| e.get("type").and_then(Value::as_str)),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    code.filter(|c| !c.is_empty()).map(str::to_owned)
}

/// Sorts a non-success refresh reply into terminal / rate-limited / transient / rejected.
pub fn classify(status: u16, headers: &HeaderMap, body: &str) -> RefreshFailure {
    let code = error_code(body);
    match status {
        429 => RefreshFailure::RateLimited {
            retry_after: retry_after(headers),
        },
        400..=499 => match code {
            Some(c) if TERMINAL_CODES.contains(&c.as_str()) => {
                RefreshFailure::Terminal { status, code: c }
            }
            code => RefreshFailure::Rejected {
                status,
                code,
                excerpt: excerpt(body),
            },
        },
        _ => RefreshFailure::Transient {
            reason: format!("the sign-in server answered {status}"),
        },
    }
}

/// Words for a terminal code, completing "<label>: ...".
pub fn terminal_detail(code: &str) -> String {
    match code {
        // The second cause is talaria's own: a run killed after the issuer rotated the
        // token and before the answer (the only copy of the new one) was stored.
        "refresh_token_reused" => {
            "its refresh token was already used by another client (Codex CLI, VS Code or another profile sharing this login) or by a talaria run stopped in the middle of a token refresh".to_owned()
        }
        "refresh_token_expired" => "its refresh token has expired".to_owned(),
        "refresh_token_invalidated" => "its refresh token was revoked (signed out elsewhere, or the password changed)".to_owned(),
        "invalid_grant" => "the sign-in server no longer accepts its refresh token (invalid_grant)".to_owned(),
        "invalid_token" => "the sign-in server rejected its refresh token as invalid".to_owned(),
        "missing_refresh_token" => "it has no refresh token".to_owned(),
        other => format!("its refresh token no longer works ({other})"),
    }
}

impl RefreshFailure {
    /// The error for a failure that leaves the credential in place (not terminal).
    pub fn to_error(&self, label: &str) -> Error {
        match self {
            RefreshFailure::Terminal { code, .. } => Error::new(
                ErrorKind::Auth,
                format!("{label}: {}; run `talaria login` (sign in as {label})", terminal_detail(code)),
            ),
            RefreshFailure::RateLimited { retry_after } => {
                let when = retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default();
                let err = Error::new(
                    ErrorKind::RateLimited,
                    format!("refreshing the openai-codex login {label} failed transiently: the sign-in server is rate-limiting{when}; retry in a minute"),
                );
                match retry_after {
                    Some(s) => err.with_data(json!({ "retry_after_secs": s })),
                    None => err,
                }
            }
            RefreshFailure::Transient { reason } => Error::new(
                ErrorKind::Network,
                format!("refreshing the openai-codex login {label} failed transiently ({reason}); the login is kept, retry in a moment"),
            ),
            RefreshFailure::Rejected { status, code, excerpt } => Error::new(
                ErrorKind::Auth,
                format!(
                    "the sign-in server refused to refresh the openai-codex login {label} ({status}, {}: {excerpt}); retry, or run `talaria login` (sign in as {label}) if it keeps failing",
                    code.as_deref().unwrap_or("no error code")
                ),
            ),
        }
    }
}

/// One refresh POST (JSON body, as the Codex CLI sends it). Runs on the plugin runtime:
/// call it from inside `update_credentials`, never from within another `block_on`.
pub fn refresh(
    client: &reqwest::Client,
    issuer: &str,
    refresh_token: &str,
) -> Result<std::result::Result<IssuedTokens, RefreshFailure>> {
    let request = client
        .post(format!("{issuer}/oauth/token"))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .timeout(REFRESH_TIMEOUT)
        .json(&json!({ "client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token }));
    let reply = match runtime::block_on(send(request))? {
        Ok(reply) => reply,
        Err(e) => {
            return Ok(Err(RefreshFailure::Transient {
                reason: describe_send_error(&e),
            }))
        }
    };
    if !reply.status.is_success() {
        let failure = match classify(reply.status.as_u16(), &reply.headers, &reply.body) {
            RefreshFailure::Rejected { status, code, .. } => RefreshFailure::Rejected {
                status,
                code,
                excerpt: excerpt_redacted(&reply.body, &[refresh_token]),
            },
            other => other,
        };
        return Ok(Err(failure));
    }
    let tokens: IssuedTokens = match serde_json::from_str(&reply.body) {
        Ok(t) => t,
        Err(_) => {
            return Ok(Err(RefreshFailure::Transient {
                reason: "the sign-in server's reply was not JSON".to_owned(),
            }))
        }
    };
    if tokens.access_token.as_deref().is_none_or(str::is_empty) {
        return Ok(Err(RefreshFailure::Transient {
            reason: "the sign-in server's reply had no access token".to_owned(),
        }));
    }
    Ok(Ok(tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_accept_strings_and_numbers_and_are_clamped() {
        let d = |v: Value| parse_interval(Some(&v)).as_secs();
        assert_eq!(d(json!("5")), 5);
        assert_eq!(d(json!(" 7 ")), 7);
        assert_eq!(d(json!(3)), 3);
        assert_eq!(d(json!(2.5)), 3);
        assert_eq!(d(json!(0)), 1);
        assert_eq!(d(json!("600")), 60);
        assert_eq!(d(json!("soon")), 5);
        assert_eq!(d(json!(null)), 5);
        assert_eq!(parse_interval(None).as_secs(), 5);
    }

    #[test]
    fn device_code_replies_accept_both_spellings() {
        let c =
            parse_device_code(r#"{"device_auth_id":"d","usercode":"ABCD-1234","interval":"9"}"#)
                .unwrap();
        assert_eq!(
            (c.user_code.as_str(), c.interval.as_secs()),
            ("ABCD-1234", 9)
        );
        let c =
            parse_device_code(r#"{"device_auth_id":"d","user_code":"X","interval":2}"#).unwrap();
        assert_eq!((c.user_code.as_str(), c.interval.as_secs()), ("X", 2));
        assert!(parse_device_code(r#"{"user_code":"X"}"#).is_err());
        assert!(parse_device_code("<html>").is_err());
    }

    #[test]
    fn error_codes_come_from_both_shapes() {
        assert_eq!(
            error_code(r#"{"error":{"code":"refresh_token_reused","message":"m"}}"#).as_deref(),
            Some("refresh_token_reused")
        );
        assert_eq!(
            error_code(r#"{"error":{"type":"invalid_request_error","message":"m"}}"#).as_deref(),
            Some("invalid_request_error")
        );
        assert_eq!(
            error_code(r#"{"error":{"code":null,"type":"t"}}"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            error_code(r#"{"error":"invalid_grant","error_description":"gone"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(error_code(r#"{"detail":"x"}"#), None);
        assert_eq!(error_code("not json"), None);
    }

    #[test]
    fn terminal_codes_quarantine_and_everything_else_does_not() {
        let h = HeaderMap::new();
        for (status, body) in [
            (401, r#"{"error":{"code":"refresh_token_expired"}}"#),
            (400, r#"{"error":"invalid_grant","error_description":"x"}"#),
            (400, r#"{"error":{"code":"refresh_token_reused"}}"#),
            (401, r#"{"error":{"code":"refresh_token_invalidated"}}"#),
            (403, r#"{"error":"invalid_token"}"#),
        ] {
            assert!(
                matches!(classify(status, &h, body), RefreshFailure::Terminal { .. }),
                "{status} {body}"
            );
        }
        assert!(matches!(
            classify(429, &h, r#"{"error":"invalid_grant"}"#),
            RefreshFailure::RateLimited { .. }
        ));
        assert!(matches!(
            classify(500, &h, r#"{"error":"invalid_grant"}"#),
            RefreshFailure::Transient { .. }
        ));
        assert!(matches!(
            classify(503, &h, "<html>"),
            RefreshFailure::Transient { .. }
        ));
        match classify(401, &h, r#"{"error":{"code":"unauthorized_client"}}"#) {
            RefreshFailure::Rejected {
                status: 401,
                code: Some(c),
                ..
            } => assert_eq!(c, "unauthorized_client"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(400, &h, "bad"),
            RefreshFailure::Rejected { code: None, .. }
        ));
    }

    #[test]
    fn failure_errors_have_the_right_kind_and_say_what_to_do() {
        let e = RefreshFailure::RateLimited {
            retry_after: Some(30),
        }
        .to_error("a@x");
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(
            e.message.contains("transiently") && e.message.contains("retry"),
            "{}",
            e.message
        );
        let e = RefreshFailure::Transient {
            reason: "the request timed out".into(),
        }
        .to_error("a@x");
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(
            e.message.contains("transiently") && e.message.contains("retry"),
            "{}",
            e.message
        );
        let e = RefreshFailure::Rejected {
            status: 401,
            code: Some("weird".into()),
            excerpt: "x".into(),
        }
        .to_error("a@x");
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(
            e.message.contains("401") && e.message.contains("weird"),
            "{}",
            e.message
        );
    }
}
