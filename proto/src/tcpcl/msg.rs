//! TCPCLv4 messages (RFC 9174 §4.2, §4.6, §5, §6.1): their fields, codes and encoding.
//!
//! Every message starts with a one-octet type code (§4.5) followed by fixed-width big-endian
//! integers and length-prefixed fields. Codes a peer may send that this side does not know
//! (reason codes, reserved flag bits) are kept as received, so a decoded message re-encodes to
//! the exact bytes it came from. Decoding lives in [`super::decode`].

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// The contact header's magic string `dtn!` (RFC 9174 §4.2).
pub const MAGIC: [u8; 4] = *b"dtn!";
/// The only TCPCL version spoken here (RFC 9174 §4.2).
pub const VERSION: u8 = 4;
/// Length of a contact header on the wire: magic, version, flags.
pub const CONTACT_HEADER_LEN: usize = 6;

bitflags::bitflags! {
    /// Contact header flags (RFC 9174 §4.2, Table 1). Reserved bits are kept as received.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ContactFlags: u8 {
        /// The sender is willing to start TLS after the contact headers.
        const CAN_TLS = 0x01;
        // Keep reserved bits as received.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// SESS_TERM flags (RFC 9174 §6.1, Table 8).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SessTermFlags: u8 {
        /// This SESS_TERM acknowledges the peer's earlier SESS_TERM.
        const REPLY = 0x01;
        // Keep reserved bits as received.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// XFER_SEGMENT and XFER_ACK flags (RFC 9174 §5.2.2, Table 5).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SegmentFlags: u8 {
        /// The last segment of a transfer.
        const END = 0x01;
        /// The first segment of a transfer; only it carries transfer extension items.
        const START = 0x02;
        // Keep reserved bits as received (an XFER_ACK copies them back, §5.2.3).
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Session and transfer extension item flags (RFC 9174 §4.8 Table 3, §5.2.5 Table 7).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ExtensionFlags: u8 {
        /// The receiver must understand the item or fail the session (session items) or the
        /// transfer (transfer items).
        const CRITICAL = 0x01;
        // Keep reserved bits as received.
        const _ = !0;
    }
}

/// Defines a one-octet code registry as a newtype, so unassigned codes survive a round trip.
macro_rules! code_registry {
    ($(#[$doc:meta])* $name:ident { $($(#[$cdoc:meta])* $konst:ident = $val:literal => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$cdoc])* pub const $konst: Self = Self($val);)*

            /// The registry name of an assigned code.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($text),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "unassigned code {:#04x}", self.0),
                }
            }
        }
    };
}

code_registry! {
    /// A message type code (RFC 9174 §4.5, Table 2; registry §9.5).
    MessageType {
        /// A segment of bundle data.
        XFER_SEGMENT = 0x01 => "XFER_SEGMENT",
        /// Acknowledges received segment data.
        XFER_ACK = 0x02 => "XFER_ACK",
        /// The receiver does not want the rest of a transfer.
        XFER_REFUSE = 0x03 => "XFER_REFUSE",
        /// Keeps an idle session alive.
        KEEPALIVE = 0x04 => "KEEPALIVE",
        /// Ends the session.
        SESS_TERM = 0x05 => "SESS_TERM",
        /// A message could not be processed.
        MSG_REJECT = 0x06 => "MSG_REJECT",
        /// Session parameters of one side.
        SESS_INIT = 0x07 => "SESS_INIT",
    }
}

code_registry! {
    /// Why a session ends (RFC 9174 §6.1, Table 9). Codes a peer sends that are not assigned are
    /// kept; RFC 9174 §6.1 says to treat them as Unknown.
    SessTermReason {
        /// No reason given.
        UNKNOWN = 0x00 => "Unknown",
        /// Nothing was received for too long (§5.1.1).
        IDLE_TIMEOUT = 0x01 => "Idle timeout",
        /// The peer's contact header carries a version not spoken here (§4.3).
        VERSION_MISMATCH = 0x02 => "Version mismatch",
        /// The entity is too busy to handle the session.
        BUSY = 0x03 => "Busy",
        /// Contact or session parameters were unacceptable (§4.3, §4.7, §4.8).
        CONTACT_FAILURE = 0x04 => "Contact Failure",
        /// The entity ran out of a resource, e.g. transfer IDs (§5.2.1).
        RESOURCE_EXHAUSTION = 0x05 => "Resource Exhaustion",
    }
}

code_registry! {
    /// Why a receiver refuses a transfer (RFC 9174 §5.2.4, Table 6).
    RefuseReason {
        /// No reason given.
        UNKNOWN = 0x00 => "Unknown",
        /// The receiver already has the whole bundle: the sender may count it as delivered.
        COMPLETED = 0x01 => "Completed",
        /// The receiver is out of resources (e.g. storage).
        NO_RESOURCES = 0x02 => "No Resources",
        /// Something went wrong: send the whole bundle again.
        RETRANSMIT = 0x03 => "Retransmit",
        /// The bundle or its extensions are unacceptable: do not retry as is.
        NOT_ACCEPTABLE = 0x04 => "Not Acceptable",
        /// A transfer extension item could not be processed.
        EXTENSION_FAILURE = 0x05 => "Extension Failure",
        /// The receiver is ending the session (§6.1): retry in another session.
        SESSION_TERMINATING = 0x06 => "Session Terminating",
    }
}

code_registry! {
    /// Why a message was rejected (RFC 9174 §5.1.2, Table 4).
    RejectReason {
        /// The message type code is unknown.
        TYPE_UNKNOWN = 0x01 => "Message Type Unknown",
        /// The message is known but cannot be complied with.
        UNSUPPORTED = 0x02 => "Message Unsupported",
        /// The message is not expected in the current session state.
        UNEXPECTED = 0x03 => "Message Unexpected",
    }
}

/// Type code of the Transfer Length transfer extension (RFC 9174 §5.2.5.1).
pub const TRANSFER_LENGTH_EXTENSION: u16 = 0x0001;

/// Type code of tern's control transfer extension, in RFC 9174 §9.5's private/experimental
/// range (0x8000–0xFFFF). A transfer carrying it holds a tern link-local control message
/// (set reconciliation, PRoPHET predictabilities), not a bundle.
///
/// Why a transfer extension and not a session extension: dtn7-rs 0.21 ends the session on any
/// session extension item in SESS_INIT, so capability cannot be announced there. Instead each
/// tern side sends [`CONTROL_HELLO`] as a control transfer once the session is up; a side that
/// receives the peer's hello knows the peer speaks control messages. The item is critical, so a
/// conforming peer that does not know it refuses the transfer (§5.2.5) rather than taking the
/// bytes for a bundle.
pub const TERN_CONTROL_EXTENSION: u16 = 0xF7E0;

/// The payload of the control transfer each tern side sends first on a new session.
pub const CONTROL_HELLO: &[u8] = b"tern-control/1";

/// A session or transfer extension item: one TLV (RFC 9174 §4.8, §5.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionItem {
    /// Item flags; [`ExtensionFlags::CRITICAL`] makes an unknown item fatal.
    pub flags: ExtensionFlags,
    /// The item type code.
    pub item_type: u16,
    /// The item value, at most `u16::MAX` bytes.
    pub value: Bytes,
}

impl ExtensionItem {
    /// A Transfer Length item announcing the total bundle length (RFC 9174 §5.2.5.1).
    ///
    /// Not critical: a peer that does not know the item may skip it, and the segments carry the
    /// same information anyway.
    pub fn transfer_length(total: u64) -> Self {
        Self {
            flags: ExtensionFlags::empty(),
            item_type: TRANSFER_LENGTH_EXTENSION,
            value: Bytes::copy_from_slice(&total.to_be_bytes()),
        }
    }

    /// The item that marks a transfer as a tern control message; critical, with no value.
    pub fn tern_control() -> Self {
        Self {
            flags: ExtensionFlags::CRITICAL,
            item_type: TERN_CONTROL_EXTENSION,
            value: Bytes::new(),
        }
    }

    /// True if the receiver must understand this item.
    pub fn is_critical(&self) -> bool {
        self.flags.contains(ExtensionFlags::CRITICAL)
    }

    /// Bytes this item takes on the wire: flags, type, length, value.
    pub fn encoded_len(&self) -> usize {
        5 + self.value.len()
    }
}

/// The contact header each side sends first (RFC 9174 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactHeader {
    /// The sender's TCPCL version; a decoded header may carry any value, see
    /// [`super::Session`] for what happens when it is not [`VERSION`].
    pub version: u8,
    /// Contact flags.
    pub flags: ContactFlags,
}

impl ContactHeader {
    /// A version 4 contact header with the given flags.
    pub fn new(flags: ContactFlags) -> Self {
        Self {
            version: VERSION,
            flags,
        }
    }

    /// The six bytes on the wire.
    pub fn encode(&self) -> [u8; CONTACT_HEADER_LEN] {
        let [m0, m1, m2, m3] = MAGIC;
        [m0, m1, m2, m3, self.version, self.flags.bits()]
    }
}

/// SESS_INIT: one side's session parameters (RFC 9174 §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessInit {
    /// Keepalive interval in seconds the sender proposes; 0 disables keepalives (§4.7).
    pub keepalive: u16,
    /// Largest segment data the sender will accept.
    pub segment_mru: u64,
    /// Largest whole transfer (bundle) the sender will accept.
    pub transfer_mru: u64,
    /// The sender's node ID as URI text; empty means "not disclosed" (§4.6).
    pub node_id: String,
    /// Session extension items.
    pub extensions: Vec<ExtensionItem>,
}

/// SESS_TERM: a side ends the session, or acknowledges that the peer does (RFC 9174 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessTerm {
    /// Flags; REPLY marks the acknowledgement.
    pub flags: SessTermFlags,
    /// Why.
    pub reason: SessTermReason,
}

/// MSG_REJECT: a received message could not be processed (RFC 9174 §5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgReject {
    /// Why.
    pub reason: RejectReason,
    /// The type code of the rejected message.
    pub rejected_header: u8,
}

/// XFER_SEGMENT: a piece of a bundle (RFC 9174 §5.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XferSegment {
    /// START and/or END.
    pub flags: SegmentFlags,
    /// Which transfer this segment belongs to.
    pub transfer_id: u64,
    /// Transfer extension items; only encoded, and only decoded, on a START segment.
    pub extensions: Vec<ExtensionItem>,
    /// The segment data, shared with the receive buffer (no copy).
    pub data: Bytes,
}

/// XFER_ACK: how much of a transfer has been received (RFC 9174 §5.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XferAck {
    /// The flags of the segment being acknowledged (some peers send 0).
    pub flags: SegmentFlags,
    /// Which transfer.
    pub transfer_id: u64,
    /// Total bytes of the transfer received so far.
    pub acked_len: u64,
}

/// XFER_REFUSE: the receiver does not want (the rest of) a transfer (RFC 9174 §5.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XferRefuse {
    /// Why.
    pub reason: RefuseReason,
    /// Which transfer.
    pub transfer_id: u64,
}

/// Any message after the contact header (RFC 9174 §4.5, Table 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// SESS_INIT (0x07).
    SessInit(SessInit),
    /// SESS_TERM (0x05).
    SessTerm(SessTerm),
    /// KEEPALIVE (0x04): no fields.
    Keepalive,
    /// MSG_REJECT (0x06).
    MsgReject(MsgReject),
    /// XFER_SEGMENT (0x01).
    XferSegment(XferSegment),
    /// XFER_ACK (0x02).
    XferAck(XferAck),
    /// XFER_REFUSE (0x03).
    XferRefuse(XferRefuse),
}

/// A message could not be encoded because a field is longer than its length prefix allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}: {field} of {len} bytes does not fit its length field (at most {max})")]
pub struct EncodeError {
    /// The message being encoded.
    pub msg: MessageType,
    /// The field that is too long.
    pub field: &'static str,
    /// Its length.
    pub len: usize,
    /// The most its length field can express.
    pub max: u64,
}

impl Message {
    /// This message's type code.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::SessInit(_) => MessageType::SESS_INIT,
            Self::SessTerm(_) => MessageType::SESS_TERM,
            Self::Keepalive => MessageType::KEEPALIVE,
            Self::MsgReject(_) => MessageType::MSG_REJECT,
            Self::XferSegment(_) => MessageType::XFER_SEGMENT,
            Self::XferAck(_) => MessageType::XFER_ACK,
            Self::XferRefuse(_) => MessageType::XFER_REFUSE,
        }
    }

    /// Appends the message to `out`. Fails only if a variable-length field is too long for its
    /// length prefix (node ID over 65535 bytes, an extension item value over 65535 bytes, the
    /// extension items over 4 GiB); nothing is appended then.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::SessInit(m) => m.encode(out),
            Self::SessTerm(m) => {
                m.encode(out);
                Ok(())
            }
            Self::Keepalive => {
                out.put_u8(MessageType::KEEPALIVE.0);
                Ok(())
            }
            Self::MsgReject(m) => {
                m.encode(out);
                Ok(())
            }
            Self::XferSegment(m) => {
                encode_segment_header(m.flags, m.transfer_id, &m.extensions, m.data.len(), out)?;
                out.put_slice(&m.data);
                Ok(())
            }
            Self::XferAck(m) => {
                m.encode(out);
                Ok(())
            }
            Self::XferRefuse(m) => {
                m.encode(out);
                Ok(())
            }
        }
    }

    /// The encoded message as one buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}

impl SessInit {
    /// Appends the message; see [`Message::encode`] for when it fails.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let msg = MessageType::SESS_INIT;
        let node_len = fits_u16(msg, "node ID", self.node_id.len())?;
        let ext_len = extensions_len(msg, &self.extensions)?;
        out.reserve(1 + 2 + 8 + 8 + 2 + self.node_id.len() + 4 + ext_len as usize);
        out.put_u8(msg.0);
        out.put_u16(self.keepalive);
        out.put_u64(self.segment_mru);
        out.put_u64(self.transfer_mru);
        out.put_u16(node_len);
        out.put_slice(self.node_id.as_bytes());
        out.put_u32(ext_len);
        put_extensions(&self.extensions, out);
        Ok(())
    }
}

impl SessTerm {
    /// Appends the three bytes of the message.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&[MessageType::SESS_TERM.0, self.flags.bits(), self.reason.0]);
    }
}

impl MsgReject {
    /// Appends the three bytes of the message: reason first, as RFC 9174 Figure 21 shows.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&[
            MessageType::MSG_REJECT.0,
            self.reason.0,
            self.rejected_header,
        ]);
    }
}

impl XferAck {
    /// Appends the 18 bytes of the message.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(MessageType::XFER_ACK.0);
        out.put_u8(self.flags.bits());
        out.put_u64(self.transfer_id);
        out.put_u64(self.acked_len);
    }
}

impl XferRefuse {
    /// Appends the 10 bytes of the message.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(MessageType::XFER_REFUSE.0);
        out.put_u8(self.reason.0);
        out.put_u64(self.transfer_id);
    }
}

/// Appends an XFER_SEGMENT up to (not including) its data, so that the data can be written from
/// the bundle's own buffer without a copy. Extension items are written only on a START segment
/// (RFC 9174 §5.2.2).
pub fn encode_segment_header(
    flags: SegmentFlags,
    transfer_id: u64,
    extensions: &[ExtensionItem],
    data_len: usize,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = flags.contains(SegmentFlags::START);
    let ext_len = if start {
        extensions_len(MessageType::XFER_SEGMENT, extensions)?
    } else {
        0
    };
    out.reserve(1 + 1 + 8 + 4 + ext_len as usize + 8);
    out.put_u8(MessageType::XFER_SEGMENT.0);
    out.put_u8(flags.bits());
    out.put_u64(transfer_id);
    if start {
        out.put_u32(ext_len);
        put_extensions(extensions, out);
    }
    out.put_u64(data_len as u64);
    Ok(())
}

/// The encoded length of an extension item list, checked against every length prefix involved.
fn extensions_len(msg: MessageType, items: &[ExtensionItem]) -> Result<u32, EncodeError> {
    let mut total: usize = 0;
    for item in items {
        fits_u16(msg, "extension item value", item.value.len())?;
        total = total.saturating_add(item.encoded_len());
    }
    u32::try_from(total).map_err(|_| EncodeError {
        msg,
        field: "extension items",
        len: total,
        max: u64::from(u32::MAX),
    })
}

/// Writes items whose lengths [`extensions_len`] has checked.
fn put_extensions(items: &[ExtensionItem], out: &mut BytesMut) {
    for item in items {
        out.put_u8(item.flags.bits());
        out.put_u16(item.item_type);
        out.put_u16(item.value.len() as u16);
        out.put_slice(&item.value);
    }
}

fn fits_u16(msg: MessageType, field: &'static str, len: usize) -> Result<u16, EncodeError> {
    u16::try_from(len).map_err(|_| EncodeError {
        msg,
        field,
        len,
        max: u64::from(u16::MAX),
    })
}
