//! `talaria chat`: one-shot (`-q`), `--json`, and the REPL, on whichever runtime the
//! flag, the resumed session or the profile names.
//!
//! A [`Chat`] owns one conversation: the session row in `sessions.db`, its items and
//! the runtime's saved state, and the turn settings (runtime, model, fast mode). Each
//! turn goes to the runtime plugin as `runtime.turn`; its events are rendered, printed
//! (`--json`) and recorded, and the turn is stored as it ends, interrupted or failed
//! turns included.

mod aux;
mod goal;
mod interrupt;
mod json;
mod markdown;
mod record;
mod render;
mod repl;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use talaria_plugin_api::items::Item;
use talaria_plugin_api::methods::RuntimeTurn;
use talaria_plugin_api::payload::{ErrorKind, Event, Usage};
use talaria_plugin_api::runtime::{
    ModelRef, SessionContext, TurnRequest, TurnResult, TurnStatus, UserInput,
};

use crate::app::App;
use crate::cli::ChatArgs;
use crate::client;
use crate::error::{Error, Exit, Result};
use crate::events::{self, Observer};
use crate::plugins::{LoadedPlugin, Registry};
use crate::sessions::{SessionRecord, SessionStore};

pub use interrupt::INTERRUPTED_EXIT;
use record::TurnRecorder;

/// What a chat runs on, decided before anything is loaded: the session to continue (if
/// any), the runtime and the model.
pub struct Plan {
    pub resumed: Option<SessionRecord>,
    pub runtime: String,
    pub model: ModelRef,
    /// The priority service tier (`--fast` or the profile's `model.fast`).
    pub fast: bool,
}

impl Plan {
    /// Flags first, then the resumed session's own choices, then the profile's.
    pub fn new(app: &App, args: &ChatArgs, store: &SessionStore) -> Result<Plan> {
        let config = app.config()?;
        let resumed = if args.continue_last {
            Some(store.latest()?.ok_or_else(|| {
                Error::usage("there is no session to continue yet; start one with `talaria chat`")
            })?)
        } else {
            args.resume
                .as_deref()
                .map(|id| store.resolve(id))
                .transpose()?
        };
        let pick =
            |flag: &Option<String>, stored: fn(&SessionRecord) -> &String, configured: &String| {
                flag.clone()
                    .or_else(|| resumed.as_ref().map(|s| stored(s).clone()))
                    .unwrap_or_else(|| configured.clone())
            };
        let runtime = pick(&args.runtime, |s| &s.runtime, &config.model.runtime);
        let provider = pick(
            &args.provider.provider,
            |s| &s.provider,
            &config.model.provider,
        );
        let model = pick(&args.model, |s| &s.model, &config.model.default);
        Ok(Plan {
            resumed,
            runtime,
            model: ModelRef { provider, model },
            fast: args.fast || config.model.fast,
        })
    }
}

/// The settings of the turns to come; the REPL changes them.
struct Settings {
    runtime: String,
    model: ModelRef,
    fallback: Option<ModelRef>,
    fast: bool,
    approval_policy: String,
    sandbox: String,
    web_search: bool,
}

pub struct Chat {
    registry: Arc<Registry>,
    runtime: Arc<LoadedPlugin>,
    observer: Arc<dyn Observer>,
    renderer: Option<Arc<render::TerminalRenderer>>,
    store: SessionStore,
    session: SessionRecord,
    history: Vec<Item>,
    state: Option<Value>,
    settings: Settings,
    json: bool,
    /// Tool warnings already shown (a broken tool plugin is reported once).
    warned: BTreeSet<String>,
    /// Side tasks: titles, compression, `/image`, `/goal`.
    aux: aux::Aux,
    /// No title from the router yet: the next completed turn is the session's first.
    needs_title: bool,
    /// Stored items the latest compaction summary stands for.
    covered: usize,
    /// `history` starts with a compaction summary.
    summarized: bool,
    /// The last turn's usage: how full the context is.
    last_usage: Option<Usage>,
    /// `chat -q`: one turn, and nothing but its answer on stdout.
    one_shot: bool,
    /// Images (`data:` URLs) for the next turn (`/image`).
    pending_images: Vec<String>,
    /// Image descriptions for the next turn, for a model without image input.
    pending_notes: Vec<String>,
}

/// What the command does with the outcome of a one-shot turn.
pub enum Finish {
    Done,
    Interrupted,
}

impl Chat {
    /// Opens the session (new, `-c` or `--resume`), the runtime and the renderer.
    pub fn open(
        app: &App,
        args: &ChatArgs,
        registry: Arc<Registry>,
        store: SessionStore,
        plan: Plan,
    ) -> Result<Chat> {
        let config = app.config()?;
        let info = registry.runtime(&plan.runtime)?;
        let runtime = registry.plugin(&info.plugin)?;
        let aux = aux::Aux::find(&registry)?;
        let (session, history, state) = match plan.resumed {
            Some(session) => {
                let state = store.runtime_state(&session.id)?;
                (session, Vec::new(), state)
            }
            None => (
                store.create(&plan.runtime, &plan.model.provider, &plan.model.model)?,
                Vec::new(),
                None,
            ),
        };
        let (observer, renderer): (Arc<dyn Observer>, _) = if args.json.json {
            (Arc::new(json::JsonPrinter), None)
        } else {
            let r = render::TerminalRenderer::new();
            (r.clone(), Some(r))
        };
        let settings = Settings {
            runtime: plan.runtime,
            model: plan.model,
            fallback: config.fallback_model.as_ref().map(|f| ModelRef {
                provider: f.provider.clone(),
                model: f.model.clone(),
            }),
            fast: plan.fast,
            approval_policy: args
                .approval_policy
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| config.tools.approval_policy.clone()),
            sandbox: args
                .sandbox
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| config.tools.sandbox.clone()),
            web_search: config.tools.web_search,
        };
        let mut chat = Chat {
            registry,
            runtime,
            observer,
            renderer,
            store,
            session,
            history,
            state,
            settings,
            json: args.json.json,
            warned: BTreeSet::new(),
            aux,
            needs_title: false,
            covered: 0,
            summarized: false,
            last_usage: None,
            one_shot: args.prompt.is_some(),
            pending_images: Vec::new(),
            pending_notes: Vec::new(),
        };
        chat.load_session()?;
        chat.announce();
        Ok(chat)
    }

    /// The `session` event: which session, runtime and model the next turn uses.
    fn announce(&self) {
        self.observer.event(&Event::Session {
            id: self.session.id.clone(),
            resumed: !self.history.is_empty() || self.session.message_count > 0,
            runtime: self.settings.runtime.clone(),
            provider: self.settings.model.provider.clone(),
            model: self.settings.model.model.clone(),
        });
    }

    /// Runs one turn and stores it. A failed turn is stored too, then returned as the
    /// error (after an `error` event for `--json`).
    pub fn turn(&mut self, prompt: &str) -> Result<Finish> {
        // The prompt and its provisional title land together or not at all.
        let title = self.session.title.is_none().then(|| title_from(prompt));
        self.store.atomically(|| {
            self.store.add_message(&self.session.id, "user", prompt)?;
            if let Some(title) = &title {
                self.store.set_title(&self.session.id, title)?;
            }
            Ok(())
        })?;
        if title.is_some() {
            self.session.title = title;
        }
        // Before the request: make room if the context is near its limit.
        self.compact_if_needed();
        let request = self.request(prompt);
        if let Some(r) = &self.renderer {
            r.turn_started(&self.settings.model.model);
        }
        let recorder = Arc::new(TurnRecorder::new(self.observer.clone()));
        interrupt::install();
        let cancel = interrupt::turn_started();
        let outcome = client::call::<RuntimeTurn>(
            &self.runtime,
            &request,
            events::sink(recorder.clone()),
            cancel,
        );
        interrupt::turn_ended();
        if let Some(r) = &self.renderer {
            r.turn_finished();
        }
        let result = match outcome {
            Ok(result) => result,
            // The runtime gave up on the call as a whole: nothing of the turn to keep
            // beyond the prompt and what streamed.
            Err(e) if e.kind() == ErrorKind::Cancelled => TurnResult {
                status: TurnStatus::Interrupted,
                text: recorder.text(),
                ..Default::default()
            },
            Err(e) => return Err(self.fail(crate::provider::plugin_error(&e), None)),
        };
        self.record(&recorder, &result)?;
        if let Some(error) = &result.error {
            let e = Error::new(crate::provider::exit_for(error.kind), error.message.clone());
            return Err(self.fail(e, error.class));
        }
        if result.status == TurnStatus::Failed {
            return Err(self.fail(
                Error::failure(format!(
                    "runtime {} reported a failed turn without saying why",
                    self.settings.runtime
                )),
                None,
            ));
        }
        let interrupted = result.status == TurnStatus::Interrupted;
        self.observer.event(&Event::TurnCompleted {
            text: result.text.clone(),
            usage: result.usage.clone(),
            interrupted,
        });
        // After the turn's own request, never before: the session's title.
        if !interrupted {
            self.title_after_first_turn(&result.items);
        }
        Ok(if interrupted {
            Finish::Interrupted
        } else {
            Finish::Done
        })
    }

    /// Reports a failed turn as an `error` event (for `--json`; the terminal prints the
    /// returned error itself).
    fn fail(&self, e: Error, class: Option<talaria_plugin_api::transport::FailureClass>) -> Error {
        if self.json {
            self.observer.event(&Event::Error {
                message: e.message.clone(),
                class,
            });
        }
        e
    }

    fn request(&mut self, prompt: &str) -> TurnRequest {
        let tools = self.registry.tool_list();
        for warning in tools.warnings {
            if self.warned.insert(warning.clone()) {
                self.observer.event(&Event::Warning { message: warning });
            }
        }
        TurnRequest {
            runtime: self.settings.runtime.clone(),
            session: SessionContext {
                id: self.session.id.clone(),
                items: self.history.clone(),
                state: self.state.clone(),
            },
            input: UserInput {
                text: self.with_notes(prompt),
                images: std::mem::take(&mut self.pending_images),
            },
            model: self.settings.model.clone(),
            fallback: self.settings.fallback.clone(),
            fast: self.settings.fast,
            approval_policy: Some(self.settings.approval_policy.clone()),
            sandbox: Some(self.settings.sandbox.clone()),
            web_search: self.settings.web_search,
            tools: tools.tools.into_iter().map(|t| t.spec).collect(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// Stores the turn in one transaction: a crash (`kill -9`) mid-record leaves all of
    /// it or none, never an answer without the items the next turn's history is built from.
    fn record(&mut self, recorder: &TurnRecorder, result: &TurnResult) -> Result<()> {
        let id = &self.session.id;
        let store = &self.store;
        let state_changed = result.state != self.state;
        store.atomically(|| {
            for call in recorder.tool_calls() {
                store.add_tool_call(id, &call.call_id, &call.name, &call.arguments)?;
                if let Some((output, is_error)) = &call.result {
                    store.finish_tool_call(id, &call.call_id, output, *is_error)?;
                }
            }
            if !result.text.is_empty() {
                store.add_message(id, "assistant", &result.text)?;
            }
            if !result.usage.is_empty() {
                store.add_usage(id, &result.usage)?;
            }
            store.add_items(id, &result.items)?;
            if state_changed {
                store.set_runtime_state(id, result.state.as_ref())?;
            }
            Ok(())
        })?;
        if !result.usage.is_empty() {
            self.last_usage = Some(result.usage.clone());
        }
        if state_changed {
            self.state = result.state.clone();
        }
        self.history.extend(result.items.iter().cloned());
        Ok(())
    }

    /// Starts a new session with the same settings (`/new`).
    fn new_session(&mut self) -> Result<()> {
        let session = self.store.create(
            &self.settings.runtime,
            &self.settings.model.provider,
            &self.settings.model.model,
        )?;
        self.switch_to(session, None)
    }

    /// Switches to a stored session (`/resume ID`), on the runtime that made it.
    fn resume(&mut self, id: &str) -> Result<()> {
        let session = self.store.resolve(id)?;
        let state = self.store.runtime_state(&session.id)?;
        self.switch_to(session, state)
    }

    fn switch_to(&mut self, session: SessionRecord, state: Option<Value>) -> Result<()> {
        if session.runtime != self.settings.runtime {
            let info = self.registry.runtime(&session.runtime)?;
            self.runtime = self.registry.plugin(&info.plugin)?;
            self.settings.runtime = session.runtime.clone();
        }
        self.registry.approvals().forget_session();
        self.session = session;
        self.state = state;
        self.load_session()?;
        self.announce();
        Ok(())
    }

    /// The current session's stored history (behind its latest compaction summary),
    /// last usage, and whether it still needs a title.
    fn load_session(&mut self) -> Result<()> {
        let id = &self.session.id;
        let (history, covered) = aux::load_history(&self.store, id)?;
        self.summarized = self.store.compaction(id)?.is_some();
        self.history = history;
        self.covered = covered;
        self.last_usage = self.store.last_usage(id)?;
        self.needs_title = self.session.message_count == 0;
        self.pending_images.clear();
        self.pending_notes.clear();
        self.note_goal()
    }
}

/// Runs `talaria chat` with a checked plan.
pub fn run(
    app: &App,
    args: &ChatArgs,
    registry: Arc<Registry>,
    store: SessionStore,
    plan: Plan,
) -> Result<()> {
    let mut chat = Chat::open(app, args, registry, store, plan)?;
    match &args.prompt {
        Some(prompt) => match chat.turn(prompt)? {
            Finish::Done => Ok(()),
            Finish::Interrupted => Err(Error::new(
                Exit::Interrupted,
                "interrupted; the partial answer is stored in the session",
            )),
        },
        None => repl::run(&mut chat),
    }
}

/// A session title from the first prompt: its first line, at most 60 characters.
fn title_from(prompt: &str) -> String {
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty prompt)");
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
