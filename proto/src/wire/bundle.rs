//! Whole bundles (RFC 9171 §4.1): decoding with limits, encoding, and the checks that make a
//! [`Bundle`] that exists a valid one.
//!
//! Decoding takes `Bytes` and keeps payloads and unknown block data as zero-copy slices of it, so
//! decoding a 1 MiB bundle allocates no more than decoding a 100-byte one. Nothing is allocated
//! from a length field before the input is known to hold that many bytes.

use bytes::Bytes;

use super::block::{BlockBody, BlockType, CanonicalBlock, HopCount};
use super::cbor::{self, ArrayLen, Reader};
use super::eid::{DEFAULT_MAX_EID_LEN, Eid};
use super::error::{BuildError, DecodeError, DecodeErrorKind, Location};
use super::primary::{FragmentInfo, PrimaryBlock};
use super::time::CreationTimestamp;

/// Bounds on what a decoder accepts from a peer. Every limit is checked before the work or memory
/// it guards is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest encoded bundle, in bytes.
    pub max_bundle_size: usize,
    /// Most blocks (primary included).
    pub max_blocks: usize,
    /// Longest endpoint ID text, in bytes.
    pub max_eid_len: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bundle_size: 64 * 1024 * 1024,
            max_blocks: 64,
            max_eid_len: DEFAULT_MAX_EID_LEN,
        }
    }
}

/// Identifies a bundle (or one fragment of it) across the whole network (RFC 9171 §5.1 note):
/// duplicates are recognised by it.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct BundleId {
    /// Source node.
    pub source: Eid,
    /// Creation timestamp.
    pub creation: CreationTimestamp,
    /// For fragments: offset and payload length.
    pub fragment: Option<(u64, u64)>,
}

/// Encodings bounded by this many bytes are built on the stack (see [`Bundle::encode`]).
const SMALL_ENCODING: usize = 512;

/// A valid BPv7 bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    primary: PrimaryBlock,
    /// Canonical blocks in wire order; the payload block is last.
    blocks: Vec<CanonicalBlock>,
}

/// What to do with a bundle that carries blocks this node can't process (RFC 9171 §5.6 step 4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownBlockVerdict {
    /// The bundle must be deleted ("block unintelligible").
    pub delete_bundle: bool,
    /// A status report with reason "block unintelligible" is requested.
    pub report: bool,
    /// Block numbers that were removed from the bundle.
    pub removed: Vec<u64>,
}

impl Bundle {
    /// Decodes a complete bundle with the default limits.
    pub fn decode(bytes: Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, &DecodeLimits::default())
    }

    /// Decodes a complete bundle: exactly one bundle, no trailing bytes, every CRC verified.
    pub fn decode_with(bytes: Bytes, limits: &DecodeLimits) -> Result<Self, DecodeError> {
        if bytes.len() > limits.max_bundle_size {
            return Err(DecodeError::new(
                DecodeErrorKind::BundleTooLarge {
                    size: bytes.len(),
                    max: limits.max_bundle_size,
                },
                0,
            ));
        }
        let mut r = Reader::new(&bytes);
        // RFC 9171 §4.1: an indefinite-length array (0x9f) of blocks.
        if r.peek() == Some(0x9f) {
            r.skip(1);
        } else if r.array_header()? != ArrayLen::Indefinite {
            return Err(DecodeError::new(DecodeErrorKind::BundleNotIndefinite, 0));
        }
        let primary = PrimaryBlock::decode(&mut r, limits.max_eid_len)
            .map_err(|e| e.in_location(Location::Primary))?;
        // Blocks are pushed one by one as they decode: the vector grows with real input only.
        let mut blocks: Vec<CanonicalBlock> = Vec::with_capacity(4);
        loop {
            if r.at_break() {
                break;
            }
            let index = blocks.len() + 1;
            if index + 1 > limits.max_blocks {
                return Err(r.error(DecodeErrorKind::TooManyBlocks {
                    max: limits.max_blocks,
                }));
            }
            let at = r.offset();
            let block = CanonicalBlock::decode(&mut r, limits.max_eid_len, index).map_err(|e| {
                e.in_location(Location::Block {
                    index,
                    number: None,
                    block_type: None,
                })
            })?;
            let loc = Location::Block {
                index,
                number: Some(block.number),
                block_type: Some(block.block_type().0),
            };
            if r.is_empty() && !matches!(block.body, BlockBody::Payload(_)) {
                // Truncated after a complete block: say so plainly.
                return Err(r
                    .error(DecodeErrorKind::Truncated)
                    .in_location(Location::Bundle));
            }
            blocks.push(block);
            check_block_against_previous(&blocks)
                .map_err(|k| DecodeError::new(k, at).in_location(loc))?;
        }
        if !r.is_empty() {
            return Err(r.error(DecodeErrorKind::TrailingBytes(r.remaining())));
        }
        let end = r.offset();
        // Lenient on the age rule: RFC 9173's own Appendix A bundles have creation time 0 and no
        // bundle age block. The node treats such a bundle's age as starting at reception.
        check_structure(&primary, &blocks, false).map_err(|k| DecodeError::new(k, end))?;
        Ok(Self { primary, blocks })
    }

    /// Builds a bundle from checked parts. The payload block must be last.
    pub fn from_parts(
        primary: PrimaryBlock,
        blocks: Vec<CanonicalBlock>,
    ) -> Result<Self, BuildError> {
        primary.check().map_err(BuildError::Invalid)?;
        for i in 0..blocks.len() {
            check_block_against_previous(&blocks[..=i]).map_err(|k| match k {
                DecodeErrorKind::DuplicateBlockNumber(n) => BuildError::DuplicateBlockNumber(n),
                DecodeErrorKind::DuplicateBlockType(t) => BuildError::DuplicateBlockType(t),
                DecodeErrorKind::Invalid(m) => BuildError::Invalid(m),
                _ => BuildError::Invalid("invalid block"),
            })?;
        }
        check_structure(&primary, &blocks, true).map_err(|k| match k {
            DecodeErrorKind::Invalid(m) => BuildError::Invalid(m),
            _ => BuildError::Invalid("invalid bundle structure"),
        })?;
        Ok(Self { primary, blocks })
    }

    /// The encoded bundle, in one allocation (of [`Self::size_hint`] bytes).
    pub fn encode(&self) -> Vec<u8> {
        let max_len = self.size_hint();
        if max_len <= SMALL_ENCODING {
            // Written on the stack and copied out at its exact size: the bound counts every
            // integer at its longest (about twice a small bundle), and a vector with that slack
            // would hold it for as long as the bundle stays stored.
            let mut buf = [0_u8; SMALL_ENCODING];
            let mut w = cbor::SliceWriter::new(&mut buf[..max_len]);
            self.write_small(&mut w);
            let len = w.position();
            return buf[..len].to_vec();
        }
        let mut out = Vec::with_capacity(max_len);
        self.append_encoding(&mut out, max_len);
        out
    }

    fn write_small(&self, w: &mut cbor::SliceWriter<'_>) {
        w.byte(0x9f); // indefinite-length array (RFC 9171 §4.1)
        self.primary.write(w);
        for block in &self.blocks {
            block.write(w);
        }
        w.byte(0xff);
    }

    /// Appends the encoded bundle to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.append_encoding(out, self.size_hint());
    }

    /// Appends the encoding, which `max_len` bounds.
    fn append_encoding(&self, out: &mut Vec<u8>, max_len: usize) {
        if self.blocks.iter().any(|b| b.large_data().is_some()) {
            // Large data is copied once, straight into `out`: the rest goes through bounded
            // buffers block by block.
            out.reserve(max_len);
            cbor::append_bounded(out, 1 + self.primary.max_encoded_len(), |w| {
                w.byte(0x9f); // indefinite-length array (RFC 9171 §4.1)
                self.primary.write(w);
            });
            for block in &self.blocks {
                match block.large_data() {
                    Some(data) => block.append_large(out, data),
                    None => block.encode(out),
                }
            }
            out.push(0xff);
            return;
        }
        cbor::append_bounded(out, max_len, |w| self.write_small(w));
    }

    /// An upper bound of the encoded size, a little above it (integers are counted at their
    /// longest): a capacity that always fits the encoding.
    pub fn size_hint(&self) -> usize {
        2 + self.primary.max_encoded_len()
            + self
                .blocks
                .iter()
                .map(CanonicalBlock::max_encoded_len)
                .sum::<usize>()
    }

    /// The primary block.
    pub fn primary(&self) -> &PrimaryBlock {
        &self.primary
    }

    /// Canonical blocks in wire order (payload last).
    pub fn blocks(&self) -> &[CanonicalBlock] {
        &self.blocks
    }

    /// The payload block's data.
    pub fn payload(&self) -> &Bytes {
        match self.blocks.last().map(|b| &b.body) {
            Some(BlockBody::Payload(p)) => p,
            // Unreachable for a checked bundle; an empty payload is the harmless answer.
            _ => &EMPTY,
        }
    }

    /// The payload block.
    pub fn payload_block(&self) -> Option<&CanonicalBlock> {
        self.blocks.last()
    }

    /// The network-wide identity used for duplicate detection.
    pub fn id(&self) -> BundleId {
        BundleId {
            source: self.primary.source.clone(),
            creation: self.primary.creation,
            fragment: self
                .primary
                .fragment
                .map(|f| (f.offset, self.payload().len() as u64)),
        }
    }

    /// Fragment fields, if this is a fragment.
    pub fn fragment(&self) -> Option<FragmentInfo> {
        self.primary.fragment
    }

    /// The first block of the given type.
    pub fn block(&self, t: BlockType) -> Option<&CanonicalBlock> {
        self.blocks.iter().find(|b| b.block_type() == t)
    }

    /// Previous node, if the bundle carries that block.
    pub fn previous_node(&self) -> Option<&Eid> {
        self.blocks.iter().find_map(|b| match &b.body {
            BlockBody::PreviousNode(e) => Some(e),
            _ => None,
        })
    }

    /// Bundle age in milliseconds, if carried.
    pub fn bundle_age(&self) -> Option<u64> {
        self.blocks.iter().find_map(|b| match b.body {
            BlockBody::BundleAge(a) => Some(a),
            _ => None,
        })
    }

    /// Hop count, if carried.
    pub fn hop_count(&self) -> Option<HopCount> {
        self.blocks.iter().find_map(|b| match b.body {
            BlockBody::HopCount(h) => Some(h),
            _ => None,
        })
    }

    /// Sets (or adds) the previous-node block, as a forwarding node must (RFC 9171 §4.4.1).
    pub fn set_previous_node(&mut self, node: Eid) {
        let crc = self.primary.crc;
        self.upsert(BlockBody::PreviousNode(node), crc);
    }

    /// Sets (or adds) the bundle-age block.
    pub fn set_bundle_age(&mut self, age_ms: u64) {
        let crc = self.primary.crc;
        self.upsert(BlockBody::BundleAge(age_ms), crc);
    }

    /// Counts one more hop, if the bundle carries a hop-count block; returns the new count.
    pub fn increment_hop_count(&mut self) -> Option<HopCount> {
        self.blocks.iter_mut().find_map(|b| match &mut b.body {
            BlockBody::HopCount(h) => {
                h.count = h.count.saturating_add(1);
                Some(*h)
            }
            _ => None,
        })
    }

    fn upsert(&mut self, body: BlockBody, crc: super::CrcType) {
        let t = body.block_type();
        if let Some(b) = self.blocks.iter_mut().find(|b| b.block_type() == t) {
            b.body = body;
            return;
        }
        let number = self.unused_block_number();
        let block = CanonicalBlock::new(number, crc, body);
        // Extension blocks go before the payload block, which stays last.
        let at = self.blocks.len().saturating_sub(1);
        self.blocks.insert(at, block);
    }

    /// The smallest block number above those in use (never 0 or 1).
    pub fn unused_block_number(&self) -> u64 {
        self.blocks
            .iter()
            .map(|b| b.number)
            .max()
            .unwrap_or(1)
            .saturating_add(1)
            .max(2)
    }

    /// Applies RFC 9171 §5.6 step 4 to every block whose type `known` says is not understood:
    /// remove blocks flagged "discard if unprocessable", and report whether the bundle must be
    /// deleted and whether a status report was requested.
    pub fn apply_unknown_block_policy(
        &mut self,
        known: impl Fn(BlockType) -> bool,
    ) -> UnknownBlockVerdict {
        use super::flags::BlockFlags as F;
        let mut verdict = UnknownBlockVerdict::default();
        self.blocks.retain(|b| {
            if known(b.block_type()) || matches!(b.body, BlockBody::Payload(_)) {
                return true;
            }
            verdict.report |= b.flags.contains(F::REPORT_IF_UNPROCESSABLE);
            if b.flags.contains(F::DELETE_BUNDLE_IF_UNPROCESSABLE) {
                verdict.delete_bundle = true;
                return true;
            }
            if b.flags.contains(F::DISCARD_IF_UNPROCESSABLE) {
                verdict.removed.push(b.number);
                return false;
            }
            true
        });
        verdict
    }

    /// Replaces the canonical blocks; for the fragmenter and the node, re-checked.
    pub fn with_blocks(&self, blocks: Vec<CanonicalBlock>) -> Result<Self, BuildError> {
        Self::from_parts(self.primary.clone(), blocks)
    }
}

static EMPTY: Bytes = Bytes::new();

/// Rules between the newest block and those before it (RFC 9171 §4.3.2, §4.4).
fn check_block_against_previous(blocks: &[CanonicalBlock]) -> Result<(), DecodeErrorKind> {
    let Some((last, earlier)) = blocks.split_last() else {
        return Ok(());
    };
    if earlier
        .iter()
        .any(|b| matches!(b.body, BlockBody::Payload(_)))
    {
        return Err(DecodeErrorKind::Invalid(
            "the payload block must be the last block (RFC 9171 §4.1)",
        ));
    }
    if last.number == 0 {
        return Err(DecodeErrorKind::Invalid(
            "block number 0 is reserved for the primary block",
        ));
    }
    if earlier.iter().any(|b| b.number == last.number) {
        return Err(DecodeErrorKind::DuplicateBlockNumber(last.number));
    }
    let t = last.block_type();
    let once = matches!(
        t,
        BlockType::PREVIOUS_NODE | BlockType::BUNDLE_AGE | BlockType::HOP_COUNT
    );
    if once && earlier.iter().any(|b| b.block_type() == t) {
        return Err(DecodeErrorKind::DuplicateBlockType(t.0));
    }
    match (&last.body, last.number) {
        (BlockBody::Payload(_), n) if n != 1 => Err(DecodeErrorKind::Invalid(
            "the payload block must have block number 1 (RFC 9171 §4.3.3)",
        )),
        (BlockBody::HopCount(h), _) if h.limit == 0 || h.limit > 255 => Err(
            DecodeErrorKind::Invalid("hop limit must be in 1..=255 (RFC 9171 §4.4.3)"),
        ),
        (BlockBody::PreviousNode(e), _) if e.is_null() => Err(DecodeErrorKind::Invalid(
            "previous node must be a node ID, not the null endpoint",
        )),
        _ => Ok(()),
    }
}

/// Rules over the whole bundle.
/// `require_age`: whether a creation time of 0 must come with a bundle age block. Bundles we
/// build must obey; bundles we receive need not (see [`Bundle::decode_with`]).
fn check_structure(
    primary: &PrimaryBlock,
    blocks: &[CanonicalBlock],
    require_age: bool,
) -> Result<(), DecodeErrorKind> {
    match blocks.last() {
        Some(CanonicalBlock {
            body: BlockBody::Payload(p),
            ..
        }) => {
            if let Some(f) = primary.fragment {
                let end = f.offset.checked_add(p.len() as u64);
                if end.is_none_or(|e| e > f.total_adu_length) {
                    return Err(DecodeErrorKind::Invalid(
                        "fragment payload runs past the total ADU length",
                    ));
                }
            }
        }
        _ => {
            return Err(DecodeErrorKind::Invalid(
                "a bundle must end with a payload block (RFC 9171 §4.1)",
            ));
        }
    }
    if require_age
        && primary.creation.time.0 == 0
        && !blocks
            .iter()
            .any(|b| matches!(b.body, BlockBody::BundleAge(_)))
    {
        return Err(DecodeErrorKind::Invalid(
            "creation time 0 (no clock) requires a bundle age block (RFC 9171 §4.2.7)",
        ));
    }
    Ok(())
}
