//! Cross-check against an independent BPv7 codec: `bp7` 0.12, the codec of dtn7-rs.
//!
//! Both directions: bundles tern encodes must decode with bp7 to the same fields (and pass its
//! `validate`, which checks CRCs), and bundles bp7 encodes must decode with tern to the same
//! fields and re-encode to bp7's bytes exactly — both sides write deterministic CBOR (RFC 9171
//! §4.1), so a single differing byte is a bug on one side.
//!
//! Where bp7 departs from RFC 9171 / RFC 9758 the shared subset is tested, and the departure is
//! pinned by a `bp7_...` test below so that a bp7 upgrade that changes it is noticed:
//! - block processing flags are a `u8` in bp7; RFC 9171 §4.2.4 makes them an unsigned integer
//!   (tern keeps all 64 bits), so bp7 can't read a block with a flag above bit 7;
//! - hop limit and hop count are `u8` in bp7; RFC 9171 §4.4.3 bounds the limit to 255 but not the
//!   count;
//! - bp7 reads `ipn:0.n` (n ≠ 0) as `ipn:0.0` and re-encodes it so; tern keeps the bytes it got;
//! - bp7 has no RFC 9758 three-element `ipn` form (its ipn SSP is a 2-tuple);
//! - `bp7::Bundle::try_from` checks neither CRCs nor RFC rules: only `validate()` does, so every
//!   check here calls both.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bp7::crc::{CRC_16, CRC_32, CRC_NO, CrcBlock, CrcRawType};
use bp7::flags::{BlockControlFlags, BundleControlFlags};
use bp7::{CanonicalData, EndpointID, canonical};
use bytes::Bytes;
use proptest::prelude::*;
use tern_proto::wire::{
    BlockBody, BlockFlags, Bundle, BundleBuilder, BundleFlags, CanonicalBlock, CrcType,
    CreationTimestamp, DtnTime, Eid, FragmentInfo, HopCount, PrimaryBlock,
};

const T0: u64 = 755_000_000_000;

fn ts(seq: u64) -> CreationTimestamp {
    CreationTimestamp::new(DtnTime(T0), seq)
}

fn eid(text: &str) -> Eid {
    text.parse().unwrap()
}

fn bp7_eid(text: &str) -> EndpointID {
    EndpointID::try_from(text).unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn crc_code(crc: CrcType) -> CrcRawType {
    crc.code() as CrcRawType
}

/// Decodes with bp7, requires its `validate()` (CRCs and RFC rules) to pass, and checks that
/// every field agrees with tern's bundle.
fn assert_bp7_reads_the_same(ours: &Bundle, bytes: &[u8]) -> bp7::Bundle {
    let theirs = bp7::Bundle::try_from(bytes).unwrap();
    if let Err(errors) = theirs.validate() {
        panic!("bp7 refuses tern's bundle: {errors:?}");
    }
    assert_same_fields(ours, &theirs);
    theirs
}

fn assert_same_fields(ours: &Bundle, theirs: &bp7::Bundle) {
    let (p, q) = (ours.primary(), &theirs.primary);
    assert_eq!(p.flags.bits(), q.bundle_control_flags, "bundle flags");
    assert_eq!(
        u64::from(crc_code(p.crc)),
        u64::from(q.crc.to_code()),
        "primary CRC"
    );
    assert_eq!(
        p.destination.to_string(),
        q.destination.to_string(),
        "destination"
    );
    assert_eq!(p.source.to_string(), q.source.to_string(), "source");
    assert_eq!(
        p.report_to.to_string(),
        q.report_to.to_string(),
        "report-to"
    );
    assert_eq!(
        p.creation.time.0,
        q.creation_timestamp.dtntime(),
        "creation time"
    );
    assert_eq!(
        p.creation.sequence,
        q.creation_timestamp.seqno(),
        "sequence number"
    );
    assert_eq!(
        u128::from(p.lifetime_ms),
        q.lifetime.as_millis(),
        "lifetime"
    );
    let fragment = q.has_fragmentation().then_some(FragmentInfo {
        offset: q.fragmentation_offset,
        total_adu_length: q.total_data_length,
    });
    assert_eq!(p.fragment, fragment, "fragment fields");
    assert_eq!(ours.blocks().len(), theirs.canonicals.len(), "block count");
    for (a, b) in ours.blocks().iter().zip(&theirs.canonicals) {
        let n = a.number;
        assert_eq!(a.block_type().0, b.block_type, "#{n} type");
        assert_eq!(a.number, b.block_number, "#{n} number");
        assert_eq!(
            a.flags.bits(),
            u64::from(b.block_control_flags),
            "#{n} flags"
        );
        assert_eq!(crc_code(a.crc), b.crc.to_code(), "#{n} CRC type");
        match (&a.body, b.data()) {
            (BlockBody::Payload(x), CanonicalData::Data(y)) => assert!(x[..] == y[..], "#{n}"),
            (BlockBody::PreviousNode(x), CanonicalData::PreviousNode(y)) => {
                assert_eq!(x.to_string(), y.to_string(), "#{n} previous node");
            }
            (BlockBody::BundleAge(x), CanonicalData::BundleAge(y)) => assert_eq!(x, y, "#{n}"),
            (BlockBody::HopCount(h), CanonicalData::HopCount(limit, count)) => {
                assert_eq!((h.limit, h.count), (u64::from(*limit), u64::from(*count)));
            }
            (BlockBody::Other { data, .. }, CanonicalData::Unknown(y)) => {
                assert_eq!(data[..], y[..], "#{n} opaque data");
            }
            (x, y) => panic!("#{n}: tern {x:?}, bp7 {y:?}"),
        }
    }
    assert_eq!(ours.payload()[..], theirs.payload().unwrap()[..], "payload");
}

/// Decodes bp7's bytes with tern, checks the fields, and requires a byte-identical re-encoding.
fn assert_tern_reads_the_same(theirs: &mut bp7::Bundle) -> Bundle {
    let bytes = theirs.to_cbor();
    let ours = Bundle::decode(Bytes::from(bytes.clone())).unwrap();
    assert_same_fields(&ours, theirs);
    assert_eq!(
        hex::encode(ours.encode()),
        hex::encode(&bytes),
        "tern re-encodes bp7's bytes"
    );
    ours
}

// ---------------------------------------------------------------------------------------------
// tern encodes, bp7 decodes

/// Encodes with tern, has bp7 read it, and has bp7 write it back byte-identical.
fn check_tern_to_bp7(ours: &Bundle) {
    let bytes = ours.encode();
    let mut theirs = assert_bp7_reads_the_same(ours, &bytes);
    assert_eq!(
        hex::encode(theirs.to_cbor()),
        hex::encode(&bytes),
        "bp7 re-encoding"
    );
}

#[test]
fn tern_dtn_bundle_with_every_extension_block_reads_the_same_in_bp7() {
    for crc in [CrcType::None, CrcType::Crc16, CrcType::Crc32c] {
        let b = BundleBuilder::new(
            eid("dtn://node1/app"),
            eid("dtn://node2/inbox"),
            ts(1),
            3_600_000,
        )
        .crc(crc)
        .report_to(eid("dtn://reports/"))
        .flags(BundleFlags::MUST_NOT_FRAGMENT | BundleFlags::REPORT_DELIVERY)
        .hop_limit(30)
        .bundle_age(1234)
        .previous_node(eid("dtn://node1/"))
        .payload(&b"x"[..])
        .build()
        .unwrap();
        check_tern_to_bp7(&b);
    }
}

#[test]
fn tern_ipn_bundle_reads_the_same_in_bp7_for_every_payload_length_class() {
    // Lengths on both sides of each CBOR length-header size (1, 2, 3 and 5 bytes).
    for len in [1, 23, 24, 255, 256, 1000, 65_535, 65_536] {
        for crc in [CrcType::None, CrcType::Crc16, CrcType::Crc32c] {
            let b = BundleBuilder::new(
                Eid::ipn(1, 1),
                Eid::ipn(977_000, 42),
                ts(len as u64),
                86_400_000,
            )
            .crc(crc)
            .hop_limit(255)
            .payload(pattern(len))
            .build()
            .unwrap();
            check_tern_to_bp7(&b);
        }
    }
}

#[test]
fn tern_bundle_with_a_crc_type_per_block_and_an_opaque_block_reads_the_same_in_bp7() {
    let primary = PrimaryBlock {
        flags: BundleFlags::REPORT_RECEPTION | BundleFlags::STATUS_TIME_REQUESTED,
        crc: CrcType::Crc32c,
        destination: eid("dtn://group/~news"),
        source: Eid::ipn(7, 3),
        report_to: Eid::ipn(7, 0),
        creation: ts(99),
        lifetime_ms: u64::from(u32::MAX) + 5,
        fragment: None,
    };
    let block = |number, crc, flags, body| CanonicalBlock {
        number,
        flags: BlockFlags::from_bits_retain(flags),
        crc,
        body,
    };
    let blocks = vec![
        block(
            5,
            CrcType::Crc16,
            0x11,
            BlockBody::Other {
                block_type: 192,
                data: Bytes::from_static(b"\x82\x01\x02"),
            },
        ),
        block(
            2,
            CrcType::None,
            0x01,
            BlockBody::HopCount(HopCount { limit: 8, count: 3 }),
        ),
        block(
            9,
            CrcType::Crc32c,
            0,
            BlockBody::PreviousNode(Eid::ipn(9, 0)),
        ),
        block(
            3,
            CrcType::Crc16,
            0x04,
            BlockBody::BundleAge(u64::from(u32::MAX) + 1),
        ),
        block(
            1,
            CrcType::None,
            0,
            BlockBody::Payload(Bytes::from(pattern(300))),
        ),
    ];
    check_tern_to_bp7(&Bundle::from_parts(primary, blocks).unwrap());
}

#[test]
fn tern_fragment_reads_the_same_in_bp7() {
    let primary = PrimaryBlock {
        flags: BundleFlags::IS_FRAGMENT,
        crc: CrcType::Crc16,
        destination: Eid::ipn(2, 1),
        source: Eid::ipn(1, 5),
        report_to: Eid::ipn(1, 5),
        creation: ts(4),
        lifetime_ms: 60_000,
        fragment: Some(FragmentInfo {
            offset: 50,
            total_adu_length: 1000,
        }),
    };
    let payload = CanonicalBlock::new(1, CrcType::Crc16, BlockBody::Payload(pattern(100).into()));
    check_tern_to_bp7(&Bundle::from_parts(primary, vec![payload]).unwrap());
}

#[test]
fn tern_anonymous_bundle_reads_the_same_in_bp7() {
    let b = BundleBuilder::new(Eid::Null, eid("dtn://sink/"), ts(0), 10)
        .crc(CrcType::Crc16)
        .payload(&b"anon"[..])
        .build()
        .unwrap();
    check_tern_to_bp7(&b);
}

// ---------------------------------------------------------------------------------------------
// bp7 encodes, tern decodes

fn bp7_primary(
    dst: &str,
    src: &str,
    flags: BundleControlFlags,
) -> bp7::primary::PrimaryBlockBuilder {
    bp7::primary::PrimaryBlockBuilder::default()
        .bundle_control_flags(flags.bits())
        .destination(bp7_eid(dst))
        .source(bp7_eid(src))
        .report_to(bp7_eid(src))
        .creation_timestamp(bp7::CreationTimestamp::with_time_and_seq(T0, 7))
        .lifetime(Duration::from_secs(3600))
}

fn bp7_bundle(
    primary: bp7::primary::PrimaryBlockBuilder,
    blocks: Vec<bp7::CanonicalBlock>,
) -> bp7::Bundle {
    bp7::bundle::BundleBuilder::default()
        .primary(primary.build().unwrap())
        .canonicals(blocks)
        .build()
        .unwrap()
}

/// The example from bp7's crate documentation, with its literal bytes: creation time 0 and no
/// bundle age block, which tern accepts on reception (see `Bundle::decode_with`).
#[test]
fn bp7_documentation_bundle_decodes_in_tern_and_re_encodes_to_its_bytes() {
    let expected: [u8; 83] = [
        159, 137, 7, 26, 0, 2, 0, 4, 1, 130, 1, 109, 47, 47, 110, 111, 100, 101, 50, 47, 105, 110,
        98, 111, 120, 130, 1, 110, 47, 47, 110, 111, 100, 101, 49, 47, 49, 50, 51, 52, 53, 54, 130,
        1, 110, 47, 47, 110, 111, 100, 101, 49, 47, 49, 50, 51, 52, 53, 54, 130, 0, 0, 26, 0, 54,
        238, 128, 66, 188, 152, 134, 1, 1, 0, 1, 67, 65, 66, 67, 66, 15, 86, 255,
    ];
    let flags = BundleControlFlags::BUNDLE_MUST_NOT_FRAGMENTED
        | BundleControlFlags::BUNDLE_STATUS_REQUEST_DELIVERY;
    let primary = bp7_primary("dtn://node2/inbox", "dtn://node1/123456", flags)
        .creation_timestamp(bp7::CreationTimestamp::with_time_and_seq(0, 0));
    let payload = canonical::new_payload_block(BlockControlFlags::empty(), b"ABC".to_vec());
    let mut theirs = bp7_bundle(primary, vec![payload]);
    theirs.set_crc(CRC_16);
    assert_eq!(theirs.to_cbor(), expected);
    let ours = assert_tern_reads_the_same(&mut theirs);
    assert_eq!(ours.primary().destination, eid("dtn://node2/inbox"));
    assert_eq!(ours.payload().as_ref(), b"ABC");
}

/// bp7's convenience constructor, as dtn7-rs sends bundles: no CRC anywhere, hop limit 32.
#[test]
fn bp7_standard_bundle_without_crcs_decodes_in_tern() {
    let mut theirs = bp7::bundle::new_std_payload_bundle(
        bp7_eid("dtn://node1/app"),
        bp7_eid("dtn://node2/inbox"),
        b"hello".to_vec(),
    );
    let ours = assert_tern_reads_the_same(&mut theirs);
    assert_eq!(ours.primary().crc, CrcType::None);
    assert_eq!(
        ours.hop_count(),
        Some(HopCount {
            limit: 32,
            count: 0
        })
    );
}

#[test]
fn bp7_bundles_with_every_extension_block_and_crc_type_decode_in_tern() {
    for crc in [CRC_NO, CRC_16, CRC_32] {
        for len in [1, 24, 256, 65_536] {
            let blocks = vec![
                canonical::new_bundle_age_block(2, BlockControlFlags::BLOCK_REPLICATE, 86_000),
                canonical::new_hop_count_block(3, BlockControlFlags::empty(), 16),
                canonical::new_previous_node_block(
                    4,
                    BlockControlFlags::empty(),
                    bp7_eid("ipn:23.0"),
                ),
                canonical::new_payload_block(BlockControlFlags::empty(), pattern(len)),
            ];
            let primary = bp7_primary("ipn:4.9", "ipn:1.1", BundleControlFlags::empty());
            let mut theirs = bp7_bundle(primary, blocks);
            theirs.set_crc(crc);
            let ours = assert_tern_reads_the_same(&mut theirs);
            assert_eq!(ours.previous_node(), Some(&Eid::ipn(23, 0)));
            assert_eq!(ours.bundle_age(), Some(86_000));
        }
    }
}

#[test]
fn bp7_bundle_with_a_crc_type_per_block_and_an_unknown_block_decodes_in_tern() {
    let opaque = canonical::new_canonical_block(
        200,
        6,
        (BlockControlFlags::BLOCK_REMOVE | BlockControlFlags::BLOCK_STATUS_REPORT).bits(),
        CanonicalData::Unknown(vec![0xa1, 0x01, 0x02]),
    );
    let blocks = vec![
        opaque,
        canonical::new_hop_count_block(2, BlockControlFlags::empty(), 255),
        canonical::new_payload_block(BlockControlFlags::empty(), pattern(77)),
    ];
    let flags = BundleControlFlags::BUNDLE_REQUEST_STATUS_TIME
        | BundleControlFlags::BUNDLE_STATUS_REQUEST_RECEPTION;
    let mut theirs = bp7_bundle(bp7_primary("dtn://b/x", "dtn://a/", flags), blocks);
    theirs.set_crc(CRC_32);
    theirs.canonicals[1].set_crc_type(CRC_NO);
    theirs.canonicals[2].set_crc_type(CRC_16);
    let ours = assert_tern_reads_the_same(&mut theirs);
    let crcs: Vec<CrcType> = ours.blocks().iter().map(|b| b.crc).collect();
    assert_eq!(crcs, [CrcType::Crc32c, CrcType::None, CrcType::Crc16]);
}

#[test]
fn bp7_fragment_decodes_in_tern() {
    let primary = bp7_primary("ipn:2.1", "ipn:1.5", BundleControlFlags::BUNDLE_IS_FRAGMENT)
        .fragmentation_offset(10)
        .total_data_length(35);
    let payload = canonical::new_payload_block(BlockControlFlags::empty(), pattern(10));
    let mut theirs = bp7_bundle(primary, vec![payload]);
    theirs.set_crc(CRC_16);
    let ours = assert_tern_reads_the_same(&mut theirs);
    assert_eq!(
        ours.fragment(),
        Some(FragmentInfo {
            offset: 10,
            total_adu_length: 35
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Generated bundles in the subset both codecs speak

/// EIDs bp7 can express: dtn, `dtn:none`, and two-element ipn without an allocator.
fn shared_eid() -> impl Strategy<Value = Eid> {
    let dtn = ("[a-z0-9.-]{1,10}", "[!-~]{0,12}").prop_map(|(n, d)| Eid::dtn(&n, &d).unwrap());
    let node = prop_oneof![1..100u32, 1..u32::MAX];
    let ipn = (node, prop_oneof![0..100u64, any::<u64>()]).prop_map(|(n, s)| Eid::ipn(n, s));
    prop_oneof![1 => Just(Eid::Null), 1 => Just(Eid::ipn(0, 0)), 4 => dtn, 4 => ipn]
}

fn shared_crc() -> impl Strategy<Value = CrcType> {
    prop_oneof![
        Just(CrcType::None),
        Just(CrcType::Crc16),
        Just(CrcType::Crc32c)
    ]
}

/// Block flags bp7 accepts: the four RFC 9171 §4.2.4 bits (a `u8`, no reserved bits).
fn shared_block_flags() -> impl Strategy<Value = BlockFlags> {
    (0..32u64).prop_map(|b| BlockFlags::from_bits_retain(b & 0x17))
}

prop_compose! {
    fn shared_bundle()(
        (destination, source, report_to) in (shared_eid(), shared_eid(), shared_eid()),
        flags in (0..0x8_0000u64).prop_map(|b| BundleFlags::from_bits_retain(b & 0x7_4066)),
        crcs in proptest::collection::vec(shared_crc(), 5),
        block_flags in proptest::collection::vec(shared_block_flags(), 4),
        (time, sequence, lifetime_ms) in (0..u64::MAX / 2, any::<u64>(), any::<u32>()),
        fragment in proptest::option::of((0..1000u64, 0..1000u64)),
        previous in proptest::option::of(shared_eid().prop_filter("a node", |e| !e.is_null())),
        age in proptest::option::of(any::<u64>()),
        hops in proptest::option::of((1..=255u64, 0..=255u64)),
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
    ) -> Bundle {
        let mut flags = flags;
        let anonymous = source.is_null();
        if anonymous {
            flags |= BundleFlags::MUST_NOT_FRAGMENT;
        }
        if anonymous || flags.contains(BundleFlags::ADMIN_RECORD) {
            flags -= BundleFlags::ALL_REPORTS;
        }
        let fragment = fragment.filter(|_| !anonymous).map(|(offset, extra)| FragmentInfo {
            offset,
            total_adu_length: offset + payload.len() as u64 + extra + 1,
        });
        if fragment.is_some() {
            flags = (flags | BundleFlags::IS_FRAGMENT) - BundleFlags::MUST_NOT_FRAGMENT;
        }
        // bp7 also wants no "report if unprocessable" block flag on anonymous bundles and admin
        // records (RFC 9171 §4.2.4), which tern does not check.
        let quiet = anonymous || flags.contains(BundleFlags::ADMIN_RECORD);
        let bf = |i: usize| if quiet { block_flags[i] - BlockFlags::REPORT_IF_UNPROCESSABLE } else { block_flags[i] };
        let age = if time == 0 { Some(age.unwrap_or(0)) } else { age };
        let mut blocks = Vec::new();
        let mut number = 2;
        let mut push = |body, i: usize| {
            blocks.push(CanonicalBlock { number, flags: bf(i), crc: crcs[i], body });
            number += 1;
        };
        if let Some(eid) = previous {
            push(BlockBody::PreviousNode(eid), 0);
        }
        if let Some(ms) = age {
            push(BlockBody::BundleAge(ms), 1);
        }
        if let Some((limit, count)) = hops {
            push(BlockBody::HopCount(HopCount { limit, count }), 2);
        }
        blocks.push(CanonicalBlock { number: 1, flags: bf(3), crc: crcs[3], body: BlockBody::Payload(payload.into()) });
        let primary = PrimaryBlock {
            flags,
            crc: crcs[4],
            destination,
            source,
            report_to,
            creation: CreationTimestamp::new(DtnTime(time), sequence),
            lifetime_ms: u64::from(lifetime_ms),
            fragment,
        };
        Bundle::from_parts(primary, blocks).unwrap()
    }
}

proptest! {
    #[test]
    fn generated_bundles_in_the_shared_subset_read_the_same_in_bp7(b in shared_bundle()) {
        check_tern_to_bp7(&b);
    }
}

// ---------------------------------------------------------------------------------------------
// Where bp7 departs from the RFCs (pinned, see the module docs)

#[test]
fn bp7_cannot_read_block_flags_above_bit_seven() {
    let b = BundleBuilder::new(eid("dtn://a/"), eid("dtn://b/x"), ts(1), 1000)
        .payload_flags(BlockFlags::from_bits_retain(0x100))
        .payload(&b"x"[..])
        .build()
        .unwrap();
    assert!(Bundle::decode(Bytes::from(b.encode())).is_ok());
    assert!(bp7::Bundle::try_from(b.encode()).is_err());
}

#[test]
fn bp7_cannot_read_a_hop_count_above_255() {
    let b = BundleBuilder::new(eid("dtn://a/"), eid("dtn://b/x"), ts(1), 1000)
        .extension(
            BlockBody::HopCount(HopCount {
                limit: 10,
                count: 256,
            }),
            BlockFlags::empty(),
        )
        .build()
        .unwrap();
    let theirs = bp7::Bundle::try_from(b.encode()).unwrap();
    assert!(
        theirs.validate().is_err(),
        "bp7 keeps the block opaque and rejects the bundle"
    );
}

#[test]
fn bp7_rewrites_ipn_zero_dot_n_as_the_null_endpoint() {
    let b = BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 1), ts(1), 1000)
        .report_to(Eid::ipn(0, 1))
        .crc(CrcType::None)
        .build()
        .unwrap();
    let bytes = b.encode();
    let mut theirs = bp7::Bundle::try_from(bytes.as_slice()).unwrap();
    assert_eq!(theirs.primary.report_to.to_string(), "ipn:0.0");
    assert_ne!(theirs.to_cbor(), bytes);
    assert_eq!(
        Bundle::decode(Bytes::from(bytes.clone())).unwrap().encode(),
        bytes
    );
}

#[test]
fn bp7_cannot_read_the_rfc9758_three_element_ipn_form() {
    let b = BundleBuilder::new(Eid::ipn(2, 1), eid("ipn:977000.1.1"), ts(1), 1000)
        .build()
        .unwrap();
    assert!(bp7::Bundle::try_from(b.encode()).is_err());
}

#[test]
fn bp7_decoding_alone_does_not_check_crcs() {
    let b = BundleBuilder::new(eid("dtn://a/"), eid("dtn://b/x"), ts(1), 1000)
        .crc(CrcType::Crc32c)
        .payload(&b"payload"[..])
        .build()
        .unwrap();
    let mut bytes = b.encode();
    let at = bytes.len() - 9; // inside the payload, before its CRC value
    bytes[at] ^= 0x01;
    let theirs = bp7::Bundle::try_from(bytes.as_slice()).unwrap();
    assert!(theirs.validate().is_err());
    assert!(Bundle::decode(Bytes::from(bytes)).is_err());
}
