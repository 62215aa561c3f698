//! `talaria chat`: decides the session, runtime and model, checks that the provider
//! has a usable login (offering to sign in on a terminal), then hands over to
//! [`crate::chat`].

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use talaria_plugin_api::manifest::Capability;
use talaria_plugin_api::provider::ResolveRequest;

use super::login::{describe_account, sign_in, SignIn};
use crate::app::App;
use crate::approvals::Approvals;
use crate::chat::Plan;
use crate::cli::ChatArgs;
use crate::error::{Exit, Result};
use crate::plugins::Registry;
use crate::provider::Provider;
use crate::sessions::SessionStore;

pub fn run(app: &App, args: ChatArgs) -> Result<()> {
    let registry = Registry::open(app, Arc::new(Approvals::new(args.approvals.approvals)))?;
    let store = SessionStore::open(&app.profile.sessions_path())?;
    let plan = Plan::new(app, &args, &store)?;
    let runtime = registry.runtime(&plan.runtime)?;
    // A runtime with its own model and login (`own_model`) never asks the provider.
    let own_model = registry
        .entry(&runtime.plugin)?
        .manifest
        .as_ref()
        .is_some_and(|m| m.capabilities.contains(&Capability::OwnModel));
    if own_model {
        return crate::chat::run(app, &args, registry, store, plan);
    }
    // The provider the turn will use: a resumed session's own, not the profile's.
    let provider = Provider::find(&registry, &plan.model.provider)?;
    let request = ResolveRequest {
        session_id: String::new(),
        model: Some(plan.model.model.clone()),
        fast: plan.fast,
    };
    ensure_signed_in(app, &provider, &request)?;
    crate::chat::run(app, &args, registry, store, plan)
}

/// Resolves an endpoint once, so a missing login is found before the turn starts. On a
/// terminal the user may sign in right away; elsewhere it is exit 3 with the
/// provider's own words. The endpoint (it holds the token) is dropped unseen.
fn ensure_signed_in(app: &App, provider: &Provider, request: &ResolveRequest) -> Result<()> {
    let refused = match provider.resolve(request) {
        Ok(_endpoint) => return Ok(()),
        Err(e) if e.exit == Exit::Auth && std::io::stdin().is_terminal() => e,
        Err(e) => return Err(e),
    };
    if !confirm(&format!(
        "Not logged in to {}. Log in now? [Y/n] ",
        provider.id()
    )) {
        return Err(refused);
    }
    let account = sign_in(app, provider, SignIn::default())?;
    // stdout is the assistant's alone.
    eprintln!(
        "Logged in to {} as {}.",
        provider.id(),
        describe_account(&account)
    );
    provider.resolve(request).map(drop)
}

/// Asks a yes/no question on the terminal; yes unless the answer starts with "n".
fn confirm(question: &str) -> bool {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).unwrap_or(0) == 0 {
        return false; // end of input: nobody said yes
    }
    !answer.trim().to_ascii_lowercase().starts_with('n')
}
