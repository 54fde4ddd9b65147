//! `kafka-sandbox sweep SCENARIO --seeds A..B`: random fault schedules on many seeds; on
//! the first invariant violation, prints the seed and a shrunk schedule that reproduces it.
use crate::cli::{out, print_json, CliError, CliResult};
use sandbox_core::sweep::{random_faults, run_with_faults, shrink, to_toml, SeedOutcome};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(clap::Args)]
pub struct Args {
    /// The base scenario (its timeline runs alongside the faults).
    scenario: String,
    /// Seed range, inclusive: `A..B` (or a single seed).
    #[arg(long, default_value = "1..100")]
    seeds: String,
    /// Fault schedule generator.
    #[arg(long, default_value = "random", value_parser = ["random"])]
    faults: String,
    /// Worker threads (seeds are independent).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    seeds_run: u64,
    failed: bool,
    seed: Option<u64>,
    invariant: Option<String>,
    step: Option<u64>,
    detail: Option<String>,
    /// The shrunk schedule as scenario timeline entries.
    reproduction: Option<String>,
    actions: usize,
}

fn parse_range(text: &str) -> Result<(u64, u64), CliError> {
    let bad = || CliError::BadInput(format!("--seeds '{text}': write A..B (inclusive) or a single seed"));
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => {
            (a.trim().parse().map_err(|_| bad())?, b.trim().trim_start_matches('=').parse().map_err(|_| bad())?)
        }
        None => {
            let s = text.trim().parse().map_err(|_| bad())?;
            (s, s)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

pub fn run(args: Args) -> CliResult {
    let scenario = super::run::load(&args.scenario)?;
    let (first, last) = parse_range(&args.seeds)?;
    let setup = &scenario.setup;
    let next = AtomicU64::new(first);
    let stop = AtomicBool::new(false);
    let ran = AtomicU64::new(0);
    let failures: Mutex<Vec<SeedOutcome>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed > last {
                    return;
                }
                let faults = random_faults(setup, seed);
                match run_with_faults(setup, seed, &faults) {
                    Ok(outcome) => {
                        ran.fetch_add(1, Ordering::SeqCst);
                        if outcome.violation.is_some() {
                            stop.store(true, Ordering::SeqCst);
                            failures.lock().expect("lock").push(outcome);
                        }
                    }
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        errors.lock().expect("lock").push(format!("seed {seed}: {e}"));
                    }
                }
            });
        }
    });
    if let Some(e) = errors.into_inner().expect("lock").into_iter().next() {
        return Err(CliError::BadInput(e));
    }
    let seeds_run = ran.load(Ordering::SeqCst);
    // Of the failures found, keep the one that breaks an invariant soonest.
    let worst =
        failures.into_inner().expect("lock").into_iter().min_by_key(|o| (o.violation.as_ref().map(|v| v.1), o.seed));
    let mut report = Report {
        scenario: scenario.name.clone(),
        seeds_run,
        failed: worst.is_some(),
        seed: None,
        invariant: None,
        step: None,
        detail: None,
        reproduction: None,
        actions: 0,
    };
    if let Some(o) = worst {
        let (id, step, detail) = o.violation.clone().expect("a failure has a violation");
        let faults = random_faults(setup, o.seed);
        let shrunk = shrink(setup, o.seed, &faults, id).map_err(|e| CliError::BadInput(e.0))?;
        report.seed = Some(o.seed);
        report.invariant = Some(id.name().into());
        report.step = Some(step);
        report.detail = Some(detail);
        report.actions = shrunk.len();
        report.reproduction = Some(to_toml(&shrunk));
    }
    if args.json {
        print_json(&report)?;
    } else if report.failed {
        out(&format!(
            "seed {} breaks {} at step {}: {}\nminimal fault schedule ({} actions), paste into the scenario:\n\n{}",
            report.seed.unwrap_or(0),
            report.invariant.clone().unwrap_or_default(),
            report.step.unwrap_or(0),
            report.detail.clone().unwrap_or_default(),
            report.actions,
            report.reproduction.clone().unwrap_or_default()
        ));
    } else {
        out(&format!("{seeds_run} seeds, random faults: every invariant held"));
    }
    if report.failed {
        Err(CliError::CheckFailed(String::new()))
    } else {
        Ok(())
    }
}
