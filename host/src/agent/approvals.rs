//! Approvals during a turn: the profile's policy decides, and the turn's observer sees
//! both the request and the decision (`approval_request` / `approval_decision`).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use talaria_plugin_api::payload::{ApprovalDecision, ApprovalRequest};

use super::events::{ChatEvent, TurnObserver};
use crate::cli::ApprovalMode;
use crate::host_services::{Approver, PolicyApprover};

pub struct ObservedApprover {
    /// `/approvals` changes it mid-session.
    mode: Mutex<ApprovalMode>,
    /// Set once the chat has its observer (the registry, and so the approver, exists first).
    observer: OnceLock<Arc<dyn TurnObserver>>,
    /// Parallel tool calls may ask at once; one question at a time on the terminal.
    asking: Mutex<()>,
}

impl ObservedApprover {
    pub fn new(mode: ApprovalMode) -> Self {
        ObservedApprover { mode: Mutex::new(mode), observer: OnceLock::new(), asking: Mutex::new(()) }
    }

    pub fn observe(&self, observer: Arc<dyn TurnObserver>) {
        let _ = self.observer.set(observer);
    }

    pub fn set_mode(&self, mode: ApprovalMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    pub fn mode(&self) -> ApprovalMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Approver for ObservedApprover {
    fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let _one_at_a_time = self.asking.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(observer) = self.observer.get() {
            observer.event(&ChatEvent::ApprovalRequest { request: request.clone() });
        }
        let decision = PolicyApprover { mode: self.mode() }.decide(request);
        if let Some(observer) = self.observer.get() {
            observer.event(&ChatEvent::approval_decision(&decision));
        }
        decision
    }
}
