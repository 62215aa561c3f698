//! talaria as an MCP server: a [`Source`]'s tools (and, for sources that have them,
//! resources and prompts) over MCP, on stdio or on streamable HTTP bound to 127.0.0.1.
//! `talaria mcp serve` serves the profile's tools (through the host's `tools.list` /
//! `tools.call`); the `conformance-server` target serves the conformance suite's
//! fixtures through this same handler and these same transports.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, InitializeResult,
    JsonObject, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, Prompt, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceTemplate, ServerCapabilities,
    SetLevelRequestParams, SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, ServiceExt};
use tokio_util::sync::CancellationToken;

/// What a server offers. Calls block (the host's `tools.call` does), so the handler runs
/// them on blocking threads and gives them a [`Session`] to reach the client.
pub trait Source: Send + Sync + 'static {
    /// Beyond tools, which of resources, prompts, completions and logging it has.
    fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities::builder().enable_tools().build()
    }

    fn tools(&self) -> Result<Vec<Tool>, ErrorData>;

    /// Runs one tool. `Ok` with `is_error` for a failure the caller should read;
    /// `Err` only when the request itself cannot be served.
    fn call(
        &self,
        name: &str,
        arguments: JsonObject,
        session: &Session,
    ) -> Result<CallToolResult, ErrorData>;

    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }
    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        Vec::new()
    }
    fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        Err(ErrorData::resource_not_found(
            format!("no resource {uri}"),
            None,
        ))
    }
    fn prompts(&self) -> Vec<Prompt> {
        Vec::new()
    }
    fn get_prompt(&self, name: &str, arguments: JsonObject) -> Result<GetPromptResult, ErrorData> {
        let _ = arguments;
        Err(ErrorData::invalid_params(format!("no prompt {name}"), None))
    }
    fn complete(&self, request: &CompleteRequestParams) -> CompleteResult {
        let _ = request;
        CompleteResult::default()
    }
}

/// One request's way back to the client, for a source's blocking code.
#[derive(Clone)]
pub struct Session {
    peer: Peer<RoleServer>,
    progress_token: Option<ProgressToken>,
    cancel: CancellationToken,
    runtime: tokio::runtime::Handle,
    log_level: Arc<Mutex<LoggingLevel>>,
}

impl Session {
    /// Set when the client cancels the request (`notifications/cancelled`).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Waits until the client cancels the request.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The request's cancellation, to wait on from a task.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// `notifications/message`, when `level` is at or above what the client asked for.
    pub fn log(&self, level: LoggingLevel, data: serde_json::Value) {
        let wanted = *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if severity(level) < severity(wanted) {
            return;
        }
        let params = LoggingMessageNotificationParam::new(level, data);
        let _ = self
            .runtime
            .block_on(self.peer.notify_logging_message(params));
    }

    /// `notifications/progress`, when the client asked for progress.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let Some(token) = &self.progress_token else {
            return;
        };
        let mut params = ProgressNotificationParam::new(token.clone(), progress);
        params.total = total;
        params.message = message;
        let _ = self.runtime.block_on(self.peer.notify_progress(params));
    }

    /// `sampling/createMessage`.
    pub fn create_message(
        &self,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, String> {
        self.runtime
            .block_on(self.peer.create_message(params))
            .map_err(|e| format!("the client could not sample: {e}"))
    }

    /// Whether the client declared the elicitation capability.
    pub fn can_elicit(&self) -> bool {
        self.peer
            .peer_info()
            .is_some_and(|i| i.capabilities.elicitation.is_some())
    }

    /// `elicitation/create`; an error when the client cannot be asked.
    pub fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, String> {
        if !self.can_elicit() {
            return Err("the MCP client does not support elicitation".into());
        }
        self.runtime
            .block_on(self.peer.create_elicitation(params))
            .map_err(|e| format!("the client could not be asked: {e}"))
    }
}

fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// The MCP server handler over a source.
pub struct McpServer<S> {
    source: Arc<S>,
    name: String,
    /// `logging/setLevel`; everything until the client says otherwise.
    log_level: Arc<Mutex<LoggingLevel>>,
}

impl<S> Clone for McpServer<S> {
    fn clone(&self) -> Self {
        McpServer {
            source: self.source.clone(),
            name: self.name.clone(),
            log_level: Arc::new(Mutex::new(LoggingLevel::Debug)),
        }
    }
}

impl<S: Source> McpServer<S> {
    pub fn new(name: &str, source: S) -> Self {
        McpServer {
            source: Arc::new(source),
            name: name.to_owned(),
            log_level: Arc::new(Mutex::new(LoggingLevel::Debug)),
        }
    }

    /// Serves one client on this process's stdin and stdout until stdin closes.
    /// Nothing else may write to stdout meanwhile.
    pub async fn serve_stdio(self) -> Result<(), String> {
        let running = match self.serve(rmcp::transport::stdio()).await {
            Ok(running) => running,
            // stdin closed before a handshake: nobody to serve.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(format!("the MCP client's handshake on stdin failed: {e}")),
        };
        running
            .waiting()
            .await
            .map(drop)
            .map_err(|e| format!("the MCP server stopped: {e}"))
    }

    /// Serves streamable HTTP at `/mcp` on `listener` until `shutdown` ends. Host
    /// headers other than loopback names, and browser origins other than loopback ones,
    /// are refused (DNS rebinding).
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts([
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
            ])
            .with_allowed_origins([
                format!("http://localhost:{port}"),
                format!("http://127.0.0.1:{port}"),
            ]);
        let service = StreamableHttpService::new(
            move || Ok(self.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let router = axum::Router::new().nest_service("/mcp", service);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| format!("the MCP HTTP server failed: {e}"))
    }

    fn session(&self, cx: &RequestContext<RoleServer>) -> Session {
        Session {
            peer: cx.peer.clone(),
            progress_token: cx.meta.get_progress_token(),
            cancel: cx.ct.clone(),
            runtime: tokio::runtime::Handle::current(),
            log_level: self.log_level.clone(),
        }
    }

    /// Runs `f` on a blocking thread (sources block).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&S) -> T + Send + 'static,
    ) -> Result<T, ErrorData> {
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || f(&source))
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }
}

/// Binds the HTTP server's socket: loopback only.
pub async fn bind_loopback(port: u16) -> Result<tokio::net::TcpListener, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}; pick another port with --http PORT"))
}

impl<S: Source> ServerHandler for McpServer<S> {
    fn get_info(&self) -> InitializeResult {
        let mut info = InitializeResult::new(self.source.capabilities());
        info.server_info = Implementation::new(self.name.clone(), env!("CARGO_PKG_VERSION"));
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.blocking(|s| s.tools()).await??;
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let session = self.session(&cx);
        let name = request.name.to_string();
        let arguments = request.arguments.unwrap_or_default();
        let result = self
            .blocking(move |s| s.call(&name, arguments, &session))
            .await??;
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(self.source.resources()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.source.resource_templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        Ok(self.source.read_resource(&request.uri)?.into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.source.read_resource(&request.uri).map(drop)
    }

    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(self.source.prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        Ok(self.source.get_prompt(&request.name, arguments)?.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Ok(self.source.complete(&request))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if self.source.capabilities().logging.is_none() {
            return Err(ErrorData::method_not_found::<
                rmcp::model::SetLevelRequestMethod,
            >());
        }
        *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = request.level;
        Ok(())
    }
}
