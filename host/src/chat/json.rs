//! `chat --json`: one JSON object per line on stdout, each with a `type`.

use crate::agent::{ChatEvent, TurnObserver};

pub struct JsonPrinter;

impl TurnObserver for JsonPrinter {
    fn event(&self, event: &ChatEvent) {
        if let ChatEvent::Progress { message } = event {
            // Not one of the documented event types; people still see it.
            eprintln!("{message}");
            return;
        }
        match serde_json::to_string(event) {
            Ok(line) => crate::output::print_line(&line),
            Err(e) => tracing::error!("could not encode a chat event: {e}"),
        }
    }
}
