//! Unit tests of the sled store: layout, atomicity, recovery of damaged records, versioning.

use std::collections::BTreeSet;

use proto::node::store::StoreState;
use proto::wire::{BundleBuilder, BundleFlags, CreationTimestamp, Priority};
use tempfile::TempDir;

use super::*;

const WAIT: Duration = Duration::from_secs(5);

/// Opens the store in `dir`, waiting for a previous handle's lock to go.
fn open(dir: &TempDir) -> SledStore {
    SledStore::open_waiting(dir.path(), WAIT).unwrap()
}

fn eid(text: &str) -> Eid {
    text.parse().unwrap()
}

fn meta(from: &str, forwarded: &[&str]) -> BundleMeta {
    BundleMeta {
        received_at: DtnTime(5_000),
        age_at_receipt_ms: 12,
        from: Some(eid(from)),
        forwarded_to: forwarded.iter().map(|e| eid(e)).collect(),
        delivered_to: BTreeSet::from([eid("ipn:1.7")]),
        copies: None,
    }
}

fn id(seq: u64) -> BundleId {
    BundleId {
        source: eid("dtn://src/app"),
        creation: CreationTimestamp {
            time: DtnTime(777),
            sequence: seq,
        },
        fragment: (seq % 2 == 1).then_some((10, 20)),
    }
}

/// An index as the node would write it for bundle `key` of `size` bytes (odd keys are
/// fragments); stores keep it verbatim, so it need not match the bytes.
fn index(key: u64, size: usize) -> BundleIndex {
    BundleIndex {
        id: id(key),
        destination: eid("dtn://dst/app"),
        report_to: eid("dtn://src/reports"),
        flags: BundleFlags::REPORT_DELIVERY | BundleFlags::from_bits_retain(1 << 50),
        total_adu_length: (key % 2 == 1).then_some(40),
        payload_len: size as u64 / 2,
        size: size as u64,
        lifetime_ms: 60_000,
        has_bundle_age: key.is_multiple_of(3),
        has_hop_count: true,
        class: Priority::Bulk,
        carried_copies: Some(4),
    }
}

fn put(key: u64, bytes: &[u8]) -> StoreOp {
    StoreOp::PutBundle {
        key: BundleKey(key),
        bytes: Bytes::copy_from_slice(bytes),
        index: Box::new(index(key, bytes.len())),
        meta: meta("ipn:2.0", &["ipn:3.0"]),
    }
}

type Normal = (
    Vec<(u64, Vec<u8>, BundleMeta)>,
    Vec<(BundleId, DtnTime)>,
    Vec<Eid>,
);

/// `Restored` in a comparable form, vectors sorted, each bundle's bytes read back from `store`
/// (restoring hands back none).
fn normal(store: &SledStore, r: Restored) -> Normal {
    let mut bundles: Vec<_> = r
        .bundles
        .into_iter()
        .map(|b| {
            let bytes = store.bundle(b.key).unwrap().unwrap();
            (b.key.0, bytes.to_vec(), b.meta)
        })
        .collect();
    let (mut tombstones, mut registrations) = (r.tombstones, r.registrations);
    bundles.sort_by_key(|b| b.0);
    tombstones.sort();
    registrations.sort();
    (bundles, tombstones, registrations)
}

fn sample_ops() -> Vec<StoreOp> {
    vec![
        put(1, b"one"),
        put(2, b"two"),
        put(3, b"three"),
        StoreOp::UpdateMeta {
            key: BundleKey(2),
            meta: meta("dtn://peer/", &["ipn:4.0", "dtn://x/"]),
        },
        StoreOp::UpdateMeta {
            key: BundleKey(99),
            meta: BundleMeta::default(),
        },
        StoreOp::DeleteBundle { key: BundleKey(1) },
        StoreOp::PutTombstone {
            id: id(1),
            until: DtnTime(9_000),
        },
        StoreOp::PutTombstone {
            id: id(2),
            until: DtnTime(9_500),
        },
        StoreOp::DeleteTombstone { id: id(2) },
        StoreOp::PutRegistration {
            endpoint: eid("ipn:1.7"),
        },
        StoreOp::PutRegistration {
            endpoint: eid("dtn://me/inbox"),
        },
        StoreOp::DeleteRegistration {
            endpoint: eid("ipn:1.7"),
        },
    ]
}

fn node_keys(store: &SledStore) -> Vec<Vec<u8>> {
    store
        .node
        .iter()
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect()
}

#[test]
fn applied_and_flushed_ops_restore_the_same_state_after_reopen() {
    let dir = TempDir::new().unwrap();
    let mut reference = StoreState::default();
    {
        let store = open(&dir);
        for op in sample_ops() {
            store.apply(&op).unwrap();
            reference.apply(op);
        }
        store.flush().unwrap();
    }
    let store = open(&dir);
    let restored = normal(&store, store.restored().unwrap());
    let expected: Vec<_> = reference
        .bundles
        .iter()
        .map(|(k, (bytes, meta))| (k.0, bytes.to_vec(), meta.clone()))
        .collect();
    assert_eq!(restored.0, expected);
    let reference = reference.restored();
    assert_eq!(
        (&restored.1, &restored.2),
        (&reference.tombstones, &reference.registrations)
    );
    assert_eq!(restored.0.iter().map(|b| b.0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(restored.1, vec![(id(1), DtnTime(9_000))]);
    assert_eq!(restored.2, vec![eid("dtn://me/inbox")]);
}

#[test]
fn put_bundle_writes_bytes_index_and_meta_and_delete_removes_them_all() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.apply(&put(7, b"seven")).unwrap();
    let mut with_bundle = vec![VERSION_KEY.to_vec()];
    with_bundle.push(bundle_key(BundleKey(7)).to_vec());
    with_bundle.push(meta_key(BundleKey(7)).to_vec());
    with_bundle.push(index_key(BundleKey(7)).to_vec());
    with_bundle.sort();
    assert_eq!(node_keys(&store), with_bundle);
    assert_eq!(
        store.bundle(BundleKey(7)).unwrap(),
        Some(Bytes::from_static(b"seven"))
    );

    store
        .apply(&StoreOp::DeleteBundle { key: BundleKey(7) })
        .unwrap();
    assert_eq!(node_keys(&store), vec![VERSION_KEY.to_vec()]);
    assert_eq!(store.bundle(BundleKey(7)).unwrap(), None);
}

#[test]
fn update_meta_of_a_missing_bundle_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store
        .apply(&StoreOp::UpdateMeta {
            key: BundleKey(3),
            meta: meta("ipn:2.0", &[]),
        })
        .unwrap();
    assert_eq!(node_keys(&store), vec![VERSION_KEY.to_vec()]);
}

#[test]
fn corrupted_meta_restores_the_bundle_with_default_meta() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.apply(&put(4, b"four")).unwrap();
        store.apply(&put(5, b"five")).unwrap();
        store
            .node
            .insert(meta_key(BundleKey(4)), &[0xff, 0xff, 0xff])
            .unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir);
    let (bundles, _, _) = normal(&store, store.restored().unwrap());
    assert_eq!(
        bundles,
        vec![
            (4, b"four".to_vec(), BundleMeta::default()),
            (5, b"five".to_vec(), meta("ipn:2.0", &["ipn:3.0"])),
        ]
    );
}

#[test]
fn bundle_without_meta_is_restored_and_meta_without_bundle_is_dropped() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.apply(&put(1, b"a")).unwrap();
    store.apply(&put(2, b"b")).unwrap();
    store.node.remove(meta_key(BundleKey(1))).unwrap();
    store.node.remove(bundle_key(BundleKey(2))).unwrap();
    let (bundles, _, _) = normal(&store, store.restored().unwrap());
    assert_eq!(bundles, vec![(1, b"a".to_vec(), BundleMeta::default())]);
}

#[test]
fn unreadable_tombstones_and_registrations_are_skipped() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store
        .apply(&StoreOp::PutTombstone {
            id: id(4),
            until: DtnTime(1),
        })
        .unwrap();
    store.node.insert(b"T\xff\xff", &[]).unwrap();
    store.node.insert(b"Rnot an eid", &[]).unwrap();
    let (_, tombstones, registrations) = normal(&store, store.restored().unwrap());
    assert_eq!(tombstones, vec![(id(4), DtnTime(1))]);
    assert!(registrations.is_empty());
}

#[test]
fn unknown_format_version_is_refused_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.node.insert(VERSION_KEY, &7u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
    }
    let err = SledStore::open_waiting(dir.path(), WAIT).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownVersion { found: 7, ref path } if path == dir.path()),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("format version 7"), "{text}");
    assert!(text.contains("only version 3"), "{text}");
}

#[test]
fn records_without_a_version_record_are_refused() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.apply(&put(1, b"x")).unwrap();
        store.node.remove(VERSION_KEY).unwrap();
        store.flush().unwrap();
    }
    let err = SledStore::open_waiting(dir.path(), WAIT).unwrap_err();
    assert!(
        matches!(err, StoreError::BadVersionRecord { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("no format version record"),
        "{err}"
    );
}

#[test]
fn stats_count_bundles_and_their_bytes() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.apply(&put(1, &[0; 100])).unwrap();
    store.apply(&put(2, &[0; 50])).unwrap();
    store.flush().unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.bundles, stats.bundle_bytes), (2, 150));
    assert!(stats.size_on_disk > 0);
}

#[test]
fn opening_a_store_in_use_is_refused_as_locked_naming_the_path() {
    let dir = TempDir::new().unwrap();
    let _held = open(&dir);
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::Locked { ref path } if path == dir.path()),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn describe_key_names_records_for_logs() {
    assert_eq!(describe_key(&bundle_key(BundleKey(12))), "B/b12");
    assert_eq!(describe_key(b"Ripn:1.2"), "R/ipn:1.2");
    assert_eq!(describe_key(b"T\x01\x02"), "T/0102");
}

#[test]
fn apply_flushes_by_itself_once_the_backlog_bound_is_reached() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    // The bound counts record writes: a tombstone is one, a bundle two (bundle and metadata).
    let tombstone = |n: u64| StoreOp::PutTombstone {
        id: id(n),
        until: DtnTime(9),
    };
    for n in 0..MAX_UNFLUSHED_OPS as u64 - 2 {
        store.apply(&tombstone(n)).unwrap();
    }
    assert_eq!(
        store.backlog.ops.load(Ordering::Relaxed),
        MAX_UNFLUSHED_OPS - 2
    );
    store.apply(&put(u64::MAX, b"x")).unwrap();
    assert_eq!(store.backlog.ops.load(Ordering::Relaxed), 0);

    store
        .apply(&put(1 << 40, &vec![0; MAX_UNFLUSHED_BYTES]))
        .unwrap();
    assert_eq!(store.backlog.bytes.load(Ordering::Relaxed), 0);
}

/// The files in the store's file directory.
fn files_in(dir: &TempDir) -> usize {
    std::fs::read_dir(dir.path().join(FILES_DIR))
        .unwrap()
        .count()
}

fn big(seed: u8) -> Vec<u8> {
    (0..FILE_MIN + 1000).map(|i| (i as u8) ^ seed).collect()
}

#[test]
fn large_bundle_is_a_file_and_comes_back_after_reopen() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.apply(&put(3, &big(1))).unwrap();
        store.flush().unwrap();
        assert_eq!(files_in(&dir), 1);
        assert!(store.scan(BUNDLE).unwrap().is_empty());
        assert_eq!(
            store.bundle(BundleKey(3)).unwrap().as_deref(),
            Some(&big(1)[..])
        );
    }
    let store = open(&dir);
    let (bundles, _, _) = normal(&store, store.restored().unwrap());
    assert_eq!(bundles.len(), 1);
    assert_eq!((bundles[0].0, &bundles[0].1), (3, &big(1)));
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.bundles, stats.bundle_bytes),
        (1, big(1).len() as u64)
    );
}

#[test]
fn deleted_bundle_file_is_removed_only_by_the_next_flush() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.apply(&put(3, &big(1))).unwrap();
    store.flush().unwrap();
    store
        .apply(&StoreOp::DeleteBundle { key: BundleKey(3) })
        .unwrap();
    assert_eq!(files_in(&dir), 1, "removal not durable yet: file kept");
    assert_eq!(store.bundle(BundleKey(3)).unwrap(), None);
    store.flush().unwrap();
    assert_eq!(files_in(&dir), 0);
}

#[test]
fn delivered_payload_stays_in_the_bundle_file_after_the_bundle_is_deleted() {
    let dir = TempDir::new().unwrap();
    let app = eid("ipn:1.1");
    let bytes = Bytes::from(big(2));
    let record = MailboxRecord {
        source: eid("ipn:9.1"),
        destination: app.clone(),
        creation: CreationTimestamp {
            time: DtnTime(1),
            sequence: 2,
        },
        payload: bytes.slice(100..bytes.len() - 5),
        admin_record: false,
    };
    let seq = {
        let store = open(&dir);
        store.apply(&put(3, &bytes)).unwrap();
        let mut batch = WriteBatch::default();
        let seq = store
            .stage_delivery(&mut batch, &app, BundleKey(3), &bytes, &record)
            .unwrap();
        store
            .stage(&mut batch, &StoreOp::DeleteBundle { key: BundleKey(3) })
            .unwrap();
        store.commit(batch).unwrap();
        store.flush().unwrap();
        assert_eq!(files_in(&dir), 1, "the mailbox record still refers to it");
        seq
    };
    let store = open(&dir);
    assert_eq!(files_in(&dir), 1);
    let got = store.mailbox_peek(&app, None, 10).unwrap();
    assert_eq!(got, vec![(seq, record)]);
    assert!(store.mailbox_remove(&app, seq).unwrap());
    store.flush().unwrap();
    assert_eq!(files_in(&dir), 0);
}

#[test]
fn file_of_a_bundle_delivered_twice_goes_with_its_last_reference() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let bytes = Bytes::from(big(3));
    let (one, two) = (eid("ipn:1.1"), eid("ipn:1.2"));
    let record = |to: &Eid| MailboxRecord {
        source: eid("ipn:9.1"),
        destination: to.clone(),
        creation: CreationTimestamp::default(),
        payload: bytes.slice(10..20),
        admin_record: false,
    };
    store.apply(&put(3, &bytes)).unwrap();
    let file = store.files.file_of(BundleKey(3)).unwrap().file;
    let mut batch = WriteBatch::default();
    let s1 = store
        .stage_delivery(&mut batch, &one, BundleKey(3), &bytes, &record(&one))
        .unwrap();
    let s2 = store
        .stage_delivery(&mut batch, &two, BundleKey(3), &bytes, &record(&two))
        .unwrap();
    store.commit(batch).unwrap();
    assert_eq!(store.files.refs(file), 3);
    store
        .apply(&StoreOp::DeleteBundle { key: BundleKey(3) })
        .unwrap();
    store.mailbox_remove(&one, s1).unwrap();
    store.flush().unwrap();
    assert_eq!(files_in(&dir), 1);
    store.mailbox_remove(&two, s2).unwrap();
    store.flush().unwrap();
    assert_eq!(files_in(&dir), 0);
}

#[test]
fn files_no_record_refers_to_are_deleted_on_open() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.apply(&put(3, &big(1))).unwrap();
        store.flush().unwrap();
        std::fs::write(
            dir.path().join(FILES_DIR).join("00000000deadbeef"),
            b"stray",
        )
        .unwrap();
        assert_eq!(files_in(&dir), 2);
    }
    let store = open(&dir);
    assert_eq!(files_in(&dir), 1);
    assert!(store.bundle(BundleKey(3)).unwrap().is_some());
}

#[test]
fn bundle_whose_file_is_incomplete_is_dropped_on_recovery() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.apply(&put(3, &big(1))).unwrap();
        store.apply(&put(4, b"small")).unwrap();
        store.flush().unwrap();
        let file = store.files.file_of(BundleKey(3)).unwrap().file;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(store.files.path(file))
            .unwrap();
        f.set_len(100).unwrap();
    }
    let store = open(&dir);
    let (bundles, _, _) = normal(&store, store.restored().unwrap());
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].0, 4);
    assert_eq!(
        store.stats().unwrap().bundles,
        1,
        "its records are gone too"
    );
}

#[test]
fn staged_ops_are_read_back_before_the_commit() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let mut batch = WriteBatch::default();
    store.stage(&mut batch, &put(5, b"five")).unwrap();
    assert_eq!(
        store.bundle_in(&batch, BundleKey(5)).unwrap().as_deref(),
        Some(&b"five"[..])
    );
    assert_eq!(store.bundle(BundleKey(5)).unwrap(), None, "not applied yet");
    store.commit(batch).unwrap();
    assert_eq!(
        store.bundle(BundleKey(5)).unwrap().as_deref(),
        Some(&b"five"[..])
    );
}

#[test]
fn metadata_of_a_bundle_deleted_earlier_in_the_batch_is_not_written() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let mut batch = WriteBatch::default();
    store.stage(&mut batch, &put(5, b"five")).unwrap();
    store
        .stage(&mut batch, &StoreOp::DeleteBundle { key: BundleKey(5) })
        .unwrap();
    store
        .stage(
            &mut batch,
            &StoreOp::UpdateMeta {
                key: BundleKey(5),
                meta: meta("ipn:2.0", &[]),
            },
        )
        .unwrap();
    store.commit(batch).unwrap();
    assert!(store.scan(META).unwrap().is_empty());
    assert!(store.scan(BUNDLE).unwrap().is_empty());
}

#[test]
fn router_state_comes_back_after_reopen() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store
            .apply(&StoreOp::PutRouterState {
                state: Bytes::from_static(b"p=0.5"),
            })
            .unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir);
    assert_eq!(
        store.restored().unwrap().router_state.as_deref(),
        Some(&b"p=0.5"[..])
    );
}

#[test]
fn restoring_large_file_backed_bundles_reads_no_file_and_hands_back_no_bytes() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.apply(&put(2, &big(1))).unwrap();
        store.apply(&put(4, &big(2))).unwrap();
        store.apply(&put(6, b"small")).unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir);
    let restored = store.restored().unwrap();

    assert_eq!(store.files.reads(), 0, "no bundle file was read");
    let keys: Vec<u64> = restored.bundles.iter().map(|b| b.key.0).collect();
    assert_eq!(keys, [2, 4, 6]);
    assert!(restored.bundles.iter().all(|b| b.bytes.is_none()));
    let indices: Vec<&BundleIndex> = restored.bundles.iter().map(|b| &b.index).collect();
    assert_eq!(
        indices,
        [
            &index(2, big(1).len()),
            &index(4, big(2).len()),
            &index(6, 5)
        ]
    );
}

#[test]
fn fragment_for_a_registered_endpoint_comes_back_with_its_bytes() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store
            .apply(&StoreOp::PutRegistration {
                endpoint: eid("dtn://dst/app"),
            })
            .unwrap();
        store.apply(&put(1, &big(3))).unwrap(); // a fragment (odd key)
        store.apply(&put(2, b"whole")).unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir);
    let restored = store.restored().unwrap();

    let bytes: Vec<Option<Vec<u8>>> = restored
        .bundles
        .iter()
        .map(|b| b.bytes.as_ref().map(|b| b.to_vec()))
        .collect();
    assert_eq!(bytes, [Some(big(3)), None]);
}

#[test]
fn damaged_index_is_rebuilt_from_the_bundle_and_an_undecodable_one_is_dropped() {
    let dir = TempDir::new().unwrap();
    let bundle = BundleBuilder::new(
        eid("ipn:5.1"),
        eid("ipn:6.2"),
        CreationTimestamp::new(DtnTime(900), 3),
        5_000,
    )
    .hop_limit(9)
    .payload(b"payload".to_vec())
    .build()
    .unwrap();
    let encoded = bundle.encode();
    {
        let store = open(&dir);
        store.apply(&put(1, &encoded)).unwrap();
        store.apply(&put(2, b"not a bundle")).unwrap();
        store
            .node
            .insert(index_key(BundleKey(1)), &[0xff, 0xff])
            .unwrap();
        store.node.remove(index_key(BundleKey(2))).unwrap();
        store.flush().unwrap();
    }
    let store = open(&dir);
    let restored = store.restored().unwrap();

    assert_eq!(restored.bundles.len(), 1);
    assert_eq!(
        restored.bundles[0].index,
        BundleIndex::of(&bundle, encoded.len() as u64)
    );
    assert_eq!(
        store.bundle(BundleKey(2)).unwrap(),
        None,
        "dropped for good"
    );
}

#[test]
fn store_of_format_version_2_is_refused_naming_the_versions() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(&dir);
        store.node.insert(VERSION_KEY, &2u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
    }
    let error = SledStore::open_waiting(dir.path(), WAIT).unwrap_err();
    assert!(matches!(error, StoreError::UnknownVersion { found: 2, .. }));
    assert!(error.to_string().contains("reads only version 3"));
}

#[test]
fn putting_a_key_again_replaces_its_file_with_a_small_record_and_back() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.apply(&put(2, &big(1))).unwrap();
    store.apply(&put(2, b"small now")).unwrap();
    store.flush().unwrap();
    assert_eq!(files_in(&dir), 0, "the replaced file is gone");
    assert_eq!(
        store.bundle(BundleKey(2)).unwrap().as_deref(),
        Some(&b"small now"[..])
    );

    store.apply(&put(2, &big(5))).unwrap();
    store.flush().unwrap();
    assert!(
        store.scan(BUNDLE).unwrap().is_empty(),
        "no stale small record"
    );
    assert_eq!(
        store.bundle(BundleKey(2)).unwrap().as_deref(),
        Some(&big(5)[..])
    );
}
