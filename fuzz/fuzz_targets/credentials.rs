#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| talaria_fuzz_targets::host::credentials(data));
