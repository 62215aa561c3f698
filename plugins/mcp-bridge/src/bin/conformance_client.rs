//! The MCP conformance suite's client under test: the bridge's own client code
//! ([`client::start`], [`oauth::sign_in`]) run against the suite's mock servers. The
//! suite starts it as `conformance-client URL` with the scenario in
//! `MCP_CONFORMANCE_SCENARIO` and its context (JSON) in `MCP_CONFORMANCE_CONTEXT`.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, Tool};
use rmcp::transport::auth::AuthorizationCallback;
use rmcp::transport::AuthClient;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use talaria_mcp_bridge::client::{self, Options};
use talaria_mcp_bridge::convert;
use talaria_mcp_bridge::mcp::McpServer;
use talaria_mcp_bridge::oauth::{self, Authorize};

#[derive(Debug, Default, Deserialize)]
struct Context {
    #[serde(default, alias = "toolCalls")]
    tool_calls: Vec<ToolCall>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ToolCall {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
}

/// The suite's authorization server redirects straight back with a code; no browser.
struct Headless;

impl Authorize for Headless {
    fn redirect_uri(&self) -> String {
        "http://localhost:3000/callback".into()
    }

    async fn authorize(&self, url: &str) -> Result<AuthorizationCallback, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let reply = http.get(url).send().await.map_err(|e| e.to_string())?;
        let location = reply
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("the authorization endpoint did not redirect")?;
        AuthorizationCallback::from_redirect_url(location).map_err(|e| e.to_string())
    }
}

/// Accepts an elicitation with the defaults its schema gives (SEP-1034).
fn accept_defaults(_server: &str, request: ElicitRequestParams) -> ElicitResult {
    let schema = serde_json::to_value(&request).unwrap_or_default()["requestedSchema"].clone();
    let mut content = Map::new();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            if let Some(default) = property.get("default") {
                content.insert(name.clone(), default.clone());
            }
        }
    }
    ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content))
}

/// Arguments for a tool the context does not name: a plausible value per property.
fn arguments_for(tool: &Tool) -> Value {
    let mut args = Map::new();
    if let Some(properties) = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
    {
        for (name, property) in properties {
            let value = match property["type"].as_str() {
                Some("number") => json!(1.0),
                Some("integer") => json!(1),
                Some("boolean") => json!(true),
                _ => json!("test"),
            };
            args.insert(name.clone(), value);
        }
    }
    Value::Object(args)
}

async fn run(scenario: &str, url: &str, context: &Context) -> Result<(), String> {
    let log: Arc<dyn Fn(String) + Send + Sync> = Arc::new(|m| eprintln!("{m}"));
    let mut options = Options::new(log);
    let mut config = McpServer {
        url: Some(url.to_owned()),
        ..McpServer::default()
    };
    if scenario == "elicitation-sep1034-client-defaults" {
        options.elicit = Some(Arc::new(accept_defaults));
    }
    if scenario.starts_with("auth/") {
        config.oauth_client_id = context.client_id.clone();
        // The suite's stand-in for a hosted client ID metadata document.
        config.oauth_client_metadata_url =
            Some("https://conformance-test.local/client-metadata.json".into());
        let manager = oauth::sign_in::<rmcp::transport::auth::InMemoryCredentialStore>(
            url,
            &config,
            &[],
            context.client_secret.as_deref(),
            None,
            &Headless,
        )
        .await?;
        options.auth = Some(AuthClient::new(reqwest::Client::default(), manager));
    }
    let connection = client::start("conformance", &config, &options).await?;
    let tools = connection.tools().await?;
    if let Some(echo) = tools.iter().find(|t| t.name == "json_schema_echo") {
        // The suite checks that a tool's JSON Schema reaches the model intact: echo the
        // schema as the bridge hands it to a runtime.
        let focal = tools.iter().find(|t| t.name != echo.name);
        let spec = focal.map(|t| convert::tool_to_spec("focal", "conformance", t));
        let schema = spec.map(|s| s.input_schema).unwrap_or_default();
        connection
            .call(&echo.name, json!({ "schema": schema }))
            .await?;
    } else if context.tool_calls.is_empty() {
        for tool in &tools {
            let _ = connection.call(&tool.name, arguments_for(tool)).await;
        }
    } else {
        for call in &context.tool_calls {
            let arguments = Value::Object(call.arguments.clone().unwrap_or_default());
            connection.call(&call.name, arguments).await?;
        }
    }
    connection.close().await;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let url = std::env::args().next_back().unwrap_or_default();
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Context = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    let outcome = talaria_mcp_bridge::runtime()
        .map_err(|e| e.message)
        .and_then(|rt| rt.block_on(run(&scenario, &url, &context)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance-client ({scenario}): {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
