//! Frame pacing: how much of each animation frame the simulation may use.
//!
//! A frame at 60 frames/s has 16.7 ms of main thread. Besides the simulation it holds Yew's
//! render and effects (the lanes' canvases) and the browser's style, layout and paint, and
//! that part costs more on frames that also refresh the side panels (ten times a second) or
//! the charts and summaries (once a second). How much more depends on the machine and on
//! what is on screen, and the browser's share cannot be timed from inside the page. So the
//! pacer learns a simulation budget per kind of frame from the frames themselves: when the
//! next frame comes late (a vsync was missed) and the frame before it had used its whole
//! budget, that budget shrinks by a quarter; when it comes on time and the simulation had
//! used its whole budget, the budget grows a little (quickly when far from where frames
//! last came late, slowly near it). When the requested speed needs more than the budget, the
//! simulation falls behind the clock: the speed gives way, not the frame rate, and
//! [`Pacer::achieved_speed`] says by how much.
//!
//! Plain Rust with times passed in, so it is unit-tested natively.

/// The frame interval aimed at (60 frames/s).
pub const TARGET_FRAME_MS: f64 = 1000.0 / 60.0;
/// A frame interval longer than this missed a vsync at 60 Hz (frame timestamps are vsync
/// times: on time is 16.7 ms, one missed is 33.3 ms), or fell below 60 frames/s on a faster
/// display.
pub const LATE_FRAME_MS: f64 = 1.25 * TARGET_FRAME_MS;
/// The simulation always gets at least this much, so a run never stalls on a slow machine.
pub const MIN_SIM_MS: f64 = 1.0;
/// And at most this much, however fast the machine renders.
pub const MAX_SIM_MS: f64 = 12.0;
/// Budget growth after a frame on time whose simulation used its budget, far from where
/// frames last came late: recovers quickly (from a jank while the page loads, say).
const GROW_MS: f64 = 0.1;
/// Growth within [`NEAR`] of where frames last came late. Growth and the cut after a late
/// frame balance where about one frame in 0.1 x budget / GROW_NEAR_MS is late: growing
/// 0.1 ms everywhere measured 6–7 % late frames at 10x and 100x (55–57 frames/s).
const GROW_NEAR_MS: f64 = 0.005;
/// "Near" the ceiling: within 5 % of it either way.
const NEAR: f64 = 0.95;
/// Budget kept after a late frame.
const SHRINK: f64 = 0.75;
/// An interval this long is a pause (a background tab, a debugger), not a late frame.
const PAUSE_MS: f64 = 250.0;

/// What a frame refreshes besides the cluster view and the time bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Only the cluster view and the time bar.
    Plain,
    /// Also the side panels and the event log.
    Mid,
    /// Also the charts, the summary, the history check and the saved link.
    Slow,
}

impl FrameKind {
    fn index(self) -> usize {
        match self {
            FrameKind::Plain => 0,
            FrameKind::Mid => 1,
            FrameKind::Slow => 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pacer {
    /// Per kind of frame: wall-clock milliseconds the simulation may take.
    budget_ms: [f64; 3],
    /// Per kind: the budget of the last frame that came late (where frames stop fitting).
    ceiling_ms: [f64; 3],
    /// The previous frame: its kind and whether its simulation used its whole budget.
    last: Option<(FrameKind, bool)>,
    /// Simulated time per wall-clock time over the last second or so (1.0 = real time).
    speed: f64,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

impl Pacer {
    pub fn new() -> Pacer {
        // First guesses for a laptop; a few seconds of frames adjust them.
        Pacer { budget_ms: [8.0, 5.0, 2.0], ceiling_ms: [MAX_SIM_MS; 3], last: None, speed: 1.0 }
    }

    /// Wall-clock milliseconds the simulation may take in a frame of this kind.
    pub fn budget_ms(&self, kind: FrameKind) -> f64 {
        self.budget_ms[kind.index()]
    }

    /// A frame arrived `interval_ms` after the previous one: that one's budget learns
    /// whether the frame it allowed was on time.
    pub fn frame_arrived(&mut self, interval_ms: f64) {
        let Some((kind, saturated)) = self.last.take() else { return };
        if interval_ms > PAUSE_MS {
            return;
        }
        let (b, ceiling) = (&mut self.budget_ms[kind.index()], &mut self.ceiling_ms[kind.index()]);
        if interval_ms > LATE_FRAME_MS {
            // Only a simulation that used its budget made the frame late; otherwise it was
            // the rendering (or the machine), and a smaller budget would only slow the run.
            if saturated {
                *ceiling = *b;
                *b = (*b * SHRINK).max(MIN_SIM_MS);
            }
        } else if saturated {
            let near = *b >= NEAR * *ceiling && *b <= *ceiling / NEAR;
            *b = (*b + if near { GROW_NEAR_MS } else { GROW_MS }).min(MAX_SIM_MS);
        }
    }

    /// This frame's simulation took `sim_ms` (of its budget) and advanced simulated time by
    /// `sim_advanced_ms` over `wall_ms` since the previous frame.
    pub fn simulated(&mut self, kind: FrameKind, sim_ms: f64, sim_advanced_ms: f64, wall_ms: f64) {
        self.last = Some((kind, sim_ms >= 0.8 * self.budget_ms(kind)));
        if wall_ms > 0.0 && wall_ms <= PAUSE_MS {
            // About a second of frames.
            self.speed += (sim_advanced_ms / wall_ms - self.speed) * 0.05;
        }
    }

    /// Starts afresh from `assumed` (play started, or the speed changed): until shown
    /// otherwise, the simulation keeps up. The budgets are kept: they are the machine's.
    pub fn restart(&mut self, assumed: f64) {
        self.speed = assumed;
        self.last = None;
    }

    /// The speed the simulation actually kept up recently (simulated ms per wall ms).
    pub fn achieved_speed(&self) -> f64 {
        self.speed
    }
}

thread_local! {
    /// The app's pacer (the reducer asks it for budgets and tells it how frames went).
    static PACER: std::cell::RefCell<Pacer> = std::cell::RefCell::new(Pacer::new());
}

/// Runs `f` on the app's pacer.
pub fn with<R>(f: impl FnOnce(&mut Pacer) -> R) -> R {
    PACER.with(|p| f(&mut p.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine whose frames of a kind take `render` ms besides the simulation; the
    /// simulation wants `want` ms. Returns the interval the frame takes.
    fn play(p: &mut Pacer, kind: FrameKind, render: f64, want: f64) -> f64 {
        let sim = want.min(p.budget_ms(kind));
        p.simulated(kind, sim, TARGET_FRAME_MS, TARGET_FRAME_MS);
        let work = sim + render;
        // The next frame starts at the first vsync after the work is done.
        let interval = (work / TARGET_FRAME_MS).ceil().max(1.0) * TARGET_FRAME_MS;
        p.frame_arrived(interval);
        interval
    }

    #[test]
    fn the_budget_settles_where_frames_stay_on_time() {
        let mut p = Pacer::new();
        // Rendering takes 10 ms; the simulation would take all it can get (100x).
        for _ in 0..2000 {
            play(&mut p, FrameKind::Plain, 10.0, 50.0);
        }
        let mut late = 0;
        for _ in 0..1000 {
            if play(&mut p, FrameKind::Plain, 10.0, 50.0) > LATE_FRAME_MS {
                late += 1;
            }
        }
        // From 3/4 of the 6.7 ms limit: 13 frames of fast growth, then 0.005 ms per frame
        // over the last 5 %: one late frame in ~80.
        assert!(late <= 1000 / 60, "{late} late frames of 1000");
        let b = p.budget_ms(FrameKind::Plain);
        assert!(b > 0.7 * (TARGET_FRAME_MS - 10.0) && b <= TARGET_FRAME_MS - 10.0 + GROW_MS, "{b}");
    }

    #[test]
    fn a_late_frame_the_simulation_did_not_fill_keeps_the_budget() {
        let mut p = Pacer::new();
        // At 1x the simulation needs 3 ms of its 8; rendering makes every frame late.
        for _ in 0..100 {
            play(&mut p, FrameKind::Plain, 20.0, 3.0);
        }
        assert_eq!(p.budget_ms(FrameKind::Plain), 8.0);
    }

    #[test]
    fn a_jank_while_loading_does_not_keep_the_run_slow() {
        let mut p = Pacer::new();
        // Five frames in a row come late while the page loads.
        for _ in 0..5 {
            p.simulated(FrameKind::Plain, 8.0, TARGET_FRAME_MS, TARGET_FRAME_MS);
            p.frame_arrived(50.0);
        }
        assert!(p.budget_ms(FrameKind::Plain) < 2.0);
        // Then rendering takes 10 ms: within 100 frames the budget is back near the 6.7 ms
        // left, and stays there on average.
        for _ in 0..100 {
            play(&mut p, FrameKind::Plain, 10.0, 50.0);
        }
        let mut sum = 0.0;
        for _ in 0..200 {
            sum += p.budget_ms(FrameKind::Plain);
            play(&mut p, FrameKind::Plain, 10.0, 50.0);
        }
        let mean = sum / 200.0;
        assert!(mean > 0.85 * (TARGET_FRAME_MS - 10.0), "{mean}");
    }

    #[test]
    fn kinds_learn_apart_and_a_light_simulation_does_not_inflate_its_budget() {
        let mut p = Pacer::new();
        for _ in 0..500 {
            // At 1x the simulation needs 3 ms: plain frames are always on time.
            play(&mut p, FrameKind::Plain, 6.0, 3.0);
            // Chart frames cost 20 ms of rendering whatever the simulation does.
            play(&mut p, FrameKind::Slow, 20.0, 3.0);
        }
        assert_eq!(p.budget_ms(FrameKind::Plain), 8.0, "never saturated, never late: unchanged");
        assert_eq!(p.budget_ms(FrameKind::Slow), MIN_SIM_MS);
        assert_eq!(p.budget_ms(FrameKind::Mid), 5.0);
    }

    #[test]
    fn budgets_stay_within_limits_and_pauses_teach_nothing() {
        let mut p = Pacer::new();
        for _ in 0..2000 {
            play(&mut p, FrameKind::Mid, 0.0, 100.0);
        }
        assert_eq!(p.budget_ms(FrameKind::Mid), MAX_SIM_MS);
        let before = p.clone();
        p.simulated(FrameKind::Mid, MAX_SIM_MS, 1.0, 16.0);
        p.frame_arrived(60_000.0);
        assert_eq!(p.budget_ms, before.budget_ms);
        // A frame without a previous one changes nothing either.
        p.frame_arrived(40.0);
        assert_eq!(p.budget_ms, before.budget_ms);
    }

    #[test]
    fn achieved_speed_follows_simulated_over_wall_time() {
        let mut p = Pacer::new();
        for _ in 0..200 {
            // Asked for 100x, the simulation only covered 25 simulated ms per 16.7 ms frame.
            p.simulated(FrameKind::Plain, 9.0, 25.0, TARGET_FRAME_MS);
        }
        assert!((p.achieved_speed() - 1.5).abs() < 0.01, "{}", p.achieved_speed());
        p.restart(100.0);
        assert_eq!(p.achieved_speed(), 100.0);
    }
}
