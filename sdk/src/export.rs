//! The functions behind [`crate::export_plugin!`]. Each is called from an `extern "C"`
//! function of the plugin library, so none may unwind.

use talaria_plugin_api::abi::{HostServicesBox, PluginBox, PluginError, Plugin_TO};
use talaria_plugin_api::abi_stable::sabi_trait::TD_Opaque;
use talaria_plugin_api::abi_stable::std_types::{RResult, RString};

use crate::adapter::{catch_panic, panic_error, PluginAdapter};
use crate::{Host, Plugin, Result};

pub fn abi_version_text() -> RString {
    RString::from(talaria_plugin_api::ABI_VERSION)
}

pub fn manifest_text(manifest: &str) -> RString {
    RString::from(manifest)
}

/// Runs the author's init function and wraps the plugin for the ABI.
pub fn init_plugin<P, F>(services: HostServicesBox, init: F) -> RResult<PluginBox, PluginError>
where
    P: Plugin,
    F: FnOnce(Host) -> Result<P>,
{
    let host = Host::new(services);
    let plugin_host = host.clone();
    match catch_panic(move || init(host)) {
        Ok(Ok(plugin)) => {
            let adapter = PluginAdapter {
                plugin,
                host: plugin_host,
            };
            RResult::ROk(Plugin_TO::from_value(adapter, TD_Opaque))
        }
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(panic) => RResult::RErr(panic_error("init", &panic)),
    }
}

/// Exports a plugin from a `cdylib` crate.
///
/// `manifest` is the text of the crate's `plugin.toml` (use `include_str!`), so the
/// library carries its own copy and the host can refuse a mismatched file. `init` is a
/// function `fn(Host) -> talaria_sdk::Result<impl Plugin>`, the plugin's initialisation,
/// run once when the host first needs the plugin (never merely to list it).
///
/// The expansion is abi_stable's root-module export written out through this crate's
/// re-exports, so plugin crates need no abi_stable dependency of their own.
#[macro_export]
macro_rules! export_plugin {
    (manifest: $manifest:expr, init: $init:expr $(,)?) => {
        // Local items carry a `__talaria_` prefix: macro_rules items are not hygienic, and
        // an author's `init: init` must still name the author's function.
        const _: () = {
            use $crate::__private::abi::{
                HostServicesBox, PluginBox, PluginError, PluginModule, PluginModuleRef,
            };
            use $crate::__private::abi_stable::library::{
                __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
            };
            use $crate::__private::abi_stable::prefix_type::PrefixTypeTrait;
            use $crate::__private::abi_stable::std_types::{RResult, RString};

            extern "C" fn __talaria_abi_version() -> RString {
                $crate::__private::abi_version_text()
            }

            extern "C" fn __talaria_manifest() -> RString {
                $crate::__private::manifest_text($manifest)
            }

            extern "C" fn __talaria_init(host: HostServicesBox) -> RResult<PluginBox, PluginError> {
                $crate::__private::init_plugin(host, $init)
            }

            fn __talaria_root_module() -> PluginModuleRef {
                PluginModule {
                    abi_version: __talaria_abi_version,
                    manifest: __talaria_manifest,
                    init: __talaria_init,
                }
                .leak_into_prefix()
            }

            extern "C" fn __talaria_erased_root_module() -> RootModuleResult {
                __call_root_module_loader(__talaria_root_module)
            }

            // The symbol name is abi_stable's mangled "lib_header / root module loader";
            // a unit test in the SDK checks it against abi_stable's own constant.
            #[no_mangle]
            pub static _1as_0lib_1header_0root_bmodule_bloader: LibHeader = unsafe {
                LibHeader::from_constructor::<PluginModuleRef>(
                    __talaria_erased_root_module,
                    CheckTypeLayout::Yes,
                )
            };
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_name_matches_abi_stable() {
        assert_eq!(
            talaria_plugin_api::abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
