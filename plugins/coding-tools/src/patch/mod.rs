//! `apply_patch`: Codex's patch format ([`parser`]), found in the files with Codex's
//! tolerance ([`seek`]) and applied whole or not at all ([`apply`]).

pub mod apply;
pub mod parser;
pub mod seek;

use std::path::Path;

pub use apply::Plan;
pub use parser::{Chunk, Hunk, ParseError};

/// The grammar of the freeform tool (Codex's, so the model writes what it was trained on).
pub const GRAMMAR: &str = include_str!("apply_patch.lark");

/// Parses the patch and works out its effect on the files under `cwd`, touching nothing.
/// The error is the text the model gets.
pub fn prepare(patch: &str, cwd: &Path) -> Result<Plan, String> {
    let hunks = parser::parse(patch).map_err(|e| e.to_string())?;
    if hunks.is_empty() {
        return Err("No files were modified.".into());
    }
    apply::plan(&hunks, cwd).map_err(|e| format!("apply_patch verification failed: {e}"))
}

/// Parses, checks and writes a patch; the success text names the files.
pub fn apply_patch(patch: &str, cwd: &Path) -> Result<String, String> {
    let plan = prepare(patch, cwd)?;
    apply::commit(&plan)?;
    Ok(plan.summary())
}

#[cfg(test)]
mod tests;
