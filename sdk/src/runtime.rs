//! An async runtime for plugins that need async I/O.
//!
//! Every plugin library has its own copy of tokio's globals, so the host's runtime is
//! useless inside a plugin (`tokio::spawn` would panic with "no reactor running"). The
//! host calls plugins on blocking threads; a plugin drives its futures with [`block_on`]
//! on a runtime it owns, created on first use.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use crate::{CallContext, Error, Result};

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("talaria-plugin")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::other(format!("could not start the plugin's async runtime: {e}")))
}

/// A multi-threaded runtime of the plugin's own, for plugins whose libraries spawn tasks
/// that must run while the calling thread waits (rmcp's transports, say). Started on
/// first use with two worker threads; needs the SDK's `multi-thread` feature.
#[cfg(feature = "multi-thread")]
pub fn multi_thread() -> Result<&'static tokio::runtime::Runtime> {
    static MULTI: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    MULTI
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .thread_name("talaria-plugin-mt")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::other(format!("could not start the plugin's multi-threaded runtime: {e}")))
}

/// Runs a future to completion on the plugin's own runtime. Safe to call from several
/// host threads at once.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(future))
}

/// Like [`block_on`], but returns `Err(cancelled)` as soon as the host cancels the call,
/// dropping the future (which closes its connections).
pub fn block_on_cancellable<F: Future>(cx: &CallContext, future: F) -> Result<F::Output> {
    let flag = cx.cancel_flag().clone();
    let cancelled = async move {
        while !flag.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    runtime()?.block_on(async {
        tokio::select! {
            out = future => Ok(out),
            _ = cancelled => Err(Error::cancelled()),
        }
    })
}
