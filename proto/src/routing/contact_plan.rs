//! Contact-plan routing: forward along the earliest-arrival path over a scheduled contact plan.
//!
//! Where contacts are known in advance (a ferry timetable, satellite passes, a bus schedule), the
//! plan says who can talk to whom, when and how fast. The plan is written in ION's `ionadmin`
//! syntax, one command per line:
//! ```text
//! a contact +0 +3600 1 2 100000     # node 1 can send to node 2 from t+0 s to t+3600 s, 100 kB/s
//! a range   +0 +3600 1 2 1          # one-way light time 1 s (both directions unless given)
//! ```
//! Times are `+seconds` relative to the plan's epoch (the node's start unless configured) or
//! absolute `yyyy/mm/dd-hh:mm:ss` UTC. Nodes are ION node numbers (`ipn:N.0`); as a tern extension
//! a node may also be an endpoint ID (`dtn://van/`) or a bare name (`van` → `dtn://van/`). Other
//! `ionadmin` commands and `#` comments are ignored, so an ION `.rc` file can be used as is.
//!
//! The route is a simplified contact graph routing: a time-dependent Dijkstra from this node at
//! `now`, where a contact `u → v` open over `[start, end)` takes a bundle present at `u` at time
//! `t < end`, departs at `max(t, start)` and arrives after the range's one-way light time (0
//! without a range). Transmission time (size / rate) and contact volume are not modelled: with
//! bundles much smaller than a contact's volume, arrival order is decided by the schedule. A
//! bundle is offered to a peer only if the peer is the first hop of the earliest-arrival path to
//! the bundle's destination node, or the destination itself; it then leaves this node (one copy).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::{BundleView, PeerView, Retain, Router, reaches_destination};
use crate::node::Now;
use crate::wire::{DtnTime, Eid};

/// A time in a contact plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanTime {
    /// Seconds after the plan's epoch (`+t`).
    Relative(u64),
    /// An absolute wall time.
    Absolute(DtnTime),
}

impl PlanTime {
    /// The wall time this names, for a plan whose epoch is `epoch`.
    pub fn resolve(self, epoch: DtnTime) -> DtnTime {
        match self {
            Self::Relative(s) => DtnTime(epoch.0.saturating_add(s.saturating_mul(1000))),
            Self::Absolute(t) => t,
        }
    }
}

/// `a contact`: `from` can transmit to `to` during `[start, end)` at `rate` bytes per second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Start of the window.
    pub start: PlanTime,
    /// End of the window.
    pub end: PlanTime,
    /// Sending node.
    pub from: Eid,
    /// Receiving node.
    pub to: Eid,
    /// Bytes per second.
    pub rate: u64,
}

/// `a range`: the one-way light time between two nodes during `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Start of the window.
    pub start: PlanTime,
    /// End of the window.
    pub end: PlanTime,
    /// One node.
    pub from: Eid,
    /// The other.
    pub to: Eid,
    /// One-way light time, seconds.
    pub owlt: u64,
}

/// A parsed contact plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPlan {
    contacts: Vec<Contact>,
    ranges: Vec<Range>,
}

impl ContactPlan {
    /// The contacts, in plan order.
    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    /// The ranges, in plan order.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }
}

/// A line of a contact plan that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("contact plan line {line}: {kind}")]
pub struct PlanError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: PlanErrorKind,
}

/// What is wrong with a contact plan line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanErrorKind {
    /// `a contact` takes `t1 t2 n1 n2 rate [confidence]`, `a range` takes `t1 t2 n1 n2 owlt`.
    #[error("'a {command}' needs {expected} fields after the command, found {found}")]
    FieldCount {
        /// `contact` or `range`.
        command: &'static str,
        /// Fields expected.
        expected: &'static str,
        /// Fields found.
        found: usize,
    },
    /// Not `+seconds` or `yyyy/mm/dd-hh:mm:ss`.
    #[error("'{0}' is not a time (+seconds or yyyy/mm/dd-hh:mm:ss, from 2000 on)")]
    Time(String),
    /// Not a node number, endpoint ID or name.
    #[error("'{0}' is not a node (ION node number, node ID or name)")]
    Node(String),
    /// Not an unsigned integer.
    #[error("'{0}' is not a non-negative integer")]
    Number(String),
    /// The window closes before it opens.
    #[error("the window ends before it starts")]
    EndBeforeStart,
}

impl FromStr for ContactPlan {
    type Err = PlanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut plan = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("");
            let fields: Vec<&str> = line.split_whitespace().collect();
            let err = |kind| PlanError { line: i + 1, kind };
            match fields.as_slice() {
                ["a", "contact", rest @ ..] => {
                    if !(5..=6).contains(&rest.len()) {
                        return Err(err(PlanErrorKind::FieldCount {
                            command: "contact",
                            expected: "5 (or 6 with a confidence)",
                            found: rest.len(),
                        }));
                    }
                    let (start, end, from, to) = window(rest).map_err(err)?;
                    let rate = number(rest[4]).map_err(err)?;
                    plan.contacts.push(Contact {
                        start,
                        end,
                        from,
                        to,
                        rate,
                    });
                }
                ["a", "range", rest @ ..] => {
                    if rest.len() != 5 {
                        return Err(err(PlanErrorKind::FieldCount {
                            command: "range",
                            expected: "5",
                            found: rest.len(),
                        }));
                    }
                    let (start, end, from, to) = window(rest).map_err(err)?;
                    let owlt = number(rest[4]).map_err(err)?;
                    plan.ranges.push(Range {
                        start,
                        end,
                        from,
                        to,
                        owlt,
                    });
                }
                _ => {} // Comments, blank lines and other ionadmin commands.
            }
        }
        Ok(plan)
    }
}

/// `t1 t2 n1 n2` of a contact or range line.
fn window(f: &[&str]) -> Result<(PlanTime, PlanTime, Eid, Eid), PlanErrorKind> {
    let start = time(f[0])?;
    let end = time(f[1])?;
    let comparable = matches!(
        (start, end),
        (PlanTime::Relative(_), PlanTime::Relative(_))
            | (PlanTime::Absolute(_), PlanTime::Absolute(_))
    );
    if comparable && end.resolve(DtnTime(0)) < start.resolve(DtnTime(0)) {
        return Err(PlanErrorKind::EndBeforeStart);
    }
    Ok((start, end, node(f[2])?, node(f[3])?))
}

fn number(s: &str) -> Result<u64, PlanErrorKind> {
    s.parse().map_err(|_| PlanErrorKind::Number(s.to_owned()))
}

fn node(s: &str) -> Result<Eid, PlanErrorKind> {
    let bad = || PlanErrorKind::Node(s.to_owned());
    let text = if s.bytes().all(|b| b.is_ascii_digit()) {
        format!("ipn:{s}.0")
    } else if s.contains(':') {
        s.to_owned()
    } else {
        format!("dtn://{s}/")
    };
    let eid: Eid = text.parse().map_err(|_| bad())?;
    eid.node_id().ok_or_else(bad)
}

fn time(s: &str) -> Result<PlanTime, PlanErrorKind> {
    let bad = || PlanErrorKind::Time(s.to_owned());
    if let Some(secs) = s.strip_prefix('+') {
        return secs.parse().map(PlanTime::Relative).map_err(|_| bad());
    }
    // yyyy/mm/dd-hh:mm:ss
    let (date, clock) = s.split_once('-').ok_or_else(bad)?;
    let d: Vec<&str> = date.split('/').collect();
    let c: Vec<&str> = clock.split(':').collect();
    let ([y, mo, da], [h, mi, se]) = (d.as_slice(), c.as_slice()) else {
        return Err(bad());
    };
    let num = |x: &str, max: u64| x.parse::<u64>().ok().filter(|v| *v <= max).ok_or_else(bad);
    let (y, mo, da) = (num(y, 9999)?, num(mo, 12)?, num(da, 31)?);
    let (h, mi, se) = (num(h, 23)?, num(mi, 59)?, num(se, 60)?);
    if y < 2000 || mo == 0 || da == 0 {
        return Err(bad());
    }
    let days = days_since_2000(y, mo, da);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    Ok(PlanTime::Absolute(DtnTime(secs * 1000)))
}

/// Days from 2000-01-01 to the given date of the proleptic Gregorian calendar (y >= 2000).
fn days_since_2000(y: u64, m: u64, d: u64) -> u64 {
    // Days from 0000-03-01, counting March as the first month so leap days fall last.
    let civil = |y: u64, m: u64, d: u64| {
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d - 1
    };
    civil(y, m, d) - civil(2000, 1, 1)
}

/// A contact with resolved times, in milliseconds of DTN time.
#[derive(Debug, Clone)]
struct Window {
    start: u64,
    end: u64,
    from: Eid,
    to: Eid,
    /// Rate (contacts) or one-way light time in ms (ranges).
    value: u64,
}

/// Routes by earliest arrival over a contact plan.
#[derive(Debug, Clone)]
pub struct ContactPlanRouter {
    node: Eid,
    contacts: Vec<Window>,
    ranges: Vec<Window>,
    now: DtnTime,
    /// Next hop per destination node, valid for `now` (cleared when time moves).
    cache: BTreeMap<Eid, Option<(Eid, DtnTime)>>,
}

impl ContactPlanRouter {
    /// A router for node `node` over `plan`, whose relative times count from `epoch`.
    pub fn new(node: Eid, plan: ContactPlan, epoch: DtnTime) -> Self {
        let resolve = |start: PlanTime, end: PlanTime, from: Eid, to: Eid, value| Window {
            start: start.resolve(epoch).0,
            end: end.resolve(epoch).0,
            from,
            to,
            value,
        };
        let contacts = plan
            .contacts
            .into_iter()
            .map(|c| resolve(c.start, c.end, c.from, c.to, c.rate))
            .collect();
        let ranges = plan
            .ranges
            .into_iter()
            .map(|r| resolve(r.start, r.end, r.from, r.to, r.owlt.saturating_mul(1000)))
            .collect();
        Self {
            node,
            contacts,
            ranges,
            now: epoch,
            cache: BTreeMap::new(),
        }
    }

    /// The first hop of the earliest-arrival path from this node, at time `now`, to the node
    /// `to`, and the arrival time. `None` if the plan offers no path.
    pub fn earliest_arrival(&self, to: &Eid, now: DtnTime) -> Option<(Eid, DtnTime)> {
        // Time-dependent Dijkstra: contact windows are FIFO (leaving later never arrives
        // earlier), so the first time a node is settled is its earliest arrival.
        let mut best: BTreeMap<&Eid, (u64, Option<&Eid>)> = BTreeMap::new();
        let mut frontier: BTreeSet<(u64, &Eid)> = BTreeSet::new();
        best.insert(&self.node, (now.0, None));
        frontier.insert((now.0, &self.node));
        while let Some((t, u)) = frontier.pop_first() {
            if u == to {
                let hop = best.get(u).and_then(|(_, h)| *h)?;
                return Some((hop.clone(), DtnTime(t)));
            }
            let first_hop = best.get(u).and_then(|(_, h)| *h);
            for c in self.contacts.iter().filter(|c| &c.from == u && c.end > t) {
                let depart = t.max(c.start);
                let arrive = depart.saturating_add(self.owlt(&c.from, &c.to, depart));
                let known = best.get(&c.to).map(|(a, _)| *a);
                if known.is_some_and(|a| a <= arrive) {
                    continue;
                }
                if let Some(a) = known {
                    frontier.remove(&(a, &c.to));
                }
                best.insert(&c.to, (arrive, Some(first_hop.unwrap_or(&c.to))));
                frontier.insert((arrive, &c.to));
            }
        }
        None
    }

    /// One-way light time from `a` to `b` at `t`: the first range covering `t` in either
    /// direction (ION ranges are symmetric), 0 without one.
    fn owlt(&self, a: &Eid, b: &Eid, t: u64) -> u64 {
        self.ranges
            .iter()
            .find(|r| {
                r.start <= t
                    && t < r.end
                    && ((&r.from == a && &r.to == b) || (&r.from == b && &r.to == a))
            })
            .map_or(0, |r| r.value)
    }

    fn next_hop(&mut self, destination_node: &Eid) -> Option<Eid> {
        if let Some(known) = self.cache.get(destination_node) {
            return known.as_ref().map(|(hop, _)| hop.clone());
        }
        let found = self.earliest_arrival(destination_node, self.now);
        let hop = found.as_ref().map(|(hop, _)| hop.clone());
        self.cache.insert(destination_node.clone(), found);
        hop
    }
}

impl Router for ContactPlanRouter {
    fn name(&self) -> &'static str {
        "contact-plan"
    }

    fn should_offer(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> bool {
        if bundle.in_flight > 0 {
            return false; // One copy: one transfer at a time.
        }
        if reaches_destination(bundle.destination, peer.node_id) {
            return true;
        }
        let Some(target) = bundle.destination.node_id() else {
            return false;
        };
        self.next_hop(&target).as_ref() == Some(peer.node_id)
    }

    fn after_forward(&mut self, _bundle: &BundleView<'_>, _peer: &PeerView<'_>) -> Retain {
        Retain::Release
    }

    fn set_now(&mut self, now: Now) {
        if now.wall != self.now {
            self.now = now.wall;
            self.cache.clear();
        }
    }
}

impl fmt::Display for PlanTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Relative(s) => write!(f, "+{s}"),
            Self::Absolute(t) => write!(f, "{} ms DTN time", t.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{BundleKey, Instant};

    const EPOCH: DtnTime = DtnTime(800_000_000_000);

    fn eid(s: &str) -> Eid {
        s.parse().unwrap()
    }

    fn router(node: &str, plan: &str) -> ContactPlanRouter {
        ContactPlanRouter::new(eid(node), plan.parse().unwrap(), EPOCH)
    }

    fn at(secs: u64) -> Now {
        Now::new(
            Instant::from_millis(secs * 1000),
            DtnTime(EPOCH.0 + secs * 1000),
        )
    }

    fn offers(r: &mut ContactPlanRouter, dst: &str, peer: &str) -> bool {
        let (src, dst, peer) = (eid("ipn:1.0"), eid(dst), eid(peer));
        let view = BundleView {
            key: BundleKey(1),
            source: &src,
            destination: &dst,
            from: None,
            copies: None,
            in_flight: 0,
        };
        r.should_offer(&view, &PeerView { node_id: &peer })
    }

    /// 1 can reach 4 via 2 (arrives at 300 s) or via 3 (arrives at 200 s).
    const DIAMOND: &str = "\
        # two ways from 1 to 4
        a contact +0 +1000 1 2 1000
        a contact +0 +1000 1 3 1000
        a contact +300 +400 2 4 1000
        a contact +200 +250 3 4 1000
        a range +0 +1000 1 2 1
    ";

    #[test]
    fn the_earliest_arrival_next_hop_is_chosen() {
        let r = router("ipn:1.0", DIAMOND);
        let (hop, arrival) = r.earliest_arrival(&eid("ipn:4.0"), EPOCH).unwrap();
        assert_eq!(hop, eid("ipn:3.0"));
        assert_eq!(arrival, DtnTime(EPOCH.0 + 200_000));
        let mut r = r;
        r.set_now(at(0));
        assert!(offers(&mut r, "ipn:4.1", "ipn:3.0"));
        assert!(!offers(&mut r, "ipn:4.1", "ipn:2.0"));
    }

    #[test]
    fn a_missed_contact_moves_the_route_to_the_next_one() {
        let mut r = router("ipn:1.0", DIAMOND);
        r.set_now(at(260)); // 3 → 4 closed at 250 s
        assert!(offers(&mut r, "ipn:4.1", "ipn:2.0"));
        assert!(!offers(&mut r, "ipn:4.1", "ipn:3.0"));
    }

    #[test]
    fn a_range_delays_arrival_by_its_light_time() {
        let r = router(
            "ipn:1.0",
            "a contact +10 +20 1 2 1\na range +0 +100 2 1 5\n",
        );
        let (_, arrival) = r.earliest_arrival(&eid("ipn:2.0"), EPOCH).unwrap();
        assert_eq!(arrival, DtnTime(EPOCH.0 + 15_000));
    }

    #[test]
    fn no_path_means_no_offer_except_to_the_destination() {
        let mut r = router("ipn:1.0", "a contact +0 +10 2 1 1000\n");
        r.set_now(at(0));
        assert!(!offers(&mut r, "ipn:4.1", "ipn:2.0"));
        assert!(offers(&mut r, "ipn:4.1", "ipn:4.0"));
    }

    #[test]
    fn names_and_absolute_times_are_read() {
        let plan: ContactPlan =
            "a contact 2025/05/09-00:00:00 2025/05/09-01:00:00 van dtn://c/ 500 1.0"
                .parse()
                .unwrap();
        let c = &plan.contacts()[0];
        assert_eq!(c.from, eid("dtn://van/"));
        assert_eq!(c.to, eid("dtn://c/"));
        // 2025-05-09 is 9260 days after 2000-01-01.
        assert_eq!(c.start, PlanTime::Absolute(DtnTime(9260 * 86_400_000)));
        assert_eq!(c.rate, 500);
    }

    #[test]
    fn a_malformed_line_is_reported_with_its_number() {
        let e = "a contact +0 +10 1 2 100\na range +0 +10 1 2\n"
            .parse::<ContactPlan>()
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(matches!(e.kind, PlanErrorKind::FieldCount { found: 4, .. }));
        let e = "a contact +10 +0 1 2 100"
            .parse::<ContactPlan>()
            .unwrap_err();
        assert_eq!(e.kind, PlanErrorKind::EndBeforeStart);
    }

    #[test]
    fn other_ionadmin_commands_are_ignored() {
        let plan: ContactPlan = "1 1 ''\ns\nm production 1000000\na contact +0 +1 1 2 9\n"
            .parse()
            .unwrap();
        assert_eq!(plan.contacts().len(), 1);
    }
}
