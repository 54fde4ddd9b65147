//! Consumer-group behaviours through the whole simulation: static membership, close() versus
//! a crash, manual assignment with a group id, pause/resume, seek, acks=all offset commits,
//! and snapshots of runs with groups.
use sandbox_core::action::Action;
use sandbox_core::config::{BrokerConfig, ConfigValue, ConsumerConfig, TopicConfig};
use sandbox_core::consumer::Position;
use sandbox_core::group::coordinator::GroupState;
use sandbox_core::network::NodeId;
use sandbox_core::record::TopicPartition;
use sandbox_core::sim::time::SimTime;
use sandbox_core::trace::{Cause, Effect, TraceEvent};
use sandbox_core::world::{ConsumerSpec, ProducerSpec, Setup, TopicSpec, World};

fn consumer(name: &str, extra: &[(&str, &str)], subscribe: bool) -> ConsumerSpec {
    let mut c = ConsumerConfig::default();
    c.set("group.id", &ConfigValue::Str("g".into())).unwrap();
    c.set("auto.offset.reset", &ConfigValue::Str("earliest".into())).unwrap();
    for (k, v) in extra {
        c.set(k, &ConfigValue::Str((*v).into())).unwrap();
    }
    c.validate().unwrap();
    ConsumerSpec {
        name: name.into(),
        config: c,
        subscribe: if subscribe { vec!["t".into()] } else { Vec::new() },
        ..Default::default()
    }
}

fn setup(brokers: u32, partitions: u32, consumers: Vec<ConsumerSpec>, end_ms: u64) -> Setup {
    let mut broker_config = BrokerConfig::default();
    broker_config.set("offsets.topic.num.partitions", &ConfigValue::Int(5)).unwrap();
    Setup {
        brokers,
        broker_config,
        topics: vec![TopicSpec {
            name: "t".into(),
            partitions,
            replication_factor: brokers,
            config: TopicConfig::default(),
            assignment: None,
        }],
        producers: vec![ProducerSpec { name: "p".into(), ..Default::default() }],
        consumers,
        timeline: vec![(
            SimTime::from_ms(100),
            Action::Produce {
                producer: "p".into(),
                topic: "t".into(),
                count: end_ms / 100,
                key: "random:50".into(),
                value: "v{i}".into(),
                interval_ms: 90.0,
                partition: None,
            },
        )],
        end: SimTime::from_ms(end_ms),
        ..Default::default()
    }
}

fn at(ms: u64, action: Action) -> (SimTime, Action) {
    (SimTime::from_ms(ms), action)
}

fn run(s: &Setup) -> (World, Vec<TraceEvent>) {
    let (mut w, boot) = World::new(s, 1).unwrap();
    let mut trace = vec![boot];
    w.run_to_end(|e| trace.push(e.clone())).unwrap();
    (w, trace)
}

fn rebalances(trace: &[TraceEvent]) -> Vec<(SimTime, i32)> {
    trace
        .iter()
        .flat_map(|e| {
            e.effects.iter().filter_map(move |x| match x {
                Effect::GroupRebalanced { generation, .. } => Some((e.time, *generation)),
                _ => None,
            })
        })
        .collect()
}

fn group(w: &World) -> &sandbox_core::group::coordinator::ClassicGroup {
    w.brokers.iter().find_map(|b| b.coordinator.groups.get("g")).expect("the group exists")
}

#[test]
fn a_static_member_restarting_within_the_session_timeout_keeps_its_partitions_without_a_rebalance() {
    let members = vec![
        consumer("a", &[("group.instance.id", "instance-a")], true),
        consumer("b", &[("group.instance.id", "instance-b")], true),
    ];
    let mut s = setup(1, 4, members, 40_000);
    s.timeline.push(at(10_000, Action::CrashClient { client: "a".into() }));
    s.timeline.push(at(15_000, Action::RestartClient { client: "a".into() }));
    let (w, trace) = run(&s);
    assert_eq!(rebalances(&trace).len(), 1, "only the initial rebalance: {:?}", rebalances(&trace));
    let g = group(&w);
    assert_eq!((g.state, g.generation), (GroupState::Stable, 1));
    let a = &w.consumers[0];
    assert!(a.alive);
    assert_eq!(a.assignment.len(), 2, "the restarted static member got its partitions back");
    // It rejoined under a new member id that starts with its instance id.
    let m = g.members().iter().find(|m| m.group_instance_id.as_deref() == Some("instance-a")).unwrap();
    assert!(m.member_id.starts_with("instance-a-"));
    assert_eq!(m.client, NodeId::Consumer(0));
}

#[test]
fn a_static_member_away_longer_than_its_session_timeout_is_removed_and_the_group_rebalances() {
    let members = vec![
        consumer("a", &[("group.instance.id", "instance-a"), ("session.timeout.ms", "10000")], true),
        consumer("b", &[("group.instance.id", "instance-b"), ("session.timeout.ms", "10000")], true),
    ];
    let mut s = setup(1, 4, members, 60_000);
    s.timeline.push(at(10_000, Action::CrashClient { client: "a".into() }));
    s.timeline.push(at(40_000, Action::RestartClient { client: "a".into() }));
    let (w, trace) = run(&s);
    let r = rebalances(&trace);
    // Initial, after a's session expired (b alone), after a came back.
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[1].0 >= SimTime::from_ms(19_000) && r[1].0 < SimTime::from_ms(40_000), "{r:?}");
    assert_eq!(group(&w).generation, 3);
    assert_eq!(w.consumers[1].assignment.len(), 2);
}

#[test]
fn close_leaves_the_group_at_once_while_a_crash_waits_for_the_session_timeout() {
    let members = || vec![consumer("a", &[], true), consumer("b", &[], true)];
    let mut closed = setup(1, 4, members(), 30_000);
    closed.timeline.push(at(10_000, Action::CloseClient { client: "a".into() }));
    let (wc, tc) = run(&closed);
    let r = rebalances(&tc);
    assert_eq!(r.len(), 2);
    // LeaveGroup starts the rebalance at once; b hears of it at its next heartbeat (3 s).
    assert!(r[1].0 < SimTime::from_ms(13_100), "{r:?}");
    assert_eq!(wc.consumers[1].assignment.len(), 4);
    assert!(!wc.consumers[0].alive);
    // close() committed its positions: b picks up exactly there, nothing is read twice.
    let d = &wc.ledger.deliveries["g"];
    assert!(d.counts.iter().all(|&c| c <= 1), "no duplicates after a clean close");

    let mut crashed = setup(1, 4, members(), 70_000);
    crashed.timeline.push(at(10_000, Action::CrashClient { client: "a".into() }));
    let (_, tk) = run(&crashed);
    let r = rebalances(&tk);
    assert_eq!(r.len(), 2);
    // The last heartbeat before the crash was at most 3 s earlier; the session is 45 s.
    assert!(r[1].0 >= SimTime::from_ms(52_000) && r[1].0 <= SimTime::from_ms(56_000), "{r:?}");
}

#[test]
fn a_manually_assigned_consumer_with_a_group_id_commits_and_a_restart_resumes_from_the_commit() {
    let mut c = consumer("manual", &[("auto.commit.interval.ms", "1000")], false);
    c.assign = (0..2).map(|p| TopicPartition::new("t", p)).collect();
    let mut s = setup(1, 2, vec![c], 30_000);
    s.timeline.push(at(10_050, Action::CrashClient { client: "manual".into() }));
    s.timeline.push(at(12_000, Action::RestartClient { client: "manual".into() }));
    let (w, trace) = run(&s);
    // Commits with generation -1 are accepted for a group without members.
    let g = group(&w);
    assert_eq!(g.state, GroupState::Empty);
    assert!(w.consumers[0].stats.commits > 10);
    // The restart resumed from the committed offsets, not from the beginning.
    let resumed = trace.iter().flat_map(|e| e.effects.iter()).any(
        |e| matches!(e, Effect::OffsetReset { reason, offset, .. } if reason == "committed offset" && *offset > 0),
    );
    assert!(resumed);
    let d = &w.ledger.deliveries["g"];
    let twice = d.counts.iter().filter(|&&c| c > 1).count();
    assert!(twice <= 12, "at most one auto-commit interval is read again, got {twice}");
}

#[test]
fn pause_stops_returning_records_and_resume_restarts_them() {
    let mut s = setup(1, 1, vec![consumer("a", &[], true)], 30_000);
    s.timeline.push(at(8_000, Action::Pause { consumer: "a".into(), partitions: vec!["t-0".into()] }));
    s.timeline.push(at(20_000, Action::Resume { consumer: "a".into(), partitions: vec!["t-0".into()] }));
    let (w, trace) = run(&s);
    let read_while_paused = trace.iter().any(|e| {
        e.time > SimTime::from_ms(8_100)
            && e.time < SimTime::from_ms(20_000)
            && e.effects.iter().any(|x| matches!(x, Effect::RecordsConsumed { .. }))
    });
    assert!(!read_while_paused);
    assert_eq!(
        w.consumers[0]
            .lag(|_| Some(w.consumers[0].high_watermarks[&TopicPartition::new("t", 0)]))
            .values()
            .sum::<u64>(),
        0
    );
    assert!(w.consumers[0].paused.is_empty());
}

#[test]
fn seek_rewinds_the_position_and_the_records_are_processed_again() {
    let mut s = setup(1, 1, vec![consumer("a", &[], true)], 20_000);
    s.timeline.push(at(12_000, Action::Seek { consumer: "a".into(), partition: "t-0".into(), offset: 10 }));
    let (w, _) = run(&s);
    let d = &w.ledger.deliveries["g"];
    let twice = d.counts.iter().filter(|&&c| c == 2).count();
    assert!(twice >= 90, "records from offset 10 on were read again: {twice}");
    assert!(matches!(w.consumers[0].positions[&TopicPartition::new("t", 0)], Position::At(_)));
}

#[test]
fn an_offset_commit_is_answered_only_once_every_in_sync_replica_has_it() {
    // Both followers of every partition fetch 2 s late: a commit (acks=all inside the
    // broker) cannot be answered before they have the record.
    let mut s = setup(3, 1, vec![consumer("a", &[], true)], 30_000);
    s.timeline.push(at(1, Action::SlowFollower { broker: 1, delay_ms: 2_000.0 }));
    s.timeline.push(at(1, Action::SlowFollower { broker: 2, delay_ms: 2_000.0 }));
    s.timeline.push(at(1, Action::SlowFollower { broker: 3, delay_ms: 2_000.0 }));
    let (_, trace) = run(&s);
    let mut sent: Vec<SimTime> = Vec::new();
    let mut answered: Vec<SimTime> = Vec::new();
    for e in &trace {
        if let Cause::Deliver { kind, .. } = &e.cause {
            match kind.as_ref() {
                "OffsetCommit" => sent.push(e.time),
                "OffsetCommitResponse" => answered.push(e.time),
                _ => {}
            }
        }
    }
    assert!(!answered.is_empty());
    for (s, a) in sent.iter().zip(&answered) {
        assert!(a.since(*s).as_ms() >= 1_000, "commit at {s} answered at {a}");
    }
}

#[test]
fn a_run_with_groups_snapshots_to_json_and_continues_identically() {
    let members = vec![
        consumer("a", &[], true),
        consumer("b", &[("partition.assignment.strategy", "cooperative-sticky")], false),
    ];
    let mut s = setup(3, 4, members, 40_000);
    s.consumers[0].config.set("partition.assignment.strategy", &ConfigValue::Str("cooperative-sticky".into())).unwrap();
    s.timeline.push(at(9_000, Action::Subscribe { consumer: "b".into(), topics: vec!["t".into()] }));
    s.timeline.push(at(20_000, Action::Crash { broker: 1 }));
    let (mut original, _) = World::new(&s, 3).unwrap();
    original.run_until(SimTime::from_ms(12_345), |_| {}).unwrap();
    let json = serde_json::to_string(&original).unwrap();
    let mut restored: World = serde_json::from_str(&json).unwrap();
    original.run_to_end(|_| {}).unwrap();
    restored.run_to_end(|_| {}).unwrap();
    assert_eq!(original.digest(), restored.digest());
}

#[test]
fn an_added_consumer_joins_its_models_group_and_takes_half_the_partitions() {
    let mut s = setup(3, 4, vec![consumer("a", &[("group.instance.id", "instance-a")], true)], 40_000);
    s.timeline.push(at(10_000, Action::AddConsumer { name: "a2".into(), like: "a".into() }));
    let (w, trace) = run(&s);
    let r = rebalances(&trace);
    assert_eq!(r.len(), 2, "the first join, then the new member's: {r:?}");
    assert!(r[1].0 > SimTime::from_ms(10_000), "{r:?}");
    let (a, a2) = (&w.consumers[0], &w.consumers[1]);
    assert_eq!((a.name.as_str(), a2.name.as_str()), ("a", "a2"));
    assert_eq!((a.assignment.len(), a2.assignment.len()), (2, 2), "range splits 4 partitions 2/2");
    assert!(a2.stats.records_consumed > 0);
    // Its own static identity: the model's would have fenced the model.
    assert_eq!(a2.config.group_instance_id.as_deref(), Some("a2"));
    assert_eq!(group(&w).members().len(), 2);
    let started = trace.iter().flat_map(|e| &e.effects).filter(|e| matches!(e, Effect::ClientStarted { .. })).count();
    assert_eq!(started, 1);
    // Same run again: the same digest (the new client's randomness is its index's stream).
    assert_eq!(run(&s).0.digest(), w.digest());
}

#[test]
fn add_consumer_is_refused_without_a_group_to_join_or_a_free_name() {
    let mut manual = consumer("m", &[], false);
    manual.assign = vec![TopicPartition::new("t", 0)];
    let s = setup(1, 2, vec![consumer("a", &[], true), manual], 1_000);
    let (w, _) = World::new(&s, 1).unwrap();
    let refused = |name: &str, like: &str| {
        w.validate(&Action::AddConsumer { name: name.into(), like: like.into() }).expect_err(name).0
    };
    assert!(refused("x", "m").contains("no group to join"));
    assert!(refused("x", "nobody").contains("nobody"));
    assert!(refused("a", "a").contains("exists already"));
    assert!(refused("p", "a").contains("exists already"), "a producer's name is taken too");
    assert!(refused("b2", "a").contains("cannot name a client"));
    assert!(refused("controller", "a").contains("cannot name a client"));
    assert!(w.validate(&Action::AddConsumer { name: "a2".into(), like: "a".into() }).is_ok());
}

#[test]
fn a_client_cannot_write_to_an_internal_topic() {
    let mut s = setup(1, 1, vec![consumer("a", &[], true)], 5_000);
    s.timeline.clear();
    s.timeline.push(at(
        1_000,
        Action::Send {
            producer: "p".into(),
            topic: "__consumer_offsets".into(),
            key: Some("k".into()),
            value: Some("garbage".into()),
            partition: Some(0),
        },
    ));
    let (w, trace) = run(&s);
    let rejected = trace.iter().flat_map(|e| &e.effects).any(|e| {
        matches!(e, Effect::ProduceRejected { error: sandbox_core::error::ErrorCode::INVALID_TOPIC_EXCEPTION, .. })
    });
    assert!(rejected, "the broker refuses the append");
    assert_eq!(w.producers[0].stats.records_failed, 1, "not retriable: the send fails");
    assert_eq!(w.producers[0].stats.records_acked, 0);
}
