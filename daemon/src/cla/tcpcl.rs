//! The TCPCLv4 link task: one tokio task per TCP connection, driving `proto::tcpcl::Session`.
//!
//! The task turns the session into `LinkEvent`s for the driver and carries out the driver's
//! `LinkCommand`s, and nothing else: every protocol decision is the session's, every bundle
//! decision the node's. A failing session ends its own task and link, never the daemon.
//!
//! Static peers are kept connected by [`keep_connected`], which reconnects with exponential
//! backoff (1 s doubling to 60 s, reset after a session that lasted).
//!
//! Control channel: once a session is up, the task sends tern's control hello
//! (`proto::tcpcl::msg::CONTROL_HELLO`) and tells the driver the link is up only when the
//! peer's answer is known — its hello arrived (a tern peer: `control: true`), or our hello was
//! refused or failed (dtn7-rs and other implementations refuse it), or [`HELLO_WAIT`] passed.

use std::collections::{BTreeMap, VecDeque};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes};
use proto::node::{LinkId, RefuseReason, RxId, TxOutcome, TxToken};
use proto::tcpcl::{
    Event, RefuseReason as XferRefuse, Role, SendError, SessTermReason, Session, SessionConfig,
    TransferId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::clock::Clock;
use crate::config::Settings;
use crate::driver::{DriverHandle, LinkCommand, LinkEvent};

/// TCPCL parameters of this node.
#[derive(Debug, Clone)]
pub struct TcpclSettings {
    /// Session parameters offered to every peer.
    pub session: SessionConfig,
    /// First reconnect delay to a static peer.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl TcpclSettings {
    /// From the daemon's settings.
    pub fn from_settings(s: &Settings) -> Self {
        let mut session = SessionConfig::new(s.node.node_id.to_string());
        session.keepalive_secs = s.keepalive_secs;
        session.segment_mru = s.segment_mru;
        session.transfer_mru = s.node.limits.max_bundle_size as u64;
        // The node decides how many bundles a link carries at once; a smaller session window
        // would silently halve it (and with it the bundles acknowledged per store flush).
        session.max_in_flight = s.node.window_per_link.max(1);
        Self {
            session,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Accepts TCPCL connections until `stop` turns true.
pub async fn listen(
    listener: TcpListener,
    handle: DriverHandle,
    settings: TcpclSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let span = info_span!("tcpcl", %remote, dir = "in");
                    let task = run_session(stream, Role::Passive, remote, handle.clone(), settings.session.clone(), stop.clone());
                    tokio::spawn(task.instrument(span));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!(error = %e, "TCPCL accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Keeps a session open to a static peer, reconnecting with backoff, until `stop`.
pub async fn keep_connected(
    address: String,
    handle: DriverHandle,
    settings: TcpclSettings,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = settings.backoff_min;
    loop {
        let span = info_span!("tcpcl", peer = %address, dir = "out");
        let connect = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&address));
        let lasted = match connect.await {
            Ok(Ok(stream)) => {
                let remote = stream
                    .peer_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                let started = tokio::time::Instant::now();
                run_session(
                    stream,
                    Role::Active,
                    remote,
                    handle.clone(),
                    settings.session.clone(),
                    stop.clone(),
                )
                .instrument(span)
                .await;
                started.elapsed()
            }
            Ok(Err(e)) => {
                debug!(peer = %address, error = %e, "connect failed");
                Duration::ZERO
            }
            Err(_) => {
                debug!(peer = %address, "connect timed out");
                Duration::ZERO
            }
        };
        if *stop.borrow() {
            return;
        }
        if lasted > Duration::from_secs(30) {
            backoff = settings.backoff_min;
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(settings.backoff_max);
    }
}

/// Longest a new session waits for the peer's control hello before the link is announced
/// without a control channel (a peer that neither answers nor refuses the hello).
const HELLO_WAIT: Duration = Duration::from_secs(2);

/// Where the control-channel handshake of a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hello {
    /// Session not established yet.
    Before,
    /// Our hello is out; the link is announced when the peer's arrives, ours is refused, or
    /// at the deadline.
    Waiting {
        ours: Option<TransferId>,
        deadline: tokio::time::Instant,
    },
    /// The link is announced to the driver.
    Done,
}

/// State of one session task.
struct Link {
    session: Session,
    id: LinkId,
    handle: DriverHandle,
    commands_tx: mpsc::UnboundedSender<LinkCommand>,
    remote: SocketAddr,
    /// The driver was told the link is up (`LinkEvent::Up`).
    up: bool,
    /// The control-channel handshake.
    hello: Hello,
    /// The peer's node ID, kept from SESS_INIT until the link is announced.
    peer: Option<proto::wire::Eid>,
    /// The peer sent its control hello: control messages flow both ways.
    peer_control: bool,
    /// Bundles waiting for room in the session's window.
    queued: VecDeque<(TxToken, Vec<Bytes>)>,
    /// Our transfers in flight and the node's token for each.
    tokens: BTreeMap<TransferId, TxToken>,
    /// Tokens sent as several fragments: fragments still unsettled, and the outcome so far.
    fragmented: BTreeMap<TxToken, (usize, TxOutcome)>,
    /// Largest bundle the peer accepts (its transfer MRU).
    peer_transfer_mru: u64,
    clock: Clock,
}

async fn run_session(
    stream: TcpStream,
    role: Role,
    remote: SocketAddr,
    handle: DriverHandle,
    config: SessionConfig,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let clock = Clock::start();
    let session = match Session::new(role, config, 0) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "TCPCL configuration refused");
            return;
        }
    };
    let (commands_tx, mut commands) = mpsc::unbounded_channel();
    let mut link = Link {
        session,
        id: handle.link_ids.next(),
        handle,
        commands_tx,
        remote,
        up: false,
        hello: Hello::Before,
        peer: None,
        peer_control: false,
        queued: VecDeque::new(),
        tokens: BTreeMap::new(),
        fragmented: BTreeMap::new(),
        peer_transfer_mru: u64::MAX,
        clock,
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Outgoing::default();
    let reason = loop {
        // Take what the session has to say, then act on its events (which may queue more).
        out.fill(&mut link.session);
        if let Some(reason) = link.events() {
            // Say the last words (SESS_TERM and the like) before closing, within a bound:
            // a peer that stopped reading must not keep this task alive.
            while let Some(chunk) = link.session.poll_transmit() {
                out.push(chunk);
            }
            let flush = out.flush(&mut writer);
            let _ = tokio::time::timeout(FINAL_FLUSH, flush).await;
            break reason;
        }
        out.fill(&mut link.session);
        let hello_deadline = match link.hello {
            Hello::Waiting { deadline, .. } => Some(deadline),
            Hello::Before | Hello::Done => None,
        };
        let deadline = link
            .session
            .poll_timeout()
            .map(|ms| link.clock.deadline(proto::node::Instant::from_millis(ms)))
            .into_iter()
            .chain(hello_deadline)
            .min();
        // Reading never waits for writing: a peer that writes a large bundle while not reading
        // (dtn7-rs does) must not deadlock against us doing the same.
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) | Err(_) => link.session.handle_close(link.now_ms()),
                Ok(n) => {
                    let now = link.now_ms();
                    link.session.handle_bytes(now, &buf[..n]);
                }
            },
            written = out.write_some(&mut writer), if !out.is_empty() => match written {
                Ok(n) if n > 0 => out.advance(n),
                Ok(_) | Err(_) => {
                    debug!("write failed");
                    link.session.handle_close(link.now_ms());
                }
            },
            Some(cmd) = commands.recv() => link.command(cmd),
            () = sleep_until(deadline) => {
                let now = link.now_ms();
                link.session.handle_timeout(now);
                if hello_deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                    debug!(link = %link.id, "no control hello from the peer");
                    link.announce();
                }
            }
            _ = stop.changed() => link.session.close_now(SessTermReason::UNKNOWN),
        }
    };
    let _ = writer.shutdown().await;
    link.finish(&reason);
}

/// How long a closing session may take to write its last messages.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// Bytes taken from the session ahead of the socket. Enough to keep the socket busy, small
/// enough that an ack or keepalive queued now goes out soon after the data already taken.
const WRITE_AHEAD: usize = 256 * 1024;

/// Most chunks handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Chunks taken from the session and not yet written, in wire order.
///
/// They are written with vectored writes, so a segment's header and its data (two chunks, the
/// data shared with the bundle, never copied) leave in one system call: the peer receives each
/// message whole whenever the socket has room. That matters for dtn7-rs 0.21, whose reader
/// loses its place in the stream if a message arrives in pieces while it starts a transfer of
/// its own; it also means one system call per segment instead of two.
#[derive(Default)]
struct Outgoing {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl Outgoing {
    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Takes chunks from the session up to [`WRITE_AHEAD`] bytes (at least one message).
    fn fill(&mut self, session: &mut Session) {
        while self.len < WRITE_AHEAD {
            let Some(chunk) = session.poll_transmit() else {
                return;
            };
            self.push(chunk);
        }
    }

    /// One vectored write of the first chunks; cancel-safe (nothing is written unless it
    /// returns).
    async fn write_some(&self, writer: &mut OwnedWriteHalf) -> std::io::Result<usize> {
        let slices: Vec<IoSlice<'_>> = self
            .chunks
            .iter()
            .take(MAX_IOVECS)
            .map(|c| IoSlice::new(c))
            .collect();
        writer.write_vectored(&slices).await
    }

    /// Drops the first `n` bytes, which were written.
    fn advance(&mut self, mut n: usize) {
        self.len = self.len.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }

    /// Writes everything.
    async fn flush(&mut self, writer: &mut OwnedWriteHalf) {
        while !self.is_empty() {
            match self.write_some(writer).await {
                Ok(n) if n > 0 => self.advance(n),
                Ok(_) | Err(_) => return,
            }
        }
    }
}

impl Link {
    fn now_ms(&self) -> u64 {
        self.clock.now().mono.as_micros() / 1000
    }

    /// Acts on the session's events; returns why the session ended, once it has.
    fn events(&mut self) -> Option<String> {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Established {
                    peer_node_id,
                    keepalive_secs,
                    peer_segment_mru,
                    peer_transfer_mru,
                } => {
                    self.peer_transfer_mru = peer_transfer_mru;
                    info!(link = %self.id, peer = ?peer_node_id.as_ref().map(ToString::to_string), keepalive_secs, peer_segment_mru, "TCPCL session established");
                    self.peer = peer_node_id;
                    self.start_hello();
                }
                Event::ControlReceived { message, .. } => self.control_received(message),
                Event::TransferStarted { .. } if self.hello != Hello::Done => {
                    // A tern peer's hello precedes its first bundle (both sides send it as
                    // soon as the session is up): a bundle first means no control channel.
                    self.announce();
                }
                Event::TransferReceived {
                    transfer_id,
                    bundle,
                } => {
                    self.announce();
                    let _ = self.handle.links.send(LinkEvent::Received {
                        link: self.id,
                        rx: RxId(transfer_id.0),
                        bytes: bundle,
                    });
                }
                Event::TransferAcked { transfer_id } => {
                    self.settle(transfer_id, TxOutcome::Accepted)
                }
                Event::TransferRefused {
                    transfer_id,
                    reason,
                } if self.is_our_hello(transfer_id) => {
                    debug!(link = %self.id, %reason, "peer refused the control hello: no control channel");
                    self.announce();
                }
                Event::TransferFailed { transfer_id } if self.is_our_hello(transfer_id) => {
                    self.announce();
                }
                Event::TransferRefused {
                    transfer_id,
                    reason,
                } => {
                    let outcome = match reason {
                        XferRefuse::COMPLETED => TxOutcome::Refused(RefuseReason::Duplicate),
                        XferRefuse::NO_RESOURCES => TxOutcome::Refused(RefuseReason::StorageFull),
                        XferRefuse::NOT_ACCEPTABLE | XferRefuse::EXTENSION_FAILURE => {
                            TxOutcome::Refused(RefuseReason::NotAcceptable)
                        }
                        // Retransmit, session terminating, unknown: try again another time.
                        _ => TxOutcome::Failed,
                    };
                    debug!(%transfer_id, %reason, "transfer refused by peer");
                    self.settle(transfer_id, outcome);
                }
                Event::TransferFailed { transfer_id } => {
                    self.settle(transfer_id, TxOutcome::Failed)
                }
                Event::Rejected {
                    reason,
                    rejected_type,
                } => {
                    warn!(%reason, %rejected_type, "peer rejected a message");
                }
                Event::Ending { reason, by_peer } => {
                    debug!(%reason, by_peer, "session ending");
                }
                Event::Terminated {
                    reason,
                    by_peer,
                    error,
                } => {
                    let why = match error {
                        Some(e) => format!("{e}"),
                        None if by_peer => format!("peer ended the session ({reason})"),
                        None => format!("session ended ({reason})"),
                    };
                    return Some(why);
                }
                _ => {}
            }
        }
        self.send_queued();
        None
    }

    /// Sends our control hello, or announces the link at once if control is off.
    fn start_hello(&mut self) {
        if !self.session_config_control() {
            self.announce();
            return;
        }
        let hello = Bytes::from_static(proto::tcpcl::msg::CONTROL_HELLO);
        match self.session.send_control(hello) {
            Ok(id) => {
                self.hello = Hello::Waiting {
                    ours: Some(id),
                    deadline: tokio::time::Instant::now() + HELLO_WAIT,
                };
            }
            Err(e) => {
                debug!(error = %e, "control hello not sent");
                self.announce();
            }
        }
    }

    fn session_config_control(&self) -> bool {
        self.session.tern_control()
    }

    fn is_our_hello(&self, id: TransferId) -> bool {
        matches!(self.hello, Hello::Waiting { ours: Some(ours), .. } if ours == id)
    }

    /// Tells the driver the link is up (once), with or without a control channel.
    fn announce(&mut self) {
        if self.hello == Hello::Done {
            return;
        }
        self.hello = Hello::Done;
        self.up = true;
        let _ = self.handle.links.send(LinkEvent::Up {
            link: self.id,
            peer: self.peer.clone(),
            commands: self.commands_tx.clone(),
            remote: self.remote,
            cla: "tcpcl",
            control: self.peer_control,
        });
    }

    fn control_received(&mut self, message: Bytes) {
        if message.as_ref() == proto::tcpcl::msg::CONTROL_HELLO {
            if self.hello != Hello::Done {
                self.peer_control = true;
                self.announce();
            }
            return;
        }
        if self.up && self.peer_control {
            let _ = self.handle.links.send(LinkEvent::Control {
                link: self.id,
                bytes: message,
            });
        } else {
            debug!(link = %self.id, "control message before the peer's hello: dropped");
        }
    }

    fn command(&mut self, cmd: LinkCommand) {
        match cmd {
            LinkCommand::Control { message } => {
                if let Err(e) = self.session.send_control(message) {
                    debug!(error = %e, "control message not sent");
                }
            }
            LinkCommand::Send { token, bytes } => {
                let len: usize = bytes.iter().map(Bytes::len).sum();
                if len as u64 > self.peer_transfer_mru {
                    self.queue_fragments(token, join(bytes));
                } else {
                    self.queued.push_back((token, bytes));
                }
                self.send_queued();
            }
            LinkCommand::Accept { rx } => {
                if let Err(e) = self.session.ack_transfer(TransferId(rx.0)) {
                    debug!(error = %e, "ack not sent");
                }
            }
            LinkCommand::Refuse { rx, reason } => {
                let code = match reason {
                    RefuseReason::Duplicate => XferRefuse::COMPLETED,
                    RefuseReason::StorageFull => XferRefuse::NO_RESOURCES,
                    RefuseReason::NotAcceptable => XferRefuse::NOT_ACCEPTABLE,
                };
                if let Err(e) = self.session.refuse_transfer(TransferId(rx.0), code) {
                    debug!(error = %e, "refusal not sent");
                }
            }
            LinkCommand::Close => self.session.close(SessTermReason::UNKNOWN),
        }
    }

    /// Hands queued bundles to the session while its window has room.
    fn send_queued(&mut self) {
        while self.session.can_send() {
            let Some((token, bytes)) = self.queued.pop_front() else {
                return;
            };
            match self.session.send_bundle_chunks(bytes) {
                Ok(id) => {
                    self.tokens.insert(id, token);
                }
                Err(SendError::TooLarge { .. } | SendError::Empty) => {
                    self.report(token, TxOutcome::Refused(RefuseReason::NotAcceptable));
                }
                Err(e) => {
                    debug!(error = %e, "send failed");
                    self.report(token, TxOutcome::Failed);
                }
            }
        }
    }

    /// A bundle larger than the peer's transfer MRU goes as fragments (RFC 9171 §5.8,
    /// RFC 9174 §4.7: the MRU bounds what one transfer may carry); the node hears one outcome
    /// once every fragment is settled.
    fn queue_fragments(&mut self, token: TxToken, bytes: Bytes) {
        let limit = usize::try_from(self.peer_transfer_mru).unwrap_or(usize::MAX);
        let fragments = proto::wire::Bundle::decode(bytes)
            .map_err(|e| e.to_string())
            .and_then(|b| proto::wire::fragment::fragment(&b, limit).map_err(|e| e.to_string()));
        match fragments {
            Ok(parts) if !parts.is_empty() => {
                debug!(%token, parts = parts.len(), limit, "fragmenting for the peer's transfer MRU");
                self.fragmented
                    .insert(token, (parts.len(), TxOutcome::Accepted));
                for part in parts {
                    self.queued
                        .push_back((token, vec![Bytes::from(part.encode())]));
                }
            }
            Ok(_) | Err(_) => {
                debug!(%token, limit, "bundle exceeds the peer's transfer MRU and cannot be fragmented");
                self.report(token, TxOutcome::Refused(RefuseReason::NotAcceptable));
            }
        }
    }

    fn settle(&mut self, id: TransferId, outcome: TxOutcome) {
        if let Some(token) = self.tokens.remove(&id) {
            self.report(token, outcome);
        }
    }

    /// Reports a token's outcome, or one fragment's: the first failure of any fragment is the
    /// bundle's outcome, reported when the last fragment settles.
    fn report(&mut self, token: TxToken, outcome: TxOutcome) {
        if let Some((left, so_far)) = self.fragmented.get_mut(&token) {
            if *so_far == TxOutcome::Accepted {
                *so_far = outcome;
            }
            *left -= 1;
            if *left > 0 {
                return;
            }
            let outcome = *so_far;
            self.fragmented.remove(&token);
            let _ = self
                .handle
                .links
                .send(LinkEvent::Transmitted { token, outcome });
            return;
        }
        let _ = self
            .handle
            .links
            .send(LinkEvent::Transmitted { token, outcome });
    }

    fn finish(mut self, reason: &str) {
        let tokens: Vec<TxToken> = std::mem::take(&mut self.tokens).into_values().collect();
        for token in tokens
            .into_iter()
            .chain(self.queued.drain(..).map(|(t, _)| t).collect::<Vec<_>>())
        {
            self.report(token, TxOutcome::Failed);
        }
        if self.up {
            let _ = self.handle.links.send(LinkEvent::Down {
                link: self.id,
                reason: reason.to_owned(),
            });
        } else {
            info!(reason, "TCPCL session ended before it was established");
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A bundle's buffers as one (copied only when there are several): fragmenting decodes it.
fn join(chunks: Vec<Bytes>) -> Bytes {
    if let [one] = chunks.as_slice() {
        return one.clone();
    }
    let mut joined = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
    for chunk in &chunks {
        joined.extend_from_slice(chunk);
    }
    Bytes::from(joined)
}
