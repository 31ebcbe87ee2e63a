//! Determinism: a run is a function of its scenario and seed. Two runs with the same seed give
//! the same event trace (compared by hash, event by event) and a byte-identical report; another
//! seed gives another run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use tern_sim::metrics::Report;

/// Random waypoint, random workload, link loss, a crash with store latency, and a partition:
/// every random process and fault the world has.
const BUSY: &str = r#"
name = "busy"
duration = "20m"
seed = 11
store_latency = "5ms"
area = [300, 300]

[link]
rate = "1 Mbps"
delay = "10ms"
loss = 0.05
range = 60

[[group]]
name = "w"
count = 12
router = "epidemic"
buffer = "2 MB"
mobility = "random_waypoint"
speed = [1, 3]
pause = ["0s", "30s"]

[[group]]
name = "d"
count = 3
router = "direct"
mobility = "stationary"

[[meetings]]
among = ["d"]
mean_interval = "2m"
duration = "5s"

[[workload]]
from = ["w", "d"]
to = ["w", "d"]
interval = "10s"
size = ["1 kB", "50 kB"]
lifetime = "10m"

[[crash]]
node = "w3"
at = "5m"
restart = "8m"

[[partition]]
at = "10m"
heal = "12m"
sides = [["w0", "w1", "w2"], ["d"]]
"#;

fn run(seed: Option<u64>) -> Report {
    let plan = tern_sim::scenario::parse(BUSY, Path::new("busy.toml"), seed).unwrap();
    tern_sim::run(plan).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_trace_and_a_byte_identical_report() {
    let a = run(None);
    let b = run(None);
    assert!(a.run.events > 1_000, "the scenario does something");
    assert!(
        a.delivered > 0 && a.lost > 0,
        "loss and delivery both happen"
    );
    assert_eq!(a.run.trace_hash, b.run.trace_hash);
    assert_eq!(a.json(), b.json());
    assert_eq!(a.csv(), b.csv());
}

#[test]
fn another_seed_gives_another_run() {
    let a = run(None);
    let c = run(Some(12));
    assert_eq!(c.run.seed, 12);
    assert_ne!(a.run.trace_hash, c.run.trace_hash);
}

#[test]
fn the_example_partition_scenario_replays_exactly() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/partition.toml");
    let once = || tern_sim::run(tern_sim::scenario::load(&path, None).unwrap()).unwrap();
    assert_eq!(once().json(), once().json());
}
