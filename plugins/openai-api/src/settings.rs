//! Where the key and the base URL come from: the environment, read once at init
//! through a lookup function so tests can hand in their own environment instead of
//! mutating the process's (which would race with every other test thread).

use std::fmt;

pub const API_KEY_VAR: &str = "OPENAI_API_KEY";
pub const BASE_URL_VAR: &str = "TALARIA_OPENAI_BASE_URL";
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// An API key. `Debug` never shows it, so a stray `{:?}` cannot leak it into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key masked: a backend or library message
    /// that echoes the key must not carry it any further.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub api_key: Option<ApiKey>,
    /// Without a trailing `/`, so `{base}/models` is well formed.
    pub base_url: String,
}

impl Settings {
    pub fn from_process_env() -> Settings {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Blank values count as unset: `OPENAI_API_KEY= talaria ...` means "no key".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let non_blank = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let base_url = non_blank(BASE_URL_VAR).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        Settings {
            api_key: non_blank(API_KEY_VAR).map(ApiKey),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Masks the key (when there is one) in a message bound for the user or a log.
    pub fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) => key.redact(text),
            None => text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::from_lookup(env(&[]));
        assert_eq!(s.api_key, None);
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn the_base_url_loses_its_trailing_slashes_and_blank_values_are_unset() {
        let s = Settings::from_lookup(env(&[
            (BASE_URL_VAR, "http://127.0.0.1:9/v1//"),
            (API_KEY_VAR, "  "),
        ]));
        assert_eq!(s.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(s.api_key, None);
    }

    #[test]
    fn the_key_never_shows_in_debug_output_and_is_redacted_from_messages() {
        let s = Settings::from_lookup(env(&[(API_KEY_VAR, "sk-secret")]));
        assert!(!format!("{s:?}").contains("sk-secret"));
        assert_eq!(s.redact("bad key sk-secret!"), "bad key ***!");
    }
}
