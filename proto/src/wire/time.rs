//! DTN time (RFC 9171 §4.2.6) and creation timestamps (§4.2.7).
//!
//! DTN time counts milliseconds since 2000-01-01T00:00:00Z. The codec never reads a clock: a node
//! gets `now` from its driver and stamps bundles with it.

use std::fmt;

/// Milliseconds between the Unix epoch and the DTN epoch (2000-01-01T00:00:00Z).
pub const DTN_EPOCH_UNIX_MS: u64 = 946_684_800_000;

/// Milliseconds since 2000-01-01T00:00:00Z. Zero means "this node has no accurate clock".
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct DtnTime(pub u64);

impl DtnTime {
    /// Converts from milliseconds since the Unix epoch; times before 2000 become 0 (unknown).
    pub fn from_unix_ms(unix_ms: u64) -> Self {
        Self(unix_ms.saturating_sub(DTN_EPOCH_UNIX_MS))
    }

    /// Milliseconds since the Unix epoch.
    pub fn to_unix_ms(self) -> u64 {
        self.0.saturating_add(DTN_EPOCH_UNIX_MS)
    }

    /// The raw millisecond count.
    pub fn millis(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DtnTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// When and in what order a source created a bundle. With the source EID (and fragment offset)
/// it identifies the bundle everywhere in the network (RFC 9171 §4.2.7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct CreationTimestamp {
    /// Creation time; 0 if the source had no accurate clock (then a Bundle Age block is required).
    pub time: DtnTime,
    /// Distinguishes bundles a source created in the same millisecond.
    pub sequence: u64,
}

impl CreationTimestamp {
    /// A timestamp from its parts.
    pub fn new(time: DtnTime, sequence: u64) -> Self {
        Self { time, sequence }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_and_dtn_time_convert_both_ways() {
        let t = DtnTime::from_unix_ms(1_700_000_000_000);
        assert_eq!(t.0, 1_700_000_000_000 - DTN_EPOCH_UNIX_MS);
        assert_eq!(t.to_unix_ms(), 1_700_000_000_000);
    }

    #[test]
    fn time_before_2000_is_unknown() {
        assert_eq!(DtnTime::from_unix_ms(5), DtnTime(0));
    }
}
