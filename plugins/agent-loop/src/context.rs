//! What the model is told before the user's first message, as the Codex CLI tells it
//! (reference: codex-tools.md §6): the `AGENTS.md` files that apply to the working
//! directory, and the environment (directory, shell, approval policy, sandbox,
//! network). Both are user-role messages at the start of a session, so they stay in the
//! session's history and are not sent again.

use std::path::{Path, PathBuf};

use talaria_sdk::items::Item;
use talaria_sdk::turn::TurnRequest;

/// Files a directory may hold, in the order one is chosen.
const DOC_NAMES: &[&str] = &["AGENTS.override.md", "AGENTS.md"];
/// The project docs together are cut to this many bytes (Codex's `project_doc_max_bytes`).
pub const MAX_PROJECT_DOC_BYTES: usize = 32 * 1024;
/// What marks the project root: the nearest ancestor holding one of these.
const ROOT_MARKERS: &[&str] = &[".git"];

/// The messages that open a new session: the agent instructions (when any file
/// applies) and the environment.
pub fn opening_items(req: &TurnRequest, global_dir: Option<&Path>) -> Vec<Item> {
    let cwd = Path::new(&req.cwd);
    let mut items = Vec::new();
    if let Some(text) = agent_instructions(cwd, global_dir) {
        items.push(Item::user_text(&format!(
            "# AGENTS.md instructions for {}\n\n<INSTRUCTIONS>\n{text}\n</INSTRUCTIONS>",
            cwd.display()
        )));
    }
    items.push(Item::user_text(&environment_context(req)));
    items
}

/// The global file (in the profile's folder) and the project's files from the root down
/// to `cwd`, joined as Codex joins them; `None` when there are none.
pub fn agent_instructions(cwd: &Path, global_dir: Option<&Path>) -> Option<String> {
    let global = global_dir
        .and_then(first_doc)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .filter(|t| !t.trim().is_empty());
    let project = project_docs(cwd);
    match (global, project) {
        (Some(g), Some(p)) => Some(format!("{}\n\n--- project-doc ---\n\n{p}", g.trim_end())),
        (g, p) => g.or(p),
    }
}

/// The project's docs, root first, cut to [`MAX_PROJECT_DOC_BYTES`] in total.
fn project_docs(cwd: &Path) -> Option<String> {
    let mut budget = MAX_PROJECT_DOC_BYTES;
    let mut parts = Vec::new();
    for dir in dirs_from_root(cwd) {
        let Some(path) = first_doc(&dir) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if text.trim().is_empty() || budget == 0 {
            continue;
        }
        let cut = cut_at_char_boundary(&text, budget);
        budget -= cut.len();
        parts.push(cut.to_owned());
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// From the project root (the nearest ancestor with a root marker) down to `cwd`; just
/// `cwd` when no ancestor has one.
fn dirs_from_root(cwd: &Path) -> Vec<PathBuf> {
    let root = cwd
        .ancestors()
        .find(|dir| ROOT_MARKERS.iter().any(|m| dir.join(m).exists()));
    let Some(root) = root else {
        return vec![cwd.to_path_buf()];
    };
    let mut dirs: Vec<PathBuf> = cwd
        .ancestors()
        .take_while(|dir| *dir != root)
        .map(Path::to_path_buf)
        .collect();
    dirs.push(root.to_path_buf());
    dirs.reverse();
    dirs
}

fn first_doc(dir: &Path) -> Option<PathBuf> {
    DOC_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

fn cut_at_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `<environment_context>` in the form that names the approval policy and sandbox.
pub fn environment_context(req: &TurnRequest) -> String {
    let sandbox = req.sandbox.as_deref().unwrap_or("workspace-write");
    let network = if sandbox == "danger-full-access" {
        "enabled"
    } else {
        "restricted"
    };
    let shell = std::env::var("SHELL")
        .ok()
        .and_then(|s| {
            Path::new(&s)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "bash".into());
    let mut lines = vec![
        "<environment_context>".to_owned(),
        format!("  <cwd>{}</cwd>", req.cwd),
    ];
    if let Some(policy) = &req.approval_policy {
        lines.push(format!("  <approval_policy>{policy}</approval_policy>"));
    }
    lines.push(format!("  <sandbox_mode>{sandbox}</sandbox_mode>"));
    lines.push(format!("  <network_access>{network}</network_access>"));
    if sandbox == "workspace-write" {
        lines.push("  <writable_roots>".into());
        lines.push(format!("    <root>{}</root>", req.cwd));
        lines.push("  </writable_roots>".into());
    }
    lines.push(format!("  <shell>{shell}</shell>"));
    lines.push("</environment_context>".into());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_come_root_first_with_the_global_one_ahead() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let sub = root.join("crates/a");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::write(root.join("AGENTS.md"), "root rules\n").unwrap();
        std::fs::write(sub.join("AGENTS.md"), "sub rules\n").unwrap();
        // The override wins over AGENTS.md in the same folder.
        std::fs::write(root.join("crates/AGENTS.md"), "ignored").unwrap();
        std::fs::write(root.join("crates/AGENTS.override.md"), "middle").unwrap();
        // Above the root: not read.
        std::fs::write(tmp.path().join("AGENTS.md"), "outside").unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir(&home).unwrap();
        assert_eq!(
            agent_instructions(&sub, Some(&home)).unwrap(),
            "root rules\n\n\nmiddle\n\nsub rules\n"
        );
        std::fs::write(home.join("AGENTS.md"), "global\n").unwrap();
        assert_eq!(
            agent_instructions(&sub, Some(&home)).unwrap(),
            "global\n\n--- project-doc ---\n\nroot rules\n\n\nmiddle\n\nsub rules\n"
        );
    }

    #[test]
    fn the_opening_messages_are_context() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("AGENTS.md"), "rules").unwrap();
        let req = TurnRequest {
            cwd: tmp.path().display().to_string(),
            ..Default::default()
        };
        let items = opening_items(&req, None);
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(Item::is_context));
        assert!(!Item::user_text("hello").is_context());
    }

    #[test]
    fn without_a_root_marker_only_cwd_counts_and_the_size_is_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let sub = tmp.path().join("a");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(tmp.path().join("AGENTS.md"), "parent").unwrap();
        assert_eq!(agent_instructions(&sub, None), None);
        let big = "é".repeat(MAX_PROJECT_DOC_BYTES);
        std::fs::write(sub.join("AGENTS.md"), &big).unwrap();
        let text = agent_instructions(&sub, None).unwrap();
        assert_eq!(text.len(), MAX_PROJECT_DOC_BYTES);
    }
}
