//! The managed block in `$CODEX_HOME/config.toml`: what `codex-runtime on` and
//! `codex-runtime migrate` write so codex sees the profile's MCP servers, talaria's own
//! tools (`talaria-tools`) and the Codex plugins installed.
//!
//! The file is the user's. Everything outside the block is kept byte for byte; the block
//! goes before the first table header, so its root key (`default_permissions`) stays a
//! root key; a server, plugin or root key the user already defines outside the block is
//! left to the user (never a duplicate); the result must parse, or nothing is written;
//! running twice gives the same file.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::Value;
use talaria_sdk::mcp::McpServer;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table};

pub const BEGIN: &str =
    "# managed by talaria — `talaria codex-runtime migrate` regenerates this section";
pub const END: &str = "# end talaria managed section";

/// Codex's built-in permission profile with writes inside the workspace.
pub const DEFAULT_PERMISSIONS: &str = ":workspace";

/// The keys of `[mcp_servers.NAME]` that translate.
const KNOWN_KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "timeout",
    "connect_timeout",
    "enabled",
];

/// What to migrate.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The profile's `[mcp_servers]`, as the config holds them.
    pub servers: BTreeMap<String, Value>,
    /// talaria's own tool server (`talaria mcp serve`), registered as `talaria-tools`.
    pub talaria_tools: Option<McpServer>,
    /// Codex plugins installed and available: `name@marketplace` → enabled.
    pub plugins: BTreeMap<String, bool>,
}

/// What a migration did, for the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The new file.
    pub text: String,
    /// The file changes (false when it already held exactly this block).
    pub changed: bool,
    pub servers: Vec<String>,
    pub plugins: Vec<String>,
    pub default_permissions: bool,
    /// Per-server notes: left to the user, keys dropped, servers skipped.
    pub notes: Vec<String>,
}

/// Why the file was not written.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused(pub String);

/// The new text of `config.toml` (`existing` is its current text, empty when absent).
pub fn migrate(existing: &str, inputs: &Inputs) -> Result<Report, Refused> {
    parse(existing).map_err(|e| {
        Refused(format!(
            "it is not valid TOML, so talaria leaves it alone; fix it first:\n{e}"
        ))
    })?;
    let user = without_block(existing)?;
    let parsed = parse(user.as_str()).map_err(|e| {
        Refused(format!(
            "without talaria's managed section it is not valid TOML (was the section edited by hand?):\n{e}"
        ))
    })?;
    let taken = UserDefined::of(parsed.as_table());
    let mut report = Report::default();
    let block = block(inputs, &taken, &mut report);
    let at = insert_at(&user, &parsed);
    let mut text = String::with_capacity(user.len() + block.len() + 1);
    text.push_str(&user[..at]);
    if at > 0 && !user[..at].ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&block);
    text.push_str(&user[at..]);
    parse(text.as_str()).map_err(|e| {
        Refused(format!(
            "talaria's section would not fit the file's own tables (an inline `mcp_servers` or `plugins` table?), so nothing was written:\n{e}"
        ))
    })?;
    report.changed = text != existing;
    report.text = text;
    Ok(report)
}

/// Parses TOML. toml_edit 0.23 panics on some malformed files ("all items have spans",
/// found by the `managed_block` fuzz target): such a file is refused like any other
/// invalid one instead of taking the plugin down.
fn parse(text: &str) -> Result<toml_edit::Document<&str>, String> {
    match std::panic::catch_unwind(|| toml_edit::Document::parse(text)) {
        Ok(parsed) => parsed.map_err(|e| e.to_string()),
        Err(_) => Err("the TOML parser failed on it".to_owned()),
    }
}

/// `text` with every managed block (begin line through end line) taken out.
pub fn without_block(text: &str) -> Result<String, Refused> {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if !inside && bare == BEGIN {
            inside = true;
        } else if inside && bare == END {
            inside = false;
        } else if !inside {
            out.push_str(line);
        }
    }
    if inside {
        return Err(Refused(format!(
            "it has talaria's begin marker but no `{END}` line after it; remove the section (or add the end line) and run `talaria codex-runtime migrate` again"
        )));
    }
    Ok(out)
}

/// What the user's own part of the file already defines.
#[derive(Default)]
struct UserDefined {
    root_keys: BTreeSet<String>,
    servers: BTreeSet<String>,
    plugins: BTreeSet<String>,
}

impl UserDefined {
    fn of(root: &Table) -> UserDefined {
        let names = |key: &str| -> BTreeSet<String> {
            root.get(key)
                .and_then(Item::as_table_like)
                .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
                .unwrap_or_default()
        };
        UserDefined {
            root_keys: root
                .iter()
                .filter(|(_, v)| v.is_value())
                .map(|(k, _)| k.to_owned())
                .collect(),
            servers: names("mcp_servers"),
            plugins: names("plugins"),
        }
    }
}

/// Where the block goes: before the first table header and the comments and blank
/// lines above it (they belong to that table), else at the end.
fn insert_at(user: &str, parsed: &toml_edit::Document<&str>) -> usize {
    let Some(start) = first_header(parsed.as_table()) else {
        return user.len();
    };
    user[..start].rfind('\n').map_or(0, |i| i + 1)
}

/// Where the first `[table]` or `[[array]]` header's leading decoration starts.
fn first_header(table: &Table) -> Option<usize> {
    let mut first: Option<usize> = None;
    let mut consider = |start: Option<usize>| {
        if let Some(start) = start {
            if first.is_none_or(|f| start < f) {
                first = Some(start);
            }
        }
    };
    let start_of = |t: &Table| {
        t.decor()
            .prefix()
            .and_then(toml_edit::RawString::span)
            .or_else(|| t.span())
            .map(|r: Range<usize>| r.start)
    };
    for (_, item) in table.iter() {
        match item {
            Item::Table(t) => {
                if !t.is_implicit() && !t.is_dotted() {
                    consider(start_of(t));
                }
                consider(first_header(t));
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    consider(start_of(t));
                }
            }
            _ => {}
        }
    }
    first
}

/// The block's text, from the begin line through the end line and its newline.
fn block(inputs: &Inputs, taken: &UserDefined, report: &mut Report) -> String {
    let mut doc = DocumentMut::new();
    if taken.root_keys.contains("default_permissions") {
        report.notes.push(
            "default_permissions: set outside talaria's section, left as you wrote it".into(),
        );
    } else {
        doc.insert("default_permissions", toml_edit::value(DEFAULT_PERMISSIONS));
        report.default_permissions = true;
    }

    let mut servers = Table::new();
    servers.set_implicit(true);
    let mut add_server = |name: &str, server: Table, report: &mut Report| {
        if taken.servers.contains(name) {
            report.notes.push(format!(
                "MCP server {name}: already defined in config.toml outside talaria's section, left to you"
            ));
        } else {
            servers.insert(name, Item::Table(server));
            report.servers.push(name.to_owned());
        }
    };
    for (name, raw) in &inputs.servers {
        if inputs.talaria_tools.is_some() && name == crate::approvals::TALARIA_TOOLS {
            report.notes.push(format!(
                "MCP server {name}: the name is talaria's own tool server's, so the profile's server of that name was not migrated"
            ));
            continue;
        }
        match translate(name, raw, &mut report.notes) {
            Some(table) => add_server(name, table, report),
            None => continue,
        }
    }
    if let Some(tools) = &inputs.talaria_tools {
        add_server(crate::approvals::TALARIA_TOOLS, server_table(tools), report);
    }
    if !servers.is_empty() {
        doc.insert("mcp_servers", Item::Table(servers));
    }

    let mut plugins = Table::new();
    plugins.set_implicit(true);
    for (id, enabled) in &inputs.plugins {
        if taken.plugins.contains(id) {
            report.notes.push(format!(
                "Codex plugin {id}: already configured outside talaria's section, left to you"
            ));
            continue;
        }
        let mut t = Table::new();
        t.insert("enabled", toml_edit::value(*enabled));
        plugins.insert(id, Item::Table(t));
        report.plugins.push(id.clone());
    }
    if !plugins.is_empty() {
        doc.insert("plugins", Item::Table(plugins));
    }

    let body = doc.to_string();
    let body = if body.trim().is_empty() {
        "# (nothing to configure)\n".to_owned()
    } else {
        body
    };
    let mut out = format!("{BEGIN}\n{body}");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// A profile server in codex's spelling; `None` (with a note) when it cannot be.
fn translate(name: &str, raw: &Value, notes: &mut Vec<String>) -> Option<Table> {
    let Some(fields) = raw.as_object() else {
        notes.push(format!("MCP server {name}: not a table, skipped"));
        return None;
    };
    let mut known = serde_json::Map::new();
    let mut dropped = Vec::new();
    for (key, value) in fields {
        if KNOWN_KEYS.contains(&key.as_str()) {
            known.insert(key.clone(), value.clone());
        } else {
            dropped.push(key.as_str());
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "MCP server {name}: dropped {} (codex has no such setting)",
            dropped.join(", ")
        ));
    }
    let mut server: McpServer = match serde_json::from_value(Value::Object(known)) {
        Ok(s) => s,
        Err(e) => {
            notes.push(format!("MCP server {name}: skipped ({e})"));
            return None;
        }
    };
    match (&server.command, &server.url) {
        (None, None) => {
            notes.push(format!(
                "MCP server {name}: skipped (it has neither `command` nor `url`)"
            ));
            return None;
        }
        (Some(_), Some(_)) => {
            notes.push(format!(
                "MCP server {name}: has both `command` and `url`; codex gets the command (stdio)"
            ));
            server.url = None;
            server.headers.clear();
        }
        _ => {}
    }
    Some(server_table(&server))
}

/// `[mcp_servers.NAME]` as codex spells it.
fn server_table(server: &McpServer) -> Table {
    let mut t = Table::new();
    let strings = |map: &BTreeMap<String, String>| {
        let mut inline = InlineTable::new();
        for (k, v) in map {
            inline.insert(k, v.as_str().into());
        }
        Item::Value(toml_edit::Value::InlineTable(inline))
    };
    if let Some(command) = &server.command {
        t.insert("command", toml_edit::value(command.as_str()));
        if !server.args.is_empty() {
            let args: Array = server.args.iter().map(String::as_str).collect();
            t.insert("args", toml_edit::value(args));
        }
        if !server.env.is_empty() {
            t.insert("env", strings(&server.env));
        }
        if let Some(cwd) = &server.cwd {
            t.insert("cwd", toml_edit::value(cwd.as_str()));
        }
    } else if let Some(url) = &server.url {
        t.insert("url", toml_edit::value(url.as_str()));
        if !server.headers.is_empty() {
            t.insert("http_headers", strings(&server.headers));
        }
    }
    if let Some(secs) = server.connect_timeout {
        t.insert("startup_timeout_sec", toml_edit::value(secs));
    }
    if let Some(secs) = server.timeout {
        t.insert("tool_timeout_sec", toml_edit::value(secs));
    }
    if !server.enabled {
        t.insert("enabled", toml_edit::value(false));
    }
    t
}

#[cfg(test)]
mod tests;
