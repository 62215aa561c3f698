//! The `apply_patch` tool's input: Codex's patch format, and the chunks found in a file.

use talaria_coding_tools::patch::apply::apply_chunks;
use talaria_coding_tools::patch::parser::{parse, Chunk, Hunk};

/// A patch in the canonical form: `\r\n` line ends (the parser takes one `\r` off each
/// line, so a line's own trailing `\r` survives), an `@@` line before every chunk, and
/// each chunk's old lines (`-`) before its new ones (`+`), which parse to the same
/// chunk as context lines do.
fn render(hunks: &[Hunk]) -> String {
    let mut out = String::from("*** Begin Patch\r\n");
    for hunk in hunks {
        match hunk {
            Hunk::Add { path, contents } => {
                out.push_str(&format!("*** Add File: {path}\r\n"));
                for line in contents.split_terminator('\n') {
                    out.push_str(&format!("+{line}\r\n"));
                }
            }
            Hunk::Delete { path } => out.push_str(&format!("*** Delete File: {path}\r\n")),
            Hunk::Update {
                path,
                move_to,
                chunks,
            } => {
                out.push_str(&format!("*** Update File: {path}\r\n"));
                if let Some(to) = move_to {
                    out.push_str(&format!("*** Move to: {to}\r\n"));
                }
                for chunk in chunks {
                    match &chunk.context {
                        Some(context) => out.push_str(&format!("@@ {context}\r\n")),
                        None => out.push_str("@@\r\n"),
                    }
                    for line in &chunk.old_lines {
                        out.push_str(&format!("-{line}\r\n"));
                    }
                    for line in &chunk.new_lines {
                        out.push_str(&format!("+{line}\r\n"));
                    }
                    if chunk.at_end_of_file {
                        out.push_str("*** End of File\r\n");
                    }
                }
            }
        }
    }
    out.push_str("*** End Patch\r\n");
    out
}

/// A patch, then (after a NUL byte) the text of the file its updates apply to.
/// Properties: a parsed patch written out again parses to the same hunks; applying
/// chunks never panics, and chunks that change nothing leave a `\n` file as it was.
pub fn apply_patch(data: &[u8]) {
    let (patch, file) = crate::split_at(data, b"\0");
    let Ok(hunks) = parse(&crate::text(patch)) else {
        return;
    };
    let rendered = render(&hunks);
    match parse(&rendered) {
        Ok(again) => assert_eq!(again, hunks, "the patch written out again:\n{rendered}"),
        Err(e) => panic!("the patch written out again does not parse ({e}):\n{rendered}"),
    }
    let file = crate::text(file);
    for hunk in &hunks {
        let Hunk::Update { path, chunks, .. } = hunk else {
            continue;
        };
        let applied = apply_chunks(&file, chunks, path);
        let unchanged = |c: &Chunk| c.old_lines == c.new_lines && !c.old_lines.is_empty();
        if let Ok(text) = applied {
            if !file.contains('\r') && chunks.iter().all(unchanged) {
                assert_eq!(text, file, "chunks without changes changed the file");
            }
        }
    }
}
