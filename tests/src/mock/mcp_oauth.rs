//! An OAuth-protected MCP server on 127.0.0.1, for `talaria mcp login` tests: the
//! resource server and its authorization server on one port, as the MCP 2025-11-25
//! authorization spec describes them (mcp-testing.md).
//!
//! - `POST /mcp` (streamable HTTP, JSON replies) serves the tools `add` and `whoami`, but
//!   only to a bearer this server issued and that has not expired; anything else gets 401
//!   with `WWW-Authenticate: Bearer resource_metadata="…"`.
//! - `/.well-known/oauth-protected-resource[/mcp]` (RFC 9728) names the resource
//!   `{base}/mcp` and the authorization server `{base}`;
//!   `/.well-known/oauth-authorization-server` (RFC 8414) its endpoints.
//! - `POST /register` (RFC 7591) registers public clients whose redirect URIs are
//!   loopback `http` URLs.
//! - `GET /authorize` checks the request (registered client and redirect URI, S256 PKCE
//!   challenge, `resource`) and redirects back to the client with `code` and `state`, or
//!   with what [`AuthorizeAnswer`] says; nobody is asked, the test plays the user by
//!   following the redirect.
//! - `POST /token`: `authorization_code` (the verifier must hash to the challenge, the
//!   redirect URI and client must match, a code works once) and `refresh_token` (rotated:
//!   the old refresh token stops working).
//!
//! Every request is recorded as it arrived; every secret issued is listed by
//! [`OAuthMcpServer::issued_secrets`] so tests can check none leaked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State as AxumState};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::record::{parse_form, MockResponse, Recorded};
use super::serve::Served;
use talaria_plugin_api::time::now_secs;

/// Protocol versions the MCP endpoint speaks; an unknown request gets the newest.
const PROTOCOL_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// What `/authorize` answers a valid request with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizeAnswer {
    /// The user approves: `code` and the client's `state`.
    Approve,
    /// The user declines: `error=access_denied` and the client's `state`.
    Deny,
    /// A code, but a `state` the client never sent (a forged or crossed redirect).
    ForgeState,
}

/// An authorization code waiting for its exchange.
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    resource: Option<String>,
}

struct State {
    requests: Vec<Recorded>,
    /// client_id → registered redirect URIs.
    clients: BTreeMap<String, Vec<String>>,
    codes: BTreeMap<String, PendingCode>,
    /// access token → (when it expires (unix seconds), the client it was issued to).
    access: BTreeMap<String, (u64, String)>,
    /// refresh token → client_id, while the token is still good.
    refresh: BTreeMap<String, String>,
    /// Every code, access token and refresh token handed out, oldest first.
    issued: Vec<String>,
    sessions: BTreeSet<String>,
    access_ttl: u64,
    answer: AuthorizeAnswer,
    refuse_refresh: bool,
    counter: u64,
}

impl State {
    /// A fresh secret that says what it is and cannot be guessed from another one.
    fn mint(&mut self, kind: &str) -> String {
        self.counter += 1;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let secret = format!(
            "{kind}-{}-{:08x}{:04x}",
            self.counter,
            nanos,
            std::process::id()
        );
        self.issued.push(secret.clone());
        secret
    }
}

struct Shared {
    base: String,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The server. See the module docs.
pub struct OAuthMcpServer {
    shared: Arc<Shared>,
    _served: Served,
}

impl OAuthMcpServer {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub fn start() -> OAuthMcpServer {
        let mut shared = None;
        let served = Served::start("mcp-oauth", |addr| {
            let state = Arc::new(Shared {
                base: format!("http://{addr}"),
                state: Mutex::new(State {
                    requests: Vec::new(),
                    clients: BTreeMap::new(),
                    codes: BTreeMap::new(),
                    access: BTreeMap::new(),
                    refresh: BTreeMap::new(),
                    issued: Vec::new(),
                    sessions: BTreeSet::new(),
                    access_ttl: 3600,
                    answer: AuthorizeAnswer::Approve,
                    refuse_refresh: false,
                    counter: 0,
                }),
            });
            shared = Some(state.clone());
            Router::new().fallback(handle).with_state(state)
        });
        OAuthMcpServer {
            shared: shared.expect("the app was built"),
            _served: served,
        }
    }

    /// `http://127.0.0.1:PORT`: the authorization server's issuer.
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// `http://127.0.0.1:PORT/mcp`: the MCP endpoint, which is also the resource.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.shared.base)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The requests to `path` (without query).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// The token requests with this `grant_type`.
    pub fn token_requests(&self, grant: &str) -> Vec<Recorded> {
        self.requests_to("/token")
            .into_iter()
            .filter(|r| r.form().get("grant_type").map(String::as_str) == Some(grant))
            .collect()
    }

    /// The JSON-RPC requests the MCP endpoint received with this `method`.
    pub fn mcp_calls(&self, method: &str) -> Vec<Recorded> {
        self.requests_to("/mcp")
            .into_iter()
            .filter(|r| r.method == "POST" && r.try_json().is_ok_and(|b| b["method"] == method))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Every code, access token and refresh token issued so far, oldest first.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.lock().issued.clone()
    }

    /// The lifetime (`expires_in`) of access tokens issued from now on (default 3600 s).
    pub fn set_access_ttl(&self, secs: u64) {
        self.shared.lock().access_ttl = secs;
    }

    /// How `/authorize` answers from now on.
    pub fn set_authorize_answer(&self, answer: AuthorizeAnswer) {
        self.shared.lock().answer = answer;
    }

    /// Refuses every refresh from now on (`invalid_grant`), as after a revocation.
    pub fn refuse_refresh(&self, on: bool) {
        self.shared.lock().refuse_refresh = on;
    }

    /// The client ids `/register` handed out.
    pub fn registered_clients(&self) -> Vec<String> {
        self.shared.lock().clients.keys().cloned().collect()
    }
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let recorded = Recorded::from_parts(&parts, &body);
    shared.lock().requests.push(recorded.clone());
    let base = &shared.base;
    let r = &recorded;
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/.well-known/oauth-protected-resource/mcp")
        | ("GET", "/.well-known/oauth-protected-resource") => MockResponse::json(
            200,
            json!({
                "resource": format!("{base}/mcp"),
                "authorization_servers": [base],
                "scopes_supported": ["tools"],
                "bearer_methods_supported": ["header"],
            }),
        )
        .into_response(),
        ("GET", "/.well-known/oauth-authorization-server") => MockResponse::json(
            200,
            json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "registration_endpoint": format!("{base}/register"),
                "scopes_supported": ["tools"],
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
            }),
        )
        .into_response(),
        ("POST", "/register") => register(&shared, r),
        ("GET", "/authorize") => authorize(&shared, r),
        ("POST", "/token") => token(&shared, r),
        (_, "/mcp") => mcp(&shared, r),
        _ => MockResponse::text(404, "not found").into_response(),
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    MockResponse::json(
        status,
        json!({ "error": error, "error_description": description }),
    )
    .with_header("cache-control", "no-store")
    .into_response()
}

/// A loopback `http` redirect URI (RFC 8252 §7.3), the only kind a public native client
/// may register here.
fn is_loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

fn register(shared: &Shared, r: &Recorded) -> Response {
    let Ok(body) = r.try_json() else {
        return oauth_error(400, "invalid_client_metadata", "body is not JSON");
    };
    let uris: Vec<String> = body["redirect_uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if uris.is_empty() || !uris.iter().all(|u| is_loopback_redirect(u)) {
        return oauth_error(
            400,
            "invalid_redirect_uri",
            "redirect_uris must be loopback http URLs",
        );
    }
    let mut state = shared.lock();
    state.counter += 1;
    let client_id = format!("mcp-client-{}", state.counter);
    state.clients.insert(client_id.clone(), uris.clone());
    MockResponse::json(
        201,
        json!({
            "client_id": client_id,
            "client_id_issued_at": now_secs(),
            "client_name": body["client_name"],
            "redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .into_response()
}

fn redirect(location: String) -> Response {
    MockResponse::new(302, "")
        .with_header("location", location)
        .into_response()
}

fn authorize(shared: &Shared, r: &Recorded) -> Response {
    let q = parse_form(r.query.as_deref().unwrap_or(""));
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (client_id, redirect_uri, state_param) =
        (get("client_id"), get("redirect_uri"), get("state"));
    let mut state = shared.lock();
    // An unknown client or redirect URI must not be redirected to (RFC 6749 §4.1.2.1).
    match state.clients.get(&client_id) {
        None => return MockResponse::text(400, "unknown client_id").into_response(),
        Some(uris) if !uris.contains(&redirect_uri) => {
            return MockResponse::text(400, "redirect_uri is not registered").into_response()
        }
        Some(_) => {}
    }
    let back = |params: &[(&str, &str)]| {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        redirect(format!("{redirect_uri}{sep}{}", query.join("&")))
    };
    let resource = q.get("resource").cloned();
    let problem = if get("response_type") != "code" {
        Some(("unsupported_response_type", "response_type must be code"))
    } else if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        Some(("invalid_request", "an S256 code_challenge is required"))
    } else if state_param.is_empty() {
        Some(("invalid_request", "state is required"))
    } else if resource
        .as_deref()
        .is_some_and(|res| res != format!("{}/mcp", shared.base))
    {
        Some(("invalid_target", "unknown resource"))
    } else {
        None
    };
    if let Some((error, description)) = problem {
        return back(&[
            ("error", error),
            ("error_description", description),
            ("state", &state_param),
        ]);
    }
    match state.answer {
        AuthorizeAnswer::Deny => back(&[
            ("error", "access_denied"),
            ("error_description", "the user declined"),
            ("state", &state_param),
        ]),
        answer => {
            let code = state.mint("mcp-code");
            state.codes.insert(
                code.clone(),
                PendingCode {
                    client_id,
                    redirect_uri: redirect_uri.clone(),
                    challenge: get("code_challenge"),
                    resource,
                },
            );
            let sent_state = if answer == AuthorizeAnswer::ForgeState {
                "forged-state".to_owned()
            } else {
                state_param
            };
            back(&[("code", &code), ("state", &sent_state)])
        }
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// BASE64URL(SHA256(verifier)), RFC 7636 §4.2.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn token(shared: &Shared, r: &Recorded) -> Response {
    let form = r.form();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut state = shared.lock();
    let client_id = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(pending) = state.codes.remove(&get("code")) else {
                return oauth_error(400, "invalid_grant", "unknown or already used code");
            };
            if pending.client_id != get("client_id") {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "the code was issued to another client",
                );
            }
            if pending.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "redirect_uri differs from the authorization request",
                );
            }
            if s256(&get("code_verifier")) != pending.challenge {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                );
            }
            if form.get("resource") != pending.resource.as_ref() {
                return oauth_error(
                    400,
                    "invalid_target",
                    "resource differs from the authorization request",
                );
            }
            pending.client_id
        }
        Some("refresh_token") => {
            if state.refuse_refresh {
                return oauth_error(400, "invalid_grant", "the refresh token was revoked");
            }
            let Some(client_id) = state.refresh.remove(&get("refresh_token")) else {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "unknown or already used refresh token",
                );
            };
            if client_id != get("client_id") {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "the refresh token belongs to another client",
                );
            }
            client_id
        }
        _ => return oauth_error(400, "unsupported_grant_type", "unsupported grant_type"),
    };
    let access = state.mint("mcp-access");
    let refresh = state.mint("mcp-refresh");
    let ttl = state.access_ttl;
    state
        .access
        .insert(access.clone(), (now_secs() + ttl, client_id.clone()));
    state.refresh.insert(refresh.clone(), client_id);
    MockResponse::json(
        200,
        json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "scope": "tools",
        }),
    )
    .with_header("cache-control", "no-store")
    .into_response()
}

fn unauthorized(shared: &Shared, presented: bool) -> Response {
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", shared.base);
    let challenge = if presented {
        format!("Bearer error=\"invalid_token\", resource_metadata=\"{metadata}\"")
    } else {
        format!("Bearer resource_metadata=\"{metadata}\"")
    };
    MockResponse::json(401, json!({"error": "unauthorized"}))
        .with_header("www-authenticate", challenge)
        .into_response()
}

fn mcp(shared: &Shared, r: &Recorded) -> Response {
    let bearer = r
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let client = bearer.as_ref().and_then(|token| {
        shared
            .lock()
            .access
            .get(token)
            .filter(|(expires, _)| *expires > now_secs())
            .map(|(_, client)| client.clone())
    });
    let Some(client) = client else {
        return unauthorized(shared, bearer.is_some());
    };
    let session = r.header("mcp-session-id").map(str::to_owned);
    match r.method.as_str() {
        "DELETE" => {
            if let Some(id) = session {
                shared.lock().sessions.remove(&id);
            }
            return MockResponse::new(200, "").into_response();
        }
        "POST" => {}
        // No server-initiated stream here (allowed by the transport spec).
        _ => return MockResponse::new(405, "").into_response(),
    }
    let accept = r.header("accept").unwrap_or("");
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        return MockResponse::text(
            406,
            "Accept must list application/json and text/event-stream",
        )
        .into_response();
    }
    let Ok(message) = r.try_json() else {
        return rpc_error(Value::Null, -32700, "parse error");
    };
    let id = message.get("id").cloned();
    let method = message["method"].as_str().unwrap_or("");
    if method == "initialize" {
        let wanted = message["params"]["protocolVersion"].as_str().unwrap_or("");
        let version = if PROTOCOL_VERSIONS.contains(&wanted) {
            wanted
        } else {
            PROTOCOL_VERSIONS[0]
        };
        let session = {
            let mut state = shared.lock();
            state.counter += 1;
            let session = format!("session-{}", state.counter);
            state.sessions.insert(session.clone());
            session
        };
        return MockResponse::json(
            200,
            json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": {"name": "oauth-mock", "version": "1.0.0"},
            }}),
        )
        .with_header("mcp-session-id", session)
        .into_response();
    }
    match &session {
        None => return MockResponse::text(400, "Mcp-Session-Id is required").into_response(),
        Some(s) if !shared.lock().sessions.contains(s) => {
            return MockResponse::text(404, "unknown session").into_response()
        }
        Some(_) => {}
    }
    if let Some(version) = r.header("mcp-protocol-version") {
        if !PROTOCOL_VERSIONS.contains(&version) {
            return MockResponse::text(400, "unsupported MCP-Protocol-Version").into_response();
        }
    }
    let Some(id) = id else {
        // A notification or a response: accepted, nothing to say.
        return MockResponse::new(202, "").into_response();
    };
    let result = match method {
        "ping" => json!({}),
        "tools/list" => json!({"tools": [
            {
                "name": "add",
                "description": "Adds two numbers",
                "inputSchema": {"type": "object", "properties": {
                    "a": {"type": "number"}, "b": {"type": "number"}
                }, "required": ["a", "b"]},
            },
            {
                "name": "whoami",
                "description": "Says which client the token was issued to",
                "inputSchema": {"type": "object", "properties": {}},
            },
        ]}),
        "tools/call" => {
            let args = &message["params"]["arguments"];
            match message["params"]["name"].as_str() {
                Some("add") => {
                    let sum = args["a"].as_f64().unwrap_or(0.0) + args["b"].as_f64().unwrap_or(0.0);
                    json!({"content": [{"type": "text", "text": format!("{sum}")}], "isError": false})
                }
                Some("whoami") => {
                    json!({"content": [{"type": "text", "text": format!("signed in as {client}")}], "isError": false})
                }
                other => {
                    json!({"content": [{"type": "text", "text": format!("no tool {other:?}")}], "isError": true})
                }
            }
        }
        _ => return rpc_error(id, -32601, "method not found"),
    };
    MockResponse::json(200, json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

fn rpc_error(id: Value, code: i64, message: &str) -> Response {
    MockResponse::json(
        200,
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
    .into_response()
}
