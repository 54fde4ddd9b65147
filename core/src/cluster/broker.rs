//! A Kafka broker: leader and follower replicas, the produce and fetch paths, ISR
//! maintenance, heartbeats to the controller, log flushing and retention.
//!
//! Replication follows Kafka 3.7+/4.x (`Partition`, `ReplicaManager`, `AbstractFetcherThread`):
//! - followers long-poll the leader (`replica.fetch.wait.max.ms`); a fetch's offset tells the
//!   leader the follower's LEO; the response carries the HW, which followers learn one
//!   round late;
//! - the leader's HW is the smallest LEO among itself, the "maximal" ISR (committed ISR plus a
//!   pending expansion) and caught-up followers about to join; it does not advance while the
//!   ISR is smaller than min(`min.insync.replicas`, RF) (KAFKA-15583);
//! - a follower is out of sync when its LEO differs from the leader's and it has not caught up
//!   for `replica.lag.time.max.ms`; ISR changes go to the controller as AlterPartition;
//! - divergence is found by the leader from the follower's last fetched epoch (KIP-320), and
//!   the follower truncates to the end of the largest common epoch (KIP-101).
use super::metadata::{ClientPartitionMeta, ClientTopicMeta, MetadataDelta, MetadataImage, PartitionState};
use crate::config::IsolationLevel;
use crate::config::{Acks, BrokerConfig, TopicConfig};
use crate::error::ErrorCode;
use crate::group::coordinator::{CoordinatorConfig, CoordinatorWrite, GroupCoordinator};
use crate::group::offsets::{offsets_partition, partition_for, OFFSETS_TOPIC};
use crate::log::cleaner::{self, CleanerConfig};
use crate::log::{PartitionLog, SequenceCheck};
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{
    CoordinatorType, FetchPartition, FetchPartitionResponse, Message, ProducePartition, ProducePartitionResponse,
    TxnMarker,
};
use crate::record::{BatchData, ControlType, Record, TopicPartition, BATCH_OVERHEAD, INTERNAL_RECORD, NO_SEQUENCE};
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use crate::txn::coordinator::TxnContext;
use crate::txn::{TxnCoordinator, TxnWrite, TRANSACTION_STATE_TOPIC};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrokerStatus {
    Running,
    /// The process died; the page cache (and so every written record) survived.
    Crashed,
    /// The machine lost power; records not yet flushed to disk are gone.
    PoweredOff,
}

/// The leader's view of one follower (`ReplicaState`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FollowerProgress {
    /// The follower's LEO as its last fetch told us (unknown until it fetches).
    pub leo: Option<u64>,
    pub last_caught_up: Option<SimTime>,
    pub last_fetch_time: SimTime,
    pub last_fetch_leader_leo: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaderState {
    pub epoch: u32,
    pub partition_epoch: u32,
    pub replicas: Vec<u32>,
    /// The committed ISR.
    pub isr: Vec<u32>,
    /// An AlterPartition in flight: (correlation id, proposed ISR).
    pub pending_isr: Option<(u64, Vec<u32>)>,
    pub followers: BTreeMap<u32, FollowerProgress>,
}

impl LeaderState {
    /// The ISR used for the HW: committed ISR plus members of a pending expansion.
    pub fn maximal_isr(&self) -> Vec<u32> {
        let mut m = self.isr.clone();
        if let Some((_, proposed)) = &self.pending_isr {
            for r in proposed {
                if !m.contains(r) {
                    m.push(*r);
                }
            }
        }
        m
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FollowerState {
    pub leader: u32,
    pub epoch: u32,
    pub in_flight: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Role {
    /// No leader known, or not started.
    Offline,
    Leader(LeaderState),
    Follower(FollowerState),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replica {
    pub log: PartitionLog,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DelayedPart {
    tp: TopicPartition,
    required_offset: u64,
    base_offset: u64,
}

/// An `acks=all` produce waiting for the HW to pass its records (the produce purgatory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DelayedProduce {
    from: NodeId,
    corr: u64,
    done: Vec<ProducePartitionResponse>,
    waiting: Vec<DelayedPart>,
    /// A WriteTxnMarkers request (of this producer id) rather than a Produce.
    #[serde(default)]
    marker_pid: Option<i64>,
}

impl DelayedProduce {
    /// The response once every partition is done.
    fn response(self) -> Message {
        match self.marker_pid {
            None => Message::ProduceResponse { corr: self.corr, partitions: self.done },
            Some(pid) => Message::WriteTxnMarkersResponse {
                corr: self.corr,
                results: self.done.into_iter().map(|r| (pid, r.tp, r.error)).collect(),
            },
        }
    }
}

/// A fetch with nothing to return yet, parked until data arrives or its wait expires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ParkedFetch {
    from: NodeId,
    corr: u64,
    replica_id: Option<u32>,
    #[serde(default = "read_uncommitted")]
    isolation: IsolationLevel,
    partitions: Vec<FetchPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Broker {
    pub id: u32,
    pub status: BrokerStatus,
    pub incarnation: u32,
    pub config: BrokerConfig,
    pub replicas: BTreeMap<TopicPartition, Replica>,
    pub metadata: MetadataImage,
    /// Whether the controller last told us we are fenced.
    pub fenced: bool,
    /// Slow-follower fault: extra delay before each follower fetch.
    pub fetch_delay: Dur,
    next_corr: u64,
    next_producer_id: i64,
    delayed_produces: BTreeMap<u64, DelayedProduce>,
    parked_fetches: BTreeMap<u64, ParkedFetch>,
    /// The group coordinator for the groups whose `__consumer_offsets` partition we lead.
    pub coordinator: GroupCoordinator,
    /// Coordinator writes waiting to be appended (handled after the current input).
    #[serde(skip)]
    coordinator_queue: Vec<CoordinatorWrite>,
    /// The transaction coordinator for the transactional ids whose `__transaction_state`
    /// partition we lead.
    #[serde(default)]
    pub txn_coordinator: TxnCoordinator,
    #[serde(skip)]
    txn_queue: Vec<TxnWrite>,
}

const CONTROLLER: NodeId = NodeId::Controller;

/// How long a leader waits for an AlterPartition answer before proposing again.
const ALTER_PARTITION_TIMEOUT: Dur = Dur(5_000_000);
/// Linux's writeback thread wakes every 5 s (dirty_writeback_centisecs).
const FLUSH_CHECK_INTERVAL: Dur = Dur(5_000_000);
/// Kafka's first retention check runs 30 s after start-up.
const FIRST_RETENTION_CHECK: Dur = Dur(30_000_000);

/// (`segment.bytes`, `segment.ms`); a compacted topic also rolls by `max.compaction.lag.ms`
/// so that no record waits in the active segment longer than the lag allows.
fn segment_limits(config: Option<&TopicConfig>) -> (u64, u64) {
    config
        .map(|c| {
            let ms = if c.cleanup_policy.compacts() { c.segment_ms.min(c.max_compaction_lag_ms) } else { c.segment_ms };
            (c.segment_bytes, ms)
        })
        .unwrap_or((1 << 30, 604_800_000))
}

impl Broker {
    pub fn new(id: u32, config: BrokerConfig) -> Self {
        Broker {
            id,
            status: BrokerStatus::Running,
            incarnation: 0,
            replicas: BTreeMap::new(),
            metadata: MetadataImage::default(),
            fenced: false,
            fetch_delay: Dur::ZERO,
            next_corr: 0,
            next_producer_id: i64::from(id) * 1_000_000,
            delayed_produces: BTreeMap::new(),
            parked_fetches: BTreeMap::new(),
            coordinator: GroupCoordinator::new(id, CoordinatorConfig::of(&config)),
            coordinator_queue: Vec::new(),
            txn_coordinator: TxnCoordinator::new(id),
            txn_queue: Vec::new(),
            config,
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == BrokerStatus::Running
    }

    fn corr(&mut self) -> u64 {
        self.next_corr += 1;
        self.next_corr
    }

    /// Timers of a running broker (at boot and after a restart).
    pub fn start(&mut self, io: &mut Io) {
        io.timer(Dur::ZERO, Timer::BrokerHeartbeat);
        io.timer(Dur::from_ms(self.config.replica_lag_time_max_ms / 2), Timer::IsrCheck);
        io.timer(FLUSH_CHECK_INTERVAL, Timer::FlushCheck);
        io.timer(FIRST_RETENTION_CHECK, Timer::RetentionCheck);
        if self.config.log_cleaner_enable {
            io.timer(Dur::ZERO, Timer::LogCleanerWake);
        }
    }

    // ------------------------------------------------------------------ faults

    /// The process dies: everything in memory is gone; the logs stay (page cache).
    pub fn crash(&mut self) {
        self.status = BrokerStatus::Crashed;
        self.clear_volatile();
    }

    /// The machine loses power: also every record not yet flushed. Returns records lost
    /// per partition.
    pub fn power_loss(&mut self) -> Vec<(TopicPartition, u64, u64)> {
        self.status = BrokerStatus::PoweredOff;
        self.clear_volatile();
        let mut lost = Vec::new();
        for (tp, r) in self.replicas.iter_mut() {
            let from = r.log.flushed_offset();
            let n = r.log.lose_unflushed();
            if n > 0 {
                lost.push((tp.clone(), from, n));
            }
        }
        lost
    }

    fn clear_volatile(&mut self) {
        self.delayed_produces.clear();
        self.parked_fetches.clear();
        self.coordinator.reset(self.incarnation + 1);
        self.coordinator_queue.clear();
        self.txn_coordinator.reset();
        self.txn_queue.clear();
        self.metadata = MetadataImage::default();
        self.fenced = true;
        for r in self.replicas.values_mut() {
            r.role = Role::Offline;
            r.log.recover();
        }
    }

    /// A new process starts on the same disk: it registers with the controller (through its
    /// first heartbeat) and learns its roles from the metadata it receives.
    pub fn restart(&mut self, io: &mut Io) {
        self.status = BrokerStatus::Running;
        self.incarnation += 1;
        self.fetch_delay = Dur::ZERO;
        self.start(io);
    }

    // ------------------------------------------------------------------ metadata

    /// Installs the boot-time metadata (the cluster starts with every broker caught up).
    pub fn bootstrap(&mut self, image: MetadataImage, io: &mut Io) {
        self.metadata = image;
        self.fenced = false;
        let tps: Vec<TopicPartition> = self.metadata.partitions().map(|(tp, _)| tp).collect();
        for tp in tps {
            self.reconcile(&tp, io);
        }
    }

    fn apply_delta(&mut self, delta: MetadataDelta, io: &mut Io) {
        if delta.base_version > self.metadata.version || delta.version <= self.metadata.version {
            return; // a gap (the heartbeat response will bring us up to date) or old news
        }
        let mut touched: Vec<TopicPartition> = Vec::new();
        for t in delta.topics {
            for p in 0..t.partitions.len() as u32 {
                touched.push(TopicPartition { topic: t.name.clone(), partition: p });
            }
            self.metadata.topics.insert(t.name.clone(), t);
        }
        for (tp, state) in delta.partitions {
            if let Some(cur) = self.metadata.partition_mut(&tp) {
                if state.version() >= cur.version() {
                    *cur = state;
                }
            }
            touched.push(tp);
        }
        for (b, m) in delta.brokers {
            self.metadata.brokers.insert(b, m);
        }
        self.metadata.version = delta.version;
        io.emit(Effect::MetadataUpdated { client: NodeId::Broker(self.id), version: delta.version });
        crate::collect::sort(&mut touched);
        touched.dedup();
        for tp in touched {
            self.reconcile(&tp, io);
        }
    }

    /// Brings a replica's role in line with the metadata (become leader/follower).
    fn reconcile(&mut self, tp: &TopicPartition, io: &mut Io) {
        let Some(state) = self.metadata.partition(tp).cloned() else {
            return;
        };
        if !state.replicas.contains(&self.id) {
            return;
        }
        let replica = self
            .replicas
            .entry(tp.clone())
            .or_insert_with(|| Replica { log: PartitionLog::default(), role: Role::Offline });
        match state.leader {
            Some(l) if l == self.id => {
                if let Role::Leader(ls) = &mut replica.role {
                    if ls.epoch == state.leader_epoch {
                        if state.partition_epoch > ls.partition_epoch {
                            ls.partition_epoch = state.partition_epoch;
                            ls.isr = state.isr.clone();
                            if ls.pending_isr.as_ref().map(|(_, p)| *p == state.isr).unwrap_or(false) {
                                ls.pending_isr = None;
                            }
                        }
                        self.after_isr_change(tp, io);
                        return;
                    }
                }
                self.become_leader(tp, &state, io);
            }
            Some(l) => {
                if let Role::Follower(fs) = &replica.role {
                    if fs.leader == l && fs.epoch == state.leader_epoch {
                        return;
                    }
                }
                self.become_follower(tp, Some(l), state.leader_epoch, io);
            }
            None => {
                if !matches!(replica.role, Role::Offline) {
                    self.become_follower(tp, None, state.leader_epoch, io);
                }
            }
        }
    }

    fn become_leader(&mut self, tp: &TopicPartition, state: &PartitionState, io: &mut Io) {
        let now = io.now;
        let replica = self.replicas.get_mut(tp).expect("replica exists");
        replica.log.assign_epoch_start(state.leader_epoch);
        let followers = crate::collect::btree_map(state.replicas.iter().filter(|&&r| r != self.id).map(|&r| {
            let in_sync = state.isr.contains(&r);
            (
                r,
                FollowerProgress {
                    leo: None,
                    last_caught_up: in_sync.then_some(now),
                    last_fetch_time: now,
                    last_fetch_leader_leo: 0,
                },
            )
        }));
        replica.role = Role::Leader(LeaderState {
            epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            replicas: state.replicas.clone(),
            isr: state.isr.clone(),
            pending_isr: None,
            followers,
        });
        io.emit(Effect::BecameLeader { tp: tp.clone(), broker: self.id, epoch: state.leader_epoch });
        if &*tp.topic == OFFSETS_TOPIC {
            let n = self.offsets_partitions();
            let log = &self.replicas[tp].log;
            self.coordinator.load(tp.partition, n, log, io);
        }
        if &*tp.topic == TRANSACTION_STATE_TOPIC {
            let epoch = state.leader_epoch;
            let partition = tp.partition;
            let writes = self.with_txn(|c, ctx, _, replicas| {
                let log = &replicas[&state_tp(partition)].log;
                c.load(partition, epoch, log, ctx, io)
            });
            self.txn_queue.extend(writes);
        }
        self.maybe_advance_hw(tp, io);
    }

    fn become_follower(&mut self, tp: &TopicPartition, leader: Option<u32>, epoch: u32, io: &mut Io) {
        let was_leader = matches!(self.replicas.get(tp).map(|r| &r.role), Some(Role::Leader(_)));
        if was_leader {
            self.fail_delayed(tp, ErrorCode::NOT_LEADER_OR_FOLLOWER, io);
        }
        if &*tp.topic == OFFSETS_TOPIC {
            let n = self.offsets_partitions();
            self.coordinator.unload(tp.partition, n, io);
        }
        if &*tp.topic == TRANSACTION_STATE_TOPIC {
            let partition = tp.partition;
            self.with_txn(|c, ctx, _, _| c.unload(partition, ctx, io));
        }
        let replica = self.replicas.get_mut(tp).expect("replica exists");
        replica.role = match leader {
            Some(l) => Role::Follower(FollowerState { leader: l, epoch, in_flight: None }),
            None => Role::Offline,
        };
        io.emit(Effect::BecameFollower { tp: tp.clone(), broker: self.id, leader, epoch });
        if leader.is_some() {
            self.schedule_fetch(tp, Dur::ZERO, io);
        }
    }

    // ------------------------------------------------------------------ dispatch

    pub fn handle_message(&mut self, from: NodeId, msg: Message, io: &mut Io) {
        self.dispatch_message(from, msg, io);
        self.flush_internal_writes(io);
    }

    /// Appends what the group and transaction coordinators want written; each may produce
    /// more (a committed write can start the next step), so loop until both are quiet.
    fn flush_internal_writes(&mut self, io: &mut Io) {
        self.flush_coordinator_writes(io);
        while !self.txn_queue.is_empty() {
            self.flush_txn_writes(io);
            self.flush_coordinator_writes(io);
        }
    }

    fn dispatch_message(&mut self, from: NodeId, msg: Message, io: &mut Io) {
        match msg {
            Message::FindCoordinatorRequest { corr, key, key_type } => {
                let (error, node) = match key_type {
                    CoordinatorType::Group => self.find_coordinator(&key),
                    CoordinatorType::Transaction => self.find_txn_coordinator(&key),
                };
                io.send(from, Message::FindCoordinatorResponse { corr, error, node });
            }
            Message::InitProducerIdRequest { transactional_id: Some(_), .. }
            | Message::AddPartitionsToTxnRequest { .. }
            | Message::AddOffsetsToTxnRequest { .. }
            | Message::EndTxnRequest { .. } => {
                let writes = self.with_txn(|c, ctx, next_pid, _| {
                    let mut alloc = || {
                        *next_pid += 1;
                        *next_pid
                    };
                    c.handle(from, msg, ctx, &mut alloc, io)
                });
                self.txn_queue.extend(writes);
            }
            Message::WriteTxnMarkersRequest { corr, markers } => self.handle_write_markers(from, corr, markers, io),
            Message::WriteTxnMarkersResponse { corr, results } => {
                let writes = self.with_txn(|c, ctx, _, _| c.on_markers_response(corr, &results, ctx, io));
                self.txn_queue.extend(writes);
            }
            Message::JoinGroupRequest { .. }
            | Message::SyncGroupRequest { .. }
            | Message::HeartbeatRequest { .. }
            | Message::LeaveGroupRequest { .. }
            | Message::OffsetCommitRequest { .. }
            | Message::TxnOffsetCommitRequest { .. }
            | Message::OffsetFetchRequest { .. } => self.handle_group_request(from, msg, io),
            Message::ProduceRequest { corr, acks, timeout, partitions } => {
                self.handle_produce(from, corr, acks, timeout, partitions, io)
            }
            Message::FetchRequest { corr, replica_id, max_wait, partitions, isolation } => {
                self.handle_fetch(from, corr, replica_id, max_wait, isolation, partitions, io)
            }
            Message::FetchResponse { corr, partitions } => {
                for p in partitions {
                    self.handle_follower_fetch_response(corr, p, io);
                }
            }
            Message::MetadataRequest { corr } => {
                let resp = self.metadata_response(corr);
                io.send(from, resp);
            }
            Message::InitProducerIdRequest { corr, .. } => {
                self.next_producer_id += 1;
                io.send(
                    from,
                    Message::InitProducerIdResponse {
                        corr,
                        error: None,
                        producer_id: self.next_producer_id,
                        producer_epoch: 0,
                    },
                );
            }
            Message::ListOffsetsRequest { corr, tp, timestamp } => {
                let (error, offset) = match self.replicas.get(&tp) {
                    Some(Replica { role: Role::Leader(_), log }) => {
                        (None, if timestamp == -2 { log.log_start_offset() } else { log.high_watermark() })
                    }
                    _ => (Some(ErrorCode::NOT_LEADER_OR_FOLLOWER), 0),
                };
                io.send(from, Message::ListOffsetsResponse { corr, tp, error, offset });
            }
            Message::BrokerHeartbeatResponse { fenced, delta } => {
                self.apply_delta(delta, io);
                self.fenced = fenced;
            }
            Message::MetadataPush { delta } => self.apply_delta(delta, io),
            Message::ConnectionClosed => {
                // The leader's process died: followers of it back off, then fetch again.
                let NodeId::Broker(dead) = from else { return };
                self.txn_coordinator.broker_gone(dead, io);
                let backoff = Dur::from_ms(self.config.replica_fetch_backoff_ms);
                let following: Vec<TopicPartition> = self
                    .replicas
                    .iter_mut()
                    .filter_map(|(tp, r)| match &mut r.role {
                        Role::Follower(fs) if fs.leader == dead && fs.in_flight.is_some() => {
                            fs.in_flight = None;
                            Some(tp.clone())
                        }
                        _ => None,
                    })
                    .collect();
                for tp in following {
                    self.schedule_fetch(&tp, backoff, io);
                }
            }
            Message::AlterPartitionResponse { corr, tp, result } => {
                self.handle_alter_partition_response(corr, &tp, result, io)
            }
            _ => {}
        }
    }

    pub fn handle_timer(&mut self, timer: Timer, io: &mut Io) {
        self.dispatch_timer(timer, io);
        self.flush_internal_writes(io);
    }

    fn dispatch_timer(&mut self, timer: Timer, io: &mut Io) {
        match timer {
            Timer::GroupHeartbeatExpire(..)
            | Timer::GroupJoinExpire(..)
            | Timer::GroupSyncExpire(..)
            | Timer::CoordinatorWriteTimeout(_) => {
                let writes = self.coordinator.handle_timer(timer, io);
                self.coordinator_queue.extend(writes);
            }
            Timer::TxnAbortCheck | Timer::TxnMarkerRetry(_) | Timer::TxnMarkerTimeout(_) => {
                let interval = self.config.transaction_abort_timed_out_transaction_cleanup_interval_ms;
                let writes = self.with_txn(|c, ctx, _, _| c.handle_timer(timer, interval, ctx, io));
                self.txn_queue.extend(writes);
            }
            Timer::BrokerHeartbeat => {
                io.send(
                    CONTROLLER,
                    Message::BrokerHeartbeat {
                        broker: self.id,
                        incarnation: self.incarnation,
                        metadata_version: self.metadata.version,
                    },
                );
                io.timer(Dur::from_ms(self.config.broker_heartbeat_interval_ms), Timer::BrokerHeartbeat);
            }
            Timer::IsrCheck => {
                self.check_isr(io);
                io.timer(Dur::from_ms((self.config.replica_lag_time_max_ms / 2).max(1)), Timer::IsrCheck);
            }
            Timer::FollowerFetch(tp) => self.send_follower_fetch(&tp, io),
            Timer::FollowerFetchTimeout(tp, corr) => {
                if let Some(Replica { role: Role::Follower(fs), .. }) = self.replicas.get_mut(&tp) {
                    if fs.in_flight == Some(corr) {
                        fs.in_flight = None;
                        self.schedule_fetch(&tp, Dur::ZERO, io);
                    }
                }
            }
            Timer::FetchWaitExpired(id) => {
                if let Some(parked) = self.parked_fetches.remove(&id) {
                    self.answer_fetch(
                        parked.from,
                        parked.corr,
                        parked.replica_id,
                        parked.isolation,
                        &parked.partitions,
                        io,
                    );
                }
            }
            Timer::ProduceExpired(id) => {
                if let Some(mut d) = self.delayed_produces.remove(&id) {
                    for w in d.waiting.drain(..) {
                        d.done.push(ProducePartitionResponse {
                            tp: w.tp,
                            error: Some(ErrorCode::REQUEST_TIMED_OUT),
                            base_offset: None,
                            isr_mask: 0,
                        });
                    }
                    io.send(d.from, d.response());
                }
            }
            Timer::AlterPartitionTimeout(tp, corr) => {
                if let Some(Replica { role: Role::Leader(ls), .. }) = self.replicas.get_mut(&tp) {
                    if ls.pending_isr.as_ref().map(|(c, _)| *c == corr).unwrap_or(false) {
                        ls.pending_isr = None;
                    }
                }
            }
            Timer::FlushCheck => {
                self.flush_check(io);
                io.timer(FLUSH_CHECK_INTERVAL, Timer::FlushCheck);
            }
            Timer::RetentionCheck => {
                self.retention_check(io);
                io.timer(Dur::from_ms(self.config.log_retention_check_interval_ms.max(1)), Timer::RetentionCheck);
            }
            Timer::LogCleanerWake => {
                self.run_log_cleaner(io);
                io.timer(Dur::from_ms(self.config.log_cleaner_backoff_ms.max(1)), Timer::LogCleanerWake);
            }
            _ => {}
        }
    }

    fn metadata_response(&self, corr: u64) -> Message {
        let brokers = self.metadata.brokers.iter().filter(|(_, m)| !m.fenced).map(|(b, _)| *b).collect();
        let topics = self
            .metadata
            .topics
            .values()
            .map(|t| ClientTopicMeta {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| ClientPartitionMeta {
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                    })
                    .collect(),
            })
            .collect();
        Message::MetadataResponse { corr, brokers, topics }
    }

    // ------------------------------------------------------------------ produce

    fn handle_produce(
        &mut self,
        from: NodeId,
        corr: u64,
        acks: Acks,
        timeout: Dur,
        partitions: Vec<ProducePartition>,
        io: &mut Io,
    ) {
        let mut done = Vec::with_capacity(partitions.len());
        let mut waiting = Vec::new();
        for part in partitions {
            // As ReplicaManager.appendToLocalLog with internalTopicsAllowed = false.
            let appended = if crate::record::is_internal_topic(&part.tp.topic) {
                Err(ErrorCode::INVALID_TOPIC_EXCEPTION)
            } else {
                self.append_to_leader(&part.tp, part.batch, acks, io)
            };
            match appended {
                Err(error) => {
                    io.emit(Effect::ProduceRejected { tp: part.tp.clone(), broker: self.id, error });
                    done.push(ProducePartitionResponse {
                        tp: part.tp,
                        error: Some(error),
                        base_offset: None,
                        isr_mask: 0,
                    })
                }
                Ok((base_offset, required_offset)) => {
                    let hw = self.replicas[&part.tp].log.high_watermark();
                    if acks == Acks::All && hw < required_offset {
                        waiting.push(DelayedPart { tp: part.tp, required_offset, base_offset });
                    } else {
                        let isr_mask = self.isr_mask(&part.tp);
                        done.push(ProducePartitionResponse {
                            tp: part.tp,
                            error: None,
                            base_offset: Some(base_offset),
                            isr_mask,
                        });
                    }
                }
            }
        }
        if acks == Acks::None {
            return;
        }
        if waiting.is_empty() {
            io.send(from, Message::ProduceResponse { corr, partitions: done });
            return;
        }
        let id = self.corr();
        self.delayed_produces.insert(id, DelayedProduce { from, corr, done, waiting, marker_pid: None });
        io.timer(timeout, Timer::ProduceExpired(id));
    }

    // ------------------------------------------------------------------ transaction markers

    /// WriteTxnMarkers: append each marker as leader (acks=all: the answer waits for the HW).
    fn handle_write_markers(&mut self, from: NodeId, corr: u64, markers: Vec<TxnMarker>, io: &mut Io) {
        let mut done = Vec::new();
        let mut waiting = Vec::new();
        let pid = markers.first().map(|m| m.producer_id).unwrap_or(-1);
        for m in markers {
            for tp in m.partitions.clone() {
                match self.append_marker(&tp, &m, io) {
                    Err(error) => {
                        done.push(ProducePartitionResponse { tp, error: Some(error), base_offset: None, isr_mask: 0 })
                    }
                    Ok((base_offset, required_offset)) => {
                        let hw = self.replicas[&tp].log.high_watermark();
                        if hw >= required_offset {
                            done.push(ProducePartitionResponse {
                                tp,
                                error: None,
                                base_offset: Some(base_offset),
                                isr_mask: 0,
                            });
                        } else {
                            waiting.push(DelayedPart { tp, required_offset, base_offset });
                        }
                    }
                }
            }
        }
        let d = DelayedProduce { from, corr, done, waiting, marker_pid: Some(pid) };
        if d.waiting.is_empty() {
            io.send(from, d.response());
            return;
        }
        let id = self.corr();
        self.delayed_produces.insert(id, d);
        io.timer(Dur::from_ms(30_000), Timer::ProduceExpired(id));
    }

    fn append_marker(&mut self, tp: &TopicPartition, m: &TxnMarker, io: &mut Io) -> Result<(u64, u64), ErrorCode> {
        let config = self.metadata.topic_config(&tp.topic).cloned();
        let Some(replica) = self.replicas.get_mut(tp) else {
            return Err(if config.is_some() {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            });
        };
        let Role::Leader(ls) = &replica.role else {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        };
        let min_isr = config.as_ref().map(|c| c.min_insync_replicas).unwrap_or(1);
        if (ls.isr.len() as u32) < min_isr {
            return Err(ErrorCode::NOT_ENOUGH_REPLICAS);
        }
        let kind = if m.committed { ControlType::Commit } else { ControlType::Abort };
        let leader_epoch = ls.epoch;
        let b = replica.log.append_marker_as_leader(
            m.producer_id,
            m.producer_epoch,
            kind,
            m.coordinator_epoch,
            leader_epoch,
            io.now,
            segment_limits(config.as_ref()),
        )?;
        io.emit(Effect::Appended {
            tp: tp.clone(),
            broker: self.id,
            base: b.base_offset,
            last: b.last_offset(),
            epoch: leader_epoch,
            leader: true,
        });
        io.emit(Effect::MarkerWritten {
            tp: tp.clone(),
            broker: self.id,
            producer_id: m.producer_id,
            committed: m.committed,
            offset: b.base_offset,
        });
        self.maybe_flush_by_count(tp);
        self.maybe_advance_hw(tp, io);
        self.wake_parked(tp, true, io);
        Ok((b.base_offset, b.next_offset()))
    }

    fn isr_mask(&self, tp: &TopicPartition) -> u64 {
        match self.replicas.get(tp).map(|r| &r.role) {
            Some(Role::Leader(ls)) => ls.isr.iter().fold(0u64, |m, &b| m | (1u64 << (b % 64))),
            _ => 0,
        }
    }

    /// Appends a producer batch as leader. Returns (base offset, offset the HW must reach).
    fn append_to_leader(
        &mut self,
        tp: &TopicPartition,
        batch: Arc<BatchData>,
        acks: Acks,
        io: &mut Io,
    ) -> Result<(u64, u64), ErrorCode> {
        let config = self.metadata.topic_config(&tp.topic).cloned();
        let Some(replica) = self.replicas.get_mut(tp) else {
            return Err(if config.is_some() {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            });
        };
        let Role::Leader(ls) = &replica.role else {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        };
        let config = config.unwrap_or_default();
        if config.cleanup_policy.compacts() && batch.records.iter().any(|r| r.key.is_none()) {
            return Err(ErrorCode::INVALID_RECORD);
        }
        if batch.size_bytes > config.max_message_bytes {
            return Err(ErrorCode::MESSAGE_TOO_LARGE);
        }
        if acks == Acks::All && (ls.isr.len() as u32) < config.min_insync_replicas {
            return Err(ErrorCode::NOT_ENOUGH_REPLICAS);
        }
        let epoch = ls.epoch;
        // A coordinator's transactional offsets carry the producer's id but no sequence
        // (`AppendOrigin.COORDINATOR` skips the sequence checks).
        let check = if batch.base_sequence == NO_SEQUENCE && batch.is_transactional {
            SequenceCheck::Append
        } else {
            replica.log.check_sequence(&batch)
        };
        match check {
            SequenceCheck::Reject(e) => return Err(e),
            SequenceCheck::Duplicate { base_offset } => {
                io.emit(Effect::DuplicateBatch { tp: tp.clone(), broker: self.id, base: base_offset });
                let required = base_offset + u64::from(batch.last_delta()) + 1;
                return Ok((base_offset, required));
            }
            SequenceCheck::Append => {}
        }
        let appended = replica.log.append_as_leader(batch, epoch, io.now, segment_limits(Some(&config)));
        io.emit(Effect::Appended {
            tp: tp.clone(),
            broker: self.id,
            base: appended.base_offset,
            last: appended.last_offset(),
            epoch,
            leader: true,
        });
        self.maybe_flush_by_count(tp);
        self.maybe_advance_hw(tp, io);
        self.wake_parked(tp, true, io);
        Ok((appended.base_offset, appended.next_offset()))
    }

    fn maybe_flush_by_count(&mut self, tp: &TopicPartition) {
        let limit = self.config.log_flush_interval_messages;
        if let Some(r) = self.replicas.get_mut(tp) {
            if r.log.unflushed_records() >= limit {
                r.log.flush();
            }
        }
    }

    /// Completes delayed produces of `tp` whose records the HW has passed.
    fn complete_delayed(&mut self, tp: &TopicPartition, io: &mut Io) {
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let hw = replica.log.high_watermark();
        let (isr_len, mask) = match &replica.role {
            Role::Leader(ls) => (ls.isr.len() as u32, ls.isr.iter().fold(0u64, |m, &b| m | (1u64 << (b % 64)))),
            _ => return,
        };
        let min_isr = self.metadata.topic_config(&tp.topic).map(|c| c.min_insync_replicas).unwrap_or(1);
        let mut finished = Vec::new();
        for (id, d) in self.delayed_produces.iter_mut() {
            let mut i = 0;
            while i < d.waiting.len() {
                if d.waiting[i].tp == *tp && hw >= d.waiting[i].required_offset {
                    let w = d.waiting.remove(i);
                    // Appended, replicated, but the ISR shrank below min.insync.replicas meanwhile.
                    let error = (isr_len < min_isr).then_some(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
                    d.done.push(ProducePartitionResponse {
                        tp: w.tp,
                        error,
                        base_offset: error.is_none().then_some(w.base_offset),
                        isr_mask: mask,
                    });
                } else {
                    i += 1;
                }
            }
            if d.waiting.is_empty() {
                finished.push(*id);
            }
        }
        for id in finished {
            let d = self.delayed_produces.remove(&id).expect("present");
            io.send(d.from, d.response());
        }
    }

    /// Fails delayed produces of a partition this broker no longer leads.
    fn fail_delayed(&mut self, tp: &TopicPartition, error: ErrorCode, io: &mut Io) {
        let mut finished = Vec::new();
        for (id, d) in self.delayed_produces.iter_mut() {
            let before = d.waiting.len();
            d.waiting.retain(|w| w.tp != *tp);
            for _ in d.waiting.len()..before {
                d.done.push(ProducePartitionResponse {
                    tp: tp.clone(),
                    error: Some(error),
                    base_offset: None,
                    isr_mask: 0,
                });
            }
            if d.waiting.is_empty() {
                finished.push(*id);
            }
        }
        for id in finished {
            let d = self.delayed_produces.remove(&id).expect("present");
            io.send(d.from, d.response());
        }
    }

    // ------------------------------------------------------------------ fetch (leader side)

    #[allow(clippy::too_many_arguments)]
    fn handle_fetch(
        &mut self,
        from: NodeId,
        corr: u64,
        replica_id: Option<u32>,
        max_wait: Dur,
        isolation: IsolationLevel,
        partitions: Vec<FetchPartition>,
        io: &mut Io,
    ) {
        if let Some(f) = replica_id {
            for p in &partitions {
                self.record_follower_fetch(&p.tp, f, p, io);
            }
        }
        let responses = self.read_partitions(replica_id, isolation, &partitions);
        let has_data_or_error =
            responses.iter().any(|r| !r.batches.is_empty() || r.error.is_some() || r.diverging_epoch.is_some());
        if has_data_or_error || max_wait == Dur::ZERO {
            io.send(from, Message::FetchResponse { corr, partitions: responses });
            return;
        }
        let id = self.corr();
        self.parked_fetches.insert(id, ParkedFetch { from, corr, replica_id, isolation, partitions });
        io.timer(max_wait, Timer::FetchWaitExpired(id));
    }

    fn answer_fetch(
        &mut self,
        from: NodeId,
        corr: u64,
        replica_id: Option<u32>,
        isolation: IsolationLevel,
        partitions: &[FetchPartition],
        io: &mut Io,
    ) {
        let responses = self.read_partitions(replica_id, isolation, partitions);
        io.send(from, Message::FetchResponse { corr, partitions: responses });
    }

    /// Answers parked fetches that include `tp`: followers wake on new data, consumers when
    /// the HW moves.
    fn wake_parked(&mut self, tp: &TopicPartition, new_data: bool, io: &mut Io) {
        let ready: Vec<u64> = self
            .parked_fetches
            .iter()
            .filter(|(_, p)| p.replica_id.is_some() == new_data && p.partitions.iter().any(|fp| fp.tp == *tp))
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let p = self.parked_fetches.remove(&id).expect("present");
            self.answer_fetch(p.from, p.corr, p.replica_id, p.isolation, &p.partitions, io);
        }
    }

    fn read_partitions(
        &self,
        replica_id: Option<u32>,
        isolation: IsolationLevel,
        partitions: &[FetchPartition],
    ) -> Vec<FetchPartitionResponse> {
        partitions.iter().map(|p| self.read_partition(replica_id, isolation, p)).collect()
    }

    fn read_partition(
        &self,
        replica_id: Option<u32>,
        isolation: IsolationLevel,
        p: &FetchPartition,
    ) -> FetchPartitionResponse {
        let mut resp = FetchPartitionResponse {
            tp: p.tp.clone(),
            error: None,
            high_watermark: 0,
            log_start_offset: 0,
            diverging_epoch: None,
            batches: Vec::new(),
            last_stable_offset: 0,
            aborted_transactions: Vec::new(),
        };
        let Some(replica) = self.replicas.get(&p.tp) else {
            resp.error = Some(if self.metadata.topics.contains_key(&p.tp.topic) {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            });
            return resp;
        };
        let Role::Leader(ls) = &replica.role else {
            resp.error = Some(ErrorCode::NOT_LEADER_OR_FOLLOWER);
            return resp;
        };
        let log = &replica.log;
        resp.high_watermark = log.high_watermark();
        resp.log_start_offset = log.log_start_offset();
        resp.last_stable_offset = log.last_stable_offset();
        if let Some(e) = p.current_leader_epoch {
            if e < ls.epoch {
                resp.error = Some(ErrorCode::FENCED_LEADER_EPOCH);
                return resp;
            }
            if e > ls.epoch {
                resp.error = Some(ErrorCode::UNKNOWN_LEADER_EPOCH);
                return resp;
            }
        }
        if let Some(last_epoch) = p.last_fetched_epoch {
            match log.end_offset_for_epoch(last_epoch) {
                Some((e, end)) if e < last_epoch || end < p.fetch_offset => {
                    resp.diverging_epoch = Some((e, end));
                    return resp;
                }
                None => {
                    // The leader knows no epoch at all: the follower must truncate to its HW.
                    resp.diverging_epoch = Some((0, 0));
                    return resp;
                }
                _ => {}
            }
        }
        if p.fetch_offset < log.log_start_offset() || p.fetch_offset > log.log_end_offset() {
            resp.error = Some(ErrorCode::OFFSET_OUT_OF_RANGE);
            return resp;
        }
        // Followers read to the LEO, read_uncommitted consumers to the HW, read_committed
        // ones to the LSO with the aborted transactions of the range (`FetchIsolation`).
        let max_offset = match (replica_id, isolation) {
            (Some(_), _) => log.log_end_offset(),
            (None, IsolationLevel::ReadUncommitted) => log.high_watermark(),
            (None, IsolationLevel::ReadCommitted) => log.last_stable_offset(),
        };
        resp.batches = log.read(p.fetch_offset, max_offset, p.max_bytes);
        if replica_id.is_none() && isolation == IsolationLevel::ReadCommitted {
            let end = resp.batches.last().map(|b| b.next_offset()).unwrap_or(p.fetch_offset);
            resp.aborted_transactions = log
                .aborted_in_range(p.fetch_offset, end)
                .into_iter()
                .map(|a| (a.producer_id, a.first_offset))
                .collect();
        }
        resp
    }

    /// A follower's fetch tells the leader its LEO (Kafka's `updateFollowerFetchState`).
    fn record_follower_fetch(&mut self, tp: &TopicPartition, follower: u32, p: &FetchPartition, io: &mut Io) {
        let now = io.now;
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        let leo = replica.log.log_end_offset();
        let Role::Leader(ls) = &mut replica.role else {
            return;
        };
        if p.current_leader_epoch != Some(ls.epoch) {
            return;
        }
        // A diverging follower does not report a usable LEO.
        if let Some(last_epoch) = p.last_fetched_epoch {
            match replica.log.end_offset_for_epoch(last_epoch) {
                Some((e, end)) if e == last_epoch && end >= p.fetch_offset => {}
                _ => return,
            }
        }
        let Some(fp) = ls.followers.get_mut(&follower) else {
            return;
        };
        if p.fetch_offset >= leo {
            fp.last_caught_up = Some(now);
        } else if p.fetch_offset >= fp.last_fetch_leader_leo {
            fp.last_caught_up =
                Some(fp.last_caught_up.map(|t| t.max(fp.last_fetch_time)).unwrap_or(fp.last_fetch_time));
        }
        fp.leo = Some(p.fetch_offset.min(leo));
        fp.last_fetch_leader_leo = leo;
        fp.last_fetch_time = now;
        self.maybe_expand_isr(tp, follower, io);
        self.maybe_advance_hw(tp, io);
    }

    fn follower_eligible(&self, b: u32) -> bool {
        self.metadata.brokers.get(&b).map(|m| !m.fenced).unwrap_or(false)
    }

    fn maybe_expand_isr(&mut self, tp: &TopicPartition, follower: u32, io: &mut Io) {
        let eligible = self.follower_eligible(follower);
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let Role::Leader(ls) = &replica.role else {
            return;
        };
        if ls.pending_isr.is_some() || ls.isr.contains(&follower) || !eligible {
            return;
        }
        let Some(f_leo) = ls.followers.get(&follower).and_then(|f| f.leo) else {
            return;
        };
        let epoch_start = replica.log.epoch_start_offset(ls.epoch).unwrap_or(0);
        if f_leo >= replica.log.high_watermark() && f_leo >= epoch_start {
            let mut new_isr = ls.isr.clone();
            new_isr.push(follower);
            self.propose_isr(tp, new_isr, io);
        }
    }

    fn propose_isr(&mut self, tp: &TopicPartition, new_isr: Vec<u32>, io: &mut Io) {
        let corr = self.corr();
        let Some(Replica { role: Role::Leader(ls), .. }) = self.replicas.get_mut(tp) else {
            return;
        };
        ls.pending_isr = Some((corr, new_isr.clone()));
        io.emit(Effect::IsrChangeProposed { tp: tp.clone(), broker: self.id, isr: new_isr.clone() });
        io.send(
            CONTROLLER,
            Message::AlterPartition {
                corr,
                broker: self.id,
                tp: tp.clone(),
                leader_epoch: ls.epoch,
                partition_epoch: ls.partition_epoch,
                new_isr,
            },
        );
        io.timer(ALTER_PARTITION_TIMEOUT, Timer::AlterPartitionTimeout(tp.clone(), corr));
    }

    fn handle_alter_partition_response(
        &mut self,
        corr: u64,
        tp: &TopicPartition,
        result: Result<PartitionState, ErrorCode>,
        io: &mut Io,
    ) {
        let Some(Replica { role: Role::Leader(ls), .. }) = self.replicas.get_mut(tp) else {
            return;
        };
        if ls.pending_isr.as_ref().map(|(c, _)| *c != corr).unwrap_or(true) {
            return;
        }
        ls.pending_isr = None;
        if let Ok(state) = result {
            if state.leader_epoch == ls.epoch && state.partition_epoch > ls.partition_epoch {
                ls.isr = state.isr;
                ls.partition_epoch = state.partition_epoch;
            }
        }
        self.after_isr_change(tp, io);
    }

    fn after_isr_change(&mut self, tp: &TopicPartition, io: &mut Io) {
        self.maybe_advance_hw(tp, io);
        self.complete_delayed(tp, io);
    }

    /// Periodic check for followers that fell out of sync.
    fn check_isr(&mut self, io: &mut Io) {
        let now = io.now;
        let lag = Dur::from_ms(self.config.replica_lag_time_max_ms);
        let mut proposals = Vec::new();
        for (tp, r) in &self.replicas {
            let Role::Leader(ls) = &r.role else { continue };
            if ls.pending_isr.is_some() {
                continue;
            }
            let leo = r.log.log_end_offset();
            let out: Vec<u32> = ls
                .isr
                .iter()
                .copied()
                .filter(|&b| b != self.id)
                .filter(|b| {
                    let f = &ls.followers[b];
                    let behind = f.leo != Some(leo);
                    let stale = f.last_caught_up.map(|t| now.since(t) > lag).unwrap_or(true);
                    behind && stale
                })
                .collect();
            if !out.is_empty() {
                let new_isr: Vec<u32> = ls.isr.iter().copied().filter(|b| !out.contains(b)).collect();
                proposals.push((tp.clone(), new_isr));
            }
        }
        for (tp, isr) in proposals {
            self.propose_isr(&tp, isr, io);
        }
    }

    /// Advances the leader's HW when the maximal ISR (and caught-up followers about to
    /// join) have the records; completes delayed produces and wakes consumers.
    fn maybe_advance_hw(&mut self, tp: &TopicPartition, io: &mut Io) {
        let now = io.now;
        let lag = Dur::from_ms(self.config.replica_lag_time_max_ms);
        let min_isr = self.metadata.topic_config(&tp.topic).map(|c| c.min_insync_replicas).unwrap_or(1);
        let eligible: BTreeMap<u32, bool> =
            crate::collect::btree_map(self.metadata.brokers.iter().map(|(b, m)| (*b, !m.fenced)));
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        let Role::Leader(ls) = &replica.role else {
            return;
        };
        let needed = min_isr.min(ls.replicas.len() as u32);
        if (ls.isr.len() as u32) < needed {
            return; // under min ISR: the HW stays where it is (KAFKA-15583)
        }
        let maximal = ls.maximal_isr();
        let mut hw = replica.log.log_end_offset();
        for (b, f) in &ls.followers {
            let in_isr = maximal.contains(b);
            let about_to_join = !in_isr
                && eligible.get(b).copied().unwrap_or(false)
                && f.last_caught_up.map(|t| now.since(t) <= lag).unwrap_or(false);
            if in_isr || about_to_join {
                match f.leo {
                    Some(l) => hw = hw.min(l),
                    None if in_isr => return,
                    None => {}
                }
            }
        }
        if hw > replica.log.high_watermark() {
            replica.log.set_high_watermark(hw);
            io.emit(Effect::HighWatermark { tp: tp.clone(), broker: self.id, hw });
            if &*tp.topic == OFFSETS_TOPIC {
                let writes = self.coordinator.on_high_watermark(tp.partition, &replica.log, io);
                self.coordinator_queue.extend(writes);
            }
            if &*tp.topic == TRANSACTION_STATE_TOPIC {
                let partition = tp.partition;
                let writes = self.with_txn(|c, ctx, _, _| c.on_high_watermark(partition, hw, ctx, io));
                self.txn_queue.extend(writes);
            }
            self.complete_delayed(tp, io);
            self.wake_parked(tp, false, io);
        }
    }

    // ------------------------------------------------------------------ group coordinator

    /// Partitions of `__consumer_offsets` in our metadata (the configured count before the
    /// topic exists).
    fn offsets_partitions(&self) -> u32 {
        self.metadata
            .topics
            .get(OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as u32)
            .unwrap_or(self.config.offsets_topic_num_partitions)
    }

    /// FindCoordinator: the leader of the group's `__consumer_offsets` partition.
    fn find_coordinator(&self, group: &str) -> (Option<ErrorCode>, Option<u32>) {
        if !self.metadata.topics.contains_key(OFFSETS_TOPIC) {
            return (Some(ErrorCode::COORDINATOR_NOT_AVAILABLE), None);
        }
        let tp = offsets_partition(partition_for(group, self.offsets_partitions()));
        let leader = self.metadata.partition(&tp).and_then(|p| p.leader);
        let alive = leader.map(|l| self.metadata.brokers.get(&l).map(|m| !m.fenced).unwrap_or(false)).unwrap_or(false);
        match leader {
            Some(l) if alive => (None, Some(l)),
            _ => (Some(ErrorCode::COORDINATOR_NOT_AVAILABLE), None),
        }
    }

    /// FindCoordinator(TRANSACTION): the leader of the id's `__transaction_state` partition.
    fn find_txn_coordinator(&self, transactional_id: &str) -> (Option<ErrorCode>, Option<u32>) {
        if !self.metadata.topics.contains_key(TRANSACTION_STATE_TOPIC) {
            return (Some(ErrorCode::COORDINATOR_NOT_AVAILABLE), None);
        }
        let tp = state_tp(crate::txn::partition_for(transactional_id, self.txn_state_partitions()));
        let leader = self.metadata.partition(&tp).and_then(|p| p.leader);
        let alive = leader.map(|l| self.metadata.brokers.get(&l).map(|m| !m.fenced).unwrap_or(false)).unwrap_or(false);
        match leader {
            Some(l) if alive => (None, Some(l)),
            _ => (Some(ErrorCode::COORDINATOR_NOT_AVAILABLE), None),
        }
    }

    fn txn_state_partitions(&self) -> u32 {
        self.metadata
            .topics
            .get(TRANSACTION_STATE_TOPIC)
            .map(|t| t.partitions.len() as u32)
            .unwrap_or(self.config.transaction_state_log_num_partitions)
    }

    /// Calls the transaction coordinator with its view of the cluster, the producer id
    /// counter and the replicas.
    fn with_txn<R>(
        &mut self,
        f: impl FnOnce(&mut TxnCoordinator, &TxnContext, &mut i64, &BTreeMap<TopicPartition, Replica>) -> R,
    ) -> R {
        let state_partitions = self.txn_state_partitions();
        let offsets_partitions = self.offsets_partitions();
        let meta = &self.metadata;
        let leader = |tp: &TopicPartition| meta.partition(tp).and_then(|p| p.leader);
        let ctx = TxnContext {
            state_partitions,
            offsets_partitions,
            max_timeout_ms: self.config.transaction_max_timeout_ms,
            leader_of: &leader,
        };
        f(&mut self.txn_coordinator, &ctx, &mut self.next_producer_id, &self.replicas)
    }

    /// Appends the transaction coordinator's records to `__transaction_state` (acks=all).
    fn flush_txn_writes(&mut self, io: &mut Io) {
        while !self.txn_queue.is_empty() {
            let w = self.txn_queue.remove(0);
            let tp = state_tp(w.partition);
            let ts = io.now.as_ms() as i64;
            let records: Vec<Record> = w
                .records
                .into_iter()
                .enumerate()
                .map(|(i, (key, value))| Record {
                    id: INTERNAL_RECORD,
                    offset_delta: i as u32,
                    timestamp: ts,
                    key: Some(key),
                    value,
                    headers: Vec::new(),
                })
                .collect();
            let size = BATCH_OVERHEAD + records.iter().map(|r| r.size_in_bytes(0)).sum::<u32>();
            let batch = Arc::new(BatchData::new(crate::record::NO_PRODUCER_ID, -1, NO_SEQUENCE, records, size));
            match self.append_to_leader(&tp, batch, Acks::All, io) {
                Ok((_, required)) => {
                    let hw = self.replicas.get(&tp).map(|r| r.log.high_watermark()).unwrap_or(0);
                    let more = self.with_txn(|c, ctx, _, _| c.write_appended(w.id, required, hw, ctx, io));
                    self.txn_queue.extend(more);
                }
                Err(_) => self.txn_coordinator.write_failed(w.id, io),
            }
        }
    }

    fn handle_group_request(&mut self, from: NodeId, msg: Message, io: &mut Io) {
        let group = match &msg {
            Message::JoinGroupRequest { group, .. }
            | Message::SyncGroupRequest { group, .. }
            | Message::HeartbeatRequest { group, .. }
            | Message::LeaveGroupRequest { group, .. }
            | Message::OffsetCommitRequest { group, .. }
            | Message::TxnOffsetCommitRequest { group, .. }
            | Message::OffsetFetchRequest { group, .. } => group.clone(),
            _ => return,
        };
        let partition = partition_for(&group, self.offsets_partitions());
        let tp = offsets_partition(partition);
        let leads = matches!(self.replicas.get(&tp).map(|r| &r.role), Some(Role::Leader(_)));
        if !leads || !self.coordinator.is_loaded(partition) {
            io.send(from, group_error_response(&msg, ErrorCode::NOT_COORDINATOR));
            return;
        }
        let writes = self.coordinator.handle(from, msg, partition, io);
        self.coordinator_queue.extend(writes);
    }

    /// Appends the coordinator's records to `__consumer_offsets` as leader (acks=all: the
    /// coordinator answers once the HW passes them).
    fn flush_coordinator_writes(&mut self, io: &mut Io) {
        while !self.coordinator_queue.is_empty() {
            let w = self.coordinator_queue.remove(0);
            let tp = offsets_partition(w.partition);
            let ts = io.now.as_ms() as i64;
            let records: Vec<Record> = w
                .records
                .into_iter()
                .enumerate()
                .map(|(i, (key, value))| Record {
                    id: INTERNAL_RECORD,
                    offset_delta: i as u32,
                    timestamp: ts,
                    key: Some(key),
                    value,
                    headers: Vec::new(),
                })
                .collect();
            let size = BATCH_OVERHEAD + records.iter().map(|r| r.size_in_bytes(0)).sum::<u32>();
            let mut data = match w.txn {
                // Transactional offsets: the producer's id and epoch, no sequence.
                Some((pid, epoch)) => BatchData::new(pid, epoch, NO_SEQUENCE, records, size),
                None => BatchData::new(crate::record::NO_PRODUCER_ID, -1, NO_SEQUENCE, records, size),
            };
            data.is_transactional = w.txn.is_some();
            match self.append_to_leader(&tp, Arc::new(data), Acks::All, io) {
                Ok((_, required)) => {
                    let hw = self.replicas.get(&tp).map(|r| r.log.high_watermark()).unwrap_or(0);
                    let more = self.coordinator.write_appended(w.id, required, hw, io);
                    self.coordinator_queue.extend(more);
                }
                Err(e) => {
                    let more = self.coordinator.write_failed(w.id, e, io);
                    self.coordinator_queue.extend(more);
                }
            }
        }
    }

    // ------------------------------------------------------------------ fetch (follower side)

    fn send_follower_fetch(&mut self, tp: &TopicPartition, io: &mut Io) {
        if !self.is_running() {
            return;
        }
        let corr = self.corr();
        let max_wait = Dur::from_ms(self.config.replica_fetch_wait_max_ms);
        let max_bytes = self.config.replica_fetch_max_bytes;
        let timeout = Dur::from_ms(self.config.replica_socket_timeout_ms);
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        let Role::Follower(fs) = &mut replica.role else {
            return;
        };
        if fs.in_flight.is_some() {
            return;
        }
        fs.in_flight = Some(corr);
        let request = Message::FetchRequest {
            corr,
            replica_id: Some(self.id),
            max_wait,
            isolation: crate::config::IsolationLevel::ReadUncommitted,
            partitions: vec![FetchPartition {
                tp: tp.clone(),
                fetch_offset: replica.log.log_end_offset(),
                current_leader_epoch: Some(fs.epoch),
                last_fetched_epoch: replica.log.latest_epoch(),
                max_bytes,
            }],
        };
        io.send(NodeId::Broker(fs.leader), request);
        io.timer(max_wait.plus_dur(timeout), Timer::FollowerFetchTimeout(tp.clone(), corr));
    }

    fn handle_follower_fetch_response(&mut self, corr: u64, p: FetchPartitionResponse, io: &mut Io) {
        let tp = p.tp.clone();
        let seg = segment_limits(self.metadata.topic_config(&tp.topic));
        let allow_gap = self.metadata.topic_config(&tp.topic).map(|c| c.cleanup_policy.compacts()).unwrap_or(false);
        let backoff = Dur::from_ms(self.config.replica_fetch_backoff_ms);
        let id = self.id;
        let Some(replica) = self.replicas.get_mut(&tp) else {
            return;
        };
        let Role::Follower(fs) = &mut replica.role else {
            return;
        };
        if fs.in_flight != Some(corr) {
            return;
        }
        fs.in_flight = None;
        let (leader, epoch) = (fs.leader, fs.epoch);
        let log = &mut replica.log;
        if let Some((e, end)) = p.diverging_epoch {
            let leo = log.log_end_offset();
            let to = if (e, end) == (0, 0) && log.end_offset_for_epoch(0).is_none() {
                log.high_watermark()
            } else {
                match log.end_offset_for_epoch(e) {
                    Some((fe, fend)) if fe == e => end.min(fend).min(leo),
                    Some((_, fend)) => fend.min(leo),
                    None => end.min(leo),
                }
            };
            let removed = log.truncate_to(to);
            io.emit(Effect::Truncated { tp: tp.clone(), broker: id, to, removed });
            self.schedule_fetch(&tp, Dur::ZERO, io);
            return;
        }
        match p.error {
            None => {}
            Some(ErrorCode::OFFSET_OUT_OF_RANGE) => {
                if p.log_start_offset > log.log_end_offset() {
                    // Everything we have is below the leader's log start: start over there.
                    let removed = log.record_count();
                    *log = PartitionLog::starting_at(p.log_start_offset);
                    io.emit(Effect::Truncated { tp: tp.clone(), broker: id, to: p.log_start_offset, removed });
                } else {
                    let to = p.high_watermark.max(log.log_start_offset());
                    let removed = log.truncate_to(to);
                    io.emit(Effect::Truncated { tp: tp.clone(), broker: id, to, removed });
                }
                self.schedule_fetch(&tp, Dur::ZERO, io);
                return;
            }
            Some(_) => {
                self.schedule_fetch(&tp, backoff, io);
                return;
            }
        }
        if !p.batches.is_empty() {
            let before = log.log_end_offset();
            match log.append_as_follower(&p.batches, io.now, seg, allow_gap) {
                Ok(_) => {
                    let after = log.log_end_offset();
                    if after > before {
                        io.emit(Effect::Appended {
                            tp: tp.clone(),
                            broker: id,
                            base: before,
                            last: after - 1,
                            epoch: p.batches.last().map(|b| b.leader_epoch).unwrap_or(epoch),
                            leader: false,
                        });
                    }
                }
                Err(fault) => io.emit(Effect::InvariantViolated {
                    invariant: "offsets_increasing".into(),
                    detail: format!("{tp} on b{id}: fetched batches from b{leader} do not continue the log: {fault:?}"),
                }),
            }
        }
        let new_hw = p.high_watermark.min(log.log_end_offset());
        if new_hw != log.high_watermark() {
            log.set_high_watermark(new_hw);
            io.emit(Effect::HighWatermark { tp: tp.clone(), broker: id, hw: new_hw });
        }
        if log.log_start_offset() < p.log_start_offset && p.log_start_offset <= log.high_watermark() {
            log.advance_log_start(p.log_start_offset);
            io.emit(Effect::LogStartOffset { tp: tp.clone(), broker: id, offset: p.log_start_offset });
        }
        self.maybe_flush_by_count(&tp);
        self.schedule_fetch(&tp, Dur::ZERO, io);
    }

    /// Changes the slow-follower delay. A follower whose delay shrinks (a GC pause ends)
    /// fetches at once instead of waiting out a fetch scheduled under the old delay.
    pub fn set_fetch_delay(&mut self, delay: Dur, io: &mut Io) {
        let shorter = delay < self.fetch_delay;
        self.fetch_delay = delay;
        if !shorter || !self.is_running() {
            return;
        }
        let idle: Vec<TopicPartition> = self
            .replicas
            .iter()
            .filter(|(_, r)| matches!(&r.role, Role::Follower(fs) if fs.in_flight.is_none()))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in idle {
            self.schedule_fetch(&tp, Dur::ZERO, io);
        }
    }

    fn schedule_fetch(&mut self, tp: &TopicPartition, after: Dur, io: &mut Io) {
        let delay = after.plus_dur(self.fetch_delay);
        if delay == Dur::ZERO {
            self.send_follower_fetch(tp, io);
        } else {
            io.timer(delay, Timer::FollowerFetch(tp.clone()));
        }
    }

    // ------------------------------------------------------------------ disk

    fn flush_check(&mut self, io: &mut Io) {
        let now = io.now;
        let os = Dur::from_ms(self.config.os_page_cache_flush_ms);
        let policy = self.config.log_flush_interval_ms.map(Dur::from_ms);
        let mut flushed = 0u32;
        for r in self.replicas.values_mut() {
            if let Some(since) = r.log.unflushed_since() {
                let age = now.since(since);
                if age >= os || policy.map(|p| age >= p).unwrap_or(false) {
                    r.log.flush();
                    flushed += 1;
                }
            }
        }
        if flushed > 0 {
            io.emit(Effect::Flushed { broker: self.id, partitions: flushed });
        }
    }

    fn retention_check(&mut self, io: &mut Io) {
        let now = io.now;
        for (tp, r) in self.replicas.iter_mut() {
            let Some(config) = self.metadata.topic_config(&tp.topic) else {
                continue;
            };
            if !config.cleanup_policy.deletes() {
                continue;
            }
            let before = r.log.log_start_offset();
            if r.log.apply_retention(now, config.retention_ms, config.retention_bytes) > 0 {
                let offset = r.log.log_start_offset();
                if offset != before {
                    io.emit(Effect::LogStartOffset { tp: tp.clone(), broker: self.id, offset });
                }
            }
        }
    }

    /// The log cleaner thread: cleans the filthiest compacted log, then looks again, until no
    /// log qualifies (then it sleeps `log.cleaner.backoff.ms`). Cleaning takes no simulated
    /// time. Every replica compacts its own log, leader or follower.
    fn run_log_cleaner(&mut self, io: &mut Io) {
        let now = io.now;
        // Each pass leaves its log with nothing cleanable, so this ends within one round.
        for _ in 0..=self.replicas.len() {
            let configs: BTreeMap<&TopicPartition, CleanerConfig> =
                crate::collect::btree_map(self.replicas.keys().filter_map(|tp| {
                    let c = self.metadata.topic_config(&tp.topic)?;
                    c.cleanup_policy.compacts().then(|| (tp, CleanerConfig::of(c)))
                }));
            let pick = cleaner::filthiest(configs.iter().map(|(tp, cfg)| {
                let ltc = self.replicas[*tp].log.log_to_clean(now, cfg);
                ((*tp).clone(), ltc, cfg)
            }));
            let Some((tp, ltc)) = pick else {
                return;
            };
            let cfg = configs[&tp];
            let Some(r) = self.replicas.get_mut(&tp) else { return };
            let ratio = ltc.cleanable_ratio();
            let stats = r.log.clean(&ltc, now, &cfg);
            io.emit(Effect::LogCleaned {
                tp,
                broker: self.id,
                dirty_ratio_pct: (ratio * 100.0).round() as u32,
                records_removed: stats.records_removed,
                tombstones_removed: stats.tombstones_removed,
                cleaned_to: stats.end_offset,
            });
        }
    }
}

/// The error answer to a group request this broker does not coordinate.
fn group_error_response(msg: &Message, error: ErrorCode) -> Message {
    match msg {
        Message::JoinGroupRequest { corr, member_id, .. } => Message::JoinGroupResponse {
            corr: *corr,
            error: Some(error),
            generation: -1,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.clone(),
            members: Vec::new(),
        },
        Message::SyncGroupRequest { corr, .. } => {
            Message::SyncGroupResponse { corr: *corr, error: Some(error), assignment: Vec::new() }
        }
        Message::HeartbeatRequest { corr, .. } => Message::HeartbeatResponse { corr: *corr, error: Some(error) },
        Message::LeaveGroupRequest { corr, .. } => Message::LeaveGroupResponse { corr: *corr, error: Some(error) },
        Message::OffsetCommitRequest { corr, offsets, .. } => Message::OffsetCommitResponse {
            corr: *corr,
            partitions: offsets.iter().map(|o| (o.tp.clone(), Some(error))).collect(),
        },
        Message::OffsetFetchRequest { corr, .. } => {
            Message::OffsetFetchResponse { corr: *corr, error: Some(error), partitions: Vec::new() }
        }
        Message::TxnOffsetCommitRequest { corr, offsets, .. } => Message::TxnOffsetCommitResponse {
            corr: *corr,
            partitions: offsets.iter().map(|o| (o.tp.clone(), Some(error))).collect(),
        },
        _ => Message::HeartbeatResponse { corr: 0, error: Some(error) },
    }
}

fn state_tp(partition: u32) -> TopicPartition {
    crate::txn::state_partition(partition)
}

fn read_uncommitted() -> IsolationLevel {
    IsolationLevel::ReadUncommitted
}
