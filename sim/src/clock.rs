//! Virtual time: the only clock the simulator has.
//!
//! Simulated time is a count of microseconds since the start of the run ([`SimTime`]). Nodes see
//! it through [`now`], which pairs the monotonic instant with a wall clock that starts at a fixed
//! DTN time, so creation timestamps and lifetimes behave as on a deployed node whose clock is
//! synchronized, and every run starts on the same date.

use std::fmt;
use std::time::Duration;

use proto::node::{Instant, Now};
use proto::wire::DtnTime;

/// Wall-clock time at the start of every run, in ms since the DTN epoch (2000-01-01): a date in
/// 2025, so bundles carry realistic creation times and never the "no clock" value 0.
pub const WALL_CLOCK_AT_START_MS: u64 = 800_000_000_000;

/// A point in simulated time: microseconds since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: Self = Self(0);
    /// Later than any event a run can hold (about 584,000 years).
    pub const NEVER: Self = Self(u64::MAX);

    /// `micros` microseconds after the start.
    pub fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// `secs` seconds after the start, rounded to the microsecond; `None` if negative or not a
    /// number, so a bad scenario value cannot wrap around.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs < 0.0 || secs * 1e6 >= u64::MAX as f64 {
            return None;
        }
        Some(Self((secs * 1e6).round() as u64))
    }

    /// A duration expressed as a point after the start.
    pub fn from_duration(d: Duration) -> Self {
        Self(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the start.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// This time plus `other` (read as a duration), saturating at [`SimTime::NEVER`].
    pub fn plus(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Self) -> Self {
        Self(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// What a node is told the time is at simulated time `t`: the monotonic instant is `t` itself,
/// the wall clock is [`WALL_CLOCK_AT_START_MS`] plus `t` in whole milliseconds.
pub fn now(t: SimTime) -> Now {
    Now::new(
        Instant::from_micros(t.0),
        DtnTime(WALL_CLOCK_AT_START_MS + t.0 / 1000),
    )
}

/// The simulated time of a node's monotonic instant (the two are the same scale).
pub fn from_instant(i: Instant) -> SimTime {
    SimTime(i.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_to_the_microsecond() {
        assert_eq!(SimTime::from_secs_f64(1.5), Some(SimTime(1_500_000)));
        assert_eq!(SimTime::from_secs_f64(0.000_000_4), Some(SimTime(0)));
    }

    #[test]
    fn negative_or_nan_seconds_are_rejected() {
        assert_eq!(SimTime::from_secs_f64(-1.0), None);
        assert_eq!(SimTime::from_secs_f64(f64::NAN), None);
        assert_eq!(SimTime::from_secs_f64(f64::INFINITY), None);
    }

    #[test]
    fn wall_clock_advances_with_simulated_time_in_milliseconds() {
        let n = now(SimTime(2_500_900));
        assert_eq!(n.mono, Instant::from_micros(2_500_900));
        assert_eq!(n.wall, DtnTime(WALL_CLOCK_AT_START_MS + 2_500));
    }

    #[test]
    fn display_shows_seconds_with_six_decimals() {
        assert_eq!(SimTime(12_000_345).to_string(), "12.000345");
    }
}
