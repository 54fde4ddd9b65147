//! Lessons from the command line: the lint, grading, and errors in lesson files.
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sandbox")).args(args).output().unwrap()
}

#[test]
fn every_shipped_lesson_passes_the_lint() {
    let out = run(&["lesson", "lint", "scenarios/lessons", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed"], 0, "{v:#}");
    assert!(out.status.success());
}

#[test]
fn answers_are_graded_against_the_simulation() {
    let file = "scenarios/lessons/66-acks-and-loss.toml";
    let right: serde_json::Value =
        serde_json::from_slice(&run(&["lesson", "answer", file, "failed", "0", "--json"]).stdout).unwrap();
    assert_eq!(right["correct"], true);
    let wrong: serde_json::Value =
        serde_json::from_slice(&run(&["lesson", "answer", file, "leader", "1", "--json"]).stdout).unwrap();
    assert_eq!(wrong["correct"], false);
    assert_eq!(wrong["expected"], "2");
    assert_eq!(run(&["lesson", "answer", file, "no-such-question", "1"]).status.code(), Some(2));
}

#[test]
fn a_broken_lesson_is_reported_with_its_problems() {
    let dir = std::env::temp_dir().join(format!("ks-lessons-{}", std::process::id()));
    let lessons = dir.join("lessons");
    std::fs::create_dir_all(&lessons).unwrap();
    std::fs::create_dir_all(dir.join("replication")).unwrap();
    std::fs::copy("scenarios/replication/acks-1-leader-crash.toml", dir.join("replication/acks-1-leader-crash.toml"))
        .unwrap();
    let text = std::fs::read_to_string("scenarios/lessons/66-acks-and-loss.toml").unwrap();
    // A choice whose right answer is missing from the choices, and no goals.
    let broken = text
        .replace("choices = [\"1\", \"2\", \"3\", \"none\"]", "choices = [\"1\", \"3\"]")
        .replace("goals = [", "goals = []\nunused_goals = [");
    std::fs::write(lessons.join("broken.toml"), &broken).unwrap();
    let out = run(&["lesson", "lint", lessons.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout.contains("unknown field `unused_goals`") || stderr.contains("unused_goals"), "{stdout}{stderr}");
    let fixed = text.replace("choices = [\"1\", \"2\", \"3\", \"none\"]", "choices = [\"1\", \"3\"]");
    std::fs::write(lessons.join("broken.toml"), fixed).unwrap();
    let out = run(&["lesson", "lint", lessons.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("the right answer '2' is not among the choices"));
}
