use crate::app::App;
use crate::error::{Error, Result};
pub fn run(_app: &App, _since: Option<&str>) -> Result<()> { Err(Error::failure("todo")) }
