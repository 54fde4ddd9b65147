//! Helpers shared by the assignor tests: building groups, and the checks Kafka's own tests
//! apply (`AbstractStickyAssignorTest.verifyValidityAndBalance`, `isFullyBalanced`, the
//! cooperative follow-up rebalances of `CooperativeStickyAssignorTest`).
#![allow(dead_code)]
use sandbox_core::group::assignor::{assign, assign_detailed, MemberInput, Strategy, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

pub fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

pub fn tp(topic: &str, partition: u32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// Partitions written `topic-n`, sorted like the assignors' output.
pub fn tps(list: &[&str]) -> Vec<TopicPartition> {
    let mut v: Vec<TopicPartition> = list.iter().map(|s| s.parse().unwrap()).collect();
    v.sort();
    v
}

/// A member with no owned partitions and no generation (Kafka's `subscription(topics, i)`).
pub fn member(id: &str, subscription: &[&str]) -> MemberInput {
    MemberInput::new(id, subscription)
}

/// A member reporting owned partitions in a generation (`buildSubscriptionV2Above`).
pub fn owning(id: &str, subscription: &[&str], owned: &[TopicPartition], generation: i32) -> MemberInput {
    let mut m = MemberInput::new(id, subscription);
    m.owned = owned.to_vec();
    m.generation = Some(generation);
    m
}

pub fn static_member(id: &str, instance: &str, subscription: &[&str]) -> MemberInput {
    let mut m = MemberInput::new(id, subscription);
    m.group_instance_id = Some(instance.to_string());
    m
}

pub fn run(strategy: Strategy, topics: &BTreeMap<String, u32>, members: &[MemberInput]) -> Assignment {
    assign(strategy, topics, members).unwrap()
}

/// `isFullyBalanced`: member sizes differ by at most one.
pub fn is_fully_balanced(a: &Assignment) -> bool {
    let sizes: Vec<usize> = a.values().map(Vec::len).collect();
    match (sizes.iter().min(), sizes.iter().max()) {
        (Some(min), Some(max)) => max - min <= 1,
        _ => true,
    }
}

/// `verifyValidityAndBalance`: every member only gets partitions of topics it subscribes
/// to, no partition goes to two members, and members whose sizes differ by two or more
/// share no topic (else a partition could have moved to the smaller one).
pub fn assert_valid_and_balanced(members: &[MemberInput], a: &Assignment) {
    assert_eq!(a.len(), members.len(), "every member appears");
    let subs: BTreeMap<&str, BTreeSet<&str>> =
        members.iter().map(|m| (m.member_id.as_str(), m.subscription.iter().map(String::as_str).collect())).collect();
    let mut seen = BTreeSet::new();
    for (m, parts) in a {
        for p in parts {
            assert!(subs[m.as_str()].contains(p.topic.as_str()), "{p} given to {m}, not subscribed");
            assert!(seen.insert(p.clone()), "{p} assigned twice");
        }
    }
    let entries: Vec<(&String, &Vec<TopicPartition>)> = a.iter().collect();
    for (i, (m1, p1)) in entries.iter().enumerate() {
        for (m2, p2) in &entries[i + 1..] {
            if p1.len().abs_diff(p2.len()) <= 1 {
                continue;
            }
            let t1: BTreeSet<&str> = p1.iter().map(|p| p.topic.as_str()).collect();
            let t2: BTreeSet<&str> = p2.iter().map(|p| p.topic.as_str()).collect();
            assert!(
                t1.is_disjoint(&t2),
                "{m1} ({}) and {m2} ({}) share a topic: could be balanced better",
                p1.len(),
                p2.len()
            );
        }
    }
}

/// Every partition of a subscribed topic has exactly one owner.
pub fn assert_all_assigned(topics: &BTreeMap<String, u32>, members: &[MemberInput], a: &Assignment) {
    let wanted: BTreeSet<TopicPartition> = members
        .iter()
        .flat_map(|m| m.subscription.iter())
        .filter_map(|t| topics.get(t).map(|&n| (t, n)))
        .flat_map(|(t, n)| (0..n).map(move |p| tp(t, p)))
        .collect();
    let got: Vec<TopicPartition> = a.values().flatten().cloned().collect();
    let got_set: BTreeSet<TopicPartition> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "a partition has two owners");
    assert_eq!(got_set, wanted);
}

/// Members as they rejoin after an assignment: each owns what it got, in `generation`.
pub fn rejoin(members: &[MemberInput], a: &Assignment, generation: i32) -> Vec<MemberInput> {
    members
        .iter()
        .map(|m| {
            let mut next = m.clone();
            next.owned = a[&m.member_id].clone();
            next.generation = Some(generation);
            next
        })
        .collect()
}

/// `CooperativeStickyAssignorTest.verifyValidityAndBalance`: while some member loses a
/// partition, no partition may be given to another member in the same round, and the
/// group rebalances again with what it now owns (at most four follow-ups). Returns the
/// final members and assignment.
pub fn cooperative_rounds(
    topics: &BTreeMap<String, u32>,
    members: &[MemberInput],
    first: Assignment,
    generation: i32,
) -> (Vec<MemberInput>, Assignment) {
    let mut members = members.to_vec();
    let mut a = first;
    let mut rebalances = 0;
    loop {
        let mut added = BTreeSet::new();
        let mut revoked = BTreeSet::new();
        for m in &members {
            let owned: BTreeSet<&TopicPartition> = m.owned.iter().collect();
            let got: BTreeSet<&TopicPartition> = a[&m.member_id].iter().collect();
            added.extend(got.difference(&owned).cloned());
            revoked.extend(owned.difference(&got).cloned());
        }
        assert!(
            added.is_disjoint(&revoked),
            "partitions {:?} move in the round they are revoked",
            added.intersection(&revoked).collect::<Vec<_>>()
        );
        if revoked.is_empty() {
            return (members, a);
        }
        members = rejoin(&members, &a, generation);
        a = run(Strategy::CooperativeSticky, topics, &members);
        rebalances += 1;
        assert!(rebalances <= 4, "cooperative rebalancing did not settle");
    }
}

/// Partitions withheld by cooperative-sticky in one round.
pub fn withheld(topics: &BTreeMap<String, u32>, members: &[MemberInput]) -> BTreeMap<String, String> {
    assign_detailed(Strategy::CooperativeSticky, topics, members)
        .unwrap()
        .withheld
        .into_iter()
        .map(|(p, m)| (p.to_string(), m))
        .collect()
}

/// `PartitionMovements.isSticky`: within a topic, no two members swapped partitions
/// (one lost a partition to the other and got another of the same topic back).
pub fn is_sticky(before: &[MemberInput], after: &Assignment) -> bool {
    let mut owner_before = BTreeMap::new();
    for m in before {
        for p in &m.owned {
            owner_before.insert(p.clone(), m.member_id.clone());
        }
    }
    let mut moves: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (m, parts) in after {
        for p in parts {
            if let Some(old) = owner_before.get(p) {
                if old != m {
                    moves.insert((p.topic.clone(), old.clone(), m.clone()));
                }
            }
        }
    }
    moves.iter().all(|(t, a, b)| !moves.contains(&(t.clone(), b.clone(), a.clone())))
}

pub fn strings(parts: &[TopicPartition]) -> Vec<String> {
    parts.iter().map(ToString::to_string).collect()
}
