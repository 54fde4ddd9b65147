//! What `kafka-consumer-groups --describe` (with `--members`, `--state`, `--offsets`) and
//! the consumers' own metrics say about each group at the end of a run, plus a look inside
//! the group's `__consumer_offsets` partition.
use super::coordinator::{GroupDescription, GroupState};
use super::offsets::{self, offsets_partition, OffsetsRecord, OFFSETS_TOPIC};
use crate::cluster::broker::Role;
use crate::log::PartitionLog;
use crate::network::NodeId;
use crate::record::TopicPartition;
use crate::world::World;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many `__consumer_offsets` records a summary shows per group.
pub const OFFSETS_RECORDS_LISTED: usize = 12;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberSummary {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// The consumer (by scenario name) behind the member.
    pub client: String,
    pub assignment: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group: String,
    /// The broker leading the group's `__consumer_offsets` partition (none when offline).
    pub coordinator: Option<u32>,
    pub offsets_partition: u32,
    /// Kafka's group state (`Dead` when no coordinator has the group loaded).
    pub state: String,
    pub generation: i32,
    /// The assignor the group uses (the selected protocol).
    pub assignor: Option<String>,
    /// eager or cooperative, as the members chose it from their assignor lists.
    pub rebalance_protocol: Option<String>,
    pub leader: Option<String>,
    pub members: Vec<MemberSummary>,
    /// Committed offset per partition, read from the committed `__consumer_offsets` records.
    pub committed: BTreeMap<String, u64>,
    /// HW minus committed offset (what `kafka-consumer-groups` prints as LAG); a partition
    /// without a committed offset lags by its whole HW.
    pub lag: BTreeMap<String, u64>,
    /// Rebalances the coordinator completed since it loaded the group.
    pub coordinator_rebalances: u64,
    /// Partition-time with no live owner (ms): what rebalances and failures cost.
    pub paused_partition_ms: f64,
    /// Time the group had live members but no partition owned (eager stop-the-world).
    pub stop_the_world_ms: f64,
    /// The most partitions without a live owner at one moment.
    pub max_partitions_paused: u32,
    /// Steps at which two live members both owned a partition.
    pub double_ownership: u64,
    /// Records in the group's `__consumer_offsets` partition (leader's log) and the last few.
    pub offsets_topic_records: u64,
    pub offsets_topic_tail: Vec<String>,
}

/// The authoritative log of a partition: its leader's, else the longest in-sync replica's.
pub fn authoritative_log<'a>(world: &'a World, tp: &TopicPartition) -> Option<&'a PartitionLog> {
    let state = world.controller.image.partition(tp)?;
    let candidates: Vec<u32> = match state.leader {
        Some(l) => vec![l],
        None => state.isr.clone(),
    };
    candidates
        .iter()
        .filter_map(|b| world.broker(*b)?.replicas.get(tp).map(|r| &r.log))
        .max_by_key(|l| l.log_end_offset())
}

/// Committed offsets of every group, replayed from the committed records of
/// `__consumer_offsets` (below each partition's HW).
pub fn committed_offsets(world: &World) -> BTreeMap<String, BTreeMap<TopicPartition, u64>> {
    let mut out: BTreeMap<String, BTreeMap<TopicPartition, u64>> = BTreeMap::new();
    let Some(topic) = world.controller.image.topics.get(OFFSETS_TOPIC) else {
        return out;
    };
    for p in 0..topic.partitions.len() as u32 {
        let Some(log) = authoritative_log(world, &offsets_partition(p)) else { continue };
        let hw = log.high_watermark();
        for b in log.batches() {
            for (offset, r) in b.records() {
                if offset >= hw {
                    break;
                }
                if let Some(OffsetsRecord::OffsetCommit { group, tp, value }) =
                    offsets::decode(r.key.as_ref(), r.value.as_ref())
                {
                    match value {
                        Some(v) => {
                            out.entry(group).or_default().insert(tp, v.offset);
                        }
                        None => {
                            out.entry(group).or_default().remove(&tp);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Where a group lives and what its coordinator says of it (`DescribeGroups`): the
/// `__consumer_offsets` partition it hashes to, that partition's leader, and the leader's
/// description of the group when the leader runs and has loaded it (None: no coordinator
/// now, as `kafka-consumer-groups` finds during a failover).
pub fn coordinator_of(world: &World, group: &str) -> (u32, Option<u32>, Option<GroupDescription>) {
    let n = world.controller.image.topics.get(OFFSETS_TOPIC).map(|t| t.partitions.len() as u32).unwrap_or(0);
    let partition = offsets::partition_for(group, n.max(1));
    let tp = offsets_partition(partition);
    let leader = world.controller.image.partition(&tp).and_then(|p| p.leader);
    let description = leader.and_then(|l| {
        let b = world.broker(l).filter(|b| b.is_running())?;
        let leads = matches!(b.replicas.get(&tp).map(|r| &r.role), Some(Role::Leader(_)));
        if !leads {
            return None;
        }
        b.coordinator.describe(group, partition)
    });
    (partition, leader, description)
}

pub fn group_summaries(world: &World, hw_of: &dyn Fn(&TopicPartition) -> Option<u64>) -> Vec<GroupSummary> {
    let committed_all = committed_offsets(world);
    let mut groups: BTreeSet<String> = committed_all.keys().cloned().collect();
    for c in &world.consumers {
        if let Some(g) = &c.config.group_id {
            groups.insert(g.clone());
        }
    }
    let name_of = |node: NodeId| world.node_name(node);
    groups
        .into_iter()
        .map(|group| {
            let (partition, leader, description) = coordinator_of(world, &group);
            let tp = offsets_partition(partition);
            let members_consumers: Vec<&crate::consumer::Consumer> =
                world.consumers.iter().filter(|c| c.config.group_id.as_deref() == Some(&group)).collect();
            let topics: BTreeSet<&str> =
                members_consumers.iter().flat_map(|c| c.subscription.iter().map(String::as_str)).collect();
            let committed: BTreeMap<TopicPartition, u64> = committed_all.get(&group).cloned().unwrap_or_default();
            let mut lag = BTreeMap::new();
            let mut partitions: BTreeSet<TopicPartition> = committed.keys().cloned().collect();
            for t in &topics {
                if let Some(meta) = world.controller.image.topics.get(*t) {
                    for p in 0..meta.partitions.len() as u32 {
                        partitions.insert(TopicPartition::new(t, p));
                    }
                }
            }
            for p in &partitions {
                if let Some(hw) = hw_of(p) {
                    lag.insert(p.to_string(), hw.saturating_sub(committed.get(p).copied().unwrap_or(0)));
                }
            }
            let protocol = members_consumers
                .iter()
                .find_map(|c| c.group.as_ref())
                .map(|m| format!("{:?}", m.protocol).to_lowercase());
            let (offsets_topic_records, offsets_topic_tail) = match authoritative_log(world, &tp) {
                Some(log) => {
                    let total = log.record_count();
                    let mut tail: Vec<String> = Vec::new();
                    for b in log.batches().iter().rev() {
                        for (offset, r) in b.records().collect::<Vec<_>>().into_iter().rev() {
                            if tail.len() == OFFSETS_RECORDS_LISTED {
                                break;
                            }
                            let key = r.key.as_ref().map(|k| k.display()).unwrap_or_default();
                            if !key.contains(&format!("\"group\":{}", serde_json::Value::String(group.clone()))) {
                                continue;
                            }
                            let mut value = r.value.as_ref().map(|v| v.display()).unwrap_or_else(|| "null".into());
                            if value.chars().count() > 200 {
                                value = value.chars().take(200).collect::<String>() + "...";
                            }
                            tail.push(format!("{offset}: {key} => {value}"));
                        }
                    }
                    tail.reverse();
                    (total, tail)
                }
                None => (0, Vec::new()),
            };
            let paused = world.groups.paused(&group, world.now);
            let double = world.groups.groups.get(&group).map(|g| g.double_ownership).unwrap_or(0);
            let max_paused = world.groups.groups.get(&group).map(|g| g.max_unowned).unwrap_or(0);
            match description {
                Some(d) => GroupSummary {
                    group: group.clone(),
                    coordinator: leader,
                    offsets_partition: partition,
                    state: d.state.to_string(),
                    generation: d.generation,
                    assignor: d.protocol.clone(),
                    rebalance_protocol: protocol,
                    leader: d
                        .leader
                        .clone()
                        .and_then(|l| d.members.iter().find(|m| m.member_id == l).map(|m| name_of(m.client))),
                    members: d
                        .members
                        .iter()
                        .map(|m| MemberSummary {
                            member_id: m.member_id.clone(),
                            group_instance_id: m.group_instance_id.clone(),
                            client: name_of(m.client),
                            assignment: m.assignment.iter().map(|tp| tp.to_string()).collect(),
                        })
                        .collect(),
                    committed: crate::collect::btree_map(committed.iter().map(|(tp, o)| (tp.to_string(), *o))),
                    lag,
                    coordinator_rebalances: d.stats.rebalances,
                    paused_partition_ms: paused.as_ms_f64(),
                    max_partitions_paused: max_paused,
                    stop_the_world_ms: world.groups.stopped(&group, world.now).as_ms_f64(),
                    double_ownership: double,
                    offsets_topic_records,
                    offsets_topic_tail,
                },
                None => GroupSummary {
                    group: group.clone(),
                    coordinator: leader,
                    offsets_partition: partition,
                    state: GroupState::Dead.to_string(),
                    generation: -1,
                    assignor: None,
                    rebalance_protocol: protocol,
                    leader: None,
                    members: Vec::new(),
                    committed: crate::collect::btree_map(committed.iter().map(|(tp, o)| (tp.to_string(), *o))),
                    lag,
                    coordinator_rebalances: 0,
                    paused_partition_ms: paused.as_ms_f64(),
                    max_partitions_paused: max_paused,
                    stop_the_world_ms: world.groups.stopped(&group, world.now).as_ms_f64(),
                    double_ownership: double,
                    offsets_topic_records,
                    offsets_topic_tail,
                },
            }
        })
        .collect()
}
