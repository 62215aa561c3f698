//! talaria as an MCP client: the profile's `[mcp_servers.*]`, started in parallel, each
//! within its startup timeout. A server that fails, hangs or crashes is reported and
//! skipped; the others keep working.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientCapabilities,
    ClientInfo, ClientRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationCapability, Implementation, ListRootsResult, LoggingMessageNotificationParam,
    NumberOrString, ProgressNotificationParam, ProgressToken, Root, RootsCapabilities,
    ServerResult, Tool,
};
use rmcp::service::{
    NotificationContext, PeerRequestOptions, RequestContext, RunningService, ServiceError,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use talaria_sdk::mcp::McpServer;
use talaria_sdk::redact::Secrets;
use talaria_sdk::ToolOutput;

use crate::standalone_stream::Announced;

/// What the bridge tells every server about itself.
fn client_info(roots: bool, elicitation: bool) -> ClientInfo {
    let mut capabilities = ClientCapabilities::default();
    if roots {
        capabilities.roots = Some(RootsCapabilities::default());
    }
    if elicitation {
        capabilities.elicitation = Some(ElicitationCapability::default());
    }
    ClientInfo::new(
        capabilities,
        Implementation::new("talaria", env!("CARGO_PKG_VERSION")),
    )
}

/// Answers the server's requests and notifications for one connection.
pub struct Handler {
    server: String,
    /// Set by `notifications/tools/list_changed`: the tool list is fetched again.
    tools_changed: Arc<AtomicBool>,
    options: Options,
    watchers: Watchers,
}

/// Shows a line to whoever waits for a call (the runtime's event stream).
pub type Notify = Arc<dyn Fn(String) + Send + Sync>;

/// The calls in flight that want to hear about progress and logs, by progress token.
type Watchers = Arc<Mutex<HashMap<String, Notify>>>;

/// Answers a server's `elicitation/create`; it is given the server's name.
pub type Elicitor = Arc<dyn Fn(&str, ElicitRequestParams) -> ElicitResult + Send + Sync>;

/// How the bridge connects, the same for every server.
#[derive(Clone)]
pub struct Options {
    /// The working directory, offered as the only root.
    pub root: Option<String>,
    /// Where the servers' log messages go.
    pub log: Arc<dyn Fn(String) + Send + Sync>,
    /// Who answers elicitations; without one the capability is not offered (and a
    /// server that asks anyway is declined).
    pub elicit: Option<Elicitor>,
    /// The host, whose credential store holds the OAuth tokens of `mcp login`.
    pub host: Option<talaria_sdk::Host>,
    /// An already signed-in HTTP client for remote servers (instead of stored tokens).
    pub auth: Option<rmcp::transport::AuthClient<reqwest::Client>>,
}

impl Options {
    /// The working directory as root, logs to `log`, no elicitation.
    pub fn new(log: Arc<dyn Fn(String) + Send + Sync>) -> Options {
        Options {
            root: std::env::current_dir()
                .ok()
                .map(|d| d.display().to_string()),
            log,
            elicit: None,
            host: None,
            auth: None,
        }
    }
}

impl Handler {
    fn watchers(&self) -> Vec<Notify> {
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

impl ClientHandler for Handler {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        let key = token_key(&params.progress_token);
        let watcher = self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(notify) = watcher {
            let amount = match params.total {
                Some(total) => format!("{}/{}", params.progress, total),
                None => params.progress.to_string(),
            };
            let message = params.message.map(|m| format!(": {m}")).unwrap_or_default();
            notify(format!("MCP server {} {amount}{message}", self.server));
        }
    }

    fn get_info(&self) -> ClientInfo {
        client_info(self.options.root.is_some(), self.options.elicit.is_some())
    }

    async fn list_roots(
        &self,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        let roots = self
            .options
            .root
            .iter()
            .map(|dir| Root::new(format!("file://{dir}")))
            .collect();
        Ok(ListRootsResult::new(roots))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        match &self.options.elicit {
            Some(elicit) => {
                let elicit = elicit.clone();
                let server = self.server.clone();
                tokio::task::spawn_blocking(move || elicit(&server, request))
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))
            }
            None => Ok(ElicitResult::new(ElicitationAction::Decline)),
        }
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.tools_changed.store(true, Ordering::SeqCst);
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        let text = match &params.data {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for notify in self.watchers() {
            notify(format!("MCP server {}: {text}", self.server));
        }
        (self.options.log)(format!(
            "MCP server {} ({:?}): {text}",
            self.server, params.level
        ));
    }
}

/// One live connection.
pub struct Connection {
    pub name: String,
    pub config: McpServer,
    service: RunningService<RoleClient, Handler>,
    tools_changed: Arc<AtomicBool>,
    tools: Mutex<Vec<Tool>>,
    watchers: Watchers,
    /// A local server's process (killed when the connection goes) and what it said.
    process: Option<(Mutex<tokio::process::Child>, Arc<crate::stdio::Diagnostics>)>,
    /// Its `env` and `headers` values, masked in every error it causes.
    secrets: Secrets,
}

/// An rmcp error as a sentence: its text names the transport's Rust type in brackets
/// (`Transport [rmcp::transport::worker::WorkerTransport<…>] error: …`), which tells a
/// user nothing; that part goes.
fn readable(error: impl std::fmt::Display) -> String {
    let text = error.to_string();
    let Some(start) = text.find(" [rmcp::") else {
        return text;
    };
    let mut depth = 0usize;
    for (i, c) in text[start + 1..].char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    let end = start + 1 + i + 1;
                    return format!("{}{}", &text[..start], &text[end..]);
                }
            }
            _ => {}
        }
    }
    text
}

/// "; why", or nothing when there is no why.
fn sep(why: &str) -> String {
    if why.is_empty() {
        String::new()
    } else {
        format!("; {why}")
    }
}

impl Connection {
    /// `message`, with what the server's process says about the failure.
    /// Secrets the server was given are masked, whatever echoed them.
    fn explain(&self, message: String) -> String {
        let message = match &self.process {
            Some((child, diagnostics)) => {
                let mut child = child.lock().unwrap_or_else(PoisonError::into_inner);
                format!("{message}{}", sep(&diagnostics.explain(&mut child)))
            }
            None => message,
        };
        self.secrets.redact(&message)
    }

    /// The server's tools, fetched again after it said they changed.
    pub async fn tools(&self) -> Result<Vec<Tool>, String> {
        if self.tools_changed.swap(false, Ordering::SeqCst) {
            let fresh = self.fetch_tools().await?;
            *self.tools.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        }
        Ok(self
            .tools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    async fn fetch_tools(&self) -> Result<Vec<Tool>, String> {
        let tools = self.service.list_all_tools().await.map_err(|e| {
            self.secrets.redact(&format!(
                "MCP server {} could not list its tools: {}",
                self.name,
                readable(e)
            ))
        })?;
        Ok(tools
            .into_iter()
            .filter(|t| self.config.offers_tool(&t.name))
            .collect())
    }

    /// Calls one tool, within the server's tool timeout.
    pub async fn call(
        &self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<ToolOutput, String> {
        self.call_watched(tool, arguments, None).await
    }

    /// Calls one tool; its progress and the server's log lines meanwhile go to `notify`.
    /// Dropping the future (Ctrl+C) tells the server with `notifications/cancelled`.
    pub async fn call_watched(
        &self,
        tool: &str,
        arguments: serde_json::Value,
        notify: Option<Notify>,
    ) -> Result<ToolOutput, String> {
        let arguments = match arguments {
            serde_json::Value::Object(map) => Some(map),
            serde_json::Value::Null => None,
            other => {
                return Err(format!(
                    "the arguments of {tool} must be a JSON object, not {other}"
                ))
            }
        };
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let failed = |e: ServiceError| {
            self.explain(format!(
                "MCP server {} failed the call to {tool}: {}",
                self.name,
                readable(e)
            ))
        };
        let peer = self.service.peer();
        let handle = peer
            .send_cancellable_request(
                ClientRequest::CallToolRequest(CallToolRequest::new(params)),
                PeerRequestOptions::no_options(),
            )
            .await
            .map_err(failed)?;
        // rmcp picks the request's progress token; progress for it goes to `notify`.
        let _watch = notify.map(|notify| {
            let key = token_key(&handle.progress_token);
            self.watchers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.clone(), notify);
            Unwatch {
                watchers: self.watchers.clone(),
                key,
            }
        });
        let mut abandon = Abandon {
            peer: Some(peer.clone()),
            id: handle.id.clone(),
        };
        let timeout = self.config.timeout();
        let outcome = tokio::time::timeout(timeout, handle.await_response()).await;
        let response = match outcome {
            Ok(response) => {
                abandon.peer = None;
                response.map_err(failed)?
            }
            Err(_) => {
                return Err(format!(
                    "MCP server {} did not answer the call to {tool} within {}s (its `timeout`)",
                    self.name,
                    timeout.as_secs_f64()
                ))
            }
        };
        match response {
            ServerResult::CallToolResult(result) => Ok(crate::convert::result_to_output(result)),
            _ => Err(format!(
                "MCP server {} answered the call to {tool} with something other than a tool result",
                self.name
            )),
        }
    }

    pub fn peer(&self) -> &rmcp::Peer<RoleClient> {
        self.service.peer()
    }

    pub fn server_info(&self) -> Option<String> {
        self.service
            .peer_info()
            .and_then(|i| i.server_info.clone())
            .map(|i| format!("{} {}", i.name, i.version))
    }

    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// Tells the server a call was given up (cancelled or timed out), unless disarmed.
struct Abandon {
    peer: Option<rmcp::Peer<RoleClient>>,
    id: rmcp::model::RequestId,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let Some(peer) = self.peer.take() else {
            return;
        };
        let params = CancelledNotificationParam::new(
            Some(self.id.clone()),
            Some("cancelled by the user".into()),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = peer.notify_cancelled(params).await;
            });
        }
    }
}

/// Removes a call's watcher when the call ends, however it ends.
struct Unwatch {
    watchers: Watchers,
    key: String,
}

impl Drop for Unwatch {
    fn drop(&mut self) {
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

fn token_key(token: &ProgressToken) -> String {
    match &token.0 {
        NumberOrString::String(s) => s.to_string(),
        NumberOrString::Number(n) => n.to_string(),
    }
}

/// How a server's startup ended.
pub enum Status {
    Ready(Arc<Connection>),
    Failed(String),
}

/// Starts every enabled server in parallel; each gets its `connect_timeout`.
pub async fn start_all(
    servers: &BTreeMap<String, McpServer>,
    options: &Options,
) -> BTreeMap<String, Status> {
    let starts = servers
        .iter()
        .filter(|(_, s)| s.enabled)
        .map(|(name, config)| {
            let name = name.clone();
            let config = config.clone();
            let options = options.clone();
            async move {
                let status = match start(&name, &config, &options).await {
                    Ok(c) => Status::Ready(Arc::new(c)),
                    Err(e) => Status::Failed(e),
                };
                (name, status)
            }
        });
    futures_util::future::join_all(starts)
        .await
        .into_iter()
        .collect()
}

/// The streamable HTTP settings of a remote server: its URL and headers.
fn http_config(
    name: &str,
    url: &str,
    config: &McpServer,
) -> Result<StreamableHttpClientTransportConfig, String> {
    let mut transport_config = StreamableHttpClientTransportConfig::with_uri(url);
    for (key, value) in &config.headers {
        let key = reqwest::header::HeaderName::from_bytes(key.as_bytes())
            .map_err(|e| format!("MCP server {name}: header {key:?}: {e}"))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| format!("MCP server {name}: header value of {key}: {e}"))?;
        transport_config.custom_headers.insert(key, value);
    }
    Ok(transport_config)
}

/// Starts one server and lists its tools, within its startup timeout.
pub async fn start(
    name: &str,
    config: &McpServer,
    options: &Options,
) -> Result<Connection, String> {
    let timeout = config.connect_timeout();
    match tokio::time::timeout(timeout, connect(name, config, options)).await {
        // A server that echoes its token (in an error body, or on stderr before it
        // dies) must not carry it into a warning or the log.
        Ok(result) => result.map_err(|e| Secrets::new(config.secret_values()).redact(&e)),
        Err(_) => Err(format!(
            "MCP server {name} did not start within {}s (its `connect_timeout`); skipped",
            timeout.as_secs_f64()
        )),
    }
}

async fn connect(name: &str, config: &McpServer, options: &Options) -> Result<Connection, String> {
    let tools_changed = Arc::new(AtomicBool::new(false));
    let watchers = Watchers::default();
    let handler = Handler {
        server: name.to_owned(),
        tools_changed: tools_changed.clone(),
        options: options.clone(),
        watchers: watchers.clone(),
    };
    let mut process = None;
    let service = if let Some(program) = &config.command {
        let spawned = crate::stdio::spawn(name, program, config)?;
        let diagnostics = spawned.diagnostics.clone();
        let mut child = spawned.child;
        match handler.serve((spawned.stdout, spawned.stdin)).await {
            Ok(service) => {
                process = Some((Mutex::new(child), diagnostics));
                service
            }
            Err(e) => {
                let why = diagnostics.explain(&mut child);
                return Err(format!(
                    "MCP server {name} failed its handshake: {}{}",
                    readable(e),
                    sep(&why)
                ));
            }
        }
    } else if let Some(url) = &config.url {
        let transport_config = http_config(name, url, config)?;
        // Tokens from `talaria mcp login NAME`, when there are any.
        let signed_in = match (&options.auth, &options.host) {
            (Some(client), _) => Some(client.clone()),
            (None, Some(host)) => crate::oauth::stored_client(host, name, url).await?,
            (None, None) => None,
        };
        let (handshake, opened) = match signed_in {
            Some(client) => {
                let (client, opened) = Announced::new(client);
                let transport =
                    StreamableHttpClientTransport::with_client(client, transport_config);
                (handler.serve(transport).await, opened)
            }
            None => {
                let (client, opened) = Announced::new(reqwest::Client::default());
                let transport =
                    StreamableHttpClientTransport::with_client(client, transport_config);
                (handler.serve(transport).await, opened)
            }
        };
        let service = handshake.map_err(|e| {
            if e.auth_challenge().is_some() {
                format!("MCP server {name} at {url} needs you to sign in: run `talaria mcp login {name}`")
            } else {
                format!(
                    "MCP server {name} at {url} failed its handshake: {}",
                    readable(e)
                )
            }
        })?;
        opened.wait().await;
        service
    } else {
        return Err(format!("MCP server {name} has neither `command` nor `url`"));
    };
    let connection = Connection {
        name: name.to_owned(),
        config: config.clone(),
        service,
        tools_changed,
        tools: Mutex::new(Vec::new()),
        process,
        watchers,
        secrets: Secrets::new(config.secret_values()),
    };
    let tools = connection
        .fetch_tools()
        .await
        .map_err(|e| connection.explain(e))?;
    *connection
        .tools
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = tools;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn rmcp_errors_lose_the_transports_type_name() {
        let raw = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::transport::streamable_http_client::StreamableHttpClientWorker<x::Announced<reqwest::Client>>>] error: HTTP 500, when send initialize request";
        assert_eq!(
            readable(raw),
            "Send message error Transport error: HTTP 500, when send initialize request"
        );
        assert_eq!(readable("plain [text] error"), "plain [text] error");
        // Unbalanced brackets leave the text as it was.
        let open = "Transport [rmcp::a<b> error";
        assert_eq!(readable(open), open);
    }
}
