//! Kafka Streams applications running in the simulated cluster: tasks, changelogs, commits.
use proptest::prelude::*;
use sandbox_core::scenario::run::execute;
use sandbox_core::scenario::Scenario;
use sandbox_core::summary::StreamsAppSummary;

/// A counting application on a `partitions`-partition topic with `instances` instances
/// (`start` of them at boot, the others started at 20 s), `records` rides keyed by pickup
/// location, and extra timeline entries.
fn count_app(partitions: u32, instances: u32, start: u32, records: u32, extra: &str) -> String {
    let mut late = String::new();
    for n in start + 1..=instances {
        late.push_str(&format!("[[at]]\nat_ms = 20000\naction = \"restart_client\"\nclient = \"counts-{n}\"\n\n"));
    }
    format!(
        r#"name = "count-app"
duration_ms = 120000

[cluster]
brokers = 3

[[topic]]
name = "rides"
partitions = {partitions}
replication_factor = 3

[[topic]]
name = "out"
partitions = {partitions}
replication_factor = 3

[[producer]]
name = "p"

[[streams_app]]
application_id = "counts"
instances = {instances}
start_instances = {start}
commit_interval_ms = 7000
topology = '''{{"application_id": "counts", "steps": [
  {{"op": "stream", "name": "rides", "topics": ["rides"]}},
  {{"op": "group_by_key", "name": "g", "input": "rides"}},
  {{"op": "count", "name": "c", "store": "counts-store", "input": "g"}},
  {{"op": "to_stream", "name": "s", "input": "c"}},
  {{"op": "to", "input": "s", "topic": "out"}}]}}'''

[[at]]
at_ms = 5000
action = "produce"
producer = "p"
topic = "rides"
count = {records}
key = "ride:PULocationID"
value = "ride"
interval_ms = 20

{late}{extra}"#
    )
}

fn run(text: &str, seed: u64) -> StreamsAppSummary {
    let scenario = Scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let (_, verdict) = execute(&scenario, seed, None, |_, _| {}).expect("runs");
    verdict.summary.streams.into_iter().next().expect("one app")
}

fn total_count(app: &StreamsAppSummary) -> u64 {
    app.stores["counts-store"].iter().map(|r| r.value.parse::<u64>().expect("a count")).sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Without faults, and across a scale-out rebalance that moves tasks (their stores
    /// restored from the changelogs), every record is counted exactly once, under either
    /// processing guarantee.
    #[test]
    fn counts_equal_records_across_scale_out_without_faults(
        seed in 0u64..1000,
        partitions in 1u32..=4,
        instances in 1u32..=3,
        late in 0u32..=1,
        exactly_once in proptest::bool::ANY,
    ) {
        let start = instances.saturating_sub(late).max(1);
        let mut text = count_app(partitions, instances, start, 300, "");
        if exactly_once {
            text = text.replace("commit_interval_ms = 7000", "processing_guarantee = \"exactly_once_v2\"");
        }
        let app = run(&text, seed);
        prop_assert_eq!(app.processed, 300);
        prop_assert_eq!(app.reprocessed, 0);
        prop_assert_eq!(total_count(&app), 300);
        // Every partition has exactly one task, on a running instance.
        let tasks: usize = app.instances.iter().map(|i| i.tasks.len()).sum();
        prop_assert_eq!(tasks, partitions as usize);
        // The last update per key on the output topic is the count in the store.
        for row in &app.stores["counts-store"] {
            let out = app.outputs["out"].iter().find(|k| k.key == row.key).expect("key written");
            prop_assert_eq!(out.last_value.as_deref(), Some(row.value.as_str()));
        }
    }
}

/// The counting application with `processing.guarantee=exactly_once_v2` (commits every
/// 100 ms, Streams' exactly-once default).
fn eos_count_app(partitions: u32, instances: u32, records: u32, extra: &str) -> String {
    count_app(partitions, instances, instances, records, extra)
        .replace("commit_interval_ms = 7000", "processing_guarantee = \"exactly_once_v2\"")
}

/// What a read_committed reader of the output sees matches the store: one update per
/// record, and each key's last update is its count.
fn assert_output_matches_store(app: &StreamsAppSummary, records: u64) {
    let total: u64 = app.outputs["out"].iter().map(|k| k.records).sum();
    assert_eq!(total, records, "one committed update per record");
    for row in &app.stores["counts-store"] {
        let out = app.outputs["out"].iter().find(|k| k.key == row.key).expect("key written");
        assert_eq!(out.last_value.as_deref(), Some(row.value.as_str()), "key {}", row.key);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// exactly_once_v2: whenever an instance dies (and whether or not it comes back), or its
    /// producer is cut off long enough to be fenced, the records of the lost transaction are
    /// processed again but counted once: the counts sum to the number of records and the
    /// committed output agrees with the stores.
    #[test]
    fn exactly_once_counts_equal_records_under_any_crash_or_fencing(
        seed in 0u64..1000,
        partitions in 1u32..=3,
        instances in 2u32..=3,
        at_ms in 6_000u64..30_000,
        fault in 0u8..3,
        cut_ms in 5_000u64..20_000,
    ) {
        let extra = match fault {
            0 => format!("[[at]]\nat_ms = {at_ms}\naction = \"crash_client\"\nclient = \"counts-1\"\n"),
            1 => format!(
                "[[at]]\nat_ms = {at_ms}\naction = \"crash_client\"\nclient = \"counts-1\"\n\n\
                 [[at]]\nat_ms = {}\naction = \"restart_client\"\nclient = \"counts-1\"\n",
                at_ms + 3_000
            ),
            _ => format!(
                "[[at]]\nat_ms = {at_ms}\naction = \"isolate\"\nnode = \"counts-1-producer\"\n\n\
                 [[at]]\nat_ms = {}\naction = \"heal\"\n",
                at_ms + cut_ms
            ),
        };
        let app = run(&eos_count_app(partitions, instances, 600, &extra), seed);
        prop_assert_eq!(total_count(&app), 600);
        prop_assert!(app.processed >= 600);
        let total: u64 = app.outputs["out"].iter().map(|k| k.records).sum();
        prop_assert_eq!(total, 600, "one committed update per record");
        for row in &app.stores["counts-store"] {
            let out = app.outputs["out"].iter().find(|k| k.key == row.key).expect("key written");
            prop_assert_eq!(out.last_value.as_deref(), Some(row.value.as_str()));
        }
    }
}

#[test]
fn exactly_once_commits_transactions_and_counts_each_record_once_without_faults() {
    let app = run(&eos_count_app(2, 2, 500, ""), 11);
    assert_eq!(app.processing_guarantee, "exactly_once_v2");
    assert_eq!(app.processed, 500);
    assert_eq!(app.reprocessed, 0);
    assert_eq!(total_count(&app), 500);
    assert_output_matches_store(&app, 500);
    for i in &app.instances {
        assert!(i.transactions_committed > 1, "{} commits every 100 ms: {}", i.name, i.transactions_committed);
        assert_eq!(i.transactions_aborted, 0);
    }
}

#[test]
fn a_producer_fenced_after_transaction_timeout_rewinds_and_counts_each_record_once() {
    // The producer is cut off longer than transaction.timeout.ms (10 s): the coordinator
    // aborts its transaction and bumps the epoch; after the heal it is fenced.
    let cut = "[[at]]\nat_ms = 15000\naction = \"isolate\"\nnode = \"counts-1-producer\"\n\n\
               [[at]]\nat_ms = 30000\naction = \"heal\"\n";
    let app = run(&eos_count_app(2, 2, 1500, cut), 5);
    let fenced = &app.instances[0];
    assert_eq!(fenced.transactions_aborted, 1, "the open transaction was lost");
    assert!(app.reprocessed > 0, "the instance rewound to its committed offsets");
    assert!(app.restored > 0, "its tasks closed dirty and restored from the changelog");
    assert_eq!(total_count(&app), 1500);
    assert_output_matches_store(&app, 1500);
    assert!(!fenced.tasks.is_empty(), "the instance runs again with a new producer");
}

#[test]
fn a_crash_after_output_and_before_commit_reprocesses_and_overcounts() {
    let crash = "[[at]]\nat_ms = 15000\naction = \"crash_client\"\nclient = \"counts-1\"\n";
    let app = run(&count_app(2, 2, 2, 1500, crash), 3);
    assert!(app.reprocessed > 0, "the new owner processes uncommitted records again");
    assert!(total_count(&app) > 1500, "at-least-once: some rides counted twice ({})", total_count(&app));
    assert!(app.restored > 0, "the surviving instance rebuilt the moved task's store");
    assert_eq!(app.instances[1].tasks.len(), 2, "the survivor runs both tasks");
}

#[test]
fn a_join_of_topics_that_are_not_co_partitioned_is_refused_with_its_location() {
    let text = r#"name = "bad-join"
duration_ms = 1000

[cluster]
brokers = 1

[[topic]]
name = "left"
partitions = 2

[[topic]]
name = "right"
partitions = 3

[[topic]]
name = "joined"
partitions = 2

[[streams_app]]
application_id = "j"
topology = '''{"application_id": "j", "steps": [
  {"op": "table", "name": "r", "topic": "right"},
  {"op": "stream", "name": "l", "topics": ["left"]},
  {"op": "join", "name": "x", "left": "l", "right": "r"},
  {"op": "to", "input": "x", "topic": "joined"}]}'''
"#;
    let e = Scenario::parse("bad.toml", text).expect_err("not co-partitioned");
    assert!(e.message.contains("co-partition"), "{e}");
    assert_eq!(e.line, 21, "points at the topology line: {e}");
}

#[test]
fn streams_apps_need_their_output_topics_and_a_known_guarantee() {
    let base = count_app(1, 1, 1, 10, "");
    let no_out = base.replace("name = \"out\"", "name = \"other\"");
    let e = Scenario::parse("t.toml", &no_out).expect_err("missing output topic");
    assert!(e.message.contains("output topic 'out'"), "{e}");
    let bad = base.replace("commit_interval_ms = 7000", "processing_guarantee = \"exactly_once\"");
    let e = Scenario::parse("t.toml", &bad).expect_err("unknown guarantee");
    assert!(e.message.contains("exactly_once_v2"), "{e}");
    let eos = base.replace("commit_interval_ms = 7000", "processing_guarantee = \"exactly_once_v2\"");
    Scenario::parse("t.toml", &eos).expect("exactly_once_v2 runs on the simulated transactions");
}
