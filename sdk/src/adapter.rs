//! Turns a safe [`crate::Plugin`] into the ABI's `Plugin` trait object, catching panics.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use talaria_plugin_api::abi::{self, CancelFlag, EventSinkArc, PluginError};
use talaria_plugin_api::abi_stable::std_types::{RResult, RStr, RString};
use talaria_plugin_api::payload::ErrorKind;

use crate::{CallContext, Host, Plugin, Result};

pub(crate) struct PluginAdapter<P> {
    pub(crate) plugin: P,
    pub(crate) host: Host,
}

impl<P: Plugin> abi::Plugin for PluginAdapter<P> {
    fn describe(&self) -> RResult<RString, PluginError> {
        guard("describe", || {
            Ok(serde_json::to_string(&self.plugin.describe())?)
        })
    }

    fn call(
        &self,
        method: RStr<'_>,
        params: RStr<'_>,
        events: EventSinkArc,
        cancel: CancelFlag,
    ) -> RResult<RString, PluginError> {
        guard(method.as_str(), || {
            let params = if params.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(params.as_str())?
            };
            let cx = CallContext::new(self.host.clone(), events, cancel);
            let out = self.plugin.call(method.as_str(), params, &cx)?;
            Ok(out.to_string())
        })
    }
}

/// Runs `f`, turning an error or a panic into a `PluginError` so nothing unwinds across
/// the boundary.
pub(crate) fn guard<F>(what: &str, f: F) -> RResult<RString, PluginError>
where
    F: FnOnce() -> Result<String>,
{
    match catch_panic(f) {
        Ok(Ok(text)) => RResult::ROk(RString::from(text)),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(panic) => RResult::RErr(panic_error(what, &panic)),
    }
}

thread_local! {
    /// Set while plugin code runs under [`catch_panic`]: its panics become errors.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// Where the last guarded panic happened, for the error message.
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// `catch_unwind` that also keeps std's panic report off the host's stderr: a plugin's
/// panic inside a call is an error the host reports, not a crash. Panics elsewhere (a
/// test using the harness, say) still reach the previous hook.
pub(crate) fn catch_panic<R>(f: impl FnOnce() -> R) -> std::result::Result<R, Box<dyn Any + Send>> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                LAST_LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
    let was_guarded = GUARDED.with(|g| g.replace(true));
    let out = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was_guarded));
    out
}

pub(crate) fn panic_error(what: &str, panic: &Box<dyn Any + Send>) -> PluginError {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    let location = LAST_LOCATION
        .with(|l| l.borrow_mut().take())
        .map(|l| format!(" (at {l})"))
        .unwrap_or_default();
    // A panic message may quote what the code held (`expect` on a failed request
    // quotes its error, and that may echo a header): what looks like a credential goes.
    let detail = crate::redact::redact(&detail);
    PluginError::new(
        ErrorKind::Panicked,
        format!("the plugin panicked in {what}: {detail}{location}"),
    )
}
