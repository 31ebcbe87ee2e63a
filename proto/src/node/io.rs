//! What goes into the engine and what comes out: the whole contract between a driver and a node.
//!
//! A driver (the daemon, the simulator) turns its world into [`Input`]s and carries out the
//! [`Output`]s, in order. Two rules keep nodes correct whatever the driver:
//! - `Store` ops are applied in order, before the driver acts on any later output. A driver that
//!   batches writes (group commit) reports durability with `Input::Stored`; only then does the
//!   node accept a peer's transfer, so an acknowledged bundle is never lost.
//! - The engine never holds payloads. `Transmit` names a stored bundle and the [`Rewrite`] to
//!   apply on the way out; the driver reads the bytes from its store.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::ids::{BundleKey, LinkId, RxId, TxToken};
use crate::wire::{Bundle, BundleId, DecodeError, DtnTime, Eid, admin::ReasonCode};

/// An event from the driver.
#[derive(Debug, Clone)]
pub enum Input {
    /// A link to a peer is up. `peer` is the peer's node ID when the convergence layer learned it
    /// (TCPCL's SESS_INIT does).
    LinkUp {
        /// The driver's id for the link.
        link: LinkId,
        /// The peer's node ID, if known.
        peer: Option<Eid>,
    },
    /// A link went down; its transmissions in flight failed.
    LinkDown {
        /// The link.
        link: LinkId,
    },
    /// A whole bundle arrived on a link. The node answers with `Accept` or `Refuse` for `rx`.
    Received {
        /// The link it arrived on.
        link: LinkId,
        /// The driver's id of the transfer.
        rx: RxId,
        /// The encoded bundle, as received.
        bytes: Bytes,
    },
    /// A transmission the node asked for ended.
    Transmitted {
        /// The node's token from `Output::Transmit`.
        token: TxToken,
        /// How it ended.
        outcome: TxOutcome,
    },
    /// Every store op up to and including the `PutBundle` of `key` is durable.
    Stored {
        /// The bundle now durable.
        key: BundleKey,
    },
    /// The time returned by `poll_timeout` has come (calling early or twice is harmless).
    Timeout,
    /// `link` can carry tern control messages to its peer (the peer advertised that it speaks
    /// them): the node reconciles bundle sets over it and exchanges routing summaries. Send it
    /// right after `LinkUp`, before draining outputs: offers `LinkUp` queued for the link are
    /// taken back, and go out once reconciliation says what the peer lacks. Links without it
    /// use per-peer history only.
    ControlReady {
        /// The link.
        link: LinkId,
    },
    /// A control message from the peer on `link` ([`super::control`]); malformed ones are
    /// reported and make the link fall back to per-peer history.
    Control {
        /// The link.
        link: LinkId,
        /// The message, as framed by the link.
        bytes: Bytes,
    },
}

/// How a transmission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOutcome {
    /// The peer acknowledged the whole bundle.
    Accepted,
    /// The peer refused it (it has it already, has no room, or won't take it).
    Refused(RefuseReason),
    /// The link failed before the peer acknowledged it.
    Failed,
}

/// Why a node refuses an inbound bundle; maps onto TCPCL's XFER_REFUSE reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefuseReason {
    /// We already hold (or held and delivered) this bundle.
    Duplicate,
    /// The storage quota is reached.
    StorageFull,
    /// The bundle is larger than we accept, malformed, or otherwise unacceptable.
    NotAcceptable,
}

/// An action for the driver.
#[derive(Debug, Clone)]
pub enum Output {
    /// Apply this storage operation (in order).
    Store(StoreOp),
    /// Send the stored bundle `key` on `link`, after applying `rewrite`; report with `token`.
    Transmit {
        /// The link.
        link: LinkId,
        /// Echo this in `Input::Transmitted`.
        token: TxToken,
        /// The stored bundle.
        key: BundleKey,
        /// Changes to make to the stored bytes on the way out.
        rewrite: Rewrite,
    },
    /// Acknowledge inbound transfer `rx` on `link`: the bundle is durable.
    Accept {
        /// The link.
        link: LinkId,
        /// The transfer.
        rx: RxId,
    },
    /// Refuse inbound transfer `rx` on `link`.
    Refuse {
        /// The link.
        link: LinkId,
        /// The transfer.
        rx: RxId,
        /// Why.
        reason: RefuseReason,
    },
    /// Hand stored bundle `key` to the application registered at `endpoint`. The bundle's bytes
    /// are readable until the driver has applied the store ops that follow this output.
    Deliver {
        /// The registration.
        endpoint: Eid,
        /// The stored bundle.
        key: BundleKey,
    },
    /// Something an operator may want to see: logs and counters.
    Report(Report),
    /// Send control message `message` to the peer on `link` (only on links the driver declared
    /// with `Input::ControlReady`, in order, never stored).
    Control {
        /// The link.
        link: LinkId,
        /// The encoded message ([`super::control`]).
        message: Bytes,
    },
}

/// A durable-state change, applied by the driver in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Store a bundle as received (or as built, for local submissions) with its metadata.
    PutBundle {
        /// Key.
        key: BundleKey,
        /// Encoded bundle.
        bytes: Bytes,
        /// Metadata.
        meta: BundleMeta,
    },
    /// Replace a stored bundle's metadata.
    UpdateMeta {
        /// Key.
        key: BundleKey,
        /// New metadata.
        meta: BundleMeta,
    },
    /// Remove a bundle and its metadata.
    DeleteBundle {
        /// Key.
        key: BundleKey,
    },
    /// Remember that a bundle was handled here until `until`, so a copy that arrives later is
    /// refused as a duplicate instead of being delivered twice.
    PutTombstone {
        /// The bundle's network-wide id.
        id: BundleId,
        /// When the memory may go (the bundle's expiry).
        until: DtnTime,
    },
    /// Forget a tombstone.
    DeleteTombstone {
        /// The bundle's id.
        id: BundleId,
    },
    /// Remember an application registration.
    PutRegistration {
        /// The endpoint.
        endpoint: Eid,
    },
    /// Forget an application registration.
    DeleteRegistration {
        /// The endpoint.
        endpoint: Eid,
    },
    /// Replace the router's persisted state (e.g. PRoPHET's predictabilities), an opaque
    /// record the router wrote and reads back after a restart.
    PutRouterState {
        /// The router's encoding of its state.
        state: Bytes,
    },
}

/// Per-bundle state that must survive a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleMeta {
    /// Wall time when this node admitted the bundle.
    pub received_at: DtnTime,
    /// The bundle's age (ms) when this node admitted it, from its age block or creation time.
    pub age_at_receipt_ms: u64,
    /// The node it came from (previous node block or the link's peer), if known.
    pub from: Option<Eid>,
    /// Peers that hold a copy because we sent it, or sent it to us: never offer it to them again.
    pub forwarded_to: BTreeSet<Eid>,
    /// Local endpoints it was delivered to.
    pub delivered_to: BTreeSet<Eid>,
    /// Copies this node holds, for copy-counting strategies (spray-and-wait); `None` otherwise.
    /// Durable, so a restart cannot mint copies.
    #[serde(default)]
    pub copies: Option<u32>,
}

/// A stored bundle handed back to `Node::new` after a restart.
#[derive(Debug, Clone)]
pub struct StoredBundle {
    /// Its key.
    pub key: BundleKey,
    /// Its bytes as stored.
    pub bytes: Bytes,
    /// Its metadata.
    pub meta: BundleMeta,
}

/// Everything durable, as recovered by the driver's store. Nothing else survives a restart.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// Stored bundles.
    pub bundles: Vec<StoredBundle>,
    /// Tombstones (bundle id, until).
    pub tombstones: Vec<(BundleId, DtnTime)>,
    /// Application registrations.
    pub registrations: Vec<Eid>,
    /// The router's last `PutRouterState`, if any.
    pub router_state: Option<Bytes>,
}

/// The changes a forwarding node makes to a bundle on the way out (RFC 9171 §4.4, §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// Our node ID, for the previous-node block.
    pub previous_node: Eid,
    /// The bundle's age at the moment of sending, if it carries (or needs) an age block.
    pub bundle_age_ms: Option<u64>,
    /// Count one more hop in the hop-count block.
    pub increment_hop_count: bool,
    /// Copies handed to the receiver, written into the copies block (spray-and-wait); `None`
    /// leaves the bundle's copies block, if any, as stored.
    pub copies: Option<u32>,
}

impl Rewrite {
    /// Applies the rewrite to a decoded stored bundle.
    pub fn apply(&self, bundle: &mut Bundle) {
        bundle.set_previous_node(self.previous_node.clone());
        if let Some(age) = self.bundle_age_ms {
            bundle.set_bundle_age(age);
        }
        if self.increment_hop_count {
            bundle.increment_hop_count();
        }
        if let Some(copies) = self.copies {
            crate::wire::copies::set_copies(bundle, copies);
        }
    }
}

/// An observable event, for logs and counters. Never needed for correctness.
#[derive(Debug, Clone)]
pub enum Report {
    /// A bundle was admitted (from a link, or `None` for local submissions).
    Admitted {
        /// Its key.
        key: BundleKey,
        /// Its id.
        id: BundleId,
        /// Where it came from.
        link: Option<LinkId>,
    },
    /// An inbound bundle was refused.
    Refused {
        /// The link.
        link: LinkId,
        /// Why.
        reason: RefuseReason,
        /// Details for the log.
        detail: String,
    },
    /// A peer sent bytes that are not a valid bundle.
    Malformed {
        /// The link.
        link: LinkId,
        /// What was wrong, where.
        error: DecodeError,
    },
    /// A bundle was sent and the peer took it.
    Forwarded {
        /// The bundle.
        key: BundleKey,
        /// The link.
        link: LinkId,
    },
    /// A bundle was handed to a local application.
    Delivered {
        /// The bundle.
        key: BundleKey,
        /// The registration.
        endpoint: Eid,
    },
    /// A bundle was deleted.
    Deleted {
        /// The bundle.
        key: BundleKey,
        /// Why (RFC 9171 §6.1.1 reason codes).
        reason: ReasonCode,
    },
    /// A control-capable link fell back to per-peer history.
    ControlFailed {
        /// The link.
        link: LinkId,
        /// Why.
        error: super::ControlFailure,
    },
}
