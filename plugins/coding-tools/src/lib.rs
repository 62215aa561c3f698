//! `coding-tools`: the tools the Codex CLI gives its models, in the forms the model
//! catalog names, written only against `talaria-sdk`.
//!
//! - the shell tools ([`shell`]): `shell_command` (a script in the user's login shell),
//!   `shell` (an argv), `exec_command` + `write_stdin` (long-running processes); output
//!   cut to the catalog's `truncation_policy` ([`truncate`]);
//! - `apply_patch` ([`patch`]): Codex's patch format, freeform (with its grammar) or as
//!   a function with one `input` string, applied whole or not at all;
//! - `update_plan` and `view_image` ([`plan`], [`image`]);
//! - the approval policy and sandbox ([`policy`], [`sandbox`]): what runs without asking,
//!   what asks, what the landlock + seccomp sandbox confines.
//!
//! The runtime picks which of these a model sees (the `agent-loop` plugin does it from
//! the catalog); every tool stays callable by name.

pub mod patch;

use talaria_sdk::{export_plugin, Host, Result, ToolSet};

pub fn init(_host: Host) -> Result<ToolSet> {
    Ok(ToolSet::new())
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);
