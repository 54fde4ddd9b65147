//! Kafka Connect in the simulated cluster: source offsets in connect-offsets, sink
//! redelivery with insert and upsert tables, config errors.
use proptest::prelude::*;
use sandbox_core::record::TopicPartition;
use sandbox_core::scenario::run::execute;
use sandbox_core::scenario::Scenario;
use sandbox_core::trace::Effect;
use sandbox_core::world::World;
use std::collections::BTreeMap;
use std::sync::Arc;

fn scenario(text: &str) -> Scenario {
    Scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

/// A datagen source on topic `t` (3 partitions) and an optional sink, a flush interval,
/// and extra timeline entries.
fn connect_run(quickstart: &str, iterations: u32, flush_ms: u64, sink: &str, extra: &str) -> String {
    format!(
        r#"name = "connect-test"
duration_ms = 90000

[cluster]
brokers = 3

[[topic]]
name = "t"
partitions = 3
replication_factor = 3

[connect_worker]
config = {{ "offset.flush.interval.ms" = {flush_ms} }}

[[connector]]
name = "gen"
config = {{ "connector.class" = "DatagenConnector", "kafka.topic" = "t", "quickstart" = "{quickstart}", "max.interval" = 20, "iterations" = {iterations} }}
{sink}
{extra}
"#
    )
}

fn sink(name: &str, mode: &str) -> String {
    let pk = if mode == "upsert" { r#", "pk.mode" = "record_key""# } else { "" };
    format!(
        r#"
[[connector]]
name = "{name}"
config = {{ "connector.class" = "JdbcSinkConnector", "topics" = "t", "insert.mode" = "{mode}"{pk}, "table.name.format" = "{name}" }}
"#
    )
}

fn crash_restart(client: &str, crash_ms: u64, restart_ms: u64) -> String {
    format!(
        "[[at]]\nat_ms = {crash_ms}\naction = \"crash_client\"\nclient = \"{client}\"\n\n\
         [[at]]\nat_ms = {restart_ms}\naction = \"restart_client\"\nclient = \"{client}\"\n"
    )
}

/// Runs a scenario; returns the world, the notes, and the source's records sent when the
/// source task's producer crashed.
fn run(text: &str) -> (World, Vec<String>, Option<u64>) {
    let s = scenario(text);
    let mut notes = Vec::new();
    let mut sent_at_crash = None;
    let (world, _) = execute(&s, s.seed, None, |w, ev| {
        for e in &ev.effects {
            if let Effect::Note { text } = e {
                notes.push(text.clone());
                if text.starts_with("connector gen task 0: its worker process died") {
                    sent_at_crash = w.connect.as_ref().map(|c| c.connectors[0].tasks[0].source.next_iteration);
                }
            }
        }
    })
    .unwrap();
    (world, notes, sent_at_crash)
}

/// Records below the high watermark of a topic partition on its leader: (key, value).
fn topic_records(world: &World, topic: &str, partition: u32) -> Vec<(Option<String>, Option<String>)> {
    let tp = TopicPartition { topic: Arc::from(topic), partition };
    let leader = world.controller.image.partition(&tp).and_then(|p| p.leader).unwrap();
    let replica = world.brokers.iter().find(|b| b.id == leader).and_then(|b| b.replicas.get(&tp)).unwrap();
    let hw = replica.log.high_watermark();
    let mut out = Vec::new();
    for b in replica.log.batches() {
        for (offset, r) in b.records() {
            if offset < hw {
                out.push((r.key.as_ref().map(|k| k.display()), r.value.as_ref().map(|v| v.display())));
            }
        }
    }
    out
}

fn restart_iteration(notes: &[String]) -> u64 {
    let note = notes.iter().find(|n| n.contains("restarted from source offset")).expect("a restart note");
    let n = note.split("current.iteration=").nth(1).unwrap();
    n.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_restarted_source_task_resumes_from_the_offset_it_committed_to_connect_offsets() {
    // Flushes at 5 s and 10 s; the task dies at 12 s and comes back at 15 s.
    let text = connect_run("orders", 2000, 5000, "", &crash_restart("connector-producer-gen-0", 12_000, 15_000));
    let (world, notes, sent) = run(&text);
    let resumed = restart_iteration(&notes);
    let sent = sent.unwrap();
    assert!(resumed > 0 && resumed < sent, "resumed at {resumed}, had sent {sent}");
    // What it had handed to its producer after the 10 s flush is generated again.
    let src = &world.connect.as_ref().unwrap().connectors[0].tasks[0].source;
    assert_eq!(src.duplicates, sent - resumed);
    assert_eq!(src.generation, 1, "the offset carries the next task.generation");
    // The offset it resumed from is the last one in the offsets topic for its key.
    let mut last = None;
    for p in 0..25 {
        for (k, v) in topic_records(&world, "connect-offsets", p) {
            if k.as_deref() == Some(r#"["gen",{"task.id":0}]"#) {
                last = v;
            }
        }
    }
    let last: serde_json::Value = serde_json::from_str(&last.expect("offsets were flushed")).unwrap();
    // After the restart the task flushed again, up to the end of its iterations.
    assert_eq!(last["current.iteration"], 2000);
    // The topic holds every order at least once and the repeated ones twice.
    let mut ids: BTreeMap<u64, u32> = BTreeMap::new();
    for p in 0..3 {
        for (k, _) in topic_records(&world, "t", p) {
            *ids.entry(k.unwrap().parse().unwrap()).or_default() += 1;
        }
    }
    assert_eq!(ids.len(), 2000);
    let twice = ids.values().filter(|&&n| n == 2).count() as u64;
    // The record in flight at the crash may have failed rather than been written.
    assert!(twice + 1 >= sent - resumed && twice <= sent - resumed, "{twice} twice, {} resent", sent - resumed);
}

#[test]
fn a_source_task_that_crashes_before_any_offset_flush_starts_again_from_zero() {
    let text = connect_run("pageviews", 500, 60_000, "", &crash_restart("connector-producer-gen-0", 3_000, 4_000));
    let (world, notes, sent) = run(&text);
    assert_eq!(restart_iteration(&notes), 0);
    let src = &world.connect.as_ref().unwrap().connectors[0].tasks[0].source;
    assert_eq!(src.duplicates, sent.unwrap());
}

#[test]
fn after_a_sink_task_restart_insert_adds_duplicate_rows_and_upsert_does_not() {
    let sinks = format!("{}{}", sink("ins", "insert"), sink("ups", "upsert"));
    let extra = format!(
        "{}{}",
        crash_restart("connector-consumer-ins-0", 8_000, 12_000),
        crash_restart("connector-consumer-ups-0", 8_000, 12_000)
    );
    let s = scenario(&connect_run("orders", 1500, 5000, &sinks, &extra));
    let (world, verdict) = execute(&s, s.seed, None, |_, _| {}).unwrap();
    let conns = &verdict.summary.connectors;
    let ins = conns.iter().find(|c| c.name == "ins").unwrap();
    let ups = conns.iter().find(|c| c.name == "ups").unwrap();
    assert!(ins.redelivered > 0 && ups.redelivered > 0, "both sinks reread after the restart");
    assert_eq!(ins.duplicates, ins.redelivered, "insert: one extra row per redelivered record");
    assert_eq!(ins.rows(), 1500 + ins.redelivered);
    assert_eq!((ups.duplicates, ups.rows()), (0, 1500));
    // Sink tasks are consumers of group connect-<name>, committed to the end.
    let group = verdict.summary.groups.iter().find(|g| g.group == "connect-ups").unwrap();
    assert_eq!(group.lag.values().sum::<u64>(), 0);
    assert!(world.consumers.iter().any(|c| c.name == "connector-consumer-ups-0"));
}

#[test]
fn bad_connector_configs_are_errors_naming_the_connector_and_the_field() {
    let with = |cfg: &str| {
        format!(
            "name = \"x\"\nduration_ms = 1000\n[cluster]\nbrokers = 3\n[[topic]]\nname = \"t\"\npartitions = 1\n\
             replication_factor = 3\n\n[[connector]]\nname = \"c1\"\nconfig = {{ {cfg} }}\n"
        )
    };
    for (cfg, field) in [
        (r#""kafka.topic" = "t""#, "connector.class"),
        (r#""connector.class" = "FileStreamSourceConnector""#, "connector.class"),
        (r#""connector.class" = "DatagenConnector", "quickstart" = "orders""#, "kafka.topic"),
        (r#""connector.class" = "DatagenConnector", "kafka.topic" = "t", "quickstart" = "clicks""#, "quickstart"),
        (
            r#""connector.class" = "DatagenConnector", "kafka.topic" = "t", "quickstart" = "users", "tasks.max" = 0"#,
            "tasks.max",
        ),
        (r#""connector.class" = "DatagenConnector", "kafka.topic" = "nope", "quickstart" = "users""#, "kafka.topic"),
        (r#""connector.class" = "JdbcSinkConnector", "topics" = "t", "insert.mode" = "merge""#, "insert.mode"),
        (r#""connector.class" = "JdbcSinkConnector", "topics" = "t,nope""#, "topics"),
    ] {
        let e = Scenario::parse("bad.toml", &with(cfg)).unwrap_err();
        assert!(e.message.contains("connector 'c1'") && e.message.contains(field), "{cfg}: {e}");
        // At the config line, or at the connector's header when the field is missing.
        assert!((10..=12).contains(&e.line), "{cfg}: {e}");
    }
    // The worker's storage topics need enough brokers.
    let one_broker = with(r#""connector.class" = "DatagenConnector", "kafka.topic" = "t", "quickstart" = "users""#)
        .replace("brokers = 3", "brokers = 1")
        .replace("replication_factor = 3", "replication_factor = 1");
    let e = Scenario::parse("bad.toml", &one_broker).unwrap_err();
    assert!(e.message.contains("offset.storage.replication.factor"), "{e}");
    // A client may not take a task's name.
    let clash = format!(
        "{}\n[[producer]]\nname = \"connector-producer-c1-0\"\n",
        with(r#""connector.class" = "DatagenConnector", "kafka.topic" = "t", "quickstart" = "users""#)
    );
    assert!(Scenario::parse("bad.toml", &clash).unwrap_err().message.contains("used twice"));
}

#[test]
fn a_paused_connector_does_no_work_until_resumed_and_its_sink_stays_in_the_group() {
    let at = |ms: u64, action: &str| format!("[[at]]\nat_ms = {ms}\naction = \"{action}\"\nconnector = \"sink\"\n\n");
    let pause_source = "[[at]]\nat_ms = 3000\naction = \"pause_connector\"\nconnector = \"gen\"\n\n";
    let text = connect_run(
        "pageviews",
        100_000,
        5000,
        &sink("sink", "insert"),
        &format!("{pause_source}{}", at(2000, "pause_connector")),
    );
    let s = scenario(&text);
    let mut at_pause = None;
    let (_, verdict) = execute(&s, s.seed, None, |w, ev| {
        if ev.time.as_ms() >= 3000 && at_pause.is_none() {
            at_pause = w.connect.as_ref().map(|c| c.connectors[0].tasks[0].source.produced);
        }
    })
    .unwrap();
    let gen = verdict.summary.connectors.iter().find(|c| c.name == "gen").unwrap();
    let sink = verdict.summary.connectors.iter().find(|c| c.name == "sink").unwrap();
    assert_eq!((gen.state.as_str(), sink.state.as_str()), ("PAUSED", "PAUSED"));
    // At most the poll due in the pausing step itself.
    assert!(gen.records <= at_pause.unwrap() + 1, "{} records, {:?} at the pause", gen.records, at_pause);
    let group = verdict.summary.groups.iter().find(|g| g.group == "connect-sink").unwrap();
    assert!(group.lag.values().sum::<u64>() > 0, "the paused sink fell behind");
    assert!(sink.records < gen.records);
    // Resumed at 20 s, the sink catches up.
    let text = connect_run(
        "pageviews",
        2000,
        5000,
        &sink_text("sink"),
        &format!("{}{}", at(2000, "pause_connector"), at(20_000, "resume_connector")),
    );
    let s = scenario(&text);
    let (_, verdict) = execute(&s, s.seed, None, |_, _| {}).unwrap();
    let sink = verdict.summary.connectors.iter().find(|c| c.name == "sink").unwrap();
    assert_eq!((sink.state.as_str(), sink.records), ("RUNNING", 2000));
    assert_eq!(sink.redelivered, 0, "pausing is not a restart: nothing is read twice");
}

fn sink_text(name: &str) -> String {
    sink(name, "insert")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// However the sink task and the source task crash, an upsert table ends with exactly
    /// the topic's last value for each key.
    #[test]
    fn upsert_sink_table_equals_last_value_per_key_of_topic(
        seed in 1u64..1000,
        sink_crash in 2_000u64..20_000,
        source_crash in 2_000u64..20_000,
    ) {
        let extra = format!(
            "{}{}",
            crash_restart("connector-consumer-ups-0", sink_crash, sink_crash + 4000),
            crash_restart("connector-producer-gen-0", source_crash, source_crash + 3000),
        );
        let text = connect_run("users", 1200, 5000, &sink("ups", "upsert"), &extra);
        let s = scenario(&text);
        let (world, _) = execute(&s, seed, None, |_, _| {}).unwrap();
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        for p in 0..3 {
            for (k, v) in topic_records(&world, "t", p) {
                last.insert(k.unwrap(), v.unwrap());
            }
        }
        let table = &world.connect.as_ref().unwrap().connectors[1].tables["ups"];
        let rows: BTreeMap<String, String> =
            table.rows.iter().map(|r| (r.pk.clone().unwrap(), r.value.clone())).collect();
        prop_assert_eq!(rows.len(), table.rows.len());
        prop_assert_eq!(rows, last);
    }
}
