//! Commands a plugin serves (`[provides] commands`): `talaria mcp ...`,
//! `talaria codex-runtime ...`, `talaria aux ...`, a third party's, and the same from the
//! REPL as `/name ...`. The host finds the plugin by the command's name and hands the
//! arguments over untouched; the plugin writes its own output, so nothing here prints to
//! stdout.

use std::io::IsTerminal;
use std::sync::Arc;

use talaria_plugin_api::abi::CancelFlag;
use talaria_plugin_api::command::CommandRequest;
use talaria_plugin_api::methods::CommandRun;

use crate::app::App;
use crate::approvals::Approvals;
use crate::cli::ApprovalMode;
use crate::client;
use crate::error::{Error, Exit, Result};
use crate::events::{sink, Relay};
use crate::plugins::Registry;
use crate::provider::plugin_error;

use super::login::LoginScreen;

/// Where the command was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Shell,
    Repl,
}

/// Runs `talaria name args...` in the plugin that serves it; its exit code becomes
/// ours (0 is `Ok`), an exit code without a message of ours (the plugin said why).
pub fn run(app: &App, name: &str, args: &[String]) -> Result<()> {
    // A command may ask for approvals (a login to start, say): on a terminal the user
    // answers; otherwise nobody can and the request is declined, unless the command made
    // itself the approver (`mcp serve` asks its MCP client).
    let registry = Registry::open(app, Arc::new(Approvals::new(ApprovalMode::Ask)))?;
    // A prompt to send is for the REPL; from the shell there is no conversation.
    run_in(&registry, name, args, Origin::Shell).map(|_| ())
}

/// Whether someone can be asked: stdin and stderr are both terminals.
fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Runs the command in `registry`'s plugins (the REPL passes the chat's own, so its
/// approval mode applies). Returns the text the command hands back for the REPL to send
/// as the user's next message, if any.
pub fn run_in(
    registry: &Registry,
    name: &str,
    args: &[String],
    origin: Origin,
) -> Result<Option<String>> {
    let plugin = registry.command_plugin(name)?;
    let request = CommandRequest {
        command: name.to_owned(),
        args: args.to_vec(),
        interactive: on_terminal(),
        from_repl: origin == Origin::Repl,
    };
    let screen = LoginScreen::for_terminal(false);
    let events = sink(Arc::new(Relay(move |event: &_| screen.show(event))));
    let outcome = client::call::<CommandRun>(&plugin, &request, events, CancelFlag::new())
        .map_err(|e| plugin_error(&e))?;
    match outcome.exit_code {
        0 => Ok(outcome.prompt),
        code => Err(Error::quiet(exit_from_code(code))),
    }
}

/// The contract's exit code a plugin returned; anything else counts as a failure.
fn exit_from_code(code: u8) -> Exit {
    match code {
        2 => Exit::Usage,
        3 => Exit::Auth,
        4 => Exit::Missing,
        130 => Exit::Interrupted,
        _ => Exit::Failure,
    }
}
