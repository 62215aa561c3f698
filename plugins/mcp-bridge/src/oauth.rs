//! OAuth for remote MCP servers (`talaria mcp login NAME`): discovery from the server's
//! `WWW-Authenticate` challenge and metadata, a dynamically registered or
//! pre-registered client, PKCE, and a redirect to a loopback listener. The tokens live
//! in the bridge's own credential namespace (the host scopes it to the plugin id), one
//! entry per server, and rmcp's authorization manager refreshes them.

use rmcp::transport::auth::{
    AuthError, AuthorizationCallback, AuthorizationManager, AuthorizationRequest, CredentialStore,
    OAuthState, StoredCredentials,
};
use rmcp::transport::{AuthClient, StreamableHttpClientTransport};
use rmcp::ServiceExt;
use serde_json::Value;
use talaria_sdk::mcp::McpServer;
use talaria_sdk::Host;

/// The tokens of one server, in the host's credential store under the plugin's id.
#[derive(Clone)]
pub struct HostStore {
    host: Host,
    namespace: String,
    server: String,
}

impl HostStore {
    pub fn new(host: &Host, server: &str) -> HostStore {
        HostStore {
            host: host.clone(),
            namespace: host.info().plugin_id,
            server: server.to_owned(),
        }
    }

    /// Whether tokens are stored for the server.
    pub fn has_tokens(&self) -> bool {
        self.host
            .credentials(&self.namespace)
            .map(|v| !v[&self.server].is_null())
            .unwrap_or(false)
    }

    fn write(&self, value: Option<Value>) -> Result<(), AuthError> {
        let server = self.server.clone();
        self.host
            .update_credentials(&self.namespace, move |mut all| {
                if !all.is_object() {
                    all = Value::Object(Default::default());
                }
                if let Value::Object(map) = &mut all {
                    match &value {
                        Some(v) => {
                            map.insert(server.clone(), v.clone());
                        }
                        None => {
                            map.remove(&server);
                        }
                    }
                }
                Ok(Some(all))
            })
            .map(drop)
            .map_err(|e| AuthError::InternalError(e.message))
    }
}

#[async_trait::async_trait]
impl CredentialStore for HostStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let all = self
            .host
            .credentials(&self.namespace)
            .map_err(|e| AuthError::InternalError(e.message))?;
        match all.get(&self.server) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| AuthError::InternalError(format!("stored MCP tokens: {e}"))),
        }
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let value = serde_json::to_value(&credentials)
            .map_err(|e| AuthError::InternalError(e.to_string()))?;
        self.write(Some(value))
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.write(None)
    }
}

/// The server's `WWW-Authenticate` challenge to an unauthenticated handshake, if it
/// sends one.
async fn challenge(url: &str) -> Option<String> {
    let transport = StreamableHttpClientTransport::from_uri(url);
    match ().serve(transport).await {
        Ok(client) => {
            let _ = client.cancel().await;
            None
        }
        Err(e) => e.auth_challenge().map(str::to_owned),
    }
}

/// How the user's browser gets to the authorization URL and back.
pub trait Authorize {
    /// The redirect URI the client registers (a loopback URL).
    fn redirect_uri(&self) -> String;
    /// Sends the user to `url` and waits for the redirect back.
    fn authorize(
        &self,
        url: &str,
    ) -> impl std::future::Future<Output = Result<AuthorizationCallback, String>> + Send;
}

/// Signs in to the server at `url`: discovery, registration (or the configured client
/// id), PKCE, the authorization, the code exchange. With a `store`, the tokens are
/// saved there.
pub async fn sign_in<S: CredentialStore + Clone + 'static>(
    url: &str,
    config: &McpServer,
    scopes: &[String],
    client_secret: Option<&str>,
    store: Option<S>,
    via: &impl Authorize,
) -> Result<AuthorizationManager, String> {
    let failed = |e: AuthError| format!("OAuth with {url} failed: {e}");
    let challenge = challenge(url).await;
    let mut manager = AuthorizationManager::new(url).await.map_err(failed)?;
    if let Some(store) = store {
        manager.set_credential_store(store);
    }
    let mut state = OAuthState::Unauthorized(manager);
    let mut request = AuthorizationRequest::new(via.redirect_uri()).with_client_name("talaria");
    if !scopes.is_empty() {
        request = request.with_scopes(scopes.iter().map(String::as_str));
    }
    if let Some(metadata) = &config.oauth_client_metadata_url {
        request = request.with_client_metadata_url(metadata);
    }
    if let Some(id) = &config.oauth_client_id {
        request = request.with_preregistered_client(id);
        if let Some(secret) = client_secret {
            request = request.with_client_secret(secret);
        }
    }
    if let Some(challenge) = challenge {
        request = request.with_challenge(challenge);
    }
    state.start_authorization(request).await.map_err(failed)?;
    let auth_url = state.get_authorization_url().await.map_err(failed)?;
    let callback = via.authorize(&auth_url).await?;
    state
        .handle_callback_with_issuer(
            &callback.code,
            &callback.csrf_token,
            callback.issuer.as_deref(),
        )
        .await
        .map_err(failed)?;
    state
        .into_authorization_manager()
        .ok_or_else(|| format!("OAuth with {url} did not finish"))
}

/// An HTTP client that sends the stored tokens of `server` (refreshing them when due);
/// `None` when none are stored.
pub async fn stored_client(
    host: &Host,
    server: &str,
    url: &str,
) -> Result<Option<AuthClient<reqwest::Client>>, String> {
    let store = HostStore::new(host, server);
    if !store.has_tokens() {
        return Ok(None);
    }
    let mut manager = AuthorizationManager::new(url)
        .await
        .map_err(|e| format!("MCP server {server}: {e}"))?;
    manager.set_credential_store(store);
    let ready = manager
        .initialize_from_store()
        .await
        .map_err(|e| format!("MCP server {server}: its stored tokens are unusable ({e}); sign in again with `talaria mcp login {server}`"))?;
    if !ready {
        return Ok(None);
    }
    Ok(Some(AuthClient::new(reqwest::Client::default(), manager)))
}
