//! Canonical blocks (RFC 9171 §4.3.2) and the extension blocks tern understands (§4.4).
//!
//! Blocks of types tern does not know are kept with their block-type-specific data byte-exact, so
//! a forwarded bundle carries them on unchanged; their processing flags are honoured by
//! [`super::Bundle::apply_unknown_block_policy`].

use bytes::Bytes;

use super::cbor::{self, Reader};
use super::crc::CrcType;
use super::eid::Eid;
use super::error::{DecodeError, DecodeErrorKind, Location};
use super::flags::BlockFlags;

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
        let start = out.len();
        let items = if self.crc == CrcType::None { 5 } else { 6 };
        cbor::write_array(out, items);
        cbor::write_uint(out, self.block_type().0);
        cbor::write_uint(out, self.number);
        cbor::write_uint(out, self.flags.bits());
        cbor::write_uint(out, self.crc.code());
        match &self.body {
            BlockBody::Payload(data) | BlockBody::Other { data, .. } => {
                cbor::write_bytes(out, data);
            }
            BlockBody::PreviousNode(eid) => {
                cbor::write_header(out, 2, eid.encoded_len() as u64);
                eid.encode(out);
            }
            BlockBody::BundleAge(ms) => {
                cbor::write_header(out, 2, cbor::header_len(*ms) as u64);
                cbor::write_uint(out, *ms);
            }
            BlockBody::HopCount(h) => {
                let len = 1 + cbor::header_len(h.limit) + cbor::header_len(h.count);
                cbor::write_header(out, 2, len as u64);
                cbor::write_array(out, 2);
                cbor::write_uint(out, h.limit);
                cbor::write_uint(out, h.count);
            }
        }
        append_crc(out, start, self.crc);
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
        let data_at = r.offset();
        let data = r.bytes().map_err(located)?;
        // Offset of the byte string's content: its header is 1–9 bytes before the data.
        let content_at = data_at + cbor::header_len(data.len() as u64);
        let body = decode_body(block_type, data, content_at, max_eid_len).map_err(located)?;
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

fn decode_body(
    block_type: u64,
    data: Bytes,
    at: usize,
    max_eid_len: usize,
) -> Result<BlockBody, DecodeError> {
    let body = match BlockType(block_type) {
        BlockType::PAYLOAD => return Ok(BlockBody::Payload(data)),
        BlockType::PREVIOUS_NODE => {
            let mut r = Reader::nested(&data, at);
            let eid = Eid::decode(&mut r, max_eid_len)?;
            finish(&r)?;
            BlockBody::PreviousNode(eid)
        }
        BlockType::BUNDLE_AGE => {
            let mut r = Reader::nested(&data, at);
            let age = r.uint()?;
            finish(&r)?;
            BlockBody::BundleAge(age)
        }
        BlockType::HOP_COUNT => {
            let mut r = Reader::nested(&data, at);
            r.array_of("hop count", 2..=2)?;
            let limit = r.uint()?;
            let count = r.uint()?;
            finish(&r)?;
            BlockBody::HopCount(HopCount { limit, count })
        }
        _ => BlockBody::Other { block_type, data },
    };
    Ok(body)
}

fn finish(r: &Reader<'_>) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(r.error(DecodeErrorKind::TrailingBytes(r.remaining())))
    }
}

/// Appends the CRC item of a block whose encoding started at `start`, and fills in its value.
pub(crate) fn append_crc(out: &mut Vec<u8>, start: usize, crc: CrcType) {
    if crc == CrcType::None {
        return;
    }
    let len = crc.value_len();
    cbor::write_header(out, 2, len as u64);
    let value = crc.compute(&out[start..]);
    let at = out.len();
    out.resize(at + len, 0);
    crc.write_value(value, &mut out[at..]);
}

/// Reads the CRC item of a block that started at `start` and checks it.
pub(crate) fn verify_crc(
    r: &mut Reader<'_>,
    start: usize,
    crc: CrcType,
) -> Result<(), DecodeError> {
    if crc == CrcType::None {
        return Ok(());
    }
    let at = r.offset();
    let (carried, _) = r.bytes_ref()?;
    let carried_value = crc
        .read_value(carried)
        .map_err(|k| DecodeError::new(k, at))?;
    // The CRC value's header is one byte (2 and 4 are below 24); the CRC covers everything up
    // to the value, then the value's length in zeros.
    let value_start = r.position() - carried.len();
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
