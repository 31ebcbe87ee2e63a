//! Every routing strategy, selected from configuration alone, carries a bundle across a chain
//! of real daemons: a — r — b, where a never meets b and r relays.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tern_tests::daemon::{NodeOptions, TernNode};

/// Starts r, then b and a (both dialing r), every node routing with `router(name)`, sends one
/// bundle from a to b's inbox and returns what b received within `wait`.
fn relay_through_chain(router: impl Fn(&str) -> String, wait: Duration) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let options = |name: &str, peers: Vec<String>| NodeOptions {
        router: Some(router(name)),
        peers,
        ..NodeOptions::default()
    };
    let r = TernNode::start("r", &dir.path().join("r"), options("r", vec![]));
    let b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions {
            registrations: vec!["dtn://b/inbox".into()],
            ..options("b", vec![r.tcpcl.to_string()])
        },
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while r.get("/api/v1/peers").as_array().map_or(0, Vec::len) < 1 {
        assert!(
            Instant::now() < deadline,
            "b never linked to r:\n{}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let r and b exchange what they know (PRoPHET predictabilities) before a appears.
    std::thread::sleep(Duration::from_millis(500));
    let a = TernNode::start(
        "a",
        &dir.path().join("a"),
        options("a", vec![r.tcpcl.to_string()]),
    );
    a.send("dtn://b/inbox", "shelter at the school");
    b.receive_n("dtn://b/inbox", 1, wait)
}

/// Long enough for any strategy on loopback; a failure is a strategy that never delivers.
const DELIVERY: Duration = Duration::from_secs(20);

const WANT: [&str; 1] = ["shelter at the school"];

#[test]
fn epidemic_relays_through_the_chain() {
    assert_eq!(relay_through_chain(|_| "epidemic".into(), DELIVERY), WANT);
}

#[test]
fn spray_and_wait_relays_through_the_chain() {
    assert_eq!(
        relay_through_chain(|_| "spray-and-wait:4".into(), DELIVERY),
        WANT
    );
}

#[test]
fn prophet_relays_to_the_node_that_met_the_destination() {
    assert_eq!(relay_through_chain(|_| "prophet".into(), DELIVERY), WANT);
}

#[test]
fn first_contact_relays_through_the_chain() {
    assert_eq!(
        relay_through_chain(|_| "first-contact".into(), DELIVERY),
        WANT
    );
}

#[test]
fn static_routes_relay_through_the_configured_next_hop() {
    let got = relay_through_chain(
        |node| {
            match node {
        "a" => r#"{ strategy = "static-routes", routes = [{ pattern = "dtn://b/", via = "dtn://r/" }] }"#.into(),
        _ => r#"{ strategy = "static-routes", routes = [{ pattern = "dtn://b/", via = "dtn://b/" }] }"#.into(),
    }
        },
        DELIVERY,
    );
    assert_eq!(got, WANT);
}

#[test]
fn contact_plan_relays_along_the_planned_contacts() {
    let plan = "a contact +0 +86400 a r 100000\\na contact +0 +86400 r b 100000\\n";
    let got = relay_through_chain(
        |_| format!(r#"{{ strategy = "contact-plan", plan = "{plan}" }}"#),
        DELIVERY,
    );
    assert_eq!(got, WANT);
}

#[test]
fn direct_delivery_never_uses_the_relay() {
    // Five seconds is ample for a one-hop relay on loopback (the others take well under one).
    let got = relay_through_chain(|_| "direct".into(), Duration::from_secs(5));
    assert!(
        got.is_empty(),
        "direct delivery reached b through r: {got:?}"
    );
}
