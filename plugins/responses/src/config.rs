//! `[plugin_config.responses]` and the per-request options, merged into [`Settings`].

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::transport::StreamOptions;

const DEFAULT_FIRST_BYTE: Duration = Duration::from_secs(120);
const DEFAULT_IDLE: Duration = Duration::from_secs(300);
const DEFAULT_CONNECT: Duration = Duration::from_secs(15);
/// Codex CLI: `request_max_retries` 4, `stream_max_retries` 5, both capped at 100.
const DEFAULT_MAX_RETRIES: u32 = 4;
const DEFAULT_WEBSOCKET_RETRIES: u32 = 5;
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
    /// `false` keeps every request on HTTPS/SSE.
    pub websocket: Option<bool>,
    /// TCP + TLS + websocket handshake limit.
    pub connect_timeout_ms: Option<u64>,
}

/// What one call runs with: request options win over the config, which wins over the
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub first_byte: Duration,
    pub idle: Duration,
    pub connect: Duration,
    /// Retries over HTTPS/SSE.
    pub max_retries: u32,
    /// Retries on the websocket before falling back to HTTPS.
    pub websocket_retries: u32,
    pub websocket: bool,
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
        // An explicit retry count (a test asking for none, say) applies to both transports.
        let explicit = options
            .max_retries
            .or(config.max_retries)
            .map(|n| n.min(RETRY_CAP));
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
            max_retries: explicit.unwrap_or(DEFAULT_MAX_RETRIES),
            websocket_retries: explicit.unwrap_or(DEFAULT_WEBSOCKET_RETRIES),
            websocket: !options.disable_websocket && config.websocket.unwrap_or(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = Settings::resolve(&PluginConfig::default(), &StreamOptions::default());
        assert_eq!(s.first_byte, Duration::from_secs(120));
        assert_eq!(s.idle, Duration::from_secs(300));
        assert_eq!(s.connect, Duration::from_secs(15));
        assert_eq!((s.max_retries, s.websocket_retries), (4, 5));
        assert!(s.websocket);
    }

    #[test]
    fn request_options_win_over_config() {
        let config = PluginConfig {
            first_byte_timeout_ms: Some(1000),
            idle_timeout_ms: Some(2000),
            max_retries: Some(1),
            websocket: Some(false),
            connect_timeout_ms: Some(0),
        };
        let s = Settings::resolve(&config, &StreamOptions::default());
        assert_eq!(
            (s.first_byte, s.idle),
            (Duration::from_secs(1), Duration::from_secs(2))
        );
        assert_eq!((s.max_retries, s.websocket_retries), (1, 1));
        assert!(!s.websocket);
        assert_eq!(s.connect, DISABLED);
        let options = StreamOptions {
            disable_websocket: false,
            max_retries: Some(0),
            first_byte_timeout_ms: Some(50),
            idle_timeout_ms: Some(0),
        };
        let s = Settings::resolve(&config, &options);
        assert_eq!(s.first_byte, Duration::from_millis(50));
        assert_eq!(s.idle, DISABLED);
        assert_eq!((s.max_retries, s.websocket_retries), (0, 0));
        // The config's `websocket = false` still holds.
        assert!(!s.websocket);
        let s = Settings::resolve(
            &PluginConfig::default(),
            &StreamOptions {
                disable_websocket: true,
                ..Default::default()
            },
        );
        assert!(!s.websocket);
    }

    #[test]
    fn config_parses_from_json_and_ignores_unknown_keys() {
        let c: PluginConfig = serde_json::from_value(
            serde_json::json!({"websocket": false, "max_retries": 2, "future": 1}),
        )
        .unwrap();
        assert_eq!(c.websocket, Some(false));
        assert_eq!(c.max_retries, Some(2));
    }
}
