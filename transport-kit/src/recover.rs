//! After a failed attempt: the provider round trips (`provider.report` after a 401/403
//! or a 429, which may refresh a token or rotate to another credential), the pauses
//! before a retry with their progress lines, and the errors that end a call.

use std::time::Duration;

use talaria_sdk::provider::{Endpoint, FailureReport, ResolveRequest};
use talaria_sdk::time::ceil_secs;
use talaria_sdk::transport::{FailureClass, TransportFailure};
use talaria_sdk::{Error, ErrorKind, Event, LogLevel, Result};

use crate::call::Call;
use crate::classify::{self, failure_error, HttpError, Problem, Target};
use crate::retry::{backoff, jitter};

/// Fresh credentials asked of the provider per call before a 401 counts as final
/// (Codex: reload from disk, then refresh).
pub const MAX_AUTH_RECOVERIES: u32 = 2;
/// Rate-limit reports per call: bounds rotation through a credential pool.
pub const MAX_RATE_REPORTS: u32 = 8;
/// A 429 whose retry-after is longer than this fails at once (the fallback model or a
/// later try does better than a long silent wait).
pub const MAX_RATE_WAIT: Duration = Duration::from_secs(60);

/// The counters of one call.
#[derive(Debug, Default)]
pub struct Budget {
    /// Retries spent (network errors, timeouts, 5xx, rate-limit waits).
    pub retries: u32,
    auth_recoveries: u32,
    rate_reports: u32,
}

/// One failed attempt, and who to tell about it.
pub struct Failed<'a> {
    pub provider: &'a str,
    /// What the endpoint was resolved for.
    pub resolve: &'a ResolveRequest,
    pub endpoint: &'a Endpoint,
    pub problem: &'a Problem,
    pub class: FailureClass,
    pub target: &'a Target<'a>,
}

impl Budget {
    /// A 401/403: the provider is asked for fresh credentials (at most
    /// [`MAX_AUTH_RECOVERIES`] times a call). `Ok` is the endpoint to retry with.
    pub fn after_auth<C: Call + ?Sized>(&mut self, call: &C, failed: &Failed) -> Result<Endpoint> {
        let Some(http) = http_of(failed.problem) else {
            return Err(failure_error(failed.problem, failed.class, failed.target));
        };
        self.auth_recoveries += 1;
        if self.auth_recoveries > MAX_AUTH_RECOVERIES {
            return Err(failure_error(
                failed.problem,
                FailureClass::Auth,
                failed.target,
            ));
        }
        call.report(
            failed.provider,
            &failure_report(failed.resolve, failed.endpoint, http),
        )
        .map_err(|e| provider_error(e, Some(failed.target), Some(http)))
    }

    /// A 429: the provider is told (it may switch to another credential of its pool, and
    /// then the call goes again at once); otherwise a short `Retry-After` is waited out
    /// as a retry. `Ok` is the endpoint to retry with (`None`: resolve again).
    pub fn after_rate_limit<C: Call + ?Sized>(
        &mut self,
        call: &C,
        failed: &Failed,
        limit: u32,
    ) -> Result<Option<Endpoint>> {
        let Some(http) = http_of(failed.problem) else {
            return Err(failure_error(failed.problem, failed.class, failed.target));
        };
        self.rate_reports += 1;
        let mut note = None;
        let mut pending = None;
        if self.rate_reports <= MAX_RATE_REPORTS {
            let report = failure_report(failed.resolve, failed.endpoint, http);
            match call.report(failed.provider, &report) {
                Ok(next)
                    if next.credential.is_some()
                        && next.credential != failed.endpoint.credential =>
                {
                    call.log(
                        LogLevel::Info,
                        "rate limited; the provider switched credentials",
                    );
                    return Ok(Some(next));
                }
                Ok(next) => pending = Some(next),
                Err(e) if matches!(e.kind, ErrorKind::Cancelled | ErrorKind::Auth) => {
                    return Err(provider_error(e, Some(failed.target), Some(http)));
                }
                Err(e) => note = Some(e.message),
            }
        }
        let wait = http.retry_after.filter(|w| *w <= MAX_RATE_WAIT);
        match wait {
            Some(wait) if failed.class == FailureClass::RateLimit && self.retries < limit => {
                self.retries += 1;
                call.emit(&Event::Progress {
                    message: format!(
                        "Rate limited; retrying in {}… {}/{limit}",
                        human(wait),
                        self.retries
                    ),
                });
                pause(call, wait)?;
                Ok(pending)
            }
            _ => {
                let mut error = failure_error(failed.problem, failed.class, failed.target);
                if let Some(note) = note.filter(|n| !n.is_empty()) {
                    error.message = format!("{} ({note})", error.message);
                }
                Err(error)
            }
        }
    }

    /// A retryable failure: `Ok(true)` after the pause (the given delay, else the
    /// backoff) when retries are left, with a progress line; `Ok(false)` when none are.
    pub fn retry<C: Call + ?Sized>(
        &mut self,
        call: &C,
        limit: u32,
        delay: Option<Duration>,
        reason: &str,
    ) -> Result<bool> {
        if self.retries >= limit {
            return Ok(false);
        }
        self.retries += 1;
        call.emit(&Event::Progress {
            message: format!("Reconnecting… {}/{limit} ({reason})", self.retries),
        });
        let delay = delay.unwrap_or_else(|| backoff(self.retries, jitter()));
        pause(call, delay)?;
        Ok(true)
    }
}

/// Waits on the plugin's runtime, cancellably. The timer is made inside the future:
/// tokio timers need the runtime when they are created.
pub fn pause<C: Call + ?Sized>(call: &C, d: Duration) -> Result<()> {
    call.run(async move { tokio::time::sleep(d).await })
}

pub fn http_of(problem: &Problem) -> Option<&HttpError> {
    match problem {
        Problem::Http(e) => Some(e.as_ref()),
        _ => None,
    }
}

/// What the provider is told about a failed request.
pub fn failure_report(
    request: &ResolveRequest,
    endpoint: &Endpoint,
    e: &HttpError,
) -> FailureReport {
    FailureReport {
        request: request.clone(),
        credential: endpoint.credential.clone(),
        status: e.status,
        code: e.code.clone(),
        message: e.message.clone(),
        retry_after_secs: e.retry_after.map(ceil_secs),
        reset_at: e.reset_at,
    }
}

/// A provider's refusal (resolve, or report after a 401/429), kept as the provider
/// worded it (it names the command to run) with transport data attached.
pub fn provider_error(e: Error, target: Option<&Target>, http: Option<&HttpError>) -> Error {
    if e.kind == ErrorKind::Cancelled {
        return e;
    }
    let class = match e.kind {
        ErrorKind::RateLimited => FailureClass::RateLimit,
        ErrorKind::Auth => FailureClass::Auth,
        _ if http.is_some_and(|h| h.status == 401 || h.status == 403) => FailureClass::Auth,
        _ => FailureClass::Other,
    };
    let reset_at = e
        .data
        .as_ref()
        .and_then(|d| d.get("reset_at").or_else(|| d.get("available_at")))
        .and_then(serde_json::Value::as_u64)
        .or(http.and_then(|h| h.reset_at));
    let failure = TransportFailure {
        class,
        url: target.map(|t| t.url.clone()).unwrap_or_default(),
        status: http.map(|h| h.status),
        reset_at,
        request_id: http.and_then(|h| h.request_id.clone().or(h.cf_ray.clone())),
        fallback_worthy: classify::fallback_worthy(class),
    };
    let data = serde_json::to_value(&failure).unwrap_or_default();
    Error {
        kind: e.kind,
        message: e.message,
        data: Some(data),
    }
}

/// "250 ms", "3 s".
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", ceil_secs(d))
    }
}
