//! The stored state (the value under `providers["openai-codex"]` in the profile's
//! auth.json), choosing a credential from the pool, and what `auth list` shows.
//!
//! Everything here is pure: callers load the value through the host, change it here and
//! write it back under the host's lock.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use talaria_sdk::provider::{Account, AccountStatus};
use talaria_sdk::time::now_secs;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::jwt::Claims;
use crate::PROVIDER_ID;

/// Refresh this long before the access token expires, so a request never leaves with a
/// token that dies in flight.
pub const REFRESH_MARGIN_SECS: u64 = 120;
/// With no `exp` claim to go by, refresh tokens older than this (the Codex CLI's rule).
pub const MAX_TOKEN_AGE_SECS: u64 = 8 * 24 * 3600;

pub const STATUS_OK: &str = "ok";
pub const STATUS_NEEDS_RELOGIN: &str = "needs_relogin";

pub const SOURCE_DEVICE_CODE: &str = "device_code";
pub const SOURCE_CODEX_IMPORT: &str = "codex_import";
pub const SOURCE_AUTH_ADD: &str = "auth_add";

/// The whole provider value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub credentials: Vec<Entry>,
    /// Fields a newer talaria wrote; kept on rewrite.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One pooled credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<String>,
    #[serde(default = "ok_status", skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_reason: Option<String>,
    #[serde(default)]
    pub request_count: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn ok_status() -> String {
    STATUS_OK.to_owned()
}

/// `Debug` by hand (below): a debug print reaches logs and panic messages.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Tokens as an issuer hands them out (exchange, refresh, or the Codex file).
#[derive(Clone, Default, PartialEq, Deserialize)]
pub struct IssuedTokens {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `Some("[redacted]")` or `None`: whether a token is there, never the token.
fn presence(token: &Option<String>) -> Option<&'static str> {
    token.as_ref().map(|_| "[redacted]")
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("id_token", &presence(&self.id_token))
            .field("access_token", &presence(&self.access_token))
            .field("refresh_token", &presence(&self.refresh_token))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("id_token", &presence(&self.id_token))
            .field("access_token", &presence(&self.access_token))
            .field("refresh_token", &presence(&self.refresh_token))
            .finish()
    }
}

/// Which credential the next request uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Use the first usable credential; later ones only while it cannot be used.
    #[default]
    FillFirst,
    /// Spread requests over all usable credentials in turn.
    RoundRobin,
}

impl Strategy {
    /// Reads `pool_strategy` from the plugin's config section.
    pub fn from_config(config: Option<&Value>) -> Result<Strategy> {
        let Some(value) = config
            .and_then(|c| c.get("pool_strategy"))
            .filter(|v| !v.is_null())
        else {
            return Ok(Strategy::FillFirst);
        };
        match value.as_str() {
            Some("fill_first") => Ok(Strategy::FillFirst),
            Some("round_robin") => Ok(Strategy::RoundRobin),
            _ => Err(Error::invalid(format!(
                "[plugin_config.openai-codex] pool_strategy = {value} is not supported: use \"fill_first\" (the default) or \"round_robin\""
            ))),
        }
    }
}

pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(text.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// A fresh entry id: `c-` and 12 hex digits. The std hasher is seeded randomly per
/// process, which is enough to keep ids apart within one pool (collisions are re-drawn).
pub fn new_entry_id(pool: &Pool) -> String {
    let mut n: u64 = 0;
    loop {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(now_secs());
        h.write_u32(std::process::id());
        h.write_u64(n);
        let id = format!("c-{:012x}", h.finish() & 0xffff_ffff_ffff);
        if !pool.credentials.iter().any(|e| e.id == id) {
            return id;
        }
        n += 1;
    }
}

/// Parses the stored value. Null is an empty pool; anything unreadable is an error that
/// says how to recover, never a silent reset.
pub fn parse_pool(value: &Value) -> Result<Pool> {
    if value.is_null() {
        return Ok(Pool::default());
    }
    serde_json::from_value::<Pool>(value.clone()).map_err(|e| {
        Error::new(
            ErrorKind::Auth,
            format!(
                "the stored {PROVIDER_ID} credentials in auth.json are unreadable ({e}); run `talaria login` to sign in again \
                 (the unreadable value is kept in the new login's record)"
            ),
        )
    })
}

pub fn pool_to_value(pool: &Pool) -> Result<Value> {
    serde_json::to_value(pool)
        .map_err(|e| Error::other(format!("cannot encode the {PROVIDER_ID} credentials: {e}")))
}

impl Entry {
    pub fn is_quarantined(&self) -> bool {
        self.status == STATUS_NEEDS_RELOGIN
    }

    pub fn cooling_until(&self, now: u64) -> Option<u64> {
        self.cooldown_until.filter(|t| *t > now)
    }

    pub fn has_tokens(&self) -> bool {
        let present = |t: &Option<String>| t.as_deref().is_some_and(|s| !s.is_empty());
        present(&self.tokens.access_token) || present(&self.tokens.refresh_token)
    }

    pub fn is_usable(&self, now: u64) -> bool {
        !self.is_quarantined() && self.cooling_until(now).is_none() && self.has_tokens()
    }

    pub fn access_token(&self) -> Option<&str> {
        self.tokens
            .access_token
            .as_deref()
            .filter(|s| !s.is_empty())
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.tokens
            .refresh_token
            .as_deref()
            .filter(|s| !s.is_empty())
    }

    pub fn access_claims(&self) -> Claims {
        Claims::of(self.access_token())
    }

    pub fn id_claims(&self) -> Claims {
        Claims::of(self.tokens.id_token.as_deref())
    }

    pub fn access_expires_at(&self) -> Option<u64> {
        self.access_claims().exp()
    }

    /// The access token should be refreshed before it is used.
    pub fn refresh_due(&self, now: u64) -> bool {
        if self.access_token().is_none() {
            return true;
        }
        match self.access_expires_at() {
            Some(exp) => exp <= now + REFRESH_MARGIN_SECS,
            // No expiry to go by: refresh by age. With no age either, leave it to a 401.
            None => self
                .last_refresh
                .as_deref()
                .and_then(parse_rfc3339)
                .is_some_and(|at| now.saturating_sub(at) > MAX_TOKEN_AGE_SECS),
        }
    }

    pub fn plan(&self) -> Option<String> {
        self.plan
            .clone()
            .or_else(|| self.id_claims().plan())
            .or_else(|| self.access_claims().plan())
    }

    /// Who this credential signs in as, from the stored fields or, failing those, its tokens.
    pub fn identity(&self) -> Identity {
        let (id, access) = (self.id_claims(), self.access_claims());
        Identity {
            user_id: self
                .user_id
                .clone()
                .or_else(|| id.user_id())
                .or_else(|| access.user_id()),
            account_id: self
                .account_id
                .clone()
                .or_else(|| id.account_id())
                .or_else(|| access.account_id()),
            email: self
                .email
                .clone()
                .or_else(|| id.email())
                .or_else(|| access.email()),
        }
    }

    /// Copies what the tokens say about the account into the entry's fields.
    pub fn absorb_claims(&mut self) {
        let (id, access) = (self.id_claims(), self.access_claims());
        if let Some(email) = id.email().or_else(|| access.email()) {
            self.email = Some(email);
        }
        if let Some(account) = id.account_id().or_else(|| access.account_id()) {
            self.account_id = Some(account);
        }
        if let Some(user) = id.user_id().or_else(|| access.user_id()) {
            self.user_id = Some(user);
        }
        if let Some(plan) = id.plan().or_else(|| access.plan()) {
            self.plan = Some(plan);
        }
    }

    /// Back to a healthy entry (after a refresh or a new login).
    pub fn clear_status(&mut self) {
        self.status = STATUS_OK.to_owned();
        self.status_code = None;
        self.status_detail = None;
        self.cooldown_until = None;
        self.cooldown_reason = None;
    }

    /// Marks the entry as needing a new sign-in and drops the tokens that no longer work.
    /// The id token stays: it still names the account for `auth list` and identity.
    pub fn quarantine(&mut self, code: &str, detail: &str) {
        self.status = STATUS_NEEDS_RELOGIN.to_owned();
        self.status_code = Some(code.to_owned());
        self.status_detail = Some(detail.to_owned());
        self.tokens.access_token = None;
        self.tokens.refresh_token = None;
        self.cooldown_until = None;
        self.cooldown_reason = None;
    }

    pub fn status(&self, now: u64) -> AccountStatus {
        if self.is_quarantined() || !self.has_tokens() {
            AccountStatus::NeedsRelogin
        } else if self.cooling_until(now).is_some() {
            AccountStatus::RateLimited
        } else if self.access_expires_at().is_some_and(|exp| exp <= now) {
            AccountStatus::Expired
        } else {
            AccountStatus::Ok
        }
    }

    /// Why the entry cannot be used, in words, for error messages.
    pub fn unusable_reason(&self) -> String {
        if let Some(detail) = &self.status_detail {
            return detail.clone();
        }
        if !self.has_tokens() {
            return "it has no stored tokens".to_owned();
        }
        "it needs a new sign-in".to_owned()
    }

    /// The entry as `auth list` shows it: never a token.
    pub fn to_account(&self, index: usize, current: bool, now: u64) -> Account {
        let status = self.status(now);
        let status_detail = match status {
            AccountStatus::NeedsRelogin => Some(self.unusable_reason()),
            AccountStatus::RateLimited => self.cooldown_reason.clone(),
            AccountStatus::Expired => {
                Some("the access token has expired; it is refreshed on next use".to_owned())
            }
            _ => None,
        };
        let identity = self.identity();
        Account {
            index: index + 1,
            id: self.id.clone(),
            label: self.label.clone(),
            kind: "oauth".to_owned(),
            source: self.source.clone(),
            status,
            status_detail,
            available_at: self.cooling_until(now),
            expires_at: self.access_expires_at(),
            current,
            email: identity.email,
            plan: self.plan(),
            account_id: identity.account_id,
        }
    }
}

/// Who a credential belongs to: one ChatGPT user in one ChatGPT account (workspace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub user_id: Option<String>,
    pub account_id: Option<String>,
    pub email: Option<String>,
}

impl Identity {
    pub fn from_tokens(id_token: Option<&str>, access_token: Option<&str>) -> Identity {
        let (id, access) = (Claims::of(id_token), Claims::of(access_token));
        Identity {
            user_id: id.user_id().or_else(|| access.user_id()),
            account_id: id.account_id().or_else(|| access.account_id()),
            email: id.email().or_else(|| access.email()),
        }
    }

    /// Same user in the same workspace; by email only when neither side has ids.
    pub fn same_as(&self, other: &Identity) -> bool {
        let has_ids = |i: &Identity| i.user_id.is_some() || i.account_id.is_some();
        if has_ids(self) || has_ids(other) {
            return has_ids(self)
                && self.user_id == other.user_id
                && self.account_id == other.account_id;
        }
        match (&self.email, &other.email) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

impl Pool {
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.credentials.iter().position(|e| e.id == id)
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.credentials.iter().find(|e| e.id == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.credentials.iter_mut().find(|e| e.id == id)
    }

    /// The entry the next request should use under `strategy`, or None when none is usable.
    pub fn pick(&self, strategy: Strategy, now: u64) -> Option<usize> {
        let usable = |i: &usize| self.credentials[*i].is_usable(now);
        let n = self.credentials.len();
        match strategy {
            Strategy::FillFirst => (0..n).find(usable),
            Strategy::RoundRobin => {
                let start = self
                    .current
                    .as_deref()
                    .and_then(|id| self.index_of(id))
                    .map_or(0, |i| i + 1);
                (0..n).map(|k| (start + k) % n).find(usable)
            }
        }
    }

    /// Makes `index` the current entry; true when anything changed that must be stored.
    pub fn select(&mut self, index: usize, strategy: Strategy) -> bool {
        let id = self.credentials[index].id.clone();
        let changed = self.current.as_deref() != Some(id.as_str());
        if strategy == Strategy::RoundRobin || changed {
            self.current = Some(id);
            self.credentials[index].request_count += 1;
            true
        } else {
            false
        }
    }

    /// The accounts as `auth list` shows them.
    pub fn accounts(&self, strategy: Strategy, now: u64) -> Vec<Account> {
        let next = self.pick(strategy, now);
        self.credentials
            .iter()
            .enumerate()
            .map(|(i, e)| e.to_account(i, Some(i) == next, now))
            .collect()
    }

    /// The next free generated label.
    pub fn generated_label(&self) -> String {
        (1..)
            .map(|n| format!("{PROVIDER_ID}-oauth-{n}"))
            .find(|label| !self.credentials.iter().any(|e| &e.label == label))
            .unwrap_or_else(|| format!("{PROVIDER_ID}-oauth"))
    }

    /// The error for "nothing to use": not logged in, everything needs a new sign-in, or
    /// everything is cooling down.
    pub fn unusable_error(&self, now: u64) -> Error {
        if self.credentials.is_empty() {
            return not_logged_in();
        }
        let cooling: Vec<u64> = self
            .credentials
            .iter()
            .filter(|e| !e.is_quarantined() && e.has_tokens())
            .filter_map(|e| e.cooling_until(now))
            .collect();
        if let Some(first) = cooling.iter().min() {
            let n = self.credentials.len();
            let what = if n == 1 {
                format!("the {PROVIDER_ID} account is")
            } else {
                format!("all {n} {PROVIDER_ID} accounts are")
            };
            let first_word = if n == 1 { "it" } else { "the first" };
            return Error::new(
                ErrorKind::RateLimited,
                format!(
                    "{what} rate-limited; {first_word} is usable again in {}",
                    talaria_sdk::text::duration_words(first.saturating_sub(now))
                ),
            )
            .with_data(serde_json::json!({ "available_at": first }));
        }
        let details: Vec<String> = self
            .credentials
            .iter()
            .map(|e| {
                format!(
                    "{}: {}; run `talaria login` (sign in as {})",
                    e.label,
                    e.unusable_reason(),
                    e.label
                )
            })
            .collect();
        Error::new(
            ErrorKind::Auth,
            format!(
                "every {PROVIDER_ID} login needs a new sign-in:\n  {}",
                details.join("\n  ")
            ),
        )
    }
}

pub fn not_logged_in() -> Error {
    Error::new(
        ErrorKind::Auth,
        format!("not logged in to {PROVIDER_ID}: run `talaria login`"),
    )
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use serde_json::json;
    use talaria_tests::mock::mint_jwt;

    pub fn access_jwt(exp: u64, account: &str) -> String {
        mint_jwt(
            &json!({"exp": exp, "https://api.openai.com/auth": {"chatgpt_account_id": account}}),
        )
    }

    /// A panic message or log line that debug-prints a credential shows no token.
    #[test]
    fn debug_prints_of_tokens_hide_them() {
        let tokens = Tokens {
            id_token: Some("id-SECRET-0123456789".into()),
            access_token: Some("acc-SECRET-0123456789".into()),
            refresh_token: Some("ref-SECRET-0123456789".into()),
            extra: Map::new(),
        };
        let issued = IssuedTokens {
            id_token: tokens.id_token.clone(),
            access_token: tokens.access_token.clone(),
            refresh_token: None,
        };
        let mut pool = Pool::default();
        pool.credentials.push(Entry {
            tokens: tokens.clone(),
            ..entry("a", "a", 1)
        });
        for printed in [
            format!("{tokens:?}"),
            format!("{issued:?}"),
            format!("{pool:#?}"),
        ] {
            assert!(!printed.contains("SECRET"), "{printed}");
            assert!(printed.contains("access_token"), "{printed}");
        }
    }

    pub fn entry(id: &str, label: &str, exp: u64) -> Entry {
        Entry {
            id: id.into(),
            label: label.into(),
            source: SOURCE_DEVICE_CODE.into(),
            tokens: Tokens {
                access_token: Some(access_jwt(exp, "acc")),
                refresh_token: Some(format!("rt-{id}")),
                ..Default::default()
            },
            status: STATUS_OK.into(),
            ..Default::default()
        }
    }

    fn pool(entries: Vec<Entry>, current: Option<&str>) -> Pool {
        Pool {
            current: current.map(Into::into),
            credentials: entries,
            extra: Map::new(),
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn fill_first_takes_the_first_usable() {
        let mut a = entry("a", "a", NOW + 3600);
        let b = entry("b", "b", NOW + 3600);
        let p = pool(vec![a.clone(), b.clone()], Some("b"));
        assert_eq!(p.pick(Strategy::FillFirst, NOW), Some(0));
        a.cooldown_until = Some(NOW + 10);
        let p = pool(vec![a.clone(), b.clone()], None);
        assert_eq!(p.pick(Strategy::FillFirst, NOW), Some(1));
        // A cooldown in the past is over.
        assert_eq!(p.pick(Strategy::FillFirst, NOW + 10), Some(0));
        a.cooldown_until = None;
        a.quarantine("refresh_token_reused", "reused");
        let p = pool(vec![a, b], None);
        assert_eq!(p.pick(Strategy::FillFirst, NOW), Some(1));
    }

    #[test]
    fn round_robin_goes_round_and_skips_the_unusable() {
        let entries = vec![
            entry("a", "a", NOW + 3600),
            entry("b", "b", NOW + 3600),
            entry("c", "c", NOW + 3600),
        ];
        let mut p = pool(entries, None);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let i = p.pick(Strategy::RoundRobin, NOW).unwrap();
            assert!(p.select(i, Strategy::RoundRobin));
            seen.push(p.credentials[i].id.clone());
        }
        assert_eq!(seen, ["a", "b", "c", "a"]);
        assert_eq!(p.credentials[0].request_count, 2);
        p.credentials[1].cooldown_until = Some(NOW + 60);
        p.credentials[2].quarantine("invalid_grant", "x");
        assert_eq!(
            p.pick(Strategy::RoundRobin, NOW),
            Some(0),
            "wraps past the unusable back to a"
        );
        p.credentials[0].tokens = Tokens::default();
        assert_eq!(p.pick(Strategy::RoundRobin, NOW), None);
    }

    #[test]
    fn fill_first_writes_only_when_current_changes() {
        let mut p = pool(vec![entry("a", "a", NOW + 3600)], Some("a"));
        assert!(!p.select(0, Strategy::FillFirst));
        assert_eq!(p.credentials[0].request_count, 0);
        p.current = None;
        assert!(p.select(0, Strategy::FillFirst));
        assert_eq!(p.current.as_deref(), Some("a"));
    }

    #[test]
    fn status_follows_quarantine_cooldown_and_expiry() {
        let mut e = entry("a", "a", NOW + 3600);
        assert_eq!(e.status(NOW), AccountStatus::Ok);
        assert_eq!(e.status(NOW + 3600), AccountStatus::Expired);
        e.cooldown_until = Some(NOW + 60);
        e.cooldown_reason = Some("rate limited (429)".into());
        let acc = e.to_account(0, false, NOW);
        assert_eq!(
            (acc.status, acc.available_at),
            (AccountStatus::RateLimited, Some(NOW + 60))
        );
        assert_eq!(acc.status_detail.as_deref(), Some("rate limited (429)"));
        e.quarantine("refresh_token_reused", "its refresh token was already used");
        let acc = e.to_account(2, true, NOW);
        assert_eq!(acc.status, AccountStatus::NeedsRelogin);
        assert_eq!(acc.index, 3);
        assert!(acc.current);
        assert_eq!(
            acc.status_detail.as_deref(),
            Some("its refresh token was already used")
        );
        assert_eq!(e.tokens.access_token, None);
        assert_eq!(e.tokens.refresh_token, None);
    }

    #[test]
    fn refresh_is_due_near_expiry_or_by_age() {
        let e = entry("a", "a", NOW + REFRESH_MARGIN_SECS + 1);
        assert!(!e.refresh_due(NOW));
        assert!(e.refresh_due(NOW + 1));
        let mut opaque = entry("b", "b", 0);
        opaque.tokens.access_token = Some("opaque".into());
        assert!(
            !opaque.refresh_due(NOW),
            "no exp and no age: leave it to a 401"
        );
        opaque.last_refresh = Some(rfc3339(NOW - MAX_TOKEN_AGE_SECS - 5));
        assert!(opaque.refresh_due(NOW));
        opaque.last_refresh = Some(rfc3339(NOW - 60));
        assert!(!opaque.refresh_due(NOW));
        opaque.tokens.access_token = None;
        assert!(opaque.refresh_due(NOW));
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let stored = json!({
            "current": "c-1",
            "future_pool_field": {"x": 1},
            "credentials": [{
                "id": "c-1", "label": "a@example.com", "source": "device_code",
                "tokens": {"id_token": "i", "access_token": "a", "refresh_token": "r", "account_id": "keep-me"},
                "status": "ok", "request_count": 3, "priority": 7, "note": "mine"
            }]
        });
        let mut p = parse_pool(&stored).unwrap();
        p.credentials[0].request_count += 1;
        let back = pool_to_value(&p).unwrap();
        assert_eq!(back["future_pool_field"], json!({"x": 1}));
        assert_eq!(back["credentials"][0]["priority"], 7);
        assert_eq!(back["credentials"][0]["note"], "mine");
        assert_eq!(back["credentials"][0]["tokens"]["account_id"], "keep-me");
        assert_eq!(back["credentials"][0]["request_count"], 4);
        // Optional fields stay out when empty.
        let e = back["credentials"][0].as_object().unwrap();
        for absent in ["email", "cooldown_until", "status_code", "last_refresh"] {
            assert!(!e.contains_key(absent), "{absent}");
        }
    }

    #[test]
    fn a_malformed_value_says_to_log_in() {
        for bad in [
            json!("x"),
            json!({"credentials": "nope"}),
            json!({"credentials": [{"label": "no id"}]}),
        ] {
            let err = parse_pool(&bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Auth);
            assert!(err.message.contains("talaria login"), "{}", err.message);
        }
        assert_eq!(parse_pool(&Value::Null).unwrap(), Pool::default());
    }

    #[test]
    fn identity_matches_on_ids_then_email() {
        let a = Identity {
            user_id: Some("u".into()),
            account_id: Some("w1".into()),
            email: Some("a@x".into()),
        };
        let same = Identity {
            email: Some("other@x".into()),
            ..a.clone()
        };
        let other_ws = Identity {
            account_id: Some("w2".into()),
            ..a.clone()
        };
        assert!(a.same_as(&same));
        assert!(
            !a.same_as(&other_ws),
            "same user, other workspace: a separate credential"
        );
        let by_mail = Identity {
            email: Some("A@X".into()),
            ..Default::default()
        };
        assert!(by_mail.same_as(&Identity {
            email: Some("a@x".into()),
            ..Default::default()
        }));
        assert!(
            !by_mail.same_as(&a),
            "ids on one side only: no match by email"
        );
        assert!(!Identity::default().same_as(&Identity::default()));
    }

    #[test]
    fn strategy_from_config() {
        assert_eq!(Strategy::from_config(None).unwrap(), Strategy::FillFirst);
        assert_eq!(
            Strategy::from_config(Some(&json!({"pool_strategy": "round_robin"}))).unwrap(),
            Strategy::RoundRobin
        );
        let err = Strategy::from_config(Some(&json!({"pool_strategy": "random"}))).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert!(
            err.message.contains("fill_first") && err.message.contains("round_robin"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unusable_errors_explain_what_to_do() {
        let err = pool(vec![], None).unusable_error(NOW);
        assert_eq!(err.kind, ErrorKind::Auth);
        assert!(err.message.contains("talaria login"));

        let mut a = entry("a", "a@example.com", NOW + 3600);
        a.quarantine(
            "refresh_token_reused",
            "its refresh token was already used by another client",
        );
        let err = pool(vec![a.clone()], None).unusable_error(NOW);
        assert_eq!(err.kind, ErrorKind::Auth);
        assert!(
            err.message
                .contains("a@example.com: its refresh token was already used"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("`talaria login` (sign in as a@example.com)"),
            "{}",
            err.message
        );

        let mut b = entry("b", "b", NOW + 3600);
        b.cooldown_until = Some(NOW + 12 * 60);
        let mut c = entry("c", "c", NOW + 3600);
        c.cooldown_until = Some(NOW + 3600);
        let err = pool(vec![b, c], None).unusable_error(NOW);
        assert_eq!(err.kind, ErrorKind::RateLimited);
        assert!(
            err.message.contains(
                "all 2 openai-codex accounts are rate-limited; the first is usable again in 12m"
            ),
            "{}",
            err.message
        );
        assert_eq!(err.data, Some(json!({"available_at": NOW + 720})));
    }

    #[test]
    fn times_format_and_parse() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-04-25T12:00:00Z"), Some(1_777_118_400));
        assert_eq!(
            parse_rfc3339("2026-04-25T12:00:00.123456Z"),
            Some(1_777_118_400)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn generated_labels_and_ids_are_unique() {
        let mut p = pool(vec![entry("a", "openai-codex-oauth-1", NOW)], None);
        assert_eq!(p.generated_label(), "openai-codex-oauth-2");
        let id = new_entry_id(&p);
        assert!(
            id.starts_with("c-")
                && id.len() == 14
                && id[2..].chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        p.credentials.push(Entry {
            id: id.clone(),
            ..Default::default()
        });
        assert_ne!(new_entry_id(&p), id);
    }
}
