//! The host's side of a provider: typed calls of the `provider.*` methods for one
//! provider id, routed to the plugin serving it, with plugin errors mapped to the exit
//! codes of CONTRACT.md.
//!
//! Results may hold secrets ([`Endpoint::headers`] carries the bearer token): nothing
//! here logs a result, and a malformed one is reported without quoting its content.

use std::sync::Arc;

use talaria_plugin_api::abi::{CancelFlag, EventSinkArc, PluginError};
use talaria_plugin_api::methods::{self, Method};
use talaria_plugin_api::payload::{ErrorKind, Event};
use talaria_plugin_api::provider::{
    Account, Empty, Endpoint, LoginRequest, LogoutResult, ModelList, ModelsRequest, ProviderCall,
    RemoveAccountRequest, ResolveRequest,
};

use crate::client;
use crate::error::{Error, Exit, Result};
use crate::events::{notices, sink, Relay};
use crate::plugins::{LoadedPlugin, Registry};

/// A provider id and the loaded plugin that serves it.
pub struct Provider {
    id: String,
    plugin: Arc<LoadedPlugin>,
    /// Kept alive for the plugin's calls back into the host (it holds only a weak
    /// reference), e.g. a provider asking for an approval.
    registry: Arc<Registry>,
}

impl Provider {
    /// The enabled plugin serving provider `id`, loaded. Unknown id: exit 2 naming
    /// `talaria plugins list`; served only by a disabled plugin: exit 2 naming the
    /// command that enables it; a plugin that fails to load: exit 4 with the reason.
    pub fn find(registry: &Arc<Registry>, id: &str) -> Result<Provider> {
        let plugin = registry.provider_plugin(id)?;
        Ok(Provider {
            id: id.to_owned(),
            plugin,
            registry: registry.clone(),
        })
    }

    /// The provider id, as asked for (a plugin may serve several).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the provider signs in with `talaria login` (`provider.info`); an API-key
    /// provider does not.
    pub fn supports_login(&self) -> bool {
        self.registry
            .provider_info(&self.id)
            .is_ok_and(|info| info.supports_login)
    }

    /// Signs in; `on_event` sees the plugin's events (the device code, progress) as
    /// they arrive, while the call blocks.
    pub fn login(
        &self,
        request: &LoginRequest,
        on_event: impl Fn(&Event) + Send + Sync + 'static,
    ) -> Result<Account> {
        self.call::<methods::ProviderLogin, _>(request.clone(), sink(Arc::new(Relay(on_event))))
    }

    pub fn logout(&self) -> Result<LogoutResult> {
        self.call::<methods::ProviderLogout, _>(Empty {}, notices())
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.call::<methods::ProviderAccounts, _>(Empty {}, notices())
    }

    /// Removes pooled credential `index` (1-based, as `auth list` numbers them).
    pub fn remove_account(&self, index: usize) -> Result<Account> {
        self.call::<methods::ProviderRemoveAccount, _>(RemoveAccountRequest { index }, notices())
    }

    /// The endpoint for the next request. Holds the bearer token: never print or log it.
    pub fn resolve(&self, request: &ResolveRequest) -> Result<Endpoint> {
        self.call::<methods::ProviderResolve, _>(request.clone(), notices())
    }

    pub fn models(&self, request: &ModelsRequest) -> Result<ModelList> {
        self.call::<methods::ProviderModels, _>(request.clone(), notices())
    }

    /// Calls provider method `M` with this provider's id beside the request.
    fn call<M, T>(&self, request: T, events: EventSinkArc) -> Result<M::Output>
    where
        M: Method<Params = ProviderCall<T>>,
    {
        let params = ProviderCall::new(&self.id, request);
        client::call::<M>(&self.plugin, &params, events, CancelFlag::new())
            .map_err(|e| plugin_error(&e))
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

pub fn plugin_error(e: &PluginError) -> Error {
    Error::new(exit_for(e.kind()), e.message.as_str())
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
        for kind in [
            ErrorKind::Network,
            ErrorKind::RateLimited,
            ErrorKind::Other,
            ErrorKind::Panicked,
        ] {
            assert_eq!(exit_for(kind), Exit::Failure, "{kind:?}");
        }
        let e = plugin_error(&PluginError::new(ErrorKind::Auth, "run `talaria login`"));
        assert_eq!(
            (e.exit, e.message.as_str()),
            (Exit::Auth, "run `talaria login`")
        );
    }
}
