#![no_main]
//! Any text as `kafka-sandbox streams` input (topology + records): output or a located
//! error, never a panic or an explosion of windows.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sandbox_core::streams::driver::run_json(text);
    }
});
