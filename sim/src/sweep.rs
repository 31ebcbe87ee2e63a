//! Parameter sweeps: one scenario, a grid of overridden keys, several seeded runs per grid
//! point, and the mean and 95 % confidence interval of every metric.
//!
//! `--set KEY=V1,V2` overrides a key of the scenario file for each listed value; several
//! `--set`s make a grid (the first varies slowest). Keys are dotted paths into the file
//! (`link.rate`, `duration`, `group[0].count`, `workload[1].interval`) or two shorthands:
//! `router` (every group's router) and `nodes` (the first group's count). Each grid point runs
//! with seeds `seed`, `seed + 1`, … (the file's seed first), the same seeds at every point, so
//! points differ by their parameters and not by luck (common random numbers).
//!
//! Confidence intervals use Student's t with n − 1 degrees of freedom:
//! mean ± t(0.975, n − 1) · s / √n, where s is the sample standard deviation over the runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::metrics::Report;
use crate::plan::Plan;
use crate::scenario;

/// Why a sweep cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A `--set` argument is not `KEY=VALUE[,VALUE...]`.
    #[error("--set {0}: expected KEY=VALUE[,VALUE...]")]
    Syntax(String),
    /// A key does not name anything in the scenario file.
    #[error("--set {key}: {message}")]
    BadKey {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The scenario with an override applied is not a valid scenario.
    #[error("--set {assignment}: {source}")]
    BadValue {
        /// `KEY=VALUE` of the grid point.
        assignment: String,
        /// Why the scenario is refused.
        source: scenario::ScenarioError,
    },
    /// The scenario file itself.
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
}

/// One `--set`: a key and the values it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The key (dotted path or shorthand).
    pub key: String,
    /// Its values, as written.
    pub values: Vec<String>,
}

impl std::str::FromStr for Param {
    type Err = SweepError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, values) = s
            .split_once('=')
            .ok_or_else(|| SweepError::Syntax(s.to_owned()))?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
        if key.trim().is_empty() || values.iter().any(String::is_empty) {
            return Err(SweepError::Syntax(s.to_owned()));
        }
        Ok(Self {
            key: key.trim().to_owned(),
            values,
        })
    }
}

/// One grid point: a value for every key.
pub type Point = Vec<(String, String)>;

/// Every combination of the params' values, the first param varying slowest.
pub fn grid(params: &[Param]) -> Vec<Point> {
    let mut points: Vec<Point> = vec![Vec::new()];
    for p in params {
        points = points
            .into_iter()
            .flat_map(|point| {
                p.values.iter().map(move |v| {
                    let mut next = point.clone();
                    next.push((p.key.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    points
}

/// The plan of `scenario` (text read from `path`) with `point`'s overrides applied.
pub fn plan_at(text: &str, path: &Path, point: &Point) -> Result<Plan, SweepError> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| {
        SweepError::Scenario(scenario::ScenarioError::File {
            path: path.display().to_string(),
            message: e.message().to_owned(),
        })
    })?;
    for (key, value) in point {
        set(&mut doc, key, value)?;
    }
    let edited = toml::to_string(&doc).map_err(|e| SweepError::BadKey {
        key: point
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(","),
        message: e.to_string(),
    })?;
    scenario::parse(&edited, path, None).map_err(|source| SweepError::BadValue {
        assignment: point
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        source,
    })
}

/// A value as TOML reads it (`50` a number, `true` a boolean, `[1, 2]` a list), else as a
/// string (`epidemic`, `2 Mbps`, and `inf`, which is a rate here, not a float).
fn value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|x| x.as_float().is_none_or(f64::is_finite))
        .unwrap_or_else(|| toml::Value::String(v.to_owned()))
}

/// Sets `key` (a shorthand or a dotted path) to `v` in `doc`.
fn set(doc: &mut toml::Table, key: &str, v: &str) -> Result<(), SweepError> {
    let bad = |message: String| SweepError::BadKey {
        key: key.to_owned(),
        message,
    };
    let groups = |doc: &mut toml::Table| -> Result<Vec<toml::Table>, SweepError> {
        match doc.get("group") {
            Some(toml::Value::Array(a)) if !a.is_empty() => {
                Ok(a.iter().filter_map(|g| g.as_table().cloned()).collect())
            }
            _ => Err(bad("the scenario has no [[group]]".into())),
        }
    };
    match key {
        "seed" => return Err(bad("runs set the seeds (see --runs)".into())),
        "router" => {
            let mut gs = groups(doc)?;
            for g in &mut gs {
                g.insert("router".into(), toml::Value::String(v.to_owned()));
            }
            doc.insert(
                "group".into(),
                toml::Value::Array(gs.into_iter().map(toml::Value::Table).collect()),
            );
            return Ok(());
        }
        "nodes" => {
            let mut gs = groups(doc)?;
            gs[0].insert("count".into(), value(v));
            doc.insert(
                "group".into(),
                toml::Value::Array(gs.into_iter().map(toml::Value::Table).collect()),
            );
            return Ok(());
        }
        _ => {}
    }
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => {
                let idx = rest
                    .strip_suffix(']')
                    .and_then(|x| x.parse::<usize>().ok())
                    .ok_or_else(|| bad(format!("'{part}' is not NAME or NAME[INDEX]")))?;
                (n, Some(idx))
            }
            None => (*part, None),
        };
        if name.is_empty() {
            return Err(bad("empty key".into()));
        }
        if last && index.is_none() {
            // An unknown leaf key is caught when the edited scenario is read (every table
            // rejects unknown keys), with this key named in the error.
            table.insert(name.to_owned(), value(v));
            return Ok(());
        }
        let entry = table.entry(name.to_owned());
        let next = match (entry, index) {
            (toml::map::Entry::Occupied(o), Some(idx)) => match o.into_mut() {
                toml::Value::Array(a) => {
                    let len = a.len();
                    a.get_mut(idx)
                        .and_then(toml::Value::as_table_mut)
                        .ok_or_else(|| {
                            bad(format!("{name} has {len} entries; [{idx}] is not one"))
                        })?
                }
                _ => return Err(bad(format!("{name} is not a list of tables"))),
            },
            (toml::map::Entry::Vacant(_), Some(_)) => {
                return Err(bad(format!("the scenario has no [[{name}]]")));
            }
            (entry, None) => {
                let t = entry.or_insert_with(|| toml::Value::Table(toml::Table::new()));
                t.as_table_mut()
                    .ok_or_else(|| bad(format!("{name} is not a table")))?
            }
        };
        if last {
            return Err(bad(format!("'{part}' names a table, not a key")));
        }
        table = next;
    }
    Err(bad("empty key".into()))
}

/// Runs every plan of `plans` with seeds `plan.seed + 0 .. runs` on `jobs` threads, calling
/// `done` after each run; returns the reports per plan, in seed order. Runs are independent
/// worlds, so the result does not depend on `jobs` or on which thread ran what.
pub fn run_all(
    plans: &[Plan],
    runs: usize,
    jobs: usize,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<Vec<Report>>, crate::world::WorldError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let total = plans.len() * runs;
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<Report, crate::world::WorldError>>>> =
        Mutex::new((0..total).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, total.max(1)) {
            scope.spawn(|| {
                loop {
                    let task = next.fetch_add(1, Ordering::Relaxed);
                    if task >= total {
                        break;
                    }
                    let mut plan = plans[task / runs].clone();
                    plan.seed = plan.seed.wrapping_add((task % runs) as u64);
                    let result = crate::run(plan);
                    if let Ok(mut s) = slots.lock() {
                        s[task] = Some(result);
                    }
                    done();
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_default();
    let mut out: Vec<Vec<Report>> = vec![Vec::with_capacity(runs); plans.len()];
    for (task, slot) in slots.into_iter().enumerate() {
        match slot {
            Some(Ok(report)) => out[task / runs].push(report),
            Some(Err(e)) => return Err(e),
            // A worker that panicked left its slot empty; the panic itself was reported.
            None => {
                return Err(crate::world::WorldError::Invalid(format!(
                    "run {} of grid point {} did not finish",
                    task % runs + 1,
                    task / runs + 1
                )));
            }
        }
    }
    Ok(out)
}

/// Mean, 95 % confidence half-width and count of one metric at one grid point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Half-width of the 95 % confidence interval (`None` for a single value).
    pub ci95: Option<f64>,
    /// Runs that had a value (a delivery latency needs a delivery).
    pub n: usize,
}

impl Estimate {
    /// The estimate of `values` (`None` if there are none).
    pub fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let ci95 = (n > 1).then(|| {
            let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        });
        Some(Self { mean, ci95, n })
    }
}

/// The 0.975 quantile of Student's t distribution with `df` degrees of freedom (`df` ≥ 1):
/// tabulated for 1–30, and beyond by the Cornish–Fisher expansion around the normal quantile
/// (Abramowitz & Stegun 26.7.5), which is within 1e-4 there.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
    if (1..=30).contains(&df) {
        return TABLE[df - 1];
    }
    let z: f64 = 1.959_964;
    let n = df.max(1) as f64;
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    z + g1 / n + g2 / n.powi(2) + g3 / n.powi(3)
}

/// The results of one grid point.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    /// The overrides.
    pub params: BTreeMap<String, String>,
    /// Estimates by metric name, in report order.
    pub metrics: Vec<(String, Option<Estimate>)>,
    /// Each run's report, in seed order.
    #[serde(skip)]
    pub runs: Vec<Report>,
}

impl PointResult {
    /// Aggregates the reports of one grid point's runs.
    pub fn new(point: &Point, runs: Vec<Report>) -> Self {
        let mut by_name: Vec<(String, Vec<f64>)> = Vec::new();
        for r in &runs {
            for (i, (name, v)) in r.numbers().into_iter().enumerate() {
                if by_name.len() <= i {
                    by_name.push((name, Vec::new()));
                }
                if let Some(v) = v {
                    by_name[i].1.push(v);
                }
            }
        }
        Self {
            params: point.iter().cloned().collect(),
            metrics: by_name
                .into_iter()
                .map(|(name, values)| {
                    let e = Estimate::of(&values);
                    (name, e)
                })
                .collect(),
            runs,
        }
    }
}

/// A readable table: one row per metric, one column per grid point, `mean ± ci95`. Metrics that
/// are zero or absent at every point are left out.
pub fn table(results: &[PointResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let heads: Vec<String> = results
        .iter()
        .map(|r| {
            r.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let Some(first) = results.first() else {
        return out;
    };
    let cell = |e: &Option<Estimate>| match e {
        Some(e) => match e.ci95 {
            Some(ci) if ci > 0.0 => {
                // Two significant digits of the half-width, the mean to the same place.
                let places = (1 - ci.log10().floor() as i32).clamp(0, 6) as usize;
                format!("{:.places$} ± {ci:.places$}", e.mean)
            }
            _ => num(e.mean),
        },
        None => "n/a".into(),
    };
    let rows: Vec<(String, Vec<String>)> = (0..first.metrics.len())
        .filter(|&i| {
            results.iter().any(|r| {
                r.metrics
                    .get(i)
                    .and_then(|m| m.1)
                    .is_some_and(|e| e.mean != 0.0)
            })
        })
        .map(|i| {
            let name = first.metrics[i].0.clone();
            let cells = results
                .iter()
                .map(|r| r.metrics.get(i).map_or("n/a".into(), |m| cell(&m.1)))
                .collect();
            (name, cells)
        })
        .collect();
    let name_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
    let widths: Vec<usize> = (0..results.len())
        .map(|j| {
            rows.iter()
                .map(|r| r.1[j].chars().count())
                .chain([heads[j].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(out, "{:<name_w$}", "metric");
    for (h, w) in heads.iter().zip(&widths) {
        let _ = write!(out, "  {h:>w$}");
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = write!(out, "{name:<name_w$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {c:>w$}");
        }
        out.push('\n');
    }
    out
}

/// A value without an interval: whole numbers as such, others to four decimals.
fn num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// `sweep.json`: the scenario, the runs per point, and every point's estimates.
pub fn json(scenario: &str, runs: usize, results: &[PointResult]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        scenario: &'a str,
        runs: usize,
        points: Vec<OutPoint<'a>>,
    }
    #[derive(Serialize)]
    struct OutPoint<'a> {
        params: &'a BTreeMap<String, String>,
        metrics: BTreeMap<&'a str, Option<Estimate>>,
    }
    let out = Out {
        scenario,
        runs,
        points: results
            .iter()
            .map(|r| OutPoint {
                params: &r.params,
                metrics: r.metrics.iter().map(|(k, e)| (k.as_str(), *e)).collect(),
            })
            .collect(),
    };
    // Plain numbers and strings always serialize.
    serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
}

/// `sweep.csv`: one line per grid point and metric: the parameters, the metric, its mean,
/// 95 % half-width and count.
pub fn summary_csv(results: &[PointResult]) -> String {
    let keys: Vec<&String> = results
        .first()
        .map_or(Vec::new(), |r| r.params.keys().collect());
    let mut out = keys
        .iter()
        .map(|k| k.as_str())
        .chain(["metric", "mean", "ci95", "n"])
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for r in results {
        for (name, e) in &r.metrics {
            let mut fields: Vec<String> = r.params.values().cloned().collect();
            fields.push(name.clone());
            match e {
                Some(e) => {
                    fields.push(e.mean.to_string());
                    fields.push(e.ci95.map_or(String::new(), |c| c.to_string()));
                    fields.push(e.n.to_string());
                }
                None => fields.extend([String::new(), String::new(), "0".into()]),
            }
            out += &fields.join(",");
            out.push('\n');
        }
    }
    out
}

/// `runs.csv`: every run's report as a CSV line, after its grid point's parameters.
pub fn runs_csv(results: &[PointResult]) -> String {
    let mut out = String::new();
    for (i, r) in results.iter().enumerate() {
        for (j, report) in r.runs.iter().enumerate() {
            let csv = report.csv();
            let mut lines = csv.lines();
            let (header, row) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
            if i == 0 && j == 0 {
                let keys: Vec<&str> = r.params.keys().map(String::as_str).collect();
                out += &format!("{},{header}\n", keys.join(","));
            }
            let values: Vec<&str> = r.params.values().map(String::as_str).collect();
            out += &format!("{},{row}\n", values.join(","));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = "duration = \"1h\"\nseed = 4\n[link]\nrate = \"1 Mbps\"\n[[group]]\nname = \"a\"\ncount = 3\n[[group]]\nname = \"b\"\n[[workload]]\nfrom = [\"a\"]\nto = [\"b\"]\ninterval = \"1m\"\nsize = 100\n";

    fn at(point: &[(&str, &str)]) -> Result<Plan, SweepError> {
        let p: Point = point
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        plan_at(SCENARIO, Path::new("s.toml"), &p)
    }

    #[test]
    fn set_arguments_split_into_a_key_and_values() {
        let p: Param = "router=epidemic, direct".parse().unwrap();
        assert_eq!(p.key, "router");
        assert_eq!(p.values, ["epidemic", "direct"]);
        assert!("router".parse::<Param>().is_err());
        assert!("router=a,,b".parse::<Param>().is_err());
    }

    #[test]
    fn the_grid_is_every_combination_first_key_slowest() {
        let g = grid(&[
            "router=epidemic,direct".parse().unwrap(),
            "nodes=5,10,20".parse().unwrap(),
        ]);
        assert_eq!(g.len(), 6);
        assert_eq!(
            g[0],
            [
                ("router".into(), "epidemic".into()),
                ("nodes".into(), "5".into())
            ]
        );
        assert_eq!(
            g[5],
            [
                ("router".into(), "direct".into()),
                ("nodes".into(), "20".into())
            ]
        );
    }

    #[test]
    fn shorthands_and_dotted_keys_override_the_scenario() {
        let p = at(&[
            ("router", "direct"),
            ("nodes", "7"),
            ("link.rate", "inf"),
            ("workload[0].interval", "30s"),
        ])
        .unwrap();
        assert_eq!(p.hosts.len(), 8);
        assert!(p.hosts.iter().all(|h| h.router.name() == "direct"));
        assert_eq!(p.link.rate.0, None);
        assert_eq!(p.seed, 4);
        assert!(matches!(
            p.workloads[0].interval,
            crate::plan::Interval::Exponential(t) if t.as_micros() == 30_000_000
        ));
    }

    #[test]
    fn a_bad_key_is_named() {
        let e = at(&[("link.speed", "5")]).unwrap_err().to_string();
        assert!(e.starts_with("--set link.speed=5:"), "{e}");
        assert!(e.contains("unknown field `speed`"), "{e}");
        let e = at(&[("workload[3].size", "5")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "--set workload[3].size: workload has 1 entries; [3] is not one"
        );
        let e = at(&[("seed", "5")]).unwrap_err().to_string();
        assert_eq!(e, "--set seed: runs set the seeds (see --runs)");
        let e = at(&[("router", "teleport")]).unwrap_err().to_string();
        assert!(e.contains("unknown router 'teleport'"), "{e}");
    }

    #[test]
    fn runs_use_consecutive_seeds_and_do_not_depend_on_the_thread_count() {
        let plans = vec![at(&[("duration", "\"10m\"")]).unwrap()];
        let one = run_all(&plans, 3, 1, &|| {}).unwrap();
        let two = run_all(&plans, 3, 2, &|| {}).unwrap();
        let seeds: Vec<u64> = one[0].iter().map(|r| r.run.seed).collect();
        assert_eq!(seeds, [4, 5, 6]);
        assert_eq!(one[0], two[0]);
        let point = PointResult::new(&vec![("nodes".into(), "3".into())], one[0].clone());
        let created = point
            .metrics
            .iter()
            .find(|m| m.0 == "created")
            .unwrap()
            .1
            .unwrap();
        assert_eq!(created.n, 3);
        assert!(table(&[point]).contains("nodes=3"));
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        assert_eq!(t_975(1), 12.7062);
        assert_eq!(t_975(9), 2.2622);
        // Published: t(0.975, 40) = 2.0211, t(0.975, 120) = 1.9799.
        assert!((t_975(40) - 2.0211).abs() < 2e-4, "{}", t_975(40));
        assert!((t_975(120) - 1.9799).abs() < 1e-4, "{}", t_975(120));
    }

    #[test]
    fn an_estimate_has_a_student_t_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(e.mean, 2.5);
        // s = 1.29099, s/√4 = 0.645497, t(3) = 3.1824.
        assert!((e.ci95.unwrap() - 3.1824 * 0.645_497).abs() < 1e-5);
        assert_eq!(Estimate::of(&[7.0]).unwrap().ci95, None);
        assert_eq!(Estimate::of(&[]), None);
    }
}
