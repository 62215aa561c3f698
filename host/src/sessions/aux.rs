//! What the aux tasks keep with a session: compaction summaries (which stored items a
//! summary stands for) and the `/goal` with its judge's verdicts.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use talaria_plugin_api::payload::Usage;

use super::{now_rfc3339, to_i64, to_u64, SessionStore};
use crate::error::Result;

/// The latest compaction: a summary standing for the first `covered` stored items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compaction {
    pub covered: usize,
    pub summary: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoalRecord {
    pub goal: String,
    /// `active`, `met`, `needs_user`, `budget_spent`, `paused`, `cleared`.
    pub status: String,
    pub turns_used: u32,
    pub created_at: String,
    pub updated_at: String,
    pub verdicts: Vec<VerdictRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictRecord {
    pub turn: u32,
    pub verdict: String,
    pub reason: String,
    pub created_at: String,
}

/// Schema 4: the tables above.
pub(super) const SCHEMA_4: &str = "CREATE TABLE compactions (
         session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
         covered    INTEGER NOT NULL,
         summary    TEXT NOT NULL,
         created_at TEXT NOT NULL
     );
     CREATE INDEX compactions_session ON compactions (session_id);
     CREATE TABLE goals (
         session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
         goal       TEXT NOT NULL,
         status     TEXT NOT NULL,
         turns_used INTEGER NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE goal_verdicts (
         session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
         turn       INTEGER NOT NULL,
         verdict    TEXT NOT NULL,
         reason     TEXT NOT NULL,
         created_at TEXT NOT NULL
     );
     CREATE INDEX goal_verdicts_session ON goal_verdicts (session_id);";

impl SessionStore {
    pub fn add_compaction(&self, id: &str, covered: usize, summary: &str) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        tx.execute(
            "INSERT INTO compactions (session_id, covered, summary, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, to_i64(covered as u64), summary, now_rfc3339()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn compaction(&self, id: &str) -> Result<Option<Compaction>> {
        self.conn
            .query_row(
                "SELECT covered, summary, created_at FROM compactions WHERE session_id = ?1
                 ORDER BY rowid DESC LIMIT 1",
                [id],
                |r| {
                    Ok(Compaction {
                        covered: usize::try_from(to_u64(r.get(0)?)).unwrap_or(usize::MAX),
                        summary: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The usage of the session's last turn.
    pub fn last_usage(&self, id: &str) -> Result<Option<Usage>> {
        self.conn
            .query_row(
                "SELECT input_tokens, output_tokens, cached_input_tokens, reasoning_output_tokens,
                        total_tokens FROM usage WHERE session_id = ?1 ORDER BY rowid DESC LIMIT 1",
                [id],
                |r| {
                    Ok(Usage {
                        input_tokens: to_u64(r.get(0)?),
                        output_tokens: to_u64(r.get(1)?),
                        cached_input_tokens: to_u64(r.get(2)?),
                        reasoning_output_tokens: to_u64(r.get(3)?),
                        total_tokens: to_u64(r.get(4)?),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets (or replaces) the session's goal, active with no turns used; earlier verdicts go.
    pub fn set_goal(&self, id: &str, goal: &str) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        let now = now_rfc3339();
        tx.execute("DELETE FROM goal_verdicts WHERE session_id = ?1", [id])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO goals (session_id, goal, status, turns_used, created_at, updated_at)
             VALUES (?1, ?2, 'active', 0, ?3, ?3)
             ON CONFLICT (session_id) DO UPDATE SET goal = ?2, status = 'active',
                 turns_used = 0, created_at = ?3, updated_at = ?3",
            params![id, goal, now],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn update_goal(&self, id: &str, status: &str, turns_used: u32) -> Result<()> {
        self.conn
            .execute(
                "UPDATE goals SET status = ?2, turns_used = ?3, updated_at = ?4 WHERE session_id = ?1",
                params![id, status, turns_used, now_rfc3339()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn add_verdict(&self, id: &str, turn: u32, verdict: &str, reason: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO goal_verdicts (session_id, turn, verdict, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, turn, verdict, reason, now_rfc3339()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn goal(&self, id: &str) -> Result<Option<GoalRecord>> {
        let err = |e| self.err(e);
        let Some(mut goal) = self
            .conn
            .query_row(
                "SELECT goal, status, turns_used, created_at, updated_at FROM goals WHERE session_id = ?1",
                [id],
                |r| {
                    Ok(GoalRecord {
                        goal: r.get(0)?,
                        status: r.get(1)?,
                        turns_used: r.get(2)?,
                        created_at: r.get(3)?,
                        updated_at: r.get(4)?,
                        verdicts: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(err)?
        else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT turn, verdict, reason, created_at FROM goal_verdicts
                 WHERE session_id = ?1 ORDER BY rowid",
            )
            .map_err(err)?;
        goal.verdicts = stmt
            .query_map([id], |r| {
                Ok(VerdictRecord {
                    turn: r.get(0)?,
                    verdict: r.get(1)?,
                    reason: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(err)?;
        Ok(Some(goal))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn compactions_goals_and_verdicts_are_kept_and_deleted_with_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.db");
        let store = SessionStore::open(&path).unwrap();
        let s = store.create("auto", "p", "m").unwrap();
        assert_eq!(store.compaction(&s.id).unwrap(), None);
        store.add_compaction(&s.id, 4, "first").unwrap();
        store.add_compaction(&s.id, 6, "second").unwrap();
        let c = store.compaction(&s.id).unwrap().unwrap();
        assert_eq!((c.covered, c.summary.as_str()), (6, "second"));

        store.set_goal(&s.id, "make it build").unwrap();
        store
            .add_verdict(&s.id, 1, "continue", "tests fail")
            .unwrap();
        store.update_goal(&s.id, "active", 1).unwrap();
        drop(store);
        let store = SessionStore::open(&path).unwrap();
        let g = store.goal(&s.id).unwrap().unwrap();
        assert_eq!(
            (g.goal.as_str(), g.status.as_str(), g.turns_used),
            ("make it build", "active", 1)
        );
        assert_eq!(g.verdicts[0].reason, "tests fail");
        store.set_goal(&s.id, "another").unwrap();
        let g = store.goal(&s.id).unwrap().unwrap();
        assert_eq!((g.turns_used, g.verdicts.len()), (0, 0));

        assert!(store.delete(&s.id).unwrap());
        assert_eq!(store.goal(&s.id).unwrap(), None);
        assert_eq!(store.compaction(&s.id).unwrap(), None);
    }
}
