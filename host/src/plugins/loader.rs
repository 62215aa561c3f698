//! Checking and loading plugin libraries.
//!
//! `inspect` opens a library and runs every check that needs no plugin code of its own:
//! abi_stable's header and layout checks, our ABI version, and the compiled-in manifest
//! against the file beside the library. `load` then runs the plugin's own init. Libraries
//! are never unloaded (see docs/architecture.md: unloading Rust dylibs is unsound).

use std::path::Path;

use abi_stable::library::{lib_header_from_path, LibraryError};
use talaria_plugin_api::abi::{HostServicesBox, PluginBox, PluginModuleRef};
use talaria_plugin_api::manifest::Manifest;
use talaria_plugin_api::payload::ConfigProblem;
use talaria_plugin_api::{check_abi_compatible, ABI_VERSION};

use super::discovery::PluginEntry;

/// A library that passed every check short of running the plugin's init.
pub struct Inspected {
    pub module: PluginModuleRef,
    pub manifest: Manifest,
}

/// Why a plugin cannot be used; `Display` is the sentence shown to the user (the file
/// is named by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Entry(String),
    #[error("the manifest allows host ABI {required}, but this talaria speaks ABI {host}")]
    ManifestAbi { required: String, host: String },
    #[error("the library file is missing")]
    NoLibrary,
    #[error("the OS could not open it as a library: {0}")]
    Open(String),
    #[error("not a talaria plugin: it does not export a plugin root module")]
    NotAPlugin,
    #[error("built with an incompatible abi_stable version: {0}")]
    AbiStableHeader(String),
    #[error("built against an incompatible talaria-plugin-api: {0}")]
    InterfaceVersion(String),
    #[error(
        "its ABI layout does not match this host's (rebuild it against the same talaria-sdk): {0}"
    )]
    Layout(String),
    #[error("{0}")]
    AbiVersion(String),
    #[error("the library's built-in manifest is invalid: {0}")]
    BuiltInManifest(String),
    #[error("plugin.toml disagrees with the library's built-in manifest ({0}); reinstall the plugin from one build")]
    ManifestMismatch(String),
    #[error("its initialisation failed: {0}")]
    Init(String),
    /// The init refused the plugin's config; `key` is the path of the offending key.
    #[error("{message}")]
    Config { message: String, key: Vec<String> },
}

/// Runs every check that does not execute the plugin's own initialisation.
pub fn inspect(entry: &PluginEntry) -> Result<Inspected, LoadError> {
    if let Some(problem) = &entry.problem {
        return Err(LoadError::Entry(problem.clone()));
    }
    let file_manifest = entry
        .manifest
        .as_ref()
        .ok_or_else(|| LoadError::Entry("no manifest".into()))?;
    check_manifest_abi(file_manifest)?;
    let library = entry
        .library
        .as_deref()
        .filter(|p| p.is_file())
        .ok_or(LoadError::NoLibrary)?;
    let module = open(library)?;

    let reported = (module.abi_version())();
    check_abi_compatible(reported.as_str(), ABI_VERSION)
        .map_err(|e| LoadError::AbiVersion(e.to_string()))?;

    let built_in = Manifest::parse((module.manifest())().as_str())
        .map_err(|e| LoadError::BuiltInManifest(e.to_string()))?;
    let differences = file_manifest.differences(&built_in);
    if !differences.is_empty() {
        return Err(LoadError::ManifestMismatch(differences.join("; ")));
    }
    Ok(Inspected {
        module,
        manifest: built_in,
    })
}

/// Inspects, then runs the plugin's init with the host services it will keep.
pub fn load(
    entry: &PluginEntry,
    services: HostServicesBox,
) -> Result<(Inspected, PluginBox), LoadError> {
    let inspected = inspect(entry)?;
    let instance = (inspected.module.init())(services)
        .into_result()
        .map_err(|e| match serde_json::from_str::<ConfigProblem>(&e.data) {
            Ok(problem) => LoadError::Config {
                message: e.message.into_string(),
                key: problem.config_key,
            },
            Err(_) => LoadError::Init(e.message.into_string()),
        })?;
    Ok((inspected, instance))
}

fn check_manifest_abi(manifest: &Manifest) -> Result<(), LoadError> {
    let host = semver::Version::parse(ABI_VERSION).map_err(|e| LoadError::Entry(e.to_string()))?;
    if manifest.abi.matches(&host) {
        Ok(())
    } else {
        Err(LoadError::ManifestAbi {
            required: manifest.abi.to_string(),
            host: ABI_VERSION.into(),
        })
    }
}

/// Opens the library (leaked on purpose: never unloaded) and checks abi_stable's header,
/// the interface crate's version and the root module's layout.
fn open(path: &Path) -> Result<PluginModuleRef, LoadError> {
    let header = lib_header_from_path(path).map_err(classify)?;
    header
        .init_root_module::<PluginModuleRef>()
        .map_err(classify)
}

fn classify(e: LibraryError) -> LoadError {
    match e {
        LibraryError::OpenError { err, .. } => LoadError::Open(err.to_string()),
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin,
        LibraryError::InvalidAbiHeader(h) => LoadError::AbiStableHeader(format!("{h:?}")),
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::InterfaceVersion(format!(
            "the host expects {expected_version}, the library has {actual_version}"
        )),
        LibraryError::AbiInstability(e) => LoadError::Layout(first_lines(&e.to_string(), 6)),
        other => LoadError::Open(first_lines(&other.to_string(), 6)),
    }
}

/// abi_stable's layout reports run to pages; the first lines say what differs.
fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join(" ")
}
