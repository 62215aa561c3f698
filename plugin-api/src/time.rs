//! The clock and the server's "when to try again", read the same way by the host and
//! every plugin: one reading of unix time, one `Retry-After` parser.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch. A clock set before 1970 reads as 0 rather than failing:
/// every caller compares it with expiry or reset times, where "long ago" is the safe answer.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `Retry-After`: either delta-seconds (fractions tolerated) or an HTTP date (RFC 9110
/// IMF-fixdate), as a wait from `now` (unix seconds). A date in the past means "now".
pub fn retry_after(value: &str, now: u64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        // Beyond a `Duration` (about 585 billion years) is no usable hint either.
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = parse_http_date(value)?;
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Whole seconds of a wait, rounded up, so "28ms" is not reported as "now".
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// "Sun, 06 Nov 1994 08:49:37 GMT" → unix seconds. Only the IMF-fixdate form: it is the
/// one servers must send, and a hint we cannot read only costs a retry.
fn parse_http_date(value: &str) -> Option<u64> {
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
    // Four-digit years, as the format has them (a larger one overflows the arithmetic).
    if !(1..=31).contains(&day) || !(1..=9999).contains(&year) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + s)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz target `http_error` (fuzz-targets/): a `Retry-After` too large
    /// for a `Duration` panicked, and so did a date with a huge year (the latter found
    /// while fixing the former).
    #[test]
    fn retry_after_out_of_range_is_no_hint_not_a_panic() {
        assert_eq!(retry_after("3018446744073709551615", 0), None);
        assert_eq!(retry_after("1e300", 0), None);
        assert_eq!(retry_after("-1", 0), None);
        assert_eq!(retry_after("NaN", 0), None);
        assert_eq!(
            retry_after("Sun, 06 Nov 9223372036854775807 08:49:37 GMT", 0),
            None
        );
        assert_eq!(
            retry_after("Sun, 06 Nov -9223372036854775808 08:49:37 GMT", 0),
            None
        );
        assert_eq!(
            retry_after("18446744073709551615", 0),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(ceil_secs(Duration::MAX), u64::MAX);
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(retry_after("30", 0), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(" 1.5 ", 0), Some(Duration::from_millis(1500)));
        let at = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(at, 784_111_777);
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 42),
            Some(Duration::from_secs(42))
        );
        // A date in the past means "now".
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 5),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", 0), None);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Wed, 29 Feb 2024 12:00:00 GMT"),
            Some(1_709_208_000)
        );
    }

    #[test]
    fn waits_are_rounded_up() {
        assert_eq!(ceil_secs(Duration::from_millis(28)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn the_clock_reads_after_2020() {
        assert!(now_secs() > 1_577_836_800);
    }
}
