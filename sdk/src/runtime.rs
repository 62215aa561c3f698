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

type Started = OnceLock<std::result::Result<tokio::runtime::Runtime, String>>;

/// The runtime in `cell`, built by `builder` on first use.
fn started(
    cell: &'static Started,
    mut builder: tokio::runtime::Builder,
    what: &str,
) -> Result<&'static tokio::runtime::Runtime> {
    cell.get_or_init(|| builder.enable_all().build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::other(format!("could not start the plugin's {what}: {e}")))
}

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: Started = OnceLock::new();
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.thread_name("talaria-plugin");
    started(&RUNTIME, builder, "async runtime")
}

/// A multi-threaded runtime of the plugin's own, for plugins whose libraries spawn tasks
/// that must run while the calling thread waits (rmcp's transports, say). Started on
/// first use with two worker threads; needs the SDK's `multi-thread` feature.
#[cfg(feature = "multi-thread")]
pub fn multi_thread() -> Result<&'static tokio::runtime::Runtime> {
    static MULTI: Started = OnceLock::new();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).thread_name("talaria-plugin-mt");
    started(&MULTI, builder, "multi-threaded runtime")
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

#[cfg(all(test, feature = "multi-thread"))]
mod tests {
    #[test]
    fn spawned_tasks_run_while_the_caller_waits() {
        let rt = super::multi_thread().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            tx.send(std::thread::current().name().map(str::to_owned))
                .unwrap();
        });
        let name = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(name.as_deref(), Some("talaria-plugin-mt"));
    }
}
