//! One HTTP attempt: send, map what fails to a [`Problem`], and read the answer as SSE
//! (or whole) under the watchdogs.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use talaria_sdk::provider::Endpoint;
use talaria_sdk::time::now_secs;

use crate::classify::{network_problem, HttpError, Problem};
use crate::sse::SseParser;
use crate::watchdog::Watchdog;

/// Error bodies are read up to this much: enough for any JSON error, not a whole page.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub fn client(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| format!("could not set up the HTTP client: {e}"))
}

/// The headers of a streamed JSON `POST`: the provider's endpoint headers, then ours,
/// which win (`accept: text/event-stream`, `content-type: application/json`); the
/// provider cannot set the ones that describe the body.
pub fn sse_post_headers(endpoint: &Endpoint) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = endpoint
        .headers
        .iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !matches!(
                lower.as_str(),
                "accept" | "content-type" | "content-encoding" | "content-length" | "host"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("accept".into(), "text/event-stream".into()));
    headers.push(("content-type".into(), "application/json".into()));
    headers
}

/// Header map from name/value pairs. A bad value is reported by its header's name only:
/// values hold credentials.
pub fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, Problem> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Problem::Local(format!("the provider gave an invalid header name {name:?}"))
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            Problem::Local(format!(
                "the provider gave an invalid value for the header {name:?}"
            ))
        })?;
        map.insert(header, value);
    }
    Ok(map)
}

/// Sends a request under the first-byte watchdog. A success status returns the
/// response for the caller to read; an error status is read into [`Problem::Http`].
/// `rate_limit_headers`: the provider's usage-window header prefixes.
pub async fn send(
    request: reqwest::RequestBuilder,
    watchdog: &Watchdog,
    rate_limit_headers: &[String],
) -> Result<reqwest::Response, Problem> {
    let response = match tokio::time::timeout_at(watchdog.deadline(), request.send()).await {
        Err(_) => return Err(watchdog.tripped()),
        Ok(Err(e)) => return Err(request_problem(e)),
        Ok(Ok(response)) => response,
    };
    if !response.status().is_success() {
        return Err(error_response(response, watchdog, rate_limit_headers).await);
    }
    Ok(response)
}

/// What an SSE reader does with the stream's events.
pub trait SseEvents {
    type Output;
    /// One event's `data`: `Some` ends the stream with that answer, `None` reads on.
    fn data(&mut self, data: &str) -> Option<Result<Self::Output, Problem>>;
    /// The body ended before `data` returned an answer.
    fn end(&mut self) -> Result<Self::Output, Problem>;
}

/// Reads an SSE body under the watchdog (each event resets the idle limit) until the
/// handler has its answer or the body ends.
pub async fn read_sse<H: SseEvents>(
    response: reqwest::Response,
    watchdog: &mut Watchdog,
    handler: &mut H,
) -> Result<H::Output, Problem> {
    let mut parser = SseParser::new();
    let mut body = response.bytes_stream();
    loop {
        let chunk = match tokio::time::timeout_at(watchdog.deadline(), body.next()).await {
            Err(_) => return Err(watchdog.tripped()),
            Ok(None) => {
                // A last event without its blank line still counts.
                if let Some(data) = parser.finish() {
                    if let Some(end) = handler.data(&data) {
                        return end;
                    }
                }
                return handler.end();
            }
            Ok(Some(Err(e))) => {
                return Err(Problem::Stream(format!(
                    "reading the stream failed: {}",
                    deepest(&e.without_url())
                )));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        let events = parser.feed(&chunk);
        if !events.is_empty() {
            watchdog.alive();
        }
        for data in events {
            if let Some(end) = handler.data(&data) {
                return end;
            }
        }
    }
}

/// Reads a whole (non-streamed) body under the watchdog, up to `limit` bytes.
pub async fn read_body(
    response: reqwest::Response,
    watchdog: &mut Watchdog,
    limit: usize,
) -> Result<Vec<u8>, Problem> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    loop {
        match tokio::time::timeout_at(watchdog.deadline(), stream.next()).await {
            Err(_) => return Err(watchdog.tripped()),
            Ok(None) => return Ok(body),
            Ok(Some(Err(e))) => {
                return Err(Problem::Stream(format!(
                    "reading the body failed: {}",
                    deepest(&e.without_url())
                )))
            }
            Ok(Some(Ok(chunk))) => {
                watchdog.alive();
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return Err(Problem::Stream(format!(
                        "the body is larger than {limit} bytes"
                    )));
                }
            }
        }
    }
}

/// `GET {url}` with the endpoint's headers: the probe. Returns the status.
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    limit: Duration,
    rate_limit_headers: &[String],
) -> Result<u16, Problem> {
    let watchdog = Watchdog::start(limit, limit);
    let response = send(
        client.get(url).headers(headers),
        &watchdog,
        rate_limit_headers,
    )
    .await?;
    Ok(response.status().as_u16())
}

async fn error_response(
    response: reqwest::Response,
    watchdog: &Watchdog,
    rate_limit_headers: &[String],
) -> Problem {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    // The body is only for the message; a slow or endless one must not hold up the error.
    while body.len() < MAX_ERROR_BODY {
        match tokio::time::timeout_at(watchdog.deadline(), stream.next()).await {
            Ok(Some(Ok(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    let lookup = |name: &str| header(&headers, name);
    Problem::http(HttpError::from_response(
        status,
        &lookup,
        &body,
        now_secs(),
        rate_limit_headers,
    ))
}

/// A header's value as text, when it is text.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A request that got no response: connect, DNS, TLS or a connect timeout.
fn request_problem(e: reqwest::Error) -> Problem {
    let e = e.without_url();
    if e.is_timeout() {
        return Problem::ConnectTimeout(Duration::ZERO);
    }
    if e.is_builder() {
        return Problem::Local(deepest(&e));
    }
    network_problem(&e)
}

/// The innermost message of an error chain (the one that says what actually failed).
pub fn deepest(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut current = e.source();
    while let Some(inner) = current {
        let t = inner.to_string();
        if !t.is_empty() {
            text = t;
        }
        current = inner.source();
    }
    text
}
