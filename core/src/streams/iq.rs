//! Interactive queries, read-only: what a Kafka Streams application's state stores hold
//! right now, over all its running tasks (Kafka's `KafkaStreams#store` with
//! `StoreQueryParameters`, all partitions, and the `ReadOnlyKeyValueStore` /
//! `ReadOnlyWindowStore` / `ReadOnlySessionStore` views on it).
//!
//! Kafka lets only key-value, window and session stores be queried; the internal outer-join
//! and suppression buffers are not queryable, and this module does not list them either.
//! A key given to [`query`] selects that key only (`get(key)`, `fetch(key, ...)`,
//! `fetchSession(key)`): the key is compared as Kafka Streams' `StringSerde` prints it.
use super::runtime::StreamsApp;
use super::store::{Store, StoreKind};
use super::topology::Topology;
use super::value::Value;
use serde::{Deserialize, Serialize};

/// One row of an answer: the key, the window (start, and end when the store knows it) for
/// windowed stores, and the value as Java's `toString` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IqRow {
    pub key: String,
    pub window_start: Option<i64>,
    pub window_end: Option<i64>,
    pub value: String,
}

/// At most `limit` rows in key order, and how many rows matched in all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IqAnswer {
    pub rows: Vec<IqRow>,
    pub total: usize,
}

/// A store's kind as Kafka names its queryable store type.
pub fn store_type(kind: StoreKind) -> Option<&'static str> {
    match kind {
        StoreKind::KeyValue => Some("key-value"),
        StoreKind::Window => Some("window"),
        StoreKind::Session => Some("session"),
        StoreKind::OuterJoin | StoreKind::SuppressBuffer => None,
    }
}

/// The queryable stores of a topology (name, store type), in name order.
pub fn queryable_stores(topology: &Topology) -> Vec<(String, &'static str)> {
    topology.stores.values().filter_map(|s| store_type(s.kind).map(|t| (s.name.clone(), t))).collect()
}

/// The entries of `store` over every task of every instance, sorted by key then window
/// start; with `key`, only that key's entries. Values are printed for the rows returned
/// only, so a large store costs one key string per entry and `limit` values.
pub fn query(app: &StreamsApp, store: &str, key: Option<&str>, limit: usize) -> IqAnswer {
    let size = app.spec.topology.window_size(store);
    // (key, start, end, value): the value stays borrowed until it is shown.
    let mut found: Vec<(String, Option<i64>, Option<i64>, &Value)> = Vec::new();
    let wanted = |k: &Value| -> Option<String> {
        let text = k.to_java_string();
        match key {
            Some(want) if want != text => None,
            _ => Some(text),
        }
    };
    for inst in &app.instances {
        for task in inst.tasks.values() {
            match task.store(store) {
                Some(Store::KeyValue(kv)) => {
                    for (k, v) in &kv.entries {
                        if let Some(k) = wanted(k) {
                            found.push((k, None, None, &v.value));
                        }
                    }
                }
                Some(Store::Window(w)) => {
                    for ((k, start, _), v) in &w.entries {
                        if let Some(k) = wanted(k) {
                            found.push((k, Some(*start), size.map(|s| start.saturating_add(s)), &v.value));
                        }
                    }
                }
                // Session stores are keyed (key, end, start); a session's end is inclusive.
                Some(Store::Session(s)) => {
                    for ((k, end, start), v) in &s.entries {
                        if let Some(k) = wanted(k) {
                            found.push((k, Some(*start), Some(*end), v));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    crate::collect::sort_by(&mut found, |a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    let total = found.len();
    let rows = found
        .into_iter()
        .take(limit)
        .map(|(key, window_start, window_end, v)| IqRow { key, window_start, window_end, value: v.to_java_string() })
        .collect();
    IqAnswer { rows, total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Blob;
    use crate::record::TopicPartition;
    use crate::streams::runtime::{ProcessingGuarantee, StreamsAppSpec, StreamsInput};
    use crate::streams::topology::TopologySpec;
    use std::sync::Arc;

    fn app(steps: serde_json::Value, partitions: u32) -> StreamsApp {
        let spec = TopologySpec::from_json_value(&serde_json::json!({"application_id": "iq", "steps": steps})).unwrap();
        let mut parts = std::collections::BTreeMap::new();
        parts.insert("in".to_string(), partitions);
        let topology = spec.compile(&parts).unwrap();
        let spec = StreamsAppSpec {
            application_id: "iq".into(),
            topology: Arc::new(topology),
            guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_interval_ms: 1000,
            instances: Vec::new(),
            ksql: None,
        };
        StreamsApp::new(spec, vec![(0, 0), (1, 1)])
    }

    fn feed(app: &mut StreamsApp, instance: usize, partition: u32, records: &[(&str, i64)]) {
        let inbox = records
            .iter()
            .enumerate()
            .map(|(i, (k, ts))| StreamsInput {
                tp: TopicPartition::new("in", partition),
                offset: i as u64,
                key: Some(Blob::text(k)),
                value: Some(Blob::text("{}")),
                timestamp: *ts,
            })
            .collect();
        let mut events = Vec::new();
        app.process_inbox(instance, inbox, 0, &mut |_, _| Vec::new(), &mut events);
    }

    #[test]
    fn a_count_store_answers_over_every_instance_and_a_key_selects_one() {
        let mut a = app(
            serde_json::json!([
                {"op": "stream", "name": "s", "topics": ["in"]},
                {"op": "group_by_key", "name": "g", "input": "s"},
                {"op": "count", "name": "counts", "input": "g"}
            ]),
            2,
        );
        assert_eq!(queryable_stores(&a.spec.topology), vec![("counts".to_string(), "key-value")]);
        feed(&mut a, 0, 0, &[("a", 1), ("b", 2), ("a", 3)]);
        feed(&mut a, 1, 1, &[("c", 4)]);
        let all = query(&a, "counts", None, 10);
        let rows: Vec<(&str, &str)> = all.rows.iter().map(|r| (r.key.as_str(), r.value.as_str())).collect();
        assert_eq!(rows, vec![("a", "2"), ("b", "1"), ("c", "1")]);
        assert_eq!(all.total, 3);
        let one = query(&a, "counts", Some("a"), 10);
        assert_eq!((one.total, one.rows[0].value.as_str(), one.rows[0].window_start), (1, "2", None));
        assert_eq!(query(&a, "counts", Some("zzz"), 10), IqAnswer::default());
        // The limit bounds the rows, not the count of matches.
        let cut = query(&a, "counts", None, 1);
        assert_eq!((cut.rows.len(), cut.total), (1, 3));
        assert_eq!(query(&a, "no-such-store", None, 10), IqAnswer::default());
    }

    #[test]
    fn windowed_rows_carry_their_window_start_and_end() {
        let mut a = app(
            serde_json::json!([
                {"op": "stream", "name": "s", "topics": ["in"]},
                {"op": "group_by_key", "name": "g", "input": "s"},
                {"op": "windowed_by", "name": "w", "input": "g", "window": {"type": "tumbling", "size_ms": 10, "grace_ms": 100}},
                {"op": "count", "name": "wcounts", "input": "w"}
            ]),
            1,
        );
        // With grace, window [0, 10) is still retained at stream time 15.
        feed(&mut a, 0, 0, &[("k", 1), ("k", 12), ("k", 15)]);
        let got = query(&a, "wcounts", Some("k"), 10);
        let rows: Vec<(Option<i64>, Option<i64>, &str)> =
            got.rows.iter().map(|r| (r.window_start, r.window_end, r.value.as_str())).collect();
        assert_eq!(rows, vec![(Some(0), Some(10), "1"), (Some(10), Some(20), "2")]);
    }
}
