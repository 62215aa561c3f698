//! `[mcp_servers.NAME]`: a user's MCP server, one definition for everyone who reads it.
//! The host parses and validates it (errors with file, line and key); the MCP bridge
//! connects to it; the codex runtime's migration translates it into Codex's own config.
//! Keys follow the Codex CLI's spelling where Codex has the same setting.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub const DEFAULT_TOOL_TIMEOUT_SECS: f64 = 120.0;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: f64 = 30.0;

/// `Debug` is written by hand below: `env` and `headers` values often hold tokens, and a
/// debug print lands in logs and panic messages.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpServer {
    /// A local server: the program to start (stdio). Exclusive with `url`.
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    /// A remote server: its streamable HTTP endpoint. Exclusive with `command`.
    pub url: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// Tool call timeout in seconds; read it through [`McpServer::timeout`].
    pub timeout: Option<f64>,
    /// Startup timeout in seconds; read it through [`McpServer::connect_timeout`].
    pub connect_timeout: Option<f64>,
    pub enabled: bool,
    /// Only these of the server's tools are offered (Codex's `enabled_tools`); `None`
    /// means all of them.
    pub enabled_tools: Option<Vec<String>>,
    /// These of the server's tools are never offered (Codex's `disabled_tools`); applied
    /// after `enabled_tools`.
    pub disabled_tools: Vec<String>,
    /// OAuth scopes to ask for on `talaria mcp login` (Codex's `scopes`); empty means
    /// those the server's metadata advertises.
    pub scopes: Vec<String>,
    /// A pre-registered OAuth client id, for servers without dynamic client
    /// registration; `None` registers a client dynamically.
    pub oauth_client_id: Option<String>,
    /// The loopback port of the OAuth redirect (`http://127.0.0.1:PORT/callback`), for
    /// a pre-registered client whose redirect URI is fixed; `None` picks a free port.
    pub oauth_redirect_port: Option<u16>,
    /// The URL of a client ID metadata document (CIMD) describing talaria, used as the
    /// client id where the server supports that instead of registration.
    pub oauth_client_metadata_url: Option<String>,
}

impl Default for McpServer {
    fn default() -> Self {
        McpServer {
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            url: None,
            headers: BTreeMap::new(),
            timeout: None,
            connect_timeout: None,
            enabled: true,
            enabled_tools: None,
            disabled_tools: Vec::new(),
            scopes: Vec::new(),
            oauth_client_id: None,
            oauth_redirect_port: None,
            oauth_client_metadata_url: None,
        }
    }
}

impl McpServer {
    pub fn timeout(&self) -> Duration {
        seconds(self.timeout.unwrap_or(DEFAULT_TOOL_TIMEOUT_SECS))
    }
    pub fn connect_timeout(&self) -> Duration {
        seconds(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS))
    }
    /// Whether the server's tool `name` is offered, by `enabled_tools` and
    /// `disabled_tools`.
    pub fn offers_tool(&self, name: &str) -> bool {
        let listed = |list: &[String]| list.iter().any(|t| t == name);
        self.enabled_tools.as_deref().is_none_or(listed) && !listed(&self.disabled_tools)
    }

    /// The values that may be credentials: every `env` and `headers` value, and of a
    /// header such as `Bearer TOKEN` the token alone too (a server may echo either).
    pub fn secret_values(&self) -> Vec<String> {
        let mut values: Vec<String> = self.env.values().cloned().collect();
        for value in self.headers.values() {
            values.push(value.clone());
            if let Some((_scheme, credential)) = value.trim().split_once(char::is_whitespace) {
                values.push(credential.trim().to_owned());
            }
        }
        values
    }
}

/// Names of `env` and `headers` entries without their values.
struct KeysOnly<'a>(&'a BTreeMap<String, String>);

impl std::fmt::Debug for KeysOnly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &KeysOnly(&self.env))
            .field("cwd", &self.cwd)
            .field("url", &self.url)
            .field("headers", &KeysOnly(&self.headers))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("enabled", &self.enabled)
            .field("enabled_tools", &self.enabled_tools)
            .field("disabled_tools", &self.disabled_tools)
            .field("scopes", &self.scopes)
            .field("oauth_client_id", &self.oauth_client_id)
            .field("oauth_redirect_port", &self.oauth_redirect_port)
            .field("oauth_client_metadata_url", &self.oauth_client_metadata_url)
            .finish()
    }
}

/// The host's validation keeps timeouts positive and finite; a huge one means "never".
fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> McpServer {
        McpServer {
            url: Some("http://127.0.0.1:1/mcp".into()),
            headers: [("Authorization".into(), "Bearer tok-0123456789".into())].into(),
            env: [("API_TOKEN".into(), "env-0123456789".into())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_debug_print_names_env_and_headers_but_not_their_values() {
        let printed = format!("{:?}", server());
        assert!(printed.contains("Authorization") && printed.contains("API_TOKEN"));
        assert!(!printed.contains("tok-0123456789"), "{printed}");
        assert!(!printed.contains("env-0123456789"), "{printed}");
    }

    #[test]
    fn secret_values_include_a_headers_credential_alone() {
        let values = server().secret_values();
        for v in ["env-0123456789", "Bearer tok-0123456789", "tok-0123456789"] {
            assert!(values.iter().any(|x| x == v), "{v} missing from {values:?}");
        }
    }
}
