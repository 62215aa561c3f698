//! `talaria plugins ...`

use std::sync::Arc;

use serde::Serialize;
use talaria_plugin_api::abi::{event_sink, CancelFlag, EventSink};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::payload::{methods, Event, ToolCallRequest, ToolOutput};

use crate::app::App;
use crate::cli::{ApprovalMode, PluginsCommand};
use crate::config::{edit_config, set_in_list};
use crate::error::{Error, Result};
use crate::host_services::PolicyApprover;
use crate::output::{print_json, print_table};
use crate::plugins::{install, loader, PluginEntry, Registry};

pub fn run(app: &App, cmd: PluginsCommand) -> Result<()> {
    let approvals = match &cmd {
        PluginsCommand::Call { approvals, .. } => *approvals,
        _ => ApprovalMode::Deny,
    };
    let registry = Registry::open(app, Arc::new(PolicyApprover { mode: approvals }))?;
    match cmd {
        PluginsCommand::List { json } => list(&registry, json),
        PluginsCommand::Install { path, force } => {
            let entry = install::install(&app.home, &path, force)?;
            eprintln!("installed {} {} into {}", entry.id, version(&entry), entry.dir.display());
            if !registry.is_enabled(&entry.id) {
                eprintln!("note: it is disabled in profile {}; `talaria plugins enable {}` turns it on", app.profile.name, entry.id);
            }
            Ok(())
        }
        PluginsCommand::Remove { id } => {
            let dir = install::remove(&app.home, &registry.catalog, &id)?;
            eprintln!("removed {id} ({})", dir.display());
            Ok(())
        }
        PluginsCommand::Enable { id } => set_enabled(app, &registry, &id, true),
        PluginsCommand::Disable { id } => set_enabled(app, &registry, &id, false),
        PluginsCommand::Info { id, json } => info(&registry, &id, json),
        PluginsCommand::Call { id, tool, args, .. } => call(&registry, &id, &tool, &args),
    }
}

#[derive(Serialize)]
struct PluginRecord {
    id: String,
    kinds: Vec<String>,
    version: Option<String>,
    source: &'static str,
    enabled: bool,
    /// `ok`, or why it cannot load.
    status: String,
    path: String,
    description: String,
}

fn record(registry: &Registry, entry: &PluginEntry) -> PluginRecord {
    // `inspect` opens the library and checks it, but never runs the plugin's init.
    let status = match loader::inspect(entry) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let manifest = entry.manifest.as_ref();
    PluginRecord {
        id: entry.id.clone(),
        kinds: manifest.map(|m| m.kinds.iter().map(|k| k.to_string()).collect()).unwrap_or_default(),
        version: manifest.map(|m| m.version.to_string()),
        source: entry.source.as_str(),
        enabled: registry.is_enabled(&entry.id),
        status,
        path: entry.library.as_deref().unwrap_or(&entry.dir).display().to_string(),
        description: manifest.map(|m| m.description.clone()).unwrap_or_default(),
    }
}

fn version(entry: &PluginEntry) -> String {
    entry.manifest.as_ref().map(|m| m.version.to_string()).unwrap_or_else(|| "?".into())
}

fn list(registry: &Registry, json: bool) -> Result<()> {
    for (dir, reason) in &registry.catalog.unreadable {
        eprintln!("warning: cannot read plugin folder {}: {reason}", dir.display());
    }
    let records: Vec<PluginRecord> = registry.entries().iter().map(|e| record(registry, e)).collect();
    if json {
        return print_json(&records);
    }
    let mut rows = vec![vec!["ID".into(), "VERSION".into(), "KINDS".into(), "SOURCE".into(), "ENABLED".into(), "STATUS".into()]];
    for r in &records {
        rows.push(vec![
            r.id.clone(),
            r.version.clone().unwrap_or_else(|| "?".into()),
            r.kinds.join(","),
            r.source.into(),
            if r.enabled { "yes".into() } else { "no".into() },
            if r.status == "ok" { r.status.clone() } else { format!("{} ({})", r.status, r.path) },
        ]);
    }
    print_table(&rows);
    Ok(())
}

fn set_enabled(app: &App, registry: &Registry, id: &str, enabled: bool) -> Result<()> {
    registry.entry(id)?;
    edit_config(&app.profile.config_path(), |doc| set_in_list(doc, "plugins", "disabled", id, !enabled))?;
    let state = if enabled { "enabled" } else { "disabled" };
    eprintln!("{state} {id} in profile {}", app.profile.name);
    Ok(())
}

fn info(registry: &Registry, id: &str, json: bool) -> Result<()> {
    let entry = registry.entry(id)?;
    let record = record(registry, entry);
    // Loading runs the plugin's init, which `plugins list` never does; info may, to
    // show the tools and any init failure.
    let loaded = if record.enabled && record.status == "ok" { Some(registry.plugin(id)) } else { None };
    let tools: Vec<_> = match &loaded {
        Some(Ok(p)) => p.description.tools.clone(),
        _ => Vec::new(),
    };
    let init_error = match &loaded {
        Some(Err(e)) => Some(e.message.clone()),
        _ => None,
    };
    if json {
        let mut value = serde_json::to_value(&record).map_err(|e| Error::failure(e.to_string()))?;
        value["tools"] = serde_json::to_value(&tools).unwrap_or_default();
        value["manifest"] = serde_json::to_value(&entry.manifest).unwrap_or_default();
        value["manifest_origin"] = entry.manifest_origin.clone().into();
        value["init_error"] = init_error.clone().into();
        return print_json(&value);
    }
    crate::outln!("id:          {}", record.id);
    crate::outln!("version:     {}", record.version.as_deref().unwrap_or("?"));
    crate::outln!("kinds:       {}", record.kinds.join(", "));
    crate::outln!("source:      {}", record.source);
    crate::outln!("library:     {}", record.path);
    crate::outln!("manifest:    {}", entry.manifest_origin);
    crate::outln!("enabled:     {}", if record.enabled { "yes" } else { "no" });
    crate::outln!("status:      {}", init_error.as_deref().unwrap_or(&record.status));
    if !record.description.is_empty() {
        crate::outln!("description: {}", record.description);
    }
    for tool in &tools {
        crate::outln!("tool:        {} — {}", tool.name, tool.description);
    }
    for shadow in registry.catalog.shadowed.iter().filter(|s| s.id == id) {
        crate::outln!("shadows:     {} copy at {}", shadow.source.as_str(), shadow.dir.display());
    }
    Ok(())
}

/// Prints tool progress to stderr so stdout carries only the tool's output.
struct StderrEvents;

impl EventSink for StderrEvents {
    fn emit(&self, event: RStr<'_>) {
        match serde_json::from_str::<Event>(event.as_str()) {
            Ok(Event::Progress { message }) | Ok(Event::Warning { message }) => eprintln!("{message}"),
            _ => {}
        }
    }
}

fn call(registry: &Registry, id: &str, tool: &str, args: &str) -> Result<()> {
    let arguments: serde_json::Value =
        serde_json::from_str(args).map_err(|e| Error::usage(format!("the tool arguments must be a JSON object: {e}")))?;
    let plugin = registry.plugin(id)?;
    if !plugin.description.tools.iter().any(|t| t.name == tool) {
        let names: Vec<&str> = plugin.description.tools.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::usage(format!("plugin {id} has no tool {tool:?}; its tools: {}", names.join(", "))));
    }
    let request = ToolCallRequest { call_id: "cli".into(), name: tool.into(), arguments };
    let params = serde_json::to_string(&request).map_err(|e| Error::failure(e.to_string()))?;
    let out = plugin
        .instance
        .call(RStr::from_str(methods::TOOL_CALL), RStr::from_str(&params), event_sink(StderrEvents), CancelFlag::new())
        .into_result()
        .map_err(|e| Error::failure(format!("{id}/{tool} failed: {}", e.message)))?;
    let output: ToolOutput = serde_json::from_str(&out).map_err(|e| Error::failure(format!("{id} returned a malformed result: {e}")))?;
    crate::outln!("{}", output.content);
    if output.is_error {
        return Err(Error::failure(format!("{id}/{tool} reported an error")));
    }
    Ok(())
}
