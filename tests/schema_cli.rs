//! `kafka-sandbox schema ...`: exit codes and JSON output of the real binary.
use serde_json::{json, Value as Json};
use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kafka-sandbox");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/schemas");

fn schema_file(name: &str) -> String {
    format!("{SCHEMAS}/{name}.avsc")
}

fn schema_json(name: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(schema_file(name)).unwrap()).unwrap()
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn check(request: &Json, extra: &[&str]) -> (i32, Json, String) {
    let mut args = vec!["schema", "check", "--input", "-"];
    args.extend_from_slice(extra);
    let out = run(&args, Some(&request.to_string()));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Json::Null);
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn reader_writer_check_prints_the_verdict_and_exits_0() {
    let (code, out, _) = check(
        &json!({"reader": schema_json("ride_value_v2_total_amount_string"), "writer": schema_json("ride_value_v1")}),
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        json!({"compatible": false, "incompatibilities": [{
            "type": "TYPE_MISMATCH",
            "location": "/fields/4/type",
            "message": "reader type: STRING not compatible with writer type: FLOAT"
        }]})
    );
    let (code, out, _) = check(
        &json!({"reader": schema_json("ride_value_v2_add_tip_amount"), "writer": schema_json("ride_value_v1")}),
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(out, json!({"compatible": true, "incompatibilities": []}));
}

#[test]
fn fail_on_incompatible_exits_1() {
    let request = json!({"reader": "int", "writer": "string"});
    let (code, out, _) = check(&request, &["--fail-on-incompatible"]);
    assert_eq!(code, 1);
    assert_eq!(out["compatible"], json!(false));
    let (code, _, _) = check(&json!({"reader": "long", "writer": "int"}), &["--fail-on-incompatible"]);
    assert_eq!(code, 0);
}

#[test]
fn level_check_shows_the_transitive_trap() {
    let previous = json!([schema_json("ride_value_v1"), schema_json("ride_value_v2_congestion_surcharge")]);
    let candidate = schema_json("ride_value_v3_congestion_surcharge_required");
    let (code, out, _) = check(&json!({"level": "BACKWARD", "previous": previous, "candidate": candidate}), &[]);
    assert_eq!(code, 0);
    assert_eq!(out, json!({"compatible": true, "messages": []}));
    let (code, out, _) =
        check(&json!({"level": "BACKWARD_TRANSITIVE", "previous": previous, "candidate": candidate}), &[]);
    assert_eq!(code, 0);
    assert_eq!(out["compatible"], json!(false));
    let messages = out["messages"].as_array().unwrap();
    assert!(messages[0].as_str().unwrap().starts_with(
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'congestion_surcharge' at path '/fields/5'"
    ));
    assert_eq!(messages[1], json!("{oldSchemaVersion: 1}"));
    assert_eq!(messages.last().unwrap(), &json!("{validateFields: 'false', compatibility: 'BACKWARD_TRANSITIVE'}"));
}

#[test]
fn schemas_may_be_given_as_text_strings() {
    let text = std::fs::read_to_string(schema_file("ride_value_v1")).unwrap();
    let (code, out, _) = check(
        &json!({"level": "FULL", "previous": [text], "candidate": schema_json("ride_value_v2_add_tip_amount")}),
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(out["compatible"], json!(true));
}

#[test]
fn invalid_schemas_exit_2_with_their_location() {
    let record = |fields: Json| json!({"type": "record", "name": "R", "fields": fields});
    let cases = [
        (
            json!({"reader": record(json!([{"name": "a", "type": "integer"}])), "writer": "int"}),
            "/reader/fields/0/type",
            "undefined name",
        ),
        (json!({"reader": "int", "writer": {"type": "rekord", "name": "X"}}), "/writer/type", "unknown type"),
        (
            json!({"reader": record(json!([{"name": "a", "type": "int", "default": "x"}])), "writer": "int"}),
            "/reader/fields/0/default",
            "invalid default",
        ),
        (
            json!({"reader": record(json!([{"name": "a", "type": ["null", "int"], "default": 1}])), "writer": "int"}),
            "/reader/fields/0/default",
            "first branch",
        ),
        (
            json!({"reader": record(json!([{"name": "a", "type": "int"}, {"name": "a", "type": "int"}])), "writer": "int"}),
            "/reader/fields/1/name",
            "duplicate field",
        ),
        (
            json!({"level": "BACKWARD", "previous": ["{\"type\": \"record\""], "candidate": "int"}),
            "/previous/0 (line 1 column 17)",
            "not valid JSON",
        ),
        (json!({"level": "SIDEWAYS", "previous": [], "candidate": "int"}), "/level", "unknown compatibility level"),
        (json!({"reader": "int"}), "/", "missing \"writer\""),
    ];
    for (request, location, message) in cases {
        let (code, _, stderr) = check(&request, &[]);
        assert_eq!(code, 2, "{request}: {stderr}");
        assert!(stderr.contains(&format!("-: {location}: ")), "{request}: {stderr}");
        assert!(stderr.contains(message), "{request}: {stderr}");
    }
}

#[test]
fn absurdly_deep_and_unparsable_input_exit_2_without_crashing() {
    let deep = format!("{{\"reader\": {}\"int\"{}, \"writer\": \"int\"}}", "[".repeat(50_000), "]".repeat(50_000));
    let out = run(&["schema", "check", "--input", "-"], Some(&deep));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1 column"));
    let out = run(&["schema", "check", "--input", "-"], Some("{not json"));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["schema", "check", "--input", "/no/such/file.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.json"));
}

#[test]
fn encode_prints_confluent_bytes_and_decode_reads_them_back_through_a_reader() {
    let value =
        r#"{"vendor_id": 2, "passenger_count": 1, "trip_distance": 1.72, "payment_type": 1, "total_amount": 17.8}"#;
    let out =
        run(&["schema", "encode", "--schema", &schema_file("ride_value_v1"), "--id", "3", "--value", value], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let encoded: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(encoded["hex"], json!("00 00 00 00 03 04 02 f6 28 dc 3f 02 66 66 8e 41"));
    assert_eq!(encoded["spans"][4]["path"], json!("/trip_distance"));
    let hex = encoded["hex"].as_str().unwrap();
    let out = run(
        &[
            "schema",
            "decode",
            "--schema",
            &schema_file("ride_value_v1"),
            "--reader",
            &schema_file("ride_value_v2_add_tip_amount"),
            "--hex",
            hex,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let decoded: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decoded["schema_id"], json!(3));
    assert_eq!(
        decoded["value"],
        json!({"vendor_id": 2, "passenger_count": 1, "trip_distance": 1.72, "payment_type": 1, "total_amount": 17.8, "tip_amount": 0.0})
    );
}

#[test]
fn decode_failures_exit_2_naming_byte_and_field() {
    let hex = "00 00 00 00 03 04 02 f6 28 dc 3f 02 66 66 8e 41";
    let out = run(
        &[
            "schema",
            "decode",
            "--schema",
            &schema_file("ride_value_v1"),
            "--reader",
            &schema_file("ride_value_v2_total_amount_string"),
            "--hex",
            hex,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Found float, expecting string (value /total_amount)"));
    let out =
        run(&["schema", "decode", "--schema", &schema_file("ride_value_v1"), "--hex", "00 00 00 00 03 04 02 f6"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("byte 7"));
    let out = run(&["schema", "decode", "--schema", &schema_file("ride_value_v1"), "--hex", "7b 22"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unknown magic byte!"));
    let out = run(&["schema", "decode", "--schema", &schema_file("ride_value_v1"), "--hex", "0g"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn encode_rejects_values_that_do_not_fit() {
    let out = run(
        &["schema", "encode", "--schema", &schema_file("ride_value_v1"), "--value", r#"{"vendor_id": "two"}"#],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--value: /vendor_id: expected int"), "{err}");
    let out = run(&["schema", "encode", "--schema", "/no/such.avsc", "--value", "1"], None);
    assert_eq!(out.status.code(), Some(2));
}
