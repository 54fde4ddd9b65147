//! Kafka Sandbox core: a deterministic simulation of Apache Kafka.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

