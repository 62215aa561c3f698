//! Plugins: finding them (discovery), checking and loading them (loader), and the
//! per-profile registry the commands use.

pub mod discovery;
pub mod install;
pub mod loader;
pub mod registry;

pub use discovery::{Catalog, PluginEntry, Source};
pub use registry::{LoadedPlugin, Registry};
