//! `talaria plugins ...`

use std::sync::Arc;

use serde::Serialize;
use talaria_plugin_api::abi::CancelFlag;
use talaria_plugin_api::manifest::Manifest;
use talaria_plugin_api::payload::ToolCallRequest;

use crate::app::App;
use crate::approvals::Approvals;
use crate::cli::{ApprovalMode, PluginsCommand};
use crate::config::{edit_config, set_in_list};
use crate::error::{Error, Result};
use crate::output::{print_json, print_table};
use crate::plugins::{install, loader, PluginEntry, Registry};

pub fn run(app: &App, cmd: PluginsCommand) -> Result<()> {
    let approvals = match &cmd {
        PluginsCommand::Call { approvals, .. } => approvals.approvals,
        _ => ApprovalMode::Deny,
    };
    let registry = Registry::open(app, Arc::new(Approvals::new(approvals)))?;
    match cmd {
        PluginsCommand::List { json } => list(&registry, json.json),
        PluginsCommand::Install { path, force } => {
            let entry = install::install(&app.home, &path, force)?;
            eprintln!(
                "installed {} {} into {}",
                entry.id,
                version(&entry),
                entry.dir.display()
            );
            if let Some(manifest) = &entry.manifest {
                for line in declarations(manifest) {
                    eprintln!("  {line}");
                }
            }
            eprintln!("{NATIVE_RIGHTS}");
            if !registry.is_enabled(&entry.id) {
                eprintln!(
                    "note: it is disabled in profile {}; `talaria plugins enable {}` turns it on",
                    app.profile.name, entry.id
                );
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
        PluginsCommand::Info { id, json } => info(&registry, &id, json.json),
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
        kinds: manifest
            .map(|m| m.kinds.iter().map(|k| k.to_string()).collect())
            .unwrap_or_default(),
        version: manifest.map(|m| m.version.to_string()),
        source: entry.source.as_str(),
        enabled: registry.is_enabled(&entry.id),
        status,
        path: entry
            .library
            .as_deref()
            .unwrap_or(&entry.dir)
            .display()
            .to_string(),
        description: manifest.map(|m| m.description.clone()).unwrap_or_default(),
    }
}

/// Said at install and in `plugins info`: a native plugin is not sandboxed, and the host
/// services every plugin may call (services.rs) reach beyond what its manifest declares.
const NATIVE_RIGHTS: &str = "note: a plugin is native code: it runs inside talaria with your user's rights \
     (every file you can read or write, the network, other programs), so install only plugins you trust. \
     talaria's credential store gives it only the credentials and the config sections listed above, but through \
     talaria any plugin may also send requests to your model providers on your accounts, ask a provider for its \
     endpoint (which carries your access token or API key), list, add or sign out provider accounts, call any \
     enabled tool (approvals still apply), ask you for approvals and change the default runtime.";

/// What a manifest declares, one line each: what the plugin provides, which credentials
/// it may use, which config sections it receives.
fn declarations(m: &Manifest) -> Vec<String> {
    let list = |v: &[String]| v.join(", ");
    let mut out = vec![format!(
        "kinds: {}",
        m.kinds
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for (what, ids) in [
        ("provides providers", &m.provides.providers),
        ("provides transports", &m.provides.transports),
        ("provides runtimes", &m.provides.runtimes),
        ("provides tools", &m.provides.tools),
        ("provides commands", &m.provides.commands),
    ] {
        if !ids.is_empty() {
            out.push(format!("{what}: {}", list(ids)));
        }
    }
    let namespaces: Vec<String> = m.credential_namespaces().map(str::to_owned).collect();
    out.push(format!(
        "credentials it may read and change: {}",
        list(&namespaces)
    ));
    let mut config = vec![format!("[plugin_config.{}]", m.id)];
    config.extend(m.config.iter().map(|s| format!("[{s}]")));
    out.push(format!("config it receives: {}", config.join(", ")));
    out
}

fn version(entry: &PluginEntry) -> String {
    entry
        .manifest
        .as_ref()
        .map(|m| m.version.to_string())
        .unwrap_or_else(|| "?".into())
}

fn list(registry: &Registry, json: bool) -> Result<()> {
    for (dir, reason) in &registry.catalog.unreadable {
        eprintln!(
            "warning: cannot read plugin folder {}: {reason}",
            dir.display()
        );
    }
    let records: Vec<PluginRecord> = registry
        .entries()
        .iter()
        .map(|e| record(registry, e))
        .collect();
    if json {
        return print_json(&records);
    }
    let mut rows = vec![vec![
        "ID".into(),
        "VERSION".into(),
        "KINDS".into(),
        "SOURCE".into(),
        "ENABLED".into(),
        "STATUS".into(),
    ]];
    for r in &records {
        rows.push(vec![
            r.id.clone(),
            r.version.clone().unwrap_or_else(|| "?".into()),
            r.kinds.join(","),
            r.source.into(),
            if r.enabled { "yes".into() } else { "no".into() },
            if r.status == "ok" {
                r.status.clone()
            } else {
                format!("{} ({})", r.status, r.path)
            },
        ]);
    }
    print_table(&rows);
    Ok(())
}

fn set_enabled(app: &App, registry: &Registry, id: &str, enabled: bool) -> Result<()> {
    registry.entry(id)?;
    edit_config(&app.profile.config_path(), |doc| {
        set_in_list(doc, "plugins", "disabled", id, !enabled)
    })?;
    let state = if enabled { "enabled" } else { "disabled" };
    eprintln!("{state} {id} in profile {}", app.profile.name);
    Ok(())
}

fn info(registry: &Registry, id: &str, json: bool) -> Result<()> {
    let entry = registry.entry(id)?;
    let record = record(registry, entry);
    // Loading runs the plugin's init, which `plugins list` never does; info may, to
    // show the tools and any init failure.
    let loaded = if record.enabled && record.status == "ok" {
        Some(registry.plugin(id))
    } else {
        None
    };
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
    crate::outln!(
        "status:      {}",
        init_error.as_deref().unwrap_or(&record.status)
    );
    if !record.description.is_empty() {
        crate::outln!("description: {}", record.description);
    }
    if let Some(manifest) = &entry.manifest {
        for line in declarations(manifest) {
            crate::outln!("declares:    {line}");
        }
        crate::outln!("{NATIVE_RIGHTS}");
    }
    for tool in &tools {
        crate::outln!("tool:        {} — {}", tool.name, tool.description);
    }
    for shadow in registry.catalog.shadowed.iter().filter(|s| s.id == id) {
        crate::outln!(
            "shadows:     {} copy at {}",
            shadow.source.as_str(),
            shadow.dir.display()
        );
    }
    Ok(())
}

/// Calls one tool of one plugin through the same path the runtimes use (`tools.call`):
/// approvals, events and errors behave as in a chat. Progress goes to stderr so stdout
/// carries only the tool's output.
fn call(registry: &Registry, id: &str, tool: &str, args: &str) -> Result<()> {
    let arguments: serde_json::Value = serde_json::from_str(args)
        .map_err(|e| Error::usage(format!("the tool arguments must be a JSON object: {e}")))?;
    let plugin = registry.plugin(id)?;
    let tools = crate::plugins::registry::describe(&plugin.instance)
        .map_err(Error::failure)?
        .tools;
    if !tools.iter().any(|t| t.name == tool) {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::usage(format!(
            "plugin {id} has no tool {tool:?}; its tools: {}",
            names.join(", ")
        )));
    }
    let request = ToolCallRequest {
        call_id: "cli".into(),
        name: tool.into(),
        arguments,
        context: None,
    };
    let output = registry
        .call_tool(
            &request,
            Some(id),
            crate::events::notices(),
            CancelFlag::new(),
        )
        .map_err(|e| Error::failure(format!("{id}/{tool} failed: {}", e.message)))?;
    crate::outln!("{}", output.content);
    if output.is_error {
        return Err(Error::failure(format!("{id}/{tool} reported an error")));
    }
    Ok(())
}
