//! The default limits every HTTP transport starts from, and how a limit is chosen: the
//! request's option, else the plugin's config, else the default; 0 switches it off.

use std::time::Duration;

use serde::Deserialize;
use talaria_sdk::transport::StreamOptions;

/// Time allowed until the first event of a stream.
pub const DEFAULT_FIRST_BYTE: Duration = Duration::from_secs(120);
/// Longest silence allowed between two events once a stream has started.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// TCP + TLS (+ websocket handshake) limit.
pub const DEFAULT_CONNECT: Duration = Duration::from_secs(15);
/// Retries over HTTPS after the first attempt (Codex CLI: `request_max_retries` 4).
pub const DEFAULT_MAX_RETRIES: u32 = 4;
/// No retry setting goes beyond this (Codex CLI caps at 100 too).
pub const RETRY_CAP: u32 = 100;
/// A watchdog set to 0 is off; it still needs some deadline.
pub const DISABLED: Duration = Duration::from_secs(365 * 86_400);

/// A limit in milliseconds: the request's, else the config's, else `default`; 0 is off.
pub fn millis(request: Option<u64>, config: Option<u64>, default: Duration) -> Duration {
    match request.or(config) {
        Some(0) => DISABLED,
        Some(ms) => Duration::from_millis(ms),
        None => default,
    }
}

/// A retry count: the request's, else the config's, capped; `None` when neither says.
pub fn retries(request: Option<u32>, config: Option<u32>) -> Option<u32> {
    request.or(config).map(|n| n.min(RETRY_CAP))
}

/// The limits every HTTP transport reads from its `[plugin_config.<id>]`; a transport
/// flattens them into its own config beside its own keys. Unknown keys are ignored so an
/// older plugin reads a newer config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LimitsConfig {
    pub first_byte_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    /// TCP + TLS (+ websocket handshake) limit.
    pub connect_timeout_ms: Option<u64>,
}

/// What one call runs with: the request's options win over the config, which wins over
/// the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub first_byte: Duration,
    pub idle: Duration,
    pub connect: Duration,
    /// Retries over HTTPS after the first attempt.
    pub max_retries: u32,
}

impl Limits {
    pub fn resolve(config: &LimitsConfig, options: &StreamOptions) -> Limits {
        Limits {
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

    #[test]
    fn the_request_wins_then_the_config_then_the_default() {
        let d = Duration::from_secs(9);
        assert_eq!(millis(None, None, d), d);
        assert_eq!(millis(None, Some(20), d), Duration::from_millis(20));
        assert_eq!(millis(Some(10), Some(20), d), Duration::from_millis(10));
        assert_eq!(millis(Some(0), Some(20), d), DISABLED);
        assert_eq!(retries(None, None), None);
        assert_eq!(retries(Some(1), Some(5)), Some(1));
        assert_eq!(retries(None, Some(1000)), Some(RETRY_CAP));
    }

    #[test]
    fn limits_come_from_the_request_then_the_config_then_the_defaults() {
        let s = Limits::resolve(&LimitsConfig::default(), &StreamOptions::default());
        assert_eq!(
            (s.first_byte, s.idle, s.connect, s.max_retries),
            (
                Duration::from_secs(120),
                Duration::from_secs(300),
                Duration::from_secs(15),
                4
            )
        );
        let config = LimitsConfig {
            first_byte_timeout_ms: Some(1000),
            idle_timeout_ms: Some(0),
            max_retries: Some(1000),
            connect_timeout_ms: Some(500),
        };
        let s = Limits::resolve(&config, &StreamOptions::default());
        assert_eq!(
            (s.first_byte, s.idle, s.connect, s.max_retries),
            (
                Duration::from_secs(1),
                DISABLED,
                Duration::from_millis(500),
                RETRY_CAP
            )
        );
        let options = StreamOptions {
            max_retries: Some(0),
            first_byte_timeout_ms: Some(50),
            ..Default::default()
        };
        let s = Limits::resolve(&config, &options);
        assert_eq!(
            (s.first_byte, s.max_retries),
            (Duration::from_millis(50), 0)
        );
    }
}
