//! Kafka Connect, simulated: a distributed-mode worker running connectors whose tasks are
//! ordinary clients of the world.
//!
//! - A source connector (`DatagenConnector`) runs `tasks.max` tasks; each is a producer
//!   named `connector-producer-<connector>-<task>` (Connect's client id for it). A task
//!   polls a record every `[0, max.interval)` ms; its source offsets (`current.iteration`,
//!   `task.generation`) go to the `connect-offsets` topic every `offset.flush.interval.ms`,
//!   written by the worker's offset producer `<group.id>-offsets`, and only for records the
//!   task's producer had acknowledged. A restarted task reads its last offset back from the
//!   topic and carries on from there: what it sent after that flush is sent again.
//! - A sink connector (`JdbcSinkConnector`) runs `tasks.max` consumers named
//!   `connector-consumer-<connector>-<task>` in group `connect-<connector>`, writing every
//!   record to a simulated table; offsets are committed every `offset.flush.interval.ms`
//!   after what was read has been written, so a crash redelivers what came after.
//!
//! The world glue (creating the clients, running tasks each step) is in `world.rs`
//! (`run_connect`); this module holds the specs, config parsing, and the pure task logic.
pub mod datagen;
pub mod sink;

use crate::record::TopicPartition;
use datagen::Quickstart;
use serde::{Deserialize, Serialize};
use sink::{InsertMode, PkMode, Table};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Offsets of one partition seen by a sink table.
pub type OffsetSet = BTreeSet<u64>;

/// Where a distributed worker keeps source offsets, connector configs and statuses
/// (`offset.storage.topic`, `config.storage.topic`, `status.storage.topic`: the names in
/// Connect's sample `connect-distributed.properties`).
pub const DEFAULT_OFFSETS_TOPIC: &str = "connect-offsets";
/// Connect's defaults for `offset.storage.partitions` and the storage replication factor.
pub const DEFAULT_OFFSETS_PARTITIONS: u32 = 25;
pub const DEFAULT_STORAGE_REPLICATION_FACTOR: u32 = 3;
/// Connect's default `offset.flush.interval.ms`.
pub const DEFAULT_OFFSET_FLUSH_INTERVAL_MS: u64 = 60_000;
/// Datagen's default `max.interval` (ms).
pub const DEFAULT_MAX_INTERVAL_MS: u64 = 500;

/// Limits: connectors per scenario, tasks per connector, records per source task.
pub const MAX_CONNECTORS: usize = 16;
pub const MAX_TASKS: u32 = 16;
pub const MAX_ITERATIONS: u64 = 1_000_000;
/// First `Stream::Client` number of the connectors' own random streams (poll pacing and
/// data); far above any producer (0..) or consumer (1000..) client stream.
pub const RNG_STREAM_BASE: u32 = 1 << 20;

/// The datagen connector class (short name or full class name).
pub const DATAGEN_CLASS: &str = "io.confluent.kafka.connect.datagen.DatagenConnector";
/// Confluent's JDBC sink connector class.
pub const JDBC_SINK_CLASS: &str = "io.confluent.connect.jdbc.JdbcSinkConnector";

/// The Connect worker's own configuration (`[connect_worker]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// The worker group's `group.id` (names the offset producer `<group.id>-offsets`).
    pub group_id: String,
    pub offset_flush_interval_ms: u64,
    pub offsets_topic: String,
    pub offsets_partitions: u32,
    pub offsets_replication_factor: u32,
}

impl Default for WorkerSpec {
    fn default() -> Self {
        WorkerSpec {
            group_id: "connect-cluster".into(),
            offset_flush_interval_ms: DEFAULT_OFFSET_FLUSH_INTERVAL_MS,
            offsets_topic: DEFAULT_OFFSETS_TOPIC.into(),
            offsets_partitions: DEFAULT_OFFSETS_PARTITIONS,
            offsets_replication_factor: DEFAULT_STORAGE_REPLICATION_FACTOR,
        }
    }
}

impl WorkerSpec {
    /// The producer the worker writes source offsets with.
    pub fn offsets_producer(&self) -> String {
        format!("{}-offsets", self.group_id)
    }

    /// Applies `[connect_worker] config`. Errors name the config.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let number = |lo: u64, hi: u64| -> Result<u64, ConfigError> {
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| ConfigError::new(name, format!("'{value}' is not a number in {lo}..={hi}")))
        };
        match name {
            "group.id" => {
                if value.trim().is_empty() {
                    return Err(ConfigError::new(name, "must not be empty"));
                }
                self.group_id = value.trim().to_string();
            }
            "offset.flush.interval.ms" => {
                self.offset_flush_interval_ms = number(1, crate::limits::MAX_RUN_MS)?;
            }
            "offset.storage.topic" => {
                if !legal_topic(value) {
                    return Err(ConfigError::new(name, format!("'{value}' is not a legal topic name")));
                }
                self.offsets_topic = value.to_string();
            }
            "offset.storage.partitions" => {
                self.offsets_partitions = number(1, u64::from(crate::limits::MAX_PARTITIONS_PER_TOPIC))? as u32;
            }
            "offset.storage.replication.factor" => {
                self.offsets_replication_factor = number(1, u64::from(crate::limits::MAX_BROKERS))? as u32;
            }
            _ => {
                return Err(ConfigError::new(
                    name,
                    "unknown worker config (known: group.id, offset.flush.interval.ms, offset.storage.topic, \
                     offset.storage.partitions, offset.storage.replication.factor)",
                ))
            }
        }
        Ok(())
    }
}

fn legal_topic(name: &str) -> bool {
    !name.is_empty() && name.len() <= 249 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A bad connector or worker config, naming the config.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { field: field.to_string(), message: message.into() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// What a connector does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConnectorKind {
    /// `DatagenConnector`.
    Datagen { topic: String, quickstart: Quickstart, max_interval_ms: u64, iterations: Option<u64> },
    /// `JdbcSinkConnector`.
    JdbcSink { topics: Vec<String>, insert_mode: InsertMode, pk_mode: PkMode, table_name_format: String },
}

/// A validated `[[connector]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSpec {
    pub name: String,
    /// `connector.class` as written.
    pub class: String,
    pub tasks_max: u32,
    pub kind: ConnectorKind,
}

impl ConnectorSpec {
    /// Parses a connector's `config` (Connect's own names; values as strings). Errors name
    /// the config.
    pub fn parse(name: &str, config: &BTreeMap<String, String>) -> Result<ConnectorSpec, ConfigError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(ConfigError::new("name", format!("'{name}' is not a usable connector name")));
        }
        let get = |k: &str| config.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let class = get("connector.class")
            .ok_or_else(|| ConfigError::new("connector.class", "missing (DatagenConnector or JdbcSinkConnector)"))?;
        let short = class.rsplit('.').next().unwrap_or(class);
        let is_datagen = class == "DatagenConnector" || class == DATAGEN_CLASS;
        let is_jdbc = class == "JdbcSinkConnector" || class == JDBC_SINK_CLASS;
        if !is_datagen && !is_jdbc {
            return Err(ConfigError::new(
                "connector.class",
                format!(
                    "class '{class}' is not simulated (classes: DatagenConnector or {DATAGEN_CLASS}, \
                     JdbcSinkConnector or {JDBC_SINK_CLASS}){}",
                    if short != class && (short == "DatagenConnector" || short == "JdbcSinkConnector") {
                        "; check the package name"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let number = |k: &str, default: u64, lo: u64, hi: u64| -> Result<u64, ConfigError> {
            match get(k) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| ConfigError::new(k, format!("'{v}' is not a number in {lo}..={hi}"))),
            }
        };
        let tasks_max = number("tasks.max", 1, 1, u64::from(MAX_TASKS))? as u32;
        let known: &[&str];
        let kind = if is_datagen {
            known = &["connector.class", "tasks.max", "kafka.topic", "quickstart", "max.interval", "iterations"];
            let topic =
                get("kafka.topic").ok_or_else(|| ConfigError::new("kafka.topic", "missing: the topic to write to"))?;
            let q = get("quickstart").ok_or_else(|| {
                ConfigError::new("quickstart", "missing (the sandbox generates orders, pageviews or users)")
            })?;
            let quickstart = Quickstart::parse(q).ok_or_else(|| {
                ConfigError::new(
                    "quickstart",
                    format!("unknown quickstart '{q}' (simulated: orders, pageviews, users)"),
                )
            })?;
            // max.interval 0 would poll without end at one instant: the sandbox needs >= 1.
            let max_interval_ms = number("max.interval", DEFAULT_MAX_INTERVAL_MS, 1, crate::limits::MAX_RUN_MS)?;
            let iterations = match get("iterations") {
                None => None,
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if n <= 0 => None,
                    Ok(n) if n as u64 <= MAX_ITERATIONS => Some(n as u64),
                    _ => {
                        return Err(ConfigError::new(
                            "iterations",
                            format!("'{v}' is not a number <= {MAX_ITERATIONS} (-1: no limit)"),
                        ))
                    }
                },
            };
            ConnectorKind::Datagen { topic: topic.to_string(), quickstart, max_interval_ms, iterations }
        } else {
            known = &["connector.class", "tasks.max", "topics", "insert.mode", "pk.mode", "table.name.format"];
            let topics: Vec<String> = get("topics")
                .ok_or_else(|| ConfigError::new("topics", "missing: the comma-separated topics to read"))?
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if topics.is_empty() {
                return Err(ConfigError::new("topics", "names no topic"));
            }
            let insert_mode = match get("insert.mode").unwrap_or("insert") {
                "insert" => InsertMode::Insert,
                "upsert" => InsertMode::Upsert,
                other => {
                    return Err(ConfigError::new(
                        "insert.mode",
                        format!("'{other}' is not simulated (insert or upsert)"),
                    ))
                }
            };
            let pk_mode = match get("pk.mode").unwrap_or("none") {
                "none" => PkMode::None,
                "record_key" => PkMode::RecordKey,
                other => {
                    return Err(ConfigError::new("pk.mode", format!("'{other}' is not simulated (none or record_key)")))
                }
            };
            if insert_mode == InsertMode::Upsert && pk_mode == PkMode::None {
                return Err(ConfigError::new(
                    "pk.mode",
                    "insert.mode=upsert needs a primary key: set pk.mode=record_key",
                ));
            }
            let table_name_format = get("table.name.format").unwrap_or("${topic}").to_string();
            ConnectorKind::JdbcSink { topics, insert_mode, pk_mode, table_name_format }
        };
        if let Some(k) = config.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ConfigError::new(
                k,
                format!("not a config the simulated {short} reads (known: {})", known.join(", ")),
            ));
        }
        Ok(ConnectorSpec { name: name.to_string(), class: class.to_string(), tasks_max, kind })
    }

    pub fn is_source(&self) -> bool {
        matches!(self.kind, ConnectorKind::Datagen { .. })
    }

    /// Connect's client id for task `task`'s producer or consumer.
    pub fn task_client(&self, task: u32) -> String {
        let role = if self.is_source() { "producer" } else { "consumer" };
        format!("connector-{role}-{}-{task}", self.name)
    }

    /// A sink's consumer group.
    pub fn sink_group(&self) -> String {
        format!("connect-{}", self.name)
    }

    /// The table a sink writes a topic's records to.
    pub fn table_for(&self, topic: &str) -> String {
        match &self.kind {
            ConnectorKind::JdbcSink { table_name_format, .. } => table_name_format.replace("${topic}", topic),
            ConnectorKind::Datagen { .. } => String::new(),
        }
    }

    /// The key a source task's offsets have in the offsets topic: `["<connector>",{"task.id":N}]`.
    pub fn offset_key(&self, task: u32) -> String {
        serde_json::json!([self.name, { "task.id": task }]).to_string()
    }
}

/// The state Connect's REST API reports for a connector or task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    Running,
    Failed,
    /// The task's process is down (the sandbox's `crash_client`); a worker restart brings it
    /// back. Connect would show it as UNASSIGNED until then.
    Unassigned,
    /// All records of `iterations` produced: datagen stops the task by failing it.
    Finished,
}

impl TaskState {
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Running => "RUNNING",
            TaskState::Failed => "FAILED",
            TaskState::Unassigned => "UNASSIGNED",
            TaskState::Finished => "FAILED",
        }
    }
}

/// A source task's progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceTask {
    /// The next record's iteration (`current.iteration`).
    pub next_iteration: u64,
    /// Records handed to the producer and not yet acknowledged: (ledger id, iteration after it).
    pub pending: VecDeque<(crate::record::RecordId, u64)>,
    /// The iteration after the last acknowledged record of the unbroken acknowledged prefix.
    pub acked_next: u64,
    /// The last source offset written to the offsets topic.
    pub flushed_next: u64,
    /// Task lifetimes (`task.generation`).
    pub generation: u64,
    /// Highest iteration ever sent + 1 (records below it sent again are duplicates).
    pub high_water: u64,
    pub produced: u64,
    pub duplicates: u64,
    /// Schedules the next poll with this counter so an old lifetime's poll is ignored.
    pub epoch: u32,
}

impl SourceTask {
    /// Records acknowledged in order become part of the committable offset.
    pub fn advance_acks(&mut self, ledger: &crate::ledger::Ledger) {
        while let Some((id, next)) = self.pending.front() {
            match ledger.entry(*id).map(|e| &e.outcome) {
                Some(crate::ledger::Outcome::Acked { .. }) => {
                    self.acked_next = *next;
                    self.pending.pop_front();
                }
                _ => break,
            }
        }
    }

    /// Starts a new lifetime from a committed offset (`None`: no offset yet, from the start).
    pub fn resume(&mut self, committed: Option<(u64, u64)>) {
        let (iteration, generation) = committed.unwrap_or((0, 0));
        self.next_iteration = iteration;
        self.acked_next = iteration;
        self.flushed_next = iteration;
        self.generation = generation;
        self.pending.clear();
        self.epoch += 1;
    }
}

/// A sink task's progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SinkTask {
    pub written: u64,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: u32,
    /// Producer index (source) or consumer index (sink).
    pub client: u32,
    pub state: TaskState,
    /// The client incarnation the task last saw (a restart changes it).
    pub incarnation: u32,
    /// The task's client was seen dead; its next start is a task restart.
    #[serde(default)]
    pub down: bool,
    pub source: SourceTask,
    pub sink: SinkTask,
}

/// A running connector and its tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub spec: ConnectorSpec,
    pub tasks: Vec<Task>,
    /// Tables by name (sinks).
    pub tables: BTreeMap<String, Table>,
    /// Paused with `pause_connector`.
    #[serde(default)]
    pub paused: bool,
}

/// The Connect worker and its connectors, held by the world.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectRuntime {
    pub worker: WorkerSpec,
    pub connectors: Vec<Connector>,
    /// The worker's offset producer (a producer index).
    pub offsets_producer: u32,
    /// Offset records the worker wrote.
    pub offset_flushes: u64,
}

/// The scenario-level description: the worker, its connectors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectSetup {
    pub worker: WorkerSpec,
    pub connectors: Vec<ConnectorSpec>,
}

/// Reads a source task's committed offset (`current.iteration`, `task.generation`) from
/// the offsets topic's records: the last record with the task's key wins.
pub fn committed_source_offset<'a>(
    key: &str,
    records: impl IntoIterator<Item = (&'a Option<crate::record::Blob>, &'a Option<crate::record::Blob>)>,
) -> Option<(u64, u64)> {
    let mut found = None;
    for (k, v) in records {
        if k.as_ref().map(|k| k.display()).as_deref() != Some(key) {
            continue;
        }
        // A null value (tombstone) resets the offset.
        found = v.as_ref().and_then(|v| {
            let j: serde_json::Value = serde_json::from_str(&v.display()).ok()?;
            Some((j["current.iteration"].as_u64()?, j["task.generation"].as_u64().unwrap_or(0)))
        });
    }
    found
}

/// The value the worker writes for a source offset.
pub fn source_offset_value(next_iteration: u64, generation: u64) -> String {
    serde_json::json!({ "current.iteration": next_iteration, "task.generation": generation + 1 }).to_string()
}

/// A sink record's partition and offset (for the table's bookkeeping).
pub fn record_coords(tp: &TopicPartition, offset: u64) -> (&str, u32, u64) {
    (&tp.topic, tp.partition, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Blob;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn datagen_config_parses_with_upstream_defaults() {
        let s = ConnectorSpec::parse(
            "gen",
            &cfg(&[("connector.class", DATAGEN_CLASS), ("kafka.topic", "orders"), ("quickstart", "orders")]),
        )
        .unwrap();
        assert_eq!(s.tasks_max, 1);
        assert_eq!(
            s.kind,
            ConnectorKind::Datagen {
                topic: "orders".into(),
                quickstart: Quickstart::Orders,
                max_interval_ms: 500,
                iterations: None
            }
        );
        assert_eq!(s.task_client(0), "connector-producer-gen-0");
        assert_eq!(s.offset_key(2), r#"["gen",{"task.id":2}]"#);
    }

    #[test]
    fn bad_configs_name_the_config() {
        let field = |pairs: &[(&str, &str)]| ConnectorSpec::parse("c", &cfg(pairs)).unwrap_err().field;
        assert_eq!(field(&[("kafka.topic", "t")]), "connector.class");
        assert_eq!(field(&[("connector.class", "FileStreamSource")]), "connector.class");
        assert_eq!(field(&[("connector.class", "DatagenConnector"), ("quickstart", "orders")]), "kafka.topic");
        assert_eq!(
            field(&[("connector.class", "DatagenConnector"), ("kafka.topic", "t"), ("quickstart", "stock")]),
            "quickstart"
        );
        assert_eq!(
            field(&[
                ("connector.class", "DatagenConnector"),
                ("kafka.topic", "t"),
                ("quickstart", "users"),
                ("tasks.max", "0")
            ]),
            "tasks.max"
        );
        assert_eq!(field(&[("connector.class", "JdbcSinkConnector")]), "topics");
        assert_eq!(
            field(&[("connector.class", "JdbcSinkConnector"), ("topics", "t"), ("insert.mode", "upsert")]),
            "pk.mode"
        );
        assert_eq!(
            field(&[("connector.class", "JdbcSinkConnector"), ("topics", "t"), ("batch.siz", "5")]),
            "batch.siz"
        );
    }

    #[test]
    fn the_last_offset_record_for_the_key_wins() {
        let key = Some(Blob::text(r#"["gen",{"task.id":0}]"#));
        let other = Some(Blob::text(r#"["gen",{"task.id":1}]"#));
        let v = |n: u64| Some(Blob::text(&source_offset_value(n, 0)));
        let recs = [(key.clone(), v(10)), (other.clone(), v(50)), (key.clone(), v(20))];
        assert_eq!(
            committed_source_offset(r#"["gen",{"task.id":0}]"#, recs.iter().map(|(k, v)| (k, v))),
            Some((20, 1))
        );
        assert_eq!(committed_source_offset(r#"["gen",{"task.id":3}]"#, recs.iter().map(|(k, v)| (k, v))), None);
    }

    #[test]
    fn only_the_acknowledged_prefix_is_committable() {
        use crate::ledger::Ledger;
        let mut ledger = Ledger::default();
        let mut t = SourceTask::default();
        let _ = &mut ledger;
        // With no ledger entries, nothing is acknowledged.
        t.pending.push_back((crate::record::RecordId(0), 1));
        t.advance_acks(&ledger);
        assert_eq!(t.acked_next, 0);
        t.resume(Some((7, 2)));
        assert_eq!((t.next_iteration, t.acked_next, t.generation, t.pending.len()), (7, 7, 2, 0));
    }
}
