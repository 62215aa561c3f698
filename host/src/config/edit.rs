//! CLI edits of `config.toml` through toml_edit, so the user's comments and layout
//! survive; an invalid file is never rewritten.

use std::path::Path;
use std::time::Duration;

use toml_edit::{Item, TableLike, Value};

use super::locate::line_of;
use super::{invalid, read_optional, Config};
use crate::error::{Error, Result};
use crate::fsutil::{lock_path, remove_stale_temps, write_atomic, FileLock};

/// An edit is a read, a toml_edit pass and an atomic write: milliseconds. Waiting this
/// long covers a queue of other talaria processes editing the same file.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies `edit` to the profile's config document and writes it back atomically, keeping the user's
/// comments and formatting (toml_edit). Refuses (Error::usage, exit 2, naming the file and line) when the
/// existing file is invalid — the file is never rewritten while invalid — and also refuses to write a
/// result that would not load. Creates the file (and its folder) when missing.
///
/// The read-modify-write runs under a cross-process lock (`config.toml.lock` beside the
/// file), as `auth.json`'s do: two talaria processes editing at once (`plugins disable`
/// here, `codex-runtime on` there) would otherwise both read the old file and the later
/// rename would drop the earlier edit. The file is read inside the lock for that reason.
/// Readers take no lock: the atomic replace shows them the old file or the new one.
pub fn edit_config(
    path: &Path,
    edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<()>,
) -> Result<()> {
    let _lock = FileLock::acquire(&lock_path(path), LOCK_TIMEOUT)?;
    // Holding the lock, no other writer is mid-write: what a killed one left is litter.
    remove_stale_temps(path);
    let original = read_optional(path)?;
    let text = original.as_deref().unwrap_or("");
    Config::parse(text, path).map_err(|e| {
        e.context(format!(
            "not changing {} while it is invalid",
            path.display()
        ))
    })?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        // toml accepts TOML 1.1 syntax that toml_edit cannot yet rewrite.
        let line = e.span().map(|s| line_of(text, s.start));
        invalid(
            path,
            line,
            None,
            &format!(
                "{} (talaria cannot edit this syntax; make the change by hand)",
                e.message()
            ),
        )
    })?;
    edit(&mut doc)?;
    let updated = doc.to_string();
    Config::parse(&updated, path)
        .map_err(|e| e.context("refusing to write a config that would not load"))?;
    if original.as_deref() == Some(updated.as_str()) {
        return Ok(());
    }
    write_atomic(path, updated.as_bytes(), existing_mode(path))
}

/// Keeps the file's permissions across the atomic replace; a new file gets the
/// temp file's private 0600, which suits a file that may hold MCP headers.
fn existing_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The table at dotted path `table` (e.g. "plugins"), created when `create` is set.
fn table_mut<'a>(
    doc: &'a mut toml_edit::DocumentMut,
    table: &str,
    create: bool,
) -> Result<Option<&'a mut dyn TableLike>> {
    let mut current: &mut dyn TableLike = doc.as_table_mut();
    for part in table.split('.') {
        if !create && !current.contains_key(part) {
            return Ok(None);
        }
        let item = current.entry(part).or_insert_with(toml_edit::table);
        current = item.as_table_like_mut().ok_or_else(|| {
            Error::usage(format!(
                "config key `{table}` must be a table, like [{table}]"
            ))
        })?;
    }
    Ok(Some(current))
}

/// Adds or removes `id` in the string array `[table] key` (e.g. plugins.disabled), creating table/array as needed,
/// without duplicates and keeping other entries and comments.
pub fn set_in_list(
    doc: &mut toml_edit::DocumentMut,
    table: &str,
    key: &str,
    id: &str,
    present: bool,
) -> Result<()> {
    // Removing from a list that does not exist is already done; do not add empty tables.
    let Some(t) = table_mut(doc, table, present)? else {
        return Ok(());
    };
    if !t.contains_key(key) {
        if !present {
            return Ok(());
        }
        t.insert(key, toml_edit::value(toml_edit::Array::new()));
    }
    let array = t.get_mut(key).and_then(Item::as_array_mut).ok_or_else(|| {
        Error::usage(format!(
            "config key `{table}.{key}` must be a list of strings, like {key} = [\"{id}\"]"
        ))
    })?;
    let has = array.iter().any(|v| v.as_str() == Some(id));
    if present && !has {
        array.push(id);
    } else if !present {
        array.retain(|v| v.as_str() != Some(id));
    }
    Ok(())
}

/// Sets `[table] key = "value"`.
pub fn set_string(
    doc: &mut toml_edit::DocumentMut,
    table: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let Some(t) = table_mut(doc, table, true)? else {
        return Ok(());
    };
    match t.get_mut(key) {
        Some(Item::Value(old)) => {
            // Keep the spacing and trailing comment around the old value.
            let decor = old.decor().clone();
            let mut new = Value::from(value);
            *new.decor_mut() = decor;
            *old = new;
        }
        Some(_) => {
            return Err(Error::usage(format!(
            "config key `{table}.{key}` is a table; it must be a string, like {key} = \"{value}\""
        )))
        }
        None => {
            t.insert(key, toml_edit::value(value));
        }
    }
    Ok(())
}
