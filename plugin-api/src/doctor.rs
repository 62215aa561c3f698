//! Payloads of `doctor.checks`: a plugin's own checks for `talaria doctor` (a plugin with
//! `capabilities = ["doctor"]`), shown beside the host's and in `doctor --json`.

use serde::{Deserialize, Serialize};

/// What the plugin is asked; empty today (room for optional fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorRequest {}

/// A check's verdict. `fail` makes `talaria doctor` exit 1; `warn` is shown only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
    /// Not checked, and `detail` says why.
    Skip,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorCheck {
    /// Short, e.g. `codex`, `codex account`.
    pub name: String,
    pub status: CheckStatus,
    /// What was found, and when not ok, what to do.
    pub detail: String,
}

impl DoctorCheck {
    pub fn new(name: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        DoctorCheck {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorReport {
    #[serde(default)]
    pub checks: Vec<DoctorCheck>,
}
