//! The end-of-run summary: partitions, producers (acked / failed / lost with offsets),
//! consumers, invariants, and the digest. It is what `kafka-sandbox run` prints and what
//! scenario expectations are checked against.
use crate::cluster::broker::{BrokerStatus, Role};
use crate::config::Acks;
use crate::consumer::Position;
pub use crate::group::describe::GroupSummary;
use crate::group::offsets::OFFSETS_TOPIC;
use crate::ledger::Outcome;
use crate::record::{RecordId, TopicPartition};
use crate::sim::digest::format_digest;
use crate::sim::time::SimTime;
use crate::world::World;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many record positions a summary lists per category.
pub const LISTED: usize = 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSummary {
    pub broker: u32,
    pub status: BrokerStatus,
    pub role: String,
    pub leo: u64,
    pub hw: u64,
    pub log_start: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionSummary {
    pub partition: String,
    pub leader: Option<u32>,
    pub leader_epoch: u32,
    pub isr: Vec<u32>,
    pub replicas: Vec<ReplicaSummary>,
    /// The leader's HW, LEO and log start (0 when offline).
    pub hw: u64,
    pub leo: u64,
    pub log_start: u64,
    pub offline: bool,
    pub under_replicated: bool,
    /// Records and segments in the leader's log (after retention and compaction).
    pub records: u64,
    pub segments: u32,
    /// Compacted topics: distinct keys and tombstones in the leader's log, and the log
    /// cleaner's checkpoint (offsets below it have been compacted).
    pub keys: u64,
    pub tombstones: u64,
    pub cleaned_to: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerSummary {
    pub name: String,
    pub acks: String,
    pub idempotence: bool,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub failed_by_error: BTreeMap<String, u64>,
    /// acks=0: sent without an answer.
    pub unknown: u64,
    /// Acknowledged (or acks=0) records that are not in the partition's log.
    pub lost: u64,
    pub lost_records: Vec<String>,
    /// Extra copies of records in the logs.
    pub duplicates: u64,
    pub duplicate_records: Vec<String>,
    /// Records that landed after a later record from the same producer on the same partition.
    pub reordered: u64,
    /// Records the producer reported as failed that are in the log anyway.
    pub failed_but_written: u64,
    /// Not yet answered when the run ended.
    pub pending: u64,
    pub retries: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSummary {
    pub name: String,
    pub group: Option<String>,
    pub alive: bool,
    /// Records the application finished processing.
    pub consumed: u64,
    pub positions: BTreeMap<String, u64>,
    /// `records-lag` per partition: HW minus position.
    pub lag: BTreeMap<String, u64>,
    /// `records-lag-max` over the run.
    pub records_lag_max: u64,
    pub assignment: Vec<String>,
    pub offset_resets: u64,
    /// `commit-total`, failed commits, and `commit-rate` (per second of the run).
    pub commits: u64,
    pub commit_failures: u64,
    pub commit_rate: f64,
    /// `rebalance-total`, `rebalance-latency-max` and `-avg` (ms), `failed-rebalance-total`.
    pub rebalances: u64,
    pub rebalance_latency_max_ms: f64,
    pub rebalance_latency_avg_ms: f64,
    pub failed_rebalances: u64,
    /// Times it left the group for not polling within `max.poll.interval.ms`.
    pub poll_timeouts: u64,
    /// Deserializers: records read as JSON/Avro, failures reported, registry fetches, and
    /// the last record read (decoded).
    #[serde(default)]
    pub records_deserialized: u64,
    #[serde(default)]
    pub deserialization_failures: u64,
    #[serde(default)]
    pub schema_fetches: u64,
    #[serde(default)]
    pub records_with_defaults: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read: Option<crate::consumer::deserializer::LastRead>,
}

/// How often each record was processed by one reader (a group or a standalone consumer).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliverySummary {
    pub reader: String,
    pub once: u64,
    pub more_than_once: u64,
    /// Committed records (in the logs, below the HW) never processed.
    pub never: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvariantSummary {
    pub name: String,
    pub description: String,
    pub held: bool,
    pub violations: u64,
    pub first_violation_step: Option<u64>,
    pub first_violation_ms: Option<f64>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerSummary {
    pub id: u32,
    pub status: BrokerStatus,
    pub fenced: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub seed: u64,
    pub steps: u64,
    pub time_ms: f64,
    pub digest: String,
    pub brokers: Vec<BrokerSummary>,
    pub partitions: Vec<PartitionSummary>,
    pub producers: Vec<ProducerSummary>,
    pub consumers: Vec<ConsumerSummary>,
    pub deliveries: Vec<DeliverySummary>,
    pub groups: Vec<GroupSummary>,
    pub invariants: Vec<InvariantSummary>,
    /// Errors producers saw in responses, retried ones included.
    pub produce_errors: BTreeMap<String, u64>,
    pub unclean_elections: u64,
    pub leader_elections: u64,
    pub isr_shrinks: u64,
    pub isr_expansions: u64,
    /// Records removed from replica logs by truncation after leader changes.
    pub truncated_records: u64,
    /// The Schema Registry, when the run has one.
    pub schema_registry: Option<RegistrySummary>,
    /// Kafka Streams applications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamsAppSummary>,
    /// ksqlDB clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ksql: Vec<KsqlSummary>,
    /// Kafka Connect connectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connectors: Vec<ConnectorSummary>,
}

/// One Kafka Connect task: its id, its client and the state Connect would report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectTaskSummary {
    pub id: u32,
    pub client: String,
    pub state: String,
    /// Records the task produced (source) or wrote (sink).
    pub records: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One Kafka Connect connector at the end of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSummary {
    pub name: String,
    pub class: String,
    /// "source" or "sink".
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub tasks: Vec<ConnectTaskSummary>,
    /// Records produced (source) or written to the table (sink), repeats included.
    pub records: u64,
    /// Source: records sent again after a restart from an older source offset.
    /// Sink: rows that repeat a record already in the table.
    pub duplicates: u64,
    /// Sink: records written more than once (redelivered after a crash or rebalance).
    pub redelivered: u64,
    /// Sink: rows per table.
    pub tables: BTreeMap<String, u64>,
}

impl ConnectorSummary {
    pub fn rows(&self) -> u64 {
        self.tables.values().sum()
    }
}

/// Every connector of the world's Connect worker as the run summary reports it (also read
/// live by the web app).
pub fn connector_summaries(world: &World) -> Vec<ConnectorSummary> {
    let Some(rt) = &world.connect else { return Vec::new() };
    rt.connectors
        .iter()
        .map(|c| {
            let source = c.spec.is_source();
            let tasks: Vec<ConnectTaskSummary> = c
                .tasks
                .iter()
                .map(|t| ConnectTaskSummary {
                    id: t.id,
                    client: c.spec.task_client(t.id),
                    state: if c.paused && t.state == crate::connect::TaskState::Running {
                        "PAUSED".into()
                    } else {
                        t.state.name().into()
                    },
                    records: if source { t.source.produced } else { t.sink.written },
                    error: t.sink.error.clone(),
                })
                .collect();
            ConnectorSummary {
                name: c.spec.name.clone(),
                class: c.spec.class.clone(),
                kind: if source { "source" } else { "sink" }.into(),
                // Connect reports a connector RUNNING even when its tasks failed.
                state: if c.paused { "PAUSED" } else { "RUNNING" }.into(),
                records: tasks.iter().map(|t| t.records).sum(),
                tasks,
                duplicates: if source {
                    c.tasks.iter().map(|t| t.source.duplicates).sum()
                } else {
                    c.tables.values().map(|t| t.duplicate_rows).sum()
                },
                redelivered: c.tables.values().map(|t| t.redelivered).sum(),
                tables: crate::collect::btree_map(c.tables.iter().map(|(n, t)| (n.clone(), t.rows.len() as u64))),
            }
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamsInstanceSummary {
    pub name: String,
    pub alive: bool,
    pub tasks: Vec<String>,
    pub processed: u64,
    /// exactly_once_v2: transactions the instance committed, and open ones it lost (a
    /// fenced or failed producer; a crash leaves its open transaction to the coordinator).
    #[serde(default)]
    pub transactions_committed: u64,
    #[serde(default)]
    pub transactions_aborted: u64,
}

/// One row of a store (an interactive query's answer): key, window start, value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreRow {
    pub key: String,
    pub window_start: Option<i64>,
    pub value: String,
}

/// What one output topic holds, per key, as a read_committed consumer sees it on the
/// leaders (below the last stable offset, aborted transactions left out): the latest value
/// and how many records carry that key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicKeySummary {
    pub key: String,
    pub last_value: Option<String>,
    pub records: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamsAppSummary {
    pub application_id: String,
    pub processing_guarantee: String,
    pub processed: u64,
    pub reprocessed: u64,
    pub restored: u64,
    pub dropped: u64,
    pub produced: u64,
    pub instances: Vec<StreamsInstanceSummary>,
    pub stores: BTreeMap<String, Vec<StoreRow>>,
    pub outputs: BTreeMap<String, Vec<TopicKeySummary>>,
}

/// Rows shown per store and keys per output topic in a summary.
const MAX_SUMMARY_ROWS: usize = 10_000;

fn streams_summaries(world: &World) -> Vec<StreamsAppSummary> {
    world
        .streams
        .iter()
        .map(|app| {
            let topo = &app.spec.topology;
            let instances = app
                .instances
                .iter()
                .map(|i| StreamsInstanceSummary {
                    name: world.consumers[i.consumer as usize].name.clone(),
                    alive: world.consumers[i.consumer as usize].alive,
                    tasks: i.tasks.keys().map(|t| t.to_string()).collect(),
                    processed: i.processed,
                    transactions_committed: i.eos.commits,
                    transactions_aborted: i.eos.aborts,
                })
                .collect();
            let stores = topo
                .stores
                .keys()
                .map(|name| {
                    let rows = app
                        .query(name)
                        .into_iter()
                        .take(MAX_SUMMARY_ROWS)
                        .map(|(key, window_start, v)| StoreRow { key, window_start, value: v.to_java_string() })
                        .collect();
                    (name.clone(), rows)
                })
                .collect();
            let outputs = topo.output_topics.iter().map(|t| (t.clone(), topic_keys(world, t))).collect();
            StreamsAppSummary {
                application_id: app.spec.application_id.clone(),
                processing_guarantee: app.spec.guarantee.to_string(),
                processed: app.processed,
                reprocessed: app.reprocessed,
                restored: app.restored,
                dropped: app.dropped,
                produced: app.produced,
                instances,
                stores,
                outputs,
            }
        })
        .collect()
}

/// Per key of a topic: the latest value a read_committed consumer reads on each partition's
/// leader, and the number of such records with the key.
fn topic_keys(world: &World, topic: &str) -> Vec<TopicKeySummary> {
    let mut keys: BTreeMap<String, (Option<String>, u64)> = BTreeMap::new();
    for (tp, state) in world.controller.image.partitions() {
        if &*tp.topic != topic {
            continue;
        }
        let Some(log) = state.leader.and_then(|l| world.broker(l)).and_then(|b| b.replicas.get(&tp)).map(|r| &r.log)
        else {
            continue;
        };
        // What a read_committed consumer of the topic sees.
        for (_, r) in log.read_committed() {
            let key = r.key.as_ref().map(|k| k.display()).unwrap_or_else(|| "null".into());
            if !keys.contains_key(&key) && keys.len() >= MAX_SUMMARY_ROWS {
                continue;
            }
            let e = keys.entry(key).or_insert((None, 0));
            e.0 = r.value.as_ref().map(|v| v.display());
            e.1 += 1;
        }
    }
    keys.into_iter().map(|(key, (last_value, records))| TopicKeySummary { key, last_value, records }).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubjectSummary {
    pub subject: String,
    /// Live versions with their schema ids: (version, id).
    pub versions: Vec<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrySummary {
    pub alive: bool,
    pub subjects: Vec<SubjectSummary>,
    /// Registrations refused (409 incompatible, 422 invalid) during the run.
    pub refusals: u64,
}

fn position(tp: &TopicPartition, offset: u64) -> String {
    format!("{tp}@{offset}")
}

/// Where each record sits in the authoritative log of its partition (the leader's, or when
/// the partition is offline, the longest log among its ISR).
struct Audit {
    /// Per record: where it appears.
    seen: Seen,
    /// Per partition: the bounds of its authoritative log.
    bounds: BTreeMap<TopicPartition, LogBounds>,
    reordered: BTreeMap<u32, u64>,
}

/// Where each record appears in the authoritative logs, in partition order then offset
/// order. Dense by record id for the ledger's records (the summary is recomputed once a
/// second while the web app plays, so one allocation per record was its cost): the first
/// copy inline, further copies (duplicates, rare) in a map.
struct Seen {
    /// The partitions in the order they were audited; places refer to them by index.
    partitions: Vec<TopicPartition>,
    /// Per ledger record id: its first place, or `UNSEEN`.
    first: Vec<(u32, u64)>,
    /// Second and later places of the ledger's records.
    more: BTreeMap<RecordId, Vec<(u32, u64)>>,
    /// Every place of records the ledger does not track (the brokers' own, for one).
    untracked: BTreeMap<RecordId, Vec<(u32, u64)>>,
}

const UNSEEN: (u32, u64) = (u32::MAX, u64::MAX);

impl Seen {
    fn new(ledger_records: usize) -> Seen {
        Seen {
            partitions: Vec::new(),
            first: vec![UNSEEN; ledger_records],
            more: BTreeMap::new(),
            untracked: BTreeMap::new(),
        }
    }

    fn push(&mut self, id: RecordId, place: (u32, u64)) {
        match self.first.get_mut(id.0 as usize) {
            Some(first) if *first == UNSEEN => *first = place,
            Some(_) => self.more.entry(id).or_default().push(place),
            None => self.untracked.entry(id).or_default().push(place),
        }
    }

    fn copies(&self, id: RecordId) -> u64 {
        match self.first.get(id.0 as usize) {
            Some(first) if *first == UNSEEN => 0,
            Some(_) => 1 + self.more.get(&id).map_or(0, |m| m.len() as u64),
            None => self.untracked.get(&id).map_or(0, |m| m.len() as u64),
        }
    }

    /// The `n`th place of a record (0 = the first), as a partition and an offset.
    fn place(&self, id: RecordId, n: usize) -> Option<(&TopicPartition, u64)> {
        let (p, offset) = match self.first.get(id.0 as usize) {
            Some(first) if *first == UNSEEN => None,
            Some(first) if n == 0 => Some(*first),
            Some(_) => self.more.get(&id).and_then(|m| m.get(n - 1)).copied(),
            None => self.untracked.get(&id).and_then(|m| m.get(n)).copied(),
        }?;
        Some((&self.partitions[p as usize], offset))
    }

    /// Every record seen with its places (partition indices), the ledger's in id order,
    /// then the untracked ones.
    fn each(&self, mut f: impl FnMut(RecordId, &mut dyn Iterator<Item = (u32, u64)>)) {
        for (i, first) in self.first.iter().enumerate() {
            if *first == UNSEEN {
                continue;
            }
            let id = RecordId(i as u64);
            let more = self.more.get(&id).map(|m| m.as_slice()).unwrap_or(&[]);
            f(id, &mut std::iter::once(*first).chain(more.iter().copied()));
        }
        for (id, places) in &self.untracked {
            f(*id, &mut places.iter().copied());
        }
    }
}

/// Log start and HW of a partition's authoritative log, and (compacted topics) the
/// cleaner's checkpoint: records below it may be gone by design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LogBounds {
    start: u64,
    hw: u64,
    cleaned: u64,
}

impl LogBounds {
    fn of(world: &World, tp: &TopicPartition, log: &crate::log::PartitionLog) -> LogBounds {
        let compacts =
            world.controller.image.topic_config(&tp.topic).map(|c| c.cleanup_policy.compacts()).unwrap_or(false);
        LogBounds {
            start: log.log_start_offset(),
            hw: log.high_watermark(),
            cleaned: if compacts { log.cleaned_to() } else { 0 },
        }
    }

    /// What removed the record at `offset` on purpose, if anything did: retention (or a
    /// record deletion) below the log start, the log cleaner below its checkpoint.
    fn removed(&self, offset: u64) -> Option<Removal> {
        if offset == u64::MAX {
            None
        } else if offset < self.start {
            Some(Removal::Retention)
        } else if offset < self.cleaned {
            Some(Removal::Compaction)
        } else {
            None
        }
    }
}

/// Why a record is no longer in its partition's log although nothing went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Below the log start offset: retention (or `deleteRecords`) removed it.
    Retention,
    /// Superseded by a later record with the same key: the log cleaner removed it.
    Compaction,
}

/// Whether a record the producer was told about is lost: acknowledged (or sent with
/// acks=0), no copy of it in the authoritative log, and not removed on purpose. The one rule
/// behind [`ProducerSummary::lost`] and [`record_fates`].
fn is_lost(outcome: Outcome, in_log: bool, bounds: Option<&LogBounds>) -> bool {
    match outcome {
        Outcome::Acked { offset } => !in_log && bounds.and_then(|b| b.removed(offset)).is_none(),
        Outcome::Unknown => !in_log,
        Outcome::Pending | Outcome::Failed { .. } => false,
    }
}

fn audit(world: &World) -> Audit {
    let mut seen = Seen::new(world.ledger.records.len());
    let mut bounds = BTreeMap::new();
    let mut reordered: BTreeMap<u32, u64> = BTreeMap::new();
    for (tp, _) in world.controller.image.partitions() {
        let Some(log) = crate::group::describe::authoritative_log(world, &tp) else { continue };
        if &*tp.topic == OFFSETS_TOPIC {
            continue; // the brokers' own records: no producer sent them
        }
        bounds.insert(tp.clone(), LogBounds::of(world, &tp, log));
        let index = seen.partitions.len() as u32;
        seen.partitions.push(tp);
        let mut last_by_producer: BTreeMap<u32, u64> = BTreeMap::new();
        for b in log.batches() {
            for (offset, r) in b.records() {
                seen.push(r.id, (index, offset));
                if let Some(e) = world.ledger.entry(r.id) {
                    let last = last_by_producer.entry(e.producer).or_insert(0);
                    if r.id.0 < *last {
                        *reordered.entry(e.producer).or_insert(0) += 1;
                    } else {
                        *last = r.id.0;
                    }
                }
            }
        }
    }
    Audit { seen, bounds, reordered }
}

/// What became of one record, judged by the rule of the run summary's audit
/// ([`ProducerSummary::lost`]) but for this record alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordFate {
    /// Not answered yet.
    Pending,
    /// The producer reported an error.
    Failed { error: crate::error::ErrorCode },
    /// Acknowledged, and in the partition's authoritative log.
    Acked { offset: u64 },
    /// Acknowledged, then removed on purpose (retention, compaction).
    Removed { offset: u64, by: Removal },
    /// Sent with acks=0 (no answer), and in the log at this offset.
    Unacknowledged { offset: u64 },
    /// Acknowledged (at `offset`) or sent with acks=0 (`None`), and not in the log: lost.
    /// `why` when the run shows how.
    Lost { offset: Option<u64>, why: Option<String> },
}

/// The fate of a few records (a panel's latest ones), each checked against its partition's
/// authoritative log: a lookup at the acknowledged offset, and only for a record missing
/// there (or sent with acks=0) one scan per partition, newest batches first. Unknown ids are
/// `Pending`.
pub fn record_fates(world: &World, ids: &[RecordId]) -> Vec<RecordFate> {
    use crate::group::describe::authoritative_log;
    let ledger = &world.ledger;
    // First pass: what the ledger and a lookup at the offset settle.
    let mut fates: Vec<Option<RecordFate>> = Vec::with_capacity(ids.len());
    let mut search: BTreeMap<TopicPartition, Vec<usize>> = BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        let Some(e) = ledger.entry(id) else {
            fates.push(Some(RecordFate::Pending));
            continue;
        };
        let fate = match e.outcome {
            Outcome::Pending => Some(RecordFate::Pending),
            Outcome::Failed { error } => Some(RecordFate::Failed { error }),
            Outcome::Acked { offset } => {
                let log = ledger.topic_partition(id).and_then(|tp| authoritative_log(world, &tp).map(|l| (tp, l)));
                match log {
                    Some((_, log)) if log.record_at(offset).is_some_and(|r| r.id == id) => {
                        Some(RecordFate::Acked { offset })
                    }
                    Some((tp, log)) => match LogBounds::of(world, &tp, log).removed(offset) {
                        Some(by) => Some(RecordFate::Removed { offset, by }),
                        None => {
                            search.entry(tp).or_default().push(i);
                            None
                        }
                    },
                    None => None,
                }
            }
            Outcome::Unknown => {
                if let Some(tp) = ledger.topic_partition(id) {
                    search.entry(tp).or_default().push(i);
                }
                None
            }
        };
        fates.push(fate);
    }
    // Second pass: records not where they were acknowledged, looked for anywhere in the log.
    let mut found: BTreeMap<RecordId, u64> = BTreeMap::new();
    for (tp, wanted) in &search {
        let Some(log) = authoritative_log(world, tp) else { continue };
        let mut missing: Vec<RecordId> = wanted.iter().map(|&i| ids[i]).collect();
        'batches: for b in log.batches().iter().rev() {
            for (offset, r) in b.records() {
                if let Some(k) = missing.iter().position(|m| *m == r.id) {
                    found.insert(r.id, offset);
                    missing.swap_remove(k);
                    if missing.is_empty() {
                        break 'batches;
                    }
                }
            }
        }
    }
    ids.iter()
        .zip(fates)
        .map(|(&id, fate)| {
            if let Some(f) = fate {
                return f;
            }
            let Some(e) = ledger.entry(id) else { return RecordFate::Pending };
            let tp = ledger.topic_partition(id);
            let log = tp.as_ref().and_then(|tp| authoritative_log(world, tp).map(|l| (tp, l)));
            let bounds = log.map(|(tp, l)| LogBounds::of(world, tp, l));
            let at = found.get(&id).copied();
            if !is_lost(e.outcome, at.is_some(), bounds.as_ref()) {
                return match (e.outcome, at) {
                    (Outcome::Unknown, Some(offset)) => RecordFate::Unacknowledged { offset },
                    (Outcome::Acked { offset }, None) => match bounds.and_then(|b| b.removed(offset)) {
                        Some(by) => RecordFate::Removed { offset, by },
                        None => RecordFate::Acked { offset },
                    },
                    (Outcome::Acked { offset }, Some(_)) => RecordFate::Acked { offset },
                    _ => RecordFate::Pending,
                };
            }
            let offset = match e.outcome {
                Outcome::Acked { offset } if offset != u64::MAX => Some(offset),
                _ => None,
            };
            let why = tp.as_ref().and_then(|tp| loss_reason(world, tp, offset, e.sent_at));
            RecordFate::Lost { offset, why }
        })
        .collect()
}

/// How a record sent at `sent_at` to `tp` (at `offset`, when acknowledged) left the log,
/// when the run shows it: a topic or partition without any log left, a power loss, an
/// unclean election, a leader change to a replica without it. Nothing for acks=0 records, which
/// may never have been written.
fn loss_reason(world: &World, tp: &TopicPartition, offset: Option<u64>, sent_at: SimTime) -> Option<String> {
    let Some(state) = world.controller.image.partition(tp) else {
        return Some(format!("{} no longer exists", tp.topic));
    };
    if crate::group::describe::authoritative_log(world, tp).is_none() {
        return Some("the partition is offline: no in-sync replica has a log".into());
    }
    // acks=0: it may never have reached a log at all.
    let offset = offset?;
    let power = world
        .power_losses
        .iter()
        .find(|(t, _, from, at)| t == tp && *at >= sent_at && *from <= offset)
        .map(|(_, b, _, _)| *b);
    if let Some(b) = power {
        return Some(format!("b{b} lost power before flushing it to disk"));
    }
    if world.controller.unclean_elections.iter().any(|(t, _)| t == tp) {
        return Some("an unclean leader election chose a replica without it".into());
    }
    (state.leader_epoch > 0).then(|| "gone after a leader change: the new leader never had it".into())
}

impl RunSummary {
    pub fn of(world: &World) -> RunSummary {
        let audit = audit(world);
        let mut producers: Vec<ProducerSummary> = world
            .producers
            .iter()
            .map(|p| ProducerSummary {
                name: p.name.clone(),
                acks: p.config.acks.to_string(),
                idempotence: p.config.enable_idempotence,
                retries: p.stats.retries,
                ..Default::default()
            })
            .collect();
        for (i, e) in world.ledger.records.iter().enumerate() {
            let id = RecordId(i as u64);
            let Some(ps) = producers.get_mut(e.producer as usize) else {
                continue;
            };
            ps.sent += 1;
            let copies = audit.seen.copies(id);
            if copies > 1 {
                ps.duplicates += copies - 1;
                if ps.duplicate_records.len() < LISTED {
                    if let Some((tp, off)) = audit.seen.place(id, 1) {
                        ps.duplicate_records.push(position(tp, off));
                    }
                }
            }
            let tp = world.ledger.topic_partition(id);
            let lost = is_lost(e.outcome, copies > 0, tp.as_ref().and_then(|tp| audit.bounds.get(tp)));
            match e.outcome {
                Outcome::Acked { offset } => {
                    ps.acked += 1;
                    if lost {
                        ps.lost += 1;
                        if ps.lost_records.len() < LISTED {
                            if let Some(tp) = &tp {
                                ps.lost_records.push(position(tp, offset));
                            }
                        }
                    }
                }
                Outcome::Unknown => {
                    ps.unknown += 1;
                    if lost {
                        ps.lost += 1;
                        if ps.lost_records.len() < LISTED {
                            if let Some(tp) = &tp {
                                ps.lost_records.push(format!("{tp}@?"));
                            }
                        }
                    }
                }
                Outcome::Failed { error } => {
                    ps.failed += 1;
                    *ps.failed_by_error.entry(error.to_string()).or_insert(0) += 1;
                    if copies > 0 {
                        ps.failed_but_written += 1;
                    }
                }
                Outcome::Pending => ps.pending += 1,
            }
        }
        for (p, n) in &audit.reordered {
            if let Some(ps) = producers.get_mut(*p as usize) {
                ps.reordered = *n;
            }
        }

        let partitions = world
            .controller
            .image
            .partitions()
            .map(|(tp, state)| {
                let replicas: Vec<ReplicaSummary> = state
                    .replicas
                    .iter()
                    .filter_map(|&r| {
                        let b = world.broker(r)?;
                        let rep = b.replicas.get(&tp);
                        Some(ReplicaSummary {
                            broker: r,
                            status: b.status,
                            role: match rep.map(|x| &x.role) {
                                Some(Role::Leader(_)) => "leader".into(),
                                Some(Role::Follower(_)) => "follower".into(),
                                _ => "offline".into(),
                            },
                            leo: rep.map(|x| x.log.log_end_offset()).unwrap_or(0),
                            hw: rep.map(|x| x.log.high_watermark()).unwrap_or(0),
                            log_start: rep.map(|x| x.log.log_start_offset()).unwrap_or(0),
                        })
                    })
                    .collect();
                let leader_rep = state.leader.and_then(|l| replicas.iter().find(|r| r.broker == l));
                let compacts = world
                    .controller
                    .image
                    .topic_config(&tp.topic)
                    .map(|c| c.cleanup_policy.compacts())
                    .unwrap_or(false);
                let log = crate::group::describe::authoritative_log(world, &tp);
                let (mut keys, mut tombstones) = (0u64, 0u64);
                if compacts {
                    if let Some(log) = log {
                        let mut seen = std::collections::BTreeSet::new();
                        for b in log.batches() {
                            for (_, r) in b.records() {
                                if let Some(k) = &r.key {
                                    seen.insert(k.clone());
                                }
                                tombstones += u64::from(r.value.is_none());
                            }
                        }
                        keys = seen.len() as u64;
                    }
                }
                PartitionSummary {
                    partition: tp.to_string(),
                    leader: state.leader,
                    leader_epoch: state.leader_epoch,
                    isr: state.isr.clone(),
                    hw: leader_rep.map(|r| r.hw).unwrap_or(0),
                    leo: leader_rep.map(|r| r.leo).unwrap_or(0),
                    log_start: leader_rep.map(|r| r.log_start).unwrap_or(0),
                    offline: state.leader.is_none(),
                    under_replicated: state.isr.len() < state.replicas.len(),
                    records: log.map(|l| l.record_count()).unwrap_or(0),
                    segments: log.map(|l| l.segments().len() as u32).unwrap_or(0),
                    keys,
                    tombstones,
                    cleaned_to: if compacts { log.map(|l| l.cleaned_to()).unwrap_or(0) } else { 0 },
                    replicas,
                }
            })
            .collect();

        let hw_of = |tp: &TopicPartition| audit.bounds.get(tp).map(|b| b.hw);
        // A read_committed consumer's lag is to the last stable offset (the leader's).
        let lso_of = |tp: &TopicPartition| {
            world
                .brokers
                .iter()
                .filter(|b| b.is_running())
                .filter_map(|b| b.replicas.get(tp))
                .find(|r| matches!(r.role, crate::cluster::broker::Role::Leader(_)))
                .map(|r| r.log.last_stable_offset())
                .or_else(|| hw_of(tp))
        };
        let seconds = (world.now.as_ms_f64() / 1000.0).max(1e-9);
        let consumers = world
            .consumers
            .iter()
            .map(|c| ConsumerSummary {
                name: c.name.clone(),
                group: c.config.group_id.clone(),
                alive: c.alive,
                consumed: c.stats.records_consumed,
                records_lag_max: c.stats.records_lag_max,
                assignment: c.assignment.iter().map(|tp| tp.to_string()).collect(),
                offset_resets: c.stats.offset_resets,
                commits: c.stats.commits,
                commit_failures: c.stats.commit_failures,
                commit_rate: c.stats.commits as f64 / seconds,
                rebalances: c.group.as_ref().map(|g| g.stats.rebalances).unwrap_or(0),
                rebalance_latency_max_ms: c
                    .group
                    .as_ref()
                    .map(|g| g.stats.rebalance_latency_max.as_ms_f64())
                    .unwrap_or(0.0),
                rebalance_latency_avg_ms: c
                    .group
                    .as_ref()
                    .filter(|g| g.stats.rebalances > 0)
                    .map(|g| g.stats.rebalance_latency_total.as_ms_f64() / g.stats.rebalances as f64)
                    .unwrap_or(0.0),
                failed_rebalances: c.group.as_ref().map(|g| g.stats.failed_rebalances).unwrap_or(0),
                poll_timeouts: c.group.as_ref().map(|g| g.stats.poll_timeouts).unwrap_or(0),
                records_deserialized: c.deser.stats.records_deserialized,
                deserialization_failures: c.deser.stats.deserialization_failures,
                schema_fetches: c.deser.stats.schema_fetches,
                records_with_defaults: c.deser.stats.records_with_defaults,
                last_read: c.deser.last.clone(),
                positions: crate::collect::btree_map(c.positions.iter().filter_map(|(tp, p)| match p {
                    Position::At(o) => Some((tp.to_string(), *o)),
                    _ => None,
                })),
                lag: crate::collect::btree_map(
                    if c.config.isolation_level == crate::config::IsolationLevel::ReadCommitted {
                        c.lag(lso_of)
                    } else {
                        c.lag(hw_of)
                    }
                    .into_iter()
                    .map(|(tp, l)| (tp.to_string(), l)),
                ),
            })
            .collect();

        let deliveries = world
            .ledger
            .deliveries
            .iter()
            .map(|(reader, d)| {
                let mut s = DeliverySummary { reader: reader.clone(), ..Default::default() };
                for (i, c) in d.counts.iter().enumerate() {
                    match c {
                        0 => {}
                        1 => s.once += 1,
                        _ => s.more_than_once += 1,
                    }
                    let _ = i;
                }
                // Committed records the reader could have read but never processed: those in
                // the log below the HW, and acknowledged ones that retention or the cleaner
                // removed since (they were committed once).
                let reads = |tp: &TopicPartition| {
                    world.consumers.iter().any(|c| {
                        c.reader == *reader
                            && (c.assignment.contains(tp) || c.subscription.iter().any(|t| **t == *tp.topic))
                    })
                };
                let unread = |id: RecordId| d.counts.get(id.0 as usize).copied().unwrap_or(0) == 0;
                // Per audited partition, once: its HW and whether this reader reads it.
                let parts: Vec<(Option<u64>, bool)> =
                    audit.seen.partitions.iter().map(|tp| (hw_of(tp), reads(tp))).collect();
                audit.seen.each(|id, places| {
                    let (mut committed, mut read) = (false, false);
                    for (p, off) in places {
                        let (hw, reads) = parts[p as usize];
                        committed |= hw.is_some_and(|h| off < h);
                        read |= reads;
                    }
                    if committed && read && unread(id) {
                        s.never += 1;
                    }
                });
                for (i, e) in world.ledger.records.iter().enumerate() {
                    let id = RecordId(i as u64);
                    let Outcome::Acked { offset } = e.outcome else { continue };
                    if audit.seen.copies(id) > 0 || offset == u64::MAX {
                        continue;
                    }
                    let Some(tp) = world.ledger.topic_partition(id) else { continue };
                    let removed = audit.bounds.get(&tp).and_then(|b| b.removed(offset)).is_some();
                    if removed && reads(&tp) && unread(id) {
                        s.never += 1;
                    }
                }
                s
            })
            .collect();

        let invariants = world
            .invariants
            .states
            .iter()
            .map(|s| InvariantSummary {
                name: s.id.name().into(),
                description: s.id.description().into(),
                held: s.first.is_none(),
                violations: s.count,
                first_violation_step: s.first.as_ref().map(|v| v.step),
                first_violation_ms: s.first.as_ref().map(|v| v.time.as_ms_f64()),
                detail: s.first.as_ref().map(|v| v.detail.clone()),
            })
            .collect();

        RunSummary {
            seed: world.seed,
            steps: world.steps,
            time_ms: world.now.as_ms_f64(),
            digest: format_digest(world.digest()),
            brokers: world
                .brokers
                .iter()
                .map(|b| BrokerSummary {
                    id: b.id,
                    status: b.status,
                    fenced: world.controller.image.brokers.get(&b.id).map(|m| m.fenced).unwrap_or(true),
                })
                .collect(),
            partitions,
            producers,
            consumers,
            deliveries,
            groups: crate::group::describe::group_summaries(world, &hw_of),
            invariants,
            produce_errors: crate::collect::btree_map(world.produce_errors.iter().map(|(e, n)| (e.to_string(), *n))),
            unclean_elections: world.controller.unclean_elections.len() as u64,
            leader_elections: world.controller.counters.leader_elections,
            isr_shrinks: world.controller.counters.isr_shrinks,
            isr_expansions: world.controller.counters.isr_expansions,
            truncated_records: world.truncated_records,
            schema_registry: world.schema_registry.as_ref().map(|r| RegistrySummary {
                alive: r.alive,
                subjects: r
                    .registry
                    .subjects()
                    .into_iter()
                    .map(|subject| {
                        let versions = r
                            .registry
                            .versions(&subject)
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|v| {
                                r.registry
                                    .version(&subject, crate::schema::VersionSelector::Number(v))
                                    .ok()
                                    .map(|sv| (v, sv.id))
                            })
                            .collect();
                        SubjectSummary { subject, versions }
                    })
                    .collect(),
                refusals: world.schema_refusals,
            }),
            streams: streams_summaries(world),
            ksql: ksql_summaries(world),
            connectors: connector_summaries(world),
        }
    }

    pub fn partition(&self, name: &str) -> Option<&PartitionSummary> {
        self.partitions.iter().find(|p| p.partition == name)
    }

    pub fn invariant(&self, name: &str) -> Option<&InvariantSummary> {
        self.invariants.iter().find(|i| i.name == name)
    }

    /// A readable multi-line report.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ =
            writeln!(s, "seed {}  steps {}  time {:.3}ms  digest {}", self.seed, self.steps, self.time_ms, self.digest);
        let _ = writeln!(s, "\nbrokers:");
        for b in &self.brokers {
            let _ = writeln!(s, "  b{}  {:?}{}", b.id, b.status, if b.fenced { " (fenced)" } else { "" });
        }
        let _ = writeln!(s, "\npartitions:               leader epoch  isr        hw       leo      start");
        for p in &self.partitions {
            let isr = p.isr.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
            let _ = writeln!(
                s,
                "  {:<24} {:>6} {:>5}  [{:<7}] {:>8} {:>8} {:>8}{}",
                p.partition,
                p.leader.map(|l| format!("b{l}")).unwrap_or_else(|| "none".into()),
                p.leader_epoch,
                isr,
                p.hw,
                p.leo,
                p.log_start,
                if p.offline {
                    "  OFFLINE"
                } else if p.under_replicated {
                    "  under-replicated"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(s, "\nproducers:");
        for p in &self.producers {
            let _ = writeln!(
                s,
                "  {} (acks={}, idempotence={}): sent {}, acked {}, failed {}, unknown {}, LOST {}, duplicates {}, reordered {}, pending {}",
                p.name, p.acks, p.idempotence, p.sent, p.acked, p.failed, p.unknown, p.lost, p.duplicates, p.reordered, p.pending
            );
            if !p.failed_by_error.is_empty() {
                let _ = writeln!(s, "    failed with: {:?}", p.failed_by_error);
            }
            if !p.lost_records.is_empty() {
                let _ = writeln!(s, "    lost: {}", p.lost_records.join(" "));
            }
            if !p.duplicate_records.is_empty() {
                let _ = writeln!(s, "    duplicated: {}", p.duplicate_records.join(" "));
            }
        }
        if !self.produce_errors.is_empty() {
            let _ = writeln!(s, "  errors seen (incl. retried): {:?}", self.produce_errors);
        }
        if !self.consumers.is_empty() {
            let _ = writeln!(s, "\nconsumers:");
            for c in &self.consumers {
                let lag: u64 = c.lag.values().sum();
                let _ = write!(
                    s,
                    "  {}{}: consumed {}, total lag {} (records-lag-max {})",
                    c.name,
                    if c.alive { "" } else { " (stopped)" },
                    c.consumed,
                    lag,
                    c.records_lag_max
                );
                if let Some(g) = &c.group {
                    let _ = write!(
                        s,
                        ", group {g}: assigned [{}], commits {} ({} failed), rebalances {} (latency max {:.0}ms){}",
                        c.assignment.join(", "),
                        c.commits,
                        c.commit_failures,
                        c.rebalances,
                        c.rebalance_latency_max_ms,
                        if c.poll_timeouts > 0 {
                            format!(", {} poll timeouts", c.poll_timeouts)
                        } else {
                            String::new()
                        }
                    );
                }
                let _ = writeln!(s);
            }
        }
        for g in &self.groups {
            let _ = writeln!(
                s,
                "\ngroup {} ({}, generation {}, assignor {}, {} protocol, coordinator {} for __consumer_offsets-{})",
                g.group,
                g.state,
                g.generation,
                g.assignor.as_deref().unwrap_or("-"),
                g.rebalance_protocol.as_deref().unwrap_or("-"),
                g.coordinator.map(|b| format!("b{b}")).unwrap_or_else(|| "none".into()),
                g.offsets_partition
            );
            for m in &g.members {
                let leader = if g.leader.as_deref() == Some(m.client.as_str()) { " (leader)" } else { "" };
                let _ = writeln!(s, "  member {}{leader}: {} [{}]", m.client, m.member_id, m.assignment.join(", "));
            }
            let _ = writeln!(s, "  partition            committed        lag");
            for (p, lag) in &g.lag {
                let committed = g.committed.get(p).map(|o| o.to_string()).unwrap_or_else(|| "-".into());
                let _ = writeln!(s, "  {p:<20} {committed:>9} {lag:>10}");
            }
            if let Some(d) = self.deliveries.iter().find(|d| d.reader == g.group) {
                let _ =
                    writeln!(s, "  processed once {}, more than once {}, never {}", d.once, d.more_than_once, d.never);
            }
            let _ = writeln!(
                s,
                "  partitions without a live owner: {:.0} partition-ms, at most {} at once; all stopped {:.0}ms{}",
                g.paused_partition_ms,
                g.max_partitions_paused,
                g.stop_the_world_ms,
                if g.double_ownership > 0 {
                    format!("; two owners at once seen {} times", g.double_ownership)
                } else {
                    String::new()
                }
            );
            if !g.offsets_topic_tail.is_empty() {
                let _ = writeln!(
                    s,
                    "  __consumer_offsets-{} ({} records), latest for this group:",
                    g.offsets_partition, g.offsets_topic_records
                );
                for r in &g.offsets_topic_tail {
                    let _ = writeln!(s, "    {r}");
                }
            }
        }
        let _ =
            writeln!(
            s,
            "\ncontroller: {} leader elections ({} unclean), {} ISR shrinks, {} ISR expansions; {} records truncated",
            self.leader_elections, self.unclean_elections, self.isr_shrinks, self.isr_expansions, self.truncated_records
        );
        if let Some(r) = &self.schema_registry {
            let _ = writeln!(s, "\nschema registry{}:", if r.alive { "" } else { " (down)" });
            for sub in &r.subjects {
                let v: Vec<String> = sub.versions.iter().map(|(v, id)| format!("v{v}=id {id}")).collect();
                let _ = writeln!(s, "  {}: {}", sub.subject, v.join(", "));
            }
            if r.refusals > 0 {
                let _ = writeln!(s, "  {} registrations refused", r.refusals);
            }
        }
        for c in &self.connectors {
            let _ = writeln!(
                s,
                "\nconnector {} ({}, {}): {}; {} records {}, {} duplicates{}",
                c.name,
                c.kind,
                c.class,
                c.state,
                c.records,
                if c.kind == "source" { "produced" } else { "written" },
                c.duplicates,
                if c.kind == "sink" { format!(", {} redelivered", c.redelivered) } else { String::new() }
            );
            for t in &c.tasks {
                let _ = writeln!(
                    s,
                    "  task {} ({}): {}, {} records{}",
                    t.id,
                    t.client,
                    t.state,
                    t.records,
                    t.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
                );
            }
            for (table, rows) in &c.tables {
                let _ = writeln!(s, "  table {table}: {rows} rows");
            }
        }
        for a in &self.streams {
            let _ = writeln!(
                s,
                "\nstreams {} ({}): {} records processed ({} again), {} written, {} restored from changelogs, {} dropped",
                a.application_id, a.processing_guarantee, a.processed, a.reprocessed, a.produced, a.restored, a.dropped
            );
            for i in &a.instances {
                let tasks = if i.tasks.is_empty() { "no tasks".to_string() } else { i.tasks.join(", ") };
                let txns = if a.processing_guarantee == "exactly_once_v2" {
                    format!("; {} transactions committed, {} aborted", i.transactions_committed, i.transactions_aborted)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "  {}{}: {tasks}; {} records processed{txns}",
                    i.name,
                    if i.alive { "" } else { " (down)" },
                    i.processed
                );
            }
            for (store, rows) in &a.stores {
                let _ = writeln!(s, "  store {store}: {} entries", rows.len());
                for r in rows.iter().take(12) {
                    match r.window_start {
                        Some(w) => {
                            let _ = writeln!(s, "    {}@{} = {}", r.key, w, r.value);
                        }
                        None => {
                            let _ = writeln!(s, "    {} = {}", r.key, r.value);
                        }
                    }
                }
                if rows.len() > 12 {
                    let _ = writeln!(s, "    ...");
                }
            }
        }
        ksql_text(&self.ksql, &mut s);
        let _ = writeln!(s, "\ninvariants:");
        for i in &self.invariants {
            match (&i.detail, i.first_violation_step) {
                (Some(d), Some(step)) => {
                    let _ = writeln!(s, "  VIOLATED {} at step {} ({} times): {}", i.name, step, i.violations, d);
                }
                _ => {
                    let _ = writeln!(s, "  ok       {}", i.name);
                }
            }
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// ksqlDB clusters

/// A persistent query of a ksqlDB cluster, as `SHOW QUERIES` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KsqlQuerySummary {
    pub id: String,
    pub application_id: String,
    pub sink: String,
    pub topic: String,
    /// `RUNNING` while at least one server runs it, `NOT_RUNNING` when all are down.
    pub state: String,
    /// Records its Streams application processed.
    pub processed: u64,
}

/// One row a push query received: the row as JSON, its first column (the key) as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KsqlRowSummary {
    pub key: String,
    pub row: String,
    pub ts: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tombstone: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KsqlPushSummary {
    /// The statement number of the `SELECT ... EMIT CHANGES`.
    pub statement: usize,
    pub from: String,
    pub columns: Vec<String>,
    pub rows: Vec<KsqlRowSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KsqlSummary {
    pub service_id: String,
    pub command_topic: String,
    pub queries: Vec<KsqlQuerySummary>,
    pub push_queries: Vec<KsqlPushSummary>,
    /// Why the push queries could not be evaluated (not expected for a validated scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The records of a topic below the HW on each partition's leader, as a consumer of all its
/// partitions receives them: each partition in offset order, partitions interleaved by
/// timestamp (ties: lower partition first). Windowed keys (`[key@start/end]`) are split.
pub fn live_records(world: &World, topic: &str, windowed: bool) -> Vec<crate::streams::ksql::LiveRecord> {
    use crate::streams::ksql::LiveRecord;
    use crate::streams::runtime::{decode_key, decode_value};
    let mut parts: Vec<(u32, Vec<LiveRecord>)> = Vec::new();
    for (tp, state) in world.controller.image.partitions() {
        if &*tp.topic != topic {
            continue;
        }
        let Some(log) = state.leader.and_then(|l| world.broker(l)).and_then(|b| b.replicas.get(&tp)).map(|r| &r.log)
        else {
            continue;
        };
        let hw = log.high_watermark();
        let mut recs = Vec::new();
        'batches: for b in log.batches() {
            if b.data.control.is_some() {
                continue;
            }
            for (offset, r) in b.records() {
                if offset >= hw || recs.len() >= crate::streams::ksql::MAX_RECORDS {
                    break 'batches;
                }
                let (key, window) = match (windowed, &r.key) {
                    (true, Some(k)) => split_windowed_key(&k.display()),
                    _ => (decode_key(&r.key), None),
                };
                recs.push(LiveRecord { key, window, value: decode_value(&r.value), ts: r.timestamp });
            }
        }
        parts.push((tp.partition, recs));
    }
    crate::collect::sort_by_key(&mut parts, |(p, _)| *p);
    let mut heads = vec![0usize; parts.len()];
    let mut out = Vec::with_capacity(parts.iter().map(|(_, r)| r.len()).sum());
    loop {
        let next = (0..parts.len()).filter(|&i| heads[i] < parts[i].1.len()).min_by_key(|&i| parts[i].1[heads[i]].ts);
        let Some(i) = next else { break };
        out.push(parts[i].1[heads[i]].clone());
        heads[i] += 1;
    }
    out
}

/// `[key@start/end]` (the runtime's `Windowed.toString()` form) into key and window.
fn split_windowed_key(text: &str) -> (crate::streams::value::Value, Option<crate::streams::window::Window>) {
    use crate::streams::runtime::decode_key;
    let parsed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).and_then(|t| {
        let (key, range) = t.rsplit_once('@')?;
        let (start, end) = range.split_once('/')?;
        Some((key, start.parse::<i64>().ok()?, end.parse::<i64>().ok()?))
    });
    match parsed {
        Some((key, start, end)) => {
            (decode_key(&Some(crate::record::Blob::text(key))), Some(crate::streams::window::Window { start, end }))
        }
        None => (decode_key(&Some(crate::record::Blob::text(text))), None),
    }
}

fn ksql_summaries(world: &World) -> Vec<KsqlSummary> {
    use crate::streams::ksql;
    world
        .ksql
        .iter()
        .map(|k| {
            let queries = k
                .queries
                .iter()
                .map(|q| {
                    let app = world.streams.iter().find(|a| a.spec.application_id == q.application_id);
                    let running = app.is_some_and(|a| {
                        a.instances.iter().any(|i| world.consumers.get(i.consumer as usize).is_some_and(|c| c.alive))
                    });
                    KsqlQuerySummary {
                        id: q.id.clone(),
                        application_id: q.application_id.clone(),
                        sink: q.sink.clone(),
                        topic: q.sink_topic.clone(),
                        state: if running { "RUNNING" } else { "NOT_RUNNING" }.to_string(),
                        processed: app.map(|a| a.processed).unwrap_or(0),
                    }
                })
                .collect();
            let mut summary = KsqlSummary {
                service_id: k.service_id.clone(),
                command_topic: k.command_topic.clone(),
                queries,
                push_queries: Vec::new(),
                error: None,
            };
            // A push query consumes its source's topic from the start of the run (the
            // statements ran at boot, before any record), so it sees every record there.
            let script = match ksql::parse_script(&k.statements) {
                Ok(s) => s,
                Err(e) => {
                    summary.error = Some(e.to_string());
                    return summary;
                }
            };
            for (i, p) in script.push_queries.iter().enumerate() {
                let Some(src) = script.source(&p.from) else { continue };
                let records = live_records(world, &src.topic, src.windowed);
                match ksql::push_rows(&script, i, &records) {
                    Ok(out) => summary.push_queries.push(KsqlPushSummary {
                        statement: out.statement,
                        from: out.from,
                        columns: out.columns,
                        rows: out
                            .rows
                            .into_iter()
                            .take(MAX_SUMMARY_ROWS)
                            .map(|r| KsqlRowSummary {
                                key: r.row.first().map(|v| v.to_java_string()).unwrap_or_default(),
                                row: crate::streams::value::Value::List(r.row).to_json_string(),
                                ts: r.ts,
                                tombstone: r.tombstone,
                            })
                            .collect(),
                    }),
                    Err(e) => summary.error = Some(e.to_string()),
                }
            }
            summary
        })
        .collect()
}

fn ksql_text(clusters: &[KsqlSummary], s: &mut String) {
    use std::fmt::Write;
    for k in clusters {
        let _ = writeln!(s, "\nksqlDB {} (command topic {}):", k.service_id, k.command_topic);
        for q in &k.queries {
            let _ = writeln!(
                s,
                "  query {} [{}] -> {} (topic {}): application {}, {} records processed",
                q.id, q.state, q.sink, q.topic, q.application_id, q.processed
            );
        }
        for p in &k.push_queries {
            let _ = writeln!(
                s,
                "  push query (statement {}) from {}: {} rows; columns {}",
                p.statement,
                p.from,
                p.rows.len(),
                p.columns.join(", ")
            );
            for r in p.rows.iter().take(12) {
                let _ = writeln!(s, "    {}{}", r.row, if r.tombstone { " (deleted)" } else { "" });
            }
            if p.rows.len() > 12 {
                let _ = writeln!(s, "    ...");
            }
        }
        if let Some(e) = &k.error {
            let _ = writeln!(s, "  error: {e}");
        }
    }
}

/// Counts acks=all records acknowledged and later lost (for property tests).
pub fn acked_all_lost(summary: &RunSummary) -> u64 {
    summary.producers.iter().filter(|p| p.acks == Acks::All.to_string()).map(|p| p.lost).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{run::execute, Scenario};

    fn run_to_end(name: &str, text: &str) -> World {
        let scenario = Scenario::parse(name, text).expect("scenario parses");
        execute(&scenario, scenario.seed, None, |_, _| {}).expect("runs").0
    }

    /// Every record's fate, asked six at a time as the producer panel asks.
    fn fates_by_six(world: &World) -> Vec<RecordFate> {
        let ids: Vec<RecordId> = (0..world.ledger.records.len() as u64).map(RecordId).collect();
        ids.chunks(6).flat_map(|c| record_fates(world, c)).collect()
    }

    /// Per record fates agree with the summary's audit: the lost ones, counted per
    /// producer, and the first ones listed by position.
    fn assert_agrees_with_summary(name: &str, world: &World) -> Vec<RecordFate> {
        let summary = RunSummary::of(world);
        let fates = fates_by_six(world);
        assert_eq!(fates, record_fates(world, &(0..fates.len() as u64).map(RecordId).collect::<Vec<_>>()), "{name}");
        for (p, ps) in summary.producers.iter().enumerate() {
            let lost: Vec<String> = fates
                .iter()
                .enumerate()
                .filter(|(i, _)| world.ledger.records[*i].producer as usize == p)
                .filter_map(|(i, f)| match f {
                    RecordFate::Lost { offset, .. } => {
                        let tp = world.ledger.topic_partition(RecordId(i as u64))?;
                        Some(offset.map(|o| position(&tp, o)).unwrap_or_else(|| format!("{tp}@?")))
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(lost.len() as u64, ps.lost, "{name}: {}", ps.name);
            assert_eq!(lost.iter().take(LISTED).cloned().collect::<Vec<_>>(), ps.lost_records, "{name}: {}", ps.name);
        }
        // The producer's answer, checked against the log, never contradicted.
        for (f, e) in fates.iter().zip(&world.ledger.records) {
            let fits = match f {
                RecordFate::Pending => e.outcome == Outcome::Pending,
                RecordFate::Failed { error } => e.outcome == Outcome::Failed { error: *error },
                RecordFate::Acked { offset } | RecordFate::Removed { offset, .. } => {
                    e.outcome == Outcome::Acked { offset: *offset }
                }
                RecordFate::Unacknowledged { .. } => e.outcome == Outcome::Unknown,
                RecordFate::Lost { offset: Some(o), .. } => e.outcome == Outcome::Acked { offset: *o },
                RecordFate::Lost { offset: None, .. } => {
                    matches!(e.outcome, Outcome::Unknown | Outcome::Acked { offset: u64::MAX })
                }
            };
            assert!(fits, "{name}: {f:?} for {:?}", e.outcome);
        }
        fates
    }

    #[test]
    fn acks_1_records_truncated_after_the_leader_change_are_lost_record_by_record() {
        let name = "replication/acks-1-leader-crash";
        let world = run_to_end(name, include_str!("../../scenarios/replication/acks-1-leader-crash.toml"));
        let fates = assert_agrees_with_summary(name, &world);
        let lost = fates.iter().filter(|f| matches!(f, RecordFate::Lost { .. })).count();
        assert!(lost > LISTED, "more lost records than the summary lists ({lost})");
        // The latest six records (#94-#99), the ones the producer panel shows.
        let latest: Vec<RecordId> = (94..100).map(RecordId).collect();
        for f in record_fates(&world, &latest) {
            match f {
                RecordFate::Lost { offset: Some(_), why: Some(why) } => {
                    assert!(why.contains("gone after a leader change"), "{why}")
                }
                other => panic!("expected a lost record, got {other:?}"),
            }
        }
        assert_eq!(record_fates(&world, &[RecordId(u64::MAX)]), [RecordFate::Pending], "unknown ids");
    }

    #[test]
    fn fates_agree_with_the_summary_for_acks_0_unclean_elections_and_retention() {
        let runs = [
            ("replication/acks-0-leader-down", include_str!("../../scenarios/replication/acks-0-leader-down.toml")),
            ("replication/unclean-election-on", include_str!("../../scenarios/replication/unclean-election-on.toml")),
            (
                "storage/retention-deletes-unread-data",
                include_str!("../../scenarios/storage/retention-deletes-unread-data.toml"),
            ),
        ];
        for (name, text) in runs {
            let world = run_to_end(name, text);
            let fates = assert_agrees_with_summary(name, &world);
            let has = |f: fn(&RecordFate) -> bool| fates.iter().any(f);
            match name {
                "replication/acks-0-leader-down" => {
                    assert!(has(|f| matches!(f, RecordFate::Unacknowledged { .. })), "{name}");
                    assert!(has(|f| matches!(f, RecordFate::Lost { offset: None, why: None })), "{name}");
                }
                "replication/unclean-election-on" => assert!(
                    has(|f| matches!(f, RecordFate::Lost { why: Some(w), .. } if w.contains("unclean"))),
                    "{name}"
                ),
                _ => assert!(
                    has(|f| matches!(f, RecordFate::Removed { by: Removal::Retention, .. })),
                    "{name}: retention removed records on purpose"
                ),
            }
        }
    }

    #[test]
    fn records_lost_to_a_power_cut_say_so() {
        let text = r#"
name = "power"
title = "t"
description = "d"
seed = 1
duration_ms = 20000

[cluster]
brokers = 1

[[topic]]
name = "t"
partitions = 1
replication_factor = 1

[[producer]]
name = "p"
config = { acks = 1 }

[[at]]
at_ms = 1000
action = "produce"
producer = "p"
topic = "t"
count = 20
interval_ms = 10

[[at]]
at_ms = 2000
action = "power_loss"
broker = 1

[[at]]
at_ms = 3000
action = "restart"
broker = 1
"#;
        let world = run_to_end("power", text);
        assert!(!world.power_losses.is_empty(), "the power cut truncated the log");
        let fates = assert_agrees_with_summary("power", &world);
        assert!(
            fates.iter().any(|f| matches!(f, RecordFate::Lost { why: Some(w), .. } if w.contains("b1 lost power"))),
            "{fates:?}"
        );
    }
}
