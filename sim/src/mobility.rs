//! Mobility: where hosts are, and which pairs are within radio range.
//!
//! Positions advance in fixed steps (the plan's `mobility_step`, 1 s by default); contacts made
//! by range are resolved at that granularity: a pair that comes within range between two steps
//! is seen in contact at the next step. Pairs in range are found with a grid of cells one range
//! wide, so a step costs time proportional to the number of hosts and their local density, not
//! to the number of pairs.

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
    last: Option<SimTime>,
    in_range: Pairs,
}

fn random_point(rng: &mut ChaCha8Rng, area: Rect) -> Point {
    (
        rng::uniform(rng, area.x0, area.x1),
        rng::uniform(rng, area.y0, area.y1),
    )
}

impl Motion {
    /// The motion of `plan`'s hosts, or `None` if no host has a position.
    pub fn new(plan: &Plan) -> Option<Self> {
        let movers: Vec<Option<Mover>> = plan
            .hosts
            .iter()
            .map(|h| {
                let mut rng = rng::named(plan.seed, &format!("mobility/{}", h.name));
                match h.mobility {
                    Mobility::None => None,
                    Mobility::Stationary { at, area } => Some(Mover {
                        pos: at.unwrap_or_else(|| random_point(&mut rng, area)),
                        kind: Kind::Fixed,
                    }),
                    Mobility::RandomWaypoint { area, speed, pause } => {
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
                }
            })
            .collect();
        if movers.iter().all(Option::is_none) {
            return None;
        }
        Some(Self {
            movers,
            range: plan.link.range,
            last: None,
            in_range: Vec::new(),
        })
    }

    /// True if some host moves (so steps must keep coming).
    pub fn moving(&self) -> bool {
        self.movers
            .iter()
            .flatten()
            .any(|m| matches!(m.kind, Kind::Waypoint(_)))
    }

    /// Host `h`'s position, if it has one.
    pub fn position(&self, h: usize) -> Option<Point> {
        self.movers.get(h)?.as_ref().map(|m| m.pos)
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

    /// Every pair (low, high) within range, sorted: hosts are sorted by grid cell (one range
    /// wide), and each cell is compared with itself and its eight neighbours.
    fn pairs_in_range(&self) -> Pairs {
        let mut out = Vec::new();
        if self.range <= 0.0 {
            return out;
        }
        let r = self.range;
        let mut cells: Vec<((i64, i64), usize)> = self
            .movers
            .iter()
            .enumerate()
            .filter_map(|(h, m)| {
                let p = m.as_ref()?.pos;
                Some((((p.0 / r).floor() as i64, (p.1 / r).floor() as i64), h))
            })
            .collect();
        cells.sort_unstable();
        // Cells sort by column then row, so the three neighbouring cells of one column form
        // one contiguous run: three binary searches per cell instead of nine.
        let column = |cx: i64, cy: i64| {
            let lo = cells.partition_point(|(c, _)| *c < (cx, cy - 1));
            let hi = lo + cells[lo..].partition_point(|(c, _)| *c <= (cx, cy + 1));
            &cells[lo..hi]
        };
        let mut start = 0;
        while start < cells.len() {
            let cell = cells[start].0;
            let len = cells[start..].partition_point(|(c, _)| *c == cell);
            let here = &cells[start..start + len];
            start += len;
            for dx in -1..=1 {
                for &(_, j) in column(cell.0 + dx, cell.1) {
                    for &(_, i) in here {
                        if i < j && self.within(i, j) {
                            out.push((i, j));
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn within(&self, i: usize, j: usize) -> bool {
        match (self.position(i), self.position(j)) {
            (Some(a), Some(b)) => {
                let (dx, dy) = (a.0 - b.0, a.1 - b.1);
                dx * dx + dy * dy <= self.range * self.range
            }
            _ => false,
        }
    }
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

/// Random waypoint over one step of `dt` seconds ending at `now`: pause, or move toward the
/// target; on reaching it, pause for a uniform time, then head for a new uniform target at a
/// new uniform speed. A pause that ends mid-step starts moving at the next step.
fn advance(m: &mut Mover, now: SimTime, dt: f64) {
    let Kind::Waypoint(w) = &mut m.kind else {
        return;
    };
    let Waypoint {
        rng,
        area,
        speed,
        pause,
        target,
        v,
        pause_until,
    } = &mut **w;
    if now < *pause_until || dt <= 0.0 {
        return;
    }
    let (dx, dy) = (target.0 - m.pos.0, target.1 - m.pos.1);
    let dist = (dx * dx + dy * dy).sqrt();
    let travel = *v * dt;
    if travel < dist {
        m.pos = (m.pos.0 + dx * travel / dist, m.pos.1 + dy * travel / dist);
        return;
    }
    m.pos = *target;
    let wait = rng::uniform(rng, pause.0.as_secs_f64(), pause.1.as_secs_f64());
    *pause_until = now.plus(SimTime::from_secs_f64(wait).unwrap_or(SimTime::ZERO));
    *target = random_point(rng, *area);
    *v = rng::uniform(rng, speed.0, speed.1);
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
}
