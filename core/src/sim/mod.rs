//! The simulation kernel: virtual time, the event queue, seeded randomness, trace digests.
pub mod rng;
