//! An axum app served on 127.0.0.1 from a thread of its own until dropped: the one
//! lifecycle of the mock backend and the OAuth-protected MCP server.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use tokio::sync::oneshot;

pub struct Served {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Binds a free port on 127.0.0.1 and serves the app `app` builds for that address
    /// (the apps name their own URLs).
    pub fn start(name: &str, app: impl FnOnce(SocketAddr) -> Router) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let app = app(addr);
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    // Without TCP_NODELAY, Nagle's algorithm holds small frames back by
                    // ~40 ms, which the benchmarks would charge to the client.
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("server listener")
                        .tap_io(|stream| {
                            let _ = stream.set_nodelay(true);
                        });
                    tokio::select! {
                        _ = axum::serve(listener, app).into_future() => {}
                        _ = stop => {}
                    }
                });
                // Open connections (stalled streams, websockets) are cancelled here.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .expect("spawn the server thread");
        Served {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
