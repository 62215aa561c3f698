//! Which codex to run and where its home is: `TALARIA_CODEX_BIN` or `[codex] bin`
//! (default `codex` on `PATH`), `[codex] home` (default: the inherited `CODEX_HOME`,
//! else `~/.codex`), and the version check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::{Error, ErrorKind, Host, Result};

/// The oldest Codex CLI this runtime supports.
///
/// Why 0.125.0: it is the oldest release the test suite runs this runtime against
/// (`.ci/install-codex` installs it beside the newest, 0.171.0): the handshake,
/// `thread/start` and `thread/resume`, `turn/start` and `turn/interrupt`, the v2 approval
/// requests for commands and file changes, the item notifications this runtime reads,
/// `account/read` and `account/login/start` with a device code all behave as in 0.171.0,
/// and every message talaria sends validates against 0.125.0's own schema. It is also
/// what Hermes 0.19.0 requires, so a Hermes user's codex is new enough. Older releases
/// were not checked, and a half-working runtime is worse than a clear "please update".
pub const MIN_VERSION: Version = Version(0, 125, 0);

/// The npm command that installs a supported codex.
pub const INSTALL_HINT: &str = "npm install -g @openai/codex@latest";

/// `[codex]` in the profile's config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodexSection {
    /// `CODEX_HOME` for this profile.
    pub home: Option<String>,
    /// The codex executable.
    pub bin: Option<String>,
}

/// `[plugin_config.codex-app-server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// How long codex may stay silent during a turn before it counts as wedged: its
    /// process is stopped and the next turn starts a new one on the same thread.
    pub idle_timeout_ms: u64,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            idle_timeout_ms: 600_000,
        }
    }
}

impl PluginSettings {
    pub fn load(host: &Host) -> Result<PluginSettings> {
        Ok(host.config::<PluginSettings>()?.unwrap_or_default())
    }

    pub fn idle_limit(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bin: PathBuf,
    /// Where `bin` came from, for messages.
    pub bin_source: &'static str,
    /// `CODEX_HOME` to overlay on the environment (`None`: the inherited one).
    pub home_override: Option<PathBuf>,
}

impl Settings {
    pub fn load(host: &Host) -> Result<Settings> {
        let section: CodexSection = host.config_section("codex")?.unwrap_or_default();
        Ok(Settings::resolve(
            &section,
            std::env::var_os("TALARIA_CODEX_BIN").map(PathBuf::from),
        ))
    }

    pub fn resolve(section: &CodexSection, env_bin: Option<PathBuf>) -> Settings {
        let (bin, bin_source) = match (env_bin, &section.bin) {
            (Some(bin), _) if !bin.as_os_str().is_empty() => (bin, "TALARIA_CODEX_BIN"),
            (_, Some(bin)) => (expand_home(bin), "[codex] bin"),
            _ => (PathBuf::from("codex"), "PATH"),
        };
        Settings {
            bin,
            bin_source,
            home_override: section.home.as_deref().map(expand_home),
        }
    }

    /// The codex home in effect: `[codex] home`, the inherited `CODEX_HOME`, `~/.codex`.
    pub fn codex_home(&self) -> PathBuf {
        if let Some(home) = &self.home_override {
            return home.clone();
        }
        match std::env::var_os("CODEX_HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => user_home().join(".codex"),
        }
    }

    /// `codex ARGS` with the user's environment, only `CODEX_HOME` (when the profile
    /// sets it) and `RUST_LOG` overlaid.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.args(args).env("RUST_LOG", "warn");
        if let Some(home) = &self.home_override {
            command.env("CODEX_HOME", home);
        }
        command
    }

    /// Runs `codex --version` and checks it against [`MIN_VERSION`]: `Unavailable`
    /// (exit 4) with the install command when codex is missing, broken or too old.
    pub fn check_version(&self) -> Result<Version> {
        let missing = |why: String| {
            Error::new(
                ErrorKind::Unavailable,
                format!(
                    "{why}; install a supported Codex CLI (>= {MIN_VERSION}) with `{INSTALL_HINT}`, or point TALARIA_CODEX_BIN / [codex] bin at it"
                ),
            )
        };
        let output = run_with_timeout(self.command(&["--version"]), Duration::from_secs(10))
            .map_err(|e| {
                missing(format!(
                    "cannot run codex at {} (from {}): {e}",
                    self.bin.display(),
                    self.bin_source
                ))
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.lines().find_map(Version::parse_cli).ok_or_else(|| {
            missing(format!(
                "`{} --version` did not print a codex version (it printed {:?})",
                self.bin.display(),
                text.trim()
            ))
        })?;
        if version < MIN_VERSION {
            return Err(missing(format!(
                "codex {version} at {} is older than {MIN_VERSION}, the oldest this runtime supports",
                self.bin.display()
            )));
        }
        Ok(version)
    }
}

fn run_with_timeout(
    mut command: Command,
    timeout: Duration,
) -> std::io::Result<std::process::Output> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn()?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "no answer within {}s",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn user_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => user_home().join(rest),
        None if path == "~" => user_home(),
        None => Path::new(path).to_path_buf(),
    }
}

/// A `major.minor.patch` version (pre-release suffixes are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = Version(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }

    /// `codex-cli 0.171.0` (what `codex --version` prints).
    pub fn parse_cli(line: &str) -> Option<Version> {
        line.split_whitespace().find_map(Version::parse)
    }

    /// From the `userAgent` that `initialize` returns (`name/0.171.0 (...)`).
    pub fn parse_user_agent(agent: &str) -> Option<Version> {
        agent
            .split(|c: char| c == '/' || c.is_whitespace())
            .find_map(Version::parse)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(
            Version::parse_cli("codex-cli 0.171.0"),
            Some(Version(0, 171, 0))
        );
        assert_eq!(Version::parse("0.170.0-alpha.2"), Some(Version(0, 170, 0)));
        assert_eq!(Version::parse("1.2"), None);
        assert!(Version(0, 124, 9) < MIN_VERSION);
        assert!(Version(0, 171, 0) > MIN_VERSION);
        assert_eq!(
            Version::parse_user_agent("talaria/0.171.0 (Linux 6.1; x86_64) xterm"),
            Some(Version(0, 171, 0))
        );
    }

    #[test]
    fn the_environment_binary_wins_over_the_config() {
        let section = CodexSection {
            home: Some("~/codex-work".into()),
            bin: Some("/opt/codex".into()),
        };
        let s = Settings::resolve(&section, Some("/env/codex".into()));
        assert_eq!(s.bin, PathBuf::from("/env/codex"));
        assert_eq!(s.bin_source, "TALARIA_CODEX_BIN");
        assert!(s.home_override.unwrap().ends_with("codex-work"));
        let s = Settings::resolve(&section, None);
        assert_eq!(s.bin, PathBuf::from("/opt/codex"));
        let s = Settings::resolve(&CodexSection::default(), None);
        assert_eq!(s.bin, PathBuf::from("codex"));
    }
}
