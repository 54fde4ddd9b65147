//! `kafka-sandbox sweep SCENARIO --seeds A..B`: random fault schedules on many seeds, each
//! run checked by the invariants and by the client-observed history checker. Of the seeds
//! that fail (an invariant broken, or an anomaly the scenario's settings and faults do not
//! allow), the one that fails soonest is shrunk to a minimal schedule. Every seed in the
//! range runs, on `--jobs` threads, so the result does not depend on the thread count.
use crate::cli::{out, print_json, CliError, CliResult};
use sandbox_core::sweep::{random_faults, run_with_faults, shrink, to_toml, Failure};
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
    /// Worker threads (seeds are independent; default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    seeds_run: u64,
    failed: bool,
    /// Seeds whose history showed an anomaly the scenario allows (acks=1 losses, ...).
    seeds_with_allowed_anomalies: u64,
    seed: Option<u64>,
    /// `invariant` or `anomaly`.
    failure: Option<String>,
    /// The invariant or anomaly kind.
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
    let allowed = AtomicU64::new(0);
    let failures: Mutex<Vec<(u64, Failure, u64, String)>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                // Only bad input stops early: failures never do, so every thread count runs
                // the same seeds and keeps the same one.
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
                        let h = &outcome.history;
                        if h.kinds.iter().any(|k| !k.kind.is_info() && k.count > k.unexplained) {
                            allowed.fetch_add(1, Ordering::SeqCst);
                        }
                        if let Some((what, step, detail)) = outcome.failure() {
                            failures.lock().expect("lock").push((seed, what, step, detail));
                        }
                    }
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        errors.lock().expect("lock").push((seed, e.to_string()));
                    }
                }
            });
        }
    });
    if let Some((seed, e)) = errors.into_inner().expect("lock").into_iter().min() {
        return Err(CliError::BadInput(format!("seed {seed}: {e}")));
    }
    let seeds_run = ran.load(Ordering::SeqCst);
    // Of the failures found, keep the one observable soonest (then the lowest seed).
    let worst = failures.into_inner().expect("lock").into_iter().min_by_key(|(seed, _, step, _)| (*step, *seed));
    let mut report = Report {
        scenario: scenario.name.clone(),
        seeds_run,
        failed: worst.is_some(),
        seeds_with_allowed_anomalies: allowed.load(Ordering::SeqCst),
        seed: None,
        failure: None,
        invariant: None,
        step: None,
        detail: None,
        reproduction: None,
        actions: 0,
    };
    if let Some((seed, what, step, detail)) = worst {
        let faults = random_faults(setup, seed);
        let shrunk = shrink(setup, seed, &faults, what).map_err(|e| CliError::BadInput(e.0))?;
        report.seed = Some(seed);
        report.failure = Some(match what {
            Failure::Invariant(_) => "invariant".into(),
            Failure::Anomaly(_) => "anomaly".into(),
        });
        report.invariant = Some(what.name().into());
        report.step = Some(step);
        report.detail = Some(detail);
        report.actions = shrunk.len();
        report.reproduction = Some(to_toml(&shrunk));
    }
    if args.json {
        print_json(&report)?;
    } else if report.failed {
        out(&format!(
            "seed {} shows {} {} at step {}: {}\nminimal fault schedule ({} actions), paste into the scenario:\n\n{}",
            report.seed.unwrap_or(0),
            report.failure.clone().unwrap_or_default(),
            report.invariant.clone().unwrap_or_default(),
            report.step.unwrap_or(0),
            report.detail.clone().unwrap_or_default(),
            report.actions,
            report.reproduction.clone().unwrap_or_default()
        ));
    } else {
        out(&format!(
            "{seeds_run} seeds, random faults: every invariant held, no unexplained anomaly in the clients' history \
             ({} seeds with anomalies the scenario's settings allow)",
            report.seeds_with_allowed_anomalies
        ));
    }
    if report.failed {
        Err(CliError::CheckFailed(String::new()))
    } else {
        Ok(())
    }
}
