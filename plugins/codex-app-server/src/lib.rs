//! `codex-app-server`: the `codex_app_server` runtime. Each turn runs in the official
//! `codex app-server` (JSON-RPC over stdio); talaria stays the shell around it: sessions,
//! approvals, rendering, and its own tools offered back to codex over MCP.
//!
//! Modules: [`rpc`] (the connection: one reader, responses by id), [`spawn`] (a child
//! that dies with talaria), [`session`] (handshake and thread), [`turn`] (one turn),
//! [`items`] (codex items → events and stored items), [`approvals`] (codex's requests),
//! [`settings`] (binary, home, version), [`doctor`] (`talaria doctor`'s codex checks).

pub mod approvals;
pub mod command;
pub mod doctor;
pub mod items;
pub mod migrate;
pub mod rpc;
pub mod session;
pub mod settings;
pub mod spawn;
pub mod turn;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use talaria_sdk::turn::{TurnError, TurnRequest, TurnResult, TurnStatus};
use talaria_sdk::{export_plugin, CallContext, Exports, Host, Result, Runtime};

use crate::session::{CodexSession, SavedState};
use crate::settings::{PluginSettings, Settings};
use crate::turn::After;

pub const RUNTIME_ID: &str = "codex_app_server";

pub struct CodexRuntime {
    host: Host,
    /// The codex process and thread of each talaria session with a turn behind it.
    sessions: Mutex<HashMap<String, CodexSession>>,
}

impl CodexRuntime {
    pub fn new(host: Host) -> Self {
        CodexRuntime {
            host,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, id: &str) -> Option<CodexSession> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    fn put(&self, id: &str, session: CodexSession) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), session);
    }
}

pub fn init(host: Host) -> Result<Exports> {
    Ok(Exports::new()
        .runtime(CodexRuntime::new(host.clone()))
        .doctor(doctor::CodexDoctor::new(host.clone()))
        .command(command::CodexRuntimeCommand::new(host)))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl Runtime for CodexRuntime {
    fn turn(&self, request: TurnRequest, cx: &CallContext) -> Result<TurnResult> {
        let saved = SavedState::from_value(request.session.state.as_ref());
        let idle_limit = PluginSettings::load(&self.host)?.idle_limit();
        let session = match self.take(&request.session.id) {
            Some(s) if !s.conn.is_closed() => s,
            _ => {
                let settings = Settings::load(&self.host)?;
                match session::open(
                    &settings,
                    saved.as_ref(),
                    &request.cwd,
                    request.approval_policy.as_deref(),
                    request.sandbox.as_deref(),
                    cx,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        return Ok(TurnResult {
                            status: TurnStatus::Failed,
                            items: Vec::new(),
                            state: request.session.state.clone(),
                            error: Some(TurnError {
                                message: e.message,
                                kind: e.kind,
                                class: None,
                            }),
                            ..TurnResult::default()
                        })
                    }
                }
            }
        };
        let (result, after) = turn::run(&session, &request, idle_limit, cx);
        match after {
            After::Keep => self.put(&request.session.id, session),
            After::Retire => session.conn.kill(),
        }
        Ok(result)
    }
}

impl Drop for CodexRuntime {
    fn drop(&mut self) {
        let sessions = std::mem::take(
            self.sessions
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (_, session) in sessions {
            session.conn.shutdown();
        }
    }
}
