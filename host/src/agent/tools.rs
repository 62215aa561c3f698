//! The tools the model may call: every enabled tool plugin's tools, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use talaria_plugin_api::abi::{CancelFlag, EventSinkArc};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::payload::{methods, ErrorKind, ToolCallRequest, ToolOutput, ToolSpec};

use super::items::FunctionCall;
use crate::plugins::{LoadedPlugin, Registry};

pub struct ToolTable {
    tools: BTreeMap<String, (Arc<LoadedPlugin>, ToolSpec)>,
}

/// What running one call produced.
pub enum CallOutcome {
    Done(ToolOutput),
    Cancelled,
}

impl ToolTable {
    /// Loads the enabled tool plugins. A plugin that fails to load, or a tool name that
    /// two plugins both define, is a warning: the other tools still work.
    pub fn load(registry: &Registry, warnings: &mut Vec<String>) -> ToolTable {
        let mut tools = BTreeMap::new();
        for (plugin, spec) in registry.tools(warnings) {
            if let Some((first, _)) = tools.get(&spec.name) {
                let first: &Arc<LoadedPlugin> = first;
                warnings.push(format!("tool {} of plugin {} is hidden by the one of plugin {}", spec.name, plugin.id, first.id));
                continue;
            }
            tools.insert(spec.name.clone(), (plugin, spec));
        }
        ToolTable { tools }
    }

    pub fn specs(&self) -> impl Iterator<Item = (&str, &ToolSpec)> {
        self.tools.values().map(|(plugin, spec)| (plugin.id.as_str(), spec))
    }

    /// The Responses API `tools` array.
    pub fn definitions(&self) -> Vec<Value> {
        self.tools
            .values()
            .map(|(_, spec)| {
                json!({
                    "type": "function",
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": spec.input_schema,
                    "strict": false,
                })
            })
            .collect()
    }

    /// Runs one call. Whatever goes wrong short of cancellation becomes an error output
    /// the model reads, so the turn goes on (CONTRACT.md: a declined approval is reported
    /// to the model and the turn continues).
    pub fn call(&self, call: &FunctionCall, events: EventSinkArc, cancel: CancelFlag) -> CallOutcome {
        let Some((plugin, _)) = self.tools.get(&call.name) else {
            let known: Vec<&str> = self.tools.keys().map(String::as_str).collect();
            return CallOutcome::Done(ToolOutput::error(format!("there is no tool named {:?}; the tools are: {}", call.name, known.join(", "))));
        };
        let arguments: Value = if call.arguments.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str(&call.arguments) {
                Ok(v) => v,
                Err(e) => return CallOutcome::Done(ToolOutput::error(format!("the arguments are not valid JSON ({e}); send a JSON object"))),
            }
        };
        let request = ToolCallRequest { call_id: call.call_id.clone(), name: call.name.clone(), arguments };
        let params = match serde_json::to_string(&request) {
            Ok(p) => p,
            Err(e) => return CallOutcome::Done(ToolOutput::error(format!("could not encode the call: {e}"))),
        };
        let reply = plugin.instance.call(RStr::from_str(methods::TOOL_CALL), RStr::from_str(&params), events, cancel).into_result();
        match reply {
            Ok(text) => match serde_json::from_str::<ToolOutput>(&text) {
                Ok(output) => CallOutcome::Done(output),
                Err(e) => CallOutcome::Done(ToolOutput::error(format!("plugin {} returned a malformed result: {e}", plugin.id))),
            },
            Err(e) if e.kind() == ErrorKind::Cancelled => CallOutcome::Cancelled,
            Err(e) => CallOutcome::Done(ToolOutput::error(format!("{} failed: {}", call.name, e.message))),
        }
    }
}
