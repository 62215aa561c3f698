//! The traits a plugin author implements, one per kind, and [`Exports`], which puts
//! them behind the ABI's single `call(method, params)` entry. The method names and
//! payload types come from [`talaria_plugin_api::methods`]; no author matches on a
//! method name.

use serde_json::Value;
use talaria_plugin_api::command::{CommandOutcome, CommandRequest};
use talaria_plugin_api::doctor::{DoctorReport, DoctorRequest};
use talaria_plugin_api::methods::{self, Method};
use talaria_plugin_api::payload::Description;
use talaria_plugin_api::provider::{
    Account, Endpoint, FailureReport, LoginRequest, LogoutResult, ModelList, ModelsRequest,
    ProviderInfo, RemoveAccountRequest, ResolveRequest,
};
use talaria_plugin_api::router::{AuxRequest, AuxResult};
use talaria_plugin_api::runtime::{TurnRequest, TurnResult};
use talaria_plugin_api::transport::{ProbeRequest, ProbeResult, StreamRequest, StreamResult};

use crate::{CallContext, Error, ErrorKind, Plugin, Result, ToolSet};

/// A model provider: who talks to a backend (credentials, refresh, endpoint, models).
/// `provider` is the provider id asked for; a plugin may serve several
/// (`[provides] providers = [...]` in its manifest).
pub trait Provider: Send + Sync + 'static {
    /// The wire API the provider's endpoint speaks, and what it supports.
    fn info(&self, provider: &str) -> Result<ProviderInfo>;

    /// Endpoint and headers for the next request, refreshing credentials first if due.
    fn resolve(
        &self,
        provider: &str,
        request: ResolveRequest,
        cx: &CallContext,
    ) -> Result<Endpoint>;

    /// A request failed with 401/429/...: the endpoint to retry with, or the verdict.
    fn report(&self, provider: &str, report: FailureReport, cx: &CallContext) -> Result<Endpoint> {
        let _ = cx;
        Err(Error::new(
            if report.status == 429 {
                ErrorKind::RateLimited
            } else {
                ErrorKind::Auth
            },
            format!(
                "the {provider} backend refused the request (HTTP {}): {}",
                report.status, report.message
            ),
        ))
    }

    /// The models on offer, with their capabilities.
    fn models(&self, provider: &str, request: ModelsRequest, cx: &CallContext)
        -> Result<ModelList>;

    fn login(&self, provider: &str, request: LoginRequest, cx: &CallContext) -> Result<Account> {
        let _ = (request, cx);
        Err(Error::unsupported(format!("signing in to {provider}")))
    }

    fn logout(&self, provider: &str, cx: &CallContext) -> Result<LogoutResult> {
        let _ = (provider, cx);
        Ok(LogoutResult::default())
    }

    fn accounts(&self, provider: &str, cx: &CallContext) -> Result<Vec<Account>> {
        let _ = (provider, cx);
        Ok(Vec::new())
    }

    fn remove_account(
        &self,
        provider: &str,
        request: RemoveAccountRequest,
        cx: &CallContext,
    ) -> Result<Account> {
        let _ = (request, cx);
        Err(Error::unsupported(format!("removing a {provider} account")))
    }
}

/// A transport: how one model request goes over the wire, for one wire API.
pub trait Transport: Send + Sync + 'static {
    fn stream(&self, request: StreamRequest, cx: &CallContext) -> Result<StreamResult>;

    fn probe(&self, request: ProbeRequest, cx: &CallContext) -> Result<ProbeResult> {
        let _ = (request, cx);
        Err(Error::unsupported("probing a backend"))
    }
}

/// A runtime: runs whole turns (model requests, tools and approvals through the host).
pub trait Runtime: Send + Sync + 'static {
    fn turn(&self, request: TurnRequest, cx: &CallContext) -> Result<TurnResult>;
}

/// A router of auxiliary tasks (titles, compression, vision, ...).
pub trait Router: Send + Sync + 'static {
    fn run(&self, request: AuxRequest, cx: &CallContext) -> Result<AuxResult>;
}

/// Top-level `talaria` commands (`[provides] commands = ["name"]` in the manifest):
/// `talaria name ARGS...` and the REPL's `/name ARGS...` arrive here with the arguments
/// untouched. The command parses them, writes its own output to stdout and stderr, and
/// returns the exit code; an error's kind picks the exit code instead (invalid request
/// 2, auth 3, unavailable 4, others 1) and the host prints its message.
pub trait Command: Send + Sync + 'static {
    fn run(&self, request: CommandRequest, cx: &CallContext) -> Result<CommandOutcome>;
}

/// A plugin's own checks for `talaria doctor` (`capabilities = ["doctor"]` in the
/// manifest). Checks of something the profile does not use should be `skip` or `warn`,
/// never `fail`: a failed check makes doctor exit 1.
pub trait Doctor: Send + Sync + 'static {
    fn checks(&self, request: DoctorRequest, cx: &CallContext) -> Result<DoctorReport>;
}

/// What one plugin library exports: any mix of tools, a provider, a transport, a
/// runtime and a router.
///
/// ```
/// use talaria_sdk::turn::{TurnRequest, TurnResult};
/// use talaria_sdk::{CallContext, Exports, Host, Result, Runtime};
///
/// struct Echo;
/// impl Runtime for Echo {
///     fn turn(&self, request: TurnRequest, _cx: &CallContext) -> Result<TurnResult> {
///         Ok(TurnResult { text: request.input.text, ..Default::default() })
///     }
/// }
///
/// fn init(_host: Host) -> Result<Exports> {
///     Ok(Exports::new().runtime(Echo))
/// }
/// # let _ = init;
/// ```
#[derive(Default)]
pub struct Exports {
    tools: Option<ToolSet>,
    provider: Option<Box<dyn Provider>>,
    transport: Option<Box<dyn Transport>>,
    runtime: Option<Box<dyn Runtime>>,
    router: Option<Box<dyn Router>>,
    command: Option<Box<dyn Command>>,
    doctor: Option<Box<dyn Doctor>>,
}

impl Exports {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn tools(mut self, tools: ToolSet) -> Self {
        self.tools = Some(tools);
        self
    }
    pub fn provider(mut self, provider: impl Provider) -> Self {
        self.provider = Some(Box::new(provider));
        self
    }
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Box::new(transport));
        self
    }
    pub fn runtime(mut self, runtime: impl Runtime) -> Self {
        self.runtime = Some(Box::new(runtime));
        self
    }
    pub fn router(mut self, router: impl Router) -> Self {
        self.router = Some(Box::new(router));
        self
    }
    /// The handler of every command the manifest's `[provides] commands` names.
    pub fn command(mut self, command: impl Command) -> Self {
        self.command = Some(Box::new(command));
        self
    }

    /// The plugin's `doctor.checks`.
    pub fn doctor(mut self, doctor: impl Doctor) -> Self {
        self.doctor = Some(Box::new(doctor));
        self
    }

    fn provider_call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value> {
        let Some(p) = self.provider.as_deref() else {
            return Err(no_such(method));
        };
        match method {
            methods::ProviderInfoMethod::NAME => {
                serve::<methods::ProviderInfoMethod>(params, |c| p.info(&c.provider))
            }
            methods::ProviderResolve::NAME => {
                serve::<methods::ProviderResolve>(params, |c| p.resolve(&c.provider, c.request, cx))
            }
            methods::ProviderReport::NAME => {
                serve::<methods::ProviderReport>(params, |c| p.report(&c.provider, c.request, cx))
            }
            methods::ProviderModels::NAME => {
                serve::<methods::ProviderModels>(params, |c| p.models(&c.provider, c.request, cx))
            }
            methods::ProviderLogin::NAME => {
                serve::<methods::ProviderLogin>(params, |c| p.login(&c.provider, c.request, cx))
            }
            methods::ProviderLogout::NAME => {
                serve::<methods::ProviderLogout>(params, |c| p.logout(&c.provider, cx))
            }
            methods::ProviderAccounts::NAME => {
                serve::<methods::ProviderAccounts>(params, |c| p.accounts(&c.provider, cx))
            }
            methods::ProviderRemoveAccount::NAME => {
                serve::<methods::ProviderRemoveAccount>(params, |c| {
                    p.remove_account(&c.provider, c.request, cx)
                })
            }
            _ => Err(no_such(method)),
        }
    }
}

impl Plugin for Exports {
    fn describe(&self) -> Description {
        self.tools
            .as_ref()
            .map(Plugin::describe)
            .unwrap_or_default()
    }

    fn call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value> {
        match method {
            methods::ToolCall::NAME => match &self.tools {
                Some(tools) => tools.call(method, params, cx),
                None => Err(no_such(method)),
            },
            methods::RuntimeTurn::NAME => match &self.runtime {
                Some(r) => serve::<methods::RuntimeTurn>(params, |req| r.turn(req, cx)),
                None => Err(no_such(method)),
            },
            methods::TransportStream::NAME => match &self.transport {
                Some(t) => serve::<methods::TransportStream>(params, |req| t.stream(req, cx)),
                None => Err(no_such(method)),
            },
            methods::TransportProbe::NAME => match &self.transport {
                Some(t) => serve::<methods::TransportProbe>(params, |req| t.probe(req, cx)),
                None => Err(no_such(method)),
            },
            methods::RouterRun::NAME => match &self.router {
                Some(r) => serve::<methods::RouterRun>(params, |req| r.run(req, cx)),
                None => Err(no_such(method)),
            },
            methods::CommandRun::NAME => match &self.command {
                Some(c) => serve::<methods::CommandRun>(params, |req| c.run(req, cx)),
                None => Err(no_such(method)),
            },
            methods::DoctorChecks::NAME => match &self.doctor {
                Some(d) => serve::<methods::DoctorChecks>(params, |req| d.checks(req, cx)),
                None => Err(no_such(method)),
            },
            m if m.starts_with("provider.") => self.provider_call(m, params, cx),
            other => Err(no_such(other)),
        }
    }
}

/// Decodes `M`'s params (absent params count as `{}`), runs `f`, encodes its output.
pub(crate) fn serve<M: Method>(
    params: Value,
    f: impl FnOnce(M::Params) -> Result<M::Output>,
) -> Result<Value> {
    let params = if params.is_null() {
        Value::Object(Default::default())
    } else {
        params
    };
    let params: M::Params = serde_json::from_value(params)
        .map_err(|e| Error::invalid(format!("invalid parameters for {}: {e}", M::NAME)))?;
    Ok(serde_json::to_value(f(params)?)?)
}

fn no_such(method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("this plugin has no method {method:?}"),
    )
}
