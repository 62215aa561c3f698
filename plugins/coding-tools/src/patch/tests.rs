//! The applier on the situations of Codex's own patch scenarios (apply-patch's test
//! fixtures: add, several operations, several chunks, moves, rejections, unicode, end of
//! file), and property tests: apply then reverse-apply gives the original, with CRLF,
//! unicode, files without a final newline and fuzzy context.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use proptest::prelude::*;

use super::*;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// Every file under `dir`, as (relative path, text), sorted.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn add_file() {
    let dir = dir_with(&[]);
    let out = apply_patch(
        "*** Begin Patch\n*** Add File: bar.md\n+This is a new file\n*** End Patch\n",
        dir.path(),
    )
    .unwrap();
    assert_eq!(out, "Success. Updated the following files:\nA bar.md\n");
    assert_eq!(read(dir.path(), "bar.md"), "This is a new file\n");
}

#[test]
fn multiple_operations() {
    let dir = dir_with(&[
        ("delete.txt", "obsolete\n"),
        ("modify.txt", "line1\nline2\n"),
    ]);
    let patch = "*** Begin Patch
*** Add File: nested/new.txt
+created
*** Delete File: delete.txt
*** Update File: modify.txt
@@
-line2
+changed
*** End Patch";
    let out = apply_patch(patch, dir.path()).unwrap();
    assert_eq!(
        out,
        "Success. Updated the following files:\nA nested/new.txt\nM modify.txt\nD delete.txt\n"
    );
    assert_eq!(
        snapshot(dir.path()),
        vec![
            ("modify.txt".into(), "line1\nchanged\n".into()),
            ("nested/new.txt".into(), "created\n".into())
        ]
    );
}

#[test]
fn multiple_chunks() {
    let dir = dir_with(&[("multi.txt", "line1\nline2\nline3\nline4\n")]);
    let patch = "*** Begin Patch\n*** Update File: multi.txt\n@@\n-line2\n+changed2\n@@\n-line4\n+changed4\n*** End Patch\n";
    apply_patch(patch, dir.path()).unwrap();
    assert_eq!(
        read(dir.path(), "multi.txt"),
        "line1\nchanged2\nline3\nchanged4\n"
    );
}

#[test]
fn move_to_a_new_directory_overwriting_the_destination() {
    let dir = dir_with(&[
        ("old/name.txt", "old content\n"),
        ("old/other.txt", "unrelated\n"),
        ("renamed/dir/name.txt", "existing\n"),
    ]);
    let patch = "*** Begin Patch\n*** Update File: old/name.txt\n*** Move to: renamed/dir/name.txt\n@@\n-old content\n+new content\n*** End Patch\n";
    let out = apply_patch(patch, dir.path()).unwrap();
    assert_eq!(
        out,
        "Success. Updated the following files:\nM renamed/dir/name.txt\n"
    );
    assert_eq!(
        snapshot(dir.path()),
        vec![
            ("old/other.txt".into(), "unrelated\n".into()),
            ("renamed/dir/name.txt".into(), "new content\n".into())
        ]
    );
}

#[test]
fn rejections_leave_every_file_alone() {
    let files = [("foo.txt", "stable\n"), ("modify.txt", "line1\nline2\n")];
    let cases = [
        ("*** Begin Patch\n*** End Patch\n", "No files were modified."),
        (
            "*** Begin Patch\n*** Update File: modify.txt\n@@\n-missing\n+changed\n*** End Patch\n",
            "apply_patch verification failed: Failed to find expected lines in modify.txt:\nmissing",
        ),
        (
            "*** Begin Patch\n*** Delete File: missing.txt\n*** End Patch\n",
            "apply_patch verification failed: Failed to delete file missing.txt: no such file",
        ),
        (
            "*** Begin Patch\n*** Update File: foo.txt\n*** End Patch\n",
            "invalid hunk at line 2, Update file hunk for path 'foo.txt' is empty",
        ),
        (
            "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch\n",
            "apply_patch verification failed: Failed to read file to update missing.txt: no such file",
        ),
        (
            "*** Begin Patch\n*** Update File: modify.txt\n@@ def nothing():\n-line1\n+x\n*** End Patch\n",
            "apply_patch verification failed: Failed to find context 'def nothing():' in modify.txt",
        ),
        (
            // The add would succeed, the update cannot: nothing is written (Codex would
            // leave the added file behind; this applier is atomic per patch).
            "*** Begin Patch\n*** Add File: created.txt\n+hello\n*** Update File: modify.txt\n@@\n-nope\n+x\n*** End Patch\n",
            "apply_patch verification failed: Failed to find expected lines in modify.txt:\nnope",
        ),
    ];
    for (patch, want) in cases {
        let dir = dir_with(&files);
        let before = snapshot(dir.path());
        let err = apply_patch(patch, dir.path()).unwrap_err();
        assert!(err.starts_with(want), "{patch}\n=> {err}");
        assert!(err.contains(want.lines().next().unwrap()), "{err}");
        assert_eq!(snapshot(dir.path()), before, "{patch}");
    }
    let dir = dir_with(&[("dir/foo.txt", "x\n")]);
    let err = apply_patch(
        "*** Begin Patch\n*** Delete File: dir\n*** End Patch\n",
        dir.path(),
    )
    .unwrap_err();
    assert!(err.contains("dir is a directory"), "{err}");
}

#[test]
fn a_failed_write_undoes_the_writes_before_it() {
    let dir = dir_with(&[("a.txt", "one\n")]);
    // `blocker` is a file, so `blocker/b.txt` cannot be created.
    std::fs::write(dir.path().join("blocker"), "file\n").unwrap();
    let before = snapshot(dir.path());
    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+two\n*** Add File: blocker/b.txt\n+x\n*** End Patch\n";
    let err = apply_patch(patch, dir.path()).unwrap_err();
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn add_overwrites_and_delete_removes() {
    let dir = dir_with(&[
        ("duplicate.txt", "old\n"),
        ("obsolete.txt", "x\n"),
        ("keep.txt", "k\n"),
    ]);
    let patch = "*** Begin Patch\n*** Add File: duplicate.txt\n+new\n*** Delete File: obsolete.txt\n*** End Patch\n";
    apply_patch(patch, dir.path()).unwrap();
    assert_eq!(
        snapshot(dir.path()),
        vec![
            ("duplicate.txt".into(), "new\n".into()),
            ("keep.txt".into(), "k\n".into())
        ]
    );
}

#[test]
fn pure_addition_deletion_only_unicode_and_end_of_file() {
    let dir = dir_with(&[
        ("input.txt", "line1\nline2\n"),
        ("lines.txt", "keep\ndrop\nkeep2\n"),
        ("foo.txt", "line1\nnaïve café\nline3\n"),
        ("tail.txt", "first\nsecond\n"),
    ]);
    let patch = "*** Begin Patch
*** Update File: input.txt
@@
+added line 1
+added line 2
*** Update File: lines.txt
@@
 keep
-drop
 keep2
*** Update File: foo.txt
@@
 line1
-naïve café
+naïve café ✅
*** Update File: tail.txt
@@
 first
-second
+second updated
*** End of File
*** End Patch ";
    apply_patch(patch, dir.path()).unwrap();
    assert_eq!(
        read(dir.path(), "input.txt"),
        "line1\nline2\nadded line 1\nadded line 2\n"
    );
    assert_eq!(read(dir.path(), "lines.txt"), "keep\nkeep2\n");
    assert_eq!(read(dir.path(), "foo.txt"), "line1\nnaïve café ✅\nline3\n");
    assert_eq!(read(dir.path(), "tail.txt"), "first\nsecond updated\n");
}

#[test]
fn whitespace_padded_markers_and_headers() {
    let dir = dir_with(&[("file.txt", "one\n")]);
    let patch =
        "   *** Begin Patch  \n  *** Update File: file.txt  \n@@\n-one\n+two\n *** End Patch \n";
    apply_patch(patch, dir.path()).unwrap();
    assert_eq!(read(dir.path(), "file.txt"), "two\n");
}

#[test]
fn line_endings_and_a_missing_final_newline_are_kept() {
    let dir = dir_with(&[("crlf.txt", "a\r\nb\r\nc\r\n"), ("bare.txt", "a\nb")]);
    let patch = "*** Begin Patch\n*** Update File: crlf.txt\n@@\n a\n-b\n+B\n*** Update File: bare.txt\n@@\n a\n-b\n+B\n*** End Patch\n";
    apply_patch(patch, dir.path()).unwrap();
    assert_eq!(read(dir.path(), "crlf.txt"), "a\r\nB\r\nc\r\n");
    assert_eq!(read(dir.path(), "bare.txt"), "a\nB");
}

#[test]
fn fuzzy_context_finds_the_line() {
    let dir = dir_with(&[(
        "q.py",
        "x = 1   \nprint(\u{201C}hi\u{201D})  # \u{2014} note\ny = 2\n",
    )]);
    let patch = "*** Begin Patch\n*** Update File: q.py\n@@\n x = 1\n-print(\"hi\")  # - note\n+print(\"bye\")\n y = 2\n*** End Patch\n";
    apply_patch(patch, dir.path()).unwrap();
    assert_eq!(
        read(dir.path(), "q.py"),
        "x = 1   \nprint(\"bye\")\ny = 2\n"
    );
}

#[test]
fn the_approval_diff_is_unified() {
    let dir = dir_with(&[("a.txt", "one\ntwo\n")]);
    let plan = prepare(
        "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+three\n*** Add File: b.txt\n+new\n*** End Patch",
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        plan.diff(dir.path()),
        "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n--- /dev/null\n+++ b/b.txt\n@@ -0,0 +1 @@\n+new\n"
    );
    assert_eq!(
        read(dir.path(), "a.txt"),
        "one\ntwo\n",
        "prepare writes nothing"
    );
}

// ---- properties ----

/// A line: ASCII words, unicode, or empty.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}( [a-z0-9_]{1,8}){0,4}",
        "[àéîõüß€✅漢字🙂 ]{1,10}",
        Just(String::new()),
    ]
}

/// A file as lines (distinct, so the chunk's place is unambiguous), its line ending, and
/// whether it ends with one.
fn file() -> impl Strategy<Value = (Vec<String>, bool, bool)> {
    (
        proptest::collection::vec(line(), 1..30),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, final_newline)| {
            let lines = lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| format!("{i}:{l}"))
                .collect();
            (lines, crlf, final_newline)
        })
}

fn text_of(lines: &[String], crlf: bool, final_newline: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut t = lines.join(eol);
    if final_newline && !lines.is_empty() {
        t.push_str(eol);
    }
    t
}

/// An update patch replacing `lines[at..at+remove]` with `insert`, with up to three
/// lines of context either side; `fuzz` pads the context with trailing spaces.
fn edit_patch(lines: &[String], at: usize, remove: usize, insert: &[String], fuzz: bool) -> String {
    let start = at.saturating_sub(3);
    let end = (at + remove + 3).min(lines.len());
    let ctx = |l: &String| {
        if fuzz {
            format!(" {l}  ")
        } else {
            format!(" {l}")
        }
    };
    let mut p = String::from("*** Begin Patch\n*** Update File: f.txt\n@@\n");
    for l in &lines[start..at] {
        p.push_str(&ctx(l));
        p.push('\n');
    }
    for l in &lines[at..at + remove] {
        p.push_str(&format!("-{l}\n"));
    }
    for l in insert {
        p.push_str(&format!("+{l}\n"));
    }
    for l in &lines[at + remove..end] {
        p.push_str(&ctx(l));
        p.push('\n');
    }
    p.push_str("*** End Patch\n");
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn apply_then_reverse_gives_the_original(
        (lines, crlf, final_newline) in file(),
        at_frac in 0.0f64..1.0,
        remove in 0usize..4,
        insert in proptest::collection::vec(line(), 0..4),
        fuzz in any::<bool>(),
    ) {
        let at = ((lines.len() as f64) * at_frac) as usize;
        let remove = remove.min(lines.len() - at);
        // An edit that changes nothing, or that has no line to anchor on, proves nothing.
        prop_assume!(remove > 0 || !insert.is_empty());
        prop_assume!(remove > 0 || at > 0 || at + remove < lines.len());
        let insert: Vec<String> = insert.into_iter().map(|l| format!("new:{l}")).collect();
        let original = text_of(&lines, crlf, final_newline);

        let mut edited = lines.clone();
        edited.splice(at..at + remove, insert.iter().cloned());
        // An emptied file, or a CRLF file with no line break left to tell, has no line
        // ending to keep.
        prop_assume!(!edited.is_empty());
        let changed = text_of(&edited, crlf, final_newline);
        prop_assume!(!crlf || (original.contains("\r\n") && changed.contains("\r\n")));
        let dir = dir_with(&[("f.txt", &original)]);
        let forward = edit_patch(&lines, at, remove, &insert, fuzz);
        prop_assert!(apply_patch(&forward, dir.path()).is_ok(), "{}", forward);
        let after = read(dir.path(), "f.txt");
        prop_assert_eq!(&after, &changed);

        let backward = edit_patch(&edited, at, insert.len(), &lines[at..at + remove], fuzz);
        let back = apply_patch(&backward, dir.path());
        prop_assert!(back.is_ok(), "{}\n{:?}", backward, back);
        prop_assert_eq!(read(dir.path(), "f.txt"), original);
    }
}
