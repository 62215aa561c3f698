//! The per-profile session store, `sessions.db` (SQLite): sessions, their messages,
//! tool calls and token usage.
//!
//! Several talaria processes may use one profile at once, so the database runs in WAL
//! mode with a busy timeout. The schema version lives in `PRAGMA user_version`; `migrate`
//! steps it forward one version at a time so a later build can add columns and tables.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;

use talaria_plugin_api::items::Item;

use crate::error::{io_error, Error, Result};

mod aux;
pub use aux::{Compaction, GoalRecord, VerdictRecord};

/// The schema this build writes; `migrate_step` knows how to reach it from 0.
const SCHEMA_VERSION: i64 = 4;
/// Another process may be mid-write; wait for it rather than fail the turn.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Every SQLite database file starts with these bytes.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

pub struct SessionStore {
    conn: Connection,
    /// Kept for error messages: a bare SQLite error never says which file.
    path: PathBuf,
}

/// An open savepoint ([`SessionStore::savepoint`]); rolled back unless committed.
struct Savepoint<'a> {
    conn: &'a Connection,
    released: bool,
}

impl Savepoint<'_> {
    fn commit(mut self) -> rusqlite::Result<()> {
        self.released = true;
        self.conn.execute_batch("RELEASE store_call")
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self
                .conn
                .execute_batch("ROLLBACK TO store_call; RELEASE store_call");
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRecord {
    pub id: String,
    pub title: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub runtime: String,
    pub provider: String,
    pub model: String,
    pub message_count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub seq: i64,
    pub role: String,
    pub content: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolCallRecord {
    pub call_id: String,
    pub name: String,
    pub arguments: serde_json::Value,
    pub output: Option<String>,
    pub is_error: bool,
    pub created_at: String,
    /// The seq of the last message stored before this call (0 when none), so a
    /// transcript can place the call between a prompt and its answer.
    pub after_seq: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionRecord,
    pub messages: Vec<MessageRecord>,
    pub tool_calls: Vec<ToolCallRecord>,
    pub usage: UsageTotals,
    /// The session's `/goal` and the judge's verdicts, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<GoalRecord>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageTotals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

/// Columns of a `SessionRecord`, in `session_from_row` order.
const SESSION_COLUMNS: &str =
    "s.id, s.title, s.created_at, s.updated_at, s.runtime, s.provider, s.model, \
     (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id)";

impl SessionStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::create_private_dir_all(dir)?;
        }
        check_header(path)?;
        // SQLite would create the file 0644 (less the umask), and its -wal and -shm
        // take the database's mode: conversations are the user's alone.
        crate::fsutil::ensure_private_file(path)?;
        let mut conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        let err = |e| db_error(path, e);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        // WAL lets readers and one writer work at once; a file system without shared
        // memory support refuses it, and the default journal still works there.
        if let Err(e) =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
        {
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
                return Err(err(e));
            }
            tracing::debug!(path = %path.display(), error = %e, "WAL mode unavailable");
        }
        migrate(&mut conn).map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(Error::failure(format!(
                "{} was written by a newer talaria (schema {version}; this one knows up to {SCHEMA_VERSION}); upgrade talaria",
                path.display()
            )));
        }
        Ok(SessionStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens the database only if it exists, so read-only commands never create one.
    pub fn open_existing(path: &Path) -> Result<Option<Self>> {
        if path.exists() {
            Self::open(path).map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn create(&self, runtime: &str, provider: &str, model: &str) -> Result<SessionRecord> {
        let now = now_rfc3339();
        // A random id can collide in theory; try a fresh one rather than fail the turn.
        let mut attempts = 0;
        let id = loop {
            let id = new_id();
            let inserted = self.conn.execute(
                "INSERT INTO sessions (id, created_at, updated_at, runtime, provider, model, activity)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(activity), 0) + 1 FROM sessions))",
                params![id, now, runtime, provider, model],
            );
            match inserted {
                Ok(_) => break id,
                Err(e) if is_constraint(&e) && attempts < 5 => attempts += 1,
                Err(e) => return Err(self.err(e)),
            }
        };
        self.record(&id)?.ok_or_else(|| {
            Error::failure(format!(
                "session {id} vanished from {} right after it was created",
                self.path.display()
            ))
        })
    }

    pub fn set_title(&self, id: &str, title: &str) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        tx.execute(
            "UPDATE sessions SET title = ?2 WHERE id = ?1",
            params![id, title],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Appends a message and returns its seq (1, 2, … within the session).
    pub fn add_message(&self, id: &str, role: &str, content: &str) -> Result<i64> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        // One statement computes and uses the next seq, so two writers cannot pick the same.
        let seq = tx
            .query_row(
                "INSERT INTO messages (session_id, seq, role, content, created_at)
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM messages WHERE session_id = ?1
                 RETURNING seq",
                params![id, role, content, now_rfc3339()],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(seq)
    }

    pub fn add_tool_call(
        &self,
        id: &str,
        call_id: &str,
        name: &str,
        arguments: &serde_json::Value,
    ) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        tx.execute(
            "INSERT INTO tool_calls (session_id, call_id, name, arguments, created_at, after_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?1))",
            params![id, call_id, name, arguments.to_string(), now_rfc3339()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Records a call's result. Call ids are the model's and may repeat across turns, so
    /// the latest call with that id is the one finished.
    pub fn finish_tool_call(
        &self,
        id: &str,
        call_id: &str,
        output: &str,
        is_error: bool,
    ) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        let changed = tx
            .execute(
                "UPDATE tool_calls SET output = ?3, is_error = ?4
                 WHERE rowid = (SELECT MAX(rowid) FROM tool_calls WHERE session_id = ?1 AND call_id = ?2)",
                params![id, call_id, output, is_error],
            )
            .map_err(|e| self.err(e))?;
        if changed == 0 {
            return Err(Error::failure(format!(
                "session {id} has no tool call {call_id:?} to record a result for"
            )));
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Stores one turn's usage; `get` sums them.
    pub fn add_usage(&self, id: &str, usage: &talaria_plugin_api::payload::Usage) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        tx.execute(
            "INSERT INTO usage (session_id, input_tokens, output_tokens, cached_input_tokens,
                                reasoning_output_tokens, total_tokens, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                to_i64(usage.input_tokens),
                to_i64(usage.output_tokens),
                to_i64(usage.cached_input_tokens),
                to_i64(usage.reasoning_output_tokens),
                to_i64(usage.total_tokens),
                now_rfc3339()
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Appends conversation items in order.
    pub fn add_items(&self, id: &str, items: &[Item]) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        for item in items {
            tx.execute(
                "INSERT INTO items (session_id, seq, item)
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2 FROM items WHERE session_id = ?1",
                params![
                    id,
                    serde_json::to_string(item)
                        .map_err(|e| Error::failure(format!("cannot encode an item: {e}")))?
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The session's conversation items, oldest first. An item that is not JSON is an
    /// error naming the file, not silently dropped history (an unknown item type is kept
    /// as it is).
    pub fn items(&self, id: &str) -> Result<Vec<Item>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, item FROM items WHERE session_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(seq, text)| {
                serde_json::from_str(&text).map_err(|e| {
                    Error::failure(format!(
                        "item {seq} of session {id} in {} is not valid JSON: {e}",
                        self.path.display()
                    ))
                })
            })
            .collect()
    }

    /// Stores what the session's runtime keeps between turns.
    pub fn set_runtime_state(&self, id: &str, state: Option<&serde_json::Value>) -> Result<()> {
        let tx = self.savepoint().map_err(|e| self.err(e))?;
        self.touch(id)?;
        tx.execute(
            "UPDATE sessions SET runtime_state = ?2 WHERE id = ?1",
            params![id, state.map(|s| s.to_string())],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// What the runtime stored for the session, `None` when nothing.
    pub fn runtime_state(&self, id: &str) -> Result<Option<serde_json::Value>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT runtime_state FROM sessions WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                Error::failure(format!(
                    "the runtime state of session {id} in {} is not valid JSON: {e}",
                    self.path.display()
                ))
            })
        })
        .transpose()
    }

    /// All sessions, most recently updated first.
    pub fn list(&self) -> Result<Vec<SessionRecord>> {
        self.query_sessions(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions s ORDER BY s.activity DESC"),
            [],
        )
    }

    pub fn latest(&self) -> Result<Option<SessionRecord>> {
        let sql =
            format!("SELECT {SESSION_COLUMNS} FROM sessions s ORDER BY s.activity DESC LIMIT 1");
        Ok(self.query_sessions(&sql, [])?.into_iter().next())
    }

    /// The session with its messages, tool calls and usage totals; None for an unknown id.
    pub fn get(&self, id: &str) -> Result<Option<SessionDetail>> {
        let Some(session) = self.record(id)? else {
            return Ok(None);
        };
        let err = |e| self.err(e);
        let mut stmt = self
            .conn
            .prepare("SELECT seq, role, content, created_at FROM messages WHERE session_id = ?1 ORDER BY seq")
            .map_err(err)?;
        let messages = stmt
            .query_map([id], |r| {
                Ok(MessageRecord {
                    seq: r.get(0)?,
                    role: r.get(1)?,
                    content: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(err)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT call_id, name, arguments, output, is_error, created_at, after_seq
                 FROM tool_calls WHERE session_id = ?1 ORDER BY rowid",
            )
            .map_err(err)?;
        let tool_calls = stmt
            .query_map([id], |r| {
                let arguments: String = r.get(2)?;
                Ok(ToolCallRecord {
                    call_id: r.get(0)?,
                    name: r.get(1)?,
                    // Stored from a Value, so it parses; keep the raw text if it somehow does not.
                    arguments: serde_json::from_str(&arguments)
                        .unwrap_or(serde_json::Value::String(arguments)),
                    output: r.get(3)?,
                    is_error: r.get(4)?,
                    created_at: r.get(5)?,
                    after_seq: r.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(err)?;
        let usage = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
                        COALESCE(SUM(cached_input_tokens), 0), COALESCE(SUM(reasoning_output_tokens), 0),
                        COALESCE(SUM(total_tokens), 0)
                 FROM usage WHERE session_id = ?1",
                [id],
                |r| {
                    Ok(UsageTotals {
                        input_tokens: to_u64(r.get(0)?),
                        output_tokens: to_u64(r.get(1)?),
                        cached_input_tokens: to_u64(r.get(2)?),
                        reasoning_output_tokens: to_u64(r.get(3)?),
                        total_tokens: to_u64(r.get(4)?),
                    })
                },
            )
            .map_err(err)?;
        let goal = self.goal(id)?;
        Ok(Some(SessionDetail {
            session,
            messages,
            tool_calls,
            usage,
            goal,
        }))
    }

    /// An exact id, or a prefix that matches exactly one session.
    pub fn resolve(&self, id_or_prefix: &str) -> Result<SessionRecord> {
        if id_or_prefix.is_empty() {
            return Err(Error::usage(
                "give a session id (see `talaria sessions list`)",
            ));
        }
        if let Some(session) = self.record(id_or_prefix)? {
            return Ok(session);
        }
        // substr rather than LIKE: ids typed by users must not act as wildcards.
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE substr(s.id, 1, length(?1)) = ?1 ORDER BY s.activity DESC"
        );
        let mut matches = self.query_sessions(&sql, [id_or_prefix])?;
        match matches.len() {
            0 => Err(Error::usage(format!(
                "no session matches {id_or_prefix:?}; see `talaria sessions list` for the ids"
            ))),
            1 => Ok(matches.remove(0)),
            n => {
                let shown: Vec<&str> = matches.iter().take(10).map(|s| s.id.as_str()).collect();
                let more = if n > shown.len() {
                    format!(" and {} more", n - shown.len())
                } else {
                    String::new()
                };
                Err(Error::usage(format!(
                    "{id_or_prefix:?} matches {n} sessions ({}{more}); give more of the id",
                    shown.join(", ")
                )))
            }
        }
    }

    /// Deletes the session with its messages, tool calls and usage; false for an unknown id.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM sessions WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn record(&self, id: &str) -> Result<Option<SessionRecord>> {
        self.conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?1"),
                [id],
                session_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn query_sessions<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<SessionRecord>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        stmt.query_map(params, session_from_row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Bumps `updated_at` and the activity counter, which orders `list` exactly even when
    /// two sessions change within the same second. An unknown id is the caller's mistake.
    /// Runs `f`'s writes as one transaction: all of them land, or (on an error, or when
    /// the process dies midway, `kill -9` included) none. A turn's record (its answer,
    /// tool calls, usage, items and runtime state) goes through here so a crash never
    /// leaves an answer the next turn's history lacks. `BEGIN IMMEDIATE` takes the write
    /// lock up front, waiting out other processes through the busy timeout, rather than
    /// failing with SQLITE_BUSY on a read-to-write upgrade midway.
    pub fn atomically<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        match f() {
            Ok(value) => {
                self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// One store call's writes as a unit: a transaction of its own, or a nested part of
    /// the caller's [`SessionStore::atomically`] (SQLite savepoints nest; `BEGIN` does not).
    fn savepoint(&self) -> rusqlite::Result<Savepoint<'_>> {
        self.conn.execute_batch("SAVEPOINT store_call")?;
        Ok(Savepoint {
            conn: &self.conn,
            released: false,
        })
    }

    fn touch(&self, id: &str) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE sessions SET updated_at = ?2,
                        activity = (SELECT COALESCE(MAX(activity), 0) + 1 FROM sessions)
                 WHERE id = ?1",
                params![id, now_rfc3339()],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(Error::usage(format!(
                "no session {id:?}; see `talaria sessions list` for the ids"
            )));
        }
        Ok(())
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }
}

/// Steps the schema from `PRAGMA user_version` up to `SCHEMA_VERSION`, one version per
/// step, in one immediate transaction so two processes opening a new file at once do not
/// both create the tables.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    while version < SCHEMA_VERSION {
        migrate_step(&tx, version)?;
        version += 1;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()
}

/// Brings the schema from version `from` to `from + 1`. Later versions add an arm here
/// (e.g. `1 => tx.execute_batch("ALTER TABLE sessions ADD COLUMN …")`).
fn migrate_step(tx: &rusqlite::Transaction<'_>, from: i64) -> rusqlite::Result<()> {
    match from {
        0 => tx.execute_batch(
            "CREATE TABLE sessions (
                 id         TEXT PRIMARY KEY,
                 title      TEXT,
                 created_at TEXT NOT NULL,
                 updated_at TEXT NOT NULL,
                 runtime    TEXT NOT NULL,
                 provider   TEXT NOT NULL,
                 model      TEXT NOT NULL,
                 activity   INTEGER NOT NULL
             );
             CREATE INDEX sessions_activity ON sessions (activity);
             CREATE TABLE messages (
                 session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                 seq        INTEGER NOT NULL,
                 role       TEXT NOT NULL,
                 content    TEXT NOT NULL,
                 created_at TEXT NOT NULL,
                 PRIMARY KEY (session_id, seq)
             );
             CREATE TABLE tool_calls (
                 session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                 call_id    TEXT NOT NULL,
                 name       TEXT NOT NULL,
                 arguments  TEXT NOT NULL,
                 output     TEXT,
                 is_error   INTEGER NOT NULL DEFAULT 0,
                 created_at TEXT NOT NULL,
                 after_seq  INTEGER NOT NULL DEFAULT 0
             );
             CREATE INDEX tool_calls_session ON tool_calls (session_id, call_id);
             CREATE TABLE usage (
                 session_id              TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                 input_tokens            INTEGER NOT NULL,
                 output_tokens           INTEGER NOT NULL,
                 cached_input_tokens     INTEGER NOT NULL,
                 reasoning_output_tokens INTEGER NOT NULL,
                 total_tokens            INTEGER NOT NULL,
                 created_at              TEXT NOT NULL
             );
             CREATE INDEX usage_session ON usage (session_id);",
        ),
        // The exact Responses API items of every turn (reasoning, tool calls and their
        // outputs included), so `-c`/`--resume` sends the model what it saw before.
        1 => tx.execute_batch(
            "CREATE TABLE items (
                 session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                 seq        INTEGER NOT NULL,
                 item       TEXT NOT NULL,
                 PRIMARY KEY (session_id, seq)
             );",
        ),
        // What the session's runtime keeps between turns (the Codex runtime's thread id,
        // say): JSON that runtime alone reads.
        2 => tx.execute_batch("ALTER TABLE sessions ADD COLUMN runtime_state TEXT;"),
        // Compaction summaries, and the `/goal` with its verdicts (the aux tasks).
        3 => tx.execute_batch(aux::SCHEMA_4),
        _ => Ok(()),
    }
}

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: r.get(0)?,
        title: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        runtime: r.get(4)?,
        provider: r.get(5)?,
        model: r.get(6)?,
        message_count: to_u64(r.get(7)?),
    })
}

/// Refuses a non-empty file that is not SQLite before SQLite touches it, so the user's
/// file is left exactly as it was. (An empty file is a valid, empty database.)
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, "open", e)),
    };
    let mut header = Vec::with_capacity(SQLITE_MAGIC.len());
    file.by_ref()
        .take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut header)
        .map_err(|e| io_error(path, "read", e))?;
    if header.is_empty() || header == SQLITE_MAGIC {
        Ok(())
    } else {
        Err(not_a_database(path))
    }
}

fn not_a_database(path: &Path) -> Error {
    Error::failure(format!(
        "{} is not a talaria session database (SQLite); move it aside (e.g. `mv {0} {0}.bad`) and talaria will start a new one",
        path.display()
    ))
}

/// Any SQLite error, naming the file and, where there is one, what to do about it.
fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => not_a_database(path),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::failure(format!(
            "the session database {} stayed locked by another talaria process for {} s; try again when it finishes",
            path.display(),
            BUSY_TIMEOUT.as_secs()
        )),
        Some(ErrorCode::DatabaseCorrupt) => Error::failure(format!(
            "the session database {} is damaged ({e}); move it aside and talaria will start a new one",
            path.display()
        )),
        _ => Error::failure(format!("session database {}: {e}", path.display())),
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// "YYYYMMDDTHHMMSS-xxxxxxxx": sorts by creation time (to the second) and reads well in
/// a table. The suffix mixes time, pid and a counter through std's randomly keyed hasher.
fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now();
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{stamp}-{:08x}", hasher.finish() as u32)
}

/// SQLite integers are signed; token counts never come near the limit, so saturate.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use talaria_plugin_api::payload::Usage;

    fn store() -> (tempfile::TempDir, SessionStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(&dir.path().join("sub/sessions.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn atomically_keeps_all_writes_or_none() {
        let (_dir, store) = store();
        let s = store.create("auto", "p", "m").unwrap();
        let failed: Result<()> = store.atomically(|| {
            store.add_message(&s.id, "assistant", "half")?;
            store.add_usage(
                &s.id,
                &Usage {
                    input_tokens: 1,
                    ..Default::default()
                },
            )?;
            // A failing store call inside: its own savepoint and the whole unit roll back.
            store.finish_tool_call(&s.id, "no-such-call", "x", false)?;
            Ok(())
        });
        assert!(failed.is_err());
        let shown = store.get(&s.id).unwrap().unwrap();
        assert!(shown.messages.is_empty(), "{:?}", shown.messages);
        assert_eq!(shown.usage.input_tokens, 0);

        store
            .atomically(|| {
                store.add_message(&s.id, "user", "q")?;
                store.add_message(&s.id, "assistant", "a")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(store.get(&s.id).unwrap().unwrap().messages.len(), 2);
        // Outside `atomically`, each call is still its own transaction.
        store.add_message(&s.id, "user", "again").unwrap();
        assert_eq!(store.get(&s.id).unwrap().unwrap().messages.len(), 3);
    }

    #[test]
    fn create_list_get_and_order() {
        let (_dir, store) = store();
        assert!(store.list().unwrap().is_empty());
        assert!(store.latest().unwrap().is_none());
        let a = store.create("auto", "openai-codex", "gpt-5").unwrap();
        let b = store
            .create("codex_app_server", "openai-codex", "gpt-5")
            .unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), "20240101T000000-00000000".len(), "{}", a.id);
        assert_eq!((a.title.as_deref(), a.message_count), (None, 0));
        let ids = |s: &SessionStore| {
            s.list()
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&store), [b.id.clone(), a.id.clone()]);

        // Activity moves a session to the top, even within the same second.
        store.add_message(&a.id, "user", "hi").unwrap();
        assert_eq!(ids(&store), [a.id.clone(), b.id.clone()]);
        store.set_title(&b.id, "Greeting").unwrap();
        assert_eq!(store.latest().unwrap().unwrap().id, b.id);

        let got = store.get(&b.id).unwrap().unwrap();
        assert_eq!(got.session.title.as_deref(), Some("Greeting"));
        assert_eq!(got.session.runtime, "codex_app_server");
        assert!(got.session.updated_at.ends_with('Z'));
        assert!(store.get("nope").unwrap().is_none());
        assert!(store
            .set_title("nope", "x")
            .unwrap_err()
            .message
            .contains("talaria sessions list"));
        assert_eq!(
            store.add_message("nope", "user", "x").unwrap_err().exit,
            crate::error::Exit::Usage
        );
    }

    #[test]
    fn items_round_trip_in_order_and_cascade() {
        let (_dir, store) = store();
        let s = store.create("auto", "p", "m").unwrap();
        let other = store.create("auto", "p", "m").unwrap();
        let item = |v: serde_json::Value| -> Item { serde_json::from_value(v).unwrap() };
        let first = [Item::user_text("hi")];
        let second = [
            item(json!({"type": "function_call", "call_id": "c1", "name": "t", "arguments": "{}"})),
            item(json!({"type": "function_call_output", "call_id": "c1", "output": "ok"})),
            // A type this build does not know survives the round trip.
            item(json!({"type": "image_generation_call", "result": "AAAA"})),
        ];
        store.add_items(&s.id, &first).unwrap();
        store.add_items(&other.id, &first).unwrap();
        store.add_items(&s.id, &second).unwrap();
        let got = store.items(&s.id).unwrap();
        assert_eq!(
            got,
            [
                first[0].clone(),
                second[0].clone(),
                second[1].clone(),
                second[2].clone()
            ]
        );
        assert!(matches!(got[3], Item::Unknown(_)));
        assert!(store.add_items("nope", &first).is_err());
        store.delete(&s.id).unwrap();
        assert!(store.items(&s.id).unwrap().is_empty());
        assert_eq!(store.items(&other.id).unwrap().len(), 1);
    }

    #[test]
    fn runtime_state_is_kept_per_session() {
        let (_dir, store) = store();
        let s = store.create("codex_app_server", "p", "m").unwrap();
        assert_eq!(store.runtime_state(&s.id).unwrap(), None);
        store
            .set_runtime_state(&s.id, Some(&json!({"thread_id": "t-1"})))
            .unwrap();
        assert_eq!(
            store.runtime_state(&s.id).unwrap(),
            Some(json!({"thread_id": "t-1"}))
        );
        store.set_runtime_state(&s.id, None).unwrap();
        assert_eq!(store.runtime_state(&s.id).unwrap(), None);
        assert!(store.set_runtime_state("nope", None).is_err());
    }

    #[test]
    fn messages_tool_calls_and_usage() {
        let (_dir, store) = store();
        let s = store.create("auto", "p", "m").unwrap();
        assert_eq!(store.add_message(&s.id, "user", "list files").unwrap(), 1);
        store
            .add_tool_call(&s.id, "c1", "shell", &json!({"cmd": "ls"}))
            .unwrap();
        store
            .add_tool_call(&s.id, "c2", "read", &json!({}))
            .unwrap();
        store
            .finish_tool_call(&s.id, "c1", "a.txt\nb.txt", false)
            .unwrap();
        assert!(store
            .finish_tool_call(&s.id, "missing", "x", false)
            .is_err());
        assert_eq!(
            store.add_message(&s.id, "assistant", "two files").unwrap(),
            2
        );
        let turn = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cached_input_tokens: 2,
            reasoning_output_tokens: 1,
            total_tokens: 15,
        };
        store.add_usage(&s.id, &turn).unwrap();
        store.add_usage(&s.id, &turn).unwrap();

        let d = store.get(&s.id).unwrap().unwrap();
        assert_eq!(d.session.message_count, 2);
        let msgs: Vec<(i64, &str, &str)> = d
            .messages
            .iter()
            .map(|m| (m.seq, m.role.as_str(), m.content.as_str()))
            .collect();
        assert_eq!(
            msgs,
            [(1, "user", "list files"), (2, "assistant", "two files")]
        );
        assert_eq!(d.tool_calls.len(), 2);
        assert_eq!(d.tool_calls[0].call_id, "c1");
        assert_eq!(d.tool_calls[0].arguments, json!({"cmd": "ls"}));
        assert_eq!(d.tool_calls[0].output.as_deref(), Some("a.txt\nb.txt"));
        assert_eq!(d.tool_calls[0].after_seq, 1);
        assert_eq!(d.tool_calls[1].output, None);
        assert_eq!(d.usage.input_tokens, 20);
        assert_eq!(d.usage.total_tokens, 30);
        assert_eq!(d.usage.cached_input_tokens, 4);

        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["id"], json!(s.id), "session fields are flattened");
        assert_eq!(v["messages"][1]["content"], json!("two files"));
        assert_eq!(v["tool_calls"][0]["name"], json!("shell"));
    }

    #[test]
    fn delete_cascades() {
        let (_dir, store) = store();
        let s = store.create("auto", "p", "m").unwrap();
        let keep = store.create("auto", "p", "m").unwrap();
        store.add_message(&s.id, "user", "x").unwrap();
        store.add_tool_call(&s.id, "c", "t", &json!(null)).unwrap();
        store.add_usage(&s.id, &Usage::default()).unwrap();
        store.add_message(&keep.id, "user", "y").unwrap();
        assert!(store.delete(&s.id).unwrap());
        assert!(!store.delete(&s.id).unwrap());
        for table in ["messages", "tool_calls", "usage"] {
            let n: i64 = store
                .conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE session_id = ?1"),
                    [&s.id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        assert_eq!(store.get(&keep.id).unwrap().unwrap().messages.len(), 1);
    }

    #[test]
    fn resolve_by_prefix() {
        let (_dir, store) = store();
        for id in [
            "20240101T000000-aaaa1111",
            "20240101T000000-aaaa2222",
            "20240102T000000-bbbb0000",
        ] {
            store
                .conn
                .execute(
                    "INSERT INTO sessions (id, created_at, updated_at, runtime, provider, model, activity)
                     VALUES (?1, 'x', 'x', 'auto', 'p', 'm', 0)",
                    [id],
                )
                .unwrap();
        }
        assert_eq!(
            store.resolve("20240102").unwrap().id,
            "20240102T000000-bbbb0000"
        );
        assert_eq!(
            store.resolve("20240101T000000-aaaa2222").unwrap().id,
            "20240101T000000-aaaa2222"
        );
        let err = store.resolve("20240101").unwrap_err();
        assert_eq!(err.exit, crate::error::Exit::Usage);
        assert!(
            err.message.contains("aaaa1111") && err.message.contains("aaaa2222"),
            "{}",
            err.message
        );
        let err = store.resolve("2025").unwrap_err();
        assert_eq!(err.exit, crate::error::Exit::Usage);
        assert!(
            err.message.contains("talaria sessions list"),
            "{}",
            err.message
        );
        // Wildcards in user input are literal.
        assert!(store.resolve("%").is_err());
        assert!(store.resolve("").is_err());
    }

    #[test]
    fn reopen_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.db");
        let id = {
            let store = SessionStore::open(&path).unwrap();
            let s = store.create("auto", "p", "m").unwrap();
            store.add_message(&s.id, "user", "remember me").unwrap();
            s.id
        };
        let store = SessionStore::open(&path).unwrap();
        assert_eq!(
            store.get(&id).unwrap().unwrap().messages[0].content,
            "remember me"
        );
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn garbage_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.db");
        let garbage = b"this is definitely not a sqlite database, just some text".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = SessionStore::open(&path).err().unwrap();
        assert_eq!(err.exit, crate::error::Exit::Failure);
        assert!(
            err.message.contains(&path.display().to_string()),
            "{}",
            err.message
        );
        assert!(err.message.contains("move it aside"), "{}", err.message);
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["sessions.db"], "no journal or WAL files created");
    }

    #[test]
    fn open_existing_does_not_create() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.db");
        assert!(SessionStore::open_existing(&path).unwrap().is_none());
        assert!(!path.exists());
    }
}
