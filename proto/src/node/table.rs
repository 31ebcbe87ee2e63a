//! The bundle table: metadata of every stored bundle, with the indices the engine needs —
//! by key, by network-wide id (duplicates), by expiry (timers) — and the tombstones of bundles
//! already handled here.
//!
//! Only metadata lives here, never payloads: a node relaying gigabytes needs memory for its
//! index, not for its store.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{BundleKey, LinkId, RxId};
use super::io::BundleMeta;
use super::time::{Instant, Now};
use crate::wire::{Bundle, BundleFlags, BundleId, DtnTime, Eid, FragmentInfo};

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
}

impl Entry {
    /// Metadata of a decoded bundle admitted at `now` with (already computed) `meta`.
    pub(crate) fn new(
        key: BundleKey,
        bundle: &Bundle,
        size: u64,
        meta: BundleMeta,
        now: Now,
    ) -> Self {
        let p = bundle.primary();
        let expires = if p.creation.time.0 != 0 {
            DtnTime(p.creation.time.0.saturating_add(p.lifetime_ms))
        } else {
            let left = p.lifetime_ms.saturating_sub(meta.age_at_receipt_ms);
            DtnTime(meta.received_at.0.saturating_add(left))
        };
        Self {
            key,
            id: bundle.id(),
            destination: p.destination.clone(),
            report_to: p.report_to.clone(),
            flags: p.flags,
            fragment: p.fragment,
            payload_len: bundle.payload().len() as u64,
            size,
            expires,
            tracks_age: p.creation.time.0 == 0 || bundle.bundle_age().is_some(),
            has_hop_count: bundle.hop_count().is_some(),
            meta,
            admitted_mono: now.mono,
            durable: false,
            pending_rx: None,
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
    used_bytes: u64,
}

impl BundleTable {
    pub(crate) fn insert(&mut self, entry: Entry) {
        self.used_bytes = self.used_bytes.saturating_add(entry.size);
        self.by_id.insert(entry.id.clone(), entry.key);
        self.expiry.insert((entry.expires, entry.key));
        self.entries.insert(entry.key, entry);
    }

    pub(crate) fn remove(&mut self, key: BundleKey) -> Option<Entry> {
        let entry = self.entries.remove(&key)?;
        self.used_bytes = self.used_bytes.saturating_sub(entry.size);
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

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// Entries with keys at or after `from`, in key order.
    pub(crate) fn range_from(&self, from: BundleKey) -> impl Iterator<Item = &Entry> + '_ {
        self.entries.range(from..).map(|(_, e)| e)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.entries.values()
    }

    pub(crate) fn last_key(&self) -> Option<BundleKey> {
        self.entries.last_key_value().map(|(k, _)| *k)
    }
}
