//! Token refresh, safe across processes.
//!
//! Refresh tokens are single-use: two processes refreshing with the same one sign each
//! other out. So every refresh runs inside `Host::update_credentials`, which holds the
//! store's cross-process lock and hands us the value as it is on disk *now*. If another
//! process already rotated the tokens, we adopt them and make no request; otherwise we
//! POST and write the result before the lock is released.

use talaria_sdk::time::now_secs;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::issuer::{self, terminal_detail, RefreshFailure};
use crate::store::{parse_pool, pool_to_value, rfc3339, Entry};
use crate::{CodexProvider, PROVIDER_ID};

/// What a refresh left behind.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Usable tokens: new ones, or ones another process stored.
    Fresh(Box<Entry>),
    /// The credential needs a new sign-in (now or already); move on to another.
    Quarantined,
}

/// The result of the refresh step run under the lock, on the re-read entry.
pub enum Locked {
    Refreshed,
    Quarantined,
    Failed(Error),
}

impl CodexProvider {
    /// Refreshes credential `id` before use, if it still needs it once the lock is held.
    /// (A 401 takes its own path under the lock: see `pool.rs`.)
    pub(crate) fn refresh_entry(&self, id: &str) -> Result<Outcome> {
        let mut outcome = None;
        self.host.update_credentials(PROVIDER_ID, |current| {
            let mut pool = parse_pool(&current)?;
            let now = now_secs();
            let Some(entry) = pool.get_mut(id) else {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!("the {PROVIDER_ID} login was removed while in use (a logout or `talaria auth remove`); run `talaria login`"),
                ));
            };
            if entry.is_quarantined() {
                // Another process found it dead. Never try its tokens again.
                outcome = Some(Outcome::Quarantined);
                return Ok(None);
            }
            // Another process may have refreshed while we waited for the lock.
            if !entry.refresh_due(now) {
                outcome = Some(Outcome::Fresh(Box::new(entry.clone())));
                return Ok(None);
            }
            match self.refresh_locked(entry, now) {
                Locked::Refreshed => {
                    outcome = Some(Outcome::Fresh(Box::new(entry.clone())));
                    Ok(Some(pool_to_value(&pool)?))
                }
                Locked::Quarantined => {
                    outcome = Some(Outcome::Quarantined);
                    Ok(Some(pool_to_value(&pool)?))
                }
                Locked::Failed(e) => Err(e),
            }
        })?;
        outcome.ok_or_else(|| Error::other("the credential store did not run the refresh"))
    }

    /// The refresh itself, on an entry of the pool re-read under the lock. Changes the
    /// entry in place; the caller writes the pool back when the result says so.
    pub(crate) fn refresh_locked(&self, entry: &mut Entry, now: u64) -> Locked {
        let Some(refresh_token) = entry.refresh_token().map(str::to_owned) else {
            let code = "missing_refresh_token";
            entry.quarantine(code, &terminal_detail(code));
            self.host.warn_log(&format!(
                "{PROVIDER_ID} credential {} has no refresh token; it needs a new sign-in",
                entry.label
            ));
            return Locked::Quarantined;
        };
        let client = match self.http.client() {
            Ok(c) => c,
            Err(e) => return Locked::Failed(e),
        };
        let result = match issuer::refresh(client, &self.issuer, &refresh_token) {
            Ok(r) => r,
            Err(e) => return Locked::Failed(e),
        };
        match result {
            Ok(tokens) => {
                if let Some(id_token) = tokens.id_token.filter(|t| !t.is_empty()) {
                    entry.tokens.id_token = Some(id_token);
                }
                entry.tokens.access_token = tokens.access_token;
                // Some issuers do not rotate on every refresh: keep the old one then.
                if let Some(rt) = tokens.refresh_token.filter(|t| !t.is_empty()) {
                    entry.tokens.refresh_token = Some(rt);
                }
                entry.absorb_claims();
                entry.last_refresh = Some(rfc3339(now));
                entry.clear_status();
                self.host.info_log(&format!(
                    "refreshed {PROVIDER_ID} credential {}",
                    entry.label
                ));
                Locked::Refreshed
            }
            Err(RefreshFailure::Terminal { status, code }) => {
                entry.quarantine(&code, &terminal_detail(&code));
                self.host.warn_log(&format!(
                    "{PROVIDER_ID} credential {} needs a new sign-in: the token refresh answered {status} {code}",
                    entry.label
                ));
                Locked::Quarantined
            }
            Err(failure) => {
                let error = failure.to_error(&entry.label);
                self.host.warn_log(&format!(
                    "refreshing {PROVIDER_ID} credential {} failed: {}",
                    entry.label, error.message
                ));
                Locked::Failed(error)
            }
        }
    }
}
