//! What a TCPCLv4 session tells its driver, and the errors it reports.
//!
//! Errors are grouped by who is to blame, as rustls does: [`SessionError`] — the peer misbehaved,
//! is incompatible or went silent, and the session ended; [`SendError`] and [`AckError`] — the
//! caller asked for something the session cannot do now, and nothing changed.

use std::fmt;

use bytes::Bytes;

use crate::wire::{Eid, EidError};

use super::decode::TcpclError;
use super::msg::{EncodeError, MessageType, RefuseReason, RejectReason, SessTermReason};

/// A transfer ID (RFC 9174 §5.2.1). Outgoing ones are ours (0, 1, 2, …), incoming ones are the
/// peer's; events say which direction they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub u64);

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transfer {}", self.0)
    }
}

/// Something the driver must act on, from [`super::Session::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// SESS_INIT was exchanged (RFC 9174 §4.7): bundles may be sent.
    Established {
        /// The peer's node ID, or `None` if it chose not to disclose it (§4.6). A peer that
        /// sent another endpoint of its node is reduced to the node ID.
        peer_node_id: Option<Eid>,
        /// Negotiated keepalive interval in seconds; 0 means keepalives are off.
        keepalive_secs: u16,
        /// Largest segment the peer accepts.
        peer_segment_mru: u64,
        /// Largest bundle the peer accepts: [`super::Session::send_bundle`] refuses bigger ones.
        peer_transfer_mru: u64,
    },
    /// The peer began a transfer to us. The caller may refuse it at once with
    /// [`super::Session::refuse_transfer`], e.g. when storage is short.
    TransferStarted {
        /// The peer's transfer ID.
        transfer_id: TransferId,
        /// Total length announced by a Transfer Length extension (§5.2.5.1), if any.
        total_len: Option<u64>,
    },
    /// A whole bundle arrived. Its final XFER_ACK is held back until the caller calls
    /// [`super::Session::ack_transfer`] (once the bundle is durable) or
    /// [`super::Session::refuse_transfer`].
    TransferReceived {
        /// The peer's transfer ID.
        transfer_id: TransferId,
        /// The reassembled bundle bytes (not yet validated as a bundle).
        bundle: Bytes,
    },
    /// A tern control message arrived (a transfer carrying
    /// [`super::msg::TERN_CONTROL_EXTENSION`]). The session has acknowledged it already: control
    /// messages need no durability, and the engine validates their content.
    ControlReceived {
        /// The peer's transfer ID.
        transfer_id: TransferId,
        /// The message bytes.
        message: Bytes,
    },
    /// The peer acknowledged the whole of one of our transfers.
    TransferAcked {
        /// Our transfer ID.
        transfer_id: TransferId,
    },
    /// The peer refused one of our transfers (§5.2.4). `COMPLETED` means it already has the
    /// bundle.
    TransferRefused {
        /// Our transfer ID.
        transfer_id: TransferId,
        /// The peer's reason.
        reason: RefuseReason,
    },
    /// One of our transfers will not complete: the session ended before the peer acknowledged
    /// it, or before it began. Send the bundle again on another session.
    TransferFailed {
        /// Our transfer ID.
        transfer_id: TransferId,
    },
    /// The peer rejected one of our messages (§5.1.2). Informational: the session goes on.
    Rejected {
        /// The peer's reason.
        reason: RejectReason,
        /// The type of our message that was rejected.
        rejected_type: MessageType,
    },
    /// SESS_TERM was sent (§6.1): no new transfers in either direction; in-flight ones may
    /// still finish.
    Ending {
        /// The reason in the first SESS_TERM.
        reason: SessTermReason,
        /// True if the peer sent the first SESS_TERM.
        by_peer: bool,
    },
    /// The session is over. Write what [`super::Session::poll_transmit`] still returns, then
    /// close the TCP connection. Emitted exactly once, after any `TransferFailed`.
    Terminated {
        /// The SESS_TERM reason, or the closest code when the session ended without one.
        reason: SessTermReason,
        /// True if the peer ended the session (its SESS_TERM or closing the connection).
        by_peer: bool,
        /// Why the session ended abnormally; `None` for a clean SESS_TERM exchange.
        error: Option<SessionError>,
    },
}

/// Why a session ended abnormally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer sent bytes that are not a valid contact header or message.
    #[error("{0}")]
    Decode(#[from] TcpclError),
    /// RFC 9174 §4.3: the peer speaks another TCPCL version.
    #[error("peer speaks TCPCL version {peer}, this side only version 4 (RFC 9174 §4.3)")]
    VersionMismatch {
        /// The peer's version.
        peer: u8,
    },
    /// RFC 9174 §4.6: the peer's node ID is not an endpoint ID.
    #[error("peer node ID '{text}' is not an endpoint ID: {source}")]
    InvalidNodeId {
        /// What the peer sent.
        text: String,
        /// Why it does not parse.
        source: EidError,
    },
    /// RFC 9174 §4.7: a peer parameter is unacceptable.
    #[error("peer {0} is unacceptable (RFC 9174 §4.7)")]
    UnacceptableParameter(&'static str),
    /// RFC 9174 §4.8: a critical session extension this side does not understand.
    #[error(
        "peer requires session extension type {item_type:#06x}, which this side does not know (RFC 9174 §4.8)"
    )]
    UnknownCriticalExtension {
        /// The item type.
        item_type: u16,
    },
    /// A message that is not allowed in the session's current state.
    #[error("{msg} is not allowed {state}")]
    UnexpectedMessage {
        /// The message.
        msg: MessageType,
        /// Where the session was, e.g. "before SESS_INIT".
        state: &'static str,
    },
    /// A transfer rule of RFC 9174 §5.2 was broken by the peer.
    #[error("{transfer_id} from the peer: {rule}")]
    TransferViolation {
        /// The peer's transfer.
        transfer_id: TransferId,
        /// The rule.
        rule: &'static str,
    },
    /// RFC 9174 §5.1.1: nothing was received for twice the keepalive interval.
    #[error("nothing received for {idle_ms} ms (twice the keepalive interval)")]
    IdleTimeout {
        /// How long the peer was silent.
        idle_ms: u64,
    },
    /// The contact header or SESS_INIT did not arrive in time (RFC 9174 §4.1, §4.6).
    #[error("session setup did not finish within {0} ms")]
    ContactTimeout(u64),
    /// The SESS_TERM reply or in-flight transfers did not finish in time (RFC 9174 §6.1).
    #[error("session ending did not finish within {0} ms")]
    EndingTimeout(u64),
    /// The TCP connection closed before the session ended cleanly.
    #[error("connection closed before the session ended")]
    ConnectionClosed,
    /// RFC 9174 §5.2.1: all 2^64 transfer IDs were used.
    #[error("transfer IDs exhausted (RFC 9174 §5.2.1)")]
    TransferIdsExhausted,
    /// A message of ours could not be encoded (a bug: our own fields are bounded).
    #[error("internal: {0}")]
    Encode(#[from] EncodeError),
}

/// Why [`super::Session::send_bundle`] did not accept a bundle; the session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// SESS_INIT has not been exchanged yet: wait for [`Event::Established`].
    #[error("session is not established yet")]
    NotEstablished,
    /// The session is ending or over (RFC 9174 §6.1: no new transfers).
    #[error("session is ending: no new transfers (RFC 9174 §6.1)")]
    Ending,
    /// The window of unacknowledged transfers is full: wait for an ack, refusal or failure.
    #[error("{max} transfers already in flight")]
    WindowFull {
        /// The configured window.
        max: usize,
    },
    /// RFC 9174 §4.6: the bundle exceeds the peer's transfer MRU; fragment it first.
    #[error("bundle of {len} bytes exceeds the peer's transfer MRU of {max} (RFC 9174 §4.6)")]
    TooLarge {
        /// The bundle's length.
        len: u64,
        /// The peer's transfer MRU.
        max: u64,
    },
    /// A transfer carries at least one byte.
    #[error("bundle is empty")]
    Empty,
    /// RFC 9174 §5.2.1: no transfer IDs are left; the session is being ended.
    #[error("transfer IDs exhausted (RFC 9174 §5.2.1)")]
    TransferIdsExhausted,
}

/// Why [`super::Session::ack_transfer`] or [`super::Session::refuse_transfer`] did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No incoming transfer with this ID awaits a decision (never seen, already decided, or
    /// lost with the session).
    #[error("no incoming {0} awaits a decision")]
    UnknownTransfer(TransferId),
    /// The transfer is still arriving: only a refusal is possible before it is complete.
    #[error("incoming {0} is not complete yet")]
    Incomplete(TransferId),
}
