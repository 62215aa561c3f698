//! The host's side of a provider plugin: which plugin serves a provider id, and typed
//! calls to its `provider.*` methods, with plugin errors mapped to the exit codes of
//! CONTRACT.md.
//!
//! Results may hold secrets ([`Endpoint::headers`] carries the bearer token): nothing
//! here logs a result, and a malformed one is reported without quoting its content.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use talaria_plugin_api::abi::{event_sink, CancelFlag, EventSink, EventSinkArc, PluginError};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::manifest::PluginKind;
use talaria_plugin_api::payload::{methods, ErrorKind, Event};
use talaria_plugin_api::provider::{
    Account, Endpoint, LoginRequest, LogoutResult, ModelList, ModelsRequest, RemoveAccountRequest, ResolveRequest,
};

use crate::error::{Error, Exit, Result};
use crate::plugins::registry::LoadedPlugin;
use crate::plugins::{PluginEntry, Registry};

/// A provider id and the loaded plugin that serves it.
pub struct Provider {
    id: String,
    plugin: Arc<LoadedPlugin>,
    /// Kept alive for the plugin's calls back into the host (it holds only a weak
    /// reference), e.g. a provider asking another plugin for something.
    _registry: Arc<Registry>,
}

/// The provider ids a plugin serves: its manifest's `provides.providers`, and its own id.
pub fn provider_ids(entry: &PluginEntry) -> Vec<String> {
    let mut ids = entry.manifest.as_ref().map(|m| m.provides.providers.clone()).unwrap_or_default();
    if !ids.contains(&entry.id) {
        ids.push(entry.id.clone());
    }
    ids
}

/// Whether `entry` could serve provider `id`. An entry whose manifest is unusable is
/// matched by its id alone, so asking for it reports why it cannot load (exit 4)
/// instead of claiming nobody provides it.
fn serves(entry: &PluginEntry, id: &str) -> bool {
    match &entry.manifest {
        Some(m) => m.has_kind(PluginKind::Provider) && (entry.id == id || m.provides.providers.iter().any(|p| p == id)),
        None => entry.id == id,
    }
}

impl Provider {
    /// The enabled plugin serving provider `id`, loaded. Unknown id: exit 2 naming
    /// `talaria plugins list`; served only by a disabled plugin: exit 2 naming the
    /// command that enables it; a plugin that fails to load: exit 4 with the reason.
    pub fn find(registry: &Arc<Registry>, id: &str) -> Result<Provider> {
        let candidates: Vec<&PluginEntry> = registry.entries().iter().filter(|e| serves(e, id)).collect();
        if let Some(entry) = candidates.iter().find(|e| registry.is_enabled(&e.id)) {
            return Provider::of_plugin(registry, &entry.id, id);
        }
        if let Some(entry) = candidates.first() {
            return Err(Error::usage(format!(
                "the provider {id} comes from plugin {plugin}, which is disabled in profile {profile}; \
                 enable it with `talaria plugins enable {plugin}`",
                plugin = entry.id,
                profile = registry.profile_name(),
            )));
        }
        Err(Error::usage(format!(
            "no plugin provides the model provider {id:?}; `talaria plugins list` shows the plugins found"
        )))
    }

    /// Provider `id` as served by plugin `plugin_id` (loaded now: exit 4 if it cannot be).
    pub fn of_plugin(registry: &Arc<Registry>, plugin_id: &str, id: &str) -> Result<Provider> {
        let plugin = registry.plugin(plugin_id)?;
        Ok(Provider { id: id.to_owned(), plugin, _registry: registry.clone() })
    }

    /// The provider id, as asked for (a plugin may serve several).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn plugin_id(&self) -> &str {
        &self.plugin.id
    }

    /// Signs in; `on_event` sees the plugin's events (the device code, progress) as
    /// they arrive, while the call blocks.
    pub fn login(&self, request: &LoginRequest, on_event: impl Fn(Event) + Send + Sync + 'static) -> Result<Account> {
        self.call(methods::PROVIDER_LOGIN, request, event_sink(EventRelay(on_event)))
    }

    pub fn logout(&self) -> Result<LogoutResult> {
        self.call(methods::PROVIDER_LOGOUT, &serde_json::json!({}), notices())
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.call(methods::PROVIDER_ACCOUNTS, &serde_json::json!({}), notices())
    }

    /// Removes pooled credential `index` (1-based, as `auth list` numbers them).
    pub fn remove_account(&self, index: usize) -> Result<Account> {
        self.call(methods::PROVIDER_REMOVE_ACCOUNT, &RemoveAccountRequest { index }, notices())
    }

    /// The endpoint for the next request. Holds the bearer token: never print or log it.
    pub fn resolve(&self, request: &ResolveRequest) -> Result<Endpoint> {
        self.call(methods::PROVIDER_RESOLVE, request, notices())
    }

    pub fn models(&self, request: &ModelsRequest) -> Result<ModelList> {
        self.call(methods::PROVIDER_MODELS, request, notices())
    }

    fn call<R: DeserializeOwned>(&self, method: &str, params: &impl Serialize, events: EventSinkArc) -> Result<R> {
        let params = serde_json::to_string(params).map_err(|e| Error::failure(format!("cannot encode {method} params: {e}")))?;
        let out = self
            .plugin
            .instance
            .call(RStr::from_str(method), RStr::from_str(&params), events, CancelFlag::new())
            .into_result()
            .map_err(|e| plugin_error(&e))?;
        // serde's message can quote the offending value, which may be a token: say
        // where the problem is, not what it was.
        serde_json::from_str(&out).map_err(|e| {
            Error::failure(format!(
                "plugin {} answered {method} with a malformed result ({:?} error at line {} column {}); \
                 it may be built for another version of talaria",
                self.plugin.id,
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// The host's exit code for a plugin's error kind. The plugin's message already says
/// what to do, so it is kept verbatim.
pub fn exit_for(kind: ErrorKind) -> Exit {
    match kind {
        ErrorKind::Auth => Exit::Auth,
        ErrorKind::InvalidRequest | ErrorKind::UnknownMethod => Exit::Usage,
        ErrorKind::Unavailable => Exit::Missing,
        ErrorKind::Cancelled => Exit::Interrupted,
        _ => Exit::Failure,
    }
}

fn plugin_error(e: &PluginError) -> Error {
    Error::new(exit_for(e.kind()), e.message.as_str())
}

/// Hands a plugin's events to a closure, skipping any this build cannot parse.
struct EventRelay<F>(F);

impl<F: Fn(Event) + Send + Sync> EventSink for EventRelay<F> {
    fn emit(&self, event: RStr<'_>) {
        if let Ok(event) = serde_json::from_str::<Event>(event.as_str()) {
            (self.0)(event);
        }
    }
}

/// Events of the short provider calls: progress and warnings go to stderr; stdout is
/// left to the command's own output.
fn notices() -> EventSinkArc {
    event_sink(EventRelay(print_notice))
}

/// Prints a progress, warning or error event on stderr; other events are not notices.
pub fn print_notice(event: Event) {
    match event {
        Event::Progress { message } => eprintln!("{message}"),
        Event::Warning { message } => eprintln!("warning: {message}"),
        Event::Error { message } => eprintln!("error: {message}"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_error_kinds_map_to_the_contracts_exit_codes() {
        assert_eq!(exit_for(ErrorKind::Auth), Exit::Auth);
        assert_eq!(exit_for(ErrorKind::InvalidRequest), Exit::Usage);
        assert_eq!(exit_for(ErrorKind::UnknownMethod), Exit::Usage);
        assert_eq!(exit_for(ErrorKind::Unavailable), Exit::Missing);
        assert_eq!(exit_for(ErrorKind::Cancelled), Exit::Interrupted);
        for kind in [ErrorKind::Network, ErrorKind::RateLimited, ErrorKind::Other, ErrorKind::Panicked] {
            assert_eq!(exit_for(kind), Exit::Failure, "{kind:?}");
        }
        let e = plugin_error(&PluginError::new(ErrorKind::Auth, "run `talaria login`"));
        assert_eq!((e.exit, e.message.as_str()), (Exit::Auth, "run `talaria login`"));
    }
}
