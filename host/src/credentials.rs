//! The per-profile `auth.json`: opaque per-provider JSON blobs that provider plugins
//! manage.
//!
//! ```json
//! { "version": 1, "updated_at": "<RFC3339 UTC>", "providers": { "openai-codex": { ... } } }
//! ```
//!
//! Reads take no lock: writes replace the file atomically, so a reader sees either the
//! old file or the new one. Every change is a read-modify-write under a cross-process
//! lock, so two talaria processes refreshing tokens at once cannot lose each other's
//! update. A corrupt file is moved aside, never silently discarded (CONTRACT.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use talaria_plugin_api::time::now_secs;

use crate::error::{io_error, Error, Result};
use crate::fsutil::{remove_stale_temps, write_atomic, FileLock};

/// The format this build writes.
const FORMAT_VERSION: u64 = 1;
/// Long enough for a token refresh over a slow network to finish while holding the lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// Credentials are secrets: owner read/write only.
const FILE_MODE: u32 = 0o600;

pub struct CredentialStore {
    path: PathBuf,
}

/// What is on disk.
enum Loaded {
    Missing,
    /// The whole top-level object, unknown fields included, so a rewrite keeps them.
    Valid(Map<String, Value>),
    /// Present but unusable; the string says why.
    Corrupt(String),
}

impl CredentialStore {
    pub fn new(path: PathBuf) -> Self {
        CredentialStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Value for provider, `Value::Null` when none. Reads without the lock.
    pub fn get(&self, provider: &str) -> Result<Value> {
        match self.load()? {
            Loaded::Missing => Ok(Value::Null),
            Loaded::Valid(doc) => Ok(provider_value(&doc, provider)),
            Loaded::Corrupt(reason) => Err(self.corrupt_error(&reason)),
        }
    }

    /// Under an exclusive cross-process lock (`auth.json.lock` beside the file): re-reads
    /// the file, calls `f` with the provider's current value (Null when none); if `f`
    /// returns `Some(v)` stores `v` (Null removes the provider) and writes the file
    /// atomically with mode 0600. Returns the value stored afterwards. If `f` fails,
    /// nothing is written and its error is returned.
    pub fn update<F>(&self, provider: &str, mut f: F) -> Result<Value>
    where
        F: FnMut(Value) -> Result<Option<Value>>,
    {
        let _lock = FileLock::acquire(&self.sibling(".lock"), LOCK_TIMEOUT)?;
        // No other writer is mid-write now: a temp file here is a killed writer's.
        remove_stale_temps(&self.path);
        let mut doc = match self.load()? {
            Loaded::Missing => Map::new(),
            Loaded::Valid(doc) => {
                self.check_writable(&doc)?;
                doc
            }
            Loaded::Corrupt(reason) => {
                self.quarantine(&reason)?;
                Map::new()
            }
        };
        let current = provider_value(&doc, provider);
        let Some(new) = f(current.clone())? else {
            return Ok(current);
        };

        let providers = doc
            .entry("providers")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(providers) = providers {
            if new.is_null() {
                providers.remove(provider);
            } else {
                providers.insert(provider.to_owned(), new.clone());
            }
        }
        doc.entry("version").or_insert(Value::from(FORMAT_VERSION));
        doc.insert("updated_at".to_owned(), Value::String(now_rfc3339()));

        let mut bytes = serde_json::to_vec_pretty(&Value::Object(doc))
            .map_err(|e| Error::failure(format!("cannot encode {}: {e}", self.path.display())))?;
        bytes.push(b'\n');
        // A new file always gets 0600, which also tightens a file someone made wider.
        write_atomic(&self.path, &bytes, Some(FILE_MODE))?;
        Ok(new)
    }

    /// Removes the provider's entry; false when there was none (and nothing is written).
    pub fn remove(&self, provider: &str) -> Result<bool> {
        let mut existed = false;
        self.update(provider, |current| {
            existed = !current.is_null();
            Ok(existed.then_some(Value::Null))
        })?;
        Ok(existed)
    }

    /// Provider ids with stored credentials, sorted.
    pub fn providers(&self) -> Result<Vec<String>> {
        match self.load()? {
            Loaded::Missing => Ok(Vec::new()),
            Loaded::Valid(doc) => {
                let mut ids: Vec<String> = match doc.get("providers") {
                    Some(Value::Object(p)) => p.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                ids.sort();
                Ok(ids)
            }
            Loaded::Corrupt(reason) => Err(self.corrupt_error(&reason)),
        }
    }

    fn load(&self) -> Result<Loaded> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Missing),
            Err(e) => return Err(io_error(&self.path, "read", e)),
        };
        let doc = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(doc)) => doc,
            Ok(_) => return Ok(Loaded::Corrupt("the top level is not a JSON object".into())),
            Err(e) => return Ok(Loaded::Corrupt(format!("not valid JSON: {e}"))),
        };
        if let Some(providers) = doc.get("providers") {
            if !providers.is_object() {
                return Ok(Loaded::Corrupt("`providers` is not an object".into()));
            }
        }
        if let Some(version) = doc.get("version") {
            if version.as_u64().is_none_or(|v| v == 0) {
                return Ok(Loaded::Corrupt(
                    "`version` is not a positive integer".into(),
                ));
            }
        }
        Ok(Loaded::Valid(doc))
    }

    /// A newer talaria may change the format in ways this build cannot keep intact, so it
    /// reads such a file but does not rewrite it.
    fn check_writable(&self, doc: &Map<String, Value>) -> Result<()> {
        match doc.get("version").and_then(Value::as_u64) {
            Some(v) if v > FORMAT_VERSION => Err(Error::failure(format!(
                "{} was written by a newer talaria (format version {v}; this one writes {FORMAT_VERSION}); \
                 upgrade talaria before logging in or refreshing credentials",
                self.path.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Exit 3: the stored logins are unusable, so the user must sign in again.
    fn corrupt_error(&self, reason: &str) -> Error {
        Error::auth(format!(
            "{} is not a valid talaria credentials file ({reason}); fix it, or move it aside and \
             log in again with `talaria login` (logging in keeps the bad file as {})",
            self.path.display(),
            self.sibling(".corrupt").display()
        ))
    }

    /// Moves a corrupt file to `auth.json.corrupt`, or a fresh name when an earlier
    /// corrupt copy holds that one: the user may still need either to recover a login.
    /// Runs under the lock, so no other talaria races for the name.
    fn quarantine(&self, reason: &str) -> Result<()> {
        let mut target = self.sibling(".corrupt");
        if target.exists() {
            let secs = now_secs();
            target = self.sibling(&format!(".corrupt.{secs}"));
            let mut n = 1;
            while target.exists() {
                target = self.sibling(&format!(".corrupt.{secs}.{n}"));
                n += 1;
            }
        }
        std::fs::rename(&self.path, &target).map_err(|e| io_error(&self.path, "move aside", e))?;
        tracing::warn!(path = %self.path.display(), kept_as = %target.display(), %reason, "corrupt credentials file moved aside");
        eprintln!(
            "warning: {} was corrupt ({reason}); kept it as {} and started with no stored credentials",
            self.path.display(),
            target.display()
        );
        Ok(())
    }

    /// `auth.json` + suffix, in the same folder.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "auth.json".into());
        name.push(suffix);
        self.path.with_file_name(name)
    }
}

/// The provider's stored value, Null when none.
fn provider_value(doc: &Map<String, Value>, provider: &str) -> Value {
    doc.get("providers")
        .and_then(|p| p.get(provider))
        .cloned()
        .unwrap_or(Value::Null)
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, CredentialStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(dir.path().join("auth.json"));
        (dir, store)
    }

    fn corrupt_copies(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("auth.json.corrupt")
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn round_trip() {
        let (_dir, store) = store();
        assert_eq!(store.get("p").unwrap(), Value::Null);
        assert!(store.providers().unwrap().is_empty());
        let stored = store.update("p", |old| {
            assert_eq!(old, Value::Null);
            Ok(Some(json!({"token": "t1"})))
        });
        assert_eq!(stored.unwrap(), json!({"token": "t1"}));
        store.update("q", |_| Ok(Some(json!(1)))).unwrap();
        assert_eq!(store.get("p").unwrap(), json!({"token": "t1"}));
        assert_eq!(store.providers().unwrap(), ["p", "q"]);

        let doc: Value = serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
        assert_eq!(doc["version"], json!(1));
        assert!(doc["updated_at"].as_str().unwrap().ends_with('Z'));

        // None leaves the value alone and returns it.
        assert_eq!(
            store.update("p", |_| Ok(None)).unwrap(),
            json!({"token": "t1"})
        );
        assert!(store.remove("p").unwrap());
        assert!(!store.remove("p").unwrap());
        assert_eq!(store.get("p").unwrap(), Value::Null);
        assert_eq!(store.providers().unwrap(), ["q"]);
    }

    #[test]
    fn update_sees_what_another_writer_stored() {
        let (_dir, a) = store();
        let b = CredentialStore::new(a.path().to_path_buf());
        a.update("p", |_| Ok(Some(json!({"n": 1})))).unwrap();
        b.update("p", |old| {
            Ok(Some(json!({"n": old["n"].as_i64().unwrap() + 1})))
        })
        .unwrap();
        a.update("p", |old| {
            assert_eq!(old, json!({"n": 2}), "update re-reads the file");
            Ok(Some(json!({"n": 3})))
        })
        .unwrap();
        assert_eq!(b.get("p").unwrap(), json!({"n": 3}));
    }

    #[test]
    fn concurrent_updates_are_not_lost() {
        let (_dir, store) = store();
        let path = store.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let store = CredentialStore::new(path);
                    for _ in 0..25 {
                        store
                            .update("counter", |old| {
                                Ok(Some(json!(old.as_u64().unwrap_or(0) + 1)))
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.get("counter").unwrap(), json!(200));
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private_and_gets_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = store();
        store.update("p", |_| Ok(Some(json!("x")))).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        store.update("p", |_| Ok(Some(json!("y")))).unwrap();
        assert_eq!(mode(store.path()), 0o600);
    }

    #[test]
    fn corrupt_file_is_reported_then_kept_aside() {
        let (dir, store) = store();
        std::fs::write(store.path(), b"{ not json").unwrap();
        let err = store.get("p").unwrap_err();
        assert_eq!(
            err.exit,
            crate::error::Exit::Auth,
            "the user must sign in again"
        );
        assert!(
            err.message.contains(&store.path().display().to_string()),
            "{}",
            err.message
        );
        assert!(err.message.contains("talaria login"), "{}", err.message);
        assert!(store.providers().is_err());

        store
            .update("p", |old| {
                assert_eq!(old, Value::Null, "starts from an empty store");
                Ok(Some(json!("fresh")))
            })
            .unwrap();
        assert_eq!(store.get("p").unwrap(), json!("fresh"));
        let kept = corrupt_copies(dir.path());
        assert_eq!(kept, [dir.path().join("auth.json.corrupt")]);
        assert_eq!(std::fs::read(&kept[0]).unwrap(), b"{ not json");

        // A second corruption must not overwrite the first copy.
        std::fs::write(store.path(), b"[1, 2]").unwrap();
        store.update("p", |_| Ok(Some(json!("again")))).unwrap();
        std::fs::write(store.path(), br#"{"providers": 5}"#).unwrap();
        store.update("p", |_| Ok(Some(json!("third")))).unwrap();
        let kept = corrupt_copies(dir.path());
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert_eq!(
            std::fs::read(dir.path().join("auth.json.corrupt")).unwrap(),
            b"{ not json"
        );
        let mut contents: Vec<Vec<u8>> = kept.iter().map(|p| std::fs::read(p).unwrap()).collect();
        contents.sort();
        assert_eq!(
            contents,
            [
                b"[1, 2]".to_vec(),
                b"{ not json".to_vec(),
                br#"{"providers": 5}"#.to_vec()
            ]
        );
    }

    #[test]
    fn failing_update_writes_nothing() {
        let (dir, store) = store();
        let err = store.update("p", |_| Err(Error::auth("nope"))).unwrap_err();
        assert_eq!(err.message, "nope");
        assert!(!store.path().exists());

        store.update("p", |_| Ok(Some(json!(1)))).unwrap();
        let before = std::fs::read(store.path()).unwrap();
        assert!(store.update("p", |_| Err(Error::failure("boom"))).is_err());
        assert_eq!(std::fs::read(store.path()).unwrap(), before);

        // A corrupt file is moved aside even when f then fails, and nothing new is written.
        std::fs::write(store.path(), b"garbage").unwrap();
        assert!(store.update("p", |_| Err(Error::failure("boom"))).is_err());
        assert!(!store.path().exists());
        assert_eq!(
            std::fs::read(dir.path().join("auth.json.corrupt")).unwrap(),
            b"garbage"
        );
    }

    #[test]
    fn unknown_fields_are_preserved() {
        let (_dir, store) = store();
        std::fs::write(
            store.path(),
            br#"{"version": 1, "future": {"a": [1]}, "providers": {"p": {"x": 1}, "other": "keep"}}"#,
        )
        .unwrap();
        store.update("p", |_| Ok(Some(json!({"x": 2})))).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
        assert_eq!(doc["future"], json!({"a": [1]}));
        assert_eq!(doc["providers"]["other"], json!("keep"));
        assert_eq!(doc["providers"]["p"], json!({"x": 2}));
    }

    #[test]
    fn newer_format_is_read_but_not_rewritten() {
        let (_dir, store) = store();
        let text = br#"{"version": 2, "providers": {"p": 1}}"#;
        std::fs::write(store.path(), text).unwrap();
        assert_eq!(store.get("p").unwrap(), json!(1));
        let err = store.update("p", |_| Ok(Some(json!(2)))).unwrap_err();
        assert!(err.message.contains("newer talaria"), "{}", err.message);
        assert_eq!(std::fs::read(store.path()).unwrap(), text);
    }
}
