//! `talaria mcp ...`: the command the bridge serves through the host's command seam.
//! Its flags are defined here once (clap); `mcp serve` owns stdout for JSON-RPC, so
//! everything else this module says goes to stderr except `list`/`test` output.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use talaria_sdk::command::{CommandOutcome, CommandRequest};
use talaria_sdk::mcp::McpServer;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::ErrorData;
use talaria_sdk::{CallContext, Error, Host, Result, ToolCallRequest};

use crate::convert;

use crate::client::{self, Status};
use crate::server::{McpServer as Server, Session, Source};
use crate::Bridge;

#[derive(Debug, Parser)]
#[command(
    name = "talaria mcp",
    about = "MCP servers: list them, test one, sign in to one, or serve talaria's tools"
)]
struct Cli {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Each configured server's state and tools
    List,
    /// Start one server and show what it offers
    Test { name: String },
    /// Serve the profile's tools as an MCP server (stdio, or streamable HTTP on 127.0.0.1)
    Serve {
        /// Listen on http://127.0.0.1:PORT/mcp instead of stdio
        #[arg(long, value_name = "PORT")]
        http: Option<u16>,
    },
    /// Sign in to a remote server with OAuth
    Login { name: String },
    /// Forget a remote server's OAuth tokens
    Logout { name: String },
}

pub fn run(bridge: &Bridge, request: CommandRequest, cx: &CallContext) -> Result<CommandOutcome> {
    let argv = std::iter::once("mcp".to_owned()).chain(request.args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // `--help` goes to stdout, usage errors to stderr, as clap decides.
            let _ = e.print();
            return Ok(CommandOutcome { exit_code: code });
        }
    };
    let exit_code = match cli.action {
        Action::List => list(bridge)?,
        Action::Test { name } => test(bridge, &name)?,
        Action::Serve { http } => serve(bridge, http, cx)?,
        Action::Login { name } => crate::command::login(bridge, &name)?,
        Action::Logout { name } => logout(bridge, &name)?,
    };
    Ok(CommandOutcome { exit_code })
}

fn log_to_host(host: &Host) -> Arc<dyn Fn(String) + Send + Sync> {
    let host = host.clone();
    Arc::new(move |m: String| host.info_log(&m))
}

fn cwd() -> Option<String> {
    std::env::current_dir()
        .ok()
        .map(|d| d.display().to_string())
}

fn list(bridge: &Bridge) -> Result<u8> {
    let servers = bridge.servers();
    if servers.is_empty() {
        println!("no MCP servers configured; add one under [mcp_servers.NAME] in the profile's config.toml");
        return Ok(0);
    }
    let tokens = oauth_tokens(bridge.host(), servers);
    let statuses = crate::runtime()?.block_on(client::start_all(
        servers,
        cwd(),
        log_to_host(bridge.host()),
        &tokens,
    ));
    let mut out = std::io::stdout().lock();
    for (name, server) in servers {
        let (state, tools) = match statuses.get(name) {
            None => ("disabled".to_owned(), String::new()),
            Some(Status::Failed(message)) => (format!("failed: {message}"), String::new()),
            Some(Status::Ready(c)) => {
                let tools = crate::runtime()?.block_on(c.tools()).unwrap_or_default();
                let names: Vec<String> = tools
                    .iter()
                    .map(|t| crate::naming::qualified(name, &t.name))
                    .collect();
                ("ready".to_owned(), names.join(", "))
            }
        };
        let kind = if server.url.is_some() {
            "http"
        } else {
            "stdio"
        };
        let _ = writeln!(out, "{name}\t{kind}\t{state}\t{tools}");
    }
    close_all(statuses);
    Ok(0)
}

fn close_all(statuses: BTreeMap<String, Status>) {
    if let Ok(rt) = crate::runtime() {
        for (_, status) in statuses {
            if let Status::Ready(c) = status {
                if let Ok(c) = Arc::try_unwrap(c) {
                    rt.block_on(c.close());
                }
            }
        }
    }
}

fn server<'a>(bridge: &'a Bridge, name: &str) -> Result<&'a McpServer> {
    bridge.servers().get(name).ok_or_else(|| {
        let known: Vec<&str> = bridge.servers().keys().map(String::as_str).collect();
        Error::invalid(format!(
            "no MCP server named {name:?} in profile {}; configured: {}",
            bridge.host().info().profile,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}

fn test(bridge: &Bridge, name: &str) -> Result<u8> {
    let config = server(bridge, name)?;
    let tokens = oauth_tokens(bridge.host(), bridge.servers());
    let rt = crate::runtime()?;
    let connection = rt
        .block_on(client::start(
            name,
            config,
            cwd(),
            log_to_host(bridge.host()),
            tokens.get(name).cloned(),
        ))
        .map_err(|e| Error::new(talaria_sdk::ErrorKind::Unavailable, e))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{name}: {}",
        connection
            .server_info()
            .unwrap_or_else(|| "connected".into())
    );
    let tools = rt.block_on(connection.tools()).unwrap_or_default();
    let _ = writeln!(out, "tools ({}):", tools.len());
    for tool in &tools {
        let _ = writeln!(
            out,
            "  {}  {}",
            crate::naming::qualified(name, &tool.name),
            tool.description.as_deref().unwrap_or("")
        );
    }
    let peer = connection.peer().clone();
    if let Ok(resources) = rt.block_on(peer.list_all_resources()) {
        let _ = writeln!(out, "resources ({}):", resources.len());
        for r in resources {
            let _ = writeln!(out, "  {}  {}", r.uri, r.name);
        }
    }
    if let Ok(prompts) = rt.block_on(peer.list_all_prompts()) {
        let _ = writeln!(out, "prompts ({}):", prompts.len());
        for p in prompts {
            let _ = writeln!(
                out,
                "  /mcp:{name}:{}  {}",
                p.name,
                p.description.unwrap_or_default()
            );
        }
    }
    drop(out);
    rt.block_on(connection.close());
    Ok(0)
}

/// The profile's tools, through the host, for `mcp serve`.
struct HostTools {
    cx: CallContext,
    own_id: String,
}

impl Source for HostTools {
    fn tools(&self) -> std::result::Result<Vec<Tool>, ErrorData> {
        let list = self
            .cx
            .host()
            .tools(&self.cx)
            .map_err(|e| ErrorData::internal_error(e.message, None))?;
        Ok(list
            .tools
            .iter()
            .filter(|t| t.plugin != self.own_id)
            .map(|t| convert::spec_to_tool(&t.spec))
            .collect())
    }

    fn call(
        &self,
        name: &str,
        arguments: JsonObject,
        session: &Session,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let cx = self.cx.fork();
        let flag = cx.cancel_flag().clone();
        // The client's `notifications/cancelled` cancels this one call.
        let cancel = session.cancel_token();
        let relay = session.runtime().spawn(async move {
            cancel.cancelled().await;
            flag.cancel();
        });
        let request = ToolCallRequest {
            call_id: String::new(),
            name: name.to_owned(),
            arguments: serde_json::Value::Object(arguments),
        };
        let outcome = cx.host().call_tool(&request, &cx);
        relay.abort();
        Ok(match outcome {
            Ok(output) => convert::output_to_result(&output),
            // A failed call is the caller's to read, not a protocol error.
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.message)]),
        })
    }
}

fn serve(bridge: &Bridge, http: Option<u16>, cx: &CallContext) -> Result<u8> {
    bridge.set_serving();
    let source = HostTools {
        cx: cx.fork(),
        own_id: bridge.host().info().plugin_id,
    };
    let server = Server::new("talaria", source);
    let rt = crate::runtime()?;
    let outcome = match http {
        None => rt.block_on(server.serve_stdio()),
        Some(port) => rt.block_on(async {
            let listener = crate::server::bind_loopback(port).await?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            eprintln!("talaria mcp serve: listening on http://{addr}/mcp");
            let flag = cx.cancel_flag().clone();
            server
                .serve_http(listener, async move {
                    while !flag.is_cancelled() {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                })
                .await
        }),
    };
    outcome.map_err(Error::other)?;
    Ok(0)
}

/// Bearer tokens from `mcp login`, per server name.
pub fn oauth_tokens(
    host: &Host,
    servers: &BTreeMap<String, McpServer>,
) -> BTreeMap<String, String> {
    let _ = (host, servers);
    BTreeMap::new()
}

fn login(bridge: &Bridge, name: &str) -> Result<u8> {
    let config = server(bridge, name)?;
    if config.url.is_none() {
        return Err(Error::invalid(format!(
            "MCP server {name} is a local (stdio) server; only remote servers (`url`) sign in"
        )));
    }
    Err(Error::unsupported("OAuth sign-in to MCP servers"))
}

fn logout(bridge: &Bridge, name: &str) -> Result<u8> {
    server(bridge, name)?;
    Err(Error::unsupported("OAuth sign-out from MCP servers"))
}
