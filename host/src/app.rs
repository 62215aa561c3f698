//! What every command starts from: the home, the selected profile, its config and the
//! plugins found.

use std::cell::OnceCell;

use crate::config::Config;
use crate::error::Result;
use crate::home::{Home, Profile};
use crate::plugins::Catalog;

pub struct App {
    pub home: Home,
    pub profile: Profile,
    config: OnceCell<Config>,
    catalog: OnceCell<Catalog>,
}

impl App {
    pub fn new(profile_flag: Option<&str>) -> Result<App> {
        let home = Home::from_env()?;
        let profile = home.select_profile(profile_flag)?;
        Ok(App { home, profile, config: OnceCell::new(), catalog: OnceCell::new() })
    }

    /// The profile's config, read once. An invalid file is a usage error (exit 2), and
    /// so is a top-level section that no plugin found claims.
    pub fn config(&self) -> Result<&Config> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let path = self.profile.config_path();
        let config = Config::load(&path)?;
        config.check_sections(&path, |name| self.catalog().claims_section(name))?;
        Ok(self.config.get_or_init(|| config))
    }

    /// The plugins found (discovery reads manifests only; no plugin code runs).
    pub fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| Catalog::discover(&self.home))
    }
}
