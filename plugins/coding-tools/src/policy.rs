//! When a command or a patch runs without asking, asks, or is refused: Codex's
//! approval policies × sandbox modes (reference: codex-tools.md §5), and its lists of
//! known-safe and dangerous commands.
//!
//! The host answers the questions this raises (`--approvals ask|auto|deny`); this
//! module only decides which questions there are.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalPolicy {
    /// Only known-safe commands run unasked.
    Untrusted,
    /// Commands run sandboxed; the model may ask to leave the sandbox (the default).
    OnRequest,
    /// Commands run sandboxed; a sandbox denial asks to run again without it.
    OnFailure,
    /// Never asks; what the sandbox stops goes back to the model.
    Never,
}

impl ApprovalPolicy {
    pub fn parse(s: Option<&str>) -> ApprovalPolicy {
        match s {
            Some("untrusted") => ApprovalPolicy::Untrusted,
            Some("on-failure") => ApprovalPolicy::OnFailure,
            Some("never") => ApprovalPolicy::Never,
            _ => ApprovalPolicy::OnRequest,
        }
    }
}

impl fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApprovalPolicy::Untrusted => "untrusted",
            ApprovalPolicy::OnRequest => "on-request",
            ApprovalPolicy::OnFailure => "on-failure",
            ApprovalPolicy::Never => "never",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl SandboxMode {
    pub fn parse(s: Option<&str>) -> SandboxMode {
        match s {
            Some("read-only") => SandboxMode::ReadOnly,
            Some("danger-full-access") => SandboxMode::DangerFullAccess,
            _ => SandboxMode::WorkspaceWrite,
        }
    }
}

/// How a command starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Run {
        sandboxed: bool,
    },
    /// Ask the user first; if accepted, run (sandboxed or not).
    Ask {
        sandboxed: bool,
    },
    /// Refused, with the text the model gets.
    Reject(String),
}

/// What one command call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandFacts {
    pub known_safe: bool,
    pub dangerous: bool,
    /// `sandbox_permissions: "require_escalated"` (or the older `with_escalated_permissions`).
    pub escalated: bool,
}

/// How a command starts under a policy and sandbox mode; `landlock` says whether the
/// kernel can hold the sandbox at all.
pub fn start(
    policy: ApprovalPolicy,
    mode: SandboxMode,
    facts: CommandFacts,
    landlock: bool,
) -> Start {
    use ApprovalPolicy::*;
    if facts.escalated && mode != SandboxMode::DangerFullAccess {
        return if policy == OnRequest {
            Start::Ask { sandboxed: false }
        } else {
            Start::Reject(format!(
                "approval policy is {policy}; reject command — you should not ask for escalated permissions if the approval policy is {policy}"
            ))
        };
    }
    if mode == SandboxMode::DangerFullAccess {
        return if policy == Untrusted && !facts.known_safe {
            Start::Ask { sandboxed: false }
        } else {
            Start::Run { sandboxed: false }
        };
    }
    if !landlock {
        // No sandbox to lean on: only what is known to be harmless runs unasked.
        return if facts.known_safe {
            Start::Run { sandboxed: false }
        } else if policy == Never {
            Start::Reject(
                "this command cannot run: the kernel offers no landlock sandbox and the approval policy is never, so only known-safe read-only commands run".into(),
            )
        } else {
            Start::Ask { sandboxed: false }
        };
    }
    match policy {
        Untrusted if facts.known_safe => Start::Run { sandboxed: true },
        Untrusted => Start::Ask { sandboxed: true },
        OnRequest if facts.dangerous => Start::Ask { sandboxed: true },
        Never if facts.dangerous => Start::Reject(
            "this command is refused: it deletes with force, and the approval policy is never"
                .into(),
        ),
        OnRequest | OnFailure | Never => Start::Run { sandboxed: true },
    }
}

/// Whether a command the sandbox stopped may be offered to the user to run again
/// without it.
pub fn ask_after_denial(policy: ApprovalPolicy) -> bool {
    matches!(
        policy,
        ApprovalPolicy::Untrusted | ApprovalPolicy::OnFailure
    )
}

/// How a patch is handled: `writable` says whether every file it touches is inside
/// the writable roots.
pub fn patch_start(policy: ApprovalPolicy, writable: bool) -> Start {
    match policy {
        ApprovalPolicy::Untrusted => Start::Ask { sandboxed: false },
        // This tool writes the files itself, outside any sandbox: a file outside the
        // writable roots is the user's call (Codex would let its sandbox refuse it).
        _ if writable => Start::Run { sandboxed: false },
        ApprovalPolicy::Never => Start::Reject(
            "writing outside of the project; rejected by user approval settings".into(),
        ),
        _ => Start::Ask { sandboxed: false },
    }
}

// ---- known-safe and dangerous commands ----

/// Commands that only read, whatever their arguments.
const SAFE: &[&str] = &[
    "cat", "cd", "cut", "echo", "expr", "false", "grep", "head", "id", "ls", "nl", "paste", "pwd",
    "rev", "seq", "stat", "tail", "tr", "true", "uname", "uniq", "wc", "which", "whoami", "numfmt",
    "tac",
];

/// Whether an argv only reads.
pub fn is_known_safe_argv(argv: &[String]) -> bool {
    let Some(program) = argv.first() else {
        return false;
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    let args = &argv[1..];
    let has = |flags: &[&str]| {
        args.iter().any(|a| {
            flags
                .iter()
                .any(|f| a == f || a.starts_with(&format!("{f}=")))
        })
    };
    match name {
        n if SAFE.contains(&n) => true,
        "base64" => !has(&["-o", "--output"]),
        "find" => !has(&[
            "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0",
            "-fprintf",
        ]),
        "rg" => !has(&["--pre", "--hostname-bin", "--search-zip", "-z"]),
        "sed" => args.len() >= 2 && args[0] == "-n" && is_print_range(&args[1]),
        "bash" | "zsh" | "sh" if args.len() == 2 && (args[0] == "-lc" || args[0] == "-c") => {
            is_known_safe_script(&args[1])
        }
        _ => false,
    }
}

/// `N p` or `N,M p` (sed's print of a line range).
fn is_print_range(s: &str) -> bool {
    let Some(range) = s.strip_suffix('p') else {
        return false;
    };
    let mut parts = range.split(',');
    let num =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match (parts.next(), parts.next(), parts.next()) {
        (a, None, None) => num(a),
        (a, Some(b), None) => num(a) && num(Some(b)),
        _ => false,
    }
}

/// A shell script made only of known-safe plain commands joined by `&&`, `||`, `;`
/// or `|` (no redirections, substitutions or background jobs).
pub fn is_known_safe_script(script: &str) -> bool {
    if script.trim().is_empty() {
        return false;
    }
    if ["`", "$(", ">", "<", "\n", "&&&"]
        .iter()
        .any(|t| script.contains(t))
    {
        return false;
    }
    // A lone `&` (a background job) is not a separator we accept.
    let without_and = script.replace("&&", "");
    if without_and.contains('&') {
        return false;
    }
    split_commands(script).iter().all(|part| {
        shlex::split(part).is_some_and(|argv| !argv.is_empty() && is_known_safe_argv(&argv))
    })
}

fn split_commands(script: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = script.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '&' | '|' if !single && !double => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                parts.push(String::new());
                continue;
            }
            ';' if !single && !double => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// `rm` with `-f`/`--force` (also behind `sudo`, or inside a script).
pub fn is_dangerous_argv(argv: &[String]) -> bool {
    let argv: &[String] = match argv.first().map(String::as_str) {
        Some("sudo") => &argv[1..],
        _ => argv,
    };
    match argv.first().map(String::as_str) {
        Some("rm") => argv[1..].iter().any(|a| {
            a == "--force" || (a.starts_with('-') && !a.starts_with("--") && a.contains('f'))
        }),
        Some("bash" | "zsh" | "sh") if argv.len() == 3 && (argv[1] == "-lc" || argv[1] == "-c") => {
            is_dangerous_script(&argv[2])
        }
        _ => false,
    }
}

pub fn is_dangerous_script(script: &str) -> bool {
    split_commands(script)
        .iter()
        .any(|part| shlex::split(part).is_some_and(|argv| is_dangerous_argv(&argv)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        shlex::split(s).unwrap_or_default()
    }

    #[test]
    fn known_safe_commands() {
        for safe in [
            "ls -la",
            "cat a b",
            "sed -n 1,20p f",
            "rg foo src",
            "find . -name x",
            "git",
        ] {
            let expect = safe != "git";
            assert_eq!(is_known_safe_argv(&argv(safe)), expect, "{safe}");
        }
        for unsafe_ in [
            "find . -delete",
            "rg --pre x foo",
            "sed -i s/a/b/ f",
            "base64 -o out f",
            "touch x",
        ] {
            assert!(!is_known_safe_argv(&argv(unsafe_)), "{unsafe_}");
        }
        assert!(is_known_safe_script("ls && cat x | wc -l; pwd"));
        assert!(is_known_safe_script("grep -n 'a && b' file"));
        for s in [
            "ls > out",
            "echo $(rm x)",
            "ls & rm x",
            "ls; touch x",
            "cat <f",
            "",
        ] {
            assert!(!is_known_safe_script(s), "{s}");
        }
        assert!(is_known_safe_argv(&argv("bash -lc 'ls && pwd'")));
        assert!(!is_known_safe_argv(&argv("bash -lc 'ls && touch x'")));
    }

    #[test]
    fn dangerous_commands() {
        assert!(is_dangerous_argv(&argv("rm -rf /")));
        assert!(is_dangerous_argv(&argv("sudo rm --force x")));
        assert!(is_dangerous_script("cd x && rm -f y"));
        assert!(!is_dangerous_argv(&argv("rm x")));
        assert!(!is_dangerous_script("ls -f"));
    }

    #[test]
    fn policy_times_sandbox() {
        use ApprovalPolicy::*;
        use SandboxMode::*;
        let plain = CommandFacts {
            known_safe: false,
            dangerous: false,
            escalated: false,
        };
        let safe = CommandFacts {
            known_safe: true,
            ..plain
        };
        let danger = CommandFacts {
            dangerous: true,
            ..plain
        };
        let escalate = CommandFacts {
            escalated: true,
            ..plain
        };
        let run = |sandboxed| Start::Run { sandboxed };
        let ask = |sandboxed| Start::Ask { sandboxed };
        for mode in [ReadOnly, WorkspaceWrite] {
            assert_eq!(start(Untrusted, mode, safe, true), run(true));
            assert_eq!(start(Untrusted, mode, plain, true), ask(true));
            assert_eq!(start(OnRequest, mode, plain, true), run(true));
            assert_eq!(start(OnRequest, mode, danger, true), ask(true));
            assert_eq!(start(OnRequest, mode, escalate, true), ask(false));
            assert_eq!(start(OnFailure, mode, plain, true), run(true));
            assert_eq!(start(Never, mode, plain, true), run(true));
            assert!(matches!(start(Never, mode, danger, true), Start::Reject(_)));
            for p in [Untrusted, OnFailure, Never] {
                let Start::Reject(m) = start(p, mode, escalate, true) else {
                    panic!()
                };
                assert!(
                    m.starts_with(&format!("approval policy is {p}; reject command")),
                    "{m}"
                );
            }
            // No landlock: ask for all but the known-safe.
            assert_eq!(start(OnRequest, mode, plain, false), ask(false));
            assert_eq!(start(OnFailure, mode, safe, false), run(false));
            assert!(matches!(start(Never, mode, plain, false), Start::Reject(_)));
        }
        assert_eq!(start(Untrusted, DangerFullAccess, plain, false), ask(false));
        assert_eq!(start(Untrusted, DangerFullAccess, safe, false), run(false));
        for p in [OnRequest, OnFailure, Never] {
            assert_eq!(start(p, DangerFullAccess, danger, false), run(false));
            assert_eq!(start(p, DangerFullAccess, escalate, true), run(false));
        }
        assert!(ask_after_denial(Untrusted) && ask_after_denial(OnFailure));
        assert!(!ask_after_denial(OnRequest) && !ask_after_denial(Never));
    }

    #[test]
    fn patches() {
        use ApprovalPolicy::*;
        assert_eq!(
            patch_start(Untrusted, true),
            Start::Ask { sandboxed: false }
        );
        assert_eq!(
            patch_start(OnRequest, true),
            Start::Run { sandboxed: false }
        );
        assert_eq!(
            patch_start(OnRequest, false),
            Start::Ask { sandboxed: false }
        );
        assert_eq!(
            patch_start(OnFailure, false),
            Start::Ask { sandboxed: false }
        );
        assert!(matches!(patch_start(Never, false), Start::Reject(_)));
        assert_eq!(patch_start(Never, true), Start::Run { sandboxed: false });
    }
}
