//! The daemon's sled store against the reference semantics in `proto::node::store`.
//!
//! Random sequences of `StoreOp`s go to `StoreState` (the reference) and to a fresh `SledStore`;
//! after a flush, a drop and a reopen, the sled store must restore exactly what the reference
//! does. Keys, EIDs and bundle ids come from small pools so that updates and deletes often hit
//! records that exist, and sometimes ones that don't. Both stores must hand back each bundle's
//! `BundleIndex` exactly as put, and its bytes under the same rule
//! (`BundleIndex::needs_bytes_on_restore`); the bytes they hold are compared as well.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use daemon::store::SledStore;
use proptest::prelude::*;
use proto::node::store::{MemStore, StoreState};
use proto::node::{BundleIndex, BundleKey, BundleMeta, Restored, StoreOp};
use proto::wire::{BundleFlags, BundleId, CreationTimestamp, DtnTime, Eid, Priority};
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

fn index() -> impl Strategy<Value = BundleIndex> {
    (
        (bundle_id(), eid(), eid(), any::<u64>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        (
            any::<bool>(),
            any::<bool>(),
            0usize..4,
            prop::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |(
                (id, destination, report_to, flags),
                (payload_len, size, lifetime_ms),
                (has_bundle_age, has_hop_count, class, carried_copies),
            )| BundleIndex {
                total_adu_length: id.fragment.map(|(_, len)| len + 1),
                id,
                destination,
                report_to,
                flags: BundleFlags::from_bits_retain(flags),
                payload_len,
                size,
                lifetime_ms,
                has_bundle_age,
                has_hop_count,
                class: Priority::ALL[class],
                carried_copies,
            },
        )
}

/// Bundle bytes: mostly small (kept in sled), sometimes at least `FILE_MIN` (kept as files).
fn bundle_bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..48).prop_map(Bytes::from),
        1 => any::<u8>().prop_map(|b| Bytes::from(vec![b; daemon::store::FILE_MIN + 3])),
    ]
}

fn op() -> impl Strategy<Value = StoreOp> {
    prop_oneof![
        4 => (key(), bundle_bytes(), index(), meta()).prop_map(
            |(key, bytes, index, meta)| StoreOp::PutBundle { key, bytes, index: Box::new(index), meta }
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

/// A restored bundle: key, the bytes its store holds, the bytes restoring handed back (if any),
/// index and metadata.
type NormalBundle = (BundleKey, Vec<u8>, Option<Vec<u8>>, BundleIndex, BundleMeta);

type Normal = (Vec<NormalBundle>, Vec<(BundleId, DtnTime)>, Vec<Eid>);

/// `Restored` in a comparable form: the order of each list is the store's business. `held`
/// reads a bundle's bytes from the store that restored it.
fn normal(restored: Restored, held: impl Fn(BundleKey) -> Bytes) -> Normal {
    let mut bundles: Vec<_> = restored
        .bundles
        .into_iter()
        .map(|b| {
            let bytes = held(b.key).to_vec();
            (b.key, bytes, b.bytes.map(|b| b.to_vec()), b.index, b.meta)
        })
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
    let store = SledStore::open_waiting(dir.path(), WAIT).unwrap();
    normal(store.restored().unwrap(), |key| {
        store.bundle(key).unwrap().unwrap()
    })
}

/// What the reference restores, its bytes read from its maps.
fn expected(reference: &StoreState) -> Normal {
    normal(reference.restored(), |key| {
        reference.bundles[&key].0.clone()
    })
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
        prop_assert_eq!(reopened(&dir), expected(&reference));

        apply_and_close(&dir, &second);
        second.iter().cloned().for_each(|op| reference.apply(op));
        prop_assert_eq!(reopened(&dir), expected(&reference));
    }
}

#[test]
fn mem_store_after_a_crash_restores_what_sled_holds_after_the_last_flush() {
    let eid = |text: &str| text.parse::<Eid>().unwrap();
    let put = |key: u64| StoreOp::PutBundle {
        key: BundleKey(key),
        bytes: Bytes::from(vec![key as u8; 10]),
        index: Box::new(BundleIndex {
            id: BundleId {
                source: eid("ipn:7.1"),
                creation: CreationTimestamp {
                    time: DtnTime(key),
                    sequence: 0,
                },
                fragment: None,
            },
            destination: eid("ipn:1.1"),
            report_to: Eid::Null,
            flags: BundleFlags::empty(),
            total_adu_length: None,
            payload_len: 2,
            size: 10,
            lifetime_ms: 1_000,
            has_bundle_age: false,
            has_hop_count: false,
            class: Priority::Normal,
            carried_copies: None,
        }),
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
    assert_eq!(expected(mem.durable()), restored);
    let keys: Vec<BundleKey> = restored.0.iter().map(|b| b.0).collect();
    assert_eq!(keys, vec![BundleKey(2), BundleKey(3)]);
}
