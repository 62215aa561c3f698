//! Running a chain: each step is one model, tried with same-step retries for transient
//! errors (backoff 1, 2, 4 s, at most 8 s), and left for the next step on errors another
//! model may not have. Auth refresh and credential-pool rotation on 401/429 happen inside
//! the step: the transport reports them to the provider (`provider.report`), which
//! refreshes the token or rotates the pool before the transport gives up.

use std::time::Duration;

use talaria_sdk::items::Item;
use talaria_sdk::router::AuxStep;
use talaria_sdk::transport::{
    FailureClass, StreamOptions, StreamRequest, StreamResult, TransportFailure,
};
use talaria_sdk::turn::ModelRef;
use talaria_sdk::{CallContext, Error, ErrorKind, Host, LogLevel, Result};

use crate::config::TaskConfig;
use crate::resolve::Chain;

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// What one request of a task carries besides the model.
pub struct Prompt {
    pub instructions: String,
    pub input: Vec<Item>,
}

/// How a failed attempt moves the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Connection, timeout, 5xx, a broken stream: retry the same step.
    Transient,
    /// Rate limit or quota left after the provider's pool rotation: next step.
    Capacity,
    /// Auth left after the provider's refresh, a challenge, a model the backend refuses,
    /// a provider nobody serves: next step under `auto`.
    Other,
    Cancelled,
}

fn classify(e: &Error) -> Failure {
    let class = e
        .data
        .as_ref()
        .and_then(|d| serde_json::from_value::<TransportFailure>(d.clone()).ok())
        .map(|f| f.class);
    match (e.kind, class) {
        (ErrorKind::Cancelled, _) => Failure::Cancelled,
        (_, Some(FailureClass::RateLimit | FailureClass::Quota)) | (ErrorKind::RateLimited, _) => {
            Failure::Capacity
        }
        (
            _,
            Some(
                FailureClass::Connect
                | FailureClass::Timeout
                | FailureClass::Server
                | FailureClass::Stream
                | FailureClass::Tls,
            ),
        )
        | (ErrorKind::Network, None) => Failure::Transient,
        _ => Failure::Other,
    }
}

pub struct Outcome {
    pub result: StreamResult,
    pub model: ModelRef,
    pub steps: Vec<AuxStep>,
}

pub struct Runner<'a> {
    pub host: &'a Host,
    pub cx: &'a CallContext,
    pub task: &'a str,
    pub config: &'a TaskConfig,
    pub session_id: &'a str,
    pub transient_retries: u32,
    /// `provider.info`'s wire API, for the `extra_body` translation.
    pub wire_api: &'a dyn Fn(&str) -> Result<String>,
}

impl Runner<'_> {
    fn log(&self, level: LogLevel, message: &str) {
        self.host
            .log(level, &format!("aux {}: {message}", self.task));
    }

    /// Tries the chain's steps in order; the first answer wins.
    pub fn run(&self, chain: &Chain, prompt: &Prompt) -> Result<Outcome> {
        let mut steps = Vec::new();
        let mut last: Option<Error> = None;
        for (n, step) in chain.steps.iter().enumerate() {
            let mut record = AuxStep {
                model: step.model.clone(),
                reason: step.reason.clone(),
                outcome: String::new(),
                attempts: 0,
            };
            if let Some(why) = &step.skip {
                record.outcome = format!("skipped: {why}");
                self.log(
                    LogLevel::Info,
                    &format!(
                        "step {} {} ({}) skipped: {why}",
                        n + 1,
                        step.model,
                        step.reason
                    ),
                );
                steps.push(record);
                continue;
            }
            // An explicit choice falls back only when the backend has no room for us.
            if let Some(e) = &last {
                let failure = classify(e);
                if chain.explicit && !matches!(failure, Failure::Capacity | Failure::Transient) {
                    record.outcome =
                        "not tried: an explicit provider falls back only on capacity errors".into();
                    steps.push(record);
                    continue;
                }
            }
            match self.attempts(&step.model, prompt, &mut record) {
                Ok(result) => {
                    record.outcome = "ok".into();
                    self.log(
                        LogLevel::Info,
                        &format!(
                            "step {} {} ({}) answered after {} attempt(s)",
                            n + 1,
                            step.model,
                            step.reason,
                            record.attempts
                        ),
                    );
                    steps.push(record);
                    return Ok(Outcome {
                        result,
                        model: step.model.clone(),
                        steps,
                    });
                }
                Err(e) if classify(&e) == Failure::Cancelled => return Err(e),
                Err(e) => {
                    record.outcome = format!("failed: {}", e.message);
                    self.log(
                        LogLevel::Warn,
                        &format!(
                            "step {} {} ({}) failed after {} attempt(s): {}; trying the next step",
                            n + 1,
                            step.model,
                            step.reason,
                            record.attempts,
                            e.message
                        ),
                    );
                    steps.push(record);
                    last = Some(e);
                }
            }
        }
        let tried = steps
            .iter()
            .map(|s| format!("{} ({}): {}", s.model, s.reason, s.outcome))
            .collect::<Vec<_>>()
            .join("; ");
        let kind = last.as_ref().map_or(ErrorKind::Unavailable, |e| e.kind);
        Err(Error::new(
            kind,
            format!(
                "the {} task failed on every model it may use: {tried}",
                self.task
            ),
        )
        .with_data(serde_json::to_value(&steps).unwrap_or_default()))
    }

    /// One step: the first attempt and its transient retries.
    fn attempts(
        &self,
        model: &ModelRef,
        prompt: &Prompt,
        record: &mut AuxStep,
    ) -> Result<StreamResult> {
        let request = self.request(model, prompt)?;
        let mut delay = BACKOFF_START;
        loop {
            self.cx.check_cancelled()?;
            record.attempts += 1;
            // The deltas stream to the host, which shows a side task's output nowhere.
            match self.host.model_stream(&request, self.cx) {
                Ok(result) => return Ok(result),
                Err(e)
                    if classify(&e) == Failure::Transient
                        && record.attempts <= self.transient_retries =>
                {
                    self.log(
                        LogLevel::Info,
                        &format!(
                            "{model}: {} (attempt {}); retrying in {} s",
                            e.message,
                            record.attempts,
                            delay.as_secs()
                        ),
                    );
                    self.sleep(delay)?;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn request(&self, model: &ModelRef, prompt: &Prompt) -> Result<StreamRequest> {
        let wire_api = (self.wire_api)(&model.provider)?;
        let extra = self
            .config
            .extra(wire_api == "responses")
            .map_err(|m| Error::invalid(format!("[auxiliary.{}] extra_body: {m}", self.task)))?;
        let timeout = self.config.timeout_ms(self.task);
        Ok(StreamRequest {
            provider: model.provider.clone(),
            session_id: self.session_id.to_owned(),
            model: model.model.clone(),
            fast: false,
            instructions: Some(prompt.instructions.clone()),
            input: prompt.input.clone(),
            tools: Vec::new(),
            reasoning: extra.reasoning,
            prompt_cache_key: None,
            options: StreamOptions {
                // One request, no connection worth keeping: plain HTTPS.
                disable_websocket: true,
                // Retries are the router's, so each is logged and counted per step.
                max_retries: Some(0),
                first_byte_timeout_ms: Some(timeout),
                idle_timeout_ms: Some(timeout),
            },
            extra_body: extra.body,
        })
    }

    fn sleep(&self, d: Duration) -> Result<()> {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() {
            self.cx.check_cancelled()?;
            let now = left.min(step);
            std::thread::sleep(now);
            left -= now;
        }
        Ok(())
    }
}
