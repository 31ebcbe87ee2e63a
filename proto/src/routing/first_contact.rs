//! First contact: hand each bundle to the first peer met, then let it go.
//!
//! One copy of a bundle exists at any time: it wanders from node to node until it meets its
//! destination. Cheap in storage and bandwidth, slow and unreliable; the baseline below
//! epidemic. The engine never offers a bundle back to the node it came from.

use super::{BundleView, PeerView, Retain, Router};

/// Offers every bundle to the first peer, one transfer at a time, and releases it once taken.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstContact;

impl Router for FirstContact {
    fn name(&self) -> &'static str {
        "first-contact"
    }

    /// One transfer at a time: two peers taking the bundle at once would make two copies.
    fn should_offer(&mut self, bundle: &BundleView<'_>, _peer: &PeerView<'_>) -> bool {
        bundle.in_flight == 0
    }

    fn after_forward(&mut self, _bundle: &BundleView<'_>, _peer: &PeerView<'_>) -> Retain {
        Retain::Release
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::BundleKey;
    use crate::wire::Eid;

    #[test]
    fn the_first_peer_gets_the_bundle_and_it_is_released() {
        let (src, dst, peer) = (
            "dtn://a/".parse::<Eid>().unwrap(),
            "dtn://z/inbox".parse::<Eid>().unwrap(),
            "dtn://b/".parse::<Eid>().unwrap(),
        );
        let mut view = BundleView {
            key: BundleKey(1),
            source: &src,
            destination: &dst,
            from: None,
            copies: None,
            in_flight: 0,
        };
        let mut r = FirstContact;
        let p = PeerView { node_id: &peer };
        assert!(r.should_offer(&view, &p));
        assert_eq!(r.after_forward(&view, &p), Retain::Release);
        view.in_flight = 1;
        assert!(!r.should_offer(&view, &p), "a second peer waits its turn");
    }
}
