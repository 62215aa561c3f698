//! Approvals for `talaria mcp serve`: the user is the MCP client's, so the bridge makes
//! itself the host's approver (`approvals.delegate`) and answers each `approvals.decide`
//! by asking the client that made the call, through MCP elicitation (allow once, allow
//! for the session, deny). A client without elicitation gets a decline that says so
//! and how to allow such tools; `--approvals auto|deny` answers without asking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use clap::ValueEnum;
use rmcp::model::{ElicitRequestParams, ElicitationAction};
use serde_json::json;
use talaria_sdk::{ApprovalDecision, ApprovalRequest, Decision};

use crate::server::Session;

/// How `mcp serve` answers approval requests (`--approvals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Mode {
    /// Ask the MCP client (elicitation); decline when it cannot be asked.
    #[default]
    Ask,
    /// Accept every request.
    Auto,
    /// Decline every request.
    Deny,
}

/// The served calls in flight, by the call id `mcp serve` gave each, with the session
/// of the client that made it.
#[derive(Clone, Default)]
pub struct Callers {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    next: Arc<AtomicU64>,
    mode: Arc<Mutex<Mode>>,
}

/// Forgets a call when it ends.
pub struct Calling {
    callers: Callers,
    pub call_id: String,
}

impl Drop for Calling {
    fn drop(&mut self) {
        self.callers
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.call_id);
    }
}

impl Callers {
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// A fresh call id for a call made for `session`, remembered until the guard drops.
    pub fn start(&self, session: &Session) -> Calling {
        let call_id = format!("mcp-serve-{}", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(call_id.clone(), session.clone());
        Calling {
            callers: self.clone(),
            call_id,
        }
    }

    /// The answer to one approval request.
    pub fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let mode = *self.mode.lock().unwrap_or_else(PoisonError::into_inner);
        match mode {
            Mode::Auto => {
                return decision(
                    Decision::Accept,
                    "approved automatically (mcp serve --approvals auto)",
                )
            }
            Mode::Deny => {
                return decision(
                    Decision::Decline,
                    "declined by policy (mcp serve --approvals deny)",
                )
            }
            Mode::Ask => {}
        }
        let session = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&request.call_id)
            .cloned();
        let Some(session) = session else {
            return decision(
                Decision::Decline,
                "declined: no MCP client's call is waiting for this approval",
            );
        };
        if !session.can_elicit() {
            return decision(
                Decision::Decline,
                "declined: this needs the user's approval, and the MCP client cannot ask its user (it does not support elicitation); to allow such tools without asking, start the server with `talaria mcp serve --approvals auto`",
            );
        }
        match session.elicit(form(request)) {
            Ok(result) => answer(result.action, result.content.as_ref()),
            Err(why) => decision(Decision::Decline, &format!("declined: {why}")),
        }
    }
}

fn decision(decision: Decision, reason: &str) -> ApprovalDecision {
    ApprovalDecision {
        decision,
        reason: reason.into(),
    }
}

/// The form the client shows: what will happen, and one choice.
pub fn form(request: &ApprovalRequest) -> ElicitRequestParams {
    let who = request.plugin.as_deref().unwrap_or("a tool");
    let mut message = format!("talaria: {who} wants to {}", request.summary);
    if let Some(cwd) = &request.cwd {
        message.push_str(&format!(" (in {cwd})"));
    }
    if let Some(patch) = &request.patch {
        message.push_str(&format!("\n{patch}"));
    }
    let wire = json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {
                "decision": {
                    "type": "string",
                    "title": "Allow?",
                    "oneOf": [
                        {"const": "allow", "title": "Allow once"},
                        {"const": "allow_session", "title": "Allow for this session"},
                        {"const": "deny", "title": "Deny"}
                    ]
                }
            },
            "required": ["decision"]
        }
    });
    // The schema is ours and fixed; it always parses.
    serde_json::from_value(wire).unwrap_or_else(|_| ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: request.summary.clone(),
        requested_schema: rmcp::model::ElicitationSchema::builder().build_unchecked(),
    })
}

/// The client's answer as a decision.
pub fn answer(action: ElicitationAction, content: Option<&serde_json::Value>) -> ApprovalDecision {
    let choice = content.and_then(|c| c["decision"].as_str());
    match (action, choice) {
        (ElicitationAction::Accept, Some("allow")) => {
            decision(Decision::Accept, "approved by the MCP client's user")
        }
        (ElicitationAction::Accept, Some("allow_session")) => decision(
            Decision::AcceptForSession,
            "approved by the MCP client's user for this session",
        ),
        (ElicitationAction::Accept, _) => {
            decision(Decision::Decline, "denied by the MCP client's user")
        }
        (ElicitationAction::Decline, _) => {
            decision(Decision::Decline, "declined by the MCP client's user")
        }
        (_, _) => decision(
            Decision::Decline,
            "declined: the MCP client's user dismissed the approval",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_says_what_will_happen_and_offers_three_choices() {
        let request = ApprovalRequest {
            plugin: Some("example-tools".into()),
            ..ApprovalRequest::exec("c1", "rm -rf build", Some("/w".into()))
        };
        let wire = serde_json::to_value(form(&request)).unwrap();
        assert_eq!(
            wire["message"],
            "talaria: example-tools wants to run `rm -rf build` (in /w)"
        );
        let options = wire["requestedSchema"]["properties"]["decision"]["oneOf"]
            .as_array()
            .unwrap();
        assert_eq!(options.len(), 3);
        assert_eq!(wire["requestedSchema"]["required"], json!(["decision"]));
    }

    #[test]
    fn only_an_explicit_allow_approves() {
        let allow = json!({"decision": "allow"});
        assert_eq!(
            answer(ElicitationAction::Accept, Some(&allow)).decision,
            Decision::Accept
        );
        let session = json!({"decision": "allow_session"});
        assert_eq!(
            answer(ElicitationAction::Accept, Some(&session)).decision,
            Decision::AcceptForSession
        );
        for (action, content) in [
            (ElicitationAction::Accept, Some(json!({}))),
            (ElicitationAction::Accept, Some(json!({"decision": "deny"}))),
            (ElicitationAction::Decline, None),
            (ElicitationAction::Cancel, None),
        ] {
            assert!(!answer(action, content.as_ref()).approved());
        }
    }

    #[test]
    fn modes_answer_without_asking_and_an_unknown_call_is_declined() {
        let callers = Callers::default();
        let request = ApprovalRequest::exec("mcp-serve-9", "true", None);
        let unknown = callers.decide(&request);
        assert!(!unknown.approved() && unknown.reason.contains("no MCP client"));
        callers.set_mode(Mode::Auto);
        assert!(callers.decide(&request).approved());
        callers.set_mode(Mode::Deny);
        assert!(callers.decide(&request).reason.contains("--approvals deny"));
    }
}
