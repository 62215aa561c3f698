//! Starting the codex child so that it never outlives talaria and never sees the
//! terminal's Ctrl+C.
//!
//! - Its own process group: Ctrl+C in a terminal signals the whole foreground group, and
//!   an interrupt is talaria's to turn into `turn/interrupt`, not codex's to die of.
//! - `PR_SET_PDEATHSIG`: the kernel sends SIGTERM to codex when the thread that spawned it
//!   ends. The host calls plugins on threads that come and go, so every child is spawned
//!   from one thread of this plugin that lives as long as the process: when talaria exits
//!   (even by `exit()` without running destructors), codex is told to go too, and its MCP
//!   servers follow when their stdin closes.

use std::process::{Child, Command};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock, PoisonError};

type Job = (Command, Sender<std::io::Result<Child>>);

fn spawner() -> std::io::Result<Sender<Job>> {
    static SPAWNER: OnceLock<Mutex<Option<Sender<Job>>>> = OnceLock::new();
    let cell = SPAWNER.get_or_init(|| Mutex::new(None));
    let mut slot = cell.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(tx) = slot.as_ref() {
        return Ok(tx.clone());
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("codex-spawner".into())
        .spawn(move || {
            for (mut command, reply) in rx {
                let _ = reply.send(spawn_here(&mut command));
            }
        })?;
    *slot = Some(tx.clone());
    Ok(tx)
}

#[cfg(target_os = "linux")]
fn spawn_here(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (setpgid, prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            // The parent may have died between fork and prctl.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    command.spawn()
}

#[cfg(not(target_os = "linux"))]
fn spawn_here(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    command.spawn()
}

/// Spawns `command` from the plugin's long-lived spawner thread.
pub fn spawn_child(command: Command) -> std::io::Result<Child> {
    let (tx, rx) = mpsc::channel();
    spawner()?
        .send((command, tx))
        .map_err(|_| std::io::Error::other("the codex spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the codex spawner thread is gone"))?
}
