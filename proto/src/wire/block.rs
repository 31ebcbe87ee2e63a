//! Canonical blocks (RFC 9171 §4.3.2) and the extension blocks tern understands (§4.4).
//!
//! Blocks of types tern does not know are kept with their block-type-specific data byte-exact, so
//! a forwarded bundle carries them on unchanged; their processing flags are honoured by
//! [`super::Bundle::apply_unknown_block_policy`].

use bytes::Bytes;

use super::cbor::{self, Reader, SliceWriter};
use super::crc::CrcType;
use super::eid::Eid;
use super::error::{DecodeError, DecodeErrorKind, Location};
use super::flags::BlockFlags;

/// Block data longer than this is appended to the output directly rather than written through
/// the zero-filled buffer of [`cbor::append_bounded`]: filling a large payload's room with zeros
/// first would write it twice.
pub(crate) const LARGE_DATA: usize = 1024;

/// A block type code (RFC 9171 §9.1 registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockType(pub u64);

impl BlockType {
    /// The payload block; always block number 1, always last.
    pub const PAYLOAD: Self = Self(1);
    /// Previous node (§4.4.1).
    pub const PREVIOUS_NODE: Self = Self(6);
    /// Bundle age (§4.4.2).
    pub const BUNDLE_AGE: Self = Self(7);
    /// Hop count (§4.4.3).
    pub const HOP_COUNT: Self = Self(10);
    /// Block integrity block (RFC 9172).
    pub const BLOCK_INTEGRITY: Self = Self(11);
    /// Block confidentiality block (RFC 9172).
    pub const BLOCK_CONFIDENTIALITY: Self = Self(12);

    /// A readable name for known types.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "payload",
            6 => "previous node",
            7 => "bundle age",
            10 => "hop count",
            11 => "block integrity",
            12 => "block confidentiality",
            _ => return None,
        })
    }
}

/// The hop limit and the hops taken so far (RFC 9171 §4.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HopCount {
    /// Most hops the bundle may take (1..=255).
    pub limit: u64,
    /// Hops taken so far.
    pub count: u64,
}

impl HopCount {
    /// True once the bundle has used up its hops and must be deleted.
    pub fn exceeded(self) -> bool {
        self.count > self.limit
    }
}

/// What a canonical block carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockBody {
    /// Application data unit (or a fragment of it). Zero-copy slice of the received bytes.
    Payload(Bytes),
    /// Node ID of the node that forwarded the bundle to us.
    PreviousNode(Eid),
    /// Milliseconds elapsed since creation, accumulated hop by hop.
    BundleAge(u64),
    /// Hop limit and count.
    HopCount(HopCount),
    /// A block type tern does not interpret; its data is kept byte-exact.
    Other {
        /// Its type code.
        block_type: u64,
        /// Its block-type-specific data, as received.
        data: Bytes,
    },
}

impl BlockBody {
    /// The block type code.
    pub fn block_type(&self) -> BlockType {
        match self {
            Self::Payload(_) => BlockType::PAYLOAD,
            Self::PreviousNode(_) => BlockType::PREVIOUS_NODE,
            Self::BundleAge(_) => BlockType::BUNDLE_AGE,
            Self::HopCount(_) => BlockType::HOP_COUNT,
            Self::Other { block_type, .. } => BlockType(*block_type),
        }
    }
}

/// One canonical block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalBlock {
    /// Unique within the bundle; 1 for the payload block, 0 is the primary block's.
    pub number: u64,
    /// Block processing control flags.
    pub flags: BlockFlags,
    /// CRC type.
    pub crc: CrcType,
    /// Type and content.
    pub body: BlockBody,
}

impl CanonicalBlock {
    /// A block with the given number, no flags and the given CRC type.
    pub fn new(number: u64, crc: CrcType, body: BlockBody) -> Self {
        Self {
            number,
            flags: BlockFlags::empty(),
            crc,
            body,
        }
    }

    /// The block type code.
    pub fn block_type(&self) -> BlockType {
        self.body.block_type()
    }

    /// Appends the block's encoding with its CRC.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        cbor::append_bounded(out, self.max_encoded_len(), |w| self.write(w));
    }

    /// An upper bound of the encoded size that counts every integer at its longest (9 bytes).
    #[inline(always)]
    pub(crate) fn max_encoded_len(&self) -> usize {
        let data = match &self.body {
            BlockBody::Payload(data) | BlockBody::Other { data, .. } => data.len(),
            BlockBody::PreviousNode(eid) => eid.max_encoded_len(),
            BlockBody::BundleAge(_) => cbor::MAX_HEADER_LEN,
            BlockBody::HopCount(_) => 1 + 2 * cbor::MAX_HEADER_LEN,
        };
        // Array header and CRC type (one byte each); type, number, flags and the data's header
        // (up to 9 each); the CRC item (at most 5).
        2 + 4 * cbor::MAX_HEADER_LEN + data + 5
    }

    /// The block's data if it is a byte string long enough to be appended straight to the
    /// output (see [`Self::append_large`]).
    #[inline]
    pub(crate) fn large_data(&self) -> Option<&Bytes> {
        match &self.body {
            BlockBody::Payload(data) | BlockBody::Other { data, .. } if data.len() > LARGE_DATA => {
                Some(data)
            }
            _ => None,
        }
    }

    /// Appends a block whose data is `data` (its [`Self::large_data`]) in three pieces: the
    /// head through a bounded buffer, the data copied once straight into `out` (zero-filling
    /// its room first would write a large payload twice), then the CRC item.
    pub(crate) fn append_large(&self, out: &mut Vec<u8>, data: &[u8]) {
        let start = out.len();
        cbor::append_bounded(out, 2 + 4 * cbor::MAX_HEADER_LEN, |w| {
            self.write_head(w);
            w.header(2, data.len() as u64);
        });
        out.extend_from_slice(data);
        match self.crc {
            CrcType::None => {}
            CrcType::Crc16 => {
                out.push(0x42);
                let value = super::crc::crc16_with_zero_field(&out[start..]);
                out.extend_from_slice(&value.to_be_bytes());
            }
            CrcType::Crc32c => {
                out.push(0x44);
                let value = self.crc.compute(&out[start..]);
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
    }

    /// Writes the block (RFC 9171 §4.3.2), CRC included.
    #[inline(always)]
    pub(crate) fn write(&self, w: &mut SliceWriter<'_>) {
        let start = w.position();
        self.write_head(w);
        match &self.body {
            BlockBody::Payload(data) | BlockBody::Other { data, .. } => w.bytes(data),
            BlockBody::PreviousNode(eid) => {
                w.header(2, eid.encoded_len() as u64);
                eid.write(w);
            }
            BlockBody::BundleAge(ms) => {
                w.header(2, cbor::header_len(*ms) as u64);
                w.uint(*ms);
            }
            BlockBody::HopCount(h) => {
                let len = 1 + cbor::header_len(h.limit) + cbor::header_len(h.count);
                w.header(2, len as u64);
                w.byte(0x82);
                w.uint(h.limit);
                w.uint(h.count);
            }
        }
        finish_crc(w, start, self.crc);
    }

    /// Writes the array header and the four integers before the data.
    #[inline(always)]
    fn write_head(&self, w: &mut SliceWriter<'_>) {
        let array = if self.crc == CrcType::None {
            0x85
        } else {
            0x86
        };
        let (block_type, number, flags) = (self.block_type().0, self.number, self.flags.bits());
        if block_type < 24 && number < 24 && flags < 24 {
            // The usual case: five one-byte items, written at once.
            w.raw(&[
                array,
                block_type as u8,
                number as u8,
                flags as u8,
                self.crc.code() as u8,
            ]);
        } else {
            w.byte(array);
            w.uint(block_type);
            w.uint(number);
            w.uint(flags);
            w.byte(self.crc.code() as u8);
        }
    }

    /// Upper bound of the encoded size, for buffer reservation.
    pub(crate) fn size_hint(&self) -> usize {
        let data = match &self.body {
            BlockBody::Payload(d) | BlockBody::Other { data: d, .. } => d.len(),
            BlockBody::PreviousNode(_) => 64,
            BlockBody::BundleAge(_) | BlockBody::HopCount(_) => 20,
        };
        data + 48
    }

    /// Decodes one canonical block, the `index`-th (from 1) of its bundle. `max_eid_len` bounds
    /// EIDs inside known blocks. Errors found once the block's type and number are read name
    /// them, so an operator sees `block #3 (type 7, bundle age) at byte 97: CRC-32C mismatch`.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        max_eid_len: usize,
        index: usize,
    ) -> Result<Self, DecodeError> {
        let start = r.position();
        let at = r.offset();
        let items = r.array_of("canonical block", 5..=6)?;
        let block_type = r.uint()?;
        let number = r.uint()?;
        let located = move |e: DecodeError| {
            e.in_location(Location::Block {
                index,
                number: Some(number),
                block_type: Some(block_type),
            })
        };
        let flags = BlockFlags::from_bits_retain(r.uint().map_err(located)?);
        let at_crc = r.offset();
        let crc = CrcType::from_code(r.uint().map_err(located)?)
            .map_err(|k| located(DecodeError::new(k, at_crc)))?;
        let expected = if crc == CrcType::None { 5 } else { 6 };
        if items != expected {
            return Err(located(DecodeError::new(
                DecodeErrorKind::WrongArrayLength {
                    what: "canonical block (given its CRC type)",
                    found: items,
                    min: expected,
                    max: expected,
                },
                at,
            )));
        }
        let len = r.byte_string_len().map_err(located)?;
        let body = decode_body(r, block_type, len, max_eid_len).map_err(located)?;
        verify_crc(r, start, crc).map_err(located)?;
        if number == 0 {
            return Err(located(DecodeError::new(
                DecodeErrorKind::Invalid("block number 0 is reserved for the primary block"),
                at,
            )));
        }
        Ok(Self {
            number,
            flags,
            crc,
            body,
        })
    }
}

/// Decodes the `len` bytes of block-type-specific data at the cursor. Payload and unknown data
/// are zero-copy slices; the known extension blocks are decoded in place, through a window that
/// ends with their byte string.
fn decode_body(
    r: &mut Reader<'_>,
    block_type: u64,
    len: usize,
    max_eid_len: usize,
) -> Result<BlockBody, DecodeError> {
    let body = match BlockType(block_type) {
        BlockType::PAYLOAD => return Ok(BlockBody::Payload(r.take(len))),
        BlockType::PREVIOUS_NODE => {
            let mut w = r.window(len);
            let eid = Eid::decode(&mut w, max_eid_len)?;
            finish(&w)?;
            BlockBody::PreviousNode(eid)
        }
        BlockType::BUNDLE_AGE => {
            let mut w = r.window(len);
            let age = w.uint()?;
            finish(&w)?;
            BlockBody::BundleAge(age)
        }
        BlockType::HOP_COUNT => {
            let mut w = r.window(len);
            w.array_of("hop count", 2..=2)?;
            let limit = w.uint()?;
            let count = w.uint()?;
            finish(&w)?;
            BlockBody::HopCount(HopCount { limit, count })
        }
        _ => {
            return Ok(BlockBody::Other {
                block_type,
                data: r.take(len),
            });
        }
    };
    r.skip(len);
    Ok(body)
}

fn finish(r: &Reader<'_>) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(r.error(DecodeErrorKind::TrailingBytes(r.remaining())))
    }
}

/// Writes the CRC item of a block whose encoding started at `start` (RFC 9171 §4.2.1): the
/// CRC covers the block with the value's bytes as zeros.
#[inline(always)]
pub(crate) fn finish_crc(w: &mut SliceWriter<'_>, start: usize, crc: CrcType) {
    match crc {
        CrcType::None => {}
        CrcType::Crc16 => {
            w.byte(0x42);
            let value = super::crc::crc16_with_zero_field(w.written_since(start));
            w.raw(&value.to_be_bytes());
        }
        CrcType::Crc32c => {
            w.byte(0x44);
            let value = crc.compute(w.written_since(start));
            w.raw(&value.to_be_bytes());
        }
    }
}

/// Reads the CRC item of a block that started at `start` and checks it.
pub(crate) fn verify_crc(
    r: &mut Reader<'_>,
    start: usize,
    crc: CrcType,
) -> Result<(), DecodeError> {
    let at = r.offset();
    // The CRC covers everything up to the value, then the value's length in zeros. The value's
    // header is one byte (2 and 4 are below 24).
    let (carried_value, value_start) = match (crc, r.rest()) {
        (CrcType::None, _) => return Ok(()),
        (CrcType::Crc16, &[0x42, a, b, ..]) => {
            r.skip(3);
            (u32::from(u16::from_be_bytes([a, b])), r.position() - 2)
        }
        (CrcType::Crc32c, &[0x44, a, b, c, d, ..]) => {
            r.skip(5);
            (u32::from_be_bytes([a, b, c, d]), r.position() - 4)
        }
        // Anything else is an error: let the general reader name it.
        _ => {
            let (carried, _) = r.bytes_ref()?;
            let value = crc
                .read_value(carried)
                .map_err(|k| DecodeError::new(k, at))?;
            (value, r.position() - carried.len())
        }
    };
    let computed = crc.compute(r.raw(start, value_start));
    if computed != carried_value {
        return Err(DecodeError::new(
            DecodeErrorKind::CrcMismatch {
                crc: crc.name(),
                carried: carried_value,
                computed,
            },
            at,
        ));
    }
    Ok(())
}
