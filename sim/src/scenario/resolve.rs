//! From a parsed scenario file to a [`Plan`]: names become host indices, windows become
//! contact events, defaults are filled in, and every inconsistency is reported at its key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::Spanned;

use super::{
    ContactFile, CrashFile, Distribution, GroupFile, IonFile, MobilityModel, PriorityMix, Range2,
    ScenarioError, ScenarioFile, Source,
};
use crate::clock::SimTime;
use crate::plan::{
    ALL_NORMAL, CLASSES, ContactEvent, ContactSource, CrashSpec, FaultRate, HostSpec, Interval,
    MeetingSpec, Mobility, PartitionSpec, Plan, Rect, WorkloadSpec, merge_windows,
};
use crate::{ion, trace};

/// Storage quota of hosts whose group names none.
const DEFAULT_BUFFER: u64 = 1 << 30;
/// Side of the square world when the file names no area.
const DEFAULT_AREA: f64 = 1000.0;
/// Time on one heading of a random-direction host whose group names none.
const DEFAULT_LEG: (SimTime, SimTime) = (SimTime(60_000_000), SimTime(300_000_000));
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
    if file.torus {
        plan.torus = Some(world);
    }
    if let Some(sample) = &file.sample {
        if sample.get_ref().0 == SimTime::ZERO {
            return Err(src.at(sample, "sample", "must be greater than zero"));
        }
        plan.sample_every = sample.get_ref().0;
    }
    link(file, src, &mut plan)?;
    let names = groups(file, src, &mut plan, world)?;
    for (i, w) in file.workloads.iter().enumerate() {
        let key = |k: &str| format!("workload[{i}].{k}");
        let from = names.hosts(src, &w.from, &key("from"))?;
        let to = match (&w.to, &w.alert) {
            (Some(t), _) => names.hosts(src, t, &key("to"))?,
            // An alert goes to every host unless `to` names the recipients.
            (None, Some(_)) => (0..plan.hosts.len()).collect(),
            (None, None) => {
                return Err(src.at(
                    &w.from,
                    &key("to"),
                    "missing: name the destinations (or set `alert` to send to a group)",
                ));
            }
        };
        let only_self = to.len() == 1 && from == to;
        if from.is_empty() || to.is_empty() || (only_self && w.alert.is_none()) {
            let at = w.to.as_ref().unwrap_or(&w.from);
            return Err(src.at(at, &key("to"), "needs a destination other than the source"));
        }
        let alert = match &w.alert {
            Some(a) => {
                if crate::world::alert_endpoint(a.get_ref()).is_err() || a.get_ref().is_empty() {
                    return Err(src.at(
                        a,
                        &key("alert"),
                        format!(
                            "'dtn://alerts/~{}' is not a valid group endpoint",
                            a.get_ref()
                        ),
                    ));
                }
                Some(a.get_ref().clone())
            }
            None => None,
        };
        let priority = match &w.priority {
            Some(p) => priority_mix(src, p, &key("priority"))?,
            None => ALL_NORMAL,
        };
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
            priority,
            alert,
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
        crash(src, &names, c, i, &mut plan)?;
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
    if let Some(ion) = &file.ion {
        ion_plan(src, &names, ion, &mut plan)?;
    }
    Ok(plan)
}

/// `"emergency"` or `{ emergency = 1, normal = 9 }` as weights in class order.
fn priority_mix(
    src: &Source<'_>,
    p: &Spanned<PriorityMix>,
    key: &str,
) -> Result<[f64; 4], ScenarioError> {
    let names: Vec<&str> = CLASSES.iter().map(|c| c.name()).collect();
    let index = |name: &str| {
        names.iter().position(|n| *n == name).ok_or_else(|| {
            src.at(
                p,
                key,
                format!("'{name}' is not a class: choose {}", names.join(", ")),
            )
        })
    };
    let mut w = [0.0; 4];
    match p.get_ref() {
        PriorityMix::One(name) => w[index(name)?] = 1.0,
        PriorityMix::Weights(map) => {
            for (name, weight) in map {
                if !(weight.is_finite() && *weight >= 0.0) {
                    return Err(src.at(
                        p,
                        key,
                        format!("the weight of {name} must be zero or more"),
                    ));
                }
                w[index(name)?] = *weight;
            }
            if w.iter().sum::<f64>() <= 0.0 {
                return Err(src.at(p, key, "needs a class with a weight greater than zero"));
            }
        }
    }
    Ok(w)
}

/// A `[[crash]]`: at a time (and maybe a restart), or at a rate with a downtime.
fn crash(
    src: &Source<'_>,
    names: &Names,
    c: &CrashFile,
    i: usize,
    plan: &mut Plan,
) -> Result<(), ScenarioError> {
    let key = |k: &str| format!("crash[{i}].{k}");
    let hosts = names.one(src, &c.node, &key("node"), c.node.get_ref())?;
    match (c.at, &c.mean_interval) {
        (Some(at), None) => {
            if let Some(d) = &c.downtime {
                return Err(src.at(
                    d,
                    &key("downtime"),
                    "only applies with `mean_interval`; a crash at a time takes `restart`",
                ));
            }
            if let Some(r) = &c.restart
                && r.get_ref().0 <= at.0
            {
                return Err(src.at(r, &key("restart"), "must come after `at`"));
            }
            for host in hosts {
                plan.crashes.push(CrashSpec {
                    host,
                    at: at.0,
                    restart: c.restart.as_ref().map(|r| r.get_ref().0),
                });
            }
        }
        (None, Some(mean)) => {
            if mean.get_ref().0 == SimTime::ZERO {
                return Err(src.at(mean, &key("mean_interval"), "must be greater than zero"));
            }
            if let Some(r) = &c.restart {
                return Err(src.at(
                    r,
                    &key("restart"),
                    "only applies with `at`; random crashes take `downtime`",
                ));
            }
            let downtime = c.downtime.as_ref().map(|d| {
                let Range2(lo, hi) = *d.get_ref();
                (lo.0, hi.0.max(lo.0))
            });
            plan.fault_rates.push(FaultRate {
                hosts,
                mean_interval: mean.get_ref().0,
                downtime,
            });
        }
        _ => {
            return Err(src.at(
                &c.node,
                &key("at"),
                "give either `at` (one crash) or `mean_interval` (crashes at a rate), not both",
            ));
        }
    }
    Ok(())
}

fn link(file: &ScenarioFile, src: &Source<'_>, plan: &mut Plan) -> Result<(), ScenarioError> {
    let l = &file.link;
    if let Some(rate) = l.rate {
        plan.link.rate = rate;
    }
    if let Some(delay) = l.delay {
        plan.link.delay = delay.0;
    }
    if let Some(control) = l.control {
        plan.link.control = control;
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
            let mobility = match (&mobility, &g.positions) {
                (Mobility::Stationary { area, .. }, Some(p)) => Mobility::Stationary {
                    at: Some((p.get_ref()[n][0], p.get_ref()[n][1])),
                    area: *area,
                },
                // Ferries of one group run the same timetable, spread evenly along it.
                (
                    Mobility::Ferry {
                        route,
                        speed,
                        pause,
                        ..
                    },
                    _,
                ) => Mobility::Ferry {
                    route: route.clone(),
                    speed: *speed,
                    pause: *pause,
                    phase: n as f64 / g.count as f64,
                },
                (m, _) => m.clone(),
            };
            plan.hosts.push(HostSpec {
                name,
                router: g.router.0.clone(),
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
    use MobilityModel::{Ferry, None as Still, RandomDirection, RandomWaypoint, Stationary};
    let key = |k: &str| format!("group[{i}].{k}");
    let area = match &g.area {
        Some(a) => rect(src, a, &key("area"))?,
        None => world,
    };
    let model = g.mobility.as_ref().map_or(Still, |m| *m.get_ref());
    // Which keys each model reads; any other mobility key is a mistake worth naming.
    let span = |v: Option<std::ops::Range<usize>>| v;
    type KeyUse<'a> = (&'a str, Option<std::ops::Range<usize>>, &'a [MobilityModel]);
    let keys: [KeyUse<'_>; 5] = [
        (
            "speed",
            span(g.speed.as_ref().map(Spanned::span)),
            &[RandomWaypoint, RandomDirection, Ferry],
        ),
        (
            "pause",
            span(g.pause.as_ref().map(Spanned::span)),
            &[RandomWaypoint, Ferry],
        ),
        (
            "leg",
            span(g.leg.as_ref().map(Spanned::span)),
            &[RandomDirection],
        ),
        ("route", span(g.route.as_ref().map(Spanned::span)), &[Ferry]),
        (
            "positions",
            span(g.positions.as_ref().map(Spanned::span)),
            &[Stationary],
        ),
    ];
    for (k, at, models) in keys {
        if let Some(at) = at
            && !models.contains(&model)
        {
            let names: Vec<String> = models.iter().map(|m| format!("\"{}\"", m.name())).collect();
            return Err(src.error(
                at,
                format!(
                    "{}: only applies to mobility = {}",
                    key(k),
                    names.join(" or ")
                ),
            ));
        }
    }
    let needs_speed = || {
        let at = g.mobility.as_ref().map_or(0..0, Spanned::span);
        src.error(
            at,
            format!(
                "{}: {} needs speed = [min, max] (m/s)",
                key("mobility"),
                model.name()
            ),
        )
    };
    let speed = |what: &str| -> Result<(f64, f64), ScenarioError> {
        let s = g.speed.as_ref().ok_or_else(needs_speed)?;
        let Range2(lo, hi) = *s.get_ref();
        if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
            return Err(src.at(s, &key("speed"), what));
        }
        Ok((lo, hi))
    };
    let pause = g
        .pause
        .as_ref()
        .map_or((SimTime::ZERO, SimTime::ZERO), |p| {
            let Range2(a, b) = *p.get_ref();
            (a.0, b.0.max(a.0))
        });
    Ok(match model {
        Still => Mobility::None,
        Stationary => {
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
        RandomWaypoint => Mobility::RandomWaypoint {
            area,
            speed: speed("needs 0 < min <= max")?,
            pause,
        },
        RandomDirection => {
            let leg = match &g.leg {
                Some(l) => {
                    let Range2(a, b) = *l.get_ref();
                    if a.0 == SimTime::ZERO || b.0 < a.0 {
                        return Err(src.at(l, &key("leg"), "needs 0 < min <= max"));
                    }
                    (a.0, b.0)
                }
                None => DEFAULT_LEG,
            };
            Mobility::RandomDirection {
                area,
                speed: speed("needs 0 < min <= max")?,
                leg,
            }
        }
        Ferry => {
            let (lo, hi) = speed("needs a speed greater than zero")?;
            if lo != hi {
                let s = g.speed.as_ref().map_or(0..0, Spanned::span);
                return Err(src.error(
                    s,
                    format!(
                        "{}: a ferry keeps a timetable: give one speed",
                        key("speed")
                    ),
                ));
            }
            if pause.0 != pause.1 {
                let p = g.pause.as_ref().map_or(0..0, Spanned::span);
                return Err(src.error(
                    p,
                    format!(
                        "{}: a ferry keeps a timetable: give one pause",
                        key("pause")
                    ),
                ));
            }
            let Some(route) = &g.route else {
                let at = g.mobility.as_ref().map_or(0..0, Spanned::span);
                return Err(src.error(
                    at,
                    format!(
                        "{}: ferry needs route = [[x, y], ...] (two stops or more)",
                        key("mobility")
                    ),
                ));
            };
            let stops: Vec<(f64, f64)> = route.get_ref().iter().map(|p| (p[0], p[1])).collect();
            if stops.len() < 2 || stops.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
                return Err(src.at(route, &key("route"), "needs two stops or more"));
            }
            Mobility::Ferry {
                route: stops.into(),
                speed: lo,
                pause: pause.0,
                phase: 0.0,
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

/// Reads the ION contact plan named by `[ion]` (relative to the scenario file): node numbers
/// map to hosts through `nodes`, or node N is the N-th host in file order when it is absent.
fn ion_plan(
    src: &Source<'_>,
    names: &Names,
    f: &IonFile,
    plan: &mut Plan,
) -> Result<(), ScenarioError> {
    let dir = src.path.parent().unwrap_or(Path::new("."));
    let path = dir.join(f.plan.get_ref());
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| src.at(&f.plan, "ion.plan", format!("cannot read {shown}: {e}")))?;
    let cp = ion::parse(&text).map_err(|e| ScenarioError::Line {
        path: shown.clone(),
        line: e.line,
        message: e.message,
    })?;
    let mut map: BTreeMap<u64, usize> = BTreeMap::new();
    match &f.nodes {
        Some(nodes) => {
            for (number, name) in nodes.get_ref() {
                let key = format!("ion.nodes.{number}");
                let n: u64 = number.parse().map_err(|_| {
                    src.at(nodes, &key, format!("'{number}' is not an ION node number"))
                })?;
                let hosts = names.one(src, name, &key, name.get_ref())?;
                let [h] = hosts[..] else {
                    return Err(src.at(
                        name,
                        &key,
                        format!(
                            "'{}' is a group of {}; name one node",
                            name.get_ref(),
                            hosts.len()
                        ),
                    ));
                };
                map.insert(n, h);
            }
        }
        None => map.extend((0..plan.hosts.len()).map(|h| (h as u64 + 1, h))),
    }
    let host = |n: u64, line: usize| {
        map.get(&n).copied().ok_or_else(|| ScenarioError::Line {
            path: shown.clone(),
            line,
            message: match &f.nodes {
                Some(_) => format!("ION node {n} is not mapped to a host: add it to [ion].nodes"),
                None => format!(
                    "ION node {n} is not a host: without [ion].nodes, node N is the N-th host and the scenario has {}",
                    plan.hosts.len()
                ),
            },
        })
    };
    let mut windows: BTreeMap<(usize, usize), Vec<(SimTime, SimTime)>> = BTreeMap::new();
    for c in &cp.contacts {
        let (from, to) = (host(c.from, c.line)?, host(c.to, c.line)?);
        windows
            .entry((from, to))
            .or_default()
            .push((c.start, c.end));
        plan.ion
            .rates
            .entry((from, to))
            .or_default()
            .push((c.start, c.end, c.rate * 8.0));
    }
    for r in &cp.ranges {
        let (a, b) = (host(r.a, r.line)?, host(r.b, r.line)?);
        plan.ion
            .ranges
            .entry((a.min(b), a.max(b)))
            .or_default()
            .push((r.start, r.end, r.owlt));
    }
    for ((a, b), w) in windows {
        for (s, e) in merge_windows(w) {
            for (time, up) in [(s, true), (e, false)] {
                plan.contacts.push(ContactEvent {
                    time,
                    a,
                    b,
                    up,
                    source: ContactSource::Ion,
                });
            }
        }
    }
    Ok(())
}
