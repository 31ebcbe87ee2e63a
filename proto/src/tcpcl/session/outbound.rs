//! Transfers to the peer: segmentation, pipelining and the peer's acks and refusals.
//!
//! Bundles are queued by [`Session::send_bundle`] and cut into segments lazily, when the driver
//! asks for bytes, so control messages (acks, keepalives, SESS_TERM) slip in between segments
//! and a refusal stops a transfer before the rest of it is even encoded. Segments of one
//! transfer go out in order and transfers never interleave (RFC 9174 §5.2.2), but the next
//! transfer starts while earlier ones wait for their final ack (§3.3 Figure 11: pipelining).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::{Session, State};
use crate::tcpcl::event::{Event, SendError, TransferId};
use crate::tcpcl::msg::{
    ExtensionItem, MessageType, RejectReason, SegmentFlags, SessTermReason, XferAck, XferRefuse,
    encode_segment_header,
};

/// Outgoing transfers of one session.
#[derive(Debug)]
pub(super) struct Outbound {
    /// The next transfer ID; `None` once all 2^64 are used (§5.2.1).
    next_id: Option<u64>,
    /// Unfinished transfers in ID order: sent ones awaiting acks, then at most one partly sent,
    /// then ones not begun.
    transfers: VecDeque<Transfer>,
}

#[derive(Debug)]
struct Transfer {
    id: u64,
    /// A tern control message rather than a bundle: marked with the control extension.
    control: bool,
    data: Chunks,
    /// Bytes handed to the driver so far.
    sent: usize,
    /// Bytes the peer acknowledged so far.
    acked: u64,
}

/// A transfer's data as the buffers it was handed in (see [`Session::send_bundle_chunks`]).
#[derive(Debug)]
struct Chunks {
    /// Non-empty buffers, in order.
    parts: Vec<Bytes>,
    /// Their total length.
    len: usize,
}

impl Chunks {
    fn new(parts: Vec<Bytes>) -> Self {
        let parts: Vec<Bytes> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let len = parts.iter().map(Bytes::len).sum();
        Self { parts, len }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Up to `limit` bytes from `start`, never across a buffer's end: a zero-copy slice.
    fn segment(&self, start: usize, limit: usize) -> Bytes {
        let mut offset = 0;
        for part in &self.parts {
            let end = offset + part.len();
            if start < end {
                let from = start - offset;
                let to = from + limit.min(part.len() - from);
                return part.slice(from..to);
            }
            offset = end;
        }
        Bytes::new()
    }
}

impl Default for Outbound {
    /// RFC 9174 §5.2.1: the first transfer ID is zero.
    fn default() -> Self {
        Self {
            next_id: Some(0),
            transfers: VecDeque::new(),
        }
    }
}

impl Outbound {
    /// Bundle transfers in flight (control messages do not count: see `send_control`).
    pub(super) fn len(&self) -> usize {
        self.transfers.iter().filter(|t| !t.control).count()
    }

    pub(super) fn is_idle(&self) -> bool {
        self.transfers.is_empty()
    }

    pub(super) fn has_ids(&self) -> bool {
        self.next_id.is_some()
    }

    /// True if `id` is one we handed out (it may be finished already).
    fn issued(&self, id: u64) -> bool {
        self.next_id.is_none_or(|next| id < next)
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.transfers.iter().position(|t| t.id == id)
    }

    /// Jumps to the end of the transfer ID space.
    #[cfg(test)]
    pub(super) fn exhaust_ids_for_test(&mut self, next: u64) {
        self.next_id = Some(next);
    }
}

impl Session {
    /// Queues a bundle for transfer and returns its transfer ID. Several transfers may be in
    /// flight, up to `max_in_flight`; each ends with [`Event::TransferAcked`],
    /// [`Event::TransferRefused`] or [`Event::TransferFailed`].
    pub fn send_bundle(&mut self, bundle: Bytes) -> Result<TransferId, SendError> {
        self.enqueue(vec![bundle], false)
    }

    /// [`Self::send_bundle`] for a bundle in several buffers, sent in order as one transfer.
    /// Segments end where buffers end, so no buffer is copied: a forwarded bundle whose payload
    /// is a slice of the stored bundle (`wire::splice`) goes out without a copy of it.
    pub fn send_bundle_chunks(&mut self, chunks: Vec<Bytes>) -> Result<TransferId, SendError> {
        self.enqueue(chunks, false)
    }

    /// Queues a tern control message (see [`crate::tcpcl::msg::TERN_CONTROL_EXTENSION`]); it
    /// ends with the same events as a bundle transfer. Send one only to a peer whose
    /// [`crate::tcpcl::msg::CONTROL_HELLO`] arrived, and the hello itself first.
    ///
    /// Control messages do not count against `max_in_flight`: they are few (the engine bounds
    /// them per contact) and must not wait behind a window full of bundles, or reconciliation
    /// would stall the very transfers it schedules.
    pub fn send_control(&mut self, message: Bytes) -> Result<TransferId, SendError> {
        self.enqueue(vec![message], true)
    }

    fn enqueue(&mut self, chunks: Vec<Bytes>, control: bool) -> Result<TransferId, SendError> {
        let bundle = Chunks::new(chunks);
        match self.state {
            State::Established => {}
            State::Closed => return Err(SendError::Ending),
            State::AwaitingContactHeader | State::AwaitingSessInit => {
                return Err(SendError::NotEstablished);
            }
        }
        let Some(peer) = self.peer else {
            return Err(SendError::NotEstablished);
        };
        if self.is_ending() {
            return Err(SendError::Ending);
        }
        if bundle.is_empty() {
            return Err(SendError::Empty);
        }
        let len = bundle.len() as u64;
        if len > peer.transfer_mru {
            let max = peer.transfer_mru;
            return Err(SendError::TooLarge { len, max });
        }
        if !control && self.outbound.len() >= self.config.max_in_flight {
            let max = self.config.max_in_flight;
            return Err(SendError::WindowFull { max });
        }
        let Some(id) = self.outbound.next_id else {
            // §5.2.1: the ID space is used up; end the session so a new one starts over.
            self.close(SessTermReason::RESOURCE_EXHAUSTION);
            return Err(SendError::TransferIdsExhausted);
        };
        self.outbound.next_id = id.checked_add(1);
        self.outbound.transfers.push_back(Transfer {
            id,
            control,
            data: bundle,
            sent: 0,
            acked: 0,
        });
        Ok(TransferId(id))
    }

    /// The header of the next segment to send; its data is queued right behind it.
    pub(super) fn next_segment(&mut self) -> Option<Bytes> {
        if self.state != State::Established {
            return None;
        }
        let peer = self.peer?;
        let limit = peer.segment_mru.min(self.config.max_tx_segment);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let transfer = self
            .outbound
            .transfers
            .iter_mut()
            .find(|t| t.sent < t.data.len())?;
        let total = transfer.data.len();
        let start = transfer.sent;
        // At most `limit` bytes, and never past the end of one of the transfer's buffers.
        let data = transfer.data.segment(start, limit);
        let end = start + data.len();
        transfer.sent = end;
        let id = transfer.id;
        let control = transfer.control;
        let mut flags = SegmentFlags::empty();
        flags.set(SegmentFlags::START, start == 0);
        flags.set(SegmentFlags::END, end == total);
        // §5.2.5.1: announce the length only when there is more than one segment.
        let mut extensions = Vec::new();
        if start == 0 && control {
            extensions.push(ExtensionItem::tern_control());
        }
        if start == 0 && end < total && self.config.send_transfer_length {
            extensions.push(ExtensionItem::transfer_length(total as u64));
        }
        let mut header = BytesMut::new();
        if let Err(e) = encode_segment_header(flags, id, &extensions, data.len(), &mut header) {
            self.abort(e.into(), SessTermReason::UNKNOWN, true);
            return self.tx.pop_front();
        }
        self.tx.push_front(data);
        Some(header.freeze())
    }

    /// Handles an XFER_ACK (RFC 9174 §5.2.3). Matched by transfer ID and acknowledged length
    /// only: some peers (dtn7-rs) send flags 0 instead of echoing the segment's flags.
    pub(super) fn on_ack(&mut self, ack: XferAck) {
        let id = ack.transfer_id;
        let Some(index) = self.outbound.position(id) else {
            // §5.1.2: an ack for a transfer never started is unexpected; one for a finished
            // transfer (e.g. crossing a refusal) is harmless.
            if !self.outbound.issued(id) {
                self.queue_reject(RejectReason::UNEXPECTED, MessageType::XFER_ACK.0);
            }
            return;
        };
        let Some(transfer) = self.outbound.transfers.get_mut(index) else {
            return;
        };
        if ack.acked_len > transfer.sent as u64 {
            // It acknowledges bytes we never sent: cannot be complied with.
            self.queue_reject(RejectReason::UNSUPPORTED, MessageType::XFER_ACK.0);
            return;
        }
        transfer.acked = transfer.acked.max(ack.acked_len);
        if transfer.acked == transfer.data.len() as u64 {
            self.outbound.transfers.remove(index);
            self.events.push_back(Event::TransferAcked {
                transfer_id: TransferId(id),
            });
        }
    }

    /// Handles an XFER_REFUSE (RFC 9174 §5.2.4): the transfer stops; a segment already handed
    /// to the driver still goes out whole.
    pub(super) fn on_refuse(&mut self, refuse: XferRefuse) {
        let id = refuse.transfer_id;
        let Some(index) = self.outbound.position(id) else {
            if !self.outbound.issued(id) {
                self.queue_reject(RejectReason::UNEXPECTED, MessageType::XFER_REFUSE.0);
            }
            return;
        };
        self.outbound.transfers.remove(index);
        self.events.push_back(Event::TransferRefused {
            transfer_id: TransferId(id),
            reason: refuse.reason,
        });
    }

    /// Fails unfinished transfers: all of them, or (when the session starts ending, §6.1) only
    /// those not begun yet.
    pub(super) fn fail_outbound(&mut self, unstarted_only: bool) {
        let transfers = std::mem::take(&mut self.outbound.transfers);
        for transfer in transfers {
            if unstarted_only && transfer.sent > 0 {
                self.outbound.transfers.push_back(transfer);
            } else {
                self.events.push_back(Event::TransferFailed {
                    transfer_id: TransferId(transfer.id),
                });
            }
        }
    }
}
