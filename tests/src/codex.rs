//! Homes pointed at the mock, and the `openai-codex` pool as the plugin stores it.

use serde_json::{json, Value};

use crate::mock::{AccountSpec, MockServer, Tokens};
use crate::TestHome;

/// A home whose issuer and Codex backend are the mock.
pub fn home_for(mock: &MockServer) -> TestHome {
    let mut home = TestHome::new();
    home.set_env("TALARIA_AUTH_ISSUER", mock.issuer_url());
    home.set_env("TALARIA_CODEX_BASE_URL", mock.codex_base_url());
    home
}

/// A home pointed at the mock and signed in as the mock's default account.
pub fn signed_in(mock: &MockServer) -> (TestHome, Tokens) {
    let home = home_for(mock);
    let who = AccountSpec::default();
    let tokens = mock.issue_tokens(&who, 3600);
    seed_pool(&home, &[(&tokens, &who)]);
    (home, tokens)
}

/// When seeded entries say they were added and last refreshed.
pub const SEEDED_AT: &str = "2026-11-01T00:00:00Z";

/// One entry of the provider's pool, in the plugin's format: `who` signed in with
/// `tokens`, joined by `source` (`device_code`, `auth_add`, `codex_import`).
pub fn pool_entry(id: &str, source: &str, who: &AccountSpec, tokens: &Tokens) -> Value {
    json!({
        "id": id,
        "label": who.email,
        "source": source,
        "email": who.email,
        "account_id": who.account_id,
        "user_id": who.user_id,
        "plan": who.plan,
        "tokens": { "id_token": tokens.id_token, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token },
        "last_refresh": SEEDED_AT,
        "added_at": SEEDED_AT,
        "status": "ok",
    })
}

/// Writes the provider's pool into the profile's auth.json, in the plugin's format.
pub fn seed_pool(home: &TestHome, entries: &[(&Tokens, &AccountSpec)]) {
    let credentials: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, (tokens, who))| {
            pool_entry(
                &format!("c-seed{i}"),
                if i == 0 { "device_code" } else { "auth_add" },
                who,
                tokens,
            )
        })
        .collect();
    let doc = json!({ "version": 1, "updated_at": SEEDED_AT, "providers": { "openai-codex": { "credentials": credentials } } });
    std::fs::create_dir_all(home.root()).unwrap();
    std::fs::write(
        home.path("auth.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
}

/// The stored pool entries.
pub fn pool(home: &TestHome) -> Vec<Value> {
    let text = std::fs::read_to_string(home.path("auth.json")).unwrap();
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("auth.json is not JSON ({e}):\n{text}"));
    doc["providers"]["openai-codex"]["credentials"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
