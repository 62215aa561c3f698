//! Fake JWTs shaped like the ones auth.openai.com issues: three base64url parts, an
//! unsigned payload and a fixed fake signature. Clients decode the payload without
//! checking the signature (chatgpt-auth.md §8), so that is all a test needs.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use talaria_plugin_api::time::now_secs;

use super::{AccountSpec, Tokens, CLIENT_ID};

/// The `iss` of tokens minted with no mock behind them: the real issuer's (chatgpt-auth.md §1).
const OPENAI_ISSUER: &str = "https://auth.openai.com";

/// The third part of every minted token (base64url of "mock-signature").
pub const FAKE_SIGNATURE: &str = "bW9jay1zaWduYXR1cmU";

/// `base64url(header).base64url(claims).FAKE_SIGNATURE`.
pub fn mint_jwt(claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": "mock" });
    format!(
        "{}.{}.{FAKE_SIGNATURE}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The payload of a JWT, or None when it is not one.
pub fn decode_jwt(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// 16 hex digits that differ on every call.
pub(crate) fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", hasher.finish())
}

/// Which of the two JWTs the issuer hands out.
#[derive(Clone, Copy)]
enum Kind {
    Id,
    Access,
}

/// The claims of an id or access token for `account`.
fn claims(kind: Kind, account: &AccountSpec, issuer: &str, iat: u64, exp: u64) -> Value {
    let mut claims = json!({
        "iss": issuer,
        "sub": format!("auth0|{}", account.user_id),
        "iat": iat,
        "exp": exp,
        "jti": random_hex(),
        "email": account.email,
        "https://api.openai.com/auth": {
            "chatgpt_account_id": account.account_id,
            "chatgpt_plan_type": account.plan,
            "chatgpt_user_id": account.user_id,
            "user_id": account.user_id,
        },
        "https://api.openai.com/profile": { "email": account.email, "email_verified": true },
    });
    match kind {
        Kind::Id => {
            claims["aud"] = json!([CLIENT_ID]);
            claims["email_verified"] = json!(true);
        }
        Kind::Access => {
            claims["aud"] = json!(["https://api.openai.com/v1"]);
            claims["client_id"] = json!(CLIENT_ID);
            claims["scp"] = json!(["openid", "profile", "email", "offline_access"]);
        }
    }
    claims
}

/// An id token, an access token expiring `access_ttl_secs` from now (zero or negative:
/// already expired) and a refresh token for `account`, as `issuer` mints them.
pub(crate) fn mint_tokens(account: &AccountSpec, issuer: &str, access_ttl_secs: i64) -> Tokens {
    let iat = now_secs();
    let exp = iat.saturating_add_signed(access_ttl_secs);
    Tokens {
        id_token: mint_jwt(&claims(Kind::Id, account, issuer, iat, exp)),
        access_token: mint_jwt(&claims(Kind::Access, account, issuer, iat, exp)),
        refresh_token: format!("rt_{}{}", random_hex(), random_hex()),
        account_id: account.account_id.clone(),
        expires_at: exp,
    }
}

impl AccountSpec {
    /// Tokens for this account shaped like auth.openai.com's, known to no mock: for a
    /// store seeded where nothing checks them with an issuer or backend (a test of the
    /// provider on its own). Use [`super::MockServer::issue_tokens`] when something will.
    pub fn offline_tokens(&self, access_ttl_secs: i64) -> Tokens {
        mint_tokens(self, OPENAI_ISSUER, access_ttl_secs)
    }
}
