//! The host's one client for plugin methods: typed params in, typed output back, for
//! every method in [`talaria_plugin_api::methods`].

use talaria_plugin_api::abi::{CancelFlag, EventSinkArc, PluginError};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::methods::Method;
use talaria_plugin_api::payload::ErrorKind;

use crate::plugins::LoadedPlugin;

/// Calls method `M` of `plugin`.
pub fn call<M: Method>(
    plugin: &LoadedPlugin,
    params: &M::Params,
    events: EventSinkArc,
    cancel: CancelFlag,
) -> Result<M::Output, PluginError> {
    let params = serde_json::to_string(params).map_err(|e| {
        PluginError::new(
            ErrorKind::InvalidRequest,
            format!("cannot encode {} params: {e}", M::NAME),
        )
    })?;
    let out = call_raw(plugin, M::NAME, &params, events, cancel)?;
    // serde's message can quote the offending value, which may be a token: say where the
    // problem is, not what it was.
    serde_json::from_str(&out).map_err(|e| {
        PluginError::new(
            ErrorKind::Other,
            format!(
                "plugin {} answered {} with a malformed result ({:?} error at line {} column {}); it may be built for another version of talaria",
                plugin.id,
                M::NAME,
                e.classify(),
                e.line(),
                e.column()
            ),
        )
    })
}

/// Calls a method with params that are already JSON (the host relaying a plugin's
/// request to another plugin without decoding it).
pub fn call_raw(
    plugin: &LoadedPlugin,
    method: &str,
    params: &str,
    events: EventSinkArc,
    cancel: CancelFlag,
) -> Result<String, PluginError> {
    plugin
        .instance
        .call(
            RStr::from_str(method),
            RStr::from_str(params),
            events,
            cancel,
        )
        .into_result()
        .map(|s| s.into_string())
}
