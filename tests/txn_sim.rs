//! Transactions on whole runs: the shipped scenario's committed/aborted split, and
//! read_committed consumers under random commit/abort/crash schedules.
use proptest::prelude::*;
use sandbox_core::action::Action;
use sandbox_core::history::{check, run_recorded, Allowances, AnomalyKind};
use sandbox_core::ledger::Outcome;
use sandbox_core::record::RecordId;
use sandbox_core::scenario::Scenario;
use sandbox_core::sim::time::SimTime;
use sandbox_core::world::{Setup, World};

fn scenario() -> Scenario {
    let path = format!("{}/scenarios/transactions/read-committed-vs-uncommitted.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    Scenario::parse(&path, &text).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum End {
    Commit,
    Abort,
    /// The producer crashes with the transaction open and restarts 2 s later.
    Crash,
}

/// The scenario's cluster and clients with a timeline of transactions: each begins, sends
/// `n` records, then ends as drawn, 3 s apart.
fn schedule(txns: &[(u64, End)]) -> Setup {
    let mut setup = scenario().setup.clone();
    setup.timeline.clear();
    let p = || "tx-writer".to_string();
    let mut t = 1_000u64;
    for (i, (n, end)) in txns.iter().enumerate() {
        setup.timeline.push((SimTime::from_ms(t), Action::BeginTransaction { producer: p() }));
        setup.timeline.push((
            SimTime::from_ms(t),
            Action::Produce {
                producer: p(),
                topic: "orders".into(),
                count: *n,
                key: "seq".into(),
                value: format!("t{i}-{{i}}"),
                interval_ms: 0.0,
                partition: None,
            },
        ));
        let at = SimTime::from_ms(t + 1_000);
        match end {
            End::Commit => setup.timeline.push((at, Action::CommitTransaction { producer: p() })),
            End::Abort => setup.timeline.push((at, Action::AbortTransaction { producer: p() })),
            End::Crash => {
                setup.timeline.push((at, Action::CrashClient { client: p() }));
                setup.timeline.push((SimTime::from_ms(t + 3_000), Action::RestartClient { client: p() }));
                t += 3_000;
            }
        }
        t += 3_000;
    }
    setup.end = SimTime::from_ms(t + 80_000);
    setup
}

/// Record ids (in send order) the consumer `name` returned, sorted.
fn ids_read(world: &World, name: &str) -> Vec<u64> {
    let c = world.consumers.iter().position(|c| c.name == name).unwrap() as u32;
    let mut ids: Vec<u64> = world.ledger.polls.iter().filter(|p| p.consumer == c).map(|p| p.id.0).collect();
    ids.sort();
    ids
}

#[test]
fn the_shipped_scenario_hides_aborted_and_crashed_transactions_from_read_committed() {
    let s = scenario();
    let (mut world, _) = World::new(&s.setup, s.seed).unwrap();
    let history = run_recorded(&mut world).unwrap();
    let report = check(&history, &Allowances::strict());
    assert_eq!(report.count(AnomalyKind::AbortedRead), 0, "{}", report.to_text());
    assert!(report.kinds.iter().any(|k| k.kind == AnomalyKind::AbortedRead && k.applicable));
    // Sends in order: 3 committed (ids 0..3), 3 aborted, 2 in the crashed transaction,
    // 2 committed after the restart (ids 8, 9).
    assert_eq!(ids_read(&world, "clean"), vec![0, 1, 2, 8, 9]);
    assert_eq!(ids_read(&world, "dirty"), (0..10).collect::<Vec<u64>>());
    // Every partition's LSO caught up with its HW once the crashed transaction was aborted.
    for b in &world.brokers {
        for r in b.replicas.values() {
            assert!(r.log.last_stable_offset() <= r.log.high_watermark());
            assert_eq!(r.log.first_unstable_offset(), None);
        }
    }
}

#[test]
fn a_transaction_left_open_is_aborted_by_the_coordinator_after_its_timeout() {
    // The producer crashes and never comes back: transaction.timeout.ms (60 s) aborts it.
    let mut setup = schedule(&[(3, End::Commit)]);
    let at = SimTime::from_ms(5_000);
    setup.timeline.push((at, Action::BeginTransaction { producer: "tx-writer".into() }));
    setup.timeline.push((
        at,
        Action::Send {
            producer: "tx-writer".into(),
            topic: "orders".into(),
            key: Some("k".into()),
            value: Some("orphan".into()),
            partition: None,
        },
    ));
    setup.timeline.push((SimTime::from_ms(6_000), Action::CrashClient { client: "tx-writer".into() }));
    setup.end = SimTime::from_ms(90_000);
    let (mut world, _) = World::new(&setup, 1).unwrap();
    let mut fenced_by_timeout = false;
    sandbox_core::history::HistoryRecorder::enable(&mut world);
    world
        .run_to_end(|ev| {
            fenced_by_timeout |= ev.effects.iter().any(|e| e.to_string().contains("transaction.timeout.ms"));
        })
        .unwrap();
    assert!(fenced_by_timeout);
    // The orphan is record 3: acknowledged, read by dirty, never by clean.
    assert!(matches!(world.ledger.records[3].outcome, Outcome::Acked { .. }), "{:?}", RecordId(3));
    assert_eq!(ids_read(&world, "clean"), vec![0, 1, 2]);
    assert_eq!(ids_read(&world, "dirty"), vec![0, 1, 2, 3]);
}

#[test]
fn a_second_instance_with_the_same_transactional_id_fences_the_first() {
    let mut setup = schedule(&[]);
    let mut twin = setup.producers[0].clone();
    twin.name = "tx-twin".into();
    setup.producers.push(twin);
    // The twin starts later, so its initTransactions() bumps the epoch past the first's.
    setup.timeline.push((SimTime::from_ms(500), Action::CrashClient { client: "tx-twin".into() }));
    setup.timeline.push((SimTime::from_ms(600), Action::RestartClient { client: "tx-twin".into() }));
    for (at, producer) in [(1_000, "tx-writer"), (1_000, "tx-twin")] {
        setup.timeline.push((SimTime::from_ms(at), Action::BeginTransaction { producer: producer.into() }));
        setup.timeline.push((
            SimTime::from_ms(at),
            Action::Send {
                producer: producer.into(),
                topic: "orders".into(),
                key: Some(producer.into()),
                value: Some(producer.into()),
                partition: None,
            },
        ));
        setup.timeline.push((SimTime::from_ms(at + 1_000), Action::CommitTransaction { producer: producer.into() }));
    }
    setup.timeline.sort_by_key(|(t, _)| *t);
    setup.end = SimTime::from_ms(10_000);
    let (mut world, _) = World::new(&setup, 1).unwrap();
    let mut fenced = Vec::new();
    world
        .run_to_end(|ev| {
            for e in &ev.effects {
                if let sandbox_core::trace::Effect::ProducerFenced { producer, .. } = e {
                    fenced.push(*producer);
                }
            }
        })
        .unwrap();
    use sandbox_core::producer::TxnClientState;
    assert_eq!(fenced, vec![0], "only the older instance is fenced");
    assert_eq!(world.producers[0].transaction_state(), Some(TxnClientState::FatalError));
    assert_eq!(world.producers[1].transaction_state(), Some(TxnClientState::Ready));
    // The fenced instance's record never became readable to read_committed.
    assert!(matches!(world.ledger.records[0].outcome, Outcome::Failed { .. }), "{:?}", world.ledger.records[0].outcome);
}

#[test]
fn transaction_actions_on_a_producer_without_transactional_id_fail_with_a_clear_error() {
    let mut setup = schedule(&[]);
    setup.producers[0].config = sandbox_core::config::ProducerConfig::default();
    setup.timeline.push((SimTime::from_ms(10), Action::BeginTransaction { producer: "tx-writer".into() }));
    setup.end = SimTime::from_ms(100);
    let (mut world, _) = World::new(&setup, 1).unwrap();
    let mut notes = Vec::new();
    world.run_to_end(|ev| notes.extend(ev.effects.iter().map(|e| e.to_string()))).unwrap();
    assert!(
        notes.iter().any(|n| n.contains("tx-writer.beginTransaction()") && n.contains("has no transactional.id")),
        "{notes:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn read_committed_consumers_never_see_aborted_records(
        txns in prop::collection::vec((1u64..5, prop_oneof![Just(End::Commit), Just(End::Abort), Just(End::Crash)]), 1..5),
        seed in 1u64..1000,
    ) {
        let setup = schedule(&txns);
        let (mut world, _) = World::new(&setup, seed).unwrap();
        let history = run_recorded(&mut world).unwrap();
        let report = check(&history, &Allowances::strict());
        prop_assert_eq!(report.count(AnomalyKind::AbortedRead), 0, "{}", report.to_text());
        // What clean read is exactly what committed, in each partition's order.
        let committed: Vec<usize> =
            txns.iter().enumerate().filter(|(_, (_, e))| matches!(e, End::Commit)).map(|(i, _)| i).collect();
        let starts: Vec<u64> = txns.iter().scan(0u64, |acc, (n, _)| { let s = *acc; *acc += n; Some(s) }).collect();
        let expected: Vec<u64> =
            committed.iter().flat_map(|&i| starts[i]..starts[i] + txns[i].0).collect();
        prop_assert_eq!(ids_read(&world, "clean"), expected);
        for b in &world.brokers {
            for r in b.replicas.values() {
                prop_assert!(r.log.last_stable_offset() <= r.log.high_watermark());
            }
        }
    }
}
