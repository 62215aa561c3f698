//! The JSON-RPC connection to one `codex app-server` child over stdio.
//!
//! Codex writes one JSON object per line and mixes three kinds of message in any order:
//! responses to our requests (matched here by id), notifications, and requests of its
//! own (approvals, questions), which have an id of their own id space *and* a method.
//! One reader thread sorts them: responses go to whoever waits for that id, the rest go
//! to the inbox the turn loop drains. Another thread keeps the last lines of stderr for
//! error messages. Messages carry no `"jsonrpc"` field in either direction.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use talaria_sdk::redact::redact;

use crate::spawn::spawn_child;

/// Lines of codex's stderr kept for error messages.
const STDERR_LINES: usize = 12;

/// A message codex sent that is not a response to us.
#[derive(Debug, Clone)]
pub enum Inbound {
    Notification {
        method: String,
        params: Value,
    },
    /// A request of codex's: answer it with [`Connection::reply`] or [`Connection::reply_error`].
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// Codex's stdout closed: the process exited or is exiting.
    Closed,
}

/// Why a request got no result.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcError {
    /// Codex answered with a JSON-RPC error.
    Remote {
        code: i64,
        message: String,
    },
    /// No answer within the deadline.
    Timeout,
    /// The process is gone.
    Closed,
    Io(String),
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcError::Remote { code, message } => write!(f, "{message} (error {code})"),
            RpcError::Timeout => write!(f, "codex did not answer in time"),
            RpcError::Closed => write!(f, "the codex process exited"),
            RpcError::Io(e) => write!(f, "cannot talk to codex: {e}"),
        }
    }
}

/// JSON-RPC "server overloaded; retry later".
pub const OVERLOADED: i64 = -32001;

type Pending = Arc<Mutex<HashMap<i64, Sender<Result<Value, RpcError>>>>>;

pub struct Connection {
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    next_id: AtomicI64,
    pending: Pending,
    inbox: Mutex<Receiver<Inbound>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    closed: Arc<AtomicBool>,
    /// The trace, when asked for: every message written, and codex's requests (so a
    /// reply can be matched to what it answers; the tests validate both against codex's
    /// schema).
    trace: Option<Trace>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connection {
    /// Starts `command` (already holding `app-server` and its environment) with piped
    /// stdio and the reader threads.
    pub fn spawn(
        mut command: Command,
        trace: Option<std::path::PathBuf>,
    ) -> std::io::Result<Connection> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_child(command)?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("codex stdout was not piped"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("codex stderr was not piped"))?;
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let trace = match trace {
            Some(path) => Some(Trace(Arc::new(Mutex::new({
                // The protocol trace holds the conversation: the user's alone.
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                options.open(path)?
            })))),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        {
            let pending = pending.clone();
            let closed = closed.clone();
            let trace = trace.clone();
            std::thread::Builder::new()
                .name("codex-reader".into())
                .spawn(move || read_stdout(stdout, &pending, &tx, &closed, trace.as_ref()))?;
        }
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        {
            let tail = stderr_tail.clone();
            std::thread::Builder::new()
                .name("codex-stderr".into())
                .spawn(move || {
                    // Lossy bytes, not `lines()`, which stops at the first line that is not
                    // UTF-8: then nobody drains the pipe, and codex blocks once it is full.
                    let mut stderr = BufReader::new(stderr);
                    let mut line = Vec::new();
                    while matches!(stderr.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                        let text = String::from_utf8_lossy(&line);
                        let text = text.trim_end_matches(['\n', '\r']).to_owned();
                        line.clear();
                        let mut tail = lock(&tail);
                        if tail.len() == STDERR_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(text);
                    }
                })?;
        }
        Ok(Connection {
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            next_id: AtomicI64::new(1),
            pending,
            inbox: Mutex::new(rx),
            stderr_tail,
            closed,
            trace,
        })
    }

    fn write(&self, message: &Value) -> Result<(), RpcError> {
        let mut line = message.to_string();
        line.push('\n');
        if let Some(trace) = &self.trace {
            trace.record("out", message);
        }
        let mut stdin = lock(&self.stdin);
        let Some(stdin) = stdin.as_mut() else {
            return Err(RpcError::Closed);
        };
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    RpcError::Closed
                } else {
                    RpcError::Io(e.to_string())
                }
            })
    }

    /// Sends a request and waits up to `timeout` for its result. Notifications and
    /// codex's own requests that arrive meanwhile stay in the inbox.
    pub fn request(
        &self,
        method: &str,
        params: &impl Serialize,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        lock(&self.pending).insert(id, tx);
        let params = serde_json::to_value(params).map_err(|e| RpcError::Io(e.to_string()))?;
        if let Err(e) = self.write(&json!({ "id": id, "method": method, "params": params })) {
            lock(&self.pending).remove(&id);
            return Err(e);
        }
        if self.closed.load(Ordering::SeqCst) {
            lock(&self.pending).remove(&id);
            return Err(RpcError::Closed);
        }
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                lock(&self.pending).remove(&id);
                Err(RpcError::Timeout)
            }
            Err(RecvTimeoutError::Disconnected) => Err(RpcError::Closed),
        }
    }

    pub fn notify(&self, method: &str) -> Result<(), RpcError> {
        self.write(&json!({ "method": method }))
    }

    pub fn reply(&self, id: &Value, result: &impl Serialize) -> Result<(), RpcError> {
        let result = serde_json::to_value(result).map_err(|e| RpcError::Io(e.to_string()))?;
        self.write(&json!({ "id": id, "result": result }))
    }

    pub fn reply_error(&self, id: &Value, code: i64, message: &str) -> Result<(), RpcError> {
        self.write(&json!({ "id": id, "error": { "code": code, "message": message } }))
    }

    /// The next message from codex, waiting at most `timeout` (`None` when nothing came).
    pub fn next(&self, timeout: Duration) -> Option<Inbound> {
        match lock(&self.inbox).recv_timeout(timeout) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Inbound::Closed),
        }
    }

    /// The next message if one is already waiting.
    pub fn try_next(&self) -> Option<Inbound> {
        match lock(&self.inbox).try_recv() {
            Ok(message) => Some(message),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Inbound::Closed),
        }
    }

    /// True once codex's stdout has closed or the process has exited.
    pub fn is_closed(&self) -> bool {
        if self.closed.load(Ordering::SeqCst) {
            return true;
        }
        matches!(lock(&self.child).try_wait(), Ok(Some(_)))
    }

    /// The last lines codex wrote on stderr, secrets redacted.
    pub fn stderr_tail(&self) -> String {
        let lines: Vec<String> = lock(&self.stderr_tail).iter().map(|l| redact(l)).collect();
        lines.join("\n")
    }

    /// Ends the process: closes stdin (codex exits on EOF), waits briefly, then kills.
    pub fn shutdown(&self) {
        lock(&self.stdin).take();
        let mut child = lock(&self.child);
        // Codex usually exits within a few milliseconds of EOF; a fine poll keeps a
        // one-shot `chat -q` from waiting out a coarse tick after it has gone.
        let deadline = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the process at once (a wedged codex).
    pub fn kill(&self) {
        lock(&self.stdin).take();
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `TALARIA_CODEX_TRACE`: one JSON object per line, `{"dir": "out"|"in", "message": …}`.
#[derive(Clone)]
struct Trace(Arc<Mutex<std::fs::File>>);

impl Trace {
    fn record(&self, dir: &str, message: &Value) {
        let mut line = json!({ "dir": dir, "message": message }).to_string();
        line.push('\n');
        let _ = lock(&self.0).write_all(line.as_bytes());
    }
}

/// Runs the reader over `input` as if codex had written it, with requests 1 to 3
/// waiting for answers: what each of them got (`None`: no answer), and what reached the
/// inbox, ending with [`Inbound::Closed`]. Public so that the fuzz targets
/// (`fuzz-targets/`) feed bytes to the reader the connection runs.
pub fn read_all(input: impl Read) -> (Vec<Option<Result<Value, RpcError>>>, Vec<Inbound>) {
    let pending: Pending = Arc::default();
    let waiters: Vec<_> = (1..=3)
        .map(|id| {
            let (tx, rx) = mpsc::channel();
            lock(&pending).insert(id, tx);
            rx
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    read_stdout(input, &pending, &tx, &AtomicBool::new(false), None);
    drop(tx);
    let answers = waiters.iter().map(|rx| rx.try_recv().ok()).collect();
    (answers, rx.try_iter().collect())
}

fn read_stdout(
    stdout: impl Read,
    pending: &Pending,
    inbox: &Sender<Inbound>,
    closed: &AtomicBool,
    trace: Option<&Trace>,
) {
    let mut stdout = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bytes, not `lines()`: a line that is not UTF-8 is one stray line to skip, where
        // `lines()` would end the reading (and so the session) with an error.
        match stdout.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Ok(message) = serde_json::from_slice::<Value>(&line) else {
            continue; // not JSON: codex logs only to stderr, but never trip on a stray line
        };
        match classify(message) {
            Classified::Response { id, result } => {
                if let Some(waiter) = lock(pending).remove(&id) {
                    let _ = waiter.send(result);
                }
            }
            Classified::Inbound(message) => {
                if let (Some(trace), Inbound::Request { id, method, params }) = (trace, &message) {
                    trace.record(
                        "in",
                        &json!({ "id": id, "method": method, "params": params }),
                    );
                }
                if inbox.send(message).is_err() {
                    break;
                }
            }
            Classified::Ignored => {}
        }
    }
    closed.store(true, Ordering::SeqCst);
    // Waiters see the channel close and report `Closed`.
    lock(pending).clear();
    let _ = inbox.send(Inbound::Closed);
}

enum Classified {
    Response {
        id: i64,
        result: Result<Value, RpcError>,
    },
    Inbound(Inbound),
    Ignored,
}

fn classify(mut message: Value) -> Classified {
    let method = message
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let params = message
        .get_mut("params")
        .map(Value::take)
        .unwrap_or(Value::Null);
    match (message.get("id").cloned(), method) {
        (Some(id), Some(method)) => Classified::Inbound(Inbound::Request { id, method, params }),
        (None, Some(method)) => Classified::Inbound(Inbound::Notification { method, params }),
        (Some(id), None) => {
            let Some(id) = id.as_i64() else {
                return Classified::Ignored; // we only send integer ids
            };
            let result = match message.get_mut("error") {
                Some(error) => Err(RpcError::Remote {
                    code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .to_owned(),
                }),
                None => Ok(message
                    .get_mut("result")
                    .map(Value::take)
                    .unwrap_or(Value::Null)),
            };
            Classified::Response { id, result }
        }
        (None, None) => Classified::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz target `codex_rpc` (fuzz-targets/): a line that is not UTF-8
    /// ended the reader, so codex's next messages were lost and the turn hung up.
    #[test]
    fn a_line_that_is_not_utf8_is_skipped_not_the_end() {
        let input =
            b"\xff[[\n{\"method\":\"turn/started\",\"params\":{}}\n{\"id\":2,\"result\":7}\n";
        let (answers, inbox) = read_all(&input[..]);
        assert!(
            matches!(&inbox[..], [Inbound::Notification { method, .. }, Inbound::Closed] if method == "turn/started"),
            "{inbox:?}"
        );
        assert_eq!(answers, vec![None, Some(Ok(json!(7))), None]);
    }

    #[test]
    fn stderr_that_is_not_utf8_is_still_read() {
        let mut command = Command::new("sh");
        command.args(["-c", "printf 'bad \\377 byte\\nlast words\\n' >&2"]);
        let connection = Connection::spawn(command, None).unwrap();
        assert!(matches!(
            connection.next(Duration::from_secs(10)),
            Some(Inbound::Closed)
        ));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !connection.stderr_tail().contains("last words")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let tail = connection.stderr_tail();
        assert!(
            tail.contains("bad \u{fffd} byte") && tail.contains("last words"),
            "{tail:?}"
        );
    }

    #[test]
    fn messages_are_sorted_by_shape() {
        let c = classify(json!({"id": 3, "result": {"ok": true}}));
        assert!(matches!(
            c,
            Classified::Response {
                id: 3,
                result: Ok(_)
            }
        ));
        let c = classify(
            json!({"id": 0, "method": "item/commandExecution/requestApproval", "params": {}}),
        );
        assert!(matches!(c, Classified::Inbound(Inbound::Request { .. })));
        let c = classify(json!({"method": "turn/started", "params": {}, "emittedAtMs": 1}));
        assert!(matches!(
            c,
            Classified::Inbound(Inbound::Notification { .. })
        ));
        let c = classify(json!({"id": 4, "error": {"code": -32001, "message": "busy"}}));
        assert!(matches!(
            c,
            Classified::Response {
                id: 4,
                result: Err(RpcError::Remote {
                    code: OVERLOADED,
                    ..
                })
            }
        ));
    }
}
