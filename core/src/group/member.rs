//! The consumer's side of the classic group protocol (`ConsumerCoordinator` /
//! `AbstractCoordinator` with its heartbeat thread), for a consumer with a `group.id`.
//!
//! - FindCoordinator finds the broker leading the group's `__consumer_offsets` partition;
//!   a disconnect, NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE sends the member looking
//!   again.
//! - Rebalances happen inside `poll()`: `onJoinPrepare` (auto-commit, then revoke: every
//!   partition under the eager protocol, only partitions of dropped topics under the
//!   cooperative one), JoinGroup (the leader runs the assignor over all subscriptions),
//!   SyncGroup, and `onJoinComplete` at the next `poll()` (cooperative: revoke what moved
//!   away and rejoin). The rebalance protocol is the most advanced one that every assignor
//!   in `partition.assignment.strategy` supports: the default `range,cooperative-sticky` is
//!   therefore eager.
//! - The heartbeat thread heartbeats every `heartbeat.interval.ms`, gives up on a
//!   coordinator silent for `session.timeout.ms`, and leaves the group when the application
//!   has not called `poll()` for `max.poll.interval.ms`.
//! - Offset commits (`commitSync`, `commitAsync`, auto-commit) and committed-offset fetches
//!   for newly assigned partitions.
use crate::config::ConsumerConfig;
use crate::consumer::{Consumer, Position};
use crate::error::ErrorCode;
use crate::group::assignor::{self, MemberInput, RebalanceProtocol, Strategy};
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{CommitPartition, GroupProtocol, JoinGroupMember, Message, Subscription};
use crate::record::TopicPartition;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `AbstractCoordinator.MemberState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    Unjoined,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

/// `default.api.timeout.ms`: how long `commitSync()` keeps retrying.
const DEFAULT_API_TIMEOUT: Dur = Dur(60_000_000);

/// Parses `partition.assignment.strategy` (names or class names, comma separated) and
/// picks the rebalance protocol: the highest one every assignor supports.
pub fn parse_strategies(text: &str) -> Result<(Vec<Strategy>, RebalanceProtocol), String> {
    let mut list = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let s: Strategy = part.parse()?;
        if !list.contains(&s) {
            list.push(s);
        }
    }
    if list.is_empty() {
        return Err("partition.assignment.strategy must name at least one assignor".into());
    }
    let mut common: Vec<RebalanceProtocol> = list[0].supported_protocols().to_vec();
    for s in &list {
        common.retain(|p| s.supported_protocols().contains(p));
    }
    let protocol = common.into_iter().max().ok_or_else(|| {
        let names: Vec<&str> = list.iter().map(|s| s.name()).collect();
        format!("assignors {names:?} have no rebalance protocol in common")
    })?;
    Ok((list, protocol))
}

/// A `commitSync()` in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SyncCommit {
    /// The request in flight, if sent, and the offsets it carries.
    corr: Option<u64>,
    offsets: Vec<(TopicPartition, u64)>,
    deadline: SimTime,
    /// Retry no earlier than this (after a retriable error).
    not_before: SimTime,
}

/// Rebalance metrics (`consumer-coordinator-metrics`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberStats {
    /// `rebalance-total`: rebalances this member completed.
    pub rebalances: u64,
    /// `failed-rebalance-total`.
    pub failed_rebalances: u64,
    /// `rebalance-latency-total` / `-max`: JoinGroup sent to SyncGroup answered.
    pub rebalance_latency_total: Dur,
    pub rebalance_latency_max: Dur,
    /// Times the member left because `max.poll.interval.ms` passed without a poll.
    pub poll_timeouts: u64,
    /// Partitions revoked and lost over the run.
    pub revoked: u64,
    pub lost: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub group_id: String,
    pub group_instance_id: Option<String>,
    pub assignors: Vec<Strategy>,
    pub protocol: RebalanceProtocol,
    pub coordinator: Option<u32>,
    find_corr: Option<u64>,
    find_not_before: SimTime,
    pub member_id: String,
    pub generation: i32,
    pub state: MemberState,
    pub is_leader: bool,
    pub(crate) rejoin_needed: bool,
    /// `onJoinPrepare` ran for the rebalance in progress.
    join_prepared: bool,
    /// The auto-commit `onJoinPrepare` waits for, and whether it is done.
    prepare_commit: Option<u64>,
    prepare_committed: bool,
    join_corr: Option<u64>,
    join_not_before: SimTime,
    sync_corr: Option<u64>,
    /// The SyncGroup answer, applied by `onJoinComplete` at the next `poll()`.
    pending_assignment: Option<Vec<TopicPartition>>,
    hb_corr: Option<u64>,
    hb_due: SimTime,
    /// Session timer: reset by each successful heartbeat response.
    session_deadline: SimTime,
    hb_timer_at: Option<SimTime>,
    /// The application's last `poll()` (`max.poll.interval.ms` counts from it).
    pub last_poll: SimTime,
    next_auto_commit: SimTime,
    sync_commit: Option<SyncCommit>,
    /// Async commits in flight (auto-commit, `commitAsync`).
    async_commits: BTreeMap<u64, Vec<(TopicPartition, u64)>>,
    offset_fetch: Option<(u64, Vec<TopicPartition>)>,
    rebalance_started: Option<SimTime>,
    /// The previous assignment and its generation (`StickyAssignor` user data).
    sticky_memory: Option<(Vec<TopicPartition>, i32)>,
    pub stats: MemberStats,
}

impl Membership {
    pub fn new(group_id: String, config: &ConsumerConfig) -> Self {
        // Invalid strategy lists are refused when the scenario is parsed.
        let (assignors, protocol) = parse_strategies(&config.partition_assignment_strategy)
            .unwrap_or((vec![Strategy::Range], RebalanceProtocol::Eager));
        Membership {
            group_id,
            group_instance_id: config.group_instance_id.clone(),
            assignors,
            protocol,
            coordinator: None,
            find_corr: None,
            find_not_before: SimTime::ZERO,
            member_id: String::new(),
            generation: -1,
            state: MemberState::Unjoined,
            is_leader: false,
            rejoin_needed: true,
            join_prepared: false,
            prepare_commit: None,
            prepare_committed: false,
            join_corr: None,
            join_not_before: SimTime::ZERO,
            sync_corr: None,
            pending_assignment: None,
            hb_corr: None,
            hb_due: SimTime::ZERO,
            session_deadline: SimTime::MAX,
            hb_timer_at: None,
            last_poll: SimTime::ZERO,
            next_auto_commit: SimTime::from_ms(config.auto_commit_interval_ms),
            sync_commit: None,
            async_commits: BTreeMap::new(),
            offset_fetch: None,
            rebalance_started: None,
            sticky_memory: None,
            stats: MemberStats::default(),
        }
    }

    pub fn request_rejoin(&mut self, _reason: &str) {
        self.rejoin_needed = true;
    }

    /// A new process: no member id, no generation, nothing in flight.
    pub fn reset_process(&mut self) {
        self.coordinator = None;
        self.find_corr = None;
        self.member_id.clear();
        self.generation = -1;
        self.state = MemberState::Unjoined;
        self.is_leader = false;
        self.rejoin_needed = true;
        self.join_prepared = false;
        self.prepare_commit = None;
        self.prepare_committed = false;
        self.join_corr = None;
        self.sync_corr = None;
        self.pending_assignment = None;
        self.hb_corr = None;
        self.hb_timer_at = None;
        self.session_deadline = SimTime::MAX;
        self.sync_commit = None;
        self.async_commits.clear();
        self.offset_fetch = None;
        self.rebalance_started = None;
        self.sticky_memory = None;
    }

    /// The next auto-commit, when `enable.auto.commit` is on.
    pub fn next_auto_commit(&self, config: &ConsumerConfig) -> Option<SimTime> {
        config.enable_auto_commit.then_some(self.next_auto_commit)
    }

    fn heartbeat_enabled(&self) -> bool {
        matches!(self.state, MemberState::Stable | MemberState::CompletingRebalance)
    }

    /// `resetStateAndGeneration`: forget the generation (and the member id).
    fn reset_generation(&mut self, reset_member_id: bool) {
        self.generation = -1;
        if reset_member_id {
            self.member_id.clear();
        }
        self.state = MemberState::Unjoined;
        self.rejoin_needed = true;
        self.is_leader = false;
    }
}

impl Consumer {
    fn is_subscribed(&self) -> bool {
        !self.subscription.is_empty()
    }

    fn group_send(&mut self, msg: Message, timeout: Dur, io: &mut Io) -> Option<u64> {
        let coordinator = self.group.as_ref()?.coordinator?;
        // A refused connection backs off (`reconnect.backoff.ms`) before the next attempt.
        if let Some(until) = self.metadata.backoff_until(coordinator, io.now) {
            self.schedule_wake(until.since(io.now), io);
            return None;
        }
        let corr = message_corr(&msg);
        io.send(NodeId::Broker(coordinator), msg);
        io.timer(timeout, Timer::ConsumerRequestTimeout(corr));
        Some(corr)
    }

    /// `ensureCoordinatorReady`, without blocking: look the coordinator up if needed.
    fn lookup_coordinator(&mut self, io: &mut Io) {
        let now = io.now;
        let timeout = Dur::from_ms(self.config.request_timeout_ms);
        let Some(g) = self.group.as_ref() else { return };
        if g.coordinator.is_some() || g.find_corr.is_some() || now < g.find_not_before {
            return;
        }
        let key = g.group_id.clone();
        let Some(b) = self.broker_to_ask(None, io) else {
            return;
        };
        let corr = self.corr();
        io.send(NodeId::Broker(b), Message::FindCoordinatorRequest { corr, key, key_type: Default::default() });
        io.timer(timeout, Timer::ConsumerRequestTimeout(corr));
        if let Some(g) = self.group.as_mut() {
            g.find_corr = Some(corr);
        }
    }

    /// `markCoordinatorUnknown`: requests in flight to it are given up.
    fn coordinator_unknown(&mut self, io: &mut Io) {
        let backoff = Dur::from_ms(self.config.retry_backoff_ms);
        let Some(g) = self.group.as_mut() else { return };
        if g.coordinator.take().is_none() {
            return;
        }
        g.find_not_before = io.now.plus(backoff);
        g.hb_corr = None;
        if g.join_corr.take().is_some() || g.sync_corr.take().is_some() {
            g.rejoin_needed = true;
            g.join_not_before = io.now.plus(backoff);
        }
        if let Some(c) = g.sync_commit.as_mut() {
            c.corr = None;
            c.not_before = io.now.plus(backoff);
        }
        g.async_commits.clear();
        g.prepare_commit = None;
        g.offset_fetch = None;
        let group = g.group_id.clone();
        io.emit(Effect::CoordinatorLost { consumer: self.index, group });
    }

    /// `ConsumerCoordinator.poll`, as `KafkaConsumer.poll()` runs it: find the coordinator,
    /// (re)join the group when needed, finish a rebalance, fetch committed offsets for new
    /// partitions, and auto-commit when due.
    pub(crate) fn group_poll(&mut self, io: &mut Io) {
        let now = io.now;
        let subscribed = self.is_subscribed();
        {
            let Some(g) = self.group.as_mut() else { return };
            g.last_poll = now;
        }
        if self.metadata.needs_update && self.metadata.in_flight.is_none() {
            self.request_metadata(None, io);
        }
        self.lookup_coordinator(io);
        self.ensure_heartbeat_timer(io);
        if subscribed {
            if self.group.as_ref().map(|g| g.pending_assignment.is_some()).unwrap_or(false) {
                self.on_join_complete(io);
            }
            self.maybe_join(io);
        }
        self.fetch_committed_if_needed(io);
        self.maybe_auto_commit(io);
        self.retry_sync_commit(io);
    }

    fn maybe_join(&mut self, io: &mut Io) {
        let now = io.now;
        let Some(g) = self.group.as_ref() else { return };
        if !g.rejoin_needed
            || g.coordinator.is_none()
            || g.join_corr.is_some()
            || g.sync_corr.is_some()
            || g.prepare_commit.is_some()
            || g.pending_assignment.is_some()
            || now < g.join_not_before
            || self.streams_unflushed
        {
            return;
        }
        if !g.join_prepared {
            // onJoinPrepare, part 1: auto-commit what was consumed, and wait for it.
            let auto = self.config.enable_auto_commit && g.state == MemberState::Stable && g.generation >= 0;
            if auto && !g.prepare_committed && !self.consumed_positions().is_empty() {
                if g.protocol == RebalanceProtocol::Eager {
                    self.pending_revocation = self.assignment.iter().cloned().collect();
                }
                if let Some((corr, offsets)) = self.send_commit(io) {
                    if let Some(g) = self.group.as_mut() {
                        g.prepare_commit = Some(corr);
                        g.async_commits.insert(corr, offsets);
                    }
                    return;
                }
            }
            self.revoke_before_join(io);
            self.pending_revocation.clear();
            if let Some(g) = self.group.as_mut() {
                g.join_prepared = true;
                g.prepare_committed = false;
            }
        }
        self.send_join(io);
    }

    /// onJoinPrepare, part 2: what the member gives up before rejoining.
    fn revoke_before_join(&mut self, io: &mut Io) {
        let Some(g) = self.group.as_ref() else { return };
        let reset = g.generation < 0 || g.member_id.is_empty();
        let group = g.group_id.clone();
        let protocol = g.protocol;
        let revoked: Vec<TopicPartition> = if reset {
            self.assignment.clone()
        } else {
            match protocol {
                RebalanceProtocol::Eager => self.assignment.clone(),
                RebalanceProtocol::Cooperative => self
                    .assignment
                    .iter()
                    .filter(|tp| !self.subscription.iter().any(|t| **t == *tp.topic))
                    .cloned()
                    .collect(),
            }
        };
        if revoked.is_empty() {
            return;
        }
        let keep: Vec<TopicPartition> = self.assignment.iter().filter(|tp| !revoked.contains(tp)).cloned().collect();
        self.set_assignment(keep);
        if let Some(g) = self.group.as_mut() {
            if reset {
                g.stats.lost += revoked.len() as u64;
            } else {
                g.stats.revoked += revoked.len() as u64;
            }
        }
        io.emit(Effect::PartitionsRevoked { consumer: self.index, group, partitions: revoked, lost: reset });
    }

    fn subscription_metadata(&self, strategy: Strategy) -> Subscription {
        let g = self.group.as_ref();
        let cooperative = g.map(|g| g.protocol == RebalanceProtocol::Cooperative).unwrap_or(false);
        Subscription {
            topics: self.subscription.clone(),
            owned_partitions: self.assignment.clone(),
            generation_id: if cooperative { g.map(|g| g.generation).unwrap_or(-1) } else { -1 },
            sticky_user_data: if strategy == Strategy::Sticky { g.and_then(|g| g.sticky_memory.clone()) } else { None },
        }
    }

    fn send_join(&mut self, io: &mut Io) {
        let now = io.now;
        let corr = self.corr();
        let Some(g) = self.group.as_ref() else { return };
        let protocols: Vec<GroupProtocol> = g
            .assignors
            .clone()
            .into_iter()
            .map(|s| GroupProtocol { name: s.name().to_string(), metadata: self.subscription_metadata(s) })
            .collect();
        let msg = Message::JoinGroupRequest {
            corr,
            group: g.group_id.clone(),
            session_timeout_ms: self.config.session_timeout_ms,
            rebalance_timeout_ms: self.config.max_poll_interval_ms,
            member_id: g.member_id.clone(),
            group_instance_id: g.group_instance_id.clone(),
            client_id: self.name.clone(),
            protocol_type: "consumer".into(),
            protocols,
        };
        // The JoinGroup may wait a whole rebalance at the coordinator.
        let timeout = Dur::from_ms(self.config.request_timeout_ms.max(self.config.max_poll_interval_ms + 5_000));
        if self.group_send(msg, timeout, io).is_some() {
            if let Some(g) = self.group.as_mut() {
                g.join_corr = Some(corr);
                g.state = MemberState::PreparingRebalance;
                g.rebalance_started.get_or_insert(now);
            }
        }
    }

    /// `onJoinComplete`: take the assignment the SyncGroup brought.
    fn on_join_complete(&mut self, io: &mut Io) {
        let Some(g) = self.group.as_mut() else { return };
        let Some(assigned) = g.pending_assignment.take() else { return };
        let group = g.group_id.clone();
        let protocol = g.protocol;
        let generation = g.generation;
        g.join_prepared = false;
        g.sticky_memory = Some((assigned.clone(), generation));
        g.next_auto_commit = io.now.plus(Dur::from_ms(self.config.auto_commit_interval_ms));
        let owned = self.assignment.clone();
        // An assignment for topics we no longer subscribe to: rejoin with the subscription.
        if assigned.iter().any(|tp| !self.subscription.iter().any(|t| **t == *tp.topic)) {
            g.rejoin_needed = true;
            return;
        }
        if protocol == RebalanceProtocol::Cooperative {
            let revoked: Vec<TopicPartition> = owned.iter().filter(|tp| !assigned.contains(tp)).cloned().collect();
            if !revoked.is_empty() {
                g.stats.revoked += revoked.len() as u64;
                // Revoke what moved away, then rejoin so the new owner can get it.
                g.rejoin_needed = true;
                io.emit(Effect::PartitionsRevoked {
                    consumer: self.index,
                    group: group.clone(),
                    partitions: revoked,
                    lost: false,
                });
            }
        }
        let added: Vec<TopicPartition> = assigned.iter().filter(|tp| !owned.contains(tp)).cloned().collect();
        self.set_assignment(assigned.clone());
        io.emit(Effect::PartitionsAssigned { consumer: self.index, group, partitions: assigned, added });
    }

    /// Newly assigned partitions start from their committed offset.
    fn fetch_committed_if_needed(&mut self, io: &mut Io) {
        let Some(g) = self.group.as_ref() else { return };
        if g.offset_fetch.is_some() || g.coordinator.is_none() {
            return;
        }
        let partitions: Vec<TopicPartition> =
            self.positions.iter().filter(|(_, p)| **p == Position::Initializing).map(|(tp, _)| tp.clone()).collect();
        if partitions.is_empty() {
            return;
        }
        let group = g.group_id.clone();
        let corr = self.corr();
        let msg = Message::OffsetFetchRequest { corr, group, partitions: partitions.clone() };
        if self.group_send(msg, Dur::from_ms(self.config.request_timeout_ms), io).is_some() {
            if let Some(g) = self.group.as_mut() {
                g.offset_fetch = Some((corr, partitions));
            }
        }
    }

    fn maybe_auto_commit(&mut self, io: &mut Io) {
        if !self.config.enable_auto_commit {
            return;
        }
        let interval = Dur::from_ms(self.config.auto_commit_interval_ms.max(1));
        let Some(g) = self.group.as_mut() else { return };
        if io.now < g.next_auto_commit {
            return;
        }
        g.next_auto_commit = io.now.plus(interval);
        self.commit_async(io);
    }

    /// Builds and sends an OffsetCommit of the consumed positions. `None` when nothing was
    /// sent (no coordinator, nothing to commit, or not in a stable generation).
    fn send_commit(&mut self, io: &mut Io) -> Option<(u64, Vec<(TopicPartition, u64)>)> {
        let consumed = self.consumed_positions();
        let offsets: Vec<CommitPartition> = consumed
            .iter()
            .map(|(tp, offset)| CommitPartition { tp: tp.clone(), offset: *offset, leader_epoch: -1 })
            .collect();
        let subscribed = self.is_subscribed();
        let g = self.group.as_ref()?;
        g.coordinator?;
        if offsets.is_empty() {
            return None;
        }
        let (generation, member_id) = if subscribed {
            if g.state != MemberState::Stable {
                return None;
            }
            (g.generation, g.member_id.clone())
        } else {
            (-1, String::new())
        };
        let group = g.group_id.clone();
        let group_instance_id = if subscribed { g.group_instance_id.clone() } else { None };
        let corr = self.corr();
        let msg = Message::OffsetCommitRequest { corr, group, generation, member_id, group_instance_id, offsets };
        self.group_send(msg, Dur::from_ms(self.config.request_timeout_ms), io).map(|c| (c, consumed))
    }

    /// Why a commit cannot be sent now, if it cannot (`generationIfStable` is null).
    fn commit_blocked(&self) -> Option<ErrorCode> {
        let g = self.group.as_ref()?;
        if !self.is_subscribed() || g.state == MemberState::Stable {
            return None;
        }
        Some(if matches!(g.state, MemberState::PreparingRebalance | MemberState::CompletingRebalance) {
            ErrorCode::REBALANCE_IN_PROGRESS
        } else {
            ErrorCode::COMMIT_FAILED
        })
    }

    /// `commitAsync()` of the consumed positions.
    pub(crate) fn commit_async(&mut self, io: &mut Io) {
        if self.group.is_none() || self.consumed_positions().is_empty() {
            return;
        }
        if let Some(e) = self.commit_blocked() {
            self.commit_failed(e, io);
            return;
        }
        if let Some((corr, offsets)) = self.send_commit(io) {
            if let Some(g) = self.group.as_mut() {
                g.async_commits.insert(corr, offsets);
            }
        }
    }

    /// `commitSync()` of the consumed positions: the application waits until it is done.
    pub(crate) fn commit_sync(&mut self, io: &mut Io) {
        if self.group.is_none() || self.consumed_positions().is_empty() {
            return;
        }
        if let Some(e) = self.commit_blocked() {
            self.commit_failed(e, io);
            return;
        }
        let deadline = io.now.plus(DEFAULT_API_TIMEOUT);
        if let Some(g) = self.group.as_mut() {
            g.sync_commit = Some(SyncCommit { corr: None, offsets: Vec::new(), deadline, not_before: io.now });
        }
        self.retry_sync_commit(io);
    }

    /// Sends (or re-sends) the pending `commitSync()` once the coordinator is known.
    fn retry_sync_commit(&mut self, io: &mut Io) {
        let Some(c) = self.group.as_ref().and_then(|g| g.sync_commit.clone()) else { return };
        if c.corr.is_some() {
            return;
        }
        if io.now >= c.deadline {
            if let Some(g) = self.group.as_mut() {
                g.sync_commit = None;
            }
            self.commit_failed(ErrorCode::TIMEOUT, io);
            return;
        }
        if io.now < c.not_before {
            self.schedule_wake(c.not_before.since(io.now), io);
            return;
        }
        self.lookup_coordinator(io);
        if let Some(e) = self.commit_blocked() {
            if let Some(g) = self.group.as_mut() {
                g.sync_commit = None;
            }
            self.commit_failed(e, io);
            return;
        }
        if let Some((corr, offsets)) = self.send_commit(io) {
            if let Some(g) = self.group.as_mut() {
                if let Some(sc) = g.sync_commit.as_mut() {
                    sc.corr = Some(corr);
                    sc.offsets = offsets;
                }
            }
        }
    }

    pub(crate) fn commit_sync_pending(&self) -> bool {
        self.group.as_ref().map(|g| g.sync_commit.is_some()).unwrap_or(false)
    }

    fn commit_failed(&mut self, error: ErrorCode, io: &mut Io) {
        self.stats.commit_failures += 1;
        let group = self.group.as_ref().map(|g| g.group_id.clone()).unwrap_or_default();
        io.emit(Effect::CommitFailed { consumer: self.index, group, error });
    }

    /// Leaves the group on `close()` (dynamic members only: a static member keeps its
    /// place until its session times out).
    pub(crate) fn leave_group_on_close(&mut self, io: &mut Io) {
        let assigned = std::mem::take(&mut self.assignment);
        let Some(g) = self.group.as_ref() else { return };
        if !assigned.is_empty() && self.is_subscribed() {
            io.emit(Effect::PartitionsRevoked {
                consumer: self.index,
                group: g.group_id.clone(),
                partitions: assigned,
                lost: false,
            });
        }
        self.send_leave("the consumer is being closed", io);
    }

    fn send_leave(&mut self, reason: &str, io: &mut Io) {
        let Some(g) = self.group.as_ref() else { return };
        if g.group_instance_id.is_some() || g.member_id.is_empty() || g.state == MemberState::Unjoined {
            return;
        }
        let (group, member_id) = (g.group_id.clone(), g.member_id.clone());
        let corr = self.corr();
        let msg =
            Message::LeaveGroupRequest { corr, group, member_id, group_instance_id: None, reason: reason.to_string() };
        self.group_send(msg, Dur::from_ms(self.config.request_timeout_ms), io);
    }

    // ------------------------------------------------------------------ heartbeat thread

    /// Arms the heartbeat thread's next wake-up: the next heartbeat, the session deadline,
    /// or the poll deadline (`max.poll.interval.ms` after the last poll, unless the
    /// application is inside `poll()` right now).
    fn ensure_heartbeat_timer(&mut self, io: &mut Io) {
        let max_poll = Dur::from_ms(self.config.max_poll_interval_ms);
        let polling = matches!(self.app.phase, crate::consumer::app::Phase::Polling { .. });
        if !self.alive || self.subscription.is_empty() {
            return;
        }
        let Some(g) = self.group.as_mut() else { return };
        let in_group = g.state != MemberState::Unjoined || !g.member_id.is_empty();
        let mut next = SimTime::MAX;
        if in_group && !polling {
            next = g.last_poll.plus(max_poll);
        }
        if g.heartbeat_enabled() && g.coordinator.is_some() {
            if g.hb_corr.is_none() {
                next = next.min(g.hb_due);
            }
            next = next.min(g.session_deadline);
        }
        if next == SimTime::MAX {
            return;
        }
        let next = next.max(io.now);
        if g.hb_timer_at.map(|t| t <= next && t >= io.now).unwrap_or(false) {
            return;
        }
        g.hb_timer_at = Some(next);
        io.timer_at(next, Timer::ConsumerHeartbeat);
    }

    /// The heartbeat thread's loop body.
    pub(crate) fn heartbeat_tick(&mut self, io: &mut Io) {
        let now = io.now;
        let max_poll = Dur::from_ms(self.config.max_poll_interval_ms);
        let interval = Dur::from_ms(self.config.heartbeat_interval_ms);
        let Some(g) = self.group.as_mut() else { return };
        if g.hb_timer_at.map(|t| t <= now).unwrap_or(false) {
            g.hb_timer_at = None;
        }
        if self.subscription.is_empty() {
            return;
        }
        // The application has not polled within max.poll.interval.ms: leave the group.
        let in_group = g.state != MemberState::Unjoined || !g.member_id.is_empty();
        if in_group
            && now >= g.last_poll.plus(max_poll)
            && !matches!(self.app.phase, crate::consumer::app::Phase::Polling { .. })
        {
            g.stats.poll_timeouts += 1;
            let group = g.group_id.clone();
            io.emit(Effect::PollTimeoutExpired {
                consumer: self.index,
                group,
                max_poll_interval_ms: self.config.max_poll_interval_ms,
            });
            self.send_leave("consumer poll timeout has expired", io);
            if let Some(g) = self.group.as_mut() {
                g.reset_generation(true);
                g.join_corr = None;
                g.sync_corr = None;
                g.hb_corr = None;
            }
            return;
        }
        if g.heartbeat_enabled() && g.coordinator.is_some() {
            if now >= g.session_deadline {
                // No heartbeat answered within session.timeout.ms: the coordinator is gone.
                self.coordinator_unknown(io);
            } else if g.hb_corr.is_none() && now >= g.hb_due {
                let corr = self.corr();
                let g = self.group.as_ref().expect("checked");
                let msg = Message::HeartbeatRequest {
                    corr,
                    group: g.group_id.clone(),
                    generation: g.generation,
                    member_id: g.member_id.clone(),
                    group_instance_id: g.group_instance_id.clone(),
                };
                let sent = self.group_send(msg, Dur::from_ms(self.config.request_timeout_ms), io).is_some();
                let retry = Dur::from_ms(self.config.retry_backoff_ms.max(1));
                if let Some(g) = self.group.as_mut() {
                    if sent {
                        g.hb_corr = Some(corr);
                        g.hb_due = now.plus(interval);
                    } else {
                        // Not connected (backing off): try again a little later.
                        g.hb_due = now.plus(retry);
                    }
                }
            }
        }
        self.ensure_heartbeat_timer(io);
    }

    // ------------------------------------------------------------------ responses

    pub(crate) fn group_connection_closed(&mut self, broker: u32, io: &mut Io) {
        if self.group.as_ref().and_then(|g| g.coordinator) == Some(broker) {
            self.coordinator_unknown(io);
        }
        if let Some(g) = self.group.as_mut() {
            if g.find_corr.is_some() {
                g.find_corr = None;
            }
        }
    }

    /// A group request timed out: treat the coordinator as gone. True if `corr` was ours.
    pub(crate) fn group_request_timed_out(&mut self, corr: u64, io: &mut Io) -> bool {
        let Some(g) = self.group.as_mut() else { return false };
        if g.find_corr == Some(corr) {
            g.find_corr = None;
            return true;
        }
        let ours = g.join_corr == Some(corr)
            || g.sync_corr == Some(corr)
            || g.hb_corr == Some(corr)
            || g.async_commits.contains_key(&corr)
            || g.sync_commit.as_ref().and_then(|c| c.corr) == Some(corr)
            || g.offset_fetch.as_ref().map(|(c, _)| *c) == Some(corr);
        if ours {
            self.coordinator_unknown(io);
        }
        ours
    }

    pub(crate) fn handle_group_response(&mut self, msg: Message, io: &mut Io) {
        let now = io.now;
        let backoff = Dur::from_ms(self.config.retry_backoff_ms);
        match msg {
            Message::FindCoordinatorResponse { corr, error, node } => {
                let Some(g) = self.group.as_mut() else { return };
                if g.find_corr != Some(corr) {
                    return;
                }
                g.find_corr = None;
                match (error, node) {
                    (None, Some(n)) => {
                        g.coordinator = Some(n);
                        g.session_deadline = now.plus(Dur::from_ms(self.config.session_timeout_ms));
                        let group = g.group_id.clone();
                        io.emit(Effect::CoordinatorFound { consumer: self.index, group, broker: n });
                    }
                    _ => g.find_not_before = now.plus(backoff),
                }
            }
            Message::JoinGroupResponse {
                corr,
                error,
                generation,
                protocol_name,
                leader,
                skip_assignment,
                member_id,
                members,
            } => {
                let Some(g) = self.group.as_mut() else { return };
                if g.join_corr != Some(corr) {
                    return;
                }
                g.join_corr = None;
                match error {
                    None => {
                        g.member_id = member_id;
                        g.generation = generation;
                        g.state = MemberState::CompletingRebalance;
                        g.is_leader = g.member_id == leader;
                        g.session_deadline = now.plus(Dur::from_ms(self.config.session_timeout_ms));
                        g.hb_due = now.plus(Dur::from_ms(self.config.heartbeat_interval_ms));
                        let assignments = if g.is_leader && !skip_assignment {
                            let strategy = protocol_name.as_deref().and_then(|p| p.parse::<Strategy>().ok());
                            self.run_assignor(strategy, &members, io)
                        } else {
                            Vec::new()
                        };
                        self.send_sync(protocol_name, assignments, io);
                    }
                    Some(e) => self.join_failed(e, member_id, io),
                }
            }
            Message::SyncGroupResponse { corr, error, assignment } => {
                let Some(g) = self.group.as_mut() else { return };
                if g.sync_corr != Some(corr) {
                    return;
                }
                g.sync_corr = None;
                match error {
                    None if g.state == MemberState::CompletingRebalance => {
                        g.state = MemberState::Stable;
                        g.rejoin_needed = false;
                        g.pending_assignment = Some(assignment);
                        g.stats.rebalances += 1;
                        if let Some(start) = g.rebalance_started.take() {
                            let d = now.since(start);
                            g.stats.rebalance_latency_total = g.stats.rebalance_latency_total.plus_dur(d);
                            g.stats.rebalance_latency_max = g.stats.rebalance_latency_max.max(d);
                        }
                    }
                    None => {}
                    Some(e) => self.sync_failed(e, io),
                }
            }
            Message::HeartbeatResponse { corr, error } => {
                let Some(g) = self.group.as_mut() else { return };
                if g.hb_corr != Some(corr) {
                    return;
                }
                g.hb_corr = None;
                match error {
                    None => g.session_deadline = now.plus(Dur::from_ms(self.config.session_timeout_ms)),
                    Some(ErrorCode::REBALANCE_IN_PROGRESS) => {
                        g.session_deadline = now.plus(Dur::from_ms(self.config.session_timeout_ms));
                        if g.state == MemberState::Stable {
                            g.rejoin_needed = true;
                        }
                    }
                    Some(ErrorCode::ILLEGAL_GENERATION) => g.reset_generation(false),
                    Some(ErrorCode::UNKNOWN_MEMBER_ID) | Some(ErrorCode::FENCED_INSTANCE_ID) => {
                        g.reset_generation(true)
                    }
                    Some(ErrorCode::NOT_COORDINATOR) | Some(ErrorCode::COORDINATOR_NOT_AVAILABLE) => {
                        self.coordinator_unknown(io)
                    }
                    Some(_) => g.hb_due = now.plus(backoff),
                }
            }
            Message::LeaveGroupResponse { .. } => {}
            Message::OffsetCommitResponse { corr, partitions } => self.on_commit_response(corr, partitions, io),
            Message::OffsetFetchResponse { corr, error, partitions } => {
                let Some(g) = self.group.as_mut() else { return };
                if g.offset_fetch.as_ref().map(|(c, _)| *c) != Some(corr) {
                    return;
                }
                g.offset_fetch = None;
                if let Some(e) = error {
                    if matches!(e, ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) {
                        self.coordinator_unknown(io);
                    }
                    return;
                }
                for (tp, committed) in partitions {
                    if self.positions.get(&tp) != Some(&Position::Initializing) {
                        continue;
                    }
                    match committed {
                        Some(offset) => {
                            self.positions.insert(tp.clone(), Position::At(offset));
                            io.emit(Effect::OffsetReset {
                                consumer: self.index,
                                tp,
                                offset,
                                reason: "committed offset".into(),
                            });
                        }
                        None => {
                            self.positions.insert(tp, Position::Resetting(None));
                        }
                    }
                }
            }
            _ => {}
        }
        self.ensure_heartbeat_timer(io);
    }

    fn send_sync(
        &mut self,
        protocol_name: Option<String>,
        assignments: Vec<(String, Vec<TopicPartition>)>,
        io: &mut Io,
    ) {
        let corr = self.corr();
        let Some(g) = self.group.as_ref() else { return };
        let msg = Message::SyncGroupRequest {
            corr,
            group: g.group_id.clone(),
            generation: g.generation,
            member_id: g.member_id.clone(),
            group_instance_id: g.group_instance_id.clone(),
            protocol_name,
            assignments,
        };
        if self.group_send(msg, Dur::from_ms(self.config.request_timeout_ms), io).is_some() {
            if let Some(g) = self.group.as_mut() {
                g.sync_corr = Some(corr);
            }
        }
    }

    /// The leader's assignment (`onLeaderElected` → `assignor.assign`).
    fn run_assignor(
        &mut self,
        strategy: Option<Strategy>,
        members: &[JoinGroupMember],
        io: &mut Io,
    ) -> Vec<(String, Vec<TopicPartition>)> {
        let Some(strategy) = strategy else {
            return Vec::new();
        };
        let mut topics: BTreeMap<String, u32> = BTreeMap::new();
        for m in members {
            for t in &m.metadata.topics {
                if let Some(n) = self.metadata.partition_count(t) {
                    topics.insert(t.clone(), n);
                }
            }
        }
        let conv = |tp: &TopicPartition| assignor::TopicPartition::new(tp.topic.to_string(), tp.partition);
        let inputs: Vec<MemberInput> = members
            .iter()
            .map(|m| {
                let (owned, generation) = match strategy {
                    Strategy::Sticky => match &m.metadata.sticky_user_data {
                        Some((prev, gen)) => (prev.iter().map(conv).collect(), Some(*gen)),
                        None => (Vec::new(), None),
                    },
                    _ => (
                        m.metadata.owned_partitions.iter().map(conv).collect(),
                        (m.metadata.generation_id >= 0).then_some(m.metadata.generation_id),
                    ),
                };
                MemberInput {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    subscription: m.metadata.topics.clone(),
                    owned,
                    generation,
                }
            })
            .collect();
        match assignor::assign(strategy, &topics, &inputs) {
            Ok(a) => a
                .into_iter()
                .map(|(member, tps)| {
                    (member, tps.into_iter().map(|tp| TopicPartition::new(&tp.topic, tp.partition)).collect())
                })
                .collect(),
            Err(e) => {
                io.emit(Effect::Note { text: format!("{}: the {strategy} assignor failed: {e}", self.name) });
                Vec::new()
            }
        }
    }

    fn join_failed(&mut self, error: ErrorCode, member_id: String, io: &mut Io) {
        let now = io.now;
        let backoff = Dur::from_ms(self.config.retry_backoff_ms);
        let Some(g) = self.group.as_mut() else { return };
        g.stats.failed_rebalances += 1;
        match error {
            ErrorCode::MEMBER_ID_REQUIRED => {
                // Rejoin at once with the id the coordinator gave us.
                g.member_id = member_id;
                g.stats.failed_rebalances -= 1;
            }
            ErrorCode::UNKNOWN_MEMBER_ID => g.reset_generation(true),
            ErrorCode::ILLEGAL_GENERATION => g.reset_generation(false),
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.coordinator_unknown(io);
            }
            ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::INCONSISTENT_GROUP_PROTOCOL
            | ErrorCode::INVALID_SESSION_TIMEOUT => {
                // Fatal for the application: poll() throws and the consumer stops.
                let group = g.group_id.clone();
                io.emit(Effect::Note {
                    text: format!("{} stopped: JoinGroup to {group} failed with {error}", self.name),
                });
                self.app.phase = crate::consumer::app::Phase::Stopped;
                return;
            }
            _ => g.join_not_before = now.plus(backoff),
        }
        if let Some(g) = self.group.as_mut() {
            g.rejoin_needed = true;
        }
    }

    fn sync_failed(&mut self, error: ErrorCode, io: &mut Io) {
        let Some(g) = self.group.as_mut() else { return };
        g.stats.failed_rebalances += 1;
        g.rejoin_needed = true;
        match error {
            ErrorCode::REBALANCE_IN_PROGRESS => g.state = MemberState::PreparingRebalance,
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_INSTANCE_ID => g.reset_generation(true),
            ErrorCode::ILLEGAL_GENERATION => g.reset_generation(false),
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => self.coordinator_unknown(io),
            _ => {}
        }
    }

    fn on_commit_response(&mut self, corr: u64, partitions: Vec<(TopicPartition, Option<ErrorCode>)>, io: &mut Io) {
        let now = io.now;
        let backoff = Dur::from_ms(self.config.retry_backoff_ms);
        let Some(g) = self.group.as_mut() else { return };
        let is_sync = g.sync_commit.as_ref().and_then(|c| c.corr) == Some(corr);
        let async_offsets = g.async_commits.remove(&corr);
        let is_async = async_offsets.is_some();
        if !is_sync && !is_async {
            return;
        }
        let sent = match async_offsets {
            Some(o) => o,
            None => g.sync_commit.as_ref().map(|c| c.offsets.clone()).unwrap_or_default(),
        };
        if g.prepare_commit == Some(corr) {
            // Whatever the result, onJoinPrepare goes on (a failed auto-commit is logged).
            g.prepare_commit = None;
            g.prepare_committed = true;
        }
        let error = partitions.iter().find_map(|(_, e)| *e);
        let group = g.group_id.clone();
        match error {
            None => {
                if is_sync {
                    g.sync_commit = None;
                }
                self.stats.commits += 1;
                io.emit(Effect::OffsetsCommitted { consumer: self.index, group, offsets: sent });
            }
            Some(e) => {
                let retriable = matches!(
                    e,
                    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                        | ErrorCode::COORDINATOR_NOT_AVAILABLE
                        | ErrorCode::NOT_COORDINATOR
                        | ErrorCode::REQUEST_TIMED_OUT
                );
                match e {
                    ErrorCode::REBALANCE_IN_PROGRESS => g.rejoin_needed = true,
                    ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_INSTANCE_ID => g.reset_generation(true),
                    ErrorCode::ILLEGAL_GENERATION => g.reset_generation(false),
                    _ => {}
                }
                if matches!(
                    e,
                    ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR | ErrorCode::REQUEST_TIMED_OUT
                ) {
                    self.coordinator_unknown(io);
                }
                let Some(g) = self.group.as_mut() else { return };
                if is_sync && retriable {
                    if let Some(c) = g.sync_commit.as_mut() {
                        c.corr = None;
                        c.not_before = now.plus(backoff);
                    }
                } else {
                    if is_sync {
                        g.sync_commit = None;
                    }
                    let reported = match e {
                        ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => ErrorCode::COMMIT_FAILED,
                        other => other,
                    };
                    self.commit_failed(reported, io);
                }
            }
        }
    }
}

fn message_corr(msg: &Message) -> u64 {
    match msg {
        Message::FindCoordinatorRequest { corr, .. }
        | Message::JoinGroupRequest { corr, .. }
        | Message::SyncGroupRequest { corr, .. }
        | Message::HeartbeatRequest { corr, .. }
        | Message::LeaveGroupRequest { corr, .. }
        | Message::OffsetCommitRequest { corr, .. }
        | Message::OffsetFetchRequest { corr, .. } => *corr,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_strategy_list_is_eager_and_cooperative_sticky_alone_is_cooperative() {
        let (list, p) = parse_strategies("range,cooperative-sticky").unwrap();
        assert_eq!(list, vec![Strategy::Range, Strategy::CooperativeSticky]);
        assert_eq!(p, RebalanceProtocol::Eager);
        assert_eq!(parse_strategies("cooperative-sticky").unwrap().1, RebalanceProtocol::Cooperative);
        assert_eq!(
            parse_strategies("org.apache.kafka.clients.consumer.CooperativeStickyAssignor").unwrap().1,
            RebalanceProtocol::Cooperative
        );
        assert!(parse_strategies("").is_err());
        assert!(parse_strategies("fair").is_err());
    }
}
