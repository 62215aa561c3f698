//! `doctor.checks`: the codex binary and its version, and codex's account, for
//! `talaria doctor`. Checked only when the profile runs turns in codex (`codex-runtime on`
//! made `codex_app_server` its runtime): a profile on the native runtime does not need
//! codex, so a missing codex must not fail its doctor.

use talaria_sdk::doctor::{CheckStatus, DoctorCheck, DoctorReport, DoctorRequest};
use talaria_sdk::methods::RuntimeDefaultMethod;
use talaria_sdk::turn::RuntimeDefaultRequest;
use talaria_sdk::{CallContext, Host, Result};

use crate::command::{read_account, start};
use crate::settings::Settings;
use crate::RUNTIME_ID;

/// The name of the binary-and-version check.
pub const BINARY: &str = "codex";
/// The name of the account check.
pub const ACCOUNT: &str = "codex account";

pub struct CodexDoctor {
    host: Host,
}

impl CodexDoctor {
    pub fn new(host: Host) -> Self {
        CodexDoctor { host }
    }
}

impl talaria_sdk::Doctor for CodexDoctor {
    fn checks(&self, _request: DoctorRequest, cx: &CallContext) -> Result<DoctorReport> {
        let current = self
            .host
            .call::<RuntimeDefaultMethod>(&RuntimeDefaultRequest { set: None }, cx)?;
        if current.runtime != RUNTIME_ID {
            let why = format!(
                "not checked: profile {} runs turns with {} (`talaria codex-runtime on` switches to codex)",
                current.profile, current.runtime
            );
            return Ok(DoctorReport {
                checks: vec![DoctorCheck::new(BINARY, CheckStatus::Skip, why)],
            });
        }
        let settings = Settings::load(&self.host)?;
        Ok(DoctorReport {
            checks: codex_checks(&settings),
        })
    }
}

/// The binary and version, then (when codex runs) its account.
fn codex_checks(settings: &Settings) -> Vec<DoctorCheck> {
    let version = match settings.check_version() {
        Ok(version) => version,
        Err(e) => {
            return vec![
                DoctorCheck::new(BINARY, CheckStatus::Fail, e.message),
                DoctorCheck::new(ACCOUNT, CheckStatus::Skip, "not checked: codex cannot run"),
            ]
        }
    };
    let binary = DoctorCheck::new(
        BINARY,
        CheckStatus::Ok,
        format!(
            "codex {version} at {} (from {})",
            settings.bin.display(),
            settings.bin_source
        ),
    );
    let home = settings.codex_home();
    let account = match start(settings).and_then(|codex| {
        let who = read_account(&codex);
        codex.conn.shutdown();
        who
    }) {
        Ok(Some(who)) => DoctorCheck::new(ACCOUNT, CheckStatus::Ok, who),
        // Every turn would fail until codex is signed in.
        Ok(None) => DoctorCheck::new(
            ACCOUNT,
            CheckStatus::Fail,
            format!(
                "codex is not signed in (codex home {}); run `talaria codex-runtime on` to sign in through codex",
                home.display()
            ),
        ),
        Err(e) => DoctorCheck::new(
            ACCOUNT,
            CheckStatus::Fail,
            format!("cannot read codex's account: {}", e.message),
        ),
    };
    vec![binary, account]
}
