//! The transaction coordinator's state machine (`TransactionCoordinator` +
//! `TransactionMetadata`). The broker routes requests here after checking that it leads the
//! transactional id's `__transaction_state` partition, appends the returned writes, and
//! tells the coordinator when they commit (the HW passes them).
use super::{partition_for, txn_key, txn_value};
use crate::error::ErrorCode;
use crate::log::PartitionLog;
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{Message, TxnMarker};
use crate::record::{Blob, TopicPartition};
use crate::sim::time::Dur;
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `TransactionState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub fn id(self) -> u8 {
        self as u8
    }
    pub fn from_id(id: u8) -> Option<TxnState> {
        use TxnState::*;
        [Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead, PrepareEpochFence]
            .get(usize::from(id))
            .copied()
    }
}

/// One transactional id's metadata (`TransactionMetadata`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: u64,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    /// When the open transaction started (its first AddPartitions), ms.
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// A state change being written to the log: concurrent requests get
    /// CONCURRENT_TRANSACTIONS meanwhile (Kafka's `pendingState`).
    #[serde(default)]
    pub pending_write: Option<u64>,
    /// Partitions whose COMMIT/ABORT marker is not written yet (Prepare states).
    #[serde(default)]
    pub pending_markers: BTreeSet<TopicPartition>,
}

/// Records the coordinator wants appended to a `__transaction_state` partition it leads.
#[derive(Clone, Debug, PartialEq)]
pub struct TxnWrite {
    pub id: u64,
    pub partition: u32,
    pub records: Vec<(Blob, Option<Blob>)>,
}

/// What to do once a write commits (or fails).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PendingWrite {
    partition: u32,
    transactional_id: String,
    required: Option<u64>,
    reply: Option<(NodeId, Message)>,
    fail_reply: Option<(NodeId, Message)>,
    /// Send the markers of the (Prepare-state) transaction.
    markers: bool,
}

/// A WriteTxnMarkers request in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct MarkerFlight {
    broker: u32,
    transactional_id: String,
    partitions: Vec<TopicPartition>,
}

/// What the broker tells the coordinator about the cluster for one call.
pub struct TxnContext<'a> {
    /// Partitions of `__transaction_state`.
    pub state_partitions: u32,
    /// Partitions of `__consumer_offsets` (AddOffsetsToTxn adds the group's partition).
    pub offsets_partitions: u32,
    pub max_timeout_ms: u64,
    /// The current leader of a partition.
    pub leader_of: &'a dyn Fn(&TopicPartition) -> Option<u32>,
}

/// How long a marker request may go unanswered before it is sent again
/// (the inter-broker `request.timeout.ms`).
const MARKER_REQUEST_TIMEOUT: Dur = Dur(30_000_000);
/// Pause before markers are retried after an error or a missing leader.
const MARKER_RETRY_BACKOFF: Dur = Dur(100_000);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TxnCoordinator {
    broker: u32,
    /// Loaded `__transaction_state` partitions and their coordinator epoch (the partition's
    /// leader epoch when we loaded it).
    loaded: BTreeMap<u32, i32>,
    pub txns: BTreeMap<String, TxnMetadata>,
    pending: BTreeMap<u64, PendingWrite>,
    markers_in_flight: BTreeMap<u64, MarkerFlight>,
    next_write: u64,
    next_corr: u64,
    /// Whether the periodic timeout check is scheduled.
    abort_check_scheduled: bool,
}

type Writes = Vec<TxnWrite>;

fn now_ms(io: &Io) -> i64 {
    io.now.as_ms() as i64
}

impl TxnCoordinator {
    pub fn new(broker: u32) -> Self {
        TxnCoordinator { broker, ..Default::default() }
    }

    /// The process died: everything in memory is gone (the records stay in the log).
    pub fn reset(&mut self) {
        *self = TxnCoordinator::new(self.broker);
    }

    pub fn is_loaded(&self, partition: u32) -> bool {
        self.loaded.contains_key(&partition)
    }

    pub fn owns(&self, transactional_id: &str, ctx: &TxnContext) -> Option<u32> {
        let p = partition_for(transactional_id, ctx.state_partitions);
        self.is_loaded(p).then_some(p)
    }

    // ------------------------------------------------------------------ loading

    /// Becoming leader of `__transaction_state-<partition>`: replay the log
    /// (`TransactionStateManager.loadTransactionsForTxnTopicPartition`), then finish the
    /// transactions left in a Prepare state by sending their markers again.
    pub fn load(
        &mut self,
        partition: u32,
        leader_epoch: u32,
        log: &PartitionLog,
        ctx: &TxnContext,
        io: &mut Io,
    ) -> Writes {
        if self.loaded.contains_key(&partition) {
            return Vec::new();
        }
        let mut found: BTreeMap<String, Option<TxnMetadata>> = BTreeMap::new();
        for b in log.batches() {
            for (_, r) in b.records() {
                if let Some((id, m)) = super::decode(r.key.as_ref(), r.value.as_ref()) {
                    found.insert(id, m);
                }
            }
        }
        self.loaded.insert(partition, leader_epoch as i32);
        let mut count = 0u32;
        let mut to_finish = Vec::new();
        for (id, m) in found {
            if partition_for(&id, ctx.state_partitions) != partition {
                continue;
            }
            let Some(mut m) = m else { continue };
            count += 1;
            if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
                m.pending_markers = m.partitions.clone();
                to_finish.push(id.clone());
            }
            self.txns.insert(id, m);
        }
        self.ensure_abort_check(io);
        if count > 0 {
            io.emit(Effect::TxnCoordinatorLoaded { broker: self.broker, partition, transactional_ids: count });
        }
        let mut writes = Vec::new();
        for id in to_finish {
            writes.extend(self.send_markers(&id, ctx, io));
        }
        writes
    }

    /// No longer leader: drop the partition's transactional ids; writes waiting on it fail.
    pub fn unload(&mut self, partition: u32, ctx: &TxnContext, io: &mut Io) {
        if self.loaded.remove(&partition).is_none() {
            return;
        }
        self.txns.retain(|id, _| partition_for(id, ctx.state_partitions) != partition);
        let failed: Vec<u64> =
            self.pending.iter().filter(|(_, p)| p.partition == partition).map(|(id, _)| *id).collect();
        for id in failed {
            self.write_failed(id, io);
        }
        let ids: BTreeSet<String> = self.txns.keys().cloned().collect();
        self.markers_in_flight.retain(|_, f| ids.contains(&f.transactional_id));
    }

    fn ensure_abort_check(&mut self, io: &mut Io) {
        if !self.abort_check_scheduled {
            self.abort_check_scheduled = true;
            io.timer(Dur::ZERO, Timer::TxnAbortCheck);
        }
    }

    // ------------------------------------------------------------------ writes

    fn write(
        &mut self,
        partition: u32,
        transactional_id: &str,
        reply: Option<(NodeId, Message)>,
        fail_reply: Option<(NodeId, Message)>,
        markers: bool,
    ) -> TxnWrite {
        self.next_write += 1;
        let id = self.next_write;
        let m = self.txns.get_mut(transactional_id).expect("written metadata exists");
        m.pending_write = Some(id);
        let records = vec![(txn_key(transactional_id), Some(txn_value(m)))];
        self.pending.insert(
            id,
            PendingWrite {
                partition,
                transactional_id: transactional_id.to_string(),
                required: None,
                reply,
                fail_reply,
                markers,
            },
        );
        TxnWrite { id, partition, records }
    }

    /// The broker appended write `id`; it commits when the HW reaches `required`.
    pub fn write_appended(&mut self, id: u64, required: u64, hw: u64, ctx: &TxnContext, io: &mut Io) -> Writes {
        let Some(p) = self.pending.get_mut(&id) else { return Vec::new() };
        p.required = Some(required);
        if hw >= required {
            return self.write_committed(id, ctx, io);
        }
        Vec::new()
    }

    /// The HW of a loaded partition moved.
    pub fn on_high_watermark(&mut self, partition: u32, hw: u64, ctx: &TxnContext, io: &mut Io) -> Writes {
        let done: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.partition == partition && p.required.map(|r| r <= hw).unwrap_or(false))
            .map(|(id, _)| *id)
            .collect();
        let mut writes = Vec::new();
        for id in done {
            writes.extend(self.write_committed(id, ctx, io));
        }
        writes
    }

    fn write_committed(&mut self, id: u64, ctx: &TxnContext, io: &mut Io) -> Writes {
        let Some(p) = self.pending.remove(&id) else { return Vec::new() };
        if let Some(m) = self.txns.get_mut(&p.transactional_id) {
            if m.pending_write == Some(id) {
                m.pending_write = None;
            }
        }
        if let Some((to, msg)) = p.reply {
            io.send(to, msg);
        }
        if p.markers {
            return self.send_markers(&p.transactional_id, ctx, io);
        }
        Vec::new()
    }

    /// A write could not be appended (or the partition was unloaded).
    pub fn write_failed(&mut self, id: u64, io: &mut Io) {
        let Some(p) = self.pending.remove(&id) else { return };
        if let Some(m) = self.txns.get_mut(&p.transactional_id) {
            if m.pending_write == Some(id) {
                m.pending_write = None;
            }
        }
        if let Some((to, msg)) = p.fail_reply {
            io.send(to, msg);
        }
    }

    // ------------------------------------------------------------------ requests

    /// Checks producer id and epoch of a request against the metadata.
    fn check_producer(m: &TxnMetadata, producer_id: i64, producer_epoch: i16) -> Option<ErrorCode> {
        if m.producer_id != producer_id {
            Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        } else if producer_epoch != m.producer_epoch {
            Some(ErrorCode::PRODUCER_FENCED)
        } else if m.pending_write.is_some() {
            Some(ErrorCode::CONCURRENT_TRANSACTIONS)
        } else {
            None
        }
    }

    /// Handles a transaction request. `next_producer_id` allocates a fresh producer id.
    pub fn handle(
        &mut self,
        from: NodeId,
        msg: Message,
        ctx: &TxnContext,
        next_producer_id: &mut dyn FnMut() -> i64,
        io: &mut Io,
    ) -> Writes {
        match msg {
            Message::InitProducerIdRequest { corr, transactional_id: Some(id), transaction_timeout_ms } => {
                self.init_producer_id(from, corr, &id, transaction_timeout_ms, ctx, next_producer_id, io)
            }
            Message::AddPartitionsToTxnRequest { corr, transactional_id, producer_id, producer_epoch, partitions } => {
                let fail = |e| Message::AddPartitionsToTxnResponse {
                    corr,
                    results: partitions.iter().map(|tp| (tp.clone(), Some(e))).collect(),
                };
                self.add_partitions(from, &transactional_id, producer_id, producer_epoch, &partitions, ctx, io, fail, {
                    let results = partitions.iter().map(|tp| (tp.clone(), None)).collect();
                    Message::AddPartitionsToTxnResponse { corr, results }
                })
            }
            Message::AddOffsetsToTxnRequest { corr, transactional_id, producer_id, producer_epoch, group } => {
                let tp = crate::group::offsets::offsets_partition(crate::group::offsets::partition_for(
                    &group,
                    ctx.offsets_partitions,
                ));
                let fail = |e| Message::AddOffsetsToTxnResponse { corr, error: Some(e) };
                let ok = Message::AddOffsetsToTxnResponse { corr, error: None };
                self.add_partitions(from, &transactional_id, producer_id, producer_epoch, &[tp], ctx, io, fail, ok)
            }
            Message::EndTxnRequest { corr, transactional_id, producer_id, producer_epoch, committed } => {
                self.end_txn(from, corr, &transactional_id, producer_id, producer_epoch, committed, ctx, io)
            }
            _ => Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn init_producer_id(
        &mut self,
        from: NodeId,
        corr: u64,
        id: &str,
        timeout_ms: u64,
        ctx: &TxnContext,
        next_producer_id: &mut dyn FnMut() -> i64,
        io: &mut Io,
    ) -> Writes {
        let answer = |error: Option<ErrorCode>, pid: i64, epoch: i16| Message::InitProducerIdResponse {
            corr,
            error,
            producer_id: pid,
            producer_epoch: epoch,
        };
        let Some(partition) = self.owns(id, ctx) else {
            io.send(from, answer(Some(ErrorCode::NOT_COORDINATOR), -1, -1));
            return Vec::new();
        };
        if timeout_ms == 0 || timeout_ms > ctx.max_timeout_ms {
            // INVALID_TRANSACTION_TIMEOUT in Kafka; the sandbox validates the config earlier.
            io.send(from, answer(Some(ErrorCode::INVALID_TXN_STATE), -1, -1));
            return Vec::new();
        }
        let now = now_ms(io);
        let m = self.txns.entry(id.to_string()).or_insert_with(|| TxnMetadata {
            transactional_id: id.to_string(),
            producer_id: next_producer_id(),
            producer_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now,
            pending_write: None,
            pending_markers: BTreeSet::new(),
        });
        if m.pending_write.is_some() {
            io.send(from, answer(Some(ErrorCode::CONCURRENT_TRANSACTIONS), -1, -1));
            return Vec::new();
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                io.send(from, answer(Some(ErrorCode::CONCURRENT_TRANSACTIONS), -1, -1));
                Vec::new()
            }
            TxnState::Ongoing => {
                // Fence the old producer: bump the epoch and abort its transaction with it
                // (`prepareFenceProducerEpoch`); the new one retries until it completes.
                m.producer_epoch = m.producer_epoch.wrapping_add(1);
                let epoch = m.producer_epoch;
                let pid = m.producer_id;
                io.emit(Effect::TxnEpochFenced {
                    transactional_id: id.to_string(),
                    producer_id: pid,
                    epoch,
                    reason: "InitProducerId from a new producer instance".into(),
                });
                io.send(from, answer(Some(ErrorCode::CONCURRENT_TRANSACTIONS), -1, -1));
                self.prepare_end(id, false, partition, None, None, io)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Dead => {
                if m.producer_epoch >= i16::MAX - 1 {
                    // Epoch exhausted: a new producer id (`prepareProducerIdRotation`).
                    m.producer_id = next_producer_id();
                    m.producer_epoch = 0;
                } else {
                    m.producer_epoch = m.producer_epoch.wrapping_add(1);
                }
                m.timeout_ms = timeout_ms;
                m.state = TxnState::Empty;
                m.partitions.clear();
                m.start_ms = -1;
                m.last_update_ms = now;
                let ok = answer(None, m.producer_id, m.producer_epoch);
                let fail = answer(Some(ErrorCode::NOT_COORDINATOR), -1, -1);
                vec![self.write(partition, id, Some((from, ok)), Some((from, fail)), false)]
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_partitions(
        &mut self,
        from: NodeId,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
        ctx: &TxnContext,
        io: &mut Io,
        fail: impl Fn(ErrorCode) -> Message,
        ok: Message,
    ) -> Writes {
        let Some(partition) = self.owns(id, ctx) else {
            io.send(from, fail(ErrorCode::NOT_COORDINATOR));
            return Vec::new();
        };
        let Some(m) = self.txns.get_mut(id) else {
            io.send(from, fail(ErrorCode::INVALID_PRODUCER_ID_MAPPING));
            return Vec::new();
        };
        if let Some(e) = Self::check_producer(m, producer_id, producer_epoch) {
            io.send(from, fail(e));
            return Vec::new();
        }
        if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence) {
            io.send(from, fail(ErrorCode::CONCURRENT_TRANSACTIONS));
            return Vec::new();
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|tp| m.partitions.contains(tp)) {
            io.send(from, ok);
            return Vec::new();
        }
        let now = now_ms(io);
        if m.state != TxnState::Ongoing {
            m.partitions.clear();
            m.start_ms = now;
            io.emit(Effect::TxnStarted {
                transactional_id: id.to_string(),
                producer_id,
                epoch: producer_epoch,
                broker: self.broker,
            });
        }
        m.state = TxnState::Ongoing;
        m.partitions.extend(partitions.iter().cloned());
        m.last_update_ms = now;
        let failed = fail(ErrorCode::NOT_COORDINATOR);
        vec![self.write(partition, id, Some((from, ok)), Some((from, failed)), false)]
    }

    #[allow(clippy::too_many_arguments)]
    fn end_txn(
        &mut self,
        from: NodeId,
        corr: u64,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        ctx: &TxnContext,
        io: &mut Io,
    ) -> Writes {
        let answer = |error: Option<ErrorCode>| Message::EndTxnResponse { corr, error };
        let Some(partition) = self.owns(id, ctx) else {
            io.send(from, answer(Some(ErrorCode::NOT_COORDINATOR)));
            return Vec::new();
        };
        let Some(m) = self.txns.get(id) else {
            io.send(from, answer(Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING)));
            return Vec::new();
        };
        if let Some(e) = Self::check_producer(m, producer_id, producer_epoch) {
            io.send(from, answer(Some(e)));
            return Vec::new();
        }
        // `TransactionCoordinator.endTransaction`: a retry of a finished EndTxn succeeds.
        let error = match (m.state, commit) {
            (TxnState::Ongoing, _) => None,
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                io.send(from, answer(None));
                return Vec::new();
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Some(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            _ => Some(ErrorCode::INVALID_TXN_STATE),
        };
        if let Some(e) = error {
            io.send(from, answer(Some(e)));
            return Vec::new();
        }
        let reply = Some((from, answer(None)));
        let fail = Some((from, answer(Some(ErrorCode::NOT_COORDINATOR))));
        self.prepare_end(id, commit, partition, reply, fail, io)
    }

    /// Ongoing -> PrepareCommit/PrepareAbort: written first, markers after.
    fn prepare_end(
        &mut self,
        id: &str,
        commit: bool,
        partition: u32,
        reply: Option<(NodeId, Message)>,
        fail: Option<(NodeId, Message)>,
        io: &mut Io,
    ) -> Writes {
        let now = now_ms(io);
        let Some(m) = self.txns.get_mut(id) else { return Vec::new() };
        m.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        m.pending_markers = m.partitions.clone();
        m.last_update_ms = now;
        vec![self.write(partition, id, reply, fail, true)]
    }

    // ------------------------------------------------------------------ markers

    /// Sends WriteTxnMarkers for the partitions still missing a marker, one request per
    /// leader. With nothing left, completes the transaction.
    fn send_markers(&mut self, id: &str, ctx: &TxnContext, io: &mut Io) -> Writes {
        let Some(partition) = self.owns(id, ctx) else { return Vec::new() };
        let coordinator_epoch = self.loaded.get(&partition).copied().unwrap_or(0);
        let Some(m) = self.txns.get(id) else { return Vec::new() };
        let commit = match m.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return Vec::new(),
        };
        if m.pending_markers.is_empty() {
            return self.complete(id, partition, io);
        }
        let in_flight: BTreeSet<&TopicPartition> = self
            .markers_in_flight
            .values()
            .filter(|f| f.transactional_id == id)
            .flat_map(|f| f.partitions.iter())
            .collect();
        let mut by_leader: BTreeMap<u32, Vec<TopicPartition>> = BTreeMap::new();
        let mut leaderless = false;
        for tp in m.pending_markers.iter().filter(|tp| !in_flight.contains(tp)) {
            match (ctx.leader_of)(tp) {
                Some(l) => by_leader.entry(l).or_default().push(tp.clone()),
                None => leaderless = true,
            }
        }
        let (pid, epoch) = (m.producer_id, m.producer_epoch);
        for (leader, partitions) in by_leader {
            self.next_corr += 1;
            let corr = self.next_corr;
            let marker = TxnMarker {
                producer_id: pid,
                producer_epoch: epoch,
                committed: commit,
                coordinator_epoch,
                partitions: partitions.clone(),
            };
            io.send(NodeId::Broker(leader), Message::WriteTxnMarkersRequest { corr, markers: vec![marker] });
            io.timer(MARKER_REQUEST_TIMEOUT, Timer::TxnMarkerTimeout(corr));
            self.markers_in_flight
                .insert(corr, MarkerFlight { broker: leader, transactional_id: id.to_string(), partitions });
        }
        if leaderless {
            io.timer(MARKER_RETRY_BACKOFF, Timer::TxnMarkerRetry(id.to_string()));
        }
        Vec::new()
    }

    /// All markers written: PrepareX -> CompleteX.
    fn complete(&mut self, id: &str, partition: u32, io: &mut Io) -> Writes {
        let now = now_ms(io);
        let Some(m) = self.txns.get_mut(id) else { return Vec::new() };
        let commit = m.state == TxnState::PrepareCommit;
        m.state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        m.last_update_ms = now;
        let (pid, epoch) = (m.producer_id, m.producer_epoch);
        let partitions = m.partitions.len() as u32;
        io.emit(Effect::TransactionCompleted {
            transactional_id: id.to_string(),
            producer_id: pid,
            epoch,
            committed: commit,
            partitions,
        });
        vec![self.write(partition, id, None, None, false)]
    }

    /// A partition leader answered WriteTxnMarkers.
    pub fn on_markers_response(
        &mut self,
        corr: u64,
        results: &[(i64, TopicPartition, Option<ErrorCode>)],
        ctx: &TxnContext,
        io: &mut Io,
    ) -> Writes {
        let Some(flight) = self.markers_in_flight.remove(&corr) else { return Vec::new() };
        let id = flight.transactional_id;
        let mut retry = false;
        if let Some(m) = self.txns.get_mut(&id) {
            for tp in &flight.partitions {
                let error = results.iter().find(|(_, t, _)| t == tp).map(|(_, _, e)| *e).unwrap_or(None);
                match error {
                    // Written; or the producer moved on to a newer epoch (the marker is moot,
                    // as `TransactionMarkerRequestCompletionHandler` treats it).
                    None | Some(ErrorCode::INVALID_PRODUCER_EPOCH) | Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
                        m.pending_markers.remove(tp);
                    }
                    Some(_) => retry = true,
                }
            }
        }
        if retry {
            io.timer(MARKER_RETRY_BACKOFF, Timer::TxnMarkerRetry(id.clone()));
            return Vec::new();
        }
        self.send_markers(&id, ctx, io)
    }

    /// A broker's connection closed: its marker requests are lost; retry them.
    pub fn broker_gone(&mut self, broker: u32, io: &mut Io) {
        let lost: Vec<u64> =
            self.markers_in_flight.iter().filter(|(_, f)| f.broker == broker).map(|(c, _)| *c).collect();
        for corr in lost {
            if let Some(f) = self.markers_in_flight.remove(&corr) {
                io.timer(MARKER_RETRY_BACKOFF, Timer::TxnMarkerRetry(f.transactional_id));
            }
        }
    }

    pub fn handle_timer(&mut self, timer: Timer, interval_ms: u64, ctx: &TxnContext, io: &mut Io) -> Writes {
        match timer {
            Timer::TxnMarkerRetry(id) => self.send_markers(&id, ctx, io),
            Timer::TxnMarkerTimeout(corr) => match self.markers_in_flight.remove(&corr) {
                Some(f) => self.send_markers(&f.transactional_id, ctx, io),
                None => Vec::new(),
            },
            Timer::TxnAbortCheck => {
                io.timer(Dur::from_ms(interval_ms.max(1)), Timer::TxnAbortCheck);
                self.abort_timed_out(ctx, io)
            }
            _ => Vec::new(),
        }
    }

    /// `abortTimedOutTransactions`: an Ongoing transaction older than its timeout is aborted
    /// with a bumped epoch, which fences the producer that left it open.
    fn abort_timed_out(&mut self, ctx: &TxnContext, io: &mut Io) -> Writes {
        let now = now_ms(io);
        let expired: Vec<String> = self
            .txns
            .values()
            .filter(|m| {
                m.state == TxnState::Ongoing
                    && m.pending_write.is_none()
                    && now.saturating_sub(m.start_ms) > i64::try_from(m.timeout_ms).unwrap_or(i64::MAX)
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        let mut writes = Vec::new();
        for id in expired {
            let Some(partition) = self.owns(&id, ctx) else { continue };
            let Some(m) = self.txns.get_mut(&id) else { continue };
            m.producer_epoch = m.producer_epoch.wrapping_add(1);
            io.emit(Effect::TxnEpochFenced {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                epoch: m.producer_epoch,
                reason: format!("transaction.timeout.ms ({} ms) expired", m.timeout_ms),
            });
            writes.extend(self.prepare_end(&id, false, partition, None, None, io));
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Outbox;
    use crate::sim::time::SimTime;

    fn ctx(leader: &dyn Fn(&TopicPartition) -> Option<u32>) -> TxnContext<'_> {
        TxnContext { state_partitions: 1, offsets_partitions: 1, max_timeout_ms: 900_000, leader_of: leader }
    }

    /// A coordinator with partition 0 loaded, and helpers that commit every write at once.
    struct Rig {
        c: TxnCoordinator,
        out: Outbox,
        now: SimTime,
        next_pid: i64,
    }

    impl Rig {
        fn new() -> Rig {
            let mut r = Rig { c: TxnCoordinator::new(1), out: Outbox::default(), now: SimTime::ZERO, next_pid: 100 };
            let leader = |_: &TopicPartition| Some(2);
            let mut io = Io { now: r.now, me: NodeId::Broker(1), out: &mut r.out };
            r.c.load(0, 0, &PartitionLog::default(), &ctx(&leader), &mut io);
            r
        }
        fn commit_all(&mut self, mut writes: Writes) {
            let leader = |_: &TopicPartition| Some(2);
            let mut io = Io { now: self.now, me: NodeId::Broker(1), out: &mut self.out };
            while let Some(w) = writes.pop() {
                writes.extend(self.c.write_appended(w.id, 1, 1, &ctx(&leader), &mut io));
            }
        }
        fn request(&mut self, from: u32, msg: Message) {
            let leader = |_: &TopicPartition| Some(2);
            let mut pid = self.next_pid;
            let writes = {
                let mut io = Io { now: self.now, me: NodeId::Broker(1), out: &mut self.out };
                let mut alloc = || {
                    pid += 1;
                    pid
                };
                self.c.handle(NodeId::Producer(from), msg, &ctx(&leader), &mut alloc, &mut io)
            };
            self.next_pid = pid;
            self.commit_all(writes);
        }
        fn ack_markers(&mut self) {
            let leader = |_: &TopicPartition| Some(2);
            let sends = std::mem::take(&mut self.out.sends);
            for (_, _, m) in sends {
                if let Message::WriteTxnMarkersRequest { corr, markers } = m {
                    let results: Vec<_> = markers
                        .iter()
                        .flat_map(|mk| mk.partitions.iter().map(|tp| (mk.producer_id, tp.clone(), None)))
                        .collect();
                    let writes = {
                        let mut io = Io { now: self.now, me: NodeId::Broker(1), out: &mut self.out };
                        self.c.on_markers_response(corr, &results, &ctx(&leader), &mut io)
                    };
                    self.commit_all(writes);
                }
            }
        }
        fn last_reply(&self) -> Option<&Message> {
            self.out
                .sends
                .iter()
                .rev()
                .map(|(_, _, m)| m)
                .find(|m| !matches!(m, Message::WriteTxnMarkersRequest { .. }))
        }
        fn state(&self) -> TxnState {
            self.c.txns["t"].state
        }
    }

    fn init(corr: u64) -> Message {
        Message::InitProducerIdRequest { corr, transactional_id: Some("t".into()), transaction_timeout_ms: 60_000 }
    }
    fn add(pid: i64, epoch: i16) -> Message {
        Message::AddPartitionsToTxnRequest {
            corr: 2,
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            partitions: vec![TopicPartition::new("a", 0), TopicPartition::new("a", 1)],
        }
    }
    fn end(pid: i64, epoch: i16, committed: bool) -> Message {
        Message::EndTxnRequest {
            corr: 3,
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            committed,
        }
    }

    #[test]
    fn a_transaction_goes_empty_ongoing_prepare_complete() {
        let mut r = Rig::new();
        r.request(1, init(1));
        assert_eq!(
            r.last_reply(),
            Some(&Message::InitProducerIdResponse { corr: 1, error: None, producer_id: 101, producer_epoch: 0 })
        );
        assert_eq!(r.state(), TxnState::Empty);
        r.request(1, add(101, 0));
        assert_eq!(r.state(), TxnState::Ongoing);
        assert_eq!(r.c.txns["t"].partitions.len(), 2);
        r.request(1, end(101, 0, true));
        assert_eq!(r.state(), TxnState::PrepareCommit);
        assert_eq!(r.last_reply(), Some(&Message::EndTxnResponse { corr: 3, error: None }));
        // One WriteTxnMarkers to the leader of both partitions, then CompleteCommit.
        let markers =
            r.out.sends.iter().filter(|(_, _, m)| matches!(m, Message::WriteTxnMarkersRequest { .. })).count();
        assert_eq!(markers, 1);
        r.ack_markers();
        assert_eq!(r.state(), TxnState::CompleteCommit);
        // A retried EndTxn(commit) succeeds; EndTxn(abort) now is an invalid state.
        r.request(1, end(101, 0, true));
        assert_eq!(r.last_reply(), Some(&Message::EndTxnResponse { corr: 3, error: None }));
        r.request(1, end(101, 0, false));
        assert_eq!(
            r.last_reply(),
            Some(&Message::EndTxnResponse { corr: 3, error: Some(ErrorCode::INVALID_TXN_STATE) })
        );
    }

    #[test]
    fn init_producer_id_with_an_open_transaction_fences_and_aborts_it() {
        let mut r = Rig::new();
        r.request(1, init(1));
        r.request(1, add(101, 0));
        // A new instance with the same transactional id.
        r.request(2, init(7));
        assert_eq!(
            r.last_reply(),
            Some(&Message::InitProducerIdResponse {
                corr: 7,
                error: Some(ErrorCode::CONCURRENT_TRANSACTIONS),
                producer_id: -1,
                producer_epoch: -1
            })
        );
        assert_eq!(r.state(), TxnState::PrepareAbort);
        assert_eq!(r.c.txns["t"].producer_epoch, 1, "the abort is written with the bumped epoch");
        r.ack_markers();
        assert_eq!(r.state(), TxnState::CompleteAbort);
        // The old producer is fenced.
        r.request(1, end(101, 0, true));
        assert_eq!(r.last_reply(), Some(&Message::EndTxnResponse { corr: 3, error: Some(ErrorCode::PRODUCER_FENCED) }));
        // The new one's retry gets the next epoch.
        r.request(2, init(8));
        assert_eq!(
            r.last_reply(),
            Some(&Message::InitProducerIdResponse { corr: 8, error: None, producer_id: 101, producer_epoch: 2 })
        );
    }

    #[test]
    fn an_open_transaction_past_its_timeout_is_aborted_with_a_bumped_epoch() {
        let mut r = Rig::new();
        r.request(1, init(1));
        r.request(1, add(101, 0));
        r.now = SimTime::from_ms(60_001);
        let leader = |_: &TopicPartition| Some(2);
        let writes = {
            let mut io = Io { now: r.now, me: NodeId::Broker(1), out: &mut r.out };
            r.c.handle_timer(Timer::TxnAbortCheck, 10_000, &ctx(&leader), &mut io)
        };
        r.commit_all(writes);
        assert_eq!(r.state(), TxnState::PrepareAbort);
        r.ack_markers();
        assert_eq!(r.state(), TxnState::CompleteAbort);
        assert_eq!(r.c.txns["t"].producer_epoch, 1);
    }

    #[test]
    fn a_new_coordinator_finishes_a_prepared_transaction_from_the_log() {
        let mut r = Rig::new();
        r.request(1, init(1));
        r.request(1, add(101, 0));
        r.request(1, end(101, 0, false));
        // Build the log the old coordinator wrote and load it elsewhere.
        let mut log = PartitionLog::default();
        let m = &r.c.txns["t"];
        let rec = crate::record::Record {
            id: crate::record::INTERNAL_RECORD,
            offset_delta: 0,
            timestamp: 0,
            key: Some(txn_key("t")),
            value: Some(txn_value(m)),
            headers: vec![],
        };
        log.append_as_leader(
            std::sync::Arc::new(crate::record::BatchData::new(-1, -1, -1, vec![rec], 100)),
            0,
            SimTime::ZERO,
            (1 << 30, u64::MAX),
        );
        let mut c2 = TxnCoordinator::new(3);
        let mut out = Outbox::default();
        let leader = |_: &TopicPartition| Some(2);
        let mut io = Io { now: SimTime::ZERO, me: NodeId::Broker(3), out: &mut out };
        c2.load(0, 4, &log, &ctx(&leader), &mut io);
        assert_eq!(c2.txns["t"].state, TxnState::PrepareAbort);
        let sent = out.sends.iter().find_map(|(_, _, m)| match m {
            Message::WriteTxnMarkersRequest { markers, .. } => Some(markers.clone()),
            _ => None,
        });
        let markers = sent.expect("markers resent after failover");
        assert_eq!(markers[0].coordinator_epoch, 4);
        assert!(!markers[0].committed);
        assert_eq!(markers[0].partitions.len(), 2);
    }
}
