//! The Kafka producer: partitioner, record accumulator (batching), sender, idempotence.
pub mod client;
pub mod partitioner;
pub mod serializer;
pub mod txn;
pub mod workload;

pub use client::Producer;
pub use txn::TxnClientState;
