//! Running a scenario to its end and judging the result: expectations, undeclared
//! invariant violations, and the golden digest.
use super::expect::ExpectationResult;
use super::Scenario;
use crate::sim::digest::format_digest;
use crate::sim::time::SimTime;
use crate::summary::RunSummary;
use crate::trace::TraceEvent;
use crate::world::{ActionError, World};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub scenario: String,
    pub seed: u64,
    /// The trace digest of the run.
    pub digest: String,
    /// The golden digest, when the scenario has one and this is its seed.
    pub golden_digest: Option<String>,
    pub digest_matches: Option<bool>,
    pub expectations: Vec<ExpectationResult>,
    /// Invariants violated that no expectation declared.
    pub undeclared_violations: Vec<String>,
    /// Whether the run reached the scenario's end (not stopped early by --until-ms).
    pub complete: bool,
    pub passed: bool,
    pub summary: RunSummary,
}

/// Runs `scenario` with `seed` up to `until` (default: its end), calling `on_step` for each
/// step (the boot step included).
pub fn execute(
    scenario: &Scenario,
    seed: u64,
    until: Option<SimTime>,
    on_step: impl FnMut(&World, &TraceEvent),
) -> Result<(World, Verdict), ActionError> {
    execute_with(scenario, seed, until, |_| {}, on_step)
}

/// [`execute`], with `prepare` called on the booted world before the first step (to turn on
/// observation such as the history checker's poll log; it must not change the run).
pub fn execute_with(
    scenario: &Scenario,
    seed: u64,
    until: Option<SimTime>,
    prepare: impl FnOnce(&mut World),
    mut on_step: impl FnMut(&World, &TraceEvent),
) -> Result<(World, Verdict), ActionError> {
    let (mut world, boot) = World::new(&scenario.setup, seed)?;
    prepare(&mut world);
    on_step(&world, &boot);
    let end = until.map(|u| u.min(scenario.setup.end)).unwrap_or(scenario.setup.end);
    while world.next_event_time().map(|t| t <= end).unwrap_or(false) {
        if world.steps >= crate::limits::MAX_STEPS {
            return Err(ActionError(format!("run stopped after {} steps (limit)", crate::limits::MAX_STEPS)));
        }
        if let Some(ev) = world.step() {
            on_step(&world, &ev);
        }
    }
    world.run_until(end, |_| {})?;
    let verdict = judge(scenario, &world, end >= scenario.setup.end);
    Ok((world, verdict))
}

/// Judges a finished world against the scenario.
pub fn judge(scenario: &Scenario, world: &World, complete: bool) -> Verdict {
    let summary = RunSummary::of(world);
    let expectations: Vec<ExpectationResult> =
        if complete { scenario.expectations.iter().map(|e| e.evaluate(&summary)).collect() } else { Vec::new() };
    let declared: Vec<&str> =
        scenario.expectations.iter().filter(|e| e.what == "invariant").filter_map(|e| e.invariant.as_deref()).collect();
    let undeclared_violations: Vec<String> = summary
        .invariants
        .iter()
        .filter(|i| !i.held && !declared.contains(&i.name.as_str()))
        .map(|i| format!("{}: {}", i.name, i.detail.clone().unwrap_or_default()))
        .collect();
    let digest = world.digest();
    let golden = (world.seed == scenario.seed).then_some(scenario.golden_digest).flatten();
    let digest_matches = if complete { golden.map(|g| g == digest) } else { None };
    let passed = expectations.iter().all(|r| r.passed) && undeclared_violations.is_empty();
    Verdict {
        scenario: scenario.name.clone(),
        seed: world.seed,
        digest: format_digest(digest),
        golden_digest: golden.map(format_digest),
        digest_matches,
        expectations,
        undeclared_violations,
        complete,
        passed,
        summary,
    }
}

impl Verdict {
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = format!("scenario {}\n{}", self.scenario, self.summary.to_text());
        if !self.expectations.is_empty() {
            let _ = writeln!(s, "\nexpectations:");
            for r in &self.expectations {
                let _ = writeln!(
                    s,
                    "  {} line {:>3}: {} {} (actual {}){}",
                    if r.passed { "ok  " } else { "FAIL" },
                    r.line,
                    r.what,
                    r.expected,
                    r.actual,
                    match (&r.why, r.passed) {
                        (Some(w), false) => format!("\n         why: {w}"),
                        _ => String::new(),
                    }
                );
            }
        }
        for v in &self.undeclared_violations {
            let _ = writeln!(s, "  FAIL invariant violated (not declared by the scenario): {v}");
        }
        match (self.digest_matches, &self.golden_digest) {
            (Some(true), _) => {
                let _ = writeln!(s, "\ndigest {} matches the golden digest", self.digest);
            }
            (Some(false), Some(g)) => {
                let _ = writeln!(s, "\ndigest {} DIFFERS from the golden digest {g}", self.digest);
            }
            _ => {}
        }
        let _ = writeln!(s, "{}", if self.passed { "PASSED" } else { "FAILED" });
        s
    }
}

/// Renders a trace event with client names instead of indexes.
pub fn render_line(world: &World, ev: &TraceEvent) -> String {
    let mut line = ev.to_string();
    for (i, p) in world.producers.iter().enumerate().rev() {
        line = line.replace(&format!("producer#{i}"), &p.name);
    }
    for (i, c) in world.consumers.iter().enumerate().rev() {
        line = line.replace(&format!("consumer#{i}"), &c.name);
    }
    line
}
