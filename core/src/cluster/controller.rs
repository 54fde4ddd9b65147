//! The KRaft controller (one active controller): broker registration and heartbeats,
//! fencing, leader election, ISR changes (AlterPartition), topic creation and configs.
//!
//! It follows `ReplicationControlManager`/`PartitionChangeBuilder`: a broker silent for
//! `broker.session.timeout.ms` is fenced and removed from every ISR; a leaderless partition
//! gets the first unfenced replica, in assignment order, that is in the ISR; failing that,
//! an unfenced out-of-sync replica when `unclean.leader.election.enable` is on (the ISR
//! becomes just that replica); failing that, no leader, with the ISR left as its last member.
use super::metadata::{BrokerMeta, MetadataDelta, MetadataImage, PartitionState, TopicMeta};
use super::placement;
use crate::config::{BrokerConfig, TopicConfig};
use crate::error::ErrorCode;
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::Message;
use crate::record::TopicPartition;
use crate::sim::rng::SimRng;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerSession {
    pub incarnation: u32,
    pub last_heartbeat: SimTime,
    /// A re-registered broker is unfenced once its metadata reaches this version.
    pub registered_at_version: u64,
}

/// When each entity last changed, to build deltas for brokers that are behind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ChangeVersions {
    topics: BTreeMap<Arc<str>, u64>,
    partitions: BTreeMap<TopicPartition, u64>,
    brokers: BTreeMap<u32, u64>,
}

#[derive(Clone, Debug, Default)]
struct Changes {
    topics: Vec<Arc<str>>,
    partitions: Vec<TopicPartition>,
    brokers: Vec<u32>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.topics.is_empty() && self.partitions.is_empty() && self.brokers.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Controller {
    pub alive: bool,
    pub incarnation: u32,
    pub image: MetadataImage,
    pub sessions: BTreeMap<u32, BrokerSession>,
    versions: ChangeVersions,
    pub config: BrokerConfig,
    rng: SimRng,
    /// Unclean elections so far: (partition, leader epoch).
    pub unclean_elections: Vec<(TopicPartition, u32)>,
    /// Committed changes so far, for summaries.
    pub counters: ControllerCounters,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControllerCounters {
    pub leader_elections: u64,
    pub isr_shrinks: u64,
    pub isr_expansions: u64,
    pub fenced: u64,
}

/// Brokers the controller talks to.
fn broker_node(id: u32) -> NodeId {
    NodeId::Broker(id)
}

/// How often the controller scans leaderless partitions for a (newly allowed) unclean
/// election (`unclean.leader.election.interval.ms`, internal, 5 minutes).
pub const UNCLEAN_SCAN_INTERVAL: Dur = Dur(300_000_000);

impl Controller {
    /// A controller for a fresh cluster whose brokers are all registered and unfenced.
    pub fn new(brokers: &[u32], config: BrokerConfig, rng: SimRng) -> Self {
        let mut image = MetadataImage { version: 1, ..Default::default() };
        let mut sessions = BTreeMap::new();
        for &b in brokers {
            image.brokers.insert(b, BrokerMeta { fenced: false });
            sessions
                .insert(b, BrokerSession { incarnation: 0, last_heartbeat: SimTime::ZERO, registered_at_version: 0 });
        }
        Controller {
            alive: true,
            incarnation: 0,
            image,
            sessions,
            versions: ChangeVersions::default(),
            config,
            rng,
            unclean_elections: Vec::new(),
            counters: ControllerCounters::default(),
        }
    }

    /// Timers a running controller keeps.
    pub fn start_timers(&self, io: &mut Io) {
        io.timer(Dur::from_ms(1000), Timer::SessionCheck);
        if self.config.auto_leader_rebalance_enable {
            io.timer(Dur::from_ms(self.config.leader_imbalance_check_interval_seconds * 1000), Timer::LeaderRebalance);
        }
        io.timer(UNCLEAN_SCAN_INTERVAL, Timer::UncleanElectionScan);
    }

    fn is_unfenced(&self, b: u32) -> bool {
        self.image.brokers.get(&b).map(|m| !m.fenced).unwrap_or(false)
    }

    pub fn unfenced_brokers(&self) -> Vec<u32> {
        self.image.brokers.iter().filter(|(_, m)| !m.fenced).map(|(b, _)| *b).collect()
    }

    /// Creates a topic, placing replicas like `StripedReplicaPlacer`, or with an explicit
    /// assignment. Leaders are the first replicas.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        replication_factor: u32,
        config: TopicConfig,
        assignment: Option<Vec<Vec<u32>>>,
        io: &mut Io,
    ) -> Result<(), String> {
        if self.image.topics.contains_key(name) {
            return Err(format!("TOPIC_ALREADY_EXISTS: topic '{name}' already exists"));
        }
        let assignment = match assignment {
            Some(a) => a,
            None => placement::place(&self.unfenced_brokers(), partitions, replication_factor, &mut self.rng)
                .map_err(|e| e.to_string())?,
        };
        let topic: Arc<str> = Arc::from(name);
        let mut states = Vec::with_capacity(assignment.len());
        for replicas in assignment {
            let isr: Vec<u32> = replicas.iter().copied().filter(|&r| self.is_unfenced(r)).collect();
            let leader = isr.first().copied();
            states.push(PartitionState { replicas, isr, leader, leader_epoch: 0, partition_epoch: 0 });
        }
        let mut changes = Changes::default();
        for p in 0..states.len() as u32 {
            changes.partitions.push(TopicPartition { topic: topic.clone(), partition: p });
        }
        self.image.topics.insert(topic.clone(), TopicMeta { name: topic.clone(), config, partitions: states });
        changes.topics.push(topic);
        io.emit(Effect::TopicCreated {
            topic: name.to_string(),
            partitions: changes.partitions.len() as u32,
            replication_factor,
        });
        self.commit(changes, io);
        Ok(())
    }

    /// Changes a topic config (`kafka-configs --alter`).
    pub fn alter_topic_config(&mut self, topic: &str, config: TopicConfig, io: &mut Io) -> Result<(), String> {
        let Some(meta) = self.image.topics.get_mut(topic) else {
            return Err(format!("UNKNOWN_TOPIC_OR_PARTITION: no topic '{topic}'"));
        };
        meta.config = config;
        let name = meta.name.clone();
        self.commit(Changes { topics: vec![name], ..Default::default() }, io);
        Ok(())
    }

    /// Publishes the changes as a new metadata version and pushes it to every broker.
    fn commit(&mut self, changes: Changes, io: &mut Io) {
        if changes.is_empty() {
            return;
        }
        let base = self.image.version;
        self.image.version += 1;
        let v = self.image.version;
        for t in &changes.topics {
            self.versions.topics.insert(t.clone(), v);
        }
        for tp in &changes.partitions {
            self.versions.partitions.insert(tp.clone(), v);
        }
        for b in &changes.brokers {
            self.versions.brokers.insert(*b, v);
        }
        let delta = self.delta_since(base);
        for &b in self.sessions.keys() {
            io.send(broker_node(b), Message::MetadataPush { delta: delta.clone() });
        }
    }

    /// Everything that changed after `version`.
    pub fn delta_since(&self, version: u64) -> MetadataDelta {
        let mut d = MetadataDelta { base_version: version, version: self.image.version, ..Default::default() };
        if version >= self.image.version {
            return d;
        }
        for (t, &v) in &self.versions.topics {
            if v > version {
                if let Some(meta) = self.image.topics.get(t) {
                    d.topics.push(meta.clone());
                }
            }
        }
        // A broker that has nothing yet gets every topic, including those created at boot.
        if version == 0 {
            d.topics = self.image.topics.values().cloned().collect();
            d.partitions = self.image.partitions().map(|(tp, p)| (tp, p.clone())).collect();
            d.brokers = self.image.brokers.iter().map(|(b, m)| (*b, *m)).collect();
            return d;
        }
        for (tp, &v) in &self.versions.partitions {
            if v > version {
                if let Some(p) = self.image.partition(tp) {
                    d.partitions.push((tp.clone(), p.clone()));
                }
            }
        }
        for (b, &v) in &self.versions.brokers {
            if v > version {
                if let Some(m) = self.image.brokers.get(b) {
                    d.brokers.push((*b, *m));
                }
            }
        }
        d
    }

    /// Chooses a leader for a partition given the target ISR (`PartitionChangeBuilder`).
    /// Returns (leader, isr, unclean).
    fn elect(
        &self,
        state: &PartitionState,
        target_isr: &[u32],
        unclean_allowed: bool,
    ) -> (Option<u32>, Vec<u32>, bool) {
        if let Some(l) = state.leader {
            if target_isr.contains(&l) && self.is_unfenced(l) {
                return (Some(l), target_isr.to_vec(), false);
            }
        }
        if let Some(&r) = state.replicas.iter().find(|r| target_isr.contains(r) && self.is_unfenced(**r)) {
            return (Some(r), target_isr.to_vec(), false);
        }
        if unclean_allowed {
            if let Some(&r) = state.replicas.iter().find(|r| self.is_unfenced(**r)) {
                return (Some(r), vec![r], true);
            }
        }
        // No leader. The ISR is never written empty: it keeps its last member (ELR off).
        let isr = if target_isr.is_empty() { state.isr.clone() } else { target_isr.to_vec() };
        (None, isr, false)
    }

    /// Applies an election result to a partition; returns whether anything changed.
    fn apply_change(
        &mut self,
        tp: &TopicPartition,
        leader: Option<u32>,
        isr: Vec<u32>,
        unclean: bool,
        io: &mut Io,
    ) -> bool {
        let Some(p) = self.image.partition_mut(tp) else {
            return false;
        };
        let leader_changed = p.leader != leader;
        if !leader_changed && p.isr == isr {
            return false;
        }
        if isr.len() < p.isr.len() {
            self.counters.isr_shrinks += 1;
        } else if isr.len() > p.isr.len() {
            self.counters.isr_expansions += 1;
        }
        if leader_changed {
            self.counters.leader_elections += 1;
        }
        if leader_changed {
            p.leader_epoch += 1;
        }
        p.partition_epoch += 1;
        p.leader = leader;
        p.isr = isr;
        let (epoch, isr_now, pe) = (p.leader_epoch, p.isr.clone(), p.partition_epoch);
        if leader_changed {
            io.emit(Effect::LeaderElected { tp: tp.clone(), leader, epoch, isr: isr_now, unclean });
            if unclean {
                self.unclean_elections.push((tp.clone(), epoch));
            }
        } else {
            io.emit(Effect::IsrChanged { tp: tp.clone(), isr: isr_now, partition_epoch: pe });
        }
        true
    }

    fn unclean_enabled(&self, topic: &str) -> bool {
        self.image.topic_config(topic).map(|c| c.unclean_leader_election_enable).unwrap_or(false)
    }

    /// Fences a broker: out of every ISR, and leadership moves elsewhere.
    pub fn fence(&mut self, broker: u32, io: &mut Io) {
        if !self.is_unfenced(broker) {
            return;
        }
        self.image.brokers.insert(broker, BrokerMeta { fenced: true });
        io.emit(Effect::BrokerFenced { broker });
        let mut changes = Changes { brokers: vec![broker], ..Default::default() };
        let affected: Vec<(TopicPartition, PartitionState)> = self
            .image
            .partitions()
            .filter(|(_, p)| p.isr.contains(&broker) || p.leader == Some(broker))
            .map(|(tp, p)| (tp, p.clone()))
            .collect();
        for (tp, state) in affected {
            let target: Vec<u32> = state.isr.iter().copied().filter(|&r| r != broker).collect();
            let (leader, isr, unclean) = self.elect(&state, &target, self.unclean_enabled(&tp.topic));
            if self.apply_change(&tp, leader, isr, unclean, io) {
                changes.partitions.push(tp);
            }
        }
        self.commit(changes, io);
    }

    /// Unfences a broker that caught up; it takes leaderless partitions it can lead.
    fn unfence(&mut self, broker: u32, io: &mut Io) {
        self.image.brokers.insert(broker, BrokerMeta { fenced: false });
        io.emit(Effect::BrokerUnfenced { broker });
        let mut changes = Changes { brokers: vec![broker], ..Default::default() };
        self.elect_leaderless(Some(broker), &mut changes, io);
        self.commit(changes, io);
    }

    /// Elects leaders for leaderless partitions (those `only` replicates, if given).
    fn elect_leaderless(&mut self, only: Option<u32>, changes: &mut Changes, io: &mut Io) {
        let leaderless: Vec<(TopicPartition, PartitionState)> = self
            .image
            .partitions()
            .filter(|(_, p)| p.leader.is_none() && only.map(|b| p.replicas.contains(&b)).unwrap_or(true))
            .map(|(tp, p)| (tp, p.clone()))
            .collect();
        for (tp, state) in leaderless {
            let (leader, isr, unclean) = self.elect(&state, &state.isr, self.unclean_enabled(&tp.topic));
            if leader.is_some() && self.apply_change(&tp, leader, isr, unclean, io) {
                changes.partitions.push(tp);
            }
        }
    }

    /// `kafka-leader-election --election-type preferred|unclean` for one partition or all.
    pub fn elect_leaders(&mut self, tp: Option<&TopicPartition>, unclean: bool, io: &mut Io) {
        let mut changes = Changes::default();
        let targets: Vec<(TopicPartition, PartitionState)> = self
            .image
            .partitions()
            .filter(|(t, _)| tp.map(|x| x == t).unwrap_or(true))
            .map(|(t, p)| (t, p.clone()))
            .collect();
        for (t, state) in targets {
            if unclean {
                if state.leader.is_none() {
                    let (leader, isr, u) = self.elect(&state, &state.isr, true);
                    if self.apply_change(&t, leader, isr, u, io) {
                        changes.partitions.push(t);
                    }
                }
            } else if let Some(&pref) = state.replicas.first() {
                if state.leader != Some(pref) && state.isr.contains(&pref) && self.is_unfenced(pref) {
                    let isr = state.isr.clone();
                    if self.apply_change(&t, Some(pref), isr, false, io) {
                        changes.partitions.push(t);
                    }
                }
            }
        }
        self.commit(changes, io);
    }

    pub fn handle_message(&mut self, from: NodeId, msg: Message, io: &mut Io) {
        match msg {
            Message::BrokerHeartbeat { broker, incarnation, metadata_version } => {
                self.on_heartbeat(broker, incarnation, metadata_version, io);
                let fenced = !self.is_unfenced(broker);
                let delta = self.delta_since(metadata_version);
                io.send(from, Message::BrokerHeartbeatResponse { fenced, delta });
            }
            Message::AlterPartition { corr, broker, tp, leader_epoch, partition_epoch, new_isr } => {
                let result = self.alter_partition(broker, &tp, leader_epoch, partition_epoch, new_isr, io);
                io.send(from, Message::AlterPartitionResponse { corr, tp, result });
            }
            _ => {}
        }
    }

    fn on_heartbeat(&mut self, broker: u32, incarnation: u32, metadata_version: u64, io: &mut Io) {
        let now = io.now;
        let restarted = self.sessions.get(&broker).map(|s| s.incarnation != incarnation).unwrap_or(true);
        if restarted {
            // A new incarnation registers: the old one is fenced first (it may have lost
            // unflushed data, so it must not stay in any ISR), then it catches up.
            self.fence(broker, io);
            self.sessions.insert(
                broker,
                BrokerSession { incarnation, last_heartbeat: now, registered_at_version: self.image.version },
            );
            self.image.brokers.entry(broker).or_insert(BrokerMeta { fenced: true });
            return;
        }
        let session = self.sessions.get_mut(&broker).expect("session exists");
        session.last_heartbeat = now;
        let caught_up = metadata_version >= session.registered_at_version;
        if !self.is_unfenced(broker) && caught_up {
            self.unfence(broker, io);
        }
    }

    fn alter_partition(
        &mut self,
        broker: u32,
        tp: &TopicPartition,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: Vec<u32>,
        io: &mut Io,
    ) -> Result<PartitionState, ErrorCode> {
        let Some(state) = self.image.partition(tp).cloned() else {
            return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        };
        if leader_epoch < state.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if partition_epoch < state.partition_epoch {
            return Err(ErrorCode::INVALID_UPDATE_VERSION);
        }
        if state.leader != Some(broker) || leader_epoch > state.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if !new_isr.contains(&broker) || new_isr.iter().any(|r| !state.replicas.contains(r)) {
            return Err(ErrorCode::INVALID_UPDATE_VERSION);
        }
        if new_isr.iter().any(|r| !state.isr.contains(r) && !self.is_unfenced(*r)) {
            return Err(ErrorCode::INELIGIBLE_REPLICA);
        }
        if self.apply_change(tp, state.leader, new_isr, false, io) {
            self.commit(Changes { partitions: vec![tp.clone()], ..Default::default() }, io);
        }
        Ok(self.image.partition(tp).cloned().expect("partition exists"))
    }

    pub fn handle_timer(&mut self, timer: Timer, io: &mut Io) {
        match timer {
            Timer::SessionCheck => {
                let timeout = Dur::from_ms(self.config.broker_session_timeout_ms);
                let stale: Vec<u32> = self
                    .sessions
                    .iter()
                    .filter(|(b, s)| self.is_unfenced(**b) && io.now.since(s.last_heartbeat) >= timeout)
                    .map(|(b, _)| *b)
                    .collect();
                for b in stale {
                    self.fence(b, io);
                }
                // Next check at the earliest session expiry (fencing happens when it passes).
                let next = self
                    .sessions
                    .iter()
                    .filter(|(b, _)| self.is_unfenced(**b))
                    .map(|(_, s)| s.last_heartbeat.plus(timeout))
                    .filter(|t| *t > io.now)
                    .min()
                    .unwrap_or(io.now.plus(Dur::from_ms(1000)));
                io.timer_at(next.min(io.now.plus(Dur::from_ms(1000))), Timer::SessionCheck);
            }
            Timer::LeaderRebalance => {
                self.elect_leaders(None, false, io);
                io.timer(
                    Dur::from_ms(self.config.leader_imbalance_check_interval_seconds * 1000),
                    Timer::LeaderRebalance,
                );
            }
            Timer::UncleanElectionScan => {
                let mut changes = Changes::default();
                self.elect_leaderless(None, &mut changes, io);
                self.commit(changes, io);
                io.timer(UNCLEAN_SCAN_INTERVAL, Timer::UncleanElectionScan);
            }
            _ => {}
        }
    }

    pub fn crash(&mut self) {
        self.alive = false;
    }

    /// The controller comes back with its metadata log (persisted). Broker sessions restart
    /// from now: it cannot know when they last heartbeated.
    pub fn restart(&mut self, now: SimTime) {
        self.alive = true;
        self.incarnation += 1;
        for s in self.sessions.values_mut() {
            s.last_heartbeat = now;
        }
    }
}
