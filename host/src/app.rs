//! What every command starts from: the home, the selected profile and its config.

use std::cell::OnceCell;

use crate::config::Config;
use crate::error::Result;
use crate::home::{Home, Profile};

pub struct App {
    pub home: Home,
    pub profile: Profile,
    config: OnceCell<Config>,
}

impl App {
    pub fn new(profile_flag: Option<&str>) -> Result<App> {
        let home = Home::from_env()?;
        let profile = home.select_profile(profile_flag)?;
        Ok(App { home, profile, config: OnceCell::new() })
    }

    /// The profile's config, read once. An invalid file is a usage error (exit 2).
    pub fn config(&self) -> Result<&Config> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let config = Config::load(&self.profile.config_path())?;
        Ok(self.config.get_or_init(|| config))
    }
}
