//! One `transport.stream` call: resolve the endpoint, try the websocket (else SSE),
//! retry what is worth retrying, report auth and rate-limit failures to the provider,
//! and fall back from the websocket to HTTPS for the rest of the session.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use talaria_sdk::provider::{Endpoint, ResolveRequest};
use talaria_sdk::transport::{FailureClass, StreamRequest, StreamResult};
use talaria_sdk::{Error, Event, LogLevel, Result};
pub use talaria_transport_kit::call::Call;
use talaria_transport_kit::gate::Gates;
pub use talaria_transport_kit::recover::{failure_report, provider_error};
use talaria_transport_kit::recover::{Budget, Failed};

use crate::classify::{classify, failure_error, short_reason, Action, Problem, Target};
use crate::config::{PluginConfig, Settings};
use crate::events::{Dispatch, Feed};
use crate::http;
use crate::request::{
    build_body, display_url, encode_body, http_headers, incremental_input, join, websocket_headers,
    websocket_url, Body,
};
use crate::ws::{self, Connection};

/// `websocket_connection_limit_reached` reconnects that do not count as retries.
const MAX_FREE_RECONNECTS: u32 = 3;
/// Sessions remembered at most; beyond it the table starts over (dropping idle sockets).
const MAX_SESSIONS: usize = 64;

/// Per-session transport state, kept across calls by the plugin instance.
#[derive(Default)]
struct Session {
    /// The websocket kept for the next turn.
    connection: Option<Connection>,
    /// The websocket failed for this session: HTTPS from now on.
    https_only: bool,
}

pub struct Engine {
    config: PluginConfig,
    client: OnceLock<std::result::Result<reqwest::Client, String>>,
    sessions: Mutex<HashMap<String, Session>>,
}

enum Outcome {
    Done(StreamResult),
    Failed { problem: Problem, handshake: bool },
}

impl Engine {
    pub fn new(config: PluginConfig) -> Self {
        Engine {
            config,
            client: OnceLock::new(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &PluginConfig {
        &self.config
    }

    pub fn client(&self) -> std::result::Result<reqwest::Client, String> {
        let connect = Settings::resolve(&self.config, &Default::default()).connect;
        self.client.get_or_init(|| http::client(connect)).clone()
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn https_only(&self, session_id: &str) -> bool {
        self.sessions()
            .get(session_id)
            .is_some_and(|s| s.https_only)
    }

    fn take_connection(&self, session_id: &str) -> Option<Connection> {
        self.sessions()
            .get_mut(session_id)
            .and_then(|s| s.connection.take())
    }

    fn keep_connection(&self, session_id: &str, connection: Connection) {
        let mut sessions = self.sessions();
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(session_id) {
            // Idle sockets go first; the HTTPS choices only if they alone fill the table.
            sessions.retain(|_, s| s.https_only);
            if sessions.len() >= MAX_SESSIONS {
                sessions.clear();
            }
        }
        let session = sessions.entry(session_id.to_owned()).or_default();
        if !session.https_only {
            session.connection = Some(connection);
        }
    }

    /// Switches the session to HTTPS for good, with one warning.
    fn fall_back<C: Call>(&self, call: &C, session_id: &str, reason: &str) {
        let first = {
            let mut sessions = self.sessions();
            let session = sessions.entry(session_id.to_owned()).or_default();
            session.connection = None;
            !std::mem::replace(&mut session.https_only, true)
        };
        call.log(
            LogLevel::Warn,
            &format!("responses: falling back from websocket to HTTPS for this session: {reason}"),
        );
        if first {
            call.emit(&Event::Warning {
                message: format!("Falling back from WebSockets to HTTPS transport: {reason}"),
            });
        }
    }

    /// `transport.stream`.
    pub fn stream<C: Call>(&self, call: &C, req: &StreamRequest) -> Result<StreamResult> {
        let settings = Settings::resolve(&self.config, &req.options);
        let resolve = ResolveRequest {
            session_id: req.session_id.clone(),
            model: Some(req.model.clone()),
            fast: req.fast,
        };
        let mut budget = Budget::default();
        // `websocket_connection_limit_reached` reconnects, which count as no retry.
        let mut free_reconnects = 0;
        let mut websocket_tried = false;
        let mut pending: Option<Endpoint> = None;
        let mut gates = Gates::default();
        loop {
            if call.is_cancelled() {
                return Err(Error::cancelled());
            }
            // Before each attempt, outside any future: the provider may refresh a token.
            let endpoint = match pending.take() {
                Some(endpoint) => endpoint,
                None => call
                    .resolve(&req.provider, &resolve)
                    .map_err(|e| provider_error(e, None, None))?,
            };
            let websocket = settings.websocket
                && endpoint.websocket
                && !self.https_only(&req.session_id)
                && websocket_url(&endpoint.base_url).is_some();
            websocket_tried |= websocket;
            let body = build_body(req, &endpoint).map_err(|e| {
                Error::other(format!(
                    "the conversation could not be encoded as a request body: {e}"
                ))
            })?;
            gates.restart();
            let outcome = {
                let mut deltas = |d: Dispatch| show(call, &mut gates, d);
                let log = |m: &str| call.log(LogLevel::Debug, m);
                let mut feed = Feed {
                    deltas: &mut deltas,
                    log: &log,
                };
                if websocket {
                    self.websocket_attempt(
                        call,
                        &req.session_id,
                        &endpoint,
                        &body,
                        &settings,
                        &mut feed,
                    )?
                } else {
                    sse_attempt(call, self.client(), &endpoint, &body, &settings, &mut feed)?
                }
            };
            let (problem, handshake) = match outcome {
                Outcome::Done(result) => return Ok(result),
                Outcome::Failed { problem, handshake } => (problem, handshake),
            };

            let url = if websocket {
                websocket_url(&endpoint.base_url).unwrap_or_default()
            } else {
                join(&endpoint.base_url, "responses")
            };
            let target = Target {
                url: display_url(&url),
                base: display_url(&endpoint.base_url),
                websocket_tried: websocket_tried || self.https_only(&req.session_id),
                retries: budget.retries,
                endpoint: Some(&endpoint),
                transport: "responses",
                has_websocket: true,
            };
            let verdict = classify(&problem);
            let reason = short_reason(&problem);
            call.log(
                LogLevel::Warn,
                &format!(
                    "responses: {} attempt to {} failed: {reason} ({:?})",
                    transport_name(websocket),
                    target.url,
                    verdict.class
                ),
            );

            // A websocket that cannot even be opened (426, a challenge, TLS, refused...)
            // goes to HTTPS at once; only a 401 is worth fresh credentials first.
            if websocket && handshake && !matches!(&problem, Problem::Http(e) if e.status == 401) {
                self.fall_back(
                    call,
                    &req.session_id,
                    &format!("the websocket handshake failed ({reason})"),
                );
                budget.retries = 0;
                continue;
            }
            let limit = if websocket {
                settings.websocket_retries
            } else {
                settings.max_retries
            };
            match verdict.action {
                Action::ReportAuth => {
                    let failed = Failed {
                        provider: &req.provider,
                        resolve: &resolve,
                        endpoint: &endpoint,
                        problem: &problem,
                        class: verdict.class,
                        target: &target,
                    };
                    pending = Some(budget.after_auth(call, &failed)?);
                }
                Action::ReportRateLimit => {
                    let failed = Failed {
                        provider: &req.provider,
                        resolve: &resolve,
                        endpoint: &endpoint,
                        problem: &problem,
                        class: verdict.class,
                        target: &target,
                    };
                    pending = budget.after_rate_limit(call, &failed, limit)?;
                }
                Action::Retry(delay) => {
                    if problem == Problem::ConnectionLimit && free_reconnects < MAX_FREE_RECONNECTS
                    {
                        free_reconnects += 1;
                        continue;
                    }
                    if budget.retry(call, limit, delay, &reason)? {
                        continue;
                    }
                    if websocket {
                        let reason = format!("{reason}, after {limit} retries on the websocket");
                        self.fall_back(call, &req.session_id, &reason);
                        budget.retries = 0;
                        continue;
                    }
                    return Err(failure_error(&problem, verdict.class, &target));
                }
                Action::Fail => {
                    if websocket && verdict.class == FailureClass::CloudflareChallenge {
                        self.fall_back(
                            call,
                            &req.session_id,
                            "Cloudflare challenged the websocket",
                        );
                        budget.retries = 0;
                        continue;
                    }
                    return Err(failure_error(&problem, verdict.class, &target));
                }
            }
        }
    }

    fn websocket_attempt<C: Call>(
        &self,
        call: &C,
        session_id: &str,
        endpoint: &Endpoint,
        body: &Body,
        settings: &Settings,
        feed: &mut Feed<'_>,
    ) -> Result<Outcome> {
        let Some(url) = websocket_url(&endpoint.base_url) else {
            let problem = Problem::Local("the base URL is not http(s)".into());
            return Ok(Outcome::Failed {
                problem,
                handshake: true,
            });
        };
        let headers = websocket_headers(endpoint);
        let limits: &[String] = &endpoint.rate_limit_headers;
        let kept = self.take_connection(session_id);
        let watch = (settings.first_byte, settings.idle);
        let connect_limit = settings.connect;
        let (outcome, keep) = call.run(async move {
            // A kept socket is used only while it looks open (nothing but pings waiting).
            let kept = kept.and_then(|mut c| c.looks_alive().then_some(c));
            let mut reused = kept.is_some();
            let mut connection = match kept {
                Some(c) => c,
                None => match ws::connect(&url, &headers, connect_limit, limits).await {
                    Ok(c) => c,
                    Err(problem) => return (Outcome::Failed { problem, handshake: true }, None),
                },
            };
            let mut full_retry_left = true;
            loop {
                let incremental = connection.last.as_ref().is_some_and(|last| incremental_input(last, body).is_some());
                match connection.exchange(body, watch, feed, limits).await {
                    Ok(result) => return (Outcome::Done(result), Some(connection)),
                    // The server no longer knows the response we continued: send the
                    // whole conversation once on a fresh socket rather than fail the turn.
                    Err((problem, _)) if incremental && full_retry_left && forgot_previous(&problem) => {
                        (feed.log)("responses: the previous response is unknown to the server; sending the full request");
                        full_retry_left = false;
                        connection = match ws::connect(&url, &headers, connect_limit, limits).await {
                            Ok(c) => c,
                            Err(problem) => return (Outcome::Failed { problem, handshake: true }, None),
                        };
                    }
                    // A kept socket the server had already dropped: open a new one, no
                    // retry spent.
                    Err((Problem::Stream(_), false)) if reused => {
                        (feed.log)("responses: the kept websocket was stale; reconnecting");
                        reused = false;
                        connection = match ws::connect(&url, &headers, connect_limit, limits).await {
                            Ok(c) => c,
                            Err(problem) => return (Outcome::Failed { problem, handshake: true }, None),
                        };
                    }
                    // After any error the socket is dropped; the next request is a full create.
                    Err((problem, _)) => return (Outcome::Failed { problem, handshake: false }, None),
                }
            }
        })?;
        if let Some(connection) = keep {
            self.keep_connection(session_id, connection);
        }
        Ok(outcome)
    }
}

fn sse_attempt<C: Call>(
    call: &C,
    client: std::result::Result<reqwest::Client, String>,
    endpoint: &Endpoint,
    body: &Body,
    settings: &Settings,
    feed: &mut Feed<'_>,
) -> Result<Outcome> {
    let failed = |problem| {
        Ok(Outcome::Failed {
            problem,
            handshake: false,
        })
    };
    let client = match client {
        Ok(c) => c,
        Err(message) => return failed(Problem::Local(message)),
    };
    let headers = match http::header_map(&http_headers(endpoint)) {
        Ok(h) => h,
        Err(problem) => return failed(problem),
    };
    let bytes = match encode_body(body, endpoint.zstd) {
        Ok(b) => b,
        Err(e) => {
            return failed(Problem::Local(format!(
                "could not encode the request body: {e}"
            )))
        }
    };
    let url = join(&endpoint.base_url, "responses");
    let watch = (settings.first_byte, settings.idle);
    match call.run(http::stream(
        &client,
        &url,
        headers,
        bytes,
        watch,
        feed,
        &endpoint.rate_limit_headers,
    ))? {
        Ok(result) => Ok(Outcome::Done(result)),
        Err(problem) => failed(problem),
    }
}

/// Deltas to the user, minus what a retried answer repeats.
fn show<C: Call>(call: &C, gates: &mut Gates, dispatch: Dispatch) {
    match dispatch {
        Dispatch::Text(delta) => gates.text(call, &delta),
        Dispatch::Reasoning(delta) => gates.reasoning(call, &delta),
        _ => {}
    }
}

/// `previous_response_not_found` and kin, as an HTTP-style error frame or a failure.
fn forgot_previous(problem: &Problem) -> bool {
    let code = match problem {
        Problem::Http(e) => e.code.as_deref(),
        Problem::Failed { code, .. } => code.as_deref(),
        _ => None,
    };
    code.is_some_and(|c| c.contains("previous_response"))
}

fn transport_name(websocket: bool) -> &'static str {
    if websocket {
        "websocket"
    } else {
        "HTTPS"
    }
}
