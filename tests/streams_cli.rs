//! `kafka-sandbox streams` end to end: exit codes and JSON shapes.
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run_stdin(input: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
        .arg("streams")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(input: Value) -> Value {
    let out = run_stdin(&input.to_string(), &["--input", "-"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn bad(input: &str) -> String {
    let out = run_stdin(input, &["--input", "-"]);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rec(topic: &str, key: Option<&str>, value: Option<&str>, ts: i64) -> Value {
    json!({"topic": topic, "key": key, "value": value, "ts": ts})
}

#[test]
fn tumbling_count_prints_windows_with_exclusive_ends() {
    let out = ok(json!({
        "topology": {"op": "windowed_aggregate", "window": {"type": "tumbling", "size_ms": 10, "grace_ms": 0},
                     "aggregate": {"count": {}}, "emit": "on_window_update"},
        "input": [rec("input", Some("a"), Some("x"), 3), rec("input", Some("a"), Some("y"), 7),
                  rec("input", Some("a"), Some("z"), 11), rec("input", Some("a"), Some("late"), 2)]}));
    assert_eq!(
        out,
        json!({"output": [
        {"key": "a", "window_start": 0, "window_end": 10, "value": 1, "ts": 3},
        {"key": "a", "window_start": 0, "window_end": 10, "value": 2, "ts": 7},
        {"key": "a", "window_start": 10, "window_end": 20, "value": 1, "ts": 11}],
      "dropped": 1})
    );
}

#[test]
fn output_fields_come_in_the_documented_order() {
    let out = run_stdin(
        &json!({"topology": {"op": "windowed_aggregate", "window": {"type": "tumbling", "size_ms": 10, "grace_ms": 0},
                             "aggregate": {"count": {}}},
                "input": [rec("input", Some("a"), Some("x"), 3)]})
        .to_string(),
        &["--input", "-"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let pos = |f: &str| text.find(&format!("\"{f}\"")).unwrap();
    assert!(pos("output") < pos("dropped"));
    assert!(pos("key") < pos("window_start") && pos("window_start") < pos("window_end"));
    assert!(pos("window_end") < pos("value") && pos("value") < pos("ts"));
}

#[test]
fn hopping_concat_on_window_close() {
    let out = ok(json!({
        "topology": {"op": "windowed_aggregate", "window": {"type": "hopping", "size_ms": 10, "advance_ms": 5, "grace_ms": 0},
                     "aggregate": {"concat": {"initial": "<", "separator": "|"}}, "emit": "on_window_close"},
        "input": [rec("input", Some("a"), Some("x"), 6), rec("input", Some("a"), Some("y"), 9),
                  rec("input", Some("a"), Some("z"), 25)]}));
    assert_eq!(
        out,
        json!({"output": [
        {"key": "a", "window_start": 0, "window_end": 10, "value": "<|x|y", "ts": 9},
        {"key": "a", "window_start": 5, "window_end": 15, "value": "<|x|y", "ts": 9}],
      "dropped": 0})
    );
}

#[test]
fn sliding_windows_have_inclusive_ends() {
    let out = ok(json!({
        "topology": {"op": "windowed_aggregate", "window": {"type": "sliding", "time_difference_ms": 10, "grace_ms": 0},
                     "aggregate": {"count": {}}},
        "input": [rec("input", Some("a"), Some("x"), 20), rec("input", Some("a"), Some("y"), 30)]}));
    assert_eq!(
        out["output"],
        json!([
        {"key": "a", "window_start": 10, "window_end": 20, "value": 1, "ts": 20},
        {"key": "a", "window_start": 21, "window_end": 31, "value": 1, "ts": 30},
        {"key": "a", "window_start": 20, "window_end": 30, "value": 2, "ts": 30}])
    );
}

#[test]
fn merged_sessions_are_emitted_once_with_a_null_value() {
    let out = ok(json!({
        "topology": {"op": "windowed_aggregate", "window": {"type": "session", "gap_ms": 5, "grace_ms": 0},
                     "aggregate": {"count": {}}},
        "input": [rec("input", Some("a"), Some("x"), 0), rec("input", Some("a"), Some("y"), 8),
                  rec("input", Some("a"), Some("z"), 4)]}));
    assert_eq!(
        out["output"],
        json!([
        {"key": "a", "window_start": 0, "window_end": 0, "value": 1, "ts": 0},
        {"key": "a", "window_start": 8, "window_end": 8, "value": 1, "ts": 8},
        {"key": "a", "window_start": 0, "window_end": 0, "value": null, "ts": 0},
        {"key": "a", "window_start": 8, "window_end": 8, "value": null, "ts": 8},
        {"key": "a", "window_start": 0, "window_end": 8, "value": 3, "ts": 8}])
    );
}

#[test]
fn stream_stream_left_join_spells_missing_sides_as_null() {
    let out = ok(json!({
        "topology": {"op": "stream_stream_join", "join": "left", "before_ms": 5, "after_ms": 5, "grace_ms": 0},
        "input": [rec("left", Some("a"), Some("A"), 0), rec("right", Some("b"), Some("x"), 1),
                  rec("left", Some("b"), Some("B"), 3), rec("left", Some("c"), Some("C"), 20)]}));
    assert_eq!(
        out,
        json!({"output": [
        {"key": "b", "value": "B+x", "ts": 3},
        {"key": "a", "value": "A+null", "ts": 0}],
      "dropped": 0})
    );
}

#[test]
fn table_table_join_emits_null_for_a_deleted_result() {
    let out = ok(json!({
        "topology": {"op": "table_table_join", "join": "inner"},
        "input": [rec("left", Some("k"), Some("L"), 1), rec("right", Some("k"), Some("R"), 2),
                  rec("left", Some("k"), None, 3)]}));
    assert_eq!(
        out,
        json!({"output": [
        {"key": "k", "value": "L+R", "ts": 2},
        {"key": "k", "value": null, "ts": 3}],
      "dropped": 0})
    );
}

#[test]
fn a_full_topology_description_is_accepted_too() {
    let out = ok(json!({
        "topology": {"application_id": "rides", "steps": [
            {"op": "stream", "name": "rides", "topics": ["rides"]},
            {"op": "split", "input": "rides", "branches": [
                {"name": "high", "predicate": "total_amount >= 40"}, {"name": "low"}]},
            {"op": "to", "input": "high", "topic": "high-amount"},
            {"op": "to", "input": "low", "topic": "low-amount"}]},
        "input": [
            {"topic": "rides", "key": "1", "value": {"total_amount": 52.5}, "ts": 1},
            {"topic": "rides", "key": "2", "value": {"total_amount": 12.0}, "ts": 2}]}));
    assert_eq!(out["output"][0]["topic"], "high-amount");
    assert_eq!(out["output"][1]["topic"], "low-amount");
    assert_eq!(out["output"][1]["value"], json!({"total_amount": 12.0}));
}

#[test]
fn invalid_windows_exit_2_naming_the_field() {
    let wa = |w: Value| {
        json!({"topology": {"op": "windowed_aggregate", "window": w, "aggregate": {"count": {}}}, "input": []})
            .to_string()
    };
    let e = bad(&wa(json!({"type": "tumbling", "size_ms": 0, "grace_ms": 0})));
    assert!(e.contains("topology.window.size_ms") && e.contains("must be larger than zero"), "{e}");
    let e = bad(&wa(json!({"type": "hopping", "size_ms": 10, "advance_ms": 0, "grace_ms": 0})));
    assert!(e.contains("topology.window.advance_ms"), "{e}");
    let e = bad(&wa(json!({"type": "hopping", "size_ms": 10, "advance_ms": 11, "grace_ms": 0})));
    assert!(e.contains("topology.window.advance_ms"), "{e}");
    let e = bad(&wa(json!({"type": "tumbling", "size_ms": 10, "grace_ms": -1})));
    assert!(e.contains("topology.window.grace_ms") && e.contains("must not be negative"), "{e}");
    let e = bad(&wa(json!({"type": "session", "gap_ms": 0, "grace_ms": 0})));
    assert!(e.contains("topology.window.gap_ms"), "{e}");
    let e = bad(&wa(json!({"type": "hopping", "size_ms": 100000000, "advance_ms": 1, "grace_ms": 0})));
    assert!(e.contains("hopping windows") && e.contains("at most"), "{e}");
    let e = bad(&wa(json!({"type": "weekly", "size_ms": 1})));
    assert!(e.contains("topology.window") && e.contains("weekly"), "{e}");
}

#[test]
fn bad_input_exits_2_with_a_location() {
    let e = bad(r#"{"topology": {"op": "stream_table_join"}, "input": []}"#);
    assert!(e.contains("topology.op") && e.contains("unknown op"), "{e}");
    let e = bad(
        r#"{"topology": {"op": "stream_stream_join", "join": "inner", "before_ms": -5, "after_ms": 2}, "input": []}"#,
    );
    assert!(e.contains("before_ms"), "{e}");
    let e = bad(
        r#"{"topology": {"op": "table_table_join", "join": "inner"}, "input": [{"topic": "left", "key": "k", "value": "v"}]}"#,
    );
    assert!(e.contains("input[0]") && e.contains("ts"), "{e}");
    let e = bad(r#"{"topology": {"op": "table_table_join", "join": "sideways"}, "input": []}"#);
    assert!(e.contains("topology.join"), "{e}");
    let e = bad("{\"topology\": [");
    assert!(e.contains("<stdin>") && e.contains("line 1"), "{e}");
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
        .args(["streams", "--input", "/nonexistent/input.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/input.json"));
}

#[test]
fn taxi_rides_are_seeded() {
    let run = |seed: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
            .args(["streams", "--taxi-rides", "3", "--seed", seed])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let a = run("1");
    assert_eq!(a, run("1"));
    assert_ne!(a, run("2"));
    assert_eq!(a.as_array().unwrap().len(), 3);
    for col in ["VendorID", "tpep_pickup_datetime", "PULocationID", "total_amount", "congestion_surcharge"] {
        assert!(a[0].get(col).is_some(), "missing {col}");
    }
}
