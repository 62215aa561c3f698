//! `responses`: the first-party transport. Sends one OpenAI Responses API request per
//! `transport.stream` call, over the backend's websocket when it offers one (kept open
//! per session, incremental when the conversation just grew) and over HTTPS + SSE
//! otherwise, streaming text and reasoning deltas back as events.
//!
//! The provider named in each request supplies the endpoint and its headers
//! (`provider.resolve`) and decides what a 401 or 429 means (`provider.report`). Every
//! failure carries a `TransportFailure` in the error's data so the runtime can choose a
//! fallback model and the user can be told what to try.
//!
//! Modules: [`request`] (body, headers, incremental requests), [`sse`] (framing),
//! [`events`] (events → deltas and result), [`http`] and [`ws`] (one attempt each),
//! [`retry`] (backoff, retry-after), [`classify`] (failures → classes and messages),
//! [`driver`] (retries, fallback, sessions), [`probe`].

pub mod classify;
pub mod config;
pub mod driver;
pub mod events;
pub mod http;
pub mod probe;
pub mod request;
pub mod retry;
pub mod sse;
pub mod watchdog;
pub mod ws;

use std::future::Future;

use serde_json::Value;
use talaria_sdk::provider::{Endpoint, FailureReport, ResolveRequest};
use talaria_sdk::transport::{ProbeRequest, StreamRequest};
use talaria_sdk::{export_plugin, methods, runtime, CallContext, Error, ErrorKind, Event, Host, LogLevel, Plugin, Result};

use crate::config::PluginConfig;
use crate::driver::{Call, Engine};

pub struct ResponsesTransport {
    host: Host,
    engine: Engine,
}

pub fn init(host: Host) -> Result<ResponsesTransport> {
    // reqwest and tungstenite are built without a default crypto provider (aws-lc-rs
    // needs a long C build); ring is installed process-wide. Another plugin in the same
    // process may have done it already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config: PluginConfig = host
        .config()
        .map_err(|e| Error::invalid(format!("[plugin_config.responses]: {}", e.message)))?
        .unwrap_or_default();
    Ok(ResponsesTransport { host, engine: Engine::new(config) })
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl Plugin for ResponsesTransport {
    fn call(&self, method: &str, params: Value, cx: &CallContext) -> Result<Value> {
        let call = HostCall { cx, host: &self.host };
        match method {
            methods::TRANSPORT_STREAM => {
                let request: StreamRequest = serde_json::from_value(params)?;
                let result = self.engine.stream(&call, &request)?;
                Ok(serde_json::to_value(result)?)
            }
            methods::TRANSPORT_PROBE => {
                let request: ProbeRequest = serde_json::from_value(params)?;
                let result = probe::probe(&self.engine, &call, &request)?;
                Ok(serde_json::to_value(result)?)
            }
            other => Err(Error::new(ErrorKind::UnknownMethod, format!("the responses transport has no method {other:?}"))),
        }
    }
}

/// [`Call`] over the host: events and cancellation from the call's context, the
/// provider through `call_plugin`, futures on the SDK's runtime.
struct HostCall<'a> {
    cx: &'a CallContext,
    host: &'a Host,
}

impl Call for HostCall<'_> {
    fn emit(&self, event: &Event) {
        self.cx.emit(event);
    }

    fn is_cancelled(&self) -> bool {
        self.cx.is_cancelled()
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.host.log(level, message);
    }

    fn resolve(&self, provider: &str, request: &ResolveRequest) -> Result<Endpoint> {
        let out = self.host.call_plugin(provider, methods::PROVIDER_RESOLVE, &serde_json::to_value(request)?, self.cx)?;
        serde_json::from_value(out).map_err(|e| Error::other(format!("the provider {provider:?} returned a malformed endpoint: {e}")))
    }

    fn report(&self, provider: &str, report: &FailureReport) -> Result<Endpoint> {
        let out = self.host.call_plugin(provider, methods::PROVIDER_REPORT, &serde_json::to_value(report)?, self.cx)?;
        serde_json::from_value(out).map_err(|e| Error::other(format!("the provider {provider:?} returned a malformed endpoint: {e}")))
    }

    fn run<F: Future>(&self, future: F) -> Result<F::Output> {
        runtime::block_on_cancellable(self.cx, future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use talaria_sdk::testing::Harness;
    use talaria_sdk::transport::{FailureClass, TransportFailure};

    #[test]
    fn the_manifest_declares_the_transport() {
        let m = talaria_sdk::Manifest::parse(include_str!("../plugin.toml")).unwrap();
        assert_eq!(m.id, "responses");
        assert_eq!(m.kinds, vec![talaria_sdk::PluginKind::Transport]);
        assert_eq!(m.provides.transports, vec!["responses"]);
        assert_eq!(m.library.as_deref(), Some("talaria_responses"));
    }

    #[test]
    fn unknown_methods_are_refused() {
        let h = Harness::builder().config(json!({"websocket": false, "max_retries": 1})).start(init).unwrap();
        let err = h.call("tool.call", json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownMethod);
    }

    #[test]
    fn an_invalid_config_is_named() {
        let err = Harness::builder().config(json!({"max_retries": "many"})).start(init).err().unwrap();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert!(err.message.contains("[plugin_config.responses]"), "{}", err.message);
    }

    #[test]
    fn a_provider_that_cannot_be_called_fails_the_stream_with_data() {
        let h = Harness::start(init).unwrap();
        let req = StreamRequest { provider: "nobody".into(), session_id: "s".into(), model: "m".into(), ..Default::default() };
        let err = h.call(methods::TRANSPORT_STREAM, serde_json::to_value(req).unwrap()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert!(err.message.contains("nobody"), "{}", err.message);
        let failure: TransportFailure = serde_json::from_value(err.data.unwrap()).unwrap();
        assert_eq!(failure.class, FailureClass::Other);
        let err = h.call(methods::TRANSPORT_STREAM, json!({"model": 3})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
    }
}
