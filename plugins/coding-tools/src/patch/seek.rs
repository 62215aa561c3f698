//! Finding a chunk's lines in a file, tolerating what models get slightly wrong, in
//! Codex's order (reference: codex-tools.md §3): exact, then ignoring trailing space,
//! then ignoring surrounding space, then also treating typographic dashes, quotes and
//! odd spaces as their ASCII forms.

/// The first index at or after `start` where `pattern` matches `lines`; with
/// `at_end` only the file's tail is tried first.
pub fn seek(lines: &[String], pattern: &[String], start: usize, at_end: bool) -> Option<usize> {
    if pattern.is_empty() {
        return Some(start);
    }
    if pattern.len() > lines.len() {
        return None;
    }
    let tail = lines.len() - pattern.len();
    if at_end {
        if let Some(i) = seek_from(lines, pattern, tail.max(start)) {
            return Some(i);
        }
    }
    seek_from(lines, pattern, start)
}

fn seek_from(lines: &[String], pattern: &[String], start: usize) -> Option<usize> {
    let last = lines.len() - pattern.len();
    if start > last {
        return None;
    }
    let levels: [fn(&str) -> String; 4] = [
        |s| s.to_owned(),
        |s| s.trim_end().to_owned(),
        |s| s.trim().to_owned(),
        |s| normalise(s.trim()),
    ];
    for level in levels {
        let want: Vec<String> = pattern.iter().map(|p| level(p)).collect();
        for i in start..=last {
            if lines[i..i + pattern.len()]
                .iter()
                .zip(&want)
                .all(|(line, w)| level(line) == *w)
            {
                return Some(i);
            }
        }
    }
    None
}

/// Typographic punctuation and odd spaces as their ASCII forms.
fn normalise(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}'..='\u{201B}' => '\'',
            '\u{201C}'..='\u{201F}' => '"',
            '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn levels_of_tolerance() {
        let file = v(&[
            "fn a() {",
            "    let x = 1;   ",
            "}",
            "say(\u{201C}hi\u{201D}) \u{2014} ok",
        ]);
        assert_eq!(seek(&file, &v(&["}"]), 0, false), Some(2));
        assert_eq!(seek(&file, &v(&["    let x = 1;"]), 0, false), Some(1));
        assert_eq!(seek(&file, &v(&["let x = 1;"]), 0, false), Some(1));
        assert_eq!(seek(&file, &v(&["say(\"hi\") - ok"]), 0, false), Some(3));
        assert_eq!(seek(&file, &v(&["nothing"]), 0, false), None);
        assert_eq!(
            seek(&file, &v(&["fn a() {"]), 1, false),
            None,
            "before start"
        );
    }

    #[test]
    fn end_of_file_prefers_the_tail() {
        let file = v(&["x", "y", "x", "y"]);
        assert_eq!(seek(&file, &v(&["x", "y"]), 0, false), Some(0));
        assert_eq!(seek(&file, &v(&["x", "y"]), 0, true), Some(2));
    }
}
