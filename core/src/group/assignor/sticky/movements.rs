//! `AbstractStickyAssignor.PartitionMovements`: the general path remembers, per topic, which
//! partitions it moved from which member to which. When it is about to move a partition
//! from A to B while some partition of the same topic already moved from B to A, it moves
//! that one back instead, so partitions of a topic do not swap owners. "That one" is the
//! first element of a `HashSet<TopicPartition>`, so the set's Java iteration order matters.
use crate::group::assignor::java::JavaHashTable;
use crate::group::assignor::{Group, Pid};
use std::collections::BTreeMap;

/// A move from `src` to `dst` (member indices); `ConsumerPair` in Kafka.
type Pair = (usize, usize);

#[derive(Default)]
pub(super) struct Movements {
    by_partition: BTreeMap<Pid, Pair>,
    by_topic: BTreeMap<u32, BTreeMap<Pair, JavaHashTable>>,
    approximate: bool,
}

impl Movements {
    /// False if some movement set needed a treeified bucket (see `java.rs`).
    pub fn exact(&self) -> bool {
        !self.approximate
    }

    /// `getTheActualPartitionToBeMoved`.
    pub fn actual_partition_to_move(&self, group: &Group, pid: Pid, old: usize, new: usize) -> Pid {
        let topic = group.topic_of[pid as usize];
        let Some(topic_moves) = self.by_topic.get(&topic) else {
            return pid;
        };
        // A partition that already moved counts as moving from its original owner.
        let old = self.by_partition.get(&pid).map_or(old, |&(src, _)| src);
        match topic_moves.get(&(new, old)).and_then(JavaHashTable::first) {
            Some(back) => back,
            None => pid,
        }
    }

    /// `movePartition`: record a move, folding it into an earlier move of the same partition.
    pub fn move_partition(&mut self, group: &Group, pid: Pid, old: usize, new: usize) {
        if self.by_partition.contains_key(&pid) {
            if let Some((src, _)) = self.remove_record(group, pid) {
                if src != new {
                    self.add_record(group, pid, (src, new));
                }
            }
        } else {
            self.add_record(group, pid, (old, new));
        }
    }

    fn remove_record(&mut self, group: &Group, pid: Pid) -> Option<Pair> {
        let pair = self.by_partition.remove(&pid)?;
        let topic = group.topic_of[pid as usize];
        if let Some(topic_moves) = self.by_topic.get_mut(&topic) {
            if let Some(set) = topic_moves.get_mut(&pair) {
                set.remove(pid);
                if set.is_empty() {
                    topic_moves.remove(&pair);
                }
            }
            if topic_moves.is_empty() {
                self.by_topic.remove(&topic);
            }
        }
        Some(pair)
    }

    fn add_record(&mut self, group: &Group, pid: Pid, pair: Pair) {
        self.by_partition.insert(pid, pair);
        let topic = group.topic_of[pid as usize];
        let set = self.by_topic.entry(topic).or_default().entry(pair).or_default();
        set.insert(pid, group.java_hash(pid));
        self.approximate |= set.approximate();
    }
}
