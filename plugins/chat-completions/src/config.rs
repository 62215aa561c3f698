//! `[plugin_config.chat-completions]`: the limits every HTTP transport shares
//! (`talaria_transport_kit::limits`), and nothing of its own.

pub use talaria_transport_kit::limits::{Limits as Settings, LimitsConfig as PluginConfig};
