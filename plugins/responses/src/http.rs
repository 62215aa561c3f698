//! `POST {base}/responses` with an SSE answer. Sending, error bodies, the watchdogs and
//! the framing are the transport kit's ([`talaria_transport_kit::http`]).

use std::time::Duration;

use reqwest::header::HeaderMap;
use talaria_sdk::transport::StreamResult;
pub use talaria_transport_kit::http::{client, deepest, get, header_map};
use talaria_transport_kit::http::{header, read_sse, send, SseEvents};

use crate::classify::Problem;
use crate::events::{Feed, ResponseBuilder};
use crate::watchdog::Watchdog;

/// One HTTP attempt: sends the body, reads the SSE stream to `response.completed`.
/// `rate_limit_headers`: the provider's usage-window header prefixes, read on an error.
pub async fn stream(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    watchdog: (Duration, Duration),
    feed: &mut Feed<'_>,
    rate_limit_headers: &[String],
) -> Result<StreamResult, Problem> {
    let mut watchdog = Watchdog::start(watchdog.0, watchdog.1);
    let request = client.post(url).headers(headers).body(body);
    let response = send(request, &watchdog, rate_limit_headers).await?;
    let mut events = Events {
        feed,
        builder: Some(ResponseBuilder::new()),
        model: header(response.headers(), "openai-model"),
    };
    read_sse(response, &mut watchdog, &mut events).await
}

/// Responses events → the result, once `response.completed` arrives.
struct Events<'f, 'a> {
    feed: &'f mut Feed<'a>,
    /// Taken when the result is built.
    builder: Option<ResponseBuilder>,
    model: Option<String>,
}

impl SseEvents for Events<'_, '_> {
    type Output = StreamResult;

    fn data(&mut self, data: &str) -> Option<Result<StreamResult, Problem>> {
        let builder = self.builder.as_mut()?;
        let end = self.feed.data(builder, data)?;
        let builder = self.builder.take()?;
        Some(end.map(|()| builder.finish(self.model.take(), "sse")))
    }

    fn end(&mut self) -> Result<StreamResult, Problem> {
        Err(Problem::Stream(
            "stream closed before response.completed".to_owned(),
        ))
    }
}
