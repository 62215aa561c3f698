//! Backoff between attempts, and the wait a rate-limit message asks for (`Retry-After`
//! itself is read by `talaria_sdk::time`, shared with the providers).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use talaria_sdk::time::now_secs;

/// The first retry waits this long; each further one doubles it (Codex CLI's schedule).
const BASE_DELAY: Duration = Duration::from_millis(200);
/// No backoff step waits longer than this.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// The delay before retry number `retry` (1-based): 200 ms × 2^(n−1) × `jitter`,
/// capped at 10 s. `jitter` is expected in 0.9..=1.1 (see [`jitter`]).
pub fn backoff(retry: u32, jitter: f64) -> Duration {
    let exponent = retry.saturating_sub(1).min(16);
    let millis = BASE_DELAY.as_millis() as f64 * f64::from(1u32 << exponent) * jitter;
    Duration::from_millis(millis.max(0.0) as u64).min(MAX_DELAY)
}

/// A random factor in 0.9..=1.1, so clients that failed together do not retry in lockstep.
/// std's `RandomState` is randomly seeded per instance, which is all the randomness this needs.
pub fn jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(now_secs());
    let unit = (hasher.finish() % 10_001) as f64 / 10_000.0;
    0.9 + 0.2 * unit
}

/// The delay in a rate-limit message: "Please try again in 11.054s" / "in 28ms" /
/// "in 2 seconds" / "in 1m". Case-insensitive; the first such phrase wins.
pub fn parse_try_again(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("try again in")? + "try again in".len();
    let rest = lower[start..].trim_start();
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let number: f64 = rest[..number_len].parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let unit: String = rest[number_len..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let secs = match unit.as_str() {
        "ms" | "msec" | "millisecond" | "milliseconds" => number / 1000.0,
        "s" | "sec" | "secs" | "second" | "seconds" => number,
        "m" | "min" | "mins" | "minute" | "minutes" => number * 60.0,
        "h" | "hr" | "hour" | "hours" => number * 3600.0,
        _ => return None,
    };
    // A wait beyond a `Duration` is no usable hint.
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_200ms_and_is_capped() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(3, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(6, 1.0), Duration::from_millis(6400));
        assert_eq!(backoff(7, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(100, 1.1), Duration::from_secs(10));
        assert_eq!(backoff(1, 0.9), Duration::from_millis(180));
        assert_eq!(backoff(1, 1.1), Duration::from_millis(220));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..200 {
            let j = jitter();
            assert!((0.9..=1.1).contains(&j), "{j}");
            let d = backoff(2, j);
            assert!(
                d >= Duration::from_millis(360) && d <= Duration::from_millis(440),
                "{d:?}"
            );
        }
    }

    #[test]
    fn try_again_in_messages_are_parsed() {
        let m = "Rate limit reached for gpt-5 on tokens per min. Please try again in 11.054s. Visit ...";
        assert_eq!(parse_try_again(m), Some(Duration::from_secs_f64(11.054)));
        assert_eq!(
            parse_try_again("Please try again in 28ms."),
            Some(Duration::from_millis(28))
        );
        assert_eq!(
            parse_try_again("Try again in 2 seconds"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_try_again("try again in 1m"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_try_again("try again later"), None);
        assert_eq!(parse_try_again("nothing here"), None);
    }

    /// Found while fixing what the fuzz target `http_error` found in `Retry-After`:
    /// the same conversion panicked here on a wait too long for a `Duration`.
    #[test]
    fn an_endless_wait_in_a_message_is_no_hint_not_a_panic() {
        assert_eq!(
            parse_try_again("Please try again in 99999999999999999999999s."),
            None
        );
        assert_eq!(parse_try_again("try again in 1e400 hours"), None);
    }
}
