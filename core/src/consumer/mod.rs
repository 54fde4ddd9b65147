//! The Kafka consumer (`KafkaConsumer`, classic group protocol): the fetcher, positions,
//! `auto.offset.reset`, pause/resume and seek, plus the application that calls `poll()`
//! (`app.rs`) and, with a `group.id`, the group membership (`crate::group::member`).
//!
//! As in the Java client, the position of a partition is the offset of the next record
//! `poll()` will return: fetched records wait in a buffer until the application polls them,
//! and a partition is fetched again only once its buffer is drained.
pub mod app;
pub mod deserializer;

use crate::client::ClientMetadata;
use crate::config::{ConsumerConfig, IsolationLevel, OffsetReset};
use crate::error::ErrorCode;
use crate::group::member::Membership;
use crate::ledger::Ledger;
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{FetchPartition, FetchPartitionResponse, Message};
use crate::record::{LogBatch, TopicPartition};
use crate::sim::rng::SimRng;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use app::{AppSettings, AppState};
use deserializer::{Deserializers, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerStats {
    /// Records the application finished processing.
    pub records_consumed: u64,
    /// Records `poll()` returned.
    pub records_polled: u64,
    pub polls: u64,
    pub fetches: u64,
    pub offset_resets: u64,
    /// Offset commits completed (`commit-total`) and failed.
    pub commits: u64,
    pub commit_failures: u64,
    /// Largest `records-lag` seen for any partition (`records-lag-max`).
    pub records_lag_max: u64,
}

/// Where a partition's position stands (`SubscriptionState.FetchStates`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// Newly assigned with a `group.id`: the committed offset is being fetched.
    Initializing,
    /// Needs a reset by `auto.offset.reset` (ListOffsets in flight: its correlation id).
    Resetting(Option<u64>),
    /// The next offset to return to the application.
    At(u64),
    /// `auto.offset.reset=none` and no valid position: the application got an error.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub index: u32,
    pub name: String,
    pub config: ConsumerConfig,
    /// What the application does with the records (sandbox settings, not Kafka configs).
    pub settings: AppSettings,
    pub alive: bool,
    pub incarnation: u32,
    pub metadata: ClientMetadata,
    /// `subscribe()` topics; empty for a consumer using `assign()`.
    pub subscription: Vec<String>,
    /// The partitions the consumer owns now (assigned by the group, or by `assign()`).
    pub assignment: Vec<TopicPartition>,
    pub positions: BTreeMap<TopicPartition, Position>,
    pub paused: BTreeSet<TopicPartition>,
    /// Eager rebalance: partitions about to be revoked while the pre-rebalance commit is in
    /// flight; they are neither fetched nor returned, so the position cannot run ahead of
    /// what is being committed (`markPendingRevocation`).
    pub pending_revocation: BTreeSet<TopicPartition>,
    /// The HW each fetch response reported (`records-lag` = HW - position).
    pub high_watermarks: BTreeMap<TopicPartition, u64>,
    /// Fetched batches waiting for `poll()`, in arrival order (`completedFetches`).
    pub(crate) buffer: VecDeque<(TopicPartition, Vec<LogBatch>)>,
    /// Fetches in flight per broker: correlation id, and the offset asked for each
    /// partition (a response for a position that has moved since, by a seek or a reset, is
    /// stale and dropped).
    fetch_in_flight: BTreeMap<u32, (u64, Vec<(TopicPartition, u64)>)>,
    /// Name under which deliveries are counted in the ledger (the group id, else the name).
    pub reader: String,
    next_corr: u64,
    wake_at: Option<SimTime>,
    pub(crate) rng: SimRng,
    pub stats: ConsumerStats,
    /// Group membership and offset commits, when `group.id` is set.
    pub group: Option<Membership>,
    /// The application's loop around `poll()`.
    pub app: AppState,
    /// `key.deserializer` / `value.deserializer` state: reader schemas, the schema-id cache.
    #[serde(default)]
    pub deser: Deserializers,
    /// Records a converter application read and hands to its producer (key, value as
    /// decoded JSON); the world sends them at the end of the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded: Vec<(Option<serde_json::Value>, Option<serde_json::Value>)>,
    /// A Streams instance's records for its tasks (the world runs them at the end of the
    /// step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams_inbox: Vec<crate::streams::runtime::StreamsInput>,
    /// A Streams instance's committable positions: those whose outputs were sent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub streams_safe: BTreeMap<TopicPartition, u64>,
    /// A Streams instance has outputs not yet acknowledged: it finishes them before it
    /// rejoins its group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub streams_unflushed: bool,
    /// exactly_once_v2: the runtime's transaction commit is in flight; poll() returns nothing.
    #[serde(default)]
    pub streams_committing: bool,
}

impl Consumer {
    pub fn new(
        index: u32,
        name: String,
        config: ConsumerConfig,
        settings: AppSettings,
        bootstrap: Vec<u32>,
        rng: SimRng,
    ) -> Self {
        let reader = config.group_id.clone().unwrap_or_else(|| name.clone());
        let group = config.group_id.clone().map(|g| Membership::new(g, &config));
        Consumer {
            index,
            name,
            config,
            settings,
            alive: true,
            incarnation: 0,
            metadata: ClientMetadata::new(bootstrap),
            subscription: Vec::new(),
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            paused: BTreeSet::new(),
            pending_revocation: BTreeSet::new(),
            high_watermarks: BTreeMap::new(),
            buffer: VecDeque::new(),
            fetch_in_flight: BTreeMap::new(),
            reader,
            next_corr: 0,
            wake_at: None,
            rng,
            stats: ConsumerStats::default(),
            group,
            app: AppState::default(),
            deser: Deserializers::default(),
            forwarded: Vec::new(),
            streams_inbox: Vec::new(),
            streams_safe: BTreeMap::new(),
            streams_unflushed: false,
            streams_committing: false,
        }
    }

    /// The application's reader schemas (Avro schema text) for the Avro and JSON
    /// deserializers.
    pub fn set_reader_schemas(&mut self, key: Option<&str>, value: Option<&str>) -> Result<(), String> {
        let fresh = Deserializers::with_readers(key, value)?;
        self.deser.key_reader = fresh.key_reader;
        self.deser.value_reader = fresh.value_reader;
        Ok(())
    }

    pub(crate) fn me(&self) -> NodeId {
        NodeId::Consumer(self.index)
    }

    pub(crate) fn corr(&mut self) -> u64 {
        self.next_corr += 1;
        self.next_corr
    }

    /// `KafkaConsumer.assign`: fetch these partitions; positions come from the committed
    /// offsets (with a `group.id`) or `auto.offset.reset`.
    pub fn assign(&mut self, partitions: Vec<TopicPartition>, ledger: &mut Ledger, io: &mut Io) {
        self.subscription.clear();
        self.set_assignment(partitions);
        self.start(ledger, io);
    }

    /// `KafkaConsumer.subscribe`: join the group and get partitions from it.
    pub fn subscribe(&mut self, topics: Vec<String>, ledger: &mut Ledger, io: &mut Io) {
        if self.subscription != topics {
            self.subscription = topics;
            if let Some(g) = self.group.as_mut() {
                g.request_rejoin("subscription changed");
            }
        }
        self.start(ledger, io);
    }

    /// Replaces the owned partitions; new ones start from their committed offset (or the
    /// reset policy), kept ones keep their position.
    pub(crate) fn set_assignment(&mut self, partitions: Vec<TopicPartition>) {
        self.positions.retain(|tp, _| partitions.contains(tp));
        self.paused.retain(|tp| partitions.contains(tp));
        self.pending_revocation.retain(|tp| partitions.contains(tp));
        self.buffer.retain(|(tp, _)| partitions.contains(tp));
        let initial = if self.group.is_some() { Position::Initializing } else { Position::Resetting(None) };
        for tp in &partitions {
            self.positions.entry(tp.clone()).or_insert(initial);
        }
        self.assignment = partitions;
    }

    /// `KafkaConsumer.seek`.
    pub fn seek(&mut self, tp: &TopicPartition, offset: u64) {
        if self.positions.contains_key(tp) {
            self.positions.insert(tp.clone(), Position::At(offset));
            self.buffer.retain(|(t, _)| t != tp);
        }
    }

    /// `KafkaConsumer.pause` / `resume`: a paused partition is neither fetched nor returned.
    pub fn pause(&mut self, tps: &[TopicPartition], paused: bool) {
        for tp in tps {
            if paused {
                if self.assignment.contains(tp) {
                    self.paused.insert(tp.clone());
                }
            } else {
                self.paused.remove(tp);
            }
        }
    }

    /// `SubscriptionState.isFetchable`: not paused, not pending revocation.
    fn fetchable(&self, tp: &TopicPartition) -> bool {
        !self.paused.contains(tp) && !self.pending_revocation.contains(tp)
    }

    /// Records the consumer is behind the HW, per partition (`records-lag`).
    pub fn lag(&self, hw: impl Fn(&TopicPartition) -> Option<u64>) -> BTreeMap<TopicPartition, u64> {
        crate::collect::btree_map(self.positions.iter().filter_map(|(tp, p)| match p {
            Position::At(pos) => hw(tp).map(|h| (tp.clone(), h.saturating_sub(*pos))),
            _ => None,
        }))
    }

    pub(crate) fn schedule_wake(&mut self, after: Dur, io: &mut Io) {
        let at = io.now.plus(after);
        if self.wake_at.map(|w| w <= at && w > io.now).unwrap_or(false) {
            return;
        }
        self.wake_at = Some(at);
        io.timer_at(at, Timer::ConsumerWake);
    }

    /// The network side of the client: metadata, position resets and fetches.
    pub(crate) fn run_fetcher(&mut self, io: &mut Io) {
        if !self.alive || self.assignment.is_empty() {
            return;
        }
        let missing = self.assignment.iter().any(|tp| self.metadata.leader(tp).is_none());
        if (self.metadata.needs_update || missing) && self.metadata.in_flight.is_none() {
            self.request_metadata(None, io);
        }
        // Positions that need a reset ask the leader for the earliest or latest offset.
        let resets: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| matches!(p, Position::Resetting(None)))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in resets {
            let timestamp = match self.config.auto_offset_reset {
                OffsetReset::Earliest => -2,
                OffsetReset::Latest => -1,
                OffsetReset::None => {
                    self.positions.insert(tp.clone(), Position::Failed);
                    io.emit(Effect::OffsetReset {
                        consumer: self.index,
                        tp,
                        offset: 0,
                        reason: "NoOffsetForPartitionException (auto.offset.reset=none)".into(),
                    });
                    continue;
                }
            };
            let Some(leader) = self.metadata.leader(&tp) else {
                continue;
            };
            let corr = self.corr();
            self.positions.insert(tp.clone(), Position::Resetting(Some(corr)));
            io.send(NodeId::Broker(leader), Message::ListOffsetsRequest { corr, tp, timestamp });
            io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ConsumerRequestTimeout(corr));
        }
        // Fetch the partitions that have a position and nothing waiting in the buffer.
        let mut by_leader: BTreeMap<u32, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.assignment {
            let Some(Position::At(pos)) = self.positions.get(tp) else {
                continue;
            };
            if !self.fetchable(tp) || self.buffer.iter().any(|(t, _)| t == tp) {
                continue;
            }
            let Some(leader) = self.metadata.leader(tp) else {
                continue;
            };
            by_leader.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: *pos,
                current_leader_epoch: self.metadata.leader_epoch(tp),
                last_fetched_epoch: None,
                max_bytes: self.config.max_partition_fetch_bytes,
            });
        }
        for (broker, partitions) in by_leader {
            if self.fetch_in_flight.contains_key(&broker) {
                continue;
            }
            if let Some(until) = self.metadata.backoff_until(broker, io.now) {
                let wait = until.since(io.now);
                self.schedule_wake(wait, io);
                continue;
            }
            let corr = self.corr();
            let asked = partitions.iter().map(|p| (p.tp.clone(), p.fetch_offset)).collect();
            self.fetch_in_flight.insert(broker, (corr, asked));
            self.stats.fetches += 1;
            let max_wait = Dur::from_ms(self.config.fetch_max_wait_ms);
            io.send(
                NodeId::Broker(broker),
                Message::FetchRequest {
                    corr,
                    replica_id: None,
                    max_wait,
                    isolation: self.config.isolation_level,
                    partitions,
                },
            );
            io.timer(
                max_wait.plus_dur(Dur::from_ms(self.config.request_timeout_ms)),
                Timer::ConsumerRequestTimeout(corr),
            );
        }
    }

    /// `leastLoadedNode`: a broker to send a metadata or FindCoordinator request to, or none
    /// while every broker is backing off after refusing a connection — the consumer then
    /// wakes when the first backoff ends instead of retrying at once.
    pub(crate) fn broker_to_ask(&mut self, avoid: Option<u32>, io: &mut Io) -> Option<u32> {
        if let Some(until) = self.metadata.all_backing_off_until(io.now) {
            self.schedule_wake(until.since(io.now), io);
            return None;
        }
        self.metadata.pick_broker(&mut self.rng, avoid, io.now)
    }

    pub(crate) fn request_metadata(&mut self, avoid: Option<u32>, io: &mut Io) {
        let Some(b) = self.broker_to_ask(avoid, io) else {
            return;
        };
        let corr = self.corr();
        self.metadata.in_flight = Some((corr, b));
        io.send(NodeId::Broker(b), Message::MetadataRequest { corr });
        io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ConsumerRequestTimeout(corr));
    }

    pub fn handle_message(&mut self, from: NodeId, msg: Message, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        match msg {
            Message::MetadataResponse { corr, .. } => {
                if self.metadata.apply_response(corr, &msg, io.now) {
                    io.emit(Effect::MetadataUpdated { client: self.me(), version: corr });
                }
            }
            Message::ListOffsetsResponse { corr, tp, error, offset } => {
                if self.positions.get(&tp) == Some(&Position::Resetting(Some(corr))) {
                    match error {
                        None => {
                            self.positions.insert(tp.clone(), Position::At(offset));
                            self.stats.offset_resets += 1;
                            let reason = format!("auto.offset.reset={}", self.config.auto_offset_reset);
                            io.emit(Effect::OffsetReset { consumer: self.index, tp, offset, reason });
                        }
                        Some(_) => {
                            self.positions.insert(tp, Position::Resetting(None));
                            self.metadata.needs_update = true;
                            self.schedule_wake(Dur::from_ms(self.config.retry_backoff_ms), io);
                        }
                    }
                }
            }
            Message::FetchResponse { corr, partitions } => {
                let NodeId::Broker(b) = from else { return };
                if self.fetch_in_flight.get(&b).map(|(c, _)| *c) != Some(corr) {
                    return;
                }
                let (_, asked) = self.fetch_in_flight.remove(&b).unwrap_or_default();
                self.metadata.connected(b);
                let mut backoff = false;
                for p in partitions {
                    let requested = asked.iter().find(|(tp, _)| *tp == p.tp).map(|(_, o)| *o);
                    if requested.is_some() && self.positions.get(&p.tp) != requested.map(Position::At).as_ref() {
                        continue; // `Discarding stale fetch response`: the position moved meanwhile
                    }
                    backoff |= self.on_fetched(p, io);
                }
                if backoff {
                    self.schedule_wake(Dur::from_ms(self.config.retry_backoff_ms), io);
                }
            }
            Message::ConnectionClosed => {
                if let NodeId::Broker(b) = from {
                    self.fetch_in_flight.remove(&b);
                    if self.metadata.in_flight.map(|(_, x)| x == b).unwrap_or(false) {
                        self.metadata.in_flight = None;
                    }
                    self.metadata.needs_update = true;
                    let wait = self.metadata.connection_refused(b, io.now);
                    self.schedule_wake(wait, io);
                    self.group_connection_closed(b, io);
                }
                if from == NodeId::SchemaRegistry {
                    let pending: Vec<u64> = self.deser.in_flight.keys().copied().collect();
                    for corr in pending {
                        self.deser.fetch_failed(corr, "schema registry connection closed");
                    }
                }
            }
            Message::SchemaByIdResponse { corr, result, .. } => {
                let result =
                    result.map_err(|e| format!("{}; error code: {} (HTTP {})", e.message, e.error_code, e.http_status));
                self.deser.on_schema(corr, result);
            }
            Message::FindCoordinatorResponse { .. }
            | Message::JoinGroupResponse { .. }
            | Message::SyncGroupResponse { .. }
            | Message::HeartbeatResponse { .. }
            | Message::LeaveGroupResponse { .. }
            | Message::OffsetCommitResponse { .. }
            | Message::OffsetFetchResponse { .. } => self.handle_group_response(msg, io),
            _ => {}
        }
        self.drive(ledger, io);
    }

    /// Handles one partition of a fetch response. Returns true if the consumer should back off.
    fn on_fetched(&mut self, p: FetchPartitionResponse, io: &mut Io) -> bool {
        let Some(Position::At(pos)) = self.positions.get(&p.tp).copied() else {
            return false;
        };
        match p.error {
            Some(ErrorCode::OFFSET_OUT_OF_RANGE) => {
                // The position fell below the log start (retention) or past the end:
                // `auto.offset.reset` decides where to go.
                self.positions.insert(p.tp.clone(), Position::Resetting(None));
                io.emit(Effect::OffsetReset {
                    consumer: self.index,
                    tp: p.tp,
                    offset: pos,
                    reason: "OFFSET_OUT_OF_RANGE".into(),
                });
                false
            }
            Some(_) => {
                self.metadata.needs_update = true;
                true
            }
            None => {
                // A read_committed consumer's lag is measured to the LSO (`records-lag`).
                let read_committed = self.config.isolation_level == IsolationLevel::ReadCommitted;
                let end = if read_committed { p.last_stable_offset } else { p.high_watermark };
                self.high_watermarks.insert(p.tp.clone(), end);
                let lag = end.saturating_sub(pos);
                self.stats.records_lag_max = self.stats.records_lag_max.max(lag);
                let has_records = p.batches.iter().any(|b| b.next_offset() > pos);
                if has_records {
                    // Markers are never returned; aborted data only hidden from
                    // read_committed (a read_uncommitted fetch lists no aborted transactions).
                    let mut batches = p.batches;
                    let aborted: &[(i64, u64)] = if read_committed { &p.aborted_transactions } else { &[] };
                    if batches.iter().any(|b| b.data.is_transactional) {
                        hollow_aborted_and_control(&mut batches, aborted);
                    }
                    self.buffer.push_back((p.tp, batches));
                }
                false
            }
        }
    }

    /// Takes up to `max` records from the buffer (`FetchCollector.collectFetch`): records of
    /// assigned, unpaused partitions with a position, in arrival order. Each record goes
    /// through the deserializers; `each` is called for every record read and positions
    /// advance. A record that cannot be read (yet) stops the collection there, as the Java
    /// client's next-in-line fetch does: the position stays at that record, records before it
    /// are returned, and later polls retry it. Returns how many were taken.
    pub(crate) fn take_records(
        &mut self,
        max: u32,
        io: &mut Io,
        mut each: impl FnMut(&TopicPartition, u64, crate::record::RecordId),
    ) -> u32 {
        let formats = (self.config.key_deserializer, self.config.value_deserializer);
        let mut taken = 0u32;
        let mut blocked = None;
        let mut i = 0;
        while i < self.buffer.len() && taken < max && blocked.is_none() {
            let tp = self.buffer[i].0.clone();
            let pos = match self.positions.get(&tp) {
                Some(Position::At(p)) if self.fetchable(&tp) && self.assignment.contains(&tp) => *p,
                Some(Position::At(_)) if !self.fetchable(&tp) => {
                    i += 1;
                    continue;
                }
                _ => {
                    // Unassigned or reset since the fetch: the data is stale.
                    self.buffer.remove(i);
                    continue;
                }
            };
            let mut next = pos;
            let mut exhausted = true;
            let batches = &self.buffer[i].1;
            'batches: for b in batches {
                if b.next_offset() <= next {
                    continue;
                }
                for (offset, r) in b.records() {
                    if offset < next {
                        continue;
                    }
                    if taken == max {
                        exhausted = false;
                        break 'batches;
                    }
                    let outcome =
                        self.deser.read(self.index, formats, &tp, offset, r, &mut |e: crate::trace::Effect| io.emit(e));
                    if outcome != Outcome::Read {
                        next = offset;
                        exhausted = false;
                        blocked = Some(outcome);
                        break 'batches;
                    }
                    each(&tp, offset, r.id);
                    if self.settings.forward_to.is_some() {
                        // A converter republishes the decoded value (the raw text when its
                        // deserializers are plain strings).
                        let text = |b: &Option<crate::record::Blob>| {
                            b.as_ref().map(|b| serde_json::Value::String(b.display()))
                        };
                        let (k, v) = match &self.deser.last {
                            Some(l) if l.tp == tp && l.offset == offset => {
                                (l.key.clone().or_else(|| text(&r.key)), l.value.clone().or_else(|| text(&r.value)))
                            }
                            _ => (text(&r.key), text(&r.value)),
                        };
                        self.forwarded.push((k, v));
                    }
                    if self.settings.streams {
                        self.streams_inbox.push(crate::streams::runtime::StreamsInput {
                            tp: tp.clone(),
                            offset,
                            key: r.key.clone(),
                            value: r.value.clone(),
                            timestamp: r.timestamp,
                        });
                    }
                    taken += 1;
                    next = offset + 1;
                }
                // A batch read to its end moves the position past its last offset, so
                // records the cleaner removed from its tail are skipped.
                next = next.max(b.next_offset());
            }
            self.positions.insert(tp, Position::At(next));
            if exhausted {
                self.buffer.remove(i);
            } else {
                i += 1;
            }
        }
        if let Some(Outcome::NeedSchema(id)) = blocked {
            self.request_schema(id, io);
        }
        taken
    }

    /// `GET /schemas/ids/{id}` (the Avro deserializer's cache missed).
    fn request_schema(&mut self, id: u32, io: &mut Io) {
        if self.deser.fetching(id) {
            return;
        }
        let corr = self.corr();
        self.deser.in_flight.insert(corr, id);
        self.deser.stats.schema_fetches += 1;
        io.send(NodeId::SchemaRegistry, Message::SchemaByIdRequest { corr, id });
        io.timer(Dur::from_ms(self.config.request_timeout_ms), Timer::ConsumerRequestTimeout(corr));
    }

    pub fn handle_timer(&mut self, timer: Timer, ledger: &mut Ledger, io: &mut Io) {
        if !self.alive {
            return;
        }
        match timer {
            Timer::ConsumerWake => {
                if self.wake_at.map(|w| w <= io.now).unwrap_or(false) {
                    self.wake_at = None;
                }
            }
            Timer::ConsumerRequestTimeout(corr) => {
                if let Some((&b, _)) = self.fetch_in_flight.iter().find(|(_, (c, _))| *c == corr) {
                    self.fetch_in_flight.remove(&b);
                    self.metadata.needs_update = true;
                } else if self.metadata.in_flight.map(|(c, _)| c) == Some(corr) {
                    let avoid = self.metadata.in_flight.map(|(_, b)| b);
                    self.metadata.in_flight = None;
                    self.request_metadata(avoid, io);
                } else if self.group_request_timed_out(corr, io) {
                } else if self.deser.in_flight.contains_key(&corr) {
                    self.deser.fetch_failed(corr, "schema registry request timed out");
                } else {
                    let stuck: Vec<TopicPartition> = self
                        .positions
                        .iter()
                        .filter(|(_, p)| **p == Position::Resetting(Some(corr)))
                        .map(|(tp, _)| tp.clone())
                        .collect();
                    for tp in stuck {
                        self.positions.insert(tp, Position::Resetting(None));
                    }
                }
            }
            Timer::ConsumerHeartbeat => self.heartbeat_tick(io),
            Timer::ConsumerApp(token) => {
                if !self.app_timer_current(token) {
                    return;
                }
            }
            _ => {}
        }
        self.drive(ledger, io);
    }

    /// The process dies: in-memory state is gone. Returns nothing; what the application was
    /// in the middle of processing counts up to the crash.
    pub fn crash(&mut self, ledger: &mut Ledger, now: SimTime) {
        self.app_crash(ledger, now);
        self.alive = false;
        self.fetch_in_flight.clear();
        self.buffer.clear();
        self.high_watermarks.clear();
        self.deser.reset_process();
        self.forwarded.clear();
        self.streams_inbox.clear();
        self.streams_safe.clear();
        self.streams_unflushed = false;
        self.streams_committing = false;
        if let Some(g) = self.group.as_mut() {
            g.reset_process();
        }
    }

    /// Kafka Streams after its transaction failed (`handleLostAll`): what was read past the
    /// committed offsets is dropped and every assigned partition starts again from its
    /// committed offset.
    pub fn streams_rewind_to_committed(&mut self) {
        self.streams_inbox.clear();
        self.streams_safe.clear();
        self.streams_unflushed = false;
        self.streams_committing = false;
        self.buffer.clear();
        self.fetch_in_flight.clear();
        for tp in &self.assignment {
            self.positions.insert(tp.clone(), Position::Initializing);
        }
    }

    /// A new process: it starts from the committed offsets (with a `group.id`) or from
    /// `auto.offset.reset`, with the same subscription or assignment as before.
    pub fn restart(&mut self, ledger: &mut Ledger, io: &mut Io) {
        self.alive = true;
        self.incarnation += 1;
        self.wake_at = None;
        self.metadata.in_flight = None;
        self.metadata.needs_update = true;
        self.positions.clear();
        self.paused.clear();
        self.pending_revocation.clear();
        self.buffer.clear();
        self.fetch_in_flight.clear();
        self.deser.reset_process();
        if let Some(g) = self.group.as_mut() {
            g.reset_process();
        }
        self.app = AppState::default();
        if self.subscription.is_empty() {
            let assignment = std::mem::take(&mut self.assignment);
            if !assignment.is_empty() {
                self.assign(assignment, ledger, io);
            }
        } else {
            self.assignment.clear();
            let topics = self.subscription.clone();
            self.subscribe(topics, ledger, io);
        }
    }
}

/// read_committed (`CompletedFetch.nextFetchedRecord`): control batches and batches of
/// aborted transactions are never returned, but the position moves past them. A producer
/// enters the aborted set when the batch reaches an aborted transaction's first offset and
/// leaves it at its ABORT marker. Such batches are kept with no records, so `poll()` skips
/// their offsets as it skips records the cleaner removed.
pub(crate) fn hollow_aborted_and_control(batches: &mut [LogBatch], aborted: &[(i64, u64)]) {
    let mut pending: Vec<(i64, u64)> = aborted.to_vec();
    crate::collect::sort_by_key(&mut pending, |(_, first)| std::cmp::Reverse(*first));
    let mut aborting: BTreeSet<i64> = BTreeSet::new();
    for b in batches.iter_mut() {
        if !b.data.is_transactional {
            continue;
        }
        while pending.last().map(|(_, first)| *first <= b.last_offset()).unwrap_or(false) {
            if let Some((pid, _)) = pending.pop() {
                aborting.insert(pid);
            }
        }
        let pid = b.data.producer_id;
        let skip = match b.data.control {
            Some(kind) => {
                if kind == crate::record::ControlType::Abort {
                    aborting.remove(&pid);
                }
                true
            }
            None => aborting.contains(&pid),
        };
        if skip && !b.data.records.is_empty() {
            let mut data = (*b.data).clone();
            data.records.clear();
            b.data = std::sync::Arc::new(data);
        }
    }
}

#[cfg(test)]
mod txn_tests {
    use super::*;
    use crate::record::{control_batch, BatchData, Blob, ControlType, Record, RecordId};
    use std::sync::Arc;

    fn batch(base: u64, pid: i64, n: u32, txn: bool) -> LogBatch {
        let records = (0..n)
            .map(|i| Record {
                id: RecordId(base + u64::from(i)),
                offset_delta: i,
                timestamp: 0,
                key: Some(Blob::text("k")),
                value: None,
                headers: vec![],
            })
            .collect();
        let mut d = BatchData::new(pid, 0, 0, records, 100);
        d.is_transactional = txn;
        LogBatch { base_offset: base, leader_epoch: 0, append_time: 0, chain: 0, data: Arc::new(d) }
    }
    fn marker(base: u64, pid: i64, kind: ControlType) -> LogBatch {
        LogBatch {
            base_offset: base,
            leader_epoch: 0,
            append_time: 0,
            chain: 0,
            data: Arc::new(control_batch(pid, 0, kind, 0, 0)),
        }
    }

    #[test]
    fn read_committed_drops_aborted_batches_and_markers_but_keeps_committed_ones() {
        // pid 1 commits 0..2 (marker 2); pid 2 aborts 3..5 (marker 5) while pid 1's next
        // transaction 4 commits (marker 6); a plain batch at 7.
        let mut bs = vec![
            batch(0, 1, 2, true),
            marker(2, 1, ControlType::Commit),
            batch(3, 2, 1, true),
            batch(4, 1, 1, true),
            marker(5, 2, ControlType::Abort),
            marker(6, 1, ControlType::Commit),
            batch(7, -1, 1, false),
        ];
        hollow_aborted_and_control(&mut bs, &[(2, 3)]);
        let kept: Vec<u64> = bs.iter().flat_map(|b| b.records().map(|(o, _)| o).collect::<Vec<_>>()).collect();
        assert_eq!(kept, vec![0, 1, 4, 7]);
        // Offsets are unchanged: the consumer's position still moves past every batch.
        assert_eq!(bs.last().map(|b| b.next_offset()), Some(8));
    }
}
