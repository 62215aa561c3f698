//! Our own semver'd ABI version, checked on top of abi_stable's layout check.
//!
//! abi_stable proves the *shapes* agree; this version says whether the *meaning* of the
//! payloads and methods agrees. A plugin built against `2.x` loads in any host `2.y` with
//! `y >= x`: minors only add optional fields, methods and capabilities.
//!
//! 2.0 (from 1.0): typed methods and one host-service entry (`HostServices::call`)
//! instead of `request_approval` and `call_plugin`; runtimes, typed conversation items,
//! one event schema, credentials scoped to the plugin's declared providers.
//!
//! 2.1: the host services `user.input` (a form for the user) and `approvals.delegate`,
//! the plugin method `approvals.decide`, and the `input_request` / `input_response`
//! events.

use semver::Version;

/// The ABI version this build of the host and SDK speak.
pub const ABI_VERSION: &str = "2.1.0";

/// Why a plugin's ABI version is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiMismatch {
    #[error("the plugin reports ABI version {0:?}, which is not a semantic version")]
    Unparsable(String),
    #[error("the plugin was built for talaria ABI {plugin}, but this host speaks ABI {host} (the major versions differ); rebuild the plugin against a matching talaria-sdk")]
    MajorDiffers { plugin: String, host: String },
    #[error(
        "the plugin needs talaria ABI {plugin}, newer than this host's {host}; upgrade talaria"
    )]
    TooNew { plugin: String, host: String },
}

/// Checks a plugin's reported ABI version against the host's.
pub fn check_abi_compatible(plugin: &str, host: &str) -> Result<(), AbiMismatch> {
    let parse =
        |s: &str| Version::parse(s.trim()).map_err(|_| AbiMismatch::Unparsable(s.to_owned()));
    let (p, h) = (parse(plugin)?, parse(host)?);
    if p.major != h.major {
        return Err(AbiMismatch::MajorDiffers {
            plugin: p.to_string(),
            host: h.to_string(),
        });
    }
    if p.minor > h.minor {
        return Err(AbiMismatch::TooNew {
            plugin: p.to_string(),
            host: h.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_older_minor_is_accepted() {
        assert_eq!(check_abi_compatible("1.0.3", "1.2.0"), Ok(()));
    }

    #[test]
    fn other_major_is_refused() {
        assert!(matches!(
            check_abi_compatible("2.0.0", "1.0.0"),
            Err(AbiMismatch::MajorDiffers { .. })
        ));
        assert!(matches!(
            check_abi_compatible("0.9.0", "1.0.0"),
            Err(AbiMismatch::MajorDiffers { .. })
        ));
    }

    #[test]
    fn newer_minor_is_refused() {
        assert!(matches!(
            check_abi_compatible("1.3.0", "1.2.9"),
            Err(AbiMismatch::TooNew { .. })
        ));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            check_abi_compatible("", "1.0.0"),
            Err(AbiMismatch::Unparsable(_))
        ));
    }
}
