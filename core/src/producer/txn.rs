//! The transactional producer's state machine (Java's `TransactionManager`): the
//! transactional API on [`Producer`] and the coordinator requests it sends, one at a time
//! and in Java's priority order (FindCoordinator, InitProducerId, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit, EndTxn).
use super::client::Producer;
use crate::error::ErrorCode;
use crate::ledger::Ledger;
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{CommitPartition, CoordinatorType, Message};
use crate::record::TopicPartition;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

/// `TransactionManager.State` as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnClientState {
    /// `initTransactions()` not called yet.
    Uninitialized,
    /// InitProducerId in progress.
    Initializing,
    /// No transaction open: `beginTransaction()` may be called.
    Ready,
    InTransaction,
    /// `commitTransaction()` called: flushing, then EndTxn(commit).
    CommittingTransaction,
    /// `abortTransaction()` called: unsent records dropped, then EndTxn(abort).
    AbortingTransaction,
    /// Fenced (or another fatal error): the producer must be closed.
    FatalError,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum TxnRequest {
    FindCoordinator { group: Option<String> },
    InitProducerId,
    AddPartitions(Vec<TopicPartition>),
    AddOffsets,
    TxnOffsetCommit,
    EndTxn { commit: bool },
}

/// Offsets waiting to join the transaction (`sendOffsetsToTransaction`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PendingOffsets {
    group: String,
    offsets: Vec<CommitPartition>,
    generation: i32,
    member_id: String,
    /// AddOffsetsToTxn succeeded.
    added: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxnManager {
    pub transactional_id: String,
    pub state: TxnClientState,
    /// Whether InitProducerId completed for this incarnation.
    initialized: bool,
    coordinator: Option<u32>,
    group_coordinator: Option<(String, u32)>,
    in_flight: Option<(u64, TxnRequest)>,
    retry_at: Option<SimTime>,
    /// Partitions added to the open transaction (`partitionsInTransaction`).
    pub partitions: BTreeSet<TopicPartition>,
    /// Partitions written to but not yet added (`newPartitionsInTransaction`).
    pending_partitions: BTreeSet<TopicPartition>,
    offsets: VecDeque<PendingOffsets>,
    /// Something reached the coordinator in this transaction (`transactionStarted`).
    started: bool,
    pub fatal_error: Option<ErrorCode>,
}

/// Builds a request once its correlation id is known.
type BuildRequest = Box<dyn FnOnce(u64) -> Message>;

/// `TransactionManager.ADD_PARTITIONS_RETRY_BACKOFF_MS`.
const ADD_PARTITIONS_RETRY_BACKOFF: Dur = Dur(20_000);

impl TxnManager {
    pub fn new(transactional_id: String) -> Self {
        TxnManager {
            transactional_id,
            state: TxnClientState::Uninitialized,
            initialized: false,
            coordinator: None,
            group_coordinator: None,
            in_flight: None,
            retry_at: None,
            partitions: BTreeSet::new(),
            pending_partitions: BTreeSet::new(),
            offsets: VecDeque::new(),
            started: false,
            fatal_error: None,
        }
    }
}

fn illegal(call: &str, state: TxnClientState) -> String {
    format!("cannot call {call} in state {state:?}")
}

impl Producer {
    pub fn is_transactional(&self) -> bool {
        self.txn.is_some()
    }

    /// The transactional state (`None` for a producer without `transactional.id`). A commit
    /// or abort has completed when this is `Ready` again.
    pub fn transaction_state(&self) -> Option<TxnClientState> {
        self.txn.as_ref().map(|t| t.state)
    }

    fn txn_mut(&mut self, call: &str) -> Result<&mut TxnManager, String> {
        self.txn.as_mut().ok_or_else(|| format!("{call} needs a transactional producer (set transactional.id)"))
    }

    /// `initTransactions()`: find the coordinator and get the producer id and epoch for the
    /// transactional id (fencing any older instance and aborting its open transaction).
    pub fn init_transactions(&mut self, ledger: &mut Ledger, io: &mut Io) -> Result<(), String> {
        let t = self.txn_mut("initTransactions")?;
        if t.state != TxnClientState::Uninitialized {
            return Err(illegal("initTransactions", t.state));
        }
        t.state = TxnClientState::Initializing;
        self.run_sender(ledger, io);
        Ok(())
    }

    /// `beginTransaction()`: local only, as in Java. Allowed once `initTransactions()` was
    /// called (records queue until the producer id arrives).
    pub fn begin_transaction(&mut self, io: &mut Io) -> Result<(), String> {
        let index = self.index;
        let t = self.txn_mut("beginTransaction")?;
        let ready = t.state == TxnClientState::Ready || (t.state == TxnClientState::Initializing && !t.started);
        if !ready {
            return Err(illegal("beginTransaction", t.state));
        }
        if t.state == TxnClientState::Ready {
            t.state = TxnClientState::InTransaction;
        } else {
            // Still initializing: the transaction opens when InitProducerId completes.
            t.started = true;
        }
        io.emit(Effect::TransactionBegun { producer: index, transactional_id: t.transactional_id.clone() });
        Ok(())
    }

    /// Whether `send()` may be called now (Java throws otherwise).
    pub fn can_send_in_transaction(&self) -> Result<(), String> {
        match &self.txn {
            None => Ok(()),
            Some(t) if t.state == TxnClientState::InTransaction => Ok(()),
            Some(t) if t.state == TxnClientState::Initializing && t.started => Ok(()),
            Some(t) => Err(illegal("send", t.state)),
        }
    }

    /// `sendOffsetsToTransaction(offsets, groupMetadata)`: the offsets commit (become the
    /// group's committed offsets) only if the transaction commits. `generation` -1 and an
    /// empty member id when the caller has no group metadata.
    pub fn send_offsets_to_transaction(
        &mut self,
        offsets: Vec<(TopicPartition, u64)>,
        group: &str,
        generation: i32,
        member_id: &str,
        ledger: &mut Ledger,
        io: &mut Io,
    ) -> Result<(), String> {
        self.can_send_in_transaction().map_err(|_| {
            illegal("sendOffsetsToTransaction", self.transaction_state().unwrap_or(TxnClientState::Uninitialized))
        })?;
        let t = self.txn_mut("sendOffsetsToTransaction")?;
        t.offsets.push_back(PendingOffsets {
            group: group.to_string(),
            offsets: offsets.into_iter().map(|(tp, offset)| CommitPartition { tp, offset, leader_epoch: -1 }).collect(),
            generation,
            member_id: member_id.to_string(),
            added: false,
        });
        self.run_sender(ledger, io);
        Ok(())
    }

    /// `commitTransaction()`: flush, then EndTxn(commit). Completes when
    /// [`Producer::transaction_state`] is `Ready` again.
    pub fn commit_transaction(&mut self, ledger: &mut Ledger, io: &mut Io) -> Result<(), String> {
        let t = self.txn_mut("commitTransaction")?;
        if t.state != TxnClientState::InTransaction && !(t.state == TxnClientState::Initializing && t.started) {
            return Err(illegal("commitTransaction", t.state));
        }
        if t.state == TxnClientState::InTransaction {
            t.state = TxnClientState::CommittingTransaction;
        } else {
            return Err("commitTransaction before initTransactions completed".into());
        }
        self.flush(ledger, io);
        Ok(())
    }

    /// `abortTransaction()`: records not yet sent fail (TransactionAbortedException), sent
    /// ones are aborted by the markers.
    pub fn abort_transaction(&mut self, ledger: &mut Ledger, io: &mut Io) -> Result<(), String> {
        let t = self.txn_mut("abortTransaction")?;
        if t.state != TxnClientState::InTransaction {
            return Err(illegal("abortTransaction", t.state));
        }
        t.state = TxnClientState::AbortingTransaction;
        t.offsets.clear();
        self.drop_unsent(ErrorCode::TRANSACTION_ABORTED, ledger, io);
        self.run_sender(ledger, io);
        Ok(())
    }

    /// Whether a partition's batches may be drained: a transactional producer sends to a
    /// partition only once AddPartitionsToTxn added it.
    pub(crate) fn txn_allows_drain(&mut self, tp: &TopicPartition) -> bool {
        let Some(t) = self.txn.as_mut() else { return true };
        if t.partitions.contains(tp) {
            return true;
        }
        if matches!(t.state, TxnClientState::InTransaction | TxnClientState::CommittingTransaction)
            || (t.state == TxnClientState::Initializing && t.started)
        {
            t.pending_partitions.insert(tp.clone());
        }
        false
    }

    fn txn_fatal(&mut self, error: ErrorCode, ledger: &mut Ledger, io: &mut Io) {
        let index = self.index;
        let Some(t) = self.txn.as_mut() else { return };
        if t.state == TxnClientState::FatalError {
            return;
        }
        t.state = TxnClientState::FatalError;
        t.fatal_error = Some(error);
        t.in_flight = None;
        let id = t.transactional_id.clone();
        io.emit(Effect::ProducerFenced { producer: index, transactional_id: id, error });
        self.drop_unsent(error, ledger, io);
    }

    /// A produce answer said the producer is fenced.
    pub(crate) fn on_fenced_batch(&mut self, error: ErrorCode, ledger: &mut Ledger, io: &mut Io) {
        self.txn_fatal(ErrorCode::PRODUCER_FENCED.max(error), ledger, io);
    }

    fn send_txn(&mut self, broker: u32, req: TxnRequest, msg: Message, corr: u64, io: &mut Io) {
        if let Some(t) = self.txn.as_mut() {
            t.in_flight = Some((corr, req));
        }
        io.send(NodeId::Broker(broker), msg);
        io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ProducerRequestTimeout(corr));
    }

    /// One step of the transaction manager, from the sender loop. Returns whether produce
    /// requests may be sent now (the producer id is known).
    pub(crate) fn txn_step(&mut self, ledger: &mut Ledger, io: &mut Io) -> bool {
        let Some(t) = self.txn.as_ref() else { return true };
        let initialized = t.initialized;
        if t.state == TxnClientState::Uninitialized || t.state == TxnClientState::FatalError {
            return false;
        }
        if t.in_flight.is_some() {
            return initialized;
        }
        if let Some(at) = t.retry_at {
            if at > io.now {
                io.timer_at(at, Timer::ProducerWake);
                return initialized;
            }
        }
        let id = t.transactional_id.clone();
        let (pid, epoch) = (self.producer_id, self.producer_epoch);
        // What to ask the transaction coordinator next (None: nothing to do now).
        let next: Option<(TxnRequest, BuildRequest)> = if !initialized {
            let timeout = self.config.transaction_timeout_ms;
            let tid = id.clone();
            Some((
                TxnRequest::InitProducerId,
                Box::new(move |corr| Message::InitProducerIdRequest {
                    corr,
                    transactional_id: Some(tid),
                    transaction_timeout_ms: timeout,
                }),
            ))
        } else if !t.pending_partitions.is_empty() && t.state != TxnClientState::AbortingTransaction {
            let tps: Vec<TopicPartition> = t.pending_partitions.iter().cloned().collect();
            let tid = id.clone();
            let partitions = tps.clone();
            Some((
                TxnRequest::AddPartitions(tps),
                Box::new(move |corr| Message::AddPartitionsToTxnRequest {
                    corr,
                    transactional_id: tid,
                    producer_id: pid,
                    producer_epoch: epoch,
                    partitions,
                }),
            ))
        } else if let Some(o) = t.offsets.front().filter(|o| !o.added) {
            let (tid, group) = (id.clone(), o.group.clone());
            Some((
                TxnRequest::AddOffsets,
                Box::new(move |corr| Message::AddOffsetsToTxnRequest {
                    corr,
                    transactional_id: tid,
                    producer_id: pid,
                    producer_epoch: epoch,
                    group,
                }),
            ))
        } else if let Some(o) = t.offsets.front() {
            // TxnOffsetCommit goes to the group coordinator.
            match &t.group_coordinator {
                Some((g, b)) if *g == o.group => {
                    let b = *b;
                    let o = o.clone();
                    let corr = self.next_corr_pub();
                    let msg = Message::TxnOffsetCommitRequest {
                        corr,
                        transactional_id: id,
                        group: o.group,
                        producer_id: pid,
                        producer_epoch: epoch,
                        generation: o.generation,
                        member_id: o.member_id,
                        offsets: o.offsets,
                    };
                    self.send_txn(b, TxnRequest::TxnOffsetCommit, msg, corr, io);
                    return true;
                }
                _ => {
                    let group = o.group.clone();
                    return self.find_coordinator(Some(group), io) || initialized;
                }
            }
        } else {
            let flushed = self.queues_empty_and_idle();
            match t.state {
                TxnClientState::CommittingTransaction | TxnClientState::AbortingTransaction if flushed => {
                    let commit = t.state == TxnClientState::CommittingTransaction;
                    if !t.started && t.partitions.is_empty() {
                        // Nothing reached the coordinator: the transaction ends locally.
                        self.finish_transaction(commit, io);
                        return true;
                    }
                    let tid = id.clone();
                    Some((
                        TxnRequest::EndTxn { commit },
                        Box::new(move |corr| Message::EndTxnRequest {
                            corr,
                            transactional_id: tid,
                            producer_id: pid,
                            producer_epoch: epoch,
                            committed: commit,
                        }),
                    ))
                }
                _ => None,
            }
        };
        let Some((req, build)) = next else { return initialized };
        let Some(coordinator) = self.txn.as_ref().and_then(|t| t.coordinator) else {
            self.find_coordinator(None, io);
            return initialized;
        };
        let corr = self.next_corr_pub();
        self.send_txn(coordinator, req, build(corr), corr, io);
        let _ = ledger;
        initialized
    }

    /// FindCoordinator for the transaction (group `None`) or for a group's offsets.
    fn find_coordinator(&mut self, group: Option<String>, io: &mut Io) -> bool {
        let Some(b) = self.metadata.pick_broker(&mut self.rng, None, io.now) else { return false };
        let corr = self.next_corr_pub();
        let (key, key_type) = match &group {
            Some(g) => (g.clone(), CoordinatorType::Group),
            None => (
                self.txn.as_ref().map(|t| t.transactional_id.clone()).unwrap_or_default(),
                CoordinatorType::Transaction,
            ),
        };
        self.send_txn(
            b,
            TxnRequest::FindCoordinator { group },
            Message::FindCoordinatorRequest { corr, key, key_type },
            corr,
            io,
        );
        false
    }

    fn finish_transaction(&mut self, commit: bool, io: &mut Io) {
        let index = self.index;
        let Some(t) = self.txn.as_mut() else { return };
        t.state = TxnClientState::Ready;
        t.partitions.clear();
        t.pending_partitions.clear();
        t.offsets.clear();
        t.started = false;
        let transactional_id = t.transactional_id.clone();
        io.emit(if commit {
            Effect::TransactionCommitted { producer: index, transactional_id }
        } else {
            Effect::TransactionAborted { producer: index, transactional_id }
        });
    }

    fn txn_retry(&mut self, after: Dur, rediscover: bool, io: &mut Io) {
        if let Some(t) = self.txn.as_mut() {
            t.retry_at = Some(io.now.plus(after));
            if rediscover {
                t.coordinator = None;
            }
            io.timer(after, Timer::ProducerWake);
        }
    }

    /// A request of the transaction manager timed out: find the coordinator again.
    pub(crate) fn txn_request_timed_out(&mut self, corr: u64, io: &mut Io) -> bool {
        let Some(t) = self.txn.as_mut() else { return false };
        if t.in_flight.as_ref().map(|(c, _)| *c) != Some(corr) {
            return false;
        }
        t.in_flight = None;
        t.group_coordinator = None;
        let backoff = Dur::from_ms(self.config.retry_backoff_ms);
        self.txn_retry(backoff, true, io);
        true
    }

    /// Answers to the transaction manager's requests. Returns false if `msg` is not one.
    pub(crate) fn txn_response(&mut self, msg: &Message, ledger: &mut Ledger, io: &mut Io) -> bool {
        let corr = match msg {
            Message::FindCoordinatorResponse { corr, .. }
            | Message::InitProducerIdResponse { corr, .. }
            | Message::AddPartitionsToTxnResponse { corr, .. }
            | Message::AddOffsetsToTxnResponse { corr, .. }
            | Message::TxnOffsetCommitResponse { corr, .. }
            | Message::EndTxnResponse { corr, .. } => *corr,
            _ => return false,
        };
        let Some(t) = self.txn.as_mut() else { return false };
        let Some((c, req)) = t.in_flight.clone() else { return false };
        if c != corr {
            return false;
        }
        t.in_flight = None;
        let backoff = Dur::from_ms(self.config.retry_backoff_ms);
        let error = match msg {
            Message::FindCoordinatorResponse { error: None, node: Some(n), .. } => {
                match &req {
                    TxnRequest::FindCoordinator { group: Some(g) } => t.group_coordinator = Some((g.clone(), *n)),
                    _ => t.coordinator = Some(*n),
                }
                None
            }
            Message::FindCoordinatorResponse { error, .. } => {
                Some(error.unwrap_or(ErrorCode::COORDINATOR_NOT_AVAILABLE))
            }
            Message::InitProducerIdResponse { error: None, producer_id, producer_epoch, .. } => {
                t.initialized = true;
                t.state = if t.started { TxnClientState::InTransaction } else { TxnClientState::Ready };
                t.started = false;
                self.producer_id = *producer_id;
                self.producer_epoch = *producer_epoch;
                self.reset_sequences();
                None
            }
            Message::InitProducerIdResponse { error, .. } => *error,
            Message::AddPartitionsToTxnResponse { results, .. } => {
                let error = results.iter().find_map(|(_, e)| *e);
                if error.is_none() {
                    if let TxnRequest::AddPartitions(tps) = &req {
                        for tp in tps {
                            t.pending_partitions.remove(tp);
                            t.partitions.insert(tp.clone());
                        }
                    }
                    t.started = true;
                }
                error
            }
            Message::AddOffsetsToTxnResponse { error, .. } => {
                if error.is_none() {
                    if let Some(o) = t.offsets.front_mut() {
                        o.added = true;
                    }
                    t.started = true;
                }
                *error
            }
            Message::TxnOffsetCommitResponse { partitions, .. } => {
                let error = partitions.iter().find_map(|(_, e)| *e);
                match error {
                    None => {
                        t.offsets.pop_front();
                    }
                    Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) => {
                        t.group_coordinator = None;
                    }
                    _ => {}
                }
                error
            }
            Message::EndTxnResponse { error, .. } => {
                if error.is_none() {
                    let commit = matches!(req, TxnRequest::EndTxn { commit: true });
                    self.finish_transaction(commit, io);
                }
                *error
            }
            _ => None,
        };
        match error {
            None => {}
            Some(e @ (ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH)) => self.txn_fatal(e, ledger, io),
            Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) => {
                self.txn_retry(backoff, true, io)
            }
            Some(ErrorCode::CONCURRENT_TRANSACTIONS) if matches!(req, TxnRequest::AddPartitions(_)) => {
                self.txn_retry(ADD_PARTITIONS_RETRY_BACKOFF, false, io)
            }
            Some(e) if e.is_retriable() => self.txn_retry(backoff, false, io),
            // INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING, a rejected offset commit:
            // fatal for the sandbox's producer (Java makes some of them abortable).
            Some(e) => self.txn_fatal(e, ledger, io),
        }
        true
    }

    /// The transaction manager's timers and state after a crash.
    pub(crate) fn txn_reset(&mut self) {
        if let Some(t) = self.txn.as_mut() {
            *t = TxnManager::new(t.transactional_id.clone());
        }
    }
}
