//! `talaria mcp ...`: the command the bridge serves through the host's command seam.
//! Its flags are defined here once (clap); `mcp serve` owns stdout for JSON-RPC, so
//! everything else this module says goes to stderr except `list`/`test` output.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::transport::auth::AuthorizationCallback;
use rmcp::ErrorData;
use talaria_sdk::command::{CommandOutcome, CommandRequest};
use talaria_sdk::mcp::McpServer;
use talaria_sdk::{CallContext, Error, ErrorKind, Result, ToolCallRequest};

use crate::{convert, oauth};

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
    Login {
        name: String,
        /// Print the sign-in address instead of opening a browser
        #[arg(long)]
        no_browser: bool,
    },
    /// Forget a remote server's OAuth tokens
    Logout { name: String },
}

pub fn run(bridge: &Bridge, request: CommandRequest, cx: &CallContext) -> Result<CommandOutcome> {
    // `/mcp:SERVER:PROMPT ARGS` in the REPL arrives as `SERVER:PROMPT ARGS`.
    if request.from_repl {
        if let Some((spec, args)) = request.args.split_first() {
            if spec.contains(':') {
                return crate::prompt::run(bridge, spec, args);
            }
        }
    }
    let argv = std::iter::once("mcp".to_owned()).chain(request.args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // `--help` goes to stdout, usage errors to stderr, as clap decides.
            let _ = e.print();
            return Ok(CommandOutcome::exit(code));
        }
    };
    let exit_code = match cli.action {
        Action::List => list(bridge)?,
        Action::Test { name } => test(bridge, &name)?,
        Action::Serve { http } => serve(bridge, http, cx)?,
        Action::Login { name, no_browser } => login(bridge, &name, no_browser)?,
        Action::Logout { name } => logout(bridge, &name)?,
    };
    Ok(CommandOutcome::exit(exit_code))
}

/// How the command connects: logs to the host's log, the host's stored tokens.
pub(crate) fn options(bridge: &Bridge) -> client::Options {
    let host = bridge.host().clone();
    let mut options = client::Options::new(Arc::new(move |m: String| host.info_log(&m)));
    options.host = Some(bridge.host().clone());
    options
}

fn list(bridge: &Bridge) -> Result<u8> {
    let servers = bridge.servers();
    if servers.is_empty() {
        println!("no MCP servers configured; add one under [mcp_servers.NAME] in the profile's config.toml");
        return Ok(0);
    }
    let statuses = crate::runtime()?.block_on(client::start_all(servers, &options(bridge)));
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

pub(crate) fn server<'a>(bridge: &'a Bridge, name: &str) -> Result<&'a McpServer> {
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
    let rt = crate::runtime()?;
    let connection = rt
        .block_on(client::start(name, config, &options(bridge)))
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
            context: None,
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

fn remote<'a>(bridge: &'a Bridge, name: &str) -> Result<(&'a McpServer, &'a str)> {
    let config = server(bridge, name)?;
    match config.url.as_deref() {
        Some(url) => Ok((config, url)),
        None => Err(Error::invalid(format!(
            "MCP server {name} is a local (stdio) server; only remote servers (`url`) sign in"
        ))),
    }
}

fn login(bridge: &Bridge, name: &str, no_browser: bool) -> Result<u8> {
    let (config, url) = remote(bridge, name)?;
    let rt = crate::runtime()?;
    let store = oauth::HostStore::new(bridge.host(), name);
    rt.block_on(async {
        let mut browser = LoopbackRedirect::bind(config.oauth_redirect_port).await?;
        browser.open_browser = !no_browser && has_display();
        oauth::sign_in(url, config, &config.scopes, None, Some(store), &browser).await
    })
    .map_err(|e| {
        Error::new(
            ErrorKind::Auth,
            format!("signing in to MCP server {name} failed: {e}"),
        )
    })?;
    eprintln!("signed in to MCP server {name}; the tokens are kept in this profile");
    Ok(0)
}

fn logout(bridge: &Bridge, name: &str) -> Result<u8> {
    remote(bridge, name)?;
    let store = oauth::HostStore::new(bridge.host(), name);
    if !store.has_tokens() {
        eprintln!("MCP server {name}: not signed in");
        return Ok(0);
    }
    crate::runtime()?
        .block_on(rmcp::transport::auth::CredentialStore::clear(&store))
        .map_err(|e| Error::other(e.to_string()))?;
    eprintln!("signed out of MCP server {name}");
    Ok(0)
}

/// The OAuth redirect: a listener on 127.0.0.1 that takes the one callback request.
struct LoopbackRedirect {
    listener: tokio::sync::Mutex<Option<tokio::net::TcpListener>>,
    port: u16,
    /// Whether to hand the address to the user's browser (it is printed either way).
    open_browser: bool,
}

impl LoopbackRedirect {
    async fn bind(port: Option<u16>) -> std::result::Result<Self, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.unwrap_or(0)))
            .await
            .map_err(|e| format!("cannot listen for the OAuth redirect on 127.0.0.1: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        Ok(LoopbackRedirect {
            listener: tokio::sync::Mutex::new(Some(listener)),
            port,
            open_browser: false,
        })
    }
}

/// The head of an HTTP request (up to the blank line, at most 8 KiB): a browser may send
/// it in several pieces, so one read is not enough.
async fn read_request_head(stream: &mut tokio::net::TcpStream) -> std::io::Result<String> {
    const LIMIT: usize = 8192;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < LIMIT {
        let n = tokio::io::AsyncReadExt::read(stream, &mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The value of query parameter `name` in `url`, decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What the redirect back from the authorization server says (`target` is its path and
/// query): the code, or why there is none. The state must be the one this sign-in sent,
/// so a stale or forged redirect is refused before any code is exchanged.
fn read_redirect(
    target: &str,
    expected_state: Option<&str>,
) -> std::result::Result<AuthorizationCallback, String> {
    let full = format!("http://127.0.0.1{target}");
    if let Some(error) = query_param(&full, "error") {
        let detail = query_param(&full, "error_description")
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(format!(
            "the authorization server refused the sign-in: {error}{detail}; nothing was stored"
        ));
    }
    if let Some(expected) = expected_state {
        if query_param(&full, "state").as_deref() != Some(expected) {
            return Err("the redirect's state does not match this sign-in (a stale or forged redirect); nothing was stored".to_owned());
        }
    }
    AuthorizationCallback::from_redirect_url(&full)
        .map_err(|e| format!("the OAuth redirect carried no usable code: {e}"))
}

/// A browser can only be shown where there is a graphical session: on Linux and the
/// BSDs an X or Wayland display; elsewhere there always is one. (The host's `login`
/// decides the same way.)
fn has_display() -> bool {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )) {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
    } else {
        true
    }
}

/// How long `mcp login` waits for the browser to come back.
const LOGIN_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

impl oauth::Authorize for LoopbackRedirect {
    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    async fn authorize(&self, url: &str) -> std::result::Result<AuthorizationCallback, String> {
        eprintln!("Open this address in your browser to sign in:\n  {url}");
        let listener = self
            .listener
            .lock()
            .await
            .take()
            .ok_or("the OAuth redirect listener was already used")?;
        let expected_state = query_param(url, "state");
        // The listener is bound before the browser is sent, so a fast redirect finds it.
        if self.open_browser {
            if let Err(e) = webbrowser::open(url) {
                eprintln!("note: could not open a browser ({e}); open the address above yourself");
            }
        }
        let wait = async {
            loop {
                let (mut stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
                let Ok(head) = read_request_head(&mut stream).await else {
                    continue;
                };
                let Some(target) = head
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .filter(|t| t.starts_with("/callback"))
                else {
                    let _ = tokio::io::AsyncWriteExt::write_all(
                        &mut stream,
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
                    continue;
                };
                let outcome = read_redirect(target, expected_state.as_deref());
                let body = if outcome.is_ok() {
                    "Signed in to the MCP server. You can close this tab."
                } else {
                    "Sign-in failed; see the terminal."
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, reply.as_bytes()).await;
                return outcome;
            }
        };
        tokio::time::timeout(LOGIN_WAIT, wait)
            .await
            .map_err(|_| "nobody came back from the browser within 5 minutes".to_owned())?
    }
}
