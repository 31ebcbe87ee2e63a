//! Streaming decoding of TCPCLv4 contact headers and messages.
//!
//! A TCP stream delivers messages in arbitrary pieces, so decoding is done in two passes, like
//! mini-redis' `Frame::check`/`Frame::parse`: [`Message::check`] walks the fixed fields of the
//! buffered bytes without allocating and answers "not yet" or "the next message is N bytes";
//! only then is the message split off the buffer and parsed. Every length field is compared with
//! [`Limits`] as soon as it is visible, so a peer announcing a huge segment is refused before a
//! single byte of it is buffered, and nothing is ever allocated from an unchecked length.

use bytes::{Buf, Bytes, BytesMut};

use super::msg::{
    CONTACT_HEADER_LEN, ContactFlags, ContactHeader, ExtensionFlags, ExtensionItem, MAGIC, Message,
    MessageType, MsgReject, RefuseReason, RejectReason, SegmentFlags, SessInit, SessTerm,
    SessTermFlags, SessTermReason, XferAck, XferRefuse, XferSegment,
};

/// Default bound on one segment's data: 16 MiB.
pub const DEFAULT_MAX_SEGMENT_LEN: u64 = 16 << 20;
/// Default bound on a node ID: the EID parser's default length limit.
pub const DEFAULT_MAX_NODE_ID_LEN: u16 = 1024;
/// Default bound on the extension items of one message: 64 KiB.
pub const DEFAULT_MAX_EXTENSIONS_LEN: u32 = 64 << 10;

/// Bounds on the variable-length fields a peer may send; they bound the memory one message can
/// make this side buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest XFER_SEGMENT data accepted; a session uses its advertised segment MRU.
    pub max_segment_len: u64,
    /// Largest node ID in a SESS_INIT.
    pub max_node_id_len: u16,
    /// Largest session or transfer extension item list.
    pub max_extensions_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_segment_len: DEFAULT_MAX_SEGMENT_LEN,
            max_node_id_len: DEFAULT_MAX_NODE_ID_LEN,
            max_extensions_len: DEFAULT_MAX_EXTENSIONS_LEN,
        }
    }
}

/// Received bytes are not a valid contact header or message. Offsets count from the first byte
/// of the message (its type code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TcpclError {
    /// RFC 9174 §4.3: without the magic the peer does not speak TCPCL; close the connection.
    #[error(
        "contact header: magic {found:02x?} is not \"dtn!\" (RFC 9174 §4.3): the peer does not speak TCPCL"
    )]
    BadMagic {
        /// The first four bytes received.
        found: [u8; 4],
    },
    /// RFC 9174 §5.1.2: a type code this side does not know; answered with MSG_REJECT.
    #[error("unknown message type {0:#04x} (RFC 9174 §5.1.2)")]
    UnknownMessageType(u8),
    /// A length field exceeds the configured [`Limits`].
    #[error("{msg} at byte {offset}: {field} of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The message.
        msg: MessageType,
        /// The field.
        field: &'static str,
        /// Offset of its length field.
        offset: usize,
        /// The announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A structural rule of the message is broken.
    #[error("{msg} at byte {offset}: {rule}")]
    Malformed {
        /// The message.
        msg: MessageType,
        /// Offset of the offending item.
        offset: usize,
        /// The rule that was broken.
        rule: &'static str,
    },
}

impl ContactHeader {
    /// Takes a contact header off the front of `buf`, or returns `Ok(None)` until six bytes
    /// are there. The magic is checked (RFC 9174 §4.3); the version is returned as received so
    /// that the session can answer a mismatch the way §4.3 asks.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Self>, TcpclError> {
        if buf.len() >= MAGIC.len() && buf[..MAGIC.len()] != MAGIC {
            let mut found = [0; 4];
            found.copy_from_slice(&buf[..MAGIC.len()]);
            return Err(TcpclError::BadMagic { found });
        }
        if buf.len() < CONTACT_HEADER_LEN {
            return Ok(None);
        }
        let header = buf.split_to(CONTACT_HEADER_LEN);
        Ok(Some(Self {
            version: header[4],
            flags: ContactFlags::from_bits_retain(header[5]),
        }))
    }
}

/// Reads a fixed-width field during [`Message::check`]; yields `Ok(None)` when the bytes have
/// not arrived yet.
macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

impl Message {
    /// Takes one complete message off the front of `buf`.
    ///
    /// Returns `Ok(None)` while more bytes are needed (nothing is consumed then). A framing
    /// error (unknown type, a length over the limits) leaves the buffer as it was; a frame
    /// that is complete but malformed inside has been taken off. Either way the stream cannot
    /// be resynchronised and the session ends.
    /// Segment data is split off the buffer without copying.
    pub fn decode(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Self>, TcpclError> {
        let Some(len) = Self::check(buf, limits)? else {
            return Ok(None);
        };
        let frame = buf.split_to(len).freeze();
        Self::parse(frame).map(Some)
    }

    /// Cheap framing pass: the length of the first message in `buf` if all of it is there,
    /// `Ok(None)` if not yet. Checks the type code and every length field against `limits`
    /// as soon as it can see them; allocates nothing.
    pub fn check(buf: &[u8], limits: &Limits) -> Result<Option<usize>, TcpclError> {
        let mut p = Peek { buf, pos: 0 };
        let code = need!(p.u8());
        let msg = MessageType(code);
        match msg {
            MessageType::KEEPALIVE => {}
            MessageType::SESS_TERM | MessageType::MSG_REJECT => need!(p.skip(2)),
            MessageType::XFER_REFUSE => need!(p.skip(1 + 8)),
            MessageType::XFER_ACK => need!(p.skip(1 + 8 + 8)),
            MessageType::SESS_INIT => {
                need!(p.skip(2 + 8 + 8));
                let at = p.pos;
                let node_len = need!(p.u16());
                limit(
                    msg,
                    "node ID",
                    at,
                    node_len.into(),
                    limits.max_node_id_len.into(),
                )?;
                need!(p.skip(node_len.into()));
                let at = p.pos;
                let ext_len = need!(p.u32());
                let max = limits.max_extensions_len.into();
                limit(msg, "session extension items", at, ext_len.into(), max)?;
                need!(p.skip(ext_len.into()));
            }
            MessageType::XFER_SEGMENT => {
                let flags = SegmentFlags::from_bits_retain(need!(p.u8()));
                need!(p.skip(8));
                if flags.contains(SegmentFlags::START) {
                    let at = p.pos;
                    let ext_len = need!(p.u32());
                    let max = limits.max_extensions_len.into();
                    limit(msg, "transfer extension items", at, ext_len.into(), max)?;
                    need!(p.skip(ext_len.into()));
                }
                let at = p.pos;
                let data_len = need!(p.u64());
                limit(msg, "segment data", at, data_len, limits.max_segment_len)?;
                need!(p.skip(data_len));
            }
            _ => return Err(TcpclError::UnknownMessageType(code)),
        }
        Ok(Some(p.pos))
    }

    /// Parses one whole message that [`Message::check`] has framed.
    fn parse(frame: Bytes) -> Result<Self, TcpclError> {
        let mut r = Reader::new(frame);
        let msg = MessageType(r.u8(MessageType(0))?);
        Ok(match msg {
            MessageType::KEEPALIVE => Self::Keepalive,
            MessageType::SESS_TERM => Self::SessTerm(SessTerm {
                flags: SessTermFlags::from_bits_retain(r.u8(msg)?),
                reason: SessTermReason(r.u8(msg)?),
            }),
            MessageType::MSG_REJECT => Self::MsgReject(MsgReject {
                reason: RejectReason(r.u8(msg)?),
                rejected_header: r.u8(msg)?,
            }),
            MessageType::XFER_REFUSE => Self::XferRefuse(XferRefuse {
                reason: RefuseReason(r.u8(msg)?),
                transfer_id: r.u64(msg)?,
            }),
            MessageType::XFER_ACK => Self::XferAck(XferAck {
                flags: SegmentFlags::from_bits_retain(r.u8(msg)?),
                transfer_id: r.u64(msg)?,
                acked_len: r.u64(msg)?,
            }),
            MessageType::SESS_INIT => {
                let keepalive = r.u16(msg)?;
                let segment_mru = r.u64(msg)?;
                let transfer_mru = r.u64(msg)?;
                let node_len = r.u16(msg)?;
                let at = r.pos;
                let node = r.bytes(msg, node_len.into())?;
                let node_id = String::from_utf8(node.to_vec())
                    .map_err(|_| malformed(msg, at, "node ID is not UTF-8 text (RFC 9174 §4.6)"))?;
                let ext_len = r.u32(msg)?;
                let extensions = r.extensions(msg, ext_len.into())?;
                Self::SessInit(SessInit {
                    keepalive,
                    segment_mru,
                    transfer_mru,
                    node_id,
                    extensions,
                })
            }
            MessageType::XFER_SEGMENT => {
                let flags = SegmentFlags::from_bits_retain(r.u8(msg)?);
                let transfer_id = r.u64(msg)?;
                let extensions = if flags.contains(SegmentFlags::START) {
                    let ext_len = r.u32(msg)?;
                    r.extensions(msg, ext_len.into())?
                } else {
                    Vec::new()
                };
                let data_len = r.u64(msg)?;
                let data = r.bytes(msg, data_len)?;
                Self::XferSegment(XferSegment {
                    flags,
                    transfer_id,
                    extensions,
                    data,
                })
            }
            _ => return Err(TcpclError::UnknownMessageType(msg.0)),
        })
    }
}

fn limit(
    msg: MessageType,
    field: &'static str,
    offset: usize,
    len: u64,
    max: u64,
) -> Result<(), TcpclError> {
    if len > max {
        return Err(TcpclError::TooLong {
            msg,
            field,
            offset,
            len,
            max,
        });
    }
    Ok(())
}

fn malformed(msg: MessageType, offset: usize, rule: &'static str) -> TcpclError {
    TcpclError::Malformed { msg, offset, rule }
}

/// A cursor for [`Message::check`]: every read is `None` past the end of the buffered bytes.
struct Peek<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Peek<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.pos.checked_add(N)?;
        let bytes: [u8; N] = self.buf.get(self.pos..end)?.try_into().ok()?;
        self.pos = end;
        Some(bytes)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }

    /// Skips `n` bytes if they are all buffered.
    fn skip(&mut self, n: u64) -> Option<()> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        if end > self.buf.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }
}

/// A cursor over one framed message; a short read is an error (it cannot happen after
/// [`Message::check`], but the parser does not rely on that to stay panic-free).
struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    fn bytes(&mut self, msg: MessageType, n: u64) -> Result<Bytes, TcpclError> {
        let at = self.pos;
        let short = || malformed(msg, at, "message ends in the middle of a field");
        let n = usize::try_from(n).map_err(|_| short())?;
        if self.buf.remaining() < n {
            return Err(short());
        }
        self.pos += n;
        Ok(self.buf.split_to(n))
    }

    fn array<const N: usize>(&mut self, msg: MessageType) -> Result<[u8; N], TcpclError> {
        let bytes = self.bytes(msg, N as u64)?;
        let mut out = [0; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn u8(&mut self, msg: MessageType) -> Result<u8, TcpclError> {
        self.array::<1>(msg).map(|[b]| b)
    }

    fn u16(&mut self, msg: MessageType) -> Result<u16, TcpclError> {
        self.array(msg).map(u16::from_be_bytes)
    }

    fn u32(&mut self, msg: MessageType) -> Result<u32, TcpclError> {
        self.array(msg).map(u32::from_be_bytes)
    }

    fn u64(&mut self, msg: MessageType) -> Result<u64, TcpclError> {
        self.array(msg).map(u64::from_be_bytes)
    }

    /// An extension item list of `len` bytes (RFC 9174 §4.8, §5.2.5). An item that claims more
    /// bytes than the list has left fails the message, as both sections require.
    fn extensions(&mut self, msg: MessageType, len: u64) -> Result<Vec<ExtensionItem>, TcpclError> {
        let base = self.pos;
        let mut list = Self::new(self.bytes(msg, len)?);
        let mut items = Vec::new();
        while list.buf.has_remaining() {
            let at = base + list.pos;
            if list.buf.remaining() < 5 {
                return Err(malformed(
                    msg,
                    at,
                    "extension item header overruns the extension items length",
                ));
            }
            let flags = ExtensionFlags::from_bits_retain(list.u8(msg)?);
            let item_type = list.u16(msg)?;
            let value_len = list.u16(msg)?;
            if list.buf.remaining() < usize::from(value_len) {
                return Err(malformed(
                    msg,
                    at,
                    "extension item value overruns the extension items length",
                ));
            }
            let value = list.bytes(msg, value_len.into())?;
            items.push(ExtensionItem {
                flags,
                item_type,
                value,
            });
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_message_needs_more_bytes_and_consumes_nothing() {
        let mut buf = BytesMut::from(&[0x02, 0x01, 0x00][..]);
        assert_eq!(Message::decode(&mut buf, &Limits::default()), Ok(None));
        assert_eq!(buf.len(), 3);
    }

    #[test]
    fn segment_longer_than_the_limit_is_refused_before_its_data_arrives() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0x01, 0x00]);
        buf.extend_from_slice(&7u64.to_be_bytes());
        buf.extend_from_slice(&u64::MAX.to_be_bytes());
        let err = Message::decode(&mut buf, &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            TcpclError::TooLong {
                msg: MessageType::XFER_SEGMENT,
                field: "segment data",
                offset: 10,
                len: u64::MAX,
                max: DEFAULT_MAX_SEGMENT_LEN,
            }
        );
    }

    #[test]
    fn unknown_type_code_is_reported_at_once() {
        let mut buf = BytesMut::from(&[0x42][..]);
        let err = Message::decode(&mut buf, &Limits::default()).unwrap_err();
        assert_eq!(err, TcpclError::UnknownMessageType(0x42));
        assert_eq!(
            err.to_string(),
            "unknown message type 0x42 (RFC 9174 §5.1.2)"
        );
    }

    #[test]
    fn extension_item_overrunning_its_list_is_malformed() {
        // SESS_INIT with a 6-byte item list whose only item claims 5 value bytes.
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0x07, 0, 0]);
        buf.extend_from_slice(&[0; 16]);
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&6u32.to_be_bytes());
        buf.extend_from_slice(&[0x00, 0x00, 0x01, 0x00, 0x05, 0xaa]);
        let err = Message::decode(&mut buf, &Limits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SESS_INIT at byte 25: extension item value overruns the extension items length"
        );
    }

    #[test]
    fn wrong_magic_is_reported_with_the_bytes_received() {
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1"[..]);
        let err = ContactHeader::decode(&mut buf).unwrap_err();
        assert_eq!(err, TcpclError::BadMagic { found: *b"GET " });
    }

    #[test]
    fn contact_header_with_other_version_decodes_for_the_session_to_judge() {
        let mut buf = BytesMut::from(&[0x64, 0x74, 0x6e, 0x21, 0x03, 0x00][..]);
        let header = ContactHeader::decode(&mut buf).unwrap().unwrap();
        assert_eq!(header.version, 3);
        assert!(buf.is_empty());
    }
}
