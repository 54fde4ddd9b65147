//! Kafka Streams: the processing engine of one task, the topology DSL, windows, joins, the
//! test driver and the taxi-rides generator.
//!
//! - `topology`: the DSL (`TopologySpec`, `StreamsBuilder`) and its compilation into a
//!   `Topology` (sub-topologies, stores, internal topics, co-partitioning checks).
//! - `task`: a `Task` processes one record at a time and returns output records, store
//!   writes (for changelog topics) and dropped records; `restore` rebuilds its stores.
//! - `aggregate`, `join`: the windowed and non-windowed processors.
//! - `store`: state stores and `StoreWrite`s.
//! - `window`, `expr`, `value`: window definitions, the expression language, the value model.
//! - `driver`: the sandbox's `TopologyTestDriver` and the `kafka-sandbox streams` format.
//! - `ksql`: a ksqlDB front end: SQL statements translated into topologies and run.
//! - `runtime`: applications running in the simulated cluster (instances = group members,
//!   tasks per partition, changelogs, restore, commits).
//! - `taxi`: the seeded synthetic taxi-rides generator.
pub mod aggregate;
pub mod driver;
pub mod error;
pub mod expr;
pub mod iq;
pub mod join;
pub mod ksql;
pub mod runtime;
pub mod store;
pub mod task;
pub mod taxi;
pub mod topology;
pub mod value;
pub mod window;

pub use error::{StreamsError, TopologyError};
pub use store::{StoreKey, StoreWrite, Timestamped};
pub use task::{DropReason, DroppedRecord, InputRecord, OutputRecord, Task, TaskConfig, TaskOutput};
pub use topology::{Step, StreamsBuilder, Topology, TopologySpec};
pub use value::Value;
pub use window::Window;
