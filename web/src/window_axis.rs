//! Windows on a time axis: one lane per key, each window a box spanning its event-time
//! range with its current value, each record a dot at its timestamp — blue on time, orange
//! late (behind the stream time, yet still taken), a red ✕ when it came after its window
//! closed (window end + grace) and was dropped.
//!
//! Used by the offline windowing demo (`streams_panel`) and by the live applications
//! (`streams_live`), which fill [`Axis`] from what they ran; this module only draws.
use crate::vm::clip;
use yew::prelude::*;

/// Lanes (keys) drawn at most; the busiest ones are chosen by the caller.
pub const MAX_LANES: usize = 6;
/// Records drawn at most (the newest), so a long run stays a light SVG.
pub const MAX_DOTS: usize = 600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    OnTime,
    Late,
    Dropped,
}

impl Mark {
    /// A dropped record is drawn as dropped even when it was also late.
    pub fn of(late: bool, dropped: bool) -> Mark {
        match (dropped, late) {
            (true, _) => Mark::Dropped,
            (false, true) => Mark::Late,
            _ => Mark::OnTime,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dot {
    pub lane: usize,
    pub ts: i64,
    pub mark: Mark,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WindowBox {
    pub lane: usize,
    pub start: i64,
    pub end: i64,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axis {
    /// Lane labels, top to bottom.
    pub lanes: Vec<String>,
    pub dots: Vec<Dot>,
    pub windows: Vec<WindowBox>,
    /// Event-time range shown (ms).
    pub t0: i64,
    pub t1: i64,
    /// Label the ends as seconds from `t0` ("0 s") rather than as timestamps.
    pub relative: bool,
}

impl Axis {
    /// Keeps the newest [`MAX_DOTS`] dots and the windows that overlap their range, then
    /// widens the range (at least 1 ms) to those windows.
    pub fn finish(&mut self) {
        let extra = self.dots.len().saturating_sub(MAX_DOTS);
        self.dots.drain(..extra);
        self.t0 = self.dots.iter().map(|d| d.ts).min().unwrap_or(0);
        self.t1 = self.dots.iter().map(|d| d.ts).max().unwrap_or(0).max(self.t0 + 1);
        let (t0, t1) = (self.t0, self.t1);
        self.windows.retain(|w| w.end > t0 && w.start <= t1);
        // Whole windows: the first one usually starts before its first record.
        self.t0 = self.windows.iter().map(|w| w.start).fold(self.t0, i64::min);
        self.t1 = self.windows.iter().map(|w| w.end).fold(self.t1, i64::max);
    }

    pub fn count(&self, mark: Mark) -> usize {
        self.dots.iter().filter(|d| d.mark == mark).count()
    }
}

/// Small timestamps (a scenario's own clock) read as seconds; epoch timestamps as UTC.
fn seconds(ms: i64) -> String {
    if ms.abs() >= 1_000_000_000 {
        return utc(ms);
    }
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `2021-01-01 00:00:01` (UTC) from epoch milliseconds: Howard Hinnant's days-to-civil.
fn utc(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

#[derive(Properties, PartialEq)]
pub struct AxisProps {
    pub axis: Axis,
    pub label: AttrValue,
    /// What a lane is ("zone", "key").
    pub lane_word: AttrValue,
}

#[function_component(WindowAxis)]
pub fn window_axis(p: &AxisProps) -> Html {
    let a = &p.axis;
    let (w, lane_h, left) = (820.0, 34.0, 84.0);
    let span = (a.t1 - a.t0).max(1) as f64;
    let x = |t: i64| left + (t - a.t0) as f64 / span * (w - left - 10.0);
    let h = lane_h * a.lanes.len().max(1) as f64 + 30.0;
    let f = |v: f64| format!("{v:.1}");
    let end_label = |t: i64| if a.relative { seconds(t - a.t0) } else { seconds(t) };
    html! {
        <>
            <svg class="timeline" viewBox={format!("0 0 {w} {h}")} role="img" aria-label={p.label.clone()}>
                { for a.lanes.iter().enumerate().map(|(lane, name)| {
                    let y = 10.0 + lane as f64 * lane_h;
                    html! {
                        <g data-lane={name.clone()}>
                            <text x="4" y={f(y + 20.0)} class="zone">{ format!("{} {}", p.lane_word, clip(name, 10)) }<title>{ name.clone() }</title></text>
                            { for a.windows.iter().filter(|b| b.lane == lane).map(|b| {
                                let (x0, x1) = (x(b.start).max(left), x(b.end).min(w - 10.0));
                                let label = format!("window [{}, {}): {}", end_label(b.start), end_label(b.end), b.value);
                                html! {
                                    <g class="window-box">
                                        <rect x={f(x0)} y={f(y + 4.0)} width={f((x1 - x0).max(1.0))} height={f(lane_h - 8.0)} class="window"><title>{ label }</title></rect>
                                        // A value only where it fits: hopping windows overlap.
                                        if x1 - x0 >= 7.0 * b.value.chars().count().min(8) as f64 {
                                            <text x={f(x0 + 2.0)} y={f(y + 14.0)} class="count">{ clip(&b.value, 8) }</text>
                                        }
                                    </g>
                                }
                            }) }
                            { for a.dots.iter().filter(|d| d.lane == lane).map(|d| {
                                let (cx, cy) = (x(d.ts), y + lane_h / 2.0 + 4.0);
                                let at = end_label(d.ts);
                                match d.mark {
                                    Mark::Dropped => html! {
                                        <text x={f(cx - 4.0)} y={f(cy + 4.0)} class="dropped">{ "✕" }<title>{ format!("{at}: came after its window closed, dropped") }</title></text>
                                    },
                                    Mark::Late => html! {
                                        <circle cx={f(cx)} cy={f(cy)} r="3" class="record late"><title>{ format!("{at}: late, within grace") }</title></circle>
                                    },
                                    Mark::OnTime => html! { <circle cx={f(cx)} cy={f(cy)} r="3" class="record" /> },
                                }
                            }) }
                        </g>
                    }
                }) }
                <text x={f(left)} y={f(h - 4.0)} class="axis">{ end_label(a.t0) }</text>
                <text x={f(w - 10.0)} y={f(h - 4.0)} class="axis" text-anchor="end">{ end_label(a.t1) }</text>
            </svg>
            <p class="legend">{ "● on time · " }<span class="late-demo">{ "● late, within grace" }</span>
                { " · ✕ after the window closed (end + grace): dropped · boxes: windows with their current value" }</p>
        </>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_keeps_the_newest_dots_and_the_windows_in_their_range() {
        let mut a = Axis { lanes: vec!["a".into()], ..Default::default() };
        a.dots = (0..MAX_DOTS as i64 + 10).map(|t| Dot { lane: 0, ts: t * 10, mark: Mark::OnTime }).collect();
        a.windows = vec![
            WindowBox { lane: 0, start: 0, end: 50, value: "1".into() },
            WindowBox { lane: 0, start: 100, end: 200, value: "2".into() },
            WindowBox { lane: 0, start: 1_000_000, end: 1_000_100, value: "3".into() },
        ];
        a.finish();
        assert_eq!(a.dots.len(), MAX_DOTS);
        let starts: Vec<i64> = a.windows.iter().map(|w| w.start).collect();
        assert_eq!(starts, vec![100], "the window ending at 50 is before the first dot left");
        assert_eq!((a.t0, a.t1), (100, (MAX_DOTS as i64 + 9) * 10));
        a.windows[0].start = 95;
        a.finish();
        assert_eq!(a.t0, 95, "the range covers the windows drawn");
    }

    #[test]
    fn times_read_as_seconds_or_as_utc_dates() {
        assert_eq!(seconds(12_000), "12 s");
        assert_eq!(seconds(1_500), "1.5 s");
        assert_eq!(seconds(1_609_459_201_000), "2021-01-01 00:00:01");
        assert_eq!(seconds(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(seconds(-86_400_000_000), "1967-04-07 00:00:00");
    }
}
