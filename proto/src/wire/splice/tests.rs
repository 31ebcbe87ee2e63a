//! The splice against decode → edit → encode, and the payload it does not copy.

use proptest::prelude::*;

use super::*;
use crate::node::Rewrite;
use crate::wire::{BundleBuilder, BundleFlags, CreationTimestamp, DtnTime, Eid, Priority};

fn eid(text: &str) -> Eid {
    text.parse().unwrap()
}

/// What the daemon sent before splicing: the stored bundle decoded, rewritten, encoded.
fn decoded_edited_encoded(stored: &Bytes, rewrite: &Rewrite) -> Vec<u8> {
    let mut bundle = Bundle::decode(stored.clone()).unwrap();
    rewrite.apply(&mut bundle);
    bundle.encode()
}

fn joined(spliced: &Spliced) -> Vec<u8> {
    spliced.to_bytes().to_vec()
}

fn rewrite() -> Rewrite {
    Rewrite {
        previous_node: eid("dtn://me/"),
        bundle_age_ms: Some(1_234),
        increment_hop_count: true,
        copies: Some(3),
    }
}

fn stored_bundle(payload_len: usize, crc: CrcType) -> Bytes {
    let bundle = BundleBuilder::new(
        eid("ipn:5.1"),
        eid("dtn://far/app"),
        CreationTimestamp::new(DtnTime(800_000_000_000), 7),
        60_000,
    )
    .crc(crc)
    .hop_limit(9)
    .previous_node(eid("ipn:4.0"))
    .payload(vec![0xab; payload_len])
    .build()
    .unwrap();
    Bytes::from(bundle.encode())
}

/// Whether `chunk` lies inside `stored`'s memory (a slice, not a copy).
fn borrows_from(chunk: &Bytes, stored: &Bytes) -> bool {
    let range = stored.as_ptr_range();
    let inner = chunk.as_ptr_range();
    range.start <= inner.start && inner.end <= range.end
}

#[test]
fn large_payload_is_sent_as_a_slice_of_the_stored_bytes() {
    let stored = stored_bundle(200_000, CrcType::Crc32c);
    let rewrite = rewrite();

    let spliced = splice(&stored, &DecodeLimits::default(), |b| rewrite.apply(b)).unwrap();

    assert_eq!(spliced.chunks().len(), 2);
    assert!(borrows_from(&spliced.chunks()[1], &stored));
    assert!(spliced.chunks()[1].len() > 200_000);
    assert_eq!(joined(&spliced), decoded_edited_encoded(&stored, &rewrite));
}

#[test]
fn payload_head_in_a_longer_form_than_shortest_is_refused_as_decoding_refuses_it() {
    // A CRC-less bundle whose payload block number is written as a one-byte-argument uint
    // (0x18 0x01) instead of 0x01: CBOR, but not the shortest form RFC 9171 §4.1 asks for.
    let stored = stored_bundle(100, CrcType::None);
    let payload_head = [0x85, 0x01, 0x01, 0x00, 0x00, 0x58, 100];
    let at = stored
        .windows(payload_head.len())
        .position(|w| w == payload_head)
        .unwrap();
    let mut longer = stored[..at].to_vec();
    longer.extend_from_slice(&[0x85, 0x01, 0x18, 0x01, 0x00, 0x00, 0x58, 100]);
    longer.extend_from_slice(&stored[at + payload_head.len()..]);
    let longer = Bytes::from(longer);
    let rewrite = rewrite();

    let error = splice(&longer, &DecodeLimits::default(), |b| rewrite.apply(b)).unwrap_err();

    assert_eq!(error, Bundle::decode(longer).unwrap_err());
    assert_eq!(error.kind, crate::wire::DecodeErrorKind::NotShortestForm);
}

#[test]
fn malformed_stored_bytes_fail_as_decoding_them_does() {
    let stored = stored_bundle(50, CrcType::Crc16);
    let truncated = stored.slice(..stored.len() - 3);

    let error = splice(&truncated, &DecodeLimits::default(), |_| {}).unwrap_err();

    assert_eq!(
        error,
        Bundle::decode(truncated).unwrap_err(),
        "the same error, at the same offset"
    );
}

#[test]
fn bundle_over_the_size_limit_is_refused_as_decoding_refuses_it() {
    let stored = stored_bundle(500, CrcType::Crc32c);
    let limits = DecodeLimits {
        max_bundle_size: 100,
        ..DecodeLimits::default()
    };

    let error = splice(&stored, &limits, |_| {}).unwrap_err();

    assert_eq!(error, Bundle::decode_with(stored, &limits).unwrap_err());
}

#[test]
fn edit_that_changes_the_payload_is_applied_to_the_real_payload() {
    let stored = stored_bundle(64, CrcType::Crc32c);
    let shout = |b: &mut Bundle| {
        let mut blocks = b.blocks().to_vec();
        if let Some(last) = blocks.last_mut() {
            last.flags = BlockFlags::REPORT_IF_UNPROCESSABLE;
        }
        *b = b.with_blocks(blocks).unwrap();
    };

    let spliced = splice(&stored, &DecodeLimits::default(), shout).unwrap();

    let mut expected = Bundle::decode(stored.clone()).unwrap();
    shout(&mut expected);
    assert_eq!(joined(&spliced), expected.encode());
    assert_eq!(
        Bundle::decode(spliced.to_bytes()).unwrap().payload().len(),
        64
    );
}

#[test]
fn fragments_splice_as_they_decode_edit_and_encode() {
    let whole = Bundle::decode(stored_bundle(3_000, CrcType::Crc16)).unwrap();
    let rewrite = rewrite();
    for part in crate::wire::fragment::fragment(&whole, 1_000).unwrap() {
        let stored = Bytes::from(part.encode());

        let spliced = splice(&stored, &DecodeLimits::default(), |b| rewrite.apply(b)).unwrap();

        assert_eq!(spliced.chunks().len(), 2);
        assert_eq!(joined(&spliced), decoded_edited_encoded(&stored, &rewrite));
    }
}

fn crc_type() -> impl Strategy<Value = CrcType> {
    prop_oneof![
        Just(CrcType::None),
        Just(CrcType::Crc16),
        Just(CrcType::Crc32c)
    ]
}

fn eid_any() -> impl Strategy<Value = Eid> {
    prop_oneof![
        (1u64..1_000_000, 0u64..70_000).prop_map(|(n, s)| eid(&format!("ipn:{n}.{s}"))),
        "[a-z]{1,12}".prop_map(|name| eid(&format!("dtn://{name}/app"))),
    ]
}

prop_compose! {
    /// A stored bundle: any CRC, extension blocks in any mix, payloads around the size where
    /// CBOR length headers change form.
    fn any_stored()(
        crc in crc_type(),
        source in eid_any(),
        destination in eid_any(),
        created in prop_oneof![Just(0u64), 1u64..1_000_000_000_000],
        sequence in any::<u64>(),
        lifetime in 1u64..u64::MAX / 2,
        hop_limit in prop::option::of(1..=u8::MAX),
        previous in prop::option::of(eid_any()),
        priority in prop::option::of(prop::sample::select(Priority::ALL.to_vec())),
        age in any::<u64>(),
        unknown in prop::option::of((200u64..1_000, prop::collection::vec(any::<u8>(), 0..40))),
        block_flags in 0u64..64,
        payload_len in prop_oneof![0usize..30, 250usize..260, 65_530usize..65_540],
        request_reports in any::<bool>(),
    ) -> Bytes {
        let mut builder = BundleBuilder::new(source, destination, CreationTimestamp::new(DtnTime(created), sequence), lifetime)
            .crc(crc)
            .payload(vec![0x5a; payload_len])
            .payload_flags(BlockFlags::from_bits_retain(block_flags & 0x1f));
        if request_reports {
            builder = builder.flags(BundleFlags::REPORT_DELIVERY).report_to(eid("ipn:9.9"));
        }
        if let Some(limit) = hop_limit {
            builder = builder.hop_limit(limit);
        }
        if let Some(node) = previous {
            builder = builder.previous_node(node);
        }
        if let Some(class) = priority {
            builder = builder.extension(class.block_body(), BlockFlags::empty());
        }
        if created == 0 || age % 2 == 0 {
            builder = builder.bundle_age(age / 2);
        }
        if let Some((block_type, data)) = unknown {
            builder = builder.extension(
                BlockBody::Other { block_type, data: Bytes::from(data) },
                BlockFlags::from_bits_retain(block_flags),
            );
        }
        Bytes::from(builder.build().unwrap().encode())
    }
}

prop_compose! {
    fn any_rewrite()(
        previous_node in eid_any(),
        bundle_age_ms in prop::option::of(any::<u64>()),
        increment_hop_count in any::<bool>(),
        copies in prop::option::of(1u32..u32::MAX),
    ) -> Rewrite {
        Rewrite { previous_node, bundle_age_ms, increment_hop_count, copies }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn splice_gives_exactly_what_decode_edit_encode_gives(
        stored in any_stored(),
        rewrite in any_rewrite(),
    ) {
        let spliced = splice(&stored, &DecodeLimits::default(), |b| rewrite.apply(b)).unwrap();

        prop_assert_eq!(joined(&spliced), decoded_edited_encoded(&stored, &rewrite));
        prop_assert_eq!(spliced.len(), spliced.to_bytes().len());
        prop_assert_eq!(spliced.chunks().len(), 2, "builder output is in shortest form");
        prop_assert!(borrows_from(&spliced.chunks()[1], &stored));
    }

    #[test]
    fn splice_of_arbitrary_bytes_never_panics_and_agrees_with_decode(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let bytes = Bytes::from(bytes);
        let rewrite = rewrite();
        let spliced = splice(&bytes, &DecodeLimits::default(), |b| rewrite.apply(b));
        match Bundle::decode(bytes.clone()) {
            Ok(_) => prop_assert_eq!(
                joined(&spliced.unwrap()),
                decoded_edited_encoded(&bytes, &rewrite)
            ),
            Err(error) => prop_assert_eq!(spliced.unwrap_err(), error),
        }
    }
}
