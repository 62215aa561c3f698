//! `[mcp_servers.NAME]`: a user MCP server, as the host validates it and the plugins
//! that start or migrate MCP servers read it.
//!
//! (Restored on this branch: main's commit 67825f1 declares `pub mod mcp` but the file
//! did not land with it. The definition is the one that commit moved out of the host.)

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const DEFAULT_MCP_TIMEOUT_SECS: f64 = 120.0;
const DEFAULT_MCP_CONNECT_TIMEOUT_SECS: f64 = 30.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpServer {
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    pub url: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// Tool call timeout in seconds; read it through [`McpServer::timeout`].
    pub timeout: Option<f64>,
    /// Startup timeout in seconds; read it through [`McpServer::connect_timeout`].
    pub connect_timeout: Option<f64>,
    pub enabled: bool,
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
        }
    }
}

impl McpServer {
    pub fn timeout(&self) -> Duration {
        seconds(self.timeout.unwrap_or(DEFAULT_MCP_TIMEOUT_SECS))
    }
    pub fn connect_timeout(&self) -> Duration {
        seconds(
            self.connect_timeout
                .unwrap_or(DEFAULT_MCP_CONNECT_TIMEOUT_SECS),
        )
    }
}

/// Validation keeps timeouts positive and finite; a huge one just means "never".
fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}
