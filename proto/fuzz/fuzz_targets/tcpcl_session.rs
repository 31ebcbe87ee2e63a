//! Drives one TCPCLv4 `Session` with a fuzzed peer and fuzzed local decisions.
//!
//! Input layout:
//! - byte 0: the session's role and configuration (see [`config`]);
//! - byte 1: `k`, the length of the control program that follows;
//! - `k` control bytes (see [`Harness::step`]): feed the next chunk of peer bytes, advance the
//!   clock, send a bundle, ack or refuse an incoming transfer, close;
//! - everything after the program: the peer's byte stream, fed in the chunks the program asks
//!   for (the rest at once when the program ends).
//!
//! After the program the clock runs to every deadline the session names, then the connection
//! closes. Events and transmits are drained after every step, and checked:
//! - never panics; `Terminated` comes exactly once and nothing (event or byte) comes after it;
//! - the bytes the session writes are a valid TCPCLv4 stream (contact header, then messages)
//!   within the peer's segment MRU and our own segment cap; chunks stay that small (bounded
//!   memory); segments carry exactly our bundles' bytes, in order, without interleaving, and no
//!   transfer starts after our SESS_TERM (RFC 9174 §5.2.2, §6.1); at most one SESS_TERM;
//! - transfer bookkeeping agrees with the API: ids 0, 1, 2…, each of ours ends exactly once
//!   (acked only when all of it was written), `in_flight` counts the open ones, `ack_transfer`
//!   succeeds exactly for received transfers not yet decided;
//! - after `handle_timeout(t)` no deadline at or before `t` is left.
//!
//! Set `TERN_FUZZ_TRACE=1` to print every step and event when reproducing a crash.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tern_proto::tcpcl::{
    AckError, ContactFlags, ContactHeader, Event, Limits, Message, RefuseReason, Role,
    SegmentFlags, SendError, SessTermReason, Session, SessionConfig, TransferId,
};

/// Our node ID; its SESS_INIT is `SESS_INIT_BASE_LEN` bytes plus this.
const NODE_ID: &str = "dtn://us/";
/// A SESS_INIT without node ID or extensions (RFC 9174 §4.6).
const SESS_INIT_BASE_LEN: u64 = 1 + 2 + 8 + 8 + 2 + 4;
/// Longest segment header we write: flags, id, extension length, Transfer Length item, data
/// length.
const SEGMENT_HEADER_MAX: u64 = 1 + 1 + 8 + 4 + 13 + 8;
/// Bundle lengths `send_bundle` is tried with.
const BUNDLE_LENS: [usize; 16] = [
    0, 1, 2, 7, 16, 63, 64, 65, 100, 255, 256, 1000, 1500, 4096, 4097, 10_000,
];
/// Most deadlines run after the program: enough for keepalive, idle and ending timers.
const FINAL_DEADLINES: usize = 8;

fuzz_target!(|data: &[u8]| {
    let [cfg, k, rest @ ..] = data else {
        return;
    };
    let (program, peer) = rest.split_at(usize::from(*k).min(rest.len()));
    let (role, config) = config(*cfg);
    let session = Session::new(role, config.clone(), 0).expect("the harness config is valid");
    let mut h = Harness::new(session, config, peer);
    h.drain();
    let mut pc = 0;
    while let Some(&op) = program.get(pc) {
        pc += 1;
        let arg = program.get(pc).copied();
        if h.step(op, arg) {
            pc += 1;
        }
        h.drain();
    }
    h.finish();
});

/// Role and parameters from one byte: small MRUs and timers so that limits and timeouts are
/// reached by short inputs.
fn config(b: u8) -> (Role, SessionConfig) {
    let role = if b & 1 == 0 {
        Role::Active
    } else {
        Role::Passive
    };
    let mut c = SessionConfig::new(NODE_ID);
    c.keepalive_secs = if b & 0x02 == 0 { 0 } else { 2 };
    c.send_transfer_length = b & 0x04 != 0;
    c.segment_mru = [16, 100, 1000, 1 << 20][usize::from((b >> 3) & 3)];
    c.max_tx_segment = [8, 64, 1000, 1 << 20][usize::from((b >> 5) & 3)];
    c.max_in_flight = if b & 0x80 == 0 { 1 } else { 4 };
    c.transfer_mru = 4096;
    c.contact_timeout_ms = 10_000;
    c.ending_timeout_ms = 5_000;
    (role, c)
}

fn trace() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("TERN_FUZZ_TRACE").is_some())
}

struct Harness<'a> {
    session: Session,
    config: SessionConfig,
    peer: &'a [u8],
    now: u64,
    terminated: bool,
    ending: bool,
    /// Peer's segment MRU, once established.
    peer_segment_mru: Option<u64>,
    peer_transfer_mru: u64,
    /// Our transfers: id → bundle (kept after they end, to check the bytes written).
    ours: BTreeMap<u64, Bytes>,
    /// Ours not yet acked, refused or failed.
    open: BTreeSet<u64>,
    next_id: u64,
    /// Incoming transfers received whole and not yet acked or refused.
    undecided: BTreeSet<u64>,
    /// The incoming transfer that started and has not been received whole.
    arriving: Option<u64>,
    wire: Wire,
}

/// What the session wrote, decoded as its peer would.
#[derive(Default)]
struct Wire {
    buf: BytesMut,
    header_seen: bool,
    sess_inits: usize,
    sess_terms: usize,
    /// Our transfer whose segments are being written.
    current: Option<u64>,
    /// Bytes written per transfer of ours.
    written: BTreeMap<u64, usize>,
    /// Our transfers whose END segment was written.
    ended: BTreeSet<u64>,
}

impl<'a> Harness<'a> {
    fn new(session: Session, config: SessionConfig, peer: &'a [u8]) -> Self {
        Self {
            session,
            config,
            peer,
            now: 0,
            terminated: false,
            ending: false,
            peer_segment_mru: None,
            peer_transfer_mru: 0,
            ours: BTreeMap::new(),
            open: BTreeSet::new(),
            next_id: 0,
            undecided: BTreeSet::new(),
            arriving: None,
            wire: Wire::default(),
        }
    }

    /// Runs one control byte; true if it used `arg` as well.
    fn step(&mut self, op: u8, arg: Option<u8>) -> bool {
        if trace() {
            eprintln!("t={} op={op:#04x} arg={arg:?}", self.now);
        }
        let low = op & 0x0f;
        match op >> 4 {
            0..=7 => {
                let mut n = usize::from(op & 0x3f) + 1;
                if op & 0x40 != 0 {
                    n *= 16;
                }
                self.feed(n);
            }
            8 => self.timeout(self.now + u64::from(low) * 250),
            9 => {
                let at = self
                    .session
                    .poll_timeout()
                    .unwrap_or(self.now)
                    .max(self.now);
                self.timeout(at + u64::from(low));
            }
            0xa => self.send(BUNDLE_LENS[usize::from(low)]),
            0xb => self.ack(self.pick(low)),
            0xc => {
                let reason = RefuseReason(arg.unwrap_or(0) & 7);
                self.refuse(self.pick(low), reason);
                return true;
            }
            0xd => match low {
                0..=7 => self.session.close(SessTermReason(low)),
                8 => self.session.close_now(SessTermReason::UNKNOWN),
                9 => self.session.handle_close(self.now),
                _ => self.feed(usize::MAX),
            },
            0xe => self.feed(usize::MAX),
            _ => {
                self.now += 1;
                self.session.handle_bytes(self.now, &[]);
            }
        }
        false
    }

    /// Runs every remaining deadline, then closes the connection: the session must end.
    fn finish(&mut self) {
        self.feed(usize::MAX);
        self.drain();
        for _ in 0..FINAL_DEADLINES {
            let Some(at) = self.session.poll_timeout() else {
                break;
            };
            self.timeout(at.max(self.now));
            self.drain();
        }
        self.session.handle_close(self.now + 1);
        self.drain();
        assert!(
            self.terminated,
            "handle_close did not terminate the session"
        );
        assert!(self.session.is_closed());
        assert!(
            self.wire.buf.is_empty(),
            "the session's output ends in the middle of a message"
        );
    }

    fn feed(&mut self, n: usize) {
        let n = n.min(self.peer.len());
        let (chunk, rest) = self.peer.split_at(n);
        self.peer = rest;
        if trace() {
            eprintln!("  feed {chunk:02x?}");
        }
        self.session.handle_bytes(self.now, chunk);
    }

    fn timeout(&mut self, at: u64) {
        self.now = self.now.max(at);
        self.session.handle_timeout(self.now);
        if let Some(next) = self.session.poll_timeout() {
            assert!(
                next > self.now,
                "deadline {next} is still due after handle_timeout({})",
                self.now
            );
        }
    }

    fn send(&mut self, len: usize) {
        let id = self.ours.len() as u8;
        let bundle: Bytes = (0..len)
            .map(|i| (i as u8).wrapping_mul(7) ^ id)
            .collect::<Vec<u8>>()
            .into();
        let could = self.session.can_send();
        match self.session.send_bundle(bundle.clone()) {
            Ok(TransferId(id)) => {
                assert_eq!(id, self.next_id, "transfer ids are not 0, 1, 2…");
                assert!(could, "send_bundle accepted what can_send denied");
                assert!(self.peer_segment_mru.is_some() && !self.terminated);
                assert!(!bundle.is_empty() && len as u64 <= self.peer_transfer_mru);
                self.next_id += 1;
                self.ours.insert(id, bundle);
                self.open.insert(id);
            }
            Err(SendError::Empty) => assert!(len == 0),
            Err(SendError::TooLarge { len: l, max }) => {
                assert_eq!((l, max), (len as u64, self.peer_transfer_mru));
            }
            Err(SendError::NotEstablished) => assert!(self.peer_segment_mru.is_none()),
            Err(SendError::Ending) => {
                assert!(self.session.is_ending() || self.session.is_closed());
            }
            Err(SendError::WindowFull { max }) => {
                assert_eq!(max, self.config.max_in_flight);
                assert_eq!(self.open.len(), max, "window full with fewer in flight");
            }
            Err(e) => assert!(!could, "can_send, yet send_bundle failed: {e}"),
        }
    }

    /// An incoming transfer id to decide about: undecided ones, the arriving one, or a stranger.
    fn pick(&self, i: u8) -> u64 {
        let mut ids: Vec<u64> = self.undecided.iter().copied().collect();
        ids.extend(self.arriving);
        ids.extend([0, 1, 2, u64::MAX]);
        ids[usize::from(i) % ids.len()]
    }

    fn ack(&mut self, id: u64) {
        let result = self.session.ack_transfer(TransferId(id));
        let expected = self.undecided.remove(&id);
        assert_eq!(
            result.is_ok(),
            expected,
            "ack_transfer({id}) = {result:?}, undecided {:?}",
            self.undecided
        );
        if let Err(AckError::Incomplete(TransferId(i))) = result {
            assert_eq!(Some(i), self.arriving, "incomplete, but not arriving");
        }
    }

    fn refuse(&mut self, id: u64, reason: RefuseReason) {
        let result = self.session.refuse_transfer(TransferId(id), reason);
        let was_undecided = self.undecided.remove(&id);
        if was_undecided {
            assert!(result.is_ok(), "refusing undecided {id} failed: {result:?}");
        } else if result.is_ok() {
            assert_eq!(
                self.arriving,
                Some(id),
                "refused {id}, which is not arriving"
            );
            self.arriving = None;
        }
    }

    /// Takes every event and every transmit chunk, checking each.
    fn drain(&mut self) {
        while let Some(event) = self.session.poll_event() {
            if trace() {
                eprintln!("  event {event:?}");
            }
            assert!(!self.terminated, "{event:?} after Terminated");
            self.event(event);
        }
        let mut wrote = false;
        while let Some(chunk) = self.session.poll_transmit() {
            if trace() {
                eprintln!("  transmit {chunk:02x?}");
            }
            self.check_chunk(&chunk);
            self.wire.buf.extend_from_slice(&chunk);
            wrote = true;
        }
        if wrote {
            self.decode_wire();
        }
        if self.terminated {
            // Whatever was queued before the end has been written now; nothing may follow.
            self.session.handle_timeout(self.now);
            assert!(
                self.session.poll_transmit().is_none(),
                "bytes after Terminated"
            );
            assert!(
                self.session.poll_event().is_none(),
                "event after Terminated"
            );
            assert_eq!(self.session.poll_timeout(), None, "timer after Terminated");
        }
        assert_eq!(
            self.session.in_flight(),
            self.open.len(),
            "in_flight is off"
        );
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Established {
                peer_segment_mru,
                peer_transfer_mru,
                keepalive_secs,
                ..
            } => {
                assert!(self.peer_segment_mru.is_none(), "established twice");
                assert!(keepalive_secs <= self.config.keepalive_secs);
                assert!(peer_segment_mru > 0 && peer_transfer_mru > 0);
                self.peer_segment_mru = Some(peer_segment_mru);
                self.peer_transfer_mru = peer_transfer_mru;
            }
            Event::TransferStarted { transfer_id, .. } => {
                assert!(self.peer_segment_mru.is_some(), "transfer before SESS_INIT");
                self.arriving = Some(transfer_id.0);
            }
            Event::TransferReceived {
                transfer_id,
                bundle,
            } => {
                let id = transfer_id.0;
                assert_eq!(self.arriving, Some(id), "received without TransferStarted");
                self.arriving = None;
                assert!(
                    bundle.len() as u64 <= self.config.transfer_mru,
                    "a received bundle exceeds our transfer MRU"
                );
                assert!(self.undecided.insert(id), "received {id} twice undecided");
            }
            Event::TransferAcked { transfer_id } => {
                let id = transfer_id.0;
                self.close_ours(id);
                let len = self.ours.get(&id).map_or(0, Bytes::len);
                assert!(
                    self.wire.ended.contains(&id),
                    "acked before its END went out"
                );
                assert_eq!(
                    self.wire.written.get(&id),
                    Some(&len),
                    "acked, not all written"
                );
            }
            Event::TransferRefused { transfer_id, .. } | Event::TransferFailed { transfer_id } => {
                self.close_ours(transfer_id.0);
            }
            Event::Rejected { .. } => {}
            Event::Ending { .. } => {
                assert!(!self.ending, "Ending twice");
                self.ending = true;
            }
            Event::Terminated { .. } => {
                assert!(
                    self.open.is_empty(),
                    "terminated with transfers {:?} not ended",
                    self.open
                );
                assert!(self.session.is_closed(), "Terminated, yet not closed");
                self.terminated = true;
                // Decisions die with the session.
                self.undecided.clear();
                self.arriving = None;
            }
            _ => {}
        }
    }

    fn close_ours(&mut self, id: u64) {
        assert!(
            self.open.remove(&id),
            "transfer {id} ended twice or never began"
        );
        if self.wire.current == Some(id) {
            // A refused or failed transfer stops mid-way; the next one may start.
            self.wire.current = None;
        }
    }

    /// The largest segment data we may write: the peer's MRU and our own cap.
    fn segment_limit(&self) -> u64 {
        self.config
            .max_tx_segment
            .min(self.peer_segment_mru.unwrap_or(u64::MAX))
    }

    fn check_chunk(&self, chunk: &Bytes) {
        let control = SESS_INIT_BASE_LEN + NODE_ID.len() as u64;
        let max = self.segment_limit().max(control).max(SEGMENT_HEADER_MAX);
        assert!(
            chunk.len() as u64 <= max,
            "a {}-byte chunk exceeds the {max} bytes memory bound",
            chunk.len()
        );
    }

    /// Decodes what the session wrote, as a peer honouring its own limits would.
    fn decode_wire(&mut self) {
        if !self.wire.header_seen {
            match ContactHeader::decode(&mut self.wire.buf) {
                Ok(Some(header)) => {
                    assert_eq!(header, ContactHeader::new(ContactFlags::empty()));
                    self.wire.header_seen = true;
                }
                Ok(None) => return,
                Err(e) => panic!("our contact header is invalid: {e}"),
            }
        }
        let limits = Limits {
            max_segment_len: self.segment_limit(),
            max_node_id_len: u16::MAX,
            max_extensions_len: u32::MAX,
        };
        loop {
            let msg = match Message::decode(&mut self.wire.buf, &limits) {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(e) => panic!("the session wrote invalid TCPCL: {e}"),
            };
            if trace() {
                eprintln!("  wrote {msg:?}");
            }
            self.wrote(msg);
        }
    }

    fn wrote(&mut self, msg: Message) {
        let wire = &mut self.wire;
        match msg {
            Message::SessInit(init) => {
                wire.sess_inits += 1;
                assert_eq!(wire.sess_inits, 1, "SESS_INIT written twice");
                assert_eq!(init.node_id, NODE_ID);
                assert_eq!(init.segment_mru, self.config.segment_mru);
            }
            Message::SessTerm(_) => {
                wire.sess_terms += 1;
                assert_eq!(wire.sess_terms, 1, "SESS_TERM written twice");
            }
            Message::XferSegment(seg) => {
                let id = seg.transfer_id;
                let bundle = self
                    .ours
                    .get(&id)
                    .expect("a segment of a transfer we never sent");
                let start = seg.flags.contains(SegmentFlags::START);
                if start {
                    assert_eq!(wire.current, None, "transfers interleave (RFC 9174 §5.2.2)");
                    assert_eq!(wire.sess_terms, 0, "a transfer began after our SESS_TERM");
                    assert!(
                        !wire.written.contains_key(&id),
                        "transfer {id} started twice"
                    );
                    wire.current = Some(id);
                } else {
                    assert_eq!(wire.current, Some(id), "a segment out of its transfer");
                }
                let offset = wire.written.get(&id).copied().unwrap_or(0);
                let end = offset + seg.data.len();
                assert!(end <= bundle.len(), "more segment data than the bundle");
                assert_eq!(seg.data[..], bundle[offset..end], "segment data differs");
                wire.written.insert(id, end);
                if seg.flags.contains(SegmentFlags::END) {
                    assert_eq!(end, bundle.len(), "END before the whole bundle");
                    wire.ended.insert(id);
                    wire.current = None;
                } else {
                    assert!(end < bundle.len(), "the last segment lacks END");
                }
            }
            Message::Keepalive
            | Message::MsgReject(_)
            | Message::XferAck(_)
            | Message::XferRefuse(_) => {}
        }
    }
}
