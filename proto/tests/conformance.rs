//! Conformance against third-party and spec vectors (`tests/data/`, provenance in its README).
//!
//! Every bundle vector is checked field by field against its listed CBOR structure, not only for
//! "it decodes", and must re-encode to the exact input bytes. The expected values are read from
//! the vector's own `decoded` array with a tiny independent CBOR reader below, so a bug in the
//! codec's CBOR layer cannot hide itself by being used on both sides of a comparison.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use serde_json::Value;
use tern_proto::wire::{
    BlockBody, Bundle, BundleBuilder, CanonicalBlock, CrcType, CreationTimestamp, DtnTime, Eid,
    PrimaryBlock, crc16_x25, crc32c,
};

const BPV7_BUNDLES: &str = include_str!("data/bpv7/bpv7_bundles.json");
const CRC_VECTORS: &str = include_str!("data/bpv7/crc_vectors.json");
const EID_VECTORS: &str = include_str!("data/bpv7/eid_vectors.json");

/// RFC 9173 Appendix A: (JSON, output hex file, input hex file) of one example.
macro_rules! rfc9173 {
    ($example:literal, $input:literal) => {
        (
            include_str!(concat!("data/rfc9173/", $example, ".json")),
            include_str!(concat!("data/rfc9173/", $example, ".output.hex")),
            include_str!(concat!("data/rfc9173/", $input, ".input.hex")),
        )
    };
}

const RFC9173: [(&str, &str, &str); 4] = [
    rfc9173!("example_a1_simple_integrity", "original_bundle_a1_a2_a4"),
    rfc9173!(
        "example_a2_confidentiality_keywrap",
        "original_bundle_a1_a2_a4"
    ),
    rfc9173!("example_a3_multiple_sources", "original_bundle_a3"),
    rfc9173!("example_a4_full_scope", "original_bundle_a1_a2_a4"),
];

// ---------------------------------------------------------------------------------------------
// A minimal, independent view of CBOR items (only what the vectors use).

/// One CBOR item as the vectors describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Uint(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Self>),
}

impl Item {
    fn uint(&self) -> u64 {
        match self {
            Self::Uint(v) => *v,
            other => panic!("expected an unsigned integer, found {other:?}"),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Bytes(b) => b,
            other => panic!("expected a byte string, found {other:?}"),
        }
    }

    fn array(&self) -> &[Self] {
        match self {
            Self::Array(a) => a,
            other => panic!("expected an array, found {other:?}"),
        }
    }
}

/// The vectors' JSON rendering of CBOR: numbers, strings, arrays and `{"bstr": hex}`.
fn json_item(v: &Value) -> Item {
    match v {
        Value::Number(n) => Item::Uint(n.as_u64().unwrap()),
        Value::String(s) => Item::Text(s.clone()),
        Value::Array(a) => Item::Array(a.iter().map(json_item).collect()),
        Value::Object(o) => Item::Bytes(hex::decode(o["bstr"].as_str().unwrap()).unwrap()),
        other => panic!("unexpected JSON in a decoded vector: {other}"),
    }
}

/// Parses exactly one definite-length CBOR item that fills `b`.
fn cbor_item(b: &[u8]) -> Item {
    let (item, used) = cbor_prefix(b);
    assert_eq!(
        used,
        b.len(),
        "trailing bytes after CBOR item in {}",
        hex::encode(b)
    );
    item
}

fn cbor_prefix(b: &[u8]) -> (Item, usize) {
    let major = b[0] >> 5;
    let (arg, mut at) = match b[0] & 0x1f {
        info @ 0..=23 => (u64::from(info), 1),
        24 => (u64::from(b[1]), 2),
        25 => (u64::from(u16::from_be_bytes([b[1], b[2]])), 3),
        26 => (
            u64::from(u32::from_be_bytes(b[1..5].try_into().unwrap())),
            5,
        ),
        27 => (u64::from_be_bytes(b[1..9].try_into().unwrap()), 9),
        other => panic!("unsupported CBOR additional info {other}"),
    };
    let len = usize::try_from(arg).unwrap_or(usize::MAX);
    let item = match major {
        0 => Item::Uint(arg),
        2 => {
            at += len;
            Item::Bytes(b[at - len..at].to_vec())
        }
        3 => {
            at += len;
            Item::Text(String::from_utf8(b[at - len..at].to_vec()).unwrap())
        }
        4 => {
            let mut items = Vec::new();
            for _ in 0..arg {
                let (item, used) = cbor_prefix(&b[at..]);
                items.push(item);
                at += used;
            }
            Item::Array(items)
        }
        other => panic!("unsupported CBOR major type {other}"),
    };
    (item, at)
}

/// The URI text of an endpoint ID given as its CBOR item (RFC 9171 §4.2.5.1, RFC 9758 §6).
fn eid_uri(item: &Item) -> String {
    let parts = item.array();
    assert_eq!(parts.len(), 2, "an EID is [scheme, ssp]");
    match (parts[0].uint(), &parts[1]) {
        (1, Item::Uint(0)) => "dtn:none".to_owned(),
        (1, Item::Text(ssp)) => format!("dtn:{ssp}"),
        (2, Item::Array(ssp)) => match ssp.as_slice() {
            [fqnn, service] => ipn_uri(fqnn.uint() >> 32, fqnn.uint() & 0xffff_ffff, service),
            [allocator, node, service] => ipn_uri(allocator.uint(), node.uint(), service),
            other => panic!("ipn SSP with {} elements", other.len()),
        },
        (scheme, ssp) => panic!("unexpected EID [{scheme}, {ssp:?}]"),
    }
}

fn ipn_uri(allocator: u64, node: u64, service: &Item) -> String {
    let service = service.uint();
    if allocator == 0 {
        format!("ipn:{node}.{service}")
    } else {
        format!("ipn:{allocator}.{node}.{service}")
    }
}

// ---------------------------------------------------------------------------------------------
// Field-by-field comparison of a decoded bundle with a vector's `decoded` array.

/// Walks `decoded` (`[primary, block, ...]`) and asserts every field of `bundle` against it.
fn assert_matches_decoded(id: &str, bundle: &Bundle, decoded: &Value) {
    let items = json_item(decoded);
    let (primary, blocks) = items.array().split_first().unwrap();
    assert_primary(id, bundle.primary(), primary);
    assert_eq!(bundle.blocks().len(), blocks.len(), "{id}: block count");
    for (block, expected) in bundle.blocks().iter().zip(blocks) {
        assert_block(id, block, expected);
    }
}

/// Asserts one unsigned field against its expected item.
fn field(found: u64, expected: &Item, what: &str) {
    assert_eq!(found, expected.uint(), "{what}");
}

/// Asserts the item count of a block, and the length of its CRC value if it has one.
fn crc_items(f: &[Item], items: usize, crc: CrcType, what: &str) {
    let items = items + usize::from(crc != CrcType::None);
    assert_eq!(f.len(), items, "{what}: item count");
    if crc != CrcType::None {
        let len = f[items - 1].bytes().len();
        assert_eq!(len, crc.value_len(), "{what}: CRC length");
    }
}

fn assert_primary(id: &str, p: &PrimaryBlock, expected: &Item) {
    let f = expected.array();
    let at = |what: &str| format!("{id}: primary {what}");
    field(7, &f[0], &at("version"));
    field(p.flags.bits(), &f[1], &at("flags"));
    field(p.crc.code(), &f[2], &at("CRC type"));
    let eids = [&p.destination, &p.source, &p.report_to];
    for (eid, (item, what)) in eids
        .into_iter()
        .zip(f[3..6].iter().zip(["dest", "src", "rpt"]))
    {
        let uri = eid_uri(item);
        assert_eq!(eid.to_string(), uri, "{}", at(what));
        assert_eq!(eid, &uri.parse::<Eid>().unwrap(), "{}", at(what));
    }
    let creation = f[6].array();
    field(p.creation.time.0, &creation[0], &at("creation time"));
    field(p.creation.sequence, &creation[1], &at("sequence"));
    field(p.lifetime_ms, &f[7], &at("lifetime"));
    let is_fragment = f[1].uint() & 1 == 1;
    assert_eq!(p.fragment.is_some(), is_fragment, "{}", at("fragment"));
    if let Some(frag) = p.fragment {
        field(frag.offset, &f[8], &at("fragment offset"));
        field(frag.total_adu_length, &f[9], &at("total ADU length"));
    }
    let items = if is_fragment { 10 } else { 8 };
    crc_items(f, items, p.crc, &at(""));
}

fn assert_block(id: &str, block: &CanonicalBlock, expected: &Item) {
    let f = expected.array();
    let at = |what: &str| format!("{id}: block #{} {what}", f[1].uint());
    field(block.block_type().0, &f[0], &at("type"));
    field(block.number, &f[1], &at("number"));
    field(block.flags.bits(), &f[2], &at("flags"));
    field(block.crc.code(), &f[3], &at("CRC type"));
    let data = f[4].bytes();
    match &block.body {
        BlockBody::Payload(p) => assert_eq!(p.as_ref(), data, "{}", at("payload")),
        BlockBody::PreviousNode(eid) => {
            let uri = eid_uri(&cbor_item(data));
            assert_eq!(eid.to_string(), uri, "{}", at("previous node"));
        }
        BlockBody::BundleAge(age) => field(*age, &cbor_item(data), &at("age")),
        BlockBody::HopCount(h) => {
            let hc = cbor_item(data);
            field(h.limit, &hc.array()[0], &at("hop limit"));
            field(h.count, &hc.array()[1], &at("hop count"));
        }
        BlockBody::Other {
            block_type,
            data: d,
        } => {
            assert!(![1, 6, 7, 10].contains(block_type), "{}", at("kept opaque"));
            assert_eq!(d.as_ref(), data, "{}", at("data"));
        }
    }
    crc_items(f, 5, block.crc, &at(""));
}

fn decode_hex(h: &str) -> (Bundle, Vec<u8>) {
    let bytes = hex::decode(h.trim()).unwrap();
    let bundle = Bundle::decode(Bytes::from(bytes.clone()))
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", &h[..h.len().min(40)]));
    (bundle, bytes)
}

fn cases(json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["cases"].as_array().unwrap().clone()
}

/// The decoded bundle of the `bpv7_bundles.json` case `id`, and its bytes.
fn bundle_case(id: &str) -> (Value, Bundle, Vec<u8>) {
    let case = cases(BPV7_BUNDLES)
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap();
    let (bundle, bytes) = decode_hex(case["hex"].as_str().unwrap());
    (case, bundle, bytes)
}

// ---------------------------------------------------------------------------------------------
// bpv7/bpv7_bundles.json

#[test]
fn every_bpv7_bundle_vector_decodes_to_its_listed_fields() {
    let cases = cases(BPV7_BUNDLES);
    assert_eq!(cases.len(), 7, "vector added or lost");
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let (bundle, _) = decode_hex(case["hex"].as_str().unwrap());
        assert_matches_decoded(id, &bundle, &case["decoded"]);
    }
}

#[test]
fn every_bpv7_bundle_vector_re_encodes_byte_exact() {
    for case in &cases(BPV7_BUNDLES) {
        let (bundle, bytes) = decode_hex(case["hex"].as_str().unwrap());
        assert_eq!(
            hex::encode(bundle.encode()),
            hex::encode(bytes),
            "{}",
            case["id"]
        );
    }
}

#[test]
fn dtn_demo_agent_bundle_carries_its_extension_blocks() {
    let (_, bundle, _) = bundle_case("dtn-demo-agent-interop-integrity-base");
    assert_eq!(bundle.primary().destination, Eid::ipn(4, 9));
    assert_eq!(bundle.primary().source, Eid::ipn(1, 1));
    assert_eq!(bundle.previous_node(), Some(&Eid::ipn(1, 0)));
    assert_eq!(bundle.bundle_age(), Some(63_000));
    let hops = bundle.hop_count().unwrap();
    assert_eq!((hops.limit, hops.count), (3, 1));
    assert_eq!(bundle.payload().as_ref(), b"hello");
    let numbers: Vec<u64> = bundle.blocks().iter().map(|b| b.number).collect();
    assert_eq!(numbers, [4, 3, 2, 1], "wire order is kept");
}

/// bp7-rs treats `ipn:0.1` as the null endpoint and re-encodes it as `[2,[0,0]]`; tern keeps what
/// it received, so a forwarded bundle's bytes (and any BIB over them) stay intact.
#[test]
fn report_to_ipn_zero_dot_one_is_accepted_and_kept_as_received() {
    let (_, bundle, bytes) = bundle_case("bp7-rs-ipn0-report-to-edge");
    assert_eq!(bundle.primary().report_to.to_string(), "ipn:0.1");
    assert!(!bundle.primary().report_to.is_null());
    assert_eq!(bundle.encode(), bytes);
}

// ---------------------------------------------------------------------------------------------
// rfc9173/ (RFC 9173 Appendix A)

fn rfc9173_cases() -> Vec<(Value, &'static str, &'static str)> {
    RFC9173
        .iter()
        .map(|(json, out, input)| (serde_json::from_str(json).unwrap(), *out, *input))
        .collect()
}

#[test]
fn rfc9173_input_bundles_decode_and_re_encode_byte_exact() {
    for (case, _, input) in rfc9173_cases() {
        assert_eq!(case["input_bundle_hex"].as_str().unwrap(), input.trim());
        let (bundle, bytes) = decode_hex(input);
        assert_eq!(bundle.encode(), bytes, "{}", case["id"]);
        assert_eq!(
            hex::encode(bundle.payload()),
            case["payload_block"]["adu_hex"].as_str().unwrap()
        );
        assert_eq!(
            bundle.payload().as_ref(),
            b"Ready to generate a 32-byte payload"
        );
    }
}

#[test]
fn rfc9173_output_bundles_decode_to_their_listed_fields_and_re_encode_byte_exact() {
    for (case, output, _) in rfc9173_cases() {
        let id = case["id"].as_str().unwrap();
        assert_eq!(
            case["output_bundle_hex"].as_str().unwrap(),
            output.trim(),
            "{id}"
        );
        let (bundle, bytes) = decode_hex(output);
        assert_matches_decoded(id, &bundle, &case["output_bundle_decoded"]);
        assert_eq!(bundle.encode(), bytes, "{id}");
    }
}

#[test]
fn rfc9173_security_blocks_are_kept_opaque_with_their_asb_bytes() {
    for (case, output, _) in rfc9173_cases() {
        let id = case["id"].as_str().unwrap();
        let (bundle, _) = decode_hex(output);
        for sb in case["security_blocks"].as_array().unwrap() {
            let number = sb["number"].as_u64().unwrap();
            let block_type = sb["type"].as_u64().unwrap();
            let flags = sb["flags"].as_u64().unwrap();
            // A.4's BIB is encrypted by the BCB: on the wire its BTSD is the ciphertext.
            let expected = match sb["asb_btsd_hex"].as_str() {
                Some(h) => h,
                None => case["intermediate"]["bib_ciphertext"].as_str().unwrap(),
            };
            let block = bundle.blocks().iter().find(|b| b.number == number).unwrap();
            assert!(
                matches!(block_type, 11 | 12),
                "{id}: #{number} is a security block"
            );
            assert_eq!(block.flags.bits(), flags, "{id}: #{number} flags");
            assert_eq!(block.crc, CrcType::None, "{id}: #{number} CRC type");
            match &block.body {
                BlockBody::Other {
                    block_type: t,
                    data,
                } => {
                    assert_eq!(*t, block_type, "{id}: #{number} type");
                    assert_eq!(hex::encode(data), expected, "{id}: #{number} BTSD");
                }
                other => panic!("{id}: #{number} decoded as {other:?}"),
            }
        }
    }
}

#[test]
fn rfc9173_payloads_are_the_sample_adu_or_its_ciphertext() {
    for (case, output, _) in rfc9173_cases() {
        let id = case["id"].as_str().unwrap();
        let (bundle, _) = decode_hex(output);
        let expected = case["intermediate"]
            .get("payload_ciphertext")
            .unwrap_or(&case["payload_block"]["adu_hex"])
            .as_str()
            .unwrap();
        assert_eq!(hex::encode(bundle.payload()), expected, "{id}");
        assert_eq!(bundle.payload_block().unwrap().number, 1, "{id}");
    }
}

// ---------------------------------------------------------------------------------------------
// bpv7/crc_vectors.json

#[test]
fn crc_string_vectors_match_both_crc_functions() {
    let strings: Vec<Value> = cases(CRC_VECTORS)
        .into_iter()
        .filter(|c| c["kind"] == "crc_string")
        .collect();
    assert_eq!(strings.len(), 4);
    for case in strings {
        let data = case["ascii"].as_str().unwrap().as_bytes();
        let x25 = u16::from_str_radix(case["crc16_x25"].as_str().unwrap(), 16).unwrap();
        let c32 = u32::from_str_radix(case["crc32c"].as_str().unwrap(), 16).unwrap();
        assert_eq!(crc16_x25(data), x25, "{}", case["id"]);
        assert_eq!(crc32c(data), c32, "{}", case["id"]);
    }
}

/// RFC 9171 §4.2.1: the CRC covers the whole block with the CRC value's bytes set to zero.
#[test]
fn crc_block_vectors_recompute_with_the_crc_field_zeroed() {
    let blocks: Vec<Value> = cases(CRC_VECTORS)
        .into_iter()
        .filter(|c| c["kind"] == "block")
        .collect();
    assert_eq!(blocks.len(), 2);
    for case in blocks {
        let mut block = hex::decode(case["hex"].as_str().unwrap()).unwrap();
        let n = block.len();
        // The CRC type is the primary block's third item; the value is a 2- or 4-byte string.
        match block[3] {
            1 => {
                assert_eq!(block[n - 3], 0x42, "{}: CRC-16 value header", case["id"]);
                let carried = u16::from_be_bytes([block[n - 2], block[n - 1]]);
                block[n - 2..].fill(0);
                assert_eq!(crc16_x25(&block), carried, "{}", case["id"]);
            }
            2 => {
                assert_eq!(block[n - 5], 0x44, "{}: CRC-32C value header", case["id"]);
                let carried = u32::from_be_bytes(block[n - 4..].try_into().unwrap());
                block[n - 4..].fill(0);
                assert_eq!(crc32c(&block), carried, "{}", case["id"]);
            }
            other => panic!("{}: CRC type {other}", case["id"]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// bpv7/eid_vectors.json

/// The URI text that names each vector's EID in the form the vector encodes (three-element
/// ipn forms need the three-part text, a large FQNN the two-part text), and its display form.
const EID_TEXT: [(&str, &str, &str); 11] = [
    ("dtn-none", "dtn:none", "dtn:none"),
    ("dtn-node-service", "dtn://node1/inbox", "dtn://node1/inbox"),
    ("dtn-node-id", "dtn://node1/", "dtn://node1/"),
    ("ipn-1-2", "ipn:1.2", "ipn:1.2"),
    ("ipn-node-id", "ipn:977000.0", "ipn:977000.0"),
    ("rfc9758-2elt", "ipn:1.1", "ipn:1.1"),
    ("rfc9758-3elt", "ipn:0.1.1", "ipn:1.1"),
    (
        "rfc9758-2elt-fqnn",
        "ipn:4196183048192001.1",
        "ipn:977000.1.1",
    ),
    ("rfc9758-3elt-alloc", "ipn:977000.1.1", "ipn:977000.1.1"),
    ("rfc9758-null-2", "ipn:0.0", "ipn:0.0"),
    ("rfc9758-null-3", "ipn:0.0.0", "ipn:0.0"),
];

fn eid_text(id: &str) -> (&'static str, &'static str) {
    let (_, text, shown) = EID_TEXT.iter().find(|(i, _, _)| *i == id).unwrap();
    (text, shown)
}

fn ts() -> CreationTimestamp {
    CreationTimestamp::new(DtnTime(755_000_000_000), 1)
}

/// The encoding of `[1, "//p/"]`, the placeholder destination EID spliced out below.
const PLACEHOLDER: [u8; 7] = [0x82, 0x01, 0x64, b'/', b'/', b'p', b'/'];
/// 0x9f, primary array header, version 7, flags 0, CRC type 0: the destination starts here.
const DEST_AT: usize = 5;

/// A CRC-less bundle whose destination EID bytes are replaced by `eid` (the splice is safe
/// because no CRC covers the primary block and a CBOR item delimits itself).
fn bundle_with_destination_bytes(eid: &[u8]) -> Vec<u8> {
    let base = BundleBuilder::new(
        "dtn://src/".parse().unwrap(),
        "dtn://p/".parse().unwrap(),
        ts(),
        1,
    )
    .crc(CrcType::None)
    .payload(&b"x"[..])
    .build()
    .unwrap()
    .encode();
    assert_eq!(base[DEST_AT..DEST_AT + PLACEHOLDER.len()], PLACEHOLDER);
    let mut spliced = base[..DEST_AT].to_vec();
    spliced.extend_from_slice(eid);
    spliced.extend_from_slice(&base[DEST_AT + PLACEHOLDER.len()..]);
    spliced
}

fn eid_cases() -> Vec<Value> {
    let cases = cases(EID_VECTORS);
    assert_eq!(cases.len(), EID_TEXT.len(), "vector added or lost");
    cases
}

/// A vector marked invalid must be refused, all others must decode. (The file holds no invalid
/// EID today; `malformed_eid_encodings_are_refused` covers refusal.)
fn is_valid(case: &Value) -> bool {
    case.get("valid").and_then(Value::as_bool).unwrap_or(true)
        && !case["kind"].as_str().unwrap().contains("invalid")
}

#[test]
fn eid_vectors_decode_to_the_expected_endpoint() {
    for case in &eid_cases() {
        let id = case["id"].as_str().unwrap();
        let eid_bytes = hex::decode(case["hex"].as_str().unwrap()).unwrap();
        let bytes = bundle_with_destination_bytes(&eid_bytes);
        if !is_valid(case) {
            assert!(
                Bundle::decode(Bytes::from(bytes)).is_err(),
                "{id} was accepted"
            );
            continue;
        }
        let bundle =
            Bundle::decode(Bytes::from(bytes.clone())).unwrap_or_else(|e| panic!("{id}: {e}"));
        let (text, shown) = eid_text(id);
        let dest = &bundle.primary().destination;
        assert_eq!(dest, &text.parse::<Eid>().unwrap(), "{id}");
        assert_eq!(dest.to_string(), shown, "{id}");
        assert_eq!(dest.to_string(), eid_uri(&cbor_item(&eid_bytes)), "{id}");
        assert_eq!(bundle.encode(), bytes, "{id}: received form kept");
    }
}

#[test]
fn eid_vectors_are_reproduced_by_the_encoder() {
    for case in eid_cases().iter().filter(|c| is_valid(c)) {
        let id = case["id"].as_str().unwrap();
        let expected = hex::decode(case["hex"].as_str().unwrap()).unwrap();
        let dest: Eid = eid_text(id).0.parse().unwrap();
        let bytes = BundleBuilder::new("dtn://src/".parse().unwrap(), dest, ts(), 1)
            .crc(CrcType::None)
            .build()
            .unwrap()
            .encode();
        assert_eq!(
            hex::encode(&bytes[DEST_AT..DEST_AT + expected.len()]),
            hex::encode(&expected),
            "{id}"
        );
    }
}

#[test]
fn malformed_eid_encodings_are_refused() {
    for (what, h) in [
        ("unknown scheme 3", "82030100"),
        ("dtn SSP integer other than 0", "820101"),
        ("dtn SSP without //", "8201666e6f64652f78"),
        (
            "dtn SSP without / after the node name",
            "8201662f2f6e6f6465",
        ),
        ("ipn SSP of one element", "8202810a"),
        ("ipn SSP of four elements", "82028400010203"),
        ("ipn allocator > 32 bits", "8202831b00000001000000000101"),
        ("ipn SSP given as text", "820263312e32"),
        ("EID of three items", "8301000a"),
        ("negative scheme", "82200100"),
    ] {
        let bytes = bundle_with_destination_bytes(&hex::decode(h).unwrap());
        assert!(
            Bundle::decode(Bytes::from(bytes)).is_err(),
            "{what} was accepted"
        );
    }
}

#[test]
fn equivalent_ipn_forms_name_the_same_endpoint() {
    let eid = |id| eid_text(id).0.parse::<Eid>().unwrap();
    assert_eq!(eid("rfc9758-2elt-fqnn"), eid("rfc9758-3elt-alloc"));
    assert_eq!(eid("rfc9758-2elt"), eid("rfc9758-3elt"));
    assert_eq!(eid("rfc9758-null-2"), eid("rfc9758-null-3"));
    assert!(eid("rfc9758-null-2").is_null());
    assert!(eid("dtn-none").is_null());
    assert!(eid("ipn-node-id").is_node_id());
    assert!(eid("dtn-node-id").is_node_id());
}
