//! One `transport.stream` call: resolve the endpoint, POST the request, read the answer
//! (SSE, or a whole JSON body from a server that does not stream), and on failure do
//! what the transport kit's rules say: retry with backoff, report 401/403 and 429 to
//! the provider, or fail with a message that says what to try.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::HeaderMap;
use talaria_sdk::provider::{Endpoint, ResolveRequest};
use talaria_sdk::transport::{ProbeRequest, ProbeResult, StreamRequest, StreamResult};
use talaria_sdk::{Error, Event, LogLevel, Result};
use talaria_transport_kit::call::Call;
use talaria_transport_kit::classify::{
    classify, failure_error, short_reason, Action, Problem, Target,
};
use talaria_transport_kit::gate::Gates;
use talaria_transport_kit::http::{self, header, read_body, read_sse, send, SseEvents};
use talaria_transport_kit::recover::{failure_report, provider_error, Budget, Failed};
use talaria_transport_kit::url::{display_url, join};
use talaria_transport_kit::watchdog::Watchdog;

use crate::config::{PluginConfig, Settings};
use crate::request::build_request;
use crate::stream::{Assembler, ChunkError, Shown};
use crate::wire::Chunk;

/// This transport's id: its settings are `[plugin_config.chat-completions]`.
pub const TRANSPORT: &str = "chat-completions";
/// A whole (non-streamed) answer is read up to this size.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// The probe is interactive: it should not hang for the stream watchdog's two minutes.
const PROBE_LIMIT: Duration = Duration::from_secs(20);

pub struct Engine {
    config: PluginConfig,
    client: OnceLock<std::result::Result<reqwest::Client, String>>,
}

impl Engine {
    pub fn new(config: PluginConfig) -> Self {
        Engine {
            config,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> std::result::Result<reqwest::Client, String> {
        let connect = Settings::resolve(&self.config, &Default::default()).connect;
        self.client.get_or_init(|| http::client(connect)).clone()
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
            let url = join(&endpoint.base_url, "chat/completions");
            gates.restart();
            let problem = match self.attempt(call, &endpoint, &url, req, &settings, &mut gates)? {
                Ok(result) => return Ok(result),
                Err(problem) => problem,
            };
            let target = Target {
                url: display_url(&url),
                base: display_url(&endpoint.base_url),
                websocket_tried: false,
                retries: budget.retries,
                endpoint: Some(&endpoint),
                transport: TRANSPORT,
                has_websocket: false,
            };
            let verdict = classify(&problem);
            let reason = short_reason(&problem);
            call.log(
                LogLevel::Warn,
                &format!(
                    "{TRANSPORT}: attempt to {} failed: {reason} ({:?})",
                    target.url, verdict.class
                ),
            );
            let failed = Failed {
                provider: &req.provider,
                resolve: &resolve,
                endpoint: &endpoint,
                problem: &problem,
                class: verdict.class,
                target: &target,
            };
            match verdict.action {
                Action::ReportAuth => pending = Some(budget.after_auth(call, &failed)?),
                Action::ReportRateLimit => {
                    pending = budget.after_rate_limit(call, &failed, settings.max_retries)?
                }
                Action::Retry(delay) => {
                    if !budget.retry(call, settings.max_retries, delay, &reason)? {
                        return Err(failure_error(&problem, verdict.class, &target));
                    }
                }
                Action::Fail => return Err(failure_error(&problem, verdict.class, &target)),
            }
        }
    }

    /// One POST and its answer. The outer `Err` is the call's end (cancelled); the
    /// inner one what went wrong with this attempt.
    fn attempt<C: Call>(
        &self,
        call: &C,
        endpoint: &Endpoint,
        url: &str,
        req: &StreamRequest,
        settings: &Settings,
        gates: &mut Gates,
    ) -> Result<std::result::Result<StreamResult, Problem>> {
        let client = match self.client() {
            Ok(c) => c,
            Err(message) => return Ok(Err(Problem::Local(message))),
        };
        let headers = match http::header_map(&http::sse_post_headers(endpoint)) {
            Ok(h) => h,
            Err(problem) => return Ok(Err(problem)),
        };
        let body = match serde_json::to_vec(&build_request(req, endpoint)) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Err(Problem::Local(format!(
                    "could not encode the request body: {e}"
                ))))
            }
        };
        let mut show = |shown: Shown| match shown {
            Shown::Text(delta) => gates.text(call, &delta),
            Shown::Reasoning(delta) => gates.reasoning(call, &delta),
        };
        let log = |message: &str| call.log(LogLevel::Debug, message);
        let limits = &endpoint.rate_limit_headers;
        let outcome = call.run(async {
            let mut watchdog = Watchdog::start(settings.first_byte, settings.idle);
            let request = client.post(url).headers(headers).body(body);
            let response = send(request, &watchdog, limits).await?;
            let content_type = header(response.headers(), "content-type").unwrap_or_default();
            if content_type.to_ascii_lowercase().contains("json") {
                // A server that ignored `stream: true`: one whole answer.
                let body = read_body(response, &mut watchdog, MAX_BODY).await?;
                let chunk: Chunk = serde_json::from_slice(&body).map_err(|e| {
                    Problem::Stream(format!("the answer is not a chat completion: {e}"))
                })?;
                let mut assembler = Assembler::new();
                for shown in assembler.chunk(&chunk)? {
                    show(shown);
                }
                return Ok((assembler, "json"));
            }
            let mut events = Events {
                assembler: Assembler::new(),
                show: &mut show,
                log: &log,
            };
            read_sse(response, &mut watchdog, &mut events).await?;
            Ok((events.assembler, "sse"))
        })?;
        Ok(outcome.map(|(assembler, transport)| {
            if let Some(message) = assembler.warning() {
                call.emit(&Event::Warning { message });
            }
            assembler.finish(transport)
        }))
    }

    /// `transport.probe` (for `doctor`): `GET {base}/models` (or the provider's probe
    /// path) with the endpoint's headers. A 401 goes to the provider once, as in a chat.
    pub fn probe<C: Call>(&self, call: &C, req: &ProbeRequest) -> Result<ProbeResult> {
        let resolve = ResolveRequest::default();
        let mut endpoint = call
            .resolve(&req.provider, &resolve)
            .map_err(|e| provider_error(e, None, None))?;
        let client = self.client().map_err(Error::other)?;
        let mut reported = false;
        loop {
            let url = join(&endpoint.base_url, endpoint.probe_path());
            let headers: HeaderMap = http::header_map(&http::sse_post_headers(&endpoint))
                .map_err(|p| Error::other(short_reason(&p)))?;
            let limits = endpoint.rate_limit_headers.clone();
            let outcome = call.run(http::get(&client, &url, headers, PROBE_LIMIT, &limits))?;
            let problem = match outcome {
                Ok(status) => {
                    return Ok(ProbeResult {
                        url: display_url(&url),
                        status,
                        transport: "sse".into(),
                    })
                }
                Err(problem) => problem,
            };
            let target = Target {
                url: display_url(&url),
                base: display_url(&endpoint.base_url),
                websocket_tried: false,
                retries: 0,
                endpoint: Some(&endpoint),
                transport: TRANSPORT,
                has_websocket: false,
            };
            let verdict = classify(&problem);
            match &problem {
                Problem::Http(http) if verdict.action == Action::ReportAuth && !reported => {
                    reported = true;
                    let report = failure_report(&resolve, &endpoint, http);
                    endpoint = call
                        .report(&req.provider, &report)
                        .map_err(|e| provider_error(e, Some(&target), Some(http)))?;
                }
                _ => return Err(failure_error(&problem, verdict.class, &target)),
            }
        }
    }
}

/// SSE chunks → the assembler, deltas to the user, until `[DONE]`.
struct Events<'a> {
    assembler: Assembler,
    show: &'a mut dyn FnMut(Shown),
    log: &'a dyn Fn(&str),
}

impl SseEvents for Events<'_> {
    type Output = ();

    fn data(&mut self, data: &str) -> Option<std::result::Result<(), Problem>> {
        match self.assembler.data(data) {
            Ok(shown) => {
                for s in shown {
                    (self.show)(s);
                }
                self.assembler.done.then_some(Ok(()))
            }
            // One bad chunk is not worth the whole answer.
            Err(ChunkError::Malformed(e)) => {
                (self.log)(&format!("{TRANSPORT}: skipped a malformed chunk ({e})"));
                None
            }
            Err(ChunkError::Failed(problem)) => Some(Err(problem)),
        }
    }

    /// The body ended without `[DONE]`: the answer is whole when a finish reason came
    /// (some servers never send `[DONE]`), else the stream broke.
    fn end(&mut self) -> std::result::Result<(), Problem> {
        if self.assembler.finished() {
            Ok(())
        } else {
            Err(Problem::Stream(
                "the stream ended without a finish_reason or [DONE]".into(),
            ))
        }
    }
}
