//! The routing strategies in the engine, in virtual time: spray-and-wait copy accounting, first
//! contact, static routes and contact plans.

use super::*;
use crate::routing::StaticRoute;

/// Copies each host holds of its (only) stored bundle, from its durable metadata.
fn copies(net: &Net, h: usize) -> Option<u32> {
    let state = net.hosts[h].store.durable();
    state
        .bundles
        .values()
        .next()
        .and_then(|(_, meta)| meta.copies)
}

fn spray(l: u32) -> RouterKind {
    RouterKind::SprayAndWait { copies: l }
}

#[test]
fn spray_copies_halve_on_each_hand_over() {
    let mut net = Net::new(&["a", "b", "c", "d"], spray(8));
    net.submit(0, "dtn://z/inbox", "spray me");
    assert_eq!(copies(&net, 0), Some(8));
    net.connect(0, 1);
    assert_eq!((copies(&net, 0), copies(&net, 1)), (Some(4), Some(4)));
    net.connect(0, 2);
    assert_eq!((copies(&net, 0), copies(&net, 2)), (Some(2), Some(2)));
    net.connect(1, 3);
    assert_eq!((copies(&net, 1), copies(&net, 3)), (Some(2), Some(2)));
}

#[test]
fn spray_wait_phase_forwards_only_to_the_destination() {
    let mut net = Net::new(&["a", "b", "c", "z"], spray(2));
    net.register(3, "dtn://z/inbox");
    net.submit(0, "dtn://z/inbox", "wait for z");
    net.connect(0, 1);
    assert_eq!((copies(&net, 0), copies(&net, 1)), (Some(1), Some(1)));
    net.connect(1, 2);
    assert_eq!(
        net.hosts[2].node.stored_bundles(),
        0,
        "one copy: relays get none"
    );
    net.connect(1, 3);
    assert_eq!(net.payloads(3), ["wait for z"]);
    assert_eq!(
        net.hosts[1].node.stored_bundles(),
        0,
        "handed to z, released"
    );
}

#[test]
fn spray_never_makes_more_than_l_copies() {
    let names = ["n0", "n1", "n2", "n3", "n4", "n5", "n6"];
    let mut net = Net::new(&names, spray(5));
    net.submit(0, "dtn://z/inbox", "count me");
    // Every pair meets once, in order.
    let pairs = (0..names.len()).flat_map(|a| (a + 1..names.len()).map(move |b| (a, b)));
    for (a, b) in pairs {
        let (la, _) = net.connect(a, b);
        net.disconnect(a, la);
        let total: u32 = (0..names.len()).filter_map(|h| copies(&net, h)).sum();
        assert_eq!(total, 5, "after contact {a}-{b}");
    }
    let holders = (0..names.len())
        .filter(|h| copies(&net, *h).is_some())
        .count();
    assert_eq!(
        holders, 5,
        "five nodes hold one copy each once the spray is over"
    );
}

#[test]
fn a_received_count_above_our_l_is_capped() {
    let mut net = Net::new(&["a", "b"], spray(16));
    let mut config = Config::new("dtn://b/".parse().unwrap());
    config.router = spray(2);
    net.hosts[1].node = Node::new(config, 1, net.now, Restored::default());
    net.submit(0, "dtn://z/inbox", "big spray");
    net.connect(0, 1);
    assert_eq!((copies(&net, 0), copies(&net, 1)), (Some(8), Some(2)));
}

#[test]
fn spray_copies_survive_a_restart() {
    let mut net = Net::new(&["a", "b"], spray(8));
    net.submit(0, "dtn://z/inbox", "durable count");
    net.connect(0, 1);
    let mut config = Config::new("dtn://a/".parse().unwrap());
    config.router = spray(8);
    let restored = net.hosts[0].store.restored();
    let node = Node::new(config, 0, net.now, restored);
    let key = node.bundles().next().unwrap().key;
    assert_eq!(node.table.get(key).unwrap().meta.copies, Some(4));
}

#[test]
fn first_contact_hands_the_bundle_on_and_lets_it_go() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::FirstContact);
    net.submit(0, "dtn://z/inbox", "wander");
    net.connect(0, 1);
    assert_eq!(net.hosts[0].node.stored_bundles(), 0);
    assert_eq!(net.hosts[1].node.stored_bundles(), 1);
    net.connect(1, 2);
    assert_eq!(net.hosts[1].node.stored_bundles(), 0);
    assert_eq!(net.hosts[2].node.stored_bundles(), 1);
    let total: usize = (0..3).map(|h| net.hosts[h].node.stored_bundles()).sum();
    assert_eq!(total, 1);
}

#[test]
fn first_contact_makes_one_copy_even_with_two_peers_at_once() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::FirstContact);
    net.hosts[1].auto_flush = false;
    net.hosts[2].auto_flush = false;
    net.submit(0, "dtn://z/inbox", "only one");
    net.connect(0, 1);
    net.connect(0, 2);
    let received = net.hosts[1].node.counters().received + net.hosts[2].node.counters().received;
    assert_eq!(received, 1);
}

#[test]
fn static_routes_forward_along_the_configured_next_hop() {
    let route = StaticRoute {
        pattern: "dtn://c/*".into(),
        via: "dtn://b/".parse().unwrap(),
    };
    let routes = RouterKind::StaticRoutes {
        routes: vec![route],
    };
    let mut net = Net::new(&["a", "b", "c", "x"], routes);
    net.register(2, "dtn://c/inbox");
    net.submit(0, "dtn://c/inbox", "routed");
    net.connect(0, 3);
    assert_eq!(
        net.hosts[3].node.stored_bundles(),
        0,
        "x is not on the route"
    );
    net.connect(0, 1);
    assert_eq!(
        net.hosts[0].node.stored_bundles(),
        0,
        "handed to the next hop"
    );
    net.connect(1, 2);
    assert_eq!(net.payloads(2), ["routed"]);
}

#[test]
fn contact_plan_routing_sends_towards_the_earliest_arrival() {
    // From a, c is reached earliest through y (contact y→c at 100 s), not b (at 500 s).
    let plan = "\
        a contact +0 +1000 a b 1000
        a contact +0 +1000 a y 1000
        a contact +500 +600 b c 1000
        a contact +100 +200 y c 1000
    ";
    let router = RouterKind::ContactPlan {
        plan: plan.into(),
        epoch: None,
    };
    let mut net = Net::new(&["a", "b", "y", "c"], router);
    net.register(3, "dtn://c/inbox");
    net.submit(0, "dtn://c/inbox", "planned");
    net.connect(0, 1);
    assert_eq!(
        net.hosts[1].node.stored_bundles(),
        0,
        "b is the slower path"
    );
    net.connect(0, 2);
    assert_eq!(net.hosts[2].node.stored_bundles(), 1);
    net.advance_ms(100_000);
    net.connect(2, 3);
    assert_eq!(net.payloads(3), ["planned"]);
}
