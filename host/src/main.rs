//! `talaria`: the host binary.

fn main() -> std::process::ExitCode {
    talaria::cli_main()
}
