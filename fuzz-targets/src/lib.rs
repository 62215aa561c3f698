//! The fuzz targets of talaria: one `pub fn NAME(data: &[u8])` for each parser that
//! reads bytes from outside, calling the product's own entry points (no parser is copied
//! here). Each target panics when a property it checks fails, so a fuzzer counts a
//! broken property as a crash, just as it counts a panic inside the parser.
//!
//! Two drivers run the same functions: cargo-fuzz (`fuzz/`, nightly, coverage-guided)
//! and `fuzz-stable` (`src/bin/fuzz-stable.rs`, any toolchain: random mutations of the
//! corpus under a time budget). `scripts/fuzz` runs every target with one of them.
//!
//! - [`transport`]: SSE framing, HTTP error bodies, the Responses events over SSE and
//!   websocket, the Chat Completions stream.
//! - [`codex`]: the codex runtime's JSON-RPC reader, the managed block it writes into
//!   Codex's `config.toml`, and the import of the Codex CLI's `auth.json`.
//! - [`host`]: `plugin.toml`, `config.toml` and the profile's `auth.json`.
//! - [`patch`]: the `apply_patch` parser and the applier's chunk matching.

pub mod codex;
pub mod host;
pub mod mutate;
pub mod patch;
pub mod transport;

/// A fuzz target: bytes in, a panic when something is wrong.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz/fuzz_targets/*.rs` and of the corpus
/// folders `fuzz/corpus/NAME/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("sse", transport::sse),
    ("http_error", transport::http_error),
    ("responses_sse", transport::responses_sse),
    ("responses_ws", transport::responses_ws),
    ("chat_sse", transport::chat_sse),
    ("codex_rpc", codex::codex_rpc),
    ("managed_block", codex::managed_block),
    ("codex_auth_import", codex::codex_auth_import),
    ("plugin_manifest", host::plugin_manifest),
    ("config_toml", host::config_toml),
    ("credentials", host::credentials),
    ("apply_patch", patch::apply_patch),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The input as text the way the product reads it (lossy: every reader here either
/// gets `&str` from a lossy conversion or refuses bytes that are not UTF-8 before
/// parsing).
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Splits the input in two at the first `sep`, for targets that take two inputs.
fn split_at<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], &'a [u8]) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], &data[i + sep.len()..]),
        None => (data, &[]),
    }
}

thread_local! {
    /// One scratch folder per thread, for targets that read files: in memory where
    /// there is a tmpfs, as the stores sync what they write.
    static SCRATCH: Option<tempfile::TempDir> = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .ok();
}

/// A file holding `data` at `name` in this thread's scratch folder.
fn file(name: &str, data: &[u8]) -> Option<std::path::PathBuf> {
    let path = SCRATCH.with(|d| d.as_ref().map(|d| d.path().join(name)))?;
    std::fs::create_dir_all(path.parent()?).ok()?;
    std::fs::write(&path, data).ok()?;
    Some(path)
}
