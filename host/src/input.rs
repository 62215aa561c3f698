//! `user.input`: the terminal form behind a plugin's question.
//!
//! [`ask`] walks the fields one at a time: each shows its label, description, options
//! and default; what the user types is parsed and checked (a bad answer is asked again
//! with the reason); a secret is read without echo. Enter takes the default, or skips an
//! optional field; Ctrl+D (end of input), or Enter on a required field without a
//! default, cancels the form. The caller ([`crate::approvals::Approvals::ask_user`])
//! decides whether there is anyone to ask at all.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::Map;
use talaria_plugin_api::input::{FieldKind, InputField, InputRequest, InputResponse};

/// Where the form is shown and answered.
pub trait Terminal {
    /// Shows text (no newline added).
    fn show(&mut self, text: &str);
    /// One line typed by the user, without its newline; `None` at end of input.
    fn line(&mut self) -> Option<String>;
    /// One line typed without echo; `None` at end of input.
    fn secret(&mut self) -> Option<String>;
}

/// The process's own terminal: stderr to show, stdin to read, no echo for secrets.
pub struct Console;

impl Terminal for Console {
    fn show(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{text}");
        let _ = err.flush();
    }

    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_owned()),
        }
    }

    fn secret(&mut self) -> Option<String> {
        // rpassword turns echo off on the terminal and restores it, even on error.
        if std::io::stdin().is_terminal() {
            rpassword::read_password().ok()
        } else {
            self.line()
        }
    }
}

/// Asks the whole form on `term`.
pub fn ask(request: &InputRequest, who: &str, term: &mut impl Terminal) -> InputResponse {
    term.show(&format!("\n{who} asks: {}\n", request.title));
    if !request.message.is_empty() && request.message != request.title {
        term.show(&format!("{}\n", request.message));
    }
    let mut values = Map::new();
    for field in &request.fields {
        match ask_field(field, term) {
            Answer::Value(v) => {
                values.insert(field.name.clone(), v);
            }
            Answer::Skip => {}
            Answer::Cancel(why) => {
                term.show("(cancelled)\n");
                return InputResponse::cancel(why);
            }
        }
    }
    if request.fields.is_empty() {
        // Nothing to fill in: the question is whether to go on.
        term.show("Continue? [Y/n]: ");
        match term.line().map(|l| l.trim().to_ascii_lowercase()) {
            None => return InputResponse::cancel("the user cancelled"),
            Some(l) if l == "n" || l == "no" => {
                return InputResponse::decline("declined by the user")
            }
            Some(_) => {}
        }
    }
    InputResponse::accept(values)
}

enum Answer {
    Value(serde_json::Value),
    Skip,
    Cancel(String),
}

fn ask_field(field: &InputField, term: &mut impl Terminal) -> Answer {
    term.show(&format!(
        "{}{}\n",
        field.shown(),
        if field.required { " (required)" } else { "" }
    ));
    if let Some(description) = &field.description {
        term.show(&format!("  {description}\n"));
    }
    if let FieldKind::Choice { options, .. } | FieldKind::MultiChoice { options, .. } = &field.kind
    {
        for (i, option) in options.iter().enumerate() {
            let about = option
                .description
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default();
            term.show(&format!("  {}. {}{about}\n", i + 1, option.shown()));
        }
    }
    let default = field.default_value();
    let mut prompt: Vec<String> = Vec::new();
    match &field.kind {
        FieldKind::Boolean { .. } => prompt.push("[y/n]".into()),
        FieldKind::MultiChoice { .. } => prompt.push("(numbers separated by commas)".into()),
        FieldKind::Choice { other: true, .. } => {
            prompt.push("(a number, or your own answer)".into())
        }
        FieldKind::Choice { .. } => prompt.push("(a number)".into()),
        _ => {}
    }
    match &default {
        Some(serde_json::Value::String(s)) => prompt.push(format!("[default: {s}]")),
        Some(v) => prompt.push(format!("[default: {v}]")),
        None => {}
    }
    prompt.push("> ".into());
    let prompt = prompt.join(" ");
    loop {
        term.show(&prompt);
        let typed = if field.is_secret() {
            term.secret()
        } else {
            term.line()
        };
        let Some(typed) = typed else {
            return Answer::Cancel("the user cancelled".into());
        };
        if typed.trim().is_empty() {
            return match (&default, field.required) {
                (Some(v), _) => Answer::Value(v.clone()),
                (None, false) => Answer::Skip,
                (None, true) => Answer::Cancel(format!("the user left {} empty", field.shown())),
            };
        }
        match field.parse(&typed) {
            Ok(v) => return Answer::Value(v),
            Err(why) => term.show(&format!("  {why}; try again\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use talaria_plugin_api::input::{fields_from_schema, InputAction};

    /// A terminal that answers from a script and records what it showed.
    struct Scripted {
        lines: std::collections::VecDeque<&'static str>,
        shown: String,
        secrets: usize,
    }

    impl Scripted {
        fn new(lines: &[&'static str]) -> Self {
            Scripted {
                lines: lines.iter().copied().collect(),
                shown: String::new(),
                secrets: 0,
            }
        }
    }

    impl Terminal for Scripted {
        fn show(&mut self, text: &str) {
            self.shown.push_str(text);
        }
        fn line(&mut self) -> Option<String> {
            self.lines.pop_front().map(str::to_owned)
        }
        fn secret(&mut self) -> Option<String> {
            self.secrets += 1;
            self.line()
        }
    }

    fn form(schema: serde_json::Value) -> InputRequest {
        InputRequest {
            title: "Tell me about you".into(),
            fields: fields_from_schema(&schema).unwrap(),
            ..Default::default()
        }
    }

    fn person() -> InputRequest {
        form(json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Name"},
                "age": {"type": "integer", "minimum": 0, "default": 30},
                "color": {"type": "string", "oneOf": [{"const": "r", "title": "Red"}, {"const": "g", "title": "Green"}]},
                "note": {"type": "string"}
            },
            "required": ["name", "color"]
        }))
    }

    #[test]
    fn each_field_is_asked_bad_answers_are_asked_again_and_defaults_fill_blanks() {
        // Fields come in the schema's order (serde_json keeps keys sorted): age, color,
        // name, note.
        let mut term = Scripted::new(&["-3", "", "purple", "2", "Ada", ""]);
        let answer = ask(&person(), "plugin x", &mut term);
        assert_eq!(answer.action, InputAction::Accept);
        assert_eq!(
            serde_json::Value::Object(answer.values),
            json!({"age": 30, "color": "g", "name": "Ada"})
        );
        assert!(term.shown.contains("plugin x asks: Tell me about you"));
        assert!(term.shown.contains("less than the minimum 0; try again"));
        assert!(term
            .shown
            .contains("\"purple\" is not one of the options; try again"));
        assert!(term.shown.contains("  2. Green"), "{}", term.shown);
        assert!(term.shown.contains("[default: 30]"));
        assert!(term.lines.is_empty());
    }

    #[test]
    fn a_blank_required_field_or_the_end_of_input_cancels() {
        let mut term = Scripted::new(&["", "1", ""]);
        let answer = ask(&person(), "p", &mut term);
        assert_eq!(answer.action, InputAction::Cancel);
        assert!(answer.reason.contains("Name"), "{}", answer.reason);
        assert!(answer.values.is_empty());

        let mut term = Scripted::new(&["5"]);
        assert_eq!(ask(&person(), "p", &mut term).action, InputAction::Cancel);
    }

    #[test]
    fn secrets_are_read_without_echo() {
        let mut request = form(json!({"properties": {"pin": {"type": "string"}}}));
        if let FieldKind::Text { secret, .. } = &mut request.fields[0].kind {
            *secret = true;
        }
        let mut term = Scripted::new(&["1234"]);
        let answer = ask(&request, "p", &mut term);
        assert_eq!(term.secrets, 1);
        assert_eq!(answer.values["pin"], json!("1234"));
        assert!(!term.shown.contains("1234"));
    }

    #[test]
    fn a_form_without_fields_asks_whether_to_go_on() {
        let request = form(json!({"properties": {}}));
        assert_eq!(
            ask(&request, "p", &mut Scripted::new(&["n"])).action,
            InputAction::Decline
        );
        assert_eq!(
            ask(&request, "p", &mut Scripted::new(&[""])).action,
            InputAction::Accept
        );
    }
}
