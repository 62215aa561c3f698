//! The Codex backend (`/backend-api/codex`) and the plain API (`/v1`): models, and
//! responses over SSE and websocket (codex-backend.md §4, §5, §9, §10).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use talaria_plugin_api::time::now_secs;
use tokio::sync::mpsc;

use super::jwt::random_hex;
use super::record::{MockResponse, Recorded};
use super::responses::{sse_frame, EventScript, ResponseScript};
use super::{streaming, Shared, WsMode};

/// Which credential an endpoint takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// A ChatGPT access token the issuer handed out.
    Chatgpt,
    /// The key set with `set_api_key`.
    ApiKey,
}

fn bearer(request: &Recorded) -> Option<&str> {
    let value = request.header("authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(code: &str, message: &str) -> MockResponse {
    MockResponse::error(401, code, message)
}

/// Err(the 401) unless the request carries the credential `auth` wants.
fn authorize(shared: &Shared, request: &Recorded, auth: Auth) -> Result<(), MockResponse> {
    let token = bearer(request);
    let state = shared.lock();
    match auth {
        Auth::Chatgpt => {
            let Some(token) = token else {
                return Err(unauthorized(
                    "invalid_token",
                    "Missing bearer authentication in header",
                ));
            };
            match state.access.get(token) {
                None => Err(unauthorized(
                    "invalid_token",
                    "Could not validate your token. Please try signing in again.",
                )),
                Some(_) if state.revoked.contains(token) => Err(unauthorized(
                    "token_expired",
                    "Your authentication token has been invalidated. Please try signing in again.",
                )),
                Some(info) if info.exp <= now_secs() => Err(unauthorized(
                    "token_expired",
                    "Provided authentication token is expired. Please try signing in again.",
                )),
                Some(_) => Ok(()),
            }
        }
        Auth::ApiKey => match (token, state.api_key.as_deref()) {
            (Some(token), Some(key)) if token == key => Ok(()),
            (token, _) => {
                let shown: String = token.unwrap_or("").chars().take(8).collect();
                let body = json!({ "error": {
                    "message": format!("Incorrect API key provided: {shown}***. You can find your API key at https://platform.openai.com/account/api-keys."),
                    "type": "invalid_request_error", "param": null, "code": "invalid_api_key",
                } });
                Err(MockResponse::json(401, body))
            }
        },
    }
}

/// `GET …/models`: `{"models":[..]}` for ChatGPT, `{"object":"list","data":[..]}` for /v1.
pub(crate) fn models(shared: &Arc<Shared>, request: &Recorded, auth: Auth) -> Response {
    if let Err(response) = authorize(shared, request, auth) {
        return response.into_response();
    }
    let models = shared.lock().models.clone();
    match auth {
        Auth::Chatgpt => MockResponse::json(200, json!({ "models": models }))
            .with_header("x-models-etag", "\"mock-models-1\"")
            .into_response(),
        Auth::ApiKey => {
            let data: Vec<Value> = models
                .iter()
                .filter_map(|m| m.get("slug").and_then(Value::as_str))
                .map(|id| json!({ "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "openai" }))
                .collect();
            MockResponse::json(200, json!({ "object": "list", "data": data })).into_response()
        }
    }
}

/// `GET /backend-api/wham/accounts/check`: the workspaces the signed-in user belongs to,
/// which Codex (0.171) reads after a sign-in and on `account/read` for its workspace
/// routing. The shape is the one Codex's backend client parses: `accounts` (a list of
/// entries keyed by `id`), `account_ordering`, `default_account_id`. Codex accepts an
/// entry only with `account_routing_override` one of `NO_CONSTRAINT`, `us`, `us_cr` and
/// `workspace_backend_origin` an https origin; a personal workspace has no constraint and
/// lives on the ChatGPT origin.
pub(crate) fn accounts_check(shared: &Arc<Shared>, request: &Recorded) -> Response {
    if let Err(response) = authorize(shared, request, Auth::Chatgpt) {
        return response.into_response();
    }
    let state = shared.lock();
    let account_id = bearer(request)
        .and_then(|token| state.access.get(token))
        .map(|info| info.account_id.clone())
        .unwrap_or_default();
    let plan = state
        .accounts
        .iter()
        .find(|a| a.account_id == account_id)
        .map(|a| a.plan.clone());
    MockResponse::json(
        200,
        json!({
            "accounts": [{
                "id": account_id,
                "name": null,
                "structure": "personal",
                "plan_type": plan,
                "profile_picture_url": null,
                "workspace_backend_origin": "https://chatgpt.com",
                "account_routing_override": "NO_CONSTRAINT",
            }],
            "account_ordering": [account_id],
            "default_account_id": account_id,
        }),
    )
    .into_response()
}

/// `POST …/responses`: the next script, as an SSE stream or its scripted HTTP answer.
pub(crate) fn responses_http(shared: &Arc<Shared>, request: &Recorded, auth: Auth) -> Response {
    if shared.lock().challenge_sse {
        return MockResponse::cloudflare_challenge().into_response();
    }
    if let Err(response) = authorize(shared, request, auth) {
        return response.into_response();
    }
    let body = match request.try_json() {
        Ok(Value::Object(body)) => body,
        Ok(_) => {
            return MockResponse::error(400, "invalid_request", "the body must be a JSON object")
                .into_response()
        }
        Err(e) => return MockResponse::error(400, "invalid_request", &e).into_response(),
    };
    // The ChatGPT backend's own checks (codex-backend.md §2).
    if auth == Auth::Chatgpt {
        if body.get("store") != Some(&Value::Bool(false)) {
            return MockResponse::json(400, json!({ "detail": "Store must be set to false" }))
                .into_response();
        }
        if body.get("stream") != Some(&Value::Bool(true)) {
            return MockResponse::json(400, json!({ "detail": "Stream must be set to true" }))
                .into_response();
        }
    }
    let script = shared.lock().next_script(&request.decoded_body());
    match script {
        ResponseScript::Http(response) => response.into_response(),
        ResponseScript::Events(script) => sse(script),
    }
}

fn sse(script: EventScript) -> Response {
    let mut builder = Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .header("x-request-id", format!("req_{}", random_hex()));
    for (name, value) in &script.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(send_sse(script, tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    streaming(builder, Body::from_stream(stream))
}

async fn send_sse(script: EventScript, tx: mpsc::Sender<Bytes>) {
    let limit = script.limit();
    for (index, event) in script.events.iter().enumerate().take(limit) {
        if index > 0 && !script.delay.is_zero() {
            tokio::time::sleep(script.delay).await;
        }
        if let Some((_, raw)) = script.raw.as_ref().filter(|(at, _)| *at == index) {
            if tx.send(Bytes::from(raw.clone())).await.is_err() {
                return;
            }
        }
        if tx.send(Bytes::from(sse_frame(event))).await.is_err() {
            return;
        }
    }
    if let Some((_, raw)) = script.raw.as_ref().filter(|(at, _)| *at >= limit) {
        if tx.send(Bytes::from(raw.clone())).await.is_err() {
            return;
        }
    }
    if script.stall_after.is_some() {
        // Keep the body open until the client goes away (or the server stops).
        tx.closed().await;
    }
}

/// `GET …/responses` with a websocket upgrade.
pub(crate) async fn responses_ws(
    shared: &Arc<Shared>,
    parts: &mut Parts,
    request: &Recorded,
    auth: Auth,
) -> Response {
    let mode = shared.lock().ws_mode;
    if let WsMode::Refuse(status) = mode {
        return match status {
            403 => MockResponse::cloudflare_challenge(),
            426 => MockResponse::text(426, "Upgrade Required"),
            _ => MockResponse::error(
                status,
                "websocket_refused",
                "The mock refuses websocket connections",
            ),
        }
        .into_response();
    }
    if let Err(response) = authorize(shared, request, auth) {
        return response.into_response();
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let shared = shared.clone();
    let handshake = request.clone();
    upgrade.on_upgrade(move |socket| session(shared, socket, handshake))
}

/// Records each client frame as a "WS" request; answers `response.create` with the next
/// script. Pings are answered by the websocket layer while this loop reads.
async fn session(shared: Arc<Shared>, mut socket: WebSocket, handshake: Recorded) {
    while let Some(Ok(message)) = socket.recv().await {
        let body = match message {
            Message::Text(text) => text.as_str().as_bytes().to_vec(),
            Message::Binary(bytes) => bytes.to_vec(),
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let is_create = serde_json::from_slice::<Value>(&body)
            .ok()
            .is_some_and(|v| v["type"] == "response.create");
        let frame = Recorded {
            method: "WS".into(),
            body,
            ..handshake.clone()
        };
        let script = {
            let mut state = shared.lock();
            let script = is_create.then(|| state.next_script(&frame.body));
            state.requests.push(frame);
            script
        };
        let keep_open = match script {
            None => true,
            Some(ResponseScript::Http(response)) => socket
                .send(Message::Text(wrapped_error(&response).to_string().into()))
                .await
                .is_ok(),
            Some(ResponseScript::Events(script)) => send_ws(&mut socket, &script).await,
        };
        if !keep_open {
            return;
        }
    }
}

/// Sends a script's events as text frames; false when the connection is done.
async fn send_ws(socket: &mut WebSocket, script: &EventScript) -> bool {
    let limit = script.limit();
    for (index, event) in script.events.iter().enumerate().take(limit) {
        if index > 0 && !script.delay.is_zero() {
            tokio::time::sleep(script.delay).await;
        }
        if let Some((_, raw)) = script.raw.as_ref().filter(|(at, _)| *at == index) {
            if socket
                .send(Message::Text(raw.clone().into()))
                .await
                .is_err()
            {
                return false;
            }
        }
        if socket
            .send(Message::Text(event.to_string().into()))
            .await
            .is_err()
        {
            return false;
        }
    }
    if let Some((_, raw)) = script.raw.as_ref().filter(|(at, _)| *at >= limit) {
        if socket
            .send(Message::Text(raw.clone().into()))
            .await
            .is_err()
        {
            return false;
        }
    }
    if script.stall_after.is_none() && script.close_after.is_some() {
        let _ = socket.send(Message::Close(None)).await;
        return false;
    }
    true
}

/// A scripted HTTP answer as the websocket's wrapped error frame.
fn wrapped_error(response: &MockResponse) -> Value {
    let error = match serde_json::from_str::<Value>(&response.body) {
        Ok(Value::Object(mut body)) => body.remove("error").unwrap_or(Value::Object(body)),
        _ => json!({ "message": response.body }),
    };
    let headers: serde_json::Map<String, Value> = response
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
        .collect();
    json!({ "type": "error", "status": response.status, "error": error, "headers": headers })
}
