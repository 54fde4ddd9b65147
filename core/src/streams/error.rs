//! Errors of the streams engine: a topology that cannot start, and a task that must stop.
use serde::{Deserialize, Serialize};
use std::fmt;

/// A topology Kafka Streams would refuse to build or start (`TopologyException`,
/// `IllegalArgumentException` from a window definition, a missing or mis-partitioned source
/// topic). `location` names where in the description the problem is, e.g.
/// `steps[3] (join "vendor_info").window.grace_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyError {
    pub location: String,
    pub message: String,
}

impl TopologyError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> TopologyError {
        TopologyError { location: location.into(), message: message.into() }
    }

    /// The same error, one level deeper: `field` is appended to the location.
    pub fn at(mut self, prefix: &str) -> TopologyError {
        if self.location.is_empty() {
            self.location = prefix.to_string();
        } else if self.location.starts_with('[') || self.location.starts_with('.') {
            self.location = format!("{prefix}{}", self.location);
        } else {
            self.location = format!("{prefix}.{}", self.location);
        }
        self
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

impl std::error::Error for TopologyError {}

/// Why a task stopped processing. In Kafka these are `StreamsException`s that kill the stream
/// thread; in the sandbox they are the documented resource limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamsError {
    /// The record's topic is not a source of this task.
    UnknownTopic { topic: String },
    /// All stores of the task together hold more entries than `TaskConfig::max_state_entries`.
    StateLimit { store: String, entries: usize, limit: usize },
    /// One input record produced more output records than `TaskConfig::max_outputs_per_record`.
    OutputLimit { limit: usize },
    /// An aggregate grew beyond `task::MAX_AGGREGATE_WEIGHT` values or
    /// `task::MAX_AGGREGATE_DEPTH` levels (e.g. an aggregator that doubles a list on every
    /// record).
    AggregateLimit { store: String, limit: usize },
    /// A restored changelog record does not fit the store it names.
    BadRestore { store: String, reason: String },
}

impl fmt::Display for StreamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamsError::UnknownTopic { topic } => {
                write!(f, "topic \"{topic}\" is not a source topic of this task")
            }
            StreamsError::StateLimit { store, entries, limit } => write!(
                f,
                "state limit exceeded: the task holds {entries} store entries (limit {limit}); \
                 the last write went to store \"{store}\""
            ),
            StreamsError::OutputLimit { limit } => {
                write!(f, "one input record produced more than {limit} output records")
            }
            StreamsError::AggregateLimit { store, limit } => write!(
                f,
                "an aggregate in store \"{store}\" grew too large (more than {limit} values or too deeply nested)"
            ),
            StreamsError::BadRestore { store, reason } => {
                write!(f, "cannot restore store \"{store}\": {reason}")
            }
        }
    }
}

impl std::error::Error for StreamsError {}
