//! Link-local control messages between two tern nodes: the tern-private format, and its
//! hostile-input-safe decoder.
//!
//! A driver whose link can carry them (both ends advertised it, see `Input::ControlReady`) hands
//! the bytes of each message to the engine with `Input::Control` and carries the engine's
//! `Output::Control` to the peer. They never leave the link: they are not bundles, are never
//! stored, and mean nothing to a node that does not speak them.
//!
//! # Format (version 1)
//!
//! Deterministic CBOR (RFC 8949 §4.2: shortest form, definite lengths), one message per frame:
//!
//! ```text
//! message      = [version: 1, kind, body]
//! kind 0       = reconciliation: body = [item*]       (range-based set reconciliation)
//! kind 1       = predictabilities: body = [[node-id: tstr, p: uint .le 65535]*]   (PRoPHET)
//!
//! item         = [0, bound]                           skip: nothing to say up to `bound`
//!              / [1, bound, fingerprint: uint, count: uint]
//!              / [2, bound, ids: bstr]                my ids in the range; answer with a want
//!              / [3, bound, ids: bstr]                my ids in the range; no answer needed
//!              / [4, bound, ids: bstr]                of the ids you sent for this range, I lack these
//! bound        = bstr .size (0..8)                    a digest, big-endian, trailing zero bytes
//!                                                     dropped (so most bounds are 1–3 bytes);
//!                                                     h'80' is the end of the digest space, 2^63
//! ids          = bstr                                 8 bytes per digest, big-endian, ascending
//! ```
//!
//! Items are contiguous: each covers `[previous bound, its bound)`, the first starting at 0;
//! whatever follows the last bound is skipped. Digests are 63-bit
//! ([`crate::routing::recon::bundle_digest`]), so every one is below the end bound.
//!
//! # Hostile input
//!
//! A peer's message is checked against [`ControlLimits`] before anything is allocated from it:
//! a length field is believed only once the input holds that many bytes, and item, id and entry
//! counts are capped, so decoding costs time and memory linear in the (capped) message size.
//! Every error names the rule that was broken and the byte offset where.

use bytes::Bytes;

use crate::wire::cbor::{self, Reader};
use crate::wire::{DecodeError, Eid};

/// The control message version this node speaks.
pub const CONTROL_VERSION: u64 = 1;

/// The end of the digest space: every digest is below it (digests are 63-bit).
pub const DIGEST_END: u64 = 1 << 63;

/// Scale of a predictability on the wire: `p = value / PREDICTABILITY_SCALE`.
pub const PREDICTABILITY_SCALE: u16 = u16::MAX;

/// One control message. New kinds may come with later versions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlMessage {
    /// A step of range-based set reconciliation over the two nodes' bundle ids.
    Recon(Vec<ReconItem>),
    /// PRoPHET delivery predictabilities of the sender (RFC 6693 §2.1.1), each scaled to
    /// `0..=PREDICTABILITY_SCALE`, sorted by node ID, no duplicates.
    Predictabilities(Vec<(Eid, u16)>),
}

/// One range of a reconciliation message: `[previous item's upper, upper)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconItem {
    /// Exclusive upper end of the range, at most [`DIGEST_END`].
    pub upper: u64,
    /// What the sender says about the range.
    pub body: ReconBody,
}

/// What a reconciliation message says about one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconBody {
    /// Nothing (already settled, or of no interest).
    Skip,
    /// The sender's fingerprint of its ids in the range.
    Fingerprint {
        /// Wrapping sum of the digests.
        fingerprint: u64,
        /// How many ids.
        count: u64,
    },
    /// All the sender's ids in the range, ascending.
    Ids {
        /// The digests.
        ids: Vec<u64>,
        /// The sender wants a [`ReconBody::Want`] back for this range.
        reply: bool,
    },
    /// Answer to `Ids`: which of the ids the sender of `Ids` listed the answering node lacks.
    Want {
        /// The digests, ascending.
        ids: Vec<u64>,
    },
}

/// Caps on what one control message from a peer may make this node read and allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlLimits {
    /// Largest message, in bytes.
    pub max_message_len: usize,
    /// Most reconciliation items (ranges) in one message.
    pub max_items: usize,
    /// Most digests in one message, over all its items.
    pub max_ids: usize,
    /// Most predictability entries in one message.
    pub max_entries: usize,
    /// Longest node ID in a predictability entry, in bytes.
    pub max_eid_len: usize,
}

impl Default for ControlLimits {
    fn default() -> Self {
        Self {
            max_message_len: 256 * 1024,
            max_items: 4096,
            max_ids: 16384,
            max_entries: 1024,
            max_eid_len: 256,
        }
    }
}

/// A control message that cannot be accepted: what rule it broke, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The message is larger than [`ControlLimits::max_message_len`].
    #[error("control message of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not the CBOR this format requires.
    #[error("control message: {0}")]
    Cbor(#[from] DecodeError),
    /// The peer speaks another version of this format.
    #[error("control message version {found} at byte {offset}; this node speaks {CONTROL_VERSION}")]
    Version {
        /// The version the message carries.
        found: u64,
        /// Where.
        offset: usize,
    },
    /// An unknown message kind.
    #[error("unknown control message kind {kind} at byte {offset}")]
    UnknownKind {
        /// The kind.
        kind: u64,
        /// Where.
        offset: usize,
    },
    /// An unknown reconciliation item kind.
    #[error("unknown reconciliation item kind {kind} at byte {offset}")]
    UnknownItem {
        /// The kind.
        kind: u64,
        /// Where.
        offset: usize,
    },
    /// More items, ids or entries than the limits allow.
    #[error("{what} at byte {offset}: {count} exceeds the limit of {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many the message announced or had so far.
        count: u64,
        /// The limit.
        max: usize,
        /// Where.
        offset: usize,
    },
    /// A range bound that is not a canonical digest bound.
    #[error("range bound at byte {offset}: {reason}")]
    BadBound {
        /// The rule.
        reason: &'static str,
        /// Where.
        offset: usize,
    },
    /// An id list that breaks a rule.
    #[error("id list at byte {offset}: {reason}")]
    BadIds {
        /// The rule.
        reason: &'static str,
        /// Where.
        offset: usize,
    },
    /// A predictability entry that breaks a rule.
    #[error("predictability entry at byte {offset}: {reason}")]
    BadEntry {
        /// The rule.
        reason: String,
        /// Where.
        offset: usize,
    },
    /// Bytes follow the message.
    #[error("{count} bytes after the end of the control message at byte {offset}")]
    TrailingBytes {
        /// How many.
        count: usize,
        /// Where they start.
        offset: usize,
    },
}

/// Top-level message kinds.
const KIND_RECON: u64 = 0;
const KIND_PREDICTABILITIES: u64 = 1;

/// Reconciliation item kinds.
const ITEM_SKIP: u64 = 0;
const ITEM_FINGERPRINT: u64 = 1;
const ITEM_IDS_REPLY: u64 = 2;
const ITEM_IDS: u64 = 3;
const ITEM_WANT: u64 = 4;

impl ControlMessage {
    /// The message's bytes, in deterministic CBOR.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        cbor::write_array(&mut out, 3);
        cbor::write_uint(&mut out, CONTROL_VERSION);
        match self {
            Self::Recon(items) => {
                cbor::write_uint(&mut out, KIND_RECON);
                cbor::write_array(&mut out, items.len() as u64);
                for item in items {
                    encode_item(&mut out, item);
                }
            }
            Self::Predictabilities(entries) => {
                cbor::write_uint(&mut out, KIND_PREDICTABILITIES);
                cbor::write_array(&mut out, entries.len() as u64);
                for (eid, p) in entries {
                    cbor::write_array(&mut out, 2);
                    cbor::write_text(&mut out, &eid.to_string());
                    cbor::write_uint(&mut out, u64::from(*p));
                }
            }
        }
        out
    }

    /// Decodes one message from a peer, within `limits`. Never panics; allocates at most in
    /// proportion to `limits`.
    pub fn decode(bytes: &Bytes, limits: &ControlLimits) -> Result<Self, ControlError> {
        if bytes.len() > limits.max_message_len {
            return Err(ControlError::TooLong {
                len: bytes.len(),
                max: limits.max_message_len,
            });
        }
        let mut r = Reader::new(bytes);
        r.array_of("control message", 3..=3)?;
        let offset = r.offset();
        let version = r.uint()?;
        if version != CONTROL_VERSION {
            return Err(ControlError::Version {
                found: version,
                offset,
            });
        }
        let offset = r.offset();
        let message = match r.uint()? {
            KIND_RECON => Self::Recon(decode_items(&mut r, limits)?),
            KIND_PREDICTABILITIES => Self::Predictabilities(decode_entries(&mut r, limits)?),
            kind => return Err(ControlError::UnknownKind { kind, offset }),
        };
        if !r.is_empty() {
            return Err(ControlError::TrailingBytes {
                count: r.remaining(),
                offset: r.offset(),
            });
        }
        Ok(message)
    }
}

fn encode_item(out: &mut Vec<u8>, item: &ReconItem) {
    let (len, kind) = match &item.body {
        ReconBody::Skip => (2, ITEM_SKIP),
        ReconBody::Fingerprint { .. } => (4, ITEM_FINGERPRINT),
        ReconBody::Ids { reply: true, .. } => (3, ITEM_IDS_REPLY),
        ReconBody::Ids { reply: false, .. } => (3, ITEM_IDS),
        ReconBody::Want { .. } => (3, ITEM_WANT),
    };
    cbor::write_array(out, len);
    cbor::write_uint(out, kind);
    encode_bound(out, item.upper);
    match &item.body {
        ReconBody::Skip => {}
        ReconBody::Fingerprint { fingerprint, count } => {
            cbor::write_uint(out, *fingerprint);
            cbor::write_uint(out, *count);
        }
        ReconBody::Ids { ids, .. } | ReconBody::Want { ids } => {
            cbor::write_header(out, 2, (ids.len() * 8) as u64);
            for id in ids {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// A bound as its big-endian bytes without trailing zero bytes: a bound chosen between two
/// digests usually has many low zero bits, so it costs 1–3 bytes instead of 8.
fn encode_bound(out: &mut Vec<u8>, bound: u64) {
    let bytes = bound.to_be_bytes();
    let len = 8 - (bound.trailing_zeros() / 8).min(8) as usize;
    cbor::write_bytes(out, &bytes[..len]);
}

fn decode_bound(r: &mut Reader<'_>) -> Result<u64, ControlError> {
    let offset = r.offset();
    let (raw, _) = r.bytes_ref()?;
    if raw.len() > 8 {
        return Err(ControlError::BadBound {
            reason: "longer than 8 bytes",
            offset,
        });
    }
    if raw.last() == Some(&0) {
        return Err(ControlError::BadBound {
            reason: "ends in a zero byte (not canonical)",
            offset,
        });
    }
    let mut buf = [0u8; 8];
    buf[..raw.len()].copy_from_slice(raw);
    let bound = u64::from_be_bytes(buf);
    if bound > DIGEST_END {
        return Err(ControlError::BadBound {
            reason: "beyond the end of the digest space (2^63)",
            offset,
        });
    }
    Ok(bound)
}

fn decode_items(
    r: &mut Reader<'_>,
    limits: &ControlLimits,
) -> Result<Vec<ReconItem>, ControlError> {
    let offset = r.offset();
    let n = r.array_of("reconciliation items", 0..=u64::MAX)?;
    if n > limits.max_items as u64 {
        return Err(ControlError::TooMany {
            what: "reconciliation items",
            count: n,
            max: limits.max_items,
            offset,
        });
    }
    // Each item takes at least 3 bytes, so `n` is also bounded by the message length.
    let mut items = Vec::with_capacity((n as usize).min(r.remaining() / 3));
    let mut lower = 0u64;
    let mut ids_total = 0usize;
    for _ in 0..n {
        let start = r.offset();
        let len = r.array_of("reconciliation item", 2..=4)?;
        let kind_at = r.offset();
        let kind = r.uint()?;
        let want_len = match kind {
            ITEM_SKIP => 2,
            ITEM_FINGERPRINT => 4,
            ITEM_IDS_REPLY | ITEM_IDS | ITEM_WANT => 3,
            kind => {
                return Err(ControlError::UnknownItem {
                    kind,
                    offset: kind_at,
                });
            }
        };
        if len != want_len {
            return Err(ControlError::Cbor(DecodeError::new(
                crate::wire::DecodeErrorKind::WrongArrayLength {
                    what: "reconciliation item of this kind",
                    found: len,
                    min: want_len,
                    max: want_len,
                },
                start,
            )));
        }
        let bound_at = r.offset();
        let upper = decode_bound(r)?;
        if upper <= lower {
            return Err(ControlError::BadBound {
                reason: "not above the previous bound",
                offset: bound_at,
            });
        }
        let body = match kind {
            ITEM_SKIP => ReconBody::Skip,
            ITEM_FINGERPRINT => ReconBody::Fingerprint {
                fingerprint: r.uint()?,
                count: r.uint()?,
            },
            _ => {
                let ids = decode_ids(r, lower, upper, limits.max_ids.saturating_sub(ids_total))?;
                ids_total += ids.len();
                if kind == ITEM_WANT {
                    ReconBody::Want { ids }
                } else {
                    ReconBody::Ids {
                        ids,
                        reply: kind == ITEM_IDS_REPLY,
                    }
                }
            }
        };
        items.push(ReconItem { upper, body });
        lower = upper;
    }
    Ok(items)
}

/// Digests packed 8 bytes each, strictly ascending, all in `[lower, upper)`, at most `room`.
fn decode_ids(
    r: &mut Reader<'_>,
    lower: u64,
    upper: u64,
    room: usize,
) -> Result<Vec<u64>, ControlError> {
    let (raw, offset) = r.bytes_ref()?;
    if raw.len() % 8 != 0 {
        return Err(ControlError::BadIds {
            reason: "length is not a multiple of 8",
            offset,
        });
    }
    let count = raw.len() / 8;
    if count > room {
        return Err(ControlError::TooMany {
            what: "ids in the message",
            count: count as u64,
            max: room,
            offset,
        });
    }
    let mut ids = Vec::with_capacity(count);
    let mut previous: Option<u64> = None;
    for chunk in raw.chunks_exact(8) {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(chunk);
        let id = u64::from_be_bytes(buf);
        if id < lower || id >= upper {
            return Err(ControlError::BadIds {
                reason: "an id lies outside its range",
                offset,
            });
        }
        if previous.is_some_and(|p| p >= id) {
            return Err(ControlError::BadIds {
                reason: "ids are not strictly ascending",
                offset,
            });
        }
        previous = Some(id);
        ids.push(id);
    }
    Ok(ids)
}

fn decode_entries(
    r: &mut Reader<'_>,
    limits: &ControlLimits,
) -> Result<Vec<(Eid, u16)>, ControlError> {
    let offset = r.offset();
    let n = r.array_of("predictabilities", 0..=u64::MAX)?;
    if n > limits.max_entries as u64 {
        return Err(ControlError::TooMany {
            what: "predictability entries",
            count: n,
            max: limits.max_entries,
            offset,
        });
    }
    let mut entries: Vec<(Eid, u16)> = Vec::with_capacity((n as usize).min(r.remaining() / 3));
    for _ in 0..n {
        let offset = r.offset();
        r.array_of("predictability entry", 2..=2)?;
        let text = r.text(limits.max_eid_len)?;
        let eid = Eid::parse_with_limit(text, limits.max_eid_len).map_err(|e| {
            ControlError::BadEntry {
                reason: format!("node ID: {e}"),
                offset,
            }
        })?;
        // One spelling per node ID, so that a message re-encodes to its own bytes.
        if eid.to_string() != text {
            return Err(ControlError::BadEntry {
                reason: format!("node ID '{text}' is not in canonical form ('{eid}')"),
                offset,
            });
        }
        let p_at = r.offset();
        let p = r.uint()?;
        let p = u16::try_from(p).map_err(|_| ControlError::BadEntry {
            reason: format!("predictability {p} exceeds {PREDICTABILITY_SCALE}"),
            offset: p_at,
        })?;
        if entries.last().is_some_and(|(last, _)| *last >= eid) {
            return Err(ControlError::BadEntry {
                reason: "node IDs are not strictly ascending".into(),
                offset,
            });
        }
        entries.push((eid, p));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: &ControlMessage) -> ControlMessage {
        let bytes = Bytes::from(m.encode());
        ControlMessage::decode(&bytes, &ControlLimits::default()).unwrap()
    }

    fn item(upper: u64, body: ReconBody) -> ReconItem {
        ReconItem { upper, body }
    }

    #[test]
    fn reconciliation_message_round_trips() {
        let m = ControlMessage::Recon(vec![
            item(1 << 40, ReconBody::Skip),
            item(
                1 << 50,
                ReconBody::Fingerprint {
                    fingerprint: 0xdead_beef_0123_4567,
                    count: 300,
                },
            ),
            item(
                (1 << 50) + 100,
                ReconBody::Ids {
                    ids: vec![1 << 50, (1 << 50) + 7],
                    reply: true,
                },
            ),
            item(
                (1 << 51) + 1,
                ReconBody::Ids {
                    ids: vec![],
                    reply: false,
                },
            ),
            item(DIGEST_END, ReconBody::Want { ids: vec![1 << 62] }),
        ]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn predictabilities_round_trip() {
        let m = ControlMessage::Predictabilities(vec![
            ("dtn://a/".parse().unwrap(), 0),
            ("dtn://b/".parse().unwrap(), 65535),
            ("ipn:7.0".parse().unwrap(), 32768),
        ]);
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn bounds_with_low_zero_bits_take_few_bytes() {
        let mut out = Vec::new();
        encode_bound(&mut out, DIGEST_END);
        assert_eq!(out, [0x41, 0x80]);
        out.clear();
        encode_bound(&mut out, 0x1234 << 48);
        assert_eq!(out, [0x42, 0x12, 0x34]);
    }

    #[test]
    fn another_version_is_refused_with_its_offset() {
        let bytes = Bytes::from_static(&[0x83, 0x02, 0x00, 0x80]);
        let err = ControlMessage::decode(&bytes, &ControlLimits::default()).unwrap_err();
        assert_eq!(
            err,
            ControlError::Version {
                found: 2,
                offset: 1
            }
        );
    }

    #[test]
    fn bounds_must_ascend() {
        let m = ControlMessage::Recon(vec![
            item(1 << 40, ReconBody::Skip),
            item(1 << 30, ReconBody::Skip),
        ]);
        let err = ControlMessage::decode(&Bytes::from(m.encode()), &ControlLimits::default())
            .unwrap_err();
        assert!(matches!(
            err,
            ControlError::BadBound {
                reason: "not above the previous bound",
                ..
            }
        ));
    }

    #[test]
    fn a_bound_past_the_end_is_refused() {
        // [1, 0, [[0, h'8001']]]
        let bytes = Bytes::from_static(&[0x83, 0x01, 0x00, 0x81, 0x82, 0x00, 0x42, 0x80, 0x01]);
        let err = ControlMessage::decode(&bytes, &ControlLimits::default()).unwrap_err();
        assert!(matches!(err, ControlError::BadBound { offset: 6, .. }));
    }

    #[test]
    fn ids_outside_their_range_are_refused() {
        let m = ControlMessage::Recon(vec![item(1 << 40, ReconBody::Want { ids: vec![1 << 41] })]);
        let err = ControlMessage::decode(&Bytes::from(m.encode()), &ControlLimits::default())
            .unwrap_err();
        assert!(matches!(
            err,
            ControlError::BadIds {
                reason: "an id lies outside its range",
                ..
            }
        ));
    }

    #[test]
    fn too_many_items_are_refused_before_reading_them() {
        // An array announcing 2^32 items in a 9-byte message.
        let bytes = Bytes::from_static(&[0x83, 0x01, 0x00, 0x9a, 0xff, 0xff, 0xff, 0xff]);
        let err = ControlMessage::decode(&bytes, &ControlLimits::default()).unwrap_err();
        assert_eq!(
            err,
            ControlError::TooMany {
                what: "reconciliation items",
                count: 0xffff_ffff,
                max: 4096,
                offset: 3
            }
        );
    }

    #[test]
    fn too_many_ids_over_all_items_are_refused() {
        let limits = ControlLimits {
            max_ids: 3,
            ..ControlLimits::default()
        };
        let m = ControlMessage::Recon(vec![
            item(
                100,
                ReconBody::Ids {
                    ids: vec![1, 2],
                    reply: true,
                },
            ),
            item(
                200,
                ReconBody::Want {
                    ids: vec![150, 160],
                },
            ),
        ]);
        let err = ControlMessage::decode(&Bytes::from(m.encode()), &limits).unwrap_err();
        assert!(matches!(
            err,
            ControlError::TooMany {
                what: "ids in the message",
                count: 2,
                max: 1,
                ..
            }
        ));
    }

    #[test]
    fn an_oversized_message_is_refused_unread() {
        let limits = ControlLimits {
            max_message_len: 4,
            ..ControlLimits::default()
        };
        let bytes = Bytes::from(vec![0u8; 5]);
        assert_eq!(
            ControlMessage::decode(&bytes, &limits).unwrap_err(),
            ControlError::TooLong { len: 5, max: 4 }
        );
    }

    #[test]
    fn unsorted_predictabilities_are_refused() {
        let m = ControlMessage::Predictabilities(vec![
            ("dtn://b/".parse().unwrap(), 1),
            ("dtn://a/".parse().unwrap(), 2),
        ]);
        let err = ControlMessage::decode(&Bytes::from(m.encode()), &ControlLimits::default())
            .unwrap_err();
        assert!(matches!(err, ControlError::BadEntry { .. }));
    }

    #[test]
    fn a_node_id_in_another_spelling_is_refused() {
        // Found by the control_decode fuzz target: "Dtn://b/" parses, but displays as "dtn://b/".
        let bytes = Bytes::from_static(&[
            0x83, 0x01, 0x01, 0x81, 0x82, 0x68, b'D', b't', b'n', b':', b'/', b'/', b'b', b'/',
            0x18, 0x64,
        ]);
        let err = ControlMessage::decode(&bytes, &ControlLimits::default()).unwrap_err();
        assert!(
            matches!(err, ControlError::BadEntry { offset: 4, .. }),
            "{err}"
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let m = ControlMessage::Recon(vec![item(
            DIGEST_END,
            ReconBody::Fingerprint {
                fingerprint: 5,
                count: 1,
            },
        )]);
        let full = m.encode();
        for len in 0..full.len() {
            let part = Bytes::copy_from_slice(&full[..len]);
            assert!(ControlMessage::decode(&part, &ControlLimits::default()).is_err());
        }
    }
}
