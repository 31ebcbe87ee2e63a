//! Store write throughput: group commit (one flush per 64 ops) against one flush per op, and
//! with the 64 ops of a flush applied as one `WriteBatch` (what the driver does per turn).
//!
//! The one-flush-per-op case with small bundles writes 1,000 rather than 10,000 per round: at
//! one fsync per op a round of 10,000 takes most of a minute, and the rate per op is the same.
//!
//! `flush_at_store_bound` never flushes itself, so the store's own bound
//! (`MAX_UNFLUSHED_OPS`) decides: the worst a driver that forgets group commit gets.
//!
//! Run: `cargo bench -p tern-daemon --bench store`. Each sample writes a fresh batch of bundles
//! into a store in a temporary directory on the same disk as `/tmp`, timing `apply` and `flush`
//! only; the bundles are deleted (untimed) before the next batch.

// A failed write is a failed benchmark: unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use proto::node::{BundleIndex, BundleKey, BundleMeta, StoreOp};
use proto::wire::{BundleBuilder, CreationTimestamp, DtnTime};
use tern_daemon::store::{SledStore, WriteBatch};

/// Bundles per round, bundle size, ops per flush, and whether a flush's ops form one batch.
type Case = (u64, usize, u64, bool);

/// Writes `count` bundles of `size` bytes, flushing after every `per_flush` ops (committed as
/// one batch when `batched`); returns the time spent in `apply` and `flush` for all `iters`
/// rounds.
fn put_rounds(
    store: &SledStore,
    next_key: &mut u64,
    iters: u64,
    (count, size, per_flush, batched): Case,
) -> Duration {
    let payload = Bytes::from(vec![0x5a; size]);
    // The store keeps the index verbatim: any bundle's will do.
    let creation = CreationTimestamp::new(DtnTime(1), 0);
    let sample = BundleBuilder::new(
        "ipn:1.1".parse().unwrap(),
        "ipn:2.1".parse().unwrap(),
        creation,
        60_000,
    )
    .payload(b"sample".to_vec())
    .build()
    .unwrap();
    let index = BundleIndex::of(&sample, size as u64);
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let first = *next_key;
        let start = Instant::now();
        let mut batch = WriteBatch::default();
        for i in 0..count {
            let op = StoreOp::PutBundle {
                key: BundleKey(*next_key),
                bytes: payload.clone(),
                index: Box::new(index.clone()),
                meta: BundleMeta::default(),
            };
            *next_key += 1;
            if batched {
                store.stage(&mut batch, black_box(&op)).unwrap();
            } else {
                store.apply(black_box(&op)).unwrap();
            }
            if (i + 1) % per_flush == 0 {
                store.commit(std::mem::take(&mut batch)).unwrap();
                store.flush().unwrap();
            }
        }
        store.commit(batch).unwrap();
        store.flush().unwrap();
        spent += start.elapsed();
        for key in first..*next_key {
            store
                .apply(&StoreOp::DeleteBundle {
                    key: BundleKey(key),
                })
                .unwrap();
        }
        store.flush().unwrap();
    }
    spent
}

fn bench_puts(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut next_key = 0;
    let cases: [(&str, Case); 6] = [
        (
            "10000x100B/flush_at_store_bound",
            (10_000, 100, u64::MAX, false),
        ),
        ("10000x100B/flush_per_64", (10_000, 100, 64, false)),
        ("10000x100B/batch_and_flush_per_64", (10_000, 100, 64, true)),
        ("1000x100B/flush_per_op", (1_000, 100, 1, false)),
        ("100x1MiB/flush_per_64", (100, 1 << 20, 64, false)),
        ("100x1MiB/flush_per_op", (100, 1 << 20, 1, false)),
    ];
    let mut group = c.benchmark_group("store_put");
    // Rounds take up to seconds (one fsync per op): ten flat samples of one round or more.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, case) in cases {
        group.throughput(Throughput::Elements(case.0));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| put_rounds(&store, &mut next_key, iters, case));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_puts);
criterion_main!(benches);
