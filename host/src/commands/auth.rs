//! `talaria auth list | add | remove | status`: the provider's credential pool.
//!
//! Everything shown comes from the provider's `Account` records, which never carry a
//! secret; nothing here reads `auth.json` itself.

use serde_json::{json, Value};
use talaria_plugin_api::provider::{Account, AccountStatus, ResolveRequest};
use talaria_plugin_api::text::duration_words;
use talaria_plugin_api::time::now_secs;

use super::login::{describe_account, sign_in, SignIn};
use super::open_provider;
use crate::app::App;
use crate::cli::AuthCommand;
use crate::error::{Error, Exit, Result};
use crate::output::{print_json, print_table};
use crate::provider::Provider;

pub fn run(app: &App, cmd: AuthCommand) -> Result<()> {
    match cmd {
        AuthCommand::List { json, provider } => list(app, provider.provider.as_deref(), json.json),
        AuthCommand::Add {
            provider,
            import_codex,
            no_browser,
        } => add(
            app,
            &provider,
            SignIn {
                import_codex,
                add_account: true,
                no_browser,
            },
        ),
        AuthCommand::Remove { index, provider } => remove(app, provider.provider.as_deref(), index),
        AuthCommand::Status { json, provider } => {
            status(app, provider.provider.as_deref(), json.json)
        }
    }
}

fn list(app: &App, provider: Option<&str>, json: bool) -> Result<()> {
    let provider = open_provider(app, provider)?;
    let accounts = provider.accounts()?;
    if json {
        return print_json(&with_provider(provider.id(), &accounts)?);
    }
    if accounts.is_empty() {
        crate::outln!(
            "No stored credentials for {}; {}.",
            provider.id(),
            sign_in_hint(app, &provider).trim_end_matches('.')
        );
        return Ok(());
    }
    let now = now_secs();
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            let marker = if a.current { "←" } else { "" };
            vec![
                format!("#{}", a.index),
                a.label.clone(),
                a.kind.clone(),
                a.source.clone(),
                status_text(a, now),
                marker.into(),
            ]
        })
        .collect();
    print_table(&rows);
    for a in accounts
        .iter()
        .filter(|a| a.status == AccountStatus::NeedsRelogin)
    {
        let why = a
            .status_detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        eprintln!(
            "note: credential #{} needs a new login{why}; run `{}`",
            a.index,
            login_command(app, provider.id())
        );
    }
    Ok(())
}

/// The account records as `--json` prints them: each with its `provider`.
fn with_provider(provider: &str, accounts: &[Account]) -> Result<Vec<Value>> {
    accounts
        .iter()
        .map(|a| {
            let mut value = serde_json::to_value(a)
                .map_err(|e| Error::failure(format!("cannot encode JSON: {e}")))?;
            if let Value::Object(fields) = &mut value {
                fields.insert("provider".into(), Value::from(provider));
            }
            Ok(value)
        })
        .collect()
}

fn add(app: &App, provider: &str, options: SignIn) -> Result<()> {
    let provider = open_provider(app, Some(provider))?;
    let account = sign_in(app, &provider, options)?;
    crate::outln!(
        "Added {} to {} as credential #{}.",
        describe_account(&account),
        provider.id(),
        account.index
    );
    Ok(())
}

fn remove(app: &App, provider: Option<&str>, index: usize) -> Result<()> {
    let provider = open_provider(app, provider)?;
    let removed = provider.remove_account(index)?;
    crate::outln!("Removed credential {index} ({}).", removed.label);
    Ok(())
}

fn status(app: &App, provider: Option<&str>, json: bool) -> Result<()> {
    let provider = open_provider(app, provider)?;
    let id = provider.id();
    let accounts = provider.accounts()?;
    let current = accounts.iter().find(|a| a.current);
    if json {
        return print_json(&json!({
            "provider": id,
            "logged_in": !accounts.is_empty(),
            "current": current,
            "accounts": with_provider(id, &accounts)?,
        }));
    }
    // Informational: not being logged in is an answer, not a failure (exit 0).
    if accounts.is_empty() {
        crate::outln!("{id}: not logged in; {}", sign_in_hint(app, &provider));
        return Ok(());
    }
    let now = now_secs();
    match current {
        Some(a) => crate::outln!("{id}: logged in as {}", describe_account(a)),
        None => crate::outln!("{id}: logged in, no credential selected"),
    }
    crate::outln!(
        "credentials: {} ({})",
        accounts.len(),
        status_summary(&accounts, now)
    );
    if let Some(a) = current {
        if let Some(line) = token_line(a, now) {
            crate::outln!("{line}");
        }
        if a.status == AccountStatus::NeedsRelogin {
            let why = a
                .status_detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            crate::outln!(
                "the current credential needs a new login{why}; run `{}`",
                login_command(app, id)
            );
        }
    }
    Ok(())
}

/// "access token valid for 52m" / "access token expired, refreshed on next use";
/// nothing for credentials that do not expire (API keys).
fn token_line(account: &Account, now: u64) -> Option<String> {
    let expires_at = account.expires_at?;
    Some(if expires_at > now {
        format!(
            "access token valid for {}",
            duration_words(expires_at - now)
        )
    } else {
        "access token expired, refreshed on next use".into()
    })
}

/// "1 ok, 1 rate-limited (12m left)": how many credentials are in each state.
pub(super) fn status_summary(accounts: &[Account], now: u64) -> String {
    let order = [
        AccountStatus::Ok,
        AccountStatus::Expired,
        AccountStatus::RateLimited,
        AccountStatus::NeedsRelogin,
        AccountStatus::Unknown,
    ];
    let mut parts = Vec::new();
    for state in order {
        let of_state: Vec<&Account> = accounts.iter().filter(|a| a.status == state).collect();
        if of_state.is_empty() {
            continue;
        }
        let mut part = format!("{} {}", of_state.len(), state.label());
        // The soonest a rate-limited credential comes back is what matters.
        if let Some(left) = of_state
            .iter()
            .filter_map(|a| a.available_at)
            .filter(|&at| at > now)
            .min()
            .map(|at| at - now)
        {
            part.push_str(&format!(" ({} left)", duration_words(left)));
        }
        parts.push(part);
    }
    parts.join(", ")
}

/// The status column: `ok`, `expired`, `rate-limited (12m left)`, `needs re-login`.
pub(super) fn status_text(account: &Account, now: u64) -> String {
    match (account.status, account.available_at) {
        (AccountStatus::RateLimited, Some(at)) if at > now => {
            format!("rate-limited ({} left)", duration_words(at - now))
        }
        (status, _) => status.label().into(),
    }
}

/// The command that signs in to `provider`: plain `talaria login` for the profile's own
/// provider (what `login` signs in to without `--provider`).
pub(super) fn login_command(app: &App, provider: &str) -> String {
    if app.config().is_ok_and(|c| c.model.provider == provider) {
        "talaria login".into()
    } else {
        format!("talaria login --provider {provider}")
    }
}

/// What to do about an empty pool. Not every provider signs in with `talaria login`
/// (openai-api wants a key in the environment), so for the others the provider's own
/// refusal to resolve an endpoint, which says what it needs, is the advice.
pub(super) fn sign_in_hint(app: &App, provider: &Provider) -> String {
    let fallback = format!("run `{}`", login_command(app, provider.id()));
    if provider.supports_login() {
        return fallback;
    }
    match provider.resolve(&ResolveRequest::default()) {
        // The endpoint holds a token: dropped unseen.
        Err(e) if e.exit == Exit::Auth => e.message,
        Ok(_) | Err(_) => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(status: AccountStatus) -> Account {
        Account {
            index: 1,
            label: "a@example.com".into(),
            status,
            ..Default::default()
        }
    }

    #[test]
    fn statuses_read_as_auth_list_prints_them() {
        let now = 1_000_000;
        let mut limited = account(AccountStatus::RateLimited);
        limited.available_at = Some(now + 12 * 60);
        assert_eq!(status_text(&limited, now), "rate-limited (12m left)");
        limited.available_at = Some(now - 1);
        assert_eq!(status_text(&limited, now), "rate-limited");
        assert_eq!(
            status_text(&account(AccountStatus::NeedsRelogin), now),
            "needs re-login"
        );
        assert_eq!(
            status_text(&account(AccountStatus::Expired), now),
            "expired"
        );
        let ok = account(AccountStatus::Ok);
        let mut soon = account(AccountStatus::RateLimited);
        soon.available_at = Some(now + 90);
        assert_eq!(
            status_summary(&[ok.clone(), limited, soon, ok], now),
            "2 ok, 2 rate-limited (2m left)"
        );
    }

    #[test]
    fn token_expiry_is_told_in_time_left() {
        let now = 1_000_000;
        let mut a = account(AccountStatus::Ok);
        assert_eq!(token_line(&a, now), None);
        a.expires_at = Some(now + 52 * 60);
        assert_eq!(token_line(&a, now).unwrap(), "access token valid for 52m");
        a.expires_at = Some(now - 5);
        assert_eq!(
            token_line(&a, now).unwrap(),
            "access token expired, refreshed on next use"
        );
    }

    #[test]
    fn json_records_name_their_provider() {
        let records = with_provider("openai-codex", &[account(AccountStatus::Ok)]).unwrap();
        assert_eq!(records[0]["provider"], "openai-codex");
        assert_eq!(records[0]["status"], "ok");
    }
}
