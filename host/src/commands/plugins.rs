use crate::app::App;
use crate::cli::PluginsCommand;
use crate::error::{Error, Result};
pub fn run(_app: &App, _cmd: PluginsCommand) -> Result<()> { Err(Error::failure("todo")) }
