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
use crate::wire::copies::copies_of;
use crate::wire::{
    Bundle, BundleFlags, BundleId, DecodeError, DtnTime, Eid, FragmentInfo, Priority,
    admin::ReasonCode,
};

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
    /// Store a bundle as received (or as built, for local submissions) with its index and
    /// metadata. The store keeps `index` verbatim and hands it back on restart, so the node can
    /// restore without reading `bytes` (see [`BundleIndex`]).
    PutBundle {
        /// Key.
        key: BundleKey,
        /// Encoded bundle.
        bytes: Bytes,
        /// What the engine knows of the bundle, written once and never updated. Boxed: it is
        /// most of the op's size, and every other op is small.
        index: Box<BundleIndex>,
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

/// What the engine keeps about a stored bundle, taken from its blocks once at admission and
/// persisted beside the bundle with `StoreOp::PutBundle`.
///
/// Why: without it a restart would have to read and decode every stored bundle to rebuild the
/// bundle table, so a node holding 1 GB of bundles would read 1 GB into memory at start-up (an
/// out-of-memory crash on a small board, right after the power cut that made it restart). With
/// it, a restart reads a few hundred bytes per bundle and no payload. It is separate from
/// [`BundleMeta`] because it never changes: `UpdateMeta` rewrites the small mutable record only.
///
/// Stores persist it verbatim (the daemon with postcard) and must give it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleIndex {
    /// Network-wide id: source, creation timestamp and, for a fragment, its offset and payload
    /// length (RFC 9171 §5.1 note).
    pub id: BundleId,
    /// Destination endpoint.
    pub destination: Eid,
    /// Where status reports go.
    pub report_to: Eid,
    /// Bundle processing control flags (RFC 9171 §4.2.3), as their bits.
    #[serde(with = "flag_bits")]
    pub flags: BundleFlags,
    /// For a fragment: the total length of the original application data unit (RFC 9171
    /// §4.3.1); `None` for a whole bundle.
    pub total_adu_length: Option<u64>,
    /// Length of the payload block's data.
    pub payload_len: u64,
    /// Encoded size in bytes, counted against the storage quota.
    pub size: u64,
    /// Lifetime in ms (RFC 9171 §4.3.1); with the creation time and the metadata's age at
    /// receipt it gives the expiry.
    pub lifetime_ms: u64,
    /// The bundle carries a bundle age block (RFC 9171 §4.4.2).
    pub has_bundle_age: bool,
    /// The bundle carries a hop count block (RFC 9171 §4.4.3).
    pub has_hop_count: bool,
    /// Priority class from its priority block (normal without one, or with a malformed one).
    pub class: Priority,
    /// The copy count its copies block carried when admitted, for strategies that count
    /// copies (`None` without a valid copies block).
    pub carried_copies: Option<u32>,
}

impl BundleIndex {
    /// The index of `bundle`, whose encoding is `size` bytes long.
    pub fn of(bundle: &Bundle, size: u64) -> Self {
        let p = bundle.primary();
        Self {
            id: bundle.id(),
            destination: p.destination.clone(),
            report_to: p.report_to.clone(),
            flags: p.flags,
            total_adu_length: p.fragment.map(|f| f.total_adu_length),
            payload_len: bundle.payload().len() as u64,
            size,
            lifetime_ms: p.lifetime_ms,
            has_bundle_age: bundle.bundle_age().is_some(),
            has_hop_count: bundle.hop_count().is_some(),
            // A malformed priority block counts as none: the class is a hint, not a reason to
            // drop an otherwise valid bundle.
            class: Priority::of(bundle).unwrap_or_default(),
            carried_copies: copies_of(bundle).ok().flatten(),
        }
    }

    /// Where a fragment's payload sits in its original ADU; `None` for a whole bundle.
    pub fn fragment(&self) -> Option<FragmentInfo> {
        let (offset, _) = self.id.fragment?;
        Some(FragmentInfo {
            offset,
            total_adu_length: self.total_adu_length.unwrap_or_default(),
        })
    }

    /// Whether a store must hand this bundle back *with* its bytes after a restart: only a
    /// fragment addressed to a registered endpoint, which the node feeds to its reassembler
    /// again (RFC 9171 §5.9). Every other bundle comes back as index and metadata alone.
    /// `registrations` are the restored ones. Stores call this so they all follow one rule.
    pub fn needs_bytes_on_restore(&self, registrations: &[Eid]) -> bool {
        self.id.fragment.is_some() && registrations.contains(&self.destination)
    }
}

/// `BundleFlags` as their `u64` bits (the flags type has no serde of its own). Unknown bits are
/// kept: they were in the bundle.
mod flag_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::wire::BundleFlags;

    pub(super) fn serialize<S: Serializer>(flags: &BundleFlags, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(flags.bits())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BundleFlags, D::Error> {
        u64::deserialize(d).map(BundleFlags::from_bits_retain)
    }
}

/// A stored bundle handed back to `Node::new` after a restart: its index and metadata, and its
/// bytes only where [`BundleIndex::needs_bytes_on_restore`] says the node needs them.
///
/// Why `bytes` is optional: the engine never holds payloads, so restoring must not read them
/// either; a store that handed back every bundle's bytes would need memory for its whole
/// content at start-up. The node reads bytes later, through the driver, when it transmits or
/// delivers.
#[derive(Debug, Clone)]
pub struct StoredBundle {
    /// Its key.
    pub key: BundleKey,
    /// Its index, as persisted with `StoreOp::PutBundle`.
    pub index: BundleIndex,
    /// Its metadata.
    pub meta: BundleMeta,
    /// Its bytes as stored, if [`BundleIndex::needs_bytes_on_restore`]; `None` otherwise. A
    /// store may leave them out even then: the node then only loses the chance to reassemble
    /// with this fragment.
    pub bytes: Option<Bytes>,
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
