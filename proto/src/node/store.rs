//! `MemStore`: the reference semantics of a node's durable state, in memory.
//!
//! Drivers apply [`StoreOp`]s in order; [`MemStore::restored`] is what a restart recovers. The
//! simulator uses it directly, with writes split into *pending* and *durable* so a crash can lose
//! what was not yet flushed; the daemon's sled store is tested against it op for op.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::BundleKey;
use super::io::{BundleIndex, BundleMeta, Restored, StoreOp, StoredBundle};
use crate::wire::{BundleId, DtnTime, Eid};

/// Durable state as plain maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreState {
    /// Bundles: bytes and metadata.
    pub bundles: BTreeMap<BundleKey, (Bytes, BundleMeta)>,
    /// The index of each bundle in `bundles` (same keys), written once by `PutBundle`. A map of
    /// its own so that readers of `bundles` need not care about it.
    pub indices: BTreeMap<BundleKey, BundleIndex>,
    /// Tombstones.
    pub tombstones: BTreeMap<BundleId, DtnTime>,
    /// Registrations.
    pub registrations: BTreeSet<Eid>,
    /// The router's persisted state.
    pub router_state: Option<Bytes>,
}

impl StoreState {
    /// Applies one op.
    pub fn apply(&mut self, op: StoreOp) {
        match op {
            StoreOp::PutBundle {
                key,
                bytes,
                index,
                meta,
            } => {
                self.bundles.insert(key, (bytes, meta));
                self.indices.insert(key, *index);
            }
            StoreOp::UpdateMeta { key, meta } => {
                if let Some(entry) = self.bundles.get_mut(&key) {
                    entry.1 = meta;
                }
            }
            StoreOp::DeleteBundle { key } => {
                self.bundles.remove(&key);
                self.indices.remove(&key);
            }
            StoreOp::PutTombstone { id, until } => {
                self.tombstones.insert(id, until);
            }
            StoreOp::DeleteTombstone { id } => {
                self.tombstones.remove(&id);
            }
            StoreOp::PutRegistration { endpoint } => {
                self.registrations.insert(endpoint);
            }
            StoreOp::DeleteRegistration { endpoint } => {
                self.registrations.remove(&endpoint);
            }
            StoreOp::PutRouterState { state } => {
                self.router_state = Some(state);
            }
        }
    }

    /// What `Node::new` gets back after a restart: every bundle's index and metadata, and bytes
    /// only where [`BundleIndex::needs_bytes_on_restore`] asks for them, as the daemon's store
    /// does (sharing bytes would cost nothing here, but the engine must work without them).
    pub fn restored(&self) -> Restored {
        let registrations: Vec<Eid> = self.registrations.iter().cloned().collect();
        Restored {
            bundles: self
                .bundles
                .iter()
                .filter_map(|(key, (bytes, meta))| {
                    let index = self.indices.get(key)?;
                    Some(StoredBundle {
                        key: *key,
                        index: index.clone(),
                        meta: meta.clone(),
                        bytes: index
                            .needs_bytes_on_restore(&registrations)
                            .then(|| bytes.clone()),
                    })
                })
                .collect(),
            tombstones: self
                .tombstones
                .iter()
                .map(|(id, until)| (id.clone(), *until))
                .collect(),
            registrations,
            router_state: self.router_state.clone(),
        }
    }
}

/// An in-memory store with a write-behind queue: ops are pending until `flush`.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    durable: StoreState,
    pending: Vec<StoreOp>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues an op (not yet durable).
    pub fn apply(&mut self, op: StoreOp) {
        self.pending.push(op);
    }

    /// Makes every queued op durable; returns the bundle keys whose `PutBundle` became durable,
    /// for `Input::Stored`.
    pub fn flush(&mut self) -> Vec<BundleKey> {
        let mut stored = Vec::new();
        for op in self.pending.drain(..) {
            if let StoreOp::PutBundle { key, .. } = &op {
                stored.push(*key);
            }
            self.durable.apply(op);
        }
        stored
    }

    /// Loses every op not yet flushed, as a power cut would.
    pub fn crash(&mut self) {
        self.pending.clear();
    }

    /// Bytes of a bundle: pending writes first (the driver reads its own writes), then durable.
    pub fn bundle(&self, key: BundleKey) -> Option<Bytes> {
        let mut found = self.durable.bundles.get(&key).map(|(b, _)| b.clone());
        for op in &self.pending {
            match op {
                StoreOp::PutBundle { key: k, bytes, .. } if *k == key => {
                    found = Some(bytes.clone())
                }
                StoreOp::DeleteBundle { key: k } if *k == key => found = None,
                _ => {}
            }
        }
        found
    }

    /// The durable state.
    pub fn durable(&self) -> &StoreState {
        &self.durable
    }

    /// What a restart recovers.
    pub fn restored(&self) -> Restored {
        self.durable.restored()
    }
}
