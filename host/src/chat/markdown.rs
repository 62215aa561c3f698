//! The answer's Markdown on a terminal: parsed by pulldown-cmark, drawn with ANSI
//! styles, code blocks highlighted by syntect.
//!
//! The answer streams; a block can only be drawn once it is complete (a heading, a
//! list, a fenced code block). [`MarkdownStream`] keeps the text since the last block
//! boundary — a blank line outside a code fence, or a fence closing — and draws
//! everything before it.

use std::sync::OnceLock;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme, ThemeSet};
use syntect::parsing::SyntaxSet;
use syntect::util::{as_24_bit_terminal_escaped, LinesWithEndings};

pub const BOLD: &str = "\x1b[1m";
pub const DIM: &str = "\x1b[2m";
pub const ITALIC: &str = "\x1b[3m";
pub const UNDERLINE: &str = "\x1b[4m";
pub const RED: &str = "\x1b[31m";
pub const GREEN: &str = "\x1b[32m";
pub const CYAN: &str = "\x1b[36m";
pub const RESET: &str = "\x1b[0m";

/// Markdown arriving in pieces, drawn a block at a time.
#[derive(Default)]
pub struct MarkdownStream {
    pending: String,
    /// Something was drawn already: the next block is set off by a blank line.
    drawn: bool,
}

impl MarkdownStream {
    /// Adds a delta; returns what can be drawn now.
    pub fn push(&mut self, delta: &str) -> String {
        self.pending.push_str(delta);
        let Some(end) = complete_blocks_end(&self.pending) else {
            return String::new();
        };
        let done: String = self.pending.drain(..end).collect();
        self.draw(render(&done))
    }

    fn draw(&mut self, block: String) -> String {
        if block.is_empty() {
            return block;
        }
        let gap = if std::mem::replace(&mut self.drawn, true) {
            "\n"
        } else {
            ""
        };
        format!("{gap}{block}")
    }

    /// The rest, at the end of the answer.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        if rest.trim().is_empty() {
            return String::new();
        }
        let mut out = render(&rest);
        // The answer's last line gets no newline of its own if it had none.
        if !rest.ends_with('\n') {
            while out.ends_with('\n') {
                out.pop();
            }
        }
        self.draw(out)
    }
}

/// Where the complete blocks in `text` end: after the last blank line outside a code
/// fence, or after a closing fence line.
fn complete_blocks_end(text: &str) -> Option<usize> {
    let mut in_fence = false;
    let mut end = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        if !line.ends_with('\n') {
            break;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            if !in_fence {
                end = Some(offset);
            }
        } else if !in_fence && trimmed.is_empty() {
            end = Some(offset);
        }
    }
    end
}

/// Complete Markdown as ANSI-styled text.
pub fn render(markdown: &str) -> String {
    let mut r = Renderer::default();
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.finish()
}

#[derive(Default)]
struct Renderer {
    out: String,
    /// Open list levels: `None` bullets, `Some(n)` the next number.
    lists: Vec<Option<u64>>,
    quote_depth: usize,
    /// Inside a fenced or indented code block: its language and text.
    code: Option<(String, String)>,
    link: Option<String>,
    at_line_start: bool,
}

impl Renderer {
    fn event(&mut self, event: Event<'_>) {
        if let Some((_, text)) = &mut self.code {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((lang, text)) = self.code.take() {
                        self.out.push_str(&highlight(&text, &lang));
                        self.at_line_start = true;
                    }
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                self.prefix();
                self.out.push_str(&format!("{CYAN}{t}{RESET}"));
            }
            Event::SoftBreak | Event::HardBreak => self.newline(),
            Event::Rule => {
                self.prefix();
                self.out
                    .push_str(&format!("{DIM}{}{RESET}\n", "─".repeat(40)));
                self.at_line_start = true;
            }
            Event::TaskListMarker(done) => {
                self.out.push_str(if done { "☑ " } else { "☐ " });
            }
            Event::Html(t) | Event::InlineHtml(t) => self.text(&t),
            Event::FootnoteReference(t) => self.text(&format!("[{t}]")),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.block_gap();
                self.prefix();
                let style = if level == HeadingLevel::H1 {
                    format!("{BOLD}{UNDERLINE}")
                } else {
                    BOLD.to_owned()
                };
                self.out.push_str(&style);
            }
            Tag::Paragraph if self.lists.is_empty() => self.block_gap(),
            Tag::BlockQuote(_) => {
                self.block_gap();
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.block_gap();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.block_gap();
                } else if !self.at_line_start {
                    self.newline();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                if !self.at_line_start {
                    self.newline();
                }
                self.prefix();
                let depth = self.lists.len().saturating_sub(1);
                self.out.push_str(&"  ".repeat(depth));
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                self.out.push_str(&marker);
            }
            Tag::Emphasis => self.out.push_str(ITALIC),
            Tag::Strong => self.out.push_str(BOLD),
            Tag::Strikethrough => self.out.push_str("\x1b[9m"),
            Tag::Link { dest_url, .. } => {
                self.out.push_str(UNDERLINE);
                self.link = Some(dest_url.to_string());
            }
            Tag::TableCell => {}
            Tag::TableHead | Tag::TableRow => self.prefix(),
            Tag::Table(_) => self.block_gap(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                self.out.push_str(RESET);
                self.newline();
            }
            TagEnd::Paragraph => self.newline(),
            TagEnd::BlockQuote(_) => self.quote_depth = self.quote_depth.saturating_sub(1),
            TagEnd::List(_) => {
                self.lists.pop();
                if !self.at_line_start {
                    self.newline();
                }
            }
            TagEnd::Item if !self.at_line_start => self.newline(),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.out.push_str(RESET),
            TagEnd::Link => {
                self.out.push_str(RESET);
                if let Some(url) = self.link.take() {
                    self.out.push_str(&format!(" {DIM}({url}){RESET}"));
                }
            }
            TagEnd::TableCell => self.out.push_str(&format!(" {DIM}│{RESET} ")),
            TagEnd::TableHead | TagEnd::TableRow => {
                while self.out.ends_with(' ') || self.out.ends_with(&format!("{DIM}│{RESET}")) {
                    let cut = if self.out.ends_with(' ') {
                        1
                    } else {
                        format!("{DIM}│{RESET}").len()
                    };
                    self.out.truncate(self.out.len() - cut);
                }
                self.newline();
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if !line.is_empty() {
                self.prefix();
                self.out.push_str(line);
            }
        }
    }

    /// The quote bar at the start of a line.
    fn prefix(&mut self) {
        if self.at_line_start || self.out.is_empty() {
            self.at_line_start = false;
            for _ in 0..self.quote_depth {
                self.out.push_str(&format!("{DIM}│{RESET} "));
            }
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.at_line_start = true;
    }

    /// A blank line between blocks (none before the first).
    fn block_gap(&mut self) {
        if self.out.is_empty() {
            return;
        }
        if !self.at_line_start {
            self.newline();
        }
        if !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn finish(self) -> String {
        self.out
    }
}

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn theme() -> Option<&'static Theme> {
    static THEMES: OnceLock<ThemeSet> = OnceLock::new();
    THEMES
        .get_or_init(ThemeSet::load_defaults)
        .themes
        .get("base16-ocean.dark")
}

/// A code block, highlighted when its language is known (else in one colour).
pub fn highlight(code: &str, lang: &str) -> String {
    let set = syntaxes();
    let syntax = (!lang.is_empty())
        .then(|| set.find_syntax_by_token(lang))
        .flatten();
    let (Some(syntax), Some(theme)) = (syntax, theme()) else {
        return code
            .lines()
            .map(|l| format!("{CYAN}{l}{RESET}\n"))
            .collect();
    };
    let mut lines = HighlightLines::new(syntax, theme);
    let mut out = String::new();
    for line in LinesWithEndings::from(code) {
        match lines.highlight_line(line, set) {
            Ok(ranges) => out.push_str(&as_24_bit_terminal_escaped(&ranges, false)),
            Err(_) => out.push_str(line),
        }
    }
    if out.ends_with('\n') {
        out.pop();
    }
    out.push_str(RESET);
    out.push('\n');
    out
}

/// A patch (apply_patch's format or a unified diff) with added lines green, removed
/// lines red and headers bold.
pub fn diff(patch: &str) -> String {
    patch
        .lines()
        .map(|line| {
            let style =
                if line.starts_with("***") || line.starts_with("+++") || line.starts_with("---") {
                    BOLD
                } else if line.starts_with("@@") {
                    CYAN
                } else if line.starts_with('+') {
                    GREEN
                } else if line.starts_with('-') {
                    RED
                } else {
                    ""
                };
            if style.is_empty() {
                format!("{line}\n")
            } else {
                format!("{style}{line}{RESET}\n")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> String {
        // Strip ANSI sequences.
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn blocks_are_styled() {
        let out =
            render("# Title\n\nSome **bold** and `code`.\n\n- one\n- two\n\n1. first\n2. second\n");
        assert!(
            out.starts_with(&format!("{BOLD}{UNDERLINE}Title{RESET}\n")),
            "{out:?}"
        );
        assert!(out.contains(&format!("{BOLD}bold{RESET}")), "{out:?}");
        assert!(out.contains(&format!("{CYAN}code{RESET}")), "{out:?}");
        assert_eq!(
            plain(&out),
            "Title\n\nSome bold and code.\n\n• one\n• two\n\n1. first\n2. second\n"
        );
        let out = render("> quoted\n\n[site](https://x.org)\n");
        assert_eq!(plain(&out), "│ quoted\n\nsite (https://x.org)\n");
    }

    #[test]
    fn code_blocks_are_highlighted() {
        let out = render("```rust\nfn main() {}\n```\n");
        assert!(out.contains("\x1b[38;2;"), "24-bit colours: {out:?}");
        assert_eq!(plain(&out), "fn main() {}\n");
        let out = render("```nosuchlang\nx\n```\n");
        assert_eq!(out, format!("{CYAN}x{RESET}\n"));
    }

    #[test]
    fn the_stream_draws_complete_blocks_only() {
        let mut md = MarkdownStream::default();
        assert_eq!(md.push("# Ti"), "");
        assert_eq!(md.push("tle\nmore"), "");
        let out = md.push(" text\n\n```py\nx = 1\n");
        assert_eq!(plain(&out), "Title\n\nmore text\n");
        assert_eq!(
            md.push("\ny = 2\n"),
            "",
            "a fence stays open across blank lines"
        );
        let out = md.push("```\nend");
        assert_eq!(
            plain(&out),
            "\nx = 1\n\ny = 2\n",
            "set off from the block before"
        );
        assert_eq!(plain(&md.finish()), "\nend");
    }

    #[test]
    fn diffs_are_coloured() {
        let out = diff("*** Update File: a\n@@\n-old\n+new\n same\n");
        assert_eq!(
            out,
            format!("{BOLD}*** Update File: a{RESET}\n{CYAN}@@{RESET}\n{RED}-old{RESET}\n{GREEN}+new{RESET}\n same\n")
        );
    }
}
