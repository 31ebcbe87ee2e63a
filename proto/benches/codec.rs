//! Codec benchmark: tern-proto against bp7 (the codec of dtn7-rs) on identical input bytes.
//!
//! Cases: a small 3-block bundle (primary, hop count, 64-byte payload, CRC-16 on every block),
//! and 64 KiB / 1 MiB payloads, each with CRC-16 on every block and with the payload block's CRC
//! set to none (then decoding tern's way is zero-copy and costs about the same for any payload
//! size; with a payload CRC the cost is the CRC pass over the payload, in both codecs), plus a
//! 1 MiB bundle with CRC-32C on every block.
//!
//! Each input is built once, outside the timed loops, and both codecs are checked to produce the
//! very same bytes for it. Decoding takes `Bytes` in tern (a clone is a reference-count bump) and
//! a `Vec<u8>` in bp7; the clone is made by `iter_batched`'s setup, outside the measurement, and
//! decoded bundles are dropped outside it too. tern's decode verifies every CRC, bp7's
//! `try_from` verifies none, so bp7 is measured both bare and followed by `validate()` (which
//! checks its CRCs); the second is the like-for-like comparison.
//!
//! Run: `cargo bench -p tern-proto --bench codec -- --warm-up-time 1 --measurement-time 3`

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use bp7::crc::{CRC_16, CRC_32, CRC_NO, CrcBlock};
use bp7::flags::{BlockControlFlags, BundleControlFlags};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tern_proto::wire::{Bundle, BundleBuilder, CrcType, CreationTimestamp, DtnTime, Eid};

const CREATED: u64 = 755_000_000_000;
const LIFETIME_MS: u64 = 3_600_000;

/// One benchmark input, in both codecs' representations.
struct Case {
    name: &'static str,
    tern: Bundle,
    bp7: bp7::Bundle,
    bytes: Bytes,
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + 17) as u8).collect()
}

/// Primary + hop count (limit 32) + payload; `crc` on every block, except that the payload
/// block has no CRC unless `payload_crc`.
fn case(name: &'static str, payload_len: usize, crc: CrcType, payload_crc: bool) -> Case {
    let data = payload(payload_len);
    let source: Eid = "dtn://node1/app".parse().unwrap();
    let destination: Eid = "dtn://node2/inbox".parse().unwrap();
    let mut tern = BundleBuilder::new(
        source,
        destination,
        CreationTimestamp::new(DtnTime(CREATED), 1),
        LIFETIME_MS,
    )
    .crc(crc)
    .hop_limit(32)
    .payload(data.clone())
    .build()
    .unwrap();
    if !payload_crc {
        let mut blocks = tern.blocks().to_vec();
        blocks.last_mut().unwrap().crc = CrcType::None;
        tern = tern.with_blocks(blocks).unwrap();
    }

    let src = bp7::EndpointID::try_from("dtn://node1/app").unwrap();
    let primary = bp7::primary::PrimaryBlockBuilder::default()
        .bundle_control_flags(BundleControlFlags::empty().bits())
        .destination(bp7::EndpointID::try_from("dtn://node2/inbox").unwrap())
        .source(src.clone())
        .report_to(src)
        .creation_timestamp(bp7::CreationTimestamp::with_time_and_seq(CREATED, 1))
        .lifetime(Duration::from_millis(LIFETIME_MS))
        .build()
        .unwrap();
    let mut theirs = bp7::bundle::BundleBuilder::default()
        .primary(primary)
        .canonicals(vec![
            bp7::canonical::new_hop_count_block(2, BlockControlFlags::empty(), 32),
            bp7::canonical::new_payload_block(BlockControlFlags::empty(), data),
        ])
        .build()
        .unwrap();
    theirs.set_crc(if crc == CrcType::Crc16 {
        CRC_16
    } else {
        CRC_32
    });
    if !payload_crc {
        theirs.canonicals.last_mut().unwrap().set_crc_type(CRC_NO);
    }

    let bytes = tern.encode();
    assert_eq!(
        bytes,
        theirs.to_cbor(),
        "{name}: both codecs must encode the same bytes"
    );
    Case {
        name,
        tern,
        bp7: theirs,
        bytes: Bytes::from(bytes),
    }
}

const KIB64: usize = 64 * 1024;
const MIB1: usize = 1024 * 1024;

fn cases() -> Vec<Case> {
    vec![
        case("small_3_blocks_crc16", 64, CrcType::Crc16, true),
        // tern's default CRC: the bundles `tern send` makes.
        case("small_3_blocks_crc32c", 64, CrcType::Crc32c, true),
        case("64KiB_crc16", KIB64, CrcType::Crc16, true),
        case("64KiB_payload_crc_none", KIB64, CrcType::Crc16, false),
        case("1MiB_crc16", MIB1, CrcType::Crc16, true),
        case("1MiB_payload_crc_none", MIB1, CrcType::Crc16, false),
        // CRC-32C runs on the CPU's CRC instruction in tern (the crc32c crate), in software in bp7.
        case("1MiB_crc32c", MIB1, CrcType::Crc32c, true),
    ]
}

fn codec(c: &mut Criterion) {
    for mut case in cases() {
        let len = case.bytes.len();
        // Small inputs: fixed batches of 256, whose input and output vectors come back from the
        // allocator's free lists, so no page faults of a fresh multi-megabyte output vector (what
        // `SmallInput` allocates) land in the timed region. Large inputs: one per batch, so a
        // decoder that copies the payload reuses the memory just freed, as a daemon in steady
        // state does, and bp7 decodes from a freshly written (cache-warm) copy.
        let batch = if len > 4096 {
            BatchSize::LargeInput
        } else {
            BatchSize::NumIterations(256)
        };
        let mut group = c.benchmark_group(case.name);
        group.throughput(Throughput::Bytes(len as u64));

        group.bench_function("tern_encode", |b| b.iter(|| black_box(&case.tern).encode()));
        let theirs = &mut case.bp7;
        group.bench_function("bp7_encode", |b| {
            b.iter(|| black_box(&mut *theirs).to_cbor())
        });
        let mut out = Vec::with_capacity(len);
        group.bench_function("tern_encode_into_reused_buffer", |b| {
            b.iter(|| {
                out.clear();
                black_box(&case.tern).encode_into(&mut out);
                out.len()
            })
        });

        let bytes = case.bytes.clone();
        group.bench_function("tern_decode", |b| {
            b.iter_batched(
                || bytes.clone(),
                |input| Bundle::decode(input).unwrap(),
                batch,
            )
        });
        let vec = case.bytes.to_vec();
        group.bench_function("bp7_decode", |b| {
            b.iter_batched(
                || vec.clone(),
                |input| bp7::Bundle::try_from(input).unwrap(),
                batch,
            )
        });
        group.bench_function("bp7_decode_validate", |b| {
            b.iter_batched(
                || vec.clone(),
                |input| {
                    let bundle = bp7::Bundle::try_from(input).unwrap();
                    bundle.validate().unwrap();
                    bundle
                },
                batch,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
