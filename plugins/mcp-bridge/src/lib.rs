//! `mcp-bridge`: talaria and the Model Context Protocol, on the official Rust SDK (rmcp).
//!
//! - **Client** ([`client`]): the profile's `[mcp_servers.*]` become tools of every
//!   runtime, named `mcp__SERVER__TOOL` ([`naming`]). The servers start in parallel the
//!   first time the host asks for the tool list, each within its `connect_timeout`; one
//!   that fails is a warning and is skipped. `tools/list_changed` is followed.
//! - **Server** ([`server`]): `talaria mcp serve` offers every enabled tool of the
//!   profile (the host's `tools.list` / `tools.call`) over stdio, or streamable HTTP on
//!   127.0.0.1 with `--http PORT`.
//! - **Command** ([`command`]): `talaria mcp list | test NAME | serve | login | logout`.

// rmcp marks roots, logging and `ClientInfo` deprecated for the stateless 2026-07-28
// protocol (SEP-2577); the 2025-11-25 handshake this bridge speaks still has them.
#![allow(deprecated)]

pub mod client;
pub mod command;
pub mod convert;
pub mod naming;
pub mod oauth;
pub mod prompt;
pub mod resources;
pub mod server;
mod standalone_stream;
pub mod stdio;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;
use talaria_sdk::mcp::McpServer;
use talaria_sdk::methods::{self, Method};
use talaria_sdk::{
    export_plugin, ApprovalKind, ApprovalRequest, CallContext, Decision, Description, Error,
    ErrorKind, Event, Host, Plugin, Result, ToolCallRequest, ToolOutput, ToolSpec,
};

pub use talaria_sdk::mcp;

use client::{Connection, Status};

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

pub fn init(host: Host) -> Result<Bridge> {
    let servers: BTreeMap<String, McpServer> =
        host.config_section("mcp_servers")?.unwrap_or_default();
    Ok(Bridge {
        host,
        servers,
        described: AtomicBool::new(false),
        serving: AtomicBool::new(false),
        started: OnceLock::new(),
        routes: Mutex::new(HashMap::new()),
    })
}

/// The plugin instance.
pub struct Bridge {
    host: Host,
    servers: BTreeMap<String, McpServer>,
    /// The host describes every plugin once as it loads it; that first answer is empty,
    /// so loading the bridge for `talaria mcp serve` (or `plugins list`) starts nobody's
    /// servers. The tool list the runtimes get (`tools.list`) starts them.
    described: AtomicBool,
    /// Set by `mcp serve`: the bridge then offers no tools of its own (the client of
    /// `mcp serve` has its own MCP servers; re-exporting them would start them twice).
    serving: AtomicBool,
    started: OnceLock<BTreeMap<String, Status>>,
    /// Qualified tool name → (server, the server's own tool name).
    routes: Mutex<HashMap<String, (String, String)>>,
}

/// The bridge's async runtime (rmcp's transports spawn tasks that run while a host
/// thread waits for a call).
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    // rmcp's HTTP client speaks TLS through rustls, whose provider must be chosen before
    // the first client is built (this library's copy of rustls: another plugin's
    // provider is not ours). Everything that builds one runs on this runtime.
    static TLS: std::sync::Once = std::sync::Once::new();
    TLS.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    talaria_sdk::runtime::multi_thread()
}

impl Bridge {
    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn servers(&self) -> &BTreeMap<String, McpServer> {
        &self.servers
    }

    pub(crate) fn set_serving(&self) {
        self.serving.store(true, Ordering::SeqCst);
    }

    /// Every enabled server, started once (in parallel).
    fn started(&self) -> Result<&BTreeMap<String, Status>> {
        if let Some(s) = self.started.get() {
            return Ok(s);
        }
        let host = self.host.clone();
        let mut options = client::Options::new(Arc::new(move |m: String| host.info_log(&m)));
        options.host = Some(self.host.clone());
        let statuses = runtime()?.block_on(client::start_all(&self.servers, &options));
        for (name, status) in &statuses {
            if let Status::Failed(message) = status {
                self.host.warn_log(&format!("MCP server {name}: {message}"));
            }
        }
        Ok(self.started.get_or_init(|| statuses))
    }

    /// The tools of every running server, with warnings for the ones that failed.
    fn tool_specs(&self) -> Result<(Vec<ToolSpec>, Vec<String>)> {
        let mut specs = Vec::new();
        let mut warnings = Vec::new();
        let mut routes = HashMap::new();
        let mut any_resources = false;
        for (name, status) in self.started()? {
            if let Status::Ready(connection) = status {
                any_resources |= resources::offers_resources(connection);
            }
            match status {
                Status::Failed(message) => warnings.push(message.clone()),
                Status::Ready(connection) => match runtime()?.block_on(connection.tools()) {
                    Ok(tools) => {
                        for tool in tools {
                            let qualified = naming::qualified(name, &tool.name);
                            specs.push(convert::tool_to_spec(&qualified, name, &tool));
                            routes.insert(qualified, (name.clone(), tool.name.to_string()));
                        }
                    }
                    Err(message) => warnings.push(message),
                },
            }
        }
        if any_resources {
            specs.extend(resources::specs());
        }
        *self.routes.lock().unwrap_or_else(PoisonError::into_inner) = routes;
        Ok((specs, warnings))
    }

    fn connection(&self, server: &str) -> Option<Arc<Connection>> {
        match self.started.get()?.get(server)? {
            Status::Ready(c) => Some(c.clone()),
            Status::Failed(_) => None,
        }
    }

    /// The running servers.
    fn ready(&self) -> BTreeMap<String, Arc<Connection>> {
        let Some(started) = self.started.get() else {
            return BTreeMap::new();
        };
        started
            .iter()
            .filter_map(|(name, status)| match status {
                Status::Ready(c) => Some((name.clone(), c.clone())),
                Status::Failed(_) => None,
            })
            .collect()
    }

    fn call_tool(&self, request: ToolCallRequest, cx: &CallContext) -> Result<ToolOutput> {
        if request.name == resources::LIST || request.name == resources::READ {
            self.started()?;
            let servers = self.ready();
            let call = async {
                if request.name == resources::LIST {
                    resources::list(&servers, request.arguments).await
                } else {
                    resources::read(&servers, request.arguments).await
                }
            };
            return runtime()?.block_on(call);
        }
        let route = self.route(&request.name)?;
        let Some((server, tool)) = route else {
            return Ok(ToolOutput::error(format!(
                "there is no MCP tool named {:?}",
                request.name
            )));
        };
        let Some(connection) = self.connection(&server) else {
            return Ok(ToolOutput::error(format!(
                "MCP server {server} is not running"
            )));
        };
        let spec = runtime()?
            .block_on(connection.tools())
            .ok()
            .and_then(|tools| tools.into_iter().find(|t| t.name == tool.as_str()))
            .map(|t| convert::tool_to_spec(&request.name, &server, &t));
        if spec.as_ref().is_none_or(|s| s.needs_approval) {
            let decision = cx.request_approval(&ApprovalRequest {
                kind: ApprovalKind::McpTool,
                call_id: cx.call_id().to_owned(),
                summary: format!(
                    "call {tool} of MCP server {server} with {}",
                    request.arguments
                ),
                command: None,
                cwd: None,
                patch: None,
                tool: Some(request.name.clone()),
                plugin: None,
            })?;
            if !matches!(
                decision.decision,
                Decision::Accept | Decision::AcceptForSession
            ) {
                return Ok(ToolOutput::error(format!(
                    "the call to {} was not approved: {}",
                    request.name, decision.reason
                )));
            }
        }
        let flag = cx.cancel_flag().clone();
        // The server's progress and log lines during the call reach the user as progress
        // events (the terminal shows them on stderr).
        let events = Arc::new(cx.fork());
        let notify: client::Notify = Arc::new(move |message: String| {
            events.emit(&Event::Progress { message });
        });
        let call = connection.call_watched(&tool, request.arguments, Some(notify));
        let outcome = runtime()?.block_on(async {
            tokio::select! {
                out = call => Some(out),
                _ = async {
                    while !flag.is_cancelled() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                } => None,
            }
        });
        match outcome {
            // Dropping the call's future sends `notifications/cancelled` to the server.
            None => Err(Error::cancelled()),
            Some(Ok(output)) => Ok(output),
            Some(Err(message)) => Ok(ToolOutput::error(message)),
        }
    }

    /// The server and tool behind a qualified name, listing the tools again if it is not
    /// known yet (a tool that appeared since).
    fn route(&self, name: &str) -> Result<Option<(String, String)>> {
        if let Some(r) = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return Ok(Some(r.clone()));
        }
        self.tool_specs()?;
        Ok(self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned())
    }
}

impl Plugin for Bridge {
    fn describe(&self) -> Description {
        let first = !self.described.swap(true, Ordering::SeqCst);
        if first || self.serving.load(Ordering::SeqCst) || self.servers.is_empty() {
            return Description::default();
        }
        match self.tool_specs() {
            Ok((tools, warnings)) => Description { tools, warnings },
            Err(e) => Description {
                tools: Vec::new(),
                warnings: vec![format!("MCP servers: {}", e.message)],
            },
        }
    }

    fn call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value> {
        match method {
            methods::ToolCall::NAME => {
                let request: ToolCallRequest = talaria_sdk::parse_args(params)?;
                Ok(serde_json::to_value(self.call_tool(request, cx)?)?)
            }
            methods::CommandRun::NAME => {
                let request = talaria_sdk::parse_args(params)?;
                Ok(serde_json::to_value(command::run(self, request, cx)?)?)
            }
            other => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("the MCP bridge has no method {other:?}"),
            )),
        }
    }
}
