//! `kafka-sandbox export --to compose`: the generated files are valid and complete. They
//! cannot run here (no Docker engine), so syntax and content are what we can check.
use std::process::Command;

fn export(scenario: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ks-export-{}-{}", std::process::id(), scenario.replace('/', "_")));
    let out = Command::new(env!("CARGO_BIN_EXE_kafka-sandbox"))
        .args(["export", &format!("scenarios/{scenario}.toml"), "--to", "compose", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

fn bash_syntax_ok(path: &std::path::Path) {
    let out = Command::new("bash").arg("-n").arg(path).output().unwrap();
    assert!(out.status.success(), "bash -n {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn compose_file_is_yaml_with_a_kraft_controller_and_every_broker() {
    let dir = export("replication/min-isr-two-failures");
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let services = doc["services"].as_mapping().unwrap();
    for s in ["controller", "kafka-1", "kafka-2", "kafka-3", "clients"] {
        assert!(services.contains_key(serde_yaml::Value::from(s)), "service {s}");
    }
    assert_eq!(doc["services"]["controller"]["environment"]["KAFKA_PROCESS_ROLES"], "controller");
    assert_eq!(doc["services"]["kafka-2"]["environment"]["KAFKA_NODE_ID"], "2");
    assert_eq!(doc["services"]["kafka-2"]["environment"]["KAFKA_PROCESS_ROLES"], "broker");
    assert!(!services.contains_key(serde_yaml::Value::from("schema-registry")));
}

#[test]
fn broker_configs_become_kafka_environment_variables() {
    let dir = export("replication/unclean-election-off");
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap()).unwrap();
    assert_eq!(doc["services"]["kafka-1"]["environment"]["KAFKA_REPLICA_LAG_TIME_MAX_MS"], "10000");
}

#[test]
fn replay_script_is_valid_bash_covering_topics_configs_and_every_timeline_step() {
    let dir = export("replication/min-isr-two-failures");
    let script = dir.join("run.sh");
    bash_syntax_ok(&script);
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text
        .contains("--create --topic 'orders' --partitions 3 --replication-factor 3 --config 'min.insync.replicas=2'"));
    assert!(text.contains("--producer-property 'acks=all'"));
    assert!(text.contains("$COMPOSE kill -s SIGKILL kafka-1"));
    assert!(text.contains("$COMPOSE kill -s SIGKILL kafka-2"));
    // Every timeline entry has its step, and predictions are printed beside them.
    assert_eq!(text.matches("\n# --- t=").count(), 3);
    assert!(text.contains("sandbox 't=17.0s: controller fenced broker 1'"), "{text}");
    assert!(text.contains("producer: 780 acknowledged"), "predictions use client names");
    assert!(std::fs::metadata(&script)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
        .unwrap());
}

#[test]
fn schema_scenarios_bring_a_registry_and_avro_console_producer() {
    let dir = export("schema/incompatible-change-refused");
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap()).unwrap();
    assert_eq!(
        doc["services"]["schema-registry"]["environment"]["SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL"],
        "backward"
    );
    let script = dir.join("run.sh");
    bash_syntax_ok(&script);
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("kafka-avro-console-producer"));
    assert!(text.contains("schema.registry.url=http://schema-registry:8081"));
}

#[test]
fn every_shipped_scenario_exports_to_valid_files() {
    for entry in walk("scenarios") {
        let text = std::fs::read_to_string(&entry).unwrap();
        if !text.contains("[cluster]") {
            continue;
        }
        let rel = entry.strip_prefix("scenarios/").unwrap().with_extension("");
        let dir = export(rel.to_str().unwrap());
        bash_syntax_ok(&dir.join("run.sh"));
        let _: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap()).unwrap();
    }
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().map(|x| x == "toml").unwrap_or(false) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
