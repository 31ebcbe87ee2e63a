//! Links and forwarding: what to offer each peer, and what happens when it answers.
//!
//! Each link keeps a cursor over the bundle table so that a contact costs work proportional to
//! what it carries, not to the store's size times the number of transmissions.

use std::collections::BTreeSet;

use super::io::{Output, RefuseReason, Report, Rewrite, StoreOp, TxOutcome};
use super::shares::InFlight;
use super::table::OrderKey;
use super::{BundleKey, Link, LinkId, Node, TxToken};
use crate::routing::{PeerView, Retain};
use crate::wire::BundleFlags;
use crate::wire::admin::{ReasonCode, StatusKind};

impl Node {
    pub(super) fn link_up(&mut self, link: LinkId, peer: Option<crate::wire::Eid>) {
        self.links.insert(
            link,
            Link {
                peer,
                in_flight: BTreeSet::new(),
                refused: BTreeSet::new(),
                cursor: OrderKey::FIRST,
                rate: None,
                control: None,
            },
        );
        if let Some(peer) = self.links.get(&link).and_then(|l| l.peer.clone()) {
            self.router_contact(&peer);
        }
    }

    /// The driver's measure of a link's rate, in bytes per second: it sizes how many lower-class
    /// bytes may be in flight ahead of an alert (see [`super::LinkShaping`]). Call it after
    /// `LinkUp`, and again whenever the estimate changes; it applies from the next input.
    /// Unknown links are ignored.
    pub fn set_link_rate(&mut self, link: LinkId, bytes_per_second: u64) {
        if let Some(l) = self.links.get_mut(&link) {
            l.rate = Some(bytes_per_second);
        }
    }

    pub(super) fn link_down(&mut self, link: LinkId) {
        self.links.remove(&link);
        // Transmissions in flight on it failed; the bundles stay for the next contact.
        let lost: Vec<TxToken> = self
            .in_flight
            .iter()
            .filter(|(_, (l, _))| *l == link)
            .map(|(t, _)| *t)
            .collect();
        for token in lost {
            if let Some((_, key)) = self.in_flight.remove(&token)
                && let Some(entry) = self.table.get_mut(key)
            {
                entry.tx.remove(&token);
            }
            self.counters.forward_failed += 1;
        }
    }

    /// Offers bundles on every link with room in its window.
    pub(super) fn pump_links(&mut self) {
        self.router.set_now(self.now);
        let ids: Vec<LinkId> = self.links.keys().copied().collect();
        for id in ids {
            self.pump_link(id);
        }
    }

    fn pump_link(&mut self, id: LinkId) {
        let window = self.config.window_per_link;
        let Some(link) = self.links.get(&id) else {
            return;
        };
        let Some(peer) = link.peer.clone() else {
            return; // Without the peer's identity nothing can be judged safe to send.
        };
        if link.in_flight.len() >= window || link.control.as_ref().is_some_and(|c| c.holds_offers())
        {
            return; // Full, or reconciling: offers wait for its result.
        }
        let mut room = window - link.in_flight.len();
        // What this link carries now, by class: lower classes may not crowd out alerts.
        let mut carrying = InFlight::default();
        for e in link.in_flight.iter().filter_map(|k| self.table.get(*k)) {
            carrying.add(e.class, e.size);
        }
        let byte_budget = self.config.shaping.byte_budget(link.rate);
        // Bundles already on their way to this peer over another link (two sessions to one
        // peer, e.g. one it opened and one we opened): one copy in flight is enough.
        let elsewhere: BTreeSet<BundleKey> = self
            .links
            .iter()
            .filter(|(other, l)| **other != id && l.peer.as_ref() == Some(&peer))
            .flat_map(|(_, l)| l.in_flight.iter().copied())
            .collect();
        let mut cursor = link.cursor;
        let mut picks = Vec::new();
        // Most urgent class first, then earliest expiry (see `OrderKey`).
        for entry in self.table.in_order_from(link.cursor) {
            if room == 0 {
                break;
            }
            if !carrying.admits(entry.class, window, byte_budget) {
                // Everything after is of this class or a lower one: wait for the link to drain,
                // and consider this bundle again then (the cursor stays before it).
                break;
            }
            cursor = entry.order().next();
            if !entry.durable
                || link
                    .control
                    .as_ref()
                    .is_some_and(|c| !c.may_offer(entry.key))
                || link.in_flight.contains(&entry.key)
                || elsewhere.contains(&entry.key)
                || link.refused.contains(&entry.key)
                || entry.meta.forwarded_to.contains(&peer)
                || entry.id.source == peer
                || entry.fragment.is_some() && self.registrations.contains(&entry.destination)
            {
                continue;
            }
            // A bundle whose singleton destination is this node stays here for delivery.
            if entry.destination.is_singleton()
                && entry.destination.node_id().as_ref() == Some(&self.config.node_id)
            {
                continue;
            }
            let view = entry.view();
            let peer_view = PeerView { node_id: &peer };
            if !self.router.should_offer(&view, &peer_view) {
                continue;
            }
            let copies = self.router.copies_to_hand(&view, &peer_view);
            let rewrite = Rewrite {
                previous_node: self.config.node_id.clone(),
                bundle_age_ms: entry.tracks_age.then(|| entry.age_ms(self.now)),
                increment_hop_count: entry.has_hop_count,
                copies,
            };
            picks.push((entry.key, rewrite, copies.unwrap_or(0)));
            carrying.add(entry.class, entry.size);
            room -= 1;
        }
        if let Some(link) = self.links.get_mut(&id) {
            link.cursor = cursor;
        }
        for (key, rewrite, handed) in picks {
            let token = TxToken(self.next_token);
            self.next_token += 1;
            self.in_flight.insert(token, (id, key));
            if let Some(entry) = self.table.get_mut(key) {
                // Promised to this transfer until it ends: no other transfer may hand them out.
                entry.tx.insert(token, handed);
            }
            if let Some(link) = self.links.get_mut(&id) {
                link.in_flight.insert(key);
            }
            self.outputs.push_back(Output::Transmit {
                link: id,
                token,
                key,
                rewrite,
            });
        }
    }

    pub(super) fn transmitted(&mut self, token: TxToken, outcome: TxOutcome) {
        let Some((link_id, key)) = self.in_flight.remove(&token) else {
            return; // Unknown or already settled (e.g. the link went down first).
        };
        let handed = self
            .table
            .get_mut(key)
            .and_then(|e| e.tx.remove(&token))
            .unwrap_or(0);
        let peer = self.links.get_mut(&link_id).and_then(|link| {
            link.in_flight.remove(&key);
            link.peer.clone()
        });
        let Some(peer) = peer else {
            return;
        };
        match outcome {
            TxOutcome::Accepted | TxOutcome::Refused(RefuseReason::Duplicate) => {
                // A peer that refuses a duplicate holds the bundle as surely as one that just
                // took it (e.g. it stored it, then lost power before its ack reached us).
                let accepted = outcome == TxOutcome::Accepted;
                if accepted {
                    self.counters.forwarded += 1;
                    self.outputs
                        .push_back(Output::Report(Report::Forwarded { key, link: link_id }));
                    self.spend_copies(key, handed);
                } else {
                    self.counters.forward_failed += 1;
                }
                self.peer_has(key, &peer);
                let Some(entry) = self.table.get(key) else {
                    return;
                };
                let forwarding_report = entry.flags.contains(BundleFlags::REPORT_FORWARDING);
                let spent = entry.meta.copies == Some(0);
                let mut retain = self
                    .router
                    .after_forward(&entry.view(), &PeerView { node_id: &peer });
                if spent {
                    retain = Retain::Release; // Every copy handed on: nothing left to carry.
                }
                if forwarding_report && accepted {
                    self.report_entry(key, StatusKind::Forwarded, ReasonCode::NoInformation);
                }
                if retain == Retain::Release {
                    self.delete(key, ReasonCode::NoInformation);
                }
            }
            TxOutcome::Refused(_) => {
                self.counters.forward_failed += 1;
                if let Some(link) = self.links.get_mut(&link_id) {
                    link.refused.insert(key);
                }
            }
            TxOutcome::Failed => {
                // Not retried on this link: a link that fails a transmission is usually going
                // down, and retrying at once would spin. The next contact offers it again.
                self.counters.forward_failed += 1;
                if let Some(link) = self.links.get_mut(&link_id) {
                    link.refused.insert(key);
                }
            }
        }
    }

    /// Deducts the copies a peer accepted from this node's count, durably.
    fn spend_copies(&mut self, key: BundleKey, handed: u32) {
        let Some(entry) = self.table.get_mut(key) else {
            return;
        };
        let Some(held) = entry.meta.copies.filter(|_| handed > 0) else {
            return;
        };
        entry.meta.copies = Some(held.saturating_sub(handed));
        let meta = entry.meta.clone();
        self.outputs
            .push_back(Output::Store(StoreOp::UpdateMeta { key, meta }));
    }

    /// Records that `peer` holds `key`, durably, so it is never offered to it again.
    pub(super) fn peer_has(&mut self, key: BundleKey, peer: &crate::wire::Eid) {
        let Some(entry) = self.table.get_mut(key) else {
            return;
        };
        if entry.meta.forwarded_to.insert(peer.clone()) {
            let meta = entry.meta.clone();
            self.outputs
                .push_back(Output::Store(StoreOp::UpdateMeta { key, meta }));
        }
    }
}
