//! Engine time: a monotonic instant chosen by the driver, and the wall clock as DTN time.
//!
//! The engine never reads a clock. Each call carries a [`Now`]; the daemon fills it from the OS
//! clocks, the simulator from its virtual clock. Monotonic time drives timers; wall time stamps
//! bundles and decides expiry, because lifetimes are absolute across nodes (RFC 9171 §4.2.7).

use std::time::Duration;

use crate::wire::DtnTime;

/// Microseconds since the driver's epoch (process start, simulation start). Only differences
/// between two instants of one run mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// An instant `micros` after the epoch.
    pub fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// An instant `millis` after the epoch.
    pub fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// This instant plus `d`, saturating.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// The two clocks of one call into the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Monotonic time for timers.
    pub mono: Instant,
    /// Wall-clock time for creation timestamps and expiry; `DtnTime(0)` if the node has no clock.
    pub wall: DtnTime,
}

impl Now {
    /// A `Now` from its parts.
    pub fn new(mono: Instant, wall: DtnTime) -> Self {
        Self { mono, wall }
    }

    /// The monotonic instant at which wall time `at` will be reached, assuming both clocks run
    /// at the same rate (they do in the simulator, and closely enough on a real machine).
    pub fn mono_at(self, at: DtnTime) -> Instant {
        let ahead_ms = at.0.saturating_sub(self.wall.0);
        Instant(self.mono.0.saturating_add(ahead_ms.saturating_mul(1000)))
    }
}
