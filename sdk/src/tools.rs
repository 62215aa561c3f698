//! Tool plugins: a [`ToolSet`] of [`Tool`]s answers `describe` with the tools' specs and
//! dispatches `tool.call` to the right one.

use serde::de::DeserializeOwned;
use serde_json::Value;
use talaria_plugin_api::methods::{self, Method};
use talaria_plugin_api::payload::{Description, ErrorKind, ToolCallRequest, ToolOutput, ToolSpec};

use crate::{CallContext, Error, Plugin, Result};

/// One tool.
pub trait Tool: Send + Sync + 'static {
    fn spec(&self) -> ToolSpec;

    /// Runs the tool. Return `Ok(ToolOutput::error(..))` for a failure the model should
    /// read and react to (file not found); `Err` for a failure of the call itself.
    fn call(&self, args: Value, cx: &CallContext) -> Result<ToolOutput>;
}

/// Parses a tool's arguments, with an error the model can act on.
pub fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T> {
    serde_json::from_value(args).map_err(|e| Error::invalid(format!("invalid arguments: {e}")))
}

/// A plugin made of tools.
#[derive(Default)]
pub struct ToolSet {
    tools: Vec<Box<dyn Tool>>,
}

impl ToolSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, tool: impl Tool) -> Self {
        self.tools.push(Box::new(tool));
        self
    }

    fn find(&self, name: &str) -> Option<&dyn Tool> {
        self.tools
            .iter()
            .map(|t| t.as_ref())
            .find(|t| t.spec().name == name)
    }
}

impl Plugin for ToolSet {
    fn describe(&self) -> Description {
        Description {
            tools: self.tools.iter().map(|t| t.spec()).collect(),
            warnings: Vec::new(),
        }
    }

    fn call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value> {
        if method != methods::ToolCall::NAME {
            return Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("this tool plugin has no method {method:?}"),
            ));
        }
        crate::kinds::serve::<methods::ToolCall>(params, |request: ToolCallRequest| {
            let tool = self.find(&request.name).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownMethod,
                    format!("no tool named {:?}", request.name),
                )
            })?;
            cx.check_cancelled()?;
            tool.call(
                request.arguments,
                &cx.for_tool_call(&request.call_id, request.context),
            )
        })
    }
}
