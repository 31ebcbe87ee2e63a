//! Real `tern node` processes exchanging bundles over TCPCLv4 on loopback: delivery, restart,
//! power loss (`kill -9`) and a full store. Every node is killed by PID when its test ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tern_tests::daemon::{NodeOptions, TernNode};
use tern_tests::wait_for;

#[test]
fn two_nodes_exchange_a_bundle_over_tcpcl() {
    let dir = tempfile::tempdir().unwrap();
    let b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions::receiving("dtn://b/inbox"),
    );
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::peer_of(&b));
    a.send("dtn://b/inbox", "hello over tcpcl");
    let got = b.receive_n("dtn://b/inbox", 1, Duration::from_secs(20));
    assert_eq!(got, ["hello over tcpcl"], "log of a:\n{}", a.log());
    // a handed the bundle to its destination node and let it go.
    wait_for("a to release the bundle", Duration::from_secs(10), || {
        a.status()["bundles"] == 0
    });
}

#[test]
fn restart_keeps_stored_bundles_and_forwards_them_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions::receiving("dtn://b/inbox"),
    );
    // a starts with no peer, so the bundles wait in its store.
    let mut a = TernNode::start("a", &dir.path().join("a"), NodeOptions::default());
    for i in 0..5 {
        a.send("dtn://b/inbox", &format!("stored {i}"));
    }
    assert_eq!(a.status()["bundles"], 5);
    a.stop();
    // Same data directory, now with b as a peer.
    let mut a = TernNode::start("a", &a.dir.clone(), NodeOptions::peer_of(&b));
    let got: BTreeSet<String> = b
        .receive_n("dtn://b/inbox", 5, Duration::from_secs(30))
        .into_iter()
        .collect();
    let want: BTreeSet<String> = (0..5).map(|i| format!("stored {i}")).collect();
    assert_eq!(got, want, "log of a:\n{}", a.log());
    a.stop();
}

#[test]
fn killing_the_receiver_never_loses_an_acknowledged_bundle() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let mut b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions::receiving("dtn://b/inbox"),
    );
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::peer_of(&b));
    // a streams to b from another thread while b loses power four times.
    let api = a.api;
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            let body = serde_json::json!({ "destination": "dtn://b/inbox", "payload": format!("m{i:03}") });
            ureq::post(&format!("http://{api}/api/v1/bundles"))
                .send_json(&body)
                .unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(400));
        b.kill9();
        b.restart();
    }
    sender.join().unwrap();
    // a deletes a bundle only when b acknowledged it; so once a is empty, every bundle must be
    // at b. Anything acknowledged and then lost would be missing here.
    let deadline = Instant::now() + Duration::from_secs(90);
    while a.status()["bundles"] != 0 {
        assert!(
            Instant::now() < deadline,
            "a still holds bundles after 90 s: {}\nlog of a:\n{}\nlog of b:\n{}",
            a.status(),
            a.log(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Delivery to the application is at-least-once across a power cut (a mailbox write can be
    // durable while the bundle's removal is not), so count distinct payloads.
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < N && Instant::now() < deadline {
        got.extend(b.receive("dtn://b/inbox", 2, N));
    }
    let want: BTreeSet<String> = (0..N).map(|i| format!("m{i:03}")).collect();
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "lost after ack: {missing:?}\nlog of b:\n{}",
        b.log()
    );
}

#[test]
fn full_store_refuses_transfers_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions {
            storage_quota: Some(4_000),
            ..NodeOptions::default()
        },
    );
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::peer_of(&b));
    let filler = "x".repeat(900);
    for i in 0..10 {
        // For a third node: b carries them, up to its quota.
        a.send("dtn://c/inbox", &format!("{i} {filler}"));
    }
    wait_for("b to refuse for storage", Duration::from_secs(20), || {
        b.status()["counters"]["refused_storage"]
            .as_u64()
            .unwrap_or(0)
            > 0
    });
    let status = b.status();
    assert!(status["stored_bytes"].as_u64().unwrap() <= 4_000);
    let stored = status["bundles"].as_u64().unwrap();
    assert!(stored >= 1, "b stores what fits");
    // a keeps every bundle: relaying to b does not release them (epidemic keeps copies).
    assert_eq!(a.status()["bundles"], 10);
    // b is still healthy and still reachable.
    assert_eq!(b.status()["node_id"], "dtn://b/");
}

#[test]
fn large_bundles_cross_in_both_directions_at_once() {
    // Both sides write megabytes at each other over one session: a link task that stopped
    // reading while it wrote would deadlock here.
    const N: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions::receiving("dtn://b/inbox"),
    );
    let a = TernNode::start(
        "a",
        &dir.path().join("a"),
        NodeOptions {
            peers: vec![b.tcpcl.to_string()],
            registrations: vec!["dtn://a/inbox".into()],
            ..NodeOptions::default()
        },
    );
    let big = |tag: &str, i: usize| format!("{tag}{i:02}{}", "z".repeat(1 << 20));
    for i in 0..N {
        a.send("dtn://b/inbox", &big("ab", i));
        b.send("dtn://a/inbox", &big("ba", i));
    }
    let at_b = b.receive_n("dtn://b/inbox", N, Duration::from_secs(60));
    let at_a = a.receive_n("dtn://a/inbox", N, Duration::from_secs(60));
    let prefixes =
        |v: &[String]| -> BTreeSet<String> { v.iter().map(|p| p[..4].to_owned()).collect() };
    assert_eq!(
        prefixes(&at_b),
        (0..N).map(|i| format!("ab{i:02}")).collect()
    );
    assert_eq!(
        prefixes(&at_a),
        (0..N).map(|i| format!("ba{i:02}")).collect()
    );
    assert!(at_a.iter().chain(&at_b).all(|p| p.len() == 4 + (1 << 20)));
}
