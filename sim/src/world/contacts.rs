//! Contacts: which pairs of hosts can talk, and turning that into links.
//!
//! A pair is *in contact* while any source says so — range (mobility), the scenario's
//! schedule, a ONE trace, or a random meeting — each tracked separately so one source ending
//! does not cut another's contact. A pair in contact has a *link* while both hosts are up and no
//! active partition puts them on different sides. Every change to any of these inputs goes
//! through [`World::update_link`], the one place links come and go.

use super::{Event, Note, World};
use crate::plan::ContactSource;
use crate::queue::Class;
use crate::rng;

/// Why a pair is in contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct PairState {
    /// Within radio range.
    pub(super) geo: bool,
    /// Inside a scheduled window.
    pub(super) schedule: bool,
    /// Up in a ONE trace.
    pub(super) trace: bool,
    /// Random meetings in progress (they may overlap).
    pub(super) meetings: u32,
    /// Inside an ION contact, per direction (0: low → high, 1: high → low).
    pub(super) ion: [bool; 2],
}

impl PairState {
    fn active(self) -> bool {
        self.geo || self.schedule || self.trace || self.meetings > 0 || self.ion[0] || self.ion[1]
    }
}

fn ordered(a: usize, b: usize) -> (usize, usize) {
    if a < b { (a, b) } else { (b, a) }
}

impl World {
    /// Changes why `a` and `b` are in contact, then brings their link up or down to match.
    pub(super) fn set_contact(&mut self, a: usize, b: usize, change: impl FnOnce(&mut PairState)) {
        if a == b {
            return;
        }
        let key = ordered(a, b);
        let state = self.pairs.entry(key).or_default();
        change(state);
        if state.active() {
            self.adjacency[a].insert(b);
            self.adjacency[b].insert(a);
        } else {
            self.pairs.remove(&key);
            self.adjacency[a].remove(&b);
            self.adjacency[b].remove(&a);
        }
        self.update_link(a, b);
    }

    /// Makes the link between `a` and `b` exist exactly when they are in contact, both up,
    /// and not partitioned apart.
    pub(super) fn update_link(&mut self, a: usize, b: usize) {
        let (a, b) = ordered(a, b);
        let want = self.pairs.contains_key(&(a, b))
            && self.hosts[a].alive()
            && self.hosts[b].alive()
            && !self.separated(a, b);
        match (want, self.pair_sessions.get(&(a, b)).copied()) {
            (true, None) => self.link_up(a, b),
            (false, Some(session)) => self.link_down(session),
            _ => {}
        }
    }

    /// Re-judges every pair in contact (after a partition starts or heals).
    pub(super) fn update_all_links(&mut self) {
        let pairs: Vec<(usize, usize)> = self.pairs.keys().copied().collect();
        for (a, b) in pairs {
            self.update_link(a, b);
        }
    }

    /// True if an active partition puts `a` and `b` on different sides.
    fn separated(&self, a: usize, b: usize) -> bool {
        self.active_partitions.iter().any(|&p| {
            let sides = &self.plan.partitions[p].sides;
            let side_of = |h: usize| sides.iter().position(|s| s.contains(&h));
            matches!((side_of(a), side_of(b)), (Some(x), Some(y)) if x != y)
        })
    }

    /// Applies contact change `i` of the plan and schedules the next one.
    pub(super) fn contact_event(&mut self, i: usize) {
        let c = self.plan.contacts[i];
        self.note(
            if c.up {
                Note::ContactUp
            } else {
                Note::ContactDown
            },
            c.a as u64,
            c.b as u64,
        );
        let dir = usize::from(c.a > c.b);
        self.set_contact(c.a, c.b, |p| match c.source {
            ContactSource::Schedule => p.schedule = c.up,
            ContactSource::Trace => p.trace = c.up,
            ContactSource::Ion => p.ion[dir] = c.up,
        });
        if c.source == ContactSource::Ion && c.up {
            // Transfers queued while this direction had no contact may go now.
            if let Some(&session) = self.pair_sessions.get(&ordered(c.a, c.b)) {
                self.start_next(session, dir);
            }
        }
        if let Some(next) = self.plan.contacts.get(i + 1) {
            let t = next.time;
            self.schedule(t, Class::World, Event::Contact(i + 1));
        }
    }

    /// Schedules the next meeting of process `i`: the superposition of one Poisson process of
    /// rate λ per pair is a Poisson process of rate λ·P over P pairs, each meeting picking a
    /// pair uniformly.
    pub(super) fn schedule_meeting(&mut self, i: usize) {
        let m = &self.plan.meetings[i];
        let n = m.nodes.len() as f64;
        let pairs = n * (n - 1.0) / 2.0;
        if pairs < 1.0 {
            return;
        }
        let mean = 1.0 / (m.rate_per_pair * pairs);
        let gap = rng::exponential(&mut self.meeting_rngs[i], mean);
        let Some(gap) = crate::clock::SimTime::from_secs_f64(gap) else {
            return;
        };
        let at = self.now.plus(gap);
        if at < self.plan.duration {
            self.schedule(at, Class::World, Event::MeetingStart(i));
        }
    }

    /// A random meeting of process `i` starts; it ends after the process's duration (at the
    /// same instant for zero-length meetings, after everything the contact set moving).
    pub(super) fn meeting_start(&mut self, i: usize) {
        let m = &self.plan.meetings[i];
        let n = m.nodes.len();
        let r = &mut self.meeting_rngs[i];
        let x = rng::index(r, n);
        let mut y = rng::index(r, n - 1);
        if y >= x {
            y += 1;
        }
        let (a, b) = (m.nodes[x], m.nodes[y]);
        let end = self.now.plus(m.duration);
        self.note(Note::Meeting, a as u64, b as u64);
        self.set_contact(a, b, |p| p.meetings += 1);
        self.schedule(end, Class::World, Event::MeetingEnd { a, b });
        self.schedule_meeting(i);
    }

    /// Moves every mobile host one step and turns range changes into contact changes.
    pub(super) fn mobility_step(&mut self) {
        let Some(motion) = self.motion.as_mut() else {
            return;
        };
        let now = self.now;
        let (gone, new) = motion.step(now);
        let moving = motion.moving();
        self.note(Note::Mobility, gone.len() as u64, new.len() as u64);
        for (a, b) in gone {
            self.set_contact(a, b, |p| p.geo = false);
        }
        for (a, b) in new {
            self.set_contact(a, b, |p| p.geo = true);
        }
        if moving {
            let next = now.plus(self.plan.mobility_step);
            if next < self.plan.duration {
                self.schedule(next, Class::World, Event::MobilityStep);
            }
        }
    }
}
