//! The host's end of the event stream: plugins emit [`Event`]s as JSON into a sink;
//! observers (the terminal renderer, the `--json` printer, the session recorder) get
//! them typed.

use std::sync::Arc;

use talaria_plugin_api::abi::{event_sink, EventSink, EventSinkArc};
use talaria_plugin_api::abi_stable::std_types::RStr;
use talaria_plugin_api::payload::Event;

/// Receives events as they happen.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// An ABI sink that parses each event and hands it to `observer`. Events this build
/// cannot parse are skipped (a newer plugin must not break an older host).
pub fn sink(observer: Arc<dyn Observer>) -> EventSinkArc {
    event_sink(ObserverSink(observer))
}

struct ObserverSink(Arc<dyn Observer>);

impl EventSink for ObserverSink {
    fn emit(&self, event: RStr<'_>) {
        match serde_json::from_str::<Event>(event.as_str()) {
            Ok(Event::Unknown) => {}
            Ok(event) => self.0.event(&event),
            Err(_) => tracing::debug!("skipped an event that does not parse"),
        }
    }
}

/// Sends an event to an ABI sink (the host's own events: approvals, the session).
pub fn emit(sink: &EventSinkArc, event: &Event) {
    match serde_json::to_string(event) {
        Ok(text) => sink.emit(RStr::from_str(&text)),
        Err(e) => tracing::error!("could not encode an event: {e}"),
    }
}

/// Events of short commands (login, models, a tool called from the CLI): progress and
/// warnings go to stderr, so stdout is left to the command's own output.
pub struct Notices;

impl Observer for Notices {
    fn event(&self, event: &Event) {
        match event {
            Event::Progress { message } => eprintln!("{message}"),
            Event::Warning { message } => eprintln!("warning: {message}"),
            Event::Error { message, .. } => eprintln!("error: {message}"),
            _ => {}
        }
    }
}

pub fn notices() -> EventSinkArc {
    sink(Arc::new(Notices))
}

/// Hands events to a closure (login's device-code screen).
pub struct Relay<F>(pub F);

impl<F: Fn(&Event) + Send + Sync> Observer for Relay<F> {
    fn event(&self, event: &Event) {
        (self.0)(event)
    }
}
