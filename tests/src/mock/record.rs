//! Recorded requests and scripted responses.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One request as the mock received it. Websocket text frames are recorded as method
/// "WS" with the handshake's path, query and headers and the frame as the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lowercased names, in arrival order (repeats of one name grouped together).
    pub headers: Vec<(String, String)>,
    /// The body exactly as sent (still zstd-compressed if it was).
    pub body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn from_parts(parts: &Parts, body: &[u8]) -> Recorded {
        Recorded {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (any case).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_form(self.query.as_deref().unwrap_or("")).remove(name)
    }

    /// The body, zstd-decompressed when `content-encoding: zstd`.
    pub fn try_decoded_body(&self) -> Result<Vec<u8>, String> {
        if self
            .header("content-encoding")
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("zstd"))
        {
            zstd::stream::decode_all(self.body.as_slice())
                .map_err(|e| format!("body is not valid zstd: {e}"))
        } else {
            Ok(self.body.clone())
        }
    }

    /// [`Recorded::try_decoded_body`], panicking on bad zstd.
    pub fn decoded_body(&self) -> Vec<u8> {
        self.try_decoded_body()
            .unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.path))
    }

    /// The decoded body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.decoded_body()).into_owned()
    }

    /// The aux router's session-title request (sent after a session's first turn), which
    /// tests counting a turn's own requests leave out.
    pub fn is_title_request(&self) -> bool {
        self.text().contains(super::TITLE_REQUEST)
    }

    pub fn try_json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.try_decoded_body()?)
            .map_err(|e| format!("body is not JSON: {e}"))
    }

    /// The decoded body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        self.try_json().unwrap_or_else(|e| {
            panic!(
                "{} {}: {e}\n{}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> BTreeMap<String, String> {
        parse_form(&String::from_utf8_lossy(&self.decoded_body()))
    }

    /// The body's top-level fields, whether it is JSON (by content-type, or by a leading
    /// `{` when there is none) or a form. Non-string JSON values are given as JSON text.
    pub fn try_params(&self) -> Result<BTreeMap<String, String>, String> {
        let body = self.try_decoded_body()?;
        let content_type = self
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let is_json = content_type.contains("json")
            || (content_type.is_empty() && body.trim_ascii_start().starts_with(b"{"));
        if !is_json {
            return Ok(parse_form(&String::from_utf8_lossy(&body)));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()),
            Ok(_) => Err("JSON body is not an object".into()),
            Err(e) => Err(format!("body is not JSON: {e}")),
        }
    }

    /// One field of the body (JSON or form), if present.
    pub fn param(&self, name: &str) -> Option<String> {
        self.try_params().ok()?.remove(name)
    }
}

/// Parses `a=1&b=x%20y` (`+` is a space).
pub fn parse_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A scripted HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl MockResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<String>) -> MockResponse {
        MockResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A JSON body with `content-type: application/json`.
    pub fn json(status: u16, value: Value) -> MockResponse {
        MockResponse::new(status, value.to_string()).with_header("content-type", "application/json")
    }

    /// A `text/plain` body.
    pub fn text(status: u16, body: impl Into<String>) -> MockResponse {
        MockResponse::new(status, body).with_header("content-type", "text/plain; charset=utf-8")
    }

    /// Cloudflare's `403` with `cf-mitigated: challenge` and challenge HTML (codex-backend.md §11).
    pub fn cloudflare_challenge() -> MockResponse {
        MockResponse::new(403, CHALLENGE_HTML)
            .with_header("content-type", "text/html; charset=UTF-8")
            .with_header("cf-mitigated", "challenge")
            .with_header("cf-ray", "8f0000000000abcd-AMS")
            .with_header("server", "cloudflare")
    }

    /// `{"error":{"message","type","code"}}` with this status, the shape the backend and
    /// the issuer use for object errors.
    pub fn error(status: u16, code: &str, message: &str) -> MockResponse {
        MockResponse::json(
            status,
            json!({ "error": { "message": message, "type": "invalid_request_error", "code": code } }),
        )
    }

    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> MockResponse {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl IntoResponse for MockResponse {
    fn into_response(self) -> Response {
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        for (name, value) in &self.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => builder = builder.header(name, value),
                _ => {
                    return error(
                        500,
                        &format!("mock: invalid scripted header {name:?}: {value:?}"),
                    )
                }
            }
        }
        super::streaming(builder, Body::from(self.body))
    }
}

/// A JSON error answer `{"error":{"message","type":"mock_error"}}` for the mock's own
/// failures and unknown routes.
pub(crate) fn error(status: u16, message: &str) -> Response {
    let body =
        json!({ "error": { "message": message, "type": "mock_error", "code": null } }).to_string();
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

const CHALLENGE_HTML: &str = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head><body>\
<div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\"><noscript>\
<div class=\"h2\"><span id=\"challenge-error-text\">Enable JavaScript and cookies to continue</span></div>\
</noscript></div></div><script>(function(){window._cf_chl_opt={cType: 'managed'};})();</script></body></html>";
