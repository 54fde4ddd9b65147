//! `kafka-sandbox assign`, run as a program.
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sandbox(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The program may exit (bad flags) before reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn assign(strategy: &str, request: &str) -> Output {
    sandbox(&["assign", "--strategy", strategy, "--input", "-"], request)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const DEMO: &str = r#"{
  "topics": {"demo_1": 2},
  "members": [
    {"member_id": "consumer-2", "group_instance_id": null, "subscription": ["demo_1"], "owned": [], "generation": null},
    {"member_id": "consumer-1", "group_instance_id": null, "subscription": ["demo_1"], "owned": [], "generation": null},
    {"member_id": "consumer-3", "group_instance_id": null, "subscription": ["demo_1"], "owned": [], "generation": null}
  ]
}"#;

#[test]
fn third_consumer_of_a_two_partition_topic_idles() {
    let v = json(&assign("range", DEMO));
    assert_eq!(
        v,
        serde_json::json!({"assignment": {
            "consumer-1": ["demo_1-0"],
            "consumer-2": ["demo_1-1"],
            "consumer-3": []
        }})
    );
}

#[test]
fn every_strategy_answers_with_every_member() {
    for s in [
        "range",
        "roundrobin",
        "sticky",
        "cooperative-sticky",
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
    ] {
        let v = json(&assign(s, DEMO));
        let a = v["assignment"].as_object().unwrap();
        assert_eq!(a.len(), 3, "{s}");
        let total: usize = a.values().map(|p| p.as_array().unwrap().len()).sum();
        assert_eq!(total, 2, "{s}");
    }
}

#[test]
fn reads_a_file_and_topics_with_dashes() {
    let dir = std::env::temp_dir().join(format!("assign-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("request.json");
    std::fs::write(
        &path,
        r#"{"topics": {"orders-eu-west": 3}, "members": [
            {"member_id": "a", "subscription": ["orders-eu-west"], "owned": ["orders-eu-west-2"], "generation": 3},
            {"member_id": "b", "subscription": ["orders-eu-west"]}]}"#,
    )
    .unwrap();
    let out = sandbox(&["assign", "--strategy", "sticky", "--input", path.to_str().unwrap()], "");
    let v = json(&out);
    // a keeps its partition; b, below minQuota, is filled first; the last partition goes
    // to the member waiting at minQuota.
    assert_eq!(v["assignment"]["a"], serde_json::json!(["orders-eu-west-1", "orders-eu-west-2"]));
    assert_eq!(v["assignment"]["b"], serde_json::json!(["orders-eu-west-0"]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn details_show_what_cooperative_withholds() {
    let request = r#"{"topics": {"t": 3}, "members": [
        {"member_id": "consumer1", "subscription": ["t"], "owned": ["t-0", "t-1", "t-2"], "generation": 1},
        {"member_id": "consumer2", "subscription": ["t"], "owned": [], "generation": 1}]}"#;
    let out = sandbox(&["assign", "--strategy", "cooperative-sticky", "--input", "-", "--details"], request);
    let v = json(&out);
    assert_eq!(v["assignment"]["consumer1"], serde_json::json!(["t-0", "t-1"]));
    assert_eq!(v["assignment"]["consumer2"], serde_json::json!([]));
    assert_eq!(v["withheld"], serde_json::json!({"t-2": "consumer2"}));
    assert_eq!(v["sticky_path"], "constrained");
}

#[test]
fn malformed_json_exits_2_with_the_location() {
    let out = assign("range", "{\"topics\": {\"t\": 1},\n \"members\": [}");
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("<stdin>") && e.contains("line 2"), "{e}");
}

#[test]
fn bad_requests_exit_2_naming_the_field() {
    let cases = [
        (
            r#"{"topics": {"t": 1}, "members": [{"member_id": "a", "subscription": ["t"], "owned": ["t-0", "typo-0"]}]}"#,
            "members[0].owned[1]",
        ),
        (
            r#"{"topics": {"t": 1}, "members": [{"member_id": "a", "subscription": ["t"]}, {"member_id": "a", "subscription": ["t"]}]}"#,
            "members[1].member_id",
        ),
        (r#"{"topics": {"t": 0}, "members": []}"#, "topics.\"t\""),
        (r#"{"topics": {"t": 100001}, "members": []}"#, "topics.\"t\""),
        (r#"{"topics": {"t": 5000000000}, "members": []}"#, "line 1"),
        (
            r#"{"topics": {"t": 2}, "members": [{"member_id": "a", "subscription": ["t"], "owned": ["t-2"]}]}"#,
            "members[0].owned[0]",
        ),
        (
            r#"{"topics": {"t": 2}, "members": [{"member_id": "a", "subscription": ["t", "t"]}]}"#,
            "members[0].subscription[1]",
        ),
        (
            r#"{"topics": {"t": 2}, "members": [{"member_id": "a", "group_instance_id": "i", "subscription": ["t"]}, {"member_id": "b", "group_instance_id": "i", "subscription": ["t"]}]}"#,
            "members[1].group_instance_id",
        ),
        (
            r#"{"topics": {"t": 2}, "members": [{"member_id": "a", "subscription": ["t"], "generation": "one"}]}"#,
            "line 1",
        ),
        (r#"{"topics": {"bad name": 2}, "members": []}"#, "topics.\"bad name\""),
    ];
    for (request, location) in cases {
        let out = assign("cooperative-sticky", request);
        assert_eq!(out.status.code(), Some(2), "{request}");
        let e = stderr(&out);
        assert!(e.contains(location), "{request}: {e}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn unknown_strategy_and_missing_file_exit_2() {
    let out = assign("sticky2", DEMO);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown assignment strategy"));
    let out = sandbox(&["assign", "--strategy", "range", "--input", "/nonexistent/request.json"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/request.json"));
}
