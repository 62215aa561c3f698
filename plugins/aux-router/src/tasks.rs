//! What each task asks the model, and how its answer is read.

use serde::Deserialize;
use talaria_sdk::items::{ContentPart, Item, Message, Role, ToolResultContent};
use talaria_sdk::router::GoalVerdict;

use crate::call::Prompt;

/// How much of a conversation a title or a verdict needs to see.
const TITLE_CHARS: usize = 4_000;
const JUDGE_CHARS: usize = 12_000;
/// One tool output in a compression transcript.
const TOOL_OUTPUT_CHARS: usize = 2_000;
const TITLE_MAX_CHARS: usize = 80;

pub const TITLE: &str = "You name conversations. Reply with a short title (three to seven words) that says what the conversation below is about. Reply with the title alone: no quotes, no trailing period, no preamble.";
pub const COMPRESSION: &str = "You compress the history of a conversation between a user and a coding agent so the agent can continue the work without it. Write a summary that keeps every fact the agent still needs: the user's goals and constraints, decisions made, files and commands involved with their outcomes, errors met, and what is still to do. Be specific and concise; write it as notes, not as a reply to the user.";
pub const VISION: &str = "Describe the attached image(s) in detail for a model that cannot see them: the content, any text (transcribed exactly), layout, and anything relevant to the user's question.";
pub const WEB_EXTRACT: &str = "Summarize the content below: keep the facts, figures, names and code that matter, drop navigation and boilerplate.";
pub const GOAL_JUDGE: &str = "You judge whether an agent has achieved a goal, from its latest turn. Reply with one JSON object and nothing else: {\"verdict\": \"met\" | \"continue\" | \"needs_user\", \"reason\": \"<one sentence>\"}. Use \"met\" only when the latest turn shows the goal is achieved, \"needs_user\" when the agent cannot go on without the user (a question, a decision, missing access), else \"continue\".";
pub const APPROVAL: &str = "You review an action an agent wants to take. Reply with one line: APPROVE or DENY, then a colon and the reason in one sentence.";
pub const GENERIC: &str = "Carry out the task described below and reply with the result alone.";

pub fn default_instructions(task: &str) -> &'static str {
    match task {
        "title_generation" => TITLE,
        "compression" => COMPRESSION,
        "vision" => VISION,
        "web_extract" => WEB_EXTRACT,
        "goal_judge" => GOAL_JUDGE,
        "approval" => APPROVAL,
        _ => GENERIC,
    }
}

/// The conversation as plain text: the model reads a transcript instead of continuing
/// the conversation itself.
pub fn transcript(items: &[Item], limit: usize) -> String {
    let mut out = String::new();
    for item in items {
        let line = match item {
            Item::Message(m) => {
                let who = match m.role {
                    Role::User => "USER",
                    Role::Assistant => "ASSISTANT",
                    Role::System | Role::Developer => "SYSTEM",
                };
                format!("{who}: {}", message_text(m))
            }
            Item::FunctionCall(c) => format!("TOOL CALL {}({})", c.name, c.arguments),
            Item::CustomToolCall(c) => format!("TOOL CALL {}: {}", c.name, c.input),
            Item::FunctionCallOutput(o) => {
                let text = match &o.output {
                    ToolResultContent::Text(t) => t.clone(),
                    ToolResultContent::Parts(parts) => parts_text(parts),
                };
                format!("TOOL RESULT: {}", clip(&text, TOOL_OUTPUT_CHARS))
            }
            Item::CustomToolCallOutput(o) => {
                format!("TOOL RESULT: {}", clip(&o.output, TOOL_OUTPUT_CHARS))
            }
            // Reasoning is encrypted or a summary of what the answer says anyway.
            _ => continue,
        };
        out.push_str(&line);
        out.push_str("\n\n");
    }
    // Keep the end: the latest turns matter most.
    tail(out.trim_end(), limit)
}

fn message_text(m: &Message) -> String {
    parts_text(&m.content)
}

fn parts_text(parts: &[ContentPart]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            ContentPart::InputText { text } | ContentPart::OutputText { text, .. } => {
                Some(text.clone())
            }
            ContentPart::InputImage { .. } => Some("[image]".into()),
            ContentPart::Refusal { refusal } => Some(refusal.clone()),
            ContentPart::Unknown(_) => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}… [truncated]")
}

fn tail(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().skip(n - max).collect();
    format!("[earlier part left out]…{kept}")
}

pub fn title_prompt(instructions: String, items: &[Item]) -> Prompt {
    Prompt {
        instructions,
        input: vec![Item::user_text(&format!(
            "The conversation:\n\n{}",
            transcript(items, TITLE_CHARS)
        ))],
    }
}

pub fn compression_prompt(instructions: String, items: &[Item]) -> Prompt {
    Prompt {
        instructions,
        input: vec![Item::user_text(&format!(
            "The conversation so far:\n\n{}",
            transcript(items, usize::MAX)
        ))],
    }
}

pub fn judge_prompt(instructions: String, goal: &str, items: &[Item]) -> Prompt {
    Prompt {
        instructions,
        input: vec![Item::user_text(&format!(
            "The goal:\n{goal}\n\nThe agent's latest turn:\n\n{}",
            transcript(items, JUDGE_CHARS)
        ))],
    }
}

pub fn vision_prompt(instructions: String, items: &[Item], images: &[String]) -> Prompt {
    let question = transcript(items, TITLE_CHARS);
    let mut content = vec![ContentPart::InputText {
        text: if question.is_empty() {
            "Describe the image.".into()
        } else {
            question
        },
    }];
    content.extend(images.iter().map(|url| ContentPart::InputImage {
        image_url: url.clone(),
        detail: None,
    }));
    Prompt {
        instructions,
        input: vec![Item::Message(Message {
            role: Role::User,
            content,
            phase: None,
        })],
    }
}

/// Any other task: the input as given.
pub fn plain_prompt(instructions: String, items: &[Item]) -> Prompt {
    Prompt {
        instructions,
        input: items.to_vec(),
    }
}

/// A title from the model's answer: its first non-empty line, unquoted, not too long.
pub fn clean_title(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line.trim_start_matches(['#', '*']).trim();
    let line = line.strip_prefix("Title:").unwrap_or(line).trim();
    let line = line
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | '“' | '”' | '*'))
        .trim_end_matches('.')
        .trim();
    if line.is_empty() {
        return None;
    }
    if line.chars().count() <= TITLE_MAX_CHARS {
        return Some(line.to_owned());
    }
    let cut: String = line.chars().take(TITLE_MAX_CHARS - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

#[derive(Deserialize)]
struct JudgeReply {
    verdict: String,
    #[serde(default)]
    reason: String,
}

/// The judge's verdict and reason. A reply that is not the JSON asked for counts as
/// `continue` (a flaky judge must not end a goal; the turn budget is the backstop).
pub fn read_verdict(answer: &str) -> (GoalVerdict, String) {
    let json = answer
        .find('{')
        .zip(answer.rfind('}'))
        .filter(|(a, b)| a < b)
        .map(|(a, b)| &answer[a..=b]);
    let Some(reply) = json.and_then(|j| serde_json::from_str::<JudgeReply>(j).ok()) else {
        return (
            GoalVerdict::Continue,
            format!(
                "the judge's reply was not the verdict asked for: {}",
                clip(answer.trim(), 200)
            ),
        );
    };
    let verdict = match reply
        .verdict
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
        .as_str()
    {
        "met" | "done" | "achieved" => GoalVerdict::Met,
        "needs_user" | "need_user" | "blocked" => GoalVerdict::NeedsUser,
        _ => GoalVerdict::Continue,
    };
    (verdict, reply.reason)
}

/// Where the compression cuts: the start of the `keep`-th last turn (a turn starts at a
/// user message), so that many recent turns stay verbatim; with fewer turns, all but the
/// last; with one, everything.
pub fn compression_cut(items: &[Item], keep: usize) -> usize {
    let starts: Vec<usize> = items
        .iter()
        .enumerate()
        // A turn starts with the user's own message, not with the session's context.
        .filter(|(_, item)| {
            matches!(item, Item::Message(m) if m.role == Role::User) && !item.is_context()
        })
        .map(|(i, _)| i)
        .collect();
    let keep = keep.min(starts.len().saturating_sub(1));
    if keep == 0 {
        items.len()
    } else {
        starts[starts.len() - keep]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(
            clean_title("\n\"Fixing the build.\"\n").as_deref(),
            Some("Fixing the build")
        );
        assert_eq!(
            clean_title("Title: Rust lifetimes").as_deref(),
            Some("Rust lifetimes")
        );
        assert_eq!(clean_title("  \n "), None);
        assert_eq!(clean_title(&"x".repeat(200)).unwrap().chars().count(), 80);
    }

    #[test]
    fn verdicts_are_read_and_a_bad_reply_continues() {
        assert_eq!(
            read_verdict("```json\n{\"verdict\": \"met\", \"reason\": \"tests pass\"}\n```"),
            (GoalVerdict::Met, "tests pass".into())
        );
        assert_eq!(
            read_verdict("{\"verdict\": \"needs user\", \"reason\": \"which db?\"}").0,
            GoalVerdict::NeedsUser
        );
        let (v, why) = read_verdict("I think it's done");
        assert_eq!(v, GoalVerdict::Continue);
        assert!(why.contains("not the verdict"), "{why}");
    }

    #[test]
    fn compression_keeps_the_recent_turns() {
        let items = vec![
            Item::user_text("a"),
            Item::assistant_text("A"),
            Item::user_text("b"),
            Item::assistant_text("B"),
            Item::user_text("c"),
            Item::assistant_text("C"),
        ];
        assert_eq!(compression_cut(&items, 2), 2);
        assert_eq!(compression_cut(&items, 1), 4);
        assert_eq!(
            compression_cut(&items, 5),
            2,
            "never more turns kept than there are, less one"
        );
        assert_eq!(compression_cut(&items[..2], 2), 2, "one turn: all of it");
    }

    #[test]
    fn transcripts_keep_the_end() {
        let items = vec![
            Item::user_text(&"a".repeat(50)),
            Item::assistant_text("the end"),
        ];
        let t = transcript(&items, 20);
        assert!(t.ends_with("ASSISTANT: the end"), "{t}");
        assert!(t.starts_with("[earlier part left out]"), "{t}");
    }
}
