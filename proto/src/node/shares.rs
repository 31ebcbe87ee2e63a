//! Priority policy: how much of the store each class may hold, and how much of a link lower
//! classes may occupy, so that a flood of bulk traffic can neither push out nor hold back an
//! alert.
//!
//! Storage: each class may fill at most its share of the quota ([`StorageShares`]), and the
//! classes below emergency together never use the emergency reserve. Eviction (in the engine)
//! takes the least urgent class first and never evicts an emergency bundle for a lower class.
//!
//! Links ([`LinkShaping`]): bundles go out most urgent class first, but a transfer already
//! handed to the convergence layer cannot be overtaken — TCPCL sends one transfer after the
//! other. An alert submitted while a slow link is busy with bulk waits for the bulk bytes
//! already queued. So the engine bounds, per link, what lower classes may have in flight:
//! - *bytes*: non-emergency transfers together may have at most `rate × max_alert_delay` bytes in
//!   flight, so an alert waits at most `max_alert_delay` behind them (one transfer is always
//!   allowed, so a bundle larger than the budget still goes, alone);
//! - *slots*: of the window of transfers in flight, bulk may fill half, bulk and normal three
//!   quarters, everything below emergency seven eighths, so a free slot is always left for
//!   the classes above.
//!
//! An in-flight budget rather than a token bucket: it needs no timers and no clock reading in
//! the engine (the budget frees up as `Transmitted` inputs arrive, which is exactly when the link
//! has drained), adapts by itself to a link that is slower than reported, and costs nothing when
//! the link is idle. The rate comes from the driver ([`super::Node::set_link_rate`]), which knows
//! its convergence layer; until it reports one, [`LinkShaping::default_rate`] is assumed.

use crate::wire::Priority;

/// How the storage quota is shared between classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageShares {
    /// Most of the quota bulk bundles may occupy, in percent.
    pub bulk_max_percent: u8,
    /// Most of the quota normal bundles may occupy, in percent.
    pub normal_max_percent: u8,
    /// Most of the quota high-priority bundles may occupy, in percent.
    pub high_max_percent: u8,
    /// Part of the quota only emergency bundles may use, in percent.
    pub emergency_reserve_percent: u8,
}

impl Default for StorageShares {
    /// Bulk half, normal 90 %, high all; 10 % kept for emergencies.
    fn default() -> Self {
        Self {
            bulk_max_percent: 50,
            normal_max_percent: 90,
            high_max_percent: 100,
            emergency_reserve_percent: 10,
        }
    }
}

impl StorageShares {
    /// Most bytes `class` may occupy out of `quota`.
    pub fn cap(&self, class: Priority, quota: u64) -> u64 {
        let percent = match class {
            Priority::Bulk => self.bulk_max_percent,
            Priority::Normal => self.normal_max_percent,
            Priority::High => self.high_max_percent,
            Priority::Emergency => 100,
        };
        percent_of(quota, percent).min(self.below_emergency(class, quota))
    }

    /// Most bytes the classes below emergency may occupy together; the whole quota for
    /// emergency.
    pub fn below_emergency(&self, class: Priority, quota: u64) -> u64 {
        if class == Priority::Emergency {
            return quota;
        }
        quota.saturating_sub(percent_of(quota, self.emergency_reserve_percent))
    }
}

fn percent_of(quota: u64, percent: u8) -> u64 {
    let p = u128::from(percent.min(100));
    u64::try_from(u128::from(quota) * p / 100).unwrap_or(u64::MAX)
}

/// How lower classes are held back on a link (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkShaping {
    /// Longest an emergency bundle should wait behind lower-class bytes in flight, in ms.
    pub max_alert_delay_ms: u64,
    /// Link rate in bytes per second assumed until the driver reports one.
    pub default_rate: u64,
}

impl Default for LinkShaping {
    /// Two seconds behind at most, on a link assumed to carry 1 Mbit/s.
    fn default() -> Self {
        Self {
            max_alert_delay_ms: 2_000,
            default_rate: 125_000,
        }
    }
}

impl LinkShaping {
    /// Bytes non-emergency transfers may have in flight on a link of `rate` bytes per second.
    pub fn byte_budget(&self, rate: Option<u64>) -> u64 {
        let rate = rate.unwrap_or(self.default_rate);
        let bytes = u128::from(rate) * u128::from(self.max_alert_delay_ms) / 1000;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// Most transfers in flight for the classes at or below `class`, out of a window of `window`:
/// bulk 1/2, up to normal 3/4, up to high 7/8, everything for emergency. At least one, so a
/// window of 1 still carries every class (with no reserve left to keep).
pub(crate) fn slots(class: Priority, window: usize) -> usize {
    let eighths = match class {
        Priority::Bulk => 4,
        Priority::Normal => 6,
        Priority::High => 7,
        Priority::Emergency => 8,
    };
    (window * eighths / 8).max(1)
}

/// What one link has in flight, by class.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InFlight {
    count: [usize; 4],
    bytes: [u64; 4],
}

impl InFlight {
    pub(crate) fn add(&mut self, class: Priority, size: u64) {
        let i = usize::from(class.code());
        self.count[i] += 1;
        self.bytes[i] = self.bytes[i].saturating_add(size);
    }

    /// True if one more transfer of `class` fits the window shares and, below emergency, the
    /// byte budget.
    pub(crate) fn admits(&self, class: Priority, window: usize, byte_budget: u64) -> bool {
        if class == Priority::Emergency {
            return true; // Only the window itself limits emergencies.
        }
        let upto = usize::from(class.code());
        let count: usize = self.count[..=upto].iter().sum();
        if count >= slots(class, window) {
            return false;
        }
        let below_emergency = usize::from(Priority::Emergency.code());
        let bytes: u64 = self.bytes[..below_emergency].iter().sum();
        let transfers: usize = self.count[..below_emergency].iter().sum();
        transfers == 0 || bytes < byte_budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_is_capped_and_lower_classes_leave_the_emergency_reserve() {
        let s = StorageShares::default();
        assert_eq!(s.cap(Priority::Bulk, 1000), 500);
        assert_eq!(s.cap(Priority::Normal, 1000), 900);
        assert_eq!(
            s.cap(Priority::High, 1000),
            900,
            "the reserve bounds high too"
        );
        assert_eq!(s.cap(Priority::Emergency, 1000), 1000);
    }

    #[test]
    fn window_shares_keep_a_slot_for_the_classes_above() {
        assert_eq!(slots(Priority::Bulk, 16), 8);
        assert_eq!(slots(Priority::Normal, 16), 12);
        assert_eq!(slots(Priority::High, 16), 14);
        assert_eq!(slots(Priority::Bulk, 1), 1);
    }

    #[test]
    fn lower_classes_stop_at_the_byte_budget_but_emergencies_do_not() {
        let mut f = InFlight::default();
        assert!(
            f.admits(Priority::Bulk, 16, 1_000),
            "one transfer always goes"
        );
        f.add(Priority::Bulk, 5_000);
        assert!(!f.admits(Priority::Bulk, 16, 1_000));
        assert!(!f.admits(Priority::High, 16, 1_000));
        assert!(f.admits(Priority::Emergency, 16, 1_000));
    }

    #[test]
    fn the_byte_budget_is_rate_times_delay() {
        let s = LinkShaping {
            max_alert_delay_ms: 500,
            default_rate: 1_000,
        };
        assert_eq!(s.byte_budget(None), 500);
        assert_eq!(s.byte_budget(Some(10_000)), 5_000);
    }
}
