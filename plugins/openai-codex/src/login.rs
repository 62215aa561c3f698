//! `provider.login`: the device-code sign-in or a Codex CLI import, and storing the
//! result in the pool.

use std::time::Instant;

use serde_json::Value;
use talaria_sdk::provider::{Account, LoginMode, LoginRequest};
use talaria_sdk::time::now_secs;
use talaria_sdk::{ApprovalKind, ApprovalRequest, CallContext, Error, ErrorKind, Event, Result};

use crate::codex_import::{self, CodexLogin};
use crate::issuer::{self, DEVICE_CODE_LIFETIME};
use crate::store::{
    new_entry_id, parse_pool, pool_to_value, rfc3339, Entry, Identity, IssuedTokens, Pool,
    Strategy, Tokens, SOURCE_AUTH_ADD, SOURCE_CODEX_IMPORT, SOURCE_DEVICE_CODE, STATUS_OK,
};
use crate::{CodexProvider, PROVIDER_ID};

/// Where unreadable stored credentials are kept when a login replaces them.
const UNREADABLE_KEY: &str = "unreadable_previous";

/// New tokens and where they came from, ready to store.
pub struct NewLogin {
    pub tokens: IssuedTokens,
    pub source: &'static str,
    /// From the Codex file's `tokens.account_id`, when the tokens carry no claim.
    pub account_id: Option<String>,
    pub last_refresh: Option<String>,
}

impl CodexProvider {
    pub(crate) fn login(&self, request: &LoginRequest, cx: &CallContext) -> Result<Account> {
        // Validate the config before anyone spends 15 minutes signing in.
        let strategy = self.strategy()?;
        match request.mode {
            LoginMode::ImportCodex => {
                let path = self.codex_auth_path(request)?;
                let login = codex_import::read(&path, now_secs())?;
                self.import(login, request, strategy, cx)
            }
            LoginMode::DeviceCode => {
                if !request.add_account {
                    if let Some(account) = self.offer_import(request, strategy, cx)? {
                        return Ok(account);
                    }
                }
                self.device_code_login(request, strategy, cx)
            }
        }
    }

    fn codex_auth_path(&self, request: &LoginRequest) -> Result<std::path::PathBuf> {
        codex_import::codex_home(request.codex_home.as_deref())
            .map(|home| codex_import::auth_file(&home))
            .ok_or_else(|| {
                Error::invalid(
                    "cannot tell where the Codex CLI keeps its login: set CODEX_HOME (or HOME)",
                )
            })
    }

    /// A plain login finds a usable Codex CLI login: ask whether to import it instead
    /// (a person is there), or say how to (nobody to ask). None = go on signing in.
    fn offer_import(
        &self,
        request: &LoginRequest,
        strategy: Strategy,
        cx: &CallContext,
    ) -> Result<Option<Account>> {
        let Ok(path) = self.codex_auth_path(request) else {
            return Ok(None);
        };
        let Ok(login) = codex_import::read(&path, now_secs()) else {
            return Ok(None);
        };
        if !request.interactive {
            cx.emit(&Event::Progress {
                message: format!(
                    "found a Codex CLI login at {}; `talaria login --import-codex` would reuse it. Signing in separately instead (recommended: the two clients would otherwise share one single-use refresh token)",
                    path.display()
                ),
            });
            return Ok(None);
        }
        let decision = cx.request_approval(&ApprovalRequest {
            kind: ApprovalKind::Question,
            call_id: String::new(),
            summary: format!(
                "import the Codex CLI login from {} instead of signing in again (a separate sign-in avoids the two clients signing each other out)",
                path.display()
            ),
            command: None,
            cwd: None,
            patch: None,
            tool: None,
            plugin: None,
        })?;
        if !decision.approved() {
            return Ok(None);
        }
        self.import(login, request, strategy, cx).map(Some)
    }

    fn import(
        &self,
        login: CodexLogin,
        request: &LoginRequest,
        strategy: Strategy,
        cx: &CallContext,
    ) -> Result<Account> {
        let path = login.path.clone();
        let account = self.store_login(
            NewLogin {
                tokens: login.tokens,
                source: SOURCE_CODEX_IMPORT,
                account_id: login.account_id,
                last_refresh: login.last_refresh,
            },
            request.add_account,
            strategy,
            cx,
        )?;
        cx.emit(&Event::Warning {
            message: format!(
                "imported the Codex CLI login from {} (the file is left as it was). talaria and the Codex CLI now share one single-use refresh token: \
                 whichever refreshes second is signed out. A separate `talaria login` avoids those sign-outs.",
                path.display()
            ),
        });
        self.host.info_log(&format!(
            "imported the Codex CLI login from {} as {PROVIDER_ID} credential {}",
            path.display(),
            account.label
        ));
        Ok(account)
    }

    fn device_code_login(
        &self,
        request: &LoginRequest,
        strategy: Strategy,
        cx: &CallContext,
    ) -> Result<Account> {
        let client = self.http.client()?;
        let code = issuer::request_device_code(client, &self.issuer, cx)?;
        let started = Instant::now();
        cx.emit(&Event::LoginCode {
            verification_url: format!("{}/codex/device", self.issuer),
            user_code: code.user_code.clone(),
            expires_in_secs: DEVICE_CODE_LIFETIME.as_secs(),
        });
        let authorization =
            issuer::poll_for_authorization(client, &self.issuer, &code, started, cx)?;
        cx.check_cancelled()?;
        let tokens = issuer::exchange_code(client, &self.issuer, &authorization, cx)?;
        let source = if request.add_account {
            SOURCE_AUTH_ADD
        } else {
            SOURCE_DEVICE_CODE
        };
        let account = self.store_login(
            NewLogin {
                tokens,
                source,
                account_id: None,
                last_refresh: None,
            },
            request.add_account,
            strategy,
            cx,
        )?;
        self.host
            .info_log(&format!("signed in to {PROVIDER_ID} as {}", account.label));
        Ok(account)
    }

    /// Stores new tokens under the lock and returns the account they became.
    pub(crate) fn store_login(
        &self,
        login: NewLogin,
        add_account: bool,
        strategy: Strategy,
        cx: &CallContext,
    ) -> Result<Account> {
        let mut stored_id = None;
        let mut replaced_unreadable = false;
        let stored = self.host.update_credentials(PROVIDER_ID, |current| {
            let mut pool = match parse_pool(&current) {
                Ok(pool) => pool,
                Err(_) => {
                    // Never drop it silently: keep the old value beside the new login.
                    replaced_unreadable = true;
                    let mut pool = Pool::default();
                    pool.extra
                        .insert(UNREADABLE_KEY.to_owned(), current.clone());
                    pool
                }
            };
            let id = place_login(&mut pool, &login, add_account, now_secs());
            pool.current = Some(id.clone());
            stored_id = Some(id);
            Ok(Some(pool_to_value(&pool)?))
        })?;
        if replaced_unreadable {
            cx.emit(&Event::Warning {
                message: format!(
                    "the stored {PROVIDER_ID} credentials were unreadable; this login replaced them and the old value is kept under `{UNREADABLE_KEY}` in auth.json"
                ),
            });
        }
        let id =
            stored_id.ok_or_else(|| Error::other("the credential store did not run the login"))?;
        account_for(&stored, &id, strategy)
    }
}

/// The stored account `id` as `auth list` would show it.
fn account_for(stored: &Value, id: &str, strategy: Strategy) -> Result<Account> {
    let pool = parse_pool(stored)?;
    let now = now_secs();
    pool.accounts(strategy, now)
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                "the new login was not stored; run `talaria login` again",
            )
        })
}

/// Puts a new login into the pool and returns its entry id.
///
/// The same account (user and workspace) gets the new tokens in place, which also heals
/// an entry that needed a new sign-in. Otherwise `auth add` appends; a plain login
/// replaces the main login (the first entry, when it came from a login or an import)
/// or goes in front of the accounts added by hand.
pub fn place_login(pool: &mut Pool, login: &NewLogin, add_account: bool, now: u64) -> String {
    let tokens = &login.tokens;
    let mut identity =
        Identity::from_tokens(tokens.id_token.as_deref(), tokens.access_token.as_deref());
    if identity.account_id.is_none() {
        identity.account_id.clone_from(&login.account_id);
    }
    let last_refresh = login.last_refresh.clone().unwrap_or_else(|| rfc3339(now));

    if let Some(entry) = pool
        .credentials
        .iter_mut()
        .find(|e| e.identity().same_as(&identity))
    {
        // The entry keeps its id, place and source (how it first joined the pool), so
        // healing an `auth add` account never turns it into the main login.
        let generated =
            entry.label.is_empty() || entry.label.starts_with(&format!("{PROVIDER_ID}-oauth"));
        let old_email_label = entry.email.as_deref() == Some(entry.label.as_str());
        entry.tokens.id_token.clone_from(&tokens.id_token);
        entry.tokens.access_token.clone_from(&tokens.access_token);
        entry.tokens.refresh_token.clone_from(&tokens.refresh_token);
        entry.absorb_claims();
        if entry.account_id.is_none() {
            entry.account_id.clone_from(&login.account_id);
        }
        if generated || old_email_label {
            if let Some(email) = &identity.email {
                entry.label.clone_from(email);
            }
        }
        entry.last_refresh = Some(last_refresh);
        entry.clear_status();
        return entry.id.clone();
    }

    let mut entry = Entry {
        id: new_entry_id(pool),
        label: identity
            .email
            .clone()
            .unwrap_or_else(|| pool.generated_label()),
        source: login.source.to_owned(),
        tokens: Tokens {
            id_token: tokens.id_token.clone(),
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            ..Default::default()
        },
        last_refresh: Some(last_refresh),
        added_at: Some(rfc3339(now)),
        status: STATUS_OK.to_owned(),
        ..Default::default()
    };
    entry.absorb_claims();
    if entry.account_id.is_none() {
        entry.account_id.clone_from(&login.account_id);
    }
    let id = entry.id.clone();
    let main_login = |e: &Entry| e.source == SOURCE_DEVICE_CODE || e.source == SOURCE_CODEX_IMPORT;
    if add_account {
        pool.credentials.push(entry);
    } else if pool.credentials.first().is_some_and(main_login) {
        pool.credentials[0] = entry;
    } else {
        pool.credentials.insert(0, entry);
    }
    id
}
