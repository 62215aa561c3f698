//! `talaria chat` on the native runtime: one-shot (`-q`), `--json`, and the REPL.
//!
//! A [`Chat`] owns one conversation: the session row in `sessions.db`, the items sent to
//! the model so far, and the turn settings (model, fast mode, approvals). Every turn is
//! stored as it ends, interrupted or failed turns included.

mod interrupt;
mod json;
mod render;
mod repl;

use std::sync::Arc;

use serde_json::Value;
use talaria_plugin_api::transport::StreamOptions;

use crate::agent::approvals::ObservedApprover;
use crate::agent::{Agent, ChatEvent, ModelChoice, ToolTable, TurnObserver, TurnOutcome, TurnSettings, DEFAULT_TURN_BUDGET};
use crate::app::App;
use crate::cli::ChatArgs;
use crate::error::{Error, Exit, Result};
use crate::plugins::Registry;
use crate::sessions::{SessionRecord, SessionStore};

pub use interrupt::INTERRUPTED_EXIT;

/// The runtime id this module drives.
const RUNTIME: &str = crate::plugins::registry::NATIVE_RUNTIME;

pub struct Chat {
    approver: Arc<ObservedApprover>,
    agent: Agent,
    observer: Arc<dyn TurnObserver>,
    renderer: Option<Arc<render::TerminalRenderer>>,
    store: SessionStore,
    session: SessionRecord,
    history: Vec<Value>,
    settings: TurnSettings,
    json: bool,
}

/// What the command does with the outcome of a one-shot turn.
pub enum Finish {
    Done,
    Interrupted,
}

impl Chat {
    /// Opens the session (new, `-c` or `--resume`), the plugins and the renderer.
    /// `registry` must have been opened with `approver`.
    pub fn open(app: &App, args: &ChatArgs, registry: Arc<Registry>, approver: Arc<ObservedApprover>) -> Result<Chat> {
        let config = app.config()?;
        let store = SessionStore::open(&app.profile.sessions_path())?;
        let resumed = if args.continue_last {
            Some(store.latest()?.ok_or_else(|| Error::usage("there is no session to continue yet; start one with `talaria chat`"))?)
        } else {
            args.resume.as_deref().map(|id| store.resolve(id)).transpose()?
        };
        let provider = args.provider.clone().or_else(|| resumed.as_ref().map(|s| s.provider.clone())).unwrap_or_else(|| config.model.provider.clone());
        let model = args.model.clone().or_else(|| resumed.as_ref().map(|s| s.model.clone())).unwrap_or_else(|| config.model.default.clone());
        let (session, history) = match resumed {
            Some(session) => {
                let history = store.items(&session.id)?;
                (session, history)
            }
            None => (store.create(RUNTIME, &provider, &model)?, Vec::new()),
        };

        let (observer, renderer): (Arc<dyn TurnObserver>, _) = if args.json {
            (Arc::new(json::JsonPrinter), None)
        } else {
            let r = render::TerminalRenderer::new();
            (r.clone(), Some(r))
        };
        approver.observe(observer.clone());
        let mut warnings = Vec::new();
        let tools = ToolTable::load(&registry, &mut warnings);
        for message in warnings {
            observer.event(&ChatEvent::Warning { message });
        }
        let settings = TurnSettings {
            session_id: session.id.clone(),
            primary: ModelChoice { provider: provider.clone(), model: model.clone() },
            fallback: config.fallback_model.as_ref().map(|f| ModelChoice { provider: f.provider.clone(), model: f.model.clone() }),
            fast: args.fast || config.model.fast,
            instructions: instructions(),
            budget: DEFAULT_TURN_BUDGET,
            stream_options: StreamOptions::default(),
        };
        let resumed = !history.is_empty() || session.message_count > 0;
        observer.event(&ChatEvent::Session {
            id: session.id.clone(),
            resumed,
            runtime: RUNTIME.into(),
            provider,
            model,
        });
        let agent = Agent::new(registry, tools, observer.clone());
        Ok(Chat { approver, agent, observer, renderer, store, session, history, settings, json: args.json })
    }

    /// Runs one turn and stores it. A failed turn is stored too, then returned as the
    /// error (after an `error` event for `--json`).
    pub fn turn(&mut self, prompt: &str) -> Result<Finish> {
        self.store.add_message(&self.session.id, "user", prompt)?;
        if self.session.title.is_none() {
            let title = title_from(prompt);
            self.store.set_title(&self.session.id, &title)?;
            self.session.title = Some(title);
        }
        if let Some(r) = &self.renderer {
            r.turn_started(&self.settings.primary.model);
        }
        interrupt::install();
        let cancel = interrupt::turn_started();
        let outcome = self.agent.run_turn(&self.settings, &self.history, prompt, &cancel);
        interrupt::turn_ended();
        if let Some(r) = &self.renderer {
            r.turn_finished();
        }
        self.record(&outcome)?;
        if let Some(e) = outcome.failure {
            if self.json {
                self.observer.event(&ChatEvent::Error { message: e.message.clone(), class: outcome.failure_class });
            }
            return Err(e);
        }
        self.observer.event(&ChatEvent::TurnCompleted {
            text: outcome.text.clone(),
            usage: outcome.usage.clone(),
            interrupted: outcome.interrupted,
        });
        Ok(if outcome.interrupted { Finish::Interrupted } else { Finish::Done })
    }

    fn record(&mut self, outcome: &TurnOutcome) -> Result<()> {
        let id = &self.session.id;
        for call in &outcome.tool_calls {
            self.store.add_tool_call(id, &call.call_id, &call.name, &call.arguments)?;
            self.store.finish_tool_call(id, &call.call_id, &call.output, call.is_error)?;
        }
        if !outcome.text.is_empty() {
            self.store.add_message(id, "assistant", &outcome.text)?;
        }
        if outcome.usage.total_tokens > 0 || outcome.usage.input_tokens > 0 {
            self.store.add_usage(id, &outcome.usage)?;
        }
        self.store.add_items(id, &outcome.items)?;
        self.history.extend(outcome.items.iter().cloned());
        Ok(())
    }

    /// Starts a new session with the same settings (`/new`).
    fn new_session(&mut self) -> Result<()> {
        let session = self.store.create(RUNTIME, &self.settings.primary.provider, &self.settings.primary.model)?;
        self.switch_to(session, Vec::new());
        Ok(())
    }

    /// Switches to a stored session (`/resume ID`).
    fn resume(&mut self, id: &str) -> Result<()> {
        let session = self.store.resolve(id)?;
        let history = self.store.items(&session.id)?;
        self.switch_to(session, history);
        Ok(())
    }

    fn switch_to(&mut self, session: SessionRecord, history: Vec<Value>) {
        self.settings.session_id = session.id.clone();
        self.observer.event(&ChatEvent::Session {
            id: session.id.clone(),
            resumed: !history.is_empty(),
            runtime: RUNTIME.into(),
            provider: self.settings.primary.provider.clone(),
            model: self.settings.primary.model.clone(),
        });
        self.session = session;
        self.history = history;
    }
}

/// Runs `talaria chat` on the native runtime.
pub fn run(app: &App, args: &ChatArgs, registry: Arc<Registry>, approver: Arc<ObservedApprover>) -> Result<()> {
    let mut chat = Chat::open(app, args, registry, approver)?;
    match &args.prompt {
        Some(prompt) => match chat.turn(prompt)? {
            Finish::Done => Ok(()),
            Finish::Interrupted => Err(Error::new(Exit::Interrupted, "interrupted; the partial answer is stored in the session")),
        },
        None => repl::run(&mut chat),
    }
}

/// The system prompt of the native loop.
fn instructions() -> String {
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "unknown".into());
    format!(
        "You are talaria, a coding agent running in the user's terminal. Answer concisely. \
         Use the tools you are given when they help; commands that change things are shown \
         to the user for approval, and a declined request is final for that call. \
         The working directory is {cwd}."
    )
}

/// A session title from the first prompt: its first line, at most 60 characters.
fn title_from(prompt: &str) -> String {
    let line = prompt.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(empty prompt)");
    if line.chars().count() <= 60 {
        return line.to_owned();
    }
    let cut: String = line.chars().take(59).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_first_line_and_short() {
        assert_eq!(title_from("\n  fix the build \nplease"), "fix the build");
        assert_eq!(title_from(&"x".repeat(80)).chars().count(), 60);
        assert_eq!(title_from(""), "(empty prompt)");
    }
}
