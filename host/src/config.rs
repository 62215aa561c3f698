use std::path::Path;
use crate::error::Result;
#[derive(Debug, Default)]
pub struct Config;
impl Config { pub fn load(_p: &Path) -> Result<Config> { Ok(Config) } }
