//! A session against a hand-written peer: bad contact headers, bad parameters, protocol
//! violations, and the quirks of peers in the field (dtn7-rs acks with flags 0).

use bytes::{Bytes, BytesMut};

use super::Session;
use super::tests::{Pair, config};
use crate::tcpcl::{
    ContactFlags, ContactHeader, Event, ExtensionFlags, ExtensionItem, MessageType, RefuseReason,
    RejectReason, Role, SegmentFlags, SessInit, SessTermReason, SessionConfig, SessionError,
    TcpclError, TransferId, XferAck, XferSegment,
};

fn contact_header() -> [u8; 6] {
    ContactHeader::new(ContactFlags::empty()).encode()
}

fn sess_init(node_id: &str, extensions: Vec<ExtensionItem>) -> Bytes {
    let init = SessInit {
        keepalive: 30,
        segment_mru: 1 << 20,
        transfer_mru: 1 << 20,
        node_id: node_id.into(),
        extensions,
    };
    let mut out = BytesMut::new();
    init.encode(&mut out).unwrap();
    out.freeze()
}

fn segment(flags: SegmentFlags, id: u64, extensions: Vec<ExtensionItem>, data: &[u8]) -> Bytes {
    let segment = XferSegment {
        flags,
        transfer_id: id,
        extensions,
        data: Bytes::copy_from_slice(data),
    };
    crate::tcpcl::Message::XferSegment(segment)
        .to_bytes()
        .unwrap()
}

fn drain(session: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = session.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn last_error(events: &[Event]) -> Option<SessionError> {
    match events.last() {
        Some(Event::Terminated { error, .. }) => error.clone(),
        other => panic!("expected Terminated last, got {other:?}"),
    }
}

/// A passive session that a raw peer has brought to Established.
fn established_passive(config: SessionConfig) -> Session {
    let mut session = Session::new(Role::Passive, config, 0).unwrap();
    session.handle_bytes(0, &contact_header());
    session.handle_bytes(0, &sess_init("dtn://peer/", Vec::new()));
    drain(&mut session);
    assert!(matches!(
        events(&mut session)[..],
        [Event::Established { .. }]
    ));
    session
}

#[test]
fn garbage_after_the_contact_header_ends_the_session_with_msg_reject() {
    let mut session = Session::new(Role::Passive, config("b"), 0).unwrap();
    session.handle_bytes(0, &contact_header());
    session.handle_bytes(0, &[0xff, 0x00, 0x13]);
    let sent = drain(&mut session);
    assert_eq!(&sent[6..], &[0x06, 0x01, 0xff]);
    let events = events(&mut session);
    let error = SessionError::Decode(TcpclError::UnknownMessageType(0xff));
    assert_eq!(last_error(&events), Some(error));
    assert!(session.is_closed());
}

#[test]
fn wrong_magic_closes_without_an_answer() {
    let mut session = Session::new(Role::Passive, config("b"), 0).unwrap();
    session.handle_bytes(0, b"GET / HTTP/1.1\r\n");
    assert!(drain(&mut session).is_empty());
    let events = events(&mut session);
    let error = SessionError::Decode(TcpclError::BadMagic { found: *b"GET " });
    assert_eq!(
        last_error(&events).map(|e| e.to_string()),
        Some(error.to_string())
    );
    assert_eq!(
        error.to_string(),
        "contact header: magic [47, 45, 54, 20] is not \"dtn!\" (RFC 9174 §4.3): \
         the peer does not speak TCPCL"
    );
}

#[test]
fn wrong_version_is_answered_with_version_mismatch() {
    let mut session = Session::new(Role::Passive, config("b"), 0).unwrap();
    session.handle_bytes(0, &[0x64, 0x74, 0x6e, 0x21, 0x03, 0x00]);
    let sent = drain(&mut session);
    assert_eq!(sent, [0x64, 0x74, 0x6e, 0x21, 0x04, 0x00, 0x05, 0x00, 0x02]);
    let events = events(&mut session);
    assert_eq!(
        last_error(&events),
        Some(SessionError::VersionMismatch { peer: 3 })
    );
    assert_eq!(
        SessionError::VersionMismatch { peer: 3 }.to_string(),
        "peer speaks TCPCL version 3, this side only version 4 (RFC 9174 §4.3)"
    );
}

#[test]
fn unknown_critical_session_extension_ends_with_contact_failure() {
    let mut session = Session::new(Role::Passive, config("b"), 0).unwrap();
    session.handle_bytes(0, &contact_header());
    let item = ExtensionItem {
        flags: ExtensionFlags::CRITICAL,
        item_type: 0xfffe,
        value: Bytes::from_static(b"exthi"),
    };
    session.handle_bytes(0, &sess_init("dtn://peer/", vec![item]));
    let sent = drain(&mut session);
    assert_eq!(&sent[6..], &[0x05, 0x00, 0x04]);
    let events = events(&mut session);
    let error = SessionError::UnknownCriticalExtension { item_type: 0xfffe };
    assert_eq!(last_error(&events), Some(error));
}

#[test]
fn non_critical_unknown_session_extension_is_ignored() {
    let mut session = Session::new(Role::Passive, config("b"), 0).unwrap();
    session.handle_bytes(0, &contact_header());
    let item = ExtensionItem {
        flags: ExtensionFlags::empty(),
        item_type: 0xfffe,
        value: Bytes::from_static(b"exthi"),
    };
    session.handle_bytes(0, &sess_init("ipn:7.3", vec![item]));
    let events = events(&mut session);
    let Some(Event::Established { peer_node_id, .. }) = events.first() else {
        panic!("expected Established, got {events:?}");
    };
    // A service endpoint is reduced to its node ID.
    assert_eq!(peer_node_id, &Some("ipn:7.0".parse().unwrap()));
}

#[test]
fn invalid_peer_node_id_ends_the_session() {
    let mut session = Session::new(Role::Passive, config("b"), 0).unwrap();
    session.handle_bytes(0, &contact_header());
    session.handle_bytes(0, &sess_init("not an eid", Vec::new()));
    let sent = drain(&mut session);
    assert_eq!(&sent[sent.len() - 3..], &[0x05, 0x00, 0x04]);
    let events = events(&mut session);
    assert!(matches!(
        last_error(&events),
        Some(SessionError::InvalidNodeId { text, .. }) if text == "not an eid"
    ));
}

#[test]
fn segment_above_our_segment_mru_ends_the_session() {
    let mut b = config("b");
    b.segment_mru = 100;
    let mut session = established_passive(b);
    session.handle_bytes(1, &segment(SegmentFlags::START, 0, Vec::new(), &[0; 101]));
    assert_eq!(drain(&mut session), [0x05, 0x00, 0x00]);
    let events = events(&mut session);
    assert!(matches!(
        last_error(&events),
        Some(SessionError::Decode(TcpclError::TooLong {
            len: 101,
            max: 100,
            ..
        }))
    ));
}

#[test]
fn announced_length_above_our_transfer_mru_is_refused_on_start() {
    let mut b = config("b");
    b.transfer_mru = 1000;
    let mut session = established_passive(b);
    let announce = vec![ExtensionItem::transfer_length(1_000_000)];
    session.handle_bytes(1, &segment(SegmentFlags::START, 9, announce, &[1; 10]));
    // XFER_REFUSE, Not Acceptable, transfer 9.
    assert_eq!(drain(&mut session), [3, 4, 0, 0, 0, 0, 0, 0, 0, 9]);
    // The rest of the transfer, already on its way, is refused again and dropped.
    session.handle_bytes(2, &segment(SegmentFlags::END, 9, Vec::new(), &[2; 10]));
    assert_eq!(drain(&mut session), [3, 4, 0, 0, 0, 0, 0, 0, 0, 9]);
    assert!(events(&mut session).is_empty());
    assert!(session.is_established());
}

#[test]
fn unknown_critical_transfer_extension_is_refused_with_extension_failure() {
    let mut session = established_passive(config("b"));
    let item = ExtensionItem {
        flags: ExtensionFlags::CRITICAL,
        item_type: 0x7777,
        value: Bytes::new(),
    };
    let start_end = SegmentFlags::START | SegmentFlags::END;
    session.handle_bytes(1, &segment(start_end, 4, vec![item], b"bundle"));
    assert_eq!(drain(&mut session), [3, 5, 0, 0, 0, 0, 0, 0, 0, 4]);
    assert!(events(&mut session).is_empty());
}

#[test]
fn new_transfer_while_ending_is_refused_with_session_terminating() {
    let mut session = established_passive(config("b"));
    session.close(SessTermReason::BUSY);
    drain(&mut session);
    let start_end = SegmentFlags::START | SegmentFlags::END;
    session.handle_bytes(1, &segment(start_end, 0, Vec::new(), b"late"));
    assert_eq!(drain(&mut session), [3, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn ack_with_zero_flags_completes_a_transfer_like_dtn7_rs_sends_it() {
    let mut b = config("b");
    b.segment_mru = 1000;
    let mut pair = Pair::established(config("a"), b);
    let id = pair.a.send_bundle(Bytes::from(vec![7; 2500])).unwrap();
    drain(&mut pair.a);
    for acked_len in [1000, 2000, 2500] {
        let ack = XferAck {
            flags: SegmentFlags::empty(),
            transfer_id: id.0,
            acked_len,
        };
        let mut out = BytesMut::new();
        ack.encode(&mut out);
        pair.a.handle_bytes(1, &out);
    }
    assert_eq!(
        events(&mut pair.a),
        vec![Event::TransferAcked { transfer_id: id }]
    );
}

#[test]
fn ack_for_a_transfer_never_started_is_rejected_as_unexpected() {
    let mut session = established_passive(config("b"));
    let mut out = BytesMut::new();
    let ack = XferAck {
        flags: SegmentFlags::END,
        transfer_id: 42,
        acked_len: 10,
    };
    ack.encode(&mut out);
    session.handle_bytes(1, &out);
    assert_eq!(drain(&mut session), [0x06, 0x03, 0x02]);
    assert!(session.is_established());
}

#[test]
fn sess_init_after_establishment_is_rejected_and_the_session_goes_on() {
    let mut session = established_passive(config("b"));
    session.handle_bytes(1, &sess_init("dtn://peer/", Vec::new()));
    assert_eq!(drain(&mut session), [0x06, 0x03, 0x07]);
    assert!(events(&mut session).is_empty());
    assert!(session.is_established());
}

#[test]
fn segment_without_start_ends_the_session() {
    let mut session = established_passive(config("b"));
    session.handle_bytes(1, &segment(SegmentFlags::END, 3, Vec::new(), b"tail"));
    assert_eq!(drain(&mut session), [0x06, 0x03, 0x01, 0x05, 0x00, 0x00]);
    let events = events(&mut session);
    let error = SessionError::TransferViolation {
        transfer_id: TransferId(3),
        rule: "segment without a START segment before it (RFC 9174 §5.2.2)",
    };
    assert_eq!(last_error(&events), Some(error));
}

#[test]
fn peer_rejecting_a_message_is_reported() {
    let mut session = established_passive(config("b"));
    session.handle_bytes(1, &[0x06, 0x02, 0x01]);
    assert_eq!(
        events(&mut session),
        vec![Event::Rejected {
            reason: RejectReason::UNSUPPORTED,
            rejected_type: MessageType::XFER_SEGMENT
        }]
    );
}

#[test]
fn refusal_of_a_later_transfer_waits_for_the_earlier_decision() {
    let mut session = established_passive(config("b"));
    let start_end = SegmentFlags::START | SegmentFlags::END;
    session.handle_bytes(1, &segment(start_end, 0, Vec::new(), b"first"));
    session.handle_bytes(1, &segment(SegmentFlags::START, 1, Vec::new(), b"sec"));
    let sent = drain(&mut session);
    assert_eq!(
        sent[0], 0x02,
        "the second transfer's first segment is acked"
    );
    session
        .refuse_transfer(TransferId(1), RefuseReason::NO_RESOURCES)
        .unwrap();
    assert!(
        drain(&mut session).is_empty(),
        "refusal must wait for transfer 0"
    );
    session.ack_transfer(TransferId(0)).unwrap();
    let sent = drain(&mut session);
    assert_eq!(&sent[..2], &[0x02, 0x03], "final ack of 0 first");
    assert_eq!(&sent[18..], &[0x03, 0x02, 0, 0, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn setup_that_never_finishes_times_out() {
    let mut session = Session::new(Role::Active, config("a"), 0).unwrap();
    drain(&mut session);
    assert_eq!(session.poll_timeout(), Some(60_000));
    session.handle_timeout(60_000);
    let events = events(&mut session);
    assert_eq!(
        last_error(&events),
        Some(SessionError::ContactTimeout(60_000))
    );
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn exhausted_transfer_ids_end_the_session_with_resource_exhaustion() {
    let mut pair = Pair::established(config("a"), config("b"));
    pair.a.outbound.exhaust_ids_for_test(u64::MAX);
    let last = pair.a.send_bundle(Bytes::from_static(b"x")).unwrap();
    assert_eq!(last, TransferId(u64::MAX));
    assert_eq!(
        pair.a.send_bundle(Bytes::from_static(b"y")),
        Err(crate::tcpcl::SendError::TransferIdsExhausted)
    );
    assert!(pair.a.is_ending());
    let sent = drain(&mut pair.a);
    assert_eq!(&sent[sent.len() - 3..], &[0x05, 0x00, 0x05]);
}
