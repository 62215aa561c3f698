//! `plugins install` and `plugins remove`: copying a checked plugin into
//! `$TALARIA_HOME/plugins/<id>/` and taking it out again.

use std::path::{Path, PathBuf};

use super::discovery::{entry_from_folder, Catalog, PluginEntry, Source, MANIFEST_FILE};
use super::loader;
use super::registry::describe_failure;
use crate::error::{io_error, Error, Result};
use crate::home::Home;

/// Installs the plugin at `source` (its folder, its plugin.toml or its library). The
/// library is checked first — header, layout, ABI version, manifest agreement — without
/// running its init; a plugin that would not load is not installed.
pub fn install(home: &Home, source: &Path, force: bool) -> Result<PluginEntry> {
    let folder = plugin_folder(source)?;
    let entry = entry_from_folder(&folder, Source::Path);
    if let Err(e) = loader::inspect(&entry) {
        return Err(Error::usage(format!(
            "not installed: {}",
            describe_failure(&entry, &e)
        )));
    }
    let (Some(manifest), Some(library)) = (&entry.manifest, &entry.library) else {
        return Err(Error::usage(format!(
            "not installed: {} is not a complete plugin folder",
            folder.display()
        )));
    };

    let plugins = home.plugins_dir();
    let target = plugins.join(&manifest.id);
    if target.exists() && !force {
        return Err(Error::usage(format!(
            "plugin {} is already installed in {}; pass --force to replace it",
            manifest.id,
            target.display()
        )));
    }
    crate::fsutil::create_private_dir_all(&plugins)?;

    // Stage in a hidden folder beside the target (discovery skips dot-folders), then
    // swap it in with renames, so a failed copy never leaves a half-installed plugin.
    let staging = tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(&plugins)
        .map_err(|e| io_error(&plugins, "create a staging folder in", e))?;
    for file in [folder.join(MANIFEST_FILE), library.clone()] {
        let name = file.file_name().map(PathBuf::from).unwrap_or_default();
        let dest = staging.path().join(name);
        std::fs::copy(&file, &dest).map_err(|e| io_error(&file, "copy", e))?;
    }
    let old = staging.path().with_extension("old");
    if target.exists() {
        std::fs::rename(&target, &old).map_err(|e| io_error(&target, "move aside", e))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &target) {
        // Put the previous install back before reporting.
        let _ = std::fs::rename(&old, &target);
        let _ = std::fs::remove_dir_all(&staged);
        return Err(io_error(&target, "install into", e));
    }
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(entry_from_folder(&target, Source::Installed))
}

/// Removes an installed plugin. First-party and `TALARIA_PLUGIN_PATH` plugins are not
/// ours to delete; they can be disabled instead.
pub fn remove(home: &Home, catalog: &Catalog, id: &str) -> Result<PathBuf> {
    let installed = catalog
        .entries
        .iter()
        .chain(&catalog.shadowed)
        .find(|e| e.id == id && e.source == Source::Installed);
    match installed {
        Some(entry) => {
            let dir = entry.dir.clone();
            // Only ever delete inside the plugins folder, whatever a manifest claims.
            if dir.parent() != Some(home.plugins_dir().as_path()) {
                return Err(Error::failure(format!("refusing to delete {}: not inside {}", dir.display(), home.plugins_dir().display())));
            }
            std::fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, "remove", e))?;
            Ok(dir)
        }
        None => match catalog.get(id) {
            Some(e) => Err(Error::usage(format!(
                "plugin {id} is {} ({}), not installed; disable it with `talaria plugins disable {id}`",
                e.source.as_str(),
                e.dir.display()
            ))),
            None => Err(super::registry::unknown_plugin(id)),
        },
    }
}

/// Accepts the plugin's folder, its manifest, or its library file.
fn plugin_folder(source: &Path) -> Result<PathBuf> {
    let meta = std::fs::metadata(source)
        .map_err(|e| Error::usage(format!("cannot install {}: {e}", source.display())))?;
    let folder = if meta.is_dir() {
        source.to_path_buf()
    } else {
        source.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    if !folder.join(MANIFEST_FILE).is_file() {
        return Err(Error::usage(format!(
            "{} has no {MANIFEST_FILE}; a plugin folder holds the manifest and the library (see docs/plugin-guide.md)",
            folder.display()
        )));
    }
    Ok(folder)
}
