//! The host's error type: a message for the user and the exit code CONTRACT.md assigns.

use std::fmt;
use std::process::ExitCode;

/// Exit codes, as CONTRACT.md fixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The turn or command failed (network, backend, model, tool).
    Failure = 1,
    /// Usage or configuration error: bad flag, invalid config, unknown id.
    Usage = 2,
    /// Authentication needed: not logged in, or re-login required.
    Auth = 3,
    /// A required component is missing or unusable.
    Missing = 4,
    /// Interrupted with Ctrl+C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
        }
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Exit::Failure, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(Exit::Auth, message)
    }
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(Exit::Missing, message)
    }
    /// An exit code whose reason was already told (a plugin command printed it).
    pub fn quiet(exit: Exit) -> Self {
        Self::new(exit, "")
    }

    /// Adds what was being done in front of the message.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Attaches a path to an I/O error, which on its own never says which file.
pub fn io_error(path: &std::path::Path, action: &str, e: std::io::Error) -> Error {
    Error::failure(format!("cannot {action} {}: {e}", path.display()))
}
