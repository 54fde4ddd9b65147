//! Random fault schedules and their shrinking: the engine behind `kafka-sandbox sweep`.
//!
//! A schedule is a list of timeline actions (crashes, power losses, partitions, slow
//! followers, lossy links, controller restarts), each fault paired with its recovery. It
//! is drawn from the run's `Faults` stream, so (scenario, seed) names a schedule exactly.
//! Faults stay within Kafka's guarantees (topic configs are not touched, so there is no
//! unclean election unless the scenario enables it): an invariant violation, or a
//! client-observed anomaly (`crate::history`) the run's settings and faults do not allow,
//! is a bug in the simulator, and `shrink` reduces the schedule to a minimal reproduction.
use crate::action::Action;
use crate::history::{check, run_recorded, Allowances, AnomalyKind, HistoryReport};
use crate::invariant::InvariantId;
use crate::sim::rng::{SimRng, Stream};
use crate::sim::time::SimTime;
use crate::world::{ActionError, Setup, World};
use serde::Serialize;

/// At most this many fault episodes per schedule.
pub const MAX_EPISODES: u64 = 5;

fn pick<'a>(rng: &mut SimRng, items: &'a [String]) -> &'a String {
    &items[rng.below(items.len() as u64) as usize]
}

/// Draws a random fault schedule for `setup` from `seed`.
pub fn random_faults(setup: &Setup, seed: u64) -> Vec<(SimTime, Action)> {
    let mut rng = SimRng::new(seed, Stream::Faults);
    let end = setup.end.0;
    let brokers: Vec<u32> = (1..=setup.brokers).collect();
    let broker_names: Vec<String> = brokers.iter().map(|b| format!("b{b}")).collect();
    let mut nodes: Vec<String> = broker_names.clone();
    nodes.push("controller".into());
    nodes.extend(setup.producers.iter().map(|p| p.name.clone()));
    nodes.extend(setup.consumers.iter().map(|c| c.name.clone()));
    let clients: Vec<String> =
        setup.producers.iter().map(|p| p.name.clone()).chain(setup.consumers.iter().map(|c| c.name.clone())).collect();
    let episodes = 1 + rng.below(MAX_EPISODES);
    let mut out = Vec::new();
    for _ in 0..episodes {
        let start = rng.below(end * 7 / 10 + 1);
        let max_len = (end - start).clamp(1, 30_000_000);
        let stop = start + rng.between(1_000_000.min(max_len), max_len);
        let (t0, t1) = (SimTime(start), SimTime(stop.min(end)));
        let broker = brokers[rng.below(brokers.len() as u64) as usize];
        match rng.below(7) {
            0 => {
                out.push((t0, Action::Crash { broker }));
                out.push((t1, Action::Restart { broker }));
            }
            1 => {
                out.push((t0, Action::PowerLoss { broker }));
                out.push((t1, Action::Restart { broker }));
            }
            2 => {
                let node = pick(&mut rng, &nodes).clone();
                out.push((t0, Action::Isolate { node: node.clone() }));
                out.push((t1, Action::Heal { nodes: Some(vec![node]) }));
            }
            3 => {
                // Split every node into two random sides.
                let (mut a, mut b) = (Vec::new(), Vec::new());
                for n in &nodes {
                    if rng.below(2) == 0 {
                        a.push(n.clone());
                    } else {
                        b.push(n.clone());
                    }
                }
                if !a.is_empty() && !b.is_empty() {
                    out.push((t0, Action::Partition { groups: vec![a, b] }));
                    out.push((t1, Action::Heal { nodes: None }));
                }
            }
            4 => {
                let delay_ms = rng.between(100, 45_000) as f64;
                out.push((t0, Action::SlowFollower { broker, delay_ms }));
                out.push((t1, Action::SlowFollower { broker, delay_ms: 0.0 }));
            }
            5 if !clients.is_empty() => {
                let client = pick(&mut rng, &clients).clone();
                let drop = rng.between(1, 30) as f64 / 100.0;
                let link = |drop: f64| Action::Link {
                    from: vec!["brokers".into()],
                    to: vec![client.clone()],
                    latency_ms: None,
                    jitter_ms: None,
                    drop: Some(drop),
                    duplicate: None,
                    both_ways: true,
                };
                out.push((t0, link(drop)));
                out.push((t1, link(0.0)));
            }
            _ => {
                out.push((t0, Action::CrashController));
                out.push((t1, Action::RestartController));
            }
        }
    }
    crate::collect::sort_by_key(&mut out, |(t, _)| *t);
    out
}

/// What makes a run fail: a broken invariant (the brokers' view) or an unexplained anomaly
/// in the clients' history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Failure {
    Invariant(InvariantId),
    Anomaly(AnomalyKind),
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Invariant(i) => i.name(),
            Failure::Anomaly(k) => k.name(),
        }
    }
}

/// What one run with a fault schedule found.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOutcome {
    pub seed: u64,
    pub steps: u64,
    pub digest: u64,
    /// The first violated invariant: (name, step, detail).
    pub violation: Option<(InvariantId, u64, String)>,
    /// The client-observed history's check.
    pub history: HistoryReport,
}

impl SeedOutcome {
    /// The failure observable earliest (an invariant first on a tie): (what, step, detail).
    pub fn failure(&self) -> Option<(Failure, u64, String)> {
        let invariant = self.violation.as_ref().map(|(id, step, d)| (Failure::Invariant(*id), *step, d.clone()));
        let anomaly = self.history.first_unexplained().map(|a| (Failure::Anomaly(a.kind), a.step, a.summary.clone()));
        match (invariant, anomaly) {
            (Some(i), Some(a)) => Some(if a.1 < i.1 { a } else { i }),
            (i, a) => i.or(a),
        }
    }
}

/// Runs `setup` with `faults` added to its timeline, recording and checking the clients'
/// history (which does not change the run: the digest is the same without it).
pub fn run_with_faults(setup: &Setup, seed: u64, faults: &[(SimTime, Action)]) -> Result<SeedOutcome, ActionError> {
    let mut s = setup.clone();
    s.timeline.extend(faults.iter().cloned());
    crate::collect::sort_by_key(&mut s.timeline, |(t, _)| *t);
    let (mut world, _) = World::new(&s, seed)?;
    let history = run_recorded(&mut world)?;
    let history = check(&history, &Allowances::of(&world));
    let violation = world
        .invariants
        .states
        .iter()
        .filter_map(|st| st.first.as_ref().map(|v| (st.id, v.step, v.detail.clone())))
        .min_by_key(|(_, step, _)| *step);
    Ok(SeedOutcome { seed, steps: world.steps, digest: world.digest(), violation, history })
}

/// Whether a run shows `target`: that invariant broken, or that kind of anomaly unexplained.
fn shows(outcome: &SeedOutcome, target: Failure) -> bool {
    match target {
        Failure::Invariant(id) => outcome.violation.as_ref().map(|v| v.0 == id).unwrap_or(false),
        Failure::Anomaly(kind) => outcome.history.unexplained_count(kind) > 0,
    }
}

/// Removes faults one at a time while the same failure still shows; returns a schedule
/// from which no single action can be removed.
pub fn shrink(
    setup: &Setup,
    seed: u64,
    faults: &[(SimTime, Action)],
    target: Failure,
) -> Result<Vec<(SimTime, Action)>, ActionError> {
    let mut current = faults.to_vec();
    loop {
        let mut changed = false;
        let mut i = current.len();
        while i > 0 {
            i -= 1;
            let mut candidate = current.clone();
            candidate.remove(i);
            let outcome = run_with_faults(setup, seed, &candidate)?;
            if shows(&outcome, target) {
                current = candidate;
                changed = true;
            }
        }
        if !changed {
            return Ok(current);
        }
    }
}

/// A schedule as scenario timeline entries, ready to paste into a scenario file.
pub fn to_toml(faults: &[(SimTime, Action)]) -> String {
    let mut out = String::new();
    for (t, a) in faults {
        let mut table = match toml::Value::try_from(a) {
            Ok(toml::Value::Table(t)) => t,
            _ => continue,
        };
        table.insert("at_ms".into(), toml::Value::Float(t.as_ms_f64()));
        let mut doc = toml::Table::new();
        doc.insert("at".into(), toml::Value::Array(vec![toml::Value::Table(table)]));
        if let Ok(text) = toml::to_string(&doc) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}
