//! Approvals: how the host answers a plugin's `approvals.request`.
//!
//! The mode (`--approvals ask|auto|deny`, `/approvals`) decides; `ask` prompts on the
//! terminal (allow once, allow for the session, deny, or cancel the turn) with the
//! command or a coloured diff, and with no terminal declines and says so. An acceptance for the session is
//! remembered until the session changes. Every request and decision is also an event
//! (`approval_request`, `approval_decision`) on the asking call's stream.
//!
//! A plugin command whose user is elsewhere (`mcp serve`: the MCP client's user) can
//! become the [`Approver`] for the rest of the process; `ask` then hands each request to
//! it instead of the terminal.
//!
//! Questions (`user.input`, [`Approvals::ask_user`]) share the one-at-a-time lock, so a
//! form and an approval prompt never interleave on the terminal.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

use talaria_plugin_api::abi::EventSinkArc;
use talaria_plugin_api::input::{InputRequest, InputResponse};
use talaria_plugin_api::payload::{
    ApprovalDecision, ApprovalKind, ApprovalRequest, Decision, Event,
};

use crate::cli::ApprovalMode;
use crate::events::emit;

/// Answers approval requests in the terminal's stead (a plugin, through the host).
pub type Approver = Box<dyn Fn(&ApprovalRequest) -> ApprovalDecision + Send + Sync>;

pub struct Approvals {
    mode: Mutex<ApprovalMode>,
    /// Requests accepted for the session, by [`session_key`].
    accepted: Mutex<HashSet<String>>,
    /// Parallel tool calls may ask at once; one question at a time on the terminal.
    asking: Mutex<()>,
    approver: Mutex<Option<std::sync::Arc<Approver>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Approvals {
    pub fn new(mode: ApprovalMode) -> Self {
        Approvals {
            mode: Mutex::new(mode),
            accepted: Mutex::new(HashSet::new()),
            asking: Mutex::new(()),
            approver: Mutex::new(None),
        }
    }

    pub fn mode(&self) -> ApprovalMode {
        *lock(&self.mode)
    }

    pub fn set_mode(&self, mode: ApprovalMode) {
        *lock(&self.mode) = mode;
    }

    /// From now on `ask` mode hands every request to `approver`.
    pub fn delegate(&self, approver: Approver) {
        *lock(&self.approver) = Some(std::sync::Arc::new(approver));
    }

    /// Asks the user to fill in a form: on the terminal, one question at a time; declined
    /// under `--approvals deny` or with no terminal (saying so on stderr). The question
    /// and the answer's action (without secret values) are events on `events`.
    pub fn ask_user(&self, request: &InputRequest, events: &EventSinkArc) -> InputResponse {
        let _one_at_a_time = lock(&self.asking);
        emit(
            events,
            &Event::InputRequest {
                request: request.clone(),
            },
        );
        let who = request.plugin.as_deref().unwrap_or("a plugin");
        let response = match self.mode() {
            ApprovalMode::Deny => {
                eprintln!(
                    "declined: {who} asked \"{}\" (--approvals deny)",
                    request.title
                );
                InputResponse::decline("declined by policy (--approvals deny)")
            }
            _ if !std::io::stdin().is_terminal() => {
                eprintln!(
                    "declined: {who} asked \"{}\", but there is no terminal to ask on",
                    request.title
                );
                InputResponse::decline("declined: nobody could answer the question (no terminal)")
            }
            _ => crate::input::ask(request, who, &mut crate::input::Console),
        };
        tracing::info!(plugin = who, action = ?response.action, "question: {}", request.title);
        emit(
            events,
            &Event::InputResponse {
                call_id: request.call_id.clone(),
                action: response.action,
                values: request.shareable(&response.values),
                reason: response.reason.clone(),
            },
        );
        response
    }

    /// A new session starts with nothing accepted.
    pub fn forget_session(&self) {
        lock(&self.accepted).clear();
    }

    /// Answers one request, reporting it and the decision on `events`.
    pub fn decide(&self, request: &ApprovalRequest, events: &EventSinkArc) -> ApprovalDecision {
        let _one_at_a_time = lock(&self.asking);
        emit(
            events,
            &Event::ApprovalRequest {
                request: request.clone(),
            },
        );
        let key = session_key(request);
        let decision = if lock(&self.accepted).contains(&key) {
            ApprovalDecision {
                decision: Decision::Accept,
                reason: "approved earlier for this session".into(),
            }
        } else {
            self.ask(request)
        };
        if decision.decision == Decision::AcceptForSession {
            lock(&self.accepted).insert(key);
        }
        tracing::info!(plugin = request.plugin.as_deref().unwrap_or(""), decision = ?decision.decision, "approval: {}", request.summary);
        emit(
            events,
            &Event::approval_decision(&request.call_id, &decision),
        );
        decision
    }

    fn ask(&self, request: &ApprovalRequest) -> ApprovalDecision {
        // The summary says it all ("run `x` outside the sandbox: why"); the command alone
        // when a plugin left the summary empty.
        let what = match (request.summary.is_empty(), request.command.as_deref()) {
            (true, Some(c)) => format!("run `{c}`"),
            _ => request.summary.clone(),
        };
        let who = request.plugin.as_deref().unwrap_or("a plugin");
        match self.mode() {
            ApprovalMode::Auto => decision(
                Decision::Accept,
                "approved automatically (--approvals auto)",
            ),
            ApprovalMode::Deny => {
                eprintln!("declined: {who} asked to {what} (--approvals deny)");
                decision(Decision::Decline, "declined by policy (--approvals deny)")
            }
            ApprovalMode::Ask => {
                // Cloned out, so the approver runs without the lock held.
                let approver = lock(&self.approver).clone();
                match approver {
                    Some(approve) => approve(request),
                    None if !std::io::stdin().is_terminal() => {
                        eprintln!("declined: {who} asked to {what}, but there is no terminal to ask on (use --approvals auto to allow)");
                        decision(
                            Decision::Decline,
                            "declined: nobody could answer the approval request (no terminal)",
                        )
                    }
                    None => prompt(who, &what, request),
                }
            }
        }
    }
}

fn decision(decision: Decision, reason: &str) -> ApprovalDecision {
    ApprovalDecision {
        decision,
        reason: reason.into(),
    }
}

/// What "the same request" means for an acceptance for the session: the same kind from
/// the same plugin, for the same command, tool or patch.
fn session_key(request: &ApprovalRequest) -> String {
    let what = match request.kind {
        ApprovalKind::Exec => request.command.as_deref(),
        ApprovalKind::McpTool => request.tool.as_deref(),
        ApprovalKind::Patch => request.patch.as_deref(),
        _ => None,
    };
    format!(
        "{:?}\u{0}{}\u{0}{}",
        request.kind,
        request.plugin.as_deref().unwrap_or(""),
        what.unwrap_or(&request.summary)
    )
}

/// The terminal question: allow once, allow for the session, deny (the default), or
/// cancel the whole turn.
fn prompt(who: &str, what: &str, request: &ApprovalRequest) -> ApprovalDecision {
    let colour = std::io::stderr().is_terminal();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{who} wants to {what}");
    if let Some(cwd) = &request.cwd {
        let _ = writeln!(err, "  in {cwd}");
    }
    if let Some(patch) = &request.patch {
        let _ = writeln!(err, "{}", diff_lines(patch, colour));
    }
    let _ = write!(
        err,
        "Allow? [y] once, [a] for this session, [N] no, [c] cancel the turn: "
    );
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => decision(Decision::Accept, "approved by the user"),
        "a" | "always" => decision(
            Decision::AcceptForSession,
            "approved by the user for this session",
        ),
        "c" | "cancel" => decision(Decision::Cancel, "the user cancelled the turn"),
        _ => decision(Decision::Decline, "declined by the user"),
    }
}

/// A unified diff with added lines green, removed ones red and hunk headers cyan.
fn diff_lines(patch: &str, colour: bool) -> String {
    if !colour {
        return patch.to_owned();
    }
    patch
        .lines()
        .map(|line| {
            let code = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                return line.to_owned();
            };
            format!("\x1b[{code}m{line}\x1b[0m")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Collect(Mutex<Vec<Event>>);
    impl crate::events::Observer for Collect {
        fn event(&self, event: &Event) {
            lock(&self.0).push(event.clone());
        }
    }

    #[test]
    fn session_acceptances_are_remembered_per_command() {
        let approvals = Approvals::new(ApprovalMode::Deny);
        let seen = Arc::new(Collect(Mutex::new(Vec::new())));
        let sink = crate::events::sink(seen.clone());
        let ls = ApprovalRequest {
            plugin: Some("t".into()),
            ..ApprovalRequest::exec("c1", "ls", None)
        };
        lock(&approvals.accepted).insert(session_key(&ls));
        assert!(approvals.decide(&ls, &sink).approved());
        let rm = ApprovalRequest {
            plugin: Some("t".into()),
            ..ApprovalRequest::exec("c2", "rm -rf x", None)
        };
        assert!(!approvals.decide(&rm, &sink).approved());
        approvals.forget_session();
        assert!(!approvals.decide(&ls, &sink).approved());
        let events = lock(&seen.0).clone();
        assert_eq!(events.len(), 6);
        assert!(
            matches!(&events[1], Event::ApprovalDecision { call_id, approved: true, .. } if call_id == "c1")
        );
    }

    #[test]
    fn diffs_are_coloured_only_on_a_terminal() {
        let patch = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same";
        assert_eq!(diff_lines(patch, false), patch);
        let coloured = diff_lines(patch, true);
        assert!(
            coloured.contains("\x1b[32m+new\x1b[0m") && coloured.contains("\x1b[31m-old\x1b[0m")
        );
        assert!(coloured.ends_with("\n same"));
    }
}
