#![no_main]
//! Any text as `kafka-sandbox assign` input, run through every assignor: an assignment or a
//! clear error, never a panic.
use libfuzzer_sys::fuzz_target;
use sandbox_core::group::assignor::{assign, request::parse_request, Strategy};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(request) = parse_request(text) else { return };
    let strategy = match choice % 4 {
        0 => Strategy::Range,
        1 => Strategy::RoundRobin,
        2 => Strategy::Sticky,
        _ => Strategy::CooperativeSticky,
    };
    let _ = assign(strategy, &request.topics, &request.members);
});
