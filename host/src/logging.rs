//! The profile's log file, `<profile>/logs/talaria.log`.
//!
//! stdout carries answers and JSON and stderr carries what the user should see, so the
//! tracing subscriber writes only to the file. Logging is best effort: a log that cannot
//! be opened never fails the command.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

use crate::home::Profile;

pub const LOG_FILE: &str = "talaria.log";
pub const ROTATED_LOG_FILE: &str = "talaria.log.1";
/// Beyond this size the log is rotated at startup, so it stays bounded without a daemon.
const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
const DEFAULT_FILTER: &str = "info";
/// Target of plugin events, so `TALARIA_LOG=talaria::plugin=debug` selects them.
const PLUGIN_TARGET: &str = "talaria::plugin";

/// Installs the global subscriber that appends to the profile's log. Events are written
/// synchronously, so nothing needs flushing at exit. Does nothing when the log cannot be
/// opened or a subscriber is already installed.
pub fn init(profile: &Profile) {
    let _ = try_init(profile);
}

fn try_init(profile: &Profile) -> Option<()> {
    let dir = profile.logs_dir();
    crate::fsutil::create_private_dir_all(&dir).ok()?;
    let path = dir.join(LOG_FILE);
    rotate_if_large(&path, MAX_LOG_BYTES);
    let file = crate::fsutil::open_private_append(&path).ok()?;
    let (filter, bad_filter) = filter_from(std::env::var("TALARIA_LOG").ok().as_deref());
    tracing::subscriber::set_global_default(subscriber(file, filter)).ok()?;
    if let Some(note) = bad_filter {
        tracing::warn!("{note}");
    }
    Some(())
}

/// The path of the rotated log, next to `log`.
pub fn rotated_path(log: &Path) -> PathBuf {
    log.with_file_name(ROTATED_LOG_FILE)
}

/// Moves an oversized log to `talaria.log.1`, replacing an older one. Failures are
/// ignored: an unrotated log is better than a failed command.
fn rotate_if_large(path: &Path, limit: u64) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.len() > limit {
        let old = rotated_path(path);
        // rename does not replace an existing file on every platform.
        let _ = std::fs::remove_file(&old);
        let _ = std::fs::rename(path, &old);
    }
}

/// The filter from `TALARIA_LOG`, or `info`; an invalid value also yields a note to log.
fn filter_from(value: Option<&str>) -> (EnvFilter, Option<String>) {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(spec) => match EnvFilter::try_new(spec) {
            Ok(filter) => (filter, None),
            Err(e) => (
                EnvFilter::new(DEFAULT_FILTER),
                Some(format!(
                    "ignoring invalid TALARIA_LOG={spec:?} ({e}); logging at {DEFAULT_FILTER}"
                )),
            ),
        },
    }
}

fn subscriber(file: File, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(file)
        .with_ansi(false)
        .with_timer(UtcMillis)
        .with_target(true);
    tracing_subscriber::registry().with(filter).with(layer)
}

/// RFC 3339 UTC with milliseconds (`2026-11-21T13:45:01.123Z`), which `talaria logs
/// --since` parses back.
struct UtcMillis;

impl FormatTime for UtcMillis {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", humantime::format_rfc3339_millis(SystemTime::now()))
    }
}

/// Logs a plugin's message at its level (1 error, 2 warn, 3 info, 4 debug, 5 trace;
/// out-of-range values are clamped) with the plugin id as a field.
pub fn plugin_log(plugin_id: &str, level: u8, message: &str) {
    // tracing levels must be constants at the call site, hence one macro per level.
    match level {
        0 | 1 => tracing::error!(target: PLUGIN_TARGET, plugin = plugin_id, "{message}"),
        2 => tracing::warn!(target: PLUGIN_TARGET, plugin = plugin_id, "{message}"),
        3 => tracing::info!(target: PLUGIN_TARGET, plugin = plugin_id, "{message}"),
        4 => tracing::debug!(target: PLUGIN_TARGET, plugin = plugin_id, "{message}"),
        _ => tracing::trace!(target: PLUGIN_TARGET, plugin = plugin_id, "{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn log_with(filter: EnvFilter, events: impl FnOnce()) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        tracing::subscriber::with_default(subscriber(file, filter), events);
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn lines_start_with_utc_timestamp_and_carry_fields() {
        let text = log_with(EnvFilter::new("info"), || {
            tracing::info!(answer = 42, "hello");
            tracing::debug!("filtered out");
            plugin_log("acme", 2, "careful");
            plugin_log("acme", 5, "too chatty");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &lines {
            let stamp = line.split_whitespace().next().unwrap();
            assert!(
                stamp.ends_with('Z') && stamp.len() == "2026-11-21T13:45:01.123Z".len(),
                "{line}"
            );
            humantime::parse_rfc3339(stamp).unwrap();
            assert!(!line.contains('\u{1b}'), "no ANSI colours: {line:?}");
        }
        assert!(
            lines[0].contains("INFO")
                && lines[0].contains("hello")
                && lines[0].contains("answer=42"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("WARN") && lines[1].contains("talaria::plugin"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("careful") && lines[1].contains("plugin=\"acme\""),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn invalid_filter_falls_back_to_info() {
        let (filter, note) = filter_from(Some("talaria=loud"));
        let note = note.unwrap();
        assert!(note.contains("TALARIA_LOG"), "{note}");
        let text = log_with(filter, || {
            tracing::info!("kept");
            tracing::debug!("dropped");
        });
        assert!(text.contains("kept") && !text.contains("dropped"), "{text}");
        assert!(filter_from(None).1.is_none());
        assert!(filter_from(Some("debug")).1.is_none());
    }

    #[test]
    fn large_logs_are_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        std::fs::write(rotated_path(&path), "older").unwrap();
        std::fs::write(&path, "0123456789").unwrap();
        rotate_if_large(&path, 100);
        assert!(path.exists(), "small logs stay");
        rotate_if_large(&path, 5);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_to_string(rotated_path(&path)).unwrap(),
            "0123456789"
        );
    }
}
