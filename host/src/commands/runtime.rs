use crate::app::App;
use crate::cli::RuntimeCommand;
use crate::error::{Error, Result};
pub fn run(_app: &App, _cmd: RuntimeCommand) -> Result<()> { Err(Error::failure("todo")) }
