//! Binary spray-and-wait (Spyropoulos, Psounis & Raghavendra, 2005): at most L copies of a bundle
//! exist in the network.
//!
//! A node holding `n > 1` copies hands `⌊n/2⌋` of them to each new peer and keeps the rest
//! (spray phase); a node holding one copy waits and hands it only to the destination (wait
//! phase). Copies are never created, only split, so their total never exceeds L.
//!
//! The count travels with the bundle in a tern-private copies block that the sending node
//! rewrites on every transfer ([`crate::wire::copies::COPIES_BLOCK_TYPE`]); the engine keeps this
//! node's own count in the bundle's durable metadata and deducts a share only once the peer has
//! accepted it, reserving it while the transfer is in flight so two concurrent transfers cannot
//! hand out the same copies twice.

use super::{BundleView, PeerView, Retain, Router, reaches_destination};

/// Binary spray-and-wait with L copies.
#[derive(Debug, Clone, Copy)]
pub struct SprayAndWait {
    copies: u32,
}

impl SprayAndWait {
    /// Spray-and-wait starting every bundle this node originates with `copies` (L) copies; a
    /// count of 0 is taken as 1 (wait phase only: direct delivery).
    pub fn new(copies: u32) -> Self {
        Self {
            copies: copies.max(1),
        }
    }

    /// L.
    pub fn copies(&self) -> u32 {
        self.copies
    }
}

impl Router for SprayAndWait {
    fn name(&self) -> &'static str {
        "spray-and-wait"
    }

    fn should_offer(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> bool {
        if reaches_destination(bundle.destination, peer.node_id) {
            return bundle.copies.unwrap_or(1) > 0;
        }
        bundle.copies.unwrap_or(1) > 1
    }

    fn after_forward(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> Retain {
        if reaches_destination(bundle.destination, peer.node_id)
            && bundle.destination.is_singleton()
        {
            Retain::Release
        } else {
            Retain::Keep
        }
    }

    /// A bundle this node originates starts with L copies. One received without a copies block
    /// came from a node that does not spray: it gets one copy (wait phase), so bundles entering
    /// from outside never multiply. A peer's count is capped at our L: a peer cannot make us
    /// spray more widely than we are configured to.
    fn initial_copies(&mut self, carried: Option<u32>, local: bool) -> Option<u32> {
        if local {
            return Some(self.copies);
        }
        Some(carried.unwrap_or(1).clamp(1, self.copies))
    }

    /// Half (rounded down) of the available copies to a relay; one copy to the destination.
    fn copies_to_hand(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> Option<u32> {
        let available = bundle.copies.unwrap_or(1);
        if reaches_destination(bundle.destination, peer.node_id) {
            return Some(1);
        }
        Some(available / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::BundleKey;
    use crate::wire::Eid;

    fn eid(s: &str) -> Eid {
        s.parse().unwrap()
    }

    fn view<'a>(src: &'a Eid, dst: &'a Eid, copies: u32) -> BundleView<'a> {
        BundleView {
            key: BundleKey(1),
            source: src,
            destination: dst,
            from: None,
            copies: Some(copies),
            in_flight: 0,
        }
    }

    #[test]
    fn a_relay_gets_half_the_copies_rounded_down() {
        let (src, dst, relay) = (eid("dtn://a/"), eid("dtn://z/inbox"), eid("dtn://b/"));
        let mut r = SprayAndWait::new(8);
        let peer = PeerView { node_id: &relay };
        assert_eq!(r.copies_to_hand(&view(&src, &dst, 8), &peer), Some(4));
        assert_eq!(r.copies_to_hand(&view(&src, &dst, 5), &peer), Some(2));
    }

    #[test]
    fn wait_phase_offers_only_to_the_destination() {
        let (src, dst) = (eid("dtn://a/"), eid("dtn://z/inbox"));
        let (relay, target) = (eid("dtn://b/"), eid("dtn://z/"));
        let mut r = SprayAndWait::new(8);
        let one = view(&src, &dst, 1);
        assert!(!r.should_offer(&one, &PeerView { node_id: &relay }));
        assert!(r.should_offer(&one, &PeerView { node_id: &target }));
    }

    #[test]
    fn spray_phase_offers_to_any_peer() {
        let (src, dst, relay) = (eid("dtn://a/"), eid("dtn://z/inbox"), eid("dtn://b/"));
        let mut r = SprayAndWait::new(8);
        assert!(r.should_offer(&view(&src, &dst, 2), &PeerView { node_id: &relay }));
    }

    #[test]
    fn own_bundles_start_with_l_copies_and_peer_counts_are_capped() {
        let mut r = SprayAndWait::new(6);
        assert_eq!(r.initial_copies(None, true), Some(6));
        assert_eq!(r.initial_copies(Some(3), false), Some(3));
        assert_eq!(r.initial_copies(Some(1_000), false), Some(6));
        assert_eq!(r.initial_copies(None, false), Some(1));
    }
}
