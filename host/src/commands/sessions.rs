use crate::app::App;
use crate::cli::SessionsCommand;
use crate::error::{Error, Result};
pub fn run(_app: &App, _cmd: SessionsCommand) -> Result<()> { Err(Error::failure("todo")) }
