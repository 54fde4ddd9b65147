//! The Kafka producer: partitioner, record accumulator (batching), sender, idempotence.
pub mod partitioner;
