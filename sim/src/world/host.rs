//! Hosts: a real [`Node`] and its [`MemStore`], and how the world carries out what a node asks.
//!
//! Store writes are pending until flushed: at once when the plan's store latency is zero, else
//! by a `Flush` event that commits everything pending (group commit). A crash loses what is
//! pending; a restart builds a new node from what was durable, exactly as the daemon recovers
//! from its database.

use proto::node::store::MemStore;
use proto::node::{BundleKey, Config, Input, Node, Output, Report, Restored};
use proto::wire::Eid;
use proto::wire::admin::ReasonCode;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Event, Held, Note, Target, World, WorldError};
use crate::clock::{self, SimTime};
use crate::plan::HostSpec;
use crate::queue::Class;
use crate::rng;

/// One simulated machine.
#[derive(Debug)]
pub(super) struct Host {
    pub(super) eid: Eid,
    pub(super) inbox: Eid,
    /// Group endpoints (alerts) this host's applications listen on.
    pub(super) groups: Vec<Eid>,
    config: Config,
    /// `None` while crashed.
    pub(super) node: Option<Node>,
    pub(super) store: MemStore,
    /// Bumped by every crash, so events meant for an earlier life are ignored.
    pub(super) incarnation: u64,
    /// Draws each incarnation's node seed.
    rng: ChaCha8Rng,
    /// The armed timer, if any.
    timer: Option<SimTime>,
    /// When the node last handled a timeout (guards against a deadline that does not move).
    fired_at: Option<SimTime>,
    pending_writes: bool,
    flush_scheduled: bool,
}

impl Host {
    pub(super) fn new(spec: &HostSpec, seed: u64) -> Result<Self, WorldError> {
        let bad = |e: &dyn std::fmt::Display| WorldError::BadHostName {
            name: spec.name.clone(),
            reason: e.to_string(),
        };
        let eid: Eid = format!("dtn://{}/", spec.name)
            .parse()
            .map_err(|e| bad(&e))?;
        let inbox: Eid = format!("dtn://{}/inbox", spec.name)
            .parse()
            .map_err(|e| bad(&e))?;
        let mut config = Config::new(eid.clone());
        config.router = spec.router.clone();
        config.storage_quota = spec.buffer;
        Ok(Self {
            eid,
            inbox,
            groups: Vec::new(),
            config,
            node: None,
            store: MemStore::new(),
            incarnation: 0,
            rng: rng::named(seed, &format!("node/{}", spec.name)),
            timer: None,
            fired_at: None,
            pending_writes: false,
            flush_scheduled: false,
        })
    }

    pub(super) fn alive(&self) -> bool {
        self.node.is_some()
    }
}

impl World {
    /// Starts (or restarts) host `h` from its durable store and registers its inbox.
    pub(super) fn boot(&mut self, h: usize) {
        let now = clock::now(self.now);
        let host = &mut self.hosts[h];
        let restored: Restored = host.store.restored();
        let seed = host.rng.random();
        let mut node = Node::new(host.config.clone(), seed, now, restored);
        // Applications register again when they start; the store may have lost the record.
        let _ = node.register(host.inbox.clone());
        for g in &host.groups {
            let _ = node.register(g.clone());
        }
        host.node = Some(node);
        self.settle(h);
    }

    /// Feeds `input` to host `h` (if it is up) and carries out the consequences.
    pub(super) fn input(&mut self, h: usize, input: Input) {
        let now = clock::now(self.now);
        let Some(node) = self.hosts[h].node.as_mut() else {
            return;
        };
        node.handle(now, input);
        self.settle(h);
    }

    /// Carries out every output of host `h`, makes writes durable when the store has no
    /// latency (feeding `Stored` back until nothing moves), and re-arms its timer.
    pub(super) fn settle(&mut self, h: usize) {
        loop {
            self.drain(h);
            if self.plan.store_latency > SimTime::ZERO {
                self.schedule_flush(h);
                break;
            }
            if !self.hosts[h].pending_writes {
                break;
            }
            self.hosts[h].pending_writes = false;
            let keys = self.hosts[h].store.flush();
            let now = clock::now(self.now);
            let Some(node) = self.hosts[h].node.as_mut() else {
                break;
            };
            for key in keys {
                node.handle(now, Input::Stored { key });
            }
        }
        self.arm_timer(h);
    }

    fn drain(&mut self, h: usize) {
        let mut outputs = std::mem::take(&mut self.scratch);
        if let Some(node) = self.hosts[h].node.as_mut() {
            outputs.extend(std::iter::from_fn(|| node.poll_output()));
        }
        for out in outputs.drain(..) {
            self.carry_out(h, out);
        }
        self.scratch = outputs;
    }

    fn carry_out(&mut self, h: usize, out: Output) {
        match out {
            Output::Store(op) => {
                self.hosts[h].store.apply(op);
                self.hosts[h].pending_writes = true;
            }
            Output::Transmit {
                link,
                token,
                key,
                rewrite,
            } => self.transmit(h, link, token, key, &rewrite),
            Output::Accept { rx, .. } => {
                self.answer(h, rx, proto::node::TxOutcome::Accepted);
            }
            Output::Refuse { rx, reason, .. } => {
                self.answer(h, rx, proto::node::TxOutcome::Refused(reason));
            }
            Output::Deliver { key, .. } => self.delivered(h, key),
            Output::Report(Report::Admitted {
                key, link: Some(_), ..
            }) => {
                if let Some((msg, hops)) = self.rx_ctx.take() {
                    let since = self.now;
                    self.copies.insert(
                        (h, key),
                        Held {
                            msg,
                            hops,
                            since,
                            delivered_here: false,
                        },
                    );
                }
            }
            Output::Report(Report::Deleted { key, reason }) => {
                self.note(Note::Deleted, h as u64, key.0);
                self.rewritten.remove(&(h, key));
                self.copy_gone(h, key, reason != ReasonCode::NoInformation);
            }
            Output::Report(_) => {}
            Output::Control { link, message } => self.send_control(h, link, message),
        }
    }

    /// A delivery to a local application: the first at the destination counts; an alert
    /// counts once at each recipient other than its source.
    fn delivered(&mut self, h: usize, key: BundleKey) {
        self.note(Note::Deliver, h as u64, key.0);
        let Some(copy) = self.copies.get_mut(&(h, key)) else {
            return;
        };
        copy.delivered_here = true;
        let (msg, hops) = (copy.msg, copy.hops);
        let record = &mut self.messages[msg as usize];
        let latency = self.now.since(record.created).as_secs_f64();
        match record.target {
            Target::Host(to) => {
                if to != h || record.delivered {
                    return;
                }
                record.delivered = true;
                let class = usize::from(record.class);
                self.metrics.delivery(latency, hops, class);
            }
            Target::Group => {
                if record.from != h && self.alert_reached.insert((msg, h)) {
                    self.metrics.alert_delivery(latency);
                }
            }
        }
    }

    /// A counted copy left host `h`'s store (buffer statistics count unicast messages only).
    pub(super) fn copy_gone(&mut self, h: usize, key: BundleKey, dropped: bool) {
        let Some(copy) = self.copies.remove(&(h, key)) else {
            return;
        };
        if !copy.delivered_here && self.messages[copy.msg as usize].unicast() {
            let held = self.now.since(copy.since).as_secs_f64();
            self.metrics.deletion(held, dropped);
        }
    }

    fn schedule_flush(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        if !host.pending_writes || host.flush_scheduled || !host.alive() {
            return;
        }
        host.flush_scheduled = true;
        let incarnation = host.incarnation;
        let at = self.now.plus(self.plan.store_latency);
        self.schedule(
            at,
            Class::Settle,
            Event::Flush {
                host: h,
                incarnation,
            },
        );
    }

    /// Group commit: everything pending becomes durable, and the node hears of it.
    pub(super) fn flush(&mut self, h: usize, incarnation: u64) {
        let now = clock::now(self.now);
        let host = &mut self.hosts[h];
        if host.incarnation != incarnation {
            return;
        }
        host.flush_scheduled = false;
        host.pending_writes = false;
        let keys = host.store.flush();
        let Some(node) = host.node.as_mut() else {
            return;
        };
        for key in keys {
            node.handle(now, Input::Stored { key });
        }
        self.settle(h);
    }

    fn arm_timer(&mut self, h: usize) {
        let now = self.now;
        let host = &mut self.hosts[h];
        let Some(node) = host.node.as_ref() else {
            return;
        };
        let Some(deadline) = node.poll_timeout() else {
            host.timer = None;
            return;
        };
        let mut at = clock::from_instant(deadline).max(now);
        if at == now && host.fired_at == Some(now) {
            // The node already handled a timeout at this instant: try again a millisecond
            // later (wall time has millisecond resolution) instead of spinning.
            at = now.plus(SimTime(1_000));
        }
        if host.timer == Some(at) {
            return;
        }
        host.timer = Some(at);
        let incarnation = host.incarnation;
        self.schedule(
            at,
            Class::Settle,
            Event::Timer {
                host: h,
                incarnation,
            },
        );
    }

    pub(super) fn timer(&mut self, h: usize, incarnation: u64) {
        let host = &mut self.hosts[h];
        if host.incarnation != incarnation || host.timer != Some(self.now) {
            return; // Re-armed since, or meant for an earlier life.
        }
        host.timer = None;
        host.fired_at = Some(self.now);
        self.input(h, Input::Timeout);
    }

    /// Host `h` loses power: pending writes vanish, its links go down, its node is gone.
    pub(super) fn crash(&mut self, h: usize) {
        if !self.hosts[h].alive() {
            return;
        }
        self.metrics.crashes += 1;
        let host = &mut self.hosts[h];
        host.node = None;
        host.incarnation += 1;
        host.store.crash();
        host.timer = None;
        host.pending_writes = false;
        host.flush_scheduled = false;
        let peers: Vec<usize> = self.adjacency[h].iter().copied().collect();
        for p in peers {
            self.update_link(h, p);
        }
        // Transfers to it will never be answered; their senders saw the link go down.
        let stale: Vec<_> = self
            .pending_rx
            .range((h, proto::node::RxId(0))..=(h, proto::node::RxId(u64::MAX)))
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            self.pending_rx.remove(&k);
        }
        // Counted copies that were never durable are lost with the power.
        let lost: Vec<BundleKey> = self
            .copies
            .range((h, BundleKey(0))..=(h, BundleKey(u64::MAX)))
            .map(|((_, key), _)| *key)
            .filter(|key| !self.hosts[h].store.durable().bundles.contains_key(key))
            .collect();
        for key in lost {
            self.copy_gone(h, key, true);
        }
        // Keys of lost writes may be reused by the next life for other bundles.
        let cached: Vec<_> = self
            .rewritten
            .range((h, BundleKey(0))..=(h, BundleKey(u64::MAX)))
            .map(|(k, _)| *k)
            .collect();
        for k in cached {
            self.rewritten.remove(&k);
        }
    }

    /// Host `h` comes back from its durable store and rejoins the contacts it is in.
    pub(super) fn restart(&mut self, h: usize) {
        if self.hosts[h].alive() {
            return;
        }
        self.boot(h);
        let peers: Vec<usize> = self.adjacency[h].iter().copied().collect();
        for p in peers {
            self.update_link(h, p);
        }
    }
}
