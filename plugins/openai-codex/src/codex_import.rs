//! Reading the Codex CLI's login (`$CODEX_HOME/auth.json`) for an import.
//!
//! The file is only ever read. Writing it would break the Codex CLI and VS Code, and
//! the refresh token in it is single-use: whichever client refreshes second is signed
//! out. That is why an import warns and a separate `talaria login` is recommended.

use std::path::{Path, PathBuf};

use serde_json::Value;
use talaria_sdk::{Error, ErrorKind, Result};

use crate::jwt::Claims;
use crate::store::IssuedTokens;

/// A usable Codex CLI login.
#[derive(Debug, Clone, PartialEq)]
pub struct CodexLogin {
    pub path: PathBuf,
    pub tokens: IssuedTokens,
    /// `tokens.account_id` from the file, for when the tokens carry no claim.
    pub account_id: Option<String>,
    /// When the Codex CLI last refreshed these tokens (RFC 3339).
    pub last_refresh: Option<String>,
}

/// The Codex home: the request's (as the profile resolves it), else `$CODEX_HOME`, else
/// `~/.codex`.
pub fn codex_home(from_request: Option<&str>) -> Option<PathBuf> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = from_request.map(str::trim).filter(|d| !d.is_empty()) {
        return Some(match dir.strip_prefix("~/") {
            Some(rest) => home().map_or_else(|| PathBuf::from(dir), |h| h.join(rest)),
            None => PathBuf::from(dir),
        });
    }
    if let Some(dir) = std::env::var_os("CODEX_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    home().map(|h| h.join(".codex"))
}

pub fn auth_file(codex_home: &Path) -> PathBuf {
    codex_home.join("auth.json")
}

/// Reads and checks the Codex login at `path`. `now` decides whether it is too stale.
pub fn read(path: &Path, now: u64) -> Result<CodexLogin> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "there is no Codex CLI login at {shown} (it may keep its login in the system keyring); \
                     sign in with `codex login` first, or use `talaria login` for a separate login"
                ),
            ))
        }
        Err(e) => return Err(Error::new(ErrorKind::Auth, format!("cannot read the Codex CLI login at {shown}: {e}"))),
    };
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        Error::new(
            ErrorKind::Auth,
            format!("the Codex CLI login at {shown} is not valid JSON ({e}); use `talaria login` for a separate login"),
        )
    })?;
    let tokens = doc.get("tokens").filter(|t| t.is_object());
    let token = |key: &str| {
        tokens
            .and_then(|t| t.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let api_key = doc
        .get("OPENAI_API_KEY")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty());
    let mode = doc.get("auth_mode").and_then(Value::as_str);
    let (access, refresh) = (token("access_token"), token("refresh_token"));
    if mode == Some("apikey") || (mode.is_none() && api_key && access.is_none()) {
        return Err(Error::new(
            ErrorKind::Auth,
            format!(
                "the Codex CLI at {shown} is signed in with an API key, not a ChatGPT account; \
                 use the `openai-api` provider (OPENAI_API_KEY) for API keys, or `talaria login` to sign in with ChatGPT"
            ),
        ));
    }
    let (Some(access), Some(refresh)) = (access, refresh) else {
        return Err(Error::new(
            ErrorKind::Auth,
            format!("the Codex CLI login at {shown} has no ChatGPT tokens; use `talaria login` for a separate login"),
        ));
    };
    if Claims::decode(&access).exp().is_some_and(|exp| exp <= now) {
        return Err(Error::new(
            ErrorKind::Auth,
            format!(
                "the Codex CLI login at {shown} has expired; run `codex` once to refresh it, or use `talaria login` for a separate login"
            ),
        ));
    }
    Ok(CodexLogin {
        path: path.to_owned(),
        tokens: IssuedTokens {
            id_token: token("id_token"),
            access_token: Some(access),
            refresh_token: Some(refresh),
        },
        account_id: token("account_id"),
        last_refresh: doc
            .get("last_refresh")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::access_jwt;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn write(dir: &Path, v: &Value) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join("auth.json");
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("occ-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn reads_a_chatgpt_login_without_touching_it() {
        let dir = tmp("ok");
        let doc = json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "last_refresh": "2026-04-25T12:00:00Z",
            "tokens": {"id_token": "i", "access_token": access_jwt(NOW + 600, "acc"), "refresh_token": "r", "account_id": "acc-9"}});
        let p = write(&dir, &doc);
        let before = std::fs::read(&p).unwrap();
        let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
        let login = read(&p, NOW).unwrap();
        assert_eq!(login.tokens.refresh_token.as_deref(), Some("r"));
        assert_eq!(login.account_id.as_deref(), Some("acc-9"));
        assert_eq!(login.last_refresh.as_deref(), Some("2026-04-25T12:00:00Z"));
        assert_eq!(std::fs::read(&p).unwrap(), before);
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), modified);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_api_keys_expired_and_missing_logins() {
        let dir = tmp("bad");
        let p = write(
            &dir,
            &json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-x"}),
        );
        assert!(read(&p, NOW)
            .unwrap_err()
            .message
            .contains("`openai-api` provider"));
        let p = write(&dir, &json!({"OPENAI_API_KEY": "sk-x"}));
        assert!(read(&p, NOW)
            .unwrap_err()
            .message
            .contains("`openai-api` provider"));
        let p = write(
            &dir,
            &json!({"tokens": {"access_token": access_jwt(NOW - 1, "a"), "refresh_token": "r"}}),
        );
        let err = read(&p, NOW).unwrap_err();
        assert!(
            err.message.contains("run `codex` once") && err.message.contains("talaria login"),
            "{}",
            err.message
        );
        let p = write(&dir, &json!({"tokens": {"access_token": "a"}}));
        assert!(read(&p, NOW)
            .unwrap_err()
            .message
            .contains("no ChatGPT tokens"));
        let err = read(&dir.join("missing.json"), NOW).unwrap_err();
        assert!(
            err.message.contains("no Codex CLI login"),
            "{}",
            err.message
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn codex_home_prefers_the_request() {
        assert_eq!(
            codex_home(Some("/x/codex")),
            Some(PathBuf::from("/x/codex"))
        );
    }
}
