//! The plugins of one profile: what was found, which are enabled, the live instances
//! (loaded lazily, once, on first use), and routing by what is asked for: a provider by
//! provider id, a transport by wire API, a runtime by runtime id, a tool by name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use talaria_plugin_api::abi::{CancelFlag, EventSinkArc, PluginBox, PluginError};
use talaria_plugin_api::manifest::{Manifest, PluginKind};
use talaria_plugin_api::methods::{self, ProviderInfoMethod};
use talaria_plugin_api::payload::{
    Description, ErrorKind, ListedTool, ToolCallRequest, ToolList, ToolOutput,
};
use talaria_plugin_api::provider::{Empty, ProviderCall, ProviderInfo};

use super::discovery::{Catalog, PluginEntry};
use super::loader::{self, LoadError};
use crate::app::App;
use crate::approvals::Approvals;
use crate::client;
use crate::error::{Error, Exit, Result};
use crate::services::{PluginHost, ServicesContext};

/// A plugin whose init succeeded.
pub struct LoadedPlugin {
    pub id: String,
    pub manifest: Manifest,
    pub instance: PluginBox,
    /// What `describe` said at load (tool lists may change later: ask [`Registry::tool_list`]).
    pub description: Description,
}

/// A runtime id and where it comes from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeInfo {
    pub id: String,
    /// The plugin providing it.
    pub plugin: String,
    pub enabled: bool,
    pub default: bool,
}

/// A plugin's load, done once: the instance, or why not (the exit code and the message).
type LoadSlot = Arc<OnceLock<std::result::Result<Arc<LoadedPlugin>, (Exit, String)>>>;

pub struct Registry {
    pub catalog: Catalog,
    disabled_plugins: BTreeSet<String>,
    disabled_runtimes: BTreeSet<String>,
    default_runtime: String,
    /// `[providers.NAME] kind`: the provider ids the profile configures, by kind.
    instances: BTreeMap<String, String>,
    context: ServicesContext,
    /// One slot per plugin id: its init runs once even when several threads ask at once,
    /// and a failed load is remembered, reported once and not retried.
    loaded: Mutex<HashMap<String, LoadSlot>>,
    /// `provider.info` answers, per provider id.
    provider_infos: Mutex<HashMap<String, ProviderInfo>>,
    me: Weak<Registry>,
}

impl Registry {
    pub fn open(app: &App, approvals: Arc<Approvals>) -> Result<Arc<Registry>> {
        let config = app.config()?;
        let context = ServicesContext::new(app, approvals)?;
        let catalog = app.catalog().clone();
        Ok(Arc::new_cyclic(|me| Registry {
            catalog,
            disabled_plugins: config.plugins.disabled.iter().cloned().collect(),
            disabled_runtimes: config.runtimes.disabled.iter().cloned().collect(),
            default_runtime: config.model.runtime.clone(),
            instances: config
                .providers
                .iter()
                .map(|(name, instance)| (name.clone(), instance.kind.clone()))
                .collect(),
            context,
            loaded: Mutex::new(HashMap::new()),
            provider_infos: Mutex::new(HashMap::new()),
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

    pub fn approvals(&self) -> &Arc<Approvals> {
        self.context.approvals()
    }

    /// The entry for `id`; an unknown id is a usage error (exit 2).
    pub fn entry(&self, id: &str) -> Result<&PluginEntry> {
        self.catalog.get(id).ok_or_else(|| unknown_plugin(id))
    }

    /// The live instance of an enabled plugin, loading it on first use. A disabled plugin
    /// is a usage error (exit 2); one that fails to load is exit 4, naming the file; one
    /// whose init refuses its config is exit 2, naming the file, line and key.
    pub fn plugin(&self, id: &str) -> Result<Arc<LoadedPlugin>> {
        let entry = self.entry(id)?;
        if !self.is_enabled(id) {
            return Err(Error::usage(format!(
                "plugin {id} is disabled in profile {}; enable it with `talaria plugins enable {id}`",
                self.profile_name()
            )));
        }
        let slot = self.slots().entry(id.to_owned()).or_default().clone();
        // Not holding the map's lock while the plugin initialises: its init may call
        // back into the host (and so into this registry) for other plugins.
        let outcome = slot.get_or_init(|| {
            let outcome = self.load(entry).map(Arc::new).map_err(|e| match e {
                // The plugin refused its config: the user fixes the file (exit 2).
                LoadError::Config { message, key } => (
                    Exit::Usage,
                    self.context.config_error(&key, &message).message,
                ),
                e => (Exit::Missing, describe_failure(entry, &e)),
            });
            if let Err((_, message)) = &outcome {
                tracing::warn!(plugin = id, "{message}");
            }
            outcome
        });
        outcome
            .clone()
            .map_err(|(exit, message)| Error::new(exit, message))
    }

    fn load(&self, entry: &PluginEntry) -> std::result::Result<LoadedPlugin, LoadError> {
        let manifest = entry
            .manifest
            .as_ref()
            .ok_or_else(|| LoadError::Entry("no manifest".into()))?;
        let services = PluginHost::boxed(manifest, &self.context, self.me.clone());
        let (inspected, instance) = loader::load(entry, services)?;
        let description = describe(&instance).map_err(LoadError::Init)?;
        Ok(LoadedPlugin {
            id: entry.id.clone(),
            manifest: inspected.manifest,
            instance,
            description,
        })
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, LoadSlot>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enabled plugins of a kind, in id order.
    pub fn enabled_of_kind(&self, kind: PluginKind) -> impl Iterator<Item = &PluginEntry> {
        self.catalog.entries.iter().filter(move |e| {
            self.is_enabled(&e.id) && e.manifest.as_ref().is_some_and(|m| m.has_kind(kind))
        })
    }

    /// The plugin that serves `what` (a provider id, a wire API, a command), as `serves`
    /// decides. Served only by disabled plugins: exit 2 naming the command
    /// that enables one; by nobody: exit 2 with `what`'s own hint.
    fn serving(
        &self,
        what: &str,
        serves: impl Fn(&PluginEntry) -> bool,
    ) -> Result<Arc<LoadedPlugin>> {
        let candidates: Vec<&PluginEntry> =
            self.catalog.entries.iter().filter(|e| serves(e)).collect();
        if let Some(entry) = candidates.iter().find(|e| self.is_enabled(&e.id)) {
            return self.plugin(&entry.id);
        }
        if let Some(entry) = candidates.first() {
            return Err(Error::usage(format!(
                "{what} comes from plugin {plugin}, which is disabled in profile {profile}; \
                 enable it with `talaria plugins enable {plugin}`",
                plugin = entry.id,
                profile = self.profile_name(),
            )));
        }
        Err(Error::usage(format!(
            "no plugin provides {what}; `talaria plugins list` shows the plugins found"
        )))
    }

    /// The plugin serving provider `id`: for an instance the profile configures
    /// (`[providers.NAME]`), the plugin whose manifest serves its `kind`
    /// (`provides.provider_kinds`); otherwise the one naming `id` in
    /// `provides.providers`, or with `id` as its own id. An entry whose manifest is
    /// unusable is matched by its id alone, so asking for it reports why it cannot load
    /// (exit 4) instead of claiming nobody provides it.
    pub fn provider_plugin(&self, id: &str) -> Result<Arc<LoadedPlugin>> {
        if let Some(kind) = self.instances.get(id) {
            return self.serving(
                &format!("the provider kind {kind:?} of [providers.{id}]"),
                |e| {
                    e.manifest
                        .as_ref()
                        .is_some_and(|m| m.serves_provider_kind(kind))
                },
            );
        }
        self.serving(&format!("the model provider {id:?}"), |e| {
            match &e.manifest {
                Some(m) => {
                    m.has_kind(PluginKind::Provider)
                        && (e.id == id || m.provides.providers.iter().any(|p| p == id))
                }
                None => e.id == id,
            }
        })
    }

    /// The plugin serving the top-level command `name` (`[provides] commands`). Served
    /// by nobody: exit 4, since the command is the contract's or the user typed a plugin
    /// command whose plugin is not installed; only by a disabled plugin: exit 2 naming the
    /// command that enables it.
    pub fn command_plugin(&self, name: &str) -> Result<Arc<LoadedPlugin>> {
        let serves = |e: &PluginEntry| {
            e.manifest
                .as_ref()
                .is_some_and(|m| m.provides_command(name))
        };
        if !self.catalog.entries.iter().any(serves) {
            return Err(Error::missing(format!(
                "no plugin provides the command `talaria {name}`; install or enable the plugin that does (`talaria plugins list` shows what is found)"
            )));
        }
        self.serving(&format!("the command `talaria {name}`"), serves)
    }

    /// What the provider says about itself (`provider.info`), asked once per process.
    pub fn provider_info(&self, id: &str) -> Result<ProviderInfo> {
        if let Some(info) = self
            .provider_infos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(info.clone());
        }
        let plugin = self.provider_plugin(id)?;
        let info = client::call::<ProviderInfoMethod>(
            &plugin,
            &ProviderCall::new(id, Empty {}),
            crate::events::notices(),
            CancelFlag::new(),
        )
        .map_err(|e| crate::provider::plugin_error(&e).context(format!("provider {id}")))?;
        self.provider_infos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), info.clone());
        Ok(info)
    }

    /// The transport plugin for a wire API (its manifest's `provides.transports`).
    pub fn transport_for(&self, wire_api: &str) -> Result<Arc<LoadedPlugin>> {
        self.serving(&format!("the transport {wire_api:?}"), |e| {
            e.manifest
                .as_ref()
                .is_some_and(|m| m.provides_transport(wire_api))
        })
    }

    /// The transport that carries requests for provider `id`.
    pub fn transport_for_provider(&self, id: &str) -> Result<Arc<LoadedPlugin>> {
        let info = self.provider_info(id)?;
        self.transport_for(&info.wire_api)
            .map_err(|e| e.context(format!("provider {id} speaks {}", info.wire_api)))
    }

    /// Every runtime the enabled runtime plugins provide.
    pub fn runtimes(&self) -> Vec<RuntimeInfo> {
        let mut out = Vec::new();
        for entry in self.enabled_of_kind(PluginKind::Runtime) {
            let Some(manifest) = &entry.manifest else {
                continue;
            };
            for id in manifest.runtime_ids() {
                out.push(RuntimeInfo {
                    enabled: !self.disabled_runtimes.contains(&id),
                    default: self.default_runtime == id,
                    id,
                    plugin: entry.id.clone(),
                });
            }
        }
        out
    }

    /// A runtime by id; unknown or disabled is a usage error (exit 2) that names it.
    pub fn runtime(&self, id: &str) -> Result<RuntimeInfo> {
        let runtimes = self.runtimes();
        let Some(found) = runtimes.iter().find(|r| r.id == id) else {
            // A runtime of a disabled plugin: say which plugin to enable.
            let serves = |e: &&PluginEntry| {
                e.manifest.as_ref().is_some_and(|m| {
                    m.has_kind(PluginKind::Runtime) && m.runtime_ids().iter().any(|r| r == id)
                })
            };
            if let Some(entry) = self.catalog.entries.iter().find(serves) {
                return Err(Error::usage(format!(
                    "runtime {id} comes from plugin {plugin}, which is disabled in profile {profile}; enable it with `talaria plugins enable {plugin}`",
                    plugin = entry.id,
                    profile = self.profile_name()
                )));
            }
            let known: Vec<&str> = runtimes.iter().map(|r| r.id.as_str()).collect();
            return Err(Error::usage(format!(
                "unknown runtime {id:?}; known runtimes: {}",
                known.join(", ")
            )));
        };
        if !found.enabled {
            return Err(Error::usage(format!(
                "runtime {id} is disabled in profile {}; enable it with `talaria runtime enable {id}`",
                self.profile_name()
            )));
        }
        Ok(found.clone())
    }

    /// Every enabled tool, asked of each tool plugin now (lists may change at run time).
    /// A plugin that fails to load, or a name two plugins both define, is a warning: the
    /// other tools still work.
    pub fn tool_list(&self) -> ToolList {
        let mut list = ToolList::default();
        let ids: Vec<String> = self
            .enabled_of_kind(PluginKind::Tool)
            .map(|e| e.id.clone())
            .collect();
        for id in ids {
            let specs = self
                .plugin(&id)
                .map_err(|e| e.message)
                .and_then(|p| describe(&p.instance));
            match specs {
                Ok(description) => {
                    list.warnings.extend(description.warnings);
                    let specs = description.tools;
                    for spec in specs {
                        if let Some(first) = list.tools.iter().find(|t| t.spec.name == spec.name) {
                            list.warnings.push(format!(
                                "tool {} of plugin {id} is hidden by the one of plugin {}",
                                spec.name, first.plugin
                            ));
                            continue;
                        }
                        list.tools.push(ListedTool {
                            plugin: id.clone(),
                            spec,
                        });
                    }
                }
                Err(message) => list.warnings.push(message),
            }
        }
        list.tools.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        list
    }

    /// Calls a tool by name, whichever plugin serves it (or only `only`'s). An unknown
    /// name is an error output listing the tools (what a model needs to correct itself);
    /// a failed call is the plugin's error, for the caller to report its own way.
    pub fn call_tool(
        &self,
        request: &ToolCallRequest,
        only: Option<&str>,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> std::result::Result<ToolOutput, PluginError> {
        let list = self.tool_list();
        let found = list
            .tools
            .iter()
            .find(|t| t.spec.name == request.name && only.is_none_or(|p| p == t.plugin));
        let Some(tool) = found else {
            let known: Vec<&str> = list
                .tools
                .iter()
                .filter(|t| only.is_none_or(|p| p == t.plugin))
                .map(|t| t.spec.name.as_str())
                .collect();
            return Ok(ToolOutput::error(format!(
                "there is no tool named {:?}; the tools are: {}",
                request.name,
                known.join(", ")
            )));
        };
        let plugin = self
            .plugin(&tool.plugin)
            .map_err(|e| PluginError::new(ErrorKind::Unavailable, e.message))?;
        client::call::<methods::ToolCall>(&plugin, request, events, cancel)
    }
}

/// What a plugin offers now (`describe`).
pub fn describe(instance: &PluginBox) -> std::result::Result<Description, String> {
    let text = instance
        .describe()
        .into_result()
        .map_err(|e| format!("describe failed: {}", e.message))?;
    serde_json::from_str(&text).map_err(|e| format!("describe returned bad JSON: {e}"))
}

pub fn unknown_plugin(id: &str) -> Error {
    Error::usage(format!(
        "unknown plugin {id:?}; `talaria plugins list` shows the plugins found"
    ))
}

/// "plugin X (file): reason" — every failure names the plugin, the file and the reason.
pub fn describe_failure(entry: &PluginEntry, e: &LoadError) -> String {
    let file = entry.library.as_deref().unwrap_or(&entry.dir);
    format!(
        "plugin {} ({}) cannot be used: {e}",
        entry.id,
        file.display()
    )
}
