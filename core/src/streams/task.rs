//! A stream task: one sub-topology for one partition, processing one record at a time.
//!
//! The runtime (the simulated cluster) owns tasks, feeds them records in the order the
//! consumer delivers them, writes `TaskOutput::records` to their topics (partitioned by key),
//! appends `TaskOutput::store_writes` to the changelog topics, and rebuilds a moved task with
//! `Task::restore`. A task is `Clone + Serialize`, so it can be snapshotted.
//!
//! Time: the task's stream time is the largest extracted timestamp it has processed; each
//! windowed processor and join also keeps its own observed stream time, as in Kafka. The
//! simulated wall clock enters only as `now` on every `process` call: it is the
//! processing-time extractor's timestamp and paces the emit throttles
//! (`__emit.interval.ms.kstreams.windowed.aggregation__`,
//! `__emit.interval.ms.kstreams.outer.join.spurious.results.fix__`). The DSL registers no
//! punctuators in Kafka, so nothing here happens without a record.
use super::error::StreamsError;
use super::expr::Env;
use super::store::{Store, StoreKey, StoreWrite, Timestamped};
use super::topology::{NodeKind, TimestampSpec, Topology};
use super::value::{parse_datetime, Value, MAX_TIMESTAMP_MS};
use super::window::Window;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest aggregate (counted in nested values, see `Value::weight`) a store may hold.
pub const MAX_AGGREGATE_WEIGHT: usize = 100_000;
/// The deepest nesting an aggregate may reach (an aggregator like `[agg]` nests once more on
/// every record; unbounded nesting would overflow the stack when the value is dropped).
pub const MAX_AGGREGATE_DEPTH: usize = 100;

/// A record as the consumer hands it to the task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    /// `Value::Null` is a null key.
    pub key: Value,
    /// `Value::Null` is a null value (a tombstone for tables).
    pub value: Value,
    /// The record's timestamp (CreateTime or LogAppendTime, as the topic stores it).
    pub timestamp: i64,
}

/// A record the task produces: to an output topic, or to a repartition topic (`internal`),
/// which the runtime must feed back to the task of the partition the key hashes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub topic: String,
    pub key: Value,
    /// The window of a windowed key (`Windowed<K>`), if any.
    pub window: Option<Window>,
    pub value: Value,
    pub timestamp: i64,
    pub internal: bool,
}

/// A record seen by a `peek` step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeekEvent {
    pub node: String,
    pub key: Value,
    pub window: Option<Window>,
    pub value: Value,
    pub timestamp: i64,
}

/// Why a record was skipped; each occurrence is one count of Kafka's `dropped-records`
/// task metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Aggregations and table joins skip records with a null key.
    NullKey,
    /// Non-windowed aggregations, sliding windows and stream joins also skip null values.
    NullKeyOrValue,
    /// The record is too late for a window that has closed (counted once per window).
    ExpiredWindow,
    /// The timestamp extractor gave a negative (or absurd) timestamp.
    InvalidTimestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DroppedRecord {
    pub node: String,
    pub reason: DropReason,
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    pub timestamp: i64,
}

/// A record a windowed aggregation took in, for the sandbox's views (Kafka keeps no such
/// log): late when its timestamp is below the processor's observed stream time, and dropped
/// from `expired` windows that had closed (the other windows it falls in took it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowedInput {
    /// The windowed aggregation's node.
    pub node: usize,
    pub key: Value,
    pub timestamp: i64,
    /// The processor's observed stream time before this record (-1 before the first).
    pub stream_time: i64,
    pub expired: u32,
}

impl WindowedInput {
    /// Behind the processor's stream time (out of order).
    pub fn late(&self) -> bool {
        self.timestamp < self.stream_time
    }

    /// Came after a window it falls in had closed (window end + grace).
    pub fn dropped(&self) -> bool {
        self.expired > 0
    }
}

/// Everything one `process` call produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskOutput {
    pub records: Vec<OutputRecord>,
    pub store_writes: Vec<StoreWrite>,
    pub dropped: Vec<DroppedRecord>,
    pub peeks: Vec<PeekEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windowed: Vec<WindowedInput>,
}

/// Settings of a task. `Default` is Kafka's defaults; `test_driver()` turns the emit
/// throttles off, as Kafka's own tests do, so every record can trigger an emission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfig {
    /// Minimum wall-clock time between two emit-on-window-close scans (Kafka: 1000 ms).
    pub emit_interval_ms_windowed: i64,
    /// Minimum wall-clock time between two scans for closed left/outer join windows
    /// (Kafka: 1000 ms).
    pub emit_interval_ms_outer_join: i64,
    /// All stores of the task together may hold at most this many entries.
    pub max_state_entries: usize,
    /// One input record may produce at most this many output records.
    pub max_outputs_per_record: usize,
}

impl Default for TaskConfig {
    fn default() -> TaskConfig {
        TaskConfig {
            emit_interval_ms_windowed: 1000,
            emit_interval_ms_outer_join: 1000,
            max_state_entries: 1_000_000,
            max_outputs_per_record: 100_000,
        }
    }
}

impl TaskConfig {
    pub fn test_driver() -> TaskConfig {
        TaskConfig { emit_interval_ms_windowed: 0, emit_interval_ms_outer_join: 0, ..TaskConfig::default() }
    }
}

/// Per-processor time of a windowed aggregation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WindowedState {
    pub observed: i64,
    /// `lastEmitWindowCloseTime`: Kafka commits it with the offsets (processor metadata).
    pub last_emit_close: i64,
    pub next_emit: i64,
}

impl Default for WindowedState {
    fn default() -> WindowedState {
        WindowedState { observed: -1, last_emit_close: -1, next_emit: 0 }
    }
}

/// The time tracker a stream-stream join's two sides share (`KStreamImplJoin.TimeTracker`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JoinTracker {
    pub stream_time: i64,
    pub min_time: i64,
    pub next_emit: i64,
}

impl Default for JoinTracker {
    fn default() -> JoinTracker {
        JoinTracker { stream_time: -1, min_time: i64::MAX, next_emit: 0 }
    }
}

/// A record travelling through the processor graph. `change` is `Some(old value)` for
/// KTable changelog streams (`Change<V>`), `None` for KStream records.
#[derive(Clone, Debug)]
pub(crate) struct Rec {
    pub key: Value,
    pub window: Option<Window>,
    pub value: Value,
    pub change: Option<Value>,
    pub ts: i64,
}

pub(crate) struct Cx<'a> {
    pub out: TaskOutput,
    pub input: &'a InputRecord,
}

/// One task: a sub-topology on one partition, with its stores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task {
    pub(crate) topology: Arc<Topology>,
    pub(crate) subtopology: usize,
    pub(crate) partition: u32,
    pub(crate) config: TaskConfig,
    pub(crate) stream_time: i64,
    pub(crate) stores: BTreeMap<String, Store>,
    pub(crate) windowed: BTreeMap<usize, WindowedState>,
    pub(crate) suppress_time: BTreeMap<usize, i64>,
    pub(crate) join_time: BTreeMap<usize, JoinTracker>,
    pub(crate) now: i64,
}

impl Task {
    /// A fresh task (empty stores) for `subtopology` on `partition`.
    pub fn new(topology: Arc<Topology>, subtopology: usize, partition: u32, config: TaskConfig) -> Task {
        let mut stores = BTreeMap::new();
        if let Some(sub) = topology.subtopologies.get(subtopology) {
            for name in sub.stores.iter().chain(sub.global_stores.keys()) {
                if let Some(spec) = topology.stores.get(name) {
                    stores.insert(name.clone(), Store::new(spec.kind));
                }
            }
        }
        Task {
            topology,
            subtopology,
            partition,
            config,
            stream_time: -1,
            stores,
            windowed: BTreeMap::new(),
            suppress_time: BTreeMap::new(),
            join_time: BTreeMap::new(),
            now: 0,
        }
    }

    /// Kafka's task id, `<sub-topology>_<partition>`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.subtopology, self.partition)
    }

    pub fn topology(&self) -> &Arc<Topology> {
        &self.topology
    }

    /// The largest timestamp processed so far (-1 before the first record).
    pub fn stream_time(&self) -> i64 {
        self.stream_time
    }

    /// A store, for interactive queries.
    pub fn store(&self, name: &str) -> Option<&Store> {
        self.stores.get(name)
    }

    pub fn stores(&self) -> &BTreeMap<String, Store> {
        &self.stores
    }

    /// Topics this task consumes: its sub-topology's sources and the topics of the global
    /// tables it reads (every partition of those).
    pub fn input_topics(&self) -> Vec<String> {
        match self.topology.subtopologies.get(self.subtopology) {
            Some(sub) => sub.sources.keys().chain(sub.global_stores.values()).cloned().collect(),
            None => Vec::new(),
        }
    }

    /// The processor metadata Kafka commits with the offsets: each emit-on-window-close
    /// processor's last emitted window close time, by store name.
    pub fn processor_metadata(&self) -> BTreeMap<String, i64> {
        let mut m = BTreeMap::new();
        for (node, st) in &self.windowed {
            if let Some(NodeKind::WindowAggregate { store, .. }) = self.topology.nodes.get(*node).map(|n| &n.kind) {
                if st.last_emit_close >= 0 {
                    m.insert(store.clone(), st.last_emit_close);
                }
            }
        }
        m
    }

    /// Restores committed processor metadata (see `processor_metadata`).
    pub fn restore_processor_metadata(&mut self, metadata: &BTreeMap<String, i64>) {
        let nodes: Vec<(usize, String)> = self
            .topology
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match &n.kind {
                NodeKind::WindowAggregate { store, .. } => Some((i, store.clone())),
                _ => None,
            })
            .collect();
        for (i, store) in nodes {
            if let Some(&t) = metadata.get(&store) {
                self.windowed.entry(i).or_default().last_emit_close = t;
            }
        }
    }

    /// Replays changelog records into the stores (after a task migration). Global stores
    /// are rebuilt by processing their source topic instead.
    pub fn restore(&mut self, writes: &[StoreWrite]) -> Result<(), StreamsError> {
        for w in writes {
            let store = self.stores.get_mut(&w.store).ok_or_else(|| StreamsError::BadRestore {
                store: w.store.clone(),
                reason: format!("task {}_{} has no such store", self.subtopology, self.partition),
            })?;
            store.restore(&w.store, &w.key, w.value.as_ref())?;
        }
        self.check_state_limit("")
    }

    /// Processes one record at simulated wall-clock time `now`.
    pub fn process(&mut self, record: &InputRecord, now: i64) -> Result<TaskOutput, StreamsError> {
        self.now = now;
        let topo = Arc::clone(&self.topology);
        let sub = topo
            .subtopologies
            .get(self.subtopology)
            .ok_or_else(|| StreamsError::UnknownTopic { topic: record.topic.clone() })?;
        let node = match sub.sources.get(&record.topic) {
            Some(&n) => n,
            None => match topo.global_sources.get(&record.topic) {
                Some(&n) if sub.global_stores.values().any(|t| *t == record.topic) => n,
                _ => return Err(StreamsError::UnknownTopic { topic: record.topic.clone() }),
            },
        };
        let mut cx = Cx { out: TaskOutput::default(), input: record };
        let extractor = match &topo.nodes[node].kind {
            NodeKind::Source { timestamp, .. } | NodeKind::TableSource { timestamp, .. } => timestamp.clone(),
            _ => TimestampSpec::Record,
        };
        let ts = match extract_timestamp(&extractor, record, now) {
            Some(ts) => ts,
            None => {
                self.drop_record(&mut cx, node, super::task::DropReason::InvalidTimestamp, record.timestamp);
                return Ok(cx.out);
            }
        };
        if !matches!(topo.nodes[node].kind, NodeKind::GlobalSource { .. }) {
            self.stream_time = self.stream_time.max(ts);
        }
        let rec = Rec { key: record.key.clone(), window: None, value: record.value.clone(), change: None, ts };
        self.process_node(&topo, node, rec, &mut cx)?;
        let largest = cx.out.store_writes.last().map(|w| w.store.clone()).unwrap_or_default();
        self.check_state_limit(&largest)?;
        Ok(cx.out)
    }

    fn check_state_limit(&self, last_store: &str) -> Result<(), StreamsError> {
        let entries: usize = self.stores.values().map(Store::len).sum();
        if entries > self.config.max_state_entries {
            return Err(StreamsError::StateLimit {
                store: last_store.to_string(),
                entries,
                limit: self.config.max_state_entries,
            });
        }
        Ok(())
    }

    pub(crate) fn drop_record(&self, cx: &mut Cx<'_>, node: usize, reason: DropReason, ts: i64) {
        cx.out.dropped.push(DroppedRecord {
            node: self.topology.nodes[node].name.clone(),
            reason,
            topic: cx.input.topic.clone(),
            partition: cx.input.partition,
            offset: cx.input.offset,
            timestamp: ts,
        });
    }

    /// Records a change for the changelog of `store` (if it has one).
    pub(crate) fn log(&self, cx: &mut Cx<'_>, store: &str, key: StoreKey, value: Option<Timestamped>) {
        if self.topology.stores.get(store).is_some_and(|s| s.changelog.is_some()) {
            cx.out.store_writes.push(StoreWrite { store: store.to_string(), key, value });
        }
    }

    pub(crate) fn forward(
        &mut self,
        topo: &Topology,
        node: usize,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        self.forward_to(topo, &topo.nodes[node].children, rec, cx)
    }

    fn forward_to(
        &mut self,
        topo: &Topology,
        children: &[usize],
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        if let Some((last, rest)) = children.split_last() {
            for &c in rest {
                self.process_node(topo, c, rec.clone(), cx)?;
            }
            self.process_node(topo, *last, rec, cx)?;
        }
        Ok(())
    }

    pub(crate) fn process_node(
        &mut self,
        topo: &Topology,
        node: usize,
        rec: Rec,
        cx: &mut Cx<'_>,
    ) -> Result<(), StreamsError> {
        let n = &topo.nodes[node];
        match &n.kind {
            NodeKind::Source { .. } | NodeKind::PassThrough => self.forward(topo, node, rec, cx),
            NodeKind::TableSource { store, .. } => self.table_source(topo, node, store, rec, cx, true),
            NodeKind::GlobalSource { store, .. } => self.table_source(topo, node, store, rec, cx, false),
            NodeKind::Filter { predicate, negate } => {
                let keep = predicate.test(&Env::record(&rec.key, &rec.value, rec.ts)) != *negate;
                if keep {
                    self.forward(topo, node, rec, cx)?;
                }
                Ok(())
            }
            NodeKind::DropNullKeys => {
                if rec.key.is_null() {
                    return Ok(());
                }
                self.forward(topo, node, rec, cx)
            }
            NodeKind::Map { key, value } => {
                let env = Env::record(&rec.key, &rec.value, rec.ts);
                let (k, v) = (key.eval(&env), value.eval(&env));
                self.forward(topo, node, Rec { key: k, value: v, window: None, change: None, ts: rec.ts }, cx)
            }
            NodeKind::MapValues { value } => {
                let v = value.eval(&Env::record(&rec.key, &rec.value, rec.ts));
                self.forward(topo, node, Rec { value: v, ..rec }, cx)
            }
            NodeKind::SelectKey { key } => {
                let k = key.eval(&Env::record(&rec.key, &rec.value, rec.ts));
                self.forward(topo, node, Rec { key: k, window: None, ..rec }, cx)
            }
            NodeKind::FlatMap { pairs } => {
                let items = pairs.eval(&Env::record(&rec.key, &rec.value, rec.ts));
                let Value::List(items) = items else {
                    return Ok(());
                };
                self.check_fanout(items.len())?;
                for item in items {
                    let (k, v) = match item {
                        Value::Map(mut m) => {
                            (m.remove("key").unwrap_or(Value::Null), m.remove("value").unwrap_or(Value::Null))
                        }
                        Value::List(mut pair) if pair.len() == 2 => {
                            let v = pair.pop().unwrap_or(Value::Null);
                            (pair.pop().unwrap_or(Value::Null), v)
                        }
                        _ => continue,
                    };
                    self.forward(topo, node, Rec { key: k, value: v, window: None, change: None, ts: rec.ts }, cx)?;
                }
                Ok(())
            }
            NodeKind::FlatMapValues { values } => {
                let items = values.eval(&Env::record(&rec.key, &rec.value, rec.ts));
                let Value::List(items) = items else {
                    return Ok(());
                };
                self.check_fanout(items.len())?;
                for v in items {
                    self.forward(topo, node, Rec { value: v, change: None, ..rec.clone() }, cx)?;
                }
                Ok(())
            }
            NodeKind::Peek => {
                cx.out.peeks.push(PeekEvent {
                    node: n.name.clone(),
                    key: rec.key.clone(),
                    window: rec.window,
                    value: rec.value.clone(),
                    timestamp: rec.ts,
                });
                self.forward(topo, node, rec, cx)
            }
            NodeKind::Branch { branches } => {
                let env = Env::record(&rec.key, &rec.value, rec.ts);
                let chosen = branches
                    .iter()
                    .find(|(p, _)| p.as_ref().is_none_or(|p| p.test(&env)))
                    .map(|(_, children)| children);
                match chosen {
                    Some(children) => self.forward_to(topo, children, rec, cx),
                    None => Ok(()),
                }
            }
            NodeKind::Sink { topic, internal } => {
                if cx.out.records.len() >= self.config.max_outputs_per_record {
                    return Err(StreamsError::OutputLimit { limit: self.config.max_outputs_per_record });
                }
                cx.out.records.push(OutputRecord {
                    topic: topic.clone(),
                    key: rec.key,
                    window: rec.window,
                    value: rec.value,
                    timestamp: rec.ts,
                    internal: *internal,
                });
                Ok(())
            }
            NodeKind::ToStream => self.forward(topo, node, Rec { change: None, ..rec }, cx),
            NodeKind::Aggregate { store, agg } => self.aggregate(topo, node, store, agg, rec, cx),
            NodeKind::WindowAggregate { store, agg, windows, emit } => {
                self.window_aggregate(topo, node, store, agg, windows, *emit, rec, cx)
            }
            NodeKind::Suppress { store, wait_ms } => self.suppress(topo, node, store, *wait_ms, rec, cx),
            NodeKind::StreamStreamJoin { join, side } => self.stream_stream_join(topo, node, *join, *side, rec, cx),
            NodeKind::StreamTableJoin { table_store, left, joiner } => {
                self.stream_table_join(topo, node, table_store, *left, joiner, rec, cx)
            }
            NodeKind::StreamGlobalJoin { table_store, key, left, joiner } => {
                self.stream_global_join(topo, node, table_store, key, *left, joiner, rec, cx)
            }
            NodeKind::TableTableJoin { side, kind, other_store, joiner } => {
                self.table_table_join(topo, node, *side, *kind, other_store, joiner, rec, cx)
            }
        }
    }

    fn check_fanout(&self, n: usize) -> Result<(), StreamsError> {
        if n > self.config.max_outputs_per_record {
            return Err(StreamsError::OutputLimit { limit: self.config.max_outputs_per_record });
        }
        Ok(())
    }

    /// `KTableSource` (materialized) and the global store update: put, then forward the
    /// change (global stores forward nothing).
    fn table_source(
        &mut self,
        topo: &Topology,
        node: usize,
        store: &str,
        rec: Rec,
        cx: &mut Cx<'_>,
        forward: bool,
    ) -> Result<(), StreamsError> {
        if rec.key.is_null() {
            self.drop_record(cx, node, DropReason::NullKey, rec.ts);
            return Ok(());
        }
        let Some(Store::KeyValue(s)) = self.stores.get_mut(store) else {
            return Ok(());
        };
        let new =
            if rec.value.is_null() { None } else { Some(Timestamped { value: rec.value.clone(), timestamp: rec.ts }) };
        // Out-of-order updates are applied too (Kafka only logs a warning for them).
        let old = match &new {
            Some(v) => s.entries.insert(rec.key.clone(), v.clone()),
            None => s.entries.remove(&rec.key),
        };
        self.log(cx, store, StoreKey::Key { key: rec.key.clone() }, new);
        if !forward {
            return Ok(());
        }
        let old_value = old.map(|o| o.value).unwrap_or(Value::Null);
        self.forward(topo, node, Rec { change: Some(old_value), ..rec }, cx)
    }
}

/// Stops runaway aggregates before they exhaust memory.
pub(crate) fn check_aggregate(store: &str, v: &Value) -> Result<(), StreamsError> {
    if matches!(v, Value::List(_) | Value::Map(_))
        && (v.depth() > MAX_AGGREGATE_DEPTH || v.weight() > MAX_AGGREGATE_WEIGHT)
    {
        return Err(StreamsError::AggregateLimit { store: store.to_string(), limit: MAX_AGGREGATE_WEIGHT });
    }
    Ok(())
}

/// Applies the source's timestamp extractor. `None` means the timestamp is invalid and the
/// record is skipped (`LogAndSkipOnInvalidTimestamp`; Kafka's default extractor would
/// instead stop the application on a negative record timestamp).
pub fn extract_timestamp(spec: &TimestampSpec, record: &InputRecord, now: i64) -> Option<i64> {
    let ts = match spec {
        TimestampSpec::Record => record.timestamp,
        TimestampSpec::WallClock => now,
        TimestampSpec::Field(f) => match record.value.field(f) {
            Value::Int(ms) => *ms,
            Value::Float(ms) if ms.is_finite() && ms.abs() < 9.0e15 => ms.trunc() as i64,
            Value::Str(s) => parse_datetime(s).or_else(|| s.trim().parse::<i64>().ok())?,
            _ => return None,
        },
    };
    if (0..=MAX_TIMESTAMP_MS).contains(&ts) {
        Some(ts)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::topology::TopologySpec;

    fn spec() -> TopologySpec {
        serde_json::from_value(serde_json::json!({"application_id": "app", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"],
             "timestamp": {"field": "tpep_pickup_datetime"}},
            {"op": "stream", "name": "requests", "topics": ["requests"]},
            {"op": "table", "name": "zones", "topic": "zones"},
            {"op": "group_by_key", "name": "g", "input": "rides"},
            {"op": "count", "name": "counts", "input": "g"},
            {"op": "join", "name": "vendor_info", "left": "rides", "right": "requests", "kind": "left",
             "window": {"before_ms": 1200000, "after_ms": 1200000, "grace_ms": 300000}},
            {"op": "join", "name": "with_zone", "left": "rides", "right": "zones"},
            {"op": "to", "input": "vendor_info", "topic": "vendor_info"},
            {"op": "to", "input": "with_zone", "topic": "with_zone"}]}))
        .unwrap()
    }

    fn record(topic: &str, offset: i64, key: &str, value: Value, ts: i64) -> InputRecord {
        InputRecord { topic: topic.into(), partition: 1, offset, key: Value::str(key), value, timestamp: ts }
    }

    fn ride(pickup: &str) -> Value {
        serde_json::from_value(serde_json::json!({"tpep_pickup_datetime": pickup, "VendorID": 2})).unwrap()
    }

    #[test]
    fn a_restored_task_has_the_same_stores() {
        let p = BTreeMap::from([("rides".to_string(), 2), ("requests".to_string(), 2), ("zones".to_string(), 2)]);
        let topo = Arc::new(spec().compile(&p).unwrap());
        assert_eq!(topo.subtopologies.len(), 1);
        let mut task = Task::new(Arc::clone(&topo), 0, 1, TaskConfig::default());
        assert_eq!(task.id(), "0_1");
        let mut changelog = Vec::new();
        let inputs = [
            record("zones", 0, "132", Value::str("JFK"), 5),
            record("rides", 0, "132", ride("2021-01-01 00:00:10"), 999),
            record("rides", 1, "132", ride("2021-01-01 00:05:00"), 999),
            record("requests", 0, "132", Value::str("req"), 1_609_459_300_000),
            record("rides", 2, "7", ride("not a date"), 999),
        ];
        let mut outputs = Vec::new();
        let mut dropped = Vec::new();
        for (i, r) in inputs.iter().enumerate() {
            let out = task.process(r, 1000 * i as i64).unwrap();
            changelog.extend(out.store_writes);
            outputs.extend(out.records);
            dropped.extend(out.dropped);
        }
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].reason, DropReason::InvalidTimestamp);
        assert_eq!(task.stream_time(), 1_609_459_500_000);
        // Event time comes from the field, not the record timestamp.
        assert!(outputs.iter().any(|o| o.topic == "with_zone" && o.timestamp == 1_609_459_210_000));
        assert!(changelog.iter().all(|w| topo.stores[&w.store].changelog.is_some()));
        let mut restored = Task::new(Arc::clone(&topo), 0, 1, TaskConfig::default());
        restored.restore(&changelog).unwrap();
        assert_eq!(restored.stores, task.stores);
        // The snapshot is plain data.
        let json = serde_json::to_string(&task).unwrap();
        let back: Task = serde_json::from_str(&json).unwrap();
        assert_eq!(back.stores, task.stores);
    }

    #[test]
    fn records_from_foreign_topics_are_rejected() {
        let topo = Arc::new(spec().compile_for_test_driver().unwrap());
        let mut task = Task::new(topo, 0, 0, TaskConfig::default());
        let err = task.process(&record("nope", 0, "k", Value::Null, 1), 0).unwrap_err();
        assert_eq!(err, StreamsError::UnknownTopic { topic: "nope".into() });
    }

    #[test]
    fn the_state_limit_stops_the_task() {
        let topo = Arc::new(spec().compile_for_test_driver().unwrap());
        let config = TaskConfig { max_state_entries: 3, ..TaskConfig::default() };
        let mut task = Task::new(topo, 0, 0, config);
        let mut result = Ok(TaskOutput::default());
        for i in 0..10 {
            result = task.process(&record("zones", i, &format!("z{i}"), Value::str("x"), i), 0);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(StreamsError::StateLimit { limit: 3, .. })), "{result:?}");
    }

    #[test]
    fn stateless_operations_transform_route_and_report() {
        use crate::streams::driver::TestDriver;
        let spec: TopologySpec = serde_json::from_value(serde_json::json!({"application_id": "app", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"]},
            {"op": "filter_not", "name": "paid", "input": "rides", "predicate": "payment_type == 3"},
            {"op": "map_values", "name": "amounts", "input": "paid", "value": "total_amount"},
            {"op": "peek", "name": "seen", "input": "amounts"},
            {"op": "map", "name": "by_vendor", "input": "rides", "key": "str(VendorID)", "value": "{zone: PULocationID}"},
            {"op": "flat_map_values", "name": "zones", "input": "by_vendor", "values": "[value.zone, value.zone + 1000]"},
            {"op": "flat_map", "name": "pairs", "input": "rides", "pairs": "[{key: 'p', value: VendorID}, ['q', 0], 'skipped']"},
            {"op": "merge", "name": "all", "inputs": ["amounts", "pairs"]},
            {"op": "to", "input": "all", "topic": "all"},
            {"op": "to", "input": "zones", "topic": "zones"}]}))
        .unwrap();
        let mut d = TestDriver::new(spec.compile_for_test_driver().unwrap());
        let ride = |vendor: i64, payment: i64, zone: i64| -> Value {
            serde_json::from_value(serde_json::json!({"VendorID": vendor, "payment_type": payment,
                "PULocationID": zone, "total_amount": 12.5}))
            .unwrap()
        };
        let p = d.pipe("rides", Value::str("r1"), ride(2, 1, 132), 10).unwrap();
        let got: Vec<String> = p.records.iter().map(|r| format!("{} {} {}", r.topic, r.key, r.value)).collect();
        assert_eq!(got, vec!["all \"r1\" 12.5", "zones \"2\" 132", "zones \"2\" 1132", "all \"p\" 2", "all \"q\" 0",]);
        assert_eq!(p.peeks.len(), 1);
        assert_eq!(p.peeks[0].node, "seen");
        let p = d.pipe("rides", Value::str("r2"), ride(1, 3, 7), 11).unwrap();
        assert!(p.records.iter().all(|r| r.topic != "all" || r.key != Value::str("r2")));
        assert!(p.peeks.is_empty());
    }

    #[test]
    fn emit_on_window_close_is_paced_by_the_wall_clock_with_kafkas_default_interval() {
        let spec: TopologySpec = serde_json::from_value(serde_json::json!({"application_id": "app", "steps": [
            {"op": "stream", "name": "s", "topics": ["in"]},
            {"op": "group_by_key", "name": "g", "input": "s"},
            {"op": "windowed_by", "name": "w", "input": "g", "emit": "on_window_close",
             "window": {"type": "tumbling", "size_ms": 10}},
            {"op": "count", "name": "c", "input": "w"},
            {"op": "to_stream", "name": "r", "input": "c"},
            {"op": "to", "input": "r", "topic": "out"}]}))
        .unwrap();
        let topo = Arc::new(spec.compile_for_test_driver().unwrap());
        let mut task = Task::new(topo, 0, 0, TaskConfig::default());
        let mut emitted = |ts: i64, now: i64| -> usize {
            task.process(&record("in", ts, "k", Value::str("v"), ts), now).unwrap().records.len()
        };
        assert_eq!(emitted(1, 0), 0); // scans (nothing closed); next scan at 1000
        assert_eq!(emitted(15, 500), 0); // [0,10) closed, but the scan is throttled
        assert_eq!(emitted(16, 1000), 1); // scan: [0,10) emitted
        assert_eq!(emitted(27, 1999), 0);
        assert_eq!(emitted(28, 2000), 1); // [10,20)
        assert_eq!(task.processor_metadata().get("c"), Some(&28));
    }
}
