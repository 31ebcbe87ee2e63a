//! Links and forwarding: what to offer each peer, and what happens when it answers.
//!
//! Each link keeps a cursor over the bundle table so that a contact costs work proportional to
//! what it carries, not to the store's size times the number of transmissions.

use std::collections::BTreeSet;

use super::io::{Output, RefuseReason, Report, Rewrite, StoreOp, TxOutcome};
use super::{BundleKey, Link, LinkId, Node, TxToken};
use crate::routing::{BundleView, PeerView, Retain};
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
                cursor: BundleKey(0),
            },
        );
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
            self.in_flight.remove(&token);
            self.counters.forward_failed += 1;
        }
    }

    /// Offers bundles on every link with room in its window.
    pub(super) fn pump_links(&mut self) {
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
        if link.in_flight.len() >= window {
            return;
        }
        let mut room = window - link.in_flight.len();
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
        for entry in self.table.range_from(link.cursor) {
            if room == 0 {
                break;
            }
            cursor = BundleKey(entry.key.0 + 1);
            if !entry.durable
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
            let view = BundleView {
                key: entry.key,
                source: &entry.id.source,
                destination: &entry.destination,
                from: entry.meta.from.as_ref(),
            };
            if !self
                .router
                .should_offer(&view, &PeerView { node_id: &peer })
            {
                continue;
            }
            let rewrite = Rewrite {
                previous_node: self.config.node_id.clone(),
                bundle_age_ms: entry.tracks_age.then(|| entry.age_ms(self.now)),
                increment_hop_count: entry.has_hop_count,
            };
            picks.push((entry.key, rewrite));
            room -= 1;
        }
        if let Some(link) = self.links.get_mut(&id) {
            link.cursor = cursor;
        }
        for (key, rewrite) in picks {
            let token = TxToken(self.next_token);
            self.next_token += 1;
            self.in_flight.insert(token, (id, key));
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
                } else {
                    self.counters.forward_failed += 1;
                }
                self.peer_has(key, &peer);
                let Some(entry) = self.table.get(key) else {
                    return;
                };
                let forwarding_report = entry.flags.contains(BundleFlags::REPORT_FORWARDING);
                let view = BundleView {
                    key,
                    source: &entry.id.source,
                    destination: &entry.destination,
                    from: entry.meta.from.as_ref(),
                };
                let retain = self
                    .router
                    .after_forward(&view, &PeerView { node_id: &peer });
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

    /// Records that `peer` holds `key`, durably, so it is never offered to it again.
    fn peer_has(&mut self, key: BundleKey, peer: &crate::wire::Eid) {
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
