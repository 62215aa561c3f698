//! Applying a parsed patch: every change is computed in memory first (so a patch that
//! does not fit touches nothing), then written file by file, and undone if a write
//! fails, so a patch applies whole or not at all.
//!
//! Where Codex rewrites a file with `\n` endings and a final newline whatever it had,
//! this applier keeps the file's own line endings (`\r\n` when the file uses them) and
//! its lack of a final newline, so a patch changes only the lines it names.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::parser::{Chunk, Hunk};
use super::seek::seek;

/// What a file becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Absolute.
    pub path: PathBuf,
    /// Its text before (`None`: it did not exist).
    pub before: Option<String>,
    /// Its text after (`None`: deleted).
    pub after: Option<String>,
}

/// A patch worked out against the files, not yet written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// In the order the patch first touches each file.
    pub changes: Vec<FileChange>,
    /// The result lines (`A path`, `M path`, `D path`), as the patch names the paths.
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub deleted: Vec<String>,
}

impl Plan {
    /// The text the model gets on success.
    pub fn summary(&self) -> String {
        let mut text = String::from("Success. Updated the following files:\n");
        for (mark, paths) in [
            ("A", &self.added),
            ("M", &self.modified),
            ("D", &self.deleted),
        ] {
            for p in paths {
                text.push_str(&format!("{mark} {p}\n"));
            }
        }
        text
    }

    /// Every file the patch writes or deletes.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.changes.iter().map(|c| c.path.as_path())
    }

    /// The change as a unified diff (for the approval prompt), paths relative to `cwd`.
    pub fn diff(&self, cwd: &Path) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let shown = change.path.strip_prefix(cwd).unwrap_or(&change.path);
            let shown = shown.display();
            let before = change.before.as_deref().unwrap_or("");
            let after = change.after.as_deref().unwrap_or("");
            let (a, b) = (
                if change.before.is_some() {
                    format!("a/{shown}")
                } else {
                    "/dev/null".into()
                },
                if change.after.is_some() {
                    format!("b/{shown}")
                } else {
                    "/dev/null".into()
                },
            );
            let diff = similar::TextDiff::from_lines(before, after);
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&a, &b)
                    .to_string(),
            );
        }
        out
    }
}

/// Works out what the hunks do to the files under `cwd`, touching nothing.
pub fn plan(hunks: &[Hunk], cwd: &Path) -> Result<Plan, String> {
    if hunks.is_empty() {
        return Err("No files were modified.".into());
    }
    let mut files = Files::default();
    let mut plan = Plan::default();
    for hunk in hunks {
        let path = resolve(cwd, hunk.path());
        match hunk {
            Hunk::Add {
                path: shown,
                contents,
            } => {
                if path.is_dir() {
                    return Err(format!("Failed to write file {shown}: it is a directory"));
                }
                files.set(&path, Some(contents.clone()))?;
                plan.added.push(shown.clone());
            }
            Hunk::Delete { path: shown } => {
                if files.current(&path)?.is_none() {
                    return Err(format!("Failed to delete file {shown}: no such file"));
                }
                files.set(&path, None)?;
                plan.deleted.push(shown.clone());
            }
            Hunk::Update {
                path: shown,
                move_to,
                chunks,
            } => {
                let Some(text) = files.current(&path)? else {
                    return Err(format!(
                        "Failed to read file to update {shown}: no such file"
                    ));
                };
                let new = apply_chunks(&text, chunks, shown)?;
                match move_to {
                    Some(dest_shown) => {
                        let dest = resolve(cwd, dest_shown);
                        files.set(&dest, Some(new))?;
                        if dest != path {
                            files.set(&path, None)?;
                        }
                        plan.modified.push(dest_shown.clone());
                    }
                    None => {
                        files.set(&path, Some(new))?;
                        plan.modified.push(shown.clone());
                    }
                }
            }
        }
    }
    plan.changes = files.into_changes();
    Ok(plan)
}

/// Writes a plan; on a failed write, puts back what was written before it.
pub fn commit(plan: &Plan) -> Result<(), String> {
    for (done, change) in plan.changes.iter().enumerate() {
        if let Err(e) = write_change(&change.path, change.after.as_deref()) {
            for undo in plan.changes[..done].iter().rev() {
                // Best effort: the original error is what the model must see.
                let _ = write_change(&undo.path, undo.before.as_deref());
            }
            return Err(format!(
                "Failed to write {}: {e} (nothing was changed)",
                change.path.display()
            ));
        }
    }
    Ok(())
}

fn write_change(path: &Path, text: Option<&str>) -> std::io::Result<()> {
    match text {
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
        Some(text) => atomic_write(path, text.as_bytes()),
    }
}

/// A sibling temp file renamed over the target, keeping the target's permissions.
fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.patch-tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn resolve(cwd: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// The files as the patch leaves them so far, over what is on disk.
#[derive(Default)]
struct Files {
    order: Vec<PathBuf>,
    before: HashMap<PathBuf, Option<String>>,
    now: HashMap<PathBuf, Option<String>>,
}

impl Files {
    fn current(&mut self, path: &Path) -> Result<Option<String>, String> {
        if let Some(text) = self.now.get(path) {
            return Ok(text.clone());
        }
        let on_disk = read_text(path)?;
        self.before.insert(path.to_path_buf(), on_disk.clone());
        Ok(on_disk)
    }

    fn set(&mut self, path: &Path, text: Option<String>) -> Result<(), String> {
        if !self.before.contains_key(path) {
            let on_disk = read_text(path)?;
            self.before.insert(path.to_path_buf(), on_disk);
        }
        if !self.order.iter().any(|p| p == path) {
            self.order.push(path.to_path_buf());
        }
        self.now.insert(path.to_path_buf(), text);
        Ok(())
    }

    fn into_changes(mut self) -> Vec<FileChange> {
        self.order
            .into_iter()
            .filter_map(|path| {
                let before = self.before.remove(&path).flatten();
                let after = self.now.remove(&path).flatten();
                // Added and deleted in the same patch: nothing to do.
                (before.is_some() || after.is_some()).then_some(FileChange {
                    path,
                    before,
                    after,
                })
            })
            .collect()
    }
}

fn read_text(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            format!(
                "{} is not UTF-8 text; apply_patch edits text files only",
                path.display()
            )
        }),
        // A parent that is a file: the write will say what is wrong.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(_) if path.is_dir() => Err(format!("{} is a directory", path.display())),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// A file's text with the chunks applied, keeping its line endings.
pub fn apply_chunks(text: &str, chunks: &[Chunk], shown: &str) -> Result<String, String> {
    let crlf = text.contains("\r\n");
    let final_newline = text.is_empty() || text.ends_with('\n');
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            if crlf {
                l.strip_suffix('\r').unwrap_or(l)
            } else {
                l
            }
            .to_owned()
        })
        .collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let replacements = replacements(&lines, chunks, shown)?;
    for (start, len, new) in replacements.into_iter().rev() {
        lines.splice(start..start + len, new);
    }
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut out = lines.join(eol);
    if final_newline && !lines.is_empty() {
        out.push_str(eol);
    }
    Ok(out)
}

/// Where each chunk goes: (first line, lines replaced, new lines), in file order.
fn replacements(
    lines: &[String],
    chunks: &[Chunk],
    shown: &str,
) -> Result<Vec<(usize, usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut cursor = 0;
    for chunk in chunks {
        if let Some(context) = &chunk.context {
            match seek(lines, std::slice::from_ref(context), cursor, false) {
                Some(i) => cursor = i + 1,
                None => return Err(format!("Failed to find context '{context}' in {shown}")),
            }
        }
        if chunk.old_lines.is_empty() {
            // Nothing to find: the new lines go at the end.
            out.push((lines.len(), 0, chunk.new_lines.clone()));
            continue;
        }
        let mut old: &[String] = &chunk.old_lines;
        let mut new: &[String] = &chunk.new_lines;
        let mut found = seek(lines, old, cursor, chunk.at_end_of_file);
        // A trailing empty line in the chunk is often the patch's own final newline.
        if found.is_none() && old.last().is_some_and(String::is_empty) {
            old = &old[..old.len() - 1];
            if new.last().is_some_and(String::is_empty) {
                new = &new[..new.len() - 1];
            }
            found = seek(lines, old, cursor, chunk.at_end_of_file);
        }
        match found {
            Some(start) => {
                out.push((start, old.len(), keep_context(&lines[start..], old, new)));
                cursor = start + old.len();
            }
            None => {
                return Err(format!(
                    "Failed to find expected lines in {shown}:\n{}",
                    chunk.old_lines.join("\n")
                ))
            }
        }
    }
    out.sort_by_key(|(start, _, _)| *start);
    Ok(out)
}

/// The chunk's new lines, with each context line as the file has it: a line matched
/// loosely (trailing space, typographic quotes) stays as it was, and only the lines
/// the patch adds or removes change.
fn keep_context(found: &[String], old: &[String], new: &[String]) -> Vec<String> {
    let mut out = new.to_vec();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, old, new) {
        if let similar::DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            out[new_index..new_index + len].clone_from_slice(&found[old_index..old_index + len]);
        }
    }
    out
}
