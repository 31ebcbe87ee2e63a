//! Bundle and block processing control flags (RFC 9171 §4.2.3, §4.2.4).
//!
//! Unassigned bits are kept as received (`const _ = !0`) so that a forwarded bundle is not
//! silently changed, but only the named bits mean anything to tern.

bitflags::bitflags! {
    /// Bundle processing control flags (RFC 9171 §4.2.3).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct BundleFlags: u64 {
        /// The bundle is a fragment.
        const IS_FRAGMENT = 0x01;
        /// The payload is an administrative record.
        const ADMIN_RECORD = 0x02;
        /// The bundle must not be fragmented.
        const MUST_NOT_FRAGMENT = 0x04;
        /// The destination application is asked to acknowledge receipt.
        const APP_ACK_REQUESTED = 0x20;
        /// Status reports should carry the time of the event.
        const STATUS_TIME_REQUESTED = 0x40;
        /// Request a report when the bundle is received.
        const REPORT_RECEPTION = 0x4000;
        /// Request a report when the bundle is forwarded.
        const REPORT_FORWARDING = 0x1_0000;
        /// Request a report when the bundle is delivered.
        const REPORT_DELIVERY = 0x2_0000;
        /// Request a report when the bundle is deleted.
        const REPORT_DELETION = 0x4_0000;
        // Keep unassigned bits as received.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Block processing control flags (RFC 9171 §4.2.4).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct BlockFlags: u64 {
        /// Copy this block into every fragment.
        const REPLICATE_IN_EVERY_FRAGMENT = 0x01;
        /// Send a status report if the block can't be processed.
        const REPORT_IF_UNPROCESSABLE = 0x02;
        /// Delete the whole bundle if the block can't be processed.
        const DELETE_BUNDLE_IF_UNPROCESSABLE = 0x04;
        /// Remove this block if it can't be processed.
        const DISCARD_IF_UNPROCESSABLE = 0x10;
        // Keep unassigned bits as received.
        const _ = !0;
    }
}

impl BundleFlags {
    /// All status-report request bits (RFC 9171 §4.2.3).
    pub const ALL_REPORTS: Self = Self::REPORT_RECEPTION
        .union(Self::REPORT_FORWARDING)
        .union(Self::REPORT_DELIVERY)
        .union(Self::REPORT_DELETION);

    /// Names of the set flags, for display; unassigned bits show as `0x...`.
    pub fn names(self) -> Vec<String> {
        flag_names(self.iter_names().map(|(n, f)| (n, f.bits())), self.bits())
    }
}

impl BlockFlags {
    /// Names of the set flags, for display; unassigned bits show as `0x...`.
    pub fn names(self) -> Vec<String> {
        flag_names(self.iter_names().map(|(n, f)| (n, f.bits())), self.bits())
    }
}

fn flag_names<'a>(named: impl Iterator<Item = (&'a str, u64)>, bits: u64) -> Vec<String> {
    let mut rest = bits;
    let mut out: Vec<String> = named
        .map(|(name, bit)| {
            rest &= !bit;
            name.to_ascii_lowercase()
        })
        .collect();
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unassigned_bits_survive_and_are_shown_in_hex() {
        let f = BundleFlags::from_bits_retain(0x02_0004 | 0x8000_0000);
        assert_eq!(f.bits(), 0x8002_0004);
        assert_eq!(
            f.names(),
            vec!["must_not_fragment", "report_delivery", "0x80000000"]
        );
    }
}
