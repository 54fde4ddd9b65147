#![no_main]
//! Any text as a share link's URL fragment: decoded to a run description or refused with a
//! message, never a panic; what decodes re-encodes to a link that decodes to the same run.
use libfuzzer_sys::fuzz_target;
use sandbox_core::share::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(shared) = decode(text) else { return };
    let again = decode(&encode(&shared)).expect("an encoded link decodes");
    assert_eq!(again, shared);
});
