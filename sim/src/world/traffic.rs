//! Messages: created by workloads or at given times, submitted to the source node as an
//! application would, and followed by the metrics from then on.

use proto::node::Submit;

use super::{Event, Held, MessageRecord, Note, World};
use crate::clock::SimTime;
use crate::queue::Class;

impl World {
    /// Schedules the first message of workload `i`.
    pub(super) fn schedule_workload(&mut self, i: usize) {
        let spec = &self.plan.workloads[i];
        let at = spec.start.plus(self.generators[i].gap(spec));
        if at < spec.end && at < self.plan.duration {
            self.schedule(at, Class::Workload, Event::Workload(i));
        }
    }

    /// Workload `i` creates a message and schedules its next.
    pub(super) fn workload_message(&mut self, i: usize) {
        let spec = &self.plan.workloads[i];
        let lifetime = spec.lifetime;
        if let Some(d) = self.generators[i].draw(spec) {
            self.create_message(d.from, d.to, d.size, lifetime);
        }
        let spec = &self.plan.workloads[i];
        let at = self.now.plus(self.generators[i].gap(spec));
        if at < spec.end && at < self.plan.duration {
            self.schedule(at, Class::Workload, Event::Workload(i));
        }
    }

    /// Creates explicit message `i` and schedules the next one.
    pub(super) fn explicit_message(&mut self, i: usize) {
        let m = self.plan.messages[i].clone();
        self.create_message(m.from, m.to, m.size, m.lifetime);
        if let Some(next) = self.plan.messages.get(i + 1) {
            let t = next.time;
            self.schedule(t, Class::Workload, Event::Message(i + 1));
        }
    }

    /// Submits a message of `size` payload bytes from `from` to `to`'s inbox. Messages
    /// created during the warm-up travel like any other but are not counted.
    fn create_message(&mut self, from: usize, to: usize, size: u64, lifetime: SimTime) {
        self.note(Note::Create, from as u64, to as u64);
        let counted = self.now >= self.plan.warmup;
        let msg = if counted {
            self.metrics.created += 1;
            self.messages.push(MessageRecord {
                created: self.now,
                to,
                delivered: false,
            });
            u32::try_from(self.messages.len() - 1).ok()
        } else {
            None
        };
        let len = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(self.payload.len());
        let mut req = Submit::new(self.hosts[to].inbox.clone(), self.payload.slice(..len));
        req.lifetime_ms = (lifetime.as_micros() / 1000).max(1);
        let now = crate::clock::now(self.now);
        let Some(node) = self.hosts[from].node.as_mut() else {
            if counted {
                self.metrics.submit_failed += 1;
            }
            return;
        };
        match node.submit(now, req) {
            Ok(key) => {
                if let Some(msg) = msg {
                    let since = self.now;
                    self.copies.insert(
                        (from, key),
                        Held {
                            msg,
                            hops: 0,
                            since,
                            delivered_here: false,
                        },
                    );
                }
            }
            Err(_) => {
                if counted {
                    self.metrics.submit_failed += 1;
                }
            }
        }
        self.settle(from);
    }
}
