//! The driver task: the one owner of the [`Node`]. It turns sockets, timers, the store and API
//! requests into engine inputs, and carries out the engine's outputs.
//!
//! Everything reaches the driver through channels, so no lock ever guards the node:
//! - link tasks (one per convergence-layer session) send [`LinkEvent`]s and receive
//!   [`LinkCommand`]s;
//! - the local API sends [`Command`]s with a reply channel;
//! - the store ops and deliveries of one turn of the loop (one input and every output it
//!   caused) go to the store as one [`WriteBatch`];
//! - the store is flushed in the background (group commit): all ops applied before a flush
//!   started are durable when it ends, and only then does the node hear `Input::Stored`, so a
//!   peer's transfer is acknowledged only once its bundle would survive a power cut. While a
//!   flush runs, the turns go on and their batches wait for the next flush.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use proto::node::{
    BundleKey, BundleSummary, Counters, Input, LinkId, Node, Output, RefuseReason, RegisterError,
    Report, Rewrite, RxId, StoreOp, Submit, SubmitError, TxOutcome, TxToken,
};
use proto::wire::splice::splice;
use proto::wire::{Bundle, BundleFlags, DecodeLimits, Eid};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::store::{MailboxRecord, SledStore, WriteBatch};

/// What a link task tells the driver.
#[derive(Debug)]
pub enum LinkEvent {
    /// A session is established.
    Up {
        /// Id allocated with [`LinkIds::next`].
        link: LinkId,
        /// The peer's node ID, if the convergence layer learned it.
        peer: Option<Eid>,
        /// Where to send commands for this link.
        commands: mpsc::UnboundedSender<LinkCommand>,
        /// The peer's address.
        remote: SocketAddr,
        /// Convergence layer name, for operators.
        cla: &'static str,
        /// The peer is a tern node that speaks link-local control messages (its hello
        /// arrived): the node reconciles stores with it instead of keeping per-peer history.
        control: bool,
    },
    /// A tern control message arrived from the peer.
    Control {
        /// The link.
        link: LinkId,
        /// The message, validated by the node.
        bytes: Bytes,
    },
    /// A whole bundle arrived.
    Received {
        /// The link.
        link: LinkId,
        /// The transfer (answer with Accept/Refuse).
        rx: RxId,
        /// The bundle.
        bytes: Bytes,
    },
    /// A transmission ended.
    Transmitted {
        /// The token from `LinkCommand::Send`.
        token: TxToken,
        /// How.
        outcome: TxOutcome,
    },
    /// The session ended.
    Down {
        /// The link.
        link: LinkId,
        /// Why, for the log.
        reason: String,
    },
}

/// What the driver tells a link task.
#[derive(Debug)]
pub enum LinkCommand {
    /// Send this encoded bundle; answer with `LinkEvent::Transmitted { token }`.
    Send {
        /// The node's token.
        token: TxToken,
        /// Encoded bundle, rewritten for this hop, as buffers to send in order as one bundle:
        /// one for a small bundle; for a large one the rewritten head and a slice of the stored
        /// bundle, so its payload is never copied (see `proto::wire::splice`).
        bytes: Vec<Bytes>,
    },
    /// Acknowledge an inbound transfer (its bundle is durable).
    Accept {
        /// The transfer.
        rx: RxId,
    },
    /// Refuse an inbound transfer.
    Refuse {
        /// The transfer.
        rx: RxId,
        /// Why.
        reason: RefuseReason,
    },
    /// Send a tern control message to the peer (only on links that announced `control`).
    Control {
        /// The message.
        message: Bytes,
    },
    /// End the session.
    Close,
}

/// Allocates link ids; shared by every convergence layer.
#[derive(Debug, Clone, Default)]
pub struct LinkIds(Arc<AtomicU64>);

impl LinkIds {
    /// A fresh id.
    pub fn next(&self) -> LinkId {
        LinkId(self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// A request from the local API or CLI.
#[derive(Debug)]
pub enum Command {
    /// Send a bundle.
    Submit {
        /// The request.
        req: Submit,
        /// The answer: the stored bundle, listed as it was admitted.
        reply: oneshot::Sender<Result<BundleSummary, SubmitError>>,
    },
    /// Register an endpoint.
    Register {
        /// The endpoint.
        endpoint: Eid,
        /// The answer.
        reply: oneshot::Sender<Result<(), RegisterError>>,
    },
    /// Node status and counters.
    Status {
        /// The answer.
        reply: oneshot::Sender<StatusView>,
    },
    /// Stored bundles.
    Bundles {
        /// The answer.
        reply: oneshot::Sender<Vec<BundleSummary>>,
    },
    /// Withdraw a bundle: delete every stored copy and refuse later ones until `until`
    /// (a retired CAP alert stops spreading). Fire and forget.
    Discard {
        /// The bundle.
        id: proto::wire::BundleId,
        /// Refuse copies until then (the bundle's own expiry).
        until: proto::wire::DtnTime,
    },
    /// Links up now.
    Peers {
        /// The answer.
        reply: oneshot::Sender<Vec<PeerView>>,
    },
}

/// A delivery, announced to API listeners after it is in the mailbox.
#[derive(Debug, Clone)]
pub struct DeliveryNotice {
    /// The registration.
    pub endpoint: Eid,
    /// Mailbox sequence number.
    pub seq: u64,
}

/// A link, as shown to operators.
#[derive(Debug, Clone, Serialize)]
pub struct PeerView {
    /// Link id.
    pub link: u64,
    /// Peer node ID.
    pub node_id: Option<String>,
    /// Peer address.
    pub address: String,
    /// Convergence layer.
    pub cla: &'static str,
    /// Transmissions in flight.
    pub in_flight: usize,
}

/// Node status, as shown to operators.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// Node ID.
    pub node_id: String,
    /// Routing strategy.
    pub router: &'static str,
    /// Bundles stored.
    pub bundles: usize,
    /// Bytes stored.
    pub stored_bytes: u64,
    /// Links up.
    pub links: usize,
    /// Registrations.
    pub registrations: Vec<String>,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Counters.
    pub counters: Counters,
}

struct LinkInfo {
    commands: mpsc::UnboundedSender<LinkCommand>,
    peer: Option<Eid>,
    remote: SocketAddr,
    cla: &'static str,
    /// Bytes of this link's transmissions handed to its task and not yet ended.
    sending: usize,
    /// Transmissions the node started that wait for [`MAX_SENDING_BYTES`] to allow them; their
    /// bytes are read from the store only then.
    deferred: VecDeque<(TxToken, BundleKey, Rewrite)>,
}

/// The channels other tasks use to reach the driver.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    /// API commands.
    pub commands: mpsc::Sender<Command>,
    /// Link events.
    pub links: mpsc::UnboundedSender<LinkEvent>,
    /// Link id allocator.
    pub link_ids: LinkIds,
    /// Delivery announcements.
    pub deliveries: broadcast::Sender<DeliveryNotice>,
    /// The store, for mailbox reads.
    pub store: Arc<SledStore>,
}

/// Owns the node and runs its event loop.
pub struct Driver {
    node: Node,
    store: Arc<SledStore>,
    clock: Clock,
    commands: mpsc::Receiver<Command>,
    link_events: mpsc::UnboundedReceiver<LinkEvent>,
    links: BTreeMap<LinkId, LinkInfo>,
    /// The link and size of every transmission handed to a link task.
    sending: BTreeMap<TxToken, (LinkId, usize)>,
    deliveries: broadcast::Sender<DeliveryNotice>,
    /// This turn's store ops and deliveries, committed at the end of the turn.
    batch: WriteBatch,
    /// Keys whose `PutBundle` is in `batch`.
    batch_keys: Vec<BundleKey>,
    /// Deliveries in `batch`, announced once it is committed.
    batch_deliveries: Vec<DeliveryNotice>,
    /// Keys whose `PutBundle` was applied since the last flush started.
    unflushed: Vec<BundleKey>,
    dirty: bool,
    flushing: bool,
    flushed_tx: mpsc::UnboundedSender<Result<Vec<BundleKey>, Vec<BundleKey>>>,
    flushed_rx: mpsc::UnboundedReceiver<Result<Vec<BundleKey>, Vec<BundleKey>>>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("node", &self.node.node_id())
            .finish()
    }
}

impl Driver {
    /// A driver for `node`, with the handle other tasks use to reach it.
    pub fn new(node: Node, store: Arc<SledStore>, clock: Clock) -> (Self, DriverHandle) {
        let (cmd_tx, commands) = mpsc::channel(256);
        let (link_tx, link_events) = mpsc::unbounded_channel();
        let (deliveries, _) = broadcast::channel(1024);
        let (flushed_tx, flushed_rx) = mpsc::unbounded_channel();
        let handle = DriverHandle {
            commands: cmd_tx,
            links: link_tx,
            link_ids: LinkIds::default(),
            deliveries: deliveries.clone(),
            store: store.clone(),
        };
        let driver = Self {
            node,
            store,
            clock,
            commands,
            link_events,
            links: BTreeMap::new(),
            sending: BTreeMap::new(),
            deliveries,
            batch: WriteBatch::default(),
            batch_keys: Vec::new(),
            batch_deliveries: Vec::new(),
            unflushed: Vec::new(),
            dirty: false,
            flushing: false,
            flushed_tx,
            flushed_rx,
        };
        (driver, handle)
    }

    /// Runs until `shutdown` turns true, then flushes the store.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        info!(node = %self.node.node_id(), router = self.node.router_name(), "node running");
        self.drain_outputs();
        loop {
            self.maybe_flush();
            let deadline = self.node.poll_timeout().map(|t| self.clock.deadline(t));
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(result) = self.flushed_rx.recv() => self.flushed(result),
                Some(event) = self.link_events.recv() => self.link_event(event),
                Some(cmd) = self.commands.recv() => self.command(cmd),
                () = sleep_until(deadline) => {
                    let now = self.clock.now();
                    self.node.handle(now, Input::Timeout);
                }
            }
            // What else is already waiting joins this turn, so that all of it goes to the store
            // as one batch (a burst of acks or submissions costs one sled write, not one each).
            // The engine queues its outputs in order, so handling several inputs before carrying
            // them out changes nothing else.
            for _ in 0..MAX_EVENTS_PER_TURN {
                let Ok(event) = self.link_events.try_recv() else {
                    break;
                };
                self.link_event(event);
            }
            for _ in 0..MAX_EVENTS_PER_TURN {
                let Ok(cmd) = self.commands.try_recv() else {
                    break;
                };
                self.command(cmd);
            }
            self.drain_outputs();
        }
        for link in self.links.values() {
            let _ = link.commands.send(LinkCommand::Close);
        }
        // Final flush: whatever was applied is made durable before we exit.
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.flush()).await {
            Ok(Ok(_)) => info!("store flushed; node stopped"),
            Ok(Err(e)) => warn!(error = %e, "final store flush failed"),
            Err(e) => warn!(error = %e, "final store flush task failed"),
        }
    }

    fn link_event(&mut self, event: LinkEvent) {
        let now = self.clock.now();
        let input = match event {
            LinkEvent::Up {
                link,
                peer,
                commands,
                remote,
                cla,
                control,
            } => {
                info!(%link, peer = ?peer.as_ref().map(ToString::to_string), %remote, cla, control, "link up");
                self.links.insert(
                    link,
                    LinkInfo {
                        commands,
                        peer: peer.clone(),
                        remote,
                        cla,
                        sending: 0,
                        deferred: VecDeque::new(),
                    },
                );
                self.node.handle(now, Input::LinkUp { link, peer });
                if !control {
                    return;
                }
                // Before any output is drained: the node then reconciles instead of offering.
                Input::ControlReady { link }
            }
            LinkEvent::Control { link, bytes } => Input::Control { link, bytes },
            LinkEvent::Received { link, rx, bytes } => Input::Received { link, rx, bytes },
            LinkEvent::Transmitted { token, outcome } => {
                let link = self.sent(token);
                self.node.handle(now, Input::Transmitted { token, outcome });
                if let Some(link) = link {
                    self.send_deferred(link);
                }
                return;
            }
            LinkEvent::Down { link, reason } => {
                if let Some(info) = self.links.remove(&link) {
                    info!(%link, peer = ?info.peer.map(|p| p.to_string()), reason, "link down");
                }
                // The node fails every transmission in flight on the link, deferred ones too.
                self.sending.retain(|_, (l, _)| *l != link);
                Input::LinkDown { link }
            }
        };
        self.node.handle(now, input);
    }

    fn command(&mut self, cmd: Command) {
        let now = self.clock.now();
        match cmd {
            Command::Submit { req, reply } => {
                let result = self.node.submit(now, req).map(|key| {
                    // Just admitted: the bundle is in the table until this call returns.
                    self.node.bundle(key).unwrap_or_else(|| BundleSummary {
                        key,
                        source: Eid::Null,
                        destination: Eid::Null,
                        creation: proto::wire::CreationTimestamp::default(),
                        size: 0,
                        expires: proto::wire::DtnTime(0),
                        forwarded_to: Vec::new(),
                        durable: false,
                        priority: proto::wire::Priority::default(),
                    })
                });
                let _ = reply.send(result);
            }
            Command::Register { endpoint, reply } => {
                let _ = reply.send(self.node.register(endpoint));
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status(now));
            }
            Command::Bundles { reply } => {
                let _ = reply.send(self.node.bundles().collect());
            }
            Command::Discard { id, until } => {
                let deleted = self.node.discard(now, &id, until);
                info!(source = %id.source, seq = id.creation.sequence, deleted, "bundle withdrawn");
            }
            Command::Peers { reply } => {
                let peers = self
                    .node
                    .links()
                    .map(|l| {
                        let info = self.links.get(&l.link);
                        PeerView {
                            link: l.link.0,
                            node_id: l.peer.map(|p| p.to_string()),
                            address: info.map(|i| i.remote.to_string()).unwrap_or_default(),
                            cla: info.map_or("?", |i| i.cla),
                            in_flight: l.in_flight,
                        }
                    })
                    .collect();
                let _ = reply.send(peers);
            }
        }
    }

    fn status(&self, now: proto::node::Now) -> StatusView {
        StatusView {
            node_id: self.node.node_id().to_string(),
            router: self.node.router_name(),
            bundles: self.node.stored_bundles(),
            stored_bytes: self.node.stored_bytes(),
            links: self.links.len(),
            registrations: self.node.registrations().map(ToString::to_string).collect(),
            uptime_secs: now.mono.as_micros() / 1_000_000,
            counters: self.node.counters(),
        }
    }

    /// Carries out every pending output, in order, then commits the turn's store batch.
    fn drain_outputs(&mut self) {
        self.carry_out_outputs();
        self.commit();
    }

    fn carry_out_outputs(&mut self) {
        while let Some(out) = self.node.poll_output() {
            match out {
                Output::Store(op) => self.apply(op),
                Output::Transmit {
                    link,
                    token,
                    key,
                    rewrite,
                } => {
                    if let Some(info) = self.links.get_mut(&link)
                        && (!info.deferred.is_empty() || info.sending >= MAX_SENDING_BYTES)
                    {
                        info.deferred.push_back((token, key, rewrite));
                        continue;
                    }
                    self.start_transmission(link, token, key, &rewrite);
                }
                Output::Accept { link, rx } => self.send_to_link(link, LinkCommand::Accept { rx }),
                Output::Refuse { link, rx, reason } => {
                    self.send_to_link(link, LinkCommand::Refuse { rx, reason });
                }
                Output::Deliver { endpoint, key } => self.deliver(endpoint, key),
                Output::Report(report) => log_report(&report),
                Output::Control { link, message } => match self.links.get(&link) {
                    Some(info) => {
                        let _ = info.commands.send(LinkCommand::Control { message });
                    }
                    None => debug!(%link, "control message for a link that is gone"),
                },
            }
        }
    }

    /// Stages a store op in this turn's batch (in order: later reads see it).
    fn apply(&mut self, op: StoreOp) {
        if let Err(e) = self.store.stage(&mut self.batch, &op) {
            // The op is lost; for a PutBundle the node never hears Stored, so the peer is never
            // acknowledged and will offer the bundle again.
            warn!(error = %e, "store write failed");
            return;
        }
        if let StoreOp::PutBundle { key, .. } = op {
            self.batch_keys.push(key);
        }
    }

    /// Applies this turn's batch (one sled batch per tree) and announces its deliveries.
    fn commit(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let keys = std::mem::take(&mut self.batch_keys);
        let notices = std::mem::take(&mut self.batch_deliveries);
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.store.commit(batch) {
            // As for one lost op: no Stored for these bundles, so no peer is acknowledged.
            warn!(error = %e, bundles = keys.len(), "store batch failed");
            return;
        }
        self.unflushed.extend(keys);
        self.dirty = true;
        for notice in notices {
            let _ = self.deliveries.send(notice);
        }
    }

    fn maybe_flush(&mut self) {
        if self.flushing || !self.dirty {
            return;
        }
        self.flushing = true;
        self.dirty = false;
        let keys = std::mem::take(&mut self.unflushed);
        let store = self.store.clone();
        let tx = self.flushed_tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = match store.flush() {
                Ok(_) => Ok(keys),
                Err(e) => {
                    warn!(error = %e, "store flush failed; will retry");
                    Err(keys)
                }
            };
            let _ = tx.send(result);
        });
    }

    fn flushed(&mut self, result: Result<Vec<BundleKey>, Vec<BundleKey>>) {
        self.flushing = false;
        match result {
            Ok(keys) => {
                let now = self.clock.now();
                for key in keys {
                    self.node.handle(now, Input::Stored { key });
                }
            }
            Err(keys) => {
                self.unflushed.splice(0..0, keys);
                self.dirty = true;
            }
        }
    }

    /// Reads, rewrites and hands a bundle to its link task; tells the node at once if that fails.
    fn start_transmission(
        &mut self,
        link: LinkId,
        token: TxToken,
        key: BundleKey,
        rewrite: &Rewrite,
    ) {
        let outcome = self.transmit(link, token, key, rewrite);
        if let Err(why) = outcome {
            debug!(%link, %key, why, "transmission not started");
            let now = self.clock.now();
            if why == LINK_ENDED && self.links.remove(&link).is_some() {
                // The task is gone; its LinkDown may still be queued. Tell the
                // node now so it stops choosing this link.
                self.sending.retain(|_, (l, _)| *l != link);
                self.node.handle(now, Input::LinkDown { link });
            }
            self.node.handle(
                now,
                Input::Transmitted {
                    token,
                    outcome: TxOutcome::Failed,
                },
            );
        }
    }

    /// A transmission ended: its bytes no longer count against its link. Returns the link.
    fn sent(&mut self, token: TxToken) -> Option<LinkId> {
        let (link, len) = self.sending.remove(&token)?;
        if let Some(info) = self.links.get_mut(&link) {
            info.sending = info.sending.saturating_sub(len);
        }
        Some(link)
    }

    /// Starts deferred transmissions of `link` while its bytes in flight allow.
    fn send_deferred(&mut self, link: LinkId) {
        loop {
            let next = match self.links.get_mut(&link) {
                Some(info) if info.sending < MAX_SENDING_BYTES => info.deferred.pop_front(),
                _ => None,
            };
            let Some((token, key, rewrite)) = next else {
                return;
            };
            self.start_transmission(link, token, key, &rewrite);
        }
    }

    fn transmit(
        &mut self,
        link: LinkId,
        token: TxToken,
        key: BundleKey,
        rewrite: &Rewrite,
    ) -> Result<(), &'static str> {
        if !self.links.contains_key(&link) {
            return Err("link is gone");
        }
        let bytes = match self.store.bundle_in(&self.batch, key) {
            Ok(Some(b)) => b,
            Ok(None) => return Err("bundle not in store"),
            Err(_) => return Err("store read failed"),
        };
        let spliced = splice(&bytes, &DecodeLimits::default(), |b| rewrite.apply(b))
            .map_err(|_| "stored bundle does not decode")?;
        let len = spliced.len();
        let bytes = if len < SPLICE_MIN {
            vec![spliced.to_bytes()]
        } else {
            spliced.into_chunks()
        };
        let info = self.links.get_mut(&link).ok_or("link is gone")?;
        info.commands
            .send(LinkCommand::Send { token, bytes })
            .map_err(|_| LINK_ENDED)?;
        info.sending += len;
        self.sending.insert(token, (link, len));
        Ok(())
    }

    fn send_to_link(&mut self, link: LinkId, cmd: LinkCommand) {
        if let Some(info) = self.links.get(&link) {
            let _ = info.commands.send(cmd);
        }
    }

    fn deliver(&mut self, endpoint: Eid, key: BundleKey) {
        let stored = match self.store.bundle_in(&self.batch, key) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                warn!(%key, "bundle to deliver is not in the store");
                return;
            }
            Err(e) => {
                warn!(%key, error = %e, "cannot read bundle to deliver");
                return;
            }
        };
        let Ok(bundle) = Bundle::decode(stored.clone()) else {
            warn!(%key, "stored bundle does not decode");
            return;
        };
        let p = bundle.primary();
        let record = MailboxRecord {
            source: p.source.clone(),
            destination: p.destination.clone(),
            creation: p.creation,
            payload: bundle.payload().clone(),
            admin_record: p.flags.contains(BundleFlags::ADMIN_RECORD),
        };
        match self
            .store
            .stage_delivery(&mut self.batch, &endpoint, key, &stored, &record)
        {
            Ok(seq) => self.batch_deliveries.push(DeliveryNotice { endpoint, seq }),
            Err(e) => warn!(%key, error = %e, "mailbox write failed"),
        }
    }
}

const LINK_ENDED: &str = "link task has ended";

/// Bundles of at least this many bytes go to their link as chunks (rewritten head, stored
/// payload); smaller ones are joined into one buffer.
///
/// Why: each chunk becomes at least one TCPCL segment, which the peer acknowledges, so a small
/// bundle in two chunks costs an extra segment and ack for the sake of copying a few KiB. Above
/// this size the copy saved matters more. The same size as the store's file threshold
/// ([`crate::store::FILE_MIN`]): the bundles read from files are the ones worth not copying.
const SPLICE_MIN: usize = crate::store::FILE_MIN;

/// Most bytes of bundles a link task holds for sending at once (at least one bundle goes
/// whatever its size). The node's window counts bundles; this bounds their bytes, so a window of
/// large bundles is read from the store as the link drains rather than all at once.
const MAX_SENDING_BYTES: usize = 16 << 20;

/// Most link events (and, separately, API commands) taken into one turn besides the one that
/// woke the driver: enough to batch a window of acks, few enough to keep a turn short.
const MAX_EVENTS_PER_TURN: usize = 256;

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn log_report(report: &Report) {
    match report {
        Report::Admitted { key, id, link } => {
            debug!(%key, source = %id.source, seq = id.creation.sequence, link = ?link, "bundle admitted");
        }
        Report::Refused {
            link,
            reason,
            detail,
        } => info!(%link, ?reason, detail, "bundle refused"),
        Report::Malformed { link, error } => warn!(%link, %error, "malformed bundle from peer"),
        Report::Forwarded { key, link } => debug!(%key, %link, "bundle forwarded"),
        Report::Delivered { key, endpoint } => info!(%key, %endpoint, "bundle delivered"),
        Report::Deleted { key, reason } => debug!(%key, %reason, "bundle deleted"),
        Report::ControlFailed { link, error } => {
            debug!(%link, error = ?error, "control channel failed");
        }
    }
}
