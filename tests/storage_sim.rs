//! Retention and compaction through the whole simulation.
use sandbox_core::action::Action;
use sandbox_core::config::{BrokerConfig, ConfigValue, TopicConfig};
use sandbox_core::record::TopicPartition;
use sandbox_core::sim::time::SimTime;
use sandbox_core::trace::Effect;
use sandbox_core::world::{ProducerSpec, Setup, TopicSpec, World};

fn compacted_setup(end_ms: u64) -> Setup {
    let mut topic = TopicConfig::default();
    for (k, v) in [("cleanup.policy", "compact"), ("segment.bytes", "1200"), ("delete.retention.ms", "5000")] {
        topic.set(k, &ConfigValue::Str(v.into())).unwrap();
    }
    topic.validate().unwrap();
    let mut broker_config = BrokerConfig::default();
    broker_config.set("log.cleaner.backoff.ms", &ConfigValue::Int(2_000)).unwrap();
    Setup {
        brokers: 3,
        broker_config,
        topics: vec![TopicSpec {
            name: "kv".into(),
            partitions: 1,
            replication_factor: 3,
            config: topic,
            assignment: Some(vec![vec![1, 2, 3]]),
        }],
        producers: vec![ProducerSpec { name: "p".into(), ..Default::default() }],
        timeline: vec![(
            SimTime::from_ms(100),
            Action::Produce {
                producer: "p".into(),
                topic: "kv".into(),
                count: 1_500,
                key: "cycle:10".into(),
                value: "value-{i}".into(),
                interval_ms: 20.0,
                partition: None,
            },
        )],
        end: SimTime::from_ms(end_ms),
        ..Default::default()
    }
}

#[test]
fn a_follower_that_was_down_catches_up_across_the_gaps_compaction_left_in_the_leader_log() {
    let mut s = compacted_setup(90_000);
    s.timeline.push((SimTime::from_ms(2_000), Action::Crash { broker: 3 }));
    s.timeline.push((SimTime::from_ms(50_000), Action::Restart { broker: 3 }));
    let (mut w, _) = World::new(&s, 1).unwrap();
    let mut cleaned_on_leader_while_down = false;
    w.run_to_end(|e| {
        for x in &e.effects {
            if let Effect::LogCleaned { broker: 1, records_removed, .. } = x {
                if e.time < SimTime::from_ms(50_000) && *records_removed > 0 {
                    cleaned_on_leader_while_down = true;
                }
            }
        }
    })
    .unwrap();
    assert!(cleaned_on_leader_while_down);
    assert!(w.invariants.all_held(), "{:?}", w.invariants.states);
    let tp = TopicPartition::new("kv", 0);
    let view = w.partition_view(&tp).unwrap();
    let leo: Vec<u64> = view.replicas.iter().map(|r| r.leo).collect();
    assert_eq!(leo, vec![1_500, 1_500, 1_500], "every replica reached the log end");
    assert_eq!(view.isr.len(), 3, "the follower is back in sync");
    // The follower copied a compacted log: far fewer records than offsets.
    let b3 = &w.broker(3).unwrap().replicas[&tp].log;
    assert!(b3.record_count() < 1_000, "{}", b3.record_count());
    // Each replica compacts its own log, and all keep every key's latest value.
    for b in 1..=3 {
        let log = &w.broker(b).unwrap().replicas[&tp].log;
        let last = log.record_at(1_499).map(|r| r.value.clone());
        assert!(last.is_some(), "b{b} holds the last record");
    }
}
