//! Virtual time. The simulation never reads a wall clock: time is a number that only the
//! event loop advances. Microsecond resolution, so sub-millisecond network latencies are
//! exact while every Kafka config (given in milliseconds) converts without rounding.
use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in virtual time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SimTime(pub u64);

/// A span of virtual time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dur(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn from_ms(ms: u64) -> SimTime {
        SimTime(ms.saturating_mul(1000))
    }
    pub fn as_ms(self) -> u64 {
        self.0 / 1000
    }
    /// Milliseconds as a float, for display and charts.
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn plus(self, d: Dur) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> Dur {
        Dur(self.0.saturating_sub(earlier.0))
    }
}

impl Dur {
    pub const ZERO: Dur = Dur(0);
    pub fn from_ms(ms: u64) -> Dur {
        Dur(ms.saturating_mul(1000))
    }
    pub fn from_us(us: u64) -> Dur {
        Dur(us)
    }
    pub fn as_ms(self) -> u64 {
        self.0 / 1000
    }
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn plus_dur(self, other: Dur) -> Dur {
        Dur(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1000, self.0 % 1000)
    }
}
