//! Property tests of the streams engine against brute-force models.
use proptest::prelude::*;
use sandbox_core::streams::driver::TestDriver;
use sandbox_core::streams::store::Store;
use sandbox_core::streams::{TopologySpec, Value};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn windowed_count(window: serde_json::Value) -> TestDriver {
    let spec: TopologySpec = serde_json::from_value(json!({"application_id": "p", "steps": [
        {"op": "stream", "name": "s", "topics": ["in"]},
        {"op": "group_by_key", "name": "g", "input": "s"},
        {"op": "windowed_by", "name": "w", "input": "g", "window": window},
        {"op": "count", "name": "agg", "input": "w"},
        {"op": "to_stream", "name": "r", "input": "agg"},
        {"op": "to", "input": "r", "topic": "out"}]}))
    .unwrap();
    TestDriver::new(spec.compile_for_test_driver().unwrap())
}

fn key(k: Option<u8>) -> Value {
    match k {
        Some(k) => Value::str(format!("k{k}")),
        None => Value::Null,
    }
}

fn records(max_ts: i64) -> impl Strategy<Value = Vec<(Option<u8>, i64)>> {
    prop::collection::vec((prop::option::weighted(0.95, 0u8..4), 0..max_ts), 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn tumbling_window_count_over_any_input_equals_brute_force_count_by_key_and_window(
        size in 1i64..50,
        grace in 0i64..30,
        input in records(300),
    ) {
        let mut d = windowed_count(json!({"type": "tumbling", "size_ms": size, "grace_ms": grace}));
        let mut latest: BTreeMap<(Value, i64), Value> = BTreeMap::new();
        let mut dropped = 0;
        for (k, ts) in &input {
            let p = d.pipe("in", key(*k), Value::str("v"), *ts).unwrap();
            dropped += p.dropped;
            for r in p.records {
                let w = r.window.unwrap();
                prop_assert_eq!(w.end - w.start, size);
                latest.insert((r.key, w.start), r.value);
            }
        }
        // Brute force: a record counts in its window iff the window had not closed
        // (end <= stream time - grace) when the record arrived.
        let mut stream_time = -1;
        let mut counts: BTreeMap<(Value, i64), i64> = BTreeMap::new();
        let mut expected_dropped = 0;
        for (k, ts) in &input {
            let Some(_) = k else { expected_dropped += 1; continue };
            stream_time = stream_time.max(*ts);
            let start = ts - ts % size;
            if start + size > stream_time - grace {
                *counts.entry((key(*k), start)).or_default() += 1;
            } else {
                expected_dropped += 1;
            }
        }
        let expected: BTreeMap<(Value, i64), Value> =
            counts.into_iter().map(|(k, c)| (k, Value::Int(c))).collect();
        prop_assert_eq!(latest, expected);
        prop_assert_eq!(dropped, expected_dropped);
    }

    #[test]
    fn hopping_windows_put_each_record_in_exactly_the_windows_containing_it(
        size in 1i64..40,
        advance_frac in 0.0f64..1.0,
        input in records(300),
    ) {
        let advance = ((size as f64 * advance_frac) as i64).clamp(1, size);
        let mut d = windowed_count(json!({"type": "hopping", "size_ms": size, "advance_ms": advance, "grace_ms": 1_000_000}));
        for (k, ts) in &input {
            let p = d.pipe("in", key(*k), Value::str("v"), *ts).unwrap();
            let got: Vec<(i64, i64)> = p.records.iter().map(|r| {
                let w = r.window.unwrap();
                (w.start, w.end)
            }).collect();
            let expected: Vec<(i64, i64)> = if k.is_none() {
                Vec::new()
            } else {
                // Every window [start, start + size) with start a non-negative multiple of
                // `advance` that contains ts, oldest first.
                (0..=*ts).filter(|s| s % advance == 0 && *ts < s + size).map(|s| (s, s + size)).collect()
            };
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn session_windows_never_overlap_for_one_key(
        gap in 1i64..30,
        grace in 0i64..50,
        input in records(300),
    ) {
        let mut d = windowed_count(json!({"type": "session", "gap_ms": gap, "grace_ms": grace}));
        let mut view: BTreeMap<(Value, i64, i64), Value> = BTreeMap::new();
        for (k, ts) in &input {
            let p = d.pipe("in", key(*k), Value::str("v"), *ts).unwrap();
            for r in p.records {
                let w = r.window.unwrap();
                prop_assert!(w.start <= w.end);
                if r.value.is_null() {
                    prop_assert!(view.remove(&(r.key, w.start, w.end)).is_some(), "tombstone for an unknown session");
                } else {
                    view.insert((r.key, w.start, w.end), r.value);
                }
            }
            // The emitted sessions of a key are disjoint and more than a gap apart (or
            // they would have merged).
            let mut last: BTreeMap<Value, i64> = BTreeMap::new();
            let mut by_start: Vec<(Value, i64, i64)> = view.keys().cloned().collect();
            by_start.sort_by_key(|a| (a.0.clone(), a.1));
            for (k, start, end) in by_start {
                if let Some(prev_end) = last.get(&k) {
                    prop_assert!(start - prev_end > gap, "sessions {prev_end} and {start} of {k} overlap or touch");
                }
                last.insert(k, end);
            }
            // The store holds exactly the live sessions.
            let Some(Store::Session(s)) = d.task(0).unwrap().store("agg") else { panic!("no session store") };
            let stored: BTreeSet<(Value, i64, i64)> = s.entries.keys().map(|(k, e, st)| (k.clone(), *st, *e)).collect();
            prop_assert_eq!(stored, view.keys().cloned().collect::<BTreeSet<_>>());
        }
    }

    #[test]
    fn sliding_window_counts_equal_the_records_inside_each_window(
        td in 0i64..30,
        input in records(200),
    ) {
        let mut d = windowed_count(json!({"type": "sliding", "time_difference_ms": td, "grace_ms": 1_000_000}));
        let mut seen: Vec<(Value, i64)> = Vec::new();
        for (k, ts) in &input {
            d.pipe("in", key(*k), Value::str("v"), *ts).unwrap();
            if k.is_some() {
                seen.push((key(*k), *ts));
            }
            let Some(Store::Window(s)) = d.task(0).unwrap().store("agg") else { panic!("no window store") };
            for ((k, start, _), v) in &s.entries {
                let n = seen.iter().filter(|(sk, t)| sk == k && *t >= *start && *t <= start + td).count() as i64;
                prop_assert_eq!(&v.value, &Value::Int(n), "window [{}, {}] of {}", start, start + td, k);
                let newest = seen.iter().filter(|(sk, t)| sk == k && *t >= *start && *t <= start + td).map(|(_, t)| *t).max();
                prop_assert_eq!(Some(v.timestamp), newest);
            }
            // Every record has its left window (or the first window, if early), and a right
            // window as soon as a later record falls within the time difference after it.
            for (k, t) in &seen {
                let start = if *t < td { 0 } else { t - td };
                prop_assert!(s.entries.contains_key(&(k.clone(), start, 0)), "no window ending at {} for {}", t, k);
                let later = seen.iter().any(|(sk, u)| sk == k && *u > *t && *u <= t + 1 + td);
                prop_assert_eq!(
                    s.entries.contains_key(&(k.clone(), t + 1, 0)),
                    later,
                    "right window of {} for {}", t, k
                );
            }
        }
    }

    #[test]
    fn ktable_ktable_join_output_after_the_last_record_equals_a_join_of_the_final_tables(
        kind in prop::sample::select(vec!["inner", "left", "outer"]),
        input in prop::collection::vec((any::<bool>(), 0u8..4, prop::option::weighted(0.7, 0u8..3), 0i64..100), 0..50),
    ) {
        let spec: TopologySpec = serde_json::from_value(json!({"application_id": "p", "steps": [
            {"op": "table", "name": "l", "topic": "left"},
            {"op": "table", "name": "r", "topic": "right"},
            {"op": "join", "name": "j", "left": "l", "right": "r", "kind": kind, "joiner": "concat(left, '+', right)"},
            {"op": "to_stream", "name": "s", "input": "j"},
            {"op": "to", "input": "s", "topic": "out"}]})).unwrap();
        let mut d = TestDriver::new(spec.compile_for_test_driver().unwrap());
        let mut view: BTreeMap<Value, Value> = BTreeMap::new();
        let (mut left, mut right): (BTreeMap<Value, String>, BTreeMap<Value, String>) = Default::default();
        for (is_left, k, v, ts) in &input {
            let (topic, table) = if *is_left { ("left", &mut left) } else { ("right", &mut right) };
            let key = Value::str(format!("k{k}"));
            let value = match v {
                Some(v) => {
                    let s = format!("{}{v}", if *is_left { "L" } else { "R" });
                    table.insert(key.clone(), s.clone());
                    Value::str(s)
                }
                None => {
                    table.remove(&key);
                    Value::Null
                }
            };
            for r in d.pipe(topic, key, value, *ts).unwrap().records {
                if r.value.is_null() {
                    view.remove(&r.key);
                } else {
                    view.insert(r.key, r.value);
                }
            }
        }
        let keys: BTreeSet<&Value> = left.keys().chain(right.keys()).collect();
        let mut expected = BTreeMap::new();
        for k in keys {
            let (l, r) = (left.get(k), right.get(k));
            let include = match kind {
                "inner" => l.is_some() && r.is_some(),
                "left" => l.is_some(),
                _ => true,
            };
            if include {
                let s = |x: Option<&String>| x.cloned().unwrap_or_else(|| "null".into());
                expected.insert(k.clone(), Value::str(format!("{}+{}", s(l), s(r))));
            }
        }
        prop_assert_eq!(view, expected);
    }
}
