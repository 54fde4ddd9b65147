//! The simulation commands of the `kafka-sandbox` binary: exit codes, JSON shape, errors.
use std::io::Write;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn temp_scenario(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ks-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

const SMALL: &str = r#"
name = "small"
duration_ms = 5000
[cluster]
brokers = 3
[[topic]]
name = "t"
partitions = 2
replication_factor = 3
[[producer]]
name = "p"
[[at]]
at_ms = 100
action = "produce"
producer = "p"
topic = "t"
count = 20
key = "cycle:4"
interval_ms = 10
[[expect]]
what = "acked"
equals = 20
"#;

#[test]
fn run_prints_json_with_a_top_level_digest_and_exits_zero() {
    let path = temp_scenario("ok", SMALL);
    let out = run(&["run", path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = v["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 16);
    assert_eq!(v["summary"]["producers"][0]["acked"], 20);
    // Same seed, same digest; another seed, another run.
    let again: serde_json::Value =
        serde_json::from_slice(&run(&["run", path.to_str().unwrap(), "--json"]).stdout).unwrap();
    assert_eq!(again["digest"], v["digest"]);
}

#[test]
fn a_failing_expectation_exits_one() {
    let path = temp_scenario("fail", &SMALL.replace("equals = 20", "equals = 21"));
    let out = run(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn scenario_errors_name_file_line_and_column() {
    let bad = SMALL.replace("partitions = 2", "partitions = 2\nconfig = { \"min.insync.replica\" = 2 }");
    let path = temp_scenario("badcfg", &bad);
    let out = run(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("badcfg.toml:9:12:"), "{err}");
    assert!(err.contains("did you mean 'min.insync.replicas'"), "{err}");

    let path = temp_scenario("badtoml", "name = \"x\"\nduration_ms = [\n");
    let out = run(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("badtoml.toml:"), "{}", String::from_utf8_lossy(&out.stderr));

    let unknown_broker =
        SMALL.replace("[[expect]]", "[[at]]\nat_ms = 200\naction = \"crash\"\nbroker = 9\n\n[[expect]]");
    let path = temp_scenario("badbroker", &unknown_broker);
    let out = run(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("badbroker.toml:20:1") && err.contains("no broker 9"), "{err}");
}

#[test]
fn partition_prints_kafkas_murmur2_and_partition() {
    let out = run(&["partition", "--partitions", "6", "--key", "21"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["murmur2"], -973_932_308);
    assert_eq!(v["partition"], ((-973_932_308i32 & 0x7fff_ffff) % 6) as i64);
    let hex = run(&["partition", "--partitions", "6", "--key-hex", "3231"]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&hex.stdout).unwrap()["murmur2"], -973_932_308);
    let null = run(&["partition", "--partitions", "6", "--null-key", "--seed", "3"]);
    assert!(null.status.success());
    assert_eq!(run(&["partition", "--partitions", "0", "--key", "a"]).status.code(), Some(2));
    assert_eq!(run(&["partition", "--partitions", "3", "--key-hex", "zz"]).status.code(), Some(2));
}

#[test]
fn sweep_reports_a_clean_range_and_check_finds_golden_digests() {
    let path = temp_scenario("sweep", SMALL);
    let out = run(&["sweep", path.to_str().unwrap(), "--seeds", "1..4", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seeds_run"], 4);
    assert_eq!(v["failed"], false);
    assert_eq!(run(&["sweep", path.to_str().unwrap(), "--seeds", "5..1"]).status.code(), Some(2));

    // No golden digest yet: check fails; after --bless it passes.
    let dir = path.parent().unwrap().to_str().unwrap().to_string();
    assert_eq!(run(&["check", &dir]).status.code(), Some(1));
    assert!(run(&["check", &dir, "--bless"]).status.success());
    assert!(run(&["check", &dir]).status.success());
}

#[test]
fn bench_reports_the_required_json_keys() {
    let out = run(&["bench", "--records", "2000", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["records_per_s", "events_per_s", "peak_memory_bytes"] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key}");
    }
}
