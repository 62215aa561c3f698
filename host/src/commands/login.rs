//! `talaria login` and `talaria logout`, and the sign-in flow that `auth add` and
//! `chat` reuse.
//!
//! The device code, the QR code and progress go to stderr, so stdout carries only the
//! one-line result (and nothing at all when `chat` signs in on the way to a turn).

use std::io::IsTerminal;
use std::path::PathBuf;

use talaria_plugin_api::payload::Event;
use talaria_plugin_api::provider::{Account, LoginMode, LoginRequest};

use super::open_provider;
use crate::app::App;
use crate::cli::LoginArgs;
use crate::config::Config;
use crate::error::Result;
use crate::events::{Notices, Observer};
use crate::provider::Provider;

/// How one sign-in runs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SignIn {
    pub import_codex: bool,
    /// `auth add`: a further account for the pool rather than replacing the login.
    pub add_account: bool,
    pub no_browser: bool,
}

pub fn login(app: &App, args: LoginArgs) -> Result<()> {
    let provider = open_provider(app, args.provider.provider.as_deref())?;
    let options = SignIn {
        import_codex: args.import_codex,
        add_account: false,
        no_browser: args.no_browser,
    };
    let account = sign_in(app, &provider, options)?;
    crate::outln!(
        "Logged in to {} as {}.",
        provider.id(),
        describe_account(&account)
    );
    Ok(())
}

pub fn logout(app: &App, provider: Option<&str>) -> Result<()> {
    let provider = open_provider(app, provider)?;
    let id = provider.id();
    let outcome = provider.logout()?;
    match outcome.removed {
        0 => crate::outln!("Not logged in to {id}."),
        1 => crate::outln!("Logged out of {id} (removed 1 credential)."),
        n => crate::outln!("Logged out of {id} (removed {n} credentials)."),
    }
    if let Some(note) = outcome.note {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// Runs the provider's sign-in, rendering its events on stderr; returns the stored
/// account and leaves reporting it to the caller (stdout or not is theirs to decide).
pub(super) fn sign_in(app: &App, provider: &Provider, options: SignIn) -> Result<Account> {
    let request = LoginRequest {
        mode: if options.import_codex {
            LoginMode::ImportCodex
        } else {
            LoginMode::DeviceCode
        },
        add_account: options.add_account,
        interactive: std::io::stdin().is_terminal(),
        codex_home: codex_home(app.config()?).map(|p| p.to_string_lossy().into_owned()),
    };
    let screen = LoginScreen::for_terminal(options.no_browser);
    provider.login(&request, move |event| screen.show(event))
}

/// "a@example.com (plus)": who an account is, in the words the user knows it by.
pub(super) fn describe_account(account: &Account) -> String {
    let who = account.email.as_deref().unwrap_or(&account.label);
    match &account.plan {
        Some(plan) => format!("{who} ({plan})"),
        None => who.to_owned(),
    }
}

/// The Codex CLI's home as this profile sees it: `codex.home`, else `$CODEX_HOME`,
/// else `~/.codex` (CONTRACT.md).
fn codex_home(config: &Config) -> Option<PathBuf> {
    if let Some(home) = config
        .codex
        .home
        .as_deref()
        .filter(|h| !h.trim().is_empty())
    {
        return Some(crate::home::expand_tilde(home));
    }
    if let Some(home) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    std::env::home_dir().map(|home| home.join(".codex"))
}

/// Renders login events on stderr.
pub(super) struct LoginScreen {
    show_qr: bool,
    open_browser: bool,
}

impl LoginScreen {
    /// The device code with a QR code on a terminal, and a browser opened where there
    /// is a display unless the user said not to.
    pub(super) fn for_terminal(no_browser: bool) -> Self {
        LoginScreen {
            show_qr: std::io::stderr().is_terminal(),
            open_browser: !no_browser && has_display(),
        }
    }

    pub(super) fn show(&self, event: &Event) {
        match event {
            Event::LoginCode {
                verification_url,
                user_code,
                expires_in_secs,
            } => {
                eprintln!(
                    "{}",
                    code_instructions(verification_url, user_code, *expires_in_secs)
                );
                if self.show_qr {
                    if let Some(qr) = qr_code(verification_url) {
                        eprintln!("{qr}");
                    }
                }
                if self.open_browser {
                    if let Err(e) = webbrowser::open(verification_url) {
                        eprintln!(
                            "note: could not open a browser ({e}); open the link above yourself"
                        );
                    }
                }
            }
            other => Notices.event(other),
        }
    }
}

fn code_instructions(url: &str, code: &str, expires_in_secs: u64) -> String {
    let expiry = match expires_in_secs {
        0 => String::new(),
        60 => " (it expires in 1 minute)".into(),
        s if s > 60 => format!(" (it expires in {} minutes)", (s + 30) / 60),
        s => format!(" (it expires in {s} seconds)"),
    };
    format!("To sign in, open {url} and enter the code {code}{expiry}.")
}

/// The URL as a QR code of half-height block characters, light on dark so it scans on
/// the usual dark terminal. `None` when the URL is too long to encode.
fn qr_code(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .build(),
    )
}

/// A browser can only be shown where there is a graphical session. On Linux and the
/// BSDs that means an X or Wayland display; elsewhere there always is one.
fn has_display() -> bool {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )) {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_line_says_where_what_and_how_long() {
        assert_eq!(
            code_instructions("https://auth.openai.com/codex/device", "ABCD-1234", 900),
            "To sign in, open https://auth.openai.com/codex/device and enter the code ABCD-1234 (it expires in 15 minutes)."
        );
        assert!(code_instructions("u", "c", 45).ends_with("(it expires in 45 seconds)."));
        assert!(code_instructions("u", "c", 60).ends_with("(it expires in 1 minute)."));
        assert_eq!(
            code_instructions("u", "c", 0),
            "To sign in, open u and enter the code c."
        );
    }

    #[test]
    fn a_qr_code_is_drawn_with_block_characters() {
        let qr = qr_code("https://auth.openai.com/codex/device").unwrap();
        assert!(qr.lines().count() > 10, "{qr}");
        assert!(qr.chars().any(|c| matches!(c, '█' | '▀' | '▄')), "{qr}");
    }

    #[test]
    fn accounts_are_named_by_email_and_plan() {
        let mut a = Account {
            label: "account-1".into(),
            ..Default::default()
        };
        assert_eq!(describe_account(&a), "account-1");
        a.email = Some("a@example.com".into());
        a.plan = Some("plus".into());
        assert_eq!(describe_account(&a), "a@example.com (plus)");
    }

    #[test]
    fn codex_home_prefers_the_profile_setting() {
        let mut config = Config::default();
        config.codex.home = Some("/tmp/codex-x".into());
        assert_eq!(codex_home(&config), Some(PathBuf::from("/tmp/codex-x")));
    }
}
