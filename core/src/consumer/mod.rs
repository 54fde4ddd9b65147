//! The Kafka consumer. Issue 2 gives the fetcher for manually assigned partitions
//! (`KafkaConsumer.assign`): positions, `auto.offset.reset`, fetching up to the HW,
//! leader changes and out-of-range offsets. Consumer groups build on it (`crate::group`).
use crate::client::ClientMetadata;
use crate::config::{ConsumerConfig, OffsetReset};
use crate::error::ErrorCode;
use crate::ledger::Ledger;
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{FetchPartition, FetchPartitionResponse, Message};
use crate::record::TopicPartition;
use crate::sim::rng::SimRng;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerStats {
    pub records_consumed: u64,
    pub fetches: u64,
    pub offset_resets: u64,
}

/// Where a partition's position stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// Needs a reset by `auto.offset.reset` (ListOffsets in flight: its correlation id).
    Resetting(Option<u64>),
    /// The next offset to fetch.
    At(u64),
    /// `auto.offset.reset=none` and no valid position: the application got an error.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub index: u32,
    pub name: String,
    pub config: ConsumerConfig,
    pub alive: bool,
    pub incarnation: u32,
    pub metadata: ClientMetadata,
    pub assignment: Vec<TopicPartition>,
    pub positions: BTreeMap<TopicPartition, Position>,
    /// Fetches in flight per broker: correlation id.
    fetch_in_flight: BTreeMap<u32, u64>,
    /// Name under which deliveries are counted in the ledger.
    pub reader: String,
    next_corr: u64,
    wake_at: Option<SimTime>,
    rng: SimRng,
    pub stats: ConsumerStats,
}

impl Consumer {
    pub fn new(index: u32, name: String, config: ConsumerConfig, bootstrap: Vec<u32>, rng: SimRng) -> Self {
        let reader = config.group_id.clone().unwrap_or_else(|| name.clone());
        Consumer {
            index,
            name,
            config,
            alive: true,
            incarnation: 0,
            metadata: ClientMetadata::new(bootstrap),
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            fetch_in_flight: BTreeMap::new(),
            reader,
            next_corr: 0,
            wake_at: None,
            rng,
            stats: ConsumerStats::default(),
        }
    }

    fn me(&self) -> NodeId {
        NodeId::Consumer(self.index)
    }

    fn corr(&mut self) -> u64 {
        self.next_corr += 1;
        self.next_corr
    }

    /// `KafkaConsumer.assign`: fetch these partitions, positions from `auto.offset.reset`.
    pub fn assign(&mut self, partitions: Vec<TopicPartition>, ledger: &mut Ledger, io: &mut Io) {
        self.positions.retain(|tp, _| partitions.contains(tp));
        for tp in &partitions {
            self.positions.entry(tp.clone()).or_insert(Position::Resetting(None));
        }
        self.assignment = partitions;
        self.run(ledger, io);
    }

    /// `KafkaConsumer.seek`.
    pub fn seek(&mut self, tp: &TopicPartition, offset: u64) {
        if self.positions.contains_key(tp) {
            self.positions.insert(tp.clone(), Position::At(offset));
        }
    }

    /// Records the consumer is behind the HW, per partition (`records-lag`).
    pub fn lag(&self, hw: impl Fn(&TopicPartition) -> Option<u64>) -> BTreeMap<TopicPartition, u64> {
        self.positions
            .iter()
            .filter_map(|(tp, p)| match p {
                Position::At(pos) => hw(tp).map(|h| (tp.clone(), h.saturating_sub(*pos))),
                _ => None,
            })
            .collect()
    }

    fn schedule_wake(&mut self, after: Dur, io: &mut Io) {
        let at = io.now.plus(after);
        if self.wake_at.map(|w| w <= at && w > io.now).unwrap_or(false) {
            return;
        }
        self.wake_at = Some(at);
        io.timer_at(at, Timer::ConsumerWake);
    }

    /// The fetcher: refresh metadata, reset positions, send fetches to partition leaders.
    pub fn run(&mut self, _ledger: &mut Ledger, io: &mut Io) {
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
        let mut by_leader: BTreeMap<u32, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.assignment {
            let Some(Position::At(pos)) = self.positions.get(tp) else {
                continue;
            };
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
            self.fetch_in_flight.insert(broker, corr);
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

    fn request_metadata(&mut self, avoid: Option<u32>, io: &mut Io) {
        let Some(b) = self.metadata.pick_broker(&mut self.rng, avoid, io.now) else {
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
                if self.fetch_in_flight.get(&b) != Some(&corr) {
                    return;
                }
                self.fetch_in_flight.remove(&b);
                self.metadata.connected(b);
                let mut backoff = false;
                for p in partitions {
                    backoff |= self.on_fetched(p, ledger, io);
                }
                if backoff {
                    self.schedule_wake(Dur::from_ms(self.config.retry_backoff_ms), io);
                    return;
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
                    return;
                }
            }
            _ => {}
        }
        self.run(ledger, io);
    }

    /// Handles one partition of a fetch response. Returns true if the consumer should back off.
    fn on_fetched(&mut self, p: FetchPartitionResponse, ledger: &mut Ledger, io: &mut Io) -> bool {
        let Some(Position::At(pos)) = self.positions.get(&p.tp).copied() else {
            return false;
        };
        match p.error {
            Some(ErrorCode::OFFSET_OUT_OF_RANGE) => {
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
                let mut first = None;
                let mut last = pos;
                let mut count = 0u32;
                for b in &p.batches {
                    for (offset, r) in b.records() {
                        if offset < pos {
                            continue;
                        }
                        ledger.delivered(&self.reader, r.id);
                        first.get_or_insert(offset);
                        last = offset;
                        count += 1;
                    }
                }
                if let Some(first) = first {
                    self.positions.insert(p.tp.clone(), Position::At(last + 1));
                    self.stats.records_consumed += u64::from(count);
                    io.emit(Effect::RecordsConsumed { consumer: self.index, tp: p.tp, first, last, records: count });
                } else if let Some(b) = p.batches.last() {
                    // Only compacted-away offsets: skip past them.
                    self.positions.insert(p.tp.clone(), Position::At(b.next_offset().max(pos)));
                }
                false
            }
        }
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
                if let Some((&b, _)) = self.fetch_in_flight.iter().find(|(_, c)| **c == corr) {
                    self.fetch_in_flight.remove(&b);
                    self.metadata.needs_update = true;
                } else if self.metadata.in_flight.map(|(c, _)| c) == Some(corr) {
                    let avoid = self.metadata.in_flight.map(|(_, b)| b);
                    self.metadata.in_flight = None;
                    self.request_metadata(avoid, io);
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
            _ => {}
        }
        self.run(ledger, io);
    }

    pub fn crash(&mut self) {
        self.alive = false;
        self.fetch_in_flight.clear();
    }

    /// A restarted standalone consumer has no committed offsets: positions reset again.
    pub fn restart(&mut self, ledger: &mut Ledger, io: &mut Io) {
        self.alive = true;
        self.incarnation += 1;
        self.wake_at = None;
        self.metadata.in_flight = None;
        self.metadata.needs_update = true;
        let assignment = std::mem::take(&mut self.assignment);
        self.positions.clear();
        self.assign(assignment, ledger, io);
    }
}
