//! The TCPCLv4 session state machine (RFC 9174 §3.3, §4–§6), without IO and without a clock.
//!
//! A [`Session`] is fed what the TCP connection delivers and the time, and says what to write
//! and what happened; quinn-proto's shape:
//!
//! - inputs: [`Session::handle_bytes`], [`Session::handle_timeout`], [`Session::handle_close`],
//!   and the caller's decisions [`Session::send_bundle`], [`Session::ack_transfer`],
//!   [`Session::refuse_transfer`], [`Session::close`];
//! - outputs: [`Session::poll_transmit`] (bytes to write, in order), [`Session::poll_event`],
//!   and [`Session::poll_timeout`] (when to call `handle_timeout` next).
//!
//! After every input, drain `poll_event` and `poll_transmit`, then wait for bytes or the
//! deadline. Time is a `u64` of milliseconds on any monotonic epoch the driver chooses.
//!
//! States are named for what they wait for: the peer's contact header, then SESS_INIT, then the
//! session is established (and possibly ending after SESS_TERM), then closed. Transfers in
//! either direction are kept in [`inbound`] and [`outbound`].

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::Eid;

use super::config::{ConfigError, Role, SessionConfig, TlsMode};
use super::decode::{Limits, TcpclError};
use super::event::{Event, SessionError};
use super::msg::{
    ContactFlags, ContactHeader, Message, MessageType, MsgReject, RejectReason, SessInit, SessTerm,
    SessTermFlags, SessTermReason,
};

mod inbound;
mod outbound;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;

/// One TCPCLv4 session over one TCP connection. See the module documentation for how to
/// drive it.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    limits: Limits,
    state: State,
    /// The latest time any input carried, in ms; never goes backwards.
    now: u64,
    /// Received bytes not yet decoded.
    rx: BytesMut,
    /// Encoded bytes waiting for `poll_transmit`, in wire order.
    tx: VecDeque<Bytes>,
    events: VecDeque<Event>,
    /// When the contact header and SESS_INIT exchange must be done.
    contact_deadline: u64,
    last_rx: u64,
    last_tx: u64,
    /// Negotiated keepalive interval in ms; 0 when keepalives are off.
    keepalive_ms: u64,
    peer: Option<Peer>,
    term: Termination,
    inbound: inbound::Inbound,
    outbound: outbound::Outbound,
}

/// What the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The peer's contact header (RFC 9174 §4.1).
    AwaitingContactHeader,
    /// The peer's SESS_INIT (§4.6).
    AwaitingSessInit,
    /// Transfers, keepalives and SESS_TERM (§5, §6); "Ending" once SESS_TERM was sent.
    Established,
    /// Nothing: the session is over.
    Closed,
}

/// The peer's limits on what we send (RFC 9174 §4.7).
#[derive(Debug, Clone, Copy)]
struct Peer {
    segment_mru: u64,
    transfer_mru: u64,
}

/// SESS_TERM bookkeeping (RFC 9174 §6.1).
#[derive(Debug, Default)]
struct Termination {
    sent: Option<SessTermReason>,
    received: Option<SessTermReason>,
    /// Reason of the first SESS_TERM, and whether the peer sent it.
    first: Option<(SessTermReason, bool)>,
    /// When an ending session closes even if transfers are unfinished.
    deadline: Option<u64>,
}

impl Session {
    /// Starts a session on a freshly connected TCP stream. An active session queues its
    /// contact header at once (RFC 9174 §4.1); a passive one waits for the peer's.
    pub fn new(role: Role, config: SessionConfig, now_ms: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut session = Self {
            role,
            limits: config.limits(),
            contact_deadline: now_ms.saturating_add(config.contact_timeout_ms),
            config,
            state: State::AwaitingContactHeader,
            now: now_ms,
            rx: BytesMut::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            last_rx: now_ms,
            last_tx: now_ms,
            keepalive_ms: 0,
            peer: None,
            term: Termination::default(),
            inbound: inbound::Inbound::default(),
            outbound: outbound::Outbound::default(),
        };
        if role == Role::Active {
            session.queue_contact_header();
        }
        Ok(session)
    }

    /// Which end of the connection this session is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// True if this side understands tern control transfers (see
    /// [`SessionConfig::tern_control`]).
    pub fn tern_control(&self) -> bool {
        self.config.tern_control
    }

    /// True once SESS_INIT was exchanged and until the session closes (also while ending).
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// True once a SESS_TERM was sent: no new transfers in either direction (RFC 9174 §6.1).
    pub fn is_ending(&self) -> bool {
        self.term.sent.is_some()
    }

    /// True when the session is over; write the remaining `poll_transmit` bytes and close.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Outgoing transfers not yet acknowledged, refused or failed.
    pub fn in_flight(&self) -> usize {
        self.outbound.len()
    }

    /// True if [`Session::send_bundle`] would accept a bundle the peer's transfer MRU allows.
    pub fn can_send(&self) -> bool {
        self.is_established()
            && !self.is_ending()
            && self.outbound.len() < self.config.max_in_flight
            && self.outbound.has_ids()
    }

    /// Feeds bytes received from the peer.
    pub fn handle_bytes(&mut self, now_ms: u64, bytes: &[u8]) {
        self.advance(now_ms);
        if self.state == State::Closed || bytes.is_empty() {
            return;
        }
        self.last_rx = self.now;
        self.rx.extend_from_slice(bytes);
        self.process_rx();
    }

    /// The peer closed the TCP connection, or it failed. Unfinished transfers fail.
    pub fn handle_close(&mut self, now_ms: u64) {
        self.advance(now_ms);
        if self.state == State::Closed {
            return;
        }
        let reason = self.term.first.map_or(SessTermReason::UNKNOWN, |(r, _)| r);
        self.finish(reason, true, Some(SessionError::ConnectionClosed));
    }

    /// Runs the timers that are due: keepalive, idle timeout (RFC 9174 §5.1.1), setup and
    /// ending deadlines. Calling it early, or twice, does nothing extra.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.advance(now_ms);
        let now = self.now;
        match self.state {
            State::Closed => {}
            State::AwaitingContactHeader | State::AwaitingSessInit => {
                if now >= self.contact_deadline {
                    let error = SessionError::ContactTimeout(self.config.contact_timeout_ms);
                    let negotiated = self.state == State::AwaitingSessInit;
                    self.abort(error, SessTermReason::CONTACT_FAILURE, negotiated);
                }
            }
            State::Established => {
                if self.idle_deadline().is_some_and(|d| now >= d) {
                    let idle_ms = now - self.last_rx;
                    let error = SessionError::IdleTimeout { idle_ms };
                    self.abort(error, SessTermReason::IDLE_TIMEOUT, true);
                    return;
                }
                if self.term.deadline.is_some_and(|d| now >= d) {
                    let (reason, by_peer) = self.first_term();
                    let error = SessionError::EndingTimeout(self.config.ending_timeout_ms);
                    self.finish(reason, by_peer, Some(error));
                    return;
                }
                if self.keepalive_deadline().is_some_and(|d| now >= d) {
                    // RFC 9174 §5.1.1: send a KEEPALIVE when nothing was sent for the
                    // interval; at half of it, so peers that time out after one interval
                    // (dtn7-rs) stay content. Anything already queued will do as well.
                    if self.tx.is_empty() {
                        self.queue(|b| b.put_u8(MessageType::KEEPALIVE.0));
                    }
                    self.last_tx = now;
                }
            }
        }
    }

    /// When [`Session::handle_timeout`] should be called next, in ms; `None` when no timer runs
    /// (closed, or established with keepalives off and not ending).
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Closed => None,
            State::AwaitingContactHeader | State::AwaitingSessInit => Some(self.contact_deadline),
            State::Established => [
                self.idle_deadline(),
                self.keepalive_deadline(),
                self.term.deadline,
            ]
            .into_iter()
            .flatten()
            .min(),
        }
    }

    /// The next bytes to write to the connection, in order. A segment comes as two chunks (its
    /// header, then its data shared with the bundle); everything else as one chunk per message.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let chunk = match self.tx.pop_front() {
            Some(chunk) => chunk,
            None => self.next_segment()?,
        };
        self.last_tx = self.now;
        Some(chunk)
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Ends the session cleanly (RFC 9174 §6.1): sends SESS_TERM, lets in-flight transfers in
    /// both directions finish, and closes after the peer's reply. Before the session is
    /// established it closes at once.
    pub fn close(&mut self, reason: SessTermReason) {
        match self.state {
            State::Closed => {}
            State::AwaitingContactHeader => self.finish(reason, false, None),
            State::AwaitingSessInit => {
                self.send_term(SessTermFlags::empty(), reason);
                self.finish(reason, false, None);
            }
            State::Established => {
                if self.term.sent.is_some() {
                    return;
                }
                self.send_term(SessTermFlags::empty(), reason);
                self.begin_ending(reason, false);
                self.check_done();
            }
        }
    }

    /// Ends the session at once, without waiting for transfers or the peer's reply (the
    /// "unclean termination" of RFC 9174 §6.1), e.g. on shutdown. Outgoing transfers fail.
    pub fn close_now(&mut self, reason: SessTermReason) {
        let negotiating = matches!(self.state, State::AwaitingSessInit | State::Established);
        if negotiating && self.term.sent.is_none() {
            self.send_term(SessTermFlags::empty(), reason);
        }
        self.finish(reason, false, None);
    }

    fn advance(&mut self, now_ms: u64) {
        self.now = self.now.max(now_ms);
    }

    fn idle_deadline(&self) -> Option<u64> {
        (self.keepalive_ms > 0).then(|| self.last_rx.saturating_add(self.keepalive_ms * 2))
    }

    fn keepalive_deadline(&self) -> Option<u64> {
        (self.keepalive_ms > 0).then(|| self.last_tx.saturating_add(self.keepalive_ms / 2))
    }

    fn first_term(&self) -> (SessTermReason, bool) {
        self.term.first.unwrap_or((SessTermReason::UNKNOWN, false))
    }

    /// Decodes and handles every complete item in the receive buffer.
    fn process_rx(&mut self) {
        loop {
            match self.state {
                State::Closed => {
                    self.rx.clear();
                    return;
                }
                State::AwaitingContactHeader => match ContactHeader::decode(&mut self.rx) {
                    Ok(None) => return,
                    Ok(Some(header)) => self.on_contact_header(header),
                    // RFC 9174 §4.3: no valid magic, no TCPCL: just close.
                    Err(e) => self.abort(e.into(), SessTermReason::CONTACT_FAILURE, false),
                },
                State::AwaitingSessInit | State::Established => {
                    match Message::decode(&mut self.rx, &self.limits) {
                        Ok(None) => return,
                        Ok(Some(msg)) => self.on_message(msg),
                        Err(TcpclError::UnknownMessageType(code)) => {
                            // RFC 9174 §5.1.2: reject it and close; its length is unknowable.
                            self.queue_reject(RejectReason::TYPE_UNKNOWN, code);
                            let error = TcpclError::UnknownMessageType(code).into();
                            self.abort(error, SessTermReason::UNKNOWN, false);
                        }
                        Err(e) => {
                            let reason = if self.state == State::AwaitingSessInit {
                                SessTermReason::CONTACT_FAILURE
                            } else {
                                SessTermReason::UNKNOWN
                            };
                            self.abort(e.into(), reason, true);
                        }
                    }
                }
            }
        }
    }

    /// RFC 9174 §4.3: check the version, answer (passive) or go on to SESS_INIT (active).
    fn on_contact_header(&mut self, header: ContactHeader) {
        if header.version != super::msg::VERSION {
            let error = SessionError::VersionMismatch {
                peer: header.version,
            };
            if self.role == Role::Passive {
                self.queue_contact_header();
                self.send_term(SessTermFlags::empty(), SessTermReason::VERSION_MISMATCH);
            }
            self.finish(SessTermReason::VERSION_MISMATCH, false, Some(error));
            return;
        }
        // Enable TLS = our CAN_TLS AND theirs (§4.3); ours is always 0 for now, see `TlsMode`.
        match self.role {
            Role::Passive => self.queue_contact_header(),
            Role::Active => self.queue_sess_init(),
        }
        self.state = State::AwaitingSessInit;
    }

    fn on_message(&mut self, msg: Message) {
        if self.state == State::AwaitingSessInit {
            self.on_setup_message(msg);
            return;
        }
        match msg {
            Message::Keepalive => {}
            // §5.1.2 names this very case: a SESS_INIT after establishment is unexpected.
            Message::SessInit(_) => {
                self.queue_reject(RejectReason::UNEXPECTED, MessageType::SESS_INIT.0);
            }
            Message::SessTerm(term) => self.on_sess_term(term),
            Message::MsgReject(reject) => self.on_reject(reject),
            Message::XferSegment(segment) => self.on_segment(segment),
            Message::XferAck(ack) => self.on_ack(ack),
            Message::XferRefuse(refuse) => self.on_refuse(refuse),
        }
        self.check_done();
    }

    /// Messages before SESS_INIT arrived: only SESS_INIT, SESS_TERM and MSG_REJECT make sense.
    fn on_setup_message(&mut self, msg: Message) {
        match msg {
            Message::SessInit(init) => self.on_sess_init(init),
            Message::SessTerm(term) => self.on_sess_term(term),
            Message::MsgReject(reject) => self.on_reject(reject),
            Message::Keepalive => {}
            other => {
                let msg = other.message_type();
                self.queue_reject(RejectReason::UNEXPECTED, msg.0);
                let state = "before SESS_INIT (RFC 9174 §4.6)";
                let error = SessionError::UnexpectedMessage { msg, state };
                self.abort(error, SessTermReason::CONTACT_FAILURE, true);
            }
        }
    }

    /// RFC 9174 §4.6–§4.8: validate the peer's parameters and negotiate.
    fn on_sess_init(&mut self, init: SessInit) {
        let fail = SessTermReason::CONTACT_FAILURE;
        // §4.8: no session extension types are known here, so any critical one is fatal.
        if let Some(item) = init.extensions.iter().find(|item| item.is_critical()) {
            let error = SessionError::UnknownCriticalExtension {
                item_type: item.item_type,
            };
            return self.abort(error, fail, true);
        }
        let peer_node_id = if init.node_id.is_empty() {
            None
        } else {
            match init.node_id.parse::<Eid>().map(|eid| eid.node_id()) {
                Ok(Some(node)) => Some(node),
                Ok(None) => {
                    let error = SessionError::UnacceptableParameter("node ID dtn:none");
                    return self.abort(error, fail, true);
                }
                Err(source) => {
                    let text = init.node_id;
                    return self.abort(SessionError::InvalidNodeId { text, source }, fail, true);
                }
            }
        };
        if init.segment_mru == 0 {
            let error = SessionError::UnacceptableParameter("segment MRU 0");
            return self.abort(error, fail, true);
        }
        if init.transfer_mru == 0 {
            let error = SessionError::UnacceptableParameter("transfer MRU 0");
            return self.abort(error, fail, true);
        }
        if self.role == Role::Passive {
            self.queue_sess_init();
        }
        let keepalive_secs = self.config.keepalive_secs.min(init.keepalive);
        self.keepalive_ms = u64::from(keepalive_secs) * 1000;
        self.peer = Some(Peer {
            segment_mru: init.segment_mru,
            transfer_mru: init.transfer_mru,
        });
        self.state = State::Established;
        self.last_rx = self.now;
        self.events.push_back(Event::Established {
            peer_node_id,
            keepalive_secs,
            peer_segment_mru: init.segment_mru,
            peer_transfer_mru: init.transfer_mru,
        });
    }

    /// RFC 9174 §6.1: acknowledge the peer's SESS_TERM unless ours crossed it, then end.
    fn on_sess_term(&mut self, term: SessTerm) {
        let reason = term.reason;
        self.term.received = Some(reason);
        let peer_first = self.term.sent.is_none();
        if peer_first {
            self.send_term(SessTermFlags::REPLY, reason);
        }
        if self.state == State::Established {
            self.begin_ending(reason, peer_first);
        } else {
            // The peer refused the session during setup (§4.2).
            self.finish(reason, true, None);
        }
    }

    fn on_reject(&mut self, reject: MsgReject) {
        self.events.push_back(Event::Rejected {
            reason: reject.reason,
            rejected_type: MessageType(reject.rejected_header),
        });
    }

    /// Enters the Ending state once (RFC 9174 §6.1): outgoing transfers that have not begun
    /// fail, new incoming ones will be refused.
    fn begin_ending(&mut self, reason: SessTermReason, by_peer: bool) {
        if self.term.first.is_some() {
            return;
        }
        self.term.first = Some((reason, by_peer));
        self.term.deadline = Some(self.now.saturating_add(self.config.ending_timeout_ms));
        self.fail_outbound(true);
        self.events.push_back(Event::Ending { reason, by_peer });
    }

    /// Closes an ending session once both SESS_TERMs are exchanged and no transfer is left.
    fn check_done(&mut self) {
        if self.state != State::Established
            || self.term.sent.is_none()
            || self.term.received.is_none()
            || !self.outbound.is_idle()
            || !self.inbound.is_idle()
        {
            return;
        }
        let (reason, by_peer) = self.first_term();
        self.finish(reason, by_peer, None);
    }

    /// A peer broke a rule: reject the message if one is named, send SESS_TERM and close.
    fn violation(&mut self, error: SessionError, rejected: Option<MessageType>) {
        if let Some(msg) = rejected {
            self.queue_reject(RejectReason::UNEXPECTED, msg.0);
        }
        self.abort(error, SessTermReason::UNKNOWN, true);
    }

    /// Ends the session abnormally, sending SESS_TERM first if `send_term` and none was sent.
    fn abort(&mut self, error: SessionError, reason: SessTermReason, send_term: bool) {
        if send_term && self.term.sent.is_none() {
            self.send_term(SessTermFlags::empty(), reason);
        }
        self.finish(reason, false, Some(error));
    }

    /// The session is over: fail what is unfinished and report it, once.
    fn finish(&mut self, reason: SessTermReason, by_peer: bool, error: Option<SessionError>) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.rx = BytesMut::new();
        self.fail_outbound(false);
        self.inbound = inbound::Inbound::default();
        self.events.push_back(Event::Terminated {
            reason,
            by_peer,
            error,
        });
    }

    fn queue(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        let mut buf = BytesMut::new();
        encode(&mut buf);
        self.tx.push_back(buf.freeze());
    }

    fn queue_contact_header(&mut self) {
        let flags = match self.config.tls {
            TlsMode::Disabled => ContactFlags::empty(),
        };
        let header = ContactHeader::new(flags).encode();
        self.tx.push_back(Bytes::copy_from_slice(&header));
    }

    fn queue_sess_init(&mut self) {
        let init = SessInit {
            keepalive: self.config.keepalive_secs,
            segment_mru: self.config.segment_mru,
            transfer_mru: self.config.transfer_mru,
            node_id: self.config.node_id.clone(),
            extensions: Vec::new(),
        };
        let mut buf = BytesMut::new();
        match init.encode(&mut buf) {
            Ok(()) => self.tx.push_back(buf.freeze()),
            Err(e) => self.abort(e.into(), SessTermReason::UNKNOWN, false),
        }
    }

    fn queue_reject(&mut self, reason: RejectReason, rejected_header: u8) {
        self.queue(|b| {
            MsgReject {
                reason,
                rejected_header,
            }
            .encode(b);
        });
    }

    fn send_term(&mut self, flags: SessTermFlags, reason: SessTermReason) {
        self.term.sent = Some(reason);
        self.queue(|b| SessTerm { flags, reason }.encode(b));
    }
}
