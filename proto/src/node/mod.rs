//! The sans-IO node: a deterministic state machine that decides everything a tern node does.
//!
//! Events go in through [`Node::handle`] (and [`Node::submit`], [`Node::register`]); actions come
//! out of [`Node::poll_output`]. Call order, after every call that takes `now`:
//! 1. drain [`Node::poll_output`] until `None`, carrying each output out in order;
//! 2. arm a timer for [`Node::poll_timeout`] and call `handle(now, Input::Timeout)` when it fires.
//!
//! The node holds bundle metadata only (see [`table`]); bundle bytes live in the driver's store.
//! It never reads a clock or a random source, and iterates only ordered maps, so the same inputs
//! give the same outputs on the daemon and in the simulator.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::routing::{Router, RouterKind};
use crate::wire::fragment::{Reassembler, ReassemblyLimits};
use crate::wire::{
    BlockFlags, BuildError, BundleBuilder, BundleFlags, BundleId, CrcType, CreationTimestamp,
    DecodeLimits, DtnTime, Eid, Priority,
};

pub mod control;
mod forward;
mod ids;
mod io;
mod link;
mod receive;
mod shares;
pub mod store;
mod table;
mod time;

pub use ids::{BundleKey, LinkId, RxId, TxToken};
pub use io::{
    BundleIndex, BundleMeta, Input, Output, RefuseReason, Report, Restored, Rewrite, StoreOp,
    StoredBundle, TxOutcome,
};
pub use link::{ControlFailure, RECON_TIMEOUT};
pub use shares::{LinkShaping, StorageShares};
pub use time::{Instant, Now};

use table::BundleTable;

/// How a node behaves. Every field has a sensible default except the node ID.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's ID (`dtn://name/` or `ipn:N.0`).
    pub node_id: Eid,
    /// The forwarding strategy.
    pub router: RouterKind,
    /// Limits on bundles accepted from peers and applications.
    pub limits: DecodeLimits,
    /// Most bytes of bundles stored at once; beyond it inbound bundles are refused.
    pub storage_quota: u64,
    /// Most transmissions in flight on one link.
    pub window_per_link: usize,
    /// Lifetime of status reports this node originates, in ms.
    pub report_lifetime_ms: u64,
    /// Memory bounds for reassembling fragments addressed to this node.
    pub reassembly: ReassemblyLimits,
    /// How the storage quota is shared between priority classes.
    pub storage_shares: StorageShares,
    /// How lower classes are held back on links so they cannot delay alerts.
    pub shaping: LinkShaping,
}

impl Config {
    /// Defaults for a node called `node_id`.
    pub fn new(node_id: Eid) -> Self {
        Self {
            node_id,
            router: RouterKind::default(),
            limits: DecodeLimits::default(),
            storage_quota: 1 << 30,
            window_per_link: 16,
            report_lifetime_ms: 24 * 3_600_000,
            reassembly: ReassemblyLimits::default(),
            storage_shares: StorageShares::default(),
            shaping: LinkShaping::default(),
        }
    }
}

/// A bundle an application asks the node to send.
#[derive(Debug, Clone)]
pub struct Submit {
    /// Source endpoint on this node; the node ID if `None`.
    pub source: Option<Eid>,
    /// Destination endpoint.
    pub destination: Eid,
    /// Application data.
    pub payload: Bytes,
    /// Lifetime in milliseconds.
    pub lifetime_ms: u64,
    /// Where status reports go; `dtn:none` (no reports) if `None`.
    pub report_to: Option<Eid>,
    /// Bundle processing flags (report requests, must-not-fragment...).
    pub flags: BundleFlags,
    /// Hop limit, if the bundle should carry one.
    pub hop_limit: Option<u8>,
    /// CRC type for every block.
    pub crc: CrcType,
    /// Priority class, carried in a priority block unless normal (bundles without one are
    /// normal).
    pub priority: Priority,
}

impl Submit {
    /// A submission with defaults: 24 h lifetime, no reports, CRC-32C, normal priority.
    pub fn new(destination: Eid, payload: impl Into<Bytes>) -> Self {
        Self {
            source: None,
            destination,
            payload: payload.into(),
            lifetime_ms: 24 * 3_600_000,
            report_to: None,
            flags: BundleFlags::empty(),
            hop_limit: None,
            crc: CrcType::Crc32c,
            priority: Priority::Normal,
        }
    }
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The source endpoint is not on this node.
    #[error("source {0} is not an endpoint of this node")]
    ForeignSource(Eid),
    /// The bundle breaks a rule of RFC 9171.
    #[error("invalid bundle: {0}")]
    Invalid(#[from] BuildError),
    /// The bundle is larger than the node accepts.
    #[error("bundle of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The storage quota, or the share of it this bundle's class may use, is reached and
    /// nothing this bundle may evict frees enough room.
    #[error(
        "storage full for {class} bundles: {needed} bytes needed, {available} available to the \
         class ({used} of {quota} bytes in use; see storage_quota and storage_shares)"
    )]
    StorageFull {
        /// Bytes in use.
        used: u64,
        /// The quota.
        quota: u64,
        /// Size of the refused bundle.
        needed: u64,
        /// The bundle's class.
        class: Priority,
        /// Room left to that class before eviction: the smallest of the room under the quota,
        /// under the class's share and under the reserve kept for emergencies.
        available: u64,
    },
    /// A lifetime of zero would expire at once.
    #[error("lifetime must be greater than zero")]
    ZeroLifetime,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Singleton endpoints must be on this node; group (`~`) endpoints may name any node.
    #[error(
        "{endpoint} is not on this node ({node_id}); only group (~) endpoints may name another node"
    )]
    ForeignEndpoint {
        /// The endpoint.
        endpoint: Eid,
        /// This node.
        node_id: Eid,
    },
    /// The null endpoint cannot receive.
    #[error("dtn:none cannot be registered")]
    Null,
}

/// Running totals, for operators and benchmarks. Serializable as is: the daemon's status API
/// and the CLI read the same record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Bundles received from peers (valid or not).
    pub received: u64,
    /// Received bundles admitted to storage.
    pub admitted: u64,
    /// Refused as duplicates.
    pub refused_duplicate: u64,
    /// Refused for lack of storage.
    pub refused_storage: u64,
    /// Refused as unacceptable (malformed, too large, expired, hop limit).
    pub refused_invalid: u64,
    /// Bundles submitted by local applications (status reports included).
    pub submitted: u64,
    /// Transmissions a peer accepted.
    pub forwarded: u64,
    /// Transmissions that failed or were refused.
    pub forward_failed: u64,
    /// Deliveries to local applications.
    pub delivered: u64,
    /// Bundles that expired here.
    pub expired: u64,
    /// Relay copies evicted to make room.
    pub evicted: u64,
    /// Control messages sent to peers.
    pub control_sent_messages: u64,
    /// Bytes of control messages sent to peers.
    pub control_sent_bytes: u64,
    /// Bytes of control messages received from peers.
    pub control_received_bytes: u64,
}

/// A link as the node sees it.
#[derive(Debug, Clone)]
struct Link {
    peer: Option<Eid>,
    /// Bundles in flight on this link.
    in_flight: BTreeSet<BundleKey>,
    /// Bundles this peer refused during this session (not offered again until the next one).
    refused: BTreeSet<BundleKey>,
    /// Bundles before this position (in transmission order) have been considered for this link
    /// already.
    cursor: table::OrderKey,
    /// Bytes per second, if the driver reported it ([`Node::set_link_rate`]).
    rate: Option<u64>,
    /// Control-channel state once the driver declared the link control-capable.
    control: Option<link::ControlLink>,
}

/// A stored bundle as listed for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    /// Store key.
    pub key: BundleKey,
    /// Source.
    pub source: Eid,
    /// Destination.
    pub destination: Eid,
    /// Creation timestamp.
    pub creation: CreationTimestamp,
    /// Encoded size.
    pub size: u64,
    /// Expiry (wall time).
    pub expires: DtnTime,
    /// Peers known to hold it.
    pub forwarded_to: Vec<Eid>,
    /// Whether the store confirmed it durable.
    pub durable: bool,
    /// Priority class.
    pub priority: Priority,
}

/// A link as listed for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSummary {
    /// Driver's id.
    pub link: LinkId,
    /// Peer node ID, if known.
    pub peer: Option<Eid>,
    /// Transmissions in flight.
    pub in_flight: usize,
}

/// The node.
#[derive(Debug)]
pub struct Node {
    config: Config,
    seed: u64,
    router: Box<dyn Router>,
    table: BundleTable,
    links: BTreeMap<LinkId, Link>,
    in_flight: BTreeMap<TxToken, (LinkId, BundleKey)>,
    registrations: BTreeSet<Eid>,
    reassembler: Reassembler,
    outputs: VecDeque<Output>,
    next_key: u64,
    next_token: u64,
    last_creation: CreationTimestamp,
    now: Now,
    counters: Counters,
    /// True while [`Node::make_room`] deletes the bundles it evicts.
    evicting: bool,
    /// Status reports about evicted bundles, sent once the bundle that evicted them is admitted
    /// (see `send_report`).
    deferred_reports: Vec<(crate::wire::admin::StatusReport, Eid)>,
}

impl Node {
    /// A node recovering `restored` (empty for a fresh node). `seed` names this node's random
    /// generator so that randomized strategies replay exactly.
    pub fn new(config: Config, seed: u64, now: Now, restored: Restored) -> Self {
        let reassembler = Reassembler::new(config.reassembly);
        let router = config.router.build(&config.node_id, now);
        let mut node = Self {
            config,
            seed,
            router,
            table: BundleTable::default(),
            links: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            registrations: BTreeSet::new(),
            reassembler,
            outputs: VecDeque::new(),
            next_key: 1,
            next_token: 1,
            last_creation: CreationTimestamp::default(),
            now,
            counters: Counters::default(),
            evicting: false,
            deferred_reports: Vec::new(),
        };
        node.restore(restored);
        node
    }

    /// Feeds one event.
    pub fn handle(&mut self, now: Now, input: Input) {
        self.now = now;
        match input {
            Input::LinkUp { link, peer } => self.link_up(link, peer),
            Input::LinkDown { link } => self.link_down(link),
            Input::Received { link, rx, bytes } => self.receive(link, rx, bytes),
            Input::Transmitted { token, outcome } => self.transmitted(token, outcome),
            Input::Stored { key } => self.stored(key),
            Input::Timeout => {
                self.timeout();
                self.control_timeouts();
            }
            Input::ControlReady { link } => self.control_ready(link),
            Input::Control { link, bytes } => self.control(link, bytes),
        }
        self.pump_links();
    }

    /// Creates and stores a bundle from a local application. It is forwarded once durable.
    pub fn submit(&mut self, now: Now, req: Submit) -> Result<BundleKey, SubmitError> {
        self.now = now;
        let source = req.source.unwrap_or_else(|| self.config.node_id.clone());
        if !self.is_local(&source) && !source.is_null() {
            return Err(SubmitError::ForeignSource(source));
        }
        if req.lifetime_ms == 0 {
            return Err(SubmitError::ZeroLifetime);
        }
        let creation = self.next_creation();
        let mut builder = BundleBuilder::new(source, req.destination, creation, req.lifetime_ms)
            .crc(req.crc)
            .report_to(req.report_to.unwrap_or(Eid::Null))
            .flags(req.flags)
            .payload(req.payload);
        if let Some(limit) = req.hop_limit {
            builder = builder.hop_limit(limit);
        }
        if req.priority != Priority::Normal {
            builder = builder.extension(req.priority.block_body(), BlockFlags::empty());
        }
        if creation.time.0 == 0 {
            builder = builder.bundle_age(0);
        }
        let bundle = builder.build()?;
        let key = self.admit_local(bundle)?;
        self.pump_links();
        Ok(key)
    }

    /// Withdraws a bundle from the network as far as this node is concerned: every stored copy
    /// of it (the whole bundle and any fragment of it) is deleted, and its id is remembered until
    /// `until` so a copy a peer offers later is refused as a duplicate.
    ///
    /// Why: an alert retired by a CAP Cancel or Update must stop spreading, not keep using
    /// emergency-class bandwidth until its lifetime ends. `until` should be the original's
    /// expiry; the tombstone is kept even when the bundle never reached this node, so a late
    /// copy is not taken. Returns how many stored bundles were deleted. Drain
    /// [`Node::poll_output`] afterwards: the deletions are store ops.
    pub fn discard(&mut self, now: Now, id: &BundleId, until: DtnTime) -> usize {
        self.now = now;
        let same_bundle = |e: &BundleId| e.source == id.source && e.creation == id.creation;
        let keys: Vec<BundleKey> = self
            .table
            .iter()
            .filter(|e| same_bundle(&e.id))
            .map(|e| e.key)
            .collect();
        for key in &keys {
            self.delete(*key, crate::wire::admin::ReasonCode::TransmissionCanceled);
        }
        let whole = BundleId {
            source: id.source.clone(),
            creation: id.creation,
            fragment: None,
        };
        if !self.table.is_tombstoned(&whole) {
            self.table.add_tombstone(whole.clone(), until);
            self.outputs
                .push_back(Output::Store(StoreOp::PutTombstone { id: whole, until }));
        }
        self.pump_links();
        keys.len()
    }

    /// Registers an application endpoint and delivers what was waiting for it.
    pub fn register(&mut self, endpoint: Eid) -> Result<(), RegisterError> {
        if endpoint.is_null() {
            return Err(RegisterError::Null);
        }
        if endpoint.is_singleton() && !self.is_local(&endpoint) {
            return Err(RegisterError::ForeignEndpoint {
                endpoint,
                node_id: self.config.node_id.clone(),
            });
        }
        if self.registrations.insert(endpoint.clone()) {
            self.outputs
                .push_back(Output::Store(StoreOp::PutRegistration { endpoint }));
        }
        let keys: Vec<BundleKey> = self
            .table
            .iter()
            .filter(|e| e.durable)
            .map(|e| e.key)
            .collect();
        for key in keys {
            self.deliver_locally(key);
        }
        Ok(())
    }

    /// Removes a registration; bundles for it wait (or, for groups, keep spreading).
    pub fn unregister(&mut self, endpoint: &Eid) -> bool {
        let removed = self.registrations.remove(endpoint);
        if removed {
            self.outputs
                .push_back(Output::Store(StoreOp::DeleteRegistration {
                    endpoint: endpoint.clone(),
                }));
        }
        removed
    }

    /// The next action for the driver.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the driver should call `handle(now, Input::Timeout)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self
            .table
            .next_deadline()
            .map(|deadline| self.now.mono_at(deadline));
        match (expiry, self.control_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// This node's ID.
    pub fn node_id(&self) -> &Eid {
        &self.config.node_id
    }

    /// The seed this node was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The configured strategy's name.
    pub fn router_name(&self) -> &'static str {
        self.router.name()
    }

    /// Running totals.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Bytes of bundles stored.
    pub fn stored_bytes(&self) -> u64 {
        self.table.used_bytes()
    }

    /// Number of bundles stored.
    pub fn stored_bundles(&self) -> usize {
        self.table.len()
    }

    /// Number of bundles remembered as already handled.
    pub fn tombstones(&self) -> usize {
        self.table.tombstone_count()
    }

    /// Registered endpoints.
    pub fn registrations(&self) -> impl Iterator<Item = &Eid> + '_ {
        self.registrations.iter()
    }

    /// Stored bundles, in admission order.
    pub fn bundles(&self) -> impl Iterator<Item = BundleSummary> + '_ {
        self.table.iter().map(summary)
    }

    /// One stored bundle, if it is (still) here.
    pub fn bundle(&self, key: BundleKey) -> Option<BundleSummary> {
        self.table.get(key).map(summary)
    }

    /// Links that are up.
    pub fn links(&self) -> impl Iterator<Item = LinkSummary> + '_ {
        self.links.iter().map(|(id, l)| LinkSummary {
            link: *id,
            peer: l.peer.clone(),
            in_flight: l.in_flight.len(),
        })
    }

    /// True if `eid` names an endpoint on this node.
    fn is_local(&self, eid: &Eid) -> bool {
        eid.node_id().as_ref() == Some(&self.config.node_id)
    }

    /// A creation timestamp that no earlier bundle of this node used (RFC 9171 §4.2.7).
    fn next_creation(&mut self) -> CreationTimestamp {
        let time = self.now.wall;
        let sequence = if time == self.last_creation.time || time.0 == 0 {
            self.last_creation.sequence.saturating_add(1)
        } else if time < self.last_creation.time {
            // The clock stepped back: keep the old time's sequence going, never reuse one.
            self.last_creation = CreationTimestamp::new(
                self.last_creation.time,
                self.last_creation.sequence.saturating_add(1),
            );
            return self.last_creation;
        } else {
            0
        };
        self.last_creation = CreationTimestamp::new(time, sequence);
        self.last_creation
    }

    fn timeout(&mut self) {
        let now = self.now.wall;
        if now.0 == 0 {
            return; // Without a clock, lifetimes cannot be judged; keep everything.
        }
        for key in self.table.expired(now) {
            self.counters.expired += 1;
            self.delete(key, crate::wire::admin::ReasonCode::LifetimeExpired);
        }
        for id in self.table.expire_tombstones(now) {
            self.outputs
                .push_back(Output::Store(StoreOp::DeleteTombstone { id }));
        }
    }

    fn restore(&mut self, restored: Restored) {
        for endpoint in restored.registrations {
            self.registrations.insert(endpoint);
        }
        for (id, until) in restored.tombstones {
            self.table.add_tombstone(id, until);
        }
        for stored in restored.bundles {
            self.restore_bundle(stored);
        }
        if let Some(state) = restored.router_state {
            self.router.restore_state(&state);
        }
        self.next_key = self.table.last_key().map_or(1, |k| k.0 + 1);
    }
}

fn summary(e: &table::Entry) -> BundleSummary {
    BundleSummary {
        key: e.key,
        source: e.id.source.clone(),
        destination: e.destination.clone(),
        creation: e.id.creation,
        size: e.size,
        expires: e.expires,
        forwarded_to: e.meta.forwarded_to.iter().cloned().collect(),
        durable: e.durable,
        priority: e.class,
    }
}

#[cfg(test)]
mod tests;
