//! The bundle table: metadata of every stored bundle, with the indices the engine needs —
//! by key, by network-wide id (duplicates), by expiry (timers) — and the tombstones of bundles
//! already handled here.
//!
//! Only metadata lives here, never payloads: a node relaying gigabytes needs memory for its
//! index, not for its store.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{BundleKey, LinkId, RxId, TxToken};
use super::io::{BundleIndex, BundleMeta};
use super::time::{Instant, Now};
use crate::routing::BundleView;
use crate::wire::{Bundle, BundleFlags, BundleId, DtnTime, Eid, FragmentInfo, Priority};

/// What the engine knows about one stored bundle.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: BundleKey,
    pub(crate) id: BundleId,
    pub(crate) destination: Eid,
    pub(crate) report_to: Eid,
    pub(crate) flags: BundleFlags,
    pub(crate) fragment: Option<FragmentInfo>,
    pub(crate) payload_len: u64,
    /// Encoded size, counted against the storage quota.
    pub(crate) size: u64,
    /// Wall time at which the bundle expires.
    pub(crate) expires: DtnTime,
    /// The bundle carries (or, with no creation time, needs) a bundle age block.
    pub(crate) tracks_age: bool,
    pub(crate) has_hop_count: bool,
    pub(crate) meta: BundleMeta,
    /// Monotonic time of admission (for age when the wall clock is unknown).
    pub(crate) admitted_mono: Instant,
    /// False until the driver reports the `PutBundle` durable.
    pub(crate) durable: bool,
    /// The inbound transfer to accept once durable.
    pub(crate) pending_rx: Option<(LinkId, RxId)>,
    /// Priority class, from the bundle's priority block (normal without one).
    pub(crate) class: Priority,
    /// Transmissions in flight, with the copies each promises its peer (0 when the strategy does
    /// not count copies). Not durable: transfers do not survive a restart.
    pub(crate) tx: BTreeMap<TxToken, u32>,
}

impl Entry {
    /// Metadata of a bundle with index `index` admitted (or restored) at `now` with (already
    /// computed) `meta`. Admission and restart both build entries here, from the same persisted
    /// index, so a restarted node knows exactly what it knew before.
    pub(crate) fn from_index(
        key: BundleKey,
        index: &BundleIndex,
        meta: BundleMeta,
        now: Now,
    ) -> Self {
        let created = index.id.creation.time.0;
        let expires = if created != 0 {
            DtnTime(created.saturating_add(index.lifetime_ms))
        } else {
            let left = index.lifetime_ms.saturating_sub(meta.age_at_receipt_ms);
            DtnTime(meta.received_at.0.saturating_add(left))
        };
        Self {
            key,
            id: index.id.clone(),
            destination: index.destination.clone(),
            report_to: index.report_to.clone(),
            flags: index.flags,
            fragment: index.fragment(),
            payload_len: index.payload_len,
            size: index.size,
            expires,
            tracks_age: created == 0 || index.has_bundle_age,
            has_hop_count: index.has_hop_count,
            meta,
            admitted_mono: now.mono,
            durable: false,
            pending_rx: None,
            class: index.class,
            tx: BTreeMap::new(),
        }
    }

    /// Where this bundle stands in transmission order.
    pub(crate) fn order(&self) -> OrderKey {
        OrderKey::new(self.class, self.expires, self.key)
    }

    /// Copies this node may still hand on: those it holds minus those promised to transfers in
    /// flight.
    pub(crate) fn copies_available(&self) -> Option<u32> {
        let promised: u32 = self.tx.values().fold(0, |a, n| a.saturating_add(*n));
        self.meta.copies.map(|c| c.saturating_sub(promised))
    }

    /// What a router sees of this bundle.
    pub(crate) fn view(&self) -> BundleView<'_> {
        BundleView {
            key: self.key,
            source: &self.id.source,
            destination: &self.destination,
            from: self.meta.from.as_ref(),
            copies: self.copies_available(),
            in_flight: self.tx.len(),
        }
    }

    /// The bundle's age now: its age at admission plus the time held here.
    pub(crate) fn age_ms(&self, now: Now) -> u64 {
        let held = if now.wall.0 != 0 && self.meta.received_at.0 != 0 {
            now.wall.0.saturating_sub(self.meta.received_at.0)
        } else {
            now.mono.saturating_since(self.admitted_mono).as_millis() as u64
        };
        self.meta.age_at_receipt_ms.saturating_add(held)
    }
}

/// Transmission order: most urgent class first, then earliest expiry, then admission order. Every
/// contact sends in this order, so a short contact carries the alerts and, among equals, the
/// bundles that would die soonest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrderKey {
    /// 0 for emergency … 3 for bulk.
    rank: u8,
    expires: DtnTime,
    key: BundleKey,
}

impl OrderKey {
    /// Before every bundle.
    pub(crate) const FIRST: Self = Self {
        rank: 0,
        expires: DtnTime(0),
        key: BundleKey(0),
    };

    pub(crate) fn new(class: Priority, expires: DtnTime, key: BundleKey) -> Self {
        Self {
            rank: Priority::Emergency.code() - class.code(),
            expires,
            key,
        }
    }

    /// The position just after this one.
    pub(crate) fn next(self) -> Self {
        Self {
            key: BundleKey(self.key.0.saturating_add(1)),
            ..self
        }
    }
}

/// The age of a bundle as it arrives (RFC 9171 §4.4.2): its age block if it has one, otherwise
/// the time since creation by our clock, otherwise unknown (0).
pub(crate) fn age_on_arrival(bundle: &Bundle, now: Now) -> u64 {
    if let Some(age) = bundle.bundle_age() {
        return age;
    }
    let created = bundle.primary().creation.time.0;
    if created != 0 && now.wall.0 != 0 {
        return now.wall.0.saturating_sub(created);
    }
    0
}

/// All stored bundles' metadata and its indices.
#[derive(Debug, Default)]
pub(crate) struct BundleTable {
    entries: BTreeMap<BundleKey, Entry>,
    by_id: BTreeMap<BundleId, BundleKey>,
    expiry: BTreeSet<(DtnTime, BundleKey)>,
    tombstones: BTreeMap<BundleId, DtnTime>,
    tombstone_expiry: BTreeSet<(DtnTime, BundleId)>,
    /// Transmission order (see [`OrderKey`]).
    order: BTreeMap<OrderKey, BundleKey>,
    used_bytes: u64,
    /// Bytes stored per class, indexed by [`Priority::code`].
    used_by_class: [u64; 4],
}

impl BundleTable {
    pub(crate) fn insert(&mut self, entry: Entry) {
        self.used_bytes = self.used_bytes.saturating_add(entry.size);
        let class = &mut self.used_by_class[usize::from(entry.class.code())];
        *class = class.saturating_add(entry.size);
        self.order.insert(entry.order(), entry.key);
        self.by_id.insert(entry.id.clone(), entry.key);
        self.expiry.insert((entry.expires, entry.key));
        self.entries.insert(entry.key, entry);
    }

    pub(crate) fn remove(&mut self, key: BundleKey) -> Option<Entry> {
        let entry = self.entries.remove(&key)?;
        self.used_bytes = self.used_bytes.saturating_sub(entry.size);
        let class = &mut self.used_by_class[usize::from(entry.class.code())];
        *class = class.saturating_sub(entry.size);
        self.order.remove(&entry.order());
        self.by_id.remove(&entry.id);
        self.expiry.remove(&(entry.expires, key));
        Some(entry)
    }

    pub(crate) fn get(&self, key: BundleKey) -> Option<&Entry> {
        self.entries.get(&key)
    }

    pub(crate) fn get_mut(&mut self, key: BundleKey) -> Option<&mut Entry> {
        self.entries.get_mut(&key)
    }

    pub(crate) fn key_of(&self, id: &BundleId) -> Option<BundleKey> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn is_tombstoned(&self, id: &BundleId) -> bool {
        self.tombstones.contains_key(id)
    }

    pub(crate) fn add_tombstone(&mut self, id: BundleId, until: DtnTime) {
        if let Some(old) = self.tombstones.insert(id.clone(), until) {
            self.tombstone_expiry.remove(&(old, id.clone()));
        }
        self.tombstone_expiry.insert((until, id));
    }

    /// Removes and returns tombstones whose time has passed.
    pub(crate) fn expire_tombstones(&mut self, now: DtnTime) -> Vec<BundleId> {
        let mut out = Vec::new();
        while let Some((until, id)) = self.tombstone_expiry.first().cloned() {
            if until > now {
                break;
            }
            self.tombstone_expiry.pop_first();
            self.tombstones.remove(&id);
            out.push(id);
        }
        out
    }

    /// Keys of bundles expired at `now`, earliest first.
    pub(crate) fn expired(&self, now: DtnTime) -> Vec<BundleKey> {
        self.expiry
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, k)| *k)
            .collect()
    }

    /// The earliest wall time at which something expires.
    pub(crate) fn next_deadline(&self) -> Option<DtnTime> {
        let a = self.expiry.first().map(|(t, _)| *t);
        let b = self.tombstone_expiry.first().map(|(t, _)| *t);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// Bytes stored of one class.
    pub(crate) fn used_by(&self, class: Priority) -> u64 {
        self.used_by_class[usize::from(class.code())]
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// Ids of bundles handled here and remembered (reconciliation counts them as held).
    pub(crate) fn tombstone_ids(&self) -> impl Iterator<Item = &BundleId> + '_ {
        self.tombstones.keys()
    }

    /// Entries at or after `from` in transmission order.
    pub(crate) fn in_order_from(&self, from: OrderKey) -> impl Iterator<Item = &Entry> + '_ {
        self.order
            .range(from..)
            .filter_map(|(_, k)| self.entries.get(k))
    }

    /// Eviction candidates in eviction order: least urgent class first, then admission order.
    pub(crate) fn eviction_order(&self) -> impl Iterator<Item = &Entry> + '_ {
        Priority::ALL
            .into_iter()
            .rev()
            .flat_map(move |class| self.entries.values().filter(move |e| e.class == class))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.entries.values()
    }

    pub(crate) fn last_key(&self) -> Option<BundleKey> {
        self.entries.last_key_value().map(|(k, _)| *k)
    }
}
