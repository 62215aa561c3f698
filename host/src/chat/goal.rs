//! `/goal TEXT`: keep working on a goal turn after turn until the router's `goal_judge`
//! says it is met, or that it needs the user, or the turn budget is spent. The goal, its
//! status and every verdict are stored with the session, so `-c` finds them (`/goal`
//! shows them, `/goal resume` goes on).

use talaria_plugin_api::items::{Item, Role};
use talaria_plugin_api::router::{GoalCheck, GoalVerdict};

use super::{Chat, Finish};
use crate::error::{Error, Result};

/// Judge failures in a row after which the loop pauses instead of spending the budget
/// on a judge that cannot answer.
const JUDGE_FAILURES_TO_PAUSE: u32 = 3;

impl Chat {
    pub(super) fn goal_command(&mut self, arg: &str) -> Result<()> {
        let id = self.session.id.clone();
        match arg {
            "" | "status" => match self.store.goal(&id)? {
                Some(g) => {
                    eprintln!(
                        "goal: {} ({}, {} turns used)",
                        g.goal, g.status, g.turns_used
                    );
                    for v in &g.verdicts {
                        eprintln!("  turn {}: {} — {}", v.turn, v.verdict, v.reason);
                    }
                }
                None => eprintln!("no goal in this session; set one with /goal TEXT"),
            },
            "pause" | "clear" => {
                let g = self.store.goal(&id)?.ok_or_else(no_goal)?;
                let status = if arg == "pause" { "paused" } else { "cleared" };
                self.store.update_goal(&id, status, g.turns_used)?;
                eprintln!("goal {status}");
            }
            "resume" => {
                let g = self.store.goal(&id)?.ok_or_else(no_goal)?;
                // A resumed goal gets a fresh budget, as in Hermes.
                self.store.update_goal(&id, "active", 0)?;
                let reason = g
                    .verdicts
                    .last()
                    .map_or_else(|| "not judged yet".to_owned(), |v| v.reason.clone());
                self.goal_loop(&g.goal, continuation(&g.goal, &reason))?;
            }
            text => {
                if !self.aux.available() {
                    return Err(Error::missing(
                        "/goal needs a router plugin for its judge; none is enabled (`talaria plugins list`)",
                    ));
                }
                self.store.set_goal(&id, text)?;
                eprintln!("⊙ goal set: {text}");
                self.goal_loop(text, text.to_owned())?;
            }
        }
        Ok(())
    }

    fn goal_loop(&mut self, goal: &str, first: String) -> Result<()> {
        let id = self.session.id.clone();
        let mut turns = 0;
        let mut judge_failures = 0;
        let mut prompt = first;
        loop {
            let finished = self.turn(&prompt);
            turns += 1;
            match finished {
                Ok(Finish::Done) => {}
                Ok(Finish::Interrupted) => {
                    self.store.update_goal(&id, "paused", turns)?;
                    eprintln!("⏸ goal paused (interrupted); /goal resume goes on");
                    return Ok(());
                }
                Err(e) => {
                    self.store.update_goal(&id, "paused", turns)?;
                    eprintln!("⏸ goal paused: the turn failed");
                    return Err(e);
                }
            }
            let mut request = self.aux_request("goal_judge", self.last_turn_items());
            request.goal = Some(GoalCheck {
                goal: goal.to_owned(),
                turns_used: turns,
            });
            let (verdict, reason) = match self.aux.run(&request) {
                Ok(result) => {
                    judge_failures = 0;
                    (result.verdict.unwrap_or(GoalVerdict::Continue), result.text)
                }
                // A flaky judge must not end the goal; the budget and this count stop it.
                Err(e) => {
                    judge_failures += 1;
                    if judge_failures >= JUDGE_FAILURES_TO_PAUSE {
                        self.store.update_goal(&id, "paused", turns)?;
                        eprintln!("⏸ goal paused: the judge failed {judge_failures} times in a row ({}); route [auxiliary.goal_judge] to another model, then /goal resume", e.message);
                        return Ok(());
                    }
                    (
                        GoalVerdict::Continue,
                        format!("the judge failed: {}", e.message),
                    )
                }
            };
            self.store
                .add_verdict(&id, turns, verdict.as_str(), &reason)?;
            let status = match verdict {
                GoalVerdict::Continue => "active",
                other => other.as_str(),
            };
            self.store.update_goal(&id, status, turns)?;
            match verdict {
                GoalVerdict::Met => {
                    eprintln!("✓ goal achieved: {reason}");
                    return Ok(());
                }
                GoalVerdict::NeedsUser => {
                    eprintln!("⏸ goal needs you: {reason}");
                    return Ok(());
                }
                GoalVerdict::BudgetSpent => {
                    eprintln!("⏸ goal paused after {turns} turns (the budget): {reason}; /goal resume goes on");
                    return Ok(());
                }
                GoalVerdict::Continue => {
                    eprintln!("↻ continuing toward the goal (turn {turns} done): {reason}");
                    prompt = continuation(goal, &reason);
                }
            }
        }
    }

    /// On opening a session in the REPL: an unfinished goal, and how to go on with it.
    pub(super) fn note_goal(&self) -> Result<()> {
        if self.renderer.is_none() || self.one_shot {
            return Ok(());
        }
        if let Some(g) = self.store.goal(&self.session.id)? {
            if matches!(
                g.status.as_str(),
                "active" | "paused" | "budget_spent" | "needs_user"
            ) {
                eprintln!(
                    "goal: {} ({}, {} turns used); /goal resume goes on",
                    g.goal, g.status, g.turns_used
                );
            }
        }
        Ok(())
    }

    /// The items of the last turn: from its user message on.
    fn last_turn_items(&self) -> Vec<Item> {
        let start = self
            .history
            .iter()
            .rposition(|item| matches!(item, Item::Message(m) if m.role == Role::User))
            .unwrap_or(0);
        self.history[start..].to_vec()
    }
}

fn continuation(goal: &str, reason: &str) -> String {
    format!("Keep working toward the goal: {goal}\nNot there yet: {reason}\nTake the next step.")
}

fn no_goal() -> Error {
    Error::usage("no goal in this session; set one with /goal TEXT")
}
