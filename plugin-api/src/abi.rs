//! The abi_stable surface: the root module every plugin library exports, the plugin
//! instance, the host services, the event sink and the cancellation flag.
//!
//! Calls are synchronous: the host calls a plugin on a thread of its own choosing, the
//! plugin streams events into the sink and polls the cancellation flag. No async runtime
//! crosses the boundary (every library has its own copy of tokio's globals), so a plugin
//! that needs async I/O owns its runtime — the SDK provides one.
//!
//! Every function pointer and trait method here must not unwind: implementations catch
//! panics and return [`PluginError`] with [`ErrorKind::Panicked`](crate::payload::ErrorKind).

// `#[sabi_trait]` expands to impl blocks inside consts, which rustc's newer lint flags;
// the expansion is abi_stable's, not ours.
#![allow(non_local_definitions)]

use std::sync::atomic::{AtomicBool, Ordering};

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::{RMut, VersionStrings},
    std_types::{RArc, RBox, ROption, RResult, RStr, RString},
    StableAbi,
};

use crate::payload::ErrorKind;

/// An error crossing the boundary: a stable numeric kind, a message for the user and
/// optional JSON details (e.g. a retry-after for rate limits).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub kind: u32,
    pub message: RString,
    /// JSON, or empty.
    pub data: RString,
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind: kind.code(),
            message: RString::from(message.into()),
            data: RString::new(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(self.kind)
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

/// Where a plugin sends the events of a running call.
#[sabi_trait]
pub trait EventSink: Send + Sync {
    /// Hands one event, a JSON object with a `type` (see [`crate::payload::Event`]).
    #[sabi(last_prefix_field)]
    fn emit(&self, event: RStr<'_>);
}

/// A shareable handle to an event sink; cloning shares the same sink.
pub type EventSinkArc = RArc<EventSink_TO<'static, RBox<()>>>;

/// Wraps a host-side sink so it can be handed across the boundary.
pub fn event_sink<S: EventSink + Send + Sync + 'static>(sink: S) -> EventSinkArc {
    RArc::new(EventSink_TO::from_value(
        sink,
        abi_stable::sabi_trait::TD_Opaque,
    ))
}

/// A cancellation flag shared by the host and the plugin. The host sets it (Ctrl+C, a
/// timeout); the plugin polls it and returns `Cancelled` promptly.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct CancelFlag {
    flag: RArc<AtomicBool>,
}

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// A read-modify-write step the host runs on a plugin's credentials while holding the
/// store's cross-process lock, after re-reading the file.
#[sabi_trait]
pub trait CredentialUpdater {
    /// Gets the stored JSON (`null` when there is none) and returns the JSON to store,
    /// or `None` to leave the store untouched.
    #[sabi(last_prefix_field)]
    fn update(&mut self, current: RStr<'_>) -> RResult<ROption<RString>, PluginError>;
}

pub type CredentialUpdaterMut<'a> = CredentialUpdater_TO<'a, RMut<'a, ()>>;

/// What the host offers every plugin.
#[sabi_trait]
pub trait HostServices: Send + Sync {
    /// [`crate::payload::HostInfo`] as JSON.
    fn host_info(&self) -> RString;

    /// Logs into the host's tracing (levels: 1 error, 2 warn, 3 info, 4 debug, 5 trace).
    fn log(&self, level: u8, message: RStr<'_>);

    /// [`crate::payload::PluginConfig`] as JSON: the plugin's `[plugin_config.<id>]`
    /// table and the config sections its manifest declares it owns.
    fn config(&self) -> RString;

    /// Stored credentials (`null` when none) under `namespace`: a provider id the
    /// plugin's manifest declares, or the plugin's own id. Anything else is `Denied`.
    fn credentials_get(&self, namespace: RStr<'_>) -> RResult<RString, PluginError>;

    /// Locks the store, re-reads it, runs `updater` on the current value and writes the
    /// result atomically. Returns the value stored afterwards. Same scope as `credentials_get`.
    fn credentials_update(
        &self,
        namespace: RStr<'_>,
        updater: CredentialUpdaterMut<'_>,
    ) -> RResult<RString, PluginError>;

    /// Runs a host service ([`crate::methods`]: `model.stream`, `tools.list`,
    /// `tools.call`, `approvals.request`, `provider.*`) with JSON params, streaming its
    /// events into `events`; returns the JSON result.
    #[sabi(last_prefix_field)]
    fn call(
        &self,
        method: RStr<'_>,
        params: RStr<'_>,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> RResult<RString, PluginError>;
}

pub type HostServicesBox = HostServices_TO<'static, RBox<()>>;

/// A live plugin instance.
#[sabi_trait]
pub trait Plugin: Send + Sync {
    /// [`crate::payload::Description`] as JSON.
    fn describe(&self) -> RResult<RString, PluginError>;

    /// Runs one method (see [`crate::methods`]) with JSON params, streaming
    /// events into `events`; returns the JSON result.
    #[sabi(last_prefix_field)]
    fn call(
        &self,
        method: RStr<'_>,
        params: RStr<'_>,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> RResult<RString, PluginError>;
}

pub type PluginBox = Plugin_TO<'static, RBox<()>>;

/// The root module a plugin library exports.
///
/// Fields can only be appended after the last prefix field; a host reading an older
/// library sees such fields as `None`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(option))]
pub struct PluginModule {
    /// The talaria ABI version ([`crate::ABI_VERSION`]) the library was built against.
    pub abi_version: extern "C" fn() -> RString,
    /// The library's own copy of its `plugin.toml`.
    pub manifest: extern "C" fn() -> RString,
    /// Creates the plugin instance: the plugin's own initialisation. Never called just
    /// to list or inspect a plugin.
    #[sabi(last_prefix_field)]
    pub init: extern "C" fn(host: HostServicesBox) -> RResult<PluginBox, PluginError>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "talaria_plugin";
    const NAME: &'static str = "talaria_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_flag_is_shared_between_clones() {
        let a = CancelFlag::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        a.cancel();
        assert!(b.is_cancelled());
    }
}
