//! The app state and its reducer. The heavy part (the session: world, trace, snapshots) is
//! shared and mutated in place; the reducer returns a new `Rc` only when something visible
//! changed, which is what makes Yew re-render.
use crate::edit::{self, Knobs, MAX_SCENARIO_BYTES};
use crate::pacer::{self, FrameKind};
use crate::scenarios;
use crate::session::{Branch, Goal, JumpEnd, Replay, ReplayProblem, Session, Source};
use crate::share::{self, Shared};
use crate::streams_live::{IqSelection, IqSelections};
use crate::vm::{LogFilter, PartitionView};
use sandbox_core::action::Action;
use sandbox_core::scenario::Scenario;
use sandbox_core::sim::time::SimTime;
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// Speed is 10^(speed/100): -200 is 1/100x, 300 is 1000x.
pub const SPEED_MIN: i32 = -200;
pub const SPEED_MAX: i32 = 300;
/// Charts and summaries refresh at most this often while playing...
pub const SLOW_REFRESH_MS: f64 = 1000.0;
/// The side panels (clients, event log) refresh at most this often while playing; the
/// cluster view follows every frame.
pub const MID_REFRESH_MS: f64 = 100.0;
/// ...and this long after the last change when paused (so scrubbing stays responsive: the
/// cluster view follows at once, the charts catch up).
pub const SETTLE_MS: u32 = 120;
/// Steps "next interesting event" and "end" compute at most.
pub const MAX_JUMP_STEPS: u64 = 5_000_000;
/// A jump first runs this long at once (most are over by then: no flicker); a longer one
/// goes on frame by frame, the time bar showing its progress and Space or Esc stopping it.
pub const SYNC_JUMP_MS: f64 = 60.0;

/// Undoing a branch recomputes the old future for at most this long at once; the rest is
/// computed when played.
pub const UNDO_COMPUTE_MS: f64 = 150.0;

/// Opening a link (or the autosaved session) replays it for at most this long at once; a
/// longer replay goes on frame by frame with its progress in the time bar, so a session
/// saved at a late step never freezes the page on reload.
pub const SYNC_OPEN_MS: f64 = 150.0;
/// Wall-clock milliseconds of replay per frame while a link opens over frames.
pub const OPEN_FRAME_MS: f64 = pacer::MAX_SIM_MS;

/// A link being opened over frames: what is left of its replay, and the link as given (for
/// the message if it turns out it cannot be replayed).
#[derive(Clone, Debug, PartialEq)]
pub struct Opening {
    pub replay: Replay,
    pub fragment: Rc<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Error(String),
    Info(String),
    /// Acting in the past started a new branch: says what was discarded and offers to undo
    /// it. One level: the next action or load replaces the notice, and with it the undo.
    Branched {
        text: String,
        undo: Rc<Branch>,
    },
    /// A link that cannot be opened, with the fragment as given, to copy and fix (the
    /// address bar keeps it too while this shows).
    BadLink {
        text: String,
        fragment: Rc<str>,
    },
}

impl Notice {
    fn bad_link(text: String, fragment: &str) -> Notice {
        Notice::BadLink { text, fragment: fragment.into() }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Notice::Error(_) | Notice::BadLink { .. })
    }

    /// The notice after acting at `b.step` discarded `b`'s future.
    pub fn branched(b: Branch) -> Notice {
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let text = format!(
            "New branch from step {}: the previous future ({}, {}) was discarded.",
            b.step,
            plural(b.later_steps(), "step"),
            plural(b.later_actions as u64, "later action")
        );
        Notice::Branched { text, undo: Rc::new(b) }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub session: Rc<RefCell<Session>>,
    /// Bumped whenever the session changed.
    pub rev: u64,
    /// Bumped when charts, summaries and the saved link should refresh: once a second while
    /// playing, [`SETTLE_MS`] after the last change when paused (`Msg::Refresh`).
    pub slow_rev: u64,
    /// Bumped when the side panels should refresh: every change when paused, ten times a
    /// second while playing.
    pub mid_rev: u64,
    pub playing: bool,
    pub speed: i32,
    /// The play clock: ahead of the world's time between events while playing.
    pub clock: SimTime,
    last_frame: Option<f64>,
    last_slow: f64,
    last_mid: f64,
    pub notice: Option<Notice>,
    pub filter: LogFilter,
    /// Which partitions the cluster view draws (a topic, a page of at most
    /// [`crate::vm::MAX_DRAWN_PARTITIONS`]).
    pub partitions: PartitionView,
    pub help: bool,
    /// While playing: the speed the simulation kept up with recently (simulated time per
    /// wall-clock time), refreshed with the side panels. Below the requested speed when the
    /// machine cannot simulate that fast and still draw 60 frames a second.
    pub achieved_speed: f64,
    /// Interactive queries of the Streams applications' stores, per `application.id`.
    pub iq: IqSelections,
    /// A jump (End, next interesting event) going on over several frames, and the steps
    /// it has taken so far.
    pub fast_forward: Option<(Goal, u64)>,
    /// A link being opened over frames (its session is not saved until it is done).
    pub opening: Option<Opening>,
}

pub enum Msg {
    Frame(f64),
    TogglePlay,
    StepForward,
    StepBack,
    NextInteresting,
    Seek(u64),
    ToEnd,
    SetSpeed(i32),
    /// Faster (+) or slower (-) by this many hundredths of a decade.
    SpeedBy(i32),
    Act(Action),
    /// Back to the branch the last act in the past discarded (the `Branched` notice's).
    UndoBranch,
    Load {
        source: Source,
        seed: Option<u64>,
    },
    SetSeed(u64),
    OpenLink(String),
    Import {
        name: String,
        text: String,
    },
    ApplyKnobs {
        before: Knobs,
        after: Knobs,
    },
    SetFilter(LogFilter),
    ShowPartitions(PartitionView),
    Notice(Option<Notice>),
    /// Stops a jump going on (Esc).
    StopJump,
    Help(bool),
    ToggleHelp,
    /// The slow views (charts, summary, saved link) catch up with the session.
    Refresh,
    /// Query a store of a Streams application (by `application.id`).
    Query {
        app: String,
        selection: IqSelection,
    },
}

pub type Dispatch = UseReducerDispatcher<AppState>;

/// The scenario text a source stands for.
pub fn source_text(source: &Source) -> Result<String, String> {
    match source {
        Source::Builtin(name) => scenarios::text(name)
            .map(str::to_string)
            .ok_or_else(|| format!("this build has no scenario named '{name}'")),
        Source::Inline(t) => Ok(t.clone()),
    }
}

/// Opens a session (seed: the scenario's own when `None`).
pub fn open(source: Source, seed: Option<u64>) -> Result<Session, String> {
    let text = source_text(&source)?;
    if text.len() > MAX_SCENARIO_BYTES {
        return Err(format!("the scenario is larger than {} KiB", MAX_SCENARIO_BYTES / 1024));
    }
    let file = match &source {
        Source::Builtin(n) => format!("{n}.toml"),
        Source::Inline(_) => "scenario.toml".into(),
    };
    let scenario = Scenario::parse(&file, &text).map_err(|e| e.to_string())?;
    let seed = seed.unwrap_or(scenario.seed);
    Session::new(source, scenario, seed).map_err(|e| format!("{file}: {e}"))
}

/// The fragment that starts afresh (the crash panel's "Start fresh" link uses it).
pub const NEW: &str = "new";

/// A fresh run of the default scenario.
fn fresh() -> Result<Session, String> {
    open(Source::Builtin(scenarios::default_name().into()), None).or_else(|e| {
        // A broken shipped scenario must not blank the page: try the others.
        scenarios::names().find_map(|n| open(Source::Builtin(n.into()), None).ok()).ok_or(e)
    })
}

/// Opens a share link, replaying its action log to its cursor.
pub fn open_link(fragment: &str) -> Result<Session, String> {
    start_link(fragment, || false).map(|(s, _)| s)
}

/// Opens a share link and replays its log until done or until `stop` says so; then what is
/// left of the replay comes back, to go on with over frames ([`AppState::opening`]).
pub fn start_link(fragment: &str, stop: impl FnMut() -> bool) -> Result<(Session, Option<Opening>), String> {
    let shared = share::decode(fragment).map_err(|e| format!("This link cannot be opened: {e}."))?;
    let mut s = open(shared.source, Some(shared.seed)).map_err(|e| format!("This link cannot be opened: {e}"))?;
    let mut replay = Replay::new(shared.actions, shared.cursor).map_err(replay_problem)?;
    let done = s.replay_some(&mut replay, stop).map_err(replay_problem)?;
    Ok((s, (!done).then(|| Opening { replay, fragment: fragment.into() })))
}

fn replay_problem(e: ReplayProblem) -> String {
    format!("This link cannot be replayed: {}.", e.0)
}

/// A stop for [`start_link`]: true once `ms` have passed.
fn after_ms(ms: f64) -> impl FnMut() -> bool {
    let deadline = crate::dom::now_ms() + ms;
    move || crate::dom::now_ms() > deadline
}

/// The share link of the session at its cursor. Past the steps a link may replay
/// ([`share::MAX_SHARED_CURSOR`]) it opens at that step instead (see [`link_note`]).
pub fn link_of(s: &Session) -> String {
    link_within(s, share::MAX_SHARED_CURSOR).0
}

/// What the share link leaves out, when the cursor is past the steps a link may replay.
pub fn link_note(s: &Session) -> Option<String> {
    link_within(s, share::MAX_SHARED_CURSOR).1
}

/// The link of the session at its cursor, or at step `max` with the actions before it, and
/// then a note saying so.
fn link_within(s: &Session, max: u64) -> (String, Option<String>) {
    let cursor = s.cursor().min(max);
    let link = share::encode(&Shared {
        source: s.source.clone(),
        seed: s.seed,
        actions: s.world.action_log.iter().filter(|a| a.at_step < cursor).cloned().collect(),
        cursor,
    });
    let note = (s.cursor() > max).then(|| {
        let later = s.world.action_log.iter().filter(|a| a.at_step >= max).count();
        format!(
            "A link replays at most {max} steps: this one opens at step {max}{}.",
            if later > 0 { format!(", without the {later} action(s) after it") } else { String::new() }
        )
    });
    (link, note)
}

impl AppState {
    fn with_session(session: Session, notice: Option<Notice>) -> AppState {
        let clock = session.world.now;
        AppState {
            session: Rc::new(RefCell::new(session)),
            rev: 0,
            slow_rev: 0,
            mid_rev: 0,
            playing: false,
            speed: 0,
            clock,
            last_frame: None,
            last_slow: 0.0,
            last_mid: 0.0,
            notice,
            filter: LogFilter::default(),
            partitions: PartitionView::default(),
            help: false,
            achieved_speed: 0.0,
            fast_forward: None,
            iq: IqSelections::new(),
            opening: None,
        }
    }

    fn opened(session: Session, opening: Option<Opening>, notice: Option<Notice>) -> AppState {
        let mut state = AppState::with_session(session, notice);
        state.opening = opening;
        state
    }

    /// The first state: the link in the URL, else the autosaved session, else the default
    /// scenario. A bad link is reported and the next option used. `#new` starts afresh: the
    /// default scenario, whatever was saved.
    pub fn initial(hash: &str, saved: Option<String>) -> AppState {
        let mut notice = None;
        if !hash.is_empty() && hash != NEW {
            match start_link(hash, after_ms(SYNC_OPEN_MS)) {
                Ok((s, opening)) => return AppState::opened(s, opening, None),
                Err(e) => notice = Some(Notice::bad_link(e, hash)),
            }
        }
        if hash != NEW {
            if let Some(saved) = saved.filter(|s| !s.is_empty()) {
                if let Ok((s, opening)) = start_link(&saved, after_ms(SYNC_OPEN_MS)) {
                    return AppState::opened(s, opening, notice);
                }
            }
        }
        match fresh() {
            Ok(s) => AppState::with_session(s, notice),
            Err(e) => panic!("no scenario can be opened: {e}"),
        }
    }

    fn changed(self: &Rc<Self>, f: impl FnOnce(&mut AppState)) -> Rc<AppState> {
        let mut next = (**self).clone();
        next.rev += 1;
        next.mid_rev += 1;
        // Any change of the session stops a jump going on (a jump sets it again in `f`).
        next.fast_forward = None;
        f(&mut next);
        if !next.playing {
            next.clock = next.session.borrow().world.now;
        }
        Rc::new(next)
    }

    fn replace(self: &Rc<Self>, session: Session, notice: Option<Notice>) -> Rc<AppState> {
        let mut next = AppState::with_session(session, notice);
        next.rev = self.rev + 1;
        next.slow_rev = self.slow_rev + 1;
        next.mid_rev = self.mid_rev + 1;
        next.speed = self.speed;
        // Kept across reloads and branches: a store the new world lacks falls back to the first.
        next.iq = self.iq.clone();
        Rc::new(next)
    }

    pub fn speed_factor(&self) -> f64 {
        10f64.powf(f64::from(self.speed) / 100.0)
    }
}

impl AppState {
    /// End or next interesting event: at once when it is quick, else over frames.
    fn start_jump(self: &Rc<Self>, goal: Goal) -> Rc<AppState> {
        let deadline = crate::dom::now_ms() + SYNC_JUMP_MS;
        let (steps, end) = self.session.borrow_mut().jump(goal, MAX_JUMP_STEPS, || crate::dom::now_ms() > deadline);
        if steps == 0 {
            let text = match goal {
                Goal::End => "The run is at its end.",
                Goal::Interesting => "Nothing more happens in this run.",
            };
            return error(self, text.into());
        }
        self.jump_ended(goal, steps, end)
    }

    /// One frame of a jump going on.
    fn jump_frame(self: &Rc<Self>, t: f64, goal: Goal, done: u64) -> Rc<AppState> {
        let budget = pacer::with(|p| {
            if let Some(l) = self.last_frame {
                p.frame_arrived(t - l);
            }
            p.budget_ms(FrameKind::Plain)
        });
        let deadline = crate::dom::now_ms() + budget;
        let (steps, end) = self
            .session
            .borrow_mut()
            .jump(goal, MAX_JUMP_STEPS.saturating_sub(done), || crate::dom::now_ms() > deadline);
        pacer::with(|p| p.simulated(FrameKind::Plain, budget, 0.0, 0.0));
        let mut next = self.jump_ended(goal, done + steps, end);
        if let Some(n) = Rc::get_mut(&mut next) {
            n.last_frame = Some(t);
            if t - self.last_mid >= MID_REFRESH_MS || n.fast_forward.is_none() {
                n.last_mid = t;
            } else {
                // The side panels follow a jump going on at their own pace (and show where
                // it ended at once).
                n.mid_rev = self.mid_rev;
            }
        }
        next
    }

    fn jump_ended(self: &Rc<Self>, goal: Goal, steps: u64, end: JumpEnd) -> Rc<AppState> {
        self.changed(|n| {
            n.playing = false;
            n.last_frame = None;
            match end {
                JumpEnd::Reached => {}
                JumpEnd::RunOver => n.notice = Some(Notice::Info("Nothing more happens in this run.".into())),
                JumpEnd::Capped => {
                    n.notice = Some(Notice::Info(format!(
                        "Computed {steps} more steps without getting there; the run goes on (press again)."
                    )))
                }
                JumpEnd::Paused => n.fast_forward = Some((goal, steps)),
            }
        })
    }
}

impl AppState {
    /// One frame of a link being opened: [`OPEN_FRAME_MS`] of replay; the side panels
    /// follow at their own pace.
    fn opening_frame(self: &Rc<Self>, t: f64) -> Rc<AppState> {
        let Some(mut opening) = self.opening.clone() else { return self.clone() };
        // The page shows little else while it opens (the cluster follows at the mid
        // cadence), so most of the frame goes to the replay; the pacer, which learns the
        // budgets of playing frames, is left out of it.
        let result = self.session.borrow_mut().replay_some(&mut opening.replay, after_ms(OPEN_FRAME_MS));
        match result {
            Ok(true) => {
                let mut next = (**self).clone();
                next.opening = None;
                next.last_frame = None;
                next.rev += 1;
                next.mid_rev += 1;
                next.slow_rev += 1;
                next.clock = next.session.borrow().world.now;
                Rc::new(next)
            }
            Ok(false) => {
                let mut next = (**self).clone();
                next.opening = Some(opening);
                next.rev += 1;
                if t - self.last_mid >= MID_REFRESH_MS {
                    next.mid_rev += 1;
                    next.last_mid = t;
                }
                next.clock = next.session.borrow().world.now;
                Rc::new(next)
            }
            // As when the link fails at once: the default scenario, and the link to fix.
            Err(e) => match fresh() {
                Ok(s) => self.replace(s, Some(Notice::bad_link(replay_problem(e), &opening.fragment))),
                Err(f) => error(self, format!("{}; {f}", replay_problem(e))),
            },
        }
    }

    /// Stops opening a link where its replay got to.
    fn stop_opening(self: &Rc<Self>) -> Rc<AppState> {
        let Some(opening) = &self.opening else { return self.clone() };
        let cursor = self.session.borrow().cursor();
        let text = format!(
            "Stopped opening the link at step {cursor} of {}: what it did after that step is not replayed.",
            opening.replay.cursor()
        );
        self.changed(|n| {
            n.opening = None;
            n.slow_rev += 1;
            n.notice = Some(Notice::Info(text));
        })
    }
}

fn error(self_: &Rc<AppState>, text: String) -> Rc<AppState> {
    let mut next = (**self_).clone();
    next.notice = Some(Notice::Error(text));
    Rc::new(next)
}

impl Reducible for AppState {
    type Action = Msg;

    fn reduce(self: Rc<Self>, msg: Msg) -> Rc<Self> {
        if self.opening.is_some() {
            match msg {
                Msg::Frame(t) => return self.opening_frame(t),
                Msg::StopJump | Msg::TogglePlay => return self.stop_opening(),
                // What only changes the view goes through.
                Msg::Refresh
                | Msg::Help(_)
                | Msg::ToggleHelp
                | Msg::SetFilter(_)
                | Msg::ShowPartitions(_)
                | Msg::SetSpeed(_)
                | Msg::Notice(_)
                | Msg::Query { .. } => {}
                // Anything that moves or changes the session stops the opening where it is first.
                msg => return self.stop_opening().reduce(msg),
            }
        }
        match msg {
            Msg::Frame(t) => {
                if let Some((goal, done)) = self.fast_forward {
                    return self.jump_frame(t, goal, done);
                }
                if !self.playing {
                    return self;
                }
                let dt = self.last_frame.map(|l| (t - l).clamp(0.0, 100.0)).unwrap_or(0.0);
                let advance_us = (dt * 1000.0 * self.speed_factor()).round() as u64;
                let target = SimTime(self.clock.0.saturating_add(advance_us));
                // What this frame refreshes besides the cluster view decides how much of it
                // the simulation may use (the pacer learned what each kind costs).
                let slow = t - self.last_slow >= SLOW_REFRESH_MS;
                // Not both in one frame: the side panels wait for the frame after the slow views.
                let mid = !slow && t - self.last_mid >= MID_REFRESH_MS;
                let kind = match (slow, mid) {
                    (true, _) => FrameKind::Slow,
                    (false, true) => FrameKind::Mid,
                    _ => FrameKind::Plain,
                };
                let budget = pacer::with(|p| {
                    if let Some(l) = self.last_frame {
                        p.frame_arrived(t - l);
                    }
                    p.budget_ms(kind)
                });
                let started = crate::dom::now_ms();
                let deadline = started + budget;
                let (reached, at_end, now) = {
                    let mut s = self.session.borrow_mut();
                    let (_, reached) = s.advance_until(target, || crate::dom::now_ms() > deadline);
                    (reached, s.at_end(), s.world.now)
                };
                let sim_ms = crate::dom::now_ms() - started;
                crate::hooks::note_frame_sim(sim_ms);
                let mut next = (*self).clone();
                next.rev += 1;
                next.last_frame = Some(t);
                next.clock = if reached { target.max(now) } else { now };
                let advanced_ms = next.clock.0.saturating_sub(self.clock.0) as f64 / 1000.0;
                pacer::with(|p| p.simulated(kind, sim_ms, advanced_ms, dt));
                if at_end {
                    next.playing = false;
                    next.clock = now;
                    next.notice = Some(Notice::Info("The run reached its end.".into()));
                }
                if mid || at_end {
                    next.mid_rev += 1;
                    next.last_mid = t;
                    next.achieved_speed = pacer::with(|p| p.achieved_speed());
                }
                if slow || at_end {
                    next.slow_rev += 1;
                    next.last_slow = t;
                }
                Rc::new(next)
            }
            Msg::TogglePlay => {
                if self.fast_forward.is_some() {
                    return self.reduce(Msg::StopJump);
                }
                let at_end = self.session.borrow().at_end();
                if !self.playing && at_end {
                    return error(&self, "The run is over: step back or scrub the timeline to replay it.".into());
                }
                self.changed(|n| {
                    n.playing = !n.playing;
                    n.last_frame = None;
                    n.clock = n.session.borrow().world.now;
                    // A branch's notice stays while its branch plays: its Undo still applies.
                    if n.playing && !matches!(n.notice, Some(Notice::Branched { .. })) {
                        n.notice = None;
                    }
                    if n.playing {
                        n.achieved_speed = n.speed_factor();
                        pacer::with(|p| p.restart(n.achieved_speed));
                    }
                })
            }
            Msg::StepForward => {
                let moved = self.session.borrow_mut().step_forward();
                if !moved {
                    return error(&self, "The run is at its end.".into());
                }
                self.changed(|n| n.playing = false)
            }
            Msg::StepBack => {
                let before = self.session.borrow().cursor();
                if self.session.borrow_mut().step_back() == before {
                    return self;
                }
                self.changed(|n| n.playing = false)
            }
            Msg::NextInteresting => self.start_jump(Goal::Interesting),
            Msg::Seek(target) => {
                let moved = {
                    let mut s = self.session.borrow_mut();
                    let target = target.min(s.frontier());
                    let moved = s.cursor() != target;
                    s.seek(target);
                    moved
                };
                if !moved {
                    return self;
                }
                self.changed(|n| n.playing = false)
            }
            Msg::ToEnd => self.start_jump(Goal::End),
            Msg::StopJump => {
                if self.fast_forward.is_none() {
                    return self;
                }
                self.changed(|n| n.notice = Some(Notice::Info("Stopped.".into())))
            }
            Msg::SetSpeed(v) => {
                let v = v.clamp(SPEED_MIN, SPEED_MAX);
                if v == self.speed {
                    return self;
                }
                let mut next = (*self).clone();
                next.speed = v;
                next.achieved_speed = next.speed_factor();
                pacer::with(|p| p.restart(next.achieved_speed));
                Rc::new(next)
            }
            Msg::SpeedBy(delta) => {
                let speed = self.speed;
                self.reduce(Msg::SetSpeed(speed.saturating_add(delta)))
            }
            Msg::Act(action) => {
                let text = action.to_string();
                let (discarded, result) = {
                    let mut s = self.session.borrow_mut();
                    let discarded = s.branch_point();
                    (discarded, s.act(action))
                };
                match result {
                    Ok(()) => self.changed(|n| n.notice = discarded.map(Notice::branched)),
                    Err(e) => error(&self, format!("{text}: {e}")),
                }
            }
            Msg::UndoBranch => {
                let Some(Notice::Branched { undo, .. }) = &self.notice else { return self };
                let undo = undo.clone();
                let deadline = crate::dom::now_ms() + UNDO_COMPUTE_MS;
                let result = self.session.borrow_mut().restore(&undo, || crate::dom::now_ms() > deadline);
                self.changed(|n| {
                    n.playing = false;
                    n.notice = Some(match result {
                        Ok(reached) if reached >= undo.frontier => {
                            Notice::Info(format!("Undone: back on the previous branch at step {}.", undo.step))
                        }
                        Ok(reached) => Notice::Info(format!(
                            "Undone: back on the previous branch at step {}; its future is computed up to step \
                             {reached} of {} (playing computes the rest).",
                            undo.step, undo.frontier
                        )),
                        Err(e) => Notice::Error(format!("Cannot undo the branch: {e}.")),
                    });
                })
            }
            Msg::Load { source, seed } => match open(source, seed) {
                Ok(s) => self.replace(s, None),
                Err(e) => error(&self, e),
            },
            Msg::SetSeed(seed) => {
                let source = self.session.borrow().source.clone();
                match open(source, Some(seed)) {
                    Ok(s) => self.replace(s, None),
                    Err(e) => error(&self, e),
                }
            }
            // `#new` typed into the address bar: start afresh, as on a load.
            Msg::OpenLink(fragment) if fragment == NEW => match fresh() {
                Ok(s) => self.replace(s, Some(Notice::Info("Started afresh with the default scenario.".into()))),
                Err(e) => error(&self, e),
            },
            Msg::OpenLink(fragment) => match start_link(&fragment, after_ms(SYNC_OPEN_MS)) {
                Ok((s, opening)) => {
                    let mut next = self.replace(s, None);
                    if let Some(n) = Rc::get_mut(&mut next) {
                        n.opening = opening;
                    }
                    next
                }
                Err(e) => {
                    let mut next = (*self).clone();
                    next.notice = Some(Notice::bad_link(e, &fragment));
                    Rc::new(next)
                }
            },
            Msg::Import { name, text } => {
                if text.len() > MAX_SCENARIO_BYTES {
                    return error(&self, format!("{name}: larger than {} KiB", MAX_SCENARIO_BYTES / 1024));
                }
                match Scenario::parse(&name, &text) {
                    Ok(scenario) => {
                        let seed = scenario.seed;
                        match Session::new(Source::Inline(text), scenario, seed) {
                            Ok(s) => self.replace(s, Some(Notice::Info(format!("Opened {name}.")))),
                            Err(e) => error(&self, format!("{name}: {e}")),
                        }
                    }
                    Err(e) => error(&self, format!("Cannot open the scenario: {e}")),
                }
            }
            Msg::ApplyKnobs { before, after } => {
                let (text, seed) = {
                    let s = self.session.borrow();
                    (source_text(&s.source), s.seed)
                };
                let result = text.and_then(|t| edit::apply(&t, &before, &after));
                match result {
                    Ok((text, scenario)) => match Session::new(Source::Inline(text), scenario, seed) {
                        Ok(s) => {
                            self.replace(s, Some(Notice::Info("Configuration applied: the run restarted.".into())))
                        }
                        Err(e) => error(&self, e.to_string()),
                    },
                    Err(e) => error(&self, format!("Configuration not applied: {e}")),
                }
            }
            Msg::SetFilter(f) => {
                if f == self.filter {
                    return self;
                }
                let mut next = (*self).clone();
                next.filter = f;
                next.rev += 1;
                Rc::new(next)
            }
            Msg::ShowPartitions(v) => {
                if v == self.partitions {
                    return self;
                }
                let mut next = (*self).clone();
                next.partitions = v;
                next.rev += 1;
                Rc::new(next)
            }
            Msg::Notice(n) => {
                if n == self.notice {
                    return self;
                }
                let mut next = (*self).clone();
                next.notice = n;
                Rc::new(next)
            }
            Msg::Refresh => {
                let mut next = (*self).clone();
                next.slow_rev += 1;
                Rc::new(next)
            }
            Msg::Query { app, selection } => {
                if self.iq.get(&app) == Some(&selection) {
                    return self;
                }
                let mut next = (*self).clone();
                next.iq.insert(app, selection);
                Rc::new(next)
            }
            Msg::ToggleHelp => {
                let h = !self.help;
                self.reduce(Msg::Help(h))
            }
            Msg::Help(h) => {
                if h == self.help {
                    return self;
                }
                let mut next = (*self).clone();
                next.help = h;
                Rc::new(next)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_links_keep_the_session_and_say_why() {
        let state = Rc::new(AppState::initial("", None));
        let before = state.session.borrow().world.digest();
        for bad in ["v=1&s=nope&seed=1", "v=9", "v=1&s=replication/acks-1-leader-crash&seed=1&a=!!", "<b>x</b>"] {
            let next = state.clone().reduce(Msg::OpenLink(bad.into()));
            let Some(Notice::BadLink { text, fragment }) = &next.notice else { panic!("{bad}: {:?}", next.notice) };
            assert!(text.contains("cannot"), "{bad}: {text}");
            assert_eq!(&**fragment, bad, "the link as given, to fix it");
            assert!(next.notice.as_ref().is_some_and(Notice::is_error));
            assert!(Rc::ptr_eq(&next.session, &state.session), "session kept for {bad}");
            assert_eq!(next.session.borrow().world.digest(), before);
        }
        // An action beyond the steps a link replays is refused before anything runs.
        let far = "v=1&s=replication/acks-1-leader-crash&seed=1&c=5&a=W3siYXRfc3RlcCI6OTk5OTk5OTk5OSwiYWN0aW9uIjp7ImFjdGlvbiI6ImNyYXNoIiwiYnJva2VyIjoxfX1d";
        let next = state.clone().reduce(Msg::OpenLink(far.into()));
        let Some(Notice::BadLink { text, .. }) = &next.notice else { panic!("{:?}", next.notice) };
        assert_eq!(
            text,
            "This link cannot be opened: action 1 of 1 ('crash broker 1') is at step 9999999999, beyond the 2000000 \
             steps a link may replay."
        );
        // At start, a bad link falls back to the default scenario with the message shown.
        let start = AppState::initial("v=1&s=nope&seed=1", None);
        assert!(matches!(&start.notice, Some(Notice::BadLink { fragment, .. }) if &**fragment == "v=1&s=nope&seed=1"));
    }

    #[test]
    fn new_starts_afresh_on_load_and_in_an_open_page() {
        let state = forward_to(Rc::new(AppState::initial("", None)), 30);
        let state = state.reduce(Msg::Act(Action::Crash { broker: 1 }));
        let saved = link_of(&state.session.borrow());
        assert_eq!(position(&AppState::initial("", Some(saved.clone()))), position(&state), "the autosave");
        let fresh = AppState::initial(NEW, Some(saved));
        assert_eq!(position(&fresh), position(&AppState::initial("", None)), "#new ignores it");
        let next = state.clone().reduce(Msg::OpenLink(NEW.into()));
        assert!(!Rc::ptr_eq(&next.session, &state.session));
        assert_eq!(position(&next), position(&fresh), "the default scenario at step 1, no actions");
        assert_eq!(next.notice, Some(Notice::Info("Started afresh with the default scenario.".into())));
    }

    #[test]
    fn the_side_panels_show_where_a_jump_over_frames_ended_at_once() {
        let mut state = AppState::initial("", None);
        // A jump going on, whose side panels refreshed 10 ms ago.
        state.fast_forward = Some((Goal::End, 0));
        state.last_mid = 1_000.0;
        let before = state.mid_rev;
        // Natively the clock does not move, so this frame's jump reaches the end.
        let next = Rc::new(state).reduce(Msg::Frame(1_010.0));
        assert!(next.fast_forward.is_none() && next.session.borrow().at_end());
        assert!(next.mid_rev > before, "the panels follow the cursor without waiting for their cadence");
    }

    #[test]
    fn a_link_reopens_the_same_state() {
        let state = Rc::new(AppState::initial("", None));
        let state = state.reduce(Msg::Seek(40));
        let state = state.reduce(Msg::Act(Action::Crash { broker: 2 }));
        let state = state.reduce(Msg::StepForward);
        let link = link_of(&state.session.borrow());
        let again = AppState::initial(&link, None);
        let (a, b) = (state.session.borrow(), again.session.borrow());
        assert_eq!((a.cursor(), a.world.digest()), (b.cursor(), b.world.digest()));
    }

    #[test]
    fn a_link_opened_over_frames_reaches_the_same_state_and_is_saved_only_then() {
        let state = Rc::new(AppState::initial("", None));
        let state = state.reduce(Msg::Seek(300));
        let state = state.reduce(Msg::Act(Action::Crash { broker: 2 }));
        let state = forward_to(state, 900);
        let link = link_of(&state.session.borrow());
        // Out of time at once (the page's clock would say so after SYNC_OPEN_MS).
        let (s, opening) = start_link(&link, || true).unwrap();
        let opening = opening.expect("a replay of 900 steps stopped at once goes on over frames");
        assert_eq!(opening.replay.cursor(), 900);
        assert!(s.cursor() < 900);
        let pending = Rc::new(AppState::opened(s, Some(opening), None));
        // Moving the session stops the opening where it got to, and says so.
        let stopped = pending.clone().reduce(Msg::StepForward);
        assert!(stopped.opening.is_none());
        assert!(matches!(&stopped.notice, Some(Notice::Info(t)) if t.starts_with("Stopped opening the link at step")));
        // Frames finish it (natively the clock stands still, so one frame is enough).
        let opened = pending.reduce(Msg::Frame(16.0));
        assert!(opened.opening.is_none());
        assert_eq!(position(&opened), position(&state));
    }

    #[test]
    fn a_link_that_fails_over_frames_opens_the_default_scenario_with_the_link_to_fix() {
        let fresh = AppState::initial("", None);
        let bad = {
            let s = fresh.session.borrow();
            let actions = vec![sandbox_core::world::LoggedAction { at_step: 200, action: Action::Crash { broker: 9 } }];
            share::encode(&Shared { source: s.source.clone(), seed: s.seed, actions, cursor: 400 })
        };
        let (s, opening) = start_link(&bad, || true).unwrap();
        let state = Rc::new(AppState::opened(s, opening, None)).reduce(Msg::Frame(16.0));
        assert!(state.opening.is_none());
        match &state.notice {
            Some(Notice::BadLink { text, fragment }) => {
                assert!(text.contains("no broker 9"), "{text}");
                assert_eq!(&**fragment, bad.as_str());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(state.session.borrow().cursor(), 1);
    }

    #[test]
    fn past_the_steps_a_link_replays_the_link_opens_at_the_limit_and_says_so() {
        let state = Rc::new(AppState::initial("", None));
        let state = state.reduce(Msg::Seek(40));
        let state = state.reduce(Msg::Act(Action::Crash { broker: 2 }));
        let mut state = state;
        while state.session.borrow().cursor() < 80 {
            state = state.reduce(Msg::StepForward);
        }
        let state = state.reduce(Msg::Act(Action::Restart { broker: 2 }));
        let s = state.session.borrow();
        assert_eq!(link_within(&s, 1_000).1, None, "within the limit: the whole session");
        let (link, note) = link_within(&s, 60);
        assert_eq!(
            note.as_deref(),
            Some("A link replays at most 60 steps: this one opens at step 60, without the 1 action(s) after it.")
        );
        let opened = AppState::initial(&link, None);
        let o = opened.session.borrow();
        assert_eq!(o.cursor(), 60);
        assert_eq!(o.world.action_log.len(), 1, "the crash at step 40 is in, the restart at 80 is not");
    }

    /// (cursor, digest, action log, frontier) of a state's session.
    fn position(state: &AppState) -> (u64, u64, Vec<sandbox_core::world::LoggedAction>, u64) {
        let s = state.session.borrow();
        (s.cursor(), s.world.digest(), s.actions().to_vec(), s.frontier())
    }

    /// Steps forward to `step` (a seek goes no further than the frontier).
    fn forward_to(mut state: Rc<AppState>, step: u64) -> Rc<AppState> {
        while state.session.borrow().cursor() < step {
            state = state.reduce(Msg::StepForward);
        }
        state
    }

    #[test]
    fn acting_in_the_past_says_what_it_discarded_and_undo_restores_the_old_branch() {
        let state = forward_to(Rc::new(AppState::initial("", None)), 60);
        let state = state.reduce(Msg::Act(Action::Crash { broker: 2 }));
        assert_eq!(state.notice, None, "acting at the frontier discards nothing");
        let state = forward_to(state, 200).reduce(Msg::Seek(40));
        let before = position(&state);
        let state = state.reduce(Msg::Act(Action::Crash { broker: 3 }));
        let Some(Notice::Branched { text, .. }) = &state.notice else { panic!("{:?}", state.notice) };
        assert_eq!(text, "New branch from step 40: the previous future (160 steps, 1 later action) was discarded.");
        assert_eq!(position(&state).2.len(), 1, "the new branch has only the new crash");
        // Its Undo stays offered while the new branch plays.
        let state = state.reduce(Msg::TogglePlay);
        assert!(state.playing && matches!(state.notice, Some(Notice::Branched { .. })));
        let state = state.reduce(Msg::UndoBranch);
        assert!(!state.playing);
        assert_eq!(position(&state), before, "the same cursor, digest, action log and computed future");
        assert_eq!(state.notice, Some(Notice::Info("Undone: back on the previous branch at step 40.".into())));
        // One level: nothing more to undo.
        let again = state.clone().reduce(Msg::UndoBranch);
        assert!(Rc::ptr_eq(&again, &state));
        assert_eq!(position(&again), before);
    }

    #[test]
    fn a_second_branch_replaces_the_first_ones_undo() {
        let state = forward_to(Rc::new(AppState::initial("", None)), 100);
        let state = state.reduce(Msg::Seek(50)).reduce(Msg::Act(Action::Crash { broker: 1 }));
        let state = state.reduce(Msg::Seek(30));
        let between = position(&state);
        let state = state.reduce(Msg::Act(Action::Crash { broker: 2 }));
        let Some(Notice::Branched { text, .. }) = &state.notice else { panic!("{:?}", state.notice) };
        assert!(text.starts_with("New branch from step 30: the previous future (21 steps, 1 later action)"), "{text}");
        let state = state.reduce(Msg::UndoBranch);
        assert_eq!(position(&state), between, "back on the branch with the crash of broker 1, not before it");
        // Dismissing the notice forgets the undo.
        let state = state.reduce(Msg::Act(Action::Crash { broker: 3 })).reduce(Msg::Notice(None));
        let after = position(&state);
        assert_eq!(position(&state.reduce(Msg::UndoBranch)), after);
    }

    #[test]
    fn imported_text_is_validated_before_it_replaces_the_session() {
        let state = Rc::new(AppState::initial("", None));
        let next = state.clone().reduce(Msg::Import { name: "x.toml".into(), text: "name = 3".into() });
        assert!(matches!(&next.notice, Some(Notice::Error(e)) if e.contains("x.toml")));
        assert!(Rc::ptr_eq(&next.session, &state.session));
        let text = scenarios::text("replication/unclean-election-on").unwrap().to_string();
        let next = state.clone().reduce(Msg::Import { name: "u.toml".into(), text: text.clone() });
        assert_eq!(next.session.borrow().source, Source::Inline(text));
    }
}
