//! Control-capable links in virtual time: reconciliation before offers, fallback to per-peer
//! history when the peer misbehaves or goes quiet, and PRoPHET over the control channel.

use super::*;
use crate::node::control::{ControlMessage, DIGEST_END, ReconBody, ReconItem};

impl Net {
    /// Like `connect`, but both drivers declare the link control-capable right after `LinkUp`,
    /// before draining outputs (as a driver whose link negotiated control messages does).
    fn connect_control(&mut self, a: usize, b: usize) -> (LinkId, LinkId) {
        let la = LinkId(self.next_link);
        let lb = LinkId(self.next_link + 1);
        self.next_link += 2;
        self.links.insert((a, la), (b, lb));
        self.links.insert((b, lb), (a, la));
        let (ida, idb, now) = (self.id(a), self.id(b), self.now);
        for (h, link, peer) in [(a, la, idb), (b, lb, ida)] {
            let node = &mut self.hosts[h].node;
            node.handle(
                now,
                Input::LinkUp {
                    link,
                    peer: Some(peer),
                },
            );
            node.handle(now, Input::ControlReady { link });
        }
        self.run();
        (la, lb)
    }

    fn restart(&mut self, h: usize, router: RouterKind) {
        let mut config = Config::new(self.id(h));
        config.router = router;
        let restored = self.hosts[h].store.restored();
        self.hosts[h].node = Node::new(config, h as u64, self.now, restored);
    }
}

/// Gives `a` and `b` the same `n` bundles (relayed through `c`, so neither knows the other
/// holds them), then cuts both links.
fn common_bundles(net: &mut Net, a: usize, b: usize, c: usize, n: usize) {
    for i in 0..n {
        net.submit(a, "dtn://z/far", &format!("common {i}"));
    }
    let (l, _) = net.connect(a, c);
    net.disconnect(a, l);
    let (l, _) = net.connect(c, b);
    net.disconnect(c, l);
}

#[test]
fn reconciled_contact_transfers_only_what_each_side_lacks() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    common_bundles(&mut net, 0, 1, 2, 40);
    for i in 0..3 {
        net.submit(0, "dtn://z/far", &format!("only at a {i}"));
    }
    for i in 0..2 {
        net.submit(1, "dtn://z/far", &format!("only at b {i}"));
    }
    let (a0, b0) = (net.hosts[0].node.counters(), net.hosts[1].node.counters());
    net.connect_control(0, 1);
    let (a1, b1) = (net.hosts[0].node.counters(), net.hosts[1].node.counters());
    assert_eq!(b1.received - b0.received, 3, "b receives exactly a's three");
    assert_eq!(a1.received - a0.received, 2, "a receives exactly b's two");
    assert_eq!(b1.refused_duplicate, b0.refused_duplicate);
    assert_eq!(a1.refused_duplicate, a0.refused_duplicate);
    assert_eq!(net.hosts[0].node.stored_bundles(), 45);
    assert_eq!(net.hosts[1].node.stored_bundles(), 45);
}

#[test]
fn without_control_the_same_contact_offers_every_common_bundle() {
    // The baseline the previous test improves on: per-peer history cannot know that b holds
    // the bundles it got through c.
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    common_bundles(&mut net, 0, 1, 2, 40);
    net.connect(0, 1);
    assert_eq!(net.hosts[1].node.counters().refused_duplicate, 40);
}

#[test]
fn reconciliation_marks_what_the_peer_holds_durably() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    common_bundles(&mut net, 0, 1, 2, 5);
    let b: Eid = "dtn://b/".parse().unwrap();
    net.connect_control(0, 1);
    let durable = net.hosts[0].store.durable();
    assert!(
        durable
            .bundles
            .values()
            .all(|(_, meta)| meta.forwarded_to.contains(&b)),
        "every common bundle is remembered as held by b"
    );
    // A later contact without control offers none of them.
    net.connect(0, 1);
    assert_eq!(net.hosts[1].node.counters().refused_duplicate, 0);
}

#[test]
fn a_bundle_its_destination_already_handled_is_released_after_reconciliation() {
    // As when b delivered it and lost power before its ack reached a: b remembers the bundle
    // (a tombstone), a still holds it.
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    let key = net.submit(0, "dtn://b/inbox", "handled at b");
    let id = net.hosts[0].node.table.get(key).unwrap().id.clone();
    let now = net.now;
    net.hosts[1]
        .node
        .discard(now, &id, DtnTime(now.wall.0 + 60_000));
    net.run();

    net.connect_control(0, 1);

    assert_eq!(
        net.hosts[0].node.stored_bundles(),
        0,
        "released, not kept forever"
    );
    assert_eq!(net.hosts[1].node.counters().received, 0, "never sent");
}

#[test]
fn a_contact_between_equal_stores_costs_one_round_trip() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    common_bundles(&mut net, 0, 1, 2, 200);
    net.connect_control(0, 1);
    let (a, b) = (net.hosts[0].node.counters(), net.hosts[1].node.counters());
    assert_eq!(a.control_sent_messages + b.control_sent_messages, 2);
    assert!(a.control_sent_bytes + b.control_sent_bytes < 100);
}

#[test]
fn a_bundle_admitted_during_reconciliation_is_still_offered() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    common_bundles(&mut net, 0, 1, 2, 10);
    let (la, _) = net.connect_control(0, 1);
    net.submit(0, "dtn://z/far", "after the snapshot");
    assert_eq!(net.hosts[1].node.stored_bundles(), 11);
    net.disconnect(0, la);
}

#[test]
fn a_malformed_control_message_falls_back_to_history() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.submit(1, "dtn://z/far", "must still flow");
    // b (the responder) is told the link is control-capable, then gets garbage from "a".
    let now = net.now;
    let node = &mut net.hosts[1].node;
    node.handle(
        now,
        Input::LinkUp {
            link: LinkId(7),
            peer: Some("dtn://a/".parse().unwrap()),
        },
    );
    node.handle(now, Input::ControlReady { link: LinkId(7) });
    let before: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(
        !before.iter().any(|o| matches!(o, Output::Transmit { .. })),
        "offers wait for reconciliation"
    );
    node.handle(
        now,
        Input::Control {
            link: LinkId(7),
            bytes: Bytes::from_static(&[0x83, 0x01, 0x00, 0x9b]),
        },
    );
    let after: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(after.iter().any(|o| matches!(
        o,
        Output::Report(Report::ControlFailed {
            error: ControlFailure::Malformed(_),
            ..
        })
    )));
    assert!(after.iter().any(|o| matches!(o, Output::Transmit { .. })));
}

#[test]
fn an_out_of_protocol_answer_falls_back_to_history() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.submit(1, "dtn://z/far", "must still flow");
    let now = net.now;
    let node = &mut net.hosts[1].node;
    node.handle(
        now,
        Input::LinkUp {
            link: LinkId(7),
            peer: Some("dtn://a/".parse().unwrap()),
        },
    );
    node.handle(now, Input::ControlReady { link: LinkId(7) });
    while node.poll_output().is_some() {}
    // A want list for ids b never sent.
    let bogus = ControlMessage::Recon(vec![ReconItem {
        upper: DIGEST_END,
        body: ReconBody::Want { ids: vec![42] },
    }]);
    node.handle(
        now,
        Input::Control {
            link: LinkId(7),
            bytes: Bytes::from(bogus.encode()),
        },
    );
    let after: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(after.iter().any(|o| matches!(
        o,
        Output::Report(Report::ControlFailed {
            error: ControlFailure::Protocol(_),
            ..
        })
    )));
    assert!(after.iter().any(|o| matches!(o, Output::Transmit { .. })));
}

#[test]
fn a_silent_peer_times_out_to_history() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.submit(0, "dtn://z/far", "must still flow");
    let now = net.now;
    let node = &mut net.hosts[0].node;
    node.handle(
        now,
        Input::LinkUp {
            link: LinkId(3),
            peer: Some("dtn://b/".parse().unwrap()),
        },
    );
    node.handle(now, Input::ControlReady { link: LinkId(3) });
    let first: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(first.iter().any(|o| matches!(o, Output::Control { .. })));
    assert!(!first.iter().any(|o| matches!(o, Output::Transmit { .. })));
    let deadline = node.poll_timeout().unwrap();
    assert_eq!(deadline, now.mono.saturating_add(RECON_TIMEOUT));
    let later = Now::new(
        deadline,
        DtnTime(now.wall.0 + RECON_TIMEOUT.as_millis() as u64),
    );
    node.handle(later, Input::Timeout);
    let after: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(after.iter().any(|o| matches!(
        o,
        Output::Report(Report::ControlFailed {
            error: ControlFailure::TimedOut,
            ..
        })
    )));
    assert!(after.iter().any(|o| matches!(o, Output::Transmit { .. })));
}

#[test]
fn a_hostile_flood_of_fingerprints_is_cut_off() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    for i in 0..50 {
        net.submit(1, "dtn://z/far", &format!("b's {i}"));
    }
    let now = net.now;
    let node = &mut net.hosts[1].node;
    node.handle(
        now,
        Input::LinkUp {
            link: LinkId(7),
            peer: Some("dtn://a/".parse().unwrap()),
        },
    );
    node.handle(now, Input::ControlReady { link: LinkId(7) });
    // A peer that never agrees: the same mismatching fingerprint, over and over.
    let bogus = Bytes::from(
        ControlMessage::Recon(vec![ReconItem {
            upper: DIGEST_END,
            body: ReconBody::Fingerprint {
                fingerprint: 1,
                count: 1,
            },
        }])
        .encode(),
    );
    let mut failed = false;
    for _ in 0..200 {
        node.handle(
            now,
            Input::Control {
                link: LinkId(7),
                bytes: bogus.clone(),
            },
        );
        for out in std::iter::from_fn(|| node.poll_output()) {
            if let Output::Report(Report::ControlFailed {
                error: ControlFailure::Protocol(_),
                ..
            }) = out
            {
                failed = true;
            }
        }
    }
    assert!(failed, "reconciliation gives up within its round limit");
    assert!(node.counters().control_sent_messages <= 65);
}

#[test]
fn prophet_forwards_to_the_peer_that_meets_the_destination() {
    let mut net = Net::new(&["a", "b", "c", "d"], RouterKind::Prophet);
    let (l, _) = net.connect_control(1, 2); // b meets c
    net.disconnect(1, l);
    net.submit(0, "dtn://c/inbox", "for c");
    let (l, _) = net.connect_control(0, 3); // d never met c: keeps nothing
    net.disconnect(0, l);
    assert_eq!(net.hosts[3].node.stored_bundles(), 0);
    net.connect_control(0, 1); // b is better placed
    assert_eq!(net.hosts[1].node.stored_bundles(), 1);
}

#[test]
fn prophet_state_survives_a_restart() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Prophet);
    let (l, _) = net.connect_control(1, 2); // b meets c
    net.disconnect(1, l);
    assert!(net.hosts[1].store.durable().router_state.is_some());
    net.restart(1, RouterKind::Prophet);
    net.submit(0, "dtn://c/inbox", "for c");
    net.connect_control(0, 1);
    assert_eq!(
        net.hosts[1].node.stored_bundles(),
        1,
        "b's restored predictability for c makes a forward to it"
    );
}

#[test]
fn prophet_without_control_hands_bundles_only_to_their_destination() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Prophet);
    let (l, _) = net.connect(1, 2);
    net.disconnect(1, l);
    net.submit(0, "dtn://c/inbox", "for c");
    net.connect(0, 1);
    assert_eq!(net.hosts[1].node.stored_bundles(), 0);
}

#[test]
fn a_peer_flooding_router_messages_is_heard_only_a_few_times() {
    let mut net = Net::new(&["a", "b"], RouterKind::Prophet);
    let now = net.now;
    let node = &mut net.hosts[1].node;
    node.handle(
        now,
        Input::LinkUp {
            link: LinkId(7),
            peer: Some("dtn://a/".parse().unwrap()),
        },
    );
    node.handle(now, Input::ControlReady { link: LinkId(7) });
    while node.poll_output().is_some() {}
    let mut state_writes = 0;
    for i in 0..20 {
        // Each names a new, well-known node: every one heard changes b's table.
        let summary = ControlMessage::Predictabilities(vec![(
            format!("dtn://n{i:02}/").parse().unwrap(),
            u16::MAX,
        )]);
        node.handle(
            now,
            Input::Control {
                link: LinkId(7),
                bytes: Bytes::from(summary.encode()),
            },
        );
        state_writes += std::iter::from_fn(|| node.poll_output())
            .filter(|o| matches!(o, Output::Store(StoreOp::PutRouterState { .. })))
            .count();
    }
    assert_eq!(state_writes, 4);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whatever the overlap, one reconciled contact leaves both nodes holding the union, with
    /// no bundle sent to a node that had it.
    #[test]
    fn a_reconciled_contact_exchanges_exactly_the_difference(
        common in 0usize..60,
        only_a in 0usize..12,
        only_b in 0usize..12,
    ) {
        let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
        common_bundles(&mut net, 0, 1, 2, common);
        for i in 0..only_a {
            net.submit(0, "dtn://z/far", &format!("a {i}"));
        }
        for i in 0..only_b {
            net.submit(1, "dtn://z/far", &format!("b {i}"));
        }
        let (a0, b0) = (net.hosts[0].node.counters(), net.hosts[1].node.counters());
        net.connect_control(0, 1);
        let (a1, b1) = (net.hosts[0].node.counters(), net.hosts[1].node.counters());
        proptest::prop_assert_eq!(b1.received - b0.received, only_a as u64);
        proptest::prop_assert_eq!(a1.received - a0.received, only_b as u64);
        let union = common + only_a + only_b;
        proptest::prop_assert_eq!(net.hosts[0].node.stored_bundles(), union);
        proptest::prop_assert_eq!(net.hosts[1].node.stored_bundles(), union);
    }
}
