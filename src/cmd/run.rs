//! `kafka-sandbox run SCENARIO`: runs a scenario and prints what happened.
use crate::cli::{out, print_json, read_input, CliError, CliResult};
use sandbox_core::history::{check, Allowances, HistoryRecorder, HistoryReport};
use sandbox_core::scenario::{run::execute_with, run::render_line, run::Verdict, Scenario};
use sandbox_core::sim::time::SimTime;
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: String,
    /// Seed of the run (default: the scenario's own seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at this virtual time (milliseconds); expectations are not checked.
    #[arg(long)]
    until_ms: Option<f64>,
    /// Print every step: `text` (one line each) or `json` (one JSON object per line).
    #[arg(long, value_parser = ["text", "json"])]
    trace: Option<String>,
    /// Print the summary as JSON (the trace digest is the top-level `digest` field).
    #[arg(long)]
    json: bool,
}

/// `--json` output: the verdict's fields, plus the history checker's report.
#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    verdict: &'a Verdict,
    history: &'a HistoryReport,
}

pub fn load(path: &str) -> Result<Scenario, CliError> {
    let text = read_input(path)?;
    Scenario::parse(path, &text).map_err(|e| CliError::BadInput(e.to_string()))
}

pub fn run(args: Args) -> CliResult {
    let scenario = load(&args.scenario)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let until = match args.until_ms {
        None => None,
        Some(ms) if ms.is_finite() && ms >= 0.0 => Some(SimTime((ms * 1000.0) as u64)),
        Some(ms) => return Err(CliError::BadInput(format!("--until-ms {ms} is not a valid time"))),
    };
    let trace = args.trace.clone();
    let mut recorder = HistoryRecorder::new();
    let (world, verdict) = execute_with(&scenario, seed, until, HistoryRecorder::enable, |world, ev| {
        recorder.observe(world, ev);
        match trace.as_deref() {
            Some("text") => out(&render_line(world, ev)),
            Some("json") => {
                if let Ok(line) = serde_json::to_string(ev) {
                    out(&line);
                }
            }
            _ => {}
        }
    })
    .map_err(|e| CliError::BadInput(format!("{}: {e}", args.scenario)))?;
    let history = check(&recorder.finish(&world), &Allowances::of(&world));
    if args.json {
        print_json(&Output { verdict: &verdict, history: &history })?;
    } else {
        out(verdict.to_text().trim_end());
        out(&format!("\n{}", history.to_text().trim_end()));
    }
    if verdict.passed {
        Ok(())
    } else {
        Err(CliError::CheckFailed(String::new()))
    }
}
