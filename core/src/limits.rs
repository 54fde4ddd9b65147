//! Explicit limits (TigerBeetle style): the simulation refuses, with a clear error, anything
//! that would exhaust memory or never finish, instead of finding out the hard way.
/// Brokers in a cluster (replica sets are tracked as 64-bit masks; ids are 1..=MAX_BROKERS).
pub const MAX_BROKERS: u32 = 32;
pub const MAX_TOPICS: usize = 200;
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 1_000;
pub const MAX_PRODUCERS: usize = 64;
pub const MAX_CONSUMERS: usize = 256;
/// Records produced in one run (each keeps a ledger entry of ~40 bytes).
pub const MAX_RECORDS_PER_RUN: u64 = 20_000_000;
/// Virtual time a run may cover: 30 days.
pub const MAX_RUN_MS: u64 = 30 * 24 * 3600 * 1000;
/// Timeline entries in one scenario.
pub const MAX_TIMELINE: usize = 10_000;
/// Steps a single `run` may take before it stops with an error.
pub const MAX_STEPS: u64 = 200_000_000;
