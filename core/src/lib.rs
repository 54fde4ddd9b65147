//! Kafka Sandbox core: a deterministic simulation of Apache Kafka.
//!
//! See ARCHITECTURE.md at the repository root for the map of modules.
pub mod producer;
#[cfg(feature = "avro")]
pub mod schema;
pub mod sim;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
