//! `talaria doctor`: every check, each with a verdict and, when it fails, what to do.

use std::sync::Arc;

use serde::Serialize;

use talaria_plugin_api::manifest::PluginKind;
use talaria_plugin_api::provider::{Account, AccountStatus};

use super::auth::{login_command, sign_in_hint, status_summary, unix_now};
use super::login::describe_account;
use crate::app::App;
use crate::cli::ApprovalMode;
use crate::credentials::CredentialStore;
use crate::error::{Error, Result};
use crate::host_services::PolicyApprover;
use crate::output::print_json;
use crate::plugins::Registry;
use crate::provider::{provider_ids, Provider};

#[derive(Serialize)]
struct Check {
    name: String,
    /// `ok`, `fail` or `skip`.
    status: &'static str,
    detail: String,
}

impl Check {
    fn new(name: impl Into<String>, outcome: std::result::Result<String, String>) -> Check {
        match outcome {
            Ok(detail) => Check { name: name.into(), status: "ok", detail },
            Err(detail) => Check { name: name.into(), status: "fail", detail },
        }
    }
    fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), status: "skip", detail: detail.into() }
    }
}

pub fn run(app: &App, json: bool) -> Result<()> {
    let mut checks = Vec::new();
    let config_ok = match app.config() {
        Ok(_) => {
            checks.push(Check::new("config", Ok(app.profile.config_path().display().to_string())));
            true
        }
        Err(e) => {
            checks.push(Check::new("config", Err(e.message)));
            false
        }
    };
    let registry = if config_ok {
        Some(plugin_checks(app, &mut checks)?)
    } else {
        checks.push(Check::skip("plugins", "fix the config first"));
        None
    };
    let store = CredentialStore::new(app.profile.auth_path());
    checks.push(Check::new(
        "auth",
        store
            .providers()
            .map(|p| if p.is_empty() { "no stored credentials".into() } else { format!("credentials for {}", p.join(", ")) })
            .map_err(|e| e.message),
    ));
    if let Some(registry) = &registry {
        provider_auth_checks(app, registry, &mut checks)?;
    }

    let failed = checks.iter().filter(|c| c.status == "fail").count();
    if json {
        print_json(&serde_json::json!({ "profile": app.profile.name, "checks": checks }))?;
    } else {
        for c in &checks {
            crate::outln!("{:<4}  {}: {}", c.status, c.name, c.detail);
        }
    }
    if failed > 0 {
        return Err(Error::failure(format!("{failed} check(s) failed")));
    }
    Ok(())
}

/// Loads every enabled plugin for real (init included): doctor is where a plugin that
/// lists fine but cannot start is caught.
fn plugin_checks(app: &App, checks: &mut Vec<Check>) -> Result<Arc<Registry>> {
    let registry = Registry::open(app, Arc::new(PolicyApprover { mode: ApprovalMode::Deny }))?;
    for (dir, reason) in &registry.catalog.unreadable {
        checks.push(Check::new(format!("plugin folder {}", dir.display()), Err(format!("cannot read it: {reason}"))));
    }
    for entry in registry.entries() {
        let name = format!("plugin {}", entry.id);
        if !registry.is_enabled(&entry.id) {
            checks.push(Check::skip(name, "disabled in this profile"));
            continue;
        }
        let outcome = registry.plugin(&entry.id).map(|p| {
            let tools = p.description.tools.len();
            format!("{} {} ({}){}", p.id, p.manifest.version, entry.source.as_str(), if tools > 0 { format!(", {tools} tools") } else { String::new() })
        });
        checks.push(Check::new(name, outcome.map_err(|e| e.message)));
    }
    Ok(registry)
}

/// `auth <provider>` for each enabled provider plugin: is some credential usable? A
/// provider the profile does not use (neither `model.provider` nor the fallback) is
/// only reported, not failed: an unused provider without a login is not a problem.
fn provider_auth_checks(app: &App, registry: &Arc<Registry>, checks: &mut Vec<Check>) -> Result<()> {
    let config = app.config()?;
    let used = |id: &str| config.model.provider == id || config.fallback_model.as_ref().is_some_and(|f| f.provider == id);
    let plugins: Vec<(String, String)> = registry
        .enabled_of_kind(PluginKind::Provider)
        .map(|e| (e.id.clone(), provider_ids(e).into_iter().next().unwrap_or_else(|| e.id.clone())))
        .collect();
    for (plugin_id, provider_id) in plugins {
        let name = format!("auth {provider_id}");
        let Ok(provider) = Provider::of_plugin(registry, &plugin_id, &provider_id) else {
            checks.push(Check::skip(name, format!("plugin {plugin_id} cannot load (see its check)")));
            continue;
        };
        match provider_auth(&provider) {
            Ok(detail) => checks.push(Check::new(name, Ok(detail))),
            Err(problem) if used(&provider_id) => checks.push(Check::new(name, Err(problem))),
            Err(problem) => checks.push(Check::skip(name, format!("{problem} (not used by this profile)"))),
        }
    }
    Ok(())
}

/// "a@example.com (plus), 1 of 2 usable", or what is wrong and the command that fixes it.
fn provider_auth(provider: &Provider) -> std::result::Result<String, String> {
    let accounts = provider.accounts().map_err(|e| e.message)?;
    let id = provider.id();
    if accounts.is_empty() {
        return Err(format!("not logged in; {}", sign_in_hint(provider)));
    }
    // An expired access token is refreshed on next use, so it still counts.
    let usable: Vec<&Account> =
        accounts.iter().filter(|a| matches!(a.status, AccountStatus::Ok | AccountStatus::Expired)).collect();
    let now = unix_now();
    if usable.is_empty() {
        let hint = if accounts.iter().any(|a| a.status == AccountStatus::NeedsRelogin) {
            format!("run `{}`", login_command(id))
        } else {
            format!("wait, or add another account with `talaria auth add {id}`")
        };
        return Err(format!("no usable credential ({}); {hint}", status_summary(&accounts, now)));
    }
    let shown = usable.iter().find(|a| a.current).unwrap_or(&usable[0]);
    Ok(format!("{}, {} of {} usable", describe_account(shown), usable.len(), accounts.len()))
}
