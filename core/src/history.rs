//! The client-observed history of a run and a Jepsen-style check of it.
//!
//! The ledger and the invariants look at the brokers' logs; this module looks only at what
//! the clients saw, the way Jepsen's Kafka workload judges a real cluster from outside:
//!
//! - a **send** is one `send()` call (one record, named by its record id, the "value"):
//!   invoked at a step, then completed `ok` with its partition and offset, `fail` with the
//!   error the producer reported, `unknown` (acks=0: written or not, nobody says), or still
//!   `pending` when the run ended (Jepsen's indeterminate `:info`);
//! - a **read** is one record `poll()` returned to the application: consumer, partition,
//!   offset, record id, step. Successive reads of one consumer on one partition are compared;
//!   a `seek()`, an `auto.offset.reset`, a change of assignment (rebalance, `assign()`), or
//!   a crash or restart of the consumer between them moves its position legitimately.
//!
//! [`HistoryRecorder`] builds a [`History`] step by step from a running [`World`] (new
//! ledger entries, the ledger's poll log, and the trace's effects); [`check`] turns it into a
//! serializable [`HistoryReport`]. The anomalies, as defined here:
//!
//! - **lost write**: a send acknowledged at offset `o` of partition `p` whose record no read
//!   ever returned, although some consumer read `p` continuously across `o` (it read an
//!   offset `<= o` and later one `>= o` with no position change in between). Reading past an
//!   acknowledged offset without seeing the record is what makes the loss observable.
//! - **unseen** (information, not an anomaly): acknowledged, never read, and no consumer
//!   read across its offset — perhaps nobody got that far.
//! - **duplicate**: one record (one `send()`) found at two different offsets. This is about
//!   the log: a consumer that reads the same offset twice after a rebalance or a crash
//!   (at-least-once re-delivery) is not a duplicate.
//! - **inconsistent offsets**: two different records seen at one partition and offset,
//!   by reads or by a send's acknowledgement.
//! - **non-monotonic send**: one producer's acknowledged sends to one partition, in the
//!   order the application called `send()`, get an offset lower than an earlier one.
//! - **non-monotonic poll**: a consumer's read of a partition returns an offset at or below
//!   its previous read there, with no position change in between.
//! - **poll skip**: a consumer's successive reads of a partition jump over offsets that
//!   exist (some read returned a record there), with no position change in between.
//!   Compacted topics are exempt from skips and lost writes: the cleaner removes records
//!   on purpose.
//! - **aborted read**: reading a record of an aborted transaction. The sandbox has no
//!   transactions yet, so the check is reported as not applicable.
//!
//! Some anomalies are what Kafka promises under the run's settings (acks=1, an unclean
//! election, retries without idempotence, a power cut of the last in-sync replica).
//! [`Allowances`] says which: [`check`] marks each anomaly with the setting or fault that
//! allows it, and anything left unexplained is a simulator bug (`sweep` shrinks it).
use crate::config::Acks;
use crate::ledger::Outcome;
use crate::network::NodeId;
use crate::record::TopicPartition;
use crate::sim::time::SimTime;
use crate::trace::{Cause, Effect, TraceEvent};
use crate::world::World;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Sends plus reads a history holds at most; beyond, recording stops and the report says
/// the history was truncated (the checks then cover what was recorded).
pub const MAX_HISTORY_OPS: usize = 5_000_000;
/// Anomalies listed per kind in a report (all are counted).
pub const MAX_LISTED: usize = 20;

/// How a send ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendResult {
    /// No answer (yet): Jepsen's indeterminate `:info`.
    Pending,
    Ok {
        offset: u64,
    },
    Fail {
        error: String,
    },
    /// Answered without an offset (acks=0).
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendOp {
    /// The record id: the "value" Jepsen's workload writes, unique per `send()`.
    pub record: u64,
    pub producer: u32,
    pub acks: Acks,
    /// The partition the partitioner chose (`None` before it ran).
    pub tp: Option<TopicPartition>,
    pub invoke_step: u64,
    pub invoke_time: SimTime,
    pub result: SendResult,
    pub complete_step: Option<u64>,
    pub complete_time: Option<SimTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadOp {
    pub consumer: u32,
    pub tp: TopicPartition,
    pub offset: u64,
    pub record: u64,
    pub step: u64,
    pub time: SimTime,
}

/// Something that moves a consumer's position legitimately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionChange {
    Seek,
    Reset,
    Assigned,
    Revoked,
    Crashed,
    Restarted,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionEvent {
    pub consumer: u32,
    /// `None`: every partition of the consumer.
    pub tp: Option<TopicPartition>,
    pub change: PositionChange,
    pub step: u64,
}

/// What the clients observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub producers: Vec<String>,
    pub consumers: Vec<String>,
    pub sends: Vec<SendOp>,
    pub reads: Vec<ReadOp>,
    pub positions: Vec<PositionEvent>,
    /// Topics with `cleanup.policy` including `compact`.
    pub compacted_topics: Vec<String>,
    pub truncated: bool,
    /// Whether any producer was transactional (the aborted-read check applies).
    #[serde(default)]
    pub transactional: bool,
    /// Consumers with isolation.level=read_committed.
    #[serde(default)]
    pub read_committed: Vec<u32>,
    /// Offsets holding records of aborted transactions, from the partition leaders' logs at
    /// the end of the run (their aborted transaction index).
    #[serde(default)]
    pub aborted: BTreeSet<(TopicPartition, u64)>,
}

/// Builds a [`History`] from a running world: call [`HistoryRecorder::enable`] before the
/// first step, [`HistoryRecorder::observe`] after each step (the boot step too), then
/// [`HistoryRecorder::finish`]. Observation never changes the run.
#[derive(Clone, Debug, Default)]
pub struct HistoryRecorder {
    history: History,
    /// Sends without a final result, per producer (record ids).
    pending: BTreeMap<u32, Vec<u64>>,
    polls_seen: usize,
}

impl HistoryRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns on the ledger's poll log, which the recorder reads.
    pub fn enable(world: &mut World) {
        world.ledger.record_polls = true;
    }

    fn full(&self) -> bool {
        self.history.sends.len() + self.history.reads.len() >= MAX_HISTORY_OPS
    }

    pub fn observe(&mut self, world: &World, ev: &TraceEvent) {
        let ledger = &world.ledger;
        // Which producers may have a send that just completed: those that acted this step.
        let mut scan: BTreeSet<u32> = BTreeSet::new();
        match &ev.cause {
            Cause::Deliver { to: NodeId::Producer(p), .. } | Cause::Timer { node: NodeId::Producer(p), .. } => {
                scan.insert(*p);
            }
            Cause::Action { .. } => scan.extend(self.pending.keys().copied()),
            _ => {}
        }
        while self.history.sends.len() < ledger.records.len() {
            if self.full() {
                self.history.truncated = true;
                break;
            }
            let id = self.history.sends.len() as u64;
            let e = &ledger.records[id as usize];
            self.history.sends.push(SendOp {
                record: id,
                producer: e.producer,
                acks: e.acks,
                tp: None,
                invoke_step: ev.step,
                invoke_time: e.sent_at,
                result: SendResult::Pending,
                complete_step: None,
                complete_time: None,
            });
            self.pending.entry(e.producer).or_default().push(id);
            scan.insert(e.producer);
        }
        for p in scan {
            let Some(ids) = self.pending.get_mut(&p) else { continue };
            let sends = &mut self.history.sends;
            ids.retain(|&id| {
                let (Some(e), Some(op)) = (ledger.records.get(id as usize), sends.get_mut(id as usize)) else {
                    return false;
                };
                if op.tp.is_none() {
                    op.tp = ledger.topic_partition(crate::record::RecordId(id));
                }
                let result = match e.outcome {
                    Outcome::Pending => return true,
                    Outcome::Acked { offset } if offset != u64::MAX => SendResult::Ok { offset },
                    Outcome::Acked { .. } | Outcome::Unknown => SendResult::Unknown,
                    Outcome::Failed { error } => SendResult::Fail { error: error.to_string() },
                };
                op.result = result;
                op.complete_step = Some(ev.step);
                op.complete_time = Some(ev.time);
                false
            });
        }
        while self.polls_seen < ledger.polls.len() {
            if self.full() {
                self.history.truncated = true;
                break;
            }
            let p = &ledger.polls[self.polls_seen];
            self.polls_seen += 1;
            let Some(topic) = ledger.topics.get(p.topic as usize) else { continue };
            self.history.reads.push(ReadOp {
                consumer: p.consumer,
                tp: TopicPartition { topic: topic.clone(), partition: p.partition },
                offset: p.offset,
                record: p.id.0,
                step: ev.step,
                time: p.at,
            });
        }
        for e in &ev.effects {
            let (consumer, tps, change): (u32, Vec<Option<TopicPartition>>, PositionChange) = match e {
                Effect::Seeked { consumer, tp, .. } => (*consumer, vec![Some(tp.clone())], PositionChange::Seek),
                Effect::OffsetReset { consumer, tp, .. } => (*consumer, vec![Some(tp.clone())], PositionChange::Reset),
                Effect::PartitionsAssigned { consumer, partitions, .. } => {
                    (*consumer, partitions.iter().cloned().map(Some).collect(), PositionChange::Assigned)
                }
                Effect::PartitionsRevoked { consumer, partitions, .. } => {
                    (*consumer, partitions.iter().cloned().map(Some).collect(), PositionChange::Revoked)
                }
                Effect::ClientCrashed { client: NodeId::Consumer(c), .. } => (*c, vec![None], PositionChange::Crashed),
                Effect::ClientRestarted { client: NodeId::Consumer(c) } => (*c, vec![None], PositionChange::Restarted),
                Effect::ClientClosed { client: NodeId::Consumer(c) } => (*c, vec![None], PositionChange::Closed),
                _ => continue,
            };
            for tp in tps {
                self.history.positions.push(PositionEvent { consumer, tp, change, step: ev.step });
            }
        }
        // A user `assign()`/`subscribe()` (rendered `<consumer>.assign(...)`) re-initializes
        // the consumer's positions.
        if let Cause::Action { action } = &ev.cause {
            for (i, c) in world.consumers.iter().enumerate() {
                let changes = |call: &str| action.strip_prefix(c.name.as_str()).is_some_and(|r| r.starts_with(call));
                if changes(".assign(") || changes(".subscribe(") {
                    self.history.positions.push(PositionEvent {
                        consumer: i as u32,
                        tp: None,
                        change: PositionChange::Assigned,
                        step: ev.step,
                    });
                }
            }
        }
    }

    /// This recorder as it stood when the world it observes had taken `world.steps` steps,
    /// given that world: what the web app needs to step back or branch without replaying
    /// the run from the start. Ops observed later are dropped; sends completed later are
    /// pending again.
    pub fn rewound(&self, world: &World) -> HistoryRecorder {
        let steps = world.steps;
        let h = &self.history;
        let mut r = HistoryRecorder::new();
        // Sends are indexed by record id and observed in step order, so each list is cut
        // at a prefix.
        let n = h.sends.partition_point(|op| op.invoke_step < steps);
        r.history.sends = h.sends[..n].to_vec();
        for op in &mut r.history.sends {
            if op.complete_step.is_some_and(|s| s >= steps) {
                op.result = SendResult::Pending;
                op.complete_step = None;
                op.complete_time = None;
            }
            if op.result == SendResult::Pending {
                op.tp = world.ledger.topic_partition(crate::record::RecordId(op.record));
                r.pending.entry(op.producer).or_default().push(op.record);
            }
        }
        r.history.reads = h.reads[..h.reads.partition_point(|x| x.step < steps)].to_vec();
        r.history.positions = h.positions[..h.positions.partition_point(|x| x.step < steps)].to_vec();
        r.polls_seen = world.ledger.polls.len().min(self.polls_seen);
        r.history.truncated = h.truncated && r.full();
        r
    }

    /// The history so far (the world may still be running).
    pub fn finish(mut self, world: &World) -> History {
        for ids in self.pending.values() {
            for &id in ids {
                if let Some(op) = self.history.sends.get_mut(id as usize) {
                    if op.tp.is_none() {
                        op.tp = world.ledger.topic_partition(crate::record::RecordId(id));
                    }
                }
            }
        }
        self.history.producers = world.producers.iter().map(|p| p.name.clone()).collect();
        self.history.transactional = world.producers.iter().any(|p| p.is_transactional());
        self.history.read_committed = world
            .consumers
            .iter()
            .filter(|c| c.config.isolation_level == crate::config::IsolationLevel::ReadCommitted)
            .map(|c| c.index)
            .collect();
        if self.history.transactional {
            self.history.aborted = aborted_offsets(world);
        }
        self.history.consumers = world.consumers.iter().map(|c| c.name.clone()).collect();
        self.history.compacted_topics = world
            .controller
            .image
            .topics
            .keys()
            .filter(|t| world.controller.image.topic_config(t).map(|c| c.cleanup_policy.compacts()).unwrap_or(false))
            .map(|t| t.to_string())
            .collect();
        self.history
    }
}

/// What the run's settings and faults allow, so an anomaly Kafka does not promise to
/// prevent is reported as explained rather than as a bug.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Allowances {
    /// Partitions where truncating acknowledged or read data is allowed, and why (an
    /// unclean election, acks=1 records lost with their leader, a power cut of the last
    /// in-sync replica).
    pub partitions: BTreeMap<TopicPartition, String>,
    /// Records whose loss the broker-side check excused, and why.
    pub records: BTreeMap<u64, String>,
    /// Producers whose retries may write a record twice, and why.
    pub may_duplicate: BTreeMap<u32, String>,
    /// Producers whose retries may reorder records, and why.
    pub may_reorder: BTreeMap<u32, String>,
}

impl Allowances {
    /// Nothing is allowed: every anomaly counts.
    pub fn strict() -> Self {
        Self::default()
    }

    /// What the finished (or running) world's settings and faults allow.
    pub fn of(world: &World) -> Self {
        let mut a = Allowances::default();
        for (tp, epoch) in &world.controller.unclean_elections {
            a.partitions
                .entry(tp.clone())
                .or_insert_with(|| format!("an unclean leader election (epoch {epoch}) on {tp}"));
        }
        for lost in &world.invariants.lost {
            if let Some(why) = &lost.exempt {
                a.records.insert(lost.id.0, why.clone());
                a.partitions.entry(lost.tp.clone()).or_insert_with(|| format!("{why} ({} lost)", lost.tp));
            }
        }
        for (i, p) in world.producers.iter().enumerate() {
            let c = &p.config;
            if !c.enable_idempotence && c.retries > 0 {
                a.may_duplicate.insert(i as u32, "retries without enable.idempotence".into());
                if c.max_in_flight_requests_per_connection > 1 {
                    a.may_reorder.insert(
                        i as u32,
                        format!(
                            "retries without enable.idempotence and max.in.flight.requests.per.connection={}",
                            c.max_in_flight_requests_per_connection
                        ),
                    );
                }
            }
        }
        a
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    LostWrite,
    Duplicate,
    InconsistentOffsets,
    NonMonotonicSend,
    NonMonotonicPoll,
    PollSkip,
    AbortedRead,
    Unseen,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 8] = [
        AnomalyKind::LostWrite,
        AnomalyKind::Duplicate,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::NonMonotonicSend,
        AnomalyKind::NonMonotonicPoll,
        AnomalyKind::PollSkip,
        AnomalyKind::AbortedRead,
        AnomalyKind::Unseen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost_write",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::InconsistentOffsets => "inconsistent_offsets",
            AnomalyKind::NonMonotonicSend => "non_monotonic_send",
            AnomalyKind::NonMonotonicPoll => "non_monotonic_poll",
            AnomalyKind::PollSkip => "poll_skip",
            AnomalyKind::AbortedRead => "aborted_read",
            AnomalyKind::Unseen => "unseen",
        }
    }

    pub fn parse(name: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Information only: never a failure.
    pub fn is_info(self) -> bool {
        self == AnomalyKind::Unseen
    }

    /// Why this is an anomaly and which guarantee it concerns.
    pub fn explanation(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "The producer was told this record was written at this offset, and a consumer later read the partition across that offset without ever receiving it: the record is gone from the log. Kafka promises that a record acknowledged with acks=all survives as long as one in-sync replica keeps it (with unclean.leader.election.enable=false); acks=1 only promises the leader wrote it, so a leader crash before replication loses it.",
            AnomalyKind::Duplicate => "One send() call's record sits at two offsets of the log, so every reader of the partition processes it twice even with perfect offset management. This is the producer's delivery guarantee: with enable.idempotence=true the broker recognises a retried batch by its producer id and sequence numbers and does not append it again; without idempotence a retry after a lost response writes a second copy. Re-reading one offset after a rebalance is at-least-once consumption, not this.",
            AnomalyKind::InconsistentOffsets => "Two different records were observed at the same partition and offset (by reads, or by a send's acknowledgement). A Kafka partition is an append-only log: an offset, once committed (below the high watermark), always holds the same record for every reader. Seeing it change means the log was rewritten after data was acknowledged or read, which only a truncation of committed data allows (an unclean election, or acks=1 data truncated with its leader).",
            AnomalyKind::NonMonotonicSend => "This producer called send() for two records to one partition in one order, and the log acknowledged them in the other (a lower offset for the later send). Kafka preserves a producer's order within a partition when enable.idempotence=true (or max.in.flight.requests.per.connection=1); with several requests in flight and no idempotence, a retried batch can land after a later one.",
            AnomalyKind::NonMonotonicPoll => "A consumer's poll() returned an offset of a partition at or below one it had already returned, with no seek(), offset reset, reassignment, crash or restart in between. A consumer's position only moves forward by itself: the log is read in offset order, and going back is always an explicit event.",
            AnomalyKind::PollSkip => "A consumer's successive poll() results on a partition jumped over offsets that hold records (other reads returned them), with no seek(), reset or reassignment in between. The consumer reads a partition in order without gaps (except records the log cleaner compacted away), so a skip means the consumer silently missed data.",
            AnomalyKind::AbortedRead => "A consumer with isolation.level=read_committed returned a record of an aborted transaction. Such a consumer reads only up to the last stable offset and drops the records of transactions the broker lists as aborted, so it never sees them; the check applies to runs with a transactional producer.",
            AnomalyKind::Unseen => "Acknowledged, but no consumer read it by the end of the run and none read past its offset, so whether it survived is not observable from the clients. Information, not an anomaly: often the consumers stopped early or never subscribed.",
        }
    }
}

/// A record involved in an anomaly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// `send`, `ack` or `read`.
    pub what: String,
    /// The client's name.
    pub client: String,
    pub tp: Option<TopicPartition>,
    pub offset: Option<u64>,
    /// The record id (the value).
    pub record: u64,
    pub step: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// One line: what was seen.
    pub summary: String,
    pub records: Vec<Observation>,
    /// The steps involved, ascending.
    pub steps: Vec<u64>,
    /// The step from which the anomaly was observable (the last of `steps`).
    pub step: u64,
    /// The setting or fault that allows it under Kafka's guarantees (`None`: a bug).
    pub allowed_by: Option<String>,
    pub explanation: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindReport {
    pub kind: AnomalyKind,
    pub applicable: bool,
    pub count: u64,
    /// Found and not allowed by the run's settings or faults.
    pub unexplained: u64,
}

/// The result of [`check`], ready for `run`, `sweep` and the web app.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryReport {
    pub sends: u64,
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    pub pending: u64,
    pub reads: u64,
    pub truncated: bool,
    pub kinds: Vec<KindReport>,
    /// Up to [`MAX_LISTED`] per kind, unexplained ones first.
    pub anomalies: Vec<Anomaly>,
}

impl HistoryReport {
    pub fn count(&self, kind: AnomalyKind) -> u64 {
        self.kinds.iter().find(|k| k.kind == kind).map(|k| k.count).unwrap_or(0)
    }

    pub fn unexplained_count(&self, kind: AnomalyKind) -> u64 {
        self.kinds.iter().find(|k| k.kind == kind).map(|k| k.unexplained).unwrap_or(0)
    }

    /// Whether some anomaly (information aside) is not allowed by the run's settings.
    pub fn has_unexplained(&self) -> bool {
        self.kinds.iter().any(|k| !k.kind.is_info() && k.unexplained > 0)
    }

    /// The unexplained anomaly observable earliest.
    pub fn first_unexplained(&self) -> Option<&Anomaly> {
        self.anomalies.iter().filter(|a| !a.kind.is_info() && a.allowed_by.is_none()).min_by_key(|a| (a.step, a.kind))
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "history: {} sends (ok {}, failed {}, unknown {}, pending {}), {} records read{}",
            self.sends,
            self.acked,
            self.failed,
            self.unknown,
            self.pending,
            self.reads,
            if self.truncated { " (history truncated at its size limit)" } else { "" }
        );
        for k in &self.kinds {
            let status = if !k.applicable {
                "not applicable (no transactions)".to_string()
            } else if k.count == 0 {
                "none".to_string()
            } else if k.kind.is_info() {
                format!("{} (information)", k.count)
            } else if k.unexplained == 0 {
                format!("{} (all allowed by the run's settings or faults)", k.count)
            } else {
                format!("{} ({} UNEXPLAINED)", k.count, k.unexplained)
            };
            let _ = writeln!(s, "  {:<22} {status}", k.kind.name());
        }
        let mut explained_kinds = BTreeSet::new();
        for a in &self.anomalies {
            if a.kind.is_info() {
                continue;
            }
            let _ = writeln!(
                s,
                "  {} {} at step {}: {}{}",
                if a.allowed_by.is_some() { "allowed" } else { "ANOMALY" },
                a.kind.name(),
                a.step,
                a.summary,
                a.allowed_by.as_ref().map(|w| format!(" [allowed by {w}]")).unwrap_or_default()
            );
            if explained_kinds.insert(a.kind) {
                let _ = writeln!(s, "      why: {}", a.explanation);
            }
        }
        s
    }
}

fn obs_send(h: &History, op: &SendOp, what: &str) -> Observation {
    Observation {
        what: what.into(),
        client: h.producers.get(op.producer as usize).cloned().unwrap_or_else(|| format!("producer#{}", op.producer)),
        tp: op.tp.clone(),
        offset: match op.result {
            SendResult::Ok { offset } => Some(offset),
            _ => None,
        },
        record: op.record,
        step: if what == "ack" { op.complete_step.unwrap_or(op.invoke_step) } else { op.invoke_step },
    }
}

fn obs_read(h: &History, r: &ReadOp) -> Observation {
    Observation {
        what: "read".into(),
        client: h.consumers.get(r.consumer as usize).cloned().unwrap_or_else(|| format!("consumer#{}", r.consumer)),
        tp: Some(r.tp.clone()),
        offset: Some(r.offset),
        record: r.record,
        step: r.step,
    }
}

fn anomaly(kind: AnomalyKind, summary: String, records: Vec<Observation>, allowed_by: Option<String>) -> Anomaly {
    let mut steps: Vec<u64> = records.iter().map(|o| o.step).collect();
    crate::collect::sort(&mut steps);
    steps.dedup();
    let step = steps.last().copied().unwrap_or(0);
    Anomaly { kind, summary, records, steps, step, allowed_by, explanation: kind.explanation().to_string() }
}

fn position(tp: &TopicPartition, offset: u64) -> String {
    format!("{tp}@{offset}")
}

/// Offsets of records in aborted transactions, read from the log of each partition's
/// replica with the most data.
fn aborted_offsets(world: &World) -> BTreeSet<(TopicPartition, u64)> {
    let mut best: BTreeMap<TopicPartition, &crate::log::PartitionLog> = BTreeMap::new();
    for b in &world.brokers {
        for (tp, r) in &b.replicas {
            let e = best.entry(tp.clone()).or_insert(&r.log);
            if r.log.log_end_offset() > e.log_end_offset() {
                *e = &r.log;
            }
        }
    }
    let mut out = BTreeSet::new();
    for (tp, log) in best {
        for a in log.aborted_txns() {
            for b in log.batches().iter().filter(|b| {
                b.data.producer_id == a.producer_id
                    && b.data.is_transactional
                    && b.data.control.is_none()
                    && b.base_offset >= a.first_offset
                    && b.last_offset() < a.last_offset
            }) {
                for (offset, _) in b.records() {
                    out.insert((tp.clone(), offset));
                }
            }
        }
    }
    out
}

/// Checks a history for the anomalies in the module documentation.
pub fn check(h: &History, allow: &Allowances) -> HistoryReport {
    let mut found: Vec<Anomaly> = Vec::new();
    let read_committed = |c: u32| h.read_committed.contains(&c);
    // Aborted reads: a read_committed consumer returned a record of an aborted transaction.
    for r in h.reads.iter().filter(|r| read_committed(r.consumer)) {
        if h.aborted.contains(&(r.tp.clone(), r.offset)) {
            found.push(anomaly(
                AnomalyKind::AbortedRead,
                format!(
                    "{} (read_committed) returned {}, a record of an aborted transaction",
                    h.consumers.get(r.consumer as usize).map(String::as_str).unwrap_or("consumer"),
                    position(&r.tp, r.offset)
                ),
                vec![obs_read(h, r)],
                None,
            ));
        }
    }
    let compacted = |tp: &TopicPartition| h.compacted_topics.iter().any(|t| **t == *tp.topic);
    let acked_at = |op: &SendOp| match (&op.tp, &op.result) {
        (Some(tp), SendResult::Ok { offset }) => Some((tp.clone(), *offset)),
        _ => None,
    };

    // The partitions in their order, so the indexes below are keyed by small integers in
    // the order maps keyed by partition would have (the check runs after every pause in
    // the web app, over histories of 100,000 operations: no allocation per operation).
    let mut tps: Vec<&TopicPartition> =
        h.reads.iter().map(|r| &r.tp).chain(h.sends.iter().filter_map(|op| op.tp.as_ref())).collect();
    crate::collect::sort(&mut tps);
    tps.dedup();
    let tp_index = |tp: &TopicPartition| tps.binary_search(&tp).unwrap_or(0) as u32;

    // Where each record was read: its distinct places (partition, offset), each with its
    // first read, in (record, partition, offset) order.
    let mut read_at: Vec<(u64, u32, u64, usize)> =
        h.reads.iter().enumerate().map(|(i, r)| (r.record, tp_index(&r.tp), r.offset, i)).collect();
    crate::collect::sort(&mut read_at);
    read_at.dedup_by(|b, a| (a.0, a.1, a.2) == (b.0, b.1, b.2));
    let was_read = |record: u64| read_at.get(read_at.partition_point(|p| p.0 < record)).is_some_and(|p| p.0 == record);
    // What was seen at each offset: per (partition, offset), the distinct records, each
    // with its first observation (reads before acknowledgements).
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Seen {
        Read(usize),
        Ack(usize),
    }
    let mut at_offset: Vec<(u32, u64, u64, Seen)> =
        read_at.iter().map(|&(record, tp, offset, i)| (tp, offset, record, Seen::Read(i))).collect();
    for (i, op) in h.sends.iter().enumerate() {
        if let (Some(tp), SendResult::Ok { offset }) = (&op.tp, &op.result) {
            at_offset.push((tp_index(tp), *offset, op.record, Seen::Ack(i)));
        }
    }
    crate::collect::sort(&mut at_offset);
    at_offset.dedup_by(|b, a| (a.0, a.1, a.2) == (b.0, b.1, b.2));
    let observed = |seen: Seen| match seen {
        Seen::Read(i) => obs_read(h, &h.reads[i]),
        Seen::Ack(i) => obs_send(h, &h.sends[i], "ack"),
    };
    // Offsets other reads returned, per partition.
    let mut offsets_seen: Vec<Vec<u64>> = vec![Vec::new(); tps.len()];
    for r in &h.reads {
        offsets_seen[tp_index(&r.tp) as usize].push(r.offset);
    }
    for offsets in &mut offsets_seen {
        crate::collect::sort(offsets);
        offsets.dedup();
    }

    // Duplicates: one record at two offsets.
    for places in read_at.chunk_by(|a, b| a.0 == b.0) {
        if places.len() < 2 {
            continue;
        }
        let record = places[0].0;
        let records: Vec<Observation> = places.iter().map(|&(.., i)| obs_read(h, &h.reads[i])).collect();
        let where_: Vec<String> = places.iter().map(|&(_, tp, o, _)| position(tps[tp as usize], o)).collect();
        let send = h.sends.get(record as usize);
        let allowed = send
            .and_then(|s| allow.may_duplicate.get(&s.producer).cloned())
            .or_else(|| places.iter().find_map(|&(_, tp, ..)| allow.partitions.get(tps[tp as usize]).cloned()));
        found.push(anomaly(
            AnomalyKind::Duplicate,
            format!("record {record} found at {} offsets: {}", places.len(), where_.join(", ")),
            records,
            allowed,
        ));
    }

    // Inconsistent offsets: two records at one offset.
    for values in at_offset.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if values.len() < 2 {
            continue;
        }
        let (tp, offset) = (tps[values[0].0 as usize], values[0].1);
        let ids: Vec<String> = values.iter().map(|v| v.2.to_string()).collect();
        found.push(anomaly(
            AnomalyKind::InconsistentOffsets,
            format!("{} holds {} different records: {}", position(tp, offset), values.len(), ids.join(", ")),
            values.iter().map(|v| observed(v.3)).collect(),
            allow.partitions.get(tp).cloned(),
        ));
    }

    // Non-monotonic sends: per producer and partition, in send() order.
    let mut last_ack: BTreeMap<(u32, TopicPartition), &SendOp> = BTreeMap::new();
    for op in &h.sends {
        let Some((tp, offset)) = acked_at(op) else { continue };
        let key = (op.producer, tp.clone());
        match last_ack.get(&key) {
            Some(prev) if matches!(prev.result, SendResult::Ok { offset: o } if o > offset) => {
                let prev_offset = match prev.result {
                    SendResult::Ok { offset } => offset,
                    _ => 0,
                };
                let allowed =
                    allow.may_reorder.get(&op.producer).cloned().or_else(|| allow.partitions.get(&tp).cloned());
                found.push(anomaly(
                    AnomalyKind::NonMonotonicSend,
                    format!(
                        "record {} sent after record {} got offset {offset} below {prev_offset} on {tp}",
                        op.record, prev.record
                    ),
                    vec![obs_send(h, prev, "ack"), obs_send(h, op, "ack")],
                    allowed,
                ));
            }
            _ => {
                last_ack.insert(key, op);
            }
        }
    }

    // Per consumer and partition: successive reads, split into sessions by position changes.
    let mut by_reader: Vec<(u32, u32, usize)> =
        h.reads.iter().enumerate().map(|(i, r)| (r.consumer, tp_index(&r.tp), i)).collect();
    crate::collect::sort(&mut by_reader);
    let mut events: BTreeMap<u32, Vec<&PositionEvent>> = BTreeMap::new();
    for e in &h.positions {
        events.entry(e.consumer).or_default().push(e);
    }
    // Per partition: the offset ranges consumers read through without a move between.
    let mut covered: Vec<Vec<(u64, u64)>> = vec![Vec::new(); tps.len()];
    for reads in by_reader.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let (consumer, tpi) = (&reads[0].0, reads[0].1 as usize);
        let tp = tps[tpi];
        let evs = events.get(consumer).map(|v| v.as_slice()).unwrap_or(&[]);
        // A change at a step between (or at) two reads explains any move between them.
        let moved = |from: u64, to: u64| {
            evs.iter().any(|e| e.step >= from && e.step <= to && e.tp.as_ref().map(|t| t == tp).unwrap_or(true))
        };
        let mut session: Option<(u64, u64)> = None;
        let mut prev: Option<&ReadOp> = None;
        for &(.., i) in reads {
            let r = &h.reads[i];
            if let Some(p) = prev {
                if moved(p.step, r.step) {
                    covered[tpi].extend(session.take());
                } else if r.offset <= p.offset {
                    found.push(anomaly(
                        AnomalyKind::NonMonotonicPoll,
                        format!(
                            "{} read {} after {} with no seek, reset or rebalance between",
                            h.consumers.get(*consumer as usize).map(String::as_str).unwrap_or("consumer"),
                            position(tp, r.offset),
                            position(tp, p.offset)
                        ),
                        vec![obs_read(h, p), obs_read(h, r)],
                        allow.partitions.get(tp).cloned(),
                    ));
                    covered[tpi].extend(session.take());
                } else if r.offset > p.offset + 1 && !compacted(tp) {
                    // A read_committed consumer skips aborted records by design.
                    let seen = &offsets_seen[tpi];
                    let (from, to) =
                        (seen.partition_point(|o| *o < p.offset + 1), seen.partition_point(|o| *o < r.offset));
                    let missing: Vec<u64> = seen[from..to]
                        .iter()
                        .copied()
                        .filter(|o| !(read_committed(*consumer) && h.aborted.contains(&(tp.clone(), *o))))
                        .collect();
                    if !missing.is_empty() {
                        let shown: Vec<String> = missing.iter().take(10).map(|o| o.to_string()).collect();
                        found.push(anomaly(
                            AnomalyKind::PollSkip,
                            format!(
                                "{} jumped from {} to {}, over {} offsets other reads returned ({}{})",
                                h.consumers.get(*consumer as usize).map(String::as_str).unwrap_or("consumer"),
                                position(tp, p.offset),
                                position(tp, r.offset),
                                missing.len(),
                                shown.join(", "),
                                if missing.len() > shown.len() { ", ..." } else { "" }
                            ),
                            vec![obs_read(h, p), obs_read(h, r)],
                            allow.partitions.get(tp).cloned(),
                        ));
                    }
                }
            }
            session = Some(match session {
                Some((lo, hi)) => (lo, hi.max(r.offset)),
                None => (r.offset, r.offset),
            });
            prev = Some(r);
        }
        covered[tpi].extend(session);
    }

    // Lost writes and unseen records: acknowledged, never read anywhere.
    // Unseen records are information and can be most of a run's records (no consumer, or
    // one far behind): only the first MAX_LISTED by step become anomalies, the rest are
    // counted.
    let mut unseen: Vec<(u64, usize)> = Vec::new();
    for (i, op) in h.sends.iter().enumerate() {
        let Some((tp, offset)) = acked_at(op) else { continue };
        if was_read(op.record) || h.aborted.contains(&(tp.clone(), offset)) {
            continue; // read, or aborted: nobody should read it
        }
        let past =
            !compacted(&tp) && covered[tp_index(&tp) as usize].iter().any(|(lo, hi)| *lo <= offset && offset <= *hi);
        if past {
            let mut records = vec![obs_send(h, op, "ack")];
            // The read that went past it: the first one at or above its offset.
            if let Some(r) =
                h.reads.iter().filter(|r| r.tp == tp && r.offset >= offset).min_by_key(|r| (r.offset, r.step))
            {
                records.push(obs_read(h, r));
            }
            let allowed = match op.acks {
                Acks::All => allow.records.get(&op.record).cloned().or_else(|| allow.partitions.get(&tp).cloned()),
                other => Some(format!("acks={other}")),
            };
            found.push(anomaly(
                AnomalyKind::LostWrite,
                format!(
                    "record {} acknowledged at {} (acks={}) was never read though consumers read past it",
                    op.record,
                    position(&tp, offset),
                    op.acks
                ),
                records,
                allowed,
            ));
        } else {
            unseen.push((obs_send(h, op, "ack").step, i));
        }
    }
    let unseen_count = unseen.len() as u64;
    crate::collect::sort(&mut unseen);
    for &(_, i) in unseen.iter().take(MAX_LISTED) {
        let op = &h.sends[i];
        let Some((tp, offset)) = acked_at(op) else { continue };
        found.push(anomaly(
            AnomalyKind::Unseen,
            format!("record {} acknowledged at {} was never read", op.record, position(&tp, offset)),
            vec![obs_send(h, op, "ack")],
            Some("information".into()),
        ));
    }

    let mut report = HistoryReport {
        sends: h.sends.len() as u64,
        reads: h.reads.len() as u64,
        truncated: h.truncated,
        ..Default::default()
    };
    for op in &h.sends {
        match op.result {
            SendResult::Ok { .. } => report.acked += 1,
            SendResult::Fail { .. } => report.failed += 1,
            SendResult::Unknown => report.unknown += 1,
            SendResult::Pending => report.pending += 1,
        }
    }
    let mut by_kind: Vec<Vec<Anomaly>> = AnomalyKind::ALL.iter().map(|_| Vec::new()).collect();
    for a in found {
        let k = AnomalyKind::ALL.iter().position(|k| *k == a.kind).unwrap_or(0);
        by_kind[k].push(a);
    }
    for (kind, mut of_kind) in AnomalyKind::ALL.into_iter().zip(by_kind) {
        let unexplained = of_kind.iter().filter(|a| a.allowed_by.is_none()).count() as u64;
        report.kinds.push(KindReport {
            kind,
            applicable: kind != AnomalyKind::AbortedRead || h.transactional,
            count: if kind == AnomalyKind::Unseen { unseen_count } else { of_kind.len() as u64 },
            unexplained,
        });
        crate::collect::sort_by_key(&mut of_kind, |a| (a.allowed_by.is_some(), a.step));
        report.anomalies.extend(of_kind.into_iter().take(MAX_LISTED));
    }
    report
}

/// Records the history of a world stepped to its end (the world must be fresh from
/// [`World::new`]; the boot step has no reads, so observation starts after it). The run is
/// identical to [`World::run_to_end`].
pub fn run_recorded(world: &mut World) -> Result<History, crate::world::ActionError> {
    HistoryRecorder::enable(world);
    let mut rec = HistoryRecorder::new();
    let end = world.end;
    while world.next_event_time().map(|t| t <= end).unwrap_or(false) {
        if world.steps >= crate::limits::MAX_STEPS {
            return Err(crate::world::ActionError(format!(
                "run stopped after {} steps (limit)",
                crate::limits::MAX_STEPS
            )));
        }
        if let Some(ev) = world.step() {
            rec.observe(world, &ev);
        }
    }
    world.run_until(end, |_| {})?;
    Ok(rec.finish(world))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: u32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// A hand-built history: producer 0 `p`, consumers 0 `c` and 1 `d`, topic `t`.
    struct H(History);

    impl H {
        fn new() -> H {
            H(History { producers: vec!["p".into()], consumers: vec!["c".into(), "d".into()], ..Default::default() })
        }
        fn send(&mut self, partition: u32, acks: Acks, result: SendResult, step: u64) -> u64 {
            let record = self.0.sends.len() as u64;
            self.0.sends.push(SendOp {
                record,
                producer: 0,
                acks,
                tp: Some(tp(partition)),
                invoke_step: step,
                invoke_time: SimTime(step),
                result,
                complete_step: Some(step + 1),
                complete_time: Some(SimTime(step + 1)),
            });
            record
        }
        /// Sends `n` records to partition `p` acknowledged at offsets 0..n.
        fn acked(&mut self, partition: u32, n: u64) {
            for o in 0..n {
                self.send(partition, Acks::All, SendResult::Ok { offset: o }, o);
            }
        }
        fn read(&mut self, consumer: u32, partition: u32, offset: u64, record: u64, step: u64) {
            self.0.reads.push(ReadOp { consumer, tp: tp(partition), offset, record, step, time: SimTime(step) });
        }
        fn moved(&mut self, consumer: u32, partition: Option<u32>, change: PositionChange, step: u64) {
            self.0.positions.push(PositionEvent { consumer, tp: partition.map(tp), change, step });
        }
        fn check(&self) -> HistoryReport {
            check(&self.0, &Allowances::strict())
        }
    }

    fn listed(r: &HistoryReport, kind: AnomalyKind) -> Vec<&Anomaly> {
        r.anomalies.iter().filter(|a| a.kind == kind).collect()
    }

    #[test]
    fn a_clean_history_has_no_anomaly() {
        let mut h = H::new();
        h.acked(0, 5);
        for o in 0..5 {
            h.read(0, 0, o, o, 10 + o);
        }
        let r = h.check();
        assert!(AnomalyKind::ALL.iter().all(|k| r.count(*k) == 0), "{}", r.to_text());
        assert_eq!((r.sends, r.acked, r.reads), (5, 5, 5));
        assert!(!r.has_unexplained());
    }

    #[test]
    fn lost_write_is_an_acked_record_a_consumer_read_past() {
        let mut h = H::new();
        h.acked(0, 3);
        h.read(0, 0, 0, 0, 10);
        // Offset 1 now holds record 1 for nobody: the consumer goes from 0 to 2.
        h.read(0, 0, 2, 2, 11);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::LostWrite), 1, "{}", r.to_text());
        assert_eq!(r.unexplained_count(AnomalyKind::LostWrite), 1);
        let a = listed(&r, AnomalyKind::LostWrite)[0];
        assert_eq!(a.records[0].record, 1);
        assert_eq!(a.records[0].offset, Some(1));
        assert_eq!(a.records[1].what, "read");
        assert!(a.allowed_by.is_none());
        assert!(r.has_unexplained());
        assert_eq!(r.first_unexplained().map(|a| a.kind), Some(AnomalyKind::LostWrite));
        // Offset 1 was never observed by a read, so the jump is not a poll skip.
        assert_eq!(r.count(AnomalyKind::PollSkip), 0);
    }

    #[test]
    fn lost_write_under_acks_1_is_allowed() {
        let mut h = H::new();
        h.send(0, Acks::All, SendResult::Ok { offset: 0 }, 0);
        h.send(0, Acks::Leader, SendResult::Ok { offset: 1 }, 1);
        h.read(0, 0, 0, 0, 10);
        h.read(0, 0, 1, 7, 11);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::LostWrite), 1);
        assert_eq!(r.unexplained_count(AnomalyKind::LostWrite), 0);
        assert_eq!(listed(&r, AnomalyKind::LostWrite)[0].allowed_by.as_deref(), Some("acks=1"));
        // The ack at offset 1 and the read there disagree.
        assert_eq!(r.count(AnomalyKind::InconsistentOffsets), 1);
    }

    #[test]
    fn unseen_when_no_consumer_got_that_far_is_information() {
        let mut h = H::new();
        h.acked(0, 3);
        h.read(0, 0, 0, 0, 10);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::LostWrite), 0);
        assert_eq!(r.count(AnomalyKind::Unseen), 2);
        assert!(!r.has_unexplained());
        // A consumer that starts past the records (reset to latest) did not read across them.
        let mut h = H::new();
        h.acked(0, 3);
        h.read(0, 0, 2, 2, 10);
        assert_eq!(h.check().count(AnomalyKind::LostWrite), 0);
        assert_eq!(h.check().count(AnomalyKind::Unseen), 2);
    }

    #[test]
    fn a_position_change_ends_what_counts_as_read_past() {
        let mut h = H::new();
        h.acked(0, 4);
        h.read(0, 0, 0, 0, 10);
        h.moved(0, Some(0), PositionChange::Seek, 11);
        h.read(0, 0, 3, 3, 12);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::LostWrite), 0, "{}", r.to_text());
        assert_eq!(r.count(AnomalyKind::Unseen), 2);
    }

    #[test]
    fn duplicate_is_one_record_at_two_offsets() {
        let mut h = H::new();
        h.send(0, Acks::All, SendResult::Ok { offset: 1 }, 0);
        h.read(0, 0, 0, 0, 10);
        h.read(0, 0, 1, 0, 10);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::Duplicate), 1, "{}", r.to_text());
        let a = listed(&r, AnomalyKind::Duplicate)[0];
        let offsets: Vec<Option<u64>> = a.records.iter().map(|o| o.offset).collect();
        assert_eq!(offsets, vec![Some(0), Some(1)]);
        let allow = Allowances { may_duplicate: BTreeMap::from([(0, "no idempotence".into())]), ..Default::default() };
        assert_eq!(check(&h.0, &allow).unexplained_count(AnomalyKind::Duplicate), 0);
    }

    #[test]
    fn re_delivery_after_a_rebalance_is_not_a_duplicate() {
        let mut h = H::new();
        h.acked(0, 3);
        for o in 0..3 {
            h.read(0, 0, o, o, 10);
        }
        // The group rebalances; d resumes from the committed offset 1, c gets it back later.
        h.moved(0, Some(0), PositionChange::Revoked, 11);
        h.read(1, 0, 1, 1, 12);
        h.read(1, 0, 2, 2, 12);
        h.moved(0, Some(0), PositionChange::Assigned, 13);
        h.read(0, 0, 2, 2, 14);
        let r = h.check();
        assert!(AnomalyKind::ALL.iter().all(|k| r.count(*k) == 0), "{}", r.to_text());
    }

    #[test]
    fn inconsistent_offsets_is_two_records_at_one_offset() {
        let mut h = H::new();
        h.read(0, 0, 0, 10, 10);
        h.read(1, 0, 0, 11, 12);
        h.read(1, 1, 0, 10, 12);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::InconsistentOffsets), 1, "{}", r.to_text());
        let a = listed(&r, AnomalyKind::InconsistentOffsets)[0];
        assert_eq!(a.records.len(), 2);
        assert_eq!(a.steps, vec![10, 12]);
        // Record 10 at t-0@0 and t-1@0 is a duplicate as well.
        assert_eq!(r.count(AnomalyKind::Duplicate), 1);
        let allow =
            Allowances { partitions: BTreeMap::from([(tp(0), "unclean election".into())]), ..Default::default() };
        assert_eq!(check(&h.0, &allow).unexplained_count(AnomalyKind::InconsistentOffsets), 0);
    }

    #[test]
    fn non_monotonic_send_is_a_later_send_at_a_lower_offset() {
        let mut h = H::new();
        h.send(0, Acks::All, SendResult::Ok { offset: 5 }, 0);
        h.send(0, Acks::All, SendResult::Ok { offset: 3 }, 1);
        h.send(1, Acks::All, SendResult::Ok { offset: 0 }, 2); // another partition: no order
        h.send(0, Acks::All, SendResult::Fail { error: "X".into() }, 3);
        h.send(0, Acks::All, SendResult::Ok { offset: 6 }, 4);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::NonMonotonicSend), 1, "{}", r.to_text());
        let a = listed(&r, AnomalyKind::NonMonotonicSend)[0];
        assert_eq!(a.records.iter().map(|o| o.record).collect::<Vec<_>>(), vec![0, 1]);
        let allow = Allowances { may_reorder: BTreeMap::from([(0, "in flight".into())]), ..Default::default() };
        assert_eq!(check(&h.0, &allow).unexplained_count(AnomalyKind::NonMonotonicSend), 0);
    }

    #[test]
    fn non_monotonic_poll_is_going_back_without_a_position_change() {
        let mut h = H::new();
        for o in 0..3 {
            h.read(0, 0, o, o, 10);
        }
        h.read(0, 0, 1, 1, 11);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::NonMonotonicPoll), 1, "{}", r.to_text());
        assert_eq!(r.count(AnomalyKind::Duplicate), 0);
        // Reading one offset twice in a row is also going back.
        let mut h = H::new();
        h.read(0, 0, 4, 4, 10);
        h.read(0, 0, 4, 4, 11);
        assert_eq!(h.check().count(AnomalyKind::NonMonotonicPoll), 1);
        // A seek, a reset or a crash explains it.
        for change in [PositionChange::Seek, PositionChange::Reset, PositionChange::Crashed] {
            let mut h = H::new();
            for o in 0..3 {
                h.read(0, 0, o, o, 10);
            }
            h.moved(0, if change == PositionChange::Crashed { None } else { Some(0) }, change, 11);
            h.read(0, 0, 1, 1, 12);
            assert_eq!(h.check().count(AnomalyKind::NonMonotonicPoll), 0, "{change:?}");
        }
        // A change on another partition does not.
        let mut h = H::new();
        h.read(0, 0, 2, 2, 10);
        h.moved(0, Some(1), PositionChange::Seek, 11);
        h.read(0, 0, 1, 1, 12);
        assert_eq!(h.check().count(AnomalyKind::NonMonotonicPoll), 1);
    }

    #[test]
    fn poll_skip_is_jumping_over_offsets_that_exist() {
        let mut h = H::new();
        h.read(0, 0, 0, 0, 10);
        h.read(0, 0, 1, 1, 10);
        h.read(0, 0, 4, 4, 11);
        h.read(1, 0, 2, 2, 12);
        let r = h.check();
        assert_eq!(r.count(AnomalyKind::PollSkip), 1, "{}", r.to_text());
        assert!(listed(&r, AnomalyKind::PollSkip)[0].summary.contains("over 1 offsets"));
        // Compaction removes records on purpose.
        h.0.compacted_topics = vec!["t".into()];
        assert_eq!(h.check().count(AnomalyKind::PollSkip), 0);
        // So does a reset.
        let mut h = H::new();
        h.read(0, 0, 1, 1, 10);
        h.moved(0, Some(0), PositionChange::Reset, 10);
        h.read(0, 0, 4, 4, 11);
        h.read(1, 0, 2, 2, 12);
        assert_eq!(h.check().count(AnomalyKind::PollSkip), 0);
    }

    #[test]
    fn aborted_read_is_not_applicable_without_transactions() {
        let r = H::new().check();
        let k = r.kinds.iter().find(|k| k.kind == AnomalyKind::AbortedRead).unwrap();
        assert!(!k.applicable);
        assert!(r.to_text().contains("aborted_read           not applicable"));
    }

    #[test]
    fn listing_is_bounded_and_puts_unexplained_first() {
        let mut h = H::new();
        for i in 0..(MAX_LISTED as u64 + 5) {
            h.read(0, 0, 0, 100 + i, 10 + i);
        }
        let allowed_tp = tp(1);
        h.read(0, 1, 0, 1, 5);
        h.read(1, 1, 0, 2, 6);
        let allow = Allowances { partitions: BTreeMap::from([(allowed_tp, "unclean".into())]), ..Default::default() };
        let r = check(&h.0, &allow);
        assert_eq!(r.count(AnomalyKind::InconsistentOffsets), 2);
        assert_eq!(r.unexplained_count(AnomalyKind::InconsistentOffsets), 1);
        let first = listed(&r, AnomalyKind::InconsistentOffsets)[0];
        assert!(first.allowed_by.is_none());
        // 25 re-reads of t-0@0: one non-monotonic poll each after the first.
        assert_eq!(r.count(AnomalyKind::NonMonotonicPoll), MAX_LISTED as u64 + 4);
        assert_eq!(listed(&r, AnomalyKind::NonMonotonicPoll).len(), MAX_LISTED);
    }

    #[test]
    fn kind_names_round_trip() {
        for k in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::parse(k.name()), Some(k));
            assert!(!k.explanation().is_empty());
        }
    }
}
