//! Tool output cut to the model's budget, keeping its head and tail (reference:
//! codex-tools.md §4): the catalog's `truncation_policy` is `{mode: bytes|tokens,
//! limit}`, a token counting as four bytes.

use serde::Deserialize;
use serde_json::Value;
use talaria_sdk::provider::ModelInfo;

/// Bytes per token, as Codex estimates it.
const BYTES_PER_TOKEN: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "mode", content = "limit", rename_all = "snake_case")]
pub enum Policy {
    Bytes(usize),
    Tokens(usize),
}

impl Default for Policy {
    /// What every current catalog entry says.
    fn default() -> Self {
        Policy::Tokens(10_000)
    }
}

impl Policy {
    /// The model's policy, or the default when the catalog says none.
    pub fn for_model(model: Option<&ModelInfo>) -> Policy {
        model
            .and_then(|m| m.tools.get("truncation_policy"))
            .and_then(|v| serde_json::from_value::<Policy>(v.clone()).ok())
            .unwrap_or_default()
    }

    fn budget_bytes(self) -> usize {
        match self {
            Policy::Bytes(n) => n,
            Policy::Tokens(n) => n.saturating_mul(BYTES_PER_TOKEN),
        }
    }
}

/// `text` within the budget: unchanged when it fits, else its head and tail halves
/// around a marker saying how much was cut. The flag says whether anything was cut.
pub fn truncate(text: &str, policy: Policy) -> (String, bool) {
    let budget = policy.budget_bytes();
    if text.len() <= budget {
        return (text.to_owned(), false);
    }
    let head_end = floor_boundary(text, budget / 2);
    let tail_start = ceil_boundary(text, text.len() - (budget - budget / 2));
    let cut = &text[head_end..tail_start];
    let marker = match policy {
        Policy::Bytes(_) => format!("…{} chars truncated…", cut.chars().count()),
        Policy::Tokens(_) => format!("…{} tokens truncated…", cut.len().div_ceil(BYTES_PER_TOKEN)),
    };
    (
        format!("{}{marker}{}", &text[..head_end], &text[tail_start..]),
        true,
    )
}

/// The budget of a call that names its own (`max_output_tokens`), else the policy.
pub fn with_max_tokens(policy: Policy, max_output_tokens: Option<&Value>) -> Policy {
    match max_output_tokens.and_then(Value::as_u64) {
        Some(n) => Policy::Tokens(n as usize),
        None => policy,
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn head_and_tail_are_kept() {
        let text = "a".repeat(50) + &"b".repeat(50);
        assert_eq!(truncate(&text, Policy::Bytes(100)), (text.clone(), false));
        let (out, cut) = truncate(&text, Policy::Bytes(20));
        assert!(cut);
        assert_eq!(
            out,
            format!("{}…80 chars truncated…{}", "a".repeat(10), "b".repeat(10))
        );
        let (out, _) = truncate(&text, Policy::Tokens(5));
        assert_eq!(
            out,
            format!("{}…20 tokens truncated…{}", "a".repeat(10), "b".repeat(10))
        );
        // Never splits a character.
        let (out, _) = truncate(&"é".repeat(20), Policy::Bytes(5));
        assert!(
            out.starts_with("é…") && out.ends_with("…éé") || out.ends_with("…é"),
            "{out}"
        );
    }

    #[test]
    fn the_policy_comes_from_the_catalog() {
        let mut info = ModelInfo::default();
        assert_eq!(Policy::for_model(Some(&info)), Policy::Tokens(10_000));
        info.tools.insert(
            "truncation_policy".into(),
            json!({"mode": "bytes", "limit": 300}),
        );
        assert_eq!(Policy::for_model(Some(&info)), Policy::Bytes(300));
        assert_eq!(
            with_max_tokens(Policy::Bytes(3), Some(&json!(7))),
            Policy::Tokens(7)
        );
    }
}
