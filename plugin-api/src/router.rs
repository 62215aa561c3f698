//! Payloads of `router.run`: an auxiliary task (a session title, a summary for
//! compression, an image description, a goal verdict, ...) that a router plugin sends to
//! whichever provider and model the profile's `[auxiliary.<task>]` names.
//!
//! The host says *what* it needs (the task and its inputs); the router owns the prompts,
//! the resolution chain (which provider and model, with retries and fallbacks) and the
//! reading of the answer (a goal verdict, say), so the host never names a model for a
//! side task.

use serde::{Deserialize, Serialize};

use crate::items::Item;
use crate::payload::Usage;
use crate::runtime::ModelRef;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuxRequest {
    /// `title_generation`, `compression`, `vision`, `web_extract`, `goal_judge`, `approval`, ...
    pub task: String,
    /// Replaces the router's own prompt for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// What the task is about: the conversation (titles, compression, goal verdicts),
    /// a page's text (web_extract), a question (vision), ...
    pub input: Vec<Item>,
    /// The session's main model, for tasks routed to `main` and the `auto` chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<ModelRef>,
    #[serde(default)]
    pub session_id: String,
    /// `vision`: the images to look at, as `data:` URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// `compression`: how full the context is; the router decides whether to compress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<CompactionCheck>,
    /// `goal_judge`: the goal and how many turns went into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<GoalCheck>,
}

/// `compression`: the context the last request used. The router compares it with the
/// model's limit (its threshold, the catalog's `auto_compact_token_limit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionCheck {
    /// Tokens the last request's context held (input plus output of the last turn).
    pub context_tokens: u64,
    /// `/compact`: compress whatever the size.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalCheck {
    pub goal: String,
    /// Turns spent on the goal so far, the last one included.
    pub turns_used: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuxResult {
    /// The answer: a title, a summary, a description, the judge's reason.
    pub text: String,
    /// The model that answered (empty when no call was needed).
    pub model: ModelRef,
    #[serde(default)]
    pub usage: Usage,
    /// `compression`: how many leading items of `input` the summary replaces; `0` with
    /// an empty `text` when the context is below the threshold and nothing was done.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replaces: usize,
    /// `goal_judge`: the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<GoalVerdict>,
    /// Every resolution step tried, in order, with its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<AuxStep>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalVerdict {
    /// The goal is achieved.
    Met,
    /// Not yet: another turn should work on it.
    Continue,
    /// The agent cannot go on without the user (a question, a decision, access).
    NeedsUser,
    /// Not met, and the turn budget is spent.
    BudgetSpent,
}

impl GoalVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            GoalVerdict::Met => "met",
            GoalVerdict::Continue => "continue",
            GoalVerdict::NeedsUser => "needs_user",
            GoalVerdict::BudgetSpent => "budget_spent",
        }
    }
}

/// One step of a task's resolution: the model tried and what came of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuxStep {
    pub model: ModelRef,
    /// Why this step is in the chain (`main model`, `fallback_chain[0]`, ...).
    pub reason: String,
    /// `ok`, `skipped: ...` or the error that moved the chain on.
    pub outcome: String,
    /// Attempts made on this step (retries included).
    #[serde(default)]
    pub attempts: u32,
}
