//! Control-capable links: what the engine does with the link-local control channel.
//!
//! A driver says a link can carry tern control messages with `Input::ControlReady` (the peer
//! advertised that it speaks them). On such a link the two nodes first reconcile the sets of
//! bundle ids they hold ([`crate::routing::recon`]) and exchange what their routers want to tell
//! each other (PRoPHET's predictabilities); offers wait until reconciliation ends, then go out
//! for exactly the bundles the peer lacks, and the bundles it holds are remembered as held
//! (per-peer history), so they are never offered to it.
//!
//! Links without the channel, and links where reconciliation fails (a malformed or
//! out-of-protocol message, too many rounds, no progress for [`RECON_TIMEOUT`]), use per-peer
//! history alone, as before: nothing a peer sends here can stop bundles from flowing.
//!
//! Reconciliation state is not persisted: each contact recomputes it from the bundle table
//! (and tombstones), which is what the store recovers after a restart anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;

use super::control::{ControlError, ControlLimits, ControlMessage};
use super::io::{Output, Report, StoreOp};
use super::time::Instant;
use super::{BundleKey, LinkId, Node};
use crate::routing::recon::{PeerHolds, ReconError, ReconParams, Reconciler, bundle_digest};
use crate::wire::Eid;

/// How long a reconciliation may wait for the peer's next message before the link falls back
/// to per-peer history.
pub const RECON_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a control-capable link fell back to per-peer history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlFailure {
    /// The peer sent a message this node cannot decode.
    #[error("malformed control message: {0}")]
    Malformed(#[from] ControlError),
    /// The peer's reconciliation messages broke the protocol.
    #[error("{0}")]
    Protocol(#[from] ReconError),
    /// The peer stopped answering.
    #[error("no reconciliation message for {} s", RECON_TIMEOUT.as_secs())]
    TimedOut,
}

/// Most router messages (PRoPHET summaries) taken from one peer per contact: one is what an
/// honest peer sends; more would only make us redo work and rewrite the router's state.
const MAX_ROUTER_MESSAGES: u32 = 4;

/// The control state of one link.
#[derive(Debug, Clone)]
pub(super) struct ControlLink {
    phase: ReconPhase,
    /// Router messages taken on this link so far.
    router_messages: u32,
}

#[derive(Debug, Clone)]
enum ReconPhase {
    /// Reconciling: offers wait.
    Running {
        recon: Box<Reconciler>,
        /// Digest → our bundle (tombstones are in the set but have no bundle).
        keys: BTreeMap<u64, BundleKey>,
        /// Keys from here on were admitted after the snapshot.
        fresh_from: BundleKey,
        deadline: Instant,
    },
    /// Reconciled: offer what the peer lacks and what arrived since.
    Reconciled {
        lacks: BTreeSet<BundleKey>,
        fresh_from: BundleKey,
    },
    /// Per-peer history only.
    History,
}

impl ControlLink {
    /// True while reconciliation runs and offers on the link must wait.
    pub(super) fn holds_offers(&self) -> bool {
        matches!(self.phase, ReconPhase::Running { .. })
    }

    /// Whether reconciliation allows offering `key` (per-peer history still applies).
    pub(super) fn may_offer(&self, key: BundleKey) -> bool {
        match &self.phase {
            ReconPhase::Running { .. } => false,
            ReconPhase::Reconciled { lacks, fresh_from } => {
                key >= *fresh_from || lacks.contains(&key)
            }
            ReconPhase::History => true,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            ReconPhase::Running { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }
}

impl Node {
    /// The driver says `link` carries control messages.
    pub(super) fn control_ready(&mut self, link: LinkId) {
        let Some(l) = self.links.get(&link) else {
            return;
        };
        if l.control.is_some() {
            return;
        }
        let Some(peer) = l.peer.clone() else {
            return; // Reconciliation needs to know who starts; without a peer ID, history.
        };
        if peer == self.config.node_id {
            return;
        }
        let mut keys = BTreeMap::new();
        for entry in self.table.iter() {
            keys.insert(bundle_digest(&entry.id), entry.key);
        }
        let tombstones = self.table.tombstone_ids().map(bundle_digest);
        let digests: Vec<u64> = keys.keys().copied().chain(tombstones).collect();
        let mut recon = Reconciler::new(digests, ReconParams::default());
        let starts = self.config.node_id < peer;
        let first = starts.then(|| recon.start());
        let phase = ReconPhase::Running {
            recon: Box::new(recon),
            keys,
            fresh_from: BundleKey(self.next_key),
            deadline: self.now.mono.saturating_add(RECON_TIMEOUT),
        };
        if let Some(l) = self.links.get_mut(&link) {
            l.control = Some(ControlLink {
                phase,
                router_messages: 0,
            });
        }
        self.retract_offers(link);
        // The router speaks first, so the peer knows our predictabilities before it decides
        // what to offer us.
        self.router.set_now(self.now);
        if let Some(message) = self.router.contact_message(&peer) {
            self.send_control(link, &message);
        }
        if let Some(items) = first {
            self.send_control(link, &ControlMessage::Recon(items));
        }
        self.settle(link);
    }

    /// Takes back offers on `link` that the driver has not polled yet: `LinkUp` offers at once,
    /// and a driver sends `ControlReady` right after it, before draining outputs, so that a
    /// control-capable link carries only what reconciliation finds the peer lacks.
    fn retract_offers(&mut self, link: LinkId) {
        let mut kept = std::collections::VecDeque::with_capacity(self.outputs.len());
        let mut retracted = Vec::new();
        for out in self.outputs.drain(..) {
            match out {
                Output::Transmit {
                    link: l,
                    token,
                    key,
                    ..
                } if l == link => retracted.push((token, key)),
                other => kept.push_back(other),
            }
        }
        self.outputs = kept;
        for (token, key) in retracted {
            self.in_flight.remove(&token);
            if let Some(entry) = self.table.get_mut(key) {
                entry.tx.remove(&token);
            }
            if let Some(l) = self.links.get_mut(&link) {
                l.in_flight.remove(&key);
                l.cursor = super::table::OrderKey::FIRST;
            }
        }
    }

    /// A control message from the peer on `link`.
    pub(super) fn control(&mut self, link: LinkId, bytes: Bytes) {
        let Some(l) = self.links.get(&link) else {
            return;
        };
        self.counters.control_received_bytes += bytes.len() as u64;
        if l.control.is_none() {
            // A peer that sends control messages speaks them: the driver's ControlReady may
            // still be on its way.
            self.control_ready(link);
        }
        let message = match ControlMessage::decode(&bytes, &ControlLimits::default()) {
            Ok(m) => m,
            Err(e) => return self.fall_back(link, e.into()),
        };
        match message {
            ControlMessage::Recon(items) => self.reconcile(link, &items),
            other => {
                let Some(l) = self.links.get_mut(&link) else {
                    return;
                };
                let Some(control) = l.control.as_mut() else {
                    return;
                };
                if control.router_messages >= MAX_ROUTER_MESSAGES {
                    return;
                }
                control.router_messages += 1;
                let Some(peer) = l.peer.clone() else {
                    return;
                };
                self.router.set_now(self.now);
                self.router.on_control(&peer, &other);
                self.persist_router();
            }
        }
    }

    fn reconcile(&mut self, link: LinkId, items: &[crate::node::control::ReconItem]) {
        let now = self.now.mono;
        let Some(ReconPhase::Running {
            recon, deadline, ..
        }) = self
            .links
            .get_mut(&link)
            .and_then(|l| l.control.as_mut())
            .map(|c| &mut c.phase)
        else {
            // Reconciliation on this link is over (or was never started): a late or extra
            // message changes nothing.
            return;
        };
        *deadline = now.saturating_add(RECON_TIMEOUT);
        match recon.receive(items) {
            Ok(Some(reply)) => self.send_control(link, &ControlMessage::Recon(reply)),
            Ok(None) => {}
            Err(e) => return self.fall_back(link, e.into()),
        }
        self.settle(link);
    }

    /// Ends a finished reconciliation: remember what the peer holds, offer what it lacks.
    fn settle(&mut self, link: LinkId) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let Some(control) = l.control.as_mut() else {
            return;
        };
        let ReconPhase::Running {
            recon,
            keys,
            fresh_from,
            ..
        } = &control.phase
        else {
            return;
        };
        if !recon.is_done() {
            return;
        }
        let mut lacks = BTreeSet::new();
        let mut holds = Vec::new();
        for (digest, verdict) in recon.verdicts() {
            let Some(key) = keys.get(&digest) else {
                continue;
            };
            match verdict {
                PeerHolds::Yes => holds.push(*key),
                PeerHolds::No | PeerHolds::Unknown => {
                    lacks.insert(*key);
                }
            }
        }
        control.phase = ReconPhase::Reconciled {
            lacks,
            fresh_from: *fresh_from,
        };
        l.cursor = super::table::OrderKey::FIRST;
        let Some(peer) = l.peer.clone() else {
            return;
        };
        for key in holds {
            self.peer_has(key, &peer);
            // The bundle's destination node holds it (or its tombstone: it was delivered
            // there): its journey is over, as when that node refuses it as a duplicate.
            // Without this, a bundle whose ack was lost to the destination's power cut would
            // never be offered again and never released.
            let arrived = self.table.get(key).is_some_and(|e| {
                e.destination.is_singleton()
                    && crate::routing::reaches_destination(&e.destination, &peer)
            });
            if arrived {
                self.delete(key, crate::wire::admin::ReasonCode::NoInformation);
            }
        }
    }

    /// Gives up reconciliation on `link`; per-peer history decides from now on.
    fn fall_back(&mut self, link: LinkId, error: ControlFailure) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let was_running = l.control.as_ref().is_some_and(ControlLink::holds_offers);
        let router_messages = l.control.as_ref().map_or(0, |c| c.router_messages);
        l.control = Some(ControlLink {
            phase: ReconPhase::History,
            router_messages,
        });
        if was_running {
            l.cursor = super::table::OrderKey::FIRST;
        }
        self.outputs
            .push_back(Output::Report(Report::ControlFailed { link, error }));
    }

    fn send_control(&mut self, link: LinkId, message: &ControlMessage) {
        let message = Bytes::from(message.encode());
        self.counters.control_sent_bytes += message.len() as u64;
        self.counters.control_sent_messages += 1;
        self.outputs.push_back(Output::Control { link, message });
    }

    /// A link came up to a known peer: an encounter for the router.
    pub(super) fn router_contact(&mut self, peer: &Eid) {
        self.router.set_now(self.now);
        self.router.on_contact(peer);
        self.persist_router();
    }

    /// Stores the router's state if it changed.
    pub(super) fn persist_router(&mut self) {
        if let Some(state) = self.router.take_state() {
            self.outputs
                .push_back(Output::Store(StoreOp::PutRouterState {
                    state: Bytes::from(state),
                }));
        }
    }

    /// Links whose reconciliation has waited too long fall back to per-peer history.
    pub(super) fn control_timeouts(&mut self) {
        let now = self.now.mono;
        let late: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| {
                l.control
                    .as_ref()
                    .and_then(ControlLink::deadline)
                    .is_some_and(|d| d <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for link in late {
            self.fall_back(link, ControlFailure::TimedOut);
        }
    }

    /// The earliest reconciliation deadline, for `poll_timeout`.
    pub(super) fn control_deadline(&self) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|l| l.control.as_ref().and_then(ControlLink::deadline))
            .min()
    }
}
