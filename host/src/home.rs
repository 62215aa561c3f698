//! The talaria home and its profiles.
//!
//! The default profile lives at the root of `$TALARIA_HOME`; a named profile in
//! `$TALARIA_HOME/profiles/NAME/`. Each has its own config.toml, auth.json, sessions.db
//! and logs/. Installed plugins live in `$TALARIA_HOME/plugins/` and are shared by all
//! profiles; which of them are enabled is per profile.

use std::path::{Path, PathBuf};

use crate::error::{io_error, Error, Result};

pub const DEFAULT_PROFILE: &str = "default";

#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

/// One profile: its name and folder.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub dir: PathBuf,
}

impl Profile {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    pub fn auth_path(&self) -> PathBuf {
        self.dir.join("auth.json")
    }
    pub fn sessions_path(&self) -> PathBuf {
        self.dir.join("sessions.db")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
    /// Where plugins keep their own state for this profile.
    pub fn plugin_data_dir(&self, plugin_id: &str) -> PathBuf {
        self.dir.join("plugin-data").join(plugin_id)
    }
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_PROFILE
    }
}

impl Home {
    /// `$TALARIA_HOME`, else `~/.talaria`.
    pub fn from_env() -> Result<Home> {
        if let Some(dir) = std::env::var_os("TALARIA_HOME").filter(|v| !v.is_empty()) {
            return Ok(Home {
                root: PathBuf::from(dir),
            });
        }
        let home = std::env::home_dir()
            .ok_or_else(|| Error::usage("cannot find your home folder; set TALARIA_HOME to where talaria should keep its files"))?;
        Ok(Home {
            root: home.join(".talaria"),
        })
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.root.join("plugins")
    }

    fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    fn active_profile_path(&self) -> PathBuf {
        self.root.join("active_profile")
    }

    /// The profile named on the command line, else the sticky one, else the default.
    pub fn select_profile(&self, requested: Option<&str>) -> Result<Profile> {
        let name = match requested {
            Some(name) => name.to_owned(),
            None => self
                .sticky_profile()?
                .unwrap_or_else(|| DEFAULT_PROFILE.to_owned()),
        };
        let profile = self.profile(&name)?;
        if !profile.is_default() && !profile.dir.is_dir() {
            return Err(Error::usage(format!(
                "profile {name:?} does not exist; create it with `talaria profile create {name}`"
            )));
        }
        Ok(profile)
    }

    /// The profile called `name` (whether or not it exists yet).
    pub fn profile(&self, name: &str) -> Result<Profile> {
        validate_profile_name(name)?;
        let dir = if name == DEFAULT_PROFILE {
            self.root.clone()
        } else {
            self.profiles_dir().join(name)
        };
        Ok(Profile {
            name: name.to_owned(),
            dir,
        })
    }

    fn sticky_profile(&self) -> Result<Option<String>> {
        let path = self.active_profile_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let name = text.trim();
                Ok((!name.is_empty()).then(|| name.to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, "read", e)),
        }
    }

    /// The sticky profile's name ("default" when none is set).
    pub fn active_profile_name(&self) -> Result<String> {
        Ok(self
            .sticky_profile()?
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned()))
    }

    /// All profiles: the default one, then the named ones in order.
    pub fn list_profiles(&self) -> Result<Vec<String>> {
        let mut names = vec![DEFAULT_PROFILE.to_owned()];
        let dir = self.profiles_dir();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut named: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| validate_profile_name(n).is_ok())
                    .collect();
                named.sort();
                names.extend(named);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&dir, "list", e)),
        }
        Ok(names)
    }

    pub fn create_profile(&self, name: &str) -> Result<Profile> {
        let profile = self.profile(name)?;
        if profile.is_default() {
            return Err(Error::usage(
                "the default profile always exists; pick another name",
            ));
        }
        if profile.dir.exists() {
            return Err(Error::usage(format!("profile {name:?} already exists")));
        }
        crate::fsutil::create_private_dir_all(&profile.dir)?;
        Ok(profile)
    }

    pub fn delete_profile(&self, name: &str) -> Result<()> {
        let profile = self.profile(name)?;
        if profile.is_default() {
            return Err(Error::usage("the default profile cannot be deleted"));
        }
        if !profile.dir.is_dir() {
            return Err(Error::usage(format!(
                "profile {name:?} does not exist (see `talaria profile list`)"
            )));
        }
        std::fs::remove_dir_all(&profile.dir).map_err(|e| io_error(&profile.dir, "delete", e))?;
        if self.sticky_profile()?.as_deref() == Some(name) {
            let path = self.active_profile_path();
            std::fs::remove_file(&path).map_err(|e| io_error(&path, "remove", e))?;
        }
        Ok(())
    }

    pub fn use_profile(&self, name: &str) -> Result<()> {
        let profile = self.select_profile(Some(name))?;
        crate::fsutil::create_private_dir_all(&self.root)?;
        crate::fsutil::write_atomic(
            &self.active_profile_path(),
            format!("{}\n", profile.name).as_bytes(),
            None,
        )
    }
}

/// Profile names become folder names: keep them plain.
fn validate_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{name:?} is not a valid profile name (use letters, digits, `-` and `_`)"
        )))
    }
}

/// Expands a leading `~/` (config values such as `codex.home`).
pub fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => Path::new(path).to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_separate_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home {
            root: tmp.path().to_path_buf(),
        };
        assert_eq!(home.select_profile(None).unwrap().dir, tmp.path());
        let err = home.select_profile(Some("work")).unwrap_err();
        assert!(
            err.message.contains("talaria profile create work"),
            "{}",
            err.message
        );
        let work = home.create_profile("work").unwrap();
        assert_eq!(work.dir, tmp.path().join("profiles/work"));
        assert_ne!(
            work.auth_path(),
            home.select_profile(None).unwrap().auth_path()
        );
        home.use_profile("work").unwrap();
        assert_eq!(home.select_profile(None).unwrap().name, "work");
        assert_eq!(home.list_profiles().unwrap(), ["default", "work"]);
        home.delete_profile("work").unwrap();
        assert_eq!(home.select_profile(None).unwrap().name, "default");
    }

    #[test]
    fn bad_profile_names_are_refused() {
        let home = Home {
            root: PathBuf::from("/nonexistent"),
        };
        for bad in ["", "../x", "a/b", "-x", "has space"] {
            assert!(home.profile(bad).is_err(), "{bad:?}");
        }
    }
}
