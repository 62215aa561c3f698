//! The patch format of Codex's `apply_patch` (the grammar in `apply_patch.lark`),
//! parsed as leniently as Codex parses it (reference: codex-tools.md §3): the text is
//! trimmed, markers are compared after trimming, a heredoc wrapper (`<<'EOF'` … `EOF`)
//! is stripped, blank lines between chunks are skipped, the first chunk of a file may
//! leave out its `@@` line, and an empty line inside a chunk is an empty context line.

use std::fmt;

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File: ";
const DELETE: &str = "*** Delete File: ";
const UPDATE: &str = "*** Update File: ";
const MOVE_TO: &str = "*** Move to: ";
const END_OF_FILE: &str = "*** End of File";
const CONTEXT: &str = "@@ ";
const EMPTY_CONTEXT: &str = "@@";

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hunk {
    Add {
        path: String,
        /// The new file's text: the `+` lines, each ending in `\n`.
        contents: String,
    },
    Delete {
        path: String,
    },
    Update {
        path: String,
        move_to: Option<String>,
        chunks: Vec<Chunk>,
    },
}

impl Hunk {
    pub fn path(&self) -> &str {
        match self {
            Hunk::Add { path, .. } | Hunk::Delete { path } | Hunk::Update { path, .. } => path,
        }
    }
}

/// One `@@` section of an update: lines to find (context and removed) and what replaces
/// them (context and added).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    /// The `@@ text` line: a line to find first, narrowing where the chunk applies.
    pub context: Option<String>,
    pub old_lines: Vec<String>,
    pub new_lines: Vec<String>,
    /// `*** End of File`: the old lines are at the end of the file.
    pub at_end_of_file: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The envelope is wrong.
    InvalidPatch(String),
    /// A hunk is wrong; `line` is 1-based in the patch text.
    InvalidHunk { message: String, line: usize },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::InvalidPatch(m) => write!(f, "invalid patch: {m}"),
            ParseError::InvalidHunk { message, line } => {
                write!(f, "invalid hunk at line {line}, {message}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole patch (`*** Begin Patch` … `*** End Patch`).
pub fn parse(text: &str) -> Result<Vec<Hunk>, ParseError> {
    let lines: Vec<&str> = text.trim().lines().collect();
    let lines = match check_envelope(&lines) {
        Ok(()) => &lines[..],
        Err(e) => strip_heredoc(&lines).ok_or(e)?,
    };
    let mut hunks = Vec::new();
    let mut rest = &lines[1..lines.len() - 1];
    let mut line = 2;
    while !rest.is_empty() {
        // Blank lines between hunks carry nothing.
        if rest[0].trim().is_empty() {
            rest = &rest[1..];
            line += 1;
            continue;
        }
        let (hunk, used) = parse_hunk(rest, line)?;
        hunks.push(hunk);
        rest = &rest[used..];
        line += used;
    }
    Ok(hunks)
}

fn check_envelope(lines: &[&str]) -> Result<(), ParseError> {
    let first = lines.first().map(|l| l.trim());
    let last = lines.last().map(|l| l.trim());
    if first != Some(BEGIN) {
        return Err(ParseError::InvalidPatch(format!(
            "The first line of the patch must be '{BEGIN}'"
        )));
    }
    if last != Some(END) || lines.len() < 2 {
        return Err(ParseError::InvalidPatch(format!(
            "The last line of the patch must be '{END}'"
        )));
    }
    Ok(())
}

/// `<<EOF` / `<<'EOF'` / `<<"EOF"` … `EOF` around a patch, as a model copies it from a
/// shell heredoc.
fn strip_heredoc<'a, 'b>(lines: &'b [&'a str]) -> Option<&'b [&'a str]> {
    if lines.len() < 4 {
        return None;
    }
    let first = lines[0].trim();
    let last = lines[lines.len() - 1].trim();
    let opens = ["<<EOF", "<<'EOF'", "<<\"EOF\""].contains(&first);
    if !opens || !last.ends_with("EOF") {
        return None;
    }
    let inner = &lines[1..lines.len() - 1];
    check_envelope(inner).ok().map(|()| inner)
}

/// One hunk at the start of `lines`; returns it and how many lines it used.
fn parse_hunk(lines: &[&str], line: usize) -> Result<(Hunk, usize), ParseError> {
    let header = lines[0].trim();
    if let Some(path) = header.strip_prefix(ADD) {
        let mut contents = String::new();
        let mut used = 1;
        for added in &lines[1..] {
            let Some(text) = added.strip_prefix('+') else {
                break;
            };
            contents.push_str(text);
            contents.push('\n');
            used += 1;
        }
        let path = path_of(path, line)?;
        return Ok((Hunk::Add { path, contents }, used));
    }
    if let Some(path) = header.strip_prefix(DELETE) {
        let path = path_of(path, line)?;
        return Ok((Hunk::Delete { path }, 1));
    }
    if let Some(path) = header.strip_prefix(UPDATE) {
        let path = path_of(path, line)?;
        let mut rest = &lines[1..];
        let mut used = 1;
        let move_to = match rest.first().and_then(|l| l.trim().strip_prefix(MOVE_TO)) {
            Some(to) => {
                rest = &rest[1..];
                used += 1;
                Some(path_of(to, line + 1)?)
            }
            None => None,
        };
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            if rest[0].trim().is_empty() {
                rest = &rest[1..];
                used += 1;
                continue;
            }
            if rest[0].starts_with("***") {
                break;
            }
            let (chunk, n) = parse_chunk(rest, line + used, chunks.is_empty())?;
            chunks.push(chunk);
            rest = &rest[n..];
            used += n;
        }
        if chunks.is_empty() {
            return Err(ParseError::InvalidHunk {
                message: format!("Update file hunk for path '{path}' is empty"),
                line,
            });
        }
        return Ok((
            Hunk::Update {
                path,
                move_to,
                chunks,
            },
            used,
        ));
    }
    Err(ParseError::InvalidHunk {
        message: format!(
            "'{header}' is not a valid hunk header. Valid hunk headers: '{ADD}{{path}}', '{DELETE}{{path}}', '{UPDATE}{{path}}'"
        ),
        line,
    })
}

fn path_of(text: &str, line: usize) -> Result<String, ParseError> {
    let path = text.trim();
    if path.is_empty() {
        return Err(ParseError::InvalidHunk {
            message: "the file path is empty".into(),
            line,
        });
    }
    Ok(path.to_owned())
}

/// One chunk at the start of `lines`; returns it and how many lines it used.
fn parse_chunk(
    lines: &[&str],
    line: usize,
    first_of_file: bool,
) -> Result<(Chunk, usize), ParseError> {
    let (context, start) = if lines[0] == EMPTY_CONTEXT {
        (None, 1)
    } else if let Some(ctx) = lines[0].strip_prefix(CONTEXT) {
        (Some(ctx.to_owned()), 1)
    } else if first_of_file {
        (None, 0)
    } else {
        return Err(ParseError::InvalidHunk {
            message: format!(
                "Expected update hunk to start with a @@ context marker, got: '{}'",
                lines[0]
            ),
            line,
        });
    };
    if start >= lines.len() {
        return Err(ParseError::InvalidHunk {
            message: "Update hunk does not contain any lines".into(),
            line: line + 1,
        });
    }
    let mut chunk = Chunk {
        context,
        ..Chunk::default()
    };
    let mut used = 0;
    for text in &lines[start..] {
        if text.trim_end() == END_OF_FILE {
            if used == 0 {
                return Err(ParseError::InvalidHunk {
                    message: "Update hunk does not contain any lines".into(),
                    line: line + start,
                });
            }
            chunk.at_end_of_file = true;
            used += 1;
            break;
        }
        match text.chars().next() {
            None => {
                chunk.old_lines.push(String::new());
                chunk.new_lines.push(String::new());
            }
            Some(' ') => {
                chunk.old_lines.push(text[1..].to_owned());
                chunk.new_lines.push(text[1..].to_owned());
            }
            Some('+') => chunk.new_lines.push(text[1..].to_owned()),
            Some('-') => chunk.old_lines.push(text[1..].to_owned()),
            Some(_) if used == 0 => {
                return Err(ParseError::InvalidHunk {
                    message: format!(
                        "Unexpected line found in update hunk: '{text}'. Every line should start with ' ' (context line), '+' (added line), or '-' (removed line)"
                    ),
                    line: line + start,
                });
            }
            // The next chunk (or hunk) starts here.
            Some(_) => break,
        }
        used += 1;
    }
    Ok((chunk, used + start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(path: &str, chunks: Vec<Chunk>) -> Hunk {
        Hunk::Update {
            path: path.into(),
            move_to: None,
            chunks,
        }
    }

    fn chunk(context: Option<&str>, old: &[&str], new: &[&str], eof: bool) -> Chunk {
        Chunk {
            context: context.map(str::to_owned),
            old_lines: old.iter().map(|s| s.to_string()).collect(),
            new_lines: new.iter().map(|s| s.to_string()).collect(),
            at_end_of_file: eof,
        }
    }

    #[test]
    fn the_envelope_is_required() {
        assert_eq!(
            parse("bad").unwrap_err().to_string(),
            "invalid patch: The first line of the patch must be '*** Begin Patch'"
        );
        assert_eq!(
            parse("*** Begin Patch\nbad").unwrap_err().to_string(),
            "invalid patch: The last line of the patch must be '*** End Patch'"
        );
        assert_eq!(parse("*** Begin Patch\n*** End Patch").unwrap(), vec![]);
    }

    #[test]
    fn the_codex_example_with_every_kind_of_hunk() {
        // The example from Codex's tool description.
        let patch = "*** Begin Patch\n\
*** Add File: hello.txt\n\
+Hello world\n\
*** Update File: src/app.py\n\
*** Move to: src/main.py\n\
@@ def greet():\n\
-print(\"Hi\")\n\
+print(\"Hello, world!\")\n\
*** Delete File: obsolete.txt\n\
*** End Patch\n";
        assert_eq!(
            parse(patch).unwrap(),
            vec![
                Hunk::Add {
                    path: "hello.txt".into(),
                    contents: "Hello world\n".into()
                },
                Hunk::Update {
                    path: "src/app.py".into(),
                    move_to: Some("src/main.py".into()),
                    chunks: vec![chunk(
                        Some("def greet():"),
                        &["print(\"Hi\")"],
                        &["print(\"Hello, world!\")"],
                        false
                    )]
                },
                Hunk::Delete {
                    path: "obsolete.txt".into()
                },
            ]
        );
    }

    #[test]
    fn chunks_context_blank_lines_and_end_of_file() {
        let patch = "*** Begin Patch
*** Update File: file.py
 import foo
+bar
@@ class A

@@ def f():
 a
-b

+c
*** End of File
*** End Patch";
        assert_eq!(
            parse(patch).unwrap(),
            vec![update(
                "file.py",
                vec![
                    chunk(None, &["import foo"], &["import foo", "bar"], false),
                    // A chunk whose only line is the empty context line.
                    chunk(Some("class A"), &[""], &[""], false),
                    chunk(Some("def f():"), &["a", "b", ""], &["a", "", "c"], true),
                ]
            )]
        );
    }

    #[test]
    fn a_heredoc_wrapper_and_surrounding_space_are_tolerated() {
        let patch = "<<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\n";
        assert_eq!(
            parse(patch).unwrap(),
            vec![Hunk::Delete { path: "a".into() }]
        );
        let patch = "  *** Begin Patch \n*** Delete File: a\n  *** End Patch  \n\n";
        assert_eq!(
            parse(patch).unwrap(),
            vec![Hunk::Delete { path: "a".into() }]
        );
    }

    #[test]
    fn bad_hunks_name_their_line() {
        let e = parse("*** Begin Patch\n*** Frobnicate File: foo\n*** End Patch").unwrap_err();
        assert_eq!(e.to_string(), "invalid hunk at line 2, '*** Frobnicate File: foo' is not a valid hunk header. Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'");
        let e = parse("*** Begin Patch\n*** Update File: test.py\n*** End Patch").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid hunk at line 2, Update file hunk for path 'test.py' is empty"
        );
        let e =
            parse("*** Begin Patch\n*** Update File: a\n@@\n-x\nbad\n*** End Patch").unwrap_err();
        assert_eq!(e.to_string(), "invalid hunk at line 5, Expected update hunk to start with a @@ context marker, got: 'bad'");
        let e = parse("*** Begin Patch\n*** Update File: a\nbad\n*** End Patch").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid hunk at line 3, Unexpected line found in update hunk: 'bad'"),
            "{e}"
        );
    }
}
