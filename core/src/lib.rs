//! Kafka Sandbox core: a deterministic simulation of Apache Kafka.
//!
//! See ARCHITECTURE.md at the repository root for the map of modules.
pub mod group;
pub mod producer;
pub mod sim;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
