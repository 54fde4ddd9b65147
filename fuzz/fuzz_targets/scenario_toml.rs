#![no_main]
//! Any text as a scenario file: parsing (and validating against a probe world) must return
//! a located error or a scenario, never panic or hang.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sandbox_core::scenario::Scenario::parse("fuzz.toml", text);
    }
});
