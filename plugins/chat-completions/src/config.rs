//! `[plugin_config.chat-completions]` and the per-request options, merged into [`Settings`].

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::transport::StreamOptions;
use talaria_transport_kit::limits::{
    millis, retries, DEFAULT_CONNECT, DEFAULT_FIRST_BYTE, DEFAULT_IDLE, DEFAULT_MAX_RETRIES,
};

/// The plugin's config section. Unknown keys are ignored so an older plugin reads a
/// newer config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PluginConfig {
    pub first_byte_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub connect_timeout_ms: Option<u64>,
}

/// What one call runs with: request options win over the config, which wins over the
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub first_byte: Duration,
    pub idle: Duration,
    pub connect: Duration,
    pub max_retries: u32,
}

impl Settings {
    pub fn resolve(config: &PluginConfig, options: &StreamOptions) -> Settings {
        Settings {
            first_byte: millis(
                options.first_byte_timeout_ms,
                config.first_byte_timeout_ms,
                DEFAULT_FIRST_BYTE,
            ),
            idle: millis(
                options.idle_timeout_ms,
                config.idle_timeout_ms,
                DEFAULT_IDLE,
            ),
            connect: millis(None, config.connect_timeout_ms, DEFAULT_CONNECT),
            max_retries: retries(options.max_retries, config.max_retries)
                .unwrap_or(DEFAULT_MAX_RETRIES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talaria_transport_kit::limits::DISABLED;

    #[test]
    fn defaults_and_overrides() {
        let s = Settings::resolve(&PluginConfig::default(), &StreamOptions::default());
        assert_eq!(
            (s.first_byte, s.idle, s.connect, s.max_retries),
            (
                Duration::from_secs(120),
                Duration::from_secs(300),
                Duration::from_secs(15),
                4
            )
        );
        let config = PluginConfig {
            first_byte_timeout_ms: Some(1000),
            idle_timeout_ms: Some(0),
            max_retries: Some(1000),
            connect_timeout_ms: Some(500),
        };
        let s = Settings::resolve(&config, &StreamOptions::default());
        assert_eq!(
            (s.first_byte, s.idle, s.connect, s.max_retries),
            (
                Duration::from_secs(1),
                DISABLED,
                Duration::from_millis(500),
                100
            )
        );
        let options = StreamOptions {
            max_retries: Some(0),
            first_byte_timeout_ms: Some(50),
            ..Default::default()
        };
        let s = Settings::resolve(&config, &options);
        assert_eq!(
            (s.first_byte, s.max_retries),
            (Duration::from_millis(50), 0)
        );
    }
}
