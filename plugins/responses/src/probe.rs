//! `transport.probe` (for `doctor`): can the provider's backend be reached, over which
//! transport, and if not, why (Cloudflare challenge, TLS, connect, timeout, auth)?

use std::time::Duration;

use talaria_sdk::provider::{Endpoint, ResolveRequest};
use talaria_sdk::transport::{ProbeRequest, ProbeResult};
use talaria_sdk::{Error, LogLevel, Result};

use crate::classify::{classify, failure_error, short_reason, Problem, Target};
use crate::config::Settings;
use crate::driver::{provider_error, Call, Engine};
use crate::request::{display_url, join, websocket_headers, websocket_url};
use crate::{http, ws};

/// The probe is interactive: it should not hang for the stream watchdog's two minutes.
const PROBE_LIMIT: Duration = Duration::from_secs(20);

pub fn probe<C: Call>(engine: &Engine, call: &C, req: &ProbeRequest) -> Result<ProbeResult> {
    let resolve = ResolveRequest::default();
    let endpoint = call
        .resolve(&req.provider, &resolve)
        .map_err(|e| provider_error(e, None, None))?;
    match probe_endpoint(engine, call, &endpoint)? {
        Probed::Done(result) => result,
        // As in a chat, a 401 goes to the provider once (it may refresh the token or
        // move to another credential); only a second 401 is the verdict.
        Probed::Unauthorized(http) => {
            let report = talaria_transport_kit::recover::failure_report(&resolve, &endpoint, &http);
            let endpoint = call
                .report(&req.provider, &report)
                .map_err(|e| provider_error(e, None, None))?;
            match probe_endpoint(engine, call, &endpoint)? {
                Probed::Done(result) => result,
                Probed::Unauthorized(http) => Err(unauthorized(&endpoint, http)),
            }
        }
    }
}

enum Probed {
    Done(Result<ProbeResult>),
    /// The backend answered 401 (websocket or models request).
    Unauthorized(crate::classify::HttpError),
}

fn unauthorized(endpoint: &Endpoint, http: crate::classify::HttpError) -> Error {
    let models_url = join(&endpoint.base_url, endpoint.probe_path());
    let problem = Problem::Http(Box::new(http));
    let target = Target {
        url: display_url(&models_url),
        base: display_url(&endpoint.base_url),
        websocket_tried: false,
        retries: 0,
        endpoint: Some(endpoint),
        transport: "responses",
        has_websocket: true,
    };
    failure_error(&problem, classify(&problem).class, &target)
}

fn probe_endpoint<C: Call>(engine: &Engine, call: &C, endpoint: &Endpoint) -> Result<Probed> {
    let settings = Settings::resolve(engine.config(), &Default::default());

    let mut websocket: Option<std::result::Result<String, Problem>> = None;
    if settings.websocket && endpoint.websocket {
        if let Some(url) = websocket_url(&endpoint.base_url) {
            let headers = websocket_headers(endpoint);
            let limit = settings.connect.min(PROBE_LIMIT);
            let outcome = call.run(async {
                let connection =
                    ws::connect(&url, &headers, limit, &endpoint.rate_limit_headers).await?;
                connection.close().await;
                Ok(url.clone())
            })?;
            if let Err(problem) = &outcome {
                if let Some(http) = unauthorized_status(problem) {
                    return Ok(Probed::Unauthorized(http));
                }
                call.log(
                    LogLevel::Info,
                    &format!(
                        "responses: probe: websocket handshake failed: {}",
                        short_reason(problem)
                    ),
                );
            }
            websocket = Some(outcome);
        }
    }

    let models_url = join(&endpoint.base_url, endpoint.probe_path());
    let mut headers = endpoint
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<Vec<_>>();
    headers.retain(|(k, _)| {
        !k.eq_ignore_ascii_case("accept") && !k.eq_ignore_ascii_case("content-type")
    });
    headers.push(("accept".into(), "application/json".into()));
    let get = match (engine.client(), http::header_map(&headers)) {
        (Ok(client), Ok(headers)) => {
            let limit = settings.first_byte.min(PROBE_LIMIT);
            call.run(http::get(
                &client,
                &models_url,
                headers,
                limit,
                &endpoint.rate_limit_headers,
            ))?
        }
        (Err(message), _) => Err(Problem::Local(message)),
        (_, Err(problem)) => Err(problem),
    };
    let websocket_ok = matches!(websocket, Some(Ok(_)));
    if let Err(problem) = &get {
        if let Some(http) = unauthorized_status(problem) {
            return Ok(Probed::Unauthorized(http));
        }
    }
    let result = match get {
        Ok(status) => Ok(ProbeResult {
            url: display_url(&models_url),
            status,
            transport: if websocket_ok { "websocket" } else { "sse" }.into(),
        }),
        // The websocket answered: chats will work even if plain HTTPS does not.
        Err(problem) if websocket_ok => {
            call.log(
                LogLevel::Info,
                &format!(
                    "responses: probe: GET /models failed: {}",
                    short_reason(&problem)
                ),
            );
            let url = websocket.and_then(|w| w.ok()).unwrap_or_default();
            Ok(ProbeResult {
                url: display_url(&url),
                status: 101,
                transport: "websocket".into(),
            })
        }
        Err(problem) => {
            let target = Target {
                url: display_url(&models_url),
                base: display_url(&endpoint.base_url),
                websocket_tried: websocket.is_some(),
                retries: 0,
                endpoint: Some(endpoint),
                transport: "responses",
                has_websocket: true,
            };
            let mut error = failure_error(&problem, classify(&problem).class, &target);
            if let Some(Err(ws_problem)) = &websocket {
                error.message = format!(
                    "{} (The websocket handshake failed too: {}.)",
                    error.message,
                    short_reason(ws_problem)
                );
            }
            add_details(&mut error, &problem, settings.connect.min(PROBE_LIMIT));
            Err(error)
        }
    };
    Ok(Probed::Done(result))
}

fn unauthorized_status(problem: &Problem) -> Option<crate::classify::HttpError> {
    match problem {
        Problem::Http(http) if http.status == 401 => Some((**http).clone()),
        _ => None,
    }
}

/// Adds what `doctor` words its own verdict with to the error's data, beside the
/// [`TransportFailure`](talaria_sdk::transport::TransportFailure) fields (readers of
/// those ignore unknown keys): `reason`, the network error's own text for a TLS, DNS or
/// connect failure, and `timeout_ms`, the limit that ran out for a timeout. Neither
/// holds a header or a credential.
fn add_details(error: &mut Error, problem: &Problem, connect_limit: Duration) {
    let Some(serde_json::Value::Object(data)) = error.data.as_mut() else {
        return;
    };
    match problem {
        Problem::Tls(reason) | Problem::Dns(reason) | Problem::Connect(reason) => {
            data.insert("reason".into(), reason.clone().into());
        }
        // reqwest's own connect timeout carries no duration: it is the connect limit.
        Problem::ConnectTimeout(limit) => {
            let limit = if limit.is_zero() {
                connect_limit
            } else {
                *limit
            };
            data.insert("timeout_ms".into(), millis(limit).into());
        }
        Problem::FirstByteTimeout(limit) | Problem::IdleTimeout(limit) => {
            data.insert("timeout_ms".into(), millis(*limit).into());
        }
        _ => {}
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
