//! From a parsed scenario file to a [`Plan`]: names become host indices, windows become
//! contact events, defaults are filled in, and every inconsistency is reported at its key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::Spanned;

use super::{
    ContactFile, Distribution, GroupFile, MobilityModel, ScenarioError, ScenarioFile, Source,
};
use crate::clock::SimTime;
use crate::plan::{
    ContactEvent, ContactSource, CrashSpec, HostSpec, Interval, MeetingSpec, Mobility,
    PartitionSpec, Plan, Rect, WorkloadSpec, merge_windows,
};
use crate::trace;

/// Storage quota of hosts whose group names none.
const DEFAULT_BUFFER: u64 = 1 << 30;
/// Side of the square world when the file names no area.
const DEFAULT_AREA: f64 = 1000.0;
/// Lifetime of messages whose workload names none.
const DEFAULT_LIFETIME: SimTime = SimTime(24 * 3_600_000_000);

/// Host indices by name: each group name and each node name.
struct Names(BTreeMap<String, Vec<usize>>);

impl Names {
    /// The hosts that `list` names (groups expand to their members), sorted, without repeats.
    fn hosts(
        &self,
        src: &Source<'_>,
        list: &Spanned<Vec<String>>,
        key: &str,
    ) -> Result<Vec<usize>, ScenarioError> {
        let mut out = BTreeSet::new();
        for name in list.get_ref() {
            out.extend(self.one(src, list, key, name)?);
        }
        Ok(out.into_iter().collect())
    }

    fn one<T>(
        &self,
        src: &Source<'_>,
        at: &Spanned<T>,
        key: &str,
        name: &str,
    ) -> Result<Vec<usize>, ScenarioError> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| src.at(at, key, format!("no group or node is called '{name}'")))
    }
}

pub(super) fn resolve(file: &ScenarioFile, src: &Source<'_>) -> Result<Plan, ScenarioError> {
    let mut plan = Plan::new(
        file.name.clone().unwrap_or_else(|| {
            src.path
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
        }),
        file.duration.0,
    );
    plan.seed = file.seed;
    plan.warmup = file.warmup.0;
    plan.store_latency = file.store_latency.0;
    if let Some(step) = &file.mobility_step {
        if step.get_ref().0 == SimTime::ZERO {
            return Err(src.at(step, "mobility_step", "must be greater than zero"));
        }
        plan.mobility_step = step.get_ref().0;
    }
    let world = match &file.area {
        Some(a) => rect(src, a, "area")?,
        None => Rect {
            x0: 0.0,
            y0: 0.0,
            x1: DEFAULT_AREA,
            y1: DEFAULT_AREA,
        },
    };
    link(file, src, &mut plan)?;
    let names = groups(file, src, &mut plan, world)?;
    for (i, w) in file.workloads.iter().enumerate() {
        let key = |k: &str| format!("workload[{i}].{k}");
        let from = names.hosts(src, &w.from, &key("from"))?;
        let to = names.hosts(src, &w.to, &key("to"))?;
        if from.is_empty() || to.is_empty() || (to.len() == 1 && from == to) {
            return Err(src.at(
                &w.to,
                &key("to"),
                "needs a destination other than the source",
            ));
        }
        let interval = w.interval.get_ref().0;
        if interval == SimTime::ZERO {
            return Err(src.at(&w.interval, &key("interval"), "must be greater than zero"));
        }
        let size = *w.size.get_ref();
        if size.0 > size.1 {
            return Err(src.at(&w.size, &key("size"), "the minimum exceeds the maximum"));
        }
        let lifetime = w
            .lifetime
            .as_ref()
            .map_or(DEFAULT_LIFETIME, |l| l.get_ref().0);
        if lifetime < SimTime(1000) {
            let at = w.lifetime.as_ref().unwrap_or(&w.interval);
            return Err(src.at(at, &key("lifetime"), "must be at least 1 ms"));
        }
        plan.workloads.push(WorkloadSpec {
            interval: match w.distribution {
                Distribution::Fixed => Interval::Fixed(interval),
                Distribution::Exponential => Interval::Exponential(interval),
            },
            size: (size.0, size.1),
            from,
            to,
            lifetime,
            start: w.start.map_or(SimTime::ZERO, |s| s.0),
            end: w.end.map_or(plan.duration, |e| e.0),
        });
    }
    for (i, c) in file.contacts.iter().enumerate() {
        contact(src, &names, c, i, &mut plan)?;
    }
    for (i, m) in file.meetings.iter().enumerate() {
        let key = |k: &str| format!("meetings[{i}].{k}");
        let nodes = names.hosts(src, &m.among, &key("among"))?;
        if nodes.len() < 2 {
            return Err(src.at(&m.among, &key("among"), "needs at least two hosts"));
        }
        let mean = m.mean_interval.get_ref().0.as_secs_f64();
        if mean <= 0.0 {
            return Err(src.at(
                &m.mean_interval,
                &key("mean_interval"),
                "must be greater than zero",
            ));
        }
        plan.meetings.push(MeetingSpec {
            nodes,
            rate_per_pair: 1.0 / mean,
            duration: m.duration.0,
        });
    }
    for (i, c) in file.crashes.iter().enumerate() {
        let hosts = names.one(src, &c.node, &format!("crash[{i}].node"), c.node.get_ref())?;
        if let Some(r) = &c.restart
            && r.get_ref().0 <= c.at.0
        {
            return Err(src.at(r, &format!("crash[{i}].restart"), "must come after `at`"));
        }
        for host in hosts {
            plan.crashes.push(CrashSpec {
                host,
                at: c.at.0,
                restart: c.restart.as_ref().map(|r| r.get_ref().0),
            });
        }
    }
    for (i, p) in file.partitions.iter().enumerate() {
        let key = format!("partition[{i}].sides");
        let mut seen = BTreeSet::new();
        let mut sides = Vec::new();
        for side in p.sides.get_ref() {
            let mut hosts = BTreeSet::new();
            for name in side {
                hosts.extend(names.one(src, &p.sides, &key, name)?);
            }
            if let Some(h) = hosts.iter().find(|h| seen.contains(*h)) {
                let name = &plan.hosts[*h].name;
                return Err(src.at(&p.sides, &key, format!("host '{name}' is on two sides")));
            }
            seen.extend(hosts.iter().copied());
            sides.push(hosts.into_iter().collect());
        }
        if sides.len() < 2 {
            return Err(src.at(&p.sides, &key, "a partition needs at least two sides"));
        }
        if let Some(h) = &p.heal
            && h.get_ref().0 <= p.at.0
        {
            return Err(src.at(h, &format!("partition[{i}].heal"), "must come after `at`"));
        }
        plan.partitions.push(PartitionSpec {
            at: p.at.0,
            heal: p.heal.as_ref().map(|h| h.get_ref().0),
            sides,
        });
    }
    if let Some(t) = &file.trace {
        traces(src, t, &mut plan)?;
    }
    Ok(plan)
}

fn link(file: &ScenarioFile, src: &Source<'_>, plan: &mut Plan) -> Result<(), ScenarioError> {
    let l = &file.link;
    if let Some(rate) = l.rate {
        plan.link.rate = rate;
    }
    if let Some(delay) = l.delay {
        plan.link.delay = delay.0;
    }
    if let Some(loss) = &l.loss {
        if !(0.0..=1.0).contains(loss.get_ref()) {
            return Err(src.at(loss, "link.loss", "must be a probability between 0 and 1"));
        }
        plan.link.loss = *loss.get_ref();
    }
    if let Some(range) = &l.range {
        if !(range.get_ref().is_finite() && *range.get_ref() >= 0.0) {
            return Err(src.at(range, "link.range", "must be zero or more metres"));
        }
        plan.link.range = *range.get_ref();
    }
    Ok(())
}

/// `[w, h]` (from the origin) or `[x0, y0, x1, y1]`.
fn rect(src: &Source<'_>, a: &Spanned<Vec<f64>>, key: &str) -> Result<Rect, ScenarioError> {
    let r = match *a.get_ref().as_slice() {
        [w, h] => Rect {
            x0: 0.0,
            y0: 0.0,
            x1: w,
            y1: h,
        },
        [x0, y0, x1, y1] => Rect { x0, y0, x1, y1 },
        _ => return Err(src.at(a, key, "expected [width, height] or [x0, y0, x1, y1]")),
    };
    let finite = [r.x0, r.y0, r.x1, r.y1].iter().all(|v| v.is_finite());
    if !finite || r.x1 < r.x0 || r.y1 < r.y0 {
        return Err(src.at(a, key, "not a rectangle"));
    }
    Ok(r)
}

fn groups(
    file: &ScenarioFile,
    src: &Source<'_>,
    plan: &mut Plan,
    world: Rect,
) -> Result<Names, ScenarioError> {
    let mut names: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, g) in file.groups.iter().enumerate() {
        let key = |k: &str| format!("group[{i}].{k}");
        let prefix = g.name.get_ref();
        let members: Vec<usize> = (plan.hosts.len()..plan.hosts.len() + g.count).collect();
        let mobility = mobility(src, g, i, world)?;
        for (n, _) in members.iter().enumerate() {
            let name = format!("{prefix}{n}");
            if format!("dtn://{name}/")
                .parse::<proto::wire::Eid>()
                .is_err()
            {
                return Err(src.at(
                    &g.name,
                    &key("name"),
                    format!("'{name}' is not a valid node name"),
                ));
            }
            let mobility = match (mobility, &g.positions) {
                (Mobility::Stationary { area, .. }, Some(p)) => Mobility::Stationary {
                    at: Some((p.get_ref()[n][0], p.get_ref()[n][1])),
                    area,
                },
                (m, _) => m,
            };
            plan.hosts.push(HostSpec {
                name,
                router: g.router.0,
                buffer: g.buffer.map_or(DEFAULT_BUFFER, |b| b.0),
                mobility,
            });
        }
        let node_names = members
            .iter()
            .map(|&h| (plan.hosts[h].name.clone(), vec![h]));
        for (name, hosts) in std::iter::once((prefix.clone(), members.clone())).chain(node_names) {
            if names.insert(name.clone(), hosts).is_some() {
                return Err(src.at(
                    &g.name,
                    &key("name"),
                    format!("the name '{name}' is used twice (group names and node names share one namespace)"),
                ));
            }
        }
    }
    Ok(Names(names))
}

fn mobility(
    src: &Source<'_>,
    g: &GroupFile,
    i: usize,
    world: Rect,
) -> Result<Mobility, ScenarioError> {
    let key = |k: &str| format!("group[{i}].{k}");
    let area = match &g.area {
        Some(a) => rect(src, a, &key("area"))?,
        None => world,
    };
    let model = g
        .mobility
        .as_ref()
        .map_or(MobilityModel::None, |m| *m.get_ref());
    let misplaced = |v: &dyn Fn() -> Option<std::ops::Range<usize>>, k: &str, needs: &str| {
        v().map(|span| {
            src.error(
                span,
                format!("{}: only applies to mobility = \"{needs}\"", key(k)),
            )
        })
    };
    if model != MobilityModel::RandomWaypoint
        && let Some(e) = misplaced(
            &|| g.speed.as_ref().map(Spanned::span),
            "speed",
            "random_waypoint",
        )
    {
        return Err(e);
    }
    if model != MobilityModel::RandomWaypoint && g.pause.is_some() {
        let at = g.mobility.as_ref().map_or(g.name.span(), Spanned::span);
        return Err(src.error(
            at,
            format!(
                "{}: pause only applies to mobility = \"random_waypoint\"",
                key("mobility")
            ),
        ));
    }
    if model != MobilityModel::Stationary
        && let Some(e) = misplaced(
            &|| g.positions.as_ref().map(Spanned::span),
            "positions",
            "stationary",
        )
    {
        return Err(e);
    }
    Ok(match model {
        MobilityModel::None => Mobility::None,
        MobilityModel::Stationary => {
            if let Some(p) = &g.positions
                && p.get_ref().len() != g.count
            {
                return Err(src.at(
                    p,
                    &key("positions"),
                    format!("has {} positions for {} nodes", p.get_ref().len(), g.count),
                ));
            }
            Mobility::Stationary { at: None, area }
        }
        MobilityModel::RandomWaypoint => {
            let Some(speed) = &g.speed else {
                let at = g.mobility.as_ref().map_or(0..0, Spanned::span);
                return Err(src.error(
                    at,
                    format!(
                        "{}: random_waypoint needs speed = [min, max] (m/s)",
                        key("mobility")
                    ),
                ));
            };
            let [lo, hi] = *speed.get_ref();
            if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
                return Err(src.at(speed, &key("speed"), "needs 0 < min <= max"));
            }
            let pause = g
                .pause
                .map_or((SimTime::ZERO, SimTime::ZERO), |[a, b]| (a.0, b.0.max(a.0)));
            Mobility::RandomWaypoint {
                area,
                speed: (lo, hi),
                pause,
            }
        }
    })
}

/// Expands one `[[contact]]` into up/down events for every pair it names.
fn contact(
    src: &Source<'_>,
    names: &Names,
    c: &ContactFile,
    i: usize,
    plan: &mut Plan,
) -> Result<(), ScenarioError> {
    let key = |k: &str| format!("contact[{i}].{k}");
    let [a, b] = c.between.get_ref().as_slice() else {
        return Err(src.at(
            &c.between,
            &key("between"),
            "expected two names: [\"a\", \"b\"]",
        ));
    };
    let left = names.one(src, &c.between, &key("between"), a)?;
    let right = names.one(src, &c.between, &key("between"), b)?;
    let (start, end) = (c.start.0, c.end.get_ref().0);
    if end < start {
        return Err(src.at(&c.end, &key("end"), "comes before `start`"));
    }
    let until = c.until.map_or(plan.duration, |u| u.0);
    let mut windows = vec![(start, end)];
    if let Some(every) = &c.every {
        let period = every.get_ref().0;
        if period == SimTime::ZERO {
            return Err(src.at(every, &key("every"), "must be greater than zero"));
        }
        let mut t = start.plus(period);
        while t < until {
            windows.push((t, t.plus(end.since(start))));
            t = t.plus(period);
        }
    }
    let mut pairs = BTreeSet::new();
    for &x in &left {
        for &y in &right {
            if x != y {
                pairs.insert((x.min(y), x.max(y)));
            }
        }
    }
    for (x, y) in pairs {
        for (s, e) in merge_windows(windows.clone()) {
            for (time, up) in [(s, true), (e, false)] {
                plan.contacts.push(ContactEvent {
                    time,
                    a: x,
                    b: y,
                    up,
                    source: ContactSource::Schedule,
                });
            }
        }
    }
    Ok(())
}

/// Reads ONE trace files named by `[trace]`, relative to the scenario file.
fn traces(src: &Source<'_>, t: &super::TraceFile, plan: &mut Plan) -> Result<(), ScenarioError> {
    let dir = src.path.parent().unwrap_or(Path::new("."));
    let read = |p: &Spanned<String>, key: &str| {
        let path = dir.join(p.get_ref());
        std::fs::read_to_string(&path)
            .map(|text| (path.display().to_string(), text))
            .map_err(|e| src.at(p, key, format!("cannot read {}: {e}", path.display())))
    };
    let hosts = plan.hosts.len();
    if let Some(c) = &t.connectivity {
        let (path, text) = read(c, "trace.connectivity")?;
        let events =
            trace::parse_connectivity(&text).map_err(|e| src.file_error(format!("{path}: {e}")))?;
        for e in events {
            if e.a.max(e.b) >= hosts {
                return Err(src.file_error(format!("{path}:{}: host {} does not exist: the scenario has {hosts} hosts (ONE addresses count from 0 in group order)", e.line, e.a.max(e.b))));
            }
            plan.contacts.push(ContactEvent {
                time: e.time,
                a: e.a,
                b: e.b,
                up: e.up,
                source: ContactSource::Trace,
            });
        }
    }
    if let Some(m) = &t.messages {
        let (path, text) = read(m, "trace.messages")?;
        let lifetime = t.lifetime.map_or(DEFAULT_LIFETIME, |l| l.0);
        let events =
            trace::parse_messages(&text).map_err(|e| src.file_error(format!("{path}: {e}")))?;
        // A message to its own source has nowhere to go (The ONE skips these too).
        for e in events.into_iter().filter(|e| e.from != e.to) {
            if e.from.max(e.to) >= hosts {
                return Err(src.file_error(format!(
                    "{path}:{}: host {} does not exist: the scenario has {hosts} hosts",
                    e.line,
                    e.from.max(e.to)
                )));
            }
            plan.messages.push(e.into_message(lifetime));
        }
    }
    Ok(())
}
