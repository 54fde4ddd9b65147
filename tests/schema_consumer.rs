//! Consumers with Avro and JSON deserializers, run through the simulated cluster.
mod schema_common;

use proptest::prelude::*;
use sandbox_core::scenario::{run::execute, Scenario};
use sandbox_core::trace::{Effect, TraceEvent};
use sandbox_core::world::World;
use schema_common::*;

fn run(text: &str) -> (World, Vec<TraceEvent>) {
    let scenario = Scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let mut trace = Vec::new();
    let (world, _) = execute(&scenario, scenario.seed, None, |_, ev| trace.push(ev.clone())).unwrap();
    (world, trace)
}

fn effects(trace: &[TraceEvent]) -> impl Iterator<Item = (u64, &Effect)> {
    trace.iter().flat_map(|ev| ev.effects.iter().map(move |e| (ev.time.as_ms_f64() as u64, e)))
}

const OUTAGE: &str = r#"
name = "consumer-registry-outage"
duration_ms = 20000
[cluster]
brokers = 1
[schema_registry]
[[topic]]
name = "rides"
partitions = 1
[[producer]]
name = "p"
value_schema = "builtin:ride_value_v1"
config = { "value.serializer" = "avro" }
[[consumer]]
name = "c"
config = { "value.deserializer" = "avro", "auto.offset.reset" = "earliest" }
[[at]]
at_ms = 1000
action = "produce"
producer = "p"
topic = "rides"
count = 5
value = "ride"
interval_ms = 100
[[at]]
at_ms = 3000
action = "crash_schema_registry"
[[at]]
at_ms = 4000
action = "assign"
consumer = "c"
partitions = ["rides-0"]
[[at]]
at_ms = 10000
action = "restart_schema_registry"
"#;

#[test]
fn a_consumer_without_the_writer_schema_stalls_while_the_registry_is_down_and_reads_once_it_is_back() {
    let (world, trace) = run(OUTAGE);
    let c = &world.consumers[0];
    let failures: Vec<u64> = effects(&trace)
        .filter_map(|(t, e)| matches!(e, Effect::DeserializationFailed { offset: 0, .. }).then_some(t))
        .collect();
    assert!(!failures.is_empty(), "the outage shows as failed polls");
    assert!(failures.iter().all(|t| (4000..10000).contains(t)), "{failures:?}");
    // Nothing is read before the registry is back; afterwards every record is.
    let first_read = effects(&trace)
        .find_map(|(t, e)| matches!(e, Effect::RecordDeserialized { .. }).then_some(t))
        .expect("records are read after the restart");
    assert!(first_read >= 10000, "{first_read}");
    assert_eq!(c.stats.records_consumed, 5);
    assert_eq!(c.deser.stats.records_deserialized, 5);
    assert_eq!(c.deser.stats.deserialization_failures as usize, failures.len());
    // One successful fetch serves all five records.
    assert_eq!(c.deser.cache.len(), 1);
}

const POISON: &str = r#"
name = "poison"
duration_ms = 20000
[cluster]
brokers = 1
[[topic]]
name = "t"
partitions = 1
[[producer]]
name = "p"
[[consumer]]
name = "c"
assign = ["t-0"]
value_schema = '{"type":"record","name":"R","fields":[{"name":"n","type":"int"}]}'
config = { "value.deserializer" = "json", "auto.offset.reset" = "earliest" }
[[at]]
at_ms = 1000
action = "send"
producer = "p"
topic = "t"
value = '{"n": 1}'
[[at]]
at_ms = 1100
action = "send"
producer = "p"
topic = "t"
value = '{"n": "two"}'
[[at]]
at_ms = 1200
action = "send"
producer = "p"
topic = "t"
value = '{"n": 3}'
[[at]]
at_ms = 8000
action = "seek"
consumer = "c"
partition = "t-0"
offset = 2
"#;

#[test]
fn an_operator_cannot_reach_a_crashed_registry() {
    let text = OUTAGE.replace(
        "[[at]]\nat_ms = 10000",
        "[[at]]\nat_ms = 5000\naction = \"set_compatibility\"\nlevel = \"NONE\"\n\n[[at]]\nat_ms = 6000\naction = \"register_schema\"\nsubject = \"x-value\"\nschema = \"builtin:ride_value_v1\"\n\n[[at]]\nat_ms = 10000",
    );
    let (world, trace) = run(&text);
    let refused: Vec<u64> = effects(&trace)
        .filter_map(|(t, e)| match e {
            Effect::Note { text } if text.contains("connection refused") => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [5000, 6000], "both requests failed while the registry was down");
    let r = world.schema_registry.as_ref().unwrap();
    assert!(!r.registry.subjects().contains(&"x-value".to_string()), "nothing registered");
    assert_ne!(r.registry.global_compatibility().to_string(), "NONE");
}

#[test]
fn a_poison_record_stops_the_consumer_at_its_offset_until_the_application_seeks_past_it() {
    let (world, trace) = run(POISON);
    let c = &world.consumers[0];
    let failed: Vec<(u64, u64)> = effects(&trace)
        .filter_map(|(t, e)| match e {
            Effect::DeserializationFailed { offset, .. } => Some((t, *offset)),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "reported once: {failed:?}");
    assert_eq!(failed[0].1, 1);
    let reads: Vec<(u64, u64)> = effects(&trace)
        .filter_map(|(t, e)| match e {
            Effect::RecordDeserialized { offset, .. } => Some((t, *offset)),
            _ => None,
        })
        .collect();
    assert_eq!(reads.iter().map(|r| r.1).collect::<Vec<_>>(), vec![0, 2]);
    assert!(reads[1].0 >= 8000, "offset 2 is only read after the seek: {reads:?}");
    assert_eq!(c.deser.last.as_ref().and_then(|l| l.value.clone()), Some(serde_json::json!({"n": 3})));
}

#[test]
fn an_avro_consumer_needs_a_schema_registry_in_the_scenario() {
    let text = r#"
name = "x"
duration_ms = 1000
[cluster]
brokers = 1
[[consumer]]
name = "c"
config = { "value.deserializer" = "avro" }
"#;
    let err = Scenario::parse("x.toml", text).unwrap_err();
    assert!(err.message.contains("[schema_registry]"), "{err}");
}

#[test]
fn the_course_scenarios_show_reads_defaults_and_read_time_failures() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/schema/");
    let load = |name: &str| std::fs::read_to_string(format!("{dir}{name}.toml")).unwrap();
    // JSON: the producer succeeds, the consumer fails at read time.
    let (_, trace) = run(&load("json-breaks-at-read-time"));
    assert!(!effects(&trace).any(|(_, e)| matches!(e, Effect::SerializationFailed { .. })));
    assert!(effects(&trace).any(|(t, e)| matches!(e, Effect::DeserializationFailed { offset: 10, .. }) && t >= 10000));
    // Avro, BACKWARD: the new reader fills the default into old records only.
    let (world, _) = run(&load("add-field-with-default"));
    let new = world.consumers.iter().find(|c| c.name == "new-consumer").unwrap();
    assert_eq!(new.deser.stats.records_with_defaults, 10);
    assert_eq!(new.deser.stats.records_deserialized, 20);
}

fn toml_string(text: &str) -> String {
    // A TOML basic string: quotes and backslashes escaped, and every control character
    // (TOML also forbids a raw DEL, which JSON allows) as \uXXXX.
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_consumer_with_the_writers_own_schema_decodes_every_value_a_producer_wrote(
        (schema, value) in arb_schema_and_value()
    ) {
        // Through the simulated path: producer (KafkaAvroSerializer, registry) -> broker ->
        // consumer (KafkaAvroDeserializer, schema fetched by id).
        let json = schema.value_to_json(&value).to_string();
        let text = format!(
            r#"
name = "roundtrip"
duration_ms = 5000
[cluster]
brokers = 1
[schema_registry]
compatibility = "NONE"
[[topic]]
name = "t"
partitions = 1
[[producer]]
name = "p"
value_schema = {schema}
config = {{ "value.serializer" = "avro" }}
[[consumer]]
name = "c"
assign = ["t-0"]
value_schema = {schema}
config = {{ "value.deserializer" = "avro", "auto.offset.reset" = "earliest" }}
[[at]]
at_ms = 1000
action = "send"
producer = "p"
topic = "t"
value = {value}
"#,
            schema = toml_string(schema.canonical()),
            value = toml_string(&json),
        );
        let (world, trace) = run(&text);
        let failures: Vec<String> = effects(&trace)
            .filter_map(|(_, e)| match e {
                Effect::SerializationFailed { error, .. } => Some(error.clone()),
                Effect::DeserializationFailed { error, .. } => Some(error.clone()),
                _ => None,
            })
            .collect();
        prop_assert!(failures.is_empty(), "{:?}", failures);
        let c = &world.consumers[0];
        prop_assert_eq!(c.deser.stats.records_deserialized, 1);
        let decoded = c.deser.last.as_ref().and_then(|l| l.value.clone());
        prop_assert_eq!(decoded, Some(sandbox_core::consumer::deserializer::plain_json(&value)));
    }
}
