//! The daemon's clocks: the only place in tern that reads time.
//!
//! The engine gets time as [`Now`]: a monotonic instant (microseconds since the daemon started)
//! for timers and the wall clock as DTN time for timestamps and expiry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proto::node::{Instant, Now};
use proto::wire::DtnTime;

/// Reads both clocks against a fixed start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
}

impl Clock {
    /// A clock whose monotonic epoch is now.
    pub fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }

    /// Both clocks, now. A wall clock before 2000 (a Pi without RTC or NTP) reads as DTN time 0:
    /// "no accurate clock", which RFC 9171 §4.2.7 lets a node declare.
    pub fn now(&self) -> Now {
        let mono = Instant::from_micros(self.start.elapsed().as_micros() as u64);
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Now::new(mono, DtnTime::from_unix_ms(unix_ms))
    }

    /// The tokio instant of an engine instant, for timers.
    pub fn deadline(&self, at: Instant) -> tokio::time::Instant {
        self.start + Duration::from_micros(at.as_micros())
    }
}
