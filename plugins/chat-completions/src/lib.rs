//! `chat-completions`: a transport for the OpenAI Chat Completions API, the one
//! OpenRouter, llama.cpp, vLLM, Ollama, LM Studio and most gateways speak.
//!
//! Each `transport.stream` call is one `POST {base}/chat/completions` with
//! `stream: true` and `stream_options.include_usage`; the answer's SSE chunks become
//! text and reasoning deltas, tool calls assembled by index, and the usage the server
//! reported. The typed conversation items are converted to messages and back
//! ([`request`], [`stream`]). Retries, watchdogs and error classification are the
//! transport kit's, the same rules as the `responses` transport.
//!
//! Built against the SDK (and the transport kit) only, as a third party would.

pub mod config;
pub mod driver;
pub mod request;
pub mod stream;
pub mod wire;

use talaria_sdk::transport::{ProbeRequest, ProbeResult, StreamRequest, StreamResult};
use talaria_sdk::{export_plugin, CallContext, Error, Exports, Host, Result, Transport};
use talaria_transport_kit::call::HostCall;

use crate::config::PluginConfig;
use crate::driver::Engine;

pub struct ChatCompletions {
    engine: Engine,
}

pub fn init(host: Host) -> Result<Exports> {
    talaria_transport_kit::install_tls_provider();
    let config: PluginConfig = host
        .config()
        .map_err(|e| Error::invalid(format!("[plugin_config.chat-completions]: {}", e.message)))?
        .unwrap_or_default();
    Ok(Exports::new().transport(ChatCompletions {
        engine: Engine::new(config),
    }))
}

export_plugin!(manifest: include_str!("../plugin.toml"), init: init);

impl Transport for ChatCompletions {
    fn stream(&self, request: StreamRequest, cx: &CallContext) -> Result<StreamResult> {
        self.engine.stream(&HostCall::new(cx), &request)
    }

    fn probe(&self, request: ProbeRequest, cx: &CallContext) -> Result<ProbeResult> {
        self.engine.probe(&HostCall::new(cx), &request)
    }
}

#[cfg(test)]
mod tests;
