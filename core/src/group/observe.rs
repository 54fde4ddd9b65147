//! Sandbox bookkeeping (not a Kafka component): who owns which partition in each group,
//! step by step, from the consumers' own view. It measures what rebalances cost the
//! application: the time partitions spent with no live owner (stop-the-world under the
//! eager protocol, only the moved partitions under the cooperative one), and whether two
//! live members ever believed they owned the same partition at once.
use crate::consumer::Consumer;
use crate::record::TopicPartition;
use crate::sim::time::{Dur, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedGroup {
    /// Live consumers (by index) owning each partition the group ever owned.
    pub owners: BTreeMap<TopicPartition, Vec<u32>>,
    unowned_since: BTreeMap<TopicPartition, SimTime>,
    /// Partition-time with no live owner, closed intervals only (see [`GroupObserver::paused`]).
    paused: Dur,
    /// Times a partition was found with two or more live owners.
    pub double_ownership: u64,
    /// The first such case, for the summary.
    pub first_double_ownership: Option<(SimTime, TopicPartition, Vec<u32>)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupObserver {
    pub groups: BTreeMap<String, ObservedGroup>,
}

impl GroupObserver {
    /// Recomputes ownership from the consumers' assignments at `now`.
    pub fn update(&mut self, now: SimTime, consumers: &[Consumer]) {
        let mut owners: BTreeMap<&str, BTreeMap<TopicPartition, Vec<u32>>> = BTreeMap::new();
        for c in consumers.iter().filter(|c| c.alive && !c.subscription.is_empty()) {
            let Some(g) = &c.group else { continue };
            let map = owners.entry(g.group_id.as_str()).or_default();
            for tp in &c.assignment {
                map.entry(tp.clone()).or_default().push(c.index);
            }
        }
        for c in consumers.iter().filter(|c| !c.subscription.is_empty()) {
            if let Some(g) = &c.group {
                self.groups.entry(g.group_id.clone()).or_default();
                owners.entry(g.group_id.as_str()).or_default();
            }
        }
        for (group, now_owned) in owners {
            let og = self.groups.entry(group.to_string()).or_default();
            let known: Vec<TopicPartition> = og.owners.keys().chain(now_owned.keys()).cloned().collect();
            for tp in known {
                let who = now_owned.get(&tp).cloned().unwrap_or_default();
                if who.len() >= 2 {
                    og.double_ownership += 1;
                    og.first_double_ownership.get_or_insert((now, tp.clone(), who.clone()));
                }
                if who.is_empty() {
                    og.unowned_since.entry(tp.clone()).or_insert(now);
                } else if let Some(since) = og.unowned_since.remove(&tp) {
                    og.paused = og.paused.plus_dur(now.since(since));
                }
                og.owners.insert(tp, who);
            }
        }
    }

    /// Partition-time without a live owner up to `now`, per group.
    pub fn paused(&self, group: &str, now: SimTime) -> Dur {
        let Some(og) = self.groups.get(group) else { return Dur::ZERO };
        og.unowned_since.values().fold(og.paused, |acc, since| acc.plus_dur(now.since(*since)))
    }
}
