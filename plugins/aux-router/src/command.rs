//! `talaria aux ...`: the command this plugin serves (`aux list [--json]`).

use std::io::Write;
use std::sync::Arc;

use talaria_sdk::command::{CommandOutcome, CommandRequest};
use talaria_sdk::{CallContext, Command, Error, Result};

use crate::{list, AuxRouter};

const USAGE: &str = "usage: talaria aux list [--json]";

pub struct AuxCommand(pub Arc<AuxRouter>);

impl Command for AuxCommand {
    fn run(&self, request: CommandRequest, cx: &CallContext) -> Result<CommandOutcome> {
        let args: Vec<&str> = request.args.iter().map(String::as_str).collect();
        let json = match args.as_slice() {
            ["list"] => false,
            ["list", "--json"] | ["--json", "list"] => true,
            ["help" | "--help" | "-h"] | [] => {
                eprintln!("{USAGE}\n  list    what every aux task resolves to right now, and why");
                return Ok(CommandOutcome::exit(if args.is_empty() { 2 } else { 0 }));
            }
            _ => {
                return Err(Error::invalid(format!(
                    "unknown arguments `{}`; {USAGE}",
                    args.join(" ")
                )))
            }
        };
        let routes = self.0.routes(cx);
        let text = if json {
            let mut t = serde_json::to_string_pretty(&routes)?;
            t.push('\n');
            t
        } else {
            list::table(&routes)
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Error::other(format!("cannot write to stdout: {e}")))?;
        Ok(CommandOutcome::exit(0))
    }
}
