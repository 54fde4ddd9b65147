//! Window definitions, with Kafka's validation rules and messages:
//! `TimeWindows` (tumbling, hopping), `SlidingWindows`, `SessionWindows` and `JoinWindows`.
use super::error::TopologyError;
use serde::{Deserialize, Serialize};

/// The longest duration (size, advance, gap, grace, join before/after) accepted: 100 years.
/// Together with `value::MAX_TIMESTAMP_MS` this keeps window arithmetic far from overflow.
pub const MAX_DURATION_MS: i64 = 3_155_760_000_000;

/// At most this many hopping windows may contain one record (`size / advance`). Kafka has
/// no such limit; a sandbox that creates millions of windows per record would hang the page.
pub const MAX_WINDOWS_PER_RECORD: i64 = 10_000;

/// A window of a windowed key. `end` is Kafka's `Window.end()`: exclusive for tumbling and
/// hopping windows, inclusive for sliding and session windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// How records are emitted from a windowed aggregation (`EmitStrategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmitStrategy {
    /// Every update is forwarded (the default; `EmitStrategy.onWindowUpdate()`).
    #[default]
    OnWindowUpdate,
    /// Only the final result, once the window has closed (`EmitStrategy.onWindowClose()`).
    OnWindowClose,
}

/// A window definition as written in a topology description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// `TimeWindows.ofSizeAndGrace(size, grace)`.
    Tumbling {
        size_ms: i64,
        #[serde(default)]
        grace_ms: i64,
    },
    /// `TimeWindows.ofSizeAndGrace(size, grace).advanceBy(advance)`.
    Hopping {
        size_ms: i64,
        advance_ms: i64,
        #[serde(default)]
        grace_ms: i64,
    },
    /// `SlidingWindows.ofTimeDifferenceAndGrace(timeDifference, grace)`.
    Sliding {
        time_difference_ms: i64,
        #[serde(default)]
        grace_ms: i64,
    },
    /// `SessionWindows.ofInactivityGapAndGrace(gap, grace)`.
    Session {
        gap_ms: i64,
        #[serde(default)]
        grace_ms: i64,
    },
}

/// Validated `TimeWindows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindows {
    pub size_ms: i64,
    pub advance_ms: i64,
    pub grace_ms: i64,
}

/// Validated `SlidingWindows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingWindows {
    pub time_difference_ms: i64,
    pub grace_ms: i64,
}

/// Validated `SessionWindows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWindows {
    pub gap_ms: i64,
    pub grace_ms: i64,
}

/// A validated window definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Windows {
    Time(TimeWindows),
    Sliding(SlidingWindows),
    Session(SessionWindows),
}

fn check_range(field: &str, v: i64) -> Result<(), TopologyError> {
    if v.abs() > MAX_DURATION_MS {
        return Err(TopologyError::new(
            field,
            format!("{v} ms is longer than the sandbox's limit of {MAX_DURATION_MS} ms (100 years)"),
        ));
    }
    Ok(())
}

fn check_grace(grace_ms: i64) -> Result<(), TopologyError> {
    check_range("grace_ms", grace_ms)?;
    if grace_ms < 0 {
        return Err(TopologyError::new("grace_ms", "Grace period must not be negative."));
    }
    Ok(())
}

impl WindowSpec {
    /// Validates as Kafka's window constructors do; errors carry Kafka's messages.
    pub fn validate(&self) -> Result<Windows, TopologyError> {
        match *self {
            WindowSpec::Tumbling { size_ms, grace_ms } => time_windows(size_ms, size_ms, grace_ms, false),
            WindowSpec::Hopping { size_ms, advance_ms, grace_ms } => time_windows(size_ms, advance_ms, grace_ms, true),
            WindowSpec::Sliding { time_difference_ms, grace_ms } => {
                check_range("time_difference_ms", time_difference_ms)?;
                if time_difference_ms < 0 {
                    return Err(TopologyError::new(
                        "time_difference_ms",
                        "Window time difference must not be negative.",
                    ));
                }
                check_range("grace_ms", grace_ms)?;
                if grace_ms < 0 {
                    return Err(TopologyError::new("grace_ms", "Window grace period must not be negative."));
                }
                Ok(Windows::Sliding(SlidingWindows { time_difference_ms, grace_ms }))
            }
            WindowSpec::Session { gap_ms, grace_ms } => {
                check_range("gap_ms", gap_ms)?;
                if gap_ms <= 0 {
                    return Err(TopologyError::new("gap_ms", "Gap time cannot be zero or negative."));
                }
                check_grace(grace_ms)?;
                Ok(Windows::Session(SessionWindows { gap_ms, grace_ms }))
            }
        }
    }
}

fn time_windows(size_ms: i64, advance_ms: i64, grace_ms: i64, hopping: bool) -> Result<Windows, TopologyError> {
    check_range("size_ms", size_ms)?;
    if size_ms <= 0 {
        return Err(TopologyError::new("size_ms", "Window size (sizeMs) must be larger than zero."));
    }
    if hopping {
        check_range("advance_ms", advance_ms)?;
        if advance_ms <= 0 || advance_ms > size_ms {
            return Err(TopologyError::new(
                "advance_ms",
                format!(
                    "Window advancement interval should be more than zero and less than window \
                     duration which is {size_ms} ms, but given advancement interval is: \
                     {advance_ms} ms"
                ),
            ));
        }
        // Ceiling of size / advance is the number of windows containing a record.
        let per_record = size_ms / advance_ms + i64::from(size_ms % advance_ms != 0);
        if per_record > MAX_WINDOWS_PER_RECORD {
            return Err(TopologyError::new(
                "advance_ms",
                format!(
                    "every record would fall into {per_record} hopping windows (size {size_ms} \
                     ms / advance {advance_ms} ms); the sandbox allows at most \
                     {MAX_WINDOWS_PER_RECORD}"
                ),
            ));
        }
    }
    check_grace(grace_ms)?;
    Ok(Windows::Time(TimeWindows { size_ms, advance_ms, grace_ms }))
}

impl TimeWindows {
    /// The windows `[start, start + size)` that contain `ts`, oldest first. Starts are
    /// multiples of `advance` (aligned to the epoch) and never negative: Kafka does not
    /// create windows that start before 0, so an early record falls into fewer windows.
    pub fn windows_for(&self, ts: i64) -> impl Iterator<Item = Window> + '_ {
        let first = ((ts - self.size_ms + self.advance_ms).max(0) / self.advance_ms) * self.advance_ms;
        let size = self.size_ms;
        let advance = self.advance_ms;
        (0..)
            .map(move |i| first + i * advance)
            .take_while(move |start| *start <= ts)
            .map(move |start| Window { start, end: start + size })
    }
}

/// `JoinWindows.ofTimeDifferenceAndGrace(...)` with `before`/`after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinWindowSpec {
    pub before_ms: i64,
    pub after_ms: i64,
    #[serde(default)]
    pub grace_ms: i64,
}

impl JoinWindowSpec {
    /// A symmetric window: `JoinWindows.ofTimeDifferenceAndGrace(diff, grace)`.
    pub fn symmetric(diff_ms: i64, grace_ms: i64) -> JoinWindowSpec {
        JoinWindowSpec { before_ms: diff_ms, after_ms: diff_ms, grace_ms }
    }

    pub fn validate(&self) -> Result<(), TopologyError> {
        check_range("before_ms", self.before_ms)?;
        check_range("after_ms", self.after_ms)?;
        if self.before_ms + self.after_ms < 0 {
            return Err(TopologyError::new(
                "before_ms",
                "Window interval (ie, beforeMs+afterMs) must not be negative.",
            ));
        }
        check_grace(self.grace_ms)
    }

    /// `JoinWindows.size()`: before + after.
    pub fn size_ms(&self) -> i64 {
        self.before_ms + self.after_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(w: &TimeWindows, ts: i64) -> Vec<i64> {
        w.windows_for(ts).map(|w| w.start).collect()
    }

    #[test]
    fn tumbling_windows_align_to_the_epoch() {
        let w = TimeWindows { size_ms: 10, advance_ms: 10, grace_ms: 0 };
        assert_eq!(starts(&w, 0), vec![0]);
        assert_eq!(starts(&w, 9), vec![0]);
        assert_eq!(starts(&w, 10), vec![10]);
    }

    #[test]
    fn hopping_windows_never_start_before_zero() {
        let w = TimeWindows { size_ms: 10, advance_ms: 5, grace_ms: 0 };
        assert_eq!(starts(&w, 3), vec![0]);
        assert_eq!(starts(&w, 7), vec![0, 5]);
        assert_eq!(starts(&w, 10), vec![5, 10]);
        let w = TimeWindows { size_ms: 10, advance_ms: 3, grace_ms: 0 };
        assert_eq!(starts(&w, 10), vec![3, 6, 9]);
    }

    #[test]
    fn invalid_windows_are_rejected_with_kafkas_messages() {
        let e = WindowSpec::Tumbling { size_ms: 0, grace_ms: 0 }.validate().unwrap_err();
        assert_eq!(e.location, "size_ms");
        assert!(e.message.contains("must be larger than zero"));
        let e = WindowSpec::Hopping { size_ms: 10, advance_ms: 11, grace_ms: 0 }.validate().unwrap_err();
        assert_eq!(e.location, "advance_ms");
        let e = WindowSpec::Hopping { size_ms: 10, advance_ms: 0, grace_ms: 0 }.validate().unwrap_err();
        assert_eq!(e.location, "advance_ms");
        let e = WindowSpec::Session { gap_ms: 5, grace_ms: -1 }.validate().unwrap_err();
        assert_eq!(e.message, "Grace period must not be negative.");
        let e = WindowSpec::Hopping { size_ms: 1_000_000, advance_ms: 1, grace_ms: 0 }.validate().unwrap_err();
        assert!(e.message.contains("1000000 hopping windows"));
        assert!(WindowSpec::Sliding { time_difference_ms: 0, grace_ms: 0 }.validate().is_ok());
        let e = JoinWindowSpec { before_ms: -5, after_ms: 2, grace_ms: 0 }.validate().unwrap_err();
        assert!(e.message.contains("beforeMs+afterMs"));
    }
}
