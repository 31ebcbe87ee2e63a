//! Direct delivery: a bundle travels only on a contact with its destination node.
//!
//! The baseline every DTN evaluation compares against: one copy, one hop, no relays.

use super::{BundleView, PeerView, Router, reaches_destination};

/// Offers a bundle only to the node that hosts its destination.
#[derive(Debug, Clone, Copy, Default)]
pub struct DirectDelivery;

impl Router for DirectDelivery {
    fn name(&self) -> &'static str {
        "direct"
    }

    fn should_offer(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> bool {
        reaches_destination(bundle.destination, peer.node_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::BundleKey;
    use crate::wire::Eid;

    #[test]
    fn offers_only_to_the_destination_node() {
        let src: Eid = "dtn://a/".parse().unwrap();
        let dst: Eid = "dtn://c/inbox".parse().unwrap();
        let view = BundleView {
            key: BundleKey(1),
            source: &src,
            destination: &dst,
            from: None,
            copies: None,
            in_flight: 0,
        };
        let b: Eid = "dtn://b/".parse().unwrap();
        let c: Eid = "dtn://c/".parse().unwrap();
        let mut r = DirectDelivery;
        assert!(!r.should_offer(&view, &PeerView { node_id: &b }));
        assert!(r.should_offer(&view, &PeerView { node_id: &c }));
    }
}
