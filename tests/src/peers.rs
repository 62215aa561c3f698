//! Peers the benchmarks measure against, installed under `<target>/peers` when missing
//! (from the npm registry, with npm).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Codex CLI version the benchmarks pin.
pub const CODEX_VERSION: &str = "0.169.0";

/// `npm install --prefix <peers>/codex-0.169.0 @openai/codex@0.169.0`, unless that copy
/// already answers `codex-cli 0.169.0`.
pub fn install_codex(peers_dir: &Path) -> Result<PathBuf, String> {
    let dir = peers_dir.join(format!("codex-{CODEX_VERSION}"));
    let bin = dir.join("node_modules/.bin/codex");
    let ok = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_owned())
            })
            .is_some_and(|v| v == format!("codex-cli {CODEX_VERSION}"))
    };
    if bin.is_file() && ok(&bin) {
        return Ok(bin);
    }
    eprintln!("  npm install @openai/codex@{CODEX_VERSION}…");
    std::fs::create_dir_all(peers_dir).map_err(|e| e.to_string())?;
    let log = peers_dir.join("codex-install.log");
    let err = peers_dir.join("codex-install.err");
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(format!("@openai/codex@{CODEX_VERSION}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err).map_err(|e| e.to_string())?)
        .status()
        .map_err(|e| format!("npm could not be run: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`npm install @openai/codex@{CODEX_VERSION}` failed ({status}); see {}",
            err.display()
        ));
    }
    if bin.is_file() && ok(&bin) {
        Ok(bin)
    } else {
        Err(format!(
            "after `npm install`, {} does not answer `codex-cli {CODEX_VERSION}`",
            bin.display()
        ))
    }
}
