//! `[plugin_config.chat-completions]` and the per-request options, merged into [`Settings`].

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::transport::StreamOptions;

const DEFAULT_FIRST_BYTE: Duration = Duration::from_secs(120);
const DEFAULT_IDLE: Duration = Duration::from_secs(300);
const DEFAULT_CONNECT: Duration = Duration::from_secs(15);
/// The same schedule as the `responses` transport over HTTPS.
const DEFAULT_MAX_RETRIES: u32 = 4;
const RETRY_CAP: u32 = 100;
/// A watchdog set to 0 is off; it still needs some deadline.
const DISABLED: Duration = Duration::from_secs(365 * 86_400);

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
        let ms = |request: Option<u64>, config: Option<u64>, default: Duration| match request
            .or(config)
        {
            Some(0) => DISABLED,
            Some(ms) => Duration::from_millis(ms),
            None => default,
        };
        Settings {
            first_byte: ms(
                options.first_byte_timeout_ms,
                config.first_byte_timeout_ms,
                DEFAULT_FIRST_BYTE,
            ),
            idle: ms(
                options.idle_timeout_ms,
                config.idle_timeout_ms,
                DEFAULT_IDLE,
            ),
            connect: ms(None, config.connect_timeout_ms, DEFAULT_CONNECT),
            max_retries: options
                .max_retries
                .or(config.max_retries)
                .map_or(DEFAULT_MAX_RETRIES, |n| n.min(RETRY_CAP)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
