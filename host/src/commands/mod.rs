//! One module per command group; `run` dispatches.

mod chat;
mod doctor;
mod logs;
mod plugins;
mod profile;
mod runtime;
mod sessions;

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::error::{Error, Result};

pub fn run(cli: Cli) -> Result<()> {
    // Profile commands work on the home itself and must run even when the selected
    // profile is broken or missing.
    if let Command::Profile(cmd) = cli.command {
        return profile::run(cmd);
    }
    let app = App::new(cli.profile.as_deref())?;
    crate::logging::init(&app.profile);
    tracing::debug!(profile = %app.profile.name, "starting");
    match cli.command {
        Command::Chat(args) => chat::run(&app, args),
        Command::Plugins(cmd) => plugins::run(&app, cmd),
        Command::Runtime(cmd) => runtime::run(&app, cmd),
        Command::Sessions(cmd) => sessions::run(&app, cmd),
        Command::Doctor { json } => doctor::run(&app, json),
        Command::Logs { since } => logs::run(&app, since.as_deref()),
        Command::Profile(_) => unreachable_profile(),
        Command::Login(_)
        | Command::Logout { .. }
        | Command::Auth(_)
        | Command::Models { .. }
        | Command::CodexRuntime { .. }
        | Command::Mcp(_)
        | Command::Aux(_) => Err(not_yet_available()),
    }
}

fn unreachable_profile() -> Result<()> {
    Err(Error::failure("internal: profile commands are dispatched before the profile is opened"))
}

/// Commands whose plugins have not landed yet say so plainly (exit 4: a required
/// component is missing) instead of pretending to work.
fn not_yet_available() -> Error {
    Error::missing("this command needs a first-party plugin that is not part of this build yet (see `talaria plugins list`)")
}
