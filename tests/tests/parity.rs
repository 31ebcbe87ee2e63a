//! Parity between the simulator and the real daemon: one small scenario — four nodes in a
//! chain, the middle link partitioned and healed — runs in `tern-sim` and as four real `tern
//! node` processes whose links are switched by loopback proxies on the same schedule. Both must
//! deliver the same set of messages: the simulated node *is* the real node.
//!
//! The schedule keeps every deciding event seconds away from any other (a message that must
//! expire before the heal does so 3 s before it), so the daemons' real-time jitter, TCP
//! reconnect backoff and the simulator's idealized timing cannot change the outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sim::clock::SimTime;
use sim::plan::MessageEvent;
use tern_tests::daemon::{NodeOptions, TernNode};
use tern_tests::proxy::LinkProxy;

/// Nodes n0 — n1 — n2 — n3; the n1–n2 link is down from `CUT` to `HEAL` seconds.
const NODES: usize = 4;
const CUT: u64 = 4;
const HEAL: u64 = 12;
/// The simulated run and the daemons' observation window, in seconds.
const END: u64 = 40;

/// (time s, from, to, lifetime s) for message `m{index}`.
const MESSAGES: [(u64, usize, usize, u64); 6] = [
    (1, 0, 3, 60), // crosses before the cut
    (6, 0, 3, 60), // waits on n1 for the heal
    (6, 3, 0, 3),  // expires at 9 s, before the heal: never delivered
    (6, 1, 0, 60), // same side of the cut
    (7, 2, 1, 60), // waits on n2 for the heal
    (7, 3, 2, 2),  // same side, delivered before it expires
];

const SCENARIO: &str = r#"
name = "parity"
duration = "40s"
seed = 1

[link]
rate = "10 Mbps"
delay = "1ms"

[[group]]
name = "n"
count = 4
router = "epidemic"
buffer = "10 MB"

[[contact]]
between = ["n0", "n1"]
start = 0
end = "40s"

[[contact]]
between = ["n1", "n2"]
start = 0
end = "40s"

[[contact]]
between = ["n2", "n3"]
start = 0
end = "40s"

[[partition]]
at = "4s"
heal = "12s"
sides = [["n0", "n1"], ["n2", "n3"]]
"#;

fn simulated() -> BTreeSet<usize> {
    let mut plan = sim::scenario::parse(SCENARIO, Path::new("parity.toml"), None).unwrap();
    for (time, from, to, lifetime) in MESSAGES {
        plan.messages.push(MessageEvent {
            time: SimTime::from_duration(Duration::from_secs(time)),
            from,
            to,
            size: 64,
            lifetime: SimTime::from_duration(Duration::from_secs(lifetime)),
            priority: proto::wire::Priority::Normal,
        });
    }
    let mut world = sim::world::World::new(plan).unwrap();
    world.run();
    world.delivered_messages().into_iter().collect()
}

fn inbox(i: usize) -> String {
    format!("dtn://n{i}/inbox")
}

#[test]
fn simulator_and_daemons_deliver_the_same_messages() {
    let expected = simulated();
    // The scenario is built so that exactly these arrive; a change here is a simulator change.
    assert_eq!(expected, BTreeSet::from([0, 1, 3, 4, 5]));

    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut nodes: Vec<TernNode> = Vec::new();
    let mut proxies: Vec<LinkProxy> = Vec::new();
    // Started from the far end: each node dials its right-hand neighbour through a proxy.
    for i in (0..NODES).rev() {
        let mut options = NodeOptions::receiving(&inbox(i));
        options.router = Some("epidemic".into());
        if let Some(right) = nodes.first() {
            let proxy = LinkProxy::start(right.tcpcl, true).unwrap();
            options.peers = vec![proxy.addr().to_string()];
            proxies.insert(0, proxy);
        }
        nodes.insert(
            0,
            TernNode::start(&format!("n{i}"), &dir.path().join(format!("n{i}")), options),
        );
    }
    // proxies[i] joins n{i} and n{i+1}. Wait for the chain to be up before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while nodes.iter().enumerate().any(|(i, n)| {
        n.get("/api/v1/peers").as_array().map_or(0, Vec::len)
            < if i == 0 || i == NODES - 1 { 1 } else { 2 }
    }) {
        assert!(Instant::now() < deadline, "the chain never came up");
        std::thread::sleep(Duration::from_millis(100));
    }

    eprintln!("chain up after {:?}", started.elapsed());
    let t0 = Instant::now();
    let at = |secs: u64| {
        let when = t0 + Duration::from_secs(secs);
        if let Some(wait) = when.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    };
    let mut events: Vec<(u64, Option<usize>, bool)> = MESSAGES
        .iter()
        .enumerate()
        .map(|(m, (t, ..))| (*t, Some(m), false))
        .collect();
    events.push((CUT, None, false));
    events.push((HEAL, None, true));
    events.sort_by_key(|(t, m, _)| (*t, m.is_some()));
    for (time, message, up) in events {
        at(time);
        match message {
            None => proxies[1].set_up(up),
            Some(m) => {
                let (_, from, to, lifetime) = MESSAGES[m];
                let answer = nodes[from].post(
                    "/api/v1/bundles",
                    &json!({ "destination": inbox(to), "payload": format!("m{m}"), "lifetime_ms": lifetime * 1000 }),
                );
                assert!(answer["key"].is_u64(), "m{m} not accepted: {answer}");
            }
        }
    }

    // Collect until the expected set arrived (or the window closes), then a little longer:
    // a message that should not arrive must not arrive late either.
    let mut delivered = BTreeSet::new();
    let collect = |delivered: &mut BTreeSet<usize>| {
        for (i, node) in nodes.iter().enumerate() {
            for text in node.receive(&inbox(i), 0, 100) {
                delivered.insert(text.trim_start_matches('m').parse::<usize>().unwrap());
            }
        }
    };
    while delivered != expected && t0.elapsed() < Duration::from_secs(END) {
        collect(&mut delivered);
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("deliveries settled {:?} after t0", t0.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    collect(&mut delivered);
    assert_eq!(
        delivered,
        expected,
        "daemons and simulator disagree; log of n1:\n{}\nlog of n2:\n{}",
        nodes[1].log(),
        nodes[2].log()
    );
}
