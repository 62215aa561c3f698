//! The talaria plugin ABI.
//!
//! The ABI is deliberately thin: one abi_stable root module ([`abi::PluginModule`]), a
//! handful of `#[sabi_trait]` objects (the plugin instance, the host services, the event
//! sink) and a cancellation flag. Everything that carries meaning — manifests, tool
//! specs, requests, events — crosses as versioned JSON described by the serde types in
//! [`payload`], so the payloads can grow without touching the layout abi_stable checks.
//!
//! Plugin authors should not need this crate directly: the `talaria-sdk` crate wraps it
//! in safe traits. The host and the SDK share it so both sides agree on every type.

pub mod abi;
pub mod command;
pub mod doctor;
pub mod input;
pub mod items;
pub mod manifest;
pub mod mcp;
pub mod methods;
pub mod payload;
pub mod provider;
pub mod router;
pub mod runtime;
pub mod text;
pub mod time;
pub mod transport;
pub mod version;

pub use abi_stable;
pub use version::{check_abi_compatible, ABI_VERSION};
