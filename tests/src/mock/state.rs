//! What the mock remembers: accounts, issued tokens, device authorizations, scripts and
//! the request log.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};

use super::jwt;
use super::record::{MockResponse, Recorded};
use super::responses::{default_events, EventScript, ResponseScript};
use super::{AccountSpec, Tokens, WsMode};

pub(crate) struct DeviceAuth {
    pub user_code: String,
    pub polls: u32,
    /// The authorization code, once approved.
    pub code: Option<String>,
}

pub(crate) struct CodeGrant {
    pub code_verifier: String,
    pub email: String,
    pub used: bool,
}

pub(crate) struct AccessInfo {
    pub exp: u64,
    /// The `chatgpt_account_id` the token was issued for.
    pub account_id: String,
}

pub(crate) struct RefreshInfo {
    pub email: String,
    pub used: bool,
}

pub(crate) struct State {
    pub requests: Vec<Recorded>,
    pub scripted: HashMap<String, VecDeque<MockResponse>>,
    pub accounts: Vec<AccountSpec>,
    pub device_interval: Value,
    pub device_pending_polls: u32,
    pub device_account: String,
    pub device_auths: HashMap<String, DeviceAuth>,
    pub codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessInfo>,
    pub revoked: HashSet<String>,
    pub refresh: HashMap<String, RefreshInfo>,
    pub issued: Vec<Tokens>,
    pub access_ttl: i64,
    pub refresh_delay: Duration,
    /// Sleep this long after a refresh has spent (rotated) the old refresh token, before
    /// the answer goes out: the window in which a client killed mid-refresh loses the
    /// new tokens while the issuer already considers the old refresh token used.
    pub refresh_reply_delay: Duration,
    /// Whether a refresh hands out a new refresh token (and spends the old one).
    pub rotate_refresh: bool,
    pub models: Vec<Value>,
    pub scripts: VecDeque<ResponseScript>,
    pub chat_scripts: VecDeque<super::ChatScript>,
    /// Scripts for the first request whose body contains the text, ahead of `scripts`.
    pub scripts_when: Vec<(String, ResponseScript)>,
    pub ws_mode: WsMode,
    /// Every `POST …/responses` gets a Cloudflare challenge (the websocket is unaffected).
    pub challenge_sse: bool,
    pub api_key: Option<String>,
    /// Counts default responses, for distinct ids.
    pub serial: u64,
}

impl State {
    pub fn new() -> State {
        let account = AccountSpec::default();
        State {
            requests: Vec::new(),
            scripted: HashMap::new(),
            device_account: account.email.clone(),
            accounts: vec![account],
            device_interval: json!("1"),
            device_pending_polls: 2,
            device_auths: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            revoked: HashSet::new(),
            refresh: HashMap::new(),
            issued: Vec::new(),
            access_ttl: 3600,
            refresh_delay: Duration::ZERO,
            refresh_reply_delay: Duration::ZERO,
            rotate_refresh: true,
            models: default_models(),
            scripts: VecDeque::new(),
            chat_scripts: VecDeque::new(),
            scripts_when: Vec::new(),
            ws_mode: WsMode::Accept,
            challenge_sse: false,
            api_key: None,
            serial: 0,
        }
    }

    pub fn find_account(&self, email: &str) -> Option<AccountSpec> {
        self.accounts.iter().find(|a| a.email == email).cloned()
    }

    pub fn add_account(&mut self, spec: AccountSpec) {
        self.accounts.retain(|a| a.email != spec.email);
        self.accounts.push(spec);
    }

    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Mints id, access and refresh tokens for `account` and remembers them as valid.
    pub fn issue(&mut self, issuer: &str, account: &AccountSpec, access_ttl: i64) -> Tokens {
        let tokens = jwt::mint_tokens(account, issuer, access_ttl);
        self.refresh.insert(
            tokens.refresh_token.clone(),
            RefreshInfo {
                email: account.email.clone(),
                used: false,
            },
        );
        self.remember(tokens)
    }

    /// Mints id and access tokens for `account` that go with the refresh token it already
    /// holds (a refresh that does not rotate it), and remembers them as valid.
    pub fn reissue(
        &mut self,
        issuer: &str,
        account: &AccountSpec,
        access_ttl: i64,
        refresh_token: &str,
    ) -> Tokens {
        let tokens = Tokens {
            refresh_token: refresh_token.to_owned(),
            ..jwt::mint_tokens(account, issuer, access_ttl)
        };
        self.remember(tokens)
    }

    fn remember(&mut self, tokens: Tokens) -> Tokens {
        self.access.insert(
            tokens.access_token.clone(),
            AccessInfo {
                exp: tokens.expires_at,
                account_id: tokens.account_id.clone(),
            },
        );
        self.issued.push(tokens.clone());
        tokens
    }

    /// The script for a `/responses` request with this body: the first one queued for a
    /// text the body contains, else the next queued one, else the default greeting.
    pub fn next_script(&mut self, body: &[u8]) -> ResponseScript {
        let body = String::from_utf8_lossy(body);
        if let Some(i) = self
            .scripts_when
            .iter()
            .position(|(needle, _)| body.contains(needle.as_str()))
        {
            return self.scripts_when.remove(i).1;
        }
        match self.scripts.pop_front() {
            Some(script) => script,
            None => {
                let id = format!("resp_mock_{}", self.next_serial());
                ResponseScript::Events(EventScript::new(default_events(&id)))
            }
        }
    }
}

/// A realistic `/models` list: four listed models and one hidden.
pub fn default_models() -> Vec<Value> {
    let model = |slug: &str,
                 name: &str,
                 description: &str,
                 visibility: &str,
                 priority: u32,
                 in_api: bool,
                 context: u64| {
        json!({
            "slug": slug,
            "display_name": name,
            "description": description,
            "visibility": visibility,
            "priority": priority,
            "supported_in_api": in_api,
            "context_window": context,
            "default_reasoning_level": "medium",
            "supports_reasoning_summaries": true,
            "input_modalities": ["text", "image"],
            "shell_type": "shell_command",
            "apply_patch_tool_type": "freeform",
            "truncation_policy": { "mode": "tokens", "limit": 10000 },
            "supports_parallel_tool_calls": true,
            "supported_reasoning_levels": [
                { "effort": "low", "description": "Fast responses with lighter reasoning" },
                { "effort": "medium", "description": "Balances speed and reasoning depth" },
                { "effort": "high", "description": "Greater reasoning depth for complex problems" },
            ],
        })
    };
    vec![
        model(
            "gpt-5.5",
            "GPT-5.5",
            "Latest frontier agentic coding model.",
            "list",
            0,
            true,
            272_000,
        ),
        model(
            "gpt-5.4",
            "GPT-5.4",
            "Strong model for everyday coding.",
            "list",
            1,
            true,
            272_000,
        ),
        model(
            "gpt-5.4-mini",
            "GPT-5.4-Mini",
            "Smaller, faster and cheaper.",
            "list",
            2,
            true,
            272_000,
        ),
        model(
            "gpt-5.3-codex",
            "GPT-5.3-Codex",
            "Codex-optimized coding model.",
            "list",
            3,
            false,
            272_000,
        ),
        model(
            "codex-auto-review",
            "Codex Auto Review",
            "Internal reviewer model.",
            "hide",
            9,
            false,
            128_000,
        ),
    ]
}
