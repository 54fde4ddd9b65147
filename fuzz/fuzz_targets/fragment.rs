#![no_main]
//! Any text as a share link's URL fragment: decoded to a run description or refused with a
//! message, never a panic; what decodes stays within the replay bound and re-encodes to a
//! link that decodes to the same run.
use libfuzzer_sys::fuzz_target;
use sandbox_core::share::{decode, encode, MAX_SHARED_CURSOR};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(shared) = decode(text) else { return };
    // What a link makes the page replay is bounded: its cursor and every action's step.
    assert!(shared.cursor <= MAX_SHARED_CURSOR);
    assert!(shared.actions.iter().all(|a| a.at_step <= MAX_SHARED_CURSOR));
    let again = decode(&encode(&shared)).expect("an encoded link decodes");
    assert_eq!(again, shared);
});
