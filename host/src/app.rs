//! What every command starts from: the home, the selected profile, its config and the
//! plugins found.

use std::cell::OnceCell;

use crate::config::{Config, PluginClaims};
use crate::error::Result;
use crate::home::{Home, Profile};
use crate::plugins::Catalog;

pub struct App {
    pub home: Home,
    pub profile: Profile,
    config: OnceCell<Config>,
    catalog: OnceCell<Catalog>,
    /// `plugins install`: what only a plugin can vouch for in the config (its sections,
    /// its transports) is a warning, so that a removed plugin can be installed again.
    installing_plugins: bool,
}

impl App {
    pub fn new(profile_flag: Option<&str>) -> Result<App> {
        let home = Home::from_env()?;
        let profile = home.select_profile(profile_flag)?;
        Ok(App {
            home,
            profile,
            config: OnceCell::new(),
            catalog: OnceCell::new(),
            installing_plugins: false,
        })
    }

    /// For `talaria plugins install`: see [`App::config`].
    pub fn installing_plugins(mut self) -> App {
        self.installing_plugins = true;
        self
    }

    /// The profile's config, read once. An invalid file is a usage error (exit 2), and
    /// so is a section no plugin found claims or a transport none provides, except while
    /// installing a plugin (the fix for both), where those are warnings.
    pub fn config(&self) -> Result<&Config> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let path = self.profile.config_path();
        let config = Config::load(&path)?;
        match config.check_plugin_claims(&path, &Discovered(self)) {
            Err(e) if self.installing_plugins => eprintln!("warning: {}", e.message),
            checked => checked?,
        }
        Ok(self.config.get_or_init(|| config))
    }

    /// The plugins found (discovery reads manifests only; no plugin code runs). Done on
    /// first use: `sessions list` or `logs` never need it.
    pub fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| Catalog::discover(&self.home))
    }
}

/// The plugins found, discovered only if the config has something for them to vouch for.
struct Discovered<'a>(&'a App);

impl PluginClaims for Discovered<'_> {
    fn claims_section(&self, name: &str) -> bool {
        self.0.catalog().claims_section(name)
    }

    fn provides_transport(&self, wire_api: &str) -> bool {
        self.0.catalog().provides_transport(wire_api)
    }

    fn serves_provider_kind(&self, kind: &str) -> bool {
        self.0.catalog().serves_provider_kind(kind)
    }
}
