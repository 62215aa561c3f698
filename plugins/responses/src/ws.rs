//! The Responses websocket (reference §9): handshake, one `response.create` frame per
//! request, the same events as SSE back, and a connection kept for the next turn.

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use talaria_sdk::time::now_secs;
use talaria_sdk::transport::StreamResult;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::classify::{network_problem, HttpError, Problem};
use crate::events::{Feed, ResponseBuilder};
use crate::request::{create_frame, Body, LastExchange};
use crate::watchdog::Watchdog;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open websocket and what it remembers for incremental requests.
pub struct Connection {
    socket: Socket,
    /// The last successful exchange on this socket (`None` after a failed one).
    pub last: Option<LastExchange>,
    /// `OpenAI-Model` from the upgrade response.
    model: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// Opens the socket. `headers` are the handshake headers (credentials included);
/// `rate_limit_headers` the provider's usage-window header prefixes, read on a refusal.
pub async fn connect(
    url: &str,
    headers: &[(String, String)],
    limit: Duration,
    rate_limit_headers: &[String],
) -> Result<Connection, Problem> {
    let mut request = url
        .into_client_request()
        .map_err(|e| Problem::Local(format!("not a websocket URL: {e}")))?;
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Problem::Local(format!("the provider gave an invalid header name {name:?}"))
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            Problem::Local(format!(
                "the provider gave an invalid value for the header {name:?}"
            ))
        })?;
        request.headers_mut().insert(header, value);
    }
    let (socket, response) =
        match tokio::time::timeout(limit, tokio_tungstenite::connect_async(request)).await {
            Err(_) => return Err(Problem::ConnectTimeout(limit)),
            Ok(Err(e)) => return Err(handshake_problem(e, rate_limit_headers)),
            Ok(Ok(pair)) => pair,
        };
    let model = response
        .headers()
        .get("openai-model")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Connection {
        socket,
        last: None,
        model,
    })
}

fn handshake_problem(e: tungstenite::Error, rate_limit_headers: &[String]) -> Problem {
    match e {
        tungstenite::Error::Http(response) => {
            let lookup = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let body = response.body().as_deref().unwrap_or_default();
            Problem::http(HttpError::from_response(
                response.status().as_u16(),
                &lookup,
                body,
                now_secs(),
                rate_limit_headers,
            ))
        }
        tungstenite::Error::Io(io) => network_problem(&io),
        tungstenite::Error::Tls(tls) => Problem::Tls(tls.to_string()),
        tungstenite::Error::Url(url) => Problem::Local(format!("bad websocket URL: {url}")),
        other => Problem::Connect(format!("the websocket handshake failed: {other}")),
    }
}

impl Connection {
    /// Whether a kept socket still looks usable: nothing but pings waiting on it. A
    /// close (the backend caps sockets at 60 minutes) or a stray frame means reopen.
    pub fn looks_alive(&mut self) -> bool {
        for _ in 0..8 {
            match self.socket.next().now_or_never() {
                None => return true,
                Some(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Some(_) => return false,
            }
        }
        true
    }

    /// Closes politely (the probe); errors do not matter any more.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.socket.close(None)).await;
    }

    /// One request on this socket. `Err((problem, heard_back))`: `heard_back` tells
    /// whether the server answered anything at all (a kept socket that dies before
    /// answering was stale, not broken by this request). `rate_limit_headers` as for
    /// [`connect`], for error frames that carry headers.
    pub async fn exchange(
        &mut self,
        body: &Body,
        watchdog: (Duration, Duration),
        feed: &mut Feed<'_>,
        rate_limit_headers: &[String],
    ) -> Result<StreamResult, (Problem, bool)> {
        let (frame, incremental) = create_frame(body, self.last.as_ref()).map_err(|e| {
            (
                Problem::Stream(format!("encoding the request failed: {e}")),
                false,
            )
        })?;
        if incremental {
            (feed.log)("responses: continuing the previous response on the websocket (incremental request)");
        }
        // Whatever happens next, this socket no longer continues the old exchange.
        self.last = None;
        let mut watchdog = Watchdog::start(watchdog.0, watchdog.1);
        if let Err(e) = self.socket.send(Message::text(frame)).await {
            return Err((
                Problem::Stream(format!("sending the request on the websocket failed: {e}")),
                false,
            ));
        }
        let mut builder = ResponseBuilder::new();
        let mut heard_back = false;
        loop {
            let message = match tokio::time::timeout_at(watchdog.deadline(), self.socket.next())
                .await
            {
                Err(_) => return Err((watchdog.tripped(), heard_back)),
                Ok(None) => {
                    return Err((
                        Problem::Stream("the websocket closed before response.completed".into()),
                        heard_back,
                    ))
                }
                Ok(Some(Err(e))) => {
                    return Err((Problem::Stream(format!("websocket error: {e}")), heard_back))
                }
                Ok(Some(Ok(message))) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Ping(_) => {
                    // tungstenite queued the pong; flushing sends it now rather than at
                    // the next read.
                    let _ = self.socket.flush().await;
                    continue;
                }
                Message::Pong(_) | Message::Frame(_) => continue,
                Message::Binary(_) => {
                    return Err((
                        Problem::Stream("the server sent a binary websocket frame".into()),
                        true,
                    ));
                }
                Message::Close(frame) => {
                    let why = frame
                        .map(|f| format!(" (code {}, {})", u16::from(f.code), f.reason))
                        .unwrap_or_default();
                    return Err((
                        Problem::Stream(format!(
                            "the server closed the websocket before response.completed{why}"
                        )),
                        heard_back,
                    ));
                }
            };
            heard_back = true;
            watchdog.alive();
            match text_frame(text.as_str(), &mut builder, feed, rate_limit_headers) {
                None => {}
                Some(Ok(())) => {
                    let result = builder.finish(self.model.clone(), "websocket");
                    // An output that cannot be encoded again only costs the next
                    // request its incremental form.
                    self.last = result
                        .response_id
                        .clone()
                        .and_then(|id| LastExchange::new(body, id, &result.output).ok());
                    return Ok(result);
                }
                Some(Err(problem)) => return Err((problem, true)),
            }
        }
    }
}

/// One text frame of the server's: `Some(Ok)` at `response.completed`, `Some(Err)` when
/// the response failed (an `error` frame included), `None` to read on. Public so that
/// the fuzz targets (`fuzz-targets/`) drive the same code the socket loop does.
pub fn text_frame(
    text: &str,
    builder: &mut ResponseBuilder,
    feed: &mut Feed<'_>,
    rate_limit_headers: &[String],
) -> Option<Result<(), Problem>> {
    let event: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            (feed.log)(&format!(
                "responses: skipped a malformed websocket event ({e})"
            ));
            return None;
        }
    };
    match event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "error" => return Some(Err(error_frame(&event, rate_limit_headers))),
        "codex.rate_limits" | "response.metadata" => return None,
        _ => {}
    }
    feed.event(builder, &event)
}

/// `{"type":"error", "status"?, "error":{code, message, ...}, "headers"?}`.
fn error_frame(event: &Value, rate_limit_headers: &[String]) -> Problem {
    let error = event.get("error").unwrap_or(&Value::Null);
    let code = error.get("code").and_then(Value::as_str).map(str::to_owned);
    if code.as_deref() == Some("websocket_connection_limit_reached") {
        return Problem::ConnectionLimit;
    }
    if event.get("status").and_then(Value::as_u64).is_some() {
        return Problem::http(HttpError::from_ws_frame(
            event,
            now_secs(),
            rate_limit_headers,
        ));
    }
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the server reported an error")
        .to_owned();
    Problem::Failed { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_frames_are_classified_like_http_errors() {
        let limit = json!({"type":"error","error":{"code":"websocket_connection_limit_reached","message":"60 minutes"}});
        assert_eq!(error_frame(&limit, &[]), Problem::ConnectionLimit);
        let http = json!({"type":"error","status":401,"error":{"message":"token expired"}});
        assert!(
            matches!(error_frame(&http, &[]), Problem::Http(e) if e.status == 401 && e.message == "token expired")
        );
        let bare = json!({"type":"error","error":{"code":"server_error","message":"boom"}});
        assert_eq!(
            error_frame(&bare, &[]),
            Problem::Failed {
                code: Some("server_error".into()),
                message: "boom".into()
            }
        );
        let limited = json!({"type":"error","status":429,"error":{"type":"usage_limit_reached"},"headers":{"x-acme-primary-reset-at":"77"}});
        assert!(
            matches!(error_frame(&limited, &["x-acme".to_owned()]), Problem::Http(e) if e.reset_at == Some(77))
        );
    }
}
