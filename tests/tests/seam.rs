//! The host reaches plugins through the registry and host services, never by name: no
//! id of a plugin, provider, transport or runtime that a plugin in this workspace
//! declares appears in the host's product code, except the profile's config defaults.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use talaria_plugin_api::manifest::Manifest;
use talaria_tests::artifacts::workspace_root;

/// Every id the workspace's plugins declare (first-party and fixtures).
fn declared_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for folder in ["plugins", "tests/fixtures"] {
        for entry in std::fs::read_dir(workspace_root().join(folder)).unwrap() {
            let Ok(text) = std::fs::read_to_string(entry.unwrap().path().join("plugin.toml"))
            else {
                continue;
            };
            let m = Manifest::parse(&text).unwrap();
            ids.insert(m.id.clone());
            ids.extend(
                m.provides
                    .providers
                    .iter()
                    .chain(&m.provides.transports)
                    .chain(&m.provides.runtimes)
                    .cloned(),
            );
        }
    }
    ids
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_host_names_no_plugin_outside_its_config_defaults() {
    let ids = declared_ids();
    assert!(
        ids.contains("relay") && ids.contains("responses") && ids.contains("openai-codex"),
        "{ids:?}"
    );
    // `model.provider` and `model.runtime` default to the first-party provider and loop.
    let allowed = [("config/mod.rs", "openai-codex"), ("config/mod.rs", "auto")];
    let host = workspace_root().join("host/src");
    let mut files = Vec::new();
    rust_files(&host, &mut files);
    let mut named = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may use real ids as data, and comments may give examples.
        let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
        let product: String = before_tests
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let rel = file
            .strip_prefix(&host)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for id in &ids {
            if product.contains(&format!("\"{id}\""))
                && !allowed.contains(&(rel.as_str(), id.as_str()))
            {
                named.push(format!("{rel} names {id:?}"));
            }
        }
    }
    assert!(named.is_empty(), "{named:#?}");
}
