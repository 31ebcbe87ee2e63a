//! Single-node stories about what is stored: restarting from persisted indices (no bundle bytes
//! are needed, and what the node knows after a restart is what it knew before), and admissions
//! that evict.

use super::*;
use crate::wire::fragment::fragment;
use crate::wire::{BundleBuilder, CreationTimestamp};

/// A node `name` beside its store, driven by hand: every output applied, every put flushed and
/// reported durable.
struct Solo {
    node: Node,
    store: MemStore,
    delivered: Vec<Bundle>,
    now: Now,
    next_rx: u64,
}

impl Solo {
    fn new(name: &str) -> Self {
        Self::with_config(Config::new(format!("dtn://{name}/").parse().unwrap()))
    }

    fn with_config(config: Config) -> Self {
        let now = Now::new(Instant::from_millis(0), DtnTime(T0));
        Self {
            node: Node::new(config, 7, now, Restored::default()),
            store: MemStore::new(),
            delivered: Vec::new(),
            now,
            next_rx: 1,
        }
    }

    fn settle(&mut self) {
        loop {
            while let Some(out) = self.node.poll_output() {
                match out {
                    Output::Store(op) => self.store.apply(op),
                    Output::Deliver { key, .. } => {
                        let bytes = self.store.bundle(key).unwrap();
                        self.delivered.push(Bundle::decode(bytes).unwrap());
                    }
                    _ => {}
                }
            }
            let keys = self.store.flush();
            if keys.is_empty() {
                return;
            }
            for key in keys {
                self.node.handle(self.now, Input::Stored { key });
            }
        }
    }

    fn receive(&mut self, bundle: &Bundle) {
        let rx = RxId(self.next_rx);
        self.next_rx += 1;
        let bytes = Bytes::from(bundle.encode());
        let input = Input::Received {
            link: LinkId(1),
            rx,
            bytes,
        };
        self.node.handle(self.now, input);
        self.settle();
    }

    fn restart(&mut self, config: Config) {
        self.node = Node::new(config, 7, self.now, self.store.restored());
        self.settle();
    }
}

fn eid(text: &str) -> Eid {
    text.parse().unwrap()
}

fn ts(seq: u64) -> CreationTimestamp {
    CreationTimestamp::new(DtnTime(T0 - 10), seq)
}

#[test]
fn restored_bundles_carry_no_bytes_and_the_node_knows_what_it_knew() {
    let mut solo = Solo::new("a");
    let mut alert = Submit::new(eid("dtn://z/alerts"), b"quake".to_vec());
    alert.priority = Priority::Emergency;
    alert.hop_limit = Some(4);
    alert.report_to = Some(eid("dtn://a/reports"));
    alert.flags = BundleFlags::REPORT_DELIVERY;
    solo.node.submit(solo.now, alert).unwrap();
    let relayed = BundleBuilder::new(eid("dtn://c/app"), eid("dtn://z/far"), ts(3), 60_000)
        .bundle_age(2_500)
        .payload(vec![9u8; 300])
        .build()
        .unwrap();
    solo.receive(&relayed);
    let before: Vec<BundleSummary> = solo.node.bundles().collect();

    let restored = solo.store.restored();
    assert_eq!(restored.bundles.len(), 2);
    assert!(restored.bundles.iter().all(|b| b.bytes.is_none()));
    solo.restart(Config::new(eid("dtn://a/")));

    let after: Vec<BundleSummary> = solo.node.bundles().collect();
    assert_eq!(after, before);
    assert_eq!(after[0].priority, Priority::Emergency);
    assert_eq!(after[1].expires, DtnTime(T0 - 10 + 60_000));
}

#[test]
fn next_submission_after_a_restart_takes_a_new_creation_timestamp() {
    let mut solo = Solo::new("a");
    let first = Submit::new(eid("dtn://z/x"), b"one".to_vec());
    solo.node.submit(solo.now, first).unwrap();
    solo.settle();
    solo.restart(Config::new(eid("dtn://a/")));

    let second = Submit::new(eid("dtn://z/x"), b"two".to_vec());
    solo.node.submit(solo.now, second).unwrap();
    let creations: Vec<CreationTimestamp> = solo.node.bundles().map(|b| b.creation).collect();
    assert_eq!(
        creations,
        vec![
            CreationTimestamp::new(DtnTime(T0), 0),
            CreationTimestamp::new(DtnTime(T0), 1)
        ]
    );
}

#[test]
fn local_fragment_comes_back_with_bytes_and_completes_its_bundle_after_a_restart() {
    let mut solo = Solo::new("b");
    solo.node.register(eid("dtn://b/inbox")).unwrap();
    solo.settle();
    let whole = BundleBuilder::new(eid("dtn://c/app"), eid("dtn://b/inbox"), ts(1), 60_000)
        .payload(vec![5u8; 400])
        .build()
        .unwrap();
    let parts = fragment(&whole, 300).unwrap();
    assert!(parts.len() >= 2);
    solo.receive(&parts[0]);

    let restored = solo.store.restored();
    assert!(restored.bundles[0].bytes.is_some(), "a local fragment");
    solo.restart(Config::new(eid("dtn://b/")));
    for part in &parts[1..] {
        solo.receive(part);
    }

    assert_eq!(solo.delivered.len(), 1);
    assert_eq!(solo.delivered[0].payload(), whole.payload());
}

#[test]
fn relayed_fragment_comes_back_without_bytes() {
    let mut solo = Solo::new("b");
    let whole = BundleBuilder::new(eid("dtn://c/app"), eid("dtn://z/far"), ts(1), 60_000)
        .payload(vec![5u8; 400])
        .build()
        .unwrap();
    let parts = fragment(&whole, 300).unwrap();
    solo.receive(&parts[0]);

    let restored = solo.store.restored();
    assert_eq!(restored.bundles.len(), 1);
    assert!(restored.bundles[0].bytes.is_none());
}

#[test]
fn bundle_over_a_lowered_size_limit_is_deleted_on_restore() {
    let mut solo = Solo::new("a");
    let submit = Submit::new(eid("dtn://z/x"), vec![1u8; 500]);
    let key = solo.node.submit(solo.now, submit).unwrap();
    solo.settle();

    let mut config = Config::new(eid("dtn://a/"));
    config.limits.max_bundle_size = 200;
    solo.restart(config);

    assert_eq!(solo.node.stored_bundles(), 0);
    assert!(solo.store.bundle(key).is_none());
}

#[test]
fn index_survives_a_serde_round_trip_with_unknown_flag_bits() {
    let bundle = BundleBuilder::new(eid("ipn:3.1"), eid("ipn:4.2"), ts(9), 1_000)
        .hop_limit(3)
        .payload(b"x".to_vec())
        .build()
        .unwrap();
    let mut index = BundleIndex::of(&bundle, 77);
    index.flags |= BundleFlags::from_bits_retain(1 << 40);

    let text = serde_json::to_string(&index).unwrap();
    let back: BundleIndex = serde_json::from_str(&text).unwrap();

    assert_eq!(back, index);
    assert!(back.has_hop_count);
    assert_eq!(
        (back.size, back.payload_len, back.lifetime_ms),
        (77, 1, 1_000)
    );
}

#[test]
fn deletion_report_of_an_evicted_bundle_never_takes_the_room_made_for_the_evicting_one() {
    let relay = BundleBuilder::new(eid("dtn://c/app"), eid("dtn://z/far"), ts(1), 60_000)
        .report_to(eid("dtn://c/reports"))
        .flags(BundleFlags::REPORT_DELETION)
        .previous_node(eid("dtn://c/"))
        .payload(vec![1u8; 200])
        .build()
        .unwrap();
    let relay_size = relay.encode().len() as u64;
    let mut config = Config::new(eid("dtn://a/"));
    config.storage_quota = relay_size;
    config.storage_shares = StorageShares {
        bulk_max_percent: 100,
        normal_max_percent: 100,
        high_max_percent: 100,
        emergency_reserve_percent: 0,
    };
    let mut solo = Solo::with_config(config);
    solo.receive(&relay);
    assert_eq!(solo.node.stored_bytes(), relay_size);

    // Fills the quota but for a few bytes: too few for the deletion report that evicting the
    // relay copy asks for.
    let own = Submit::new(eid("dtn://z/x"), vec![2u8; 170]);
    solo.node.submit(solo.now, own).unwrap();
    solo.settle();

    assert!(solo.node.stored_bytes() <= relay_size);
    assert_eq!(solo.node.counters().evicted, 1);
    assert_eq!(
        solo.node.stored_bundles(),
        1,
        "the report did not fit and was dropped"
    );
}
