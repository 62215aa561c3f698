//! `[auxiliary]`: the global keys and one `[auxiliary.<task>]` table per task.
//!
//! ```toml
//! [auxiliary]
//! transient_retries = 2          # same-step retries of connection errors, timeouts, 5xx
//!
//! [auxiliary.vision]
//! provider = "auto"              # "auto" | "main" | "codex" | a provider id
//! model = "gpt-5.3-codex"
//! timeout = 120                  # seconds
//! extra_body = { reasoning = { effort = "low" } }
//! fallback_chain = [{ provider = "twin-a", model = "twin-a-model" }]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use talaria_sdk::transport::ReasoningRequest;
use talaria_sdk::turn::ModelRef;
use talaria_sdk::{Error, Result};

pub const SECTION: &str = "auxiliary";
/// Hermes' default: two same-provider retries of a transient error.
const DEFAULT_TRANSIENT_RETRIES: u32 = 2;
const MAX_TRANSIENT_RETRIES: u32 = 6;

/// The tasks the router knows, with their default timeouts in seconds (Hermes'
/// figures; `goal_judge` has none there and gets the generic 30 s).
pub const TASKS: &[(&str, f64)] = &[
    ("title_generation", 30.0),
    ("compression", 120.0),
    ("vision", 120.0),
    ("web_extract", 360.0),
    ("goal_judge", 30.0),
    ("approval", 30.0),
];
const UNKNOWN_TASK_TIMEOUT: f64 = 30.0;

/// Compression starts at this share of the context window when neither the config nor
/// the model's catalog entry says otherwise (Hermes' global default).
pub const DEFAULT_COMPRESSION_THRESHOLD: f64 = 0.5;
/// Turns kept verbatim after a compression.
pub const DEFAULT_KEEP_TURNS: usize = 2;
/// Turns a `/goal` may take before the loop stops (Hermes' default).
pub const DEFAULT_GOAL_TURNS: u32 = 20;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AuxConfig {
    pub transient_retries: Option<u32>,
    #[serde(flatten)]
    pub tasks: BTreeMap<String, TaskConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    pub provider: String,
    /// `auto` (or absent) means the provider's choice.
    pub model: Option<String>,
    /// Seconds.
    pub timeout: Option<f64>,
    pub extra_body: Option<Map<String, Value>>,
    pub fallback_chain: Vec<ChainStep>,
    /// `compression`: the share of the context window at which to compress.
    pub threshold: Option<f64>,
    /// `compression`: the most recent turns kept verbatim.
    pub keep_turns: Option<usize>,
    /// `goal_judge`: the turn budget of a `/goal`.
    pub max_turns: Option<u32>,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            provider: "auto".into(),
            model: None,
            timeout: None,
            extra_body: None,
            fallback_chain: Vec::new(),
            threshold: None,
            keep_turns: None,
            max_turns: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainStep {
    pub provider: String,
    pub model: String,
}

impl ChainStep {
    pub fn model_ref(&self) -> ModelRef {
        ModelRef {
            provider: self.provider.clone(),
            model: self.model.clone(),
        }
    }
}

/// `[model]` and `[fallback_model]`, the parts the router reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MainModel {
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub default: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct FallbackModel {
    pub provider: String,
    pub model: String,
}

/// What a task's `extra_body` becomes on the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra {
    /// `extra_body.reasoning`, as the Responses API's `reasoning` parameter.
    pub reasoning: Option<ReasoningRequest>,
    /// Everything else (and, off the Responses API, `reasoning` itself), as given.
    pub body: Map<String, Value>,
}

impl AuxConfig {
    /// Parses and checks the section; errors name the key so the host can point at the
    /// file and line.
    pub fn from_value(value: Option<Value>) -> Result<AuxConfig> {
        let Some(value) = value else {
            return Ok(AuxConfig::default());
        };
        let Value::Object(table) = value else {
            return Err(Error::config(&[SECTION], "[auxiliary] must be a table"));
        };
        let mut config = AuxConfig::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("transient_retries", Value::Number(n)) => {
                    let n = n
                        .as_u64()
                        .filter(|n| *n <= u64::from(MAX_TRANSIENT_RETRIES))
                        .ok_or_else(|| {
                            Error::config(
                                &[SECTION, "transient_retries"],
                                format!("transient_retries must be a whole number from 0 to {MAX_TRANSIENT_RETRIES}"),
                            )
                        })?;
                    config.transient_retries = u32::try_from(n).ok();
                }
                (task, value @ Value::Object(_)) => {
                    let parsed: TaskConfig = serde_json::from_value(value)
                        .map_err(|e| Error::config(&[SECTION, task], e.to_string()))?;
                    parsed.check(task)?;
                    config.tasks.insert(task.to_owned(), parsed);
                }
                (other, _) => {
                    return Err(Error::config(
                        &[SECTION, other],
                        format!("unknown key `{other}`: [auxiliary] takes transient_retries and one table per task ({})", task_names()),
                    ))
                }
            }
        }
        Ok(config)
    }

    pub fn transient_retries(&self) -> u32 {
        self.transient_retries.unwrap_or(DEFAULT_TRANSIENT_RETRIES)
    }

    /// The task's table, or the defaults (`provider = "auto"`).
    pub fn task(&self, task: &str) -> TaskConfig {
        self.tasks.get(task).cloned().unwrap_or_default()
    }

    /// Every known task, then the configured ones the router does not know.
    pub fn task_names(&self) -> Vec<String> {
        let mut names: Vec<String> = TASKS.iter().map(|(t, _)| (*t).to_owned()).collect();
        names.extend(
            self.tasks
                .keys()
                .filter(|t| !TASKS.iter().any(|(known, _)| known == t))
                .cloned(),
        );
        names
    }
}

fn task_names() -> String {
    TASKS.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
}

impl TaskConfig {
    fn check(&self, task: &str) -> Result<()> {
        if let Some(secs) = self.timeout {
            if !(secs.is_finite() && secs > 0.0) {
                return Err(Error::config(
                    &[SECTION, task, "timeout"],
                    format!("timeout must be a positive number of seconds, not {secs}"),
                ));
            }
        }
        if let Some(t) = self.threshold {
            if !(t > 0.0 && t <= 1.0) {
                return Err(Error::config(
                    &[SECTION, task, "threshold"],
                    format!("threshold is a share of the context window, above 0 and at most 1, not {t}"),
                ));
            }
        }
        if self.provider.trim().is_empty() {
            return Err(Error::config(
                &[SECTION, task, "provider"],
                "provider must be \"auto\", \"main\", \"codex\" or a provider id",
            ));
        }
        self.extra(true).map_err(|message| {
            Error::config(&[SECTION, task, "extra_body", "reasoning"], message)
        })?;
        Ok(())
    }

    /// The configured model; `auto` means none.
    pub fn model(&self) -> Option<&str> {
        self.model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != "auto")
    }

    /// The timeout in milliseconds: the configured one or the task's default.
    pub fn timeout_ms(&self, task: &str) -> u64 {
        let secs = self.timeout.unwrap_or_else(|| {
            TASKS
                .iter()
                .find(|(t, _)| *t == task)
                .map_or(UNKNOWN_TASK_TIMEOUT, |(_, s)| *s)
        });
        // Checked positive and finite at load; the cast saturates.
        (secs * 1000.0) as u64
    }

    /// `extra_body` for a wire API: on the Responses API `reasoning` becomes the typed
    /// `reasoning` parameter (`{effort, summary}`; `{enabled = false}` sends none);
    /// elsewhere it stays the provider's own field.
    pub fn extra(&self, responses_api: bool) -> std::result::Result<Extra, String> {
        let mut body = self.extra_body.clone().unwrap_or_default();
        if !responses_api {
            return Ok(Extra {
                reasoning: None,
                body,
            });
        }
        let reasoning = match body.remove("reasoning") {
            None => None,
            Some(Value::Object(r)) => {
                let text = |key: &str| r.get(key).and_then(Value::as_str).map(str::to_owned);
                match (text("effort"), r.get("enabled")) {
                    (Some(effort), _) => Some(ReasoningRequest {
                        effort,
                        summary: text("summary"),
                    }),
                    (None, Some(Value::Bool(false))) => None,
                    _ => {
                        return Err(
                            "reasoning needs an effort (\"low\", \"medium\", \"high\", ...) or enabled = false"
                                .into(),
                        )
                    }
                }
            }
            Some(_) => return Err("reasoning must be a table, e.g. { effort = \"low\" }".into()),
        };
        Ok(Extra { reasoning, body })
    }
}
