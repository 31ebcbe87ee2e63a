//! The daemon's sled store against the reference semantics in `proto::node::store`.
//!
//! Random sequences of `StoreOp`s go to `StoreState` (the reference) and to a fresh `SledStore`;
//! after a flush, a drop and a reopen, the sled store must restore exactly what the reference
//! does. Keys, EIDs and bundle ids come from small pools so that updates and deletes often hit
//! records that exist, and sometimes ones that don't.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use daemon::store::SledStore;
use proptest::prelude::*;
use proto::node::store::{MemStore, StoreState};
use proto::node::{BundleKey, BundleMeta, Restored, StoreOp};
use proto::wire::{BundleId, CreationTimestamp, DtnTime, Eid};
use tempfile::TempDir;

/// How long a reopen waits for the previous handle's lock (sled releases it on background threads).
const WAIT: Duration = Duration::from_secs(5);

const EIDS: &[&str] = &[
    "dtn:none",
    "ipn:1.0",
    "ipn:2.1",
    "ipn:977.4294967296",
    "ipn:5.1.2",
    "dtn://a/",
    "dtn://node-b/inbox",
    "dtn://node-b/inbox/sub",
];

fn eid() -> impl Strategy<Value = Eid> {
    prop::sample::select(EIDS).prop_map(|text| text.parse().unwrap())
}

fn key() -> impl Strategy<Value = BundleKey> {
    (0u64..8).prop_map(BundleKey)
}

fn bundle_id() -> impl Strategy<Value = BundleId> {
    (
        eid(),
        0u64..3,
        0u64..3,
        prop::option::of((0u64..3, 1u64..3)),
    )
        .prop_map(|(source, time, sequence, fragment)| BundleId {
            source,
            creation: CreationTimestamp {
                time: DtnTime(time),
                sequence,
            },
            fragment,
        })
}

fn meta() -> impl Strategy<Value = BundleMeta> {
    (
        any::<u64>(),
        any::<u64>(),
        prop::option::of(eid()),
        prop::collection::btree_set(eid(), 0..4),
        prop::collection::btree_set(eid(), 0..3),
        prop::option::of(any::<u32>()),
    )
        .prop_map(
            |(received_at, age_at_receipt_ms, from, forwarded_to, delivered_to, copies)| {
                BundleMeta {
                    received_at: DtnTime(received_at),
                    age_at_receipt_ms,
                    from,
                    forwarded_to,
                    delivered_to,
                    copies,
                }
            },
        )
}

fn op() -> impl Strategy<Value = StoreOp> {
    prop_oneof![
        4 => (key(), prop::collection::vec(any::<u8>(), 0..48), meta()).prop_map(
            |(key, bytes, meta)| StoreOp::PutBundle { key, bytes: Bytes::from(bytes), meta }
        ),
        2 => (key(), meta()).prop_map(|(key, meta)| StoreOp::UpdateMeta { key, meta }),
        2 => key().prop_map(|key| StoreOp::DeleteBundle { key }),
        2 => (bundle_id(), any::<u64>())
            .prop_map(|(id, until)| StoreOp::PutTombstone { id, until: DtnTime(until) }),
        1 => bundle_id().prop_map(|id| StoreOp::DeleteTombstone { id }),
        1 => eid().prop_map(|endpoint| StoreOp::PutRegistration { endpoint }),
        1 => eid().prop_map(|endpoint| StoreOp::DeleteRegistration { endpoint }),
    ]
}

type Normal = (
    Vec<(BundleKey, Vec<u8>, BundleMeta)>,
    Vec<(BundleId, DtnTime)>,
    Vec<Eid>,
);

/// `Restored` in a comparable form: the order of each list is the store's business.
fn normal(restored: Restored) -> Normal {
    let mut bundles: Vec<_> = restored
        .bundles
        .into_iter()
        .map(|b| (b.key, b.bytes.to_vec(), b.meta))
        .collect();
    let (mut tombstones, mut registrations) = (restored.tombstones, restored.registrations);
    bundles.sort_by_key(|b| b.0);
    tombstones.sort();
    registrations.sort();
    (bundles, tombstones, registrations)
}

/// Applies `ops` to the store in `dir`, flushes, and closes it.
fn apply_and_close(dir: &TempDir, ops: &[StoreOp]) {
    let store = SledStore::open_waiting(dir.path(), WAIT).unwrap();
    for op in ops {
        store.apply(op).unwrap();
    }
    store.flush().unwrap();
}

fn reopened(dir: &TempDir) -> Normal {
    normal(
        SledStore::open_waiting(dir.path(), WAIT)
            .unwrap()
            .restored()
            .unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sled_store_restores_what_the_reference_restores(
        first in prop::collection::vec(op(), 0..40),
        second in prop::collection::vec(op(), 0..40),
    ) {
        let dir = TempDir::new().unwrap();
        let mut reference = StoreState::default();

        // Two sessions, each ending in flush, drop and reopen: the second one works on a store
        // that was recovered from disk, as a restarted daemon does.
        apply_and_close(&dir, &first);
        first.iter().cloned().for_each(|op| reference.apply(op));
        prop_assert_eq!(reopened(&dir), normal(reference.restored()));

        apply_and_close(&dir, &second);
        second.iter().cloned().for_each(|op| reference.apply(op));
        prop_assert_eq!(reopened(&dir), normal(reference.restored()));
    }
}

#[test]
fn mem_store_after_a_crash_restores_what_sled_holds_after_the_last_flush() {
    let eid = |text: &str| text.parse::<Eid>().unwrap();
    let put = |key: u64| StoreOp::PutBundle {
        key: BundleKey(key),
        bytes: Bytes::from(vec![key as u8; 10]),
        meta: BundleMeta {
            forwarded_to: BTreeSet::from([eid("ipn:2.1")]),
            ..BundleMeta::default()
        },
    };
    let flushed = vec![
        put(1),
        put(2),
        StoreOp::PutRegistration {
            endpoint: eid("ipn:1.1"),
        },
        StoreOp::DeleteBundle { key: BundleKey(1) },
        put(3),
    ];
    let lost = [put(4), StoreOp::DeleteBundle { key: BundleKey(2) }];

    let dir = TempDir::new().unwrap();
    apply_and_close(&dir, &flushed);

    let mut mem = MemStore::new();
    flushed.iter().cloned().for_each(|op| mem.apply(op));
    assert_eq!(mem.flush(), vec![BundleKey(1), BundleKey(2), BundleKey(3)]);
    lost.iter().cloned().for_each(|op| mem.apply(op));
    assert!(
        mem.bundle(BundleKey(4)).is_some(),
        "pending writes are readable"
    );
    mem.crash();

    let restored = reopened(&dir);
    assert_eq!(normal(mem.restored()), restored);
    let keys: Vec<BundleKey> = restored.0.iter().map(|b| b.0).collect();
    assert_eq!(keys, vec![BundleKey(2), BundleKey(3)]);
}
