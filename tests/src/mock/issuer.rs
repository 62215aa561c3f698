//! The OAuth issuer: device-code login and the token endpoint (chatgpt-auth.md §2–4).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::jwt::random_hex;
use super::record::{self, MockResponse, Recorded};
use super::state::{CodeGrant, DeviceAuth};
use super::{Shared, Tokens, CLIENT_ID};

fn json_body(request: &Recorded) -> Result<serde_json::Map<String, Value>, MockResponse> {
    match request.try_json() {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(MockResponse::error(
            400,
            "invalid_request",
            "the body must be a JSON object",
        )),
        Err(e) => Err(MockResponse::error(400, "invalid_request", &e)),
    }
}

fn field<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str)
}

/// `POST /api/accounts/deviceauth/usercode` `{"client_id"}`.
pub(crate) fn usercode(shared: &Arc<Shared>, request: &Recorded) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return response.into_response(),
    };
    match field(&body, "client_id") {
        Some(CLIENT_ID) => {}
        Some(other) => {
            return MockResponse::error(
                400,
                "invalid_client",
                &format!("Unknown client_id {other:?}"),
            )
            .into_response()
        }
        None => {
            return MockResponse::error(400, "invalid_request", "Missing client_id").into_response()
        }
    }
    let mut state = shared.lock();
    let device_auth_id = format!("deviceauth_{}", random_hex());
    let user_code = format!("ABCD-{}", 1234 + state.device_auths.len());
    state.device_auths.insert(
        device_auth_id.clone(),
        DeviceAuth {
            user_code: user_code.clone(),
            polls: 0,
            code: None,
        },
    );
    let reply = json!({ "device_auth_id": device_auth_id, "user_code": user_code, "interval": state.device_interval });
    MockResponse::json(200, reply).into_response()
}

/// `POST /api/accounts/deviceauth/token` `{device_auth_id, user_code}`: 403 pending for the
/// first `device_pending_polls` polls, then the authorization code.
pub(crate) fn device_token(shared: &Arc<Shared>, request: &Recorded) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return response.into_response(),
    };
    let (Some(id), Some(user_code)) = (field(&body, "device_auth_id"), field(&body, "user_code"))
    else {
        return MockResponse::error(
            400,
            "invalid_request",
            "device_auth_id and user_code are required",
        )
        .into_response();
    };
    let mut state = shared.lock();
    let pending = state.device_pending_polls;
    let account = state.device_account.clone();
    let Some(auth) = state.device_auths.get_mut(id) else {
        return MockResponse::error(400, "deviceauth_not_found", "Unknown device authorization")
            .into_response();
    };
    if auth.user_code != user_code {
        return MockResponse::error(
            400,
            "deviceauth_user_code_mismatch",
            "The user code does not match this device authorization",
        )
        .into_response();
    }
    auth.polls += 1;
    if auth.polls <= pending {
        return MockResponse::json(403, json!({ "error": { "message": "authorization pending", "code": "deviceauth_authorization_pending" } }))
            .into_response();
    }
    let code = match auth.code.clone() {
        Some(code) => code,
        None => {
            let code = format!("ac_{}{}", random_hex(), random_hex());
            auth.code = Some(code.clone());
            let code_verifier = format!("cv_{}{}{}", random_hex(), random_hex(), random_hex());
            state.codes.insert(
                code.clone(),
                CodeGrant {
                    code_verifier,
                    email: account,
                    used: false,
                },
            );
            code
        }
    };
    let Some(grant) = state.codes.get(&code) else {
        return record::error(500, "mock: lost the authorization code");
    };
    let reply = json!({ "authorization_code": code, "code_challenge": format!("cc_{}", random_hex()), "code_verifier": grant.code_verifier });
    MockResponse::json(200, reply).into_response()
}

fn invalid_grant(description: &str) -> Response {
    MockResponse::json(
        400,
        json!({ "error": "invalid_grant", "error_description": description }),
    )
    .into_response()
}

/// The token endpoint's answer; `with_refresh_token` false leaves the refresh token out,
/// as a refresh that keeps the old one does (chatgpt-auth.md §3).
fn token_reply(tokens: &Tokens, ttl: i64, with_refresh_token: bool) -> Response {
    let mut reply = json!({
        "id_token": tokens.id_token,
        "access_token": tokens.access_token,
        "expires_in": ttl,
        "token_type": "Bearer",
        "scope": "openid profile email offline_access",
    });
    if with_refresh_token {
        reply["refresh_token"] = json!(tokens.refresh_token);
    }
    MockResponse::json(200, reply).into_response()
}

/// `POST /oauth/token`, form-urlencoded or JSON.
pub(crate) async fn token(shared: &Arc<Shared>, request: &Recorded) -> Response {
    let params = match request.try_params() {
        Ok(params) => params,
        Err(e) => {
            return MockResponse::json(
                400,
                json!({ "error": "invalid_request", "error_description": e }),
            )
            .into_response()
        }
    };
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange(shared, &params),
        Some("refresh_token") => {
            let delay = shared.lock().refresh_delay;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let reply = refresh(shared, &params);
            let after = shared.lock().refresh_reply_delay;
            if !after.is_zero() {
                tokio::time::sleep(after).await;
            }
            reply
        }
        other => MockResponse::json(400, json!({ "error": "unsupported_grant_type", "error_description": format!("grant_type {other:?}") }))
            .into_response(),
    }
}

fn exchange(shared: &Arc<Shared>, params: &BTreeMap<String, String>) -> Response {
    let get = |name: &str| params.get(name).map(String::as_str);
    let expected_redirect = format!("{}/deviceauth/callback", shared.issuer_url);
    if get("client_id") != Some(CLIENT_ID) {
        return invalid_grant(&format!(
            "client_id must be {CLIENT_ID}, got {:?}",
            get("client_id")
        ));
    }
    if get("redirect_uri") != Some(expected_redirect.as_str()) {
        return invalid_grant(&format!(
            "redirect_uri must be {expected_redirect}, got {:?}",
            get("redirect_uri")
        ));
    }
    let mut state = shared.lock();
    let Some(grant) = get("code").and_then(|code| state.codes.get_mut(code)) else {
        return invalid_grant("Unknown authorization code");
    };
    if grant.used {
        return invalid_grant("The authorization code has already been used");
    }
    if get("code_verifier") != Some(grant.code_verifier.as_str()) {
        return invalid_grant("code_verifier does not match the authorization code");
    }
    grant.used = true;
    let email = grant.email.clone();
    let Some(account) = state.find_account(&email) else {
        return record::error(
            500,
            &format!("mock: the device account {email} is not registered"),
        );
    };
    let ttl = state.access_ttl;
    let tokens = state.issue(&shared.issuer_url, &account, ttl);
    token_reply(&tokens, ttl, true)
}

fn refresh(shared: &Arc<Shared>, params: &BTreeMap<String, String>) -> Response {
    let client_id = params.get("client_id").map(String::as_str);
    if client_id != Some(CLIENT_ID) {
        return MockResponse::json(400, json!({ "error": "invalid_client", "error_description": format!("client_id must be {CLIENT_ID}, got {client_id:?}") }))
            .into_response();
    }
    let mut state = shared.lock();
    let rotate = state.rotate_refresh;
    let Some((refresh_token, entry)) = params
        .get("refresh_token")
        .and_then(|rt| Some((rt, state.refresh.get_mut(rt)?)))
    else {
        return invalid_grant("Unknown or invalid refresh token");
    };
    if entry.used {
        return MockResponse::error(
            401,
            "refresh_token_reused",
            "Your refresh token has already been used to generate a new access token. Please try signing in again.",
        )
        .into_response();
    }
    // A refresh token the issuer does not rotate stays valid.
    entry.used = rotate;
    let email = entry.email.clone();
    let Some(account) = state.find_account(&email) else {
        return record::error(500, &format!("mock: the account {email} is not registered"));
    };
    let ttl = state.access_ttl;
    let tokens = if rotate {
        state.issue(&shared.issuer_url, &account, ttl)
    } else {
        state.reissue(&shared.issuer_url, &account, ttl, refresh_token)
    };
    token_reply(&tokens, ttl, rotate)
}
