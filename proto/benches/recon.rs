//! Bytes and round trips of range-based set reconciliation per contact, against sending a full
//! list of ids. Prints one table (a bench binary, not a criterion timing run):
//!
//! ```sh
//! cargo bench -p tern-proto --bench recon
//! ```
//!
//! Two stores of 10,000 bundles each whose symmetric difference is 0, 10 or 1,000 bundle ids
//! (half held only by one side, half only by the other), reconciled through the real wire
//! format ([`ControlMessage`]) with the engine's default parameters. "full list" is one side
//! sending all its ids once: as 8-byte digests (what reconciliation itself names bundles by,
//! the strictest baseline) and as CBOR bundle ids (source EID and creation timestamp, what a
//! naive protocol would send).

// A bench binary: panics on broken invariants are the point, and it times itself on the host
// (the engine it measures still never reads a clock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Instant;

use bytes::Bytes;
use tern_proto::node::control::{ControlLimits, ControlMessage};
use tern_proto::routing::recon::{PeerHolds, ReconParams, Reconciler, bundle_digest};
use tern_proto::wire::{BundleId, CreationTimestamp, DtnTime};

const STORE: usize = 10_000;

/// Bundle ids as a 100-node network would create them: 100 sources, a second apart.
fn bundle_id(i: usize) -> BundleId {
    BundleId {
        source: format!("dtn://node-{}/", i % 100)
            .parse()
            .expect("valid EID"),
        creation: CreationTimestamp::new(DtnTime(800_000_000_000 + (i as u64) * 1000), 0),
        fragment: None,
    }
}

/// Bytes of one bundle id as CBOR `[source, [time, sequence]]`.
fn cbor_id_len(id: &BundleId) -> usize {
    fn uint(v: u64) -> usize {
        match v {
            0..=23 => 1,
            24..=0xff => 2,
            0x100..=0xffff => 3,
            0x1_0000..=0xffff_ffff => 5,
            _ => 9,
        }
    }
    let source = id.source.to_string().len();
    1 + uint(source as u64) + source + 1 + uint(id.creation.time.0) + uint(id.creation.sequence)
}

struct Outcome {
    messages: usize,
    bytes: usize,
    micros: u128,
    correct: bool,
}

fn reconcile(a_ids: &[u64], b_ids: &[u64], params: ReconParams) -> Outcome {
    let limits = ControlLimits::default();
    let started = Instant::now();
    let mut a = Reconciler::new(a_ids.iter().copied(), params);
    let mut b = Reconciler::new(b_ids.iter().copied(), params);
    let mut msg = a.start();
    let (mut messages, mut bytes) = (0, 0);
    let mut to_b = true;
    loop {
        let encoded = Bytes::from(ControlMessage::Recon(msg).encode());
        messages += 1;
        bytes += encoded.len();
        let Ok(ControlMessage::Recon(items)) = ControlMessage::decode(&encoded, &limits) else {
            panic!("a message we encoded does not decode");
        };
        let side = if to_b { &mut b } else { &mut a };
        match side
            .receive(&items)
            .expect("honest peers follow the protocol")
        {
            Some(next) => msg = next,
            None => break,
        }
        to_b = !to_b;
    }
    let micros = started.elapsed().as_micros();
    let lacks = |r: &Reconciler, other: &[u64]| {
        r.verdicts()
            .all(|(d, v)| (v == PeerHolds::Yes) == other.binary_search(&d).is_ok())
    };
    let (mut sa, mut sb) = (a_ids.to_vec(), b_ids.to_vec());
    sa.sort_unstable();
    sb.sort_unstable();
    Outcome {
        messages,
        bytes,
        micros,
        correct: a.is_done() && b.is_done() && lacks(&a, &sb) && lacks(&b, &sa),
    }
}

fn main() {
    let params = ReconParams::default();
    println!(
        "range-based set reconciliation, stores of {STORE} bundles, branching {}, leaf {}",
        params.branching, params.leaf
    );
    println!();
    println!(
        "| difference | messages | round trips | bytes | vs full list (8 B digests) | vs full list (CBOR ids) | time | exact |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|:---:|");
    for diff in [0usize, 10, 1000] {
        row(STORE, diff, params);
    }
    println!();
    println!("round trips as the store grows, at 10 differences:");
    println!();
    println!("| store | messages | round trips | bytes | vs full list (8 B digests) |");
    println!("|---:|---:|---:|---:|---:|");
    for store in [1_000usize, 10_000, 100_000] {
        let (a, b) = stores(store, 10);
        let out = reconcile(&digests(&a), &digests(&b), params);
        assert!(out.correct, "reconciliation must be exact");
        let list = 3 + 5 + 8 * a.len();
        println!(
            "| {store} | {} | {} | {} | {:.2} % |",
            out.messages,
            out.messages.div_ceil(2),
            out.bytes,
            100.0 * out.bytes as f64 / list as f64
        );
    }
}

/// Two stores of `store` bundles whose symmetric difference is `diff` ids.
fn stores(store: usize, diff: usize) -> (Vec<BundleId>, Vec<BundleId>) {
    let only = diff / 2;
    let common = store - only;
    let a = (0..common)
        .chain(store..store + only)
        .map(bundle_id)
        .collect();
    let b = (0..common)
        .chain(2 * store..2 * store + only)
        .map(bundle_id)
        .collect();
    (a, b)
}

fn digests(ids: &[BundleId]) -> Vec<u64> {
    ids.iter().map(bundle_digest).collect()
}

fn row(store: usize, diff: usize, params: ReconParams) {
    let (a_ids, b_ids) = stores(store, diff);
    let digest_list = 3 + 5 + 8 * a_ids.len(); // [v, k, bstr] with a 4-byte length
    let cbor_list = 3 + a_ids.iter().map(cbor_id_len).sum::<usize>();
    let out = reconcile(&digests(&a_ids), &digests(&b_ids), params);
    println!(
        "| {diff} | {} | {} | {} | {:.2} % of {digest_list} | {:.2} % of {cbor_list} | {:.1} ms | {} |",
        out.messages,
        out.messages.div_ceil(2),
        out.bytes,
        100.0 * out.bytes as f64 / digest_list as f64,
        100.0 * out.bytes as f64 / cbor_list as f64,
        out.micros as f64 / 1000.0,
        if out.correct { "yes" } else { "NO" },
    );
}
