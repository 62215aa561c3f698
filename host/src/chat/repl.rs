//! The interactive chat: a line editor with history, and slash commands.

use clap::ValueEnum;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use super::{Chat, Finish};
use crate::cli::ApprovalMode;
use crate::commands::plugin_command::{self, Origin};
use crate::error::{Error, Result};

const HELP: &str = "\
/help                 this list
/model [NAME]         show or switch the model
/fast [on|off]        toggle the priority service tier
/new                  start a new session
/resume [ID]          continue a stored session (without ID: list recent ones)
/sessions             list recent sessions
/tools                list the tools the model can call
/approvals [MODE]     show or set approvals: ask, auto or deny
/compact              summarize the older turns now to free context
/goal [TEXT|status|pause|resume|clear]  work on a goal until it is met
/image PATH           attach an image to your next message
/codex-runtime [on|off|auto|status|migrate]  hand turns to the Codex app-server
/NAME ARGS            a command a plugin provides (as `talaria NAME ARGS`)
/mcp:SERVER:PROMPT [ARG=VALUE|VALUE]...  send an MCP server's prompt
/NAME:REST ARGS       the same for any plugin command (as `talaria NAME REST ARGS`)
/quit                 leave (Ctrl+D works too)
Ctrl+C interrupts a running turn; at the prompt it clears the line.";

pub fn run(chat: &mut Chat) -> Result<()> {
    let mut editor = DefaultEditor::new()
        .map_err(|e| Error::failure(format!("cannot start the line editor: {e}")))?;
    let history_path = chat.store.path().with_file_name("chat_history");
    // A missing history file is the normal first run.
    let _ = editor.load_history(&history_path);
    eprintln!(
        "talaria chat — {} on {} (/help for commands, /quit to leave)",
        chat.settings.model, chat.settings.runtime
    );
    loop {
        let line = match editor.readline("› ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::failure(format!("cannot read input: {e}"))),
        };
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(input);
        let prompt;
        let input = match input.strip_prefix('/') {
            Some(command) => match slash(chat, command) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue) => continue,
                Ok(Flow::Send(text)) => {
                    prompt = text;
                    prompt.as_str()
                }
                Err(e) => {
                    eprintln!("error: {}", e.message);
                    continue;
                }
            },
            None => input,
        };
        match chat.turn(input) {
            Ok(Finish::Done) => {}
            Ok(Finish::Interrupted) => eprintln!("(interrupted; the partial answer is kept)"),
            // A failed turn is reported and the conversation goes on.
            Err(e) => eprintln!("error: {}", e.message),
        }
        crate::memory::release_free_pages();
    }
    if let Err(e) = editor.save_history(&history_path) {
        tracing::warn!(
            "could not save the chat history to {}: {e}",
            history_path.display()
        );
    }
    Ok(())
}

enum Flow {
    Continue,
    Quit,
    /// Send this text as the user's message (a plugin command's prompt).
    Send(String),
}

fn slash(chat: &mut Chat, command: &str) -> Result<Flow> {
    let (name, arg) = command
        .split_once(char::is_whitespace)
        .map(|(n, a)| (n, a.trim()))
        .unwrap_or((command, ""));
    // `/NAME:REST ARGS` is `/NAME REST ARGS` for the plugin serving NAME
    // (`/mcp:SERVER:PROMPT` reaches the MCP bridge as `mcp SERVER:PROMPT`).
    if let Some((command, rest)) = name.split_once(':') {
        if chat.registry.command_plugin(command).is_ok() {
            let mut args = vec![rest.to_owned()];
            args.extend(split_args(arg)?);
            return plugin_slash(chat, command, &args);
        }
    }
    match name {
        "help" | "?" => eprintln!("{HELP}"),
        "quit" | "exit" | "q" => return Ok(Flow::Quit),
        "model" if arg.is_empty() => {
            eprintln!(
                "model: {} (fast mode {})",
                chat.settings.model,
                on_off(chat.settings.fast)
            );
            eprintln!("`talaria models` lists the models your account can use");
        }
        "model" => {
            chat.settings.model.model = arg.to_owned();
            eprintln!("model: {}", chat.settings.model);
        }
        "fast" => {
            chat.settings.fast = match arg {
                "" => !chat.settings.fast,
                "on" => true,
                "off" => false,
                other => {
                    return Err(Error::usage(format!(
                        "/fast takes on or off, not {other:?}"
                    )))
                }
            };
            eprintln!(
                "fast mode {} (priority service tier)",
                on_off(chat.settings.fast)
            );
        }
        "new" => {
            chat.new_session()?;
            eprintln!("new session {}", chat.session.id);
        }
        "resume" if arg.is_empty() => list_sessions(chat)?,
        "resume" => {
            chat.resume(arg)?;
            eprintln!(
                "resumed {} ({} earlier items)",
                chat.session.id,
                chat.history.len()
            );
        }
        "sessions" => list_sessions(chat)?,
        "tools" => {
            let list = chat.registry.tool_list();
            for tool in &list.tools {
                eprintln!(
                    "{:<16} {:<14} {}",
                    tool.spec.name, tool.plugin, tool.spec.description
                );
            }
            for warning in &list.warnings {
                eprintln!("warning: {warning}");
            }
            if list.tools.is_empty() {
                eprintln!("no tools: enable a tool plugin (`talaria plugins list`)");
            }
        }
        "approvals" if arg.is_empty() => {
            eprintln!("approvals: {}", mode_name(chat.registry.approvals().mode()))
        }
        "approvals" => {
            // The flag's own parser: `/approvals` takes what `--approvals` takes.
            let mode = ApprovalMode::from_str(arg, true).map_err(|_| {
                Error::usage(format!("/approvals takes ask, auto or deny, not {arg:?}"))
            })?;
            chat.registry.approvals().set_mode(mode);
            eprintln!("approvals: {}", mode_name(mode));
        }
        "compact" => chat.compact_command()?,
        "goal" => chat.goal_command(arg)?,
        "image" => chat.image_command(arg)?,
        // Commands plugins serve (`/codex-runtime on`, a third party's): their plugin
        // prints the outcome; an exit code without a message needs no more words here.
        other if chat.registry.command_plugin(other).is_ok() => {
            return plugin_slash(chat, other, &split_args(arg)?);
        }
        other => {
            return Err(Error::usage(format!(
                "unknown command /{other}; /help lists them"
            )))
        }
    }
    Ok(Flow::Continue)
}

/// Runs a plugin's command from the REPL; text it hands back becomes the next message.
fn plugin_slash(chat: &mut Chat, command: &str, args: &[String]) -> Result<Flow> {
    match plugin_command::run_in(&chat.registry, command, args, Origin::Repl) {
        Ok(Some(prompt)) => Ok(Flow::Send(prompt)),
        Ok(None) => Ok(Flow::Continue),
        // The plugin said why it failed; an exit code needs no more words here.
        Err(e) if e.message.is_empty() => Ok(Flow::Continue),
        Err(e) => Err(e),
    }
}

/// A slash command's arguments, split as a shell would (quotes keep spaces together).
fn split_args(arg: &str) -> Result<Vec<String>> {
    shlex::split(arg).ok_or_else(|| Error::usage(format!("unbalanced quotes in {arg:?}")))
}

fn list_sessions(chat: &Chat) -> Result<()> {
    for s in chat.store.list()?.into_iter().take(10) {
        let marker = if s.id == chat.session.id { "←" } else { "" };
        eprintln!(
            "{}  {}  {} {marker}",
            s.id,
            s.updated_at,
            s.title.as_deref().unwrap_or("(untitled)")
        );
    }
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn mode_name(mode: ApprovalMode) -> String {
    mode.to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}
