//! Waiting for a remote server's standalone stream before the first request.
//!
//! After the handshake, rmcp opens the streamable HTTP "standalone" stream (a GET)
//! in the background. A server sends the requests that belong to no request of ours
//! (elicitations, sampling, list changes) on it, and a server with no such stream open
//! may drop them: the TypeScript SDK's does. If our first `tools/call` overtakes the
//! GET (a busy machine is enough), an elicitation sent during that call is lost and the
//! call hangs until the server gives up. So the bridge waits, briefly, until the GET
//! has been answered (opened, or refused by a server without one) before it sends
//! anything else.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;
use tokio::sync::watch;

/// How long a server may take to answer the standalone GET before requests go ahead
/// anyway (a server that never answers it loses nothing more than it would have).
const OPEN_WAIT: Duration = Duration::from_secs(5);

/// An HTTP client that reports when the standalone stream's GET has been answered.
#[derive(Clone)]
pub struct Announced<C> {
    inner: C,
    answered: Arc<watch::Sender<bool>>,
}

/// Resolves once the standalone GET has been answered, or after [`OPEN_WAIT`].
pub struct Opened(watch::Receiver<bool>);

impl Opened {
    pub async fn wait(mut self) {
        let answered = self.0.wait_for(|answered| *answered);
        // Past the wait, requests go ahead: nothing is lost that was not lost before.
        let _ = tokio::time::timeout(OPEN_WAIT, answered).await;
    }
}

impl<C> Announced<C> {
    pub fn new(inner: C) -> (Self, Opened) {
        let (answered, waiting) = watch::channel(false);
        let client = Announced {
            inner,
            answered: Arc::new(answered),
        };
        (client, Opened(waiting))
    }
}

impl<C> Announced<C> {
    /// Reports a standalone GET's answer once it came. A GET without Last-Event-ID
    /// opens the standalone stream; with one, it resumes a request's stream, which
    /// nobody waits for.
    async fn observe<T>(&self, standalone: bool, get: impl Future<Output = T>) -> T {
        let answer = get.await;
        if standalone {
            self.answered.send_replace(true);
        }
        answer
    }
}

type SseResult<E> = Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<E>>;

// Every method forwards to the inner client's own override, so its response limits
// stay in force; only the GET is observed.
impl<C: StreamableHttpClient + Sync> StreamableHttpClient for Announced<C> {
    type Error = C::Error;

    fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> impl Future<Output = Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>>>
           + Send
           + '_ {
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
    }

    fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> impl Future<Output = Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>>>
           + Send
           + '_ {
        self.inner.post_message_with_max_sse_event_size(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            max_sse_event_size,
        )
    }

    fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> impl Future<Output = Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>>>
           + Send
           + '_ {
        self.inner.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
    }

    fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> impl Future<Output = Result<(), StreamableHttpError<Self::Error>>> + Send + '_ {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
    }

    fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> impl Future<Output = SseResult<Self::Error>> + Send + '_ {
        let standalone = last_event_id.is_none();
        self.observe(
            standalone,
            self.inner
                .get_stream(uri, session_id, last_event_id, auth_header, custom_headers),
        )
    }

    fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> impl Future<Output = SseResult<Self::Error>> + Send + '_ {
        let standalone = last_event_id.is_none();
        self.observe(
            standalone,
            self.inner.get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            ),
        )
    }
}
