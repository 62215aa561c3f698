//! Turning a parse error's byte span into what a user needs: the line and the dotted key.

use std::ops::Range;
use std::path::Path;

use toml_edit::{Item, TableLike, Value};

use super::invalid;
use crate::error::Error;

pub(super) fn describe_toml_error(text: &str, path: &Path, e: &toml::de::Error) -> Error {
    let Some(span) = e.span() else {
        return invalid(path, None, None, e.message());
    };
    let line = line_of(text, span.start);
    // A syntax error: there is no document to walk, so read the key off the line. Only
    // text the toml crate reads goes to toml_edit, which panics on some malformed files
    // ("all items have spans", toml_edit 0.23; found by the fuzz targets).
    let syntax_error = toml::Deserializer::parse(text).is_err();
    let document = (!syntax_error)
        .then(|| toml_edit::Document::parse(text).ok())
        .flatten();
    let key = match document {
        // The document parses, so this is a type or schema error: find the exact key.
        Some(doc) => key_at(doc.as_table(), &span),
        None => key_on_line(text, line),
    };
    invalid(path, Some(line), key.as_deref(), e.message())
}

/// 1-based line number of byte offset `at`.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(super) fn dotted(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| quote_key(s))
        .collect::<Vec<_>>()
        .join(".")
}

/// Keys that are not bare TOML keys are shown quoted, as they would be written.
fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn covers(outer: Option<Range<usize>>, inner: &Range<usize>) -> bool {
    outer.is_some_and(|o| o.start <= inner.start && inner.end <= o.end && o.start < o.end)
}

/// The dotted key whose key or value span holds `span`: the deepest one wins, so an error
/// in an array element names the element rather than the table around it.
fn key_at(root: &toml_edit::Table, span: &Range<usize>) -> Option<String> {
    let mut found = None;
    walk_table(root, "", span, &mut found);
    found
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        quote_key(key)
    } else {
        format!("{prefix}.{}", quote_key(key))
    }
}

fn walk_table(
    table: &dyn TableLike,
    prefix: &str,
    span: &Range<usize>,
    found: &mut Option<String>,
) {
    for (name, _) in table.iter() {
        let Some((key, item)) = table.get_key_value(name) else {
            continue;
        };
        let path = join_key(prefix, name);
        if covers(key.span(), span) || covers(item.span(), span) {
            *found = Some(path.clone());
        }
        match item {
            Item::Table(t) => walk_table(t, &path, span, found),
            Item::ArrayOfTables(tables) => {
                for (i, t) in tables.iter().enumerate() {
                    let path = format!("{path}[{i}]");
                    if covers(t.span(), span) {
                        *found = Some(path.clone());
                    }
                    walk_table(t, &path, span, found);
                }
            }
            Item::Value(v) => walk_value(v, &path, span, found),
            Item::None => {}
        }
    }
}

fn walk_value(value: &Value, path: &str, span: &Range<usize>, found: &mut Option<String>) {
    match value {
        Value::InlineTable(t) => walk_table(t, path, span, found),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let path = format!("{path}[{i}]");
                if covers(v.span(), span) {
                    *found = Some(path.clone());
                }
                walk_value(v, &path, span, found);
            }
        }
        _ => {}
    }
}

/// Where the key `segments` is written (its key span), to give validation errors a line.
pub(super) fn span_of_key(root: &toml_edit::Table, segments: &[String]) -> Option<Range<usize>> {
    let mut table: &dyn TableLike = root;
    let mut span = None;
    for (i, segment) in segments.iter().enumerate() {
        let (key, item) = table.get_key_value(segment)?;
        span = key.span().or_else(|| item.span());
        if i + 1 < segments.len() {
            table = item.as_table_like()?;
        }
    }
    span
}

/// For a syntax error, where no document exists: the table header in effect plus the
/// key written on the failing line (`None` when the line is not `key = ...`).
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let current = lines.get(line.checked_sub(1)?)?.trim();
    let (key, _) = current.split_once('=')?;
    let key = key.trim();
    let looks_like_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.\"' ".contains(c))
        && !current.starts_with('[');
    if !looks_like_key {
        return None;
    }
    let header = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find_map(|l| {
            let inner = l
                .strip_prefix("[[")
                .and_then(|l| l.split_once("]]"))
                .map(|(h, _)| h);
            inner.or_else(|| {
                l.strip_prefix('[')
                    .and_then(|l| l.split_once(']'))
                    .map(|(h, _)| h)
            })
        });
    Some(match header {
        Some(header) => format!("{}.{key}", header.trim()),
        None => key.to_owned(),
    })
}
