//! `tern-sim`: command-line entry point of the simulator.
//!
//! Every run prints its seed; a run that fails prints the command that replays it. The only
//! clock read here measures how long the run took, for the line on stderr: it never reaches
//! the simulation or the report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tern_sim::metrics::Report;
use tern_sim::plan::Plan;
use tern_sim::trace::{self, TraceOptions};
use tern_sim::units;
use tern_sim::world::World;

/// Discrete-event simulator for tern networks: runs the real node engine over simulated
/// contacts, in virtual time.
#[derive(Debug, Parser)]
#[command(name = "tern-sim", version = tern_sim::VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file.
    Run {
        /// The scenario (TOML; see sim/README.md).
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        output: Output,
    },
    /// Run a scenario over a grid of parameters, several seeds each, in parallel; print the
    /// mean and 95 % confidence interval of every metric.
    Sweep {
        /// The scenario (TOML; see sim/README.md).
        scenario: PathBuf,
        /// KEY=V1,V2,...: a key of the scenario (dotted path such as link.rate or
        /// group[0].count, or the shorthands router and nodes) and its values. Repeat for a grid.
        #[arg(long = "set", value_name = "KEY=VALUES")]
        set: Vec<String>,
        /// Runs per grid point (seeds: the scenario's seed, +1, ...).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Parallel runs (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Write sweep.json, sweep.csv (estimates) and runs.csv (every run) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a ONE connectivity trace (and message events), for comparison with The ONE.
    Trace {
        /// Connectivity trace: `<time> CONN <a> <b> up|down` lines.
        connectivity: PathBuf,
        /// Message events: `<time> C <id> <from> <to> <size>` lines.
        #[arg(long)]
        messages: Option<PathBuf>,
        /// Routing strategy of every host (direct, epidemic).
        #[arg(long)]
        router: String,
        /// Storage quota of every host (e.g. 5M, "10 MB").
        #[arg(long, default_value = "1 GiB", value_parser = units::parse_size)]
        buffer: u64,
        /// Link rate (e.g. "250 kBps", "2 Mbps", inf).
        #[arg(long, default_value = "2 Mbps", value_parser = rate)]
        rate: units::BitRate,
        /// Message lifetime (e.g. 300m, 5h).
        #[arg(long, default_value = "24h", value_parser = units::parse_duration)]
        ttl: tern_sim::clock::SimTime,
        /// End of the run (default: the last event of the traces).
        #[arg(long, value_parser = units::parse_duration)]
        duration: Option<tern_sim::clock::SimTime>,
        /// Master seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, clap::Args)]
struct Output {
    /// Write report.json, report.csv, samples.csv and SVG plots into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write every processed event, one per line, to this file.
    #[arg(long)]
    events: Option<PathBuf>,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern-sim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let (plan, replay, output) = match cli.command {
        Command::Sweep {
            scenario,
            set,
            runs,
            jobs,
            out,
        } => return sweep(&scenario, &set, runs, jobs, out.as_deref()),
        Command::Run {
            scenario,
            seed,
            output,
        } => {
            let plan = tern_sim::scenario::load(&scenario, seed)?;
            let replay = format!("tern-sim run {} --seed {}", scenario.display(), plan.seed);
            (plan, replay, output)
        }
        Command::Trace {
            connectivity,
            messages,
            router,
            buffer,
            rate,
            ttl,
            duration,
            seed,
            output,
        } => {
            let opts = TraceOptions {
                router: router.parse()?,
                buffer,
                rate,
                ttl,
                seed,
                duration,
            };
            let plan = trace_plan(&connectivity, messages.as_deref(), &opts)?;
            let mut replay = format!(
                "tern-sim trace {} --router {router} --buffer {buffer} --ttl {}s --seed {seed}",
                connectivity.display(),
                ttl.as_secs_f64()
            );
            if let Some(m) = &messages {
                replay += &format!(" --messages {}", m.display());
            }
            replay += &match rate.0 {
                Some(r) => format!(" --rate {r}"),
                None => " --rate inf".into(),
            };
            (plan, replay, output)
        }
    };
    run(plan, &replay, &output)
}

/// `tern-sim sweep`: every grid point's plan is built (and checked) before any run starts, so a
/// bad `--set` fails at once, naming its key.
fn sweep(
    scenario: &Path,
    set: &[String],
    runs: usize,
    jobs: Option<usize>,
    out: Option<&Path>,
) -> Result<()> {
    use tern_sim::sweep::{self as sw, Param};
    if runs == 0 {
        anyhow::bail!("--runs must be at least 1");
    }
    let text = std::fs::read_to_string(scenario)
        .with_context(|| format!("cannot read {}", scenario.display()))?;
    let params = set
        .iter()
        .map(|s| s.parse::<Param>())
        .collect::<Result<Vec<_>, _>>()?;
    let points = sw::grid(&params);
    let plans = points
        .iter()
        .map(|p| sw::plan_at(&text, scenario, p))
        .collect::<Result<Vec<_>, _>>()?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let name = plans.first().map_or_else(String::new, |p| p.name.clone());
    let seed = plans.first().map_or(1, |p| p.seed);
    eprintln!(
        "tern-sim: sweep of '{name}': {} grid points × {runs} runs (seeds {seed}..={}) on {jobs} threads",
        plans.len(),
        seed + runs as u64 - 1
    );
    let bar = indicatif::ProgressBar::new((plans.len() * runs) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let reports = sw::run_all(&plans, runs, jobs, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let results: Vec<sw::PointResult> = points
        .iter()
        .zip(reports)
        .map(|(p, r)| sw::PointResult::new(p, r))
        .collect();
    println!("mean ± 95 % confidence interval (Student t) over {runs} runs per point");
    print!("{}", sw::table(&results));
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let files = [
            ("sweep.json", sw::json(&name, runs, &results)),
            ("sweep.csv", sw::summary_csv(&results)),
            ("runs.csv", sw::runs_csv(&results)),
        ];
        for (file, body) in files {
            let path = dir.join(file);
            std::fs::write(&path, body)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        eprintln!(
            "tern-sim: wrote sweep.json, sweep.csv and runs.csv to {}",
            dir.display()
        );
    }
    Ok(())
}

/// A `--rate` value (clap needs one type per argument; `Option<f64>` would read as optional).
fn rate(s: &str) -> Result<units::BitRate, String> {
    units::parse_rate(s).map(units::BitRate)
}

fn trace_plan(connectivity: &Path, messages: Option<&Path>, opts: &TraceOptions) -> Result<Plan> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let contacts = trace::parse_connectivity(&read(connectivity)?)
        .with_context(|| connectivity.display().to_string())?;
    let msgs = match messages {
        Some(m) => trace::parse_messages(&read(m)?).with_context(|| m.display().to_string())?,
        None => Vec::new(),
    };
    let name = connectivity
        .file_stem()
        .map_or("trace".into(), |s| s.to_string_lossy().into_owned());
    Ok(trace::plan(&name, &contacts, &msgs, opts))
}

fn run(plan: Plan, replay: &str, output: &Output) -> Result<()> {
    eprintln!(
        "tern-sim: '{}': {} hosts, {} s simulated, seed {}",
        plan.name,
        plan.hosts.len(),
        plan.duration.as_secs_f64(),
        plan.seed
    );
    let replay_on_panic = replay.to_owned();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("tern-sim: the run failed; replay it with:\n  {replay_on_panic}");
    }));
    let result = simulate(plan, output);
    if result.is_err() {
        eprintln!("tern-sim: the run failed; replay it with:\n  {replay}");
    }
    let report = result?;
    print!("{}", report.table());
    if let Some(dir) = &output.out {
        write_outputs(&report, dir)?;
    }
    Ok(())
}

/// `report.json`, `report.csv`, `samples.csv` and the SVG plots, into `dir`.
fn write_outputs(report: &Report, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("report.json", report.json()),
        ("report.csv", report.csv()),
        ("samples.csv", report.samples_csv()),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    tern_sim::plot::write_all(report, dir)?;
    eprintln!(
        "tern-sim: wrote report.json, report.csv, samples.csv, delivery.svg, latency_cdf.svg and occupancy.svg to {}",
        dir.display()
    );
    Ok(())
}

fn simulate(plan: Plan, output: &Output) -> Result<Report> {
    let mut world = World::new(plan)?;
    if let Some(path) = &output.events {
        world
            .trace_to(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // The one clock read of the tool: how long the run took, for stderr only.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let report = world.run();
    // Tearing down every host's store and index frees gigabytes one allocation at a time for
    // nothing: the process is about to exit (rustc skips its teardown the same way).
    std::mem::forget(world);
    let secs = started.elapsed().as_secs_f64();
    let rss = peak_rss_mb().map_or(String::new(), |mb| format!(", peak RSS {mb:.0} MB"));
    eprintln!(
        "tern-sim: {} events in {secs:.2} s of wall time ({:.0} events/s){rss}",
        report.run.events,
        report.run.events as f64 / secs.max(1e-9)
    );
    Ok(report)
}

/// The process's peak resident set size in MB (Linux's `VmHWM`), for the line on stderr.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
