//! One turn: `turn/start`, then codex's notifications and requests until
//! `turn/completed`, mapped to talaria events and items as they come.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talaria_sdk::items::{ContentPart, Item, Message, Role};
use talaria_sdk::turn::{TurnError, TurnRequest, TurnResult, TurnStatus};
use talaria_sdk::{CallContext, ErrorKind, Event, PlanStep, StepStatus, Usage};

use crate::approvals::{answer, Answer, PatchCache};
use crate::items::{result_event, stored, tool_call};
use crate::rpc::Inbound;
use crate::session::{failure, with_backoff, with_tail, CodexSession, REQUEST_TIMEOUT};

/// How long to wait for `turn/completed` after `turn/interrupt`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);
/// How often the loop looks at the cancel flag.
const POLL: Duration = Duration::from_millis(50);

const AGENT_DELTA: &str = "item/agentMessage/delta";
/// At most this much text in one gathered event, so that a reader that keeps up with
/// the gathering cannot hold the screen back until the message ends.
const GATHER_MAX_BYTES: usize = 16 * 1024;

/// The delta in `first` and those of the same message already waiting behind it, as one
/// text: when codex streams faster than talaria shows, one event (through the plugin
/// boundary, to the screen) carries what has piled up, rather than one per delta. Nothing
/// waits for more: a lone delta goes out at once. Also the first other message read,
/// which the caller handles next.
fn gather_deltas(conn: &crate::rpc::Connection, first: &Value) -> (String, Option<Inbound>) {
    let mut text = first["delta"].as_str().unwrap_or_default().to_owned();
    while text.len() < GATHER_MAX_BYTES {
        let Some(next) = conn.try_next() else { break };
        match next {
            Inbound::Notification { method, params }
                if method == AGENT_DELTA && params["itemId"] == first["itemId"] =>
            {
                text.push_str(params["delta"].as_str().unwrap_or_default());
            }
            other => return (text, Some(other)),
        }
    }
    (text, None)
}

/// How the turn left the codex session.
pub enum After {
    /// Healthy: keep the process and thread for the next turn.
    Keep,
    /// Dead, wedged or signed out: drop it; the next turn starts a new process (and
    /// resumes the thread from the session's state).
    Retire,
}

/// What was learned while the turn ran.
struct Turn<'a> {
    session: &'a CodexSession,
    cx: &'a CallContext,
    result: TurnResult,
    turn_id: Option<String>,
    /// Text streamed for the agent message in progress (kept if interrupted).
    partial: String,
    /// Agent-message items whose deltas were shown.
    streamed: HashSet<String>,
    /// Tool-like items whose `tool_call` event was sent.
    announced: HashSet<String>,
    patches: PatchCache,
    last_error: Option<String>,
    auth_failure: bool,
    /// How long codex may stay silent before it counts as wedged
    /// (`idle_timeout_ms` in `[plugin_config.codex-app-server]`).
    idle_limit: Duration,
}

pub fn run(
    session: &CodexSession,
    req: &TurnRequest,
    idle_limit: Duration,
    cx: &CallContext,
) -> (TurnResult, After) {
    let mut turn = Turn {
        session,
        cx,
        result: TurnResult {
            items: vec![user_item(req)],
            ..TurnResult::default()
        },
        turn_id: None,
        partial: String::new(),
        streamed: HashSet::new(),
        announced: HashSet::new(),
        patches: PatchCache::default(),
        last_error: None,
        auth_failure: false,
        idle_limit,
    };
    let params = json!({ "threadId": session.thread_id, "input": input(req) });
    match with_backoff(|| session.conn.request("turn/start", &params, REQUEST_TIMEOUT)) {
        Ok(started) => {
            if let Some(id) = started["turn"]["id"].as_str() {
                turn.turn_id = Some(id.to_owned());
            }
        }
        Err(e) => {
            let error = failure(&session.conn, "turn/start", e);
            return turn.fail(error.message, error.kind, After::Retire);
        }
    }
    turn.drive()
}

impl Turn<'_> {
    fn drive(mut self) -> (TurnResult, After) {
        let conn = &self.session.conn;
        let mut last_heard = Instant::now();
        let mut interrupt_sent: Option<Instant> = None;
        // A message read ahead while gathering deltas, handled next.
        let mut ahead: Option<Inbound> = None;
        loop {
            if self.cx.is_cancelled() && interrupt_sent.is_none() {
                if let Some(turn_id) = &self.turn_id {
                    let params = json!({ "threadId": self.session.thread_id, "turnId": turn_id });
                    // The answer comes back through the reader; `turn/completed` follows.
                    let _ = conn.request("turn/interrupt", &params, REQUEST_TIMEOUT);
                    interrupt_sent = Some(Instant::now());
                }
            }
            if interrupt_sent.is_some_and(|t| t.elapsed() > INTERRUPT_GRACE) {
                self.cx.emit(&Event::Warning {
                    message: "codex did not confirm the interrupt; its process was stopped and the next turn starts a new one".into(),
                });
                conn.kill();
                return self.interrupted(After::Retire);
            }
            let Some(message) = ahead.take().or_else(|| conn.next(POLL)) else {
                if last_heard.elapsed() > self.idle_limit {
                    conn.kill();
                    let message = with_tail(
                        conn,
                        format!(
                            "codex sent nothing for {} s and was stopped; the next turn starts a new codex process on the same thread (`idle_timeout_ms` under [plugin_config.codex-app-server] sets how long it may stay silent)",
                            self.idle_limit.as_secs_f64()
                        ),
                    );
                    return self.fail(message, ErrorKind::Unavailable, After::Retire);
                }
                continue;
            };
            last_heard = Instant::now();
            match message {
                Inbound::Closed => {
                    if interrupt_sent.is_some() {
                        return self.interrupted(After::Retire);
                    }
                    let message = with_tail(
                        conn,
                        "the codex process exited in the middle of the turn; the next turn starts a new one on the same thread".into(),
                    );
                    return self.fail(message, ErrorKind::Unavailable, After::Retire);
                }
                Inbound::Request { id, method, params } => {
                    let reply = match answer(&method, &params, &self.patches, self.cx) {
                        Answer::Result(result) => conn.reply(&id, &result),
                        Answer::Error(code, message) => conn.reply_error(&id, code, &message),
                    };
                    if reply.is_err() {
                        continue; // the process is gone; `Closed` comes next
                    }
                }
                Inbound::Notification { method, params } if method == AGENT_DELTA => {
                    let (delta, next) = gather_deltas(conn, &params);
                    ahead = next;
                    self.agent_delta(&params, delta);
                }
                Inbound::Notification { method, params } => {
                    if let Some(done) = self.notification(&method, &params) {
                        return done;
                    }
                }
            }
        }
    }

    /// Handles one notification; `Some` when the turn is over.
    fn notification(&mut self, method: &str, params: &Value) -> Option<(TurnResult, After)> {
        match method {
            "turn/started" if self.turn_id.is_none() => {
                self.turn_id = params["turn"]["id"].as_str().map(str::to_owned);
            }
            "item/reasoning/summaryTextDelta" | "item/reasoning/textDelta" => {
                self.cx.emit(&Event::ReasoningDelta {
                    delta: params["delta"].as_str().unwrap_or_default().to_owned(),
                });
            }
            "item/started" => self.item_started(&params["item"]),
            "item/completed" => self.item_completed(&params["item"]),
            "turn/plan/updated" => self.cx.emit(&plan_event(params)),
            "thread/tokenUsage/updated" => {
                let last = &params["tokenUsage"]["last"];
                let n = |k: &str| last[k].as_u64().unwrap_or(0);
                self.result.usage.add(&Usage {
                    input_tokens: n("inputTokens"),
                    output_tokens: n("outputTokens"),
                    cached_input_tokens: n("cachedInputTokens"),
                    reasoning_output_tokens: n("reasoningOutputTokens"),
                    total_tokens: n("totalTokens"),
                });
            }
            "error" => {
                let message = params["error"]["message"]
                    .as_str()
                    .unwrap_or("codex reported an error")
                    .to_owned();
                let info = params["error"]["codexErrorInfo"].to_string();
                if looks_like_auth(&message) || info.contains("unauthorized") {
                    self.auth_failure = true;
                }
                if params["willRetry"].as_bool() == Some(true) {
                    self.cx.emit(&Event::Progress {
                        message: format!("codex is retrying: {message}"),
                    });
                } else {
                    self.last_error = Some(message);
                }
            }
            "warning" | "configWarning" | "deprecationNotice" => {
                if let Some(message) = params["message"]
                    .as_str()
                    .or_else(|| params["summary"].as_str())
                {
                    self.cx.emit(&Event::Progress {
                        message: format!("codex: {message}"),
                    });
                }
            }
            "turn/completed" => {
                let turn = &params["turn"];
                if self.turn_id.as_deref().is_some_and(|id| turn["id"] != id) {
                    return None; // another turn's end (never expected, but never confused)
                }
                return Some(match turn["status"].as_str() {
                    Some("interrupted") => self.interrupted(After::Keep),
                    Some("failed") => {
                        let message = turn["error"]["message"]
                            .as_str()
                            .map(str::to_owned)
                            .or_else(|| self.last_error.clone())
                            .unwrap_or_else(|| "codex reported the turn as failed".into());
                        if self.auth_failure || looks_like_auth(&message) {
                            let message = format!(
                                "{message}\ncodex is not signed in or its login expired: run `talaria codex-runtime on` (or `codex login`) to sign codex in again"
                            );
                            self.fail(message, ErrorKind::Auth, After::Retire)
                        } else {
                            self.fail(message, ErrorKind::Other, After::Keep)
                        }
                    }
                    _ => self.completed(),
                });
            }
            _ => {}
        }
        None
    }

    fn item_started(&mut self, item: &Value) {
        match item["type"].as_str() {
            Some("fileChange") => self.patches.remember(item),
            // Its query arrives with the completed item.
            Some("webSearch") => return,
            _ => {}
        }
        self.announce(item);
    }

    /// Text of the agent message `params["itemId"]`, shown as it comes.
    fn agent_delta(&mut self, params: &Value, delta: String) {
        if let Some(id) = params["itemId"].as_str() {
            if !self.streamed.contains(id) {
                self.streamed.insert(id.to_owned());
            }
        }
        self.partial.push_str(&delta);
        self.cx.emit(&Event::TextDelta { delta });
    }

    /// The `tool_call` event of a tool-like item, once.
    fn announce(&mut self, item: &Value) {
        if let Some((call_id, name, arguments)) = tool_call(item) {
            if self.announced.insert(call_id.clone()) {
                self.cx.emit(&Event::ToolCall {
                    call_id,
                    name,
                    arguments,
                });
            }
        }
    }

    fn item_completed(&mut self, item: &Value) {
        match item["type"].as_str().unwrap_or_default() {
            "agentMessage" => {
                let text = item["text"].as_str().unwrap_or_default();
                let id = item["id"].as_str().unwrap_or_default();
                if !self.streamed.contains(id) && !text.is_empty() {
                    self.cx.emit(&Event::TextDelta {
                        delta: text.to_owned(),
                    });
                }
                self.partial.clear();
                if !text.is_empty() {
                    self.result.text = text.to_owned();
                }
            }
            "userMessage" | "plan" => return,
            _ => {
                self.announce(item);
                if let Some(event) = result_event(item) {
                    self.cx.emit(&event);
                }
            }
        }
        self.result.items.extend(stored(item));
    }

    fn completed(&mut self) -> (TurnResult, After) {
        self.result.status = TurnStatus::Completed;
        (self.with_state(), After::Keep)
    }

    fn interrupted(&mut self, after: After) -> (TurnResult, After) {
        self.result.status = TurnStatus::Interrupted;
        if !self.partial.is_empty() {
            self.result.items.push(Item::assistant_text(&self.partial));
            self.result.text = std::mem::take(&mut self.partial);
        }
        (self.with_state(), after)
    }

    fn fail(&mut self, message: String, kind: ErrorKind, after: After) -> (TurnResult, After) {
        self.result.status = TurnStatus::Failed;
        if !self.partial.is_empty() {
            self.result.items.push(Item::assistant_text(&self.partial));
            self.result.text = std::mem::take(&mut self.partial);
        }
        self.result.error = Some(TurnError {
            message,
            kind,
            class: None,
        });
        (self.with_state(), after)
    }

    fn with_state(&mut self) -> TurnResult {
        self.result.state = Some(json!({ "thread_id": self.session.thread_id }));
        std::mem::take(&mut self.result)
    }
}

/// `turn/plan/updated` as talaria's `plan` event: the whole checklist each time.
pub fn plan_event(params: &Value) -> Event {
    let steps = params["plan"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| PlanStep {
            step: s["step"].as_str().unwrap_or_default().to_owned(),
            status: serde_json::from_value::<StepStatus>(json!(snake(
                s["status"].as_str().unwrap_or_default()
            )))
            .unwrap_or(StepStatus::Unknown),
        })
        .collect();
    Event::Plan {
        explanation: params["explanation"].as_str().map(str::to_owned),
        steps,
    }
}

/// `inProgress` → `in_progress`.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Codex's words for a login that no longer works.
pub fn looks_like_auth(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "invalid_grant",
        "refresh token",
        "unauthorized",
        "401",
        "not logged in",
        "login again",
        "log in again",
    ]
    .iter()
    .any(|w| m.contains(w))
}

/// The user's message as `turn/start` input: the text, then the images.
fn input(req: &TurnRequest) -> Vec<Value> {
    let mut input = vec![json!({ "type": "text", "text": req.input.text, "text_elements": [] })];
    input.extend(
        req.input
            .images
            .iter()
            .map(|url| json!({ "type": "image", "url": url })),
    );
    input
}

/// The user's message as talaria stores it.
fn user_item(req: &TurnRequest) -> Item {
    let mut content = vec![ContentPart::InputText {
        text: req.input.text.clone(),
    }];
    content.extend(req.input.images.iter().map(|url| ContentPart::InputImage {
        image_url: url.clone(),
        detail: None,
    }));
    Item::Message(Message {
        role: Role::User,
        content,
        phase: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deltas of one message that are already waiting become one text; a delta of
    /// another message, or any other message, stops the gathering and comes next.
    #[test]
    fn waiting_deltas_of_one_message_are_gathered() {
        let delta = |item: &str, text: &str| {
            json!({"method": AGENT_DELTA, "params": {"itemId": item, "delta": text}}).to_string()
        };
        let lines = [
            delta("m1", "Hel"),
            delta("m1", "lo"),
            delta("m1", "!"),
            delta("m2", "other"),
            json!({"method": "turn/completed", "params": {}}).to_string(),
        ];
        let mut command = std::process::Command::new("printf");
        command.arg(format!("{}\n", lines.join("\n")));
        let conn = crate::rpc::Connection::spawn(command, None).unwrap();
        // Let the reader queue every line (and the close) before gathering.
        std::thread::sleep(Duration::from_millis(300));
        let Some(Inbound::Notification { params, .. }) = conn.next(POLL) else {
            panic!("no first delta")
        };
        let (text, next) = gather_deltas(&conn, &params);
        assert_eq!(text, "Hello!");
        let Some(Inbound::Notification { params, .. }) = next else {
            panic!("the other message's delta should come next")
        };
        assert_eq!(params["itemId"], "m2");
        let (text, next) = gather_deltas(&conn, &params);
        assert_eq!(text, "other");
        assert!(
            matches!(next, Some(Inbound::Notification { ref method, .. }) if method == "turn/completed")
        );
    }

    #[test]
    fn a_codex_plan_becomes_a_plan_event() {
        let params = json!({"threadId": "t", "turnId": "u", "explanation": "why",
            "plan": [{"step": "read", "status": "completed"}, {"step": "edit", "status": "inProgress"},
                     {"step": "test", "status": "pending"}, {"step": "?", "status": "teleporting"}]});
        let Event::Plan { explanation, steps } = plan_event(&params) else {
            panic!()
        };
        assert_eq!(explanation.as_deref(), Some("why"));
        let statuses: Vec<StepStatus> = steps.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [
                StepStatus::Completed,
                StepStatus::InProgress,
                StepStatus::Pending,
                StepStatus::Unknown
            ]
        );
        assert_eq!(steps[1].step, "edit");
    }

    #[test]
    fn login_failures_are_recognised() {
        assert!(looks_like_auth("refresh token was revoked (invalid_grant)"));
        assert!(!looks_like_auth("stream disconnected before completion"));
    }
}
