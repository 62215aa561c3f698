//! File helpers shared by the stores: atomic replacement and cross-process locks.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{io_error, Error, Result};

/// Creates `dir` and any missing parents readable by the user alone (0700, whatever the
/// umask): talaria's folders hold credentials, conversations and logs. Folders that
/// already exist keep their mode.
pub fn create_private_dir_all(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_error(dir, "create", e))
}

/// Opens `path` for appending, creating it readable by the user alone (0600); an
/// existing file that others may read is narrowed to 0600 first.
pub fn open_private_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    make_private(&file)?;
    Ok(file)
}

/// Creates `path` empty with mode 0600 if it is missing, or narrows an existing file to
/// 0600 (for files another library opens and creates with its own default mode, like
/// SQLite's 0644; its journal files take the database file's mode).
pub fn ensure_private_file(path: &Path) -> Result<()> {
    let mut options = OpenOptions::new();
    options.create_new(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Opened read-only: a file the user made read-only stays readable.
            let file = File::open(path).map_err(|e| io_error(path, "open", e))?;
            make_private(&file).map_err(|e| io_error(path, "set permissions on", e))
        }
        Err(e) => Err(io_error(path, "create", e)),
    }
}

/// Narrows an open file to 0600 when group or others have any access.
fn make_private(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7700 | 0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Replaces `path` with `bytes` atomically: a temp file in the same folder (so the rename
/// cannot cross file systems), fsync, rename, fsync the folder. A crash leaves either the
/// old file or the new one, never a torn one; a full disk fails the temp file's write and
/// leaves the old file as it was. `mode` sets Unix permissions on the new file before any
/// byte is written.
///
/// The temp file is `.NAME.tmp-XXXXXX` beside `NAME`, so a writer holding NAME's lock can
/// clear what a killed writer left ([`remove_stale_temps`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .tempfile_in(dir)
        .map_err(|e| io_error(dir, "create a temporary file in", e))?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(tmp.path(), "set permissions on", e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)
        .map_err(|e| io_error(path, "write", e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_error(path, "sync", e))?;
    pause_before_rename(path);
    tmp.persist(path)
        .map_err(|e| io_error(path, "replace", e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `.NAME.tmp-`: the prefix of `path`'s temp files.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Deletes the temp files a writer of `path` killed before its rename left behind
/// (`kill -9`, a power cut). Only call it holding `path`'s lock: then no live writer of
/// `path` has a temp file in flight. Best effort: a leftover is harmless, only litter
/// (and, for `auth.json`, a 0600 copy of old secrets the user would not know about).
pub fn remove_stale_temps(path: &Path) {
    let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return;
    };
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `NAME.lock` beside `path`: the lock file a read-modify-write of `path` holds.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// The crash-safety tests' hook (debug builds only; release builds compile it out):
/// with `TALARIA_TEST_PAUSE_BEFORE_RENAME=NAME`, a write of a file named NAME stops
/// after its temp file is complete and synced, just before the rename, creates
/// `NAME.paused` beside it and waits there for the `kill -9` the test sends.
fn pause_before_rename(path: &Path) {
    #[cfg(debug_assertions)]
    if let Some(name) = std::env::var_os("TALARIA_TEST_PAUSE_BEFORE_RENAME") {
        if path.file_name() == Some(name.as_os_str()) {
            let mut marker = name;
            marker.push(".paused");
            let _ = File::create(path.with_file_name(marker));
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = path;
}

/// An exclusive lock on a lock file, released on drop. Works across processes.
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Waits up to `timeout` for the lock on `path` (created if missing).
    pub fn acquire(path: &Path, timeout: Duration) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            create_private_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(path)
            .map_err(|e| io_error(path, "open the lock file", e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { file }),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::failure(format!(
                        "another talaria process has held {} for over {} s; if none is running, delete that file",
                        path.display(),
                        timeout.as_secs()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_error(path, "lock", e)),
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one", Some(0o600)).unwrap();
        write_atomic(&p, b"two", Some(0o600)).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    #[test]
    fn stale_temps_of_one_file_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        write_atomic(&p, b"kept", None).unwrap();
        for name in [".auth.json.tmp-abc123", ".config.toml.tmp-xyz", "other"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_stale_temps(&p);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".config.toml.tmp-xyz", "auth.json", "other"]);
        assert_eq!(lock_path(&p), dir.path().join("auth.json.lock"));
    }

    #[test]
    fn lock_times_out_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = FileLock::acquire(&p, Duration::from_secs(1)).unwrap();
        let err = FileLock::acquire(&p, Duration::from_millis(50))
            .err()
            .unwrap();
        assert!(err.message.contains("x.lock"), "{}", err.message);
        drop(held);
        FileLock::acquire(&p, Duration::from_millis(50)).unwrap();
    }
}
