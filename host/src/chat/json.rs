//! `chat --json`: one event per line on stdout, exactly as the schema
//! (`docs/events.schema.json`) describes it.

use talaria_plugin_api::payload::Event;

use crate::events::Observer;

pub struct JsonPrinter;

impl Observer for JsonPrinter {
    fn event(&self, event: &Event) {
        match event {
            // Not one of the contract's event types; people still see it.
            Event::Progress { message } => eprintln!("{message}"),
            Event::Unknown | Event::LoginCode { .. } => {}
            event => match serde_json::to_string(event) {
                Ok(line) => crate::output::print_line(&line),
                Err(e) => tracing::error!("could not encode a chat event: {e}"),
            },
        }
    }
}
