//! The copies block: a tern-private extension block carrying how many copies of a bundle the
//! receiving node holds, for copy-counting strategies (binary spray-and-wait).
//!
//! # Wire format
//! - Block type code **193** (RFC 9171 §9.1 private/experimental range). [`COPIES_BLOCK_TYPE`].
//! - Block-type-specific data: one CBOR unsigned integer (shortest form), the number of copies
//!   handed to the receiver, in `1..=2^32-1`. Zero, larger counts, another CBOR type or trailing
//!   bytes are errors.
//! - The sender rewrites it on every transfer (the count is per hop, not end to end). It is
//!   flagged "discard block if it can't be processed" (RFC 9171 §4.2.4): a node that does not
//!   count copies drops it rather than pass a stale count on.
//! - A bundle without the block is, for a spraying receiver, a single copy (wait phase).

use bytes::Bytes;

use super::block::{BlockBody, BlockType, CanonicalBlock};
use super::bundle::Bundle;
use super::cbor::{self, Reader};
use super::error::{DecodeError, DecodeErrorKind};
use super::flags::BlockFlags;

/// Block type code of the copies block (private use, RFC 9171 §9.1).
pub const COPIES_BLOCK_TYPE: BlockType = BlockType(193);

/// The block-type-specific data for `copies` copies.
pub fn encode_copies(copies: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    cbor::write_uint(&mut out, u64::from(copies));
    out
}

/// Decodes block-type-specific data. Offsets in errors count from the start of `data`.
pub fn decode_copies(data: &Bytes) -> Result<u32, CopiesError> {
    let mut r = Reader::new(data);
    let at = r.offset();
    let count = r.uint().map_err(CopiesError::Malformed)?;
    if !r.is_empty() {
        return Err(CopiesError::Malformed(
            r.error(DecodeErrorKind::TrailingBytes(r.remaining())),
        ));
    }
    match u32::try_from(count) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(CopiesError::OutOfRange { count, offset: at }),
    }
}

/// The copy count `bundle` carries, `None` without a copies block.
pub fn copies_of(bundle: &Bundle) -> Result<Option<u32>, CopiesError> {
    match bundle.block(COPIES_BLOCK_TYPE).map(|b| &b.body) {
        Some(BlockBody::Other { data, .. }) => decode_copies(data).map(Some),
        _ => Ok(None),
    }
}

/// Sets (or adds, before the payload block) the copies block of `bundle`. Used on the way out,
/// by [`crate::node::Rewrite::apply`].
pub fn set_copies(bundle: &mut Bundle, copies: u32) {
    let body = BlockBody::Other {
        block_type: COPIES_BLOCK_TYPE.0,
        data: Bytes::from(encode_copies(copies)),
    };
    let mut blocks = bundle.blocks().to_vec();
    if let Some(b) = blocks
        .iter_mut()
        .find(|b| b.block_type() == COPIES_BLOCK_TYPE)
    {
        b.body = body;
    } else {
        let mut block =
            CanonicalBlock::new(bundle.unused_block_number(), bundle.primary().crc, body);
        block.flags = BlockFlags::DISCARD_IF_UNPROCESSABLE;
        let at = blocks.len().saturating_sub(1);
        blocks.insert(at, block);
    }
    // Replacing one extension block's data keeps every rule `with_blocks` checks; should it
    // ever fail, the bundle goes out unchanged and the receiver counts one copy.
    if let Ok(b) = bundle.with_blocks(blocks) {
        *bundle = b;
    }
}

/// A copies block's data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CopiesError {
    /// Not exactly one CBOR unsigned integer.
    #[error("copies block data {0}")]
    Malformed(DecodeError),
    /// Zero copies, or more than fit 32 bits.
    #[error("copies block data at byte {offset}: copy count {count} is outside 1..=4294967295")]
    OutOfRange {
        /// The count found.
        count: u64,
        /// Where, from the start of the block's data.
        offset: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{BundleBuilder, CreationTimestamp, DtnTime};

    fn bundle() -> Bundle {
        BundleBuilder::new(
            "dtn://a/".parse().unwrap(),
            "dtn://b/x".parse().unwrap(),
            CreationTimestamp::new(DtnTime(1), 0),
            1000,
        )
        .payload(&b"x"[..])
        .build()
        .unwrap()
    }

    #[test]
    fn a_count_round_trips() {
        for n in [1, 23, 24, 65_536, u32::MAX] {
            assert_eq!(decode_copies(&Bytes::from(encode_copies(n))), Ok(n));
        }
    }

    #[test]
    fn zero_and_oversized_counts_are_refused() {
        let e = decode_copies(&Bytes::from_static(&[0x00])).unwrap_err();
        assert_eq!(
            e,
            CopiesError::OutOfRange {
                count: 0,
                offset: 0
            }
        );
        let big = Bytes::from_static(&[0x1b, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert!(matches!(
            decode_copies(&big),
            Err(CopiesError::OutOfRange {
                count: 0x1_0000_0000,
                ..
            })
        ));
        assert!(matches!(
            decode_copies(&Bytes::from_static(&[0x02, 0x02])),
            Err(CopiesError::Malformed(_))
        ));
    }

    #[test]
    fn setting_the_count_adds_the_block_once_and_then_rewrites_it() {
        let mut b = bundle();
        set_copies(&mut b, 4);
        set_copies(&mut b, 2);
        let back = Bundle::decode(Bytes::from(b.encode())).unwrap();
        assert_eq!(copies_of(&back), Ok(Some(2)));
        let blocks = back
            .blocks()
            .iter()
            .filter(|b| b.block_type() == COPIES_BLOCK_TYPE);
        assert_eq!(blocks.count(), 1);
        assert!(back.payload_block().is_some_and(|p| p.number == 1));
    }

    #[test]
    fn a_bundle_without_the_block_carries_no_count() {
        assert_eq!(copies_of(&bundle()), Ok(None));
    }
}
