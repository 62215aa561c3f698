//! Payloads of `command.run`: a top-level `talaria` command served by a plugin
//! (`[provides] commands = ["mcp"]`), such as `talaria mcp serve` or
//! `talaria codex-runtime on`. The host routes the command by name and hands over the
//! arguments untouched; the plugin parses them and writes its own output, so a command
//! like `mcp serve` can own stdio.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    /// The command's name (`mcp`, `codex-runtime`, `aux`, or a third party's).
    pub command: String,
    /// Everything after the name, as the user typed it.
    #[serde(default)]
    pub args: Vec<String>,
    /// stdin and stderr are terminals: the command may prompt.
    #[serde(default)]
    pub interactive: bool,
    /// Run as a REPL slash command (`/codex-runtime on`) rather than from the shell.
    #[serde(default)]
    pub from_repl: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    /// The process exit code, one of the contract's (0 success … 4 missing component).
    #[serde(default)]
    pub exit_code: u8,
    /// Text for the REPL to send as the user's next message (an MCP prompt fetched by
    /// `/mcp:SERVER:PROMPT`, say). Only a command run `from_repl` sets it; from the
    /// shell the host ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

impl CommandOutcome {
    /// An outcome that is only an exit code.
    pub fn exit(exit_code: u8) -> Self {
        CommandOutcome {
            exit_code,
            prompt: None,
        }
    }
}
