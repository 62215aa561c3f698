//! `talaria doctor`: every check, each with a verdict and, when it fails, what to do.

use std::sync::Arc;

use serde::Serialize;

use crate::app::App;
use crate::cli::ApprovalMode;
use crate::credentials::CredentialStore;
use crate::error::{Error, Result};
use crate::host_services::PolicyApprover;
use crate::output::print_json;
use crate::plugins::Registry;

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
    if config_ok {
        plugin_checks(app, &mut checks)?;
    } else {
        checks.push(Check::skip("plugins", "fix the config first"));
    }
    let store = CredentialStore::new(app.profile.auth_path());
    checks.push(Check::new(
        "auth",
        store
            .providers()
            .map(|p| if p.is_empty() { "no stored credentials".into() } else { format!("credentials for {}", p.join(", ")) })
            .map_err(|e| e.message),
    ));

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
fn plugin_checks(app: &App, checks: &mut Vec<Check>) -> Result<()> {
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
    Ok(())
}
