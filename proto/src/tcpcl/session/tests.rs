//! Two sessions back to back in virtual time (quinn-proto's `Pair`): handshake, transfers,
//! pipelining, refusal, keepalive, idle timeout and SESS_TERM.

use bytes::{Bytes, BytesMut};

use super::Session;
use crate::tcpcl::{
    Event, Limits, Message, RefuseReason, Role, SendError, SessTermReason, SessionConfig,
    SessionError, TransferId,
};

/// An active session `a` and a passive session `b` joined by an in-memory link.
pub(super) struct Pair {
    pub(super) a: Session,
    pub(super) b: Session,
    pub(super) now: u64,
    /// Events with the time they were polled.
    pub(super) a_events: Vec<(u64, Event)>,
    pub(super) b_events: Vec<(u64, Event)>,
    /// Every chunk each side transmitted, with its time.
    pub(super) a_sent: Vec<(u64, Bytes)>,
    pub(super) b_sent: Vec<(u64, Bytes)>,
    /// While false, transmitted bytes are lost.
    pub(super) link_up: bool,
    /// Deliver one byte per `handle_bytes` call.
    pub(super) bytewise: bool,
}

impl Pair {
    pub(super) fn new(a: SessionConfig, b: SessionConfig) -> Self {
        Self {
            a: Session::new(Role::Active, a, 0).unwrap(),
            b: Session::new(Role::Passive, b, 0).unwrap(),
            now: 0,
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_sent: Vec::new(),
            b_sent: Vec::new(),
            link_up: true,
            bytewise: false,
        }
    }

    /// A pair whose handshake is done, with the handshake's events and bytes forgotten.
    pub(super) fn established(a: SessionConfig, b: SessionConfig) -> Self {
        let mut pair = Self::new(a, b);
        pair.drive();
        assert!(pair.a.is_established() && pair.b.is_established());
        pair.a_events.clear();
        pair.b_events.clear();
        pair.a_sent.clear();
        pair.b_sent.clear();
        pair
    }

    /// Moves bytes both ways and collects events until nothing moves.
    pub(super) fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(chunk) = self.a.poll_transmit() {
                moved = true;
                self.a_sent.push((self.now, chunk.clone()));
                if self.link_up {
                    deliver(&mut self.b, self.now, &chunk, self.bytewise);
                }
            }
            while let Some(chunk) = self.b.poll_transmit() {
                moved = true;
                self.b_sent.push((self.now, chunk.clone()));
                if self.link_up {
                    deliver(&mut self.a, self.now, &chunk, self.bytewise);
                }
            }
            while let Some(event) = self.a.poll_event() {
                moved = true;
                self.a_events.push((self.now, event));
            }
            while let Some(event) = self.b.poll_event() {
                moved = true;
                self.b_events.push((self.now, event));
            }
            if !moved {
                return;
            }
        }
    }

    /// Jumps from deadline to deadline up to `until`, driving after each.
    pub(super) fn run_until(&mut self, until: u64) {
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(deadline) if deadline <= until => {
                    self.now = self.now.max(deadline);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.drive();
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    /// Bundles `b` received and not yet looked at, acked or not.
    pub(super) fn b_received(&self) -> Vec<(TransferId, Bytes)> {
        received(&self.b_events)
    }
}

fn deliver(to: &mut Session, now: u64, chunk: &[u8], bytewise: bool) {
    if bytewise {
        for byte in chunk {
            to.handle_bytes(now, std::slice::from_ref(byte));
        }
    } else {
        to.handle_bytes(now, chunk);
    }
}

pub(super) fn received(events: &[(u64, Event)]) -> Vec<(TransferId, Bytes)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::TransferReceived {
                transfer_id,
                bundle,
            } => Some((*transfer_id, bundle.clone())),
            _ => None,
        })
        .collect()
}

/// Decodes the messages in a side's transmitted chunks (after the contact header, if any).
pub(super) fn messages(sent: &[(u64, Bytes)], skip_contact_header: bool) -> Vec<Message> {
    let mut stream = BytesMut::new();
    for (_, chunk) in sent {
        stream.extend_from_slice(chunk);
    }
    if skip_contact_header {
        let _ = stream.split_to(6);
    }
    let limits = Limits {
        max_segment_len: u64::MAX,
        ..Limits::default()
    };
    let mut out = Vec::new();
    while let Some(msg) = Message::decode(&mut stream, &limits).unwrap() {
        out.push(msg);
    }
    assert!(stream.is_empty(), "trailing bytes: {stream:?}");
    out
}

pub(super) fn config(node: &str) -> SessionConfig {
    SessionConfig::new(format!("dtn://{node}/"))
}

fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn only_events(events: &[(u64, Event)]) -> Vec<Event> {
    events.iter().map(|(_, e)| e.clone()).collect()
}

#[test]
fn active_sends_its_contact_header_first_and_passive_waits_for_it() {
    let mut pair = Pair::new(config("a"), config("b"));
    assert_eq!(pair.b.poll_transmit(), None);
    let first = pair.a.poll_transmit().unwrap();
    assert_eq!(&first[..], &[0x64, 0x74, 0x6e, 0x21, 0x04, 0x00]);
}

#[test]
fn handshake_negotiates_the_smaller_keepalive_and_reports_peer_limits() {
    let mut b = config("b");
    b.keepalive_secs = 20;
    b.segment_mru = 4096;
    b.transfer_mru = 65536;
    let mut pair = Pair::new(config("a"), b);
    pair.drive();
    let expected = Event::Established {
        peer_node_id: Some("dtn://b/".parse().unwrap()),
        keepalive_secs: 20,
        peer_segment_mru: 4096,
        peer_transfer_mru: 65536,
    };
    assert_eq!(only_events(&pair.a_events), vec![expected]);
    let Event::Established { keepalive_secs, .. } = &pair.b_events[0].1 else {
        panic!("expected Established, got {:?}", pair.b_events);
    };
    assert_eq!(*keepalive_secs, 20);
}

#[test]
fn one_mebibyte_bundle_crosses_in_segments_of_the_peer_segment_mru() {
    let mut b = config("b");
    b.segment_mru = 16 * 1024;
    let mut pair = Pair::established(config("a"), b);
    let bundle = pattern(1 << 20);
    let id = pair.a.send_bundle(bundle.clone()).unwrap();
    pair.drive();

    let segments: Vec<usize> = messages(&pair.a_sent, false)
        .iter()
        .filter_map(|m| match m {
            Message::XferSegment(s) => Some(s.data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(segments, vec![16 * 1024; 64]);
    assert_eq!(pair.b_received(), vec![(id, bundle)]);
    // Every segment but the last is acked at once; the last waits for the decision.
    let acks = messages(&pair.b_sent, false).len();
    assert_eq!(acks, 63);
}

#[test]
fn bundle_in_chunks_is_cut_at_chunk_ends_and_arrives_as_one_transfer() {
    let mut b = config("b");
    b.segment_mru = 1000;
    let mut pair = Pair::established(config("a"), b);
    let bundle = pattern(2_600);
    let chunks = vec![
        bundle.slice(..100),
        Bytes::new(),
        bundle.slice(100..2_599),
        bundle.slice(2_599..),
    ];
    let id = pair.a.send_bundle_chunks(chunks).unwrap();
    pair.drive();

    let segments: Vec<usize> = messages(&pair.a_sent, false)
        .iter()
        .filter_map(|m| match m {
            Message::XferSegment(s) => Some(s.data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(segments, vec![100, 1000, 1000, 499, 1]);
    assert_eq!(pair.b_received(), vec![(id, bundle)]);
}

#[test]
fn final_ack_waits_for_the_receivers_decision() {
    let mut pair = Pair::established(config("a"), config("b"));
    let id = pair.a.send_bundle(pattern(1000)).unwrap();
    pair.drive();
    assert_eq!(pair.b_received().len(), 1);
    assert!(
        pair.a_events.is_empty(),
        "acked too early: {:?}",
        pair.a_events
    );
    assert_eq!(pair.a.in_flight(), 1);

    pair.b.ack_transfer(id).unwrap();
    pair.drive();
    assert_eq!(
        only_events(&pair.a_events),
        vec![Event::TransferAcked { transfer_id: id }]
    );
    assert_eq!(pair.a.in_flight(), 0);
}

#[test]
fn hundred_small_bundles_are_pipelined_with_several_in_flight() {
    let mut a = config("a");
    a.max_in_flight = 8;
    let mut pair = Pair::established(a, config("b"));
    let bundles: Vec<Bytes> = (0..100u32)
        .map(|i| Bytes::from(format!("bundle number {i}").into_bytes()))
        .collect();
    let mut next = 0;
    let mut most_in_flight = 0;
    let mut acked = 0;
    while acked < bundles.len() {
        while pair.a.can_send() && next < bundles.len() {
            pair.a.send_bundle(bundles[next].clone()).unwrap();
            next += 1;
        }
        most_in_flight = most_in_flight.max(pair.a.in_flight());
        pair.drive();
        for (id, _) in pair.b_received().into_iter().skip(acked) {
            pair.b.ack_transfer(id).unwrap();
            acked += 1;
        }
        pair.drive();
    }
    assert_eq!(most_in_flight, 8);
    let received: Vec<Bytes> = pair.b_received().into_iter().map(|(_, b)| b).collect();
    assert_eq!(received, bundles);
    let acked_ids: Vec<TransferId> = pair
        .a_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::TransferAcked { transfer_id } => Some(*transfer_id),
            _ => None,
        })
        .collect();
    assert_eq!(acked_ids, (0..100).map(TransferId).collect::<Vec<_>>());
}

#[test]
fn refused_transfer_is_reported_to_the_sender() {
    let mut pair = Pair::established(config("a"), config("b"));
    let id = pair.a.send_bundle(pattern(100)).unwrap();
    pair.drive();
    pair.b
        .refuse_transfer(id, RefuseReason::NO_RESOURCES)
        .unwrap();
    pair.drive();
    assert_eq!(
        only_events(&pair.a_events),
        vec![Event::TransferRefused {
            transfer_id: id,
            reason: RefuseReason::NO_RESOURCES
        }]
    );
    assert_eq!(pair.a.in_flight(), 0);
}

#[test]
fn refusal_on_start_stops_the_remaining_segments() {
    let mut b = config("b");
    b.segment_mru = 1000;
    let mut pair = Pair::established(config("a"), b);
    let id = pair.a.send_bundle(pattern(10_000)).unwrap();
    // Only the first segment (header and data chunks) reaches b.
    for _ in 0..2 {
        let chunk = pair.a.poll_transmit().unwrap();
        pair.b.handle_bytes(0, &chunk);
    }
    let started = pair.b.poll_event().unwrap();
    assert_eq!(
        started,
        Event::TransferStarted {
            transfer_id: id,
            total_len: None
        }
    );
    pair.b
        .refuse_transfer(id, RefuseReason::NO_RESOURCES)
        .unwrap();
    while let Some(chunk) = pair.b.poll_transmit() {
        pair.a.handle_bytes(0, &chunk);
    }
    assert_eq!(
        pair.a.poll_event(),
        Some(Event::TransferRefused {
            transfer_id: id,
            reason: RefuseReason::NO_RESOURCES
        })
    );
    assert_eq!(pair.a.poll_transmit(), None);
}

#[test]
fn transfer_length_is_announced_when_configured() {
    let mut a = config("a");
    a.send_transfer_length = true;
    let mut b = config("b");
    b.segment_mru = 1000;
    let mut pair = Pair::established(a, b);
    let id = pair.a.send_bundle(pattern(2500)).unwrap();
    pair.drive();
    assert_eq!(
        pair.b_events[0].1,
        Event::TransferStarted {
            transfer_id: id,
            total_len: Some(2500)
        }
    );
    assert_eq!(pair.b_received(), vec![(id, pattern(2500))]);
}

#[test]
fn bundle_above_the_peer_transfer_mru_is_not_sent() {
    let mut b = config("b");
    b.transfer_mru = 1000;
    let mut pair = Pair::established(config("a"), b);
    let err = pair.a.send_bundle(pattern(1001)).unwrap_err();
    assert_eq!(
        err,
        SendError::TooLarge {
            len: 1001,
            max: 1000
        }
    );
    assert_eq!(pair.a.in_flight(), 0);
}

#[test]
fn full_window_refuses_another_bundle() {
    let mut a = config("a");
    a.max_in_flight = 2;
    let mut pair = Pair::established(a, config("b"));
    pair.a.send_bundle(pattern(10)).unwrap();
    pair.a.send_bundle(pattern(10)).unwrap();
    assert_eq!(
        pair.a.send_bundle(pattern(10)),
        Err(SendError::WindowFull { max: 2 })
    );
    assert!(!pair.a.can_send());
}

#[test]
fn keepalive_is_sent_within_half_the_interval() {
    let mut pair = Pair::established(config("a"), config("b"));
    pair.run_until(61_000);
    let times: Vec<u64> = pair
        .a_sent
        .iter()
        .filter(|(_, chunk)| chunk[..] == [0x04])
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(times, vec![15_000, 30_000, 45_000, 60_000]);
    assert!(pair.a.is_established() && pair.b.is_established());
}

#[test]
fn silent_peer_is_terminated_after_two_keepalive_intervals() {
    let mut pair = Pair::established(config("a"), config("b"));
    pair.link_up = false;
    pair.run_until(100_000);
    let terminated: Vec<&(u64, Event)> = pair
        .a_events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Terminated { .. }))
        .collect();
    let expected = Event::Terminated {
        reason: SessTermReason::IDLE_TIMEOUT,
        by_peer: false,
        error: Some(SessionError::IdleTimeout { idle_ms: 60_000 }),
    };
    assert_eq!(terminated, vec![&(60_000, expected)]);
    assert!(pair.a.is_closed());
}

#[test]
fn sess_term_exchange_ends_both_sessions_cleanly() {
    let mut pair = Pair::established(config("a"), config("b"));
    pair.a.close(SessTermReason::BUSY);
    pair.drive();
    assert_eq!(
        pair.a_sent.last().map(|(_, c)| &c[..]),
        Some(&[5, 0, 3][..])
    );
    assert_eq!(
        pair.b_sent.last().map(|(_, c)| &c[..]),
        Some(&[5, 1, 3][..])
    );
    let busy = SessTermReason::BUSY;
    assert_eq!(
        only_events(&pair.a_events),
        vec![
            Event::Ending {
                reason: busy,
                by_peer: false
            },
            Event::Terminated {
                reason: busy,
                by_peer: false,
                error: None
            }
        ]
    );
    assert_eq!(
        only_events(&pair.b_events),
        vec![
            Event::Ending {
                reason: busy,
                by_peer: true
            },
            Event::Terminated {
                reason: busy,
                by_peer: true,
                error: None
            }
        ]
    );
}

#[test]
fn ending_session_lets_an_in_flight_transfer_finish() {
    let mut pair = Pair::established(config("a"), config("b"));
    let id = pair.a.send_bundle(pattern(3000)).unwrap();
    pair.drive();
    pair.a.close(SessTermReason::UNKNOWN);
    pair.drive();
    assert!(pair.a.is_ending() && !pair.a.is_closed() && !pair.b.is_closed());
    assert_eq!(pair.a.send_bundle(pattern(10)), Err(SendError::Ending));

    pair.b.ack_transfer(id).unwrap();
    pair.drive();
    let tail: Vec<Event> = only_events(&pair.a_events).into_iter().skip(1).collect();
    let done = Event::Terminated {
        reason: SessTermReason::UNKNOWN,
        by_peer: false,
        error: None,
    };
    assert_eq!(tail, vec![Event::TransferAcked { transfer_id: id }, done]);
    assert!(pair.b.is_closed());
}

#[test]
fn handle_timeout_early_or_twice_does_nothing_extra() {
    let mut pair = Pair::established(config("a"), config("b"));
    assert_eq!(pair.a.poll_timeout(), Some(15_000));
    pair.a.handle_timeout(1_000);
    pair.a.handle_timeout(1_000);
    assert_eq!(pair.a.poll_transmit(), None);
    assert_eq!(pair.a.poll_timeout(), Some(15_000));
    pair.a.handle_timeout(15_000);
    pair.a.handle_timeout(15_000);
    assert_eq!(pair.a.poll_transmit().as_deref(), Some(&[0x04][..]));
    assert_eq!(pair.a.poll_transmit(), None);
}

#[test]
fn byte_at_a_time_delivery_gives_the_same_transfers() {
    let mut b = config("b");
    b.segment_mru = 700;
    let mut pair = Pair::new(config("a"), b);
    pair.bytewise = true;
    pair.drive();
    assert!(pair.a.is_established() && pair.b.is_established());
    let first = pair.a.send_bundle(pattern(2000)).unwrap();
    let second = pair.a.send_bundle(pattern(5)).unwrap();
    pair.drive();
    assert_eq!(
        pair.b_received(),
        vec![(first, pattern(2000)), (second, pattern(5))]
    );
}

#[test]
fn connection_loss_fails_unacknowledged_transfers() {
    let mut pair = Pair::established(config("a"), config("b"));
    let id = pair.a.send_bundle(pattern(10)).unwrap();
    pair.drive();
    pair.a.handle_close(5);
    pair.drive();
    assert_eq!(
        only_events(&pair.a_events),
        vec![
            Event::TransferFailed { transfer_id: id },
            Event::Terminated {
                reason: SessTermReason::UNKNOWN,
                by_peer: true,
                error: Some(SessionError::ConnectionClosed)
            }
        ]
    );
    assert_eq!(pair.a.poll_timeout(), None);
}

#[test]
fn transfers_flow_both_ways_at_once() {
    let mut a = config("a");
    a.segment_mru = 300;
    let mut b = config("b");
    b.segment_mru = 200;
    let mut pair = Pair::established(a, b);
    let to_b = pair.a.send_bundle(pattern(1000)).unwrap();
    let to_a = pair.b.send_bundle(pattern(900)).unwrap();
    pair.drive();
    assert_eq!(pair.b_received(), vec![(to_b, pattern(1000))]);
    assert_eq!(received(&pair.a_events), vec![(to_a, pattern(900))]);
    pair.a.ack_transfer(to_a).unwrap();
    pair.b.ack_transfer(to_b).unwrap();
    pair.drive();
    assert!(
        pair.a_events
            .iter()
            .any(|(_, e)| *e == Event::TransferAcked { transfer_id: to_b })
    );
    assert!(
        pair.b_events
            .iter()
            .any(|(_, e)| *e == Event::TransferAcked { transfer_id: to_a })
    );
}

#[test]
fn control_message_is_delivered_as_control_and_acknowledged_without_a_decision() {
    let mut pair = Pair::established(config("a"), config("b"));
    let id = pair
        .a
        .send_control(Bytes::from_static(crate::tcpcl::msg::CONTROL_HELLO))
        .unwrap();
    pair.drive();
    assert_eq!(
        only_events(&pair.b_events),
        vec![Event::ControlReceived {
            transfer_id: id,
            message: Bytes::from_static(crate::tcpcl::msg::CONTROL_HELLO),
        }]
    );
    assert!(
        pair.b_received().is_empty(),
        "a control message is not a bundle"
    );
    assert_eq!(
        only_events(&pair.a_events),
        vec![Event::TransferAcked { transfer_id: id }]
    );
}

#[test]
fn control_messages_pass_a_full_window_of_bundles() {
    let mut a = config("a");
    a.max_in_flight = 1;
    let mut pair = Pair::established(a, config("b"));
    pair.a.send_bundle(pattern(10)).unwrap();
    assert!(!pair.a.can_send());
    pair.a.send_control(pattern(20)).unwrap();
    pair.drive();
    let control = pair
        .b_events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ControlReceived { .. }))
        .count();
    assert_eq!(control, 1);
    assert_eq!(pair.b_received().len(), 1);
}

#[test]
fn peer_without_tern_control_refuses_the_control_transfer_as_an_unknown_critical_extension() {
    let mut b = config("b");
    b.tern_control = false;
    let mut pair = Pair::established(config("a"), b);
    let id = pair.a.send_control(pattern(20)).unwrap();
    pair.drive();
    assert!(pair.b_received().is_empty());
    assert_eq!(
        only_events(&pair.a_events),
        vec![Event::TransferRefused {
            transfer_id: id,
            reason: RefuseReason::EXTENSION_FAILURE
        }]
    );
}

#[test]
fn multi_segment_control_message_is_reassembled() {
    let mut b = config("b");
    b.segment_mru = 100;
    let mut pair = Pair::established(config("a"), b);
    let message = pattern(1000);
    pair.a.send_control(message.clone()).unwrap();
    pair.drive();
    let got: Vec<Bytes> = pair
        .b_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ControlReceived { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![message]);
}
