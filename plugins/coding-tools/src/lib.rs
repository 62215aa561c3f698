//! `coding-tools`: the tools the Codex CLI gives its models, in the forms the model
//! catalog names, written only against `talaria-sdk`.
//!
//! - the shell tools: `shell_command` (a script in the user's login shell) and `shell`
//!   (an argv) in [`shell`], `exec_command` + `write_stdin` (processes that keep
//!   running) in [`unified`]; output cut to the catalog's `truncation_policy`
//!   ([`truncate`]);
//! - `apply_patch` ([`edit`], [`patch`]): Codex's patch format, freeform (with its
//!   grammar) or as a function with one `input` string, applied whole or not at all;
//! - `update_plan` ([`plan`]) and `view_image` ([`image`]);
//! - the approval policy and sandbox ([`policy`], [`sandbox`], [`turn`]): what runs
//!   without asking, what asks, what the landlock + seccomp sandbox confines.
//!
//! The runtime picks which of these a model sees (the `agent-loop` plugin does it from
//! the catalog); every tool stays callable by name.

pub mod edit;
pub mod exec;
pub mod image;
pub mod patch;
pub mod plan;
pub mod policy;
pub mod sandbox;
pub mod shell;
pub mod truncate;
pub mod turn;
pub mod unified;

use std::sync::Arc;

use talaria_sdk::{export_plugin, Host, Result, ToolSet};

pub fn init(host: Host) -> Result<ToolSet> {
    let settings: turn::Settings = host.config()?.unwrap_or_default();
    Ok(tools(Arc::new(turn::Shared::new(settings))))
}

/// Every tool, sharing one state.
pub fn tools(shared: Arc<turn::Shared>) -> ToolSet {
    ToolSet::new()
        .with(shell::ShellCommand(shared.clone()))
        .with(shell::Shell(shared.clone()))
        .with(unified::ExecCommand(shared.clone()))
        .with(unified::WriteStdin(shared.clone()))
        .with(edit::ApplyPatch(shared.clone()))
        .with(plan::UpdatePlan)
        .with(image::ViewImage(shared))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

#[cfg(test)]
mod tests;
