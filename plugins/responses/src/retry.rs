//! Backoff between attempts, and the server's own hints about when to try again.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `Retry-After`: either delta-seconds or an HTTP date (RFC 9110 IMF-fixdate).
pub fn parse_retry_after(value: &str, now: u64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
    }
    let at = parse_http_date(value)?;
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// "Sun, 06 Nov 1994 08:49:37 GMT" → unix seconds. Only the IMF-fixdate form: it is the
/// one servers must send, and a hint we cannot read only costs a retry.
pub fn parse_http_date(value: &str) -> Option<u64> {
    let rest = value.split_once(',').map(|(_, r)| r).unwrap_or(value);
    let mut parts = rest.split_whitespace();
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let s: u64 = hms.next()?.parse().ok()?;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    u64::try_from(days).ok().map(|d| d * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The delay in a rate-limit message: "Please try again in 11.054s" / "in 28ms" /
/// "in 2 seconds" / "in 1m". Case-insensitive; the first such phrase wins.
pub fn parse_try_again(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("try again in")? + "try again in".len();
    let rest = lower[start..].trim_start();
    let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let number: f64 = rest[..number_len].parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let unit: String = rest[number_len..].trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let secs = match unit.as_str() {
        "ms" | "msec" | "millisecond" | "milliseconds" => number / 1000.0,
        "s" | "sec" | "secs" | "second" | "seconds" => number,
        "m" | "min" | "mins" | "minute" | "minutes" => number * 60.0,
        "h" | "hr" | "hour" | "hours" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// Whole seconds for a provider report: rounded up, so "28ms" is not reported as "now".
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
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
            assert!(d >= Duration::from_millis(360) && d <= Duration::from_millis(440), "{d:?}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("30", 0), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 1.5 ", 0), Some(Duration::from_millis(1500)));
        let at = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(at, 784_111_777);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 42), Some(Duration::from_secs(42)));
        // A date in the past means "now".
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 5), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Wed, 29 Feb 2024 12:00:00 GMT"), Some(1_709_208_000));
    }

    #[test]
    fn try_again_in_messages_are_parsed() {
        let m = "Rate limit reached for gpt-5 on tokens per min. Please try again in 11.054s. Visit ...";
        assert_eq!(parse_try_again(m), Some(Duration::from_secs_f64(11.054)));
        assert_eq!(parse_try_again("Please try again in 28ms."), Some(Duration::from_millis(28)));
        assert_eq!(parse_try_again("Try again in 2 seconds"), Some(Duration::from_secs(2)));
        assert_eq!(parse_try_again("try again in 1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_try_again("try again later"), None);
        assert_eq!(parse_try_again("nothing here"), None);
    }

    #[test]
    fn waits_are_rounded_up() {
        assert_eq!(ceil_secs(Duration::from_millis(28)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }
}
