//! Reading the claims of the issuer's JWTs.
//!
//! The signature is not checked: the tokens come straight from the issuer (or the
//! user's own Codex file) and the backend verifies them on every request. We only need
//! the claims for display, identity, the account-id header and refresh timing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// The namespaced claim object holding the ChatGPT account details.
const AUTH_CLAIM: &str = "https://api.openai.com/auth";
/// The namespaced claim object that may hold the email.
const PROFILE_CLAIM: &str = "https://api.openai.com/profile";

/// The decoded payload of one JWT (empty when the token is not a JWT).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    payload: Map<String, Value>,
}

impl Claims {
    /// Decodes the payload; a token that is not a well-formed JWT yields no claims
    /// rather than an error, because opaque tokens are legal and every claim is optional.
    pub fn decode(token: &str) -> Claims {
        let payload = token
            .split('.')
            .nth(1)
            .and_then(|part| {
                // Issuers use unpadded base64url, but tolerate padding some tools add.
                URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
            })
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|v| match v {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .unwrap_or_default();
        Claims { payload }
    }

    /// Claims of an optional token.
    pub fn of(token: Option<&str>) -> Claims {
        token.map(Claims::decode).unwrap_or_default()
    }

    /// Unix seconds when the token expires.
    pub fn exp(&self) -> Option<u64> {
        match self.payload.get("exp")? {
            Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            _ => None,
        }
    }

    pub fn email(&self) -> Option<String> {
        let top = self.payload.get("email").and_then(non_empty_str);
        let profile = || {
            self.payload
                .get(PROFILE_CLAIM)
                .and_then(|p| p.get("email"))
                .and_then(non_empty_str)
        };
        top.or_else(profile).map(str::to_owned)
    }

    pub fn account_id(&self) -> Option<String> {
        self.auth_str("chatgpt_account_id")
    }

    pub fn user_id(&self) -> Option<String> {
        self.auth_str("chatgpt_user_id")
            .or_else(|| self.auth_str("user_id"))
    }

    pub fn plan(&self) -> Option<String> {
        self.auth_str("chatgpt_plan_type")
    }

    pub fn is_fedramp(&self) -> bool {
        self.auth()
            .and_then(|a| a.get("chatgpt_account_is_fedramp"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn auth(&self) -> Option<&Value> {
        self.payload.get(AUTH_CLAIM)
    }

    fn auth_str(&self, key: &str) -> Option<String> {
        self.auth()
            .and_then(|a| a.get(key))
            .and_then(non_empty_str)
            .map(str::to_owned)
    }
}

fn non_empty_str(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;
    use serde_json::json;
    use talaria_tests::mock::mint_jwt;

    #[test]
    fn reads_the_namespaced_claims() {
        let token = mint_jwt(&json!({
            "exp": 1_900_000_000u64,
            "email": "a@example.com",
            "https://api.openai.com/auth": {
                "chatgpt_account_id": "acc-1", "chatgpt_user_id": "user-1",
                "chatgpt_plan_type": "plus", "chatgpt_account_is_fedramp": true
            }
        }));
        let c = Claims::decode(&token);
        assert_eq!(c.exp(), Some(1_900_000_000));
        assert_eq!(c.email().as_deref(), Some("a@example.com"));
        assert_eq!(c.account_id().as_deref(), Some("acc-1"));
        assert_eq!(c.user_id().as_deref(), Some("user-1"));
        assert_eq!(c.plan().as_deref(), Some("plus"));
        assert!(c.is_fedramp());
    }

    #[test]
    fn padded_payloads_decode() {
        // A payload whose base64 needs padding, encoded *with* the padding.
        let payload = json!({"email": "ab@example.com", "exp": 5});
        let body = URL_SAFE.encode(payload.to_string().as_bytes());
        assert!(
            body.ends_with('='),
            "test payload should need padding: {body}"
        );
        let c = Claims::decode(&format!("h.{body}.s"));
        assert_eq!(c.email().as_deref(), Some("ab@example.com"));
        assert_eq!(c.exp(), Some(5));
    }

    #[test]
    fn missing_claims_and_garbage_are_none() {
        let c = Claims::decode(&mint_jwt(&json!({"sub": "x"})));
        assert_eq!(
            (c.exp(), c.email(), c.account_id(), c.user_id(), c.plan()),
            (None, None, None, None, None)
        );
        assert!(!c.is_fedramp());
        for bad in ["", "opaque-token", "a.!!!.c", "a.bm90IGpzb24.c"] {
            assert_eq!(Claims::decode(bad), Claims::default(), "{bad}");
        }
        assert_eq!(Claims::of(None), Claims::default());
    }

    #[test]
    fn email_falls_back_to_the_profile_claim_and_user_id_to_user_id() {
        let c = Claims::decode(&mint_jwt(&json!({
            "https://api.openai.com/profile": {"email": "p@example.com"},
            "https://api.openai.com/auth": {"user_id": "u-2"}
        })));
        assert_eq!(c.email().as_deref(), Some("p@example.com"));
        assert_eq!(c.user_id().as_deref(), Some("u-2"));
    }
}
