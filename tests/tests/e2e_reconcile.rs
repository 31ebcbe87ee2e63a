//! Two real tern nodes over TCPCLv4 learn that each other speaks tern's control channel (the
//! in-band hello) and reconcile their stores instead of offering bundle by bundle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tern_tests::daemon::{NodeOptions, TernNode};
use tern_tests::wait_for;

fn counter(node: &TernNode, name: &str) -> u64 {
    node.status()["counters"][name].as_u64().unwrap_or_default()
}

#[test]
fn tern_peers_reconcile_their_stores_over_the_control_channel() {
    let dir = tempfile::tempdir().unwrap();
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::default());
    for i in 0..30 {
        a.send("dtn://elsewhere/inbox", &format!("report {i}"));
    }
    // b meets a: epidemic hands it every bundle a carries, chosen by reconciliation.
    let b = TernNode::start("b", &dir.path().join("b"), NodeOptions::peer_of(&a));
    wait_for("b to hold a's 30 bundles", Duration::from_secs(30), || {
        b.status()["bundles"] == 30
    });
    assert!(
        counter(&a, "control_sent_messages") >= 1,
        "a sent no control message; log of a:\n{}",
        a.log()
    );
    assert!(counter(&b, "control_sent_messages") >= 1);
    assert_eq!(
        counter(&b, "refused_duplicate"),
        0,
        "reconciliation offers only what the peer lacks"
    );
    let peers = b.get("/api/v1/peers");
    assert_eq!(peers.as_array().map(Vec::len), Some(1), "{peers}");
}
