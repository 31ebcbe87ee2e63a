//! TCPCLv4 message codec against the RFC 9174 vectors in `data/tcpclv4/` (provenance in
//! `data/README.md`), plus property tests: arbitrary messages round-trip byte-exact however the
//! stream is cut, and neither the decoder nor a session panics on arbitrary bytes.
//!
//! Case count: proptest's default (256), raised with `PROPTEST_CASES=10000 cargo test ...`.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;
use tern_proto::tcpcl::{
    ContactFlags, ContactHeader, ExtensionFlags, ExtensionItem, Limits, Message, MsgReject,
    RefuseReason, RejectReason, Role, SegmentFlags, SessInit, SessTerm, SessTermFlags,
    SessTermReason, Session, SessionConfig, XferAck, XferRefuse, XferSegment,
};

const MESSAGES: &str = include_str!("data/tcpclv4/tcpclv4_messages.json");

fn vectors() -> Vec<Value> {
    let root: Value = serde_json::from_str(MESSAGES).unwrap();
    root["messages"].as_array().unwrap().clone()
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    v.get(key)
        .map_or_else(Vec::new, |h| hex::decode(h.as_str().unwrap()).unwrap())
}

fn uint(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{}: no {key}", v["id"]))
}

fn byte(v: &Value, key: &str) -> u8 {
    u8::try_from(uint(v, key)).unwrap()
}

/// The extension items' bytes, written here independently of the codec.
fn items_hex(items: &[ExtensionItem]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.push(item.flags.bits());
        out.extend_from_slice(&item.item_type.to_be_bytes());
        out.extend_from_slice(&u16::try_from(item.value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&item.value);
    }
    out
}

fn decode_one(bytes: &[u8]) -> Message {
    let mut buf = BytesMut::from(bytes);
    let msg = Message::decode(&mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert!(buf.is_empty(), "decode left {} bytes", buf.len());
    msg
}

/// Checks one message vector field by field; returns the decoded message.
fn check_message(v: &Value, wire: &[u8]) -> Message {
    let id = v["id"].as_str().unwrap();
    let msg = decode_one(wire);
    match (v["type"].as_str().unwrap(), &msg) {
        ("SESS_INIT", Message::SessInit(m)) => {
            assert_eq!(u64::from(m.keepalive), uint(v, "keepalive"), "{id}");
            assert_eq!(m.segment_mru, uint(v, "segment_mru"), "{id}");
            assert_eq!(m.transfer_mru, uint(v, "transfer_mru"), "{id}");
            assert_eq!(m.node_id, v["node_id"].as_str().unwrap(), "{id}");
            assert_eq!(
                items_hex(&m.extensions),
                hex_field(v, "ext_items_hex"),
                "{id}"
            );
        }
        ("SESS_TERM", Message::SessTerm(m)) => {
            assert_eq!(m.flags.bits(), byte(v, "flags"), "{id}");
            assert_eq!(m.reason, SessTermReason(byte(v, "reason")), "{id}");
        }
        ("KEEPALIVE", Message::Keepalive) => {}
        ("MSG_REJECT", Message::MsgReject(m)) => {
            assert_eq!(m.reason, RejectReason(byte(v, "reason")), "{id}");
            assert_eq!(m.rejected_header, byte(v, "rejected_header"), "{id}");
        }
        ("XFER_REFUSE", Message::XferRefuse(m)) => {
            assert_eq!(m.reason, RefuseReason(byte(v, "reason")), "{id}");
            assert_eq!(m.transfer_id, uint(v, "transfer_id"), "{id}");
        }
        ("XFER_SEGMENT", Message::XferSegment(m)) => {
            assert_eq!(m.flags.bits(), byte(v, "flags"), "{id}");
            assert_eq!(m.transfer_id, uint(v, "transfer_id"), "{id}");
            assert_eq!(&m.data[..], &hex_field(v, "data_hex")[..], "{id}");
            assert_eq!(
                items_hex(&m.extensions),
                hex_field(v, "ext_items_hex"),
                "{id}"
            );
        }
        ("XFER_ACK", Message::XferAck(m)) => {
            assert_eq!(m.flags.bits(), byte(v, "flags"), "{id}");
            assert_eq!(m.transfer_id, uint(v, "transfer_id"), "{id}");
            assert_eq!(m.acked_len, uint(v, "ack_length"), "{id}");
        }
        (ty, other) => panic!("{id}: vector type {ty} decoded as {other:?}"),
    }
    assert_eq!(
        &msg.to_bytes().unwrap()[..],
        wire,
        "{id}: re-encoding differs"
    );
    msg
}

#[test]
fn every_vector_decodes_to_its_fields_and_reencodes_byte_exact() {
    let mut seen = Vec::new();
    for v in vectors() {
        let wire = hex_field(&v, "hex");
        let ty = v["type"].as_str().unwrap().to_owned();
        if ty == "contact_header" {
            let mut buf = BytesMut::from(&wire[..]);
            let header = ContactHeader::decode(&mut buf).unwrap().unwrap();
            assert_eq!(header.version, 4);
            assert_eq!(header.flags.bits(), byte(&v, "flags"));
            assert_eq!(header.encode()[..], wire[..]);
        } else {
            check_message(&v, &wire);
        }
        seen.push(ty);
    }
    for ty in [
        "contact_header",
        "SESS_INIT",
        "SESS_TERM",
        "KEEPALIVE",
        "MSG_REJECT",
        "XFER_REFUSE",
        "XFER_SEGMENT",
        "XFER_ACK",
    ] {
        assert!(seen.iter().any(|s| s == ty), "no {ty} vector");
    }
}

#[test]
fn transfer_length_vector_matches_the_extension_constructor_but_for_its_critical_flag() {
    let v = vectors()
        .into_iter()
        .find(|v| v["id"] == "xfer-segment-start-length-ext")
        .unwrap();
    let Message::XferSegment(segment) = decode_one(&hex_field(&v, "hex")) else {
        panic!("not a segment");
    };
    let mut expected = ExtensionItem::transfer_length(800);
    expected.flags = ExtensionFlags::CRITICAL;
    assert_eq!(segment.extensions, vec![expected]);
}

#[test]
fn byte_at_a_time_feeding_gives_the_same_messages() {
    let wires: Vec<Vec<u8>> = vectors()
        .iter()
        .filter(|v| v["type"] != "contact_header")
        .map(|v| hex_field(v, "hex"))
        .collect();
    let expected: Vec<Message> = wires.iter().map(|w| decode_one(w)).collect();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in wires.concat() {
        buf.extend_from_slice(&[byte]);
        while let Some(msg) = Message::decode(&mut buf, &Limits::default()).unwrap() {
            got.push(msg);
        }
    }
    assert_eq!(got, expected);
    assert!(buf.is_empty());
}

#[test]
fn contact_header_arrives_byte_by_byte() {
    let wire = ContactHeader::new(ContactFlags::CAN_TLS).encode();
    let mut buf = BytesMut::new();
    for byte in &wire[..5] {
        buf.extend_from_slice(&[*byte]);
        assert_eq!(ContactHeader::decode(&mut buf), Ok(None));
    }
    buf.extend_from_slice(&wire[5..]);
    let header = ContactHeader::decode(&mut buf).unwrap().unwrap();
    assert_eq!(header.flags, ContactFlags::CAN_TLS);
}

// ---------------------------------------------------------------------------------------------
// Properties

fn extension_items() -> impl Strategy<Value = Vec<ExtensionItem>> {
    vec(
        (any::<u8>(), any::<u16>(), vec(any::<u8>(), 0..24)).prop_map(|(f, t, v)| ExtensionItem {
            flags: ExtensionFlags::from_bits_retain(f),
            item_type: t,
            value: Bytes::from(v),
        }),
        0..4,
    )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            any::<u16>(),
            any::<u64>(),
            any::<u64>(),
            "\\PC{0,24}",
            extension_items()
        )
            .prop_map(
                |(keepalive, segment_mru, transfer_mru, node_id, extensions)| {
                    Message::SessInit(SessInit {
                        keepalive,
                        segment_mru,
                        transfer_mru,
                        node_id,
                        extensions,
                    })
                }
            ),
        (any::<u8>(), any::<u8>()).prop_map(|(f, r)| Message::SessTerm(SessTerm {
            flags: SessTermFlags::from_bits_retain(f),
            reason: SessTermReason(r),
        })),
        Just(Message::Keepalive),
        (any::<u8>(), any::<u8>()).prop_map(|(r, h)| Message::MsgReject(MsgReject {
            reason: RejectReason(r),
            rejected_header: h,
        })),
        (
            any::<u8>(),
            any::<u64>(),
            extension_items(),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(|(f, transfer_id, items, data)| {
                let flags = SegmentFlags::from_bits_retain(f);
                let start = flags.contains(SegmentFlags::START);
                Message::XferSegment(XferSegment {
                    flags,
                    transfer_id,
                    extensions: if start { items } else { Vec::new() },
                    data: Bytes::from(data),
                })
            }),
        (any::<u8>(), any::<u64>(), any::<u64>()).prop_map(|(f, transfer_id, acked_len)| {
            Message::XferAck(XferAck {
                flags: SegmentFlags::from_bits_retain(f),
                transfer_id,
                acked_len,
            })
        }),
        (any::<u8>(), any::<u64>()).prop_map(|(r, transfer_id)| Message::XferRefuse(XferRefuse {
            reason: RefuseReason(r),
            transfer_id,
        })),
    ]
}

proptest! {
    #[test]
    fn messages_round_trip_however_the_stream_is_cut(
        msgs in vec(message(), 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut wire = BytesMut::new();
        for msg in &msgs {
            msg.encode(&mut wire).unwrap();
        }
        let wire = wire.freeze();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for to in points {
            buf.extend_from_slice(&wire[from..to]);
            from = to;
            while let Some(msg) = Message::decode(&mut buf, &Limits::default()).unwrap() {
                got.push(msg);
            }
        }
        prop_assert_eq!(&got, &msgs);
        prop_assert!(buf.is_empty());
        let mut again = BytesMut::new();
        for msg in &got {
            msg.encode(&mut again).unwrap();
        }
        prop_assert_eq!(&again[..], &wire[..]);
    }

    #[test]
    fn decoder_never_panics_and_accepted_messages_reencode_exactly(
        bytes in vec(any::<u8>(), 0..256),
    ) {
        let limits = Limits { max_segment_len: 64, max_node_id_len: 32, max_extensions_len: 64 };
        let mut buf = BytesMut::from(&bytes[..]);
        let mut consumed = 0;
        while let Ok(Some(msg)) = Message::decode(&mut buf, &limits) {
            let encoded = msg.to_bytes().unwrap();
            prop_assert_eq!(&encoded[..], &bytes[consumed..consumed + encoded.len()]);
            consumed += encoded.len();
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = ContactHeader::decode(&mut buf);
    }

    #[test]
    fn session_never_panics_on_arbitrary_bytes_after_a_valid_setup(
        chunks in vec(vec(any::<u8>(), 0..64), 0..8),
        times in vec(0u64..200_000, 8),
    ) {
        let mut config = SessionConfig::new("dtn://b/");
        config.segment_mru = 64;
        let mut session = Session::new(Role::Passive, config, 0).unwrap();
        session.handle_bytes(0, &ContactHeader::new(ContactFlags::empty()).encode());
        let init = Message::SessInit(SessInit {
            keepalive: 1,
            segment_mru: 100,
            transfer_mru: 1000,
            node_id: "dtn://a/".into(),
            extensions: Vec::new(),
        });
        session.handle_bytes(0, &init.to_bytes().unwrap());
        prop_assert!(session.is_established());
        let mut now = 0;
        for (chunk, dt) in chunks.iter().zip(&times) {
            now += dt;
            session.handle_bytes(now, chunk);
            session.handle_timeout(now);
            while session.poll_transmit().is_some() {}
            while session.poll_event().is_some() {}
        }
        if session.is_closed() {
            prop_assert_eq!(session.poll_timeout(), None);
        }
    }
}

/// One thing that can happen to an established session.
#[derive(Debug, Clone)]
enum Input {
    Peer(Message),
    Ack(u64),
    Refuse(u64, u8),
    Send(usize),
    Close(u8),
    Elapse(u64),
    ConnectionLost,
}

/// Messages whose transfer IDs collide often, so that acks, refusals and segments meet the
/// transfers they name.
fn peer_message() -> impl Strategy<Value = Message> {
    (message(), 0u64..4).prop_map(|(msg, id)| match msg {
        Message::XferSegment(mut m) => {
            m.transfer_id = id;
            m.flags &= SegmentFlags::START | SegmentFlags::END;
            Message::XferSegment(m)
        }
        Message::XferAck(mut m) => {
            m.transfer_id = id;
            m.acked_len %= 300;
            Message::XferAck(m)
        }
        Message::XferRefuse(mut m) => {
            m.transfer_id = id;
            Message::XferRefuse(m)
        }
        other => other,
    })
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => peer_message().prop_map(Input::Peer),
        1 => (0u64..4).prop_map(Input::Ack),
        1 => (0u64..4, any::<u8>()).prop_map(|(id, r)| Input::Refuse(id, r)),
        2 => (0usize..300).prop_map(Input::Send),
        1 => any::<u8>().prop_map(Input::Close),
        1 => (0u64..40_000).prop_map(Input::Elapse),
        1 => Just(Input::ConnectionLost),
    ]
}

proptest! {
    #[test]
    fn session_survives_arbitrary_message_sequences_and_terminates_once(
        inputs in vec(input(), 0..40),
    ) {
        let mut config = SessionConfig::new("dtn://b/");
        config.segment_mru = 128;
        config.transfer_mru = 256;
        config.max_in_flight = 3;
        let mut session = Session::new(Role::Passive, config, 0).unwrap();
        session.handle_bytes(0, &ContactHeader::new(ContactFlags::empty()).encode());
        let init = Message::SessInit(SessInit {
            keepalive: 10,
            segment_mru: 100,
            transfer_mru: 250,
            node_id: "dtn://a/".into(),
            extensions: Vec::new(),
        });
        session.handle_bytes(0, &init.to_bytes().unwrap());
        let mut now = 0;
        let mut terminated = 0;
        for input in inputs {
            match input {
                Input::Peer(msg) => {
                    if let Ok(bytes) = msg.to_bytes() {
                        session.handle_bytes(now, &bytes);
                    }
                }
                Input::Ack(id) => {
                    let _ = session.ack_transfer(tern_proto::tcpcl::TransferId(id));
                }
                Input::Refuse(id, r) => {
                    let id = tern_proto::tcpcl::TransferId(id);
                    let _ = session.refuse_transfer(id, RefuseReason(r));
                }
                Input::Send(len) => {
                    let _ = session.send_bundle(Bytes::from(vec![0xab; len]));
                }
                Input::Close(r) => session.close(SessTermReason(r)),
                Input::Elapse(dt) => {
                    now += dt;
                    session.handle_timeout(now);
                }
                Input::ConnectionLost => session.handle_close(now),
            }
            while session.poll_transmit().is_some() {}
            while let Some(event) = session.poll_event() {
                if matches!(event, tern_proto::tcpcl::Event::Terminated { .. }) {
                    terminated += 1;
                }
            }
            prop_assert!(session.in_flight() <= 3);
        }
        prop_assert!(terminated <= 1);
        prop_assert_eq!(terminated == 1, session.is_closed());
    }
}
