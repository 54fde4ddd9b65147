//! The Kafka Streams runtime inside the simulated cluster: an application is a consumer
//! group (`group.id` = `application.id`) whose members are the application's instances.
//! Each instance is a consumer (the StreamThread's main consumer) and a producer, both real
//! simulated clients, plus the tasks it owns.
//!
//! Data flow, one step at a time (the world calls [`StreamsApp::process_inbox`] at the end
//! of every step in which an instance's consumer returned records):
//! 1. The instance's consumer polls its assigned source and repartition partitions like any
//!    consumer; records it returns go to its `streams_inbox`.
//! 2. Each record goes to the task of its sub-topology and partition (`<sub>_<partition>`),
//!    created, and restored from its changelog topics, when first needed.
//! 3. What the task outputs goes to the instance's producer: output and repartition records
//!    keyed as the task keyed them (the default partitioner picks the partition), changelog
//!    records to the task's own partition of `<application.id>-<store>-changelog`.
//! 4. Offsets: with `at_least_once`, the consumer commits (every `commit.interval.ms`, and
//!    before a rebalance) only positions whose outputs the producer has finished sending
//!    (Kafka Streams flushes its producer before it commits); a crash in between makes the
//!    next owner process those records again, so their results are counted twice.
//!
//! Simplifications (documented in ARCHITECTURE.md): the task assignment is the range
//! assignor over the source topics (co-partitioned partitions stay together as Streams'
//! task assignor keeps them, but there is no stickiness, standby replica or warm-up);
//! stores are in memory, so a task rebuilds them from its changelogs whenever it starts on an
//! instance; restoring reads the changelog's committed records straight from the partition
//! leader instead of through a restore consumer; GlobalKTables run in the test driver only.
use super::store::{StoreKey, StoreWrite, Timestamped};
use super::task::{InputRecord, OutputRecord, Task, TaskConfig};
use super::topology::Topology;
use super::value::Value;
use crate::record::{Blob, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Reads the committed (key, value) records of a changelog partition: (topic, partition).
pub type ChangelogReader<'a> = dyn FnMut(&str, u32) -> Vec<(Option<Blob>, Option<Blob>)> + 'a;

/// `processing.guarantee`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingGuarantee {
    #[default]
    AtLeastOnce,
    ExactlyOnceV2,
}

impl ProcessingGuarantee {
    pub fn parse(s: &str) -> Option<ProcessingGuarantee> {
        match s {
            "at_least_once" => Some(ProcessingGuarantee::AtLeastOnce),
            "exactly_once_v2" => Some(ProcessingGuarantee::ExactlyOnceV2),
            _ => None,
        }
    }
    /// Kafka's `commit.interval.ms` default for the guarantee.
    pub fn default_commit_interval_ms(self) -> u64 {
        match self {
            ProcessingGuarantee::AtLeastOnce => 30_000,
            ProcessingGuarantee::ExactlyOnceV2 => 100,
        }
    }
}

impl fmt::Display for ProcessingGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
        })
    }
}

/// The clients of one instance, by name (they are ordinary scenario clients).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceSpec {
    pub consumer: String,
    pub producer: String,
}

/// A Kafka Streams application in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamsAppSpec {
    pub application_id: String,
    pub topology: Arc<Topology>,
    pub guarantee: ProcessingGuarantee,
    pub commit_interval_ms: u64,
    pub instances: Vec<InstanceSpec>,
    /// A ksqlDB persistent query: the server's (de)serialization around the topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ksql: Option<Arc<super::ksql::QuerySerde>>,
}

/// Kafka's task id: sub-topology and partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId {
    pub subtopology: usize,
    pub partition: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// A record the instance's consumer returned, as the task will see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamsInput {
    pub tp: TopicPartition,
    pub offset: u64,
    pub key: Option<Blob>,
    pub value: Option<Blob>,
    pub timestamp: i64,
}

/// A record for the instance's producer.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub topic: Arc<str>,
    /// `Some` for changelog records (the task's partition); `None`: the partitioner decides.
    pub partition: Option<u32>,
    pub key: Option<Blob>,
    pub value: Option<Blob>,
    pub timestamp: i64,
}

/// What happened to an instance's tasks, for the trace.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskEvent {
    Created { task: TaskId, restored: u64 },
    Closed { task: TaskId },
    Failed { task: TaskId, error: String },
}

/// One running instance: its clients (indexes into the world's lists) and its tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Instance {
    pub consumer: u32,
    pub producer: u32,
    #[serde(with = "crate::sim::serde_pairs")]
    pub tasks: BTreeMap<TaskId, Task>,
    /// Records this instance processed.
    pub processed: u64,
    /// Processed input records whose outputs the producer has not finished sending: the
    /// partition, the position after the record, and the records sent for it. Commits stop
    /// at the first unfinished one (Streams flushes its producer before it commits).
    #[serde(default)]
    pub unflushed: std::collections::VecDeque<(TopicPartition, u64, Vec<crate::record::RecordId>)>,
    /// exactly_once_v2: the transaction the instance's producer has open.
    #[serde(default)]
    pub eos: EosState,
}

/// An exactly_once_v2 instance's transaction: outputs, changelog writes and input offsets
/// go into one producer transaction, committed every `commit.interval.ms` (and before a
/// rebalance); the thread processes nothing while the commit is in flight.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EosState {
    /// Positions after the records processed in the open transaction, per input partition:
    /// the offsets `sendOffsetsToTransaction` commits with it.
    #[serde(with = "crate::sim::serde_pairs")]
    pub positions: BTreeMap<TopicPartition, u64>,
    /// Records or offsets are in the open transaction.
    pub open: bool,
    /// `commitTransaction()` was called and has not completed.
    pub committing: bool,
    /// When the next commit is due, in virtual ms.
    pub next_commit_ms: i64,
    /// Transactions committed and aborted (a fenced or failed producer's).
    pub commits: u64,
    pub aborts: u64,
}

/// A Streams application as it runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamsApp {
    pub spec: StreamsAppSpec,
    pub instances: Vec<Instance>,
    /// Input records processed, all instances together.
    pub processed: u64,
    /// Input records processed again (an offset below the highest one processed before on
    /// that partition): at-least-once's duplicates after a crash or a lost commit.
    pub reprocessed: u64,
    /// Changelog records replayed into stores when tasks started.
    pub restored: u64,
    /// Records the tasks skipped (Kafka's `dropped-records`).
    pub dropped: u64,
    /// Records the tasks wrote (outputs, repartition and changelog records).
    pub produced: u64,
    /// The next offset after the highest processed, per input partition.
    #[serde(with = "crate::sim::serde_pairs")]
    high: BTreeMap<TopicPartition, u64>,
    /// The topology's output and internal topic names, shared so that each record sent
    /// costs a reference count instead of a string allocation.
    #[serde(skip)]
    topics: Vec<Arc<str>>,
    /// What the windowed aggregations did, for the sandbox's views only: never in the trace.
    #[serde(skip)]
    pub windows: WindowLog,
}

/// Records kept per application in [`WindowLog::records`] (the newest).
pub const MAX_WINDOW_LOG_RECORDS: usize = 1000;
/// Windows kept per store in [`WindowLog::windows`] (those that start latest).
pub const MAX_WINDOW_LOG_WINDOWS: usize = 1000;

/// The windowed aggregations' recent history: the records they took in (with their
/// partition), and every window's latest value as written to the changelog, closed windows
/// included (the store forgets a window once it is past retention; this does not, up to
/// [`MAX_WINDOW_LOG_WINDOWS`]). A merged-away session is removed as its tombstone says.
#[derive(Clone, Debug, Default)]
pub struct WindowLog {
    pub records: std::collections::VecDeque<(u32, super::task::WindowedInput)>,
    /// Per store: (window start, key, window end) -> value.
    pub windows: BTreeMap<String, BTreeMap<(i64, Value, i64), Value>>,
}

impl WindowLog {
    /// Takes the task output's `windowed` records (nothing else reads them) and the window
    /// values its store writes carry.
    fn observe(&mut self, topology: &Topology, partition: u32, out: &mut super::task::TaskOutput) {
        if out.windowed.is_empty() {
            return;
        }
        for r in std::mem::take(&mut out.windowed) {
            if self.records.len() >= MAX_WINDOW_LOG_RECORDS {
                self.records.pop_front();
            }
            self.records.push_back((partition, r));
        }
        for w in &out.store_writes {
            let (key, start, end) = match &w.key {
                // A join's window store holds records, not windows: no size.
                StoreKey::Window { key, start, .. } => match topology.window_size(&w.store) {
                    Some(size) => (key, *start, start.saturating_add(size)),
                    None => continue,
                },
                StoreKey::Session { key, start, end } => (key, *start, *end),
                _ => continue,
            };
            if !self.windows.contains_key(&w.store) {
                self.windows.insert(w.store.clone(), BTreeMap::new());
            }
            let log = self.windows.get_mut(&w.store).expect("inserted above");
            let at = (start, key.clone(), end);
            match &w.value {
                Some(v) => {
                    log.insert(at, v.value.clone());
                }
                None => {
                    log.remove(&at);
                }
            }
            if log.len() > MAX_WINDOW_LOG_WINDOWS {
                log.pop_first();
            }
        }
    }
}

/// Keys are strings (`StringSerde`); a key that is JSON text of an object or an array
/// becomes that structure. Values are JSON when they parse as JSON, strings otherwise.
pub fn decode_key(b: &Option<Blob>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => {
            let text = b.display();
            let t = text.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                if let Ok(j) = serde_json::from_str::<serde_json::Value>(&text) {
                    return Value::from_json(&j);
                }
            }
            Value::Str(text)
        }
    }
}

pub fn decode_value(b: &Option<Blob>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => {
            let text = b.display();
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(j) => Value::from_json(&j),
                Err(_) => Value::Str(text),
            }
        }
    }
}

/// A value as bytes: strings as UTF-8, anything else as JSON, null as no bytes (a
/// tombstone).
fn encode(v: &Value) -> Option<Blob> {
    match v {
        Value::Null => None,
        other => Some(Blob::from_bytes(&other.serialized_bytes())),
    }
}

/// An output key: a windowed key prints as Kafka's `Windowed.toString()`,
/// `[key@start/end]`.
fn encode_key(r: &OutputRecord) -> Option<Blob> {
    match &r.window {
        Some(w) => Some(Blob::text(&format!("[{}@{}/{}]", r.key.to_java_string(), w.start, w.end))),
        None => encode(&r.key),
    }
}

/// Changelog records: the key is the store key as JSON (so compaction keeps the latest per
/// store entry), the value the timestamped value as JSON, or none for a deletion.
fn changelog_record(w: &StoreWrite) -> (Option<Blob>, Option<Blob>) {
    let key = serde_json::to_string(&w.key).ok().map(|k| Blob::text(&k));
    let value = w.value.as_ref().and_then(|v| serde_json::to_string(v).ok()).map(|v| Blob::text(&v));
    (key, value)
}

fn restore_write(store: &str, key: &Option<Blob>, value: &Option<Blob>) -> Option<StoreWrite> {
    let key: StoreKey = serde_json::from_str(&key.as_ref()?.display()).ok()?;
    let value = match value {
        None => None,
        Some(v) => Some(serde_json::from_str::<Timestamped>(&v.display()).ok()?),
    };
    Some(StoreWrite { store: store.to_string(), key, value })
}

impl StreamsApp {
    pub fn new(spec: StreamsAppSpec, clients: Vec<(u32, u32)>) -> StreamsApp {
        let instances = clients
            .into_iter()
            .map(|(consumer, producer)| Instance {
                consumer,
                producer,
                tasks: BTreeMap::new(),
                processed: 0,
                unflushed: Default::default(),
                eos: EosState {
                    next_commit_ms: i64::try_from(spec.commit_interval_ms).unwrap_or(i64::MAX),
                    ..Default::default()
                },
            })
            .collect();
        StreamsApp {
            spec,
            instances,
            processed: 0,
            reprocessed: 0,
            restored: 0,
            dropped: 0,
            produced: 0,
            high: BTreeMap::new(),
            topics: Vec::new(),
            windows: WindowLog::default(),
        }
        .with_topic_names()
    }

    fn with_topic_names(mut self) -> StreamsApp {
        let t = &self.spec.topology;
        self.topics = t.output_topics.iter().chain(t.internal_topics.keys()).map(|n| Arc::from(n.as_str())).collect();
        self
    }

    /// A topic name as the producer takes it (allocated only for a name the topology does
    /// not list, which does not happen for a compiled topology).
    fn topic_name(&self, name: &str) -> Arc<str> {
        self.topics.iter().find(|t| ***t == *name).cloned().unwrap_or_else(|| Arc::from(name))
    }

    /// The instance whose consumer is `consumer`.
    pub fn instance_of_consumer(&self, consumer: u32) -> Option<usize> {
        self.instances.iter().position(|i| i.consumer == consumer)
    }

    /// Topics the instances subscribe to: the sources and the repartition topics.
    pub fn subscription(topology: &Topology) -> Vec<String> {
        topology.subtopologies.iter().flat_map(|s| s.sources.keys().cloned()).collect()
    }

    fn task_of(&self, tp: &TopicPartition) -> Option<TaskId> {
        let sub = self.spec.topology.subtopology_of(&tp.topic)?;
        Some(TaskId { subtopology: sub, partition: tp.partition })
    }

    /// Starts a task: empty stores, rebuilt from the changelog partitions `read` returns
    /// (the committed records of `topic`-`partition`: key, value).
    fn start_task(
        &mut self,
        instance: usize,
        id: TaskId,
        read: &mut ChangelogReader<'_>,
        events: &mut Vec<(usize, TaskEvent)>,
    ) {
        let topology = Arc::clone(&self.spec.topology);
        let mut task = Task::new(Arc::clone(&topology), id.subtopology, id.partition, TaskConfig::default());
        let mut writes = Vec::new();
        if let Some(sub) = topology.subtopologies.get(id.subtopology) {
            for store in &sub.stores {
                let Some(changelog) = topology.stores.get(store).and_then(|s| s.changelog.as_ref()) else {
                    continue;
                };
                for (k, v) in read(changelog, id.partition) {
                    if let Some(w) = restore_write(store, &k, &v) {
                        writes.push(w);
                    }
                }
            }
        }
        let restored = writes.len() as u64;
        match task.restore(&writes) {
            Ok(()) => {
                self.restored += restored;
                events.push((instance, TaskEvent::Created { task: id, restored }));
            }
            Err(e) => events.push((instance, TaskEvent::Failed { task: id, error: e.to_string() })),
        }
        self.instances[instance].tasks.insert(id, task);
    }

    /// Whether an instance runs exactly the tasks of `assignment` (nothing to sync).
    pub fn tasks_match(&self, instance: usize, assignment: &[TopicPartition]) -> bool {
        let tasks = &self.instances[instance].tasks;
        let assigned: Vec<TaskId> = assignment.iter().filter_map(|tp| self.task_of(tp)).collect();
        tasks.keys().all(|t| assigned.contains(t)) && assigned.iter().all(|t| tasks.contains_key(t))
    }

    /// Makes an instance's tasks match its consumer's assignment: closes the tasks of
    /// partitions it lost, starts (and restores) those of partitions it gained.
    pub fn sync_tasks(
        &mut self,
        instance: usize,
        assignment: &[TopicPartition],
        read: &mut ChangelogReader<'_>,
    ) -> Vec<(usize, TaskEvent)> {
        let mut events = Vec::new();
        let wanted: Vec<TaskId> = {
            let mut w: Vec<TaskId> = assignment.iter().filter_map(|tp| self.task_of(tp)).collect();
            crate::collect::sort(&mut w);
            w.dedup();
            w
        };
        let gone: Vec<TaskId> =
            self.instances[instance].tasks.keys().filter(|t| !wanted.contains(t)).copied().collect();
        for t in gone {
            self.instances[instance].tasks.remove(&t);
            events.push((instance, TaskEvent::Closed { task: t }));
        }
        for t in wanted {
            if !self.instances[instance].tasks.contains_key(&t) {
                self.start_task(instance, t, read, &mut events);
            }
        }
        events
    }

    /// A crashed instance loses its tasks (and their in-memory state).
    pub fn crash_instance(&mut self, instance: usize) {
        let inst = &mut self.instances[instance];
        inst.tasks.clear();
        inst.unflushed.clear();
        // The open transaction is the coordinator's to abort (timeout or the next
        // initTransactions with the same transactional.id).
        inst.eos.positions.clear();
        inst.eos.aborts += u64::from(inst.eos.open);
        inst.eos.open = false;
        inst.eos.committing = false;
    }

    /// Whether the application runs with `processing.guarantee=exactly_once_v2`.
    pub fn exactly_once(&self) -> bool {
        self.spec.guarantee == ProcessingGuarantee::ExactlyOnceV2
    }

    /// Runs the records an instance's consumer returned through their tasks; returns, per
    /// input record, its partition, the position after it and what the producer must send.
    pub fn process_inbox(
        &mut self,
        instance: usize,
        inbox: Vec<StreamsInput>,
        now_ms: i64,
        read: &mut ChangelogReader<'_>,
        events: &mut Vec<(usize, TaskEvent)>,
    ) -> Vec<(TopicPartition, u64, Vec<Outgoing>)> {
        let mut all = Vec::new();
        for r in inbox {
            let mut out = Vec::new();
            let Some(id) = self.task_of(&r.tp) else { continue };
            if !self.instances[instance].tasks.contains_key(&id) {
                self.start_task(instance, id, read, events);
            }
            let high = self.high.entry(r.tp.clone()).or_insert(0);
            if r.offset < *high {
                self.reprocessed += 1;
            } else {
                *high = r.offset + 1;
            }
            self.processed += 1;
            self.instances[instance].processed += 1;
            let input = InputRecord {
                topic: r.tp.topic.to_string(),
                partition: r.tp.partition,
                offset: i64::try_from(r.offset).unwrap_or(i64::MAX),
                key: decode_key(&r.key),
                value: decode_value(&r.value),
                timestamp: r.timestamp,
            };
            let input = match &self.spec.ksql {
                None => input,
                Some(k) => match k.decode(&input.topic, input.key, input.value) {
                    Some((key, value)) => InputRecord { key, value, ..input },
                    None => {
                        self.dropped += 1;
                        all.push((r.tp.clone(), r.offset + 1, out));
                        continue;
                    }
                },
            };
            let Some(task) = self.instances[instance].tasks.get_mut(&id) else { continue };
            let mut result = match task.process(&input, now_ms) {
                Ok(o) => o,
                Err(e) => {
                    events.push((instance, TaskEvent::Failed { task: id, error: e.to_string() }));
                    all.push((r.tp.clone(), r.offset + 1, out));
                    continue;
                }
            };
            self.dropped += result.dropped.len() as u64;
            self.windows.observe(&self.spec.topology, id.partition, &mut result);
            for rec in &result.records {
                let value = match &self.spec.ksql {
                    Some(k) if k.finishes(&rec.topic) => {
                        let mut v = rec.value.clone();
                        k.finish(&rec.topic, rec.window, &mut v);
                        encode(&v)
                    }
                    _ => encode(&rec.value),
                };
                out.push(Outgoing {
                    topic: self.topic_name(&rec.topic),
                    partition: None,
                    key: encode_key(rec),
                    value,
                    timestamp: rec.timestamp,
                });
            }
            for w in &result.store_writes {
                let Some(changelog) = self.spec.topology.stores.get(&w.store).and_then(|s| s.changelog.as_ref()) else {
                    continue;
                };
                let (key, value) = changelog_record(w);
                let timestamp = w.value.as_ref().map(|v| v.timestamp).unwrap_or(r.timestamp);
                out.push(Outgoing {
                    topic: self.topic_name(changelog),
                    partition: Some(id.partition),
                    key,
                    value,
                    timestamp,
                });
            }
            self.produced += out.len() as u64;
            all.push((r.tp.clone(), r.offset + 1, out));
        }
        all
    }

    /// Interactive query: the entries of `store` over all running tasks, as
    /// (key, window start if windowed, value) in key order.
    pub fn query(&self, store: &str) -> Vec<(String, Option<i64>, Value)> {
        let mut rows = Vec::new();
        for inst in &self.instances {
            for task in inst.tasks.values() {
                let Some(s) = task.store(store) else { continue };
                match s {
                    super::store::Store::KeyValue(kv) => {
                        rows.extend(kv.entries.iter().map(|(k, v)| (k.to_java_string(), None, v.value.clone())))
                    }
                    // Join windows keep every record (sequence numbers tell duplicates apart).
                    super::store::Store::Window(w) => rows.extend(
                        w.entries.iter().map(|((k, start, _), v)| (k.to_java_string(), Some(*start), v.value.clone())),
                    ),
                    // Session stores are keyed (key, end, start).
                    super::store::Store::Session(s) => rows.extend(
                        s.entries.iter().map(|((k, _, start), v)| (k.to_java_string(), Some(*start), v.clone())),
                    ),
                    _ => {}
                }
            }
        }
        crate::collect::sort_by(&mut rows, |a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changelog_records_round_trip_through_restore() {
        let w = StoreWrite {
            store: "counts".into(),
            key: StoreKey::Window { key: Value::str("132"), start: 60_000, seq: 0 },
            value: Some(Timestamped { value: Value::Int(7), timestamp: 61_234 }),
        };
        let (k, v) = changelog_record(&w);
        assert_eq!(restore_write("counts", &k, &v), Some(w.clone()));
        let delete = StoreWrite { value: None, ..w };
        let (k, v) = changelog_record(&delete);
        assert!(v.is_none(), "a deletion is a tombstone");
        assert_eq!(restore_write("counts", &k, &v), Some(delete));
    }

    #[test]
    fn keys_stay_strings_and_values_parse_as_json() {
        assert_eq!(decode_key(&Some(Blob::text("132"))), Value::str("132"));
        assert_eq!(decode_value(&Some(Blob::text("132"))), Value::Int(132));
        assert_eq!(decode_value(&Some(Blob::text("not json"))), Value::str("not json"));
        assert_eq!(decode_value(&None), Value::Null);
    }

    #[test]
    fn the_window_log_keeps_late_and_dropped_records_and_closed_windows() {
        // The scenario windowed-count-late-records: 10 s tumbling windows, 5 s of grace.
        let spec: super::super::topology::TopologySpec = serde_json::from_value(serde_json::json!({
            "application_id": "wc", "steps": [
            {"op": "stream", "name": "s", "topics": ["in"], "timestamp": {"field": "t"}},
            {"op": "group_by_key", "name": "g", "input": "s"},
            {"op": "windowed_by", "name": "w", "input": "g", "window": {"type": "tumbling", "size_ms": 10000, "grace_ms": 5000}},
            {"op": "count", "name": "c", "store": "st", "input": "w"},
            {"op": "to_stream", "name": "u", "input": "c"},
            {"op": "to", "input": "u", "topic": "out"}]}))
        .unwrap();
        let partitions = BTreeMap::from([("in".to_string(), 1), ("out".to_string(), 1)]);
        let topology = Arc::new(spec.compile(&partitions).unwrap());
        let spec = StreamsAppSpec {
            application_id: "wc".into(),
            topology,
            guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_interval_ms: 1000,
            instances: vec![],
            ksql: None,
        };
        let mut app = StreamsApp::new(spec, vec![(0, 0)]);
        let times =
            [("a", 1), ("a", 4), ("b", 6), ("a", 12), ("a", 3), ("b", 18), ("a", 26), ("a", 7), ("b", 14), ("a", 31)];
        let inbox = times
            .iter()
            .enumerate()
            .map(|(i, (k, t))| StreamsInput {
                tp: TopicPartition::new("in", 0),
                offset: i as u64,
                key: Some(Blob::text(k)),
                value: Some(Blob::text(&format!("{{\"t\": {}}}", t * 1000))),
                timestamp: 0,
            })
            .collect();
        app.process_inbox(0, inbox, 0, &mut |_, _| Vec::new(), &mut Vec::new());
        let fates: Vec<(i64, bool, u32)> = app
            .windows
            .records
            .iter()
            .map(|(_, r)| (r.timestamp / 1000, r.timestamp < r.stream_time, r.expired))
            .collect();
        assert_eq!(fates.iter().filter(|f| f.1).count(), 3, "3 s, 7 s and 14 s came out of order: {fates:?}");
        assert_eq!(fates.iter().filter(|f| f.2 > 0).map(|f| f.0).collect::<Vec<_>>(), vec![7, 14]);
        let windows: Vec<String> = app.windows.windows["st"]
            .iter()
            .map(|((start, k, end), v)| format!("{}@{start}/{end}={v}", k.to_java_string()))
            .collect();
        assert_eq!(
            windows,
            ["a@0/10000=3", "b@0/10000=1", "a@10000/20000=1", "b@10000/20000=1", "a@20000/30000=1", "a@30000/40000=1"]
        );
        // The store itself has let the closed windows go.
        assert_eq!(app.query("st").len(), 2);
    }

    #[test]
    fn windowed_keys_print_like_kafka_windowed_to_string() {
        let r = OutputRecord {
            topic: "t".into(),
            key: Value::str("1"),
            window: Some(super::super::window::Window { start: 0, end: 10_000 }),
            value: Value::Int(3),
            timestamp: 5,
            internal: false,
        };
        assert_eq!(encode_key(&r).map(|b| b.display()), Some("[1@0/10000]".to_string()));
    }
}
