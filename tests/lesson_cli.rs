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

/// Every `*.toml` under `dir`, recursively.
fn toml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn the_course_has_at_least_16_lessons_that_lint_clean_and_30_blessed_scenarios() {
    let out = run(&["lesson", "lint", "scenarios/lessons", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lessons = v["lessons"].as_array().unwrap();
    assert!(lessons.len() >= 16, "{} lessons", lessons.len());
    assert!(lessons.iter().all(|l| l["ok"] == true), "{v:#}");
    // Every course part has a lesson, in the course's order.
    let mut modules = Vec::new();
    for f in lessons {
        let text = std::fs::read_to_string(f["file"].as_str().unwrap()).unwrap();
        let field = |name: &str| {
            let line = text.lines().find(|l| l.starts_with(&format!("{name} = "))).unwrap();
            line.split_once(" = ").unwrap().1.trim_matches('"').to_string()
        };
        modules.push((field("order").parse::<u32>().unwrap(), field("module")));
    }
    modules.sort();
    for part in ["6.0", "6.3", "6.4", "6.5", "6.6", "6.7", "6.8", "6.9", "6.10", "6.11", "6.12", "6.13", "6.14"] {
        assert!(modules.iter().any(|(_, m)| m == part), "no lesson for course part {part}");
    }
    let course: Vec<&str> = modules.iter().map(|(_, m)| m.as_str()).filter(|m| m.starts_with("6.")).collect();
    let key = |m: &str| m.split('.').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>();
    assert!(course.windows(2).all(|w| key(w[0]) <= key(w[1])), "lessons out of course order: {course:?}");

    let mut files = Vec::new();
    toml_files(std::path::Path::new("scenarios"), &mut files);
    let scenarios: Vec<_> =
        files.iter().filter(|f| std::fs::read_to_string(f).unwrap().lines().any(|l| l.trim() == "[cluster]")).collect();
    assert!(scenarios.len() >= 30, "{} scenarios", scenarios.len());
    let check = run(&["check", "scenarios", "--json"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    for f in &scenarios {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.contains("golden_digest = "), "{} has no golden digest", f.display());
        assert!(text.contains("description = "), "{} has no description", f.display());
    }
}
