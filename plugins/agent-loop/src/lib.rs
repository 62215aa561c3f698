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
pub mod models;
pub mod prompt;
pub mod turn;

use talaria_sdk::turn::{TurnRequest, TurnResult};
use talaria_sdk::{export_plugin, CallContext, Exports, Host, Result, Runtime};

/// Model requests one turn may make before the loop stops asking (each tool round trip
/// is one request).
pub const DEFAULT_TURN_BUDGET: usize = 32;

pub struct AgentLoop {
    models: models::ModelCatalog,
    budget: usize,
}

impl AgentLoop {
    pub fn new() -> Self {
        AgentLoop {
            models: models::ModelCatalog::default(),
            budget: DEFAULT_TURN_BUDGET,
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

pub fn init(_host: Host) -> Result<Exports> {
    Ok(Exports::new().runtime(AgentLoop::new()))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl Runtime for AgentLoop {
    fn turn(&self, request: TurnRequest, cx: &CallContext) -> Result<TurnResult> {
        Ok(turn::run(self, &request, cx))
    }
}

#[cfg(test)]
mod tests;
