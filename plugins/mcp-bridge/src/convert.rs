//! Between talaria's tool types (`ToolSpec`, `ToolOutput`) and MCP's (`Tool`,
//! `CallToolResult`), both ways.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, ResourceContents, Tool};
use serde_json::Value;
use talaria_sdk::{ToolOutput, ToolSpec};

/// A talaria tool as an MCP tool.
pub fn spec_to_tool(spec: &ToolSpec) -> Tool {
    let schema = match &spec.input_schema {
        Value::Object(map) => map.clone(),
        _ => empty_schema(),
    };
    Tool::new(
        spec.name.clone(),
        spec.description.clone(),
        Arc::new(schema),
    )
}

fn empty_schema() -> JsonObject {
    let mut map = JsonObject::new();
    map.insert("type".into(), Value::String("object".into()));
    map
}

/// A talaria tool's output as an MCP result: the text, then each image.
pub fn output_to_result(output: &ToolOutput) -> CallToolResult {
    let mut content = Vec::new();
    if !output.content.is_empty() || output.images.is_empty() {
        content.push(ContentBlock::text(output.content.clone()));
    }
    for url in &output.images {
        if let Some((mime, data)) = parse_data_url(url) {
            content.push(ContentBlock::image(data, mime));
        }
    }
    let mut result = if output.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = output.structured.clone();
    result
}

/// `data:MIME;base64,DATA` → (MIME, DATA).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (mime, data) = rest.split_once(";base64,")?;
    Some((mime, data))
}

/// An MCP server's tool as the model sees it, under its qualified name.
pub fn tool_to_spec(qualified: &str, server: &str, tool: &Tool) -> ToolSpec {
    let description = tool
        .description
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} (MCP server {server})", tool.name));
    let read_only = tool
        .annotations
        .as_ref()
        .and_then(|a| a.read_only_hint)
        .unwrap_or(false);
    ToolSpec {
        name: qualified.to_owned(),
        description,
        input_schema: Value::Object((*tool.input_schema).clone()),
        // An MCP tool may do anything its server can: the host asks before it runs
        // unless the server says it only reads.
        needs_approval: !read_only,
        ..ToolSpec::default()
    }
}

/// An MCP result as a tool output: text blocks joined, images as `data:` URLs, embedded
/// text resources inlined, links and binary resources named.
pub fn result_to_output(result: CallToolResult) -> ToolOutput {
    let mut text = Vec::new();
    let mut images = Vec::new();
    for block in result.content {
        match block {
            ContentBlock::Text(t) => text.push(t.text),
            ContentBlock::Image(i) => {
                images.push(format!("data:{};base64,{}", i.mime_type, i.data))
            }
            ContentBlock::Audio(a) => text.push(format!("[audio {} omitted]", a.mime_type)),
            ContentBlock::Resource(r) => match r.resource {
                ResourceContents::TextResourceContents {
                    uri, text: body, ..
                } => text.push(format!("[resource {uri}]\n{body}")),
                ResourceContents::BlobResourceContents { uri, mime_type, .. } => {
                    text.push(format!(
                        "[binary resource {uri} ({})]",
                        mime_type.as_deref().unwrap_or("unknown type")
                    ))
                }
                #[allow(unreachable_patterns)]
                _ => {}
            },
            ContentBlock::ResourceLink(link) => {
                text.push(format!("[resource link {} ({})]", link.uri, link.name))
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    let mut content = text.join("\n");
    if content.is_empty() {
        if let Some(structured) = &result.structured_content {
            content = structured.to_string();
        }
    }
    ToolOutput {
        content,
        is_error: result.is_error.unwrap_or(false),
        images,
        structured: result.structured_content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_round_trips_text_images_and_errors() {
        let output = ToolOutput {
            content: "hi".into(),
            is_error: true,
            images: vec!["data:image/png;base64,AAAA".into()],
            structured: Some(json!({"n": 1})),
        };
        let back = result_to_output(output_to_result(&output));
        assert_eq!(back, output);
    }

    #[test]
    fn tools_keep_schema_and_ask_for_approval_unless_read_only() {
        let tool: Tool = serde_json::from_value(json!({
            "name": "echo", "inputSchema": {"type": "object", "properties": {"m": {"type": "string"}}}
        }))
        .unwrap();
        let spec = tool_to_spec("mcp__s__echo", "s", &tool);
        assert_eq!(spec.name, "mcp__s__echo");
        assert_eq!(spec.input_schema["properties"]["m"]["type"], "string");
        assert!(spec.needs_approval);
        let ro: Tool = serde_json::from_value(json!({
            "name": "r", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}
        }))
        .unwrap();
        assert!(!tool_to_spec("x", "s", &ro).needs_approval);
    }
}
