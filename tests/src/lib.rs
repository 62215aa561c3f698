//! The test kit: builds the real binary and plugin libraries, gives each test its own
//! `TALARIA_HOME`, and runs `talaria` as a user would.
//!
//! This is test support code: a failed setup step should stop the test loudly, so
//! unwrap and expect are allowed here (the workspace denies them in product code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod artifacts;
pub mod codex;
pub mod codex_cli;
pub mod codex_schema;
pub mod crash;
pub mod doc_block;
pub mod home;
pub mod mcp;
pub mod mock;
pub mod peers;
pub mod stats;

pub use artifacts::{artifacts, Artifacts};
pub use home::{Run, TestHome};
