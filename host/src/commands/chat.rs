//! `talaria chat`. The agent loop and the transport arrive with their plugins; until a
//! provider plugin for the configured provider is installed, chat says exactly that.

use std::sync::Arc;

use talaria_plugin_api::manifest::PluginKind;

use crate::app::App;
use crate::cli::ChatArgs;
use crate::error::{Error, Result};
use crate::host_services::PolicyApprover;
use crate::plugins::Registry;

pub fn run(app: &App, args: ChatArgs) -> Result<()> {
    let config = app.config()?;
    let registry = Registry::open(app, Arc::new(PolicyApprover { mode: args.approvals }))?;
    let runtime = args.runtime.as_deref().unwrap_or(&config.model.runtime);
    registry.runtime(runtime)?;
    let provider = args.provider.as_deref().unwrap_or(&config.model.provider);
    let provided = registry
        .enabled_of_kind(PluginKind::Provider)
        .any(|e| e.manifest.as_ref().is_some_and(|m| m.provides.providers.iter().any(|p| p == provider) || e.id == provider));
    if !provided {
        return Err(Error::missing(format!(
            "no enabled plugin provides the model provider {provider:?}; `talaria plugins list` shows what is installed"
        )));
    }
    Err(Error::missing("the native agent loop is not part of this build yet"))
}
