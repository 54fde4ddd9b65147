//! The simulation kernel: virtual time, the event queue, seeded randomness, trace digests.
pub mod digest;
pub mod queue;
pub mod rng;
pub mod serde_pairs;
pub mod time;
