//! `[plugin_config.responses]` and the per-request options, merged into [`Settings`].

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::transport::StreamOptions;
use talaria_transport_kit::limits::{retries, Limits, LimitsConfig};

/// Codex CLI: `stream_max_retries` 5 (the websocket), `request_max_retries` 4 (HTTPS).
const DEFAULT_WEBSOCKET_RETRIES: u32 = 5;

/// The plugin's config section: the limits every HTTP transport shares, and whether to
/// try the websocket. Unknown keys are ignored so an older plugin reads a newer config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PluginConfig {
    #[serde(flatten)]
    pub limits: LimitsConfig,
    /// `false` keeps every request on HTTPS/SSE.
    pub websocket: Option<bool>,
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
        let Limits {
            first_byte,
            idle,
            connect,
            max_retries,
        } = Limits::resolve(&config.limits, options);
        // An explicit retry count (a test asking for none, say) applies to both transports.
        let websocket_retries = retries(options.max_retries, config.limits.max_retries)
            .unwrap_or(DEFAULT_WEBSOCKET_RETRIES);
        Settings {
            first_byte,
            idle,
            connect,
            max_retries,
            websocket_retries,
            websocket: !options.disable_websocket && config.websocket.unwrap_or(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talaria_transport_kit::limits::DISABLED;

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
            limits: LimitsConfig {
                first_byte_timeout_ms: Some(1000),
                idle_timeout_ms: Some(2000),
                max_retries: Some(1),
                connect_timeout_ms: Some(0),
            },
            websocket: Some(false),
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
        assert_eq!(c.limits.max_retries, Some(2));
    }
}
