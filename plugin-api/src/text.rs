//! Wording shared by the host and plugins, so a wait reads the same in `auth list`, a
//! provider's error and a transport's message.

/// "40s", "12m", "2h 5m", "3d 4h": a duration in the largest two units, for messages.
pub fn duration_words(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    match secs {
        s if s < MINUTE => format!("{s}s"),
        s if s < HOUR => format!("{}m", s.div_ceil(MINUTE)),
        s if s < DAY => match (s % HOUR) / MINUTE {
            0 => format!("{}h", s / HOUR),
            m => format!("{}h {m}m", s / HOUR),
        },
        s => match (s % DAY) / HOUR {
            0 => format!("{}d", s / DAY),
            h => format!("{}d {h}h", s / DAY),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_units_at_most() {
        assert_eq!(duration_words(0), "0s");
        assert_eq!(duration_words(42), "42s");
        assert_eq!(duration_words(61), "2m");
        assert_eq!(duration_words(720), "12m");
        assert_eq!(duration_words(3 * 3600 + 12 * 60), "3h 12m");
        assert_eq!(duration_words(7200), "2h");
        assert_eq!(duration_words(2 * 86_400 + 5 * 3600 + 59), "2d 5h");
    }
}
