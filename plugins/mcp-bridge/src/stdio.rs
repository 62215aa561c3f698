//! A local MCP server's process: started with its stdin and stdout as the transport,
//! its stderr kept (the last few KiB) to explain a crash, and its stdout checked for
//! messages over the size limit, which would otherwise be dropped silently and leave
//! the client waiting.

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use talaria_sdk::mcp::McpServer;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::process::{Child, ChildStdin};

/// The largest message a server may send: one line of JSON-RPC.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// How much of a server's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// What went wrong on the process side, for error messages.
#[derive(Default)]
pub struct Diagnostics {
    stderr: Mutex<Vec<u8>>,
    oversized: Mutex<Option<usize>>,
}

impl Diagnostics {
    /// A sentence to append to a failure: an oversized message, the exit status, the
    /// end of stderr.
    pub fn explain(&self, child: &mut Child) -> String {
        let mut parts = Vec::new();
        if let Some(n) = *self
            .oversized
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            parts.push(format!(
                "it sent a message of more than {n} bytes (the limit is {} MiB)",
                MAX_MESSAGE_BYTES / (1024 * 1024)
            ));
        }
        // A server that just closed its stdout may take a moment to be reaped: this is
        // the failure path, a short wait is worth the clearer message.
        for _ in 0..10 {
            if let Ok(Some(status)) = child.try_wait() {
                parts.push(format!("it exited ({status})"));
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let stderr = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        let tail = String::from_utf8_lossy(&stderr);
        let tail = tail.trim();
        if !tail.is_empty() {
            parts.push(format!("its stderr ends: {tail}"));
        }
        parts.join("; ")
    }
}

pub struct Process {
    pub child: Child,
    pub stdout: LimitedLines,
    pub stdin: ChildStdin,
    pub diagnostics: Arc<Diagnostics>,
}

/// Starts the server's program (killed when the connection is dropped).
pub fn spawn(name: &str, program: &str, config: &McpServer) -> Result<Process, String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(&config.args)
        .envs(&config.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &config.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|e| {
        format!("MCP server {name}: cannot start {program:?}: {e}; check `command` in [mcp_servers.{name}]")
    })?;
    let missing = || format!("MCP server {name}: its standard streams were not set up");
    let stdin = child.stdin.take().ok_or_else(missing)?;
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let mut stderr = child.stderr.take().ok_or_else(missing)?;
    let diagnostics = Arc::new(Diagnostics::default());
    let keep = diagnostics.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut tail = keep.stderr.lock().unwrap_or_else(PoisonError::into_inner);
            tail.extend_from_slice(&buf[..n]);
            let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
            tail.drain(..excess);
        }
    });
    Ok(Process {
        child,
        stdout: LimitedLines {
            inner: stdout,
            line: 0,
            diagnostics: diagnostics.clone(),
        },
        stdin,
        diagnostics,
    })
}

/// The server's stdout, failing (and saying so) once a line grows past the limit.
pub struct LimitedLines {
    inner: tokio::process::ChildStdout,
    line: usize,
    diagnostics: Arc<Diagnostics>,
}

impl AsyncRead for LimitedLines {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let start = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            for &byte in &buf.filled()[start..] {
                if byte == b'\n' {
                    self.line = 0;
                } else {
                    self.line += 1;
                }
            }
            if self.line > MAX_MESSAGE_BYTES {
                *self
                    .diagnostics
                    .oversized
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(MAX_MESSAGE_BYTES);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "message over the size limit",
                )));
            }
        }
        poll
    }
}
