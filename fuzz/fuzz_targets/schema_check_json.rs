#![no_main]
//! Any text as `kafka-sandbox schema check` input (reader/writer or level/previous/candidate):
//! a verdict or a located error, never a panic or a stack overflow.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else { return };
    let _ = sandbox_core::schema::check_request(&json);
});
