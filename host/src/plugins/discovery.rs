//! Finding plugins without loading them.
//!
//! Search order, first match of an id wins (so a user's copy overrides a bundled one):
//! 1. each `TALARIA_PLUGIN_PATH` entry (a plugin folder, or a folder of plugin folders);
//! 2. installed plugins, `$TALARIA_HOME/plugins/<id>/`;
//! 3. first-party plugins beside the binary: a `plugins/` folder next to it, else the
//!    libraries in the build-output folder it was built into, described by the manifests
//!    embedded at build time.

use std::path::{Path, PathBuf};

use serde::Serialize;
use talaria_plugin_api::manifest::Manifest;

use crate::config::PluginClaims;

use crate::home::Home;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/first_party.rs"));
}

pub const MANIFEST_FILE: &str = "plugin.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    FirstParty,
    Installed,
    Path,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::FirstParty => "first-party",
            Source::Installed => "installed",
            Source::Path => "path",
        }
    }
}

/// One plugin found on disk. `problem` says why it cannot be used when the manifest is
/// missing or invalid; such entries are still listed so the user sees them.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The manifest's id, or the folder name when there is no usable manifest.
    pub id: String,
    pub dir: PathBuf,
    pub source: Source,
    /// Where the manifest came from (a file, or "embedded" for first-party builds).
    pub manifest_origin: String,
    pub manifest: Option<Manifest>,
    pub library: Option<PathBuf>,
    pub problem: Option<String>,
}

/// Everything discovery found: the winning entry per id, the entries they shadow, and
/// folders that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub entries: Vec<PluginEntry>,
    pub shadowed: Vec<PluginEntry>,
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Catalog {
    pub fn discover(home: &Home) -> Catalog {
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        for dir in plugin_path_env() {
            // A folder the user named explicitly should exist; say so when it does not.
            if !dir.exists() {
                unreadable.push((
                    dir.clone(),
                    "no such folder (from TALARIA_PLUGIN_PATH)".into(),
                ));
            }
            scan(&dir, Source::Path, &mut found, &mut unreadable);
        }
        scan(
            &home.plugins_dir(),
            Source::Installed,
            &mut found,
            &mut unreadable,
        );
        first_party(&mut found, &mut unreadable);

        let mut catalog = Catalog {
            unreadable,
            ..Default::default()
        };
        for entry in found {
            if catalog.entries.iter().any(|e| e.id == entry.id) {
                catalog.shadowed.push(entry);
            } else {
                catalog.entries.push(entry);
            }
        }
        catalog.entries.sort_by(|a, b| a.id.cmp(&b.id));
        catalog
    }

    fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.entries.iter().filter_map(|e| e.manifest.as_ref())
    }

    pub fn get(&self, id: &str) -> Option<&PluginEntry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

fn plugin_path_env() -> Vec<PathBuf> {
    std::env::var_os("TALARIA_PLUGIN_PATH")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Scans `dir`: a plugin folder itself, or a folder of plugin folders. A missing folder
/// is simply empty; an unreadable one is reported.
fn scan(
    dir: &Path,
    source: Source,
    found: &mut Vec<PluginEntry>,
    unreadable: &mut Vec<(PathBuf, String)>,
) {
    if dir.join(MANIFEST_FILE).exists() {
        found.push(entry_from_folder(dir, source));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            unreadable.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for sub in dirs {
        if sub
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue; // temp folders of an install in progress
        }
        match std::fs::read_dir(&sub) {
            Err(e) => unreadable.push((sub.clone(), e.to_string())),
            Ok(_) if sub.join(MANIFEST_FILE).exists() || find_library(&sub).is_some() => {
                found.push(entry_from_folder(&sub, source))
            }
            Ok(_) => {}
        }
    }
}

/// Reads a plugin folder's manifest and locates its library.
pub fn entry_from_folder(dir: &Path, source: Source) -> PluginEntry {
    let folder_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut entry = PluginEntry {
        id: folder_name,
        dir: dir.to_path_buf(),
        source,
        manifest_origin: manifest_path.display().to_string(),
        manifest: None,
        library: find_library(dir),
        problem: None,
    };
    let text = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            entry.problem = Some(format!(
                "missing manifest: {} has a library but no {MANIFEST_FILE}",
                dir.display()
            ));
            return entry;
        }
        Err(e) => {
            entry.problem = Some(format!("cannot read {}: {e}", manifest_path.display()));
            return entry;
        }
    };
    match Manifest::parse(&text) {
        Ok(manifest) => {
            entry.id = manifest.id.clone();
            let lib = dir.join(manifest.library_file_name());
            entry.library = Some(lib);
            entry.manifest = Some(manifest);
        }
        Err(e) => {
            entry.problem = Some(format!("invalid manifest {}: {e}", manifest_path.display()))
        }
    }
    entry
}

/// The single shared library in a folder, for folders without a (valid) manifest.
fn find_library(dir: &Path) -> Option<PathBuf> {
    let suffix = std::env::consts::DLL_SUFFIX;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
}

/// First-party plugins ship next to the binary: in a `plugins/` folder beside it (an
/// installed release), or as libraries in the build-output folder it was built into
/// (`cargo build`, whatever `CARGO_TARGET_DIR` is). Test binaries live one level down,
/// in `deps/`, so the parent is searched too.
fn first_party(found: &mut Vec<PluginEntry>, unreadable: &mut Vec<(PathBuf, String)>) {
    let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    else {
        return;
    };
    let bundled = exe_dir.join("plugins");
    let before = found.len();
    scan(&bundled, Source::FirstParty, found, unreadable);
    let bundled_ids: Vec<String> = found[before..].iter().map(|e| e.id.clone()).collect();

    let mut search = vec![exe_dir.clone()];
    if exe_dir.file_name().is_some_and(|n| n == "deps") {
        search.extend(exe_dir.parent().map(Path::to_path_buf));
    }
    for text in embedded::FIRST_PARTY_MANIFESTS {
        let manifest = match Manifest::parse(text) {
            Ok(m) => m,
            Err(_) => continue, // a broken first-party manifest fails the workspace's own tests
        };
        if bundled_ids.contains(&manifest.id) {
            continue;
        }
        let file = manifest.library_file_name();
        let library = search.iter().map(|d| d.join(&file)).find(|p| p.is_file());
        let problem = library.is_none().then(|| {
            format!(
                "library {file} not found next to {} (build it with `cargo build --workspace`)",
                exe_dir.display()
            )
        });
        found.push(PluginEntry {
            id: manifest.id.clone(),
            dir: exe_dir.clone(),
            source: Source::FirstParty,
            manifest_origin: "embedded in the talaria binary".into(),
            library: Some(library.unwrap_or_else(|| exe_dir.join(&file))),
            manifest: Some(manifest),
            problem,
        });
    }
}

/// What the plugins found (enabled or not) own and provide, for the config's checks.
impl PluginClaims for Catalog {
    fn claims_section(&self, name: &str) -> bool {
        self.manifests().any(|m| m.config.iter().any(|c| c == name))
    }

    fn provides_transport(&self, wire_api: &str) -> bool {
        self.manifests().any(|m| m.provides_transport(wire_api))
    }

    fn serves_provider_kind(&self, kind: &str) -> bool {
        self.manifests().any(|m| m.serves_provider_kind(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_party_manifests_are_embedded_and_valid() {
        assert!(!embedded::FIRST_PARTY_MANIFESTS.is_empty());
        for text in embedded::FIRST_PARTY_MANIFESTS {
            Manifest::parse(text).unwrap();
        }
    }

    #[test]
    fn a_folder_with_a_library_but_no_manifest_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("stray");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(
            p.join(format!("libstray{}", std::env::consts::DLL_SUFFIX)),
            b"x",
        )
        .unwrap();
        let mut found = Vec::new();
        let mut bad = Vec::new();
        scan(tmp.path(), Source::Path, &mut found, &mut bad);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .problem
                .as_deref()
                .unwrap()
                .contains("missing manifest"),
            "{:?}",
            found[0].problem
        );
    }

    #[test]
    fn a_single_plugin_folder_is_accepted_directly() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(MANIFEST_FILE),
            "id='x'\nversion='1.0.0'\nkind='tool'\nabi='^1'\n",
        )
        .unwrap();
        let mut found = Vec::new();
        scan(tmp.path(), Source::Path, &mut found, &mut Vec::new());
        assert_eq!(found[0].id, "x");
        assert!(found[0].problem.is_none());
    }
}
