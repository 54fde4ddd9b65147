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
    /// The most partitions without a live owner at one moment (all of them under an eager
    /// rebalance, only the moving ones under a cooperative one).
    pub max_unowned: u32,
    /// Time during which none of the group's partitions had a live owner while the group
    /// had live members: the group consumed nothing (stop-the-world), closed intervals.
    stopped: Dur,
    stopped_since: Option<SimTime>,
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
            og.max_unowned = og.max_unowned.max(og.unowned_since.len() as u32);
            let all_stopped = !og.owners.is_empty() && og.unowned_since.len() == og.owners.len();
            let has_members = consumers.iter().any(|c| {
                c.alive && c.group.as_ref().map(|g| g.group_id == group).unwrap_or(false) && !c.subscription.is_empty()
            });
            match (all_stopped && has_members, og.stopped_since) {
                (true, None) => og.stopped_since = Some(now),
                (false, Some(since)) => {
                    og.stopped = og.stopped.plus_dur(now.since(since));
                    og.stopped_since = None;
                }
                _ => {}
            }
        }
    }

    /// Time up to `now` during which the group, with live members, owned no partition.
    pub fn stopped(&self, group: &str, now: SimTime) -> Dur {
        let Some(og) = self.groups.get(group) else { return Dur::ZERO };
        og.stopped.plus_dur(og.stopped_since.map(|s| now.since(s)).unwrap_or(Dur::ZERO))
    }

    /// Partition-time without a live owner up to `now`, per group.
    pub fn paused(&self, group: &str, now: SimTime) -> Dur {
        let Some(og) = self.groups.get(group) else { return Dur::ZERO };
        og.unowned_since.values().fold(og.paused, |acc, since| acc.plus_dur(now.since(*since)))
    }
}
