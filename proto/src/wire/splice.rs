//! Forwarding a stored bundle without copying its payload.
//!
//! On the way out a forwarding node changes a few small blocks of a bundle: previous node,
//! bundle age, hop count (RFC 9171 §4.4, §5.4) and, for spray-and-wait, the copies block.
//! Decoding the stored bundle, editing it and encoding it again reads the payload twice (its
//! CRC on decode and again on encode) and copies it once, for every transmission. [`splice`]
//! makes the same edit but keeps the stored payload block as it is: the forwarded bundle comes
//! back as two [`Bytes`] chunks, the re-encoded head (array start, primary block and extension
//! blocks) and a zero-copy slice of the stored bundle's tail (the payload block, which is last,
//! and the closing break). Their concatenation is byte for byte what decode → edit → encode
//! gives.
//!
//! # When the slice is exact
//!
//! Encoding writes every block head in shortest form and recomputes the block's CRC. So the
//! stored payload block is exactly what encoding would write when its head is in shortest form
//! (which decoding demands too, and which is checked here again so the splice does not rest on
//! that rule) and its CRC (RFC 9171 §4.2.1) is right. The payload CRC is not checked again: the
//! stores keep bundles as they were received and verified, and checking it is the cost this
//! module saves. (Were the stored bytes corrupted, decode → edit → encode would refuse to send
//! the bundle, while a splice sends it with its wrong CRC and the next hop refuses it.) The
//! primary and extension blocks are decoded and checked in full.
//!
//! Anything the fast path does not handle — a longer head, input it cannot walk, an edit that
//! touches the payload block — goes through decode → edit → encode instead, so the result (and
//! any error) is always today's.

use bytes::Bytes;

use super::PrimaryBlock;
use super::bundle::DecodeLimits;
use super::cbor::{self, Reader};
use super::{BlockBody, BlockFlags, BlockType, Bundle, CanonicalBlock, CrcType, DecodeError};

/// A forwarded bundle as chunks: concatenated in order they are its encoding.
///
/// Why chunks: the payload chunk is a slice of the stored bytes, so a link that can write
/// several buffers (TCPCL segments, vectored writes) sends a bundle of any size without copying
/// it. [`Self::to_bytes`] joins them for a link that needs one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spliced {
    chunks: Vec<Bytes>,
}

impl Spliced {
    /// The chunks, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The chunks, in order, owned.
    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }

    /// Encoded length of the whole bundle.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    /// True if there is nothing to send (never, for a spliced bundle).
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(Bytes::is_empty)
    }

    /// The whole encoding in one buffer: the only chunk as is, or the chunks joined (one copy).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [one] => one.clone(),
            chunks => {
                let mut joined = Vec::with_capacity(self.len());
                for chunk in chunks {
                    joined.extend_from_slice(chunk);
                }
                Bytes::from(joined)
            }
        }
    }
}

/// `stored`, decoded under `limits`, edited by `edit` and encoded again — without copying or
/// re-reading the payload where that gives the same bytes (see the module doc).
///
/// `edit` first sees the bundle with an empty payload in place of the stored one: it may
/// change, add or remove extension blocks (as [`crate::node::Rewrite::apply`] does). If it
/// touches the payload block, the bundle is decoded in full and `edit` runs again on that (so
/// it must give the same result whenever it runs: a function of the bundle). Errors are those
/// of [`Bundle::decode_with`].
pub fn splice(
    stored: &Bytes,
    limits: &DecodeLimits,
    edit: impl Fn(&mut Bundle),
) -> Result<Spliced, DecodeError> {
    if let Some(spliced) = fast(stored, limits, &edit) {
        return Ok(spliced);
    }
    let mut bundle = Bundle::decode_with(stored.clone(), limits)?;
    edit(&mut bundle);
    Ok(Spliced {
        chunks: vec![Bytes::from(bundle.encode())],
    })
}

/// The stored payload block, found by [`payload_block`].
struct StoredPayload {
    /// The block with an empty payload, standing in for it during the edit.
    stand_in: CanonicalBlock,
    /// Where the block (head, data, CRC) starts in the stored bytes; the break follows it.
    start: usize,
}

/// The splice, or `None` for the full path.
fn fast(stored: &Bytes, limits: &DecodeLimits, edit: &impl Fn(&mut Bundle)) -> Option<Spliced> {
    if stored.len() > limits.max_bundle_size {
        return None;
    }
    let mut r = Reader::new(stored);
    // RFC 9171 §4.1: an indefinite-length array of blocks.
    if r.peek() != Some(0x9f) {
        return None;
    }
    r.skip(1);
    let primary = PrimaryBlock::decode(&mut r, limits.max_eid_len).ok()?;
    let mut blocks: Vec<CanonicalBlock> = Vec::with_capacity(4);
    let mut payload = None;
    while !r.at_break() {
        // The payload block must be last (RFC 9171 §4.1); and no more blocks than decode takes.
        if payload.is_some() || blocks.len() + 2 > limits.max_blocks {
            return None;
        }
        if next_is_payload(&r) {
            payload = Some(payload_block(&mut r)?);
        } else {
            let index = blocks.len() + 1;
            blocks.push(CanonicalBlock::decode(&mut r, limits.max_eid_len, index).ok()?);
        }
    }
    if !r.is_empty() {
        return None;
    }
    let payload = payload?;
    blocks.push(payload.stand_in.clone());
    let mut bundle = Bundle::from_parts(primary, blocks).ok()?;
    edit(&mut bundle);
    let (last, head_blocks) = bundle.blocks().split_last()?;
    if *last != payload.stand_in {
        return None;
    }
    let head_len = bundle
        .size_hint()
        .saturating_sub(payload.stand_in.max_encoded_len());
    let mut head = Vec::with_capacity(head_len);
    head.push(0x9f);
    bundle.primary().encode(&mut head);
    for block in head_blocks {
        block.encode(&mut head);
    }
    Some(Spliced {
        // The payload block is last, and only the break follows it (checked above).
        chunks: vec![Bytes::from(head), stored.slice(payload.start..)],
    })
}

/// Whether the block at the cursor is a payload block (its type, the array's second item, is 1).
fn next_is_payload(r: &Reader<'_>) -> bool {
    let mut peek = r.window(r.remaining());
    peek.array_of("canonical block", 5..=6).is_ok()
        && peek.uint().ok() == Some(BlockType::PAYLOAD.0)
}

/// Walks the payload block at the cursor without reading its data: `None` unless its head is
/// in the shortest form encoding would write (RFC 9171 §4.3.2 layout) and its CRC item is well
/// formed.
fn payload_block(r: &mut Reader<'_>) -> Option<StoredPayload> {
    let start = r.position();
    let items = r.array_of("canonical block", 5..=6).ok()?;
    let block_type = r.uint().ok()?;
    let number = r.uint().ok()?;
    let flags = BlockFlags::from_bits_retain(r.uint().ok()?);
    let crc = CrcType::from_code(r.uint().ok()?).ok()?;
    let expected_items = if crc == CrcType::None { 5 } else { 6 };
    if items != expected_items || number == 0 || block_type != BlockType::PAYLOAD.0 {
        return None;
    }
    let len = r.byte_string_len().ok()?;
    let data_start = r.position();
    let mut shortest = Vec::with_capacity(2 + 4 * cbor::MAX_HEADER_LEN);
    shortest.push(0x80 | expected_items as u8);
    cbor::write_uint(&mut shortest, block_type);
    cbor::write_uint(&mut shortest, number);
    cbor::write_uint(&mut shortest, flags.bits());
    cbor::write_uint(&mut shortest, crc.code());
    cbor::write_header(&mut shortest, 2, len as u64);
    if r.raw(start, data_start) != shortest.as_slice() {
        return None;
    }
    r.skip(len);
    // The CRC value's header is one byte: its length, 2 or 4, is below 24.
    let crc_item = match crc {
        CrcType::None => 0,
        CrcType::Crc16 => 3,
        CrcType::Crc32c => 5,
    };
    match (crc, r.rest()) {
        (CrcType::None, _) | (CrcType::Crc16, [0x42, _, _, ..]) => {}
        (CrcType::Crc32c, [0x44, _, _, _, _, ..]) => {}
        _ => return None,
    }
    r.skip(crc_item);
    let stand_in = CanonicalBlock {
        number,
        flags,
        crc,
        body: BlockBody::Payload(Bytes::new()),
    };
    Some(StoredPayload { stand_in, start })
}

#[cfg(test)]
mod tests;
