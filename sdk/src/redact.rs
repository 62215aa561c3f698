//! Keeping credentials out of what a plugin shows or logs: a peer's stderr, an error
//! body that echoes a request, a library's error text.

/// Values a plugin knows to be secret (a configured header or environment value, a
/// token it holds), masked wherever they appear, then [`redact`] for what merely looks
/// like a credential.
#[derive(Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

/// Shorter values are not masked: `DEBUG=1` or `PORT=8080` in a server's environment
/// are settings, and masking every "1" would make messages unreadable.
const MIN_SECRET_CHARS: usize = 8;

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut values: Vec<String> = values
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| v.chars().count() >= MIN_SECRET_CHARS)
            .collect();
        // The longest first, so that a value containing another is masked whole (and
        // equal values side by side, for `dedup`).
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Secrets { values }
    }

    /// `text` with every known secret and every credential-looking word masked.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for value in &self.values {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), "[redacted]");
            }
        }
        redact(&text)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

/// Hides what looks like a credential in a line of text: bearer tokens, JWTs, API keys
/// and `token=…`-style values (also inside quotes and JSON).
pub fn redact(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    // Set by a word after which the next word is the secret: `Bearer`, or a key such
    // as `access_token` followed by `=` or `:` (also in JSON, `"token": "..."`).
    let mut pending: Option<SecretNext> = None;
    let mut rest = line;
    while !rest.is_empty() {
        let word_start = rest.find(is_word_char).unwrap_or(rest.len());
        let (gap, after) = rest.split_at(word_start);
        out.push_str(gap);
        pending = pending.filter(|p| p.allows(gap));
        let word_end = after.find(|c| !is_word_char(c)).unwrap_or(after.len());
        let (word, tail) = after.split_at(word_end);
        if word.is_empty() {
            break;
        }
        if pending.take().is_some() || looks_secret(word) {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
        pending = SecretNext::after(word);
        rest = tail;
    }
    out
}

/// Tokens, keys and JWTs are made of these; quotes, `=`, `:` and spaces end them.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.~".contains(c)
}

/// An API key (`sk-…`), a JWT (`eyJ…`), or a long run of letters and digits.
fn looks_secret(word: &str) -> bool {
    word.starts_with("sk-")
        || word.starts_with("eyJ")
        || (word.len() >= 32
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_alphabetic()))
}

#[derive(Clone, Copy)]
enum SecretNext {
    /// After `Bearer`: the next word, across spaces.
    Bearer,
    /// After a key name: the next word, when `=` or `:` comes between.
    Key,
    /// After `code` (an OAuth code): the next word only after `=`, so that
    /// "exit code: 1" stays readable.
    Assigned,
}

impl SecretNext {
    fn after(word: &str) -> Option<SecretNext> {
        let lower = word.to_ascii_lowercase();
        if lower == "bearer" {
            Some(SecretNext::Bearer)
        } else if ["token", "key", "secret", "password", "authorization"]
            .iter()
            .any(|k| lower.contains(k))
        {
            Some(SecretNext::Key)
        } else if lower.ends_with("code") {
            Some(SecretNext::Assigned)
        } else {
            None
        }
    }

    fn allows(self, gap: &str) -> bool {
        match self {
            SecretNext::Bearer => gap.chars().all(|c| c == ' ' || c == '"' || c == '\''),
            SecretNext::Key => {
                gap.contains(['=', ':']) && gap.chars().all(|c| " =:\"'\\".contains(c))
            }
            SecretNext::Assigned => gap.trim() == "=",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_stderr_are_redacted() {
        let line = "ERROR refresh failed: Authorization: Bearer abc.def access_token=xyz sk-proj-123 eyJhbGciOi.x.y ok";
        let out = redact(line);
        assert!(!out.contains("abc.def"), "{out}");
        assert!(!out.contains("xyz"), "{out}");
        assert!(!out.contains("sk-proj"), "{out}");
        assert!(!out.contains("eyJ"), "{out}");
        assert!(out.starts_with("ERROR refresh failed:"), "{out}");
        assert!(out.ends_with(" ok"), "{out}");
    }

    #[test]
    fn secrets_inside_quotes_and_json_are_redacted() {
        let line = r#"{"error":"refresh failed","access_token":"tok-123","Authorization":"Bearer abc","api_key": 'sk-x'} token=zzz9 exit code: 1, see /usr/lib/x86_64-linux-gnu"#;
        let out = redact(line);
        for secret in ["tok-123", "abc", "sk-x", "zzz9"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.contains(r#"{"error":"refresh failed","access_token":"[redacted]""#),
            "{out}"
        );
        assert!(out.contains("exit code: 1,"), "{out}");
        assert_eq!(
            redact("code=abc123 device_code=xyz"),
            "code=[redacted] device_code=[redacted]"
        );
        assert!(out.ends_with("see /usr/lib/x86_64-linux-gnu"), "{out}");
    }

    #[test]
    fn known_values_are_masked_wherever_they_appear() {
        let secrets = Secrets::new([
            "Bearer hdr-0123456789".to_owned(),
            "hdr-0123456789".to_owned(),
            "env-value-abcdef".to_owned(),
            "1".to_owned(),
        ]);
        let out = secrets.redact(
            r#"rejected: authorization: Bearer hdr-0123456789; {"t":"hdr-0123456789"} token env-value-abcdef exit 1"#,
        );
        for secret in ["hdr-0123456789", "env-value-abcdef"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.ends_with("exit 1"), "{out}");
        assert_eq!(format!("{secrets:?}"), "Secrets(3 values)");
    }
}
