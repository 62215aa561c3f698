//! Write talaria plugins in safe Rust.
//!
//! A plugin is a type implementing [`Plugin`] (or, for tools, a [`ToolSet`] of [`Tool`]s),
//! exported with [`export_plugin!`]. The SDK turns it into the stable ABI the host loads:
//! it catches panics at every boundary, converts JSON payloads to typed values, and
//! gives the plugin a [`Host`] handle (logging, config, credentials, approvals, calls to
//! other plugins) and a [`CallContext`] per call (events, cancellation).
//!
//! ```ignore
//! use talaria_sdk::{export_plugin, Host, ToolSet};
//!
//! fn init(host: Host) -> talaria_sdk::Result<ToolSet> {
//!     Ok(ToolSet::new().with(MyTool))
//! }
//!
//! export_plugin!(manifest: include_str!("../plugin.toml"), init: init);
//! ```
//!
//! [`testing::Harness`] runs a plugin in-process, through the same ABI adapters the host
//! uses, so a plugin can be unit-tested without building and loading the library.

mod adapter;
mod context;
mod error;
mod export;
mod host;
mod plugin;
pub mod runtime;
pub mod testing;
mod tools;

pub use context::CallContext;
pub use error::{Error, Result};
pub use host::{Host, LogLevel};
pub use plugin::Plugin;
pub use talaria_plugin_api::manifest::{Manifest, PluginKind};
pub use talaria_plugin_api::payload::{
    methods, ApprovalDecision, ApprovalRequest, Description, ErrorKind, Event, HostInfo, ToolCallRequest,
    ToolOutput, ToolSpec, Usage,
};
pub use talaria_plugin_api::{provider, text, transport, ABI_VERSION};
pub use tools::{parse_args, Tool, ToolSet};

/// Re-exports for [`export_plugin!`]'s expansion; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{abi_version_text, init_plugin, manifest_text};
    pub use talaria_plugin_api::abi;
    pub use talaria_plugin_api::abi_stable;
}
