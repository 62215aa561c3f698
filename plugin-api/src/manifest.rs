//! `plugin.toml`: the manifest that sits beside every plugin library.
//!
//! The host reads it without loading any code (listing, per-profile enabling), and the
//! same text is compiled into the library so the host can refuse a library whose
//! manifest disagrees with the file next to it.

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

/// The kinds of plugin the host knows how to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Provider,
    Transport,
    Runtime,
    Tool,
    Router,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Provider => "provider",
            PluginKind::Transport => "transport",
            PluginKind::Runtime => "runtime",
            PluginKind::Tool => "tool",
            PluginKind::Router => "router",
        }
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Optional features a plugin declares. New ones are added in minor ABI versions; a host
/// that does not know a capability sees `Unknown` and ignores it instead of refusing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Emits events while a call runs (text deltas, progress).
    Streaming,
    /// Honours the cancellation flag promptly.
    Cancellation,
    /// Uses the host's credential store.
    Credentials,
    /// Asks the host for approvals.
    Approvals,
    /// A runtime that brings its own model and login (the Codex app-server runs turns
    /// with codex's own account): the host does not require the profile's provider to be
    /// signed in before its turns.
    OwnModel,
    /// Serves `doctor.checks`: `talaria doctor` shows its checks with the host's.
    Doctor,
    #[serde(other)]
    Unknown,
}

/// Ids a plugin contributes to the host's registries besides its own plugin id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provides {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    /// Kinds of configured provider instance the plugin serves: a `[providers.NAME]`
    /// table with `kind = "<one of these>"` makes `NAME` a provider id routed to this
    /// plugin, which reads the table from the `providers` section (`config =
    /// ["providers"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Top-level `talaria` commands the plugin serves (`command.run`), any kind may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

/// A parsed, validated `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub id: String,
    pub version: Version,
    pub kinds: Vec<PluginKind>,
    /// The range of host ABI versions the plugin works with.
    pub abi: VersionReq,
    /// The library's file name (`libfoo.so`) or bare name (`foo`, platform naming added).
    pub library: Option<String>,
    pub description: String,
    pub capabilities: Vec<Capability>,
    pub provides: Provides,
    /// Top-level sections of the profile's config.toml the plugin owns and receives
    /// (`config = ["mcp_servers"]`).
    pub config: Vec<String>,
}

/// The file as written; `kind` and `kinds` are both accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    version: String,
    kind: Option<PluginKind>,
    kinds: Option<Vec<PluginKind>>,
    abi: String,
    library: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    capabilities: Vec<Capability>,
    #[serde(default)]
    provides: Provides,
    #[serde(default)]
    config: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}")]
    Toml(String),
    #[error("`id` {0:?} is not a valid plugin id (use lowercase letters, digits, `-` and `_`, starting with a letter or digit)")]
    BadId(String),
    #[error("`version` {0:?} is not a semantic version (e.g. \"1.2.0\")")]
    BadVersion(String),
    #[error("`abi` {0:?} is not a version range (e.g. \"^1.0\")")]
    BadAbi(String),
    #[error("give the plugin's kind as `kind = \"tool\"` or `kinds = [\"tool\", ...]`")]
    NoKind,
    #[error("`library` {0:?} must be a file name in the plugin's folder, not a path")]
    BadLibrary(String),
    #[error(
        "`config` section {0:?} is not a plain table name (use lowercase letters, digits and `_`)"
    )]
    BadSection(String),
}

impl Manifest {
    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text)
            .map_err(|e| ManifestError::Toml(e.to_string().trim_end().to_owned()))?;
        if !is_valid_id(&raw.id) {
            return Err(ManifestError::BadId(raw.id));
        }
        let version = Version::parse(&raw.version)
            .map_err(|_| ManifestError::BadVersion(raw.version.clone()))?;
        let abi =
            VersionReq::parse(&raw.abi).map_err(|_| ManifestError::BadAbi(raw.abi.clone()))?;
        let mut kinds = raw.kinds.unwrap_or_default();
        kinds.extend(raw.kind);
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            return Err(ManifestError::NoKind);
        }
        if let Some(lib) = &raw.library {
            if lib.is_empty()
                || lib.contains('/')
                || lib.contains('\\')
                || lib == "."
                || lib == ".."
            {
                return Err(ManifestError::BadLibrary(lib.clone()));
            }
        }
        if let Some(bad) = raw.config.iter().find(|s| !is_valid_section(s)) {
            return Err(ManifestError::BadSection(bad.clone()));
        }
        Ok(Manifest {
            id: raw.id,
            version,
            kinds,
            abi,
            library: raw.library,
            description: raw.description,
            capabilities: raw.capabilities,
            provides: raw.provides,
            config: raw.config,
        })
    }

    pub fn has_kind(&self, kind: PluginKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The credential namespaces the plugin may use: the providers it declares, and its own id.
    pub fn credential_namespaces(&self) -> impl Iterator<Item = &str> {
        self.provides
            .providers
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.id.as_str()))
    }

    /// Whether this is a provider plugin serving configured instances of `kind`
    /// (`[provides] provider_kinds`).
    pub fn serves_provider_kind(&self, kind: &str) -> bool {
        self.has_kind(PluginKind::Provider)
            && self.provides.provider_kinds.iter().any(|k| k == kind)
    }

    /// Whether this is a transport plugin for `wire_api` (`[provides] transports`).
    pub fn provides_transport(&self, wire_api: &str) -> bool {
        self.has_kind(PluginKind::Transport)
            && self.provides.transports.iter().any(|t| t == wire_api)
    }

    /// Whether the plugin serves the top-level command `name` (`[provides] commands`).
    pub fn provides_command(&self, name: &str) -> bool {
        self.provides.commands.iter().any(|c| c == name)
    }

    /// The runtime ids a runtime plugin serves: `provides.runtimes`, or its own id.
    pub fn runtime_ids(&self) -> Vec<String> {
        if self.provides.runtimes.is_empty() {
            vec![self.id.clone()]
        } else {
            self.provides.runtimes.clone()
        }
    }

    /// The file name of the library on this platform.
    ///
    /// A bare name (no extension) gets the platform's prefix and suffix, so one manifest
    /// serves Linux, macOS and Windows builds. Without `library`, the name is derived
    /// from the id (`my-tools` → `libmy_tools.so`).
    pub fn library_file_name(&self) -> String {
        let name = self
            .library
            .clone()
            .unwrap_or_else(|| self.id.replace('-', "_"));
        if name.contains('.') {
            name
        } else {
            format!(
                "{}{}{}",
                std::env::consts::DLL_PREFIX,
                name,
                std::env::consts::DLL_SUFFIX
            )
        }
    }

    /// Where this manifest differs from another (the library's compiled-in one), in words.
    pub fn differences(&self, other: &Manifest) -> Vec<String> {
        let mut out = Vec::new();
        if self.id != other.id {
            out.push(format!("id {:?} vs {:?}", self.id, other.id));
        }
        if self.version != other.version {
            out.push(format!("version {} vs {}", self.version, other.version));
        }
        if self.kinds != other.kinds {
            let list =
                |k: &[PluginKind]| k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
            out.push(format!(
                "kinds [{}] vs [{}]",
                list(&self.kinds),
                list(&other.kinds)
            ));
        }
        if self.abi != other.abi {
            out.push(format!("abi {} vs {}", self.abi, other.abi));
        }
        // What the plugin may reach (credentials of its providers, config sections) is
        // what the user was shown: the file and the library must agree on it.
        if self.provides != other.provides {
            out.push("[provides] differs".to_owned());
        }
        if self.config != other.config {
            out.push(format!("config {:?} vs {:?}", self.config, other.config));
        }
        out
    }
}

fn is_valid_section(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Plugin ids are used as folder names and config keys, so keep them plain.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_kinds_are_both_accepted() {
        let m = Manifest::parse("id='a'\nversion='1.0.0'\nkind='tool'\nabi='^1'\n").unwrap();
        assert_eq!(m.kinds, vec![PluginKind::Tool]);
        let m = Manifest::parse("id='a'\nversion='1.0.0'\nkinds=['tool','provider']\nabi='^1'\n")
            .unwrap();
        assert_eq!(m.kinds, vec![PluginKind::Provider, PluginKind::Tool]);
    }

    #[test]
    fn unknown_capabilities_are_tolerated() {
        let m = Manifest::parse("id='a'\nversion='1.0.0'\nkind='tool'\nabi='^1'\ncapabilities=['streaming','telepathy']\n").unwrap();
        assert_eq!(
            m.capabilities,
            vec![Capability::Streaming, Capability::Unknown]
        );
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(
            Manifest::parse("id='A b'\nversion='1.0.0'\nkind='tool'\nabi='^1'").unwrap_err(),
            ManifestError::BadId("A b".into())
        );
        assert!(matches!(
            Manifest::parse("id='a'\nversion='x'\nkind='tool'\nabi='^1'"),
            Err(ManifestError::BadVersion(_))
        ));
        assert!(matches!(
            Manifest::parse("id='a'\nversion='1.0.0'\nabi='^1'"),
            Err(ManifestError::NoKind)
        ));
        assert!(matches!(
            Manifest::parse("id='a'\nversion='1.0.0'\nkind='tool'\nabi='^1'\nlibrary='../x.so'"),
            Err(ManifestError::BadLibrary(_))
        ));
        assert!(matches!(
            Manifest::parse("id='a'\nversion='1.0.0'\nkind='tool'\nabi='^1'\nconfig=['a.b']"),
            Err(ManifestError::BadSection(_))
        ));
        let err = Manifest::parse("id='a'\nversion='1.0.0'\nkind='gadget'\nabi='^1'").unwrap_err();
        assert!(err.to_string().contains("gadget"), "{err}");
    }

    #[test]
    fn differences_cover_what_the_plugin_may_reach() {
        let base = "id='a'\nversion='1.0.0'\nkind='tool'\nabi='^2'\n";
        let a = Manifest::parse(base).unwrap();
        assert!(a.differences(&a).is_empty());
        let more = Manifest::parse(&format!(
            "{base}config=['tools']\n[provides]\nproviders=['openai-codex']\n"
        ))
        .unwrap();
        let d = a.differences(&more);
        assert_eq!(d.len(), 2, "{d:?}");
    }

    #[test]
    fn library_name_gets_platform_naming() {
        let m = Manifest::parse("id='my-tools'\nversion='1.0.0'\nkind='tool'\nabi='^1'").unwrap();
        assert_eq!(
            m.library_file_name(),
            format!(
                "{}my_tools{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            )
        );
        let m =
            Manifest::parse("id='t'\nversion='1.0.0'\nkind='tool'\nabi='^1'\nlibrary='custom.so'")
                .unwrap();
        assert_eq!(m.library_file_name(), "custom.so");
    }
}
