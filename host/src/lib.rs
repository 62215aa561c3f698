//! The talaria host as a library: the `talaria` binary is a thin `main` over
//! [`cli_main`], and benchmarks use the same loader and registry the binary does.

pub mod app;
pub mod approvals;
pub mod chat;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod home;
pub mod input;
pub mod logging;
pub mod memory;
pub mod output;
pub mod plugins;
pub mod provider;
pub mod services;
pub mod sessions;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn cli_main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap uses 0 for --help/--version and 2 for usage errors, as we do.
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(exit = e.exit as u8, "{}", e.message);
            if !e.message.is_empty() {
                eprintln!("error: {}", e.message);
            }
            e.exit.into()
        }
    }
}
