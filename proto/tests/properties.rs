//! Property tests of the BPv7 codec: round trips over generated valid bundles and endpoint IDs,
//! and the decoder's conduct on damaged and arbitrary input (never a panic; damage a CRC covers
//! is refused; whatever is accepted re-encodes to exactly the bytes it came from).
//!
//! Case count: proptest's default (256), raised with `PROPTEST_CASES=10000 cargo test ...`.

// A panic is how a test fails; strategies and helpers unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;

use bytes::Bytes;
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use tern_proto::wire::{
    BlockBody, BlockFlags, BlockType, Bundle, BundleFlags, CanonicalBlock, CrcType,
    CreationTimestamp, DtnTime, Eid, FragmentInfo, HopCount, IPN_LOCAL_NODE, IpnEid, IpnForm,
    PrimaryBlock,
};

// ---------------------------------------------------------------------------------------------
// Strategies

fn crc_type() -> impl Strategy<Value = CrcType> {
    prop_oneof![
        Just(CrcType::None),
        Just(CrcType::Crc16),
        Just(CrcType::Crc32c)
    ]
}

/// Small numbers (one-byte CBOR) most of the time, every width some of the time.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..24u64,
        2 => 24..=u64::from(u16::MAX),
        1 => any::<u32>().prop_map(u64::from),
        1 => any::<u64>(),
    ]
}

fn u32_number() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0..300u32, 1 => Just(IPN_LOCAL_NODE), 2 => any::<u32>()]
}

/// `dtn://node/demux` with every character class RFC 9171 §4.2.5.1.1 allows, node IDs (empty
/// demux) and group endpoints (`~` demux).
fn dtn_eid() -> impl Strategy<Value = Eid> {
    let node = "[A-Za-z0-9._~%!$&'()*+,;=-]{1,12}";
    let demux = prop_oneof!["", "[!-~]{1,16}", "~[!-~]{0,10}"];
    (node, demux).prop_map(|(node, demux)| Eid::dtn(&node, &demux).unwrap())
}

/// `ipn` EIDs in both CBOR forms (RFC 9171 two-element, RFC 9758 three-element).
fn ipn_eid() -> impl Strategy<Value = Eid> {
    let allocator = prop_oneof![3 => Just(0u32), 1 => u32_number()];
    (allocator, u32_number(), number(), any::<bool>()).prop_map(
        |(allocator, node, service, three)| {
            Eid::Ipn(IpnEid {
                allocator,
                node,
                service,
                form: if three {
                    IpnForm::ThreeElement
                } else {
                    IpnForm::TwoElement
                },
            })
        },
    )
}

fn eid() -> impl Strategy<Value = Eid> {
    prop_oneof![1 => Just(Eid::Null), 4 => dtn_eid(), 4 => ipn_eid()]
}

fn bundle_flags() -> impl Strategy<Value = BundleFlags> {
    let named = BundleFlags::ADMIN_RECORD
        | BundleFlags::MUST_NOT_FRAGMENT
        | BundleFlags::APP_ACK_REQUESTED
        | BundleFlags::STATUS_TIME_REQUESTED
        | BundleFlags::ALL_REPORTS;
    prop_oneof![
        Just(BundleFlags::empty()),
        any::<u64>().prop_map(move |b| BundleFlags::from_bits_retain(b & named.bits())),
        any::<u64>().prop_map(BundleFlags::from_bits_retain),
    ]
}

fn block_flags() -> impl Strategy<Value = BlockFlags> {
    prop_oneof![Just(0), 0..32u64, any::<u64>()].prop_map(BlockFlags::from_bits_retain)
}

/// Header fields of one canonical block: flags, CRC type, and a key that orders it.
fn block_header() -> impl Strategy<Value = Header> {
    (block_flags(), crc_type(), any::<u8>())
}

/// A type code that tern keeps opaque (not payload, previous node, age, hop count; not 0).
fn unknown_type() -> impl Strategy<Value = u64> {
    prop_oneof![2..6u64, 8..10u64, 11..300u64, any::<u64>()]
        .prop_filter("a type tern interprets", |t| ![0, 1, 6, 7, 10].contains(t))
}

/// Flags, CRC type and ordering key of one block (see [`block_header`]).
type Header = (BlockFlags, CrcType, u8);

#[derive(Debug, Clone)]
struct Extensions {
    previous: Option<(Eid, Header)>,
    age: Option<(u64, Header)>,
    hops: Option<((u64, u64), Header)>,
    unknown: Vec<(u64, Vec<u8>, Header)>,
}

fn extensions() -> impl Strategy<Value = Extensions> {
    let previous = option::of((
        eid().prop_filter("a node, not null", |e| !e.is_null()),
        block_header(),
    ));
    let age = option::of((number(), block_header()));
    let hops = option::of(((1..=255u64, number()), block_header()));
    let unknown = vec(
        (unknown_type(), vec(any::<u8>(), 0..40), block_header()),
        0..3,
    );
    (previous, age, hops, unknown).prop_map(|(previous, age, hops, unknown)| Extensions {
        previous,
        age,
        hops,
        unknown,
    })
}

/// Valid bundles: every EID kind where the rules allow it, every CRC type per block, optional
/// fragment fields, all extension blocks tern knows plus opaque ones, random payloads.
fn bundle() -> impl Strategy<Value = Bundle> {
    let primary = (
        (eid(), eid(), eid()),
        bundle_flags(),
        crc_type(),
        (number(), number(), number()),
        option::of((0..u64::MAX / 4, 0..u64::MAX / 4)),
    );
    let payload = (vec(any::<u8>(), 0..600), block_flags(), crc_type());
    let numbers = btree_set(2..u64::MAX, 6);
    (primary, extensions(), payload, numbers).prop_map(|(primary, ext, payload, numbers)| {
        let ((destination, source, report_to), flags, crc, (time, sequence, lifetime_ms), frag) =
            primary;
        let (data, payload_flags, payload_crc) = payload;
        assemble(
            PrimaryBlock {
                flags,
                crc,
                destination,
                source,
                report_to,
                creation: CreationTimestamp::new(DtnTime(time), sequence),
                lifetime_ms,
                fragment: frag.map(|(offset, extra)| FragmentInfo {
                    offset,
                    total_adu_length: offset + data.len() as u64 + extra + 1,
                }),
            },
            ext,
            numbers.into_iter().collect(),
            CanonicalBlock {
                number: 1,
                flags: payload_flags,
                crc: payload_crc,
                body: BlockBody::Payload(Bytes::from(data)),
            },
        )
    })
}

/// Makes the generated parts obey RFC 9171 (the rules `Bundle::from_parts` enforces) and builds.
fn assemble(
    mut p: PrimaryBlock,
    mut ext: Extensions,
    numbers: Vec<u64>,
    payload: CanonicalBlock,
) -> Bundle {
    // §4.2.3: an anonymous source can't be fragmented nor ask for reports; an admin record
    // asks for no reports; the is-fragment flag goes with the fragment fields.
    if p.source.is_null() {
        p.fragment = None;
        p.flags |= BundleFlags::MUST_NOT_FRAGMENT;
        p.flags -= BundleFlags::ALL_REPORTS;
    }
    if p.flags.contains(BundleFlags::ADMIN_RECORD) {
        p.flags -= BundleFlags::ALL_REPORTS;
    }
    p.flags.set(BundleFlags::IS_FRAGMENT, p.fragment.is_some());
    if p.fragment.is_some() {
        p.flags -= BundleFlags::MUST_NOT_FRAGMENT;
    }
    // §4.2.7: a source without a clock (time 0) must send a bundle age block.
    if p.creation.time.0 == 0 && ext.age.is_none() {
        ext.age = Some((0, (BlockFlags::empty(), CrcType::Crc16, 0)));
    }
    let mut keyed: Vec<(u8, BlockBody, BlockFlags, CrcType)> = Vec::new();
    if let Some((eid, (f, c, k))) = ext.previous {
        keyed.push((k, BlockBody::PreviousNode(eid), f, c));
    }
    if let Some((age, (f, c, k))) = ext.age {
        keyed.push((k, BlockBody::BundleAge(age), f, c));
    }
    if let Some(((limit, count), (f, c, k))) = ext.hops {
        keyed.push((k, BlockBody::HopCount(HopCount { limit, count }), f, c));
    }
    for (block_type, data, (f, c, k)) in ext.unknown {
        let body = BlockBody::Other {
            block_type,
            data: Bytes::from(data),
        };
        keyed.push((k, body, f, c));
    }
    keyed.sort_by_key(|(k, ..)| *k);
    let mut blocks: Vec<CanonicalBlock> = keyed
        .into_iter()
        .zip(numbers)
        .map(|((_, body, flags, crc), number)| CanonicalBlock {
            number,
            flags,
            crc,
            body,
        })
        .collect();
    blocks.push(payload);
    Bundle::from_parts(p, blocks).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn decode(bytes: &[u8]) -> Result<Bundle, tern_proto::wire::DecodeError> {
    Bundle::decode(Bytes::copy_from_slice(bytes))
}

/// Whatever the decoder accepts must re-encode to exactly the bytes it was given (deterministic
/// CBOR, RFC 9171 §4.1), or forwarding would change a bundle and break its CRCs and BIBs.
fn assert_accepted_input_is_canonical(input: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(b) = decode(input) {
        prop_assert_eq!(hex(&b.encode()), hex(input));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// End of the definite-length CBOR item that starts at `at` (valid encodings only).
fn item_end(b: &[u8], at: usize) -> usize {
    let info = b[at] & 0x1f;
    let (arg, header) = match info {
        0..=23 => (u64::from(info), 1),
        24 => (u64::from(b[at + 1]), 2),
        25 => (u64::from(u16::from_be_bytes([b[at + 1], b[at + 2]])), 3),
        26 => (
            u64::from(u32::from_be_bytes(b[at + 1..at + 5].try_into().unwrap())),
            5,
        ),
        _ => (u64::from_be_bytes(b[at + 1..at + 9].try_into().unwrap()), 9),
    };
    match b[at] >> 5 {
        2 | 3 => at + header + arg as usize,
        4 => (0..arg).fold(at + header, |p, _| item_end(b, p)),
        _ => at + header,
    }
}

/// Byte ranges of the primary block and each canonical block, in wire order.
fn block_spans(b: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut at = 1; // after the indefinite-length array header
    while b[at] != 0xff {
        let end = item_end(b, at);
        spans.push(at..end);
        at = end;
    }
    spans
}

/// The CRC types of the primary block and each canonical block, in wire order.
fn crc_types(b: &Bundle) -> Vec<CrcType> {
    std::iter::once(b.primary().crc)
        .chain(b.blocks().iter().map(|c| c.crc))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #[test]
    fn generated_bundle_round_trips_and_re_encodes_byte_identical(b in bundle()) {
        let bytes = b.encode();
        let decoded = Bundle::decode(Bytes::from(bytes.clone())).unwrap();
        prop_assert_eq!(&decoded, &b);
        prop_assert_eq!(hex(&decoded.encode()), hex(&bytes));
    }

    #[test]
    fn generated_bundle_keeps_block_order_numbers_and_bodies(b in bundle()) {
        let decoded = Bundle::decode(Bytes::from(b.encode())).unwrap();
        let numbers = |x: &Bundle| x.blocks().iter().map(|c| c.number).collect::<Vec<_>>();
        prop_assert_eq!(numbers(&decoded), numbers(&b));
        prop_assert_eq!(decoded.payload(), b.payload());
        prop_assert_eq!(decoded.blocks().last().unwrap().block_type(), BlockType::PAYLOAD);
        prop_assert_eq!(decoded.primary().fragment, b.primary().fragment);
    }

    #[test]
    fn flipped_byte_never_panics_and_is_refused_where_a_crc_covers_it(
        b in bundle(),
        at in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let mut bytes = b.encode();
        let i = at.index(bytes.len());
        bytes[i] ^= mask;
        let covered = block_spans(&b.encode())
            .iter()
            .zip(crc_types(&b))
            .any(|(span, crc)| span.contains(&i) && crc != CrcType::None);
        if covered {
            prop_assert!(decode(&bytes).is_err(), "flip at {} accepted", i);
        }
        assert_accepted_input_is_canonical(&bytes)?;
    }

    #[test]
    fn every_strict_prefix_of_a_bundle_is_refused(b in bundle()) {
        let bytes = b.encode();
        for end in 0..bytes.len() {
            prop_assert!(decode(&bytes[..end]).is_err(), "prefix of {} bytes accepted", end);
        }
    }

    #[test]
    fn inserted_or_removed_bytes_never_panic(
        b in bundle(),
        at in any::<Index>(),
        inserted in vec(any::<u8>(), 0..4),
        removed in 0..4usize,
    ) {
        let mut bytes = b.encode();
        let i = at.index(bytes.len());
        let end = (i + removed).min(bytes.len());
        bytes.splice(i..end, inserted);
        assert_accepted_input_is_canonical(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        assert_accepted_input_is_canonical(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_plausible_bundle_start_never_panic(
        head in prop_oneof![Just(vec![0x9f]), Just(vec![0x9f, 0x88, 0x07]), Just(vec![0x9f, 0x89, 0x07, 0x00, 0x01])],
        tail in vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = head;
        bytes.extend(tail);
        assert_accepted_input_is_canonical(&bytes)?;
    }

    #[test]
    fn eid_display_then_parse_round_trips(e in eid()) {
        let text = e.to_string();
        let parsed: Eid = text.parse().unwrap();
        prop_assert_eq!(&parsed, &e);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(
        prefix in prop_oneof![Just(""), Just("dtn:"), Just("dtn://"), Just("ipn:"), Just("IPN:")],
        rest in "\\PC{0,40}|[0-9.!/~]{0,24}",
    ) {
        let text = format!("{prefix}{rest}");
        if let Ok(e) = text.parse::<Eid>() {
            // Whatever parses names itself in a text that parses back to the same endpoint.
            prop_assert_eq!(e.to_string().parse::<Eid>().unwrap(), e);
        }
    }
}
