//! One module per command group; `run` dispatches.

mod auth;
mod chat;
mod doctor;
mod login;
mod logs;
mod models;
pub mod plugin_command;
mod plugins;
mod profile;
mod runtime;
mod sessions;

use std::sync::Arc;

use crate::app::App;
use crate::approvals::Approvals;
use crate::cli::{ApprovalMode, Cli, Command, PluginsCommand};
use crate::error::{Error, Result};
use crate::plugins::Registry;
use crate::provider::Provider;

pub fn run(cli: Cli) -> Result<()> {
    // Profile commands work on the home itself and must run even when the selected
    // profile is broken or missing.
    if let Command::Profile(cmd) = cli.command {
        return profile::run(cmd);
    }
    let app = App::new(cli.profile.as_deref())?;
    let app = if matches!(
        cli.command,
        Command::Plugins(PluginsCommand::Install { .. })
    ) {
        app.installing_plugins()
    } else {
        app
    };
    crate::logging::init(&app.profile);
    tracing::debug!(profile = %app.profile.name, "starting");
    match cli.command {
        Command::Chat(args) => chat::run(&app, args),
        Command::Plugins(cmd) => plugins::run(&app, cmd),
        Command::Runtime(cmd) => runtime::run(&app, cmd),
        Command::Sessions(cmd) => sessions::run(&app, cmd),
        Command::Doctor { json } => doctor::run(&app, json.json),
        Command::Logs { since } => logs::run(&app, since.as_deref()),
        Command::Profile(_) => unreachable_profile(),
        Command::Login(args) => login::login(&app, args),
        Command::Logout { provider } => login::logout(&app, provider.provider.as_deref()),
        Command::Auth(cmd) => auth::run(&app, cmd),
        Command::Models { provider, json } => {
            models::run(&app, provider.provider.as_deref(), json.json)
        }
        Command::CodexRuntime(_) | Command::Mcp(_) | Command::Aux(_) | Command::External(_) => {
            let Some((name, args)) = cli.command.plugin_command() else {
                return Err(Error::usage(
                    "no command given; `talaria --help` lists them",
                ));
            };
            plugin_command::run(&app, name, args)
        }
    }
}

/// The provider a command works on: `--provider` when given, else the profile's
/// `model.provider`. Its plugin is loaded; approvals it asks for (say, whether to import
/// another client's login) are put to the terminal when there is one.
fn open_provider(app: &App, flag: Option<&str>) -> Result<Provider> {
    let id = match flag {
        Some(id) => id,
        None => app.config()?.model.provider.as_str(),
    };
    let registry = Registry::open(app, Arc::new(Approvals::new(ApprovalMode::Ask)))?;
    Provider::find(&registry, id)
}

fn unreachable_profile() -> Result<()> {
    Err(Error::failure(
        "internal: profile commands are dispatched before the profile is opened",
    ))
}
