//! The chat's side tasks, through the profile's router plugin (found by kind, so the
//! host names none): a title after the first turn, compression before the context
//! overflows (`/compact` forces it), an image description for a model without image
//! input (`/image`), and the `/goal` judge.
//!
//! A side task never fails the turn it follows: its failure is logged and, in the REPL,
//! shown as a warning on stderr. Its events (the side model's deltas) go to the log
//! only, so nothing of it reaches stdout, in `chat -q` or `--json`.

use std::sync::Arc;

use talaria_plugin_api::items::Item;
use talaria_plugin_api::manifest::PluginKind;
use talaria_plugin_api::methods::RouterRun;
use talaria_plugin_api::payload::Event;
use talaria_plugin_api::router::{AuxRequest, AuxResult, CompactionCheck};

use super::{interrupt, Chat};
use crate::client;
use crate::error::{Error, Exit, Result};
use crate::events::{self, Observer};
use crate::plugins::{LoadedPlugin, Registry};
use crate::sessions::SessionStore;

/// What the model reads in place of the turns a compaction summarized.
const SUMMARY_PREFIX: &str = "Summary of the earlier conversation (older turns were compacted to save context; continue from here):";

/// The profile's router plugin, if one is enabled and loads.
pub struct Aux {
    router: Option<Arc<LoadedPlugin>>,
}

impl Aux {
    /// The first enabled router plugin. One that refuses its config (`[auxiliary]`) is
    /// the user's to fix before chatting (exit 2); one that fails to load otherwise only
    /// costs the side tasks, so the chat goes on without them.
    pub fn find(registry: &Registry) -> Result<Aux> {
        let Some(entry) = registry.enabled_of_kind(PluginKind::Router).next() else {
            return Ok(Aux { router: None });
        };
        match registry.plugin(&entry.id) {
            Ok(plugin) => Ok(Aux {
                router: Some(plugin),
            }),
            Err(e) if e.exit == Exit::Usage => Err(e),
            Err(e) => {
                tracing::warn!(
                    "side tasks (titles, compression, /goal) are off: {}",
                    e.message
                );
                Ok(Aux { router: None })
            }
        }
    }

    pub fn available(&self) -> bool {
        self.router.is_some()
    }

    /// Runs one task; Ctrl+C cancels it like a turn.
    pub fn run(&self, request: &AuxRequest) -> Result<AuxResult> {
        let router = self.router.as_ref().ok_or_else(|| {
            Error::missing(format!(
                "no router plugin is enabled, so the {} task cannot run; enable one (`talaria plugins list`)",
                request.task
            ))
        })?;
        interrupt::install();
        let cancel = interrupt::turn_started();
        let outcome =
            client::call::<RouterRun>(router, request, events::sink(Arc::new(ToLog)), cancel);
        interrupt::turn_ended();
        outcome.map_err(|e| crate::provider::plugin_error(&e))
    }
}

/// A side task's events: into the log, never onto stdout.
struct ToLog;

impl Observer for ToLog {
    fn event(&self, event: &Event) {
        match event {
            Event::Warning { message } | Event::Error { message, .. } => {
                tracing::warn!("aux: {message}")
            }
            Event::Progress { message } => tracing::info!("aux: {message}"),
            _ => {}
        }
    }
}

/// The item that stands for the summarized turns.
pub fn summary_item(summary: &str) -> Item {
    Item::user_text(&format!("{SUMMARY_PREFIX}\n\n{summary}"))
}

/// A session's history as the model sees it: the latest compaction's summary, then the
/// items stored after the ones it covers. Returns the history and how many stored
/// items the summary covers.
pub fn load_history(store: &SessionStore, id: &str) -> Result<(Vec<Item>, usize)> {
    let items = store.items(id)?;
    match store.compaction(id)? {
        Some(c) if c.covered <= items.len() => {
            let mut history = vec![summary_item(&c.summary)];
            history.extend(items.into_iter().skip(c.covered));
            Ok((history, c.covered))
        }
        Some(c) => Err(Error::failure(format!(
            "session {id} in {} has a compaction covering {} items but only {} stored; the file was changed by hand or by a newer talaria",
            store.path().display(),
            c.covered,
            items.len()
        ))),
        None => Ok((items, 0)),
    }
}

impl Chat {
    pub(super) fn aux_request(&self, task: &str, input: Vec<Item>) -> AuxRequest {
        AuxRequest {
            task: task.into(),
            input,
            main: Some(self.settings.model.clone()),
            session_id: self.session.id.clone(),
            ..Default::default()
        }
    }

    /// A side task failed: the turn stands; say so where it does not disturb stdout.
    fn aux_failed(&self, task: &str, e: &Error) {
        tracing::warn!("the {task} task failed: {}", e.message);
        if self.renderer.is_some() && !self.one_shot {
            eprintln!("warning: the {task} task failed: {}", e.message);
        }
    }

    /// After the session's first turn: a title from `title_generation`, stored at once.
    pub(super) fn title_after_first_turn(&mut self, turn_items: &[Item]) {
        if !self.aux.available() || !self.needs_title {
            return;
        }
        self.needs_title = false;
        let request = self.aux_request("title_generation", turn_items.to_vec());
        let title = match self.aux.run(&request) {
            Ok(result) if !result.text.is_empty() => result.text,
            Ok(_) => return,
            Err(e) => return self.aux_failed("title_generation", &e),
        };
        match self.store.set_title(&self.session.id, &title) {
            Ok(()) => self.session.title = Some(title),
            Err(e) => self.aux_failed("title_generation", &e),
        }
    }

    /// Before a turn (or on `/compact`): the router decides whether the context is near
    /// its limit; if it summarizes, the summary is stored and replaces the older items.
    /// Returns how many items the summary replaced (0: nothing done).
    pub(super) fn compact(&mut self, force: bool) -> Result<usize> {
        if self.history.is_empty() || (!force && !self.aux.available()) {
            return Ok(0);
        }
        // The last turn's input and output: what the next request starts from. A turn of
        // several requests reports their sum, so this errs on the early side.
        let context_tokens = self
            .last_usage
            .as_ref()
            .map_or(0, |u| u.input_tokens + u.output_tokens);
        let mut request = self.aux_request("compression", self.history.clone());
        request.compaction = Some(CompactionCheck {
            context_tokens,
            force,
        });
        let result = self.aux.run(&request)?;
        let replaced = result.replaces.min(self.history.len());
        if replaced == 0 || result.text.is_empty() {
            return Ok(0);
        }
        // The history starts with the previous summary when there was one; it is not a
        // stored item.
        let stored = replaced - usize::from(self.summarized);
        let covered = self.covered + stored;
        self.store
            .add_compaction(&self.session.id, covered, &result.text)?;
        let mut history = vec![summary_item(&result.text)];
        history.extend(self.history.drain(replaced..));
        self.history = history;
        self.covered = covered;
        self.summarized = true;
        self.last_usage = None;
        tracing::info!(
            "compacted session {}: {replaced} items summarized by {}",
            self.session.id,
            result.model
        );
        Ok(replaced)
    }

    /// [`Chat::compact`] before a turn: a failure is reported, never fatal.
    pub(super) fn compact_if_needed(&mut self) {
        if let Err(e) = self.compact(false) {
            self.aux_failed("compression", &e);
        }
    }
}

/// Images `/image` takes, by extension.
const IMAGE_TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
];
/// The Responses API refuses larger images.
const IMAGE_MAX_BYTES: u64 = 20 * 1024 * 1024;

/// A file as a `data:` URL.
fn image_url(path: &std::path::Path) -> Result<String> {
    use base64::Engine;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mime = IMAGE_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            Error::usage(format!(
                "{} is not an image talaria can send (png, jpg, gif or webp)",
                path.display()
            ))
        })?;
    let meta = std::fs::metadata(path).map_err(|e| crate::error::io_error(path, "read", e))?;
    if meta.len() > IMAGE_MAX_BYTES {
        return Err(Error::usage(format!(
            "{} is {} MB; images up to 20 MB can be sent",
            path.display(),
            meta.len() / (1024 * 1024)
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| crate::error::io_error(path, "read", e))?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

impl Chat {
    /// `/compact`: summarize the older turns now.
    pub(super) fn compact_command(&mut self) -> Result<()> {
        if self.history.is_empty() {
            eprintln!("nothing to compact yet");
            return Ok(());
        }
        match self.compact(true)? {
            0 => eprintln!("nothing to compact"),
            n => {
                eprintln!("compacted: {n} items summarized; the summary goes with the next request")
            }
        }
        Ok(())
    }

    /// `/image PATH`: the image goes with the next message, to the main model when it
    /// takes images, else as a description from the `vision` task.
    pub(super) fn image_command(&mut self, arg: &str) -> Result<()> {
        if arg.is_empty() {
            return Err(Error::usage("/image takes the path of an image file"));
        }
        let path = std::path::Path::new(arg);
        let url = image_url(path)?;
        if self.main_takes_images() {
            self.pending_images.push(url);
            eprintln!("image attached to your next message");
            return Ok(());
        }
        let mut request = self.aux_request(
            "vision",
            vec![Item::user_text(
                "Describe this image for a model that cannot see it.",
            )],
        );
        request.images = vec![url];
        let result = self.aux.run(&request)?;
        eprintln!(
            "{} takes no images: {} described it; the description goes with your next message",
            self.settings.model, result.model
        );
        self.pending_notes.push(format!(
            "[Image {}, described by {}: {}]",
            path.display(),
            result.model,
            result.text
        ));
        Ok(())
    }

    /// Whether the main model takes images, from its provider's model list.
    fn main_takes_images(&self) -> bool {
        let model = &self.settings.model;
        let list = crate::provider::Provider::find(&self.registry, &model.provider).and_then(|p| {
            p.models(&talaria_plugin_api::provider::ModelsRequest { refresh: false })
        });
        match list {
            Ok(list) => list
                .models
                .iter()
                .any(|m| m.slug == model.model && m.takes_images()),
            Err(e) => {
                tracing::warn!("cannot tell whether {model} takes images: {}", e.message);
                false
            }
        }
    }

    /// The prompt with the pending image descriptions before it.
    pub(super) fn with_notes(&mut self, prompt: &str) -> String {
        if self.pending_notes.is_empty() {
            return prompt.to_owned();
        }
        let mut text = std::mem::take(&mut self.pending_notes).join("\n");
        text.push_str("\n\n");
        text.push_str(prompt);
        text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn history_is_the_summary_then_the_items_after_those_it_covers() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(&dir.path().join("sessions.db")).unwrap();
        let s = store.create("auto", "p", "m").unwrap();
        let items = [
            Item::user_text("one"),
            Item::assistant_text("ONE"),
            Item::user_text("two"),
        ];
        store.add_items(&s.id, &items).unwrap();
        assert_eq!(load_history(&store, &s.id).unwrap(), (items.to_vec(), 0));

        store.add_compaction(&s.id, 2, "they said one").unwrap();
        let (history, covered) = load_history(&store, &s.id).unwrap();
        assert_eq!(covered, 2);
        assert_eq!(
            history,
            vec![summary_item("they said one"), items[2].clone()]
        );

        // A compaction that covers more than is stored is reported, not guessed at.
        store.add_compaction(&s.id, 5, "too much").unwrap();
        let e = load_history(&store, &s.id).unwrap_err();
        assert!(
            e.message.contains("covering 5 items but only 3"),
            "{}",
            e.message
        );
    }
}
