//! Fragmentation and reassembly (RFC 9171 §5.8, §5.9).
//!
//! [`fragment`] splits a bundle whose encoding does not fit a link into fragments whose every
//! *encoded* size fits, measured exactly rather than estimated, so a convergence layer with a
//! hard frame limit can rely on it. [`Reassembler`] collects fragments in any order, with
//! duplicates and overlaps, under explicit memory limits, and hands back the whole bundle once
//! its application data unit (ADU) is covered.
//!
//! Both are pure: no clock, no IO. Pending ADUs are kept in a `BTreeMap` so iteration (and thus
//! expiry by the node) is deterministic.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::block::{BlockBody, BlockType, CanonicalBlock};
use super::bundle::Bundle;
use super::cbor;
use super::eid::Eid;
use super::error::BuildError;
use super::flags::{BlockFlags, BundleFlags};
use super::primary::{FragmentInfo, PrimaryBlock};
use super::time::CreationTimestamp;

/// Why a bundle could not be fragmented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragmentError {
    /// The source forbade fragmentation (RFC 9171 §4.2.3).
    #[error("the bundle is flagged must-not-fragment (RFC 9171 §4.2.3)")]
    MustNotFragment,
    /// Not even one payload byte fits beside the headers the fragment must carry.
    #[error(
        "limit of {limit} bytes is too small: a fragment at ADU offset {offset} needs at least {needed}"
    )]
    LimitTooSmall {
        /// The limit asked for.
        limit: usize,
        /// Encoded size of that fragment with one payload byte.
        needed: usize,
        /// ADU offset of the fragment that could not be made.
        offset: u64,
    },
    /// A fragment could not be built (a rule of RFC 9171 would break).
    #[error("fragment could not be built: {0}")]
    Build(#[from] BuildError),
}

/// Splits `bundle` so that every fragment encodes to at most `max_encoded_size` bytes
/// (RFC 9171 §5.8).
///
/// A bundle that already fits is returned unchanged, as the only element. Otherwise the first
/// fragment carries every extension block; later ones carry only blocks flagged
/// REPLICATE_IN_EVERY_FRAGMENT, plus the bundle age block when the creation time is 0, since
/// every bundle without a clock-derived time needs one (§4.2.7). Fragmenting a fragment keeps
/// offsets relative to the original ADU.
pub fn fragment(bundle: &Bundle, max_encoded_size: usize) -> Result<Vec<Bundle>, FragmentError> {
    let encoded = encoded_len(bundle.primary(), bundle.blocks());
    if encoded <= max_encoded_size {
        return Ok(vec![bundle.clone()]);
    }
    let primary = bundle.primary();
    if primary.flags.contains(BundleFlags::MUST_NOT_FRAGMENT) {
        return Err(FragmentError::MustNotFragment);
    }
    let payload = bundle.payload();
    if payload.is_empty() {
        // An empty ADU has no fragments: total ADU length 0 would break §4.3.1.
        return Err(FragmentError::LimitTooSmall {
            limit: max_encoded_size,
            needed: encoded,
            offset: 0,
        });
    }
    let Some(payload_block) = bundle.payload_block() else {
        return Err(FragmentError::Build(BuildError::Invalid(
            "bundle has no payload block",
        )));
    };
    let (base, total) = match primary.fragment {
        Some(f) => (f.offset, f.total_adu_length),
        None => (0, payload.len() as u64),
    };
    let extensions = &bundle.blocks()[..bundle.blocks().len().saturating_sub(1)];
    let no_clock = primary.creation.time.0 == 0;
    let replicated: Vec<CanonicalBlock> = extensions
        .iter()
        .filter(|b| {
            b.flags.contains(BlockFlags::REPLICATE_IN_EVERY_FRAGMENT)
                || (no_clock && b.block_type() == BlockType::BUNDLE_AGE)
        })
        .cloned()
        .collect();

    let mut out = Vec::new();
    let mut start = 0usize;
    while start < payload.len() {
        let offset = base + start as u64;
        let mut p = primary.clone();
        p.flags |= BundleFlags::IS_FRAGMENT;
        p.fragment = Some(FragmentInfo {
            offset,
            total_adu_length: total,
        });
        let mut blocks = if start == 0 {
            extensions.to_vec()
        } else {
            replicated.clone()
        };
        let mut pb = payload_block.clone();
        pb.body = BlockBody::Payload(Bytes::new());
        blocks.push(pb);
        // Size with an empty payload; n payload bytes add n plus the growth of their length
        // header over the one-byte header of the empty string.
        let empty = encoded_len(&p, &blocks);
        let budget = (max_encoded_size + 1).saturating_sub(empty);
        let mut n = budget.saturating_sub(1).min(payload.len() - start);
        while n > 0 && n + cbor::header_len(n as u64) > budget {
            n -= 1;
        }
        if n == 0 {
            return Err(FragmentError::LimitTooSmall {
                limit: max_encoded_size,
                needed: empty + 1,
                offset,
            });
        }
        if let Some(last) = blocks.last_mut() {
            last.body = BlockBody::Payload(payload.slice(start..start + n));
        }
        out.push(Bundle::from_parts(p, blocks)?);
        start += n;
    }
    Ok(out)
}

/// Exact encoded size of a bundle made of these parts.
fn encoded_len(primary: &PrimaryBlock, blocks: &[CanonicalBlock]) -> usize {
    let mut buf = Vec::with_capacity(128);
    primary.encode(&mut buf);
    let mut len = 2 + buf.len(); // indefinite-array head and break
    for b in blocks {
        match &b.body {
            // Payload bytes are counted, not copied: encode an empty copy and add the difference.
            BlockBody::Payload(data) => {
                let mut empty = b.clone();
                empty.body = BlockBody::Payload(Bytes::new());
                buf.clear();
                empty.encode(&mut buf);
                len += buf.len() - 1 + cbor::header_len(data.len() as u64) + data.len();
            }
            _ => {
                buf.clear();
                b.encode(&mut buf);
                len += buf.len();
            }
        }
    }
    len
}

/// Identifies the ADU that fragments belong to (RFC 9171 §5.9): source and creation timestamp.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AduKey {
    /// Source node of the original bundle.
    pub source: Eid,
    /// Creation timestamp of the original bundle.
    pub creation: CreationTimestamp,
}

/// Memory bounds of a [`Reassembler`]. A fragment's announced total ADU length is untrusted, so
/// it is checked against these before anything is held for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Most ADU bytes reserved across all pending ADUs. Each pending ADU reserves its whole
    /// total length when its first fragment arrives, so an admitted ADU can always complete.
    pub max_bytes: u64,
    /// Most ADUs pending at once.
    pub max_pending: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_pending: 256,
        }
    }
}

/// Why a fragment was refused by the [`Reassembler`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// Only fragments are reassembled.
    #[error("the bundle is not a fragment")]
    NotAFragment,
    /// The ADU could never fit the configured memory.
    #[error("total ADU length {total} exceeds the reassembly limit of {max} bytes")]
    AduTooLarge {
        /// Announced total ADU length.
        total: u64,
        /// The limit.
        max: u64,
    },
    /// Too many ADUs are pending already.
    #[error("{max} ADUs are already pending reassembly")]
    TooManyPending {
        /// The limit.
        max: usize,
    },
    /// The ADU fits the limit, but not beside those already pending.
    #[error("reassembly memory full: {needed} more bytes needed, {available} available")]
    MemoryFull {
        /// Bytes this fragment would reserve (ADU length and, for the first fragment, its
        /// extension blocks).
        needed: u64,
        /// Bytes still unreserved.
        available: u64,
    },
    /// Fragments of one ADU disagree on its length (RFC 9171 §5.9).
    #[error("fragment announces total ADU length {found}, earlier fragments said {expected}")]
    TotalLengthMismatch {
        /// What the pending ADU expects.
        expected: u64,
        /// What this fragment says.
        found: u64,
    },
    /// The reassembled bundle breaks a rule of RFC 9171.
    #[error("reassembled bundle is invalid: {0}")]
    Build(#[from] BuildError),
}

/// Collects fragments and returns whole bundles (RFC 9171 §5.9).
#[derive(Debug, Clone, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    pending: BTreeMap<AduKey, Pending>,
    reserved: u64,
}

/// What the reassembled bundle takes from the fragment at offset 0 (RFC 9171 §5.9).
#[derive(Debug, Clone)]
struct First {
    primary: PrimaryBlock,
    extensions: Vec<CanonicalBlock>,
    payload: CanonicalBlock,
}

/// One ADU being reassembled.
#[derive(Debug, Clone)]
struct Pending {
    total: u64,
    /// Primary block, extension blocks and (empty) payload block of the fragment at offset 0,
    /// once seen.
    first: Option<First>,
    /// Bytes reserved for this ADU: its total length plus the first fragment's blocks.
    reserved: u64,
    /// Disjoint received ranges, keyed by ADU offset.
    pieces: BTreeMap<u64, Bytes>,
    covered: u64,
}

impl Reassembler {
    /// An empty reassembler with these limits.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Self {
            limits,
            pending: BTreeMap::new(),
            reserved: 0,
        }
    }

    /// Takes one fragment. Returns the whole bundle once its ADU is covered: not a fragment,
    /// with the extension blocks of the fragment at offset 0 and the full payload.
    ///
    /// Duplicates and overlapping ranges are accepted; the bytes received first win.
    pub fn insert(&mut self, fragment: &Bundle) -> Result<Option<Bundle>, ReassemblyError> {
        let Some(info) = fragment.fragment() else {
            return Err(ReassemblyError::NotAFragment);
        };
        let primary = fragment.primary();
        let key = AduKey {
            source: primary.source.clone(),
            creation: primary.creation,
        };
        let total = info.total_adu_length;
        let existing = self.pending.get(&key);
        if let Some(p) = existing.filter(|p| p.total != total) {
            return Err(ReassemblyError::TotalLengthMismatch {
                expected: p.total,
                found: total,
            });
        }
        // The first fragment's extension blocks are kept too, so they are paid for.
        let keep_first = info.offset == 0 && existing.is_none_or(|p| p.first.is_none());
        let blocks = fragment.blocks();
        let (extensions, payload) = blocks.split_at(blocks.len().saturating_sub(1));
        let first_cost = if keep_first {
            extensions.iter().map(|b| b.size_hint() as u64).sum()
        } else {
            0
        };
        let needed = first_cost + if existing.is_none() { total } else { 0 };
        self.admit(existing.is_none(), total, needed)?;
        self.reserved += needed;
        let pending = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            total,
            first: None,
            reserved: 0,
            pieces: BTreeMap::new(),
            covered: 0,
        });
        pending.reserved += needed;
        if let (true, [payload]) = (keep_first, payload) {
            let mut payload = payload.clone();
            payload.body = BlockBody::Payload(Bytes::new());
            pending.first = Some(First {
                primary: primary.clone(),
                extensions: extensions.iter().map(owned_block).collect(),
                payload,
            });
        }
        pending.add(info.offset, fragment.payload());
        if pending.covered < pending.total || pending.first.is_none() {
            return Ok(None);
        }
        let Some(done) = self.remove(&key) else {
            return Ok(None);
        };
        done.into_bundle().map(Some)
    }

    fn admit(&self, new_adu: bool, total: u64, needed: u64) -> Result<(), ReassemblyError> {
        if total > self.limits.max_bytes {
            return Err(ReassemblyError::AduTooLarge {
                total,
                max: self.limits.max_bytes,
            });
        }
        if new_adu && self.pending.len() >= self.limits.max_pending {
            return Err(ReassemblyError::TooManyPending {
                max: self.limits.max_pending,
            });
        }
        let available = self.limits.max_bytes.saturating_sub(self.reserved);
        if needed > available {
            return Err(ReassemblyError::MemoryFull { needed, available });
        }
        Ok(())
    }

    fn remove(&mut self, key: &AduKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.reserved = self.reserved.saturating_sub(p.reserved);
        Some(p)
    }

    /// Drops a pending ADU and the memory it holds; true if it was pending. The node calls this
    /// when the ADU's lifetime ends.
    pub fn drop_pending(&mut self, key: &AduKey) -> bool {
        self.remove(key).is_some()
    }

    /// Pending ADUs in deterministic order, with how many of their bytes have arrived and
    /// their total length.
    pub fn pending(&self) -> impl Iterator<Item = (&AduKey, u64, u64)> + '_ {
        self.pending.iter().map(|(k, p)| (k, p.covered, p.total))
    }

    /// Bytes reserved by pending ADUs: their total lengths plus the blocks kept from their
    /// first fragments.
    pub fn reserved_bytes(&self) -> u64 {
        self.reserved
    }
}

/// A copy of `b` that owns its data, so keeping it does not keep a whole receive buffer alive.
fn owned_block(b: &CanonicalBlock) -> CanonicalBlock {
    let mut b = b.clone();
    if let BlockBody::Other { data, .. } = &mut b.body {
        *data = Bytes::copy_from_slice(data);
    }
    b
}

impl Pending {
    /// Stores the parts of `data` (at ADU `offset`) not yet held. Copies them, so a fragment's
    /// receive buffer is not kept alive by a slice of it.
    fn add(&mut self, offset: u64, data: &Bytes) {
        let end = offset.saturating_add(data.len() as u64).min(self.total);
        if end <= offset {
            return;
        }
        let mut cursor = offset;
        // Pieces that may overlap [offset, end): the last one starting at or before `offset`,
        // then every one starting inside.
        let before = self.pieces.range(..=offset).next_back();
        let inside = self.pieces.range(offset.saturating_add(1)..end);
        let mut gaps = Vec::new();
        for (&s, piece) in before.into_iter().chain(inside) {
            let e = s + piece.len() as u64;
            if s > cursor {
                gaps.push((cursor, s.min(end)));
            }
            cursor = cursor.max(e);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            gaps.push((cursor, end));
        }
        for (s, e) in gaps {
            // Offsets lie within data: s >= offset and e <= offset + data.len().
            let (from, to) = ((s - offset) as usize, (e - offset) as usize);
            self.pieces
                .insert(s, Bytes::copy_from_slice(&data[from..to]));
            self.covered += e - s;
        }
    }

    fn into_bundle(self) -> Result<Bundle, ReassemblyError> {
        let Some(First {
            mut primary,
            extensions: mut blocks,
            mut payload,
        }) = self.first
        else {
            return Err(BuildError::Invalid("no fragment at offset 0").into());
        };
        let mut adu = Vec::with_capacity(usize::try_from(self.total).unwrap_or(0));
        for piece in self.pieces.values() {
            adu.extend_from_slice(piece);
        }
        primary.flags.remove(BundleFlags::IS_FRAGMENT);
        primary.fragment = None;
        payload.body = BlockBody::Payload(Bytes::from(adu));
        blocks.push(payload);
        Ok(Bundle::from_parts(primary, blocks)?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::{BundleBuilder, DtnTime};

    fn adu(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn bundle_with(len: usize, flags: BundleFlags) -> Bundle {
        BundleBuilder::new(
            "dtn://src/app".parse().unwrap(),
            "dtn://dst/inbox".parse().unwrap(),
            CreationTimestamp::new(DtnTime(755_000_000_000), 7),
            3_600_000,
        )
        .flags(flags)
        .hop_limit(30)
        .extension(
            BlockBody::Other {
                block_type: 200,
                data: Bytes::from_static(b"replicated"),
            },
            BlockFlags::REPLICATE_IN_EVERY_FRAGMENT,
        )
        .payload(adu(len))
        .build()
        .unwrap()
    }

    fn reassemble(frags: &[Bundle]) -> Option<Bundle> {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut whole = None;
        for f in frags {
            if let Some(b) = r.insert(f).unwrap() {
                assert!(whole.is_none(), "completed twice");
                whole = Some(b);
            }
        }
        whole
    }

    #[test]
    fn bundle_that_fits_is_returned_unchanged() {
        let b = bundle_with(10, BundleFlags::empty());
        assert_eq!(fragment(&b, 10_000).unwrap(), vec![b]);
    }

    #[test]
    fn every_fragment_encodes_within_the_limit() {
        let b = bundle_with(5000, BundleFlags::empty());
        for limit in [120, 300, 1024, 4999] {
            let frags = fragment(&b, limit).unwrap();
            assert!(frags.len() > 1);
            for f in &frags {
                assert!(
                    f.encode().len() <= limit,
                    "limit {limit}: {}",
                    f.encode().len()
                );
                assert!(f.primary().flags.contains(BundleFlags::IS_FRAGMENT));
                assert_eq!(f.fragment().unwrap().total_adu_length, 5000);
            }
        }
    }

    #[test]
    fn fragments_fill_the_limit_exactly_except_the_last() {
        let b = bundle_with(3000, BundleFlags::empty());
        let frags = fragment(&b, 500).unwrap();
        for f in &frags[1..frags.len() - 1] {
            assert_eq!(f.encode().len(), 500);
        }
    }

    #[test]
    fn must_not_fragment_is_refused() {
        let b = bundle_with(2000, BundleFlags::MUST_NOT_FRAGMENT);
        assert_eq!(fragment(&b, 500), Err(FragmentError::MustNotFragment));
    }

    #[test]
    fn limit_smaller_than_the_headers_is_refused() {
        let b = bundle_with(2000, BundleFlags::empty());
        let err = fragment(&b, 60).unwrap_err();
        assert!(
            matches!(
                err,
                FragmentError::LimitTooSmall {
                    limit: 60,
                    offset: 0,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn only_replicated_blocks_follow_the_first_fragment() {
        let b = bundle_with(2000, BundleFlags::empty());
        let frags = fragment(&b, 400).unwrap();
        let types = |f: &Bundle| {
            f.blocks()
                .iter()
                .map(|b| b.block_type().0)
                .collect::<Vec<_>>()
        };
        assert_eq!(types(&frags[0]), vec![10, 200, 1]);
        for f in &frags[1..] {
            assert_eq!(types(f), vec![200, 1]);
        }
    }

    #[test]
    fn clockless_bundle_keeps_its_age_block_in_every_fragment() {
        let b = BundleBuilder::new(
            "dtn://src/app".parse().unwrap(),
            "dtn://dst/inbox".parse().unwrap(),
            CreationTimestamp::new(DtnTime(0), 1),
            1000,
        )
        .bundle_age(5)
        .payload(adu(1000))
        .build()
        .unwrap();
        for f in fragment(&b, 200).unwrap() {
            assert_eq!(f.bundle_age(), Some(5));
        }
    }

    #[test]
    fn fragmenting_a_fragment_keeps_offsets_in_the_original_adu() {
        let b = bundle_with(3000, BundleFlags::empty());
        let frags = fragment(&b, 1200).unwrap();
        let second = &frags[1];
        let sub = fragment(second, 400).unwrap();
        let first_offset = second.fragment().unwrap().offset;
        assert_eq!(sub[0].fragment().unwrap().offset, first_offset);
        let mut expect = first_offset;
        for f in &sub {
            let info = f.fragment().unwrap();
            assert_eq!(info.offset, expect);
            assert_eq!(info.total_adu_length, 3000);
            expect += f.payload().len() as u64;
        }
        let mut all: Vec<Bundle> = vec![frags[0].clone()];
        all.extend(sub);
        all.extend(frags[2..].iter().cloned());
        assert_eq!(reassemble(&all).unwrap(), b);
    }

    #[test]
    fn reassembly_in_reverse_with_duplicates_gives_back_the_bundle() {
        let b = bundle_with(4000, BundleFlags::empty());
        let mut frags = fragment(&b, 700).unwrap();
        frags.reverse();
        let dup = frags[1].clone();
        frags.insert(0, dup);
        assert_eq!(reassemble(&frags).unwrap(), b);
    }

    #[test]
    fn overlapping_fragments_reassemble() {
        let b = bundle_with(3000, BundleFlags::empty());
        let mut frags = fragment(&b, 1000).unwrap();
        frags.extend(fragment(&b, 777).unwrap());
        frags.sort_by_key(|f| std::cmp::Reverse(f.payload().len()));
        assert_eq!(reassemble(&frags[1..]).unwrap().payload(), b.payload());
    }

    #[test]
    fn disagreeing_total_length_is_refused() {
        let a = fragment(&bundle_with(3000, BundleFlags::empty()), 700).unwrap();
        let b = fragment(&bundle_with(3001, BundleFlags::empty()), 700).unwrap();
        let mut r = Reassembler::new(ReassemblyLimits::default());
        r.insert(&a[0]).unwrap();
        let err = r.insert(&b[1]).unwrap_err();
        assert_eq!(
            err,
            ReassemblyError::TotalLengthMismatch {
                expected: 3000,
                found: 3001
            }
        );
    }

    #[test]
    fn adu_larger_than_the_memory_limit_is_refused() {
        let frags = fragment(&bundle_with(3000, BundleFlags::empty()), 700).unwrap();
        let mut r = Reassembler::new(ReassemblyLimits {
            max_bytes: 2999,
            max_pending: 4,
        });
        let err = r.insert(&frags[0]).unwrap_err();
        assert_eq!(
            err,
            ReassemblyError::AduTooLarge {
                total: 3000,
                max: 2999
            }
        );
        assert_eq!(r.reserved_bytes(), 0);
    }

    #[test]
    fn pending_limit_is_enforced_and_dropping_frees_room() {
        let one = fragment(&bundle_with(1000, BundleFlags::empty()), 400).unwrap();
        let mut other = bundle_with(1000, BundleFlags::empty()).primary().clone();
        other.creation.sequence = 8;
        let two = bundle_with(1000, BundleFlags::empty());
        let two = fragment(
            &Bundle::from_parts(other, two.blocks().to_vec()).unwrap(),
            400,
        )
        .unwrap();
        let mut r = Reassembler::new(ReassemblyLimits {
            max_bytes: 10_000,
            max_pending: 1,
        });
        assert_eq!(r.insert(&one[0]).unwrap(), None);
        assert_eq!(
            r.insert(&two[0]),
            Err(ReassemblyError::TooManyPending { max: 1 })
        );
        let key = r.pending().next().unwrap().0.clone();
        assert!(r.drop_pending(&key));
        assert_eq!(r.reserved_bytes(), 0);
        assert_eq!(r.insert(&two[0]).unwrap(), None);
    }

    #[test]
    fn memory_reserved_by_pending_adus_limits_new_ones() {
        let a = fragment(&bundle_with(1000, BundleFlags::empty()), 400).unwrap();
        let mut r = Reassembler::new(ReassemblyLimits {
            max_bytes: 1800,
            max_pending: 8,
        });
        r.insert(&a[1]).unwrap();
        assert_eq!(r.reserved_bytes(), 1000);
        let mut p = a[1].primary().clone();
        p.creation.sequence = 99;
        let other = Bundle::from_parts(p, a[1].blocks().to_vec()).unwrap();
        let err = r.insert(&other).unwrap_err();
        assert_eq!(
            err,
            ReassemblyError::MemoryFull {
                needed: 1000,
                available: 800
            }
        );
    }

    #[test]
    fn first_fragment_blocks_count_towards_reserved_memory() {
        let a = fragment(&bundle_with(1000, BundleFlags::empty()), 400).unwrap();
        let mut r = Reassembler::default();
        r.insert(&a[1]).unwrap();
        r.insert(&a[0]).unwrap();
        assert!(r.reserved_bytes() > 1000, "{}", r.reserved_bytes());
        let key = r.pending().next().unwrap().0.clone();
        assert!(r.drop_pending(&key));
        assert_eq!(r.reserved_bytes(), 0);
    }

    #[test]
    fn whole_bundle_is_not_accepted_as_a_fragment() {
        let mut r = Reassembler::default();
        let err = r
            .insert(&bundle_with(10, BundleFlags::empty()))
            .unwrap_err();
        assert_eq!(err, ReassemblyError::NotAFragment);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn split_then_shuffled_reassembly_restores_the_bundle(
            len in 1usize..3000,
            extra in 1usize..1200,
            limit_b in 90usize..1500,
            dup_every in 1usize..5,
            order in any::<u64>(),
        ) {
            let b = bundle_with(len, BundleFlags::empty());
            let limit = 125 + extra;
            let mut frags = fragment(&b, limit).unwrap();
            for f in &frags {
                prop_assert!(f.encode().len() <= limit);
            }
            if frags[0] == b {
                // It fitted: nothing to reassemble.
                prop_assert!(b.encode().len() <= limit);
                return Ok(());
            }
            // Overlaps: a second split at another limit; duplicates: repeat some fragments.
            let more = fragment(&b, limit_b + 35).unwrap();
            frags.extend(more.into_iter().filter(|f| f.fragment().is_some()).step_by(2));
            let dups: Vec<Bundle> = frags.iter().step_by(dup_every).cloned().collect();
            frags.extend(dups);
            // A deterministic shuffle driven by `order`.
            let mut state = order | 1;
            for i in (1..frags.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                frags.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembler::new(ReassemblyLimits::default());
            let mut whole = None;
            for f in &frags {
                if let Some(w) = r.insert(f).unwrap() {
                    whole.get_or_insert(w);
                }
            }
            let whole = whole.unwrap();
            prop_assert_eq!(whole.payload(), b.payload());
            prop_assert_eq!(whole.blocks(), b.blocks());
            prop_assert_eq!(whole.primary(), b.primary());
        }
    }
}
