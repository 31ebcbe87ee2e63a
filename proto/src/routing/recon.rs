//! Range-based set reconciliation of two nodes' bundle ids (Aljoscha Meyer, "Range-Based Set
//! Reconciliation", 2023), so that a contact between tern nodes costs bytes in proportion to the
//! *difference* between their stores, not their size.
//!
//! Each side holds a sorted set of 63-bit digests ([`bundle_digest`]) of the bundle ids it
//! holds or has handled. A range `[lo, hi)` of the digest space has a fingerprint: the wrapping
//! sum of the digests in it, with their count (both come from prefix sums, so any range costs
//! two binary searches). The initiator sends fingerprints of a few ranges covering everything;
//! the other side answers each: equal fingerprints settle the range (the peer holds what we
//! hold there); a differing range is split further into `branching` sub-ranges at our own ids, or,
//! once we hold at most `leaf` ids in it, answered with those ids. The side that receives ids
//! learns exactly which of its ids the peer lacks and answers with a *want* list: which of the
//! listed ids it lacks itself. When a message asks nothing, both sides are done and know, for
//! every id they hold, whether the peer holds it. Round trips grow with `log_branching(n)`.
//!
//! A peer's messages are hostile input. Besides the decoder's caps
//! ([`ControlLimits`]), the reconciler bounds its own answers by the same caps (a range it cannot
//! afford to split now is answered with its fingerprint, letting the peer split it), refuses
//! answers to questions it did not ask, and gives up after `max_rounds` messages; work per
//! message is `O(items · log n)` plus one pass over the ranges the peer names.
//!
//! Fingerprints are sums of hash values: adequate between honest nodes (a false match needs
//! two different sets of the same size with the same 64-bit sum), not a defence against a peer
//! that crafts bundle ids — but such a peer can simply lie about what it holds anyway, and all
//! it gains is not being offered bundles.

use std::collections::BTreeMap;

use crate::node::control::{ControlLimits, DIGEST_END, ReconBody, ReconItem};
use crate::wire::BundleId;

/// The 63-bit digest of a bundle id that reconciliation orders and sums: FNV-1a over the id's
/// canonical fields, then a 64-bit finalizer so that close ids land far apart. Every tern node
/// computes the same digest for the same id.
pub fn bundle_digest(id: &BundleId) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = FNV_OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(FNV_PRIME);
        }
    };
    feed(id.source.to_string().as_bytes());
    feed(&[0]);
    feed(&id.creation.time.0.to_be_bytes());
    feed(&id.creation.sequence.to_be_bytes());
    match id.fragment {
        Some((offset, len)) => {
            feed(&[1]);
            feed(&offset.to_be_bytes());
            feed(&len.to_be_bytes());
        }
        None => feed(&[0]),
    }
    mix(h) >> 1
}

/// The finalizer of MurmurHash3 (fmix64): every input bit affects every output bit.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// How reconciliation splits ranges, and how much it lets a peer make it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconParams {
    /// Sub-ranges a differing range is split into (at least 2; fewer when a message is full).
    pub branching: usize,
    /// A differing range where we hold at most this many ids is answered with the ids (at
    /// least 1, at most `max_ids`).
    pub leaf: usize,
    /// Most messages we accept from the peer in one reconciliation.
    pub max_rounds: u32,
    /// Caps on every message, ours and the peer's (raised to at least 4 items and 1 id, the
    /// least that always makes progress).
    pub limits: ControlLimits,
}

impl Default for ReconParams {
    fn default() -> Self {
        Self {
            branching: 4,
            leaf: 16,
            max_rounds: 64,
            limits: ControlLimits::default(),
        }
    }
}

/// What reconciliation learnt about one of our ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerHolds {
    /// Not settled (reconciliation unfinished or abandoned).
    Unknown,
    /// The peer holds it (or has handled it): never offer it.
    Yes,
    /// The peer lacks it: offer it.
    No,
}

/// Where a reconciliation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing sent or received yet.
    Idle,
    /// We sent questions and wait for the answers.
    Awaiting,
    /// Every range is settled.
    Done,
    /// The peer broke the protocol or took too many rounds.
    Failed,
}

/// A peer's reconciliation message that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconError {
    /// The peer answered a question we did not ask, or left one unanswered.
    #[error("peer broke the reconciliation protocol: {0}")]
    Violation(&'static str),
    /// The exchange went on longer than any honest one needs.
    #[error("reconciliation exceeded {0} rounds")]
    TooManyRounds(u32),
    /// The reconciliation has ended; no more messages belong to it.
    #[error("reconciliation already ended")]
    Ended,
}

/// One side of one reconciliation, over a snapshot of the ids it holds.
#[derive(Debug, Clone)]
pub struct Reconciler {
    items: Vec<u64>,
    /// `prefix[i]` is the wrapping sum of `items[..i]`.
    prefix: Vec<u64>,
    verdict: Vec<PeerHolds>,
    /// Ranges (lo → hi) where we sent our ids and wait for a want list.
    pending: BTreeMap<u64, u64>,
    /// Ranges we sent our fingerprint for, in order, waiting for the peer's verdict.
    asked: Vec<(u64, u64)>,
    phase: Phase,
    rounds: u32,
    params: ReconParams,
}

/// A reply under construction, within the message caps.
#[derive(Default)]
struct Reply {
    items: Vec<ReconItem>,
    ids: usize,
    requests: bool,
    /// Ranges we send a fingerprint for: a skip in the answer means the peer's matched.
    fingerprints: Vec<(u64, u64)>,
}

impl Reply {
    fn push(&mut self, upper: u64, body: ReconBody) {
        if matches!(body, ReconBody::Fingerprint { .. }) {
            let lo = self.items.last().map_or(0, |i| i.upper);
            self.fingerprints.push((lo, upper));
        }
        if matches!(body, ReconBody::Skip)
            && let Some(last) = self.items.last_mut()
            && matches!(last.body, ReconBody::Skip)
        {
            last.upper = upper;
            return;
        }
        match &body {
            ReconBody::Fingerprint { .. } | ReconBody::Ids { reply: true, .. } => {
                self.requests = true;
            }
            _ => {}
        }
        if let ReconBody::Ids { ids, .. } | ReconBody::Want { ids } = &body {
            self.ids += ids.len();
        }
        self.items.push(ReconItem { upper, body });
    }

    fn finish(mut self) -> Vec<ReconItem> {
        while self
            .items
            .last()
            .is_some_and(|i| matches!(i.body, ReconBody::Skip))
        {
            self.items.pop();
        }
        self.items
    }
}

impl Reconciler {
    /// A reconciler over `digests` (any order; duplicates count once).
    pub fn new(digests: impl IntoIterator<Item = u64>, params: ReconParams) -> Self {
        let mut items: Vec<u64> = digests.into_iter().filter(|d| *d < DIGEST_END).collect();
        items.sort_unstable();
        items.dedup();
        let mut prefix = Vec::with_capacity(items.len() + 1);
        let mut sum = 0u64;
        prefix.push(sum);
        for d in &items {
            sum = sum.wrapping_add(*d);
            prefix.push(sum);
        }
        // Caps too small to make progress with are raised to the least that can.
        let mut limits = params.limits;
        limits.max_items = limits.max_items.max(4);
        limits.max_ids = limits.max_ids.max(1);
        let branching = params.branching.max(2);
        let params = ReconParams {
            branching,
            leaf: params.leaf.clamp(1, limits.max_ids),
            limits,
            ..params
        };
        Self {
            verdict: vec![PeerHolds::Unknown; items.len()],
            items,
            prefix,
            pending: BTreeMap::new(),
            asked: Vec::new(),
            phase: Phase::Idle,
            rounds: 0,
            params,
        }
    }

    /// The first message, from the side that starts (the one with the lower node ID).
    pub fn start(&mut self) -> Vec<ReconItem> {
        let mut reply = Reply::default();
        let mut pending = BTreeMap::new();
        if !self.differ(0, DIGEST_END, &mut reply, &mut pending, 0, 0) {
            self.close_run(0, DIGEST_END, &mut reply);
        }
        self.pending = pending;
        self.asked = std::mem::take(&mut reply.fingerprints);
        self.phase = if reply.requests {
            Phase::Awaiting
        } else {
            Phase::Done
        };
        reply.finish()
    }

    /// Takes the peer's message; returns the answer to send, if any. `None` with
    /// [`Reconciler::is_done`] means the reconciliation is over.
    pub fn receive(&mut self, items: &[ReconItem]) -> Result<Option<Vec<ReconItem>>, ReconError> {
        match self.phase {
            Phase::Done | Phase::Failed => return Err(ReconError::Ended),
            Phase::Idle | Phase::Awaiting => {}
        }
        self.rounds += 1;
        if self.rounds > self.params.max_rounds {
            self.phase = Phase::Failed;
            return Err(ReconError::TooManyRounds(self.params.max_rounds));
        }
        match self.answer(items) {
            Ok(reply) => Ok(reply),
            Err(e) => {
                self.phase = Phase::Failed;
                Err(e)
            }
        }
    }

    fn answer(&mut self, items: &[ReconItem]) -> Result<Option<Vec<ReconItem>>, ReconError> {
        let mut reply = Reply::default();
        let mut asked = false;
        let mut pending = BTreeMap::new();
        let mut ids_to_answer: usize = items
            .iter()
            .map(|i| match &i.body {
                ReconBody::Ids { ids, reply: true } => ids.len(),
                _ => 0,
            })
            .sum();
        let mut lo = 0u64;
        // Start of a run of differing ranges we cannot afford to answer one by one now: the
        // whole run is answered with one fingerprint, which the peer splits. Coalescing keeps
        // every reply within the caps and guarantees progress (the next message is shorter).
        let mut run: Option<u64> = None;
        // Once set, every later range goes into a run: we spent the room on an earlier split.
        let mut coalesce = false;
        // Items after position n that a run cannot absorb (ids and want lists), for budgets.
        let mut fixed_after: Vec<usize> = vec![0; items.len()];
        let mut fixed = 0;
        for (n, item) in items.iter().enumerate().rev() {
            fixed_after[n] = fixed;
            if !matches!(item.body, ReconBody::Skip | ReconBody::Fingerprint { .. }) {
                fixed += 1;
            }
        }
        for (n, item) in items.iter().enumerate() {
            let hi = item.upper;
            if hi <= lo || hi > DIGEST_END {
                return Err(ReconError::Violation("ranges out of order"));
            }
            let (i0, i1) = (self.index(lo), self.index(hi));
            let range_only = matches!(item.body, ReconBody::Skip | ReconBody::Fingerprint { .. });
            if !range_only && let Some(start) = run.take() {
                self.close_run(start, lo, &mut reply);
            }
            if range_only && coalesce && run.is_none() {
                run = Some(lo);
            }
            match &item.body {
                ReconBody::Skip => {
                    if run.is_none() {
                        reply.push(hi, ReconBody::Skip);
                    }
                }
                ReconBody::Fingerprint { fingerprint, count } => {
                    asked = true;
                    if (*fingerprint, *count) == self.fingerprint(i0, i1) {
                        self.mark(i0, i1, PeerHolds::Yes);
                        if run.is_none() {
                            reply.push(hi, ReconBody::Skip);
                        }
                    } else if run.is_none() {
                        let later = items.len() - n - 1;
                        let ids = ids_to_answer;
                        // If not everything fits, answer this range and coalesce what follows
                        // (a run closes into one item before each later ids or want item).
                        let squeezed = 1 + 2 * fixed_after[n];
                        if self.differ(lo, hi, &mut reply, &mut pending, later, ids) {
                        } else if self.differ(lo, hi, &mut reply, &mut pending, squeezed, ids) {
                            coalesce = true;
                        } else {
                            run = Some(lo);
                        }
                    }
                }
                ReconBody::Ids { ids, reply: wants } => {
                    for j in i0..i1 {
                        self.verdict[j] = if ids.binary_search(&self.items[j]).is_ok() {
                            PeerHolds::Yes
                        } else {
                            PeerHolds::No
                        };
                    }
                    if *wants {
                        asked = true;
                        ids_to_answer -= ids.len();
                        let mine = &self.items[i0..i1];
                        let lack: Vec<u64> = ids
                            .iter()
                            .copied()
                            .filter(|id| mine.binary_search(id).is_err())
                            .collect();
                        reply.push(hi, ReconBody::Want { ids: lack });
                    } else {
                        reply.push(hi, ReconBody::Skip);
                    }
                }
                ReconBody::Want { ids } => {
                    if self.pending.remove(&lo) != Some(hi) {
                        return Err(ReconError::Violation("a want list for ids we did not send"));
                    }
                    for j in i0..i1 {
                        self.verdict[j] = if ids.binary_search(&self.items[j]).is_ok() {
                            PeerHolds::No
                        } else {
                            PeerHolds::Yes
                        };
                    }
                    reply.push(hi, ReconBody::Skip);
                }
            }
            lo = hi;
        }
        if let Some(start) = run {
            self.close_run(start, lo, &mut reply);
        }
        if !self.pending.is_empty() {
            return Err(ReconError::Violation("ids we sent were left unanswered"));
        }
        self.pending = pending;
        self.settle_asked(items);
        self.asked = std::mem::take(&mut reply.fingerprints);
        if !asked {
            self.phase = Phase::Done;
            return Ok(None);
        }
        self.phase = if reply.requests {
            Phase::Awaiting
        } else {
            Phase::Done
        };
        Ok(Some(reply.finish()))
    }

    /// A fingerprint we sent that the peer answered with nothing (only skips over its range)
    /// matched the peer's: we hold the same ids there.
    fn settle_asked(&mut self, items: &[ReconItem]) {
        // The peer's non-skip ranges, in order (its items are contiguous from 0).
        let mut lo = 0;
        let mut spoken = Vec::new();
        for item in items {
            if !matches!(item.body, ReconBody::Skip) {
                spoken.push((lo, item.upper));
            }
            lo = item.upper;
        }
        for (a, b) in std::mem::take(&mut self.asked) {
            // First spoken range that ends after `a`; it overlaps [a, b) if it starts before b.
            let i = spoken.partition_point(|(_, hi)| *hi <= a);
            let overlaps = spoken.get(i).is_some_and(|(lo, _)| *lo < b);
            if !overlaps {
                let (i0, i1) = (self.index(a), self.index(b));
                self.mark(i0, i1, PeerHolds::Yes);
            }
        }
    }

    fn close_run(&self, start: u64, end: u64, reply: &mut Reply) {
        let (fingerprint, count) = self.fingerprint(self.index(start), self.index(end));
        reply.push(end, ReconBody::Fingerprint { fingerprint, count });
    }

    /// Answers a range `[lo, hi)` whose fingerprints differ: split it or send our ids. False
    /// when the caps leave no room for either now.
    fn differ(
        &mut self,
        lo: u64,
        hi: u64,
        reply: &mut Reply,
        pending: &mut BTreeMap<u64, u64>,
        later_items: usize,
        later_ids: usize,
    ) -> bool {
        let (i0, i1) = (self.index(lo), self.index(hi));
        let count = i1 - i0;
        let limits = self.params.limits;
        let b = self.params.branching;
        if count == 0 {
            reply.push(
                hi,
                ReconBody::Ids {
                    ids: Vec::new(),
                    reply: false,
                },
            );
            return true;
        }
        if count <= self.params.leaf && reply.ids + count + later_ids <= limits.max_ids {
            pending.insert(lo, hi);
            reply.push(
                hi,
                ReconBody::Ids {
                    ids: self.items[i0..i1].to_vec(),
                    reply: true,
                },
            );
            return true;
        }
        // Split (also a small range whose ids do not fit this message): each part holds at
        // least one of our ids, so every split makes the ranges smaller.
        // When room is short, fewer parts: any split of at least two still makes progress.
        let room = limits
            .max_items
            .saturating_sub(reply.items.len() + later_items);
        let parts = b.min(count).min(room);
        if parts >= 2 {
            let mut start = lo;
            for k in 1..=parts {
                let end = if k == parts {
                    hi
                } else {
                    let j = i0 + count * k / parts;
                    short_bound(self.items[j - 1], self.items[j])
                };
                let (s0, s1) = (self.index(start), self.index(end));
                let (fingerprint, count) = self.fingerprint(s0, s1);
                reply.push(end, ReconBody::Fingerprint { fingerprint, count });
                start = end;
            }
            return true;
        }
        false
    }

    /// Index of the first id at or above `bound`.
    fn index(&self, bound: u64) -> usize {
        self.items.partition_point(|d| *d < bound)
    }

    fn fingerprint(&self, i0: usize, i1: usize) -> (u64, u64) {
        (
            self.prefix[i1].wrapping_sub(self.prefix[i0]),
            (i1 - i0) as u64,
        )
    }

    fn mark(&mut self, i0: usize, i1: usize, verdict: PeerHolds) {
        for v in &mut self.verdict[i0..i1] {
            *v = verdict;
        }
    }

    /// True once every range is settled.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// True once the reconciliation was abandoned (the peer broke the protocol).
    pub fn has_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// Messages received from the peer so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Our ids with what was learnt about each, ascending.
    pub fn verdicts(&self) -> impl Iterator<Item = (u64, PeerHolds)> + '_ {
        self.items.iter().copied().zip(self.verdict.iter().copied())
    }
}

/// The bound between two adjacent ids `a < b` with the most trailing zero bits: `b` with every
/// bit below the highest bit where they differ cleared. It is above `a` and at most `b`, and it
/// encodes in few bytes ([`crate::node::control`]).
fn short_bound(a: u64, b: u64) -> u64 {
    let h = 63 - (a ^ b).leading_zeros();
    (b >> h) << h
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::node::control::ControlMessage;

    /// Deterministic pseudo-random digests (splitmix64), no ambient randomness.
    fn digests(seed: u64, n: usize) -> Vec<u64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
                mix(s) >> 1
            })
            .collect()
    }

    /// Runs a reconciliation to the end through the wire format; returns (messages, bytes).
    fn run(a: &mut Reconciler, b: &mut Reconciler) -> (usize, usize) {
        run_with(a, b, ControlLimits::default())
    }

    fn run_with(a: &mut Reconciler, b: &mut Reconciler, limits: ControlLimits) -> (usize, usize) {
        let mut msg = a.start();
        let (mut messages, mut bytes) = (0, 0);
        let mut to_b = true;
        loop {
            let encoded = Bytes::from(ControlMessage::Recon(msg).encode());
            messages += 1;
            bytes += encoded.len();
            let ControlMessage::Recon(items) = ControlMessage::decode(&encoded, &limits).unwrap()
            else {
                panic!("not a reconciliation message");
            };
            let side = if to_b { &mut *b } else { &mut *a };
            match side.receive(&items).unwrap() {
                Some(next) => msg = next,
                None => break,
            }
            to_b = !to_b;
        }
        assert!(a.is_done() && b.is_done());
        (messages, bytes)
    }

    fn lacking(r: &Reconciler) -> Vec<u64> {
        r.verdicts()
            .filter(|(_, v)| *v != PeerHolds::Yes)
            .map(|(d, _)| d)
            .collect()
    }

    #[test]
    fn equal_sets_settle_in_one_round_trip() {
        let set = digests(1, 1000);
        let mut a = Reconciler::new(set.clone(), ReconParams::default());
        let mut b = Reconciler::new(set, ReconParams::default());
        let (messages, _) = run(&mut a, &mut b);
        assert_eq!(messages, 2);
        assert!(lacking(&a).is_empty());
        assert!(lacking(&b).is_empty());
    }

    #[test]
    fn each_side_learns_exactly_what_the_other_lacks() {
        let common = digests(2, 2000);
        let only_a = digests(3, 7);
        let only_b = digests(4, 5);
        let mut a = Reconciler::new(
            common.iter().chain(&only_a).copied(),
            ReconParams::default(),
        );
        let mut b = Reconciler::new(
            common.iter().chain(&only_b).copied(),
            ReconParams::default(),
        );
        run(&mut a, &mut b);
        let mut want_a = only_a;
        want_a.sort_unstable();
        let mut want_b = only_b;
        want_b.sort_unstable();
        assert_eq!(lacking(&a), want_a);
        assert_eq!(lacking(&b), want_b);
    }

    #[test]
    fn disjoint_and_empty_sets_reconcile() {
        let mut a = Reconciler::new(digests(5, 300), ReconParams::default());
        let mut b = Reconciler::new(Vec::new(), ReconParams::default());
        run(&mut a, &mut b);
        assert_eq!(lacking(&a).len(), 300);
        let mut a = Reconciler::new(digests(6, 50), ReconParams::default());
        let mut b = Reconciler::new(digests(7, 60), ReconParams::default());
        run(&mut a, &mut b);
        assert_eq!(lacking(&a).len(), 50);
        assert_eq!(lacking(&b).len(), 60);
    }

    #[test]
    fn small_caps_defer_work_but_still_finish() {
        let params = ReconParams {
            limits: ControlLimits {
                max_items: 8,
                max_ids: 16,
                ..ControlLimits::default()
            },
            max_rounds: 1000,
            ..ReconParams::default()
        };
        let common = digests(8, 3000);
        let mut a = Reconciler::new(common.iter().chain(&digests(9, 100)).copied(), params);
        let mut b = Reconciler::new(common.iter().chain(&digests(10, 100)).copied(), params);
        run(&mut a, &mut b);
        assert_eq!(lacking(&a).len(), 100);
        assert_eq!(lacking(&b).len(), 100);
    }

    #[test]
    fn an_unasked_want_list_is_a_violation() {
        let mut a = Reconciler::new(digests(11, 10), ReconParams::default());
        let err = a
            .receive(&[ReconItem {
                upper: DIGEST_END,
                body: ReconBody::Want { ids: vec![] },
            }])
            .unwrap_err();
        assert_eq!(
            err,
            ReconError::Violation("a want list for ids we did not send")
        );
        assert!(a.has_failed());
    }

    #[test]
    fn a_peer_that_never_settles_is_cut_off() {
        let params = ReconParams {
            max_rounds: 5,
            ..ReconParams::default()
        };
        let mut a = Reconciler::new(digests(12, 100), params);
        let bogus = [ReconItem {
            upper: DIGEST_END,
            body: ReconBody::Fingerprint {
                fingerprint: 1,
                count: 1,
            },
        }];
        for _ in 0..5 {
            assert!(a.receive(&bogus).unwrap().is_some());
        }
        assert_eq!(a.receive(&bogus), Err(ReconError::TooManyRounds(5)));
    }

    #[test]
    fn answers_stay_within_the_message_caps() {
        let limits = ControlLimits {
            max_items: 16,
            max_ids: 32,
            ..ControlLimits::default()
        };
        let params = ReconParams {
            limits,
            ..ReconParams::default()
        };
        let mut a = Reconciler::new(digests(13, 5000), params);
        // 16 differing ranges at once, each holding many of our ids: splitting all would need
        // 32 items.
        let step = DIGEST_END / 16;
        let items: Vec<ReconItem> = (1..=16)
            .map(|k| ReconItem {
                upper: if k == 16 { DIGEST_END } else { step * k },
                body: ReconBody::Fingerprint {
                    fingerprint: 0,
                    count: 0,
                },
            })
            .collect();
        let reply = a.receive(&items).unwrap().unwrap();
        assert!(reply.len() <= 16);
        let ids: usize = reply
            .iter()
            .map(|i| match &i.body {
                ReconBody::Ids { ids, .. } | ReconBody::Want { ids } => ids.len(),
                _ => 0,
            })
            .sum();
        assert!(ids <= 32);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever the sets and the parameters, both sides end knowing exactly which of their
        /// ids the other holds.
        #[test]
        fn reconciliation_is_exact_for_any_sets_and_parameters(
            seed in 0u64..1000,
            common in 0usize..400,
            only_a in 0usize..60,
            only_b in 0usize..60,
            branching in 2usize..9,
            leaf in 1usize..24,
            max_items in 4usize..64,
            max_ids in 1usize..64,
        ) {
            let params = ReconParams {
                branching,
                leaf,
                max_rounds: 10_000,
                limits: ControlLimits { max_items, max_ids, ..ControlLimits::default() },
            };
            let shared = digests(seed, common);
            let a_only = digests(seed + 10_000, only_a);
            let b_only = digests(seed + 20_000, only_b);
            let mut a = Reconciler::new(shared.iter().chain(&a_only).copied(), params);
            let mut b = Reconciler::new(shared.iter().chain(&b_only).copied(), params);
            run_with(&mut a, &mut b, params.limits);
            let mut want_a = a_only;
            want_a.sort_unstable();
            let mut want_b = b_only;
            want_b.sort_unstable();
            proptest::prop_assert_eq!(lacking(&a), want_a);
            proptest::prop_assert_eq!(lacking(&b), want_b);
        }
    }

    #[test]
    fn the_short_bound_lies_between_its_neighbours() {
        let (a, b) = (0x1234_5678_9abc_def0, 0x1234_5680_0000_0001);
        let v = short_bound(a, b);
        assert!(a < v && v <= b);
        assert_eq!(v, 0x1234_5680_0000_0000);
    }

    #[test]
    fn digests_are_stable_and_distinct() {
        use crate::wire::CreationTimestamp;
        let id = |seq| BundleId {
            source: "dtn://a/".parse().unwrap(),
            creation: CreationTimestamp::new(crate::wire::DtnTime(1000), seq),
            fragment: None,
        };
        assert_eq!(bundle_digest(&id(0)), bundle_digest(&id(0)));
        assert_ne!(bundle_digest(&id(0)), bundle_digest(&id(1)));
        assert!(bundle_digest(&id(0)) < DIGEST_END);
    }
}
