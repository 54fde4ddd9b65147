//! ksqlDB (`[[ksql]]`) in the simulated cluster: persistent queries run as Streams
//! applications with ksqlDB's names, topics are created as ksqlDB creates them, and what the
//! live queries write equals what `run_script` computes offline from the same records.
use sandbox_core::scenario::run::execute;
use sandbox_core::scenario::Scenario;
use sandbox_core::streams::ksql::{parse_script, run_script, KsqlRecord};
use sandbox_core::streams::value::Value;
use sandbox_core::summary::live_records;
use std::collections::BTreeMap;

const COURSE: &str = include_str!("../scenarios/streams/ksqldb-in-the-cluster.toml");

/// A scenario with one `[[ksql]]` cluster running `statements` (topic `rides` declared with
/// 2 partitions when `declare_rides`), rides produced from 5 s.
fn scenario(statements: &str, extra: &str, declare_rides: bool, rides: u32) -> String {
    let topic =
        if declare_rides { "[[topic]]\nname = \"rides\"\npartitions = 2\nreplication_factor = 3\n" } else { "" };
    format!(
        r#"name = "ksql-test"
duration_ms = 120000

[cluster]
brokers = 3

{topic}
[[producer]]
name = "p"

[[ksql]]
{extra}
statements = """
{statements}
"""

[[at]]
at_ms = 5000
action = "produce"
producer = "p"
topic = "rides"
count = {rides}
key = "ride:VendorID"
value = "ride"
interval_ms = 300
"#
    )
}

fn parse(text: &str) -> Scenario {
    Scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str) -> String {
    match Scenario::parse("test.toml", text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.to_string()))
}

/// A sink key as the runtime writes it: `[key@start/end]` for windowed keys.
fn key_text(key: &Value, window: Option<(i64, i64)>) -> String {
    match window {
        Some((s, e)) => format!("[{}@{s}/{e}]", key.to_java_string()),
        None => match key {
            Value::Null => "null".into(),
            k => k.to_java_string(),
        },
    }
}

/// Runs the scenario, then runs its statements offline on the records the live declared
/// sources hold, and checks every persistent query's sink: same records (as a multiset of
/// key and value) and the same final value per key.
fn assert_live_equals_offline(text: &str) -> usize {
    let s = parse(text);
    let (world, verdict) = execute(&s, s.seed, None, |_, _| {}).unwrap();
    assert!(verdict.passed, "{}", verdict.to_text());
    let k = &world.ksql[0];
    let script = parse_script(&k.statements).unwrap();
    let mut input = Vec::new();
    for src in script.sources.iter().filter(|s| s.query.is_none()) {
        for r in live_records(&world, &src.topic, false) {
            input.push(KsqlRecord { topic: src.topic.clone(), key: r.key, value: r.value, ts: r.ts });
        }
    }
    assert!(!input.is_empty(), "the run produced no input");
    let offline = run_script(&script, &input).unwrap();
    let mut compared = 0;
    for q in &offline.queries {
        let sink = script.source(&q.sink).unwrap();
        let live = live_records(&world, &q.topic, sink.windowed);
        let mut live_set: Vec<(String, serde_json::Value)> = live
            .iter()
            .map(|r| (key_text(&r.key, r.window.map(|w| (w.start, w.end))), json(&r.value.to_json_string())))
            .collect();
        let mut offline_set: Vec<(String, serde_json::Value)> = q
            .output
            .iter()
            .map(|r| {
                let w = r.window_start.zip(r.window_end);
                (key_text(&r.key, w), json(&r.value.to_json_string()))
            })
            .collect();
        let last = |rows: &[(String, serde_json::Value)]| -> BTreeMap<String, serde_json::Value> {
            rows.iter().cloned().collect()
        };
        let (live_last, offline_last) = (last(&live_set), last(&offline_set));
        live_set.sort_by_key(|(k, v)| (k.clone(), v.to_string()));
        offline_set.sort_by_key(|(k, v)| (k.clone(), v.to_string()));
        assert!(!offline_set.is_empty(), "{} wrote nothing offline", q.id);
        if live_set != offline_set {
            let only_live: Vec<_> = live_set.iter().filter(|r| !offline_set.contains(r)).take(5).collect();
            let only_offline: Vec<_> = offline_set.iter().filter(|r| !live_set.contains(r)).take(5).collect();
            panic!(
                "{}: the records in {} differ ({} live, {} offline); only live: {only_live:?}; only offline: {only_offline:?}",
                q.id,
                q.topic,
                live_set.len(),
                offline_set.len()
            );
        }
        if sink.kind == sandbox_core::streams::ksql::SourceKind::Table {
            assert_eq!(live_last, offline_last, "{}: final values per key differ", q.id);
        }
        compared += live_set.len();
    }
    // The push queries saw the same rows (as a multiset).
    for (i, p) in offline.push_queries.iter().enumerate() {
        let live = &verdict.summary.ksql[0].push_queries[i];
        let mut a: Vec<String> = live.rows.iter().map(|r| r.row.clone()).collect();
        let mut b: Vec<String> = p.rows.iter().map(|r| Value::List(r.row.clone()).to_json_string()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "push query at statement {}", p.statement);
    }
    compared
}

#[test]
fn the_course_scenario_writes_what_run_script_computes_offline() {
    let n = assert_live_equals_offline(COURSE);
    assert!(n > 100, "only {n} sink records compared");
}

#[test]
fn typed_keys_windows_in_values_and_repartitioned_int_keys_match_offline() {
    // An INT key read back from the repartition topic, WINDOWSTART/WINDOWEND in the value,
    // and a table keyed by a declared key column. (No SUM of doubles over a repartition:
    // records of one key arrive from two partitions in an order the offline run does not
    // reproduce, and floating-point sums depend on the order.)
    let statements = "CREATE STREAM rides (vendor VARCHAR KEY, PULocationID INT, total_amount DOUBLE, payment_type INT)
  WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');
CREATE TABLE per_location AS
  SELECT PULocationID, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n
  FROM rides WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY PULocationID EMIT CHANGES;
CREATE TABLE per_vendor AS SELECT vendor, MAX(payment_type) AS top FROM rides GROUP BY vendor EMIT CHANGES;
CREATE STREAM big WITH (PARTITIONS=3) AS SELECT vendor, total_amount * 2 AS doubled FROM rides WHERE total_amount > 10 EMIT CHANGES;";
    let text = scenario(statements, "instances = 2", true, 200);
    let n = assert_live_equals_offline(&text);
    assert!(n > 100, "only {n} sink records compared");
    let s = parse(&text);
    let big = s.setup.topics.iter().find(|t| t.name == "BIG").unwrap();
    assert_eq!(big.partitions, 3, "PARTITIONS in the WITH clause of a CSAS sets the sink's partitions");
}

#[test]
fn queries_are_streams_applications_with_ksqldb_application_ids() {
    let s = parse(COURSE);
    let apps: Vec<&str> = s.setup.streams.iter().map(|a| a.application_id.as_str()).collect();
    assert_eq!(
        apps,
        [
            "_confluent-ksql-default_query_CSAS_CARD_AND_CASH_RIDES_2",
            "_confluent-ksql-default_query_CTAS_PAYMENT_TYPE_SESSIONS_4"
        ]
    );
    let topic = |n: &str| s.setup.topics.iter().find(|t| t.name == n).map(|t| t.partitions);
    assert_eq!(topic("rides"), Some(2), "CREATE STREAM with PARTITIONS creates the topic");
    assert_eq!(topic("CARD_AND_CASH_RIDES"), Some(2), "a sink gets its source's partitions");
    assert_eq!(topic("PAYMENT_TYPE_SESSIONS"), Some(2));
    assert_eq!(topic("_confluent-ksql-default__command_topic"), Some(1));
    assert_eq!(
        topic("_confluent-ksql-default_query_CTAS_PAYMENT_TYPE_SESSIONS_4-Aggregate-GroupBy-repartition"),
        Some(2)
    );
    assert!(topic(
        "_confluent-ksql-default_query_CTAS_PAYMENT_TYPE_SESSIONS_4-Aggregate-Aggregate-Materialize-changelog"
    )
    .is_some());
    // The application's consumer group is the application id; ksqlDB's commit interval.
    let app = &s.setup.streams[1];
    assert_eq!(app.commit_interval_ms, 2000);
    let c = s.setup.consumers.iter().find(|c| c.name == app.instances[0].consumer).unwrap();
    assert_eq!(c.config.group_id.as_deref(), Some(app.application_id.as_str()));
}

#[test]
fn a_service_id_prefixes_the_command_topic_and_application_ids() {
    let text = scenario(
        "CREATE STREAM r (payment_type VARCHAR) WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');
CREATE STREAM cash AS SELECT * FROM r WHERE payment_type = '2' EMIT CHANGES;",
        "service_id = \"prod_\"\ninstances = 3",
        true,
        10,
    );
    let s = parse(&text);
    assert_eq!(s.setup.streams[0].application_id, "_confluent-ksql-prod_query_CSAS_CASH_2");
    assert_eq!(s.setup.streams[0].instances.len(), 3, "every server runs every persistent query");
    assert!(s.setup.topics.iter().any(|t| t.name == "_confluent-ksql-prod__command_topic"));
}

#[test]
fn set_auto_offset_reset_applies_to_the_queries_after_it() {
    let text = scenario(
        "CREATE STREAM r (payment_type VARCHAR) WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');
CREATE STREAM a AS SELECT * FROM r EMIT CHANGES;
SET 'auto.offset.reset'='latest';
CREATE STREAM b AS SELECT * FROM r EMIT CHANGES;",
        "",
        true,
        10,
    );
    let s = parse(&text);
    let reset = |app: usize| {
        let name = &s.setup.streams[app].instances[0].consumer;
        s.setup.consumers.iter().find(|c| &c.name == name).unwrap().config.auto_offset_reset.to_string()
    };
    // Without a SET: earliest, as Streams reads its repartition topics (see ARCHITECTURE.md).
    assert_eq!(reset(0), "earliest");
    assert_eq!(reset(1), "latest");
}

#[test]
fn a_missing_topic_without_partitions_is_an_error_naming_the_statement() {
    let text = scenario(
        "CREATE STREAM r (payment_type VARCHAR) WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');",
        "",
        false,
        10,
    );
    let e = parse_err(&text);
    assert!(e.contains("statement 1") && e.contains("'rides' does not exist") && e.contains("PARTITIONS"), "{e}");
}

#[test]
fn partitions_that_differ_from_an_existing_topic_are_an_error() {
    let text = scenario(
        "CREATE STREAM r (payment_type VARCHAR) WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON', PARTITIONS=4);",
        "",
        true,
        10,
    );
    let e = parse_err(&text);
    assert!(e.contains("statement 1") && e.contains("2 partitions"), "{e}");
}

#[test]
fn a_bad_statement_is_located_in_the_scenario_file_with_its_number() {
    let text = scenario(
        "CREATE STREAM r (payment_type VARCHAR) WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');
SET 'auto.offset.reset'='earliest';
CREATE TABLE t AS SELECT nope, COUNT(*) FROM r GROUP BY nope EMIT CHANGES;",
        "",
        true,
        10,
    );
    let e = parse_err(&text);
    assert!(e.contains("statement 3"), "{e}");
    let line_of_statement = text.lines().position(|l| l.starts_with("CREATE TABLE t")).unwrap() + 1;
    assert!(e.starts_with(&format!("test.toml:{line_of_statement}:")), "{e}");
}

#[test]
fn push_query_rows_and_query_states_are_expectation_metrics() {
    let mut text = COURSE.to_string();
    text.push_str(
        r#"
[[expect]]
what = "ksql_query_state"
query = "CTAS_PAYMENT_TYPE_SESSIONS_4"
equals = "RUNNING"

[[expect]]
what = "ksql_rows"
query = "4"
key = "4"
min = 1
"#,
    );
    let s = parse(&text);
    let (_, verdict) = execute(&s, s.seed, None, |_, _| {}).unwrap();
    assert!(verdict.passed, "{}", verdict.to_text());
    let p = &verdict.summary.ksql[0].push_queries[0];
    assert_eq!(p.columns, ["PAYMENT_TYPE", "WINDOWSTART", "WINDOWEND", "RIDES"]);
    assert!(p.rows.iter().any(|r| r.tombstone), "session merges delete the old windows");
    // A wrong query id fails the expectation rather than passing silently.
    let bad = text.replace("query = \"CTAS_PAYMENT_TYPE_SESSIONS_4\"", "query = \"CTAS_NOPE_9\"");
    let s = parse(&bad);
    let (_, verdict) = execute(&s, s.seed, None, |_, _| {}).unwrap();
    assert!(!verdict.passed);
}
