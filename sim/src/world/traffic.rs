//! Messages: created by workloads or at given times, submitted to the source node as an
//! application would, and followed by the metrics from then on.

use proto::node::Submit;
use proto::wire::Priority;

use super::{Event, Held, MessageRecord, Note, Target, World};
use crate::clock::SimTime;
use crate::plan::class_index;
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
        let alert = spec.alert.clone();
        if let Some(d) = self.generators[i].draw(spec) {
            let target = match alert {
                Some(name) => Dest::Alert(name),
                None => Dest::Host(d.to),
            };
            self.create_message(d.from, target, d.size, lifetime, d.priority);
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
        self.create_message(m.from, Dest::Host(m.to), m.size, m.lifetime, m.priority);
        if let Some(next) = self.plan.messages.get(i + 1) {
            let t = next.time;
            self.schedule(t, Class::Workload, Event::Message(i + 1));
        }
    }

    /// Submits a message of `size` payload bytes from `from` to `to`'s inbox (or to an alert
    /// group), with class `priority`. Messages created during the warm-up travel like any
    /// other but are not counted.
    fn create_message(
        &mut self,
        from: usize,
        to: Dest,
        size: u64,
        lifetime: SimTime,
        priority: Priority,
    ) {
        let (target, destination, recipients) = match &to {
            Dest::Host(h) => (Target::Host(*h), self.hosts[*h].inbox.clone(), 0),
            Dest::Alert(name) => {
                let Ok(group) = super::alert_endpoint(name) else {
                    return;
                };
                let owed = self
                    .plan
                    .alert_recipients(name)
                    .iter()
                    .filter(|&&r| r != from)
                    .count();
                (Target::Group, group, owed as u64)
            }
        };
        let to_index = match target {
            Target::Host(h) => h as u64,
            Target::Group => u64::MAX,
        };
        self.note(Note::Create, from as u64, to_index);
        let counted = self.now >= self.plan.warmup;
        let class = class_index(priority);
        let msg = if counted {
            match target {
                Target::Host(_) => self.metrics.creation(class),
                Target::Group => self.metrics.alert_creation(recipients),
            }
            self.messages.push(MessageRecord {
                created: self.now,
                target,
                from,
                delivered: false,
                class: class as u8,
            });
            u32::try_from(self.messages.len() - 1).ok()
        } else {
            None
        };
        let unicast = matches!(target, Target::Host(_));
        let len = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(self.payload.len());
        let mut req = Submit::new(destination, self.payload.slice(..len));
        req.lifetime_ms = (lifetime.as_micros() / 1000).max(1);
        req.priority = priority;
        let now = crate::clock::now(self.now);
        let Some(node) = self.hosts[from].node.as_mut() else {
            if counted && unicast {
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
                if counted && unicast {
                    self.metrics.submit_failed += 1;
                }
            }
        }
        self.settle(from);
    }
}

/// Where a new message goes.
#[derive(Debug, Clone)]
enum Dest {
    /// A host's inbox.
    Host(usize),
    /// An alert group.
    Alert(String),
}
