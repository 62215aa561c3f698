use crate::app::App;
use crate::error::{Error, Result};
pub fn run(_app: &App, _json: bool) -> Result<()> { Err(Error::failure("todo")) }
