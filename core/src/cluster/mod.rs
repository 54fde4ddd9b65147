//! The Kafka cluster: brokers, the KRaft controller, metadata, replica placement.
pub mod broker;
pub mod controller;
pub mod metadata;
pub mod placement;
