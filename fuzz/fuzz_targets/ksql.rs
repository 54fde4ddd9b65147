#![no_main]
//! Any text as ksqlDB statements, then as a `kafka-sandbox ksql` document: a translation, a
//! run or a located error, never a panic or a hang.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(script) = sandbox_core::streams::ksql::parse_script(text) {
            // Every translated topology must compile, and running it on nothing must work.
            let _ = sandbox_core::streams::ksql::run_script(&script, &[]);
        }
        let _ = sandbox_core::streams::ksql::run_json(text);
    }
});
