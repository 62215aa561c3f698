//! The plugins of one profile: what was found, which are enabled, and the live instances
//! (loaded lazily, once, on first use).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use talaria_plugin_api::abi::{CancelFlag, EventSinkArc, PluginBox, PluginError};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::manifest::{Manifest, PluginKind};
use talaria_plugin_api::payload::{Description, ErrorKind, ToolSpec};

use super::discovery::{Catalog, PluginEntry};
use super::loader::{self, LoadError};
use crate::app::App;
use crate::error::{Error, Result};
use crate::host_services::{Approver, PluginHost, PluginHostContext};

/// The id of the built-in native agent loop among the runtimes.
pub const NATIVE_RUNTIME: &str = "auto";

/// A plugin whose init succeeded.
pub struct LoadedPlugin {
    pub id: String,
    pub manifest: Manifest,
    pub instance: PluginBox,
    pub description: Description,
}

/// A runtime id and where it comes from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeInfo {
    pub id: String,
    /// The plugin providing it; `None` for the built-in native loop.
    pub plugin: Option<String>,
    pub enabled: bool,
    pub default: bool,
}

pub struct Registry {
    pub catalog: Catalog,
    disabled_plugins: BTreeSet<String>,
    disabled_runtimes: BTreeSet<String>,
    default_runtime: String,
    context: PluginHostContext,
    /// A failed load is remembered too, so it is reported once and not retried.
    loaded: Mutex<HashMap<String, std::result::Result<Arc<LoadedPlugin>, String>>>,
    me: Weak<Registry>,
}

impl Registry {
    pub fn open(app: &App, approver: Arc<dyn Approver>) -> Result<Arc<Registry>> {
        let config = app.config()?;
        let context = PluginHostContext::new(app, approver)?;
        let catalog = Catalog::discover(&app.home);
        Ok(Arc::new_cyclic(|me| Registry {
            catalog,
            disabled_plugins: config.plugins.disabled.iter().cloned().collect(),
            disabled_runtimes: config.runtimes.disabled.iter().cloned().collect(),
            default_runtime: config.model.runtime.clone(),
            context,
            loaded: Mutex::new(HashMap::new()),
            me: me.clone(),
        }))
    }

    pub fn entries(&self) -> &[PluginEntry] {
        &self.catalog.entries
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        !self.disabled_plugins.contains(id)
    }

    /// The profile this registry belongs to, for messages that name it.
    pub fn profile_name(&self) -> &str {
        self.context.profile_name()
    }

    /// The entry for `id`; an unknown id is a usage error (exit 2).
    pub fn entry(&self, id: &str) -> Result<&PluginEntry> {
        self.catalog.get(id).ok_or_else(|| unknown_plugin(id))
    }

    /// The live instance of an enabled plugin, loading it on first use. A disabled plugin
    /// is a usage error (exit 2); one that fails to load is exit 4, naming the file.
    pub fn plugin(&self, id: &str) -> Result<Arc<LoadedPlugin>> {
        let entry = self.entry(id)?;
        if !self.is_enabled(id) {
            return Err(Error::usage(format!(
                "plugin {id} is disabled in profile {}; enable it with `talaria plugins enable {id}`",
                self.context.profile_name()
            )));
        }
        if let Some(done) = self.lock().get(id) {
            return done.clone().map_err(Error::missing);
        }
        // Not holding the lock while the plugin initialises: its init may call back into
        // the host (and so into this registry).
        let outcome = self.load(entry).map(Arc::new).map_err(|e| describe_failure(entry, &e));
        if let Err(message) = &outcome {
            tracing::warn!(plugin = id, "{message}");
        }
        let mut loaded = self.lock();
        let stored = loaded.entry(id.to_owned()).or_insert(outcome).clone();
        stored.map_err(Error::missing)
    }

    fn load(&self, entry: &PluginEntry) -> std::result::Result<LoadedPlugin, LoadError> {
        let services = PluginHost::boxed(&entry.id, &self.context, self.me.clone());
        let (inspected, instance) = loader::load(entry, services)?;
        let description = instance
            .describe()
            .into_result()
            .map_err(|e| LoadError::Init(format!("describe failed: {}", e.message)))
            .and_then(|text| {
                serde_json::from_str::<Description>(&text).map_err(|e| LoadError::Init(format!("describe returned bad JSON: {e}")))
            })?;
        Ok(LoadedPlugin { id: entry.id.clone(), manifest: inspected.manifest, instance, description })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::result::Result<Arc<LoadedPlugin>, String>>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls a method of a plugin (for the host itself and for plugins calling plugins).
    pub fn call(&self, id: &str, method: &str, params: &str, events: EventSinkArc, cancel: CancelFlag) -> std::result::Result<String, PluginError> {
        let plugin = self.plugin(id).map_err(|e| PluginError::new(ErrorKind::Unavailable, e.message))?;
        plugin
            .instance
            .call(RStr::from_str(method), RStr::from_str(params), events, cancel)
            .into_result()
            .map(|s| s.into_string())
    }

    /// Enabled plugins of a kind, in id order.
    pub fn enabled_of_kind(&self, kind: PluginKind) -> impl Iterator<Item = &PluginEntry> {
        self.catalog
            .entries
            .iter()
            .filter(move |e| self.is_enabled(&e.id) && e.manifest.as_ref().is_some_and(|m| m.has_kind(kind)))
    }

    /// The tools of every enabled tool plugin. A plugin that fails to load is skipped
    /// (and reported in `warnings`): one broken plugin must not take the others down.
    pub fn tools(&self, warnings: &mut Vec<String>) -> Vec<(Arc<LoadedPlugin>, ToolSpec)> {
        let ids: Vec<String> = self.enabled_of_kind(PluginKind::Tool).map(|e| e.id.clone()).collect();
        let mut tools = Vec::new();
        for id in ids {
            match self.plugin(&id) {
                Ok(plugin) => tools.extend(plugin.description.tools.iter().cloned().map(|t| (plugin.clone(), t))),
                Err(e) => warnings.push(e.message),
            }
        }
        tools
    }

    /// The native loop plus the runtimes enabled runtime plugins provide.
    pub fn runtimes(&self) -> Vec<RuntimeInfo> {
        let mut out = vec![self.runtime_info(NATIVE_RUNTIME, None)];
        for entry in self.enabled_of_kind(PluginKind::Runtime) {
            let Some(manifest) = &entry.manifest else { continue };
            let ids = if manifest.provides.runtimes.is_empty() { vec![entry.id.clone()] } else { manifest.provides.runtimes.clone() };
            for id in ids {
                out.push(self.runtime_info(&id, Some(entry.id.clone())));
            }
        }
        out
    }

    fn runtime_info(&self, id: &str, plugin: Option<String>) -> RuntimeInfo {
        RuntimeInfo {
            id: id.to_owned(),
            plugin,
            enabled: !self.disabled_runtimes.contains(id),
            default: self.default_runtime == id,
        }
    }

    /// A runtime by id; unknown or disabled is a usage error (exit 2) that names it.
    pub fn runtime(&self, id: &str) -> Result<RuntimeInfo> {
        let runtimes = self.runtimes();
        let Some(found) = runtimes.iter().find(|r| r.id == id) else {
            let known: Vec<&str> = runtimes.iter().map(|r| r.id.as_str()).collect();
            return Err(Error::usage(format!("unknown runtime {id:?}; known runtimes: {}", known.join(", "))));
        };
        if !found.enabled {
            return Err(Error::usage(format!(
                "runtime {id} is disabled in profile {}; enable it with `talaria runtime enable {id}`",
                self.context.profile_name()
            )));
        }
        Ok(found.clone())
    }
}

pub fn unknown_plugin(id: &str) -> Error {
    Error::usage(format!("unknown plugin {id:?}; `talaria plugins list` shows the plugins found"))
}

/// "plugin X (file): reason" — every failure names the plugin, the file and the reason.
pub fn describe_failure(entry: &PluginEntry, e: &LoadError) -> String {
    let file = entry.library.as_deref().unwrap_or(&entry.dir);
    format!("plugin {} ({}) cannot be used: {e}", entry.id, file.display())
}
