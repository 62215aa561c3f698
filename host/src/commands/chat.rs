use crate::app::App;
use crate::cli::ChatArgs;
use crate::error::{Error, Result};
pub fn run(_app: &App, _args: ChatArgs) -> Result<()> { Err(Error::failure("todo")) }
