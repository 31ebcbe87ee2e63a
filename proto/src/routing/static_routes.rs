//! Static routes: destination patterns mapped to next-hop nodes, like an IP routing table.
//!
//! For networks whose shape is known in advance (a relay chain of villages, a ferry that always
//! serves the same districts). A bundle goes to its destination node when that node is a peer,
//! otherwise to the next hop of the first route whose pattern matches its destination; it then
//! leaves this node (one copy, handed hop by hop). No matching route: the bundle waits for its
//! destination.

use serde::{Deserialize, Serialize};

use super::{BundleView, PeerView, Retain, Router, reaches_destination};
use crate::wire::Eid;

/// One route.
///
/// `pattern` is an endpoint ID, matching that endpoint and, if it is a node ID
/// (`dtn://c/`, `ipn:3.0`), every endpoint on that node; or a prefix ending in `*` matched
/// against the destination's text (`dtn://district-*`, `ipn:4.*`, `*` for a default route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    /// Which destinations the route serves.
    pub pattern: String,
    /// The node to hand them to.
    pub via: Eid,
}

impl StaticRoute {
    /// True if this route serves `destination`.
    pub fn matches(&self, destination: &Eid) -> bool {
        if let Some(prefix) = self.pattern.strip_suffix('*') {
            return destination.to_string().starts_with(prefix);
        }
        let Ok(pattern) = self.pattern.parse::<Eid>() else {
            return false;
        };
        pattern == *destination
            || pattern.is_node_id() && destination.node_id().as_ref() == Some(&pattern)
    }
}

/// Forwards by a fixed table of routes.
#[derive(Debug, Clone, Default)]
pub struct StaticRoutes {
    routes: Vec<StaticRoute>,
}

impl StaticRoutes {
    /// A router over `routes`, tried in order.
    pub fn new(routes: Vec<StaticRoute>) -> Self {
        Self { routes }
    }

    /// The next hop for `destination`, if a route serves it.
    pub fn next_hop(&self, destination: &Eid) -> Option<&Eid> {
        self.routes
            .iter()
            .find(|r| r.matches(destination))
            .map(|r| &r.via)
    }
}

impl Router for StaticRoutes {
    fn name(&self) -> &'static str {
        "static-routes"
    }

    fn should_offer(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> bool {
        if bundle.in_flight > 0 {
            return false; // One copy: one transfer at a time.
        }
        reaches_destination(bundle.destination, peer.node_id)
            || self.next_hop(bundle.destination) == Some(peer.node_id)
    }

    fn after_forward(&mut self, _bundle: &BundleView<'_>, _peer: &PeerView<'_>) -> Retain {
        Retain::Release
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::BundleKey;

    fn eid(s: &str) -> Eid {
        s.parse().unwrap()
    }

    fn route(pattern: &str, via: &str) -> StaticRoute {
        StaticRoute {
            pattern: pattern.into(),
            via: eid(via),
        }
    }

    fn offers(r: &mut StaticRoutes, dst: &str, peer: &str) -> bool {
        let (src, dst, peer) = (eid("dtn://a/"), eid(dst), eid(peer));
        let view = BundleView {
            key: BundleKey(1),
            source: &src,
            destination: &dst,
            from: None,
            copies: None,
            in_flight: 0,
        };
        r.should_offer(&view, &PeerView { node_id: &peer })
    }

    #[test]
    fn a_bundle_goes_only_to_the_next_hop_of_its_route() {
        let mut r = StaticRoutes::new(vec![route("dtn://c/", "dtn://b/")]);
        assert!(offers(&mut r, "dtn://c/inbox", "dtn://b/"));
        assert!(!offers(&mut r, "dtn://c/inbox", "dtn://x/"));
    }

    #[test]
    fn the_first_matching_route_wins_and_star_is_a_default_route() {
        let mut r = StaticRoutes::new(vec![route("ipn:4.*", "ipn:2.0"), route("*", "ipn:9.0")]);
        assert_eq!(r.next_hop(&eid("ipn:4.1")), Some(&eid("ipn:2.0")));
        assert_eq!(r.next_hop(&eid("ipn:5.1")), Some(&eid("ipn:9.0")));
        assert!(!offers(&mut r, "ipn:4.1", "ipn:9.0"));
    }

    #[test]
    fn the_destination_node_is_always_a_next_hop() {
        let mut r = StaticRoutes::new(Vec::new());
        assert!(offers(&mut r, "dtn://c/inbox", "dtn://c/"));
        assert!(!offers(&mut r, "dtn://c/inbox", "dtn://b/"));
    }

    #[test]
    fn an_exact_endpoint_pattern_does_not_match_its_siblings() {
        let r = route("dtn://c/inbox", "dtn://b/");
        assert!(r.matches(&eid("dtn://c/inbox")));
        assert!(!r.matches(&eid("dtn://c/other")));
    }
}
