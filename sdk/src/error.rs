use talaria_plugin_api::abi::PluginError;
use talaria_plugin_api::payload::ErrorKind;

/// An error a plugin returns to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Optional machine-readable details (JSON), e.g. `{"retry_after_secs": 30}`.
    pub data: Option<serde_json::Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            data: None,
        }
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "cancelled")
    }
    /// A method this plugin does not offer.
    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::UnknownMethod,
            format!("{what} is not supported by this plugin"),
        )
    }
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for PluginError {
    fn from(e: Error) -> Self {
        let mut out = PluginError::new(e.kind, e.message);
        if let Some(data) = e.data {
            out.data = data.to_string().into();
        }
        out
    }
}

impl From<PluginError> for Error {
    fn from(e: PluginError) -> Self {
        let data = if e.data.is_empty() {
            None
        } else {
            serde_json::from_str(&e.data).ok()
        };
        Error {
            kind: e.kind(),
            message: e.message.into_string(),
            data,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid(format!("malformed JSON payload: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::other(e.to_string())
    }
}
