//! Write talaria plugins in safe Rust.
//!
//! A plugin implements the trait of its kind — [`Tool`]s gathered in a [`ToolSet`], a
//! [`Provider`], a [`Transport`], a [`Runtime`], a [`Router`] — and exports them with
//! [`export_plugin!`] (several kinds at once through [`Exports`]). The SDK turns it into
//! the stable ABI the host loads: it catches panics at every boundary, converts the JSON
//! payloads to the typed ones of each method, and gives the plugin a [`Host`] handle
//! (logging, config, its credentials, and the host services: `model.stream`, the tools,
//! approvals, providers) and a [`CallContext`] per call (events, cancellation).
//!
//! ```
//! use serde_json::{json, Value};
//! use talaria_sdk::{CallContext, Host, Result, Tool, ToolOutput, ToolSet, ToolSpec};
//!
//! struct Shout;
//! impl Tool for Shout {
//!     fn spec(&self) -> ToolSpec {
//!         ToolSpec {
//!             name: "shout".into(),
//!             description: "Upper-cases a text".into(),
//!             input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
//!             needs_approval: false,
//!             ..Default::default()
//!         }
//!     }
//!     fn call(&self, args: Value, _cx: &CallContext) -> Result<ToolOutput> {
//!         Ok(ToolOutput::text(args["text"].as_str().unwrap_or_default().to_uppercase()))
//!     }
//! }
//!
//! fn init(_host: Host) -> Result<ToolSet> {
//!     Ok(ToolSet::new().with(Shout))
//! }
//! // In the plugin crate: talaria_sdk::export_plugin!(manifest: include_str!("../plugin.toml"), init: init);
//!
//! // And its unit test, with no library built or loaded:
//! let h = talaria_sdk::testing::Harness::start(init)?;
//! let (out, _events) = h.call_tool("shout", json!({"text": "hi"}))?;
//! assert_eq!(out.content, "HI");
//! # Ok::<(), talaria_sdk::Error>(())
//! ```
//!
//! [`testing::Harness`] runs a plugin in-process, through the same ABI adapters the host
//! uses, with fake providers, transports and tools registered around it, so a runtime or
//! a transport can be unit-tested without the host.

mod adapter;
mod context;
mod error;
mod export;
mod host;
mod kinds;
mod plugin;
pub mod redact;
pub mod runtime;
pub mod testing;
mod tools;

pub use context::CallContext;
pub use error::{Error, Result};
pub use host::{Host, LogLevel};
pub use kinds::{Command, Doctor, Exports, Provider, Router, Runtime, Transport};
pub use plugin::Plugin;
/// The payloads of `command.run`.
pub use talaria_plugin_api::command;
/// The payloads of `doctor.checks`.
pub use talaria_plugin_api::doctor;
/// The payloads of `user.input`: forms for the user, and the MCP schema mapping.
pub use talaria_plugin_api::input;
pub use talaria_plugin_api::manifest::{Manifest, PluginKind};
/// `[mcp_servers.NAME]`, as the host validated it.
pub use talaria_plugin_api::mcp;
pub use talaria_plugin_api::payload::{
    ApprovalDecision, ApprovalKind, ApprovalRequest, Decision, Description, ErrorKind, Event,
    HostInfo, ListedTool, PlanStep, StepStatus, ToolCallRequest, ToolContext, ToolForm, ToolList,
    ToolOutput, ToolSpec, Usage,
};
/// The payloads of `runtime.turn`.
pub use talaria_plugin_api::runtime as turn;
pub use talaria_plugin_api::{
    items, methods, provider, router, text, time, transport, ABI_VERSION,
};
pub use tools::{parse_args, Tool, ToolSet};

/// Re-exports for [`export_plugin!`]'s expansion; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{abi_version_text, init_plugin, manifest_text};
    pub use talaria_plugin_api::abi;
    pub use talaria_plugin_api::abi_stable;
}
