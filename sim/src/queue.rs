//! The event queue: the simulator jumps from one event to the next, never ticking through idle
//! time.
//!
//! Events are ordered by time, then by *class*, then by the order they were scheduled. Classes
//! make instants well defined: everything a contact sets moving (transfers, acknowledgements,
//! store flushes: class [`Class::Settle`]) happens before the next contact change at the same
//! instant. That is what lets a zero-length contact (up and down at one instant) carry bundles
//! over an infinitely fast link, as in the analytic models the validation tests use.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::clock::SimTime;

/// Which events go first among those at the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Consequences of earlier events: transfer ends, verdicts, flushes, node timers.
    Settle = 0,
    /// Changes to the world: contacts, mobility, faults, partitions.
    World = 1,
    /// New messages from the workload.
    Workload = 2,
    /// The end of the run.
    End = 3,
}

#[derive(Debug)]
struct Entry<E> {
    time: SimTime,
    class: Class,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (SimTime, Class, u64) {
        (self.time, self.class, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so the max-heap pops the earliest entry.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A priority queue of events keyed by (time, class, sequence number): the sequence number
/// breaks every tie, so the order never depends on the heap's internals.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, class: Class, event: E) {
        self.seq += 1;
        self.heap.push(Entry {
            time,
            class,
            seq: self.seq,
            event,
        });
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    /// Number of events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_in_time_order() {
        let mut q = EventQueue::default();
        q.push(SimTime(30), Class::World, "c");
        q.push(SimTime(10), Class::World, "a");
        q.push(SimTime(20), Class::World, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn ties_keep_scheduling_order() {
        let mut q = EventQueue::default();
        for i in 0..100 {
            q.push(SimTime(5), Class::World, i);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn settling_events_go_before_world_changes_at_the_same_instant() {
        let mut q = EventQueue::default();
        q.push(SimTime(5), Class::World, "contact down");
        q.push(SimTime(5), Class::Settle, "transfer ends");
        q.push(SimTime(4), Class::Workload, "message");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["message", "transfer ends", "contact down"]);
    }
}
