use serde_json::Value;
use talaria_plugin_api::payload::Description;

use crate::{CallContext, Result};

/// A plugin instance, as its author writes it.
///
/// `call` gets a method name (see [`crate::methods`]) and JSON params; unknown methods
/// should return `ErrorKind::UnknownMethod`. Implementations may block: the host calls
/// each plugin on a thread of its own. Panics are caught and reported as errors.
pub trait Plugin: Send + Sync + 'static {
    fn describe(&self) -> Description {
        Description::default()
    }

    fn call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value>;
}
