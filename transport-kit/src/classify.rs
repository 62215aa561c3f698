//! What went wrong with an attempt ([`Problem`]), what to do about it ([`Verdict`]), and
//! how to tell the user ([`failure_error`]): the error's message and its
//! [`TransportFailure`] data.

use std::time::Duration;

use serde_json::{json, Value};
use talaria_sdk::provider::Endpoint;
use talaria_sdk::time;
use talaria_sdk::transport::{FailureClass, TransportFailure};
use talaria_sdk::{Error, ErrorKind};

use crate::retry;

/// Codes meaning the plan's allowance is used up: waiting a minute will not help.
const QUOTA_CODES: &[&str] = &[
    "usage_limit_reached",
    "insufficient_quota",
    "usage_not_included",
];
/// Longest server message kept in an error (some servers return whole pages).
const MAX_MESSAGE_CHARS: usize = 600;

/// One failed attempt, as observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The host name did not resolve.
    Dns(String),
    /// TCP connect failed (refused, unreachable, reset during connect).
    Connect(String),
    /// TCP/TLS/websocket connect took longer than allowed.
    ConnectTimeout(Duration),
    Tls(String),
    /// Nothing arrived within the first-event watchdog.
    FirstByteTimeout(Duration),
    /// The stream went silent for longer than the idle watchdog.
    IdleTimeout(Duration),
    /// An HTTP error status (or a websocket error frame carrying one). Boxed: it is by
    /// far the largest variant.
    Http(Box<HttpError>),
    /// The stream broke: closed early, I/O error, `response.incomplete`.
    Stream(String),
    /// `response.failed` (or a status-less websocket error frame).
    Failed {
        code: Option<String>,
        message: String,
    },
    /// `websocket_connection_limit_reached`: the socket's lifetime is over; reconnect.
    ConnectionLimit,
    /// Something on our side before anything was sent (a header the HTTP stack refuses).
    Local(String),
}

impl Problem {
    pub fn http(e: HttpError) -> Problem {
        Problem::Http(Box::new(e))
    }
}

/// The parts of an HTTP error response worth keeping. Never holds request headers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpError {
    pub status: u16,
    /// `error.code`, else `error.type`.
    pub code: Option<String>,
    /// The server's message (`error.message`, `detail`, or a short plain-text body).
    pub message: String,
    pub retry_after: Option<Duration>,
    /// Unix seconds when a rate limit or quota resets.
    pub reset_at: Option<u64>,
    /// `cf-mitigated: challenge`.
    pub cf_challenge: bool,
    pub request_id: Option<String>,
    pub cf_ray: Option<String>,
}

impl HttpError {
    /// From a response: its status, a header lookup (case-insensitive names) and body.
    /// `rate_limit_headers` are the provider's prefixes of usage-window headers
    /// ([`talaria_sdk::provider::Endpoint::rate_limit_headers`]).
    pub fn from_response(
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        now: u64,
        rate_limit_headers: &[String],
    ) -> HttpError {
        let text = String::from_utf8_lossy(body);
        let parsed: Option<Value> = serde_json::from_str(text.trim()).ok();
        let mut e = HttpError {
            status,
            ..Default::default()
        };
        match &parsed {
            Some(v) => e.read_body_json(v, now),
            None => {
                // Challenge pages and proxies answer in HTML: never paste that at the user.
                let trimmed = text.trim();
                if !trimmed.is_empty() && !trimmed.starts_with('<') {
                    e.message = truncate(trimmed);
                }
            }
        }
        e.read_headers(header, now, rate_limit_headers);
        e
    }

    /// A websocket error frame: `{"type":"error","status":429,"error":{...},"headers":{...}}`.
    pub fn from_ws_frame(frame: &Value, now: u64, rate_limit_headers: &[String]) -> HttpError {
        let status = frame.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
        let mut e = HttpError {
            status,
            ..Default::default()
        };
        e.read_body_json(frame, now);
        let headers = frame.get("headers").and_then(Value::as_object);
        let lookup = |name: &str| -> Option<String> {
            let headers = headers?;
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        e.read_headers(&lookup, now, rate_limit_headers);
        e
    }

    fn read_body_json(&mut self, v: &Value, now: u64) {
        let error = v.get("error").filter(|e| e.is_object()).unwrap_or(v);
        self.code =
            str_field(error, "code").or_else(|| str_field(error, "type").filter(|t| t != "error"));
        let message = str_field(error, "message")
            .or_else(|| str_field(v, "detail"))
            .or_else(|| v.get("detail").and_then(|d| str_field(d, "message")))
            .or_else(|| v.get("detail").and_then(|d| str_field(d, "code")))
            .unwrap_or_default();
        self.message = truncate(&message);
        if let Some(at) = error.get("resets_at").and_then(Value::as_u64) {
            self.reset_at = Some(at);
        } else if let Some(secs) = error.get("resets_in_seconds").and_then(Value::as_u64) {
            self.reset_at = Some(now + secs);
        }
    }

    fn read_headers(
        &mut self,
        header: &dyn Fn(&str) -> Option<String>,
        now: u64,
        rate_limit_headers: &[String],
    ) {
        self.cf_challenge =
            header("cf-mitigated").is_some_and(|v| v.trim().eq_ignore_ascii_case("challenge"));
        self.cf_ray = header("cf-ray");
        self.request_id = header("x-request-id").or_else(|| header("x-oai-request-id"));
        self.retry_after = header("retry-after")
            .and_then(|v| time::retry_after(&v, now))
            .or_else(|| retry::parse_try_again(&self.message));
        if self.reset_at.is_none() {
            self.reset_at = rate_limit_headers
                .iter()
                .find_map(|prefix| limit_reset(header, prefix));
        }
    }

    fn is_quota(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| QUOTA_CODES.contains(&c))
    }
}

/// The reset time of the exhausted `{prefix}-*` window (`x-codex-primary-reset-at`, ...):
/// the one at 100 %, else the later.
fn limit_reset(header: &dyn Fn(&str) -> Option<String>, prefix: &str) -> Option<u64> {
    let window = |name: &str| {
        let used: Option<f64> =
            header(&format!("{prefix}-{name}-used-percent")).and_then(|v| v.trim().parse().ok());
        let reset: Option<u64> =
            header(&format!("{prefix}-{name}-reset-at")).and_then(|v| v.trim().parse().ok());
        (used, reset)
    };
    let (primary_used, primary) = window("primary");
    let (secondary_used, secondary) = window("secondary");
    if primary_used.is_some_and(|u| u >= 100.0) && primary.is_some() {
        return primary;
    }
    if secondary_used.is_some_and(|u| u >= 100.0) && secondary.is_some() {
        return secondary;
    }
    primary.max(secondary)
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
    out.push('…');
    out
}

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Try again (counts as a retry); wait the given delay, else the backoff.
    Retry(Option<Duration>),
    /// 401/403: ask the provider for fresh credentials.
    ReportAuth,
    /// 429: tell the provider; it may rotate to another credential.
    ReportRateLimit,
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub class: FailureClass,
    pub action: Action,
}

fn verdict(class: FailureClass, action: Action) -> Verdict {
    Verdict { class, action }
}

/// The classification table (reference §5).
pub fn classify(problem: &Problem) -> Verdict {
    use FailureClass as C;
    match problem {
        Problem::Dns(_) | Problem::Connect(_) => verdict(C::Connect, Action::Retry(None)),
        Problem::ConnectTimeout(_) | Problem::FirstByteTimeout(_) | Problem::IdleTimeout(_) => {
            verdict(C::Timeout, Action::Retry(None))
        }
        Problem::Tls(_) => verdict(C::Tls, Action::Retry(None)),
        Problem::Stream(_) => verdict(C::Stream, Action::Retry(None)),
        Problem::ConnectionLimit => verdict(C::Stream, Action::Retry(Some(Duration::ZERO))),
        Problem::Local(_) => verdict(C::Other, Action::Fail),
        Problem::Failed { code, message } => classify_code(code.as_deref(), message)
            .unwrap_or_else(|| verdict(C::Server, Action::Retry(None))),
        Problem::Http(e) => classify_http(e),
    }
}

/// Error codes that mean the same whatever the status (or in `response.failed`).
fn classify_code(code: Option<&str>, message: &str) -> Option<Verdict> {
    use FailureClass as C;
    let code = code?;
    Some(match code {
        "context_length_exceeded" => verdict(C::ContextTooLong, Action::Fail),
        c if QUOTA_CODES.contains(&c) => verdict(C::Quota, Action::Fail),
        "invalid_prompt" | "invalid_request_error" => verdict(C::InvalidRequest, Action::Fail),
        "cyber_policy" => verdict(C::Other, Action::Fail),
        "rate_limit_exceeded" => {
            verdict(C::RateLimit, Action::Retry(retry::parse_try_again(message)))
        }
        "server_is_overloaded" | "slow_down" => verdict(C::Server, Action::Fail),
        _ => return None,
    })
}

fn classify_http(e: &HttpError) -> Verdict {
    use FailureClass as C;
    match e.status {
        401 => verdict(C::Auth, Action::ReportAuth),
        403 if e.cf_challenge => verdict(C::CloudflareChallenge, Action::Fail),
        403 => verdict(C::Auth, Action::ReportAuth),
        // Payment required: the account's credits are used up (OpenRouter, gateways).
        402 => verdict(C::Quota, Action::Fail),
        429 if e.is_quota() => verdict(C::Quota, Action::ReportRateLimit),
        429 => verdict(C::RateLimit, Action::ReportRateLimit),
        408 => verdict(C::Timeout, Action::Retry(None)),
        413 => verdict(C::ContextTooLong, Action::Fail),
        status if status >= 500 => match e.code.as_deref() {
            Some("server_is_overloaded" | "slow_down") => verdict(C::Server, Action::Fail),
            _ => verdict(C::Server, Action::Retry(None)),
        },
        _ => match classify_code(e.code.as_deref(), &e.message) {
            // A 4xx whose code says "context_length_exceeded" is that, and so on.
            Some(v) => v,
            _ if e.status == 426 => verdict(C::Other, Action::Fail),
            _ if (400..500).contains(&e.status) => verdict(C::InvalidRequest, Action::Fail),
            _ => verdict(C::Other, Action::Fail),
        },
    }
}

/// How the error crosses the ABI: the host maps kinds to exit codes (Auth → 3), so a
/// model-side rejection must not be `InvalidRequest` (that is exit 2, a usage error).
pub fn error_kind(class: FailureClass) -> ErrorKind {
    use FailureClass as C;
    match class {
        C::Auth => ErrorKind::Auth,
        C::RateLimit | C::Quota => ErrorKind::RateLimited,
        C::Connect | C::Tls | C::Timeout | C::Stream | C::Server | C::CloudflareChallenge => {
            ErrorKind::Network
        }
        C::ContextTooLong | C::InvalidRequest | C::Other => ErrorKind::Other,
    }
}

/// Failures the fallback model might get past (another backend or credential).
pub fn fallback_worthy(class: FailureClass) -> bool {
    use FailureClass as C;
    matches!(
        class,
        C::CloudflareChallenge
            | C::Connect
            | C::Tls
            | C::Timeout
            | C::Server
            | C::RateLimit
            | C::Quota
            | C::Stream
    )
}

/// Where a failed request was going; what of it is shown holds nothing secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target<'a> {
    /// The URL that failed (`…/responses`, `wss://…/responses`, `…/models`).
    pub url: String,
    /// The provider's base URL, for the `curl -I` hint.
    pub base: String,
    /// The websocket transport was tried before this failure (for the Cloudflare hint).
    pub websocket_tried: bool,
    /// Retries spent before giving up.
    pub retries: u32,
    /// The endpoint the request went to, for its provider's advice
    /// ([`Endpoint::hint_for`]). Never shown: its headers hold credentials.
    pub endpoint: Option<&'a Endpoint>,
    /// The transport plugin's id: its settings are `[plugin_config.<transport>]`.
    pub transport: &'a str,
    /// The transport can use a websocket (the Cloudflare advice mentions it).
    pub has_websocket: bool,
}

impl Target<'_> {
    /// Where the transport's settings live, for "raise ... under" advice.
    fn settings(&self) -> String {
        if self.transport.is_empty() {
            "the transport's [plugin_config] table".to_owned()
        } else {
            format!("[plugin_config.{}]", self.transport)
        }
    }

    /// ` (after N retries)`, or nothing when none were spent.
    fn after(&self) -> String {
        match self.retries {
            0 => String::new(),
            1 => " (after 1 retry)".to_owned(),
            n => format!(" (after {n} retries)"),
        }
    }

    /// What to try next: the provider's advice for this failure, else `generic`.
    fn advice<'s>(&'s self, class: FailureClass, message: &str, generic: &'s str) -> &'s str {
        self.endpoint
            .and_then(|e| e.hint_for(class, message))
            .unwrap_or(generic)
    }
}

/// The error `transport.stream` / `transport.probe` return for a problem.
pub fn failure_error(problem: &Problem, class: FailureClass, target: &Target) -> Error {
    let message = describe(problem, class, target);
    let (status, reset_at, request_id) = match problem {
        Problem::Http(e) => (
            Some(e.status).filter(|s| *s != 0),
            e.reset_at,
            e.request_id.clone().or(e.cf_ray.clone()),
        ),
        _ => (None, None, None),
    };
    let failure = TransportFailure {
        class,
        url: target.url.clone(),
        status,
        reset_at,
        request_id,
        fallback_worthy: fallback_worthy(class),
    };
    with_failure(Error::new(error_kind(class), message), &failure)
}

/// Attaches the failure as the error's data (keeping the error's kind and message).
pub fn with_failure(error: Error, failure: &TransportFailure) -> Error {
    let data = serde_json::to_value(failure).unwrap_or_else(|_| json!({}));
    error.with_data(data)
}

/// The user-facing sentence(s): what happened, then what to try.
pub fn describe(problem: &Problem, class: FailureClass, target: &Target) -> String {
    let url = &target.url;
    let after = target.after();
    match problem {
        Problem::Dns(detail) => format!(
            "Could not resolve the host of {url}{after}: {detail}. Check the network connection and DNS \
             (and the provider's base URL), then try again; `talaria doctor` checks the backend."
        ),
        Problem::Connect(detail) => format!(
            "Could not connect to {url}{after}: {detail}. Check the network connection and any proxy \
             settings, then try again; `talaria doctor` checks the backend."
        ),
        Problem::ConnectTimeout(d) => {
            let after_time = if d.is_zero() { String::new() } else { format!(" after {}", secs(*d)) };
            format!(
                "Timed out{after_time} connecting to {url}{after}. The network may be down or blocking the backend; \
                 try again, try another network, or run `talaria doctor`."
            )
        }
        Problem::Tls(detail) => format!(
            "The TLS handshake with {url} failed{after}: {detail}. A proxy or antivirus that intercepts HTTPS, \
             or a wrong system clock, can cause this; try another network or run `talaria doctor`."
        ),
        Problem::FirstByteTimeout(d) => format!(
            "The backend sent nothing for {} after the request to {url}{after}. It may be overloaded, or the \
             network is holding the stream back; try again, or raise `first_byte_timeout_ms` under \
             {}.",
            secs(*d),
            target.settings()
        ),
        Problem::IdleTimeout(d) => format!(
            "The response stream from {url} went silent for {}{after}. Try again, or raise `idle_timeout_ms` \
             under {}.",
            secs(*d),
            target.settings()
        ),
        Problem::Stream(detail) => format!("The response stream from {url} broke{after}: {detail}. Try again."),
        Problem::ConnectionLimit => {
            format!("The backend kept closing the websocket at {url} (connection limit reached){after}. Try again.")
        }
        Problem::Local(detail) => format!("Could not build the request to {url}: {detail}."),
        Problem::Failed { code, message } => describe_model_error(class, code.as_deref(), message, None, target, false),
        Problem::Http(e) if class == FailureClass::CloudflareChallenge => cloudflare_message(e, target),
        Problem::Http(e) => describe_model_error(class, e.code.as_deref(), &e.message, Some(e.as_ref()), target, true),
    }
}

/// What the backend said, then what to try: the provider's advice for the class when
/// it gave some (its wording names its own commands), else a generic sentence.
fn describe_model_error(
    class: FailureClass,
    code: Option<&str>,
    message: &str,
    http: Option<&HttpError>,
    target: &Target,
    show_url: bool,
) -> String {
    use FailureClass as C;
    let said = match (message.is_empty(), code) {
        (false, _) => format!(": {message}"),
        (true, Some(code)) => format!(": {code}"),
        (true, None) => String::new(),
    };
    let status = http
        .map(|e| format!(" (HTTP {})", e.status))
        .filter(|_| http.is_some_and(|e| e.status != 0))
        .unwrap_or_default();
    let at = if show_url {
        format!(" at {}", target.url)
    } else {
        String::new()
    };
    let after = target.after();
    let advice = |generic: &'static str| target.advice(class, message, generic).to_owned();
    let reset = http.and_then(|e| e.reset_at).map(|at| {
        let now = time::now_secs();
        format!(
            " The limit resets in {}.",
            talaria_sdk::text::duration_words(at.saturating_sub(now))
        )
    });
    let reset = reset.unwrap_or_default();
    match class {
        C::ContextTooLong => format!(
            "The conversation is too long for the model's context window{status}{said}. {}",
            advice("Start a new session (/new), or shorten the input.")
        ),
        C::Quota => format!(
            "The account's usage limit is reached{status}{said}.{reset} {}",
            advice("Wait for the reset, or switch to another provider or model.")
        ),
        C::RateLimit => format!(
            "The backend is rate limiting requests{status}{after}{said}.{reset} {}",
            advice("Wait a moment and try again.")
        ),
        C::InvalidRequest => format!(
            "The backend rejected the request{status}{said}. {}",
            advice("This is usually a model or request setting the backend does not accept; try another model.")
        ),
        C::Server => {
            let overloaded = matches!(code, Some("server_is_overloaded" | "slow_down"));
            if overloaded {
                format!("The backend is overloaded{status}{said}. {}", advice("Try again in a little while, or use another model."))
            } else {
                format!("The backend failed{status}{at}{after}{said}. {}", advice("Try again in a little while."))
            }
        }
        C::Auth => format!("The backend refused the credentials{status}{said}. {}", advice("Sign in again with `talaria login`.")),
        _ => format!("The request failed{status}{at}{after}{said}."),
    }
}

fn cloudflare_message(e: &HttpError, target: &Target) -> String {
    let ray = e
        .cf_ray
        .as_deref()
        .map(|r| format!(", cf-ray {r}"))
        .unwrap_or_default();
    let websocket = if !target.has_websocket {
        String::new()
    } else if target.websocket_tried {
        " The websocket transport was already tried first.".to_owned()
    } else {
        format!(
            " The websocket transport was not available for this request; it is tried first when enabled \
             (remove `websocket = false` from {}).",
            target.settings()
        )
    };
    format!(
        "Cloudflare answered {} with a challenge (HTTP 403, cf-mitigated: challenge{ray}) instead of the backend. \
         This happens from VPS, datacenter, VPN or proxy addresses, and retrying does not clear it. Try another \
         network or turn off the VPN/proxy, run `talaria doctor`, and check `curl -I {}` from this machine.{websocket}",
        target.url, target.base
    )
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 || d.as_secs() >= 10 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A short reason for progress lines and log entries ("HTTP 502", "idle timeout").
pub fn short_reason(problem: &Problem) -> String {
    match problem {
        Problem::Dns(_) => "DNS lookup failed".to_owned(),
        Problem::Connect(_) => "connection failed".to_owned(),
        Problem::ConnectTimeout(_) => "connect timeout".to_owned(),
        Problem::Tls(_) => "TLS handshake failed".to_owned(),
        Problem::FirstByteTimeout(_) => "no response in time".to_owned(),
        Problem::IdleTimeout(_) => "stream went idle".to_owned(),
        Problem::Http(e) if e.cf_challenge => "Cloudflare challenge".to_owned(),
        Problem::Http(e) => match &e.code {
            Some(code) => format!("HTTP {}: {code}", e.status),
            None => format!("HTTP {}", e.status),
        },
        Problem::Stream(detail) => detail.clone(),
        Problem::Failed { code, .. } => format!(
            "response failed: {}",
            code.as_deref().unwrap_or("server error")
        ),
        Problem::ConnectionLimit => "connection limit reached".to_owned(),
        Problem::Local(detail) => detail.clone(),
    }
}

/// Reads a network error's cause chain (reqwest → hyper → io → rustls, or tungstenite →
/// io → rustls) to tell DNS, TCP connect and TLS failures apart.
pub fn network_problem(err: &(dyn std::error::Error + 'static)) -> Problem {
    let mut dns = false;
    let mut tls = false;
    let mut timed_out = false;
    let mut detail = String::new();
    let mut current = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        depth += 1;
        if depth > 16 {
            break;
        }
        if e.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
            || lower.contains("no such host")
            || lower.contains("nodename nor servname")
            || lower.contains("temporary failure in name resolution")
        {
            dns = true;
        }
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("peer sent") {
            tls = true;
        }
        if !text.is_empty() {
            detail = text;
        }
        // io::Error::source() skips the error it wraps; look inside it instead.
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    timed_out = true;
                }
                io.get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static))
            }
            None => e.source(),
        };
    }
    if tls {
        Problem::Tls(detail)
    } else if dns {
        Problem::Dns(detail)
    } else if timed_out {
        Problem::ConnectTimeout(Duration::ZERO)
    } else {
        Problem::Connect(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use FailureClass as C;

    /// The usage-window header prefix the Codex provider names.
    fn codex_limits() -> Vec<String> {
        vec!["x-codex".to_owned()]
    }

    fn http(status: u16, headers: &[(&str, &str)], body: &str) -> HttpError {
        let map: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        HttpError::from_response(
            status,
            &|name: &str| map.get(name).cloned(),
            body.as_bytes(),
            1_000,
            &codex_limits(),
        )
    }

    fn class_of(p: Problem) -> (FailureClass, Action) {
        let v = classify(&p);
        (v.class, v.action)
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(
            class_of(Problem::http(http(401, &[], ""))),
            (C::Auth, Action::ReportAuth)
        );
        assert_eq!(
            class_of(Problem::http(http(403, &[], "{}"))),
            (C::Auth, Action::ReportAuth)
        );
        assert_eq!(
            class_of(Problem::http(http(
                403,
                &[("CF-Mitigated", "challenge")],
                "<html>Just a moment...</html>"
            ))),
            (C::CloudflareChallenge, Action::Fail)
        );
        assert_eq!(
            class_of(Problem::http(http(429, &[], "{}"))),
            (C::RateLimit, Action::ReportRateLimit)
        );
        let quota = r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_in_seconds":60}}"#;
        assert_eq!(
            class_of(Problem::http(http(429, &[], quota))),
            (C::Quota, Action::ReportRateLimit)
        );
        assert_eq!(
            class_of(Problem::http(http(402, &[], "{}"))),
            (C::Quota, Action::Fail)
        );
        assert_eq!(
            class_of(Problem::http(http(500, &[], "oops"))),
            (C::Server, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::http(http(502, &[], ""))),
            (C::Server, Action::Retry(None))
        );
        let slow = r#"{"error":{"code":"slow_down","message":"slow down"}}"#;
        assert_eq!(
            class_of(Problem::http(http(503, &[], slow))),
            (C::Server, Action::Fail)
        );
        let bad = r#"{"detail":"The 'gpt-5.1-codex' model is not supported when using Codex with a ChatGPT account."}"#;
        assert_eq!(
            class_of(Problem::http(http(400, &[], bad))),
            (C::InvalidRequest, Action::Fail)
        );
        let ctx = r#"{"error":{"code":"context_length_exceeded","message":"too long"}}"#;
        assert_eq!(
            class_of(Problem::http(http(400, &[], ctx))),
            (C::ContextTooLong, Action::Fail)
        );
        assert_eq!(
            class_of(Problem::http(http(408, &[], ""))),
            (C::Timeout, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::http(http(426, &[], ""))),
            (C::Other, Action::Fail)
        );
        assert_eq!(
            class_of(Problem::http(http(404, &[], ""))),
            (C::InvalidRequest, Action::Fail)
        );
    }

    #[test]
    fn response_failed_codes_are_classified() {
        let failed = |code: &str, message: &str| Problem::Failed {
            code: Some(code.into()),
            message: message.into(),
        };
        assert_eq!(
            class_of(failed("context_length_exceeded", "")),
            (C::ContextTooLong, Action::Fail)
        );
        assert_eq!(
            class_of(failed("insufficient_quota", "")),
            (C::Quota, Action::Fail)
        );
        assert_eq!(
            class_of(failed("usage_not_included", "")),
            (C::Quota, Action::Fail)
        );
        assert_eq!(
            class_of(failed("invalid_prompt", "")),
            (C::InvalidRequest, Action::Fail)
        );
        assert_eq!(
            class_of(failed("rate_limit_exceeded", "Please try again in 1.5s")),
            (
                C::RateLimit,
                Action::Retry(Some(Duration::from_millis(1500)))
            )
        );
        assert_eq!(
            class_of(failed("server_is_overloaded", "")),
            (C::Server, Action::Fail)
        );
        assert_eq!(class_of(failed("slow_down", "")), (C::Server, Action::Fail));
        assert_eq!(
            class_of(failed("weird_new_code", "")),
            (C::Server, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::Failed {
                code: None,
                message: "x".into()
            }),
            (C::Server, Action::Retry(None))
        );
    }

    #[test]
    fn network_problems_are_retried() {
        assert_eq!(
            class_of(Problem::Connect("refused".into())),
            (C::Connect, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::Dns("nx".into())),
            (C::Connect, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::Tls("bad cert".into())),
            (C::Tls, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::IdleTimeout(Duration::from_secs(1))),
            (C::Timeout, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::FirstByteTimeout(Duration::from_secs(1))),
            (C::Timeout, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::Stream("closed".into())),
            (C::Stream, Action::Retry(None))
        );
        assert_eq!(
            class_of(Problem::ConnectionLimit),
            (C::Stream, Action::Retry(Some(Duration::ZERO)))
        );
    }

    /// What the fuzz target `http_error` (fuzz-targets/) found, in the test's own form:
    /// a 429 whose `Retry-After` (3018446744073709551615 seconds) does not fit a
    /// `Duration`, which panicked; now it is no hint, and the body's reset time counts.
    #[test]
    fn a_retry_after_beyond_a_duration_is_ignored() {
        let e = http(
            429,
            &[("retry-after", "3018446744073709551615")],
            r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":1800000200}}"#,
        );
        assert_eq!(e.status, 429);
        assert_eq!(e.retry_after, None);
        assert_eq!(e.code.as_deref(), Some("usage_limit_reached"));
        assert_eq!(e.reset_at, Some(1_800_000_200));
    }

    #[test]
    fn http_error_reads_hints_from_headers_and_body() {
        let e = http(
            429,
            &[
                ("Retry-After", "7"),
                ("x-request-id", "req_1"),
                ("cf-ray", "ray-1"),
            ],
            r#"{"error":{"code":"rate_limit_exceeded","message":"Slow down. Please try again in 3s."}}"#,
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        assert_eq!(e.cf_ray.as_deref(), Some("ray-1"));
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        // Without the header, the message's hint counts.
        let e = http(
            429,
            &[],
            r#"{"error":{"message":"Please try again in 28ms."}}"#,
        );
        assert_eq!(e.retry_after, Some(Duration::from_millis(28)));
        // Reset times: the body's, else the exhausted window's header.
        let e = http(
            429,
            &[],
            r#"{"error":{"type":"usage_limit_reached","resets_at":5000}}"#,
        );
        assert_eq!(e.reset_at, Some(5000));
        let e = http(
            429,
            &[],
            r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":60}}"#,
        );
        assert_eq!(e.reset_at, Some(1_060));
        let e = http(
            429,
            &[
                ("x-codex-primary-used-percent", "40"),
                ("x-codex-primary-reset-at", "2000"),
                ("x-codex-secondary-used-percent", "100"),
                ("x-codex-secondary-reset-at", "1500"),
            ],
            "",
        );
        assert_eq!(e.reset_at, Some(1500));
        let e = http(429, &[("x-codex-primary-reset-at", "2000")], "");
        assert_eq!(e.reset_at, Some(2000));
    }

    #[test]
    fn usage_window_headers_are_read_only_under_the_providers_prefixes() {
        let headers: HashMap<&str, &str> = [
            ("x-codex-primary-reset-at", "2000"),
            ("x-acme-secondary-reset-at", "3000"),
        ]
        .into();
        let lookup = |name: &str| headers.get(name).map(|v| v.to_string());
        let read = |prefixes: &[&str]| {
            let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
            HttpError::from_response(429, &lookup, b"", 1_000, &prefixes).reset_at
        };
        assert_eq!(read(&[]), None, "a provider that names none gets none read");
        assert_eq!(read(&["x-codex"]), Some(2000));
        assert_eq!(read(&["x-acme"]), Some(3000));
        assert_eq!(
            read(&["x-none", "x-acme", "x-codex"]),
            Some(3000),
            "the first prefix that has a window"
        );
    }

    #[test]
    fn html_bodies_are_not_quoted() {
        let e = http(
            403,
            &[("cf-mitigated", "challenge")],
            "<!DOCTYPE html><html>Just a moment</html>",
        );
        assert_eq!(e.message, "");
        assert!(e.cf_challenge);
        let e = http(502, &[], "Bad gateway");
        assert_eq!(e.message, "Bad gateway");
    }

    #[test]
    fn websocket_error_frames_carry_status_and_headers() {
        let frame = json!({
            "type": "error",
            "status": 429,
            "error": {"type": "usage_limit_reached", "message": "limit", "resets_in_seconds": 10},
            "headers": {"x-codex-primary-reset-at": "99", "Retry-After": 12}
        });
        let e = HttpError::from_ws_frame(&frame, 1_000, &codex_limits());
        assert_eq!(e.status, 429);
        assert_eq!(e.code.as_deref(), Some("usage_limit_reached"));
        assert_eq!(e.reset_at, Some(1_010));
        assert_eq!(e.retry_after, Some(Duration::from_secs(12)));
        assert_eq!(classify(&Problem::http(e)).class, C::Quota);
    }

    #[test]
    fn kinds_and_fallback_follow_the_class() {
        assert_eq!(error_kind(C::Auth), ErrorKind::Auth);
        assert_eq!(error_kind(C::Quota), ErrorKind::RateLimited);
        assert_eq!(error_kind(C::RateLimit), ErrorKind::RateLimited);
        assert_eq!(error_kind(C::CloudflareChallenge), ErrorKind::Network);
        assert_eq!(error_kind(C::InvalidRequest), ErrorKind::Other);
        assert_eq!(error_kind(C::ContextTooLong), ErrorKind::Other);
        for c in [
            C::CloudflareChallenge,
            C::Connect,
            C::Tls,
            C::Timeout,
            C::Server,
            C::RateLimit,
            C::Quota,
            C::Stream,
        ] {
            assert!(fallback_worthy(c), "{c:?}");
        }
        for c in [C::Auth, C::ContextTooLong, C::InvalidRequest, C::Other] {
            assert!(!fallback_worthy(c), "{c:?}");
        }
    }

    #[test]
    fn cloudflare_errors_say_what_to_try_and_carry_the_ray() {
        let e = http(
            403,
            &[("cf-mitigated", "challenge"), ("cf-ray", "8abc-AMS")],
            "<html></html>",
        );
        let target = Target {
            url: "https://chatgpt.com/backend-api/codex/responses".into(),
            base: "https://chatgpt.com/backend-api/codex".into(),
            websocket_tried: true,
            retries: 0,
            endpoint: None,
            transport: "responses",
            has_websocket: true,
        };
        let err = failure_error(&Problem::http(e), C::CloudflareChallenge, &target);
        assert_eq!(err.kind, ErrorKind::Network);
        for needle in [
            "Cloudflare",
            "challenge",
            "8abc-AMS",
            "curl -I https://chatgpt.com/backend-api/codex",
            "talaria doctor",
            "VPN",
            "websocket",
        ] {
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
        let data: TransportFailure = serde_json::from_value(err.data.unwrap()).unwrap();
        assert_eq!(data.class, C::CloudflareChallenge);
        assert_eq!(data.status, Some(403));
        assert_eq!(data.request_id.as_deref(), Some("8abc-AMS"));
        assert!(data.fallback_worthy);
        assert_eq!(data.url, target.url);
    }

    /// An endpoint with advice like the Codex provider's.
    fn advised() -> Endpoint {
        let hint = |class, when: Option<&str>, text: &str| talaria_sdk::provider::ErrorHint {
            class,
            when_message_contains: when.map(str::to_owned),
            hint: text.to_owned(),
        };
        Endpoint {
            hints: vec![
                hint(
                    C::Quota,
                    None,
                    "Wait for the reset, or add another account with `talaria auth add acme`.",
                ),
                hint(
                    C::InvalidRequest,
                    Some("not supported when using Codex"),
                    "Pick another model: `talaria models` lists them.",
                ),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn model_errors_keep_the_server_message() {
        let bad = r#"{"detail":"The 'gpt-5.1-codex' model is not supported when using Codex with a ChatGPT account."}"#;
        let e = http(400, &[], bad);
        let err = failure_error(
            &Problem::http(e.clone()),
            C::InvalidRequest,
            &Target::default(),
        );
        assert!(
            err.message
                .contains("not supported when using Codex with a ChatGPT account"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .ends_with("the backend does not accept; try another model."),
            "generic advice: {}",
            err.message
        );
        assert_eq!(err.kind, ErrorKind::Other);
        let endpoint = advised();
        let target = Target {
            endpoint: Some(&endpoint),
            ..Default::default()
        };
        let err = failure_error(&Problem::http(e), C::InvalidRequest, &target);
        assert!(
            err.message.starts_with(
                "The backend rejected the request (HTTP 400): The 'gpt-5.1-codex' model"
            ),
            "{}",
            err.message
        );
        assert!(
            err.message
                .ends_with(" Pick another model: `talaria models` lists them."),
            "{}",
            err.message
        );
        let other = http(400, &[], r#"{"error":{"message":"Unsupported parameter"}}"#);
        let err = failure_error(&Problem::http(other), C::InvalidRequest, &target);
        assert!(
            err.message.ends_with("try another model."),
            "advice only when the message matches: {}",
            err.message
        );
        let quota = http(
            429,
            &[],
            r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":4600}}"#,
        );
        let err = failure_error(&Problem::http(quota.clone()), C::Quota, &Target::default());
        assert!(
            err.message
                .ends_with("Wait for the reset, or switch to another provider or model."),
            "{}",
            err.message
        );
        assert_eq!(err.kind, ErrorKind::RateLimited);
        let endpoint = advised();
        let err = failure_error(
            &Problem::http(quota),
            C::Quota,
            &Target {
                endpoint: Some(&endpoint),
                ..Default::default()
            },
        );
        assert!(err.message.starts_with("The account's usage limit is reached (HTTP 429): The usage limit has been reached."), "{}", err.message);
        assert!(
            err.message.ends_with(
                " Wait for the reset, or add another account with `talaria auth add acme`."
            ),
            "{}",
            err.message
        );
        let data: TransportFailure = serde_json::from_value(err.data.unwrap()).unwrap();
        assert_eq!(data.reset_at, Some(4600));
        assert_eq!(data.class, C::Quota);
    }

    #[test]
    fn io_error_chains_tell_dns_connect_and_tls_apart() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        assert!(matches!(network_problem(&refused), Problem::Connect(d) if d.contains("refused")));
        let dns = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        assert!(matches!(network_problem(&dns), Problem::Dns(_)));
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(matches!(network_problem(&tls), Problem::Tls(d) if d.contains("certificate")));
    }
}
