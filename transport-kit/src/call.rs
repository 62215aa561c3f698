//! The host side of one `transport.stream` / `transport.probe` call.

use std::future::Future;

use talaria_sdk::methods::{ProviderReport, ProviderResolve};
use talaria_sdk::provider::{Endpoint, FailureReport, ProviderCall, ResolveRequest};
use talaria_sdk::{runtime, CallContext, Event, LogLevel, Result};

/// What a call can do. Transports implement their logic over it; the plugin passes
/// [`HostCall`], tests a fake provider.
pub trait Call {
    fn emit(&self, event: &Event);
    fn is_cancelled(&self) -> bool;
    fn log(&self, level: LogLevel, message: &str);
    fn resolve(&self, provider: &str, request: &ResolveRequest) -> Result<Endpoint>;
    fn report(&self, provider: &str, report: &FailureReport) -> Result<Endpoint>;
    /// Drives a future on the plugin's runtime; `Err(cancelled)` (dropping the future and
    /// whatever connection it holds) as soon as the call is cancelled.
    fn run<F: Future>(&self, future: F) -> Result<F::Output>;
}

/// [`Call`] over the host: events and cancellation from the call's context, the
/// provider through the host's `provider.*` services, futures on the SDK's runtime.
pub struct HostCall<'a> {
    pub cx: &'a CallContext,
}

impl<'a> HostCall<'a> {
    pub fn new(cx: &'a CallContext) -> Self {
        HostCall { cx }
    }
}

impl Call for HostCall<'_> {
    fn emit(&self, event: &Event) {
        self.cx.emit(event);
    }

    fn is_cancelled(&self) -> bool {
        self.cx.is_cancelled()
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.cx.host().log(level, message);
    }

    fn resolve(&self, provider: &str, request: &ResolveRequest) -> Result<Endpoint> {
        self.cx
            .host()
            .call::<ProviderResolve>(&ProviderCall::new(provider, request.clone()), self.cx)
    }

    fn report(&self, provider: &str, report: &FailureReport) -> Result<Endpoint> {
        self.cx
            .host()
            .call::<ProviderReport>(&ProviderCall::new(provider, report.clone()), self.cx)
    }

    fn run<F: Future>(&self, future: F) -> Result<F::Output> {
        runtime::block_on_cancellable(self.cx, future)
    }
}
