//! `agent-loop`: the native runtime (`auto`).
//!
//! One turn sends the conversation plus the user's input to the model (the host's
//! `model.stream`, which picks the transport for the provider), runs the tool calls the
//! model asks for through the host (`tools.call`, in parallel; each tool asks for its
//! own approvals), sends the results back, and repeats until the model answers without
//! calling a tool or the turn's budget of model requests is spent. When the model fails
//! in a way another model might not (Cloudflare, network, overload, rate limits), the
//! profile's fallback model gets the same request.
//!
//! Modules: [`turn`] (the loop), [`calls`] (tool calls and their output items),
//! [`models`] (reasoning settings from the provider's model list), [`prompt`].

pub mod calls;
pub mod context;
pub mod models;
pub mod prompt;
pub mod tools;
pub mod turn;

use talaria_sdk::turn::{TurnRequest, TurnResult};
use talaria_sdk::{export_plugin, CallContext, Exports, Host, Result, Runtime};

/// Model requests one turn may make before the loop stops asking (each tool round trip
/// is one request).
pub const DEFAULT_TURN_BUDGET: usize = 32;

pub struct AgentLoop {
    models: models::ModelCatalog,
    budget: usize,
    /// Where the global `AGENTS.md` lives (the profile's folder).
    global_dir: Option<std::path::PathBuf>,
}

impl AgentLoop {
    pub fn new() -> Self {
        AgentLoop {
            models: models::ModelCatalog::default(),
            budget: DEFAULT_TURN_BUDGET,
            global_dir: None,
        }
    }

    /// The same loop, reading the global `AGENTS.md` from `dir`.
    pub fn with_global_dir(self, dir: Option<std::path::PathBuf>) -> Self {
        AgentLoop {
            global_dir: dir,
            ..self
        }
    }

    /// The same loop with another budget (tests).
    pub fn with_budget(budget: usize) -> Self {
        AgentLoop {
            budget,
            ..Self::new()
        }
    }
}

impl Default for AgentLoop {
    fn default() -> Self {
        Self::new()
    }
}

pub fn init(host: Host) -> Result<Exports> {
    let profile_dir = host.info().profile_dir;
    let global_dir = (!profile_dir.is_empty()).then(|| profile_dir.into());
    Ok(Exports::new().runtime(AgentLoop::new().with_global_dir(global_dir)))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl Runtime for AgentLoop {
    fn turn(&self, request: TurnRequest, cx: &CallContext) -> Result<TurnResult> {
        Ok(turn::run(self, &request, cx))
    }
}

#[cfg(test)]
mod tests;
