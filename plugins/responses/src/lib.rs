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
//! Modules: [`request`] (body, headers, incremental requests), [`events`] (events →
//! deltas and result), [`http`] and [`ws`] (one attempt each), [`driver`] (retries,
//! fallback, sessions), [`probe`]. Framing, retries and backoff, watchdogs and failure
//! classification come from `talaria_transport_kit`, shared with the other HTTP
//! transports (re-exported here as [`sse`], [`retry`], [`watchdog`], [`classify`]).

pub mod config;
pub mod driver;
pub mod events;
pub mod http;
pub mod probe;
pub mod request;
pub mod ws;

// What every HTTP transport shares lives in the transport kit; the paths stay.
pub use talaria_transport_kit::{classify, retry, sse, watchdog};

use talaria_sdk::transport::{ProbeRequest, ProbeResult, StreamRequest, StreamResult};
use talaria_sdk::{export_plugin, CallContext, Error, Exports, Host, Result, Transport};
use talaria_transport_kit::call::HostCall;

use crate::config::PluginConfig;
use crate::driver::Engine;

pub struct ResponsesTransport {
    engine: Engine,
}

pub fn init(host: Host) -> Result<Exports> {
    talaria_transport_kit::install_tls_provider();
    let config: PluginConfig = host
        .config()
        .map_err(|e| Error::invalid(format!("[plugin_config.responses]: {}", e.message)))?
        .unwrap_or_default();
    Ok(Exports::new().transport(ResponsesTransport {
        engine: Engine::new(config),
    }))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl Transport for ResponsesTransport {
    fn stream(&self, request: StreamRequest, cx: &CallContext) -> Result<StreamResult> {
        self.engine.stream(&HostCall::new(cx), &request)
    }

    fn probe(&self, request: ProbeRequest, cx: &CallContext) -> Result<ProbeResult> {
        probe::probe(&self.engine, &HostCall::new(cx), &request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use talaria_sdk::methods::{Method, TransportStream};
    use talaria_sdk::provider::{
        Endpoint, FailureReport, ModelList, ModelsRequest, ProviderInfo, ResolveRequest,
    };
    use talaria_sdk::testing::Harness;
    use talaria_sdk::transport::{FailureClass, StreamOptions, TransportFailure};
    use talaria_sdk::{ErrorKind, Provider};
    use talaria_tests::mock::MockServer;

    #[test]
    fn the_manifest_declares_the_transport() {
        let m = talaria_sdk::Manifest::parse(include_str!("../plugin.toml")).unwrap();
        assert_eq!(m.id, "responses");
        assert_eq!(m.kinds, vec![talaria_sdk::PluginKind::Transport]);
        assert_eq!(m.provides.transports, vec!["responses"]);
        assert_eq!(m.library.as_deref(), Some("talaria_responses"));
        assert_eq!(m.abi.to_string(), "^2.0");
    }

    #[test]
    fn unknown_methods_are_refused() {
        let h = Harness::builder()
            .config(json!({"websocket": false, "max_retries": 1}))
            .start(init)
            .unwrap();
        let err = h.call("tool.call", json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownMethod);
        let err = h
            .call("provider.resolve", json!({"provider": "x"}))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownMethod);
    }

    #[test]
    fn an_invalid_config_is_named() {
        let err = Harness::builder()
            .config(json!({"max_retries": "many"}))
            .start(init)
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert!(
            err.message.contains("[plugin_config.responses]"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_provider_that_cannot_be_called_fails_the_stream_with_data() {
        let h = Harness::start(init).unwrap();
        let req = StreamRequest {
            provider: "nobody".into(),
            session_id: "s".into(),
            model: "m".into(),
            ..Default::default()
        };
        let err = h.call_method::<TransportStream>(&req).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert!(err.message.contains("nobody"), "{}", err.message);
        let failure: TransportFailure = serde_json::from_value(err.data.unwrap()).unwrap();
        assert_eq!(failure.class, FailureClass::Other);
        let err = h
            .call(TransportStream::NAME, json!({"model": 3}))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
    }

    /// A provider that hands out `base` and records what it is asked.
    struct Recording {
        base: String,
        asked: Arc<Mutex<Vec<String>>>,
    }

    impl Provider for Recording {
        fn info(&self, provider: &str) -> Result<ProviderInfo> {
            Ok(ProviderInfo {
                id: provider.into(),
                wire_api: "responses".into(),
                supports_login: false,
            })
        }
        fn resolve(
            &self,
            provider: &str,
            request: ResolveRequest,
            _: &CallContext,
        ) -> Result<Endpoint> {
            self.asked
                .lock()
                .unwrap()
                .push(format!("resolve {provider} {}", request.session_id));
            Ok(Endpoint {
                base_url: self.base.clone(),
                credential: Some("k1".into()),
                ..Default::default()
            })
        }
        fn report(
            &self,
            provider: &str,
            report: FailureReport,
            _: &CallContext,
        ) -> Result<Endpoint> {
            self.asked.lock().unwrap().push(format!(
                "report {provider} {} {:?}",
                report.status, report.credential
            ));
            Err(Error::new(ErrorKind::Auth, "run `talaria login`"))
        }
        fn models(&self, _: &str, _: ModelsRequest, _: &CallContext) -> Result<ModelList> {
            Ok(ModelList::default())
        }
    }

    fn with_provider(base: &str) -> (Harness, Arc<Mutex<Vec<String>>>) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let provider = Recording {
            base: base.to_owned(),
            asked: asked.clone(),
        };
        let h = Harness::builder()
            .config(json!({"websocket": false}))
            .provider(&["acme"], provider)
            .start(init)
            .unwrap();
        (h, asked)
    }

    fn stream_request() -> StreamRequest {
        let options = StreamOptions {
            max_retries: Some(0),
            ..Default::default()
        };
        StreamRequest {
            provider: "acme".into(),
            session_id: "s-1".into(),
            model: "m".into(),
            options,
            ..Default::default()
        }
    }

    #[test]
    fn the_endpoint_comes_from_the_named_provider_through_the_host() {
        // Nothing listens on a port that was just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (h, asked) = with_provider(&format!("http://127.0.0.1:{port}/v1"));
        let err = h
            .call_method::<TransportStream>(&stream_request())
            .unwrap_err();
        assert_eq!(*asked.lock().unwrap(), ["resolve acme s-1"]);
        let failure: TransportFailure = serde_json::from_value(err.data.unwrap()).unwrap();
        assert_eq!(
            (failure.class, failure.url),
            (
                FailureClass::Connect,
                format!("http://127.0.0.1:{port}/v1/responses")
            )
        );
    }

    #[test]
    fn a_401_is_reported_to_the_provider_through_the_host() {
        // The provider's endpoint carries no key: the mock's `/v1` answers 401.
        let mock = MockServer::start();
        let (h, asked) = with_provider(&mock.openai_base_url());
        let err = h
            .call_method::<TransportStream>(&stream_request())
            .unwrap_err();
        assert_eq!(
            *asked.lock().unwrap(),
            ["resolve acme s-1", "report acme 401 Some(\"k1\")"]
        );
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::Auth, "run `talaria login`")
        );
        let failure: TransportFailure = serde_json::from_value(err.data.unwrap()).unwrap();
        assert_eq!(
            (failure.class, failure.status),
            (FailureClass::Auth, Some(401))
        );
        let sent = mock.requests();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(
            (sent[0].method.as_str(), sent[0].path.as_str()),
            ("POST", "/v1/responses")
        );
    }
}
