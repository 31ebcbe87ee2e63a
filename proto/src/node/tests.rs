//! Engine tests in virtual time: several nodes, in-memory stores, instant links. No sockets, no
//! sleeps; a test jumps the clock by setting `now`.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::store::MemStore;
use super::*;
use crate::wire::admin::{AdminRecord, StatusKind};
use crate::wire::{Bundle, BundleFlags};

const T0: u64 = 800_000_000_000; // a wall time in 2025, in DTN ms

#[derive(Debug)]
struct Host {
    node: Node,
    store: MemStore,
    delivered: Vec<(Eid, Bundle)>,
    /// Flush the store automatically (durable at once).
    auto_flush: bool,
}

#[derive(Debug)]
enum Event {
    Received {
        host: usize,
        link: LinkId,
        rx: RxId,
        bytes: Bytes,
    },
    Transmitted {
        host: usize,
        token: TxToken,
        outcome: TxOutcome,
    },
    Control {
        host: usize,
        link: LinkId,
        bytes: Bytes,
    },
}

#[derive(Debug)]
struct Net {
    hosts: Vec<Host>,
    now: Now,
    /// (host, link) → (peer host, peer's link id for the same contact).
    links: BTreeMap<(usize, LinkId), (usize, LinkId)>,
    /// (receiving host, rx) → (sending host, token).
    transfers: BTreeMap<(usize, RxId), (usize, TxToken)>,
    events: VecDeque<Event>,
    next_link: u64,
    next_rx: u64,
}

impl Net {
    fn new(names: &[&str], router: RouterKind) -> Self {
        let now = Now::new(Instant::from_millis(0), DtnTime(T0));
        let hosts = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut config = Config::new(format!("dtn://{name}/").parse().unwrap());
                config.router = router.clone();
                Host {
                    node: Node::new(config, i as u64, now, Restored::default()),
                    store: MemStore::new(),
                    delivered: Vec::new(),
                    auto_flush: true,
                }
            })
            .collect();
        Self {
            hosts,
            now,
            links: BTreeMap::new(),
            transfers: BTreeMap::new(),
            events: VecDeque::new(),
            next_link: 1,
            next_rx: 1,
        }
    }

    fn id(&self, h: usize) -> Eid {
        self.hosts[h].node.node_id().clone()
    }

    fn advance_ms(&mut self, ms: u64) {
        self.now.mono = self
            .now
            .mono
            .saturating_add(std::time::Duration::from_millis(ms));
        self.now.wall = DtnTime(self.now.wall.0 + ms);
        for h in 0..self.hosts.len() {
            let now = self.now;
            self.hosts[h].node.handle(now, Input::Timeout);
        }
        self.run();
    }

    fn connect(&mut self, a: usize, b: usize) -> (LinkId, LinkId) {
        let la = LinkId(self.next_link);
        let lb = LinkId(self.next_link + 1);
        self.next_link += 2;
        self.links.insert((a, la), (b, lb));
        self.links.insert((b, lb), (a, la));
        let (ida, idb, now) = (self.id(a), self.id(b), self.now);
        self.hosts[a].node.handle(
            now,
            Input::LinkUp {
                link: la,
                peer: Some(idb),
            },
        );
        self.hosts[b].node.handle(
            now,
            Input::LinkUp {
                link: lb,
                peer: Some(ida),
            },
        );
        self.run();
        (la, lb)
    }

    fn disconnect(&mut self, a: usize, la: LinkId) {
        if let Some((b, lb)) = self.links.remove(&(a, la)) {
            self.links.remove(&(b, lb));
            let now = self.now;
            self.hosts[a].node.handle(now, Input::LinkDown { link: la });
            self.hosts[b].node.handle(now, Input::LinkDown { link: lb });
        }
        self.run();
    }

    fn submit(&mut self, h: usize, dst: &str, payload: &str) -> BundleKey {
        let now = self.now;
        let key = self.hosts[h]
            .node
            .submit(
                now,
                Submit::new(dst.parse().unwrap(), payload.as_bytes().to_vec()),
            )
            .unwrap();
        self.run();
        key
    }

    fn register(&mut self, h: usize, endpoint: &str) {
        self.hosts[h]
            .node
            .register(endpoint.parse().unwrap())
            .unwrap();
        self.run();
    }

    /// Carries out every output and event until nothing moves. Bounded.
    fn run(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            for h in 0..self.hosts.len() {
                moved |= self.drain(h);
            }
            if let Some(ev) = self.events.pop_front() {
                moved = true;
                let now = self.now;
                match ev {
                    Event::Received {
                        host,
                        link,
                        rx,
                        bytes,
                    } => {
                        self.hosts[host]
                            .node
                            .handle(now, Input::Received { link, rx, bytes });
                    }
                    Event::Transmitted {
                        host,
                        token,
                        outcome,
                    } => {
                        self.hosts[host]
                            .node
                            .handle(now, Input::Transmitted { token, outcome });
                    }
                    Event::Control { host, link, bytes } => {
                        self.hosts[host]
                            .node
                            .handle(now, Input::Control { link, bytes });
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("network did not settle");
    }

    fn drain(&mut self, h: usize) -> bool {
        let mut moved = false;
        while let Some(out) = self.hosts[h].node.poll_output() {
            moved = true;
            match out {
                Output::Store(op) => self.hosts[h].store.apply(op),
                Output::Transmit {
                    link,
                    token,
                    key,
                    rewrite,
                } => {
                    let Some(&(peer, peer_link)) = self.links.get(&(h, link)) else {
                        self.events.push_back(Event::Transmitted {
                            host: h,
                            token,
                            outcome: TxOutcome::Failed,
                        });
                        continue;
                    };
                    let bytes = self.hosts[h].store.bundle(key).unwrap();
                    let mut bundle = Bundle::decode(bytes).unwrap();
                    rewrite.apply(&mut bundle);
                    let rx = RxId(self.next_rx);
                    self.next_rx += 1;
                    self.transfers.insert((peer, rx), (h, token));
                    self.events.push_back(Event::Received {
                        host: peer,
                        link: peer_link,
                        rx,
                        bytes: Bytes::from(bundle.encode()),
                    });
                }
                Output::Accept { rx, .. } => {
                    if let Some((sender, token)) = self.transfers.remove(&(h, rx)) {
                        self.events.push_back(Event::Transmitted {
                            host: sender,
                            token,
                            outcome: TxOutcome::Accepted,
                        });
                    }
                }
                Output::Refuse { rx, reason, .. } => {
                    if let Some((sender, token)) = self.transfers.remove(&(h, rx)) {
                        self.events.push_back(Event::Transmitted {
                            host: sender,
                            token,
                            outcome: TxOutcome::Refused(reason),
                        });
                    }
                }
                Output::Deliver { endpoint, key } => {
                    let bytes = self.hosts[h].store.bundle(key).unwrap();
                    let bundle = Bundle::decode(bytes).unwrap();
                    self.hosts[h].delivered.push((endpoint, bundle));
                }
                Output::Report(_) => {}
                Output::Control { link, message } => {
                    // Control messages travel in order on the link, like bundles (see
                    // `control::Net::connect_control`); on a link that is gone they are lost.
                    if let Some(&(peer, peer_link)) = self.links.get(&(h, link)) {
                        self.events.push_back(Event::Control {
                            host: peer,
                            link: peer_link,
                            bytes: message,
                        });
                    }
                }
            }
        }
        if self.hosts[h].auto_flush {
            let keys = self.hosts[h].store.flush();
            let now = self.now;
            for key in keys {
                moved = true;
                self.hosts[h].node.handle(now, Input::Stored { key });
            }
        }
        moved
    }

    fn payloads(&self, h: usize) -> Vec<String> {
        self.hosts[h]
            .delivered
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b.payload()).into_owned())
            .collect()
    }
}

#[test]
fn bundle_reaches_a_neighbour_and_is_delivered_once() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.register(1, "dtn://b/inbox");
    net.submit(0, "dtn://b/inbox", "hello");
    net.connect(0, 1);
    assert_eq!(net.payloads(1), ["hello"]);
    // Delivered singleton bundles leave both stores: b delivered it, a handed it to b.
    assert_eq!(net.hosts[1].node.stored_bundles(), 0);
    assert_eq!(net.hosts[0].node.stored_bundles(), 0);
}

#[test]
fn epidemic_carries_a_bundle_across_a_partition() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    net.register(2, "dtn://c/inbox");
    net.submit(0, "dtn://c/inbox", "over the gap");
    let (l, _) = net.connect(0, 1);
    net.disconnect(0, l);
    assert!(net.payloads(2).is_empty());
    net.advance_ms(60_000);
    net.connect(1, 2);
    assert_eq!(net.payloads(2), ["over the gap"]);
}

#[test]
fn direct_delivery_never_uses_a_relay() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Direct);
    net.register(2, "dtn://c/inbox");
    net.submit(0, "dtn://c/inbox", "x");
    net.connect(0, 1);
    assert_eq!(net.hosts[1].node.stored_bundles(), 0);
    net.connect(0, 2);
    assert_eq!(net.payloads(2), ["x"]);
}

#[test]
fn a_bundle_is_never_offered_twice_to_the_same_peer() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.submit(0, "dtn://z/far", "relay me");
    let (l, _) = net.connect(0, 1);
    assert_eq!(net.hosts[0].node.counters().forwarded, 1);
    net.disconnect(0, l);
    net.connect(0, 1);
    // Second contact: a knows b has it, b knows it came from a.
    assert_eq!(net.hosts[0].node.counters().forwarded, 1);
    assert_eq!(net.hosts[1].node.counters().received, 1);
}

#[test]
fn duplicate_from_another_path_is_refused_and_not_redelivered() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    net.register(2, "dtn://c/inbox");
    net.submit(0, "dtn://c/inbox", "once");
    net.connect(0, 1); // b carries a copy
    net.connect(0, 2); // c gets it from a
    net.connect(1, 2); // b offers it again
    assert_eq!(net.payloads(2), ["once"]);
    assert_eq!(net.hosts[2].node.counters().refused_duplicate, 1);
}

#[test]
fn group_bundle_is_delivered_everywhere_and_keeps_spreading() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    net.register(1, "dtn://alerts/~flood");
    net.register(2, "dtn://alerts/~flood");
    net.submit(0, "dtn://alerts/~flood", "evacuate");
    net.connect(0, 1);
    net.connect(1, 2);
    assert_eq!(net.payloads(1), ["evacuate"]);
    assert_eq!(net.payloads(2), ["evacuate"]);
    assert_eq!(
        net.hosts[1].node.stored_bundles(),
        1,
        "b keeps carrying the alert"
    );
}

#[test]
fn expired_bundle_is_deleted_and_not_forwarded() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    let now = net.now;
    let mut req = Submit::new("dtn://b/inbox".parse().unwrap(), &b"late"[..]);
    req.lifetime_ms = 1_000;
    net.hosts[0].node.submit(now, req).unwrap();
    net.run();
    let deadline = net.hosts[0].node.poll_timeout().unwrap();
    assert_eq!(deadline, Instant::from_millis(1_000));
    net.advance_ms(1_000);
    assert_eq!(net.hosts[0].node.stored_bundles(), 0);
    assert_eq!(net.hosts[0].node.counters().expired, 1);
    net.register(1, "dtn://b/inbox");
    net.connect(0, 1);
    assert!(net.payloads(1).is_empty());
}

#[test]
fn previous_node_and_hop_count_are_rewritten_on_forwarding() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    let now = net.now;
    let mut req = Submit::new("dtn://c/inbox".parse().unwrap(), &b"aged"[..]);
    req.hop_limit = Some(5);
    net.hosts[0].node.submit(now, req).unwrap();
    net.run();
    net.connect(0, 1);
    net.advance_ms(2_500);
    net.register(2, "dtn://c/inbox");
    net.connect(1, 2);
    let (_, b) = &net.hosts[2].delivered[0];
    assert_eq!(b.previous_node(), Some(&"dtn://b/".parse().unwrap()));
    assert_eq!(b.hop_count().unwrap().count, 2);
}

#[test]
fn hop_limit_exceeded_is_refused() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    let now = net.now;
    let mut req = Submit::new("dtn://c/inbox".parse().unwrap(), &b"short"[..]);
    req.hop_limit = Some(1);
    net.hosts[0].node.submit(now, req).unwrap();
    net.run();
    net.connect(0, 1); // count 1: allowed
    net.register(2, "dtn://c/inbox");
    net.connect(1, 2); // count 2 > limit 1
    assert!(net.payloads(2).is_empty());
    assert_eq!(net.hosts[2].node.counters().refused_invalid, 1);
}

#[test]
fn transfer_is_accepted_only_after_the_store_is_durable() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.hosts[1].auto_flush = false;
    net.submit(0, "dtn://z/x", "durable first");
    net.connect(0, 1);
    assert_eq!(
        net.hosts[0].node.counters().forwarded,
        0,
        "no ack before flush"
    );
    let keys = net.hosts[1].store.flush();
    let now = net.now;
    for key in keys {
        net.hosts[1].node.handle(now, Input::Stored { key });
    }
    net.run();
    assert_eq!(net.hosts[0].node.counters().forwarded, 1);
}

#[test]
fn restart_recovers_bundles_registrations_and_peer_history() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.register(0, "dtn://a/inbox");
    net.submit(0, "dtn://z/far", "keep me");
    net.connect(0, 1);
    let restored = net.hosts[0].store.restored();
    assert_eq!(restored.bundles.len(), 1);
    let config = Config::new("dtn://a/".parse().unwrap());
    let node = Node::new(config, 0, net.now, restored);
    assert_eq!(node.stored_bundles(), 1);
    assert_eq!(node.registrations().count(), 1);
    let b = node.bundles().next().unwrap();
    assert_eq!(b.forwarded_to, vec!["dtn://b/".parse::<Eid>().unwrap()]);
}

#[test]
fn crash_loses_only_what_was_never_acknowledged() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.hosts[1].auto_flush = false;
    net.submit(0, "dtn://z/x", "maybe");
    net.connect(0, 1);
    net.hosts[1].store.crash();
    assert_eq!(net.hosts[0].node.counters().forwarded, 0);
    assert_eq!(net.hosts[1].store.restored().bundles.len(), 0);
    assert_eq!(
        net.hosts[0].node.stored_bundles(),
        1,
        "the sender still holds it"
    );
}

#[test]
fn storage_quota_refuses_new_bundles_and_keeps_old_ones() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    let mut config = Config::new("dtn://b/".parse().unwrap());
    config.storage_quota = 300;
    net.hosts[1].node = Node::new(config, 1, net.now, Restored::default());
    for i in 0..5 {
        net.submit(
            0,
            "dtn://z/x",
            &format!("bundle number {i} with some padding text"),
        );
    }
    net.connect(0, 1);
    let b = &net.hosts[1].node;
    assert!(b.stored_bytes() <= 300);
    assert!(b.counters().refused_storage > 0);
    assert_eq!(b.stored_bundles() as u64, b.counters().admitted);
}

#[test]
fn malformed_bytes_are_refused_and_reported() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    let (_, lb) = net.connect(0, 1);
    let now = net.now;
    net.hosts[1].node.handle(
        now,
        Input::Received {
            link: lb,
            rx: RxId(99),
            bytes: Bytes::from_static(&[0x9f, 0x88, 0x07]),
        },
    );
    let outs: Vec<Output> = std::iter::from_fn(|| net.hosts[1].node.poll_output()).collect();
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Report(Report::Malformed { .. })))
    );
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Refuse {
            rx: RxId(99),
            reason: RefuseReason::NotAcceptable,
            ..
        }
    )));
}

#[test]
fn delivery_report_goes_back_to_report_to() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.register(0, "dtn://a/reports");
    net.register(1, "dtn://b/inbox");
    let now = net.now;
    let mut req = Submit::new("dtn://b/inbox".parse().unwrap(), &b"tell me"[..]);
    req.report_to = Some("dtn://a/reports".parse().unwrap());
    req.flags = BundleFlags::REPORT_DELIVERY;
    net.hosts[0].node.submit(now, req).unwrap();
    net.run();
    net.connect(0, 1);
    let (_, report) = &net.hosts[0].delivered[0];
    assert!(report.primary().flags.contains(BundleFlags::ADMIN_RECORD));
    let AdminRecord::StatusReport(r) = AdminRecord::decode(report.payload()).unwrap();
    assert!(r.assertion(StatusKind::Delivered).is_asserted());
    assert_eq!(r.source, "dtn://a/".parse().unwrap());
}

#[test]
fn creation_timestamps_are_unique_within_a_millisecond() {
    let mut net = Net::new(&["a"], RouterKind::Epidemic);
    net.submit(0, "dtn://z/x", "1");
    net.submit(0, "dtn://z/x", "2");
    let c: Vec<_> = net.hosts[0].node.bundles().map(|b| b.creation).collect();
    assert_eq!(c[0].time, c[1].time);
    assert_ne!(c[0].sequence, c[1].sequence);
}

#[test]
fn own_submission_evicts_relay_copies_but_never_the_only_copy() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    let mut config = Config::new("dtn://b/".parse().unwrap());
    config.storage_quota = 400;
    net.hosts[1].node = Node::new(config, 1, net.now, Restored::default());
    for i in 0..3 {
        net.submit(
            0,
            "dtn://z/x",
            &format!("relay copy {i} with padding to take up room"),
        );
    }
    net.connect(0, 1);
    let relayed = net.hosts[1].node.stored_bundles();
    assert!(relayed >= 2, "b carries relay copies");
    // b's own message must fit: relay copies (a still holds them) make way.
    let now = net.now;
    let big = "own message ".repeat(15);
    net.hosts[1]
        .node
        .submit(
            now,
            Submit::new("dtn://z/x".parse().unwrap(), big.into_bytes()),
        )
        .unwrap();
    assert!(net.hosts[1].node.counters().evicted >= 1);
    assert!(net.hosts[1].node.stored_bytes() <= 400);
    // A second own message that only fits by evicting b's first (the only copy) is refused.
    let err = net.hosts[1]
        .node
        .submit(
            now,
            Submit::new("dtn://z/x".parse().unwrap(), "x".repeat(380).into_bytes()),
        )
        .unwrap_err();
    assert!(matches!(err, SubmitError::StorageFull { .. }));
}

#[test]
fn duplicate_refusal_from_the_destination_releases_the_bundle() {
    // b stored the bundle but its ack never reached a (power cut): on the next contact b
    // refuses it as a duplicate, and a must let it go just as if b had acknowledged it.
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.hosts[1].auto_flush = false;
    net.submit(0, "dtn://b/far", "acked late");
    let (la, _) = net.connect(0, 1);
    net.hosts[1].store.flush(); // durable at b, but Stored never reached its node
    let restored = net.hosts[1].store.restored();
    let config = Config::new("dtn://b/".parse().unwrap());
    net.hosts[1].node = Node::new(config, 1, net.now, restored);
    net.hosts[1].auto_flush = true;
    net.disconnect(0, la);
    net.connect(0, 1);
    assert_eq!(net.hosts[1].node.counters().refused_duplicate, 1);
    assert_eq!(net.hosts[0].node.stored_bundles(), 0);
}

#[test]
fn two_links_to_one_peer_carry_each_bundle_once() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.hosts[1].auto_flush = false; // keep transfers in flight
    for i in 0..3 {
        net.submit(0, "dtn://z/x", &format!("once {i}"));
    }
    net.connect(0, 1);
    net.connect(0, 1); // a second session to the same peer
    assert_eq!(net.hosts[1].node.counters().received, 3);
}

mod control;
mod priority;
mod restore;
mod routers;

#[test]
fn bulk_refused_by_its_share_names_the_class_and_the_room_it_had() {
    let mut net = Net::new(&["a"], RouterKind::Epidemic);
    let mut config = Config::new("dtn://a/".parse().unwrap());
    config.storage_quota = 1_000;
    net.hosts[0].node = Node::new(config, 1, net.now, Restored::default());
    let now = net.now;
    let mut bulk = Submit::new("dtn://z/x".parse().unwrap(), "b".repeat(600).into_bytes());
    bulk.priority = Priority::Bulk;
    let err = net.hosts[0].node.submit(now, bulk).unwrap_err();
    let SubmitError::StorageFull {
        used,
        quota,
        needed,
        class,
        available,
    } = err.clone()
    else {
        panic!("expected StorageFull, got {err}");
    };
    // The store is empty, so only bulk's 50 % share can have refused it.
    assert_eq!((used, quota, class), (0, 1_000, Priority::Bulk));
    assert_eq!(available, 500);
    assert!(needed > 600);
    assert!(
        err.to_string().starts_with("storage full for bulk bundles"),
        "{err}"
    );
}

#[test]
fn a_discarded_bundle_is_deleted_and_a_later_copy_is_refused() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    net.submit(0, "dtn://z/x", "evacuate the school");
    net.connect(0, 1);
    let summary = net.hosts[0].node.bundles().next().unwrap();
    let id = BundleId {
        source: summary.source.clone(),
        creation: summary.creation,
        fragment: None,
    };
    assert_eq!(net.hosts[1].node.stored_bundles(), 1, "b took a copy");
    // b withdraws it (a cancel arrived); c withdraws it before ever seeing it.
    let now = net.now;
    assert_eq!(net.hosts[1].node.discard(now, &id, summary.expires), 1);
    assert_eq!(net.hosts[2].node.discard(now, &id, summary.expires), 0);
    net.run();
    assert_eq!(net.hosts[1].node.stored_bundles(), 0);
    // a still carries it and offers it to c: c refuses, it was withdrawn there.
    net.connect(0, 2);
    assert_eq!(net.hosts[2].node.stored_bundles(), 0);
    assert!(net.hosts[2].node.counters().refused_duplicate >= 1);
}
