//! `kafka-sandbox lesson lint|show|answer`: lessons from the command line.
use crate::cli::{out, print_json, read_input, CliError, CliResult};
use sandbox_core::lesson::Lesson;
use sandbox_core::scenario::Scenario;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Check every lesson: goals, scenario, questions whose answers compute, break-it.
    Lint {
        #[arg(default_value = "scenarios/lessons")]
        dir: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a lesson as text.
    Show { file: String },
    /// Grade an answer to one question against the simulation.
    Answer {
        file: String,
        question: String,
        answer: String,
        #[arg(long)]
        json: bool,
    },
}

/// Loads a lesson and its scenario (scenario paths are relative to `scenarios/`, the
/// lessons directory's parent).
fn load(file: &str) -> Result<(Lesson, Scenario), CliError> {
    let lesson = Lesson::parse(file, &read_input(file)?).map_err(|e| CliError::BadInput(e.to_string()))?;
    let root = Path::new(file).parent().and_then(|p| p.parent()).unwrap_or(Path::new("scenarios"));
    let path: PathBuf = root.join(&lesson.lesson.scenario);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::BadInput(format!("{file}: scenario {}: {e}", path.display())))?;
    let scenario =
        Scenario::parse(&path.display().to_string(), &text).map_err(|e| CliError::BadInput(e.to_string()))?;
    Ok((lesson, scenario))
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Sub::Lint { dir, json } => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| CliError::BadInput(format!("{dir}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().map(|e| e == "toml").unwrap_or(false))
                .collect();
            files.sort();
            let mut report = Vec::new();
            let mut ids = std::collections::BTreeMap::new();
            for f in &files {
                let name = f.display().to_string();
                let mut problems = match load(&name) {
                    Ok((lesson, scenario)) => {
                        if let Some(other) = ids.insert(lesson.lesson.id.clone(), name.clone()) {
                            vec![format!("lesson id '{}' is also used by {other}", lesson.lesson.id)]
                        } else {
                            lesson.lint(&scenario)
                        }
                    }
                    Err(CliError::BadInput(m)) | Err(CliError::CheckFailed(m)) => vec![m],
                };
                problems.dedup();
                report.push(serde_json::json!({ "file": name, "ok": problems.is_empty(), "problems": problems }));
            }
            let failed = report.iter().filter(|r| r["ok"] == false).count();
            if json {
                print_json(&serde_json::json!({ "lessons": report, "failed": failed }))?;
            } else {
                for r in &report {
                    out(&format!(
                        "{} {}",
                        if r["ok"] == true { "ok  " } else { "FAIL" },
                        r["file"].as_str().unwrap_or("")
                    ));
                    for p in r["problems"].as_array().into_iter().flatten() {
                        out(&format!("       {}", p.as_str().unwrap_or("")));
                    }
                }
                out(&format!("{} lessons, {failed} with problems", report.len()));
            }
            if files.is_empty() {
                return Err(CliError::BadInput(format!("{dir}: no lessons (*.toml)")));
            }
            if failed > 0 {
                return Err(CliError::CheckFailed(String::new()));
            }
            Ok(())
        }
        Sub::Show { file } => {
            let (lesson, scenario) = load(&file)?;
            let m = &lesson.lesson;
            out(&format!("{} ({}) — {}\n\nGoals:", m.title, m.module, scenario.title));
            for g in &m.goals {
                out(&format!("  - {g}"));
            }
            for s in &lesson.sections {
                out(&format!("\n## {}\n{}", s.heading, s.text.trim()));
            }
            if !lesson.streams.is_empty() {
                out("\nStreams test-driver runs (kafka-sandbox streams):");
                for (name, run) in &lesson.streams {
                    out(&format!("  {name}: {}", run.description.trim()));
                }
            }
            out("\nPredict, then run:");
            for q in &lesson.questions {
                let choices =
                    if q.choices.is_empty() { String::new() } else { format!(" [{}]", q.choices.join(" / ")) };
                out(&format!("  {}: {}{choices}", q.id, q.prompt));
            }
            out(&format!("\nBreak it: {}\n\nRecap: {}", lesson.break_it.prompt.trim(), lesson.recap.trim()));
            Ok(())
        }
        Sub::Answer { file, question, answer, json } => {
            let (lesson, scenario) = load(&file)?;
            let verdict = lesson.run(&scenario).map_err(|e| CliError::BadInput(e.to_string()))?;
            let graded = lesson.grade(&question, &answer, &verdict.summary).map_err(CliError::BadInput)?;
            if json {
                print_json(&graded)
            } else {
                out(&format!(
                    "{} (the simulation says {})\n{}",
                    if graded.correct { "Right" } else { "Not quite" },
                    graded.expected,
                    graded.explain.trim()
                ));
                Ok(())
            }
        }
    }
}
