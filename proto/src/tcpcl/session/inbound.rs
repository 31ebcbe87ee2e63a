//! Transfers from the peer: reassembly, intermediate acks, and the caller's accept/refuse.
//!
//! Segments of one transfer arrive in order and transfers do not interleave (RFC 9174 §5.2.2),
//! so at most one transfer is arriving at a time. A complete transfer waits for the caller's
//! decision; decisions go out in arrival order, because §5.2.4 wants every earlier transfer
//! acknowledged or refused before a later one is refused.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::Session;
use crate::tcpcl::event::{AckError, Event, SessionError, TransferId};
use crate::tcpcl::msg::{
    ExtensionItem, MessageType, RefuseReason, SegmentFlags, TERN_CONTROL_EXTENSION,
    TRANSFER_LENGTH_EXTENSION, XferAck, XferRefuse, XferSegment,
};

/// Most bytes reserved up front from a Transfer Length announcement: a peer that announces a
/// big bundle and sends little costs at most this much.
const MAX_PREALLOC: u64 = 16 << 20;

/// Incoming transfers of one session.
#[derive(Debug, Default)]
pub(super) struct Inbound {
    /// The transfer whose segments are arriving.
    current: Option<Current>,
    /// Transfers that are complete or refused, in arrival order, until their final XFER_ACK or
    /// XFER_REFUSE has been queued.
    pending: VecDeque<Pending>,
}

#[derive(Debug)]
enum Current {
    Receiving {
        id: u64,
        /// Carries tern's control extension: a control message, acknowledged on arrival.
        control: bool,
        /// Announced by a Transfer Length extension (§5.2.5.1).
        total: Option<u64>,
        received: u64,
        data: Reassembly,
    },
    /// Refused before its END segment: later segments that crossed the refusal are dropped.
    Refused { id: u64, reason: RefuseReason },
}

#[derive(Debug)]
struct Pending {
    id: u64,
    /// Flags of the END segment, echoed in the final XFER_ACK (§5.2.3).
    flags: SegmentFlags,
    len: u64,
    decision: Option<Decision>,
}

#[derive(Debug, Clone, Copy)]
enum Decision {
    Ack,
    Refuse(RefuseReason),
}

/// Segment data collected so far; a one-segment bundle stays the received buffer (no copy).
#[derive(Debug, Default)]
enum Reassembly {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

/// What an arriving segment does to the current transfer.
enum Outcome {
    Progress(u64),
    Complete(u64),
    Refuse,
}

impl Inbound {
    /// No transfer is arriving and none awaits a decision.
    pub(super) fn is_idle(&self) -> bool {
        !matches!(self.current, Some(Current::Receiving { .. })) && self.pending.is_empty()
    }

    fn awaits_release(&self, id: u64) -> bool {
        self.pending.iter().any(|p| p.id == id)
    }
}

impl Session {
    /// Accepts an incoming transfer reported by [`Event::TransferReceived`]: sends its final
    /// XFER_ACK (RFC 9174 §5.2.3). Call it once the bundle is durable, so that the peer may
    /// forget it.
    pub fn ack_transfer(&mut self, transfer_id: TransferId) -> Result<(), AckError> {
        let undecided = self
            .inbound
            .pending
            .iter_mut()
            .find(|p| p.id == transfer_id.0 && p.decision.is_none());
        let Some(pending) = undecided else {
            return Err(self.undecidable(transfer_id));
        };
        pending.decision = Some(Decision::Ack);
        self.release_decisions();
        self.check_done();
        Ok(())
    }

    /// Refuses an incoming transfer (RFC 9174 §5.2.4): a complete one instead of acking it, or
    /// one still arriving (e.g. after [`Event::TransferStarted`]), whose remaining segments are
    /// then dropped.
    pub fn refuse_transfer(
        &mut self,
        transfer_id: TransferId,
        reason: RefuseReason,
    ) -> Result<(), AckError> {
        let id = transfer_id.0;
        let undecided = self
            .inbound
            .pending
            .iter_mut()
            .find(|p| p.id == id && p.decision.is_none());
        if let Some(pending) = undecided {
            pending.decision = Some(Decision::Refuse(reason));
            self.release_decisions();
        } else if matches!(self.inbound.current, Some(Current::Receiving { id: c, .. }) if c == id)
        {
            self.refuse_arriving(id, false, reason);
        } else {
            return Err(AckError::UnknownTransfer(transfer_id));
        }
        self.check_done();
        Ok(())
    }

    /// Handles an XFER_SEGMENT (RFC 9174 §5.2.2).
    pub(super) fn on_segment(&mut self, segment: XferSegment) {
        let id = segment.transfer_id;
        let end = segment.flags.contains(SegmentFlags::END);
        if segment.flags.contains(SegmentFlags::START) {
            if !self.start_transfer(&segment) {
                return;
            }
        } else {
            match &self.inbound.current {
                Some(Current::Receiving { id: current, .. }) if *current == id => {}
                Some(Current::Refused {
                    id: current,
                    reason,
                }) if *current == id => {
                    // §5.2.4: segments that crossed our refusal are refused again.
                    let reason = *reason;
                    if !self.inbound.awaits_release(id) {
                        self.queue(|b| {
                            XferRefuse {
                                reason,
                                transfer_id: id,
                            }
                            .encode(b)
                        });
                    }
                    if end {
                        self.inbound.current = None;
                    }
                    return;
                }
                _ => {
                    let rule = "segment without a START segment before it (RFC 9174 §5.2.2)";
                    return self.transfer_violation(id, rule);
                }
            }
        }
        let transfer_mru = self.config.transfer_mru;
        let outcome = match &mut self.inbound.current {
            Some(Current::Receiving {
                total,
                received,
                data,
                ..
            }) => {
                let len = received.saturating_add(segment.data.len() as u64);
                let over = len > transfer_mru || total.is_some_and(|t| len > t);
                // §5.2.5.1: a transfer that ends short of its announced length is invalid.
                let short = end && total.is_some_and(|t| len != t);
                if over || short {
                    Outcome::Refuse
                } else {
                    data.push(segment.data, *total);
                    *received = len;
                    if end {
                        Outcome::Complete(len)
                    } else {
                        Outcome::Progress(len)
                    }
                }
            }
            _ => return,
        };
        match outcome {
            Outcome::Refuse => self.refuse_arriving(id, end, RefuseReason::NOT_ACCEPTABLE),
            Outcome::Progress(len) => {
                let ack = XferAck {
                    flags: segment.flags,
                    transfer_id: id,
                    acked_len: len,
                };
                self.queue(|b| ack.encode(b));
            }
            Outcome::Complete(len) => {
                let Some(Current::Receiving { data, control, .. }) = self.inbound.current.take()
                else {
                    return;
                };
                self.inbound.pending.push_back(Pending {
                    id,
                    flags: segment.flags,
                    len,
                    decision: control.then_some(Decision::Ack),
                });
                if control {
                    self.events.push_back(Event::ControlReceived {
                        transfer_id: TransferId(id),
                        message: data.finish(),
                    });
                    self.release_decisions();
                } else {
                    self.events.push_back(Event::TransferReceived {
                        transfer_id: TransferId(id),
                        bundle: data.finish(),
                    });
                }
            }
        }
    }

    /// Begins the transfer a START segment opens; false if the segment needs nothing more.
    fn start_transfer(&mut self, segment: &XferSegment) -> bool {
        let id = segment.transfer_id;
        let end = segment.flags.contains(SegmentFlags::END);
        if let Some(Current::Receiving { id: previous, .. }) = self.inbound.current {
            let rule = "a new transfer started before this one ended (RFC 9174 §5.2.2)";
            self.transfer_violation(previous, rule);
            return false;
        }
        if self.inbound.pending.iter().any(|p| p.id == id) {
            self.transfer_violation(id, "transfer ID reused (RFC 9174 §5.2.1)");
            return false;
        }
        if self.is_ending() {
            // §6.1: an ending session accepts no new transfers.
            self.refuse_arriving(id, end, RefuseReason::SESSION_TERMINATING);
            return false;
        }
        let control = self.config.tern_control
            && segment
                .extensions
                .iter()
                .any(|item| item.item_type == TERN_CONTROL_EXTENSION);
        let total = match transfer_length(&segment.extensions, self.config.tern_control) {
            Ok(total) => total,
            Err(reason) => {
                self.refuse_arriving(id, end, reason);
                return false;
            }
        };
        if total.is_some_and(|t| t > self.config.transfer_mru) {
            // §4.6: the peer must not send more than our transfer MRU; say no before the data.
            self.refuse_arriving(id, end, RefuseReason::NOT_ACCEPTABLE);
            return false;
        }
        self.inbound.current = Some(Current::Receiving {
            id,
            control,
            total,
            received: 0,
            data: Reassembly::Empty,
        });
        // A control message is not the driver's to refuse: it only hears of it once whole.
        if !control {
            self.events.push_back(Event::TransferStarted {
                transfer_id: TransferId(id),
                total_len: total,
            });
        }
        true
    }

    /// Refuses the arriving transfer `id`; `end` says whether its END segment was seen.
    fn refuse_arriving(&mut self, id: u64, end: bool, reason: RefuseReason) {
        self.inbound.current = (!end).then_some(Current::Refused { id, reason });
        self.inbound.pending.push_back(Pending {
            id,
            flags: SegmentFlags::empty(),
            len: 0,
            decision: Some(Decision::Refuse(reason)),
        });
        self.release_decisions();
    }

    /// Queues decided final acks and refusals, oldest first, up to the first undecided one.
    fn release_decisions(&mut self) {
        while let Some(Pending {
            decision: Some(decision),
            ..
        }) = self.inbound.pending.front()
        {
            let decision = *decision;
            let Some(pending) = self.inbound.pending.pop_front() else {
                return;
            };
            let transfer_id = pending.id;
            match decision {
                Decision::Ack => {
                    let ack = XferAck {
                        flags: pending.flags,
                        transfer_id,
                        acked_len: pending.len,
                    };
                    self.queue(|b| ack.encode(b));
                }
                Decision::Refuse(reason) => {
                    self.queue(|b| {
                        XferRefuse {
                            reason,
                            transfer_id,
                        }
                        .encode(b)
                    });
                }
            }
        }
    }

    fn undecidable(&self, transfer_id: TransferId) -> AckError {
        match self.inbound.current {
            Some(Current::Receiving { id, .. }) if id == transfer_id.0 => {
                AckError::Incomplete(transfer_id)
            }
            _ => AckError::UnknownTransfer(transfer_id),
        }
    }

    fn transfer_violation(&mut self, id: u64, rule: &'static str) {
        let error = SessionError::TransferViolation {
            transfer_id: TransferId(id),
            rule,
        };
        self.violation(error, Some(MessageType::XFER_SEGMENT));
    }
}

/// The Transfer Length a START segment announces (RFC 9174 §5.2.5.1), or the refusal its
/// extension items call for (§5.2.5: an unknown critical item; a malformed or repeated length).
/// The Transfer Length item's value, if any; refuses unknown critical items (§5.2.5), which
/// tern's control item is not when `tern_control` is on.
fn transfer_length(
    items: &[ExtensionItem],
    tern_control: bool,
) -> Result<Option<u64>, RefuseReason> {
    let mut total = None;
    for item in items {
        if tern_control && item.item_type == TERN_CONTROL_EXTENSION {
            continue;
        }
        if item.item_type == TRANSFER_LENGTH_EXTENSION {
            let value = <[u8; 8]>::try_from(&item.value[..]);
            match (total, value) {
                (None, Ok(bytes)) => total = Some(u64::from_be_bytes(bytes)),
                _ => return Err(RefuseReason::EXTENSION_FAILURE),
            }
        } else if item.is_critical() {
            return Err(RefuseReason::EXTENSION_FAILURE);
        }
    }
    Ok(total)
}

impl Reassembly {
    fn push(&mut self, data: Bytes, total: Option<u64>) {
        *self = match std::mem::take(self) {
            Self::Empty => Self::One(data),
            Self::One(first) => {
                let need = first.len() + data.len();
                let hint = total.map_or(0, |t| t.min(MAX_PREALLOC));
                let capacity = need.max(usize::try_from(hint).unwrap_or(need));
                let mut buf = BytesMut::with_capacity(capacity);
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
                Self::Many(buf)
            }
            Self::Many(mut buf) => {
                buf.extend_from_slice(&data);
                Self::Many(buf)
            }
        };
    }

    fn finish(self) -> Bytes {
        match self {
            Self::Empty => Bytes::new(),
            Self::One(data) => data,
            Self::Many(buf) => buf.freeze(),
        }
    }
}
