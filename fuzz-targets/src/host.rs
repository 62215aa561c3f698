//! What the host reads from files: plugin manifests, the profile's `config.toml` and
//! its `auth.json`.

use serde_json::json;
use talaria::config::{Config, PluginClaims};
use talaria::credentials::CredentialStore;
use talaria_plugin_api::manifest::Manifest;

/// `plugin.toml`. Property: a manifest it accepts names its library and matches itself.
pub fn plugin_manifest(data: &[u8]) {
    let Ok(manifest) = Manifest::parse(&crate::text(data)) else {
        return;
    };
    assert!(!manifest.library_file_name().is_empty());
    assert!(manifest.differences(&manifest).is_empty());
    let _ = manifest.runtime_ids();
    let _ = manifest.credential_namespaces().count();
}

/// The plugins of a typical installation, for the claims check.
struct Installed;

impl PluginClaims for Installed {
    fn claims_section(&self, name: &str) -> bool {
        [
            "auxiliary",
            "model",
            "fallback_model",
            "mcp_servers",
            "codex",
            "providers",
        ]
        .contains(&name)
    }
    fn provides_transport(&self, wire_api: &str) -> bool {
        ["responses", "chat-completions"].contains(&wire_api)
    }
    fn serves_provider_kind(&self, kind: &str) -> bool {
        ["openai-codex", "openai-api", "openai-compatible"].contains(&kind)
    }
}

/// `config.toml`, loaded from a file as the host loads it, then checked against the
/// plugins. Property: a bad file is an error naming the file, never a panic.
pub fn config_toml(data: &[u8]) {
    let Some(path) = crate::file("config.toml", data) else {
        return;
    };
    let names_file = |e: &dyn std::fmt::Display| {
        let message = e.to_string();
        assert!(message.contains("config.toml"), "{message}");
    };
    match Config::load(&path) {
        Ok(config) => {
            if let Err(e) = config.check_plugin_claims(&path, &Installed) {
                names_file(&e);
            }
            for name in ["auxiliary", "mcp_servers", "codex", "providers", "model"] {
                let _ = config.section(name);
            }
            let _ = config.plugin_config("openai-codex");
        }
        Err(e) => names_file(&e),
    }
}

/// The profile's `auth.json`. Properties: reading never panics; storing a login either
/// keeps every other provider's entry, or (for a corrupt file) keeps the old bytes
/// aside; what was stored reads back.
pub fn credentials(data: &[u8]) {
    let Some(path) = crate::file("credentials/auth.json", data) else {
        return;
    };
    let dir = path.with_file_name("");
    let store = CredentialStore::new(path.clone());
    let _ = store.get("openai-codex");
    let before = store.providers();
    let login = json!({ "access_token": "a", "refresh_token": "r" });
    let stored = store.update("fuzz", |_| Ok(Some(login.clone())));
    if let Ok(stored) = stored {
        assert_eq!(stored, login);
        match store.get("fuzz") {
            Ok(v) => assert_eq!(v, login),
            Err(e) => panic!("a login just stored does not read back: {e}"),
        }
        let after = store.providers().unwrap_or_default();
        match before {
            Ok(before) => {
                for id in before {
                    assert!(after.contains(&id), "the entry of {id} was lost");
                }
            }
            Err(_) => {
                let kept = std::fs::read(dir.join("auth.json.corrupt")).ok();
                assert_eq!(kept.as_deref(), Some(data), "the corrupt file was not kept");
            }
        }
    }
    // The next input starts from an empty folder.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
