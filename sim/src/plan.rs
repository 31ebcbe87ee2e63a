//! A [`Plan`]: one run, fully resolved — every name turned into a host index, every schedule
//! expanded, every default filled in.
//!
//! Scenario files ([`crate::scenario`]) and The ONE's traces ([`crate::trace`]) both compile to a
//! plan; the world ([`crate::world`]) runs plans and knows nothing of files. Tests build plans
//! directly when that is clearer than a file.

use std::collections::BTreeMap;

use proto::routing::RouterKind;
use proto::wire::Priority;

use crate::clock::SimTime;
use crate::units::BitRate;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// A label for reports.
    pub name: String,
    /// The master seed every random process derives its generator from.
    pub seed: u64,
    /// When the run ends.
    pub duration: SimTime,
    /// Messages created before this are not counted in the report (as The ONE's warm-up).
    pub warmup: SimTime,
    /// How long a store write stays pending before it is durable (0: at once).
    pub store_latency: SimTime,
    /// How often moving nodes' positions, and so their contacts, are updated.
    pub mobility_step: SimTime,
    /// How links behave.
    pub link: LinkModel,
    /// The hosts, in the order that gives them their index (and their ONE host address).
    pub hosts: Vec<HostSpec>,
    /// Random message generators.
    pub workloads: Vec<WorkloadSpec>,
    /// Messages at given times (The ONE's external events), sorted by time.
    pub messages: Vec<MessageEvent>,
    /// Contact changes from schedules and traces, sorted by time.
    pub contacts: Vec<ContactEvent>,
    /// Random pairwise meetings.
    pub meetings: Vec<MeetingSpec>,
    /// Node crashes.
    pub crashes: Vec<CrashSpec>,
    /// Crashes as random processes: hosts that fail at a rate and come back after a downtime.
    pub fault_rates: Vec<FaultRate>,
    /// Partitions that split the network and heal.
    pub partitions: Vec<PartitionSpec>,
    /// Per-direction rates and per-pair delays of pairs an ION contact plan governs.
    pub ion: IonLinks,
    /// If set, the world is a torus of this rectangle: distances are measured the short way
    /// round its edges, and random-direction hosts whose area it is wrap instead of bouncing.
    pub torus: Option<Rect>,
    /// How often store occupancy and delivery progress are sampled for the report's series.
    pub sample_every: SimTime,
}

impl Plan {
    /// An empty plan of `duration`, with defaults: seed 1, no warm-up, durable writes, 1 s
    /// mobility step, a default link, no hosts.
    pub fn new(name: impl Into<String>, duration: SimTime) -> Self {
        Self {
            name: name.into(),
            seed: 1,
            duration,
            warmup: SimTime::ZERO,
            store_latency: SimTime::ZERO,
            mobility_step: SimTime(1_000_000),
            link: LinkModel::default(),
            hosts: Vec::new(),
            workloads: Vec::new(),
            messages: Vec::new(),
            contacts: Vec::new(),
            meetings: Vec::new(),
            crashes: Vec::new(),
            fault_rates: Vec::new(),
            partitions: Vec::new(),
            ion: IonLinks::default(),
            torus: None,
            sample_every: default_sample(duration),
        }
    }

    /// Every host that registers the group endpoint of `alert`, once, sorted.
    pub fn alert_recipients(&self, alert: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .workloads
            .iter()
            .filter(|w| w.alert.as_deref() == Some(alert))
            .flat_map(|w| w.to.iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Adds `count` hosts named `prefix0`, `prefix1`... and returns their indices.
    pub fn add_hosts(
        &mut self,
        prefix: &str,
        count: usize,
        router: RouterKind,
        buffer: u64,
    ) -> Vec<usize> {
        let first = self.hosts.len();
        for i in 0..count {
            self.hosts.push(HostSpec {
                name: format!("{prefix}{i}"),
                router: router.clone(),
                buffer,
                mobility: Mobility::None,
            });
        }
        (first..first + count).collect()
    }

    /// The largest payload any message of this plan can have, so the world can share one
    /// buffer of zeros among all payloads.
    pub fn max_payload(&self) -> u64 {
        let w = self.workloads.iter().map(|w| w.size.1);
        let m = self.messages.iter().map(|m| m.size);
        w.chain(m).max().unwrap_or(0)
    }
}

/// The default sampling interval: 200 samples over the run, at least one a second.
pub fn default_sample(duration: SimTime) -> SimTime {
    SimTime((duration.0 / 200).max(1_000_000))
}

/// Priority classes in the simulator's class order: class 0 is emergency, 1 high, 2 normal,
/// 3 bulk (most urgent first, as bundles go out on a contact).
pub const CLASSES: [Priority; 4] = Priority::ALL;

/// The simulator's class index of `p` (0 emergency … 3 bulk).
pub fn class_index(p: Priority) -> usize {
    CLASSES.iter().position(|c| *c == p).unwrap_or(2)
}

/// How every link behaves (one model per run for now).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// Bit rate; `None` is infinitely fast.
    pub rate: BitRate,
    /// One-way propagation delay.
    pub delay: SimTime,
    /// Probability that a transfer is lost (the sender sees it fail).
    pub loss: f64,
    /// Radio range (m) for contacts made by mobility.
    pub range: f64,
    /// Links carry tern control messages (set reconciliation, routing summaries), as between
    /// two tern nodes; `false` models peers that only exchange bundles (per-peer history).
    pub control: bool,
}

impl Default for LinkModel {
    /// 2 Mbps, no delay, no loss, 100 m range, control messages on.
    fn default() -> Self {
        Self {
            rate: BitRate(Some(2e6)),
            delay: SimTime::ZERO,
            loss: 0.0,
            range: 100.0,
            control: true,
        }
    }
}

/// One host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    /// Node name: the host is `dtn://NAME/` and receives messages at `dtn://NAME/inbox`.
    pub name: String,
    /// Its forwarding strategy.
    pub router: RouterKind,
    /// Its storage quota in bytes.
    pub buffer: u64,
    /// How it moves.
    pub mobility: Mobility,
}

/// An axis-aligned rectangle (m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x0: f64,
    /// Bottom.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Top.
    pub y1: f64,
}

/// How a host moves, which decides its range-made contacts.
#[derive(Debug, Clone, PartialEq)]
pub enum Mobility {
    /// No position: contacts come only from schedules, traces and meetings.
    None,
    /// Fixed at `at`, or at a uniformly random point of `area` if `at` is `None`.
    Stationary {
        /// The position.
        at: Option<(f64, f64)>,
        /// Where a random position is drawn.
        area: Rect,
    },
    /// Random waypoint: pick a point of `area`, go there at a uniform speed, pause, repeat.
    RandomWaypoint {
        /// The rectangle.
        area: Rect,
        /// Speed range (m/s).
        speed: (f64, f64),
        /// Pause range at each waypoint.
        pause: (SimTime, SimTime),
    },
    /// Random direction: pick a uniform heading and speed, travel for a uniform time, repeat;
    /// wrap around the edges if `area` is the plan's torus, else bounce off them.
    RandomDirection {
        /// The rectangle.
        area: Rect,
        /// Speed range (m/s).
        speed: (f64, f64),
        /// Range of the time spent on one heading (the minimum is more than zero).
        leg: (SimTime, SimTime),
    },
    /// A ferry: visits the stops of `route` in order and back to the first, forever, at `speed`,
    /// waiting `pause` at each stop. Its position is a function of time alone: a timetable.
    Ferry {
        /// Stops (at least two).
        route: std::sync::Arc<[(f64, f64)]>,
        /// Speed (m/s), more than zero.
        speed: f64,
        /// Wait at each stop.
        pause: SimTime,
        /// Where in its cycle the ferry is at time zero, as a fraction in `[0, 1)`: ferries of
        /// one group are spread evenly along the route.
        phase: f64,
    },
}

/// A random message generator.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// Time between messages.
    pub interval: Interval,
    /// Payload size range in bytes (inclusive).
    pub size: (u64, u64),
    /// Sources (host indices).
    pub from: Vec<usize>,
    /// Destinations (host indices); never the source itself.
    pub to: Vec<usize>,
    /// Message lifetime.
    pub lifetime: SimTime,
    /// First possible creation time.
    pub start: SimTime,
    /// No messages at or after this.
    pub end: SimTime,
    /// Relative weights of the priority classes, in [`CLASSES`] order (emergency first);
    /// `[0, 0, 1, 0]` (all normal) by default.
    pub priority: [f64; 4],
    /// If set, messages go to the group endpoint `dtn://alerts/~NAME`, which every host of `to`
    /// registers, instead of one host's inbox.
    pub alert: Option<String>,
}

/// Every message of the normal class.
pub const ALL_NORMAL: [f64; 4] = [0.0, 0.0, 1.0, 0.0];

/// The distribution of the time between two messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Always this long.
    Fixed(SimTime),
    /// Exponential with this mean (Poisson arrivals).
    Exponential(SimTime),
}

/// One message created at a given time (The ONE's `C` external event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// When.
    pub time: SimTime,
    /// Source host.
    pub from: usize,
    /// Destination host.
    pub to: usize,
    /// Payload bytes.
    pub size: u64,
    /// Lifetime.
    pub lifetime: SimTime,
    /// Priority class.
    pub priority: Priority,
}

/// Which schedule a contact change comes from: each keeps its own on/off state per pair, and a
/// pair is in contact while any source says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContactSource {
    /// Scenario `[[contact]]` windows.
    Schedule,
    /// A ONE connectivity trace.
    Trace,
    /// An ION contact plan: one direction, from `a` to `b` (not ordered).
    Ion,
}

/// A contact starting or ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactEvent {
    /// When.
    pub time: SimTime,
    /// One host.
    pub a: usize,
    /// The other.
    pub b: usize,
    /// Up (true) or down.
    pub up: bool,
    /// Which schedule says so.
    pub source: ContactSource,
}

/// Random meetings: every pair of `nodes` meets as an independent Poisson process.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingSpec {
    /// The hosts that meet.
    pub nodes: Vec<usize>,
    /// Meetings per second of one pair (λ).
    pub rate_per_pair: f64,
    /// How long each meeting lasts (0: up and down at one instant).
    pub duration: SimTime,
}

/// A host that crashes (losing unflushed writes) and maybe restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashSpec {
    /// The host.
    pub host: usize,
    /// When it crashes.
    pub at: SimTime,
    /// When it comes back, if it does.
    pub restart: Option<SimTime>,
}

/// Hosts that crash at random: each host of `hosts`, while up, crashes as a Poisson process
/// with mean time between failures `mean_interval`, and restarts after a downtime drawn
/// uniformly from `downtime` (never, if `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRate {
    /// The hosts.
    pub hosts: Vec<usize>,
    /// Mean time between failures of one host (while up).
    pub mean_interval: SimTime,
    /// Downtime range; `None`: a crashed host stays down.
    pub downtime: Option<(SimTime, SimTime)>,
}

/// A partition: hosts on different sides cannot be in contact from `at` until `heal`. Hosts on
/// no side are not affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec {
    /// When it starts.
    pub at: SimTime,
    /// When it ends, if it does.
    pub heal: Option<SimTime>,
    /// The sides (host indices).
    pub sides: Vec<Vec<usize>>,
}

/// Time windows with a value: `(start, end, value)`, both ends included.
pub type Windows<T> = Vec<(SimTime, SimTime, T)>;

/// What an ION contact plan says about the links it governs: each direction's rate during its
/// contacts, and each pair's one-way delay during its ranges. A pair that appears in a contact
/// plan sends in a direction only during that direction's contacts, at that contact's rate;
/// other pairs follow the plan's [`LinkModel`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IonLinks {
    /// (sender, receiver) → contact windows with their rate in bits per second.
    pub rates: BTreeMap<(usize, usize), Windows<f64>>,
    /// (low, high) host → range windows with their one-way light time.
    pub ranges: BTreeMap<(usize, usize), Windows<SimTime>>,
}

impl IonLinks {
    /// True if the contact plan governs the link between `a` and `b`.
    pub fn governs(&self, a: usize, b: usize) -> bool {
        self.rates.contains_key(&(a, b)) || self.rates.contains_key(&(b, a))
    }

    /// The rate (bits/s) at which `from` can send to `to` at `at`, if a contact is open then.
    pub fn rate(&self, from: usize, to: usize, at: SimTime) -> Option<f64> {
        find(self.rates.get(&(from, to))?, at)
    }

    /// The one-way delay between `a` and `b` at `at`, if a range says so.
    pub fn delay(&self, a: usize, b: usize, at: SimTime) -> Option<SimTime> {
        find(self.ranges.get(&(a.min(b), a.max(b)))?, at)
    }
}

fn find<T: Copy>(windows: &[(SimTime, SimTime, T)], at: SimTime) -> Option<T> {
    windows
        .iter()
        .find(|(s, e, _)| *s <= at && at <= *e)
        .map(|w| w.2)
}

/// Merges overlapping or touching windows `[start, end]` of one pair into disjoint ones.
pub fn merge_windows(mut windows: Vec<(SimTime, SimTime)>) -> Vec<(SimTime, SimTime)> {
    windows.sort();
    let mut out: Vec<(SimTime, SimTime)> = Vec::with_capacity(windows.len());
    for (s, e) in windows {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_touching_windows_merge() {
        let w = merge_windows(vec![
            (SimTime(10), SimTime(20)),
            (SimTime(0), SimTime(5)),
            (SimTime(15), SimTime(30)),
            (SimTime(30), SimTime(31)),
            (SimTime(40), SimTime(40)),
        ]);
        assert_eq!(
            w,
            [
                (SimTime(0), SimTime(5)),
                (SimTime(10), SimTime(31)),
                (SimTime(40), SimTime(40))
            ]
        );
    }

    #[test]
    fn hosts_are_numbered_after_their_prefix() {
        let mut p = Plan::new("t", SimTime(1));
        p.add_hosts("a", 2, RouterKind::Direct, 100);
        let idx = p.add_hosts("b", 2, RouterKind::Epidemic, 100);
        assert_eq!(idx, [2, 3]);
        assert_eq!(p.hosts[3].name, "b1");
    }
}
