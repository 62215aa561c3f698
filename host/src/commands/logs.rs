//! `talaria logs [--since DURATION]`: prints the profile's log, oldest first.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use crate::app::App;
use crate::error::{io_error, Error, Result};
use crate::logging::{rotated_path, LOG_FILE};

pub fn run(app: &App, since: Option<&str>) -> Result<()> {
    // Parse the flag before reading anything so a typo fails fast with exit 2.
    let cutoff = since.map(parse_since).transpose()?;
    let log = app.profile.logs_dir().join(LOG_FILE);
    let mut text = read_lossy(&rotated_path(&log))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&read_lossy(&log)?);
    if text.is_empty() {
        eprintln!(
            "no log yet at {} (talaria writes it as commands run; set TALARIA_LOG=debug for more detail)",
            log.display()
        );
        return Ok(());
    }
    let shown = match cutoff {
        Some(cutoff) => filter_since(&text, cutoff),
        None => text,
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(shown.as_bytes()).and_then(|()| out.flush()) {
        // `talaria logs | head` closing the pipe early is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::failure(format!(
            "cannot write the log to stdout: {e}"
        ))),
        _ => Ok(()),
    }
}

/// The oldest time `--since` keeps: now minus the duration.
fn parse_since(value: &str) -> Result<SystemTime> {
    let duration = humantime::parse_duration(value.trim()).map_err(|e| {
        Error::usage(format!(
            "invalid --since {value:?} ({e}); give a duration such as 90s, 10m, 2h or 1d (units: s, m, h, d, w)"
        ))
    })?;
    Ok(SystemTime::now()
        .checked_sub(duration)
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

/// A missing log is empty; bytes that are not UTF-8 are shown replaced, not refused.
fn read_lossy(path: &Path) -> Result<String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io_error(path, "read", e)),
    }
}

/// The lines of `text` whose entry is at or after `cutoff`. An entry starts with an RFC
/// 3339 timestamp; lines without one (a multi-line message) belong to the entry above,
/// and lines before any timestamp are left out because their age is unknown.
fn filter_since(text: &str, cutoff: SystemTime) -> String {
    let mut keep = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if let Some(at) = leading_timestamp(line) {
            keep = at >= cutoff;
        }
        if keep {
            out.push_str(line);
        }
    }
    out
}

fn leading_timestamp(line: &str) -> Option<SystemTime> {
    let first = line.split_whitespace().next()?;
    humantime::parse_rfc3339(first).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn age(at: SystemTime) -> Duration {
        SystemTime::now().duration_since(at).unwrap_or_default()
    }

    const SAMPLE: &str = "\
orphan continuation
2026-11-21T10:00:00.000Z  INFO talaria: old entry
2026-11-21T12:00:00.000Z  WARN talaria: newer entry
  second line of the newer entry
2026-11-21T11:00:00.000Z  INFO talaria: out of order, old
  its continuation
2026-11-21T12:30:00.500Z ERROR talaria: newest";

    #[test]
    fn keeps_recent_entries_with_their_continuations() {
        let cutoff = humantime::parse_rfc3339("2026-11-21T11:30:00Z").unwrap();
        assert_eq!(
            filter_since(SAMPLE, cutoff),
            "2026-11-21T12:00:00.000Z  WARN talaria: newer entry\n  second line of the newer entry\n2026-11-21T12:30:00.500Z ERROR talaria: newest"
        );
    }

    #[test]
    fn cutoff_extremes() {
        assert_eq!(filter_since(SAMPLE, SystemTime::now()), "");
        let everything = filter_since(SAMPLE, SystemTime::UNIX_EPOCH);
        assert_eq!(
            everything,
            SAMPLE.strip_prefix("orphan continuation\n").unwrap()
        );
    }

    #[test]
    fn since_accepts_durations_and_rejects_junk() {
        for ok in ["90s", "10m", "2h", "1d", "1h 30m"] {
            let at = parse_since(ok).unwrap();
            assert!(at < SystemTime::now(), "{ok}");
        }
        let ten_min = parse_since("10m").unwrap();
        assert!((age(ten_min).as_secs() as i64 - 600).abs() <= 2);
        let e = parse_since("yesterday").unwrap_err();
        assert_eq!(e.exit, crate::error::Exit::Usage);
        assert!(
            e.message.contains("10m") && e.message.contains("1d"),
            "{}",
            e.message
        );
    }
}
