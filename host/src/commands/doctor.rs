//! `talaria doctor`: every check, each with a verdict and, when it fails, what to do.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use talaria_plugin_api::abi::{CancelFlag, PluginError};
use talaria_plugin_api::doctor::{CheckStatus, DoctorRequest};
use talaria_plugin_api::manifest::{Capability, PluginKind};
use talaria_plugin_api::methods::{DoctorChecks, TransportProbe};
use talaria_plugin_api::payload::ErrorKind;
use talaria_plugin_api::provider::{Account, AccountStatus};
use talaria_plugin_api::time::now_secs;
use talaria_plugin_api::transport::{FailureClass, ProbeRequest, ProbeResult, TransportFailure};

use super::auth::{login_command, sign_in_hint, status_summary};
use super::login::describe_account;
use crate::app::App;
use crate::approvals::Approvals;
use crate::cli::ApprovalMode;
use crate::client;
use crate::credentials::CredentialStore;
use crate::error::{Error, Exit, Result};
use crate::events::notices;
use crate::output::print_json;
use crate::plugins::Registry;
use crate::provider::Provider;

/// The name of the backend probe's check.
const BACKEND: &str = "backend";

#[derive(Serialize)]
struct Check {
    name: String,
    /// `ok`, `warn`, `fail` or `skip`.
    status: &'static str,
    detail: String,
    /// What the backend probe found, for scripts (only on the `backend` check). `status`
    /// is the check's verdict, so the HTTP status is `http_status`.
    #[serde(flatten)]
    probe: ProbeFacts,
}

/// The machine-readable side of the `backend` check; all absent on other checks.
#[derive(Default, Serialize)]
struct ProbeFacts {
    /// Why the probe failed, as the transport classified it (`cloudflare_challenge`,
    /// `timeout`, `tls`, `connect`, `auth`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<FailureClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    /// `websocket` or `sse`, when the backend was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<String>,
    /// `cf-ray` / `x-request-id` of a failed answer, for a bug report.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, outcome: std::result::Result<String, String>) -> Check {
        match outcome {
            Ok(detail) => Check {
                name: name.into(),
                status: "ok",
                detail,
                probe: ProbeFacts::default(),
            },
            Err(detail) => Check {
                name: name.into(),
                status: "fail",
                detail,
                probe: ProbeFacts::default(),
            },
        }
    }
    fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: "skip",
            detail: detail.into(),
            probe: ProbeFacts::default(),
        }
    }
    fn with_probe(mut self, probe: ProbeFacts) -> Check {
        self.probe = probe;
        self
    }
}

pub fn run(app: &App, json: bool) -> Result<()> {
    let mut checks = Vec::new();
    let config_ok = match app.config() {
        Ok(_) => {
            checks.push(Check::new(
                "config",
                Ok(app.profile.config_path().display().to_string()),
            ));
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
            // Whether auth.json is readable; each provider's own check below says whether
            // its credentials are usable.
            .map(|p| {
                if p.is_empty() {
                    "auth.json holds no credentials".into()
                } else {
                    format!("auth.json readable (stored for {})", p.join(", "))
                }
            })
            .map_err(|e| e.message),
    ));
    if let Some(registry) = &registry {
        provider_auth_checks(app, registry, &mut checks)?;
        plugin_own_checks(registry, &mut checks);
        checks.push(backend_check(app, registry)?);
    } else {
        checks.push(Check::skip(BACKEND, "not probed: fix the config first"));
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
    let registry = Registry::open(app, Arc::new(Approvals::new(ApprovalMode::Deny)))?;
    for (dir, reason) in &registry.catalog.unreadable {
        checks.push(Check::new(
            format!("plugin folder {}", dir.display()),
            Err(format!("cannot read it: {reason}")),
        ));
    }
    for entry in registry.entries() {
        let name = format!("plugin {}", entry.id);
        if !registry.is_enabled(&entry.id) {
            checks.push(Check::skip(name, "disabled in this profile"));
            continue;
        }
        let outcome = registry.plugin(&entry.id).map(|p| {
            let tools = p.description.tools.len();
            format!(
                "{} {} ({}){}",
                p.id,
                p.manifest.version,
                entry.source.as_str(),
                if tools > 0 {
                    format!(", {tools} tools")
                } else {
                    String::new()
                }
            )
        });
        checks.push(Check::new(name, outcome.map_err(|e| e.message)));
    }
    Ok(registry)
}

/// The checks of every enabled plugin that declares the `doctor` capability
/// (`doctor.checks`), e.g. a runtime's external program and its login.
fn plugin_own_checks(registry: &Registry, checks: &mut Vec<Check>) {
    let doctors: Vec<String> = registry
        .entries()
        .iter()
        .filter(|e| registry.is_enabled(&e.id))
        .filter(|e| {
            e.manifest
                .as_ref()
                .is_some_and(|m| m.capabilities.contains(&Capability::Doctor))
        })
        .map(|e| e.id.clone())
        .collect();
    for id in doctors {
        // A plugin that cannot load already failed its `plugin` check.
        let Ok(plugin) = registry.plugin(&id) else {
            continue;
        };
        match client::call::<DoctorChecks>(
            &plugin,
            &DoctorRequest::default(),
            notices(),
            CancelFlag::new(),
        ) {
            Ok(report) => checks.extend(report.checks.into_iter().map(|c| Check {
                name: c.name,
                status: c.status.as_str(),
                detail: c.detail,
                probe: ProbeFacts::default(),
            })),
            Err(e) => checks.push(Check {
                name: format!("plugin {id} checks"),
                status: CheckStatus::Fail.as_str(),
                detail: format!("its doctor checks failed: {}", e.message),
                probe: ProbeFacts::default(),
            }),
        }
    }
}

/// `auth <provider>` for each enabled provider plugin: is some credential usable? A
/// provider the profile does not use (neither `model.provider` nor the fallback) is
/// only reported, not failed: an unused provider without a login is not a problem.
fn provider_auth_checks(
    app: &App,
    registry: &Arc<Registry>,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let config = app.config()?;
    let used = |id: &str| {
        config.model.provider == id
            || config
                .fallback_model
                .as_ref()
                .is_some_and(|f| f.provider == id)
    };
    // Every provider id of every enabled provider plugin (a plugin may serve several).
    let plugins: Vec<(String, String)> = registry
        .enabled_of_kind(PluginKind::Provider)
        .flat_map(|e| {
            let ids = e
                .manifest
                .as_ref()
                .map(|m| m.provides.providers.clone())
                .filter(|ids| !ids.is_empty());
            ids.unwrap_or_else(|| vec![e.id.clone()])
                .into_iter()
                .map(move |id| (e.id.clone(), id))
        })
        .collect();
    for (plugin_id, provider_id) in plugins {
        let name = format!("auth {provider_id}");
        let Ok(provider) = Provider::find(registry, &provider_id) else {
            checks.push(Check::skip(
                name,
                format!("plugin {plugin_id} cannot load (see its check)"),
            ));
            continue;
        };
        match provider_auth(app, &provider) {
            Ok(detail) => checks.push(Check::new(name, Ok(detail))),
            Err(problem) if used(&provider_id) => checks.push(Check::new(name, Err(problem))),
            Err(problem) => checks.push(Check::skip(
                name,
                format!("{problem} (not used by this profile)"),
            )),
        }
    }
    Ok(())
}

/// "a@example.com (plus), 1 of 2 usable", or what is wrong and the command that fixes it.
fn provider_auth(app: &App, provider: &Provider) -> std::result::Result<String, String> {
    let accounts = provider.accounts().map_err(|e| e.message)?;
    let id = provider.id();
    if accounts.is_empty() {
        return Err(format!("not logged in; {}", sign_in_hint(app, provider)));
    }
    // An expired access token is refreshed on next use, so it still counts.
    let usable: Vec<&Account> = accounts
        .iter()
        .filter(|a| matches!(a.status, AccountStatus::Ok | AccountStatus::Expired))
        .collect();
    let now = now_secs();
    if usable.is_empty() {
        let hint = if accounts
            .iter()
            .any(|a| a.status == AccountStatus::NeedsRelogin)
        {
            format!("run `{}`", login_command(app, id))
        } else {
            format!("wait, or add another account with `talaria auth add {id}`")
        };
        return Err(format!(
            "no usable credential ({}); {hint}",
            status_summary(&accounts, now)
        ));
    }
    let shown = usable.iter().find(|a| a.current).unwrap_or(&usable[0]);
    Ok(format!(
        "{}, {} of {} usable",
        describe_account(shown),
        usable.len(),
        accounts.len()
    ))
}

/// `backend`: does the profile's provider's backend answer its login? Probed through the
/// transport chats use (`transport.probe`), so a failure here is the one a chat would
/// hit, told apart: Cloudflare challenge, timeout, TLS, connect, auth.
fn backend_check(app: &App, registry: &Arc<Registry>) -> Result<Check> {
    let provider_id = app.config()?.model.provider.clone();
    if let Some(reason) = probe_blocker(app, registry, &provider_id) {
        return Ok(Check::skip(BACKEND, format!("not probed: {reason}")));
    }
    Ok(match probe(registry, &provider_id) {
        Ok(reached) => Check::new(
            BACKEND,
            Ok(format!(
                "reachable at {} over {} (status {})",
                reached.url, reached.transport, reached.status
            )),
        )
        .with_probe(ProbeFacts {
            url: Some(reached.url),
            http_status: Some(reached.status),
            transport: Some(reached.transport),
            ..ProbeFacts::default()
        }),
        // A transport too old to have the method: nothing was learned either way.
        Err(e) if e.kind() == ErrorKind::UnknownMethod => Check::skip(
            BACKEND,
            format!("not probed: the transport cannot probe ({})", e.message),
        ),
        Err(e) => {
            let transport = registry
                .transport_for_provider(&provider_id)
                .map(|p| p.id.clone())
                .unwrap_or_default();
            failed_probe(&e, &login_command(app, &provider_id), &transport)
        }
    })
}

/// Why the backend cannot be probed, if it cannot: the provider is not available, has no
/// usable login, or the transport plugin is disabled, missing or broken.
fn probe_blocker(app: &App, registry: &Arc<Registry>, provider_id: &str) -> Option<String> {
    let provider = match Provider::find(registry, provider_id) {
        Ok(provider) => provider,
        Err(e) => return Some(e.message),
    };
    if let Err(problem) = provider_auth(app, &provider) {
        return Some(problem);
    }
    match registry.transport_for_provider(provider_id) {
        Ok(_) => None,
        // Its own `plugin` check already says why; no need to repeat the whole story.
        Err(e) if e.exit == Exit::Missing => Some(format!(
            "the transport for {provider_id} cannot load (see the plugin checks above)"
        )),
        Err(e) => Some(e.message),
    }
}

/// One `transport.probe` call through the provider's transport; events (progress,
/// warnings) go to stderr as notices.
fn probe(registry: &Registry, provider_id: &str) -> std::result::Result<ProbeResult, PluginError> {
    let transport = registry
        .transport_for_provider(provider_id)
        .map_err(|e| PluginError::new(ErrorKind::Unavailable, e.message))?;
    let request = ProbeRequest {
        provider: provider_id.to_owned(),
    };
    client::call::<TransportProbe>(&transport, &request, notices(), CancelFlag::new())
}

/// The failed `backend` check: the transport's classification worded for the person
/// running doctor, and the same facts for scripts.
fn failed_probe(e: &PluginError, login: &str, transport: &str) -> Check {
    let data: Option<Value> = serde_json::from_str(e.data.as_str()).ok();
    let failure: Option<TransportFailure> =
        data.clone().and_then(|d| serde_json::from_value(d).ok());
    // The transport's full message (with the websocket's side of the story) is for the log.
    tracing::info!("doctor: backend probe failed: {}", e.message);
    let Some(failure) = failure else {
        return Check::new(BACKEND, Err(e.message.to_string()));
    };
    let extras = ProbeExtras::read(data.as_ref());
    let detail = describe_failure(&failure, &extras, e.message.as_str(), login, transport);
    Check::new(BACKEND, Err(detail)).with_probe(ProbeFacts {
        class: Some(failure.class),
        url: Some(failure.url.clone()).filter(|u| !u.is_empty()),
        http_status: failure.status,
        transport: None,
        request_id: failure.request_id.clone(),
    })
}

/// What the probe adds to its error's data beside the `TransportFailure` fields.
#[derive(Default)]
struct ProbeExtras {
    /// The network error's own text (TLS, DNS, connect).
    reason: Option<String>,
    /// The limit that ran out, for a timeout.
    timeout: Option<Duration>,
}

impl ProbeExtras {
    fn read(data: Option<&Value>) -> ProbeExtras {
        let Some(data) = data else {
            return ProbeExtras::default();
        };
        ProbeExtras {
            reason: data
                .get("reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            timeout: data
                .get("timeout_ms")
                .and_then(Value::as_u64)
                .map(Duration::from_millis),
        }
    }
}

/// One sentence per class: what happened, then what to do. `message` is the transport's
/// own wording, used where doctor has nothing better to say.
/// `login` is the command that signs in to the probed provider.
fn describe_failure(
    failure: &TransportFailure,
    extras: &ProbeExtras,
    message: &str,
    login: &str,
    transport: &str,
) -> String {
    let url = if failure.url.is_empty() {
        "the backend"
    } else {
        failure.url.as_str()
    };
    let reason = extras.reason.as_deref().unwrap_or(message);
    match failure.class {
        FailureClass::CloudflareChallenge => {
            let ray = failure.request_id.as_deref().map(|id| format!(", cf-ray {id}")).unwrap_or_default();
            format!(
                "the backend at {url} answered with a Cloudflare challenge (HTTP 403, cf-mitigated: challenge{ray}): \
                 this network is being asked to prove it is a browser; try another network, turn off a VPN or proxy, \
                 or check `curl -I {}`",
                curl_target(url)
            )
        }
        FailureClass::Timeout => {
            // An HTTP 408 is the server giving up on us, not silence.
            let what = match (failure.status, extras.timeout) {
                (Some(status), _) => format!("the backend at {url} timed out the request (HTTP {status})"),
                (None, Some(limit)) => format!("no answer from {url} within {}", seconds(limit)),
                (None, None) => format!("no answer from {url} in time"),
            };
            format!(
                "{what}; check the network connection and any proxy or firewall in the way (on a slow link, raise \
                 `connect_timeout_ms` / `first_byte_timeout_ms` under [plugin_config.{transport}])"
            )
        }
        FailureClass::Tls => format!(
            "TLS handshake with {url} failed: {reason}; check for a proxy, VPN or antivirus that intercepts TLS, \
             that the system clock is right, and that the system's CA certificates are installed"
        ),
        FailureClass::Connect => format!(
            "cannot connect to {url}: {reason}; check the network connection, DNS and proxy settings, and the \
             provider's base URL"
        ),
        // A status means the backend itself said no; without one, the provider could not
        // supply a usable login (its message says what to do).
        FailureClass::Auth => match failure.status {
            Some(status) => format!("the backend rejected the login ({status}): run `{login}`"),
            None => format!("the login could not be used: {message}"),
        },
        _ => message.to_owned(),
    }
}

/// The base URL for the `curl -I` hint: the probed `…/models` without its last segment
/// (reference §11: `curl -I https://chatgpt.com/backend-api/codex`).
fn curl_target(url: &str) -> &str {
    url.strip_suffix("/models").unwrap_or(url)
}

/// "0.5 s", "20 s".
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 || d.as_secs() >= 10 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(
        class: FailureClass,
        status: Option<u16>,
        request_id: Option<&str>,
    ) -> TransportFailure {
        TransportFailure {
            class,
            url: "https://chatgpt.com/backend-api/codex/models".into(),
            status,
            reset_at: None,
            request_id: request_id.map(str::to_owned),
            fallback_worthy: false,
        }
    }

    #[test]
    fn each_class_gets_its_own_words() {
        let none = ProbeExtras::default();
        let cf = describe_failure(
            &failure(FailureClass::CloudflareChallenge, Some(403), Some("ray-1")),
            &none,
            "",
            "talaria login",
            "responses",
        );
        assert!(
            cf.contains("Cloudflare challenge (HTTP 403, cf-mitigated: challenge, cf-ray ray-1)"),
            "{cf}"
        );
        assert!(
            cf.contains("`curl -I https://chatgpt.com/backend-api/codex`"),
            "{cf}"
        );
        let slow = ProbeExtras {
            reason: None,
            timeout: Some(Duration::from_millis(1500)),
        };
        let timeout = describe_failure(
            &failure(FailureClass::Timeout, None, None),
            &slow,
            "",
            "talaria login",
            "responses",
        );
        assert!(
            timeout.starts_with(
                "no answer from https://chatgpt.com/backend-api/codex/models within 1.5 s;"
            ),
            "{timeout}"
        );
        let bad = ProbeExtras {
            reason: Some("invalid peer certificate: UnknownIssuer".into()),
            timeout: None,
        };
        let tls = describe_failure(
            &failure(FailureClass::Tls, None, None),
            &bad,
            "",
            "talaria login",
            "responses",
        );
        assert!(tls.starts_with("TLS handshake with https://chatgpt.com/backend-api/codex/models failed: invalid peer certificate"), "{tls}");
        let auth = describe_failure(
            &failure(FailureClass::Auth, Some(401), None),
            &none,
            "",
            "talaria login",
            "responses",
        );
        assert_eq!(
            auth,
            "the backend rejected the login (401): run `talaria login`"
        );
        let other = describe_failure(
            &failure(FailureClass::Server, Some(502), None),
            &none,
            "The backend failed.",
            "talaria login",
            "responses",
        );
        assert_eq!(other, "The backend failed.");
    }

    #[test]
    fn extras_are_read_when_present() {
        let data =
            serde_json::json!({"class": "timeout", "url": "u", "timeout_ms": 250, "reason": ""});
        let extras = ProbeExtras::read(Some(&data));
        assert_eq!(extras.timeout, Some(Duration::from_millis(250)));
        assert_eq!(extras.reason, None);
        assert_eq!(seconds(Duration::from_secs(20)), "20 s");
    }
}
