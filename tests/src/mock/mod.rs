//! A mock ChatGPT OAuth issuer and Codex backend on 127.0.0.1, for tests that run the real
//! binary against it (chatgpt-auth.md, codex-backend.md).
//!
//! One [`MockServer`] serves the issuer (`/api/accounts/deviceauth/*`, `/oauth/token`),
//! the Codex backend (`/backend-api/codex/{models,responses}`, SSE and websocket, and
//! `/backend-api/wham/accounts/check`), the
//! plain API (`/v1/{models,responses}`) and an OpenAI-compatible server
//! (`/v1/chat/completions`) on one port, from its own thread and tokio
//! runtime, so plain `#[test]` functions can use it. Every request is recorded as it
//! arrived. Dropping the server stops it. [`OAuthMcpServer`] (its own port) is an
//! OAuth-protected MCP server for `talaria mcp login`.

mod backend;
mod chat;
mod issuer;
mod jwt;
pub mod mcp_oauth;
mod record;
mod responses;
mod serve;
mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::FutureExt;
use serde_json::Value;

pub use chat::{
    chat_chunk, chat_completion_body, chat_text_chunks, chat_tool_call_chunks, chat_usage_chunk,
    ChatScript, ChunkScript, CHAT_MODEL,
};
pub use jwt::{decode_jwt, mint_jwt, FAKE_SIGNATURE};
pub use mcp_oauth::{AuthorizeAnswer, OAuthMcpServer};
pub use record::{MockResponse, Recorded};
pub use responses::{
    completed_event, created_event, custom_tool_call_events, failed_event, function_call_events,
    sse_frame, text_events, usage, EventScript, ResponseScript, MOCK_MODEL,
};
use serve::Served;
pub use state::default_models;
use state::State;

/// The Codex CLI's OAuth client id; the issuer requires it.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// A ChatGPT account the issuer can sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSpec {
    pub email: String,
    pub account_id: String,
    pub user_id: String,
    /// `chatgpt_plan_type`: free, plus, pro, team...
    pub plan: String,
}

impl AccountSpec {
    pub fn new(email: &str, account_id: &str, user_id: &str, plan: &str) -> AccountSpec {
        AccountSpec {
            email: email.into(),
            account_id: account_id.into(),
            user_id: user_id.into(),
            plan: plan.into(),
        }
    }
}

impl Default for AccountSpec {
    /// The account every mock starts with: a@example.com / acct-1 / user-1 / plus.
    fn default() -> Self {
        AccountSpec::new("a@example.com", "acct-1", "user-1", "plus")
    }
}

/// Names an account for [`MockServer::issue_tokens`]: an email of a registered account,
/// or an `AccountSpec` (registered on the way if new).
pub enum AccountRef<'a> {
    Email(&'a str),
    Spec(&'a AccountSpec),
}

impl<'a> From<&'a str> for AccountRef<'a> {
    fn from(email: &'a str) -> Self {
        AccountRef::Email(email)
    }
}

impl<'a> From<&'a String> for AccountRef<'a> {
    fn from(email: &'a String) -> Self {
        AccountRef::Email(email)
    }
}

impl<'a> From<&'a AccountSpec> for AccountRef<'a> {
    fn from(spec: &'a AccountSpec) -> Self {
        AccountRef::Spec(spec)
    }
}

/// Tokens the issuer handed out (and considers valid), or minted with no issuer behind
/// them ([`AccountSpec::offline_tokens`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: String,
    /// The account's `chatgpt_account_id` (auth.json's `tokens.account_id`).
    pub account_id: String,
    /// The access token's `exp`.
    pub expires_at: u64,
}

/// How `GET …/responses` websocket upgrades are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsMode {
    /// Upgrade (after the same token check as HTTP).
    Accept,
    /// Answer the upgrade with this HTTP status instead: 403 is a Cloudflare challenge
    /// (`cf-mitigated: challenge`, HTML), 426 "Upgrade Required", anything else a JSON error.
    Refuse(u16),
}

pub(crate) struct Shared {
    pub(crate) issuer_url: String,
    state: Mutex<State>,
}

impl Shared {
    /// The state; a poisoned lock is still usable (handlers never panic while holding it).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the aux router's title request says (its instructions begin so): a test scripts
/// the title apart from the turns with `push_script_when(TITLE_REQUEST, ...)`.
pub const TITLE_REQUEST: &str = "You name conversations";

/// The mock issuer and backend. See the module docs.
pub struct MockServer {
    shared: Arc<Shared>,
    served: Served,
}

impl MockServer {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub fn start() -> MockServer {
        let mut shared = None;
        let served = Served::start("mock-server", |addr| {
            let state = Arc::new(Shared {
                issuer_url: format!("http://{addr}"),
                state: Mutex::new(State::new()),
            });
            shared = Some(state.clone());
            Router::new().fallback(handle).with_state(state)
        });
        MockServer {
            shared: shared.expect("the app was built"),
            served,
        }
    }

    /// `http://127.0.0.1:PORT` (TALARIA_AUTH_ISSUER).
    pub fn issuer_url(&self) -> String {
        self.shared.issuer_url.clone()
    }

    /// `http://127.0.0.1:PORT/backend-api/codex` (TALARIA_CODEX_BASE_URL).
    pub fn codex_base_url(&self) -> String {
        format!("{}/backend-api/codex", self.shared.issuer_url)
    }

    /// `http://127.0.0.1:PORT/v1` (TALARIA_OPENAI_BASE_URL).
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.shared.issuer_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    // ---- recording ----

    /// Every request so far, in arrival order (websocket frames as method "WS").
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The requests whose path (without query) is `path`.
    /// The requests to `path` that belong to turns: [`MockServer::requests_to`] without
    /// the session-title request the aux router sends after a first turn.
    pub fn turn_requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests_to(path)
            .into_iter()
            .filter(|r| !r.is_title_request())
            .collect()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// How many requests to `path` had `grant_type == grant` (form or JSON body).
    pub fn count(&self, path: &str, grant: &str) -> usize {
        self.requests_to(path)
            .iter()
            .filter(|r| r.param("grant_type").as_deref() == Some(grant))
            .count()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    // ---- scripting ----

    /// Queues a one-shot answer for the next request to `path` (FIFO per path), ahead of
    /// the normal handler. The request is still recorded.
    pub fn push_response(&self, path: &str, response: MockResponse) {
        self.shared
            .lock()
            .scripted
            .entry(path.to_owned())
            .or_default()
            .push_back(response);
    }

    /// Queues what the next `/responses` request (SSE or websocket, codex or /v1) gets.
    pub fn push_script(&self, script: impl Into<ResponseScript>) {
        self.shared.lock().scripts.push_back(script.into());
    }

    /// Queues what the next `POST /v1/chat/completions` gets.
    pub fn push_chat(&self, script: impl Into<ChatScript>) {
        self.shared.lock().chat_scripts.push_back(script.into());
    }

    /// `push_chat(ChunkScript::new(chunks))`.
    pub fn push_chat_chunks(&self, chunks: Vec<Value>) {
        self.push_chat(ChunkScript::new(chunks));
    }

    /// Queues what the next `/responses` request whose body contains `needle` gets, ahead
    /// of the scripts queued by [`MockServer::push_script`]: a test with side requests
    /// (a title, a summary) scripts each by what it asks.
    pub fn push_script_when(&self, needle: &str, script: impl Into<ResponseScript>) {
        self.shared
            .lock()
            .scripts_when
            .push((needle.to_owned(), script.into()));
    }

    /// `push_script(ResponseScript::events(events))`.
    pub fn push_events(&self, events: Vec<Value>) {
        self.push_script(ResponseScript::events(events));
    }

    pub fn set_websocket(&self, mode: WsMode) {
        self.shared.lock().ws_mode = mode;
    }

    /// Answers every SSE `POST …/responses` with a Cloudflare challenge, as the backend
    /// does for some networks where the websocket still works.
    pub fn challenge_sse(&self, on: bool) {
        self.shared.lock().challenge_sse = on;
    }

    pub fn set_models(&self, models: Vec<Value>) {
        self.shared.lock().models = models;
    }

    /// The key `/v1/*` accepts as `Authorization: Bearer <key>` (none by default).
    pub fn set_api_key(&self, key: &str) {
        self.shared.lock().api_key = Some(key.to_owned());
    }

    // ---- accounts and tokens ----

    /// Registers an account (replacing one with the same email).
    pub fn account(&self, spec: AccountSpec) {
        self.shared.lock().add_account(spec);
    }

    /// Mints and registers tokens for an account, as if it had signed in; a zero or
    /// negative `access_ttl_secs` gives an already expired access token.
    pub fn issue_tokens<'a>(
        &self,
        account: impl Into<AccountRef<'a>>,
        access_ttl_secs: i64,
    ) -> Tokens {
        let mut state = self.shared.lock();
        let spec = match account.into() {
            AccountRef::Spec(spec) => {
                if state.find_account(&spec.email).as_ref() != Some(spec) {
                    state.add_account(spec.clone());
                }
                spec.clone()
            }
            AccountRef::Email(email) => state
                .find_account(email)
                .unwrap_or_else(|| panic!("no mock account {email}")),
        };
        state.issue(&self.shared.issuer_url, &spec, access_ttl_secs)
    }

    /// Every token set issued so far (logins, refreshes, `issue_tokens`), oldest first.
    pub fn issued_tokens(&self) -> Vec<Tokens> {
        self.shared.lock().issued.clone()
    }

    /// Makes the backend reject this access token (401 `token_expired`).
    pub fn revoke_access(&self, access_token: &str) {
        self.shared.lock().revoked.insert(access_token.to_owned());
    }

    /// Marks a refresh token as spent, as when another client (the Codex CLI, another
    /// profile) refreshed with it first: the next refresh with it gets 401
    /// `refresh_token_reused`.
    pub fn spend_refresh_token(&self, refresh_token: &str) {
        let mut state = self.shared.lock();
        let entry = state
            .refresh
            .get_mut(refresh_token)
            .unwrap_or_else(|| panic!("the mock never issued {refresh_token}"));
        entry.used = true;
    }

    /// Whether refreshes rotate the refresh token (the default). Off, a refresh answers
    /// without a `refresh_token` and the old one stays valid, which chatgpt-auth.md §3
    /// allows the issuer to do.
    pub fn rotate_refresh_tokens(&self, on: bool) {
        self.shared.lock().rotate_refresh = on;
    }

    /// Whether this refresh token has already been used (None: never issued).
    pub fn refresh_token_used(&self, refresh_token: &str) -> Option<bool> {
        self.shared
            .lock()
            .refresh
            .get(refresh_token)
            .map(|r| r.used)
    }

    /// The access-token lifetime of newly issued tokens (default 3600 s).
    pub fn set_access_ttl(&self, secs: i64) {
        self.shared.lock().access_ttl = secs;
    }

    /// Sleep this long before answering each refresh.
    pub fn refresh_delay(&self, delay: Duration) {
        self.shared.lock().refresh_delay = delay;
    }

    /// Sleep this long after each refresh has rotated the refresh token, before answering
    /// (the old refresh token is already spent while the client waits).
    pub fn refresh_reply_delay(&self, delay: Duration) {
        self.shared.lock().refresh_reply_delay = delay;
    }

    // ---- device flow ----

    /// The `interval` the usercode reply carries (default the string "1").
    pub fn set_device_interval(&self, interval: Value) {
        self.shared.lock().device_interval = interval;
    }

    /// How many polls of each device authorization answer "pending" (default 2).
    pub fn set_device_pending_polls(&self, polls: u32) {
        self.shared.lock().device_pending_polls = polls;
    }

    /// The registered account a device login signs in (default the default account).
    pub fn set_device_account(&self, email: &str) {
        let mut state = self.shared.lock();
        assert!(
            state.find_account(email).is_some(),
            "no mock account {email}"
        );
        state.device_account = email.to_owned();
    }
}

/// Every request: record it, answer a scripted response if one is queued, else route.
async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            return record::error(500, &format!("mock: reading the request body failed: {e}"))
        }
    };
    let recorded = Recorded::from_parts(&parts, &body);
    let scripted = {
        let mut state = shared.lock();
        state.requests.push(recorded.clone());
        state
            .scripted
            .get_mut(&recorded.path)
            .and_then(|queue| queue.pop_front())
    };
    if let Some(response) = scripted {
        return response.into_response();
    }
    match AssertUnwindSafe(route(&shared, &mut parts, &recorded))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            record::error(
                500,
                &format!("mock: handler panicked: {}", message.unwrap_or_default()),
            )
        }
    }
}

async fn route(shared: &Arc<Shared>, parts: &mut Parts, request: &Recorded) -> Response {
    use backend::Auth::{ApiKey, Chatgpt};
    let method = request.method.as_str();
    match (request.path.as_str(), method) {
        ("/api/accounts/deviceauth/usercode", "POST") => issuer::usercode(shared, request),
        ("/api/accounts/deviceauth/token", "POST") => issuer::device_token(shared, request),
        ("/oauth/token", "POST") => issuer::token(shared, request).await,
        ("/backend-api/codex/models", "GET") => backend::models(shared, request, Chatgpt),
        ("/backend-api/wham/accounts/check", "GET") => backend::accounts_check(shared, request),
        ("/v1/models", "GET") => backend::models(shared, request, ApiKey),
        ("/backend-api/codex/responses", "POST") => {
            backend::responses_http(shared, request, Chatgpt)
        }
        ("/v1/responses", "POST") => backend::responses_http(shared, request, ApiKey),
        ("/v1/chat/completions", "POST") => chat::completions(shared, request),
        ("/backend-api/codex/responses", "GET") => {
            backend::responses_ws(shared, parts, request, Chatgpt).await
        }
        ("/v1/responses", "GET") => backend::responses_ws(shared, parts, request, ApiKey).await,
        (
            "/api/accounts/deviceauth/usercode"
            | "/api/accounts/deviceauth/token"
            | "/oauth/token"
            | "/backend-api/codex/models"
            | "/backend-api/wham/accounts/check"
            | "/v1/models"
            | "/backend-api/codex/responses"
            | "/v1/responses"
            | "/v1/chat/completions",
            _,
        ) => record::error(
            405,
            &format!("method {method} not allowed on {}", request.path),
        ),
        _ => record::error(
            404,
            &format!("mock: no route for {method} {}", request.path),
        ),
    }
}

/// A response with a streamed body.
pub(crate) fn streaming(builder: axum::http::response::Builder, body: Body) -> Response {
    builder
        .body(body)
        .unwrap_or_else(|e| record::error(500, &format!("mock: building a response failed: {e}")))
}
