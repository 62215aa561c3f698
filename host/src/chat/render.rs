//! How a chat looks on a terminal: the answer streams to stdout (Markdown styled when
//! stdout is a terminal), everything else goes to stderr: tool activity, approvals,
//! warnings, and a spinner while the model has not started answering.

use std::cell::OnceCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use talaria_plugin_api::payload::{Event, StepStatus};

use super::markdown;
use crate::events::Observer;

pub struct TerminalRenderer {
    markdown: Mutex<AnswerStream>,
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
            markdown: Mutex::new(AnswerStream::new(styled)),
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
        if !matches!(
            event,
            Event::TextDelta { .. } | Event::ReasoningDelta { .. }
        ) {
            // Text held for a pipe goes before anything else is said (on stderr, or a
            // prompt), so that output sent to one file keeps its order.
            self.markdown
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .flush_pipe();
        }
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
            } => {
                if let Some(note) = tool_call_note(name, arguments, self.stderr_is_terminal) {
                    self.note(&note);
                }
            }
            Event::ToolResult {
                name,
                output,
                is_error,
                ..
            } => {
                self.note(&tool_result_note(
                    name,
                    output,
                    *is_error,
                    self.stderr_is_terminal,
                ));
                self.spinner.start("waiting for the model".into());
            }
            // The approval prompt itself is the policy's (it prints or asks on stderr).
            Event::ApprovalRequest { .. } => {
                self.spinner.stop();
                self.break_line();
            }
            Event::ApprovalDecision { .. } | Event::InputResponse { .. } => {}
            // So is a question's form (`user.input`).
            Event::InputRequest { .. } => {
                self.spinner.stop();
                self.break_line();
            }
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

/// How long text for a pipe may wait: deltas that pour in go out in one write rather
/// than one write each (20,000 one-character deltas were 20,000 system calls).
const PIPE_FLUSH_AFTER: Duration = Duration::from_millis(10);

/// The answer on stdout: Markdown drawn a block at a time on a terminal; a pipe gets
/// every delta untouched, written within `PIPE_FLUSH_AFTER` (at once at a newline, before
/// anything else is said, and at the turn's end).
struct AnswerStream {
    styled: bool,
    markdown: markdown::MarkdownStream,
    /// For a pipe: flushes what was held, a moment after it was written. Started at
    /// the first delta, not with every `chat`; `None` inside when no thread could start.
    flusher: OnceCell<Option<Arc<PipeFlusher>>>,
}

impl AnswerStream {
    fn new(styled: bool) -> Self {
        AnswerStream {
            styled,
            markdown: markdown::MarkdownStream::default(),
            flusher: OnceCell::new(),
        }
    }

    fn push(&mut self, delta: &str) {
        let mut out = std::io::stdout().lock();
        if self.styled {
            let _ = out.write_all(self.markdown.push(delta).as_bytes());
            let _ = out.flush();
            return;
        }
        // stdout is line-buffered: a newline goes out by itself.
        let _ = out.write_all(delta.as_bytes());
        match self.flusher.get_or_init(PipeFlusher::start) {
            Some(flusher) => flusher.hold(),
            None => {
                let _ = out.flush();
            }
        }
    }

    /// Sends what a pipe holds (a terminal's text was sent as drawn).
    fn flush_pipe(&mut self) {
        if !self.styled {
            let _ = std::io::stdout().flush();
        }
    }

    fn finish(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.styled {
            let _ = out.write_all(self.markdown.finish().as_bytes());
        }
        let _ = out.flush();
    }
}

/// A thread that flushes stdout `PIPE_FLUSH_AFTER` after text was held, so that the end
/// of a burst is never kept waiting for the next delta.
struct PipeFlusher {
    held: Mutex<bool>,
    wake: Condvar,
}

impl PipeFlusher {
    /// `None` when no thread can be started; then every delta is flushed at once.
    fn start() -> Option<Arc<PipeFlusher>> {
        let flusher = Arc::new(PipeFlusher {
            held: Mutex::new(false),
            wake: Condvar::new(),
        });
        let worker = flusher.clone();
        std::thread::Builder::new()
            .name("stdout-flush".into())
            .spawn(move || worker.run())
            .ok()?;
        Some(flusher)
    }

    fn hold(&self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !*held {
            *held = true;
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        loop {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            while !*held {
                held = self.wake.wait(held).unwrap_or_else(PoisonError::into_inner);
            }
            drop(held);
            std::thread::sleep(PIPE_FLUSH_AFTER);
            // Cleared before the flush: text written meanwhile is flushed now or holds
            // again.
            *self.held.lock().unwrap_or_else(PoisonError::into_inner) = false;
            let _ = std::io::stdout().flush();
        }
    }
}

/// How a tool call is shown: the command of a shell tool, the patch of `apply_patch`
/// (coloured on a terminal), nothing for `update_plan` (its plan event shows it), the
/// arguments of anything else.
fn tool_call_note(name: &str, arguments: &Value, colour: bool) -> Option<String> {
    let text = |key: &str| {
        arguments
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match name {
        "update_plan" => None,
        "shell_command" => text("command").map(|c| format!("→ $ {}", short(&c, 200))),
        "exec_command" => text("cmd").map(|c| format!("→ $ {}", short(&c, 200))),
        "shell" => arguments
            .get("command")
            .and_then(Value::as_array)
            .map(|argv| {
                let words: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
                format!("→ $ {}", short(&words.join(" "), 200))
            }),
        "apply_patch" => {
            let patch = arguments
                .as_str()
                .map(str::to_owned)
                .or_else(|| text("input"))?;
            let lines: Vec<&str> = patch
                .lines()
                .filter(|l| !matches!(l.trim(), "*** Begin Patch" | "*** End Patch"))
                .collect();
            let shown = lines[..lines.len().min(PATCH_LINES)].join("\n");
            let mut note = format!(
                "→ apply_patch\n{}",
                if colour {
                    markdown::diff(&shown)
                } else {
                    format!("{shown}\n")
                }
            );
            if lines.len() > PATCH_LINES {
                note.push_str(&format!("… {} more lines\n", lines.len() - PATCH_LINES));
            }
            Some(note.trim_end().to_owned())
        }
        _ => None,
    }
    .or_else(|| {
        (name != "update_plan").then(|| format!("→ {name} {}", short(&arguments.to_string(), 120)))
    })
}

/// Lines of a patch shown as it is applied.
const PATCH_LINES: usize = 40;
/// Lines of a command's output shown before the rest is folded.
const OUTPUT_LINES: usize = 4;

/// A tool's result, folded: a shell command's exit code and first lines of output,
/// the first line of anything else; the count of what is folded (the session keeps it
/// all: `talaria sessions show ID --json`).
fn tool_result_note(name: &str, output: &str, is_error: bool, colour: bool) -> String {
    let mark = if is_error { "✗" } else { "←" };
    if let Some(rest) = output.strip_prefix("Exit code: ") {
        let code = rest.lines().next().unwrap_or("");
        let body = output
            .split_once("\nOutput:\n")
            .map(|(_, b)| b)
            .unwrap_or("");
        let lines: Vec<&str> = body.lines().collect();
        let mut note = format!("{mark} {name}: exit {code}");
        for line in lines.iter().take(OUTPUT_LINES) {
            let line = short(line, 160);
            note.push_str(&if colour {
                format!("\n  {}{line}{}", markdown::DIM, markdown::RESET)
            } else {
                format!("\n  {line}")
            });
        }
        if lines.len() > OUTPUT_LINES {
            note.push_str(&format!(
                "\n  … {} more lines folded (`talaria sessions show` has them all)",
                lines.len() - OUTPUT_LINES
            ));
        }
        return note;
    }
    let lines = output.lines().count();
    let first = output.lines().next().unwrap_or("");
    let more = if lines > 1 {
        format!(" (+{} lines)", lines - 1)
    } else {
        String::new()
    };
    format!("{mark} {name}: {}{more}", short(first, 100))
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
    use serde_json::json;

    #[test]
    fn tool_calls_show_what_they_do() {
        assert_eq!(
            tool_call_note("shell_command", &json!({"command": "cargo test"}), false).unwrap(),
            "→ $ cargo test"
        );
        assert_eq!(
            tool_call_note("update_plan", &json!({"plan": []}), false),
            None
        );
        let patch = json!("*** Begin Patch\n*** Update File: a\n@@\n-x\n+y\n*** End Patch");
        assert_eq!(
            tool_call_note("apply_patch", &patch, false).unwrap(),
            "→ apply_patch\n*** Update File: a\n@@\n-x\n+y"
        );
        assert!(tool_call_note("apply_patch", &patch, true)
            .unwrap()
            .contains(markdown::GREEN));
        assert_eq!(
            tool_call_note("read_file", &json!({"path": "x"}), false).unwrap(),
            "→ read_file {\"path\":\"x\"}"
        );
    }

    #[test]
    fn command_output_is_folded() {
        let out = "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n1\n2\n3\n4\n5\n6\n";
        assert_eq!(
            tool_result_note("shell_command", out, false, false),
            "← shell_command: exit 0\n  1\n  2\n  3\n  4\n  … 2 more lines folded (`talaria sessions show` has them all)"
        );
        assert_eq!(
            tool_result_note("f", "one\ntwo", true, false),
            "✗ f: one (+1 lines)"
        );
    }
}
