//! The playback session: a run is scenario + seed + action log (ARCHITECTURE.md, "The shape
//! of a run"). The session keeps the world at the cursor, the trace of the current branch,
//! snapshots for seeking and the samples the charts draw. Everything here is plain Rust
//! (no browser), so it is unit-tested natively.
//!
//! Seeking restores the latest snapshot at or before the target and replays forward,
//! applying logged user actions at their step; because the core is deterministic, the state
//! reached is the state the run had there (same digest). Acting at a step before the
//! frontier starts a new branch: the trace, actions, snapshots and samples after the cursor
//! are dropped.
use sandbox_core::action::Action;
use sandbox_core::history::{check, Allowances, History, HistoryRecorder, HistoryReport};
use sandbox_core::network::NodeId;
use sandbox_core::record::TopicPartition;
use sandbox_core::scenario::Scenario;
use sandbox_core::sim::time::SimTime;
use sandbox_core::trace::{Effect, TraceEvent};
use sandbox_core::world::{ActionError, LoggedAction, World};
use std::rc::Rc;

/// Snapshots start every this many steps; the interval doubles whenever the snapshots
/// outgrow [`MAX_SNAPSHOTS`] or [`SNAPSHOT_BUDGET_BYTES`], so seeking replays at most one
/// interval and memory stays bounded on long runs.
pub const FIRST_SNAPSHOT_INTERVAL: u64 = 256;
pub const MAX_SNAPSHOTS: usize = 64;
/// Rough memory budget for all snapshots together.
pub const SNAPSHOT_BUDGET_BYTES: usize = 192 << 20;
/// Chart samples per run (at most; the sampling period is the run length over this).
pub const SAMPLES_PER_RUN: u64 = 1_000;
/// Trace events kept for the event log and seeking (a run longer than this still plays and
/// seeks; the log then shows the most recent ones).
pub const MAX_TRACE_EVENTS: usize = 500_000;

pub use sandbox_core::share::Source;

/// Furthest step [`Session::replay`] goes to: a shared link's bound (the page blocks while
/// it replays).
pub const MAX_REPLAY_STEPS: u64 = sandbox_core::share::MAX_SHARED_CURSOR;

/// Totals at one point of the run, for the time charts.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub step: u64,
    pub time: SimTime,
    pub sent: u64,
    pub acked: u64,
    pub consumed: u64,
    /// Per consumer: total lag over its assigned partitions; `None` while it is not running
    /// (a crashed or closed consumer has no position, so no lag: its chart line stops).
    pub lag: Vec<Option<u64>>,
    /// Per consumer group (by `group.id`): what `kafka-consumer-groups --describe` sums as
    /// its lag, log end minus committed offset over the partitions of its topics (the whole
    /// log without a commit); `None` while no coordinator answers.
    pub group_lag: Vec<(String, Option<u64>)>,
}

/// How a consumer stopped running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The process died (`crash_client`): its partitions stay with it until the group
    /// coordinator's session timeout.
    Crashed,
    /// `close()`: it committed (auto-commit) and left its group, its partitions revoked.
    Closed,
}

#[derive(Clone)]
pub struct Session {
    pub source: Source,
    pub scenario: Scenario,
    pub seed: u64,
    /// The world at the cursor (`world.steps` steps applied).
    pub world: World,
    /// User actions of the current branch, by step (including those after the cursor).
    actions: Vec<LoggedAction>,
    /// Trace of the current branch: `trace[i].step == trace_offset + i` for every kept step.
    trace: Vec<TraceEvent>,
    /// Steps dropped from the front of `trace` when it outgrew `max_trace`.
    trace_offset: u64,
    /// Trace events kept at most ([`MAX_TRACE_EVENTS`]; smaller in tests).
    max_trace: usize,
    /// Worlds at steps that are multiples of `interval` (the boot world first).
    snapshots: Vec<World>,
    interval: u64,
    samples: Vec<Sample>,
    sample_period: u64,
    /// Consumers stopping (`Some`) and starting again (`None`) in the current branch up to
    /// the frontier: (step, consumer, how), in step order (the world keeps no trace of how
    /// a consumer stopped).
    stops: Vec<(u64, u32, Option<Stop>)>,
    /// The clients' history of the current branch up to the frontier (what `kafka-sandbox
    /// run` checks). Only steps computed for the first time are observed: the history at
    /// the cursor is this one rewound, so seeking never replays it.
    history: HistoryRecorder,
}

/// Where a jump goes: the end of the run, or the next step with an interesting effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    End,
    Interesting,
}

/// How a jump ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JumpEnd {
    /// At the goal.
    Reached,
    /// The run ended before anything interesting happened.
    RunOver,
    /// Its time was up; call again to go on.
    Paused,
    /// It took the most steps one jump may take.
    Capped,
}

/// A branch that acting in the past discards: enough to restore it by replay (its action
/// log), not its worlds, so keeping it costs a few bytes per action.
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// The step acted at: the cursor before acting, shared by both branches.
    pub step: u64,
    /// The branch's whole action log, including the actions at or after `step`.
    pub actions: Vec<LoggedAction>,
    /// Its frontier: steps it had computed.
    pub frontier: u64,
    /// Its actions at or after `step`, which the new branch does not have.
    pub later_actions: usize,
}

impl Branch {
    /// Steps it had computed after `step`.
    pub fn later_steps(&self) -> u64 {
        self.frontier - self.step
    }
}

/// A shared action log being replayed into a session ([`Session::replay_some`]): the log,
/// how much of it is applied, and the step to end at.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    actions: Rc<[LoggedAction]>,
    next: usize,
    cursor: u64,
}

impl Replay {
    /// Checks a log and its cursor before any step is computed: in step order, none before
    /// the boot, none beyond [`MAX_REPLAY_STEPS`].
    pub fn new(actions: Vec<LoggedAction>, cursor: u64) -> Result<Replay, ReplayProblem> {
        if actions.windows(2).any(|w| w[0].at_step >= w[1].at_step) {
            return Err(ReplayProblem("the action log is not in step order".into()));
        }
        if let Some(a) = actions.first().filter(|a| a.at_step < 1) {
            return Err(ReplayProblem(format!("action '{}' is before the boot step", a.action)));
        }
        let count = actions.len();
        if let Some((i, a)) = actions.iter().enumerate().find(|(_, a)| a.at_step > MAX_REPLAY_STEPS) {
            return Err(ReplayProblem(format!(
                "action {} of {count} ('{}') is at step {}, beyond the {MAX_REPLAY_STEPS} steps a link may replay",
                i + 1,
                a.action,
                a.at_step
            )));
        }
        if cursor > MAX_REPLAY_STEPS {
            return Err(ReplayProblem(format!(
                "step {cursor} is beyond the {MAX_REPLAY_STEPS} steps a link may replay"
            )));
        }
        Ok(Replay { actions: actions.into(), next: 0, cursor })
    }

    /// The step the replay ends at.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }
}

/// How a replay of a shared action log went.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayProblem(pub String);

impl Session {
    /// A fresh run of `scenario` with `seed`, at step 1 (after the boot).
    pub fn new(source: Source, scenario: Scenario, seed: u64) -> Result<Session, ActionError> {
        let (mut world, boot) = World::new(&scenario.setup, seed)?;
        // As `kafka-sandbox run` does: after the boot, before the first observation.
        HistoryRecorder::enable(&mut world);
        let mut history = HistoryRecorder::new();
        history.observe(&world, &boot);
        let sample_period = (scenario.setup.end.0 / SAMPLES_PER_RUN).max(1_000);
        let mut s = Session {
            source,
            scenario,
            seed,
            snapshots: vec![world.clone()],
            world,
            actions: Vec::new(),
            trace: vec![boot],
            trace_offset: 0,
            max_trace: MAX_TRACE_EVENTS,
            interval: FIRST_SNAPSHOT_INTERVAL,
            samples: Vec::new(),
            sample_period,
            stops: Vec::new(),
            history,
        };
        s.samples.push(s.sample());
        Ok(s)
    }

    /// The number of steps applied: the cursor.
    pub fn cursor(&self) -> u64 {
        self.world.steps
    }

    /// Steps computed on this branch (the scrubber's end).
    pub fn frontier(&self) -> u64 {
        self.trace_offset + self.trace.len() as u64
    }

    /// Whether the run has nothing more to do at the cursor: no event before the scenario's
    /// end and no logged action waiting.
    pub fn at_end(&self) -> bool {
        self.action_at(self.world.steps).is_none() && !self.has_next_event()
    }

    /// Whether the branch is fully computed (its frontier is the end of the run).
    pub fn frontier_is_end(&self) -> bool {
        self.cursor() == self.frontier() && self.at_end()
    }

    fn has_next_event(&self) -> bool {
        self.world.next_event_time().is_some_and(|t| t <= self.scenario.setup.end)
    }

    /// The trace event of a step, if it is still kept.
    pub fn event(&self, step: u64) -> Option<&TraceEvent> {
        step.checked_sub(self.trace_offset).and_then(|i| self.trace.get(i as usize))
    }

    /// The kept trace events (from [`Session::first_kept_step`] to the frontier).
    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace
    }

    pub fn first_kept_step(&self) -> u64 {
        self.trace_offset
    }

    /// User actions of this branch (the share link's action log).
    pub fn actions(&self) -> &[LoggedAction] {
        &self.actions
    }

    /// Per consumer (by index): how it last stopped before the cursor, if it did. Only
    /// meaningful for a consumer that is not running at the cursor.
    pub fn consumer_stops(&self) -> Vec<Option<Stop>> {
        let c = self.cursor();
        let mut out = vec![None; self.world.consumers.len()];
        for (_, i, how) in self.stops.iter().take_while(|(step, ..)| *step < c) {
            if let Some(slot) = out.get_mut(*i as usize) {
                *slot = *how;
            }
        }
        out
    }

    /// Chart samples up to the cursor.
    pub fn samples(&self) -> &[Sample] {
        let c = self.cursor();
        let n = self.samples.partition_point(|s| s.step <= c);
        &self.samples[..n]
    }

    pub fn snapshot_interval(&self) -> u64 {
        self.interval
    }

    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    fn action_at(&self, step: u64) -> Option<&LoggedAction> {
        self.actions.binary_search_by_key(&step, |a| a.at_step).ok().map(|i| &self.actions[i])
    }

    fn sample(&self) -> Sample {
        let w = &self.world;
        let hw = |tp: &TopicPartition| {
            let state = w.controller.image.partition(tp)?;
            let leader = w.broker(state.leader?)?;
            leader.replicas.get(tp).map(|r| r.log.high_watermark())
        };
        Sample {
            step: w.steps,
            time: w.now,
            sent: w.producers.iter().map(|p| p.stats.records_sent).sum(),
            acked: w.producers.iter().map(|p| p.stats.records_acked).sum(),
            consumed: w.consumers.iter().map(|c| c.stats.records_consumed).sum(),
            lag: w.consumers.iter().map(|c| c.alive.then(|| c.lag(hw).values().sum())).collect(),
            group_lag: group_lags(w, hw),
        }
    }

    /// Applies the next step: the logged action due at this step, else the next event.
    /// Returns false at the end of the run.
    pub fn step_forward(&mut self) -> bool {
        let steps = self.world.steps;
        let event = match self.action_at(steps).cloned() {
            Some(logged) => match self.world.act(logged.action) {
                Ok(ev) => ev,
                Err(_) => {
                    // Cannot happen for a log recorded by this session (the world is
                    // deterministic); a foreign log was validated when it was loaded.
                    // Drop the rest of the branch rather than loop on it.
                    self.actions.retain(|a| a.at_step < steps);
                    return false;
                }
            },
            None => {
                if !self.has_next_event() {
                    return false;
                }
                match self.world.step() {
                    Some(ev) => ev,
                    None => return false,
                }
            }
        };
        self.record(event);
        true
    }

    fn record(&mut self, event: TraceEvent) {
        if event.step == self.frontier() {
            self.history.observe(&self.world, &event);
            for e in &event.effects {
                let (i, how) = match e {
                    Effect::ClientCrashed { client: NodeId::Consumer(i), .. } => (*i, Some(Stop::Crashed)),
                    Effect::ClientClosed { client: NodeId::Consumer(i) } => (*i, Some(Stop::Closed)),
                    Effect::ClientRestarted { client: NodeId::Consumer(i) } => (*i, None),
                    _ => continue,
                };
                // A crash of a consumer already stopped (a timeline entry after a close)
                // changes nothing.
                let last = self.stops.iter().rev().find(|s| s.1 == i).and_then(|s| s.2);
                if how.is_none() || last.is_none() {
                    self.stops.push((event.step, i, how));
                }
            }
            self.trace.push(event);
            if self.trace.len() > self.max_trace {
                let drop = (self.max_trace / 4).max(1);
                self.trace.drain(..drop);
                self.trace_offset += drop as u64;
            }
            let due = self.samples.last().is_none_or(|s| self.world.now.0 >= s.time.0 + self.sample_period);
            if due {
                self.samples.push(self.sample());
            }
        }
        let steps = self.world.steps;
        if steps.is_multiple_of(self.interval) && self.snapshots.last().is_some_and(|s| s.steps < steps) {
            self.snapshots.push(self.world.clone());
            self.thin_snapshots();
        }
    }

    /// Halves the snapshots (keeping the boot world) while there are too many or they take
    /// too much memory.
    fn thin_snapshots(&mut self) {
        loop {
            let bytes: usize = self.snapshots.iter().map(approx_world_bytes).sum();
            if self.snapshots.len() <= MAX_SNAPSHOTS && bytes <= SNAPSHOT_BUDGET_BYTES {
                return;
            }
            if self.interval >= 1 << 40 {
                return;
            }
            self.interval *= 2;
            let interval = self.interval;
            let first = self.snapshots.first().map(|w| w.steps).unwrap_or(0);
            self.snapshots.retain(|w| w.steps == first || w.steps.is_multiple_of(interval));
        }
    }

    /// Moves the cursor to `target` steps (clamped to at least 1, the boot). Going back (or
    /// far forward) restores a snapshot and replays. Returns the cursor reached, which is
    /// less than `target` when the run ends first.
    pub fn seek(&mut self, target: u64) -> u64 {
        self.seek_until(target, &mut || false).0
    }

    pub fn step_back(&mut self) -> u64 {
        let c = self.cursor();
        self.seek(c.saturating_sub(1))
    }

    /// Steps toward `goal`, at most `max_steps`, asking `stop` every 64 steps whether to
    /// pause (a frame's time is up). Returns the steps taken and how the jump ended; a
    /// paused jump goes on from where it stopped with another call.
    pub fn jump(&mut self, goal: Goal, max_steps: u64, mut stop: impl FnMut() -> bool) -> (u64, JumpEnd) {
        let mut n = 0;
        loop {
            if n >= max_steps {
                return (n, JumpEnd::Capped);
            }
            if !self.step_forward() {
                return (n, if goal == Goal::End { JumpEnd::Reached } else { JumpEnd::RunOver });
            }
            n += 1;
            if goal == Goal::Interesting && self.event(self.world.steps - 1).is_some_and(|e| e.is_interesting()) {
                return (n, JumpEnd::Reached);
            }
            if n.is_multiple_of(64) && stop() {
                return (n, JumpEnd::Paused);
            }
        }
    }

    /// Steps until a step with an interesting effect (elections, crashes, failures...) or
    /// `max_steps`. Returns the steps taken.
    pub fn next_interesting(&mut self, max_steps: u64) -> u64 {
        let mut n = 0;
        while n < max_steps && self.step_forward() {
            n += 1;
            let step = self.world.steps - 1;
            if self.event(step).is_some_and(|e| e.is_interesting()) {
                break;
            }
        }
        n
    }

    /// Steps while the next event is at or before `t`, calling `stop` every 64 steps (a
    /// frame budget). Returns (steps taken, whether `t` was reached).
    pub fn advance_until(&mut self, t: SimTime, mut stop: impl FnMut() -> bool) -> (u64, bool) {
        let mut n = 0u64;
        loop {
            if self.action_at(self.world.steps).is_none() {
                match self.world.next_event_time() {
                    Some(next) if next <= t && next <= self.scenario.setup.end => {}
                    _ => return (n, true),
                }
            }
            if !self.step_forward() {
                return (n, true);
            }
            n += 1;
            if n.is_multiple_of(64) && stop() {
                return (n, false);
            }
        }
    }

    /// What acting at the cursor would discard, to undo it: `None` when the cursor is at
    /// the frontier with no logged action waiting (acting there discards nothing).
    pub fn branch_point(&self) -> Option<Branch> {
        let c = self.cursor();
        let later = self.actions.iter().filter(|a| a.at_step >= c).count();
        (self.frontier() > c || later > 0).then(|| Branch {
            step: c,
            actions: self.actions.clone(),
            frontier: self.frontier(),
            later_actions: later,
        })
    }

    /// Drops everything computed after the cursor and the actions logged at or after it.
    fn truncate_at_cursor(&mut self) -> Result<(), String> {
        let c = self.world.steps;
        if c < self.trace_offset {
            // Before the kept trace (a long run dropped its oldest events): the new branch
            // keeps its events from here on; the worlds before it come from the snapshots.
            self.trace.clear();
            self.trace_offset = c;
        } else {
            self.trace.truncate((c - self.trace_offset) as usize);
        }
        self.actions.retain(|a| a.at_step < c);
        self.snapshots.retain(|w| w.steps <= c);
        self.samples.retain(|s| s.step <= c);
        self.stops.retain(|(step, ..)| *step < c);
        self.history = self.history.rewound(&self.world);
        Ok(())
    }

    /// Applies a user action at the cursor. Acting before the frontier starts a new branch:
    /// everything computed after the cursor is dropped ([`Session::branch_point`] first
    /// says what, and [`Session::restore`] brings it back).
    pub fn act(&mut self, action: Action) -> Result<(), ActionError> {
        self.world.validate(&action)?;
        let c = self.world.steps;
        self.truncate_at_cursor().map_err(ActionError)?;
        self.actions.push(LoggedAction { at_step: c, action });
        if self.step_forward() {
            Ok(())
        } else {
            self.actions.pop();
            Err(ActionError("the action could not be applied".into()))
        }
    }

    /// Goes back to the branch that acting at `b.step` discarded: its action log, the cursor
    /// at `b.step`, and its future recomputed by replay up to its old frontier while `stop`
    /// (asked every 64 steps) says to go on; the rest is computed when played. The branch
    /// and this one must share the steps before `b.step` (true until the next branch).
    /// Returns the frontier reached.
    pub fn restore(&mut self, b: &Branch, mut stop: impl FnMut() -> bool) -> Result<u64, String> {
        let before = |log: &[LoggedAction]| log.iter().filter(|a| a.at_step < b.step).cloned().collect::<Vec<_>>();
        if before(&self.actions) != before(&b.actions) || self.frontier() < b.step {
            return Err(format!("this run no longer shares the steps before {} with that branch", b.step));
        }
        if self.seek(b.step) != b.step {
            return Err(format!("step {} cannot be reached", b.step));
        }
        self.truncate_at_cursor()?;
        self.actions = b.actions.clone();
        let mut n = 0u64;
        while self.frontier() < b.frontier && self.step_forward() {
            n += 1;
            if n.is_multiple_of(64) && stop() {
                break;
            }
        }
        let reached = self.frontier();
        self.seek(b.step);
        Ok(reached)
    }

    /// Installs a shared action log and moves to `cursor`. The log must be ordered by step;
    /// every action is validated when its step comes. On a problem the session keeps what
    /// replayed cleanly and says why it stopped. It computes at most
    /// [`MAX_REPLAY_STEPS`] steps: a log or cursor beyond that is refused before any step.
    pub fn replay(&mut self, actions: Vec<LoggedAction>, cursor: u64) -> Result<(), ReplayProblem> {
        let mut replay = Replay::new(actions, cursor)?;
        self.replay_some(&mut replay, || false).map(|_| ())
    }

    /// Goes on with a replay until it is done (`Ok(true)`) or `stop` says so (`Ok(false)`:
    /// call again), so a link at a late step opens over several frames instead of freezing
    /// the page. The same steps and checks as [`Session::replay`], in the same order.
    pub fn replay_some(&mut self, r: &mut Replay, mut stop: impl FnMut() -> bool) -> Result<bool, ReplayProblem> {
        let count = r.actions.len();
        while let Some(logged) = r.actions.get(r.next) {
            let (reached, paused) = self.seek_until(logged.at_step, &mut stop);
            if paused {
                return Ok(false);
            }
            if reached != logged.at_step {
                return Err(ReplayProblem(format!(
                    "action {} of {count} ('{}') is at step {}, but the run ends at step {reached}",
                    r.next + 1,
                    logged.action,
                    logged.at_step
                )));
            }
            if let Err(e) = self.act(logged.action.clone()) {
                return Err(ReplayProblem(format!(
                    "action {} of {count} ('{}') at step {} cannot be applied: {e}",
                    r.next + 1,
                    logged.action,
                    logged.at_step
                )));
            }
            r.next += 1;
        }
        let (reached, paused) = self.seek_until(r.cursor, &mut stop);
        if paused {
            return Ok(false);
        }
        if reached != r.cursor.max(1) {
            return Err(ReplayProblem(format!("the link's step {} is past the end of the run ({reached})", r.cursor)));
        }
        Ok(true)
    }

    /// [`Session::seek`], stopping early when `stop` says so (checked every 64 steps):
    /// returns the cursor reached and whether it stopped early.
    fn seek_until(&mut self, target: u64, stop: &mut impl FnMut() -> bool) -> (u64, bool) {
        let target = target.max(1);
        let cur = self.world.steps;
        if target == cur {
            return (cur, false);
        }
        let i = self.snapshots.partition_point(|w| w.steps <= target);
        if let Some(snap) = i.checked_sub(1).and_then(|i| self.snapshots.get(i)) {
            if target < cur || snap.steps > cur {
                self.world = snap.clone();
            }
        }
        let mut n = 0u32;
        while self.world.steps < target {
            n += 1;
            if n.is_multiple_of(64) && stop() {
                return (self.world.steps, true);
            }
            if !self.step_forward() {
                break;
            }
        }
        (self.world.steps, false)
    }

    /// The Jepsen-style check of what the clients observed up to the cursor, with the
    /// allowances of the world at the cursor: the report `kafka-sandbox run` prints when
    /// the cursor is at the end.
    pub fn history_report(&self) -> HistoryReport {
        check(&self.history_at_cursor(), &Allowances::of(&self.world))
    }

    /// How many sends and reads the clients made up to the cursor (what a history check
    /// costs).
    pub fn history_size(&self) -> usize {
        self.world.ledger.records.len() + self.world.ledger.polls.len()
    }

    /// What the clients observed up to the cursor.
    pub fn history_at_cursor(&self) -> History {
        let recorder =
            if self.cursor() == self.frontier() { self.history.clone() } else { self.history.rewound(&self.world) };
        recorder.finish(&self.world)
    }

    /// Runs the branch to the end of the scenario (bounded by `max_steps`), then returns to
    /// the cursor. Returns whether the end was reached.
    pub fn compute_to_end(&mut self, max_steps: u64) -> bool {
        let back = self.cursor();
        let f = self.frontier();
        self.seek(f);
        let mut n = 0;
        while n < max_steps && self.step_forward() {
            n += 1;
        }
        let done = self.at_end();
        self.seek(back);
        done
    }
}

/// Each consumer group's total lag as its coordinator's committed offsets give it (see
/// [`Sample::group_lag`]), in order of first appearance among the consumers.
fn group_lags(w: &World, hw: impl Fn(&TopicPartition) -> Option<u64>) -> Vec<(String, Option<u64>)> {
    let mut out: Vec<(String, Option<u64>)> = Vec::new();
    for c in &w.consumers {
        let Some(g) = c.config.group_id.as_deref() else { continue };
        if out.iter().any(|(id, _)| id == g) {
            continue;
        }
        let (_, _, description) = sandbox_core::group::describe::coordinator_of(w, g);
        let lag = description.map(|d| {
            let mut topics: Vec<&str> = w
                .consumers
                .iter()
                .filter(|c| c.config.group_id.as_deref() == Some(g))
                .flat_map(|c| c.subscription.iter().map(String::as_str))
                .collect();
            sandbox_core::collect::sort(&mut topics);
            topics.dedup();
            let mut tps: Vec<TopicPartition> = Vec::new();
            for t in topics {
                if let Some(meta) = w.controller.image.topics.get(t) {
                    tps.extend((0..meta.partitions.len() as u32).map(|p| TopicPartition::new(t, p)));
                }
            }
            for tp in d.committed.keys() {
                if !tps.contains(tp) {
                    tps.push(tp.clone());
                }
            }
            tps.iter().filter_map(|tp| Some(hw(tp)?.saturating_sub(d.committed.get(tp).copied().unwrap_or(0)))).sum()
        });
        out.push((g.to_string(), lag));
    }
    out
}

/// A rough size of a world in memory (what a snapshot costs): the ledger, the latency
/// samples and the log batch headers dominate; record data is shared between snapshots.
pub fn approx_world_bytes(w: &World) -> usize {
    let ledger = w.ledger.records.len() * std::mem::size_of::<sandbox_core::ledger::RecordEntry>()
        + w.ledger.latencies.len() * 32
        + w.ledger.deliveries.values().map(|d| d.counts.len() * 2).sum::<usize>();
    let logs: usize = w
        .brokers
        .iter()
        .flat_map(|b| b.replicas.values())
        .map(|r| r.log.batches().len() * std::mem::size_of::<sandbox_core::record::LogBatch>())
        .sum();
    4096 + ledger + logs + w.pending_events() * 128
}

/// Sessions of built-in scenarios for the panels' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use sandbox_core::world::World;

    /// A built-in scenario's session at `seed`.
    pub fn builtin_at(name: &str, seed: u64) -> Session {
        let text = crate::scenarios::text(name).expect("scenario exists");
        let scenario = Scenario::parse(name, text).expect("scenario parses");
        Session::new(Source::Builtin(name.into()), scenario, seed).expect("world builds")
    }

    /// A built-in scenario's session at the scenario's own seed.
    pub fn builtin(name: &str) -> Session {
        let text = crate::scenarios::text(name).expect("scenario exists");
        let seed = Scenario::parse(name, text).expect("scenario parses").seed;
        builtin_at(name, seed)
    }

    /// The first step at which `done` holds (binary search: `done` must stay true once it
    /// holds), seeking the session there and back as it goes.
    pub fn first_step(s: &mut Session, done: impl Fn(&World) -> bool) -> u64 {
        let (mut lo, mut hi) = (1, s.frontier());
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            s.seek(mid);
            if done(&s.world) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::builtin_at as session;
    use super::*;
    use crate::scenarios;

    #[test]
    fn playing_to_the_end_gives_the_command_line_digest() {
        let name = "replication/acks-1-leader-crash";
        let mut s = session(name, 1);
        while s.step_forward() {}
        let scenario = Scenario::parse(name, scenarios::text(name).unwrap()).unwrap();
        let (world, _) = sandbox_core::scenario::run::execute(&scenario, 1, None, |_, _| {}).unwrap();
        assert_eq!(s.world.digest(), world.digest());
        assert_eq!(s.cursor(), world.steps);
        assert!(s.frontier_is_end());
    }

    #[test]
    fn stepping_back_restores_the_exact_previous_state() {
        let mut s = session("replication/acks-1-leader-crash", 1);
        for _ in 0..900 {
            assert!(s.step_forward());
        }
        let before = (s.world.digest(), s.cursor(), sandbox_core::sim::digest::digest_of(&s.world));
        s.step_forward();
        assert_ne!(s.world.digest(), before.0);
        s.step_back();
        assert_eq!((s.world.digest(), s.cursor(), sandbox_core::sim::digest::digest_of(&s.world)), before);
    }

    #[test]
    fn a_paused_jump_goes_on_where_it_stopped_and_ends_where_an_unpaused_one_does() {
        let name = "replication/acks-1-leader-crash";
        let mut whole = session(name, 1);
        let (all, end) = whole.jump(Goal::End, u64::MAX, || false);
        assert_eq!(end, JumpEnd::Reached);
        assert!(whole.at_end());
        let mut s = session(name, 1);
        let mut checks = 0;
        let (first, end) = s.jump(Goal::End, u64::MAX, || {
            checks += 1;
            checks == 3
        });
        assert_eq!((first, end), (3 * 64, JumpEnd::Paused));
        assert_eq!(s.cursor(), 1 + 3 * 64);
        let (rest, end) = s.jump(Goal::End, u64::MAX, || false);
        assert_eq!((first + rest, end), (all, JumpEnd::Reached));
        assert_eq!((s.cursor(), s.world.digest()), (whole.cursor(), whole.world.digest()));
        // At the end: nothing to do.
        assert_eq!(s.jump(Goal::End, u64::MAX, || false), (0, JumpEnd::Reached));
        assert_eq!(s.jump(Goal::Interesting, u64::MAX, || false), (0, JumpEnd::RunOver));
    }

    #[test]
    fn a_jump_to_the_next_interesting_event_stops_right_after_it_or_at_its_cap() {
        let mut s = session("replication/acks-1-leader-crash", 1);
        let (n, end) = s.jump(Goal::Interesting, u64::MAX, || false);
        assert_eq!(end, JumpEnd::Reached);
        assert!(s.event(s.cursor() - 1).unwrap().is_interesting());
        let mut again = session("replication/acks-1-leader-crash", 1);
        assert_eq!(again.next_interesting(u64::MAX), n, "the same step as next_interesting");
        let mut capped = session("replication/acks-1-leader-crash", 1);
        assert_eq!(capped.jump(Goal::End, 10, || false), (10, JumpEnd::Capped));
    }

    #[test]
    fn seeking_anywhere_matches_a_straight_run() {
        let mut straight = session("producer/keys-and-hot-partitions", 3);
        let mut digests = vec![0];
        digests.push(straight.world.digest());
        for _ in 0..3000 {
            if !straight.step_forward() {
                break;
            }
            digests.push(straight.world.digest());
        }
        let mut s = straight.clone();
        for target in [2999u64, 5, 1700, 1, 2048, 256, 255, 257, 3000, 12] {
            let reached = s.seek(target);
            assert_eq!(reached, target);
            assert_eq!(s.world.digest(), digests[target as usize], "step {target}");
        }
    }

    #[test]
    fn acting_in_the_past_truncates_the_future_and_replays_from_the_log() {
        let name = "replication/idempotence-prevents-duplicates";
        let mut s = session(name, 1);
        for _ in 0..800 {
            s.step_forward();
        }
        s.act(Action::Crash { broker: 2 }).unwrap();
        for _ in 0..400 {
            s.step_forward();
        }
        let f = s.frontier();
        s.seek(500);
        s.act(Action::Crash { broker: 3 }).unwrap();
        assert_eq!(s.frontier(), 501, "the future after the new action (step 500) is gone");
        assert_eq!(s.actions().len(), 1, "the later crash of broker 2 was on the old branch");
        assert!(f > s.frontier());
        for _ in 0..300 {
            s.step_forward();
        }
        let (digest, cursor) = (s.world.digest(), s.cursor());
        // The same scenario, seed and action log replay to the same state.
        let mut other = session(name, 1);
        other.replay(s.actions().to_vec(), cursor).unwrap();
        assert_eq!(other.world.digest(), digest);
        assert_eq!(other.world.action_log, s.world.action_log);
    }

    #[test]
    fn restoring_a_discarded_branch_gives_back_its_actions_cursor_and_future() {
        let name = "replication/idempotence-prevents-duplicates";
        let mut s = session(name, 1);
        s.seek(300);
        s.act(Action::Crash { broker: 2 }).unwrap();
        s.seek(700);
        s.act(Action::Restart { broker: 2 }).unwrap();
        s.seek(1500);
        let end_digest = s.world.digest();
        s.seek(650);
        let before = (s.cursor(), s.world.digest(), s.actions().to_vec(), s.world.action_log.clone(), s.frontier());
        assert_eq!(s.branch_point().map(|b| (b.step, b.later_steps(), b.later_actions)), Some((650, 850, 1)));
        let b = s.branch_point().unwrap();
        s.act(Action::Crash { broker: 3 }).unwrap();
        s.seek(900);
        assert_eq!(s.frontier(), 900, "the new branch");
        assert_eq!(s.restore(&b, || false), Ok(1500));
        let after = (s.cursor(), s.world.digest(), s.actions().to_vec(), s.world.action_log.clone(), s.frontier());
        assert_eq!(after, before);
        s.seek(1500);
        assert_eq!(s.world.digest(), end_digest, "the old future, recomputed");
        // Restored as far as the frame allows: the actions are back, the rest computes on play.
        s.seek(650);
        s.act(Action::Crash { broker: 3 }).unwrap();
        let mut asked = 0;
        let reached = s.restore(&b, || {
            asked += 1;
            true
        });
        assert_eq!((reached, asked), (Ok(650 + 64), 1));
        assert_eq!((s.cursor(), s.actions()), (650, &b.actions[..]));
        s.seek(1500);
        assert_eq!(s.world.digest(), end_digest);
    }

    #[test]
    fn a_branch_point_exists_only_where_acting_discards_something_and_restores_only_its_own_run() {
        let mut s = session("replication/acks-1-leader-crash", 1);
        s.seek(100);
        assert_eq!(s.branch_point(), None, "at the frontier nothing is discarded");
        s.act(Action::Crash { broker: 1 }).unwrap();
        s.seek(50);
        let b = s.branch_point().unwrap();
        assert_eq!((b.step, b.later_steps(), b.later_actions), (50, 51, 1));
        s.seek(101);
        assert_eq!(s.branch_point(), None, "back at the frontier");
        // A run that changed before the branch step does not take it back.
        s.seek(20);
        s.act(Action::Crash { broker: 2 }).unwrap();
        let e = s.restore(&b, || false).unwrap_err();
        assert!(e.contains("no longer shares the steps before 50"), "{e}");
    }

    #[test]
    fn a_replay_stopped_every_64_steps_ends_where_a_replay_at_once_ends() {
        let name = "replication/acks-1-leader-crash";
        let log = vec![
            LoggedAction { at_step: 300, action: Action::Crash { broker: 2 } },
            LoggedAction { at_step: 700, action: Action::Restart { broker: 2 } },
        ];
        let mut whole = session(name, 1);
        whole.replay(log.clone(), 1000).unwrap();
        let mut parts = session(name, 1);
        let mut r = Replay::new(log, 1000).unwrap();
        let mut calls = 0;
        // Stops at every chance it is given: each call computes at most 64 steps.
        while !parts.replay_some(&mut r, || true).unwrap() {
            calls += 1;
            assert!(parts.cursor() <= 1000);
        }
        // About one call per 64 steps (the count starts again at each action).
        assert!(calls >= 1000 / 64 - 3, "it went on over {calls} calls");
        assert_eq!((parts.cursor(), parts.world.digest()), (whole.cursor(), whole.world.digest()));
        assert_eq!(parts.actions(), whole.actions());
        // A problem is found over calls as at once: the same message.
        let bad = vec![LoggedAction { at_step: 500, action: Action::Crash { broker: 9 } }];
        let at_once = session(name, 1).replay(bad.clone(), 900).unwrap_err();
        let mut parts = session(name, 1);
        let mut r = Replay::new(bad, 900).unwrap();
        let over_calls = loop {
            match parts.replay_some(&mut r, || true) {
                Ok(false) => continue,
                Ok(true) => panic!("crashing broker 9 replayed"),
                Err(e) => break e,
            }
        };
        assert_eq!(over_calls, at_once);
    }

    #[test]
    fn a_run_past_the_kept_trace_can_still_be_scrubbed_branched_and_undone_anywhere() {
        let name = "replication/acks-1-leader-crash";
        let mut s = session(name, 1);
        s.max_trace = 200;
        s.seek(1000);
        assert!(s.first_kept_step() > 500, "the oldest events were dropped");
        // Any step is reachable: the same world as a session that kept everything.
        let mut full = session(name, 1);
        for step in [3, 120, 499, 1000] {
            assert_eq!(s.seek(step), step);
            full.seek(step);
            assert_eq!(s.world.digest(), full.world.digest(), "step {step}");
        }
        // Branching before the kept trace starts its events there.
        s.seek(120);
        let undo = s.branch_point().expect("a future to discard");
        s.act(Action::Crash { broker: 2 }).unwrap();
        full.seek(120);
        full.act(Action::Crash { broker: 2 }).unwrap();
        assert_eq!((s.cursor(), s.world.digest()), (full.cursor(), full.world.digest()));
        assert_eq!(s.first_kept_step(), 120);
        assert!(s.event(120).is_some());
        // And the discarded branch comes back.
        s.restore(&undo, || false).unwrap();
        assert_eq!(s.actions(), undo.actions.as_slice());
        assert_eq!(s.seek(1000), 1000);
        let mut again = session(name, 1);
        again.seek(1000);
        assert_eq!(s.world.digest(), again.world.digest());
    }

    #[test]
    fn replay_rejects_bad_logs_with_a_reason() {
        let mut s = session("replication/acks-1-leader-crash", 1);
        let bad_order = vec![
            LoggedAction { at_step: 9, action: Action::Crash { broker: 1 } },
            LoggedAction { at_step: 3, action: Action::Crash { broker: 2 } },
        ];
        assert!(s.replay(bad_order, 20).unwrap_err().0.contains("order"));
        let mut s = session("replication/acks-1-leader-crash", 1);
        let no_broker = vec![LoggedAction { at_step: 9, action: Action::Crash { broker: 9 } }];
        let e = s.replay(no_broker, 20).unwrap_err();
        assert!(e.0.contains("no broker 9"), "{e:?}");
        assert_eq!(s.cursor(), 9, "the session stays usable where the log broke");
        let mut s = session("replication/acks-1-leader-crash", 1);
        let e = s.replay(Vec::new(), MAX_REPLAY_STEPS).unwrap_err();
        assert!(e.0.contains("past the end"), "{e:?}");
    }

    #[test]
    fn replay_refuses_steps_beyond_the_link_bound_before_computing_any() {
        // Refused up front: no seek toward a step a link may not replay.
        let mut s = session("producer/keys-and-hot-partitions", 1);
        let far = vec![
            LoggedAction { at_step: 10, action: Action::Crash { broker: 1 } },
            LoggedAction { at_step: MAX_REPLAY_STEPS + 1, action: Action::Restart { broker: 1 } },
        ];
        let e = s.replay(far, 20).unwrap_err();
        assert!(e.0.starts_with("action 2 of 2 ('restart broker 1') is at step 2000001, beyond"), "{e:?}");
        assert_eq!((s.cursor(), s.frontier(), s.actions().len()), (1, 1, 0), "nothing was computed");
        let e = s.replay(Vec::new(), u64::MAX).unwrap_err();
        assert!(e.0.contains("beyond the 2000000 steps"), "{e:?}");
        assert_eq!(s.frontier(), 1);
    }

    #[test]
    fn snapshots_stay_bounded_on_long_runs() {
        let mut s = session("producer/keys-and-hot-partitions", 1);
        while s.step_forward() {}
        assert!(s.snapshot_count() <= MAX_SNAPSHOTS);
        assert!(s.cursor() / s.snapshot_interval() <= MAX_SNAPSHOTS as u64 + 1);
        let end = s.cursor();
        let digest = s.world.digest();
        s.seek(end / 3);
        s.seek(end);
        assert_eq!(s.world.digest(), digest);
    }

    /// acks-1-leader-crash with a consumer reading from the start and a second burst of
    /// records after the failover: the consumer reads across the offsets of the records
    /// the old leader acknowledged, so their loss is observable (a lost write).
    fn lost_write_text() -> String {
        let text = scenarios::text("replication/acks-1-leader-crash").unwrap();
        let consumer = "[[consumer]]\nname = \"reader\"\nassign = [\"orders-0\"]\nconfig = { \"auto.offset.reset\" = \"earliest\" }\n\n[[at]]";
        let burst = "\n[[at]]\nat_ms = 20000\naction = \"produce\"\nproducer = \"producer\"\ntopic = \"orders\"\ncount = 150\nkey = \"cycle:10\"\ninterval_ms = 10\n";
        format!("{}{burst}", text.replacen("[[at]]", consumer, 1))
    }

    fn lost_write_session() -> Session {
        let text = lost_write_text();
        let scenario = Scenario::parse("lost.toml", &text).expect("scenario parses");
        Session::new(Source::Inline(text), scenario, 1).expect("world builds")
    }

    /// The recorder driven by hand, as `kafka-sandbox run` drives it, for `steps` steps.
    fn straight_history(text: &str, seed: u64, steps: u64) -> (History, HistoryReport) {
        let scenario = Scenario::parse("x.toml", text).unwrap();
        let (mut world, boot) = World::new(&scenario.setup, seed).unwrap();
        HistoryRecorder::enable(&mut world);
        let mut r = HistoryRecorder::new();
        r.observe(&world, &boot);
        while world.steps < steps && world.next_event_time().is_some_and(|t| t <= scenario.setup.end) {
            let Some(ev) = world.step() else { break };
            r.observe(&world, &ev);
        }
        let h = r.finish(&world);
        let report = check(&h, &Allowances::of(&world));
        (h, report)
    }

    #[test]
    fn history_at_the_end_is_the_command_line_report_with_the_lost_writes() {
        let mut s = lost_write_session();
        while s.step_forward() {}
        let report = s.history_report();
        let (_, straight) = straight_history(&lost_write_text(), 1, u64::MAX);
        assert_eq!(report, straight);
        let lost = sandbox_core::history::AnomalyKind::LostWrite;
        assert!(report.count(lost) > 0, "{}", report.to_text());
        assert!(report.anomalies.iter().any(|a| a.kind == lost && a.allowed_by.is_some()));
        // Before the crash nothing is anomalous yet.
        s.seek(2);
        assert_eq!(s.history_report().count(lost), 0);
    }

    #[test]
    fn history_at_any_cursor_is_what_a_recorder_stopped_there_saw() {
        let mut s = lost_write_session();
        while s.step_forward() {}
        let text = lost_write_text();
        let end = s.cursor();
        let mut targets: Vec<u64> = (1..=8).map(|i| end * i / 8).collect();
        targets.extend([1, 2, end - 1, end / 3 + 7, end]);
        for target in targets {
            assert_eq!(s.seek(target), target);
            let (h, report) = straight_history(&text, 1, target);
            assert_eq!(s.history_at_cursor(), h, "history at step {target}");
            assert_eq!(s.history_report(), report, "report at step {target}");
        }
    }

    #[test]
    fn a_branch_records_the_history_of_the_new_branch_only() {
        let mut s = lost_write_session();
        while s.step_forward() {}
        let old_end = s.history_at_cursor();
        s.seek(s.cursor() / 2);
        s.act(Action::Crash { broker: 2 }).unwrap();
        for _ in 0..600 {
            s.step_forward();
        }
        let mut other = lost_write_session();
        other.replay(s.actions().to_vec(), s.cursor()).unwrap();
        let h = s.history_at_cursor();
        assert_eq!(h, other.history_at_cursor());
        assert!(!h.reads.is_empty(), "the consumer read on the new branch");
        assert_ne!(h.reads, old_end.reads[..h.reads.len().min(old_end.reads.len())], "the branch read differently");
    }

    #[test]
    fn samples_follow_the_cursor() {
        let mut s = session("producer/keys-and-hot-partitions", 1);
        s.advance_until(SimTime::from_ms(5_000), || false);
        let n = s.samples().len();
        assert!(n > 10);
        assert!(s.samples().windows(2).all(|w| w[0].acked <= w[1].acked && w[0].time < w[1].time));
        s.seek(s.cursor() / 2);
        assert!(s.samples().len() < n);
        assert!(s.samples().last().unwrap().step <= s.cursor());
    }

    #[test]
    fn a_stopped_consumer_has_no_lag_samples_and_its_stop_is_kept_per_branch() {
        // reader-a crashes at 40 s (the scenario's timeline) and never returns.
        let mut s = session("groups/three-members-two-partitions", 1);
        let a = s.world.consumers.iter().position(|c| c.name == "reader-a").unwrap();
        while s.step_forward() {}
        let crash = SimTime::from_ms(40_000);
        let (before, after): (Vec<_>, Vec<_>) = s.samples().iter().partition(|x| x.time < crash);
        assert!(before.iter().all(|x| x.lag[a].is_some()), "running: a lag");
        assert!(!after.is_empty() && after.iter().all(|x| x.lag[a].is_none()), "crashed: a gap, not a climb");
        assert!(after.iter().any(|x| x.lag.iter().enumerate().any(|(i, l)| i != a && l.is_some())));
        assert_eq!(s.consumer_stops()[a], Some(Stop::Crashed));
        // Before the crash it had not stopped; a branch that closes it instead says so.
        let end = s.cursor();
        s.seek(end / 4);
        assert_eq!(s.consumer_stops()[a], None);
        s.act(Action::CloseClient { client: "reader-a".into() }).unwrap();
        s.advance_until(SimTime::from_ms(60_000), || false);
        assert_eq!(s.consumer_stops()[a], Some(Stop::Closed), "the old branch's crash is gone");
        assert!(!s.world.consumers[a].alive);
    }
}
