//! What talaria's HTTP transports have in common, so that the `responses` and the
//! `chat-completions` transports follow one set of rules: a third-party transport built
//! on it behaves the same way too.
//!
//! - [`call`]: the host side of one `transport.*` call ([`call::Call`]), over the SDK's
//!   `CallContext` ([`call::HostCall`]) or a test's fake.
//! - [`classify`]: what went wrong with an attempt ([`classify::Problem`]: DNS, connect,
//!   TLS, timeouts, HTTP statuses with Cloudflare, auth, rate-limit, quota, context and
//!   invalid-request codes, server errors, broken streams), what to do about it, and the
//!   user-facing message with its [`talaria_sdk::transport::TransportFailure`] data.
//! - [`retry`]: backoff with jitter, and the waits servers ask for.
//! - [`recover`]: the provider round trips after a 401/403 or 429 (`provider.report`),
//!   and the retry pauses with their progress lines.
//! - [`watchdog`]: first-byte and idle-gap limits; [`limits`]: their defaults, and how a
//!   request's option, the plugin's config and the default combine.
//! - [`sse`]: server-sent-events framing; [`http`]: one HTTP attempt read as SSE, with
//!   errors read into [`classify::HttpError`].
//! - [`gate`]: a retried answer does not repeat text the user has already seen.
//! - [`url`]: joining and showing URLs.
//! - [`models`]: `GET {base}/models` in the OpenAI list shape, for the providers of
//!   OpenAI-shaped servers.

pub mod call;
pub mod classify;
pub mod gate;
pub mod http;
pub mod limits;
pub mod models;
pub mod recover;
pub mod retry;
pub mod sse;
pub mod url;
pub mod watchdog;

/// reqwest and tungstenite are built without a default crypto provider (aws-lc-rs needs
/// a long C build); ring is installed process-wide. Another plugin in the same process
/// may have done it already, which is fine.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
