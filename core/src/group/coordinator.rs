//! The group coordinator of the classic consumer-group protocol, as Kafka 4.x's
//! `GroupMetadataManager` (classic groups) and `ClassicGroup` run it on every broker.
//!
//! A broker coordinates the groups whose `__consumer_offsets` partition it leads
//! (`partition_for`). When it becomes leader of such a partition it loads the groups and
//! committed offsets by reading the partition's log; when it stops leading it, it drops
//! them and answers their members `NOT_COORDINATOR`, so they find the new coordinator.
//!
//! Group states: Empty → PreparingRebalance → CompletingRebalance → Stable (Dead when the
//! group is unloaded). A rebalance starts when a member joins, leaves, times out or changes
//! its subscription; the join phase ends when every known member has rejoined, or after the
//! rebalance timeout (the largest `max.poll.interval.ms` of the members), or — for a group
//! that was Empty — after `group.initial.rebalance.delay.ms`, extended while new members
//! keep arriving. Then the generation goes up, the first member in the group's (Java
//! `HashMap`) order that rejoined leads, and every member gets its JoinGroup answer; the
//! leader's SyncGroup brings the assignment, which is written to `__consumer_offsets`
//! before anyone gets theirs. Members must heartbeat within `session.timeout.ms`.
//!
//! Offset commits are records of `__consumer_offsets` too: a commit is answered once the
//! records are committed (the HW passed them, acks=all inside the broker), and the
//! committed offsets the coordinator serves are exactly the committed records replayed.
use super::offsets::{self, GroupMetadataValue, MemberMetadata, OffsetAndMetadata, OffsetsRecord};
use crate::error::ErrorCode;
use crate::log::PartitionLog;
use crate::network::NodeId;
use crate::node::{Io, Timer};
use crate::protocol::{CommitPartition, GroupProtocol, JoinGroupMember, Message, Subscription};
use crate::record::{Blob, TopicPartition};
use crate::sim::digest::StableHasher;
use crate::sim::time::{Dur, SimTime};
use crate::trace::Effect;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Classic group states (`ClassicGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        })
    }
}

/// The broker configs the coordinator reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoordinatorConfig {
    pub initial_rebalance_delay_ms: u64,
    pub min_session_timeout_ms: u64,
    pub max_session_timeout_ms: u64,
    pub commit_timeout_ms: u64,
}

impl CoordinatorConfig {
    pub fn of(c: &crate::config::BrokerConfig) -> Self {
        CoordinatorConfig {
            initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
            min_session_timeout_ms: c.group_min_session_timeout_ms,
            max_session_timeout_ms: c.group_max_session_timeout_ms,
            commit_timeout_ms: c.offsets_commit_timeout_ms,
        }
    }
}

/// `group.classic.new.member.join.timeout.ms`: a new member's parked JoinGroup expires after
/// 5 minutes (`NewMemberJoinTimeoutMs`).
const NEW_MEMBER_JOIN_TIMEOUT_MS: u64 = 300_000;

/// A parked request: who to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Waiter {
    node: NodeId,
    corr: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// Sandbox bookkeeping: the consumer process behind the member (Kafka keeps its host).
    pub client: NodeId,
    pub rebalance_timeout_ms: u64,
    pub session_timeout_ms: u64,
    pub protocol_type: String,
    pub protocols: Vec<GroupProtocol>,
    pub assignment: Vec<TopicPartition>,
    awaiting_join: Option<Waiter>,
    awaiting_sync: Option<Waiter>,
    is_new: bool,
    session_deadline: SimTime,
    /// Insertion order and `memberId.hashCode()`, for Java `HashMap` iteration order.
    seq: u64,
    hash: i32,
}

impl GroupMember {
    fn metadata(&self, protocol: &str) -> Subscription {
        self.protocols.iter().find(|p| p.name == protocol).map(|p| p.metadata.clone()).unwrap_or_default()
    }
    /// The member's first protocol that every member supports (`ClassicGroupMember.vote`).
    fn vote(&self, candidates: &BTreeSet<String>) -> Option<String> {
        self.protocols.iter().find(|p| candidates.contains(&p.name)).map(|p| p.name.clone())
    }
}

/// Rebalance bookkeeping for summaries (the broker-side view).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Rebalances completed (generations reached with members).
    pub rebalances: u64,
    /// When the current rebalance started.
    pub rebalance_started: Option<SimTime>,
    pub rebalance_time_total: Dur,
    pub rebalance_time_max: Dur,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicGroup {
    pub group_id: String,
    /// Its `__consumer_offsets` partition.
    pub partition: u32,
    pub state: GroupState,
    previous_state: GroupState,
    pub state_since: SimTime,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    /// Members in insertion order; [`ClassicGroup::iteration_order`] gives Java's order.
    members: Vec<GroupMember>,
    /// Bucket count of the `HashMap` holding the members (it grows, never shrinks).
    capacity: usize,
    next_seq: u64,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending_join: BTreeSet<String>,
    pending_sync: BTreeSet<String>,
    new_member_added: bool,
    /// Cancels stale join/sync timers.
    join_token: u64,
    sync_token: u64,
    /// Remaining extension of an initial delayed join, while one is scheduled.
    initial_join_remaining: Option<u64>,
    pub stats: GroupStats,
}

/// How `java.util.HashMap.hash` spreads a hash over buckets.
fn bucket(hash: i32, capacity: usize) -> usize {
    let h = hash as u32;
    ((h ^ (h >> 16)) as usize) & (capacity - 1)
}

impl ClassicGroup {
    fn new(group_id: &str, partition: u32, now: SimTime) -> Self {
        ClassicGroup {
            group_id: group_id.to_string(),
            partition,
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            state_since: now,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: Vec::new(),
            capacity: 16,
            next_seq: 0,
            pending_join: BTreeSet::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            join_token: 0,
            sync_token: 0,
            initial_join_remaining: None,
            stats: GroupStats::default(),
        }
    }

    /// Members in the order Java's `HashMap<String, ClassicGroupMember>` iterates them:
    /// by bucket, then insertion order within a bucket.
    pub fn iteration_order(&self) -> Vec<&GroupMember> {
        let mut v: Vec<&GroupMember> = self.members.iter().collect();
        crate::collect::sort_by_key(&mut v, |m| (bucket(m.hash, self.capacity), m.seq));
        v
    }

    pub fn member(&self, id: &str) -> Option<&GroupMember> {
        self.members.iter().find(|m| m.member_id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut GroupMember> {
        self.members.iter_mut().find(|m| m.member_id == id)
    }

    pub fn has_member(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    pub fn members(&self) -> &[GroupMember] {
        &self.members
    }

    fn static_member_id(&self, instance: &str) -> Option<String> {
        self.members.iter().find(|m| m.group_instance_id.as_deref() == Some(instance)).map(|m| m.member_id.clone())
    }

    fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    fn transition(&mut self, to: GroupState, now: SimTime, io: &mut Io) {
        self.previous_state = self.state;
        self.state = to;
        self.state_since = now;
        io.emit(Effect::GroupStateChanged {
            group: self.group_id.clone(),
            broker: match io.me {
                NodeId::Broker(b) => b,
                _ => 0,
            },
            state: to.to_string(),
            generation: self.generation,
        });
    }

    fn can_rebalance(&self) -> bool {
        matches!(self.state, GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty)
    }

    /// `ClassicGroup.add`: the first member leads until it leaves.
    fn add(&mut self, mut m: GroupMember) {
        let before =
            self.members.iter().filter(|x| bucket(x.hash, self.capacity) == bucket(m.hash, self.capacity)).count();
        m.seq = self.next_seq;
        self.next_seq += 1;
        if self.members.is_empty() {
            self.protocol_type = Some(m.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(m.member_id.clone());
        }
        self.pending_join.remove(&m.member_id);
        self.members.push(m);
        // HashMap growth: past 3/4 full, or a 9th entry in one bucket of a small table.
        if self.members.len() > self.capacity / 4 * 3 || (before >= 8 && self.capacity < 64) {
            self.capacity *= 2;
        }
    }

    /// `ClassicGroup.remove`: a leaving leader hands over to the first member in order.
    fn remove(&mut self, id: &str) -> Option<GroupMember> {
        let pos = self.members.iter().position(|m| m.member_id == id);
        let removed = pos.map(|p| self.members.remove(p));
        if self.is_leader(id) {
            self.leader = self.iteration_order().first().map(|m| m.member_id.clone());
        }
        self.pending_join.remove(id);
        self.pending_sync.remove(id);
        removed
    }

    fn has_all_members_joined(&self) -> bool {
        self.members.iter().all(|m| m.awaiting_join.is_some()) && self.pending_join.is_empty()
    }

    fn rebalance_timeout_ms(&self) -> u64 {
        self.members.iter().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0)
    }

    /// Protocols every member supports (`candidateProtocols`).
    fn candidate_protocols(&self) -> BTreeSet<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            for p in &m.protocols {
                *counts.entry(p.name.as_str()).or_insert(0) += 1;
            }
        }
        counts.into_iter().filter(|(_, c)| *c == self.members.len()).map(|(n, _)| n.to_string()).collect()
    }

    /// `supportsProtocols`: a joining member must share a protocol with everyone.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[GroupProtocol]) -> bool {
        if self.state == GroupState::Empty || self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        let candidates = self.candidate_protocols();
        self.protocol_type.as_deref() == Some(protocol_type) && protocols.iter().any(|p| candidates.contains(&p.name))
    }

    /// `selectProtocol`: each member votes for its first supported candidate; most votes
    /// win, ties to the first protocol in Java `HashMap` order of the names.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize, i32, u64)> = Vec::new();
        for m in self.iteration_order() {
            if let Some(v) = m.vote(&candidates) {
                match votes.iter_mut().find(|x| x.0 == v) {
                    Some(x) => x.1 += 1,
                    None => {
                        let h = offsets::java_string_hash(&v);
                        let n = votes.len() as u64;
                        votes.push((v, 1, h, n));
                    }
                }
            }
        }
        crate::collect::sort_by_key(&mut votes, |(_, _, h, n)| (bucket(*h, 16), *n));
        let mut best: Option<(String, usize)> = None;
        for (name, count, _, _) in votes {
            if best.as_ref().map(|b| count > b.1).unwrap_or(true) {
                best = Some((name, count));
            }
        }
        best.map(|b| b.0)
    }

    /// `maybeElectNewJoinedLeader`: the leader must be among the rejoined members.
    fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.clone() else {
            return false;
        };
        if self.member(&leader).map(|m| m.awaiting_join.is_some()).unwrap_or(false) {
            return true;
        }
        let next = self.iteration_order().into_iter().find(|m| m.awaiting_join.is_some()).map(|m| m.member_id.clone());
        match next {
            Some(id) => {
                self.leader = Some(id);
                true
            }
            None => false,
        }
    }

    /// The group metadata record's value for the current generation.
    fn metadata_value(&self, now: SimTime) -> GroupMetadataValue {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: now.as_ms() as i64,
            members: self
                .iteration_order()
                .into_iter()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: format!("/{}", m.client),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.iter().map(|tp| tp.to_string()).collect(),
                })
                .collect(),
        }
    }
}

/// What to do once a coordinator write is committed (or has failed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum WriteDone {
    /// Nothing waits on it.
    Nothing,
    OffsetCommit {
        to: NodeId,
        corr: u64,
        tps: Vec<TopicPartition>,
    },
    /// TxnOffsetCommit: answered once written (the offsets apply at the COMMIT marker).
    TxnOffsetCommit {
        to: NodeId,
        corr: u64,
        tps: Vec<TopicPartition>,
    },
    /// The leader's assignment for `generation` is stored: propagate it.
    SyncGroup {
        group: String,
        generation: i32,
    },
    /// A static member replaced its old id while the group was Stable.
    StaticRejoin {
        group: String,
        member_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PendingWrite {
    partition: u32,
    /// The offset the HW must reach (unknown until the broker appended the records).
    required: Option<u64>,
    done: WriteDone,
}

/// Records the coordinator wants appended to a `__consumer_offsets` partition it leads.
#[derive(Clone, Debug, PartialEq)]
pub struct CoordinatorWrite {
    pub id: u64,
    pub partition: u32,
    pub records: Vec<(Blob, Option<Blob>)>,
    /// Written inside a producer's transaction: (producer id, epoch).
    pub txn: Option<(i64, i16)>,
}

/// Offset commits of one open transaction, waiting for its marker.
type TxnOffsets = Vec<(String, TopicPartition, Option<OffsetAndMetadata>)>;

/// A group as `kafka-consumer-groups --describe --state --members` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupDescription {
    pub group: String,
    pub coordinator: u32,
    pub offsets_partition: u32,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: String,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: Vec<MemberDescription>,
    pub committed: BTreeMap<TopicPartition, u64>,
    pub stats: GroupStats,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client: NodeId,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupCoordinator {
    broker: u32,
    incarnation: u32,
    pub config: CoordinatorConfig,
    /// `__consumer_offsets` partitions this broker leads and has loaded.
    loaded: BTreeSet<u32>,
    pub groups: BTreeMap<String, ClassicGroup>,
    /// Committed offsets per group: the committed offset records, replayed.
    pub offsets: BTreeMap<String, BTreeMap<TopicPartition, OffsetAndMetadata>>,
    /// Per partition: offsets below this have been replayed.
    replayed: BTreeMap<u32, u64>,
    pending: BTreeMap<u64, PendingWrite>,
    next_write: u64,
    next_member: u64,
    /// Offset records written (for summaries).
    pub commits_written: u64,
    /// Transactional offset commits replayed but not yet committed or aborted, per
    /// (`__consumer_offsets` partition, producer id): they apply at a COMMIT marker.
    #[serde(default, with = "crate::sim::serde_pairs")]
    pub pending_txn_offsets: BTreeMap<(u32, i64), TxnOffsets>,
}

type Writes = Vec<CoordinatorWrite>;

impl GroupCoordinator {
    pub fn new(broker: u32, config: CoordinatorConfig) -> Self {
        GroupCoordinator {
            broker,
            incarnation: 0,
            config,
            loaded: BTreeSet::new(),
            groups: BTreeMap::new(),
            offsets: BTreeMap::new(),
            replayed: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_write: 0,
            next_member: 0,
            commits_written: 0,
            pending_txn_offsets: BTreeMap::new(),
        }
    }

    /// The process died: everything in memory is gone (the records stay in the log).
    pub fn reset(&mut self, incarnation: u32) {
        let config = self.config.clone();
        *self = GroupCoordinator::new(self.broker, config);
        self.incarnation = incarnation;
    }

    pub fn is_loaded(&self, partition: u32) -> bool {
        self.loaded.contains(&partition)
    }

    /// A fresh member id: `clientId-UUID` (or `groupInstanceId-UUID` for a static member).
    /// The UUID is derived deterministically from the broker and a counter.
    fn new_member_id(&mut self, prefix: &str) -> String {
        self.next_member += 1;
        let mut h = StableHasher::new();
        h.write_u64(u64::from(self.broker));
        h.write_u64(u64::from(self.incarnation));
        h.write_u64(self.next_member);
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        format!(
            "{prefix}-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    // ------------------------------------------------------------------ loading

    /// Becoming leader of `__consumer_offsets-<partition>`: load its groups and offsets by
    /// replaying the log (Kafka's `CoordinatorLoader` reads it to the end).
    pub fn load(&mut self, partition: u32, offsets_partitions: u32, log: &PartitionLog, io: &mut Io) {
        if self.loaded.contains(&partition) {
            return;
        }
        let now = io.now;
        let mut metadata: BTreeMap<String, Option<GroupMetadataValue>> = BTreeMap::new();
        let mut offsets_seen = 0u64;
        for b in log.batches() {
            if b.data.is_transactional {
                self.replay_txn_batch(partition, b);
                continue;
            }
            for (_, r) in b.records() {
                match offsets::decode(r.key.as_ref(), r.value.as_ref()) {
                    Some(OffsetsRecord::OffsetCommit { group, tp, value }) => {
                        offsets_seen += 1;
                        self.apply_offset(group, tp, value);
                    }
                    Some(OffsetsRecord::GroupMetadata { group, value }) => {
                        metadata.insert(group, value);
                    }
                    None => {}
                }
            }
        }
        self.replayed.insert(partition, log.log_end_offset());
        let mut loaded_groups = 0u32;
        for (id, value) in metadata {
            if offsets::partition_for(&id, offsets_partitions) != partition {
                continue;
            }
            let Some(v) = value else {
                self.groups.remove(&id);
                continue;
            };
            let mut g = ClassicGroup::new(&id, partition, now);
            g.generation = v.generation;
            g.protocol_type = (!v.protocol_type.is_empty()).then(|| v.protocol_type.clone());
            g.protocol_name = v.protocol.clone();
            for mm in v.members {
                let protocol = v.protocol.clone().unwrap_or_default();
                let member = GroupMember {
                    hash: offsets::java_string_hash(&mm.member_id),
                    member_id: mm.member_id,
                    group_instance_id: mm.group_instance_id,
                    client_id: mm.client_id,
                    client: parse_client_host(&mm.client_host),
                    rebalance_timeout_ms: mm.rebalance_timeout,
                    session_timeout_ms: mm.session_timeout,
                    protocol_type: v.protocol_type.clone(),
                    protocols: vec![GroupProtocol { name: protocol, metadata: mm.subscription }],
                    assignment: mm.assignment.iter().filter_map(|s| TopicPartition::parse(s)).collect(),
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                    session_deadline: now.plus(Dur::from_ms(mm.session_timeout)),
                    seq: 0,
                };
                io.timer(
                    Dur::from_ms(member.session_timeout_ms),
                    Timer::GroupHeartbeatExpire(id.clone(), member.member_id.clone()),
                );
                g.add(member);
            }
            g.leader = v.leader.filter(|l| g.has_member(l));
            g.state = if g.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
            loaded_groups += 1;
            self.groups.insert(id, g);
        }
        // Groups that only have offsets (consumers outside group management) exist too.
        let ids: Vec<String> = self.offsets.keys().cloned().collect();
        for id in ids {
            if offsets::partition_for(&id, offsets_partitions) == partition && !self.groups.contains_key(&id) {
                self.groups.insert(id.clone(), ClassicGroup::new(&id, partition, now));
            }
        }
        self.loaded.insert(partition);
        if loaded_groups == 0 && offsets_seen == 0 {
            return; // nothing to say about an empty partition (50 of them at boot)
        }
        io.emit(Effect::CoordinatorLoaded {
            broker: self.broker,
            partition,
            groups: loaded_groups,
            offsets: offsets_seen,
        });
    }

    /// Replays a transactional batch or a marker of `__consumer_offsets-<partition>`:
    /// transactional offsets wait for their producer's marker; a COMMIT applies them, an
    /// ABORT drops them.
    fn replay_txn_batch(&mut self, partition: u32, b: &crate::record::LogBatch) {
        let key = (partition, b.data.producer_id);
        match b.data.control {
            Some(kind) => {
                let pending = self.pending_txn_offsets.remove(&key).unwrap_or_default();
                if kind == crate::record::ControlType::Commit {
                    for (group, tp, value) in pending {
                        self.apply_offset(group, tp, value);
                    }
                }
            }
            None => {
                for (_, r) in b.records() {
                    if let Some(OffsetsRecord::OffsetCommit { group, tp, value }) =
                        offsets::decode(r.key.as_ref(), r.value.as_ref())
                    {
                        self.pending_txn_offsets.entry(key).or_default().push((group, tp, value));
                    }
                }
            }
        }
    }

    fn apply_offset(&mut self, group: String, tp: TopicPartition, value: Option<OffsetAndMetadata>) {
        match value {
            Some(v) => {
                self.offsets.entry(group).or_default().insert(tp, v);
            }
            None => {
                if let Some(m) = self.offsets.get_mut(&group) {
                    m.remove(&tp);
                }
            }
        }
    }

    /// No longer leader of the partition: drop its groups (`onUnloaded`), answering parked
    /// requests with NOT_COORDINATOR, and fail writes waiting on it.
    pub fn unload(&mut self, partition: u32, offsets_partitions: u32, io: &mut Io) {
        if !self.loaded.remove(&partition) {
            return;
        }
        let ids: Vec<String> = self
            .groups
            .keys()
            .filter(|g| offsets::partition_for(g, offsets_partitions) == partition)
            .cloned()
            .collect();
        let had_groups = !ids.is_empty();
        for id in ids {
            if let Some(mut g) = self.groups.remove(&id) {
                g.transition(GroupState::Dead, io.now, io);
                for m in &g.members {
                    if let Some(w) = m.awaiting_join {
                        io.send(w.node, join_error(w.corr, &m.member_id, ErrorCode::NOT_COORDINATOR));
                    }
                    if let Some(w) = m.awaiting_sync {
                        io.send(w.node, sync_error(w.corr, ErrorCode::NOT_COORDINATOR));
                    }
                }
            }
            self.offsets.remove(&id);
        }
        self.replayed.remove(&partition);
        self.pending_txn_offsets.retain(|(p, _), _| *p != partition);
        let failed: Vec<u64> =
            self.pending.iter().filter(|(_, p)| p.partition == partition).map(|(id, _)| *id).collect();
        for id in failed {
            self.write_failed(id, ErrorCode::NOT_LEADER_OR_FOLLOWER, io);
        }
        if had_groups {
            io.emit(Effect::CoordinatorUnloaded { broker: self.broker, partition });
        }
    }

    /// The HW of a loaded partition moved: replay the newly committed records and complete
    /// the writes they commit.
    pub fn on_high_watermark(&mut self, partition: u32, log: &PartitionLog, io: &mut Io) -> Writes {
        if !self.loaded.contains(&partition) {
            return Vec::new();
        }
        let hw = log.high_watermark();
        let from = self.replayed.get(&partition).copied().unwrap_or(0);
        if hw > from {
            for b in log.batches().iter().filter(|b| b.last_offset() >= from && b.base_offset < hw) {
                if b.data.is_transactional {
                    if b.base_offset >= from {
                        self.replay_txn_batch(partition, b);
                    }
                    continue;
                }
                for (offset, r) in b.records() {
                    if offset < from || offset >= hw {
                        continue;
                    }
                    if let Some(OffsetsRecord::OffsetCommit { group, tp, value }) =
                        offsets::decode(r.key.as_ref(), r.value.as_ref())
                    {
                        self.apply_offset(group, tp, value);
                    }
                }
            }
            self.replayed.insert(partition, hw);
        }
        let done: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.partition == partition && p.required.map(|r| r <= hw).unwrap_or(false))
            .map(|(id, _)| *id)
            .collect();
        let mut writes = Vec::new();
        for id in done {
            writes.extend(self.write_committed(id, io));
        }
        writes
    }

    /// The broker appended write `id`; the HW must reach `required` for it to commit.
    pub fn write_appended(&mut self, id: u64, required: u64, hw: u64, io: &mut Io) -> Writes {
        let Some(p) = self.pending.get_mut(&id) else {
            return Vec::new();
        };
        p.required = Some(required);
        io.timer(Dur::from_ms(self.config.commit_timeout_ms), Timer::CoordinatorWriteTimeout(id));
        if hw >= required {
            return self.write_committed(id, io);
        }
        Vec::new()
    }

    fn write_committed(&mut self, id: u64, io: &mut Io) -> Writes {
        let Some(p) = self.pending.remove(&id) else {
            return Vec::new();
        };
        match p.done {
            WriteDone::Nothing => Vec::new(),
            WriteDone::OffsetCommit { to, corr, tps } => {
                io.send(
                    to,
                    Message::OffsetCommitResponse { corr, partitions: tps.into_iter().map(|tp| (tp, None)).collect() },
                );
                Vec::new()
            }
            WriteDone::TxnOffsetCommit { to, corr, tps } => {
                io.send(
                    to,
                    Message::TxnOffsetCommitResponse {
                        corr,
                        partitions: tps.into_iter().map(|tp| (tp, None)).collect(),
                    },
                );
                Vec::new()
            }
            WriteDone::SyncGroup { group, generation } => {
                let now = io.now;
                let Some(g) = self.groups.get_mut(&group) else {
                    return Vec::new();
                };
                if g.state == GroupState::CompletingRebalance && g.generation == generation {
                    self.propagate_assignment(&group, None, io);
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.stats.rebalances += 1;
                        g.transition(GroupState::Stable, now, io);
                        if let Some(start) = g.stats.rebalance_started.take() {
                            let d = now.since(start);
                            g.stats.rebalance_time_total = g.stats.rebalance_time_total.plus_dur(d);
                            g.stats.rebalance_time_max = g.stats.rebalance_time_max.max(d);
                        }
                    }
                }
                Vec::new()
            }
            WriteDone::StaticRejoin { group, member_id } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    let is_leader = g.is_leader(&member_id);
                    let members = if is_leader { join_members(g) } else { Vec::new() };
                    let (generation, protocol, leader) = (g.generation, g.protocol_name.clone(), g.leader.clone());
                    if let Some(m) = g.member_mut(&member_id) {
                        if let Some(w) = m.awaiting_join.take() {
                            io.send(
                                w.node,
                                Message::JoinGroupResponse {
                                    corr: w.corr,
                                    error: None,
                                    generation,
                                    protocol_name: protocol,
                                    leader: leader.unwrap_or_default(),
                                    skip_assignment: is_leader,
                                    member_id: member_id.clone(),
                                    members,
                                },
                            );
                        }
                    }
                }
                Vec::new()
            }
        }
    }

    /// A write could not be appended or did not commit in time.
    pub fn write_failed(&mut self, id: u64, error: ErrorCode, io: &mut Io) -> Writes {
        let Some(p) = self.pending.remove(&id) else {
            return Vec::new();
        };
        // `GroupMetadataManager.appendGroupMetadataErrorToResponseError` / the commit
        // path's equivalent: a lost leadership reads NOT_COORDINATOR, a timeout or a short
        // ISR reads COORDINATOR_NOT_AVAILABLE.
        let client_error = match error {
            ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::NOT_COORDINATOR => ErrorCode::NOT_COORDINATOR,
            _ => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        };
        match p.done {
            WriteDone::Nothing => Vec::new(),
            WriteDone::OffsetCommit { to, corr, tps } => {
                io.send(
                    to,
                    Message::OffsetCommitResponse {
                        corr,
                        partitions: tps.into_iter().map(|tp| (tp, Some(client_error))).collect(),
                    },
                );
                Vec::new()
            }
            WriteDone::TxnOffsetCommit { to, corr, tps } => {
                io.send(
                    to,
                    Message::TxnOffsetCommitResponse {
                        corr,
                        partitions: tps.into_iter().map(|tp| (tp, Some(client_error))).collect(),
                    },
                );
                Vec::new()
            }
            WriteDone::SyncGroup { group, generation } => {
                let Some(g) = self.groups.get(&group) else {
                    return Vec::new();
                };
                if g.state == GroupState::CompletingRebalance && g.generation == generation {
                    self.reset_and_propagate_assignment_error(&group, client_error, io);
                    return self.maybe_prepare_rebalance_or_complete_join(&group, io);
                }
                Vec::new()
            }
            WriteDone::StaticRejoin { group, member_id } => {
                if let Some(m) = self.groups.get_mut(&group).and_then(|g| g.member_mut(&member_id)) {
                    if let Some(w) = m.awaiting_join.take() {
                        io.send(w.node, join_error(w.corr, "", client_error));
                    }
                }
                Vec::new()
            }
        }
    }

    fn write(&mut self, partition: u32, records: Vec<(Blob, Option<Blob>)>, done: WriteDone) -> CoordinatorWrite {
        self.next_write += 1;
        let id = self.next_write;
        self.pending.insert(id, PendingWrite { partition, required: None, done });
        CoordinatorWrite { id, partition, records, txn: None }
    }

    fn store_group(&mut self, group: &str, partition: u32, now: SimTime, done: WriteDone) -> CoordinatorWrite {
        let value = self.groups.get(group).map(|g| g.metadata_value(now));
        let records = vec![(offsets::group_metadata_key(group), value.map(|v| offsets::group_metadata_value(&v)))];
        self.write(partition, records, done)
    }

    // ------------------------------------------------------------------ requests

    /// Routes a group request. `partition` is the group's `__consumer_offsets` partition;
    /// the caller has checked that this broker leads it and has loaded it.
    pub fn handle(&mut self, from: NodeId, msg: Message, partition: u32, io: &mut Io) -> Writes {
        match msg {
            Message::JoinGroupRequest {
                corr,
                group,
                session_timeout_ms,
                rebalance_timeout_ms,
                member_id,
                group_instance_id,
                client_id,
                protocol_type,
                protocols,
            } => {
                let req = JoinRequest {
                    from,
                    corr,
                    session_timeout_ms,
                    rebalance_timeout_ms,
                    member_id,
                    group_instance_id,
                    client_id,
                    protocol_type,
                    protocols,
                };
                self.join_group(&group, partition, req, io)
            }
            Message::SyncGroupRequest {
                corr, group, generation, member_id, group_instance_id, assignments, ..
            } => self.sync_group(
                &group,
                partition,
                from,
                corr,
                generation,
                &member_id,
                group_instance_id,
                assignments,
                io,
            ),
            Message::HeartbeatRequest { corr, group, generation, member_id, group_instance_id } => {
                let error = self.heartbeat(&group, generation, &member_id, group_instance_id.as_deref(), io.now, io);
                io.send(from, Message::HeartbeatResponse { corr, error });
                Vec::new()
            }
            Message::LeaveGroupRequest { corr, group, member_id, group_instance_id, reason } => {
                let (error, writes) = self.leave_group(&group, &member_id, group_instance_id.as_deref(), &reason, io);
                io.send(from, Message::LeaveGroupResponse { corr, error });
                writes
            }
            Message::OffsetCommitRequest { corr, group, generation, member_id, group_instance_id, offsets } => self
                .commit_offsets(&group, partition, from, corr, generation, &member_id, group_instance_id, offsets, io),
            Message::TxnOffsetCommitRequest {
                corr,
                group,
                producer_id,
                producer_epoch,
                generation,
                member_id,
                offsets,
                ..
            } => self.txn_commit_offsets(
                &group,
                partition,
                from,
                corr,
                (producer_id, producer_epoch),
                generation,
                &member_id,
                offsets,
                io,
            ),
            Message::OffsetFetchRequest { corr, group, partitions } => {
                let committed = self.offsets.get(&group);
                let partitions = partitions
                    .into_iter()
                    .map(|tp| {
                        let o = committed.and_then(|c| c.get(&tp)).map(|o| o.offset);
                        (tp, o)
                    })
                    .collect();
                io.send(from, Message::OffsetFetchResponse { corr, error: None, partitions });
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// `ClassicGroup.validateMember`.
    fn validate_member(g: &ClassicGroup, member_id: &str, instance: Option<&str>) -> Option<ErrorCode> {
        if let Some(i) = instance {
            match g.static_member_id(i) {
                None => return Some(ErrorCode::UNKNOWN_MEMBER_ID),
                Some(existing) if existing != member_id => return Some(ErrorCode::FENCED_INSTANCE_ID),
                _ => {}
            }
        }
        if !g.has_member(member_id) {
            return Some(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        None
    }

    fn join_group(&mut self, group_id: &str, partition: u32, req: JoinRequest, io: &mut Io) -> Writes {
        let now = io.now;
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            io.send(req.from, join_error(req.corr, &req.member_id, ErrorCode::INVALID_SESSION_TIMEOUT));
            return Vec::new();
        }
        let unknown = req.member_id.is_empty();
        let mut writes = Vec::new();
        if !self.groups.contains_key(group_id) {
            if !unknown {
                io.send(req.from, join_error(req.corr, &req.member_id, ErrorCode::UNKNOWN_MEMBER_ID));
                return Vec::new();
            }
            self.groups.insert(group_id.to_string(), ClassicGroup::new(group_id, partition, now));
            // A new group is written to the log at once (`newEmptyGroupMetadataRecord`).
            writes.push(self.store_group(group_id, partition, now, WriteDone::Nothing));
        }
        let g = &self.groups[group_id];
        if g.state == GroupState::Dead {
            io.send(req.from, join_error(req.corr, &req.member_id, ErrorCode::COORDINATOR_NOT_AVAILABLE));
            return writes;
        }
        if !g.supports_protocols(&req.protocol_type, &req.protocols) {
            io.send(req.from, join_error(req.corr, &req.member_id, ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
            return writes;
        }
        if unknown {
            let prefix = req.group_instance_id.clone().unwrap_or_else(|| req.client_id.clone());
            let new_id = self.new_member_id(&prefix);
            match req.group_instance_id.clone() {
                Some(instance) => {
                    let existing = self.groups[group_id].static_member_id(&instance);
                    match existing {
                        Some(old) => {
                            writes.extend(self.replace_static_member(group_id, partition, &old, new_id, req, io))
                        }
                        None => writes.extend(self.add_member_and_rebalance(group_id, new_id, req, io)),
                    }
                }
                None => {
                    // JoinGroup v4+: a dynamic member first gets its id and must rejoin with it.
                    let g = self.groups.get_mut(group_id).expect("group exists");
                    g.pending_join.insert(new_id.clone());
                    io.timer(
                        Dur::from_ms(req.session_timeout_ms),
                        Timer::GroupHeartbeatExpire(group_id.to_string(), new_id.clone()),
                    );
                    io.send(req.from, join_error(req.corr, &new_id, ErrorCode::MEMBER_ID_REQUIRED));
                }
            }
            return writes;
        }
        // A known member id.
        if g.pending_join.contains(&req.member_id) {
            let id = req.member_id.clone();
            writes.extend(self.add_member_and_rebalance(group_id, id, req, io));
            return writes;
        }
        if let Some(e) = Self::validate_member(g, &req.member_id, req.group_instance_id.as_deref()) {
            io.send(req.from, join_error(req.corr, &req.member_id, e));
            return writes;
        }
        let member = g.member(&req.member_id).expect("validated");
        let matches = member.protocols == req.protocols;
        match g.state {
            GroupState::PreparingRebalance => writes.extend(self.update_member_and_rebalance(group_id, req, io)),
            GroupState::CompletingRebalance => {
                if matches {
                    // It lost the JoinGroup response: send the current generation again.
                    let members = if g.is_leader(&req.member_id) { join_members(g) } else { Vec::new() };
                    io.send(req.from, current_join(g, req.corr, &req.member_id, members));
                } else {
                    writes.extend(self.update_member_and_rebalance(group_id, req, io));
                }
            }
            GroupState::Stable => {
                if g.is_leader(&req.member_id) || !matches {
                    // A rejoining leader forces a rebalance (it may have seen new metadata).
                    writes.extend(self.update_member_and_rebalance(group_id, req, io));
                } else {
                    io.send(req.from, current_join(g, req.corr, &req.member_id, Vec::new()));
                }
            }
            GroupState::Empty | GroupState::Dead => {
                io.send(req.from, join_error(req.corr, &req.member_id, ErrorCode::UNKNOWN_MEMBER_ID));
            }
        }
        writes
    }

    fn add_member_and_rebalance(&mut self, group_id: &str, member_id: String, req: JoinRequest, io: &mut Io) -> Writes {
        let now = io.now;
        let g = self.groups.get_mut(group_id).expect("group exists");
        let member = GroupMember {
            hash: offsets::java_string_hash(&member_id),
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client: req.from,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Vec::new(),
            awaiting_join: Some(Waiter { node: req.from, corr: req.corr }),
            awaiting_sync: None,
            is_new: true,
            // New members cannot heartbeat yet; their parked join expires after 5 minutes.
            session_deadline: now.plus(Dur::from_ms(NEW_MEMBER_JOIN_TIMEOUT_MS)),
            seq: 0,
        };
        if g.state == GroupState::PreparingRebalance && g.previous_state == GroupState::Empty {
            g.new_member_added = true;
        }
        g.add(member);
        io.emit(Effect::MemberJoined { group: group_id.to_string(), member: member_id.clone(), client: req.from });
        io.timer(
            Dur::from_ms(NEW_MEMBER_JOIN_TIMEOUT_MS),
            Timer::GroupHeartbeatExpire(group_id.to_string(), member_id),
        );
        self.maybe_prepare_rebalance_or_complete_join(group_id, io)
    }

    fn update_member_and_rebalance(&mut self, group_id: &str, req: JoinRequest, io: &mut Io) -> Writes {
        let g = self.groups.get_mut(group_id).expect("group exists");
        if let Some(m) = g.member_mut(&req.member_id) {
            m.protocols = req.protocols;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.session_timeout_ms = req.session_timeout_ms;
            m.awaiting_join = Some(Waiter { node: req.from, corr: req.corr });
            m.client = req.from;
        }
        self.maybe_prepare_rebalance_or_complete_join(group_id, io)
    }

    /// A static member restarted with a new member id (`updateStaticMemberThenRebalanceOrCompleteJoin`).
    fn replace_static_member(
        &mut self,
        group_id: &str,
        partition: u32,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        io: &mut Io,
    ) -> Writes {
        let now = io.now;
        let g = self.groups.get_mut(group_id).expect("group exists");
        let Some(mut m) = g.remove_keeping_leader(old_id) else {
            return Vec::new();
        };
        // Fence the old incarnation if it is still waiting on anything.
        if let Some(w) = m.awaiting_join.take() {
            io.send(w.node, join_error(w.corr, old_id, ErrorCode::FENCED_INSTANCE_ID));
        }
        if let Some(w) = m.awaiting_sync.take() {
            io.send(w.node, sync_error(w.corr, ErrorCode::FENCED_INSTANCE_ID));
        }
        let was_leader = g.is_leader(old_id);
        m.member_id = new_id.clone();
        m.hash = offsets::java_string_hash(&new_id);
        m.client = req.from;
        m.client_id = req.client_id.clone();
        m.protocols = req.protocols;
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.session_timeout_ms = req.session_timeout_ms;
        m.awaiting_join = Some(Waiter { node: req.from, corr: req.corr });
        m.session_deadline = now.plus(Dur::from_ms(m.session_timeout_ms));
        g.pending_sync.remove(old_id);
        g.add(m);
        if was_leader {
            g.leader = Some(new_id.clone());
        }
        io.emit(Effect::MemberJoined { group: group_id.to_string(), member: new_id.clone(), client: req.from });
        io.timer(
            Dur::from_ms(req.session_timeout_ms),
            Timer::GroupHeartbeatExpire(group_id.to_string(), new_id.clone()),
        );
        match g.state {
            GroupState::Stable => {
                let selected = g.select_protocol();
                if selected == g.protocol_name {
                    // Same protocol: no rebalance; persist the new member id, then answer.
                    let done = WriteDone::StaticRejoin { group: group_id.to_string(), member_id: new_id };
                    vec![self.store_group(group_id, partition, now, done)]
                } else {
                    self.maybe_prepare_rebalance_or_complete_join(group_id, io)
                }
            }
            GroupState::CompletingRebalance => self.prepare_rebalance(group_id, io),
            _ => self.maybe_complete_join_phase(group_id, io),
        }
    }

    fn maybe_prepare_rebalance_or_complete_join(&mut self, group_id: &str, io: &mut Io) -> Writes {
        let Some(g) = self.groups.get(group_id) else {
            return Vec::new();
        };
        if g.can_rebalance() {
            self.prepare_rebalance(group_id, io)
        } else {
            self.maybe_complete_join_phase(group_id, io)
        }
    }

    fn prepare_rebalance(&mut self, group_id: &str, io: &mut Io) -> Writes {
        let now = io.now;
        if self.groups.get(group_id).map(|g| g.state == GroupState::CompletingRebalance).unwrap_or(false) {
            self.reset_and_propagate_assignment_error(group_id, ErrorCode::REBALANCE_IN_PROGRESS, io);
        }
        let delay = self.config.initial_rebalance_delay_ms;
        let Some(g) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        g.pending_sync.clear();
        g.sync_token += 1;
        let initial = g.state == GroupState::Empty;
        g.transition(GroupState::PreparingRebalance, now, io);
        if g.stats.rebalance_started.is_none() {
            g.stats.rebalance_started = Some(now);
        }
        g.join_token += 1;
        let token = g.join_token;
        if initial {
            g.initial_join_remaining = Some(g.rebalance_timeout_ms().saturating_sub(delay));
            io.timer(Dur::from_ms(delay), Timer::GroupJoinExpire(group_id.to_string(), token));
            Vec::new()
        } else {
            g.initial_join_remaining = None;
            io.timer(Dur::from_ms(g.rebalance_timeout_ms()), Timer::GroupJoinExpire(group_id.to_string(), token));
            self.maybe_complete_join_phase(group_id, io)
        }
    }

    fn maybe_complete_join_phase(&mut self, group_id: &str, io: &mut Io) -> Writes {
        let Some(g) = self.groups.get(group_id) else {
            return Vec::new();
        };
        if g.state == GroupState::PreparingRebalance && g.initial_join_remaining.is_none() && g.has_all_members_joined()
        {
            return self.complete_join(group_id, io);
        }
        Vec::new()
    }

    /// The join phase's timer: an initial delayed join extends while new members arrive.
    fn join_expired(&mut self, group_id: &str, token: u64, io: &mut Io) -> Writes {
        let delay = self.config.initial_rebalance_delay_ms;
        let Some(g) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if g.join_token != token || g.state != GroupState::PreparingRebalance {
            return Vec::new();
        }
        if let Some(remaining) = g.initial_join_remaining {
            if g.new_member_added && remaining != 0 {
                g.new_member_added = false;
                let next = delay.min(remaining);
                g.initial_join_remaining = Some(remaining.saturating_sub(delay));
                io.timer(Dur::from_ms(next), Timer::GroupJoinExpire(group_id.to_string(), token));
                return Vec::new();
            }
            g.initial_join_remaining = None;
        }
        self.complete_join(group_id, io)
    }

    /// `completeClassicGroupJoin`: drop dynamic members that did not rejoin, bump the
    /// generation, answer every JoinGroup (the leader gets the member list).
    fn complete_join(&mut self, group_id: &str, io: &mut Io) -> Writes {
        let now = io.now;
        let Some(g) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if g.state == GroupState::Dead {
            return Vec::new();
        }
        let gone: Vec<String> = g
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in gone {
            g.remove(&id);
            io.emit(Effect::MemberRemoved {
                group: group_id.to_string(),
                member: id,
                reason: "did not rejoin before the rebalance timeout".into(),
            });
        }
        if !g.maybe_elect_new_joined_leader() && !g.members.is_empty() {
            // Nobody rejoined: wait another rebalance timeout for the sessions to expire.
            g.join_token += 1;
            io.timer(
                Dur::from_ms(g.rebalance_timeout_ms()),
                Timer::GroupJoinExpire(group_id.to_string(), g.join_token),
            );
            return Vec::new();
        }
        g.generation += 1;
        g.join_token += 1;
        if g.members.is_empty() {
            g.protocol_name = None;
            g.transition(GroupState::Empty, now, io);
            g.stats.rebalance_started = None;
            let partition = g.partition;
            return vec![self.store_group(group_id, partition, now, WriteDone::Nothing)];
        }
        g.protocol_name = g.select_protocol();
        g.transition(GroupState::CompletingRebalance, now, io);
        g.pending_sync.clear();
        let leader_members = join_members(g);
        let (generation, protocol, leader) =
            (g.generation, g.protocol_name.clone(), g.leader.clone().unwrap_or_default());
        for m in g.members.iter_mut() {
            let is_leader = m.member_id == leader;
            if let Some(w) = m.awaiting_join.take() {
                io.send(
                    w.node,
                    Message::JoinGroupResponse {
                        corr: w.corr,
                        error: None,
                        generation,
                        protocol_name: protocol.clone(),
                        leader: leader.clone(),
                        skip_assignment: false,
                        member_id: m.member_id.clone(),
                        members: if is_leader { leader_members.clone() } else { Vec::new() },
                    },
                );
            }
            m.session_deadline = now.plus(Dur::from_ms(m.session_timeout_ms));
            io.timer(
                Dur::from_ms(m.session_timeout_ms),
                Timer::GroupHeartbeatExpire(group_id.to_string(), m.member_id.clone()),
            );
            m.is_new = false;
        }
        g.pending_sync = g.members.iter().map(|m| m.member_id.clone()).collect();
        g.sync_token += 1;
        io.timer(
            Dur::from_ms(g.rebalance_timeout_ms()),
            Timer::GroupSyncExpire(group_id.to_string(), g.generation, g.sync_token),
        );
        io.emit(Effect::GroupRebalanced {
            group: group_id.to_string(),
            generation,
            leader,
            protocol: protocol.unwrap_or_default(),
            members: g.members.len() as u32,
        });
        Vec::new()
    }

    fn sync_expired(&mut self, group_id: &str, generation: i32, token: u64, io: &mut Io) -> Writes {
        let Some(g) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if g.generation != generation
            || g.sync_token != token
            || !matches!(g.state, GroupState::CompletingRebalance | GroupState::Stable)
            || g.pending_sync.is_empty()
        {
            return Vec::new();
        }
        let gone: Vec<String> = g.pending_sync.iter().cloned().collect();
        for id in gone {
            g.remove(&id);
            io.emit(Effect::MemberRemoved {
                group: group_id.to_string(),
                member: id,
                reason: "did not send SyncGroup before the rebalance timeout".into(),
            });
        }
        self.prepare_rebalance(group_id, io)
    }

    #[allow(clippy::too_many_arguments)]
    fn sync_group(
        &mut self,
        group_id: &str,
        partition: u32,
        from: NodeId,
        corr: u64,
        generation: i32,
        member_id: &str,
        instance: Option<String>,
        assignments: Vec<(String, Vec<TopicPartition>)>,
        io: &mut Io,
    ) -> Writes {
        let now = io.now;
        let Some(g) = self.groups.get_mut(group_id) else {
            io.send(from, sync_error(corr, ErrorCode::UNKNOWN_MEMBER_ID));
            return Vec::new();
        };
        if g.state == GroupState::Dead {
            io.send(from, sync_error(corr, ErrorCode::COORDINATOR_NOT_AVAILABLE));
            return Vec::new();
        }
        if let Some(e) = Self::validate_member(g, member_id, instance.as_deref()) {
            io.send(from, sync_error(corr, e));
            return Vec::new();
        }
        if generation != g.generation {
            io.send(from, sync_error(corr, ErrorCode::ILLEGAL_GENERATION));
            return Vec::new();
        }
        match g.state {
            GroupState::Empty => {
                io.send(from, sync_error(corr, ErrorCode::UNKNOWN_MEMBER_ID));
                Vec::new()
            }
            GroupState::PreparingRebalance => {
                io.send(from, sync_error(corr, ErrorCode::REBALANCE_IN_PROGRESS));
                Vec::new()
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = g.member_mut(member_id) {
                    m.awaiting_sync = Some(Waiter { node: from, corr });
                }
                g.pending_sync.remove(member_id);
                if !g.is_leader(member_id) {
                    return Vec::new();
                }
                // The leader's assignment; members it left out get nothing.
                for m in g.members.iter_mut() {
                    m.assignment = assignments
                        .iter()
                        .find(|(id, _)| *id == m.member_id)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default();
                }
                let done = WriteDone::SyncGroup { group: group_id.to_string(), generation };
                vec![self.store_group(group_id, partition, now, done)]
            }
            GroupState::Stable => {
                g.pending_sync.remove(member_id);
                let timeout = g.member(member_id).map(|m| m.session_timeout_ms).unwrap_or(0);
                let assignment = g.member(member_id).map(|m| m.assignment.clone()).unwrap_or_default();
                if let Some(m) = g.member_mut(member_id) {
                    m.session_deadline = now.plus(Dur::from_ms(timeout));
                }
                io.timer(
                    Dur::from_ms(timeout),
                    Timer::GroupHeartbeatExpire(group_id.to_string(), member_id.to_string()),
                );
                io.send(from, Message::SyncGroupResponse { corr, error: None, assignment });
                Vec::new()
            }
            GroupState::Dead => Vec::new(),
        }
    }

    /// Answers every parked SyncGroup with its member's assignment (`propagateAssignment`).
    fn propagate_assignment(&mut self, group_id: &str, error: Option<ErrorCode>, io: &mut Io) {
        let now = io.now;
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        for m in g.members.iter_mut() {
            if let Some(w) = m.awaiting_sync.take() {
                let assignment = if error.is_none() { m.assignment.clone() } else { Vec::new() };
                io.send(w.node, Message::SyncGroupResponse { corr: w.corr, error, assignment });
                m.session_deadline = now.plus(Dur::from_ms(m.session_timeout_ms));
                io.timer(
                    Dur::from_ms(m.session_timeout_ms),
                    Timer::GroupHeartbeatExpire(group_id.to_string(), m.member_id.clone()),
                );
            }
        }
    }

    fn reset_and_propagate_assignment_error(&mut self, group_id: &str, error: ErrorCode, io: &mut Io) {
        if let Some(g) = self.groups.get_mut(group_id) {
            for m in g.members.iter_mut() {
                m.assignment.clear();
            }
        }
        self.propagate_assignment(group_id, Some(error), io);
    }

    fn heartbeat(
        &mut self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
        now: SimTime,
        io: &mut Io,
    ) -> Option<ErrorCode> {
        let Some(g) = self.groups.get_mut(group_id) else {
            return Some(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if g.state == GroupState::Dead {
            return Some(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if let Some(e) = Self::validate_member(g, member_id, instance) {
            return Some(e);
        }
        if generation != g.generation {
            return Some(ErrorCode::ILLEGAL_GENERATION);
        }
        let state = g.state;
        if state == GroupState::Empty {
            return Some(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        let m = g.member_mut(member_id).expect("validated");
        m.session_deadline = now.plus(Dur::from_ms(m.session_timeout_ms));
        io.timer(
            Dur::from_ms(m.session_timeout_ms),
            Timer::GroupHeartbeatExpire(group_id.to_string(), member_id.to_string()),
        );
        match state {
            GroupState::PreparingRebalance => Some(ErrorCode::REBALANCE_IN_PROGRESS),
            _ => None,
        }
    }

    /// A member's session timer fired: remove it unless it heartbeated since, or it waits
    /// in a rebalance (`ClassicGroupMember.hasSatisfiedHeartbeat`).
    fn heartbeat_expired(&mut self, group_id: &str, member_id: &str, io: &mut Io) -> Writes {
        let now = io.now;
        let Some(g) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if g.pending_join.contains(member_id) {
            // A MEMBER_ID_REQUIRED id that never came back.
            g.pending_join.remove(member_id);
            return self.maybe_complete_join_phase(group_id, io);
        }
        let Some(m) = g.member(member_id) else {
            return Vec::new();
        };
        if now < m.session_deadline {
            return Vec::new();
        }
        let satisfied = !m.is_new && (m.awaiting_join.is_some() || m.awaiting_sync.is_some());
        if satisfied {
            return Vec::new();
        }
        let reason = if m.is_new { "its JoinGroup timed out" } else { "session timeout expired" };
        self.remove_member_and_update_group(group_id, member_id, reason, io)
    }

    fn remove_member_and_update_group(&mut self, group_id: &str, member_id: &str, reason: &str, io: &mut Io) -> Writes {
        let Some(g) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if let Some(m) = g.member_mut(member_id) {
            if let Some(w) = m.awaiting_join.take() {
                io.send(w.node, join_error(w.corr, "", ErrorCode::UNKNOWN_MEMBER_ID));
            }
        }
        g.remove(member_id);
        io.emit(Effect::MemberRemoved {
            group: group_id.to_string(),
            member: member_id.to_string(),
            reason: reason.into(),
        });
        match g.state {
            GroupState::Dead | GroupState::Empty => Vec::new(),
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(group_id, io)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join_phase(group_id, io),
        }
    }

    fn leave_group(
        &mut self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        reason: &str,
        io: &mut Io,
    ) -> (Option<ErrorCode>, Writes) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return (Some(ErrorCode::UNKNOWN_MEMBER_ID), Vec::new());
        };
        if g.state == GroupState::Dead {
            return (Some(ErrorCode::COORDINATOR_NOT_AVAILABLE), Vec::new());
        }
        if instance.is_none() && g.pending_join.remove(member_id) {
            return (None, self.maybe_complete_join_phase(group_id, io));
        }
        if let Some(e) = Self::validate_member(g, member_id, instance) {
            return (Some(e), Vec::new());
        }
        let why = format!("left the group ({reason})");
        (None, self.remove_member_and_update_group(group_id, member_id, &why, io))
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_offsets(
        &mut self,
        group_id: &str,
        partition: u32,
        from: NodeId,
        corr: u64,
        generation: i32,
        member_id: &str,
        instance: Option<String>,
        offsets_in: Vec<CommitPartition>,
        io: &mut Io,
    ) -> Writes {
        let now = io.now;
        let reject = |io: &mut Io, e: ErrorCode, offs: &[CommitPartition]| {
            io.send(
                from,
                Message::OffsetCommitResponse {
                    corr,
                    partitions: offs.iter().map(|o| (o.tp.clone(), Some(e))).collect(),
                },
            );
        };
        let mut writes = Vec::new();
        if !self.groups.contains_key(group_id) {
            if generation >= 0 {
                // A commit from an older generation of a group that is gone.
                reject(io, ErrorCode::ILLEGAL_GENERATION, &offsets_in);
                return writes;
            }
            // A consumer outside group management: the group exists just to hold offsets.
            self.groups.insert(group_id.to_string(), ClassicGroup::new(group_id, partition, now));
        }
        let g = &self.groups[group_id];
        // `ClassicGroup.validateOffsetCommit`.
        let error = if g.state == GroupState::Dead {
            Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        } else if generation < 0 && g.state == GroupState::Empty {
            None
        } else if generation >= 0 || !member_id.is_empty() || instance.is_some() {
            Self::validate_member(g, member_id, instance.as_deref())
                .or((generation != g.generation).then_some(ErrorCode::ILLEGAL_GENERATION))
                .or((g.state == GroupState::CompletingRebalance).then_some(ErrorCode::REBALANCE_IN_PROGRESS))
        } else {
            Some(ErrorCode::UNKNOWN_MEMBER_ID)
        };
        if let Some(e) = error {
            reject(io, e, &offsets_in);
            return writes;
        }
        let ts = now.as_ms() as i64;
        let records: Vec<(Blob, Option<Blob>)> = offsets_in
            .iter()
            .map(|o| {
                let v = OffsetAndMetadata {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: String::new(),
                    commit_timestamp: ts,
                };
                (offsets::offset_commit_key(group_id, &o.tp), Some(offsets::offset_commit_value(&v)))
            })
            .collect();
        self.commits_written += records.len() as u64;
        let tps = offsets_in.iter().map(|o| o.tp.clone()).collect();
        writes.push(self.write(partition, records, WriteDone::OffsetCommit { to: from, corr, tps }));
        writes
    }

    /// TxnOffsetCommit (`GroupMetadataManager.storeOffsets` with a producer id): the offset
    /// records are written as part of the producer's transaction and become the group's
    /// committed offsets only when the COMMIT marker is replayed. With KIP-447 group
    /// metadata (generation >= 0) the member and generation are checked as for OffsetCommit.
    #[allow(clippy::too_many_arguments)]
    fn txn_commit_offsets(
        &mut self,
        group_id: &str,
        partition: u32,
        from: NodeId,
        corr: u64,
        producer: (i64, i16),
        generation: i32,
        member_id: &str,
        offsets_in: Vec<CommitPartition>,
        io: &mut Io,
    ) -> Writes {
        let now = io.now;
        if let Some(g) = self.groups.get(group_id) {
            let error = if g.state == GroupState::Dead {
                Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
            } else if generation >= 0 {
                Self::validate_member(g, member_id, None)
                    .or((generation != g.generation).then_some(ErrorCode::ILLEGAL_GENERATION))
            } else {
                None
            };
            if let Some(e) = error {
                io.send(
                    from,
                    Message::TxnOffsetCommitResponse {
                        corr,
                        partitions: offsets_in.iter().map(|o| (o.tp.clone(), Some(e))).collect(),
                    },
                );
                return Vec::new();
            }
        } else {
            self.groups.insert(group_id.to_string(), ClassicGroup::new(group_id, partition, now));
        }
        let ts = now.as_ms() as i64;
        let records: Vec<(Blob, Option<Blob>)> = offsets_in
            .iter()
            .map(|o| {
                let v = OffsetAndMetadata {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: String::new(),
                    commit_timestamp: ts,
                };
                (offsets::offset_commit_key(group_id, &o.tp), Some(offsets::offset_commit_value(&v)))
            })
            .collect();
        self.commits_written += records.len() as u64;
        let tps = offsets_in.iter().map(|o| o.tp.clone()).collect();
        let mut w = self.write(partition, records, WriteDone::TxnOffsetCommit { to: from, corr, tps });
        w.txn = Some(producer);
        vec![w]
    }

    // ------------------------------------------------------------------ timers

    pub fn handle_timer(&mut self, timer: Timer, io: &mut Io) -> Writes {
        match timer {
            Timer::GroupHeartbeatExpire(group, member) => self.heartbeat_expired(&group, &member, io),
            Timer::GroupJoinExpire(group, token) => self.join_expired(&group, token, io),
            Timer::GroupSyncExpire(group, generation, token) => self.sync_expired(&group, generation, token, io),
            Timer::CoordinatorWriteTimeout(id) => self.write_failed(id, ErrorCode::REQUEST_TIMED_OUT, io),
            _ => Vec::new(),
        }
    }

    // ------------------------------------------------------------------ views

    pub fn describe(&self, group: &str, partition: u32) -> Option<GroupDescription> {
        let g = self.groups.get(group)?;
        Some(GroupDescription {
            group: group.to_string(),
            coordinator: self.broker,
            offsets_partition: partition,
            state: g.state,
            generation: g.generation,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: g.protocol_name.clone(),
            leader: g.leader.clone(),
            members: g
                .iteration_order()
                .into_iter()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client: m.client,
                    assignment: m.assignment.clone(),
                })
                .collect(),
            committed: self
                .offsets
                .get(group)
                .map(|o| crate::collect::btree_map(o.iter().map(|(tp, v)| (tp.clone(), v.offset))))
                .unwrap_or_default(),
            stats: g.stats.clone(),
        })
    }
}

/// A JoinGroup request, unpacked.
struct JoinRequest {
    from: NodeId,
    corr: u64,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    protocol_type: String,
    protocols: Vec<GroupProtocol>,
}

impl ClassicGroup {
    /// Removes a member for replacement without electing a new leader.
    fn remove_keeping_leader(&mut self, id: &str) -> Option<GroupMember> {
        let pos = self.members.iter().position(|m| m.member_id == id)?;
        Some(self.members.remove(pos))
    }
}

/// Members as the leader sees them in its JoinGroup response, in the group's order.
fn join_members(g: &ClassicGroup) -> Vec<JoinGroupMember> {
    let protocol = g.protocol_name.clone().unwrap_or_default();
    g.iteration_order()
        .into_iter()
        .map(|m| JoinGroupMember {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            metadata: m.metadata(&protocol),
        })
        .collect()
}

/// A JoinGroup answer with the group's current generation, for a member that rejoins
/// without changing anything (it lost the earlier answer, or it is a follower of a stable
/// group); only the leader gets the member list.
fn current_join(g: &ClassicGroup, corr: u64, member_id: &str, members: Vec<JoinGroupMember>) -> Message {
    Message::JoinGroupResponse {
        corr,
        error: None,
        generation: g.generation,
        protocol_name: g.protocol_name.clone(),
        leader: g.leader.clone().unwrap_or_default(),
        skip_assignment: false,
        member_id: member_id.to_string(),
        members,
    }
}

fn join_error(corr: u64, member_id: &str, error: ErrorCode) -> Message {
    Message::JoinGroupResponse {
        corr,
        error: Some(error),
        generation: -1,
        protocol_name: None,
        leader: String::new(),
        skip_assignment: false,
        member_id: member_id.to_string(),
        members: Vec::new(),
    }
}

fn sync_error(corr: u64, error: ErrorCode) -> Message {
    Message::SyncGroupResponse { corr, error: Some(error), assignment: Vec::new() }
}

/// The client node stored as `clientHost` in group metadata (`/consumer#3`).
fn parse_client_host(host: &str) -> NodeId {
    host.strip_prefix("/consumer#").and_then(|n| n.parse().ok()).map(NodeId::Consumer).unwrap_or(NodeId::Controller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactional_offsets_apply_at_their_commit_marker_and_vanish_at_an_abort() {
        use crate::record::{control_batch, BatchData, ControlType, Record, INTERNAL_RECORD};
        let seg = (1u64 << 30, u64::MAX);
        let tp = TopicPartition::new("in", 0);
        let offsets_batch = |pid: i64, offset: u64| {
            let v = OffsetAndMetadata { offset, leader_epoch: -1, metadata: String::new(), commit_timestamp: 0 };
            let r = Record {
                id: INTERNAL_RECORD,
                offset_delta: 0,
                timestamp: 0,
                key: Some(offsets::offset_commit_key("g", &tp)),
                value: Some(offsets::offset_commit_value(&v)),
                headers: vec![],
            };
            let mut d = BatchData::new(pid, 0, crate::record::NO_SEQUENCE, vec![r], 100);
            d.is_transactional = true;
            std::sync::Arc::new(d)
        };
        let mut log = PartitionLog::default();
        log.append_as_leader(offsets_batch(5, 10), 0, SimTime::ZERO, seg);
        log.append_as_leader(offsets_batch(6, 99), 0, SimTime::ZERO, seg);
        log.append_as_leader(std::sync::Arc::new(control_batch(6, 0, ControlType::Abort, 0, 0)), 0, SimTime::ZERO, seg);
        let mut out = crate::node::Outbox::default();
        let mut io = Io { now: SimTime::ZERO, me: NodeId::Broker(1), out: &mut out };
        let mut c = GroupCoordinator::new(1, CoordinatorConfig::of(&crate::config::BrokerConfig::default()));
        c.load(0, 1, &log, &mut io);
        // pid 5's transaction is still open, pid 6's was aborted: no committed offset yet.
        assert_eq!(c.offsets.get("g").and_then(|m| m.get(&tp)), None);
        assert_eq!(c.pending_txn_offsets.len(), 1);
        // pid 5 commits: replaying the marker once the HW passes it applies its offsets.
        log.append_as_leader(
            std::sync::Arc::new(control_batch(5, 0, ControlType::Commit, 0, 0)),
            0,
            SimTime::ZERO,
            seg,
        );
        log.set_high_watermark(log.log_end_offset());
        c.on_high_watermark(0, &log, &mut io);
        assert_eq!(c.offsets["g"][&tp].offset, 10);
        assert!(c.pending_txn_offsets.is_empty());
    }

    fn member(id: &str, protocols: &[&str]) -> GroupMember {
        GroupMember {
            member_id: id.to_string(),
            group_instance_id: None,
            client_id: id.to_string(),
            client: NodeId::Consumer(0),
            rebalance_timeout_ms: 300_000,
            session_timeout_ms: 45_000,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| GroupProtocol { name: p.to_string(), metadata: Subscription::default() })
                .collect(),
            assignment: Vec::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            session_deadline: SimTime::ZERO,
            seq: 0,
            hash: offsets::java_string_hash(id),
        }
    }

    #[test]
    fn members_iterate_in_java_hashmap_order_and_a_leaving_leader_hands_over_to_the_first() {
        let mut g = ClassicGroup::new("g", 0, SimTime::ZERO);
        // "a".hashCode() = 97 (bucket 1 of 16), "b" = 98 (bucket 2), "q" = 113 (bucket 1).
        for id in ["b", "q", "a"] {
            g.add(member(id, &["range"]));
        }
        let order: Vec<&str> = g.iteration_order().iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(order, vec!["q", "a", "b"], "bucket 1 in insertion order, then bucket 2");
        assert_eq!(g.leader.as_deref(), Some("b"), "the first member to join leads");
        g.remove("b");
        assert_eq!(g.leader.as_deref(), Some("q"));
    }

    #[test]
    fn the_selected_protocol_is_the_most_voted_one_that_every_member_supports() {
        let mut g = ClassicGroup::new("g", 0, SimTime::ZERO);
        g.add(member("m1", &["range", "cooperative-sticky"]));
        g.add(member("m2", &["cooperative-sticky"]));
        assert_eq!(g.select_protocol().as_deref(), Some("cooperative-sticky"));
        let mut h = ClassicGroup::new("h", 0, SimTime::ZERO);
        h.add(member("m1", &["range", "cooperative-sticky"]));
        h.add(member("m2", &["range", "cooperative-sticky"]));
        assert_eq!(h.select_protocol().as_deref(), Some("range"));
        // An Empty group accepts any protocol; a live one only protocols all members share.
        assert!(h.supports_protocols("consumer", &member("m3", &["roundrobin"]).protocols));
        h.state = GroupState::Stable;
        assert!(h.supports_protocols("consumer", &member("m3", &["cooperative-sticky"]).protocols));
        assert!(!h.supports_protocols("consumer", &member("m3", &["roundrobin"]).protocols));
    }

    #[test]
    fn member_ids_are_the_client_id_and_a_uuid() {
        let mut c = GroupCoordinator::new(1, CoordinatorConfig::of(&crate::config::BrokerConfig::default()));
        let a = c.new_member_id("consumer-1");
        let b = c.new_member_id("consumer-1");
        assert_ne!(a, b);
        let uuid = a.strip_prefix("consumer-1-").unwrap();
        let parts: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
        assert!(uuid.split('-').nth(2).unwrap().starts_with('4'), "version 4 layout");
    }
}
