//! talaria as an MCP server: a [`ToolSource`]'s tools over MCP, on stdio or on
//! streamable HTTP bound to 127.0.0.1. `talaria mcp serve` serves the profile's tools
//! (through the host's `tools.list` / `tools.call`); the `conformance-server` target
//! serves the conformance suite's fixtures through this same code.

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use talaria_sdk::{ToolCallRequest, ToolOutput, ToolSpec};

use crate::convert;

/// Where served tools come from. Calls block (the host's `tools.call` does), so the
/// server runs them on blocking threads.
pub trait ToolSource: Send + Sync + 'static {
    fn tools(&self) -> Result<Vec<ToolSpec>, String>;

    /// Runs one tool; `cancel` is set when the client cancels the request.
    fn call(&self, request: ToolCallRequest, cancel: Cancel) -> Result<ToolOutput, String>;
}

/// A client's cancellation of one request, as a tool source sees it.
#[derive(Clone)]
pub struct Cancel(tokio_util::sync::CancellationToken);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
    /// Waits until the request is cancelled.
    pub async fn cancelled(&self) {
        self.0.cancelled().await
    }
}

/// The MCP server handler over a tool source.
pub struct ToolServer<S> {
    source: Arc<S>,
    name: String,
}

impl<S> Clone for ToolServer<S> {
    fn clone(&self) -> Self {
        ToolServer {
            source: self.source.clone(),
            name: self.name.clone(),
        }
    }
}

impl<S: ToolSource> ToolServer<S> {
    pub fn new(name: &str, source: S) -> Self {
        ToolServer {
            source: Arc::new(source),
            name: name.to_owned(),
        }
    }

    /// Serves one client on this process's stdin and stdout until stdin closes.
    /// Nothing else may write to stdout meanwhile.
    pub async fn serve_stdio(self) -> Result<(), String> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("the MCP client's handshake on stdin failed: {e}"))?;
        running
            .waiting()
            .await
            .map(drop)
            .map_err(|e| format!("the MCP server stopped: {e}"))
    }

    /// Serves streamable HTTP at `http://127.0.0.1:PORT/mcp` until `shutdown` ends. Host
    /// headers other than loopback names, and browser origins other than loopback ones,
    /// are refused (DNS rebinding).
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(["localhost", "127.0.0.1"])
            .with_allowed_origins(["http://localhost:*", "http://127.0.0.1:*"]);
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
}

/// Binds the HTTP server's socket: loopback only.
pub async fn bind_loopback(port: u16) -> Result<tokio::net::TcpListener, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}; pick another port with --http PORT"))
}

impl<S: ToolSource> ServerHandler for ToolServer<S> {
    fn get_info(&self) -> InitializeResult {
        let mut info = InitializeResult::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new(self.name.clone(), env!("CARGO_PKG_VERSION"));
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let source = self.source.clone();
        let specs = tokio::task::spawn_blocking(move || source.tools())
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let tools = specs
            .iter()
            .map(convert::spec_to_tool)
            .collect::<Vec<Tool>>();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let source = self.source.clone();
        let call = ToolCallRequest {
            name: request.name.to_string(),
            call_id: format!("mcp-{}", request_id_text(&cx)),
            arguments: serde_json::Value::Object(request.arguments.unwrap_or_default()),
        };
        let cancel = Cancel(cx.ct.clone());
        let outcome = tokio::task::spawn_blocking(move || source.call(call, cancel))
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let result: CallToolResult = match outcome {
            Ok(output) => convert::output_to_result(&output),
            // A failed call is the caller's to read, not a protocol error.
            Err(message) => CallToolResult::error(vec![rmcp::model::ContentBlock::text(message)]),
        };
        Ok(result.into())
    }
}

fn request_id_text(cx: &RequestContext<RoleServer>) -> String {
    serde_json::to_value(&cx.id)
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_default()
}
