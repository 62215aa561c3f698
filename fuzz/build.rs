//! Every plugin library exports the same root-module symbol, which the host's loader
//! looks up in each plugin's own shared library. Linked together as Rust libraries into
//! one program, as here, they define it several times; nothing in these programs loads
//! a plugin, so the linker may keep any one of them.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,--allow-multiple-definition");
}
