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

/// A share link as the page writes it.
fn link(name: &str, seed: u64, actions: Vec<sandbox_core::world::LoggedAction>, cursor: u64) -> String {
    let shared = sandbox_core::share::Shared {
        source: sandbox_core::share::Source::Builtin(name.into()),
        seed,
        actions,
        cursor,
    };
    format!("http://127.0.0.1:8080/#{}", sandbox_core::share::encode(&shared))
}

fn replay_json(args: &[&str]) -> serde_json::Value {
    let out = run(&[&["replay"], args].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn replay_of_a_share_link_reaches_the_digest_of_the_same_run() {
    use sandbox_core::action::Action;
    use sandbox_core::world::{LoggedAction, World};
    let name = "replication/acks-1-leader-crash";
    let path = format!("scenarios/{name}.toml");
    let full: serde_json::Value = serde_json::from_slice(&run(&["run", &path, "--json"]).stdout).unwrap();
    let seed = full["seed"].as_u64().unwrap();
    // No clicks, to the end: the run's own digest.
    let end = replay_json(&[&link(name, seed, vec![], 1), "--to-end", "--json"]);
    assert_eq!(end["digest"], full["digest"]);
    // A clicked crash at step 50, the cursor at 200: the core's replay of the same log.
    let crash = vec![LoggedAction { at_step: 50, action: Action::Crash { broker: 2 } }];
    let at = replay_json(&[&link(name, seed, crash.clone(), 200), "--json"]);
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = sandbox_core::scenario::Scenario::parse(&path, &text).unwrap();
    let world = World::replay(&scenario.setup, seed, &crash, 200).unwrap();
    assert_eq!(at["step"], 200);
    assert_eq!(at["digest"].as_str().unwrap(), format!("{:016x}", world.digest()));
    let plain = replay_json(&[&link(name, seed, vec![], 200), "--json"]);
    assert_ne!(at["digest"], plain["digest"], "the crash changed the run");
    // An action after the cursor (the user stepped back): the world at the cursor is before it.
    let later = vec![LoggedAction { at_step: 300, action: Action::Crash { broker: 2 } }];
    assert_eq!(replay_json(&[&link(name, seed, later, 200), "--json"])["digest"], plain["digest"]);
}

#[test]
fn replay_rejects_bad_links_with_a_clear_error() {
    use sandbox_core::action::Action;
    use sandbox_core::world::LoggedAction;
    let cases: Vec<(String, &str)> = vec![
        ("http://x/#v=2&s=a".into(), "link version '2'"),
        ("#v=1&s=../../etc/passwd&seed=1&c=1".into(), "is not a scenario name"),
        (link("no/such-scenario", 1, vec![], 1), "no/such-scenario.toml"),
        (
            link(
                "replication/acks-1-leader-crash",
                1,
                vec![LoggedAction { at_step: 5, action: Action::Crash { broker: 9 } }],
                10,
            ),
            "action 1 of 1",
        ),
        (link("replication/acks-1-leader-crash", 1, vec![], 1_900_000), "past the end of the run"),
        // Refused by the decoder before any step: an action at its step means running there.
        (
            link(
                "producer/keys-and-hot-partitions",
                1,
                vec![LoggedAction { at_step: 3_000_000_000, action: Action::Crash { broker: 1 } }],
                10,
            ),
            "action 1 of 1 ('crash broker 1') is at step 3000000000, beyond the 2000000 steps",
        ),
    ];
    for (l, want) in cases {
        let out = run(&["replay", &l]);
        assert_eq!(out.status.code(), Some(2), "{l}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{l}: {err}");
    }
}
