//! Links: one session per pair of hosts in contact, with a channel each way.
//!
//! A channel carries one bundle at a time: a transfer occupies it for `size / rate` and reaches
//! the receiver `delay` later; the rest wait in a queue, in the order the node asked for them.
//! The receiver's accept or refuse travels back in `delay`. When the contact ends, transfers
//! that have not reached the receiver are aborted (counted, as in The ONE) and both nodes see
//! `LinkDown`, which fails everything they had in flight on it.

use std::collections::VecDeque;

use bytes::Bytes;
use proto::node::{BundleKey, Input, LinkId, Rewrite, RxId, TxOutcome, TxToken};
use proto::wire::Bundle;
use rand::Rng;

use super::{Event, Note, World};
use crate::queue::Class;
use crate::units::BitRate;

/// A bundle on its way across a link.
#[derive(Debug)]
pub(super) struct Transfer {
    sender: usize,
    incarnation: u64,
    token: TxToken,
    bytes: Bytes,
    /// The counted message it carries, if any, and the hops of the sender's copy.
    msg: Option<u32>,
    hops: u32,
    /// Counted in The ONE's transfer statistics (a counted unicast message).
    counted: bool,
}

/// One direction of a session.
#[derive(Debug, Default)]
pub(super) struct Channel {
    queue: VecDeque<Transfer>,
    busy: bool,
    /// Counted transfers started and not yet arrived.
    in_transit: u64,
}

/// An established link between hosts `a` and `b` (a < b). Direction 0 is a → b.
#[derive(Debug)]
pub(super) struct Session {
    a: usize,
    b: usize,
    links: [LinkId; 2],
    channels: [Channel; 2],
}

/// An inbound transfer awaiting the receiver's verdict.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingRx {
    sender: usize,
    incarnation: u64,
    token: TxToken,
    counted: bool,
}

impl World {
    /// Brings up a link between `a` and `b` (a < b): both nodes see `LinkUp` with the other's
    /// node ID, as after a TCPCL session handshake.
    pub(super) fn link_up(&mut self, a: usize, b: usize) {
        let session = self.next_session;
        self.next_session += 1;
        let links = [LinkId(self.next_link), LinkId(self.next_link + 1)];
        self.next_link += 2;
        self.sessions.insert(
            session,
            Session {
                a,
                b,
                links,
                channels: Default::default(),
            },
        );
        self.link_index.insert(links[0], (session, 0));
        self.link_index.insert(links[1], (session, 1));
        self.pair_sessions.insert((a, b), session);
        self.metrics.contacts += 1;
        self.note(Note::LinkUp, a as u64, b as u64);
        let (ea, eb) = (self.hosts[a].eid.clone(), self.hosts[b].eid.clone());
        self.open(a, links[0], eb);
        self.open(b, links[1], ea);
    }

    /// Host `h` sees `LinkUp` to `peer` and, when links carry control messages (two tern
    /// nodes), `ControlReady` right after it, before its outputs are drained, as the engine's
    /// contract asks: the link then carries only what reconciliation finds the peer lacks.
    fn open(&mut self, h: usize, link: LinkId, peer: proto::wire::Eid) {
        let now = crate::clock::now(self.now);
        let control = self.plan.link.control;
        let Some(node) = self.hosts[h].node.as_mut() else {
            return;
        };
        node.handle(
            now,
            Input::LinkUp {
                link,
                peer: Some(peer),
            },
        );
        if control {
            node.handle(now, Input::ControlReady { link });
        }
        // The link's rate, as a daemon's convergence layer would report it: the engine shapes
        // lower classes to it so an alert never waits long behind bulk on a slow link.
        if let Some(bits) = self.plan.link.rate.0 {
            node.set_link_rate(link, (bits / 8.0).max(1.0) as u64);
        }
        self.settle(h);
    }

    /// Host `h` sends control message `message` on `link`: it reaches the peer after its
    /// transmission time and the propagation delay. Control frames do not wait behind bundles
    /// in the channel's queue (they are small and the engine holds its offers until
    /// reconciliation ends), and a link that goes down loses those on the way.
    pub(super) fn send_control(&mut self, h: usize, link: LinkId, message: Bytes) {
        let Some(&(session, dir)) = self.link_index.get(&link) else {
            return;
        };
        let Some(s) = self.sessions.get(&session) else {
            return;
        };
        let to = if dir == 0 { s.b } else { s.a };
        self.metrics.control_bytes += message.len() as u64;
        let at = self
            .now
            .plus(self.plan.link.rate.transmission_time(message.len() as u64))
            .plus(self.delay(h, to));
        self.schedule(
            at,
            Class::Settle,
            Event::Control {
                session,
                dir,
                message,
            },
        );
    }

    /// A control message reaches the other end of `session` (if the link is still up).
    pub(super) fn control_arrives(&mut self, session: u64, dir: usize, message: Bytes) {
        let Some(s) = self.sessions.get(&session) else {
            return;
        };
        let (receiver, link) = if dir == 0 {
            (s.b, s.links[1])
        } else {
            (s.a, s.links[0])
        };
        self.input(
            receiver,
            Input::Control {
                link,
                bytes: message,
            },
        );
    }

    /// Takes a link down, aborting what is on the air.
    pub(super) fn link_down(&mut self, session: u64) {
        let Some(s) = self.sessions.remove(&session) else {
            return;
        };
        self.link_index.remove(&s.links[0]);
        self.link_index.remove(&s.links[1]);
        self.pair_sessions.remove(&(s.a, s.b));
        self.metrics.aborted += s.channels[0].in_transit + s.channels[1].in_transit;
        self.note(Note::LinkDown, s.a as u64, s.b as u64);
        self.input(s.a, Input::LinkDown { link: s.links[0] });
        self.input(s.b, Input::LinkDown { link: s.links[1] });
    }

    /// Host `h` asked to send stored bundle `key` on `link`: read it from the store, apply the
    /// rewrite, queue it on the channel.
    pub(super) fn transmit(
        &mut self,
        h: usize,
        link: LinkId,
        token: TxToken,
        key: BundleKey,
        rewrite: &Rewrite,
    ) {
        self.note(Note::Transmit, h as u64, key.0);
        let incarnation = self.hosts[h].incarnation;
        let fail = Event::Verdict {
            host: h,
            incarnation,
            token,
            outcome: TxOutcome::Failed,
        };
        let Some(&(session, dir)) = self.link_index.get(&link) else {
            self.schedule(self.now, Class::Settle, fail);
            return;
        };
        let Some(bytes) = self.outgoing(h, key, rewrite) else {
            self.schedule(self.now, Class::Settle, fail);
            return;
        };
        let (msg, hops) = match self.copies.get(&(h, key)) {
            Some(c) => (Some(c.msg), c.hops),
            None => (None, 0),
        };
        let counted = msg.is_some_and(|m| self.messages[m as usize].unicast());
        let transfer = Transfer {
            sender: h,
            incarnation,
            token,
            bytes,
            msg,
            hops,
            counted,
        };
        if let Some(s) = self.sessions.get_mut(&session) {
            s.channels[dir].queue.push_back(transfer);
        }
        self.start_next(session, dir);
    }

    /// The bytes host `h` sends for stored bundle `key`: the stored bundle with `rewrite`
    /// applied by the engine's own [`Rewrite::apply`]. A host sends the same bundle to many
    /// peers, usually with the same rewrite (its node ID, one more hop), so the result is kept
    /// until the bundle leaves the store: decoding and re-encoding check and compute the CRC of
    /// every byte of the payload, which would otherwise dominate the cost of a run.
    fn outgoing(&mut self, h: usize, key: BundleKey, rewrite: &Rewrite) -> Option<Bytes> {
        if let Some((r, bytes)) = self.rewritten.get(&(h, key))
            && r == rewrite
        {
            return Some(bytes.clone());
        }
        let stored = self.hosts[h].store.bundle(key)?;
        let mut bundle = Bundle::decode(stored).ok()?;
        rewrite.apply(&mut bundle);
        let bytes = Bytes::from(bundle.encode());
        if rewrite.bundle_age_ms.is_none() {
            self.rewritten
                .insert((h, key), (rewrite.clone(), bytes.clone()));
        }
        Some(bytes)
    }

    /// Puts the next queued transfer on the air if the channel is free.
    pub(super) fn start_next(&mut self, session: u64, dir: usize) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let (from, to) = if dir == 0 { (s.a, s.b) } else { (s.b, s.a) };
        let channel = &mut s.channels[dir];
        if channel.busy || channel.queue.is_empty() {
            return;
        }
        // A pair an ION contact plan governs sends one way only during that direction's
        // contacts, at their rate; the queue waits for the next one (or the link's end).
        let rate = if self.plan.ion.governs(from, to) {
            match self.plan.ion.rate(from, to, self.now) {
                Some(bps) => BitRate(Some(bps)),
                None => return,
            }
        } else {
            self.plan.link.rate
        };
        let Some(transfer) = channel.queue.pop_front() else {
            return;
        };
        channel.busy = true;
        if transfer.counted {
            channel.in_transit += 1;
            self.metrics.started += 1;
        }
        let on_air = rate.transmission_time(transfer.bytes.len() as u64);
        let sent = self.now.plus(on_air);
        let arrives = sent.plus(self.delay(from, to));
        self.schedule(sent, Class::Settle, Event::TxEnd { session, dir });
        self.schedule(
            arrives,
            Class::Settle,
            Event::Arrive {
                session,
                dir,
                transfer,
            },
        );
    }

    /// The sender finished putting a bundle on the air: the next may go.
    pub(super) fn tx_end(&mut self, session: u64, dir: usize) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.channels[dir].busy = false;
        }
        self.start_next(session, dir);
    }

    /// A bundle reached the receiver (unless the link is gone or the bundle is lost).
    pub(super) fn arrive(&mut self, session: u64, dir: usize, transfer: Transfer) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return; // Aborted when the link went down.
        };
        if transfer.counted {
            s.channels[dir].in_transit = s.channels[dir].in_transit.saturating_sub(1);
        }
        let (receiver, link) = if dir == 0 {
            (s.b, s.links[1])
        } else {
            (s.a, s.links[0])
        };
        self.metrics.bytes_sent += transfer.bytes.len() as u64;
        let loss = self.plan.link.loss;
        if loss > 0.0 && self.loss_rng.random::<f64>() < loss {
            if transfer.counted {
                self.metrics.lost += 1;
            }
            self.note(Note::Lost, transfer.sender as u64, transfer.token.0);
            let at = self.now.plus(self.delay(receiver, transfer.sender));
            self.schedule(
                at,
                Class::Settle,
                Event::Verdict {
                    host: transfer.sender,
                    incarnation: transfer.incarnation,
                    token: transfer.token,
                    outcome: TxOutcome::Failed,
                },
            );
            return;
        }
        let rx = RxId(self.next_rx);
        self.next_rx += 1;
        self.pending_rx.insert(
            (receiver, rx),
            PendingRx {
                sender: transfer.sender,
                incarnation: transfer.incarnation,
                token: transfer.token,
                counted: transfer.counted,
            },
        );
        self.rx_ctx = transfer.msg.map(|m| (m, transfer.hops + 1));
        self.input(
            receiver,
            Input::Received {
                link,
                rx,
                bytes: transfer.bytes,
            },
        );
        self.rx_ctx = None;
    }

    /// One-way propagation delay between `a` and `b` now: an ION range's one-way light time
    /// if one covers the pair, else the link model's delay.
    fn delay(&self, a: usize, b: usize) -> crate::clock::SimTime {
        self.plan
            .ion
            .delay(a, b, self.now)
            .unwrap_or(self.plan.link.delay)
    }

    /// Receiver `h` accepted or refused inbound transfer `rx`: tell the sender after the
    /// propagation delay.
    pub(super) fn answer(&mut self, h: usize, rx: RxId, outcome: TxOutcome) {
        self.note(Note::Answer, h as u64, rx.0);
        let Some(p) = self.pending_rx.remove(&(h, rx)) else {
            return;
        };
        if p.counted {
            match outcome {
                TxOutcome::Accepted => self.metrics.relayed += 1,
                _ => self.metrics.refused += 1,
            }
        }
        let at = self.now.plus(self.delay(h, p.sender));
        self.schedule(
            at,
            Class::Settle,
            Event::Verdict {
                host: p.sender,
                incarnation: p.incarnation,
                token: p.token,
                outcome,
            },
        );
    }
}
