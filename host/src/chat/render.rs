//! How a chat looks on a terminal: the answer streams to stdout (Markdown styled when
//! stdout is a terminal), everything else goes to stderr: tool activity, approvals,
//! warnings, and a spinner while the model has not started answering.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use talaria_plugin_api::payload::{Event, StepStatus};

use crate::events::Observer;

pub struct TerminalRenderer {
    markdown: Mutex<MarkdownStream>,
    spinner: Spinner,
    stderr_is_terminal: bool,
    /// Whether the answer so far ends with a newline (so the prompt starts on its own line).
    at_line_start: AtomicBool,
}

impl TerminalRenderer {
    pub fn new() -> Arc<TerminalRenderer> {
        let styled = std::io::stdout().is_terminal();
        let stderr_is_terminal = std::io::stderr().is_terminal();
        Arc::new(TerminalRenderer {
            markdown: Mutex::new(MarkdownStream::new(styled)),
            spinner: Spinner::new(stderr_is_terminal),
            stderr_is_terminal,
            at_line_start: AtomicBool::new(true),
        })
    }

    /// Called before each turn.
    pub fn turn_started(&self, model: &str) {
        self.spinner.start(format!("waiting for {model}"));
    }

    /// Called after each turn: flushes the answer's last line.
    pub fn turn_finished(&self) {
        self.spinner.stop();
        let mut md = self.markdown.lock().unwrap_or_else(PoisonError::into_inner);
        md.finish();
        if !self.at_line_start.swap(true, Ordering::SeqCst) {
            println!();
        }
        let _ = std::io::stdout().flush();
    }

    fn note(&self, line: &str) {
        self.spinner.stop();
        self.break_line();
        eprintln!("{line}");
    }

    /// Keeps stderr notes from landing in the middle of an answer's line.
    fn break_line(&self) {
        if self.stderr_is_terminal && !self.at_line_start.swap(true, Ordering::SeqCst) {
            self.markdown
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .finish();
            println!();
        }
    }
}

impl Observer for TerminalRenderer {
    fn event(&self, event: &Event) {
        match event {
            Event::TextDelta { delta } => {
                self.spinner.stop();
                self.markdown
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(delta);
                if let Some(last) = delta.chars().last() {
                    self.at_line_start.store(last == '\n', Ordering::SeqCst);
                }
            }
            Event::ReasoningDelta { .. } => self.spinner.set_label("thinking"),
            Event::ToolCall {
                name, arguments, ..
            } => self.note(&format!("→ {name} {}", short(&arguments.to_string(), 120))),
            Event::ToolResult {
                name,
                output,
                is_error,
                ..
            } => {
                let mark = if *is_error { "✗" } else { "←" };
                let lines = output.lines().count();
                let first = output.lines().next().unwrap_or("");
                let more = if lines > 1 {
                    format!(" (+{} lines)", lines - 1)
                } else {
                    String::new()
                };
                self.note(&format!("{mark} {name}: {}{more}", short(first, 100)));
                self.spinner.start("waiting for the model".into());
            }
            // The approval prompt itself is the policy's (it prints or asks on stderr).
            Event::ApprovalRequest { .. } => {
                self.spinner.stop();
                self.break_line();
            }
            Event::ApprovalDecision { .. } => {}
            Event::Progress { message } => {
                if self.spinner.active() {
                    self.spinner.set_label(message);
                } else {
                    self.note(message);
                }
            }
            Event::Plan { explanation, steps } => {
                let mut text = explanation
                    .as_deref()
                    .map(|e| format!("plan: {e}"))
                    .unwrap_or_else(|| "plan:".into());
                for step in steps {
                    let mark = match step.status {
                        StepStatus::Completed => "✔",
                        StepStatus::InProgress => "▶",
                        StepStatus::Pending | StepStatus::Unknown => "□",
                    };
                    text.push_str(&format!("\n  {mark} {}", step.step));
                }
                self.note(&text);
            }
            Event::Warning { message } => self.note(&format!("warning: {message}")),
            Event::Error { message, .. } => self.note(&format!("error: {message}")),
            Event::Session { .. }
            | Event::TurnCompleted { .. }
            | Event::LoginCode { .. }
            | Event::Unknown => {}
        }
    }
}

fn short(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max).collect();
    format!("{cut}…")
}

/// Styles Markdown line by line as it streams: a line is printed once complete, so a
/// heading or a code fence is known before it is drawn. Unstyled output (a pipe) passes
/// every delta through untouched.
struct MarkdownStream {
    styled: bool,
    pending: String,
    in_code: bool,
}

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl MarkdownStream {
    fn new(styled: bool) -> Self {
        MarkdownStream {
            styled,
            pending: String::new(),
            in_code: false,
        }
    }

    fn push(&mut self, delta: &str) {
        let mut out = std::io::stdout().lock();
        if !self.styled {
            let _ = out.write_all(delta.as_bytes());
            let _ = out.flush();
            return;
        }
        self.pending.push_str(delta);
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            let rendered = self.style(line.trim_end_matches('\n'));
            let _ = writeln!(out, "{rendered}");
        }
        let _ = out.flush();
    }

    fn finish(&mut self) {
        if self.styled && !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            let rendered = self.style(&line);
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{rendered}");
            let _ = out.flush();
        }
    }

    fn style(&mut self, line: &str) -> String {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            self.in_code = !self.in_code;
            return format!("{DIM}{line}{RESET}");
        }
        if self.in_code {
            return format!("{CYAN}{line}{RESET}");
        }
        if trimmed.starts_with('#') {
            return format!(
                "{BOLD}{}{RESET}",
                trimmed.trim_start_matches('#').trim_start()
            );
        }
        inline_code_and_bold(line)
    }
}

/// `code` in cyan and **bold** in bold; unbalanced markers are left as typed.
fn inline_code_and_bold(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        let (marker, style) = match (rest.find('`'), rest.find("**")) {
            (Some(c), Some(b)) if b < c => ("**", BOLD),
            (Some(_), _) => ("`", CYAN),
            (None, Some(_)) => ("**", BOLD),
            (None, None) => break,
        };
        let Some(start) = rest.find(marker) else {
            break;
        };
        let after = &rest[start + marker.len()..];
        let Some(len) = after.find(marker) else { break };
        out.push_str(&rest[..start]);
        out.push_str(style);
        out.push_str(&after[..len]);
        out.push_str(RESET);
        rest = &after[len + marker.len()..];
    }
    out.push_str(rest);
    out
}

/// A one-line spinner on stderr, drawn by a thread while a label is set. Off when
/// stderr is not a terminal.
struct Spinner {
    enabled: bool,
    state: Arc<Mutex<Option<String>>>,
    running: Arc<AtomicBool>,
}

impl Spinner {
    fn new(enabled: bool) -> Self {
        Spinner {
            enabled,
            state: Arc::new(Mutex::new(None)),
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    fn active(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    fn set_label(&self, label: &str) {
        if let Some(current) = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            *current = label.to_owned();
        }
    }

    fn start(&self, label: String) {
        if !self.enabled {
            return;
        }
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(label);
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let state = self.state.clone();
        let running = self.running.clone();
        std::thread::spawn(move || {
            const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let mut n = 0;
            loop {
                let label = state.lock().unwrap_or_else(PoisonError::into_inner).clone();
                let Some(label) = label else { break };
                eprint!("\r\x1b[2K{} {label}…", FRAMES[n % FRAMES.len()]);
                n += 1;
                std::thread::sleep(Duration::from_millis(80));
            }
            eprint!("\r\x1b[2K");
            running.store(false, Ordering::SeqCst);
        });
    }

    fn stop(&self) {
        if !self.enabled {
            return;
        }
        let was = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if was.is_some() {
            // Wait for the thread to clear its line, so nothing else is drawn over it.
            while self.running.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_styles_balanced_markers_only() {
        assert_eq!(
            inline_code_and_bold("use `cargo` now"),
            format!("use {CYAN}cargo{RESET} now")
        );
        assert_eq!(
            inline_code_and_bold("a **b** c"),
            format!("a {BOLD}b{RESET} c")
        );
        assert_eq!(inline_code_and_bold("half `open"), "half `open");
        assert_eq!(inline_code_and_bold("plain"), "plain");
    }

    #[test]
    fn code_fences_toggle() {
        let mut md = MarkdownStream::new(true);
        assert_eq!(md.style("```rust"), format!("{DIM}```rust{RESET}"));
        assert_eq!(
            md.style("# not a heading"),
            format!("{CYAN}# not a heading{RESET}")
        );
        md.style("```");
        assert_eq!(md.style("## Title"), format!("{BOLD}Title{RESET}"));
    }
}
