//! Property tests of consumer groups and compaction (issue 3). Each name states the property.
//! Runs are short (one broker, a few consumers, tens of simulated seconds) and case counts
//! are small, so each property takes a few seconds.
use proptest::prelude::*;
use sandbox_core::action::Action;
use sandbox_core::cluster::broker::Role;
use sandbox_core::config::{BrokerConfig, ConfigValue, ConsumerConfig, TopicConfig};
use sandbox_core::group::coordinator::GroupState;
use sandbox_core::group::offsets::{offsets_partition, partition_for};
use sandbox_core::log::cleaner::CleanerConfig;
use sandbox_core::log::PartitionLog;
use sandbox_core::record::{BatchData, Blob, Record, RecordId, TopicPartition, NO_PRODUCER_ID, NO_SEQUENCE};
use sandbox_core::sim::time::SimTime;
use sandbox_core::trace::Effect;
use sandbox_core::world::{ConsumerSpec, ProducerSpec, Setup, TopicSpec, World};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const GROUP: &str = "g";

fn consumer(name: &str, strategy: &str, subscribed: bool) -> ConsumerSpec {
    let mut c = ConsumerConfig::default();
    for (k, v) in [
        ("group.id", GROUP),
        ("auto.offset.reset", "earliest"),
        ("partition.assignment.strategy", strategy),
        ("auto.commit.interval.ms", "1000"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "1000"),
        ("max.poll.interval.ms", "20000"),
    ] {
        c.set(k, &ConfigValue::Str(v.into())).unwrap();
    }
    c.validate().unwrap();
    ConsumerSpec {
        name: name.into(),
        config: c,
        subscribe: if subscribed { vec!["t".into()] } else { Vec::new() },
        ..Default::default()
    }
}

/// One broker (so runs stay small), one topic, `members` consumers of one group: the first
/// subscribes at boot, the others wait for the timeline.
fn group_setup(partitions: u32, members: usize, strategy: &str, end_ms: u64) -> Setup {
    let mut broker_config = BrokerConfig::default();
    broker_config.set("offsets.topic.num.partitions", &ConfigValue::Int(3)).unwrap();
    broker_config.set("group.initial.rebalance.delay.ms", &ConfigValue::Int(500)).unwrap();
    Setup {
        brokers: 1,
        broker_config,
        topics: vec![TopicSpec {
            name: "t".into(),
            partitions,
            replication_factor: 1,
            config: TopicConfig::default(),
            assignment: None,
        }],
        producers: vec![ProducerSpec { name: "p".into(), ..Default::default() }],
        consumers: (0..members).map(|i| consumer(&format!("c{i}"), strategy, i == 0)).collect(),
        timeline: vec![(
            SimTime::from_ms(100),
            Action::Produce {
                producer: "p".into(),
                topic: "t".into(),
                count: (end_ms / 50).min(2_000),
                key: "random:64".into(),
                value: "v{i}".into(),
                interval_ms: 25.0,
                partition: None,
            },
        )],
        end: SimTime::from_ms(end_ms),
        ..Default::default()
    }
}

/// A membership event at a time: 0 subscribe, 1 close(), 2 crash, 3 restart.
fn membership_events(members: usize) -> impl Strategy<Value = Vec<(u64, usize, u8)>> {
    prop::collection::vec((500u64..25_000, 0..members, 0u8..4), 1..8)
}

fn to_actions(events: &[(u64, usize, u8)]) -> Vec<(SimTime, Action)> {
    events
        .iter()
        .map(|&(at, who, kind)| {
            let name = format!("c{who}");
            let action = match kind {
                0 => Action::Subscribe { consumer: name, topics: vec!["t".into()] },
                1 => Action::CloseClient { client: name },
                2 => Action::CrashClient { client: name },
                _ => Action::RestartClient { client: name },
            };
            (SimTime::from_ms(at), action)
        })
        .collect()
}

fn strategy_name(i: u8) -> &'static str {
    ["range", "roundrobin", "sticky", "cooperative-sticky", "range,cooperative-sticky"][i as usize % 5]
}

/// Partitions each live, subscribed consumer of the group believes it owns.
fn live_owners(w: &World) -> BTreeMap<TopicPartition, Vec<String>> {
    let mut owners: BTreeMap<TopicPartition, Vec<String>> = BTreeMap::new();
    for c in w.consumers.iter().filter(|c| c.alive && !c.subscription.is_empty()) {
        for tp in &c.assignment {
            owners.entry(tp.clone()).or_default().push(c.name.clone());
        }
    }
    owners
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn after_any_join_leave_crash_sequence_the_stable_assignment_gives_every_subscribed_partition_exactly_one_owner(
        seed in 0u64..1_000,
        partitions in 1u32..7,
        members in 2usize..5,
        strategy in 0u8..5,
        events in membership_events(4),
    ) {
        // Events happen before 25 s; sessions (6 s) and rebalances settle well before 60 s.
        let mut s = group_setup(partitions, members, strategy_name(strategy), 60_000);
        let events: Vec<_> = events.into_iter().filter(|e| e.1 < members).collect();
        s.timeline.extend(to_actions(&events));
        s.timeline.sort_by_key(|(t, _)| *t);
        let (mut w, _) = World::new(&s, seed).unwrap();
        w.run_to_end(|_| {}).unwrap();
        let live: Vec<&str> = w
            .consumers
            .iter()
            .filter(|c| c.alive && !c.subscription.is_empty())
            .map(|c| c.name.as_str())
            .collect();
        let coordinator = &w.brokers[0].coordinator;
        let Some(g) = coordinator.groups.get(GROUP) else {
            prop_assert!(live.is_empty(), "live members but no group");
            return Ok(());
        };
        if live.is_empty() {
            prop_assert_eq!(g.state, GroupState::Empty);
            return Ok(());
        }
        prop_assert_eq!(g.state, GroupState::Stable, "members {:?}", live);
        prop_assert!(g.generation >= 1);
        prop_assert!(w.consumers.iter().map(|c| c.stats.records_consumed).sum::<u64>() > 0);
        // The coordinator's members are exactly the live consumers.
        let mut member_clients: Vec<String> = g.members().iter().map(|m| w.node_name(m.client)).collect();
        member_clients.sort();
        let mut expected: Vec<String> = live.iter().map(|s| s.to_string()).collect();
        expected.sort();
        prop_assert_eq!(&member_clients, &expected);
        // Every partition has exactly one owner, in the coordinator's and the consumers' view.
        let mut count: BTreeMap<TopicPartition, u32> = BTreeMap::new();
        for m in g.members() {
            for tp in &m.assignment {
                *count.entry(tp.clone()).or_insert(0) += 1;
            }
        }
        for p in 0..partitions {
            let tp = TopicPartition::new("t", p);
            prop_assert_eq!(count.get(&tp).copied().unwrap_or(0), 1, "{} owners in the coordinator", tp);
        }
        let owners = live_owners(&w);
        for p in 0..partitions {
            let tp = TopicPartition::new("t", p);
            prop_assert_eq!(owners.get(&tp).map(|v| v.len()).unwrap_or(0), 1, "{} owned by {:?}", tp, owners.get(&tp));
        }
    }

    #[test]
    fn cooperative_rebalancing_never_lets_two_live_members_own_a_partition_at_the_same_time(
        seed in 0u64..1_000,
        partitions in 1u32..7,
        members in 2usize..5,
        events in membership_events(4),
    ) {
        let mut s = group_setup(partitions, members, "cooperative-sticky", 35_000);
        let events: Vec<_> = events.into_iter().filter(|e| e.1 < members).collect();
        s.timeline.extend(to_actions(&events));
        s.timeline.sort_by_key(|(t, _)| *t);
        let (mut w, _) = World::new(&s, seed).unwrap();
        let mut rebalances = 0u64;
        while let Some(ev) = w.step() {
            // Checked after every step, from the consumers' own view of what they own.
            for (tp, who) in live_owners(&w) {
                prop_assert!(who.len() <= 1, "step {}: {} owned by {:?}", ev.step, tp, who);
            }
            rebalances += ev.effects.iter().filter(|e| matches!(e, Effect::GroupRebalanced { .. })).count() as u64;
            if w.now > s.end {
                break;
            }
        }
        prop_assert!(rebalances >= 1);
    }

    #[test]
    fn committed_offsets_never_move_backwards_except_by_an_explicit_reset_or_seek(
        seed in 0u64..1_000,
        events in membership_events(3),
        seeks in prop::collection::vec((1_000u64..25_000, 0u32..2, 0u64..50), 0..3),
    ) {
        let mut s = group_setup(2, 3, "range,cooperative-sticky", 35_000);
        s.timeline.extend(to_actions(&events));
        for &(at, p, offset) in &seeks {
            // c0 seeks one of the partitions (it only applies if c0 owns it then).
            s.timeline.push((
                SimTime::from_ms(at),
                Action::Seek { consumer: "c0".into(), partition: format!("t-{p}"), offset },
            ));
        }
        s.timeline.sort_by_key(|(t, _)| *t);
        let (mut w, _) = World::new(&s, seed).unwrap();
        let partition = offsets_partition(partition_for(GROUP, 3));
        let mut last: BTreeMap<TopicPartition, u64> = BTreeMap::new();
        let mut sought: BTreeSet<TopicPartition> = BTreeSet::new();
        while let Some(ev) = w.step() {
            for e in &ev.effects {
                if let Effect::Seeked { tp, .. } = e {
                    sought.insert(tp.clone());
                }
            }
            let b = &w.brokers[0];
            if !matches!(b.replicas.get(&partition).map(|r| &r.role), Some(Role::Leader(_))) {
                continue;
            }
            if let Some(offsets) = b.coordinator.offsets.get(GROUP) {
                for (tp, o) in offsets {
                    if let Some(prev) = last.get(tp) {
                        prop_assert!(
                            o.offset >= *prev || sought.contains(tp),
                            "step {}: committed {} went from {} to {} without a seek", ev.step, tp, prev, o.offset
                        );
                    }
                    last.insert(tp.clone(), o.offset);
                }
            }
            if w.now > s.end {
                break;
            }
        }
        // A case where every member left before the first commit checks nothing.
        prop_assume!(!last.is_empty());
    }
}

fn batch(first_id: u64, kvs: &[(u8, Option<u8>)], ts: i64) -> Arc<BatchData> {
    let records: Vec<Record> = kvs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            id: RecordId(first_id + i as u64),
            offset_delta: i as u32,
            timestamp: ts,
            key: Some(Blob::text(&format!("k{k}"))),
            value: v.map(|v| Blob::text(&format!("v{v}"))),
            headers: vec![],
        })
        .collect();
    let size = 61 + records.iter().map(|r| r.size_in_bytes(0)).sum::<u32>();
    Arc::new(BatchData::new(NO_PRODUCER_ID, 0, NO_SEQUENCE, records, size))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn compaction_keeps_the_latest_value_of_every_key_and_never_renumbers_offsets(
        batches in prop::collection::vec(prop::collection::vec((0u8..6, prop::option::weighted(0.8, 0u8..50)), 1..5), 1..40),
        segment_bytes in 80u64..600,
        passes in prop::collection::vec((0usize..40, 0u64..4_000), 1..4),
        ratio in 0.0f64..0.9,
    ) {
        let cfg = CleanerConfig {
            min_cleanable_dirty_ratio: ratio,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: u64::MAX,
            delete_retention_ms: 1_000,
            segment_bytes,
        };
        let mut log = PartitionLog::default();
        // The log as written: offset -> (record id, key, value).
        let mut written: BTreeMap<u64, (u64, u8, Option<u8>)> = BTreeMap::new();
        let mut next_id = 0u64;
        let mut now_ms = 0u64;
        let mut passes = passes;
        passes.sort();
        let mut pass_iter = passes.into_iter().peekable();
        for (i, kvs) in batches.iter().enumerate() {
            let data = batch(next_id, kvs, now_ms as i64);
            let appended = log.append_as_leader(data, 0, SimTime::from_ms(now_ms), (segment_bytes, u64::MAX));
            for (j, (k, v)) in kvs.iter().enumerate() {
                written.insert(appended.base_offset + j as u64, (next_id + j as u64, *k, *v));
            }
            next_id += kvs.len() as u64;
            log.set_high_watermark(log.log_end_offset());
            now_ms += 100;
            while pass_iter.peek().map(|(at, _)| *at <= i).unwrap_or(false) {
                let (_, extra) = pass_iter.next().unwrap();
                let now = SimTime::from_ms(now_ms + extra);
                let ltc = log.log_to_clean(now, &cfg);
                if ltc.should_clean(&cfg) {
                    log.clean(&ltc, now, &cfg);
                }
            }
        }
        let leo_before = written.keys().last().map(|o| o + 1).unwrap_or(0);
        prop_assert_eq!(log.log_end_offset(), leo_before, "the log end never moves");
        // Every record still in the log sits at the offset it was written at, in order.
        let mut prev: Option<u64> = None;
        let mut present: BTreeMap<u64, RecordId> = BTreeMap::new();
        for b in log.batches() {
            for (offset, r) in b.records() {
                prop_assert!(prev.map(|p| offset > p).unwrap_or(true), "offsets must increase");
                prev = Some(offset);
                let (id, _, _) = written[&offset];
                prop_assert_eq!(r.id, RecordId(id), "offset {} renumbered", offset);
                present.insert(offset, r.id);
            }
        }
        // The latest value of every key is still there, wherever the cleaner has been.
        let mut latest: BTreeMap<u8, (u64, Option<u8>)> = BTreeMap::new();
        for (offset, (_, k, v)) in &written {
            latest.insert(*k, (*offset, *v));
        }
        for (k, (offset, v)) in latest {
            if v.is_some() {
                prop_assert!(present.contains_key(&offset), "latest value of k{} at {} was removed", k, offset);
            }
        }
        // Below the cleaner's checkpoint, no key has an older record than its latest.
        let cleaned = log.cleaned_to();
        let mut seen: BTreeSet<u8> = BTreeSet::new();
        for offset in present.keys().rev().filter(|o| **o < cleaned) {
            let (_, k, _) = written[offset];
            prop_assert!(!seen.contains(&k), "k{} has a superseded record at {} below {}", k, offset, cleaned);
            seen.insert(k);
        }
    }
}
