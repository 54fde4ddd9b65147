//! `kafka-sandbox ksql` end to end: exit codes, JSON shapes, located SQL errors, and the
//! translated topology run by `kafka-sandbox streams` giving the same output.
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run_stdin(cmd: &str, input: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
        .arg(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(cmd: &str, input: &Value, args: &[&str]) -> Value {
    let out = run_stdin(cmd, &input.to_string(), args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn bad(input: &str) -> String {
    let out = run_stdin("ksql", input, &["--input", "-"]);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const SESSIONS: &str = "CREATE STREAM ride_streams (VendorId varchar, trip_distance double, payment_type varchar)
  WITH (KAFKA_TOPIC='rides', VALUE_FORMAT='JSON');
CREATE TABLE payment_type_sessions AS
  SELECT payment_type, count(*)
  FROM RIDE_STREAMS
  WINDOW SESSION (60 SECONDS)
  GROUP BY payment_type
  EMIT CHANGES;
SELECT * FROM payment_type_sessions EMIT CHANGES;";

fn rides() -> Value {
    let r = |p: i64, ts: i64| json!({"topic": "rides", "key": null, "value": {"VendorID": 1, "trip_distance": 1.0, "payment_type": p}, "ts": ts});
    json!([r(1, 0), r(1, 30_000), r(2, 40_000), r(1, 200_000)])
}

#[test]
fn the_course_session_table_prints_windowed_rows_tombstones_and_push_rows() {
    let out = ok("ksql", &json!({"statements": SESSIONS, "input": rides()}), &["--input", "-"]);
    let q = &out["queries"][0];
    assert_eq!(q["id"], "CTAS_PAYMENT_TYPE_SESSIONS_2");
    assert_eq!(q["topic"], "PAYMENT_TYPE_SESSIONS");
    assert_eq!(
        q["output"],
        json!([
            {"key": "1", "window_start": 0, "window_end": 0, "value": {"KSQL_COL_0": 1}, "ts": 0},
            {"key": "1", "window_start": 0, "window_end": 0, "value": null, "ts": 0},
            {"key": "1", "window_start": 0, "window_end": 30000, "value": {"KSQL_COL_0": 2}, "ts": 30000},
            {"key": "2", "window_start": 40000, "window_end": 40000, "value": {"KSQL_COL_0": 1}, "ts": 40000},
            {"key": "1", "window_start": 200000, "window_end": 200000, "value": {"KSQL_COL_0": 1}, "ts": 200000}])
    );
    let p = &out["push_queries"][0];
    assert_eq!(p["columns"], json!(["PAYMENT_TYPE", "WINDOWSTART", "WINDOWEND", "KSQL_COL_0"]));
    assert_eq!(p["rows"][2], json!({"row": ["1", 0, 30000, 2], "ts": 30000}));
    assert_eq!(p["rows"][1], json!({"row": ["1", 0, 0, null], "ts": 0, "tombstone": true}));
    assert_eq!(out["deserialization_errors"], 0);
}

#[test]
fn the_plan_runs_in_kafka_sandbox_streams_with_the_same_output() {
    let plan = ok("ksql", &json!({"statements": SESSIONS}), &["--input", "-", "--plan"]);
    let topology = &plan["queries"][0]["topology"];
    assert_eq!(topology["application_id"], "_confluent-ksql-default_query_CTAS_PAYMENT_TYPE_SESSIONS_2");
    // The topology reads deserialized rows (upper-case columns, VARCHAR payment_type).
    let r = |p: &str, ts: i64| json!({"topic": "rides", "key": null, "value": {"VENDORID": "1", "TRIP_DISTANCE": 1.0, "PAYMENT_TYPE": p}, "ts": ts});
    let streams = ok(
        "streams",
        &json!({"topology": topology, "input": [r("1", 0), r("1", 30_000), r("2", 40_000), r("1", 200_000)]}),
        &["--input", "-"],
    );
    let ksql = ok("ksql", &json!({"statements": SESSIONS, "input": rides()}), &["--input", "-"]);
    let strip = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|r| r.get("topic").is_none_or(|t| t == "PAYMENT_TYPE_SESSIONS"))
            .map(|r| json!([r["key"], r["window_start"], r["window_end"], r["value"], r["ts"]]))
            .collect()
    };
    assert_eq!(strip(&streams["output"]), strip(&ksql["queries"][0]["output"]));
}

#[test]
fn bad_sql_exits_2_naming_the_line_and_column() {
    let e = bad(&json!({"statements": "CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');\nSELECT a FROM s WHERE a == 1 EMIT CHANGES;", "input": []}).to_string());
    assert!(e.contains("<stdin>: statements: line 2:26: SQL compares with a single"), "{e}");
    let e = bad(&json!({"statements": "DELETE FROM s;", "input": []}).to_string());
    assert!(e.contains("line 1:1: unsupported statement") && e.contains("supported: CREATE STREAM"), "{e}");
    let e =
        bad(&json!({"statements": SESSIONS, "input": [{"topic": "nope", "key": null, "value": {}, "ts": 0}]})
            .to_string());
    assert!(e.contains("input[0].topic"), "{e}");
    let e = bad("{\"statements\": ");
    assert!(e.contains("line 1"), "{e}");
    let out =
        Command::new(env!("CARGO_BIN_EXE_kafka-sandbox")).args(["ksql", "--input", "/no/such/file"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file"));
}
