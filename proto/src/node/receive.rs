//! Bundle reception, admission, local delivery and deletion (RFC 9171 §5.6–§5.10).

use std::collections::BTreeSet;

use bytes::Bytes;

use super::io::{BundleIndex, BundleMeta, Output, RefuseReason, Report, StoreOp, StoredBundle};
use super::table::{Entry, age_on_arrival};
use super::{BundleKey, LinkId, Node, RxId, SubmitError};
use crate::wire::admin::{AdminRecord, ReasonCode, StatusAssertion, StatusKind, StatusReport};
use crate::wire::copies::{COPIES_BLOCK_TYPE, copies_of};
use crate::wire::priority::PRIORITY_BLOCK_TYPE;
use crate::wire::{BlockType, Bundle, BundleFlags, BundleId, Priority};

/// Block types this node processes or carries knowingly. BPSec blocks (RFC 9172) are carried
/// untouched: a node that is neither source nor acceptor of a security operation forwards them.
fn known_block(t: BlockType) -> bool {
    matches!(
        t,
        BlockType::PAYLOAD
            | BlockType::PREVIOUS_NODE
            | BlockType::BUNDLE_AGE
            | BlockType::HOP_COUNT
            | BlockType::BLOCK_INTEGRITY
            | BlockType::BLOCK_CONFIDENTIALITY
    ) || t == PRIORITY_BLOCK_TYPE
        || t == COPIES_BLOCK_TYPE
}

impl Node {
    /// A whole bundle arrived from a peer.
    pub(super) fn receive(&mut self, link: LinkId, rx: RxId, bytes: Bytes) {
        self.counters.received += 1;
        let mut bundle = match Bundle::decode_with(bytes.clone(), &self.config.limits) {
            Ok(b) => b,
            Err(error) => {
                self.outputs
                    .push_back(Output::Report(Report::Malformed { link, error }));
                self.refuse(
                    link,
                    rx,
                    RefuseReason::NotAcceptable,
                    "malformed bundle".into(),
                );
                return;
            }
        };
        // RFC 9171 §5.6 step 4: blocks we cannot process.
        let verdict = bundle.apply_unknown_block_policy(known_block);
        if verdict.delete_bundle {
            self.report_status(
                &bundle,
                StatusKind::Deleted,
                ReasonCode::BlockUnintelligible,
            );
            self.refuse(
                link,
                rx,
                RefuseReason::NotAcceptable,
                "unintelligible block".into(),
            );
            return;
        }
        if verdict.report {
            self.report_status(
                &bundle,
                StatusKind::Received,
                ReasonCode::BlockUnintelligible,
            );
        }
        let bytes = if verdict.removed.is_empty() {
            bytes
        } else {
            Bytes::from(bundle.encode())
        };
        let id = bundle.id();
        let peer = self.links.get(&link).and_then(|l| l.peer.clone());
        if let Some(key) = self.table.key_of(&id) {
            // The peer has it too: never offer it back.
            if let (Some(peer), Some(entry)) = (peer, self.table.get_mut(key)) {
                // Ops apply in order, so this update lands after the bundle's PutBundle even
                // while that is not yet durable.
                if entry.meta.forwarded_to.insert(peer) {
                    let meta = entry.meta.clone();
                    self.outputs
                        .push_back(Output::Store(StoreOp::UpdateMeta { key, meta }));
                }
            }
            self.refuse(
                link,
                rx,
                RefuseReason::Duplicate,
                format!("duplicate of {key}"),
            );
            return;
        }
        // A fragment of a bundle withdrawn whole (`Node::discard`) is as unwanted as the bundle.
        let whole_withdrawn = id.fragment.is_some()
            && self.table.is_tombstoned(&BundleId {
                fragment: None,
                ..id.clone()
            });
        if self.table.is_tombstoned(&id) || whole_withdrawn {
            self.refuse(
                link,
                rx,
                RefuseReason::Duplicate,
                "already handled here".into(),
            );
            return;
        }
        if bundle.hop_count().is_some_and(|h| h.exceeded()) {
            self.report_status(&bundle, StatusKind::Deleted, ReasonCode::HopLimitExceeded);
            self.refuse(
                link,
                rx,
                RefuseReason::NotAcceptable,
                "hop limit exceeded".into(),
            );
            return;
        }
        let age = age_on_arrival(&bundle, self.now);
        if age >= bundle.primary().lifetime_ms {
            self.report_status(&bundle, StatusKind::Deleted, ReasonCode::LifetimeExpired);
            self.refuse(
                link,
                rx,
                RefuseReason::NotAcceptable,
                "lifetime expired".into(),
            );
            return;
        }
        let size = bytes.len() as u64;
        // Relay traffic does not evict relay traffic (that only churns); a bundle for this
        // node may evict relay copies.
        let for_us = bundle.primary().destination.node_id().as_ref() == Some(&self.config.node_id);
        let class = Priority::of(&bundle).unwrap_or_default();
        if !self.make_room(size, class, for_us) {
            self.refuse(
                link,
                rx,
                RefuseReason::StorageFull,
                format!(
                    "storage quota of {} bytes reached",
                    self.config.storage_quota
                ),
            );
            return;
        }
        let from = bundle.previous_node().cloned().or(peer.clone());
        // A malformed copies block counts as none: one copy, wait phase.
        let carried = copies_of(&bundle).ok().flatten();
        let mut meta = BundleMeta {
            received_at: self.now.wall,
            age_at_receipt_ms: age,
            from: from.clone(),
            copies: self.router.initial_copies(carried, false),
            ..BundleMeta::default()
        };
        meta.forwarded_to.extend(from);
        meta.forwarded_to.extend(peer);
        let key = self.admit(&bundle, bytes, meta, Some((link, rx)));
        self.counters.admitted += 1;
        if bundle
            .primary()
            .flags
            .contains(BundleFlags::REPORT_RECEPTION)
        {
            self.report_status(&bundle, StatusKind::Received, ReasonCode::NoInformation);
        }
        self.reassemble_if_local(&bundle);
        self.outputs.push_back(Output::Report(Report::Admitted {
            key,
            id: bundle.id(),
            link: Some(link),
        }));
    }

    /// Stores a bundle built on this node (application data or a status report).
    pub(super) fn admit_local(&mut self, bundle: Bundle) -> Result<BundleKey, SubmitError> {
        let bytes = Bytes::from(bundle.encode());
        if bytes.len() > self.config.limits.max_bundle_size {
            return Err(SubmitError::TooLarge {
                size: bytes.len(),
                max: self.config.limits.max_bundle_size,
            });
        }
        let needed = bytes.len() as u64;
        let class = Priority::of(&bundle).unwrap_or_default();
        if !self.make_room(needed, class, true) {
            return Err(SubmitError::StorageFull {
                used: self.table.used_bytes(),
                quota: self.config.storage_quota,
                needed,
                class,
                available: self.room_for(class),
            });
        }
        let meta = BundleMeta {
            received_at: self.now.wall,
            age_at_receipt_ms: bundle.bundle_age().unwrap_or(0),
            copies: self.router.initial_copies(None, true),
            ..BundleMeta::default()
        };
        let key = self.admit(&bundle, bytes, meta, None);
        self.counters.submitted += 1;
        self.outputs.push_back(Output::Report(Report::Admitted {
            key,
            id: bundle.id(),
            link: None,
        }));
        Ok(key)
    }

    fn admit(
        &mut self,
        bundle: &Bundle,
        bytes: Bytes,
        meta: BundleMeta,
        rx: Option<(LinkId, RxId)>,
    ) -> BundleKey {
        let key = BundleKey(self.next_key);
        self.next_key += 1;
        let index = Box::new(BundleIndex::of(bundle, bytes.len() as u64));
        let mut entry = Entry::from_index(key, &index, meta.clone(), self.now);
        entry.pending_rx = rx;
        self.table.insert(entry);
        self.outputs.push_back(Output::Store(StoreOp::PutBundle {
            key,
            bytes,
            index,
            meta,
        }));
        for (report, to) in std::mem::take(&mut self.deferred_reports) {
            self.send_report(report, to);
        }
        key
    }

    /// The driver made `key` durable: accept the transfer, deliver, and let routing see it.
    pub(super) fn stored(&mut self, key: BundleKey) {
        let Some(entry) = self.table.get_mut(key) else {
            return;
        };
        if entry.durable {
            return;
        }
        entry.durable = true;
        if let Some((link, rx)) = entry.pending_rx.take() {
            self.outputs.push_back(Output::Accept { link, rx });
        }
        let order = entry.order();
        for link in self.links.values_mut() {
            link.cursor = link.cursor.min(order);
        }
        self.deliver_locally(key);
    }

    /// Delivers `key` to every matching registration that has not had it, then retires a
    /// singleton bundle whose journey ends here.
    pub(super) fn deliver_locally(&mut self, key: BundleKey) {
        let Some(entry) = self.table.get(key) else {
            return;
        };
        if !entry.durable || entry.fragment.is_some() {
            return;
        }
        let destination = entry.destination.clone();
        if !self.registrations.contains(&destination)
            || entry.meta.delivered_to.contains(&destination)
        {
            return;
        }
        let report = entry.flags.contains(BundleFlags::REPORT_DELIVERY);
        let singleton = destination.is_singleton();
        self.outputs.push_back(Output::Deliver {
            endpoint: destination.clone(),
            key,
        });
        self.outputs.push_back(Output::Report(Report::Delivered {
            key,
            endpoint: destination.clone(),
        }));
        self.counters.delivered += 1;
        if report {
            self.report_entry(key, StatusKind::Delivered, ReasonCode::NoInformation);
        }
        if singleton {
            self.delete(key, ReasonCode::NoInformation);
            return;
        }
        // Group bundles stay and keep spreading until they expire (RFC 9171 §4.2.5.1.1).
        if let Some(entry) = self.table.get_mut(key) {
            entry.meta.delivered_to.insert(destination);
            let meta = entry.meta.clone();
            self.outputs
                .push_back(Output::Store(StoreOp::UpdateMeta { key, meta }));
        }
    }

    /// Removes a bundle, remembering its id until it expires so a late copy is not taken again.
    pub(super) fn delete(&mut self, key: BundleKey, reason: ReasonCode) {
        let Some(entry) = self.table.remove(key) else {
            return;
        };
        if let Some((link, rx)) = entry.pending_rx {
            self.outputs.push_back(Output::Refuse {
                link,
                rx,
                reason: RefuseReason::NotAcceptable,
            });
        }
        for link in self.links.values_mut() {
            link.in_flight.remove(&key);
        }
        if reason != ReasonCode::NoInformation && entry.flags.contains(BundleFlags::REPORT_DELETION)
        {
            self.report_for(&entry, StatusKind::Deleted, reason);
        }
        self.outputs
            .push_back(Output::Store(StoreOp::DeleteBundle { key }));
        self.table.add_tombstone(entry.id.clone(), entry.expires);
        self.outputs.push_back(Output::Store(StoreOp::PutTombstone {
            id: entry.id,
            until: entry.expires,
        }));
        self.outputs
            .push_back(Output::Report(Report::Deleted { key, reason }));
    }

    /// Makes room for a bundle of `size` bytes and class `class`, evicting stored bundles if
    /// needed; false if it cannot be admitted.
    ///
    /// The class must fit its storage share and, below emergency, leave the emergency reserve
    /// (see [`super::StorageShares`]). Eviction takes the least urgent class first, oldest first
    /// within a class, and only bundles of a lower class than the newcomer — or of the same class
    /// if `same_class` (this node's own submissions and bundles addressed to it matter more than
    /// relay copies; relay traffic evicting relay traffic of its own class only churns). So an
    /// emergency bundle is never evicted to admit a lower class.
    ///
    /// Only bundles that another node is known to hold are evicted, never the only copy of a
    /// bundle (our own submissions not yet forwarded), nor one waiting for local delivery or for
    /// its store write: dropping those would lose data the network accepted. If that is not
    /// enough, nothing is evicted and the caller refuses.
    /// Bytes `class` may still add without evicting anything: the tightest of the quota, the
    /// class's share and (below emergency) the emergency reserve.
    fn room_for(&self, class: Priority) -> u64 {
        let quota = self.config.storage_quota;
        let shares = self.config.storage_shares;
        let used = self.table.used_bytes();
        let pool_used = if class == Priority::Emergency {
            used
        } else {
            used.saturating_sub(self.table.used_by(Priority::Emergency))
        };
        let class_room = shares
            .cap(class, quota)
            .saturating_sub(self.table.used_by(class));
        let pool_room = shares
            .below_emergency(class, quota)
            .saturating_sub(pool_used);
        quota.saturating_sub(used).min(class_room).min(pool_room)
    }

    fn make_room(&mut self, size: u64, class: Priority, same_class: bool) -> bool {
        let quota = self.config.storage_quota;
        let shares = self.config.storage_shares;
        let used = self.table.used_bytes();
        let class_cap = shares.cap(class, quota);
        let pool_cap = shares.below_emergency(class, quota);
        let pool_used = if class == Priority::Emergency {
            used
        } else {
            used.saturating_sub(self.table.used_by(Priority::Emergency))
        };
        if size > class_cap {
            return false;
        }
        // Bytes to free: of this class (its share), and of any class that counts (quota, reserve).
        let mut need_class = self
            .table
            .used_by(class)
            .saturating_add(size)
            .saturating_sub(class_cap);
        let mut need = used
            .saturating_add(size)
            .saturating_sub(quota)
            .max(pool_used.saturating_add(size).saturating_sub(pool_cap));
        if need == 0 && need_class == 0 {
            return true;
        }
        // At most the bytes of the classes it may evict: under a flood that cannot make room,
        // refusing costs no scan of the table.
        let reachable: u64 = Priority::ALL
            .into_iter()
            .filter(|c| *c < class || *c == class && same_class)
            .map(|c| self.table.used_by(c))
            .sum();
        if reachable < need.max(need_class) {
            return false;
        }
        let node_id = &self.config.node_id;
        let evictable = |e: &Entry| {
            let lower = e.class < class || e.class == class && same_class;
            let local = e.destination.node_id().as_ref() == Some(node_id);
            let held_elsewhere = !e.meta.forwarded_to.is_empty();
            lower && e.durable && held_elsewhere && !local && e.pending_rx.is_none()
        };
        let mut victims = BTreeSet::new();
        if need_class > 0 {
            // Over its share: only bundles of the same class help.
            for e in self.table.iter().filter(|e| e.class == class) {
                if need_class == 0 {
                    break;
                }
                if evictable(e) {
                    victims.insert(e.key);
                    need_class = need_class.saturating_sub(e.size);
                    need = need.saturating_sub(e.size);
                }
            }
            if need_class > 0 {
                return false;
            }
        }
        for e in self.table.eviction_order() {
            if need == 0 {
                break;
            }
            if evictable(e) && victims.insert(e.key) {
                need = need.saturating_sub(e.size);
            }
        }
        if need > 0 {
            return false;
        }
        self.evicting = true;
        for key in victims {
            self.counters.evicted += 1;
            self.delete(key, ReasonCode::DepletedStorage);
        }
        self.evicting = false;
        true
    }

    fn refuse(&mut self, link: LinkId, rx: RxId, reason: RefuseReason, detail: String) {
        match reason {
            RefuseReason::Duplicate => self.counters.refused_duplicate += 1,
            RefuseReason::StorageFull => self.counters.refused_storage += 1,
            RefuseReason::NotAcceptable => self.counters.refused_invalid += 1,
        }
        self.outputs.push_back(Output::Report(Report::Refused {
            link,
            reason,
            detail,
        }));
        self.outputs.push_back(Output::Refuse { link, rx, reason });
    }

    /// Fragments addressed to a registration here are reassembled; the whole bundle is then
    /// admitted as a local bundle and delivered once durable (RFC 9171 §5.9).
    fn reassemble_if_local(&mut self, bundle: &Bundle) {
        if bundle.fragment().is_none()
            || !self.registrations.contains(&bundle.primary().destination)
        {
            return;
        }
        let Ok(Some(whole)) = self.reassembler.insert(bundle) else {
            return;
        };
        if self.table.key_of(&whole.id()).is_some() || self.table.is_tombstoned(&whole.id()) {
            return;
        }
        let bytes = Bytes::from(whole.encode());
        // The whole bundle obeys the same limits as any other: a fragmented ADU may not smuggle
        // in more than one bundle may carry, nor overrun the store. Its fragments stay stored.
        let size = bytes.len();
        let class = Priority::of(&whole).unwrap_or_default();
        if size > self.config.limits.max_bundle_size || !self.make_room(size as u64, class, true) {
            return;
        }
        let meta = BundleMeta {
            received_at: self.now.wall,
            age_at_receipt_ms: age_on_arrival(&whole, self.now),
            ..BundleMeta::default()
        };
        self.admit(&whole, bytes, meta, None);
    }

    /// Rebuilds the metadata of one stored bundle after a restart, from its persisted index:
    /// no bytes are read or decoded except a local fragment's, which goes back to the
    /// reassembler.
    pub(super) fn restore_bundle(&mut self, stored: StoredBundle) {
        let StoredBundle {
            key,
            index,
            mut meta,
            bytes,
        } = stored;
        if index.size > self.config.limits.max_bundle_size as u64 {
            // Stored under a larger limit than this configuration allows: delete it rather
            // than carry (and forward) what this node would refuse from a peer.
            self.outputs
                .push_back(Output::Store(StoreOp::DeleteBundle { key }));
            return;
        }
        let fragment = match bytes {
            // The rule of `BundleIndex::needs_bytes_on_restore`, against the restored set.
            Some(bytes)
                if index.id.fragment.is_some()
                    && self.registrations.contains(&index.destination) =>
            {
                match Bundle::decode_with(bytes, &self.config.limits) {
                    Ok(bundle) => Some(bundle),
                    Err(_) => {
                        // A stored bundle that no longer decodes (limits changed,
                        // corruption): delete it rather than crash or carry it forever.
                        self.outputs
                            .push_back(Output::Store(StoreOp::DeleteBundle { key }));
                        return;
                    }
                }
            }
            _ => None,
        };
        if meta.copies.is_none() {
            // Stored before the strategy counted copies: start counting from what it carries.
            let local = index.id.source.node_id().as_ref() == Some(&self.config.node_id);
            meta.copies = self.router.initial_copies(index.carried_copies, local);
        }
        let mut entry = Entry::from_index(key, &index, meta, self.now);
        entry.durable = true;
        if index.id.source == self.config.node_id {
            self.last_creation = self.last_creation.max(index.id.creation);
        }
        self.table.insert(entry);
        if let Some(bundle) = fragment {
            let _ = self.reassembler.insert(&bundle);
        }
    }

    /// Sends a status report about `subject` if it asked for this kind (RFC 9171 §5.1).
    fn report_status(&mut self, subject: &Bundle, kind: StatusKind, reason: ReasonCode) {
        let flags = subject.primary().flags;
        let wanted = match kind {
            StatusKind::Received => BundleFlags::REPORT_RECEPTION,
            StatusKind::Forwarded => BundleFlags::REPORT_FORWARDING,
            StatusKind::Delivered => BundleFlags::REPORT_DELIVERY,
            StatusKind::Deleted => BundleFlags::REPORT_DELETION,
        };
        if !flags.contains(wanted) || subject.primary().report_to.is_null() {
            return;
        }
        let report = StatusReport::for_bundle(subject, kind, reason, self.now.wall);
        self.send_report(report, subject.primary().report_to.clone());
    }

    /// Status report from stored metadata (the payload is not at hand).
    pub(super) fn report_entry(&mut self, key: BundleKey, kind: StatusKind, reason: ReasonCode) {
        if let Some(entry) = self.table.get(key).cloned() {
            self.report_for(&entry, kind, reason);
        }
    }

    fn report_for(&mut self, entry: &Entry, kind: StatusKind, reason: ReasonCode) {
        if entry.report_to.is_null() || entry.flags.contains(BundleFlags::ADMIN_RECORD) {
            return;
        }
        let time = entry
            .flags
            .contains(BundleFlags::STATUS_TIME_REQUESTED)
            .then_some(self.now.wall);
        let asserted = StatusAssertion::Asserted { time };
        let no = StatusAssertion::NotAsserted;
        let report = StatusReport {
            received: if kind == StatusKind::Received {
                asserted
            } else {
                no
            },
            forwarded: if kind == StatusKind::Forwarded {
                asserted
            } else {
                no
            },
            delivered: if kind == StatusKind::Delivered {
                asserted
            } else {
                no
            },
            deleted: if kind == StatusKind::Deleted {
                asserted
            } else {
                no
            },
            reason,
            source: entry.id.source.clone(),
            creation: entry.id.creation,
            fragment: entry.fragment.map(|f| (f.offset, entry.payload_len)),
        };
        self.send_report(report, entry.report_to.clone());
    }

    fn send_report(&mut self, report: StatusReport, to: crate::wire::Eid) {
        if self.evicting {
            // A deletion report admitted now would take the room just made for the bundle
            // that evicted its subject, and overrun the quota: it waits for that admission.
            self.deferred_reports.push((report, to));
            return;
        }
        let creation = self.next_creation();
        let node_id = self.config.node_id.clone();
        let lifetime = self.config.report_lifetime_ms;
        let Ok(bundle) =
            AdminRecord::StatusReport(report).to_bundle(node_id, to, creation, lifetime)
        else {
            return;
        };
        // A full store drops the report, never the subject: reports are best-effort.
        let _ = self.admit_local(bundle);
    }
}
