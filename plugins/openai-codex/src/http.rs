//! The plugin's HTTP client and the small helpers every request shares.

use std::sync::OnceLock;
use std::time::Duration;

use talaria_sdk::{time, Error, ErrorKind, Result};

/// How long to wait for a TCP/TLS connection before calling the network down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A token refresh holds the cross-process credential lock, so it must end well within
/// the host's lock timeout (30 s).
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(20);
pub const MODELS_TIMEOUT: Duration = Duration::from_secs(10);
/// Device-code requests and the code exchange.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Quote at most this much of an error reply: enough to see what went wrong without
/// dumping a whole HTML page into a message.
const EXCERPT_CHARS: usize = 200;

/// One client per plugin instance, built on first use so a broken TLS setup fails the
/// requests that need the network, not `auth list` or `logout`.
#[derive(Default)]
pub struct Http {
    client: OnceLock<std::result::Result<reqwest::Client, String>>,
}

impl Http {
    pub fn client(&self) -> Result<&reqwest::Client> {
        self.client
            .get_or_init(|| {
                // Ignore "already installed": another plugin (or an earlier instance of
                // this one) may have installed the same provider first.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    // Requests are few and far between and each runs in its own
                    // `block_on`; an idle pooled connection would go stale between them.
                    .pool_max_idle_per_host(0)
                    .build()
                    .map_err(|e| error_chain(&e))
            })
            .as_ref()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot set up the HTTP client: {e}"),
                )
            })
    }
}

/// A reqwest error with its causes ("error sending request: connection refused").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Why a request never got an answer, for messages. Never includes the URL's query or
/// the request body (reqwest errors carry only the URL, and ours hold no secrets).
pub fn describe_send_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        format!("could not connect ({})", error_chain(e))
    } else {
        error_chain(e)
    }
}

/// At most 200 characters of an error reply, on one line.
pub fn excerpt(body: &str) -> String {
    excerpt_redacted(body, &[])
}

/// [`excerpt`], with `secrets` and anything that looks like a JWT blanked out first: an
/// error reply that echoes what we sent must not carry a token into a message or log.
pub fn excerpt_redacted(body: &str, secrets: &[&str]) -> String {
    let mut body = body.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        body = body.replace(secret, "[redacted]");
    }
    let flat: String = body
        .split_whitespace()
        .map(redact_jwts)
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        flat
    } else {
        let cut: String = flat.chars().take(EXCERPT_CHARS).collect();
        format!("{cut}…")
    }
}

/// Blanks JWTs (`eyJ` + base64url, 20 characters or more) inside one word.
fn redact_jwts(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
            .unwrap_or(tail.len());
        if len >= 20 {
            out.push_str("[redacted]");
        } else {
            out.push_str(&tail[..len]);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// A reply's `Retry-After` in whole seconds, rounded up (delta-seconds or an HTTP date).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    time::retry_after(value, time::now_secs()).map(time::ceil_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_flat() {
        assert_eq!(excerpt("  a\n b  "), "a b");
        let long = "x".repeat(500);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 201);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn excerpts_never_carry_tokens() {
        let body = r#"{"error":"bad","sent":"rt-secret-1","jwt":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig","short":"eyJx"}"#;
        let e = excerpt_redacted(body, &["rt-secret-1"]);
        assert!(!e.contains("rt-secret-1") && !e.contains("eyJhbGci"), "{e}");
        assert!(
            e.contains("[redacted]") && e.contains("eyJx") && e.contains(r#""error":"bad""#),
            "{e}"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(7));
        // An HTTP date counts from now; one in the past means "now".
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(0));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
