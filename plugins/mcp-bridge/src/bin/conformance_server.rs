//! The MCP conformance suite's server under test: the suite's fixture tools, resources
//! and prompts, served by the bridge's own server code ([`McpServer`]) over streamable
//! HTTP on 127.0.0.1 (`PORT` from the environment or the first argument; 0 picks one and
//! prints it), or on stdio with `--stdio`.
//!
//! The fixtures' names and behaviour are fixed by the suite; the suite's checks say what
//! each must answer.
#![allow(deprecated)]

use std::time::Duration;

use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompleteResult, GetPromptResult, JsonObject,
    LoggingLevel, Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerCapabilities, Tool,
};
use rmcp::ErrorData;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use talaria_mcp_bridge::server::{bind_loopback, McpServer, Session, Source};

/// A 1×1 PNG and a short silent WAV, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

/// An MCP type from its JSON form (the fixtures read best as the wire shows them).
fn de<T: DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

fn tool(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "description": description, "inputSchema": schema})
}

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

struct Fixtures;

impl Source for Fixtures {
    fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_logging()
            .enable_completions()
            .build()
    }

    fn tools(&self) -> Result<Vec<Tool>, ErrorData> {
        let string_arg = |name: &str| json!({"type": "object", "properties": {name: {"type": "string"}}, "required": [name]});
        de(json!([
            tool("test_simple_text", "Returns simple text content", no_args()),
            tool("test_image_content", "Returns image content", no_args()),
            tool("test_audio_content", "Returns audio content", no_args()),
            tool(
                "test_embedded_resource",
                "Returns an embedded resource",
                no_args()
            ),
            tool(
                "test_multiple_content_types",
                "Returns text, image and resource",
                no_args()
            ),
            tool("test_tool_with_logging", "Logs while it runs", no_args()),
            tool("test_tool_with_progress", "Reports progress", no_args()),
            tool("test_error_handling", "Always fails", no_args()),
            tool(
                "test_sampling",
                "Asks the client to sample",
                string_arg("prompt")
            ),
            tool(
                "test_elicitation",
                "Asks the user through the client",
                string_arg("message")
            ),
            tool(
                "test_elicitation_sep1034_defaults",
                "Elicitation with defaults",
                no_args()
            ),
            tool(
                "test_elicitation_sep1330_enums",
                "Elicitation with enum schemas",
                no_args()
            ),
            tool(
                "test_reconnection",
                "Closes the stream and finishes after a reconnection",
                no_args()
            ),
            tool(
                "json_schema_2020_12_tool",
                "A JSON Schema 2020-12 input schema",
                json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
                    "additionalProperties": false
                })
            ),
        ]))
    }

    fn call(
        &self,
        name: &str,
        arguments: JsonObject,
        session: &Session,
    ) -> Result<CallToolResult, ErrorData> {
        let arg = |key: &str| {
            arguments
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let text_resource = json!({"type": "resource", "resource": {
            "uri": "test://embedded-resource", "mimeType": "text/plain",
            "text": "This is an embedded resource content."}});
        let content = match name {
            "test_simple_text" => {
                json!([{"type": "text", "text": "This is a simple text response for testing."}])
            }
            "test_image_content" => {
                json!([{"type": "image", "data": PNG, "mimeType": "image/png"}])
            }
            "test_audio_content" => {
                json!([{"type": "audio", "data": WAV, "mimeType": "audio/wav"}])
            }
            "test_embedded_resource" => json!([text_resource]),
            "test_multiple_content_types" => json!([
                {"type": "text", "text": "Multiple content types test:"},
                {"type": "image", "data": PNG, "mimeType": "image/png"},
                text_resource
            ]),
            "test_tool_with_logging" => {
                for message in [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed",
                ] {
                    session.log(LoggingLevel::Info, json!(message));
                    std::thread::sleep(Duration::from_millis(50));
                }
                json!([{"type": "text", "text": "Tool with logging executed successfully"}])
            }
            "test_tool_with_progress" => {
                for step in [0.0, 50.0, 100.0] {
                    session.progress(step, Some(100.0), Some(format!("Completed step {step}")));
                    std::thread::sleep(Duration::from_millis(50));
                }
                json!([{"type": "text", "text": "Tool with progress executed successfully"}])
            }
            "test_error_handling" => {
                return de(json!({"isError": true, "content": [
                    {"type": "text", "text": "This tool intentionally returns an error for testing"}]}))
            }
            "test_sampling" => {
                let params = de(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": arg("prompt")}}],
                    "maxTokens": 100
                }))?;
                let reply = session
                    .create_message(params)
                    .map_err(|e| ErrorData::internal_error(e, None))?;
                let reply = serde_json::to_value(&reply).unwrap_or_default();
                let text = reply["content"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                json!([{"type": "text", "text": format!("LLM response: {text}")}])
            }
            "test_elicitation" => {
                let params = de(json!({
                    "message": arg("message"),
                    "requestedSchema": {"type": "object", "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    }, "required": ["username", "email"]}
                }))?;
                elicited(session, params)?
            }
            "test_elicitation_sep1034_defaults" => {
                let params = de(json!({
                    "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {"type": "object", "properties": {
                        "name": {"type": "string", "description": "User name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User age", "default": 30},
                        "score": {"type": "number", "description": "User score", "default": 95.5},
                        "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "description": "Verification status", "default": true}
                    }}
                }))?;
                elicited(session, params)?
            }
            "test_elicitation_sep1330_enums" => {
                let params = de(json!({
                    "message": "Please select options from the enum fields",
                    "requestedSchema": {"type": "object", "properties": {
                        "untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
                            {"const": "value1", "title": "First Option"},
                            {"const": "value2", "title": "Second Option"},
                            {"const": "value3", "title": "Third Option"}]},
                        "legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3, "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3, "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}]}}
                    }}
                }))?;
                elicited(session, params)?
            }
            "test_reconnection" => {
                std::thread::sleep(Duration::from_millis(100));
                json!([{"type": "text", "text": "Reconnection test completed successfully"}])
            }
            "json_schema_2020_12_tool" => {
                json!([{"type": "text", "text": format!("received {}", Value::Object(arguments.clone()))}])
            }
            other => {
                return de(json!({"isError": true, "content": [
                    {"type": "text", "text": format!("no tool named {other}")}]}))
            }
        };
        de(json!({"content": content}))
    }

    fn resources(&self) -> Vec<Resource> {
        de(json!([
            {"uri": "test://static-text", "name": "static-text", "description": "A static text resource", "mimeType": "text/plain"},
            {"uri": "test://static-binary", "name": "static-binary", "description": "A static binary resource", "mimeType": "image/png"},
            {"uri": "test://watched-resource", "name": "watched-resource", "description": "A resource to subscribe to", "mimeType": "text/plain"}
        ]))
        .unwrap_or_default()
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        de(json!([{"uriTemplate": "test://template/{id}/data", "name": "template", "description": "Data by id", "mimeType": "application/json"}]))
            .unwrap_or_default()
    }

    fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        let contents = match uri {
            "test://static-text" => {
                json!({"uri": uri, "mimeType": "text/plain", "text": "This is the content of the static text resource."})
            }
            "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
            "test://watched-resource" => {
                json!({"uri": uri, "mimeType": "text/plain", "text": "Watched resource content"})
            }
            _ => match uri
                .strip_prefix("test://template/")
                .and_then(|rest| rest.strip_suffix("/data"))
            {
                Some(id) => json!({"uri": uri, "mimeType": "application/json",
                    "text": json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string()}),
                None => {
                    return Err(ErrorData::resource_not_found(
                        format!("no resource {uri}"),
                        None,
                    ))
                }
            },
        };
        de(json!({"contents": [contents]}))
    }

    fn prompts(&self) -> Vec<Prompt> {
        de(json!([
            {"name": "test_simple_prompt", "description": "A prompt without arguments"},
            {"name": "test_prompt_with_arguments", "description": "A prompt with arguments", "arguments": [
                {"name": "arg1", "description": "First argument", "required": true},
                {"name": "arg2", "description": "Second argument", "required": true}]},
            {"name": "test_prompt_with_embedded_resource", "description": "A prompt with a resource", "arguments": [
                {"name": "resourceUri", "description": "The resource to embed", "required": true}]},
            {"name": "test_prompt_with_image", "description": "A prompt with an image"}
        ]))
        .unwrap_or_default()
    }

    fn get_prompt(&self, name: &str, arguments: JsonObject) -> Result<GetPromptResult, ErrorData> {
        let arg = |key: &str| {
            arguments
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let messages = match name {
            "test_simple_prompt" => {
                json!([{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}])
            }
            "test_prompt_with_arguments" => json!([{"role": "user", "content": {"type": "text",
                "text": format!("Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1"), arg("arg2"))}}]),
            "test_prompt_with_embedded_resource" => json!([
                {"role": "user", "content": {"type": "resource", "resource": {"uri": arg("resourceUri"), "mimeType": "text/plain", "text": "Embedded resource content for testing."}}},
                {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}}
            ]),
            "test_prompt_with_image" => json!([
                {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
                {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}}
            ]),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no prompt {other}"),
                    None,
                ))
            }
        };
        de(json!({"messages": messages}))
    }

    fn complete(&self, _request: &CompleteRequestParams) -> CompleteResult {
        de(json!({"completion": {"values": [], "total": 0, "hasMore": false}})).unwrap_or_default()
    }
}

/// The elicitation's answer as the suite expects it back.
fn elicited(
    session: &Session,
    params: rmcp::model::ElicitRequestParams,
) -> Result<Value, ErrorData> {
    let result = session
        .elicit(params)
        .map_err(|e| ErrorData::internal_error(e, None))?;
    let result = serde_json::to_value(&result).unwrap_or_default();
    Ok(json!([{"type": "text", "text": format!(
        "User response: action={}, content={}",
        result["action"].as_str().unwrap_or_default(),
        result["content"]
    )}]))
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match talaria_mcp_bridge::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conformance-server: {}", e.message);
            return std::process::ExitCode::FAILURE;
        }
    };
    let server = McpServer::new("talaria-conformance", Fixtures);
    let outcome = if args.iter().any(|a| a == "--stdio") {
        runtime.block_on(server.serve_stdio())
    } else {
        let port = args
            .first()
            .cloned()
            .or_else(|| std::env::var("PORT").ok())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        runtime.block_on(async {
            let listener = bind_loopback(port).await?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            println!("listening on http://{addr}/mcp");
            server.serve_http(listener, std::future::pending()).await
        })
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
