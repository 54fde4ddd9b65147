//! Kafka Sandbox core: a deterministic simulation of Apache Kafka.
//!
//! See ARCHITECTURE.md at the repository root for the map of modules.

// Message handlers read as "which message, then is it the one we wait for": a plain `if`
// inside the arm says that better than a match guard.
#![allow(clippy::collapsible_match)]
pub mod action;
pub mod bench;
pub mod client;
pub mod cluster;
pub mod collect;
pub mod config;
pub mod connect;
pub mod consumer;
pub mod de;
pub mod error;
pub mod export;
pub mod group;
pub mod history;
pub mod invariant;
pub mod ledger;
pub mod lesson;
pub mod limits;
pub mod log;
pub mod network;
pub mod node;
pub mod producer;
pub mod protocol;
pub mod record;
pub mod scenario;
pub mod schema;
pub mod schema_registry;
pub mod share;
pub mod sim;
pub mod streams;
pub mod summary;
pub mod sweep;
pub mod trace;
pub mod txn;
pub mod world;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
