//! `talaria`: the host binary.

mod app;
mod cli;
mod commands;
mod config;
mod credentials;
mod error;
mod fsutil;
mod home;
mod host_services;
mod logging;
mod output;
mod plugins;
mod sessions;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
            eprintln!("error: {}", e.message);
            e.exit.into()
        }
    }
}
