//! Mobility: where hosts are, and which pairs are within radio range.
//!
//! Positions advance in fixed steps (the plan's `mobility_step`, 1 s by default); contacts made
//! by range are resolved at that granularity: a pair that comes within range between two steps
//! is seen in contact at the next step. Pairs in range are found with a grid of cells at least
//! one range wide, so a step costs time proportional to the number of hosts and their local
//! density, not to the number of pairs: 10,000 hosts cost 10,000 cell lookups, not 50 million
//! distance checks.
//!
//! Models: stationary; random waypoint; random direction (wrapping around a torus world or
//! bouncing off its area's edges); ferries that follow a fixed route on a timetable.

use rand_chacha::ChaCha8Rng;

use crate::clock::SimTime;
use crate::plan::{Mobility, Plan, Rect};
use crate::rng;

/// A point in the plane (m).
pub type Point = (f64, f64);

#[derive(Debug)]
enum Kind {
    Fixed,
    Waypoint(Box<Waypoint>),
    Direction(Box<Direction>),
    Ferry(Box<Ferry>),
}

/// The state of a random-waypoint host.
#[derive(Debug)]
struct Waypoint {
    rng: ChaCha8Rng,
    area: Rect,
    speed: (f64, f64),
    pause: (SimTime, SimTime),
    target: Point,
    /// Current speed (m/s).
    v: f64,
    /// Moving again from this time.
    pause_until: SimTime,
}

/// The state of a random-direction host.
#[derive(Debug)]
struct Direction {
    rng: ChaCha8Rng,
    area: Rect,
    /// Wrap around the area's edges (a torus) instead of bouncing off them.
    wrap: bool,
    speed: (f64, f64),
    /// Leg duration range, seconds.
    leg: (f64, f64),
    /// Unit heading.
    heading: Point,
    /// Current speed (m/s).
    v: f64,
    /// When the current leg ends (seconds).
    leg_end: f64,
}

/// A ferry's timetable: legs of (pause at stop i, then travel to stop i + 1).
#[derive(Debug)]
struct Ferry {
    route: std::sync::Arc<[Point]>,
    speed: f64,
    pause: f64,
    /// Seconds into the cycle at time zero.
    offset: f64,
    /// Length of one round trip (seconds).
    cycle: f64,
}

#[derive(Debug)]
struct Mover {
    pos: Point,
    kind: Kind,
}

/// Pairs (low, high) of host indices, sorted.
pub type Pairs = Vec<(usize, usize)>;

/// The positions of every host that has one, and the pairs in range.
#[derive(Debug)]
pub struct Motion {
    movers: Vec<Option<Mover>>,
    range: f64,
    torus: Option<Rect>,
    last: Option<SimTime>,
    in_range: Pairs,
    /// Some host moves (kinds never change, so this is fixed at the start).
    moving: bool,
    /// Buffers of the grid, kept between steps so a step allocates nothing.
    scratch: Scratch,
}

/// The grid's buffers.
#[derive(Debug, Default)]
struct Scratch {
    pts: Vec<(usize, Point)>,
    keys: Vec<usize>,
    start: Vec<u32>,
    fill: Vec<u32>,
    sorted: Vec<(usize, Point)>,
}

fn random_point(rng: &mut ChaCha8Rng, area: Rect) -> Point {
    (
        rng::uniform(rng, area.x0, area.x1),
        rng::uniform(rng, area.y0, area.y1),
    )
}

fn distance(a: Point, b: Point) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Shortest legs between consecutive timetable stops are at least a micrometre, so a route
/// with a repeated stop still has a cycle of positive length.
const MIN_LEG: f64 = 1e-6;

impl Ferry {
    fn new(route: std::sync::Arc<[Point]>, speed: f64, pause: SimTime, phase: f64) -> Self {
        let pause = pause.as_secs_f64();
        let n = route.len();
        let travel: f64 = (0..n)
            .map(|i| distance(route[i], route[(i + 1) % n]) / speed)
            .sum();
        let cycle = (travel + pause * n as f64).max(MIN_LEG);
        Self {
            route,
            speed,
            pause,
            offset: phase.rem_euclid(1.0) * cycle,
            cycle,
        }
    }

    /// Where the ferry is `t` seconds after the start.
    fn position(&self, t: f64) -> Point {
        let n = self.route.len();
        let mut tau = (t + self.offset).rem_euclid(self.cycle);
        for i in 0..n {
            let (from, to) = (self.route[i], self.route[(i + 1) % n]);
            if tau < self.pause {
                return from;
            }
            tau -= self.pause;
            let leg = distance(from, to) / self.speed;
            if tau < leg {
                let f = tau / leg;
                return (from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f);
            }
            tau -= leg;
        }
        self.route[0]
    }
}

impl Motion {
    /// The motion of `plan`'s hosts, or `None` if no host has a position.
    pub fn new(plan: &Plan) -> Option<Self> {
        let movers: Vec<Option<Mover>> = plan
            .hosts
            .iter()
            .map(|h| {
                let mut rng = rng::named(plan.seed, &format!("mobility/{}", h.name));
                match &h.mobility {
                    Mobility::None => None,
                    Mobility::Stationary { at, area } => Some(Mover {
                        pos: at.unwrap_or_else(|| random_point(&mut rng, *area)),
                        kind: Kind::Fixed,
                    }),
                    &Mobility::RandomWaypoint { area, speed, pause } => {
                        let pos = random_point(&mut rng, area);
                        let target = random_point(&mut rng, area);
                        let v = rng::uniform(&mut rng, speed.0, speed.1);
                        Some(Mover {
                            pos,
                            kind: Kind::Waypoint(Box::new(Waypoint {
                                rng,
                                area,
                                speed,
                                pause,
                                target,
                                v,
                                pause_until: SimTime::ZERO,
                            })),
                        })
                    }
                    &Mobility::RandomDirection { area, speed, leg } => {
                        let pos = random_point(&mut rng, area);
                        let leg = (
                            leg.0.as_secs_f64().max(1e-3),
                            leg.1.as_secs_f64().max(leg.0.as_secs_f64()).max(1e-3),
                        );
                        let mut d = Direction {
                            rng,
                            area,
                            wrap: plan.torus == Some(area),
                            speed,
                            leg,
                            heading: (1.0, 0.0),
                            v: 0.0,
                            leg_end: 0.0,
                        };
                        d.new_leg(0.0);
                        Some(Mover {
                            pos,
                            kind: Kind::Direction(Box::new(d)),
                        })
                    }
                    Mobility::Ferry {
                        route,
                        speed,
                        pause,
                        phase,
                    } => {
                        let f = Ferry::new(route.clone(), *speed, *pause, *phase);
                        Some(Mover {
                            pos: f.position(0.0),
                            kind: Kind::Ferry(Box::new(f)),
                        })
                    }
                }
            })
            .collect();
        if movers.iter().all(Option::is_none) {
            return None;
        }
        let moving = movers
            .iter()
            .flatten()
            .any(|m| !matches!(m.kind, Kind::Fixed));
        Some(Self {
            moving,
            movers,
            range: plan.link.range,
            torus: plan.torus,
            last: None,
            in_range: Vec::new(),
            scratch: Scratch::default(),
        })
    }

    /// True if some host moves (so steps must keep coming).
    pub fn moving(&self) -> bool {
        self.moving
    }

    /// Host `h`'s position, if it has one.
    pub fn position(&self, h: usize) -> Option<Point> {
        self.movers.get(h)?.as_ref().map(|m| m.pos)
    }

    /// The pairs within range after the last step, sorted.
    pub fn in_range(&self) -> &[(usize, usize)] {
        &self.in_range
    }

    /// Advances every host to `now` and returns the pairs that left range and those that
    /// entered it, each sorted.
    pub fn step(&mut self, now: SimTime) -> (Pairs, Pairs) {
        let dt = self.last.map_or(0.0, |l| now.since(l).as_secs_f64());
        self.last = Some(now);
        for m in self.movers.iter_mut().flatten() {
            advance(m, now, dt);
        }
        let current = self.pairs_in_range();
        let (gone, new) = diff(&self.in_range, &current);
        self.in_range = current;
        (gone, new)
    }

    /// Every pair (low, high) within range, sorted. Hosts are bucketed into a grid of cells at
    /// least one range wide (a counting sort, linear in hosts plus cells), and each occupied
    /// cell is compared with itself and its distinct neighbours. Cells grow beyond the range
    /// when the area is sparse, so the grid never has more than about four cells per host.
    fn pairs_in_range(&mut self) -> Pairs {
        let mut out = Vec::new();
        let (r, torus) = (self.range, self.torus);
        let Scratch {
            pts,
            keys,
            start,
            fill,
            sorted,
        } = &mut self.scratch;
        pts.clear();
        pts.extend(
            self.movers
                .iter()
                .enumerate()
                .filter_map(|(h, m)| Some((h, m.as_ref()?.pos))),
        );
        if r <= 0.0 || pts.len() < 2 {
            return out;
        }
        let n = pts.len() as f64;
        let (origin, w, h) = match torus {
            Some(t) => ((t.x0, t.y0), t.x1 - t.x0, t.y1 - t.y0),
            None => {
                let (mut lo, mut hi) = (pts[0].1, pts[0].1);
                for &(_, p) in pts.iter() {
                    lo = (lo.0.min(p.0), lo.1.min(p.1));
                    hi = (hi.0.max(p.0), hi.1.max(p.1));
                }
                (lo, hi.0 - lo.0, hi.1 - lo.1)
            }
        };
        // Cell side: at least the range; larger if that would make many more cells than hosts.
        let side = r.max((w * h / (4.0 * n)).sqrt());
        let wrap = torus.is_some();
        let count = |extent: f64| -> i64 {
            if wrap {
                // Whole cells only, so every cell of the torus is at least `side` wide.
                ((extent / side).floor() as i64).max(1)
            } else {
                (extent / side).floor() as i64 + 1
            }
        };
        let (nx, ny) = (count(w), count(h));
        let (cw, ch) = if wrap {
            (w / nx as f64, h / ny as f64)
        } else {
            (side, side)
        };
        let cell_of = |p: Point| -> usize {
            let cx = (((p.0 - origin.0) / cw).floor() as i64).clamp(0, nx - 1);
            let cy = (((p.1 - origin.1) / ch).floor() as i64).clamp(0, ny - 1);
            (cy * nx + cx) as usize
        };
        // Counting sort of hosts by cell.
        let cells = (nx * ny) as usize;
        start.clear();
        start.resize(cells + 1, 0);
        keys.clear();
        keys.extend(pts.iter().map(|&(_, p)| cell_of(p)));
        for &k in keys.iter() {
            start[k + 1] += 1;
        }
        for c in 0..cells {
            start[c + 1] += start[c];
        }
        fill.clear();
        fill.extend_from_slice(start);
        sorted.clear();
        sorted.resize(pts.len(), (0, (0.0, 0.0)));
        for (i, &k) in keys.iter().enumerate() {
            sorted[fill[k] as usize] = pts[i];
            fill[k] += 1;
        }
        let members = |c: usize| &sorted[start[c] as usize..start[c + 1] as usize];
        let ordered = |a: usize, b: usize| if a < b { (a, b) } else { (b, a) };
        // Each occupied cell is compared with itself and the four neighbours "ahead" of it
        // (right, and the three above): every pair of neighbouring cells is visited once. On a
        // torus of one or two cells a side, offsets can name the same cell twice; the final
        // dedup removes the pairs seen twice.
        const AHEAD: [(i64, i64); 4] = [(1, 0), (-1, 1), (0, 1), (1, 1)];
        let mut i0 = 0;
        while i0 < sorted.len() {
            let c = keys_sorted(&sorted[i0], cell_of);
            let here = members(c);
            i0 = start[c + 1] as usize;
            for (a, &(i, pi)) in here.iter().enumerate() {
                for &(j, pj) in &here[a + 1..] {
                    if close(r, torus, pi, pj) {
                        out.push(ordered(i, j));
                    }
                }
            }
            let (cx, cy) = ((c as i64) % nx, (c as i64) / nx);
            for (dx, dy) in AHEAD {
                let (mut x, mut y) = (cx + dx, cy + dy);
                if wrap {
                    x = x.rem_euclid(nx);
                    y = y.rem_euclid(ny);
                } else if !(0..nx).contains(&x) || !(0..ny).contains(&y) {
                    continue;
                }
                let nb = (y * nx + x) as usize;
                if nb == c {
                    continue;
                }
                for &(j, pj) in members(nb) {
                    for &(i, pi) in here {
                        if close(r, torus, pi, pj) {
                            out.push(ordered(i, j));
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    #[cfg(test)]
    fn within(&self, i: usize, j: usize) -> bool {
        match (self.position(i), self.position(j)) {
            (Some(a), Some(b)) => close(self.range, self.torus, a, b),
            _ => false,
        }
    }
}

/// The cell of a sorted entry (recomputed: cheaper than storing it beside every entry).
fn keys_sorted(entry: &(usize, Point), cell_of: impl Fn(Point) -> usize) -> usize {
    cell_of(entry.1)
}

/// True if `a` and `b` are within `range` (the short way round on a torus).
fn close(range: f64, torus: Option<Rect>, a: Point, b: Point) -> bool {
    let (mut dx, mut dy) = ((a.0 - b.0).abs(), (a.1 - b.1).abs());
    if let Some(t) = torus {
        dx = dx.min((t.x1 - t.x0) - dx);
        dy = dy.min((t.y1 - t.y0) - dy);
    }
    dx * dx + dy * dy <= range * range
}

/// The pairs only in `old` and those only in `new` (both sorted).
fn diff(old: &[(usize, usize)], new: &[(usize, usize)]) -> (Pairs, Pairs) {
    let (mut gone, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                gone.push(*a);
                i += 1;
            }
            (Some(a), None) => {
                gone.push(*a);
                i += 1;
            }
            (_, Some(b)) => {
                added.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (gone, added)
}

/// Moves `m` over one step of `dt` seconds ending at `now`.
fn advance(m: &mut Mover, now: SimTime, dt: f64) {
    match &mut m.kind {
        Kind::Fixed => {}
        Kind::Waypoint(w) => waypoint(&mut m.pos, w, now, dt),
        Kind::Direction(d) => d.advance(&mut m.pos, now.as_secs_f64(), dt),
        Kind::Ferry(f) => m.pos = f.position(now.as_secs_f64()),
    }
}

/// Random waypoint over one step of `dt` seconds ending at `now`: pause, or move toward the
/// target; on reaching it, pause for a uniform time, then head for a new uniform target at a
/// new uniform speed. A pause that ends mid-step starts moving at the next step.
fn waypoint(pos: &mut Point, w: &mut Waypoint, now: SimTime, dt: f64) {
    let Waypoint {
        rng,
        area,
        speed,
        pause,
        target,
        v,
        pause_until,
    } = w;
    if now < *pause_until || dt <= 0.0 {
        return;
    }
    let (dx, dy) = (target.0 - pos.0, target.1 - pos.1);
    let dist = (dx * dx + dy * dy).sqrt();
    let travel = *v * dt;
    if travel < dist {
        *pos = (pos.0 + dx * travel / dist, pos.1 + dy * travel / dist);
        return;
    }
    *pos = *target;
    let wait = rng::uniform(rng, pause.0.as_secs_f64(), pause.1.as_secs_f64());
    *pause_until = now.plus(SimTime::from_secs_f64(wait).unwrap_or(SimTime::ZERO));
    *target = random_point(rng, *area);
    *v = rng::uniform(rng, speed.0, speed.1);
}

impl Direction {
    /// Draws a uniform heading, a uniform speed and a uniform leg length from `t` seconds.
    fn new_leg(&mut self, t: f64) {
        let theta = rng::uniform(&mut self.rng, 0.0, std::f64::consts::TAU);
        self.heading = (theta.cos(), theta.sin());
        self.v = rng::uniform(&mut self.rng, self.speed.0, self.speed.1);
        self.leg_end = t + rng::uniform(&mut self.rng, self.leg.0, self.leg.1);
    }

    /// Moves over `(now - dt, now]`, starting new legs where old ones end (legs are at least
    /// 1 ms, so a step holds finitely many).
    fn advance(&mut self, pos: &mut Point, now: f64, dt: f64) {
        let mut t = now - dt;
        while t < now {
            let until = self.leg_end.min(now);
            let d = self.v * (until - t);
            let (x, y) = (pos.0 + self.heading.0 * d, pos.1 + self.heading.1 * d);
            let a = self.area;
            *pos = if self.wrap {
                (wrap(x, a.x0, a.x1), wrap(y, a.y0, a.y1))
            } else {
                (
                    bounce(x, a.x0, a.x1, &mut self.heading.0),
                    bounce(y, a.y0, a.y1, &mut self.heading.1),
                )
            };
            t = until;
            if t >= self.leg_end {
                self.new_leg(t);
            }
        }
    }
}

/// `x` wrapped into `[lo, hi)`.
fn wrap(x: f64, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return lo;
    }
    let w = lo + (x - lo).rem_euclid(hi - lo);
    // rem_euclid can round up to the width itself.
    if w >= hi { lo } else { w }
}

/// `x` reflected into `[lo, hi]`, flipping the heading component at each reflection.
fn bounce(mut x: f64, lo: f64, hi: f64, heading: &mut f64) -> f64 {
    if hi <= lo {
        return lo;
    }
    while x < lo || x > hi {
        if x < lo {
            x = 2.0 * lo - x;
        } else {
            x = 2.0 * hi - x;
        }
        *heading = -*heading;
    }
    x
}

#[cfg(test)]
mod tests {
    use proto::routing::RouterKind;

    use super::*;

    fn stationary(points: &[Point], range: f64) -> Plan {
        let mut plan = Plan::new("m", SimTime(1));
        plan.link.range = range;
        let area = Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 1.0,
            y1: 1.0,
        };
        for (i, p) in points.iter().enumerate() {
            plan.add_hosts(&format!("s{i}x"), 1, RouterKind::Epidemic, 1 << 20);
            plan.hosts[i].mobility = Mobility::Stationary { at: Some(*p), area };
        }
        plan
    }

    #[test]
    fn pairs_within_range_are_found_across_cells() {
        let plan = stationary(&[(0.0, 0.0), (9.0, 0.0), (25.0, 0.0), (-9.9, 0.5)], 10.0);
        let mut m = Motion::new(&plan).unwrap();
        let (gone, new) = m.step(SimTime::ZERO);
        assert!(gone.is_empty());
        assert_eq!(new, [(0, 1), (0, 3)]);
        assert!(!m.moving());
    }

    #[test]
    fn range_changes_are_reported_once_each() {
        let (gone, new) = diff(&[(0, 1), (0, 3), (2, 5)], &[(0, 1), (1, 2), (2, 5), (4, 6)]);
        assert_eq!(gone, [(0, 3)]);
        assert_eq!(new, [(1, 2), (4, 6)]);
    }

    #[test]
    fn a_plan_without_positions_has_no_motion() {
        let mut plan = Plan::new("m", SimTime(1));
        plan.add_hosts("h", 3, RouterKind::Epidemic, 1);
        assert!(Motion::new(&plan).is_none());
    }

    #[test]
    fn waypoint_hosts_stay_in_their_area_and_move_at_most_their_speed() {
        let mut plan = Plan::new("m", SimTime(1));
        plan.add_hosts("w", 5, RouterKind::Epidemic, 1);
        let area = Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 100.0,
            y1: 50.0,
        };
        for h in &mut plan.hosts {
            h.mobility = Mobility::RandomWaypoint {
                area,
                speed: (1.0, 2.0),
                pause: (SimTime::ZERO, SimTime(5_000_000)),
            };
        }
        let mut m = Motion::new(&plan).unwrap();
        m.step(SimTime::ZERO);
        for s in 1..500u64 {
            let before: Vec<Point> = (0..5).map(|h| m.position(h).unwrap()).collect();
            m.step(SimTime(s * 1_000_000));
            for (h, b) in before.iter().enumerate() {
                let p = m.position(h).unwrap();
                assert!((0.0..=100.0).contains(&p.0) && (0.0..=50.0).contains(&p.1));
                let moved = ((p.0 - b.0).powi(2) + (p.1 - b.1).powi(2)).sqrt();
                assert!(moved <= 2.0 + 1e-9, "host {h} moved {moved} m in 1 s");
            }
        }
    }

    fn square(side: f64) -> Rect {
        Rect {
            x0: 0.0,
            y0: 0.0,
            x1: side,
            y1: side,
        }
    }

    #[test]
    fn pairs_in_range_across_a_torus_edge_are_found() {
        let mut plan = stationary(&[(1.0, 50.0), (99.0, 50.0), (50.0, 99.5), (50.0, 0.5)], 5.0);
        plan.torus = Some(square(100.0));
        let mut m = Motion::new(&plan).unwrap();
        let (_, new) = m.step(SimTime::ZERO);
        // 2 m apart the short way round, horizontally and vertically.
        assert_eq!(new, [(0, 1), (2, 3)]);
    }

    #[test]
    fn the_grid_finds_the_same_pairs_as_checking_every_pair() {
        let mut rng = rng::named(4, "grid");
        let points: Vec<Point> = (0..300)
            .map(|_| {
                (
                    rng::uniform(&mut rng, 0.0, 200.0),
                    rng::uniform(&mut rng, 0.0, 200.0),
                )
            })
            .collect();
        for torus in [None, Some(square(200.0))] {
            let mut plan = stationary(&points, 12.0);
            plan.torus = torus;
            let mut m = Motion::new(&plan).unwrap();
            let (_, found) = m.step(SimTime::ZERO);
            let all: Pairs = (0..points.len())
                .flat_map(|i| (i + 1..points.len()).map(move |j| (i, j)))
                .filter(|&(i, j)| m.within(i, j))
                .collect();
            assert_eq!(found, all, "torus: {torus:?}");
            assert!(found.len() > 50);
        }
    }

    fn direction_plan(torus: bool) -> Plan {
        let mut plan = Plan::new("d", SimTime(1));
        plan.add_hosts("d", 20, RouterKind::Epidemic, 1);
        for h in &mut plan.hosts {
            h.mobility = Mobility::RandomDirection {
                area: square(50.0),
                speed: (3.0, 3.0),
                leg: (SimTime(2_000_000), SimTime(20_000_000)),
            };
        }
        plan.torus = torus.then_some(square(50.0));
        plan
    }

    #[test]
    fn random_direction_hosts_move_at_their_speed_and_stay_in_the_area() {
        for torus in [false, true] {
            let mut m = Motion::new(&direction_plan(torus)).unwrap();
            m.step(SimTime::ZERO);
            for s in 1..300u64 {
                let before: Vec<Point> = (0..20).map(|h| m.position(h).unwrap()).collect();
                m.step(SimTime(s * 1_000_000));
                for (h, b) in before.iter().enumerate() {
                    let p = m.position(h).unwrap();
                    assert!((0.0..=50.0).contains(&p.0) && (0.0..=50.0).contains(&p.1));
                    let (mut dx, mut dy) = ((p.0 - b.0).abs(), (p.1 - b.1).abs());
                    if torus {
                        dx = dx.min(50.0 - dx);
                        dy = dy.min(50.0 - dy);
                    }
                    let moved = (dx * dx + dy * dy).sqrt();
                    // Straight legs move exactly 3 m; a turn or a bounce inside the step less.
                    assert!(moved <= 3.0 + 1e-9, "host {h} moved {moved} m in 1 s");
                }
            }
        }
    }

    #[test]
    fn a_torus_host_wraps_where_a_bounded_host_bounces() {
        assert_eq!(wrap(103.0, 0.0, 100.0), 3.0);
        assert_eq!(wrap(-2.0, 0.0, 100.0), 98.0);
        let mut h = 1.0;
        assert_eq!(bounce(103.0, 0.0, 100.0, &mut h), 97.0);
        assert_eq!(h, -1.0);
        assert_eq!(bounce(-2.0, 0.0, 100.0, &mut h), 2.0);
        assert_eq!(h, 1.0);
    }

    #[test]
    fn a_ferry_keeps_its_timetable() {
        // Stops 100 m apart at 10 m/s with 5 s at each: a 30 s round trip.
        let route: std::sync::Arc<[Point]> = vec![(0.0, 0.0), (100.0, 0.0)].into();
        let f = Ferry::new(route.clone(), 10.0, SimTime(5_000_000), 0.0);
        assert_eq!(f.cycle, 30.0);
        assert_eq!(f.position(3.0), (0.0, 0.0)); // waiting at the first stop
        assert_eq!(f.position(10.0), (50.0, 0.0)); // half way out
        assert_eq!(f.position(17.0), (100.0, 0.0)); // waiting at the second stop
        assert_eq!(f.position(25.0), (50.0, 0.0)); // half way back
        assert_eq!(f.position(40.0), (50.0, 0.0)); // the next cycle
        // A second ferry of the group is half a cycle ahead.
        let g = Ferry::new(route, 10.0, SimTime(5_000_000), 0.5);
        assert_eq!(g.position(10.0), (50.0, 0.0));
        assert_eq!(g.position(0.0), (100.0, 0.0));
    }
}
