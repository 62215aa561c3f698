//! `/mcp:SERVER:PROMPT [ARGS]` in the REPL: fetch a server's prompt (`prompts/get`) and
//! hand its text back to the host, which sends it as the user's next message.

use rmcp::model::{ContentBlock, GetPromptRequestParams, JsonObject, Prompt, ResourceContents};
use talaria_sdk::command::CommandOutcome;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::client;
use crate::Bridge;

/// Runs `SERVER:PROMPT` with `args`: `NAME=VALUE` sets an argument by name, a bare value
/// fills the prompt's next declared argument.
pub fn run(bridge: &Bridge, spec: &str, args: &[String]) -> Result<CommandOutcome> {
    let (server, name) = spec
        .split_once(':')
        .filter(|(s, p)| !s.is_empty() && !p.is_empty())
        .ok_or_else(|| Error::invalid(format!("`/mcp:{spec}`: write /mcp:SERVER:PROMPT")))?;
    let config = crate::command::server(bridge, server)?;
    let rt = crate::runtime()?;
    let connection = rt
        .block_on(client::start(
            server,
            config,
            &crate::command::options(bridge),
        ))
        .map_err(|e| Error::new(ErrorKind::Unavailable, e))?;
    let peer = connection.peer().clone();
    let outcome = rt.block_on(async {
        let prompts = peer
            .list_all_prompts()
            .await
            .map_err(|e| Error::other(format!("MCP server {server} lists no prompts: {e}")))?;
        let Some(prompt) = prompts.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::invalid(format!(
                "MCP server {server} has no prompt {name:?}; it has: {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        };
        let arguments = arguments(prompt, args)?;
        let result = peer
            .get_prompt(GetPromptRequestParams::new(name).with_arguments(arguments))
            .await
            .map_err(|e| Error::other(format!("MCP server {server}, prompt {name}: {e}")))?;
        Ok(text_of(&result.messages))
    });
    rt.block_on(connection.close());
    let text = outcome?;
    if text.trim().is_empty() {
        return Err(Error::other(format!(
            "MCP server {server}'s prompt {name} has no text to send"
        )));
    }
    Ok(CommandOutcome {
        exit_code: 0,
        prompt: Some(text),
    })
}

/// The arguments object for `prompt` from the words the user typed.
fn arguments(prompt: &Prompt, args: &[String]) -> Result<JsonObject> {
    let declared = prompt.arguments.as_deref().unwrap_or_default();
    let mut values = JsonObject::new();
    let mut positional = declared.iter();
    for word in args {
        let (key, value) = match word.split_once('=') {
            Some((key, value)) if declared.iter().any(|a| a.name == key) => (key.to_owned(), value),
            _ => match positional.find(|a| !values.contains_key(&a.name)) {
                Some(a) => (a.name.clone(), word.as_str()),
                None => {
                    return Err(Error::invalid(format!(
                        "prompt {} takes {}; {word:?} is one too many",
                        prompt.name,
                        usage(prompt)
                    )))
                }
            },
        };
        values.insert(key, serde_json::Value::String(value.to_owned()));
    }
    let missing: Vec<&str> = declared
        .iter()
        .filter(|a| a.required == Some(true) && !values.contains_key(&a.name))
        .map(|a| a.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "prompt {} needs {}; it takes {}",
            prompt.name,
            missing.join(", "),
            usage(prompt)
        )));
    }
    Ok(values)
}

/// The prompt's arguments as the user would type them (`city=VALUE [state=VALUE]`).
fn usage(prompt: &Prompt) -> String {
    let declared = prompt.arguments.as_deref().unwrap_or_default();
    if declared.is_empty() {
        return "no arguments".to_owned();
    }
    declared
        .iter()
        .map(|a| match a.required {
            Some(true) => format!("{}=VALUE", a.name),
            _ => format!("[{}=VALUE]", a.name),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The messages' text, in order: text blocks and embedded text resources. Images and
/// binary resources have no place in a typed message and are left out.
fn text_of(messages: &[rmcp::model::PromptMessage]) -> String {
    let parts: Vec<&str> = messages
        .iter()
        .filter_map(|m| match &m.content {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            ContentBlock::Resource(r) => match &r.resource {
                ResourceContents::TextResourceContents { text, .. } => Some(text.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    parts.join("\n\n")
}
