//! Running one command to its end: stdout and stderr in one stream (in the order they
//! were written), a timeout that kills the whole process group, cancellation, and the
//! sandbox when one is asked for.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::sandbox::{self, Confinement};

/// Exit code of a command that ran out of time (as `timeout(1)` and Codex say).
pub const TIMEOUT_EXIT: i32 = 124;
/// How long output may keep coming after the command exits (a background child still
/// holding the pipe) before it is cut off.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    /// `None`: unsandboxed.
    pub sandbox: Option<Confinement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i32,
    pub output: String,
    pub wall: Duration,
    pub timed_out: bool,
}

/// The output collected so far by a reader thread.
#[derive(Clone, Default)]
pub struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    pub fn take_from(&self, start: usize) -> Vec<u8> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        bytes.get(start..).map(<[u8]>::to_vec).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A spawned command whose stdout and stderr are read into one buffer.
pub struct Running {
    pub child: Child,
    pub output: Collected,
    reader: std::thread::JoinHandle<()>,
}

/// Builds the command (process group of its own, sandbox) and starts it; `stdin`
/// says whether it gets a pipe (for `write_stdin`) or nothing.
pub fn spawn(req: &ExecRequest, stdin: bool) -> std::io::Result<Running> {
    let Some((program, args)) = req.argv.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    let mut command = Command::new(program);
    command.args(args).current_dir(&req.cwd).process_group(0);
    command.stdin(if stdin { Stdio::piped() } else { Stdio::null() });
    let (mut reader, writer) = std::io::pipe()?;
    command.stdout(writer.try_clone()?).stderr(writer);
    if let Some(confinement) = &req.sandbox {
        sandbox::confine(&mut command, confinement).map_err(std::io::Error::other)?;
    }
    let child = command.spawn()?;
    // The parent's copies of the pipe's write end must close, or reading never ends.
    drop(command);
    let output = Collected::default();
    let sink = output.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]),
            }
        }
    });
    Ok(Running {
        child,
        output,
        reader,
    })
}

impl Running {
    /// Kills the command and everything it started.
    pub fn kill_group(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group the child leads
        // (it was started with a group of its own).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
    }

    /// Waits up to `limit` for the command to exit; its exit code when it has.
    pub fn wait_for(&mut self, limit: Duration, cancelled: &dyn Fn() -> bool) -> Option<i32> {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(exit_code(status));
            }
            if Instant::now() >= until || cancelled() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lets the reader finish (briefly), then stops whatever still holds the pipe.
    pub fn drain(mut self) -> Vec<u8> {
        let until = Instant::now() + DRAIN_GRACE;
        while !self.reader.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !self.reader.is_finished() {
            self.kill_group();
        }
        let _ = self.child.wait();
        self.output.take_from(0)
    }
}

pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs a command to its end (or its timeout, or cancellation).
pub fn run(req: &ExecRequest, cancelled: &dyn Fn() -> bool) -> std::io::Result<ExecOutput> {
    let started = Instant::now();
    let mut running = spawn(req, false)?;
    let code = running.wait_for(req.timeout, cancelled);
    let timed_out = code.is_none() && !cancelled();
    if code.is_none() {
        running.kill_group();
    }
    let bytes = running.drain();
    Ok(ExecOutput {
        exit_code: code.unwrap_or(TIMEOUT_EXIT),
        output: String::from_utf8_lossy(&bytes).into_owned(),
        wall: started.elapsed(),
        timed_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(script: &str, timeout_ms: u64) -> ExecRequest {
        ExecRequest {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            timeout: Duration::from_millis(timeout_ms),
            sandbox: None,
        }
    }

    #[test]
    fn output_is_interleaved_and_the_exit_code_kept() {
        let out = run(
            &req("echo one; echo two >&2; echo three; exit 3", 5000),
            &|| false,
        )
        .unwrap();
        assert_eq!(out.output, "one\ntwo\nthree\n");
        assert_eq!(out.exit_code, 3);
        assert!(!out.timed_out);
    }

    #[test]
    fn a_timeout_kills_the_group() {
        let out = run(&req("echo start; sleep 30 & sleep 30", 300), &|| false).unwrap();
        assert!(out.timed_out);
        assert_eq!(out.exit_code, TIMEOUT_EXIT);
        assert_eq!(out.output, "start\n");
        assert!(out.wall < Duration::from_secs(5), "{:?}", out.wall);
    }
}
