//! The names MCP tools get in talaria: `mcp__SERVER__TOOL`, the Codex CLI's convention,
//! so a model (and a user) reading either sees the same names. Model APIs accept
//! `[A-Za-z0-9_-]{1,64}`: other characters become `_`, and a longer name is cut and
//! given a short hash of the full name, so two long names stay apart.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "mcp__";
const SEPARATOR: &str = "__";
const MAX_LEN: usize = 64;

/// The name the model sees for `server`'s tool `tool`.
pub fn qualified(server: &str, tool: &str) -> String {
    let full = format!("{PREFIX}{}{SEPARATOR}{}", sanitize(server), sanitize(tool));
    if full.len() <= MAX_LEN {
        return full;
    }
    let digest = Sha256::digest(format!("{server}\0{tool}").as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}_{hash}", &full[..MAX_LEN - hash.len() - 1])
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_codex_and_fit_model_apis() {
        assert_eq!(qualified("files", "read_file"), "mcp__files__read_file");
        assert_eq!(qualified("my.srv", "get sum"), "mcp__my_srv__get_sum");
        let long = "t".repeat(80);
        let a = qualified("s", &long);
        let b = qualified("s", &format!("{long}x"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }
}
