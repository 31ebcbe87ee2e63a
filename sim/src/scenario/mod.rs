//! Scenario files: a TOML description of one simulated network, compiled into a [`Plan`].
//!
//! The format is documented in `sim/README.md`. Every table rejects unknown keys, and every
//! error names the file, the line and column, and the key: a typo in a 2,000-line sweep file
//! should cost seconds, not a wasted run.

use std::ops::Range;
use std::path::{Path, PathBuf};

use proto::routing::RouterKind;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::plan::Plan;
use crate::units::{BitRate, ByteSize, Secs};

mod resolve;

/// Why a scenario file cannot be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file (or a file it names) cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A value is wrong where it stands: bad syntax, unknown key, wrong type, unknown name.
    #[error("{path}:{line}:{column}: {message}\n    {text}")]
    At {
        /// The file.
        path: String,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// What is wrong, naming the key.
        message: String,
        /// The offending line of the file.
        text: String,
    },
    /// A line of a file the scenario names (a contact plan, a trace) is wrong.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file named by the scenario.
        path: String,
        /// Line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Something wrong with the file as a whole or a file it names.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads and compiles the scenario at `path`. `seed` overrides the file's seed.
pub fn load(path: &Path, seed: Option<u64>) -> Result<Plan, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, path, seed)
}

/// Compiles scenario `text`; `path` names it in errors and anchors relative trace paths.
pub fn parse(text: &str, path: &Path, seed: Option<u64>) -> Result<Plan, ScenarioError> {
    let src = Source {
        path: path.to_path_buf(),
        text,
    };
    let file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end();
        let message = match key_at(text, span.start, message.starts_with("missing field")) {
            Some(key) => format!("{key}: {message}"),
            None => message.to_owned(),
        };
        src.error(span, message)
    })?;
    let mut plan = resolve::resolve(&file, &src)?;
    if let Some(seed) = seed {
        plan.seed = seed;
    }
    Ok(plan)
}

/// The dotted key (with array indices: `workload[1].size`) of the line holding byte `offset`,
/// found from the text: toml's own errors give a position and a message but not the key.
/// With `table_only`, just the enclosing table (for "missing field" errors, which point at it).
fn key_at(text: &str, offset: usize, table_only: bool) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| -> Option<(String, bool)> {
        let l = l.trim();
        let inner = l.strip_prefix("[[").and_then(|r| r.split("]]").next());
        match inner {
            Some(name) => Some((name.trim().to_owned(), true)),
            None => l
                .strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .map(|name| (name.trim().to_owned(), false)),
        }
    };
    let upto = &text[..line_start + line.len().min(text.len() - line_start)];
    let (table, key) = match header(line) {
        Some(h) => (Some(h), None),
        None => {
            let table = text[..line_start].lines().rev().find_map(header);
            let key = line.split_once('=').map(|(k, _)| k.trim().to_owned());
            (table, key)
        }
    };
    let table = table.map(|(name, array)| {
        if !array {
            return name;
        }
        let count = upto
            .lines()
            .filter(|l| header(l).is_some_and(|(n, a)| a && n == name))
            .count();
        format!("{name}[{}]", count.saturating_sub(1))
    });
    let key = if table_only { None } else { key };
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (Some(t), None) => Some(t),
        (None, k) => k,
    }
}

/// The text being compiled, for locating errors.
struct Source<'a> {
    path: PathBuf,
    text: &'a str,
}

impl Source<'_> {
    /// An error at byte range `span`.
    fn error(&self, span: Range<usize>, message: String) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let text = self.text[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .trim_end()
            .to_owned();
        ScenarioError::At {
            path: self.path.display().to_string(),
            line,
            column,
            message,
            text,
        }
    }

    /// An error about the value `v` of key `key`.
    fn at<T>(&self, v: &Spanned<T>, key: &str, message: impl std::fmt::Display) -> ScenarioError {
        self.error(v.span(), format!("{key}: {message}"))
    }

    fn file_error(&self, message: String) -> ScenarioError {
        ScenarioError::File {
            path: self.path.display().to_string(),
            message,
        }
    }
}

fn default_seed() -> u64 {
    1
}

fn one() -> usize {
    1
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    duration: Secs,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    warmup: Secs,
    #[serde(default)]
    store_latency: Secs,
    mobility_step: Option<Spanned<Secs>>,
    area: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    torus: bool,
    sample: Option<Spanned<Secs>>,
    #[serde(default)]
    link: LinkFile,
    #[serde(default, rename = "group")]
    groups: Vec<GroupFile>,
    #[serde(default, rename = "workload")]
    workloads: Vec<WorkloadFile>,
    #[serde(default, rename = "contact")]
    contacts: Vec<ContactFile>,
    #[serde(default)]
    meetings: Vec<MeetingsFile>,
    #[serde(default, rename = "crash")]
    crashes: Vec<CrashFile>,
    #[serde(default, rename = "partition")]
    partitions: Vec<PartitionFile>,
    trace: Option<TraceFile>,
    ion: Option<IonFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    rate: Option<BitRate>,
    delay: Option<Secs>,
    loss: Option<Spanned<f64>>,
    range: Option<Spanned<f64>>,
    control: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MobilityModel {
    #[default]
    None,
    Stationary,
    RandomWaypoint,
    RandomDirection,
    Ferry,
}

impl MobilityModel {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Stationary => "stationary",
            Self::RandomWaypoint => "random_waypoint",
            Self::RandomDirection => "random_direction",
            Self::Ferry => "ferry",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    name: Spanned<String>,
    #[serde(default = "one")]
    count: usize,
    #[serde(default)]
    router: RouterName,
    buffer: Option<ByteSize>,
    mobility: Option<Spanned<MobilityModel>>,
    positions: Option<Spanned<Vec<[f64; 2]>>>,
    speed: Option<Spanned<Range2<f64>>>,
    pause: Option<Spanned<Range2<Secs>>>,
    leg: Option<Spanned<Range2<Secs>>>,
    route: Option<Spanned<Vec<[f64; 2]>>>,
    area: Option<Spanned<Vec<f64>>>,
}

/// One value or an inclusive `[min, max]` range of them.
#[derive(Debug, Clone, Copy)]
struct Range2<T>(T, T);

impl<'de, T: Deserialize<'de> + Copy> Deserialize<'de> for Range2<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            One(T),
            Two([T; 2]),
        }
        match Either::deserialize(d) {
            Ok(Either::One(v)) => Ok(Self(v, v)),
            Ok(Either::Two([a, b])) => Ok(Self(a, b)),
            Err(_) => Err(serde::de::Error::custom(
                "expected one value or a range [min, max]",
            )),
        }
    }
}

/// A router: a name (`router = "spray-and-wait:8"`) or a table with parameters
/// (`router = { strategy = "static-routes", routes = [...] }`), checked while parsing so the
/// error points at it.
#[derive(Debug, Clone, Default)]
struct RouterName(RouterKind);

impl<'de> Deserialize<'de> for RouterName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Name(String),
            Table(RouterKind),
        }
        let router = match Either::deserialize(d)? {
            Either::Name(s) => s.parse().map_err(serde::de::Error::custom)?,
            Either::Table(t) => t,
        };
        router.validate().map_err(serde::de::Error::custom)?;
        Ok(Self(router))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Distribution {
    Fixed,
    #[default]
    Exponential,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    from: Spanned<Vec<String>>,
    to: Option<Spanned<Vec<String>>>,
    alert: Option<Spanned<String>>,
    priority: Option<Spanned<PriorityMix>>,
    interval: Spanned<Secs>,
    #[serde(default)]
    distribution: Distribution,
    size: Spanned<SizeRange>,
    lifetime: Option<Spanned<Secs>>,
    start: Option<Secs>,
    end: Option<Secs>,
}

/// One class for every message (`"emergency"`), or weights per class
/// (`{ emergency = 1, normal = 9 }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PriorityMix {
    One(String),
    Weights(std::collections::BTreeMap<String, f64>),
}

/// One size or an inclusive `[min, max]` range.
#[derive(Debug, Clone, Copy)]
struct SizeRange(u64, u64);

impl<'de> Deserialize<'de> for SizeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(ByteSize),
            Two([ByteSize; 2]),
        }
        match Either::deserialize(d) {
            Ok(Either::One(s)) => Ok(Self(s.0, s.0)),
            Ok(Either::Two([a, b])) => Ok(Self(a.0, b.0)),
            Err(_) => Err(serde::de::Error::custom(
                "expected a size (\"10 kB\") or a range [\"1 kB\", \"100 kB\"]",
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactFile {
    between: Spanned<Vec<String>>,
    start: Secs,
    end: Spanned<Secs>,
    every: Option<Spanned<Secs>>,
    until: Option<Secs>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeetingsFile {
    among: Spanned<Vec<String>>,
    mean_interval: Spanned<Secs>,
    #[serde(default)]
    duration: Secs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrashFile {
    node: Spanned<String>,
    at: Option<Secs>,
    restart: Option<Spanned<Secs>>,
    mean_interval: Option<Spanned<Secs>>,
    downtime: Option<Spanned<Range2<Secs>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionFile {
    at: Secs,
    heal: Option<Spanned<Secs>>,
    sides: Spanned<Vec<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceFile {
    connectivity: Option<Spanned<String>>,
    messages: Option<Spanned<String>>,
    lifetime: Option<Secs>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IonFile {
    plan: Spanned<String>,
    nodes: Option<Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
}

#[cfg(test)]
mod tests;
