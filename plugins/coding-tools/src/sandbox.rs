//! The sandbox a command runs in on Linux, as Codex's Linux sandbox builds it
//! (reference: codex-tools.md §5): landlock lets the command read the whole file system
//! and write only below the writable roots (and `/dev/null`); a seccomp filter answers
//! `EPERM` to network system calls (a socket may only be a Unix one). Both bind only
//! the child: they are prepared in the parent and switched on between `fork` and
//! `exec`, where only system calls run (no allocation).
//!
//! Where the kernel has no landlock the sandbox cannot hold: [`landlock_abi`] says so,
//! and the policy then asks for every command that is not known to be safe.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a sandboxed command may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// Folders (and files) the command may write below; empty for `read-only`.
    pub writable: Vec<PathBuf>,
}

/// Words in a failed command's output that say the sandbox stopped it.
const DENIAL_WORDS: &[&str] = &[
    "operation not permitted",
    "permission denied",
    "read-only file system",
    "seccomp",
    "sandbox",
    "landlock",
    "failed to write file",
];

/// Whether a sandboxed command's failure looks like the sandbox's doing. Exit codes 2,
/// 126 and 127 are the command's own (usage, not executable, not found).
pub fn looks_denied(exit_code: i32, output: &str) -> bool {
    if exit_code == 0 || [2, 126, 127].contains(&exit_code) {
        return false;
    }
    // Killed by SIGSYS: a system call the filter forbids outright.
    if exit_code == 128 + 31 {
        return true;
    }
    let lower = output.to_lowercase();
    DENIAL_WORDS.iter().any(|w| lower.contains(w))
}

/// The kernel's landlock ABI version, or `None` when it has none (too old, or landlock
/// not enabled among its security modules).
#[cfg(target_os = "linux")]
pub fn landlock_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute, zero size and the VERSION flag the call only
    // reports the ABI version; it takes no memory from us.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version)
}

#[cfg(not(target_os = "linux"))]
pub fn landlock_abi() -> Option<i64> {
    None
}

/// The writable roots of `workspace-write`: the workspace, `/tmp`, `$TMPDIR`, and the
/// roots the profile declares.
pub fn workspace_roots(workspace: &Path, declared: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots = vec![workspace.to_path_buf(), PathBuf::from("/tmp")];
    if let Some(tmp) = std::env::var_os("TMPDIR").filter(|t| !t.is_empty()) {
        roots.push(PathBuf::from(tmp));
    }
    roots.extend(declared.iter().cloned());
    roots
}

/// Whether `path` is below one of `roots` (after resolving `..` and symlinks of the
/// part that exists).
pub fn is_below(path: &Path, roots: &[PathBuf]) -> bool {
    let path = resolve_existing(path);
    roots
        .iter()
        .any(|root| path.starts_with(resolve_existing(root)))
}

/// The path with its longest existing prefix canonicalised and the rest appended.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(real) = current.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (current.parent(), current.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                current = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Arranges for `command` to run confined. Fails (before anything runs) when the rules
/// cannot be built.
#[cfg(target_os = "linux")]
pub fn confine(command: &mut Command, confinement: &Confinement) -> Result<(), String> {
    use std::os::unix::process::CommandExt;

    let ruleset = linux::ruleset(&confinement.writable)?;
    let filter = linux::network_filter()?;
    let mut ruleset = Some(ruleset);
    // SAFETY: the closure runs in the child between fork and exec. It only makes system
    // calls (prctl, landlock_restrict_self, seccomp) on data prepared above.
    unsafe {
        command.pre_exec(move || {
            if let Some(ruleset) = ruleset.take() {
                ruleset
                    .restrict_self()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            seccompiler::apply_filter(&filter).map_err(|e| std::io::Error::other(e.to_string()))
        });
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn confine(_command: &mut Command, _confinement: &Confinement) -> Result<(), String> {
    Err("the sandbox needs Linux (landlock)".into())
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use landlock::{
        path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreated,
        RulesetCreatedAttr, ABI,
    };
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    /// The newest landlock ABI these rules are written for; older kernels enforce what
    /// they can (the crate's best-effort mode).
    const ABI_TARGET: ABI = ABI::V5;

    pub fn ruleset(writable: &[PathBuf]) -> Result<RulesetCreated, String> {
        let all = AccessFs::from_all(ABI_TARGET);
        let read = AccessFs::from_read(ABI_TARGET);
        let mut writable: Vec<PathBuf> = writable.iter().filter(|p| p.exists()).cloned().collect();
        writable.push(PathBuf::from("/dev/null"));
        let failed = |e: landlock::RulesetError| format!("cannot build the sandbox: {e}");
        Ruleset::default()
            .handle_access(all)
            .map_err(failed)?
            .create()
            .map_err(failed)?
            .add_rules(path_beneath_rules(["/"], read))
            .map_err(failed)?
            .add_rules(path_beneath_rules(&writable, all))
            .map_err(failed)
    }

    /// `EPERM` for the network system calls; `socket`/`socketpair` only for `AF_UNIX`.
    pub fn network_filter() -> Result<BpfProgram, String> {
        let failed = |e: seccompiler::BackendError| format!("cannot build the network filter: {e}");
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for call in [
            libc::SYS_connect,
            libc::SYS_accept,
            libc::SYS_accept4,
            libc::SYS_bind,
            libc::SYS_listen,
            libc::SYS_getpeername,
            libc::SYS_getsockname,
            libc::SYS_shutdown,
            libc::SYS_sendto,
            libc::SYS_sendmmsg,
            libc::SYS_recvmmsg,
            libc::SYS_getsockopt,
            libc::SYS_setsockopt,
            libc::SYS_ptrace,
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
        ] {
            rules.insert(call, Vec::new());
        }
        for call in [libc::SYS_socket, libc::SYS_socketpair] {
            let not_unix = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                libc::AF_UNIX as u64,
            )
            .map_err(failed)?;
            rules.insert(
                call,
                vec![SeccompRule::new(vec![not_unix]).map_err(failed)?],
            );
        }
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| format!("cannot build the network filter: {e}"))?;
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(failed)?;
        filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| failed(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_told_from_ordinary_failures() {
        assert!(looks_denied(
            1,
            "touch: cannot touch '/x': Permission denied"
        ));
        assert!(looks_denied(1, "bash: /etc/x: Read-only file system"));
        assert!(!looks_denied(0, "permission denied"));
        assert!(!looks_denied(127, "sandbox: command not found"));
        assert!(!looks_denied(1, "error: test failed"));
        assert!(looks_denied(159, ""));
    }

    #[test]
    fn below_resolves_dots_and_missing_tails() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = tmp.path().join("ws");
        std::fs::create_dir(&root).unwrap_or_else(|e| panic!("{e}"));
        let roots = vec![root.clone()];
        assert!(is_below(&root.join("new/dir/file"), &roots));
        assert!(!is_below(&root.join("../outside"), &roots));
        assert!(!is_below(Path::new("/etc/passwd"), &roots));
    }
}
