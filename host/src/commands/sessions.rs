//! `talaria sessions list | show ID | delete ID`.

use crate::app::App;
use crate::cli::SessionsCommand;
use crate::error::{Error, Result};
use crate::output::{print_json, print_table};
use crate::sessions::{SessionDetail, SessionRecord, SessionStore, ToolCallRecord};

/// Longest title shown in the table; the full one is in `show` and `--json`.
const TITLE_WIDTH: usize = 60;
/// Longest tool argument or output excerpt in a transcript line.
const EXCERPT_WIDTH: usize = 100;

pub fn run(app: &App, cmd: SessionsCommand) -> Result<()> {
    let path = app.profile.sessions_path();
    // Reading commands never create a database: no file simply means no sessions.
    let store = SessionStore::open_existing(&path)?;
    match cmd {
        SessionsCommand::List { json } => {
            let json = json.json;
            let sessions = match &store {
                Some(store) => store.list()?,
                None => Vec::new(),
            };
            if json {
                print_json(&sessions)
            } else {
                print_list(app, &sessions);
                Ok(())
            }
        }
        SessionsCommand::Show { id, json } => {
            let json = json.json;
            let store = store.ok_or_else(|| no_sessions(&id))?;
            let session = store.resolve(&id)?;
            // Another process may delete it between resolve and get.
            let detail = store.get(&session.id)?.ok_or_else(|| no_sessions(&id))?;
            if json {
                print_json(&detail)
            } else {
                print_transcript(&detail);
                Ok(())
            }
        }
        SessionsCommand::Delete { id } => {
            let store = store.ok_or_else(|| no_sessions(&id))?;
            let session = store.resolve(&id)?;
            if !store.delete(&session.id)? {
                return Err(no_sessions(&id));
            }
            eprintln!("deleted session {}", session.id);
            Ok(())
        }
    }
}

fn no_sessions(id: &str) -> Error {
    Error::usage(format!(
        "no session matches {id:?}; see `talaria sessions list` for the ids"
    ))
}

fn print_list(app: &App, sessions: &[SessionRecord]) {
    if sessions.is_empty() {
        eprintln!(
            "no sessions in profile {:?} yet; start one with `talaria chat`",
            app.profile.name
        );
        return;
    }
    let mut rows = vec![["ID", "UPDATED (UTC)", "RUNTIME", "MODEL", "TITLE"]
        .map(String::from)
        .to_vec()];
    rows.extend(sessions.iter().map(|s| {
        vec![
            s.id.clone(),
            short_time(&s.updated_at),
            s.runtime.clone(),
            s.model.clone(),
            s.title
                .as_deref()
                .map_or_else(|| "-".to_owned(), |t| excerpt(t, TITLE_WIDTH)),
        ]
    }));
    print_table(&rows);
}

/// The prompts and answers in order, with each tool call placed after the message it
/// followed.
fn print_transcript(detail: &SessionDetail) {
    let s = &detail.session;
    crate::outln!(
        "session {}{}",
        s.id,
        s.title
            .as_deref()
            .map(|t| format!(" — {t}"))
            .unwrap_or_default()
    );
    crate::outln!(
        "{} · {}/{} · updated {}",
        s.runtime,
        s.provider,
        s.model,
        s.updated_at
    );
    if let Some(goal) = &detail.goal {
        crate::outln!(
            "goal: {} ({}, {} turns used)",
            goal.goal,
            goal.status,
            goal.turns_used
        );
    }
    let calls_after = |seq: i64| detail.tool_calls.iter().filter(move |c| c.after_seq == seq);
    for call in calls_after(0) {
        crate::outln!("{}", tool_line(call));
    }
    for message in &detail.messages {
        crate::outln!();
        match message.role.as_str() {
            "user" => {
                for line in message.content.lines() {
                    crate::outln!("> {line}");
                }
            }
            "assistant" => crate::outln!("{}", message.content.trim_end()),
            role => crate::outln!("[{role}] {}", message.content.trim_end()),
        }
        let mut calls = calls_after(message.seq).peekable();
        if calls.peek().is_some() {
            crate::outln!();
        }
        for call in calls {
            crate::outln!("{}", tool_line(call));
        }
    }
}

/// `[tool name(args) → first line of output]`
fn tool_line(call: &ToolCallRecord) -> String {
    let args = excerpt(&call.arguments.to_string(), EXCERPT_WIDTH);
    let result = match &call.output {
        None => "(no result)".to_owned(),
        Some(out) => {
            let first = excerpt(out.lines().next().unwrap_or(""), EXCERPT_WIDTH);
            if call.is_error {
                format!("error: {first}")
            } else {
                first
            }
        }
    };
    format!("[tool {}({args}) → {result}]", call.name)
}

/// "2024-05-01T12:34:56Z" → "2024-05-01 12:34".
fn short_time(rfc3339: &str) -> String {
    rfc3339.replacen('T', " ", 1).chars().take(16).collect()
}

/// The text on one line, cut to `width` characters with an ellipsis.
fn excerpt(text: &str, width: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let cut: String = flat.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_and_times() {
        assert_eq!(short_time("2024-05-01T12:34:56Z"), "2024-05-01 12:34");
        assert_eq!(excerpt("a\n  b", 10), "a b");
        assert_eq!(excerpt("abcdef", 4), "abc…");
    }

    #[test]
    fn tool_line_shows_first_line_of_output() {
        let call = ToolCallRecord {
            call_id: "c".into(),
            name: "shell".into(),
            arguments: serde_json::json!({"cmd": "ls"}),
            output: Some("a.txt\nb.txt".into()),
            is_error: false,
            created_at: String::new(),
            after_seq: 1,
        };
        assert_eq!(tool_line(&call), r#"[tool shell({"cmd":"ls"}) → a.txt]"#);
    }
}
