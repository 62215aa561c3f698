//! The pool methods: list, remove, logout, resolve an endpoint, and recover from a
//! failed request (refresh, adopt, cool down, rotate).

use serde_json::Value;
use talaria_sdk::provider::{Account, Endpoint, FailureReport, LogoutResult, ResolveRequest};
use talaria_sdk::time::now_secs;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::endpoint;
use crate::refresh::{Locked, Outcome};
use crate::store::{parse_pool, pool_to_value, Entry, Pool, SOURCE_CODEX_IMPORT};
use crate::{CodexProvider, Handed, PROVIDER_ID};

/// A 401 that survives a refresh benches the credential for this long.
const UNAUTHORIZED_COOLDOWN_SECS: u64 = 5 * 60;
/// A 429 with no hint of when the limit resets benches the credential for this long.
const RATE_LIMIT_COOLDOWN_SECS: u64 = 3600;

/// What the 401 handler decided under the lock.
enum Recovery {
    /// Another process stored newer tokens: use them.
    Adopt(Entry),
    /// We refreshed: use the new tokens.
    Refreshed(Entry),
    /// The credential is gone or dead: move on to another.
    Rotate,
    /// It still fails after a refresh: benched, move on to another.
    CooledDown(String),
}

impl CodexProvider {
    pub(crate) fn load_pool(&self) -> Result<Pool> {
        parse_pool(&self.host.credentials(PROVIDER_ID)?)
    }

    pub(crate) fn accounts(&self) -> Result<Vec<Account>> {
        let strategy = self.strategy()?;
        Ok(self.load_pool()?.accounts(strategy, now_secs()))
    }

    pub(crate) fn remove_account(&self, index: usize) -> Result<Account> {
        let strategy = self.strategy()?;
        let mut removed = None;
        self.host.update_credentials(PROVIDER_ID, |current| {
            let mut pool = parse_pool(&current)?;
            let n = pool.credentials.len();
            if n == 0 {
                return Err(Error::invalid(format!("no {PROVIDER_ID} accounts are stored; `talaria login` adds one")));
            }
            if index == 0 || index > n {
                let range = if n == 1 { "1".to_owned() } else { format!("1 to {n}") };
                return Err(Error::invalid(format!(
                    "there is no {PROVIDER_ID} account {index}: choose {range} (see `talaria auth list`)"
                )));
            }
            let now = now_secs();
            let account = pool.accounts(strategy, now).swap_remove(index - 1);
            let entry = pool.credentials.remove(index - 1);
            if pool.current.as_deref() == Some(entry.id.as_str()) {
                pool.current = None;
            }
            removed = Some(account);
            Ok(Some(pool_to_value(&pool)?))
        })?;
        let account =
            removed.ok_or_else(|| Error::other("the credential store did not run the removal"))?;
        self.handed().remove(&account.id);
        self.host.info_log(&format!(
            "removed {PROVIDER_ID} credential {}",
            account.label
        ));
        Ok(account)
    }

    pub(crate) fn logout(&self) -> Result<LogoutResult> {
        let mut removed = 0;
        let mut imported = false;
        self.host.update_credentials(PROVIDER_ID, |current| {
            if current.is_null() {
                removed = 0;
                return Ok(None);
            }
            // Count leniently: a value we cannot parse is still removed (that is what
            // the user asked for), and counts as one.
            let entries = current.get("credentials").and_then(Value::as_array);
            removed = entries.map_or(1, Vec::len);
            imported = entries.is_some_and(|list| {
                list.iter()
                    .any(|e| e.get("source").and_then(Value::as_str) == Some(SOURCE_CODEX_IMPORT))
            });
            Ok(Some(Value::Null))
        })?;
        self.handed().clear();
        self.host.info_log(&format!(
            "logged out of {PROVIDER_ID} ({removed} credentials removed)"
        ));
        let note = imported.then(|| {
            "the Codex CLI's own login ($CODEX_HOME/auth.json) was not touched; sign out there with `codex logout`".to_owned()
        });
        Ok(LogoutResult { removed, note })
    }

    /// Picks the credential for the next request and records it as current (under the
    /// lock, and only when that changes something).
    fn pick(&self) -> Result<Entry> {
        let strategy = self.strategy()?;
        let pool = self.load_pool()?;
        let now = now_secs();
        let Some(index) = pool.pick(strategy, now) else {
            return Err(pool.unusable_error(now));
        };
        if !pool.clone().select(index, strategy) {
            return Ok(pool.credentials[index].clone());
        }
        let mut picked = Err(Error::other(
            "the credential store did not run the selection",
        ));
        self.host.update_credentials(PROVIDER_ID, |current| {
            // Re-pick on the value under the lock: another process may have moved on.
            let mut pool = parse_pool(&current)?;
            let now = now_secs();
            let Some(index) = pool.pick(strategy, now) else {
                picked = Err(pool.unusable_error(now));
                return Ok(None);
            };
            let changed = pool.select(index, strategy);
            picked = Ok(pool.credentials[index].clone());
            if changed {
                Ok(Some(pool_to_value(&pool)?))
            } else {
                Ok(None)
            }
        })?;
        picked
    }

    pub(crate) fn resolve(&self, request: &ResolveRequest) -> Result<Endpoint> {
        // Each pass either returns or quarantines one more credential, so the pool size
        // bounds the loop; the extra passes only guard against a store that changes
        // under us.
        for _ in 0..self.load_pool()?.credentials.len() + 2 {
            let entry = self.pick()?;
            if !entry.refresh_due(now_secs()) {
                return self.hand_out(&entry, request, false);
            }
            match self.refresh_entry(&entry.id)? {
                Outcome::Fresh(fresh) => return self.hand_out(&fresh, request, false),
                Outcome::Quarantined => continue,
            }
        }
        Err(self.load_pool()?.unusable_error(now_secs()))
    }

    /// Builds the endpoint and remembers which access token went out. `forced` says a
    /// forced refresh already ran for this request; a fresh `resolve` clears it.
    fn hand_out(&self, entry: &Entry, request: &ResolveRequest, forced: bool) -> Result<Endpoint> {
        let Some(access) = entry.access_token() else {
            return Err(Error::new(
                ErrorKind::Auth,
                format!("the {PROVIDER_ID} login {} has no access token; run `talaria login` (sign in as {})", entry.label, entry.label),
            ));
        };
        self.handed().insert(
            entry.id.clone(),
            Handed {
                access_token: access.to_owned(),
                forced,
            },
        );
        Ok(endpoint::build(
            &self.base_url,
            &self.user_agent,
            entry,
            access,
            request,
        ))
    }

    pub(crate) fn report(&self, report: &FailureReport) -> Result<Endpoint> {
        match report.status {
            401 | 403 => self.recover_unauthorized(report),
            429 => self.recover_rate_limited(report),
            other => Err(Error::invalid(format!(
                "provider.report handles 401, 403 and 429, not {other}: retry or fail the request as usual"
            ))),
        }
    }

    /// The credential a report is about: the one it names, else the current one.
    fn reported_credential(&self, report: &FailureReport) -> Result<Option<String>> {
        if let Some(id) = report.credential.as_deref().filter(|id| !id.is_empty()) {
            return Ok(Some(id.to_owned()));
        }
        Ok(self.load_pool()?.current)
    }

    fn recover_unauthorized(&self, report: &FailureReport) -> Result<Endpoint> {
        let Some(id) = self.reported_credential(report)? else {
            return self.resolve(&report.request);
        };
        let handed = self.handed().get(&id).cloned();
        let mut recovery = None;
        self.host.update_credentials(PROVIDER_ID, |current| {
            let mut pool = parse_pool(&current)?;
            let now = now_secs();
            let Some(entry) = pool.get_mut(&id) else {
                recovery = Some(Recovery::Rotate);
                return Ok(None);
            };
            if entry.is_quarantined() {
                recovery = Some(Recovery::Rotate);
                return Ok(None);
            }
            // Another process refreshed since we handed our token out: theirs is newer.
            let replaced = handed
                .as_ref()
                .is_some_and(|h| entry.access_token() != Some(h.access_token.as_str()));
            if replaced && !entry.refresh_due(now) {
                recovery = Some(Recovery::Adopt(entry.clone()));
                return Ok(None);
            }
            // One forced refresh per request; a newer stored token that is already due
            // is refreshed as well (it is not the one that failed).
            if replaced || !handed.as_ref().is_some_and(|h| h.forced) {
                return match self.refresh_locked(entry, now) {
                    Locked::Refreshed => {
                        recovery = Some(Recovery::Refreshed(entry.clone()));
                        Ok(Some(pool_to_value(&pool)?))
                    }
                    Locked::Quarantined => {
                        recovery = Some(Recovery::Rotate);
                        Ok(Some(pool_to_value(&pool)?))
                    }
                    Locked::Failed(e) => Err(e),
                };
            }
            entry.cooldown_until = Some(now + UNAUTHORIZED_COOLDOWN_SECS);
            entry.cooldown_reason = Some(
                if report.status == 403 {
                    "403 forbidden"
                } else {
                    "401 unauthorized"
                }
                .to_owned(),
            );
            recovery = Some(Recovery::CooledDown(entry.label.clone()));
            Ok(Some(pool_to_value(&pool)?))
        })?;
        let forced_before = handed.as_ref().is_some_and(|h| h.forced);
        match recovery
            .ok_or_else(|| Error::other("the credential store did not run the recovery"))?
        {
            Recovery::Adopt(entry) => self.hand_out(&entry, &report.request, forced_before),
            Recovery::Refreshed(entry) => self.hand_out(&entry, &report.request, true),
            Recovery::Rotate => self.resolve(&report.request),
            Recovery::CooledDown(label) => {
                self.host.warn_log(&format!(
                    "{PROVIDER_ID} credential {label} was rejected ({}) even after a refresh; benched for 5 minutes",
                    report.status
                ));
                self.resolve(&report.request).map_err(|e| match e.kind {
                    // Nothing else to rotate to: the user must sign in again.
                    ErrorKind::RateLimited | ErrorKind::Auth => Error::new(
                        ErrorKind::Auth,
                        format!(
                            "the Codex backend keeps rejecting the {PROVIDER_ID} login {label} ({}) even after a token refresh, \
                             and no other account is usable; run `talaria login` (sign in as {label})",
                            report.status
                        ),
                    ),
                    _ => e,
                })
            }
        }
    }

    fn recover_rate_limited(&self, report: &FailureReport) -> Result<Endpoint> {
        let Some(id) = self.reported_credential(report)? else {
            return self.resolve(&report.request);
        };
        let now = now_secs();
        let until = report
            .reset_at
            .or_else(|| report.retry_after_secs.map(|s| now.saturating_add(s)))
            .unwrap_or(now + RATE_LIMIT_COOLDOWN_SECS);
        let mut label = None;
        self.host.update_credentials(PROVIDER_ID, |current| {
            let mut pool = parse_pool(&current)?;
            let Some(entry) = pool.get_mut(&id) else {
                return Ok(None);
            };
            // Keep the later of two limits (another process may have seen a longer one).
            entry.cooldown_until = Some(entry.cooldown_until.map_or(until, |t| t.max(until)));
            entry.cooldown_reason = Some("rate limited (429)".to_owned());
            label = Some(entry.label.clone());
            Ok(Some(pool_to_value(&pool)?))
        })?;
        if let Some(label) = label {
            self.host.info_log(&format!(
                "{PROVIDER_ID} credential {label} is rate-limited for {}; rotating",
                talaria_sdk::text::duration_words(until.saturating_sub(now))
            ));
        }
        self.resolve(&report.request)
    }
}
