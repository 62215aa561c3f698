//! The profile's `config.toml`: typed, with defaults for everything left out.
//!
//! Unknown keys are errors so that a typo does not silently fall back to a default, and
//! every error names the file, the line and the dotted key, because the user has to go
//! and fix it by hand. The one exception is a top-level table talaria does not know: it
//! may be a section a plugin owns (`config = ["name"]` in its manifest), kept as JSON in
//! [`Config::plugin_sections`] and refused by [`Config::check_sections`] when no plugin
//! claims it. Edits made by the CLI go through `toml_edit` so the user's
//! comments and layout survive, and an invalid file is never rewritten.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use talaria_plugin_api::mcp::McpServer;

use crate::error::{io_error, Error, Result};

mod edit;
mod locate;

pub use edit::{edit_config, set_in_list, set_string};
use locate::{describe_toml_error, dotted, line_of, span_of_key};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)] // not `deny_unknown_fields`: `parse` sorts out the keys left unread
pub struct Config {
    pub model: ModelConfig,
    pub fallback_model: Option<FallbackModel>,
    pub runtimes: Disabled,
    pub plugins: Disabled,
    pub mcp_servers: BTreeMap<String, McpServer>,
    pub codex: CodexConfig,
    pub providers: BTreeMap<String, ProviderInstance>,
    pub tools: ToolsConfig,
    /// `[plugin_config.<plugin-id>]` tables, handed to plugins as JSON.
    #[serde(deserialize_with = "plugin_tables")]
    pub plugin_config: BTreeMap<String, serde_json::Value>,
    /// Top-level tables talaria does not know: sections plugins own, as JSON.
    #[serde(skip)]
    pub plugin_sections: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: String,
    pub default: String,
    pub runtime: String,
    pub fast: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            provider: "openai-codex".into(),
            default: "gpt-5.3-codex".into(),
            runtime: "auto".into(),
            fast: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackModel {
    pub provider: String,
    pub model: String,
}

/// `[runtimes]` and `[plugins]`: ids switched off in this profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Disabled {
    pub disabled: Vec<String>,
}

impl Disabled {
    pub fn contains(&self, id: &str) -> bool {
        self.disabled.iter().any(|d| d == id)
    }
}

/// `[tools]`: the coding tools' approval policy and sandbox, in Codex's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    pub approval_policy: String,
    pub sandbox: String,
    pub web_search: bool,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            approval_policy: "on-request".into(),
            sandbox: "workspace-write".into(),
            web_search: false,
        }
    }
}

pub const APPROVAL_POLICIES: [&str; 4] = ["untrusted", "on-request", "on-failure", "never"];
pub const SANDBOX_MODES: [&str; 3] = ["read-only", "workspace-write", "danger-full-access"];

/// The top-level sections a plugin may own (`config = [...]` in its manifest) and
/// receive as JSON; the host still parses and checks them.
pub const SHAREABLE_SECTIONS: [&str; 7] = [
    "model",
    "fallback_model",
    "runtimes",
    "tools",
    "mcp_servers",
    "codex",
    "providers",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodexConfig {
    pub home: Option<String>,
    pub bin: Option<String>,
}

/// `[providers.NAME]`: an OpenAI-compatible endpoint the user configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInstance {
    pub kind: String,
    pub base_url: String,
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The wire API, named as a transport plugin provides it ("chat-completions",
    /// "responses"); checked against the plugins found by [`Config::check_plugin_claims`].
    #[serde(default)]
    pub transport: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
}

impl Config {
    /// Reads `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Config> {
        match read_optional(path)? {
            Some(text) => Config::parse(&text, path),
            None => Ok(Config::default()),
        }
    }

    /// Parses and validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let toml_error = |e: toml::de::Error| describe_toml_error(text, path, &e);
        let mut unread = Vec::new();
        let deserializer = toml::Deserializer::parse(text).map_err(toml_error)?;
        let mut config: Config =
            serde_ignored::deserialize(deserializer, |key| unread.push(key.to_string()))
                .map_err(toml_error)?;
        if !unread.is_empty() {
            let table: toml::Table = toml::from_str(text).map_err(toml_error)?;
            for key in unread {
                match table.get(&key) {
                    Some(section @ toml::Value::Table(_)) => {
                        config
                            .plugin_sections
                            .insert(key, toml_to_json(section.clone()));
                    }
                    _ => {
                        return Err(key_error_in(
                            text,
                            path,
                            std::slice::from_ref(&key),
                            &format!("unknown field `{key}`"),
                        ))
                    }
                }
            }
        }
        if let Err(problem) = config.validate() {
            let line = toml_edit::Document::parse(text)
                .ok()
                .and_then(|doc| span_of_key(doc.as_table(), &problem.key))
                .map(|span| line_of(text, span.start));
            return Err(invalid(
                path,
                line,
                Some(&dotted(&problem.key)),
                &problem.message,
            ));
        }
        Ok(config)
    }

    /// A top-level section as JSON, for the plugin that owns it: one talaria reads too
    /// (from [`SHAREABLE_SECTIONS`]) or one only plugins read; `None` when the file has
    /// none or a plugin may not have it.
    pub fn section(&self, name: &str) -> Option<serde_json::Value> {
        if !SHAREABLE_SECTIONS.contains(&name) {
            return self.plugin_sections.get(name).cloned();
        }
        serde_json::to_value(self)
            .ok()?
            .get(name)
            .cloned()
            .filter(|v| !v.is_null())
    }

    /// What only the plugins found (enabled or not) can vouch for: every top-level table
    /// talaria does not know is claimed by one (else it is most likely a typo, never
    /// silently ignored), and every `[providers.*] transport` is provided by one.
    pub fn check_plugin_claims(&self, path: &Path, plugins: &impl PluginClaims) -> Result<()> {
        if let Some(name) = self
            .plugin_sections
            .keys()
            .find(|name| !plugins.claims_section(name))
        {
            return Err(key_error(
                path,
                std::slice::from_ref(name),
                &format!("unknown section [{name}]: neither talaria nor an installed plugin uses it; check the spelling, or install the plugin it belongs to"),
            ));
        }
        for (name, provider) in &self.providers {
            if !plugins.serves_provider_kind(&provider.kind) {
                let key = ["providers".to_owned(), name.clone(), "kind".to_owned()];
                return Err(key_error(
                    path,
                    &key,
                    &format!("no plugin found serves providers of kind {:?}; check the spelling, or install the provider plugin (`talaria plugins list` shows the plugins found)", provider.kind),
                ));
            }
            match &provider.transport {
                Some(transport) if !plugins.provides_transport(transport) => {
                    let key = ["providers".to_owned(), name.clone(), "transport".to_owned()];
                    return Err(key_error(
                        path,
                        &key,
                        &format!("no plugin found provides the transport {transport:?}; check the spelling, or install the transport plugin (`talaria plugins list` shows the plugins found)"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The `[plugin_config.<id>]` table as JSON, or Null when there is none.
    pub fn plugin_config(&self, id: &str) -> serde_json::Value {
        self.plugin_config
            .get(id)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// What serde cannot express: value sets, mutually exclusive keys, positive timeouts.
    fn validate(&self) -> std::result::Result<(), Problem> {
        for (name, server) in &self.mcp_servers {
            match (&server.command, &server.url) {
                (Some(_), Some(_)) => {
                    return Err(Problem::new(
                        ["mcp_servers", name],
                        format!(
                            "MCP server {name:?} sets both `command` and `url`; keep `command` for a local server or `url` for a remote one, not both"
                        ),
                    ))
                }
                (None, None) => {
                    return Err(Problem::new(
                        ["mcp_servers", name],
                        format!(
                            "MCP server {name:?} needs either `command` (a local server) or `url` (a remote one)"
                        ),
                    ))
                }
                _ => {}
            }
            check_timeout(&["mcp_servers", name, "timeout"], server.timeout)?;
            check_timeout(
                &["mcp_servers", name, "connect_timeout"],
                server.connect_timeout,
            )?;
        }
        let one_of = |key: &str, value: &str, allowed: &[&str]| {
            if allowed.contains(&value) {
                Ok(())
            } else {
                let list = allowed
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(Problem {
                    key: vec!["tools".into(), key.into()],
                    message: format!("{value:?} is not one of {list}"),
                })
            }
        };
        one_of(
            "approval_policy",
            &self.tools.approval_policy,
            &APPROVAL_POLICIES,
        )?;
        one_of("sandbox", &self.tools.sandbox, &SANDBOX_MODES)?;
        Ok(())
    }
}

/// A validation failure: the key it is about (as path segments) and what is wrong.
struct Problem {
    key: Vec<String>,
    message: String,
}

impl Problem {
    fn new<const N: usize>(key: [&str; N], message: String) -> Problem {
        Problem {
            key: key.iter().map(|s| s.to_string()).collect(),
            message,
        }
    }
}

fn check_timeout(key: &[&str], value: Option<f64>) -> std::result::Result<(), Problem> {
    match value {
        Some(secs) if !(secs.is_finite() && secs > 0.0) => Err(Problem {
            key: key.iter().map(|s| s.to_string()).collect(),
            message: format!("timeout must be a positive number of seconds, not {secs}"),
        }),
        _ => Ok(()),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(Error::usage(format!(
            "invalid config {}: the file is not UTF-8 text; save it as UTF-8",
            path.display()
        ))),
        Err(e) => Err(io_error(path, "read", e)),
    }
}

/// What the plugins found say they own or provide, for [`Config::check_plugin_claims`].
pub trait PluginClaims {
    fn claims_section(&self, name: &str) -> bool;
    fn provides_transport(&self, wire_api: &str) -> bool;
    /// Some provider plugin serves `[providers.NAME]` instances of this `kind`.
    fn serves_provider_kind(&self, kind: &str) -> bool;
}

/// An error about `key` in the config file at `path` (a plugin's complaint about a
/// section it owns), naming the line of the deepest part of the key that is in the file.
pub fn key_error(path: &Path, key: &[String], message: &str) -> Error {
    key_error_in(
        &std::fs::read_to_string(path).unwrap_or_default(),
        path,
        key,
        message,
    )
}

fn key_error_in(text: &str, path: &Path, key: &[String], message: &str) -> Error {
    let line = toml_edit::Document::parse(text).ok().and_then(|doc| {
        (1..=key.len())
            .rev()
            .find_map(|n| span_of_key(doc.as_table(), &key[..n]))
            .map(|span| line_of(text, span.start))
    });
    invalid(path, line, Some(&dotted(key)), message)
}

/// The one message shape for every config error, so users and scripts see the file,
/// line and key in the same place.
fn invalid(path: &Path, line: Option<usize>, key: Option<&str>, message: &str) -> Error {
    let mut text = format!("invalid config {}", path.display());
    if let Some(line) = line {
        text.push_str(&format!(", line {line}"));
    }
    if let Some(key) = key {
        text.push_str(&format!(", key {key}"));
    }
    text.push_str(&format!(
        ": {message} (fix that line in the file; keys you leave out take their defaults)"
    ));
    Error::usage(text)
}

/// TOML values become JSON for plugins; datetimes become their RFC 3339 text.
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => J::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

// Deserializing TOML straight into serde_json::Value would turn datetimes into toml's
// private marker maps; going through toml's own types avoids that.
fn plugin_tables<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, serde_json::Value>, D::Error> {
    let tables = BTreeMap::<String, toml::Table>::deserialize(d)?;
    Ok(tables
        .into_iter()
        .map(|(id, t)| (id, toml_to_json(toml::Value::Table(t))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CONTRACT_EXAMPLE: &str = r#"
[model]
provider = "openai-codex"      # a provider plugin id
default  = "gpt-5.3-codex"
runtime  = "auto"              # "auto" (the native agent loop) | "codex_app_server" | another runtime id
fast     = false               # priority service tier ("/fast")

[fallback_model]               # tried when the primary fails after its retries
provider = "openai-codex"
model    = "gpt-5.3-codex"

[auxiliary.vision]             # one table per aux task
provider = "codex"             # "auto" | "main" | "codex" | a provider id
model    = "gpt-5.3-codex"
extra_body = { reasoning = { effort = "low" } }

[runtimes]
disabled = []                  # runtime ids switched off in this profile

[plugins]
disabled = []                  # plugin ids not loaded in this profile

[mcp_servers.files]            # user MCP servers (used by the native runtime; migrated for codex)
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { }
timeout = 120                  # tool call timeout, seconds
connect_timeout = 30           # startup timeout, seconds
enabled = true

[mcp_servers.remote]
url = "http://127.0.0.1:3001/mcp"
headers = { }

[codex]
home = "~/.codex"              # CODEX_HOME for this profile
bin  = "codex"

[tools]                        # the native runtime's coding tools (Codex's meanings)
approval_policy = "on-request" # "untrusted" | "on-request" | "on-failure" | "never"
sandbox = "workspace-write"    # "read-only" | "workspace-write" | "danger-full-access"
web_search = false             # the hosted web search tool, where the model has it
"#;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/x/config.toml"))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => {
                assert_eq!(e.exit, crate::error::Exit::Usage);
                e.message
            }
        }
    }

    #[test]
    fn contract_example_parses() {
        let c = parse(CONTRACT_EXAMPLE).unwrap();
        assert_eq!(c.model.provider, "openai-codex");
        assert_eq!(c.fallback_model.as_ref().unwrap().model, "gpt-5.3-codex");
        // `[auxiliary]` belongs to the aux router; the host hands it over as it is.
        assert_eq!(
            c.section("auxiliary").unwrap()["vision"],
            serde_json::json!({"provider": "codex", "model": "gpt-5.3-codex", "extra_body": {"reasoning": {"effort": "low"}}})
        );
        let files = &c.mcp_servers["files"];
        assert_eq!(files.command.as_deref(), Some("npx"));
        assert_eq!(files.timeout(), Duration::from_secs(120));
        assert_eq!(files.connect_timeout(), Duration::from_secs(30));
        assert!(files.enabled);
        let remote = &c.mcp_servers["remote"];
        assert_eq!(remote.url.as_deref(), Some("http://127.0.0.1:3001/mcp"));
        assert!(remote.enabled);
        assert_eq!(remote.timeout(), Duration::from_secs(120));
        assert_eq!(c.codex.home.as_deref(), Some("~/.codex"));
    }

    #[test]
    fn missing_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&dir.path().join("config.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.model.provider, "openai-codex");
        assert_eq!(c.model.default, "gpt-5.3-codex");
        assert_eq!(c.model.runtime, "auto");
        assert!(!c.model.fast);
        assert_eq!(parse("").unwrap(), Config::default());
    }

    /// toml_edit 0.23 panics on this file ("all items have spans"; found by the
    /// `managed_block` fuzz target): talaria crashed reporting the error.
    #[test]
    fn a_file_that_panics_toml_edit_is_an_error_not_a_crash() {
        let m = err("# Cod\":worksfig\ntk@opend =\x00\x00\x00\x00\x00\x00\x00end ==]\n= =e\"]\n=]\n= ?e\"]\n.\x00\x00\x00ehd == fa\t\x00\x00\x00\x00\x00\x00\x00e\x00\x00\x00\x00\x00\x00\x00\x04nd ==]\n= =e\"]\nk@opehd= ?e\"]\nk@opehd == fa\t\x00\x00\x00\x00\x00\x00\x00end ==]\n= =e\"]\nk@o\x00Opehd == fals6\x00 == fals6\x006\x00");
        assert!(
            m.starts_with("invalid config /x/config.toml, line 2"),
            "{m}"
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let m = err("[model]\nprovider = \"x\"\nfast = yes\n");
        assert!(m.contains("/x/config.toml"), "{m}");
        assert!(m.contains("line 3"), "{m}");
        assert!(m.contains("model.fast"), "{m}");
    }

    #[test]
    fn wrong_type_names_line_and_key() {
        let m = err("# comment\n[model]\nprovider = \"x\"\nfast = \"yes\"\n");
        assert!(
            m.starts_with("invalid config /x/config.toml, line 4, key model.fast: invalid type: string \"yes\", expected a boolean"),
            "{m}"
        );
        let m = err("[mcp_servers.a]\ncommand = \"x\"\nargs = [\"a\", 3]\n");
        assert!(m.contains("line 3, key mcp_servers.a.args[1]"), "{m}");
        let m = err("model.fast = 3\n");
        assert!(m.contains("line 1, key model.fast"), "{m}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let m = err("[model]\nprovider = \"x\"\nfsat = true\n");
        assert!(m.contains("line 3, key model.fsat"), "{m}");
        assert!(m.contains("unknown field `fsat`"), "{m}");
        let m = err("# mine\nbogus = 1\n[model]\n");
        assert!(
            m.contains("line 2, key bogus") && m.contains("unknown field `bogus`"),
            "{m}"
        );
        let m = err("[providers.p]\nkind = \"openai-compatible\"\n");
        assert!(
            m.contains("line 1, key providers.p") && m.contains("base_url"),
            "{m}"
        );
    }

    #[test]
    fn mcp_server_needs_exactly_one_of_command_and_url() {
        let m = err("[model]\n[mcp_servers.both]\ncommand = \"x\"\nurl = \"http://h\"\n");
        assert!(m.contains("line 2, key mcp_servers.both"), "{m}");
        assert!(
            m.contains("\"both\"") && m.contains("command") && m.contains("url"),
            "{m}"
        );
        let m = err("[mcp_servers.none]\nargs = []\n");
        assert!(m.contains("mcp_servers.none"), "{m}");
    }

    #[test]
    fn values_are_validated() {
        let m = err("[mcp_servers.a]\ncommand = \"x\"\ntimeout = 0\n");
        assert!(m.contains("line 3, key mcp_servers.a.timeout"), "{m}");
        let m = err("[tools]\nsandbox = \"yolo\"\n");
        assert!(
            m.contains("line 2, key tools.sandbox") && m.contains("workspace-write"),
            "{m}"
        );
        let ok = parse("[providers.p]\nkind = \"openai-compatible\"\nbase_url = \"http://h\"\ntransport = \"responses\"\n");
        assert_eq!(
            ok.unwrap().providers["p"].transport.as_deref(),
            Some("responses")
        );
    }

    /// Plugins found that claim one section and provide one transport.
    struct Found {
        section: &'static str,
        transport: &'static str,
    }

    impl PluginClaims for Found {
        fn claims_section(&self, name: &str) -> bool {
            name == self.section
        }
        fn provides_transport(&self, wire_api: &str) -> bool {
            wire_api == self.transport
        }
        fn serves_provider_kind(&self, kind: &str) -> bool {
            kind == "openai-compatible"
        }
    }

    #[test]
    fn provider_kinds_must_be_served_by_a_plugin_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "[providers.p]\nkind = \"openai-compatibel\"\nbase_url = \"http://h\"\n";
        std::fs::write(&path, text).unwrap();
        let c = Config::load(&path).unwrap();
        let e = c
            .check_plugin_claims(
                &path,
                &Found {
                    section: "",
                    transport: "",
                },
            )
            .unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
        assert!(
            e.message.contains("line 2, key providers.p.kind")
                && e.message.contains("\"openai-compatibel\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn provider_transports_must_be_provided_by_a_plugin_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "[providers.p]\nkind = \"openai-compatible\"\nbase_url = \"http://h\"\ntransport = \"grpc\"\n";
        std::fs::write(&path, text).unwrap();
        let c = Config::load(&path).unwrap();
        let e = c
            .check_plugin_claims(
                &path,
                &Found {
                    section: "",
                    transport: "responses",
                },
            )
            .unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
        assert!(
            e.message.contains("line 4, key providers.p.transport")
                && e.message.contains("\"grpc\""),
            "{}",
            e.message
        );
        c.check_plugin_claims(
            &path,
            &Found {
                section: "",
                transport: "grpc",
            },
        )
        .unwrap();
    }

    #[test]
    fn unknown_tables_are_plugin_sections_until_nobody_claims_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "[model]\n\n[relay]\nlabel = \"hi\"\n[relay.inner]\nn = 1\n";
        std::fs::write(&path, text).unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(
            c.section("relay"),
            Some(serde_json::json!({"label": "hi", "inner": {"n": 1}}))
        );
        c.check_plugin_claims(
            &path,
            &Found {
                section: "relay",
                transport: "",
            },
        )
        .unwrap();
        let e = c
            .check_plugin_claims(
                &path,
                &Found {
                    section: "",
                    transport: "",
                },
            )
            .unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
        assert!(
            e.message.contains("line 3, key relay")
                && e.message.contains("unknown section [relay]"),
            "{}",
            e.message
        );
        // Inside talaria's own sections, unknown keys are still refused.
        let m = err("[model]\nfsat = true\n[relay]\nx = 1\n");
        assert!(m.contains("line 2, key model.fsat"), "{m}");
    }

    #[test]
    fn plugin_owned_sections_and_their_errors() {
        let c = parse("[mcp_servers.a]\ncommand = \"x\"\n").unwrap();
        assert_eq!(c.section("mcp_servers").unwrap()["a"]["command"], "x");
        assert_eq!(
            c.section("plugin_config"),
            None,
            "not a section a plugin may own"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# mine\n[plugin_config.acme]\ngreeting = 5\n").unwrap();
        let key: Vec<String> = ["plugin_config", "acme", "greeting"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = key_error(&path, &key, "must be text");
        assert_eq!(e.exit, crate::error::Exit::Usage);
        assert!(
            e.message
                .contains("line 3, key plugin_config.acme.greeting: must be text"),
            "{}",
            e.message
        );
        let e = key_error(
            &path,
            &["plugin_config".into(), "acme".into(), "missing".into()],
            "x",
        );
        assert!(
            e.message.contains("line 2"),
            "falls back to the table: {}",
            e.message
        );
    }

    #[test]
    fn plugin_config_becomes_json() {
        let c = parse("[plugin_config.acme]\nlevel = 3\nwhen = 1979-05-27T07:32:00Z\nnested = { a = [1.5, true] }\n").unwrap();
        assert_eq!(
            c.plugin_config("acme"),
            serde_json::json!({"level": 3, "when": "1979-05-27T07:32:00Z", "nested": {"a": [1.5, true]}})
        );
        assert_eq!(c.plugin_config("other"), serde_json::Value::Null);
    }

    const COMMENTED: &str = "# my config\n[model]\nruntime  = \"auto\"   # keep this comment\nfast = true\n\n[plugins]\n# disabled plugins\ndisabled = [\"a\"] # trailing\n\n[codex]\nbin = \"codex\"\n";

    #[test]
    fn edits_keep_comments_and_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        edit_config(&path, |doc| {
            set_in_list(doc, "plugins", "disabled", "b", true)
        })
        .unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after, COMMENTED.replace("[\"a\"]", "[\"a\", \"b\"]"));
        edit_config(&path, |doc| {
            set_string(doc, "model", "runtime", "codex_app_server")
        })
        .unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            after,
            COMMENTED
                .replace("[\"a\"]", "[\"a\", \"b\"]")
                .replace("\"auto\"   # keep", "\"codex_app_server\"   # keep")
        );
        assert_eq!(
            Config::load(&path).unwrap().model.runtime,
            "codex_app_server"
        );
    }

    #[test]
    fn list_add_is_idempotent_and_remove_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        edit_config(&path, |doc| {
            set_in_list(doc, "plugins", "disabled", "a", true)
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
        edit_config(&path, |doc| {
            set_in_list(doc, "runtimes", "disabled", "x", true)
        })
        .unwrap();
        edit_config(&path, |doc| {
            set_in_list(doc, "runtimes", "disabled", "x", true)
        })
        .unwrap();
        assert_eq!(Config::load(&path).unwrap().runtimes.disabled, ["x"]);
        edit_config(&path, |doc| {
            set_in_list(doc, "plugins", "disabled", "a", false)
        })
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert!(c.plugins.disabled.is_empty());
        assert!(c.runtimes.contains("x"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# my config\n") && text.contains("# disabled plugins\n"),
            "{text}"
        );
        // Removing from a list that does not exist adds nothing.
        let before = text.clone();
        edit_config(&path, |doc| {
            set_in_list(doc, "nothing", "disabled", "a", false)
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn invalid_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let broken = "# mine\n[model]\nfast = \"yes\"\n";
        std::fs::write(&path, broken).unwrap();
        let e = edit_config(&path, |doc| {
            set_in_list(doc, "plugins", "disabled", "a", true)
        })
        .unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
        assert!(
            e.message.contains("line 3") && e.message.contains("model.fast"),
            "{}",
            e.message
        );
        assert_eq!(std::fs::read(&path).unwrap(), broken.as_bytes());

        // An edit whose result would not load is refused too.
        std::fs::write(&path, COMMENTED).unwrap();
        let e = edit_config(&path, |doc| set_string(doc, "model", "bogus", "x")).unwrap_err();
        assert!(e.message.contains("model.bogus"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
    }

    #[test]
    fn missing_file_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles/work/config.toml");
        edit_config(&path, |doc| {
            set_string(doc, "model", "runtime", "codex_app_server")?;
            set_in_list(doc, "plugins", "disabled", "p", true)
        })
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.model.runtime, "codex_app_server");
        assert_eq!(c.plugins.disabled, ["p"]);
    }
}
