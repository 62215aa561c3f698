//! Embeds the manifests of the first-party plugins (`plugins/*/plugin.toml`) so the host
//! can find their libraries in its own build-output folder with no install step, and can
//! list them without loading any code.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let plugins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    println!("cargo:rerun-if-changed={}", plugins.display());
    let mut manifests = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&plugins) {
        for entry in entries.flatten() {
            let manifest = entry.path().join("plugin.toml");
            if manifest.is_file() {
                println!("cargo:rerun-if-changed={}", manifest.display());
                manifests.push(manifest);
            }
        }
    }
    manifests.sort();
    let mut out = String::from("/// `plugin.toml` of every first-party plugin, embedded at build time.\npub const FIRST_PARTY_MANIFESTS: &[&str] = &[\n");
    for m in &manifests {
        let _ = writeln!(out, "    include_str!({:?}),", m.display().to_string());
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("first_party.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
