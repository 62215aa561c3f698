//! Payloads of `router.run`: an auxiliary task (a session title, a summary for
//! compression, an image description, ...) that a router plugin sends to whichever
//! provider and model the profile's `[auxiliary.<task>]` names.

use serde::{Deserialize, Serialize};

use crate::items::Item;
use crate::payload::Usage;
use crate::runtime::ModelRef;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuxRequest {
    /// `title_generation`, `compression`, `vision`, `web_extract`, `goal_judge`, `approval`, ...
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    pub input: Vec<Item>,
    /// The session's main model, for tasks routed to `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<ModelRef>,
    #[serde(default)]
    pub session_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuxResult {
    pub text: String,
    /// The model that answered.
    pub model: ModelRef,
    #[serde(default)]
    pub usage: Usage,
}
