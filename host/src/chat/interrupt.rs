//! Ctrl+C during a turn cancels that turn, not the program. A second Ctrl+C while the
//! turn is still winding down, or one outside any turn, exits with 130 as usual.

use std::sync::{Mutex, Once, PoisonError};

use talaria_plugin_api::abi::CancelFlag;

static CURRENT: Mutex<Option<CancelFlag>> = Mutex::new(None);
static INSTALL: Once = Once::new();

/// Exit status after an interrupt (128 + SIGINT), as shells report it.
pub const INTERRUPTED_EXIT: u8 = 130;

pub fn install() {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let current = CURRENT
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match current {
                Some(flag) if !flag.is_cancelled() => {
                    flag.cancel();
                    eprintln!("\ninterrupting the turn (Ctrl+C again to quit)");
                }
                _ => std::process::exit(i32::from(INTERRUPTED_EXIT)),
            }
        });
        if let Err(e) = installed {
            tracing::warn!("Ctrl+C will end the program instead of the turn: {e}");
        }
    });
}

/// A fresh flag for the turn about to run; Ctrl+C sets it until [`turn_ended`].
pub fn turn_started() -> CancelFlag {
    let flag = CancelFlag::new();
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Some(flag.clone());
    flag
}

pub fn turn_ended() {
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = None;
}
