//! MCP resources offered to the model, as the Codex CLI offers them: two tools,
//! `list_mcp_resources` and `read_mcp_resource`, present when a running server has
//! resources.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde::Deserialize;
use serde_json::{json, Value};
use talaria_sdk::{parse_args, Result, ToolOutput, ToolSpec};

use crate::client::Connection;

pub const LIST: &str = "list_mcp_resources";
pub const READ: &str = "read_mcp_resource";

/// The two tools' specs.
pub fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: LIST.into(),
            description: "List the resources (files, documents, data) the MCP servers offer: server, uri, name, type.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {"server": {"type": "string", "description": "Only this server's resources"}},
                "additionalProperties": false
            }),
            needs_approval: false,
            ..ToolSpec::default()
        },
        ToolSpec {
            name: READ.into(),
            description: "Read one resource of an MCP server by its uri.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "server": {"type": "string", "description": "The server offering it"},
                    "uri": {"type": "string", "description": "The resource's uri"}
                },
                "required": ["server", "uri"],
                "additionalProperties": false
            }),
            needs_approval: false,
            ..ToolSpec::default()
        },
    ]
}

/// Whether the server says it has resources.
pub fn offers_resources(connection: &Connection) -> bool {
    connection
        .peer()
        .peer_info()
        .is_some_and(|i| i.capabilities.resources.is_some())
}

pub async fn list(servers: &BTreeMap<String, Arc<Connection>>, args: Value) -> Result<ToolOutput> {
    #[derive(Deserialize)]
    struct Args {
        server: Option<String>,
    }
    let args: Args = parse_args(args)?;
    let mut out = Vec::new();
    for (name, connection) in servers {
        if args.server.as_ref().is_some_and(|s| s != name) || !offers_resources(connection) {
            continue;
        }
        match connection.peer().list_all_resources().await {
            Ok(resources) => out.extend(resources.into_iter().map(|r| {
                json!({"server": name, "uri": r.uri, "name": r.name,
                       "mimeType": r.mime_type, "description": r.description})
            })),
            Err(e) => out.push(json!({"server": name, "error": e.to_string()})),
        }
    }
    Ok(ToolOutput::text(Value::Array(out).to_string()))
}

pub async fn read(servers: &BTreeMap<String, Arc<Connection>>, args: Value) -> Result<ToolOutput> {
    #[derive(Deserialize)]
    struct Args {
        server: String,
        uri: String,
    }
    let args: Args = parse_args(args)?;
    let Some(connection) = servers.get(&args.server) else {
        let known: Vec<&str> = servers.keys().map(String::as_str).collect();
        return Ok(ToolOutput::error(format!(
            "no running MCP server {:?}; running: {}",
            args.server,
            known.join(", ")
        )));
    };
    let read = connection
        .peer()
        .read_resource(ReadResourceRequestParams::new(args.uri.clone()))
        .await;
    let contents = match read {
        Ok(result) => result.contents,
        Err(e) => {
            return Ok(ToolOutput::error(format!(
                "MCP server {} could not read {}: {e}",
                args.server, args.uri
            )))
        }
    };
    let mut text = Vec::new();
    let mut images = Vec::new();
    for content in contents {
        match content {
            ResourceContents::TextResourceContents { text: body, .. } => text.push(body),
            ResourceContents::BlobResourceContents {
                blob,
                mime_type,
                uri,
                ..
            } => match mime_type.as_deref() {
                Some(m) if m.starts_with("image/") => {
                    images.push(format!("data:{m};base64,{blob}"))
                }
                m => text.push(format!(
                    "[binary resource {uri} ({}, {} bytes of base64)]",
                    m.unwrap_or("unknown type"),
                    blob.len()
                )),
            },
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    Ok(ToolOutput {
        content: text.join("\n"),
        is_error: false,
        images,
        structured: None,
    })
}
