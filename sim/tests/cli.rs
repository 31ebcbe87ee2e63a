//! The `tern-sim` binary: what a researcher types and sees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn tern_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tern-sim"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_prints_the_seed_and_a_table_and_writes_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenarios().join("partition.toml");
    let out = tern_sim(&[
        "run",
        scenario.to_str().unwrap(),
        "--seed",
        "5",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("seed                     5"), "{stdout}");
    assert!(stdout.contains("delivery_prob"), "{stdout}");
    assert!(text(&out.stderr).contains("seed 5"));
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["seed"], 5);
    assert_eq!(v["scenario"], "partition");
    let csv = std::fs::read_to_string(dir.path().join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2);
    let samples = std::fs::read_to_string(dir.path().join("samples.csv")).unwrap();
    assert!(samples.starts_with("time,stored_bundles,stored_bytes"));
    assert_eq!(
        samples.lines().count(),
        v["samples"].as_array().unwrap().len() + 1
    );
    for plot in ["delivery.svg", "latency_cdf.svg", "occupancy.svg"] {
        let svg = std::fs::read_to_string(dir.path().join(plot)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("partition"),
            "{plot}"
        );
    }
}

#[test]
fn a_bad_scenario_fails_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "duration = \"1h\"\n[link]\nloss = 2.0\n").unwrap();
    let out = tern_sim(&["run", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml:3:8: link.loss"), "{stderr}");
}

#[test]
fn trace_runs_a_one_connectivity_trace_with_message_events() {
    let one = scenarios().join("one");
    let out = tern_sim(&[
        "trace",
        one.join("connectivity.txt").to_str().unwrap(),
        "--messages",
        one.join("messages.txt").to_str().unwrap(),
        "--router",
        "epidemic",
        "--rate",
        "250kBps",
        "--ttl",
        "1h",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Epidemic carries all three along the line of contacts.
    assert!(stdout.contains("delivered                3"), "{stdout}");
    assert!(stdout.contains("hosts                    4"), "{stdout}");
}

#[test]
fn trace_refuses_an_unknown_router() {
    let one = scenarios().join("one");
    let out = tern_sim(&[
        "trace",
        one.join("connectivity.txt").to_str().unwrap(),
        "--router",
        "teleport",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown router 'teleport'"));
}

#[test]
fn sweep_runs_the_grid_and_writes_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenarios().join("partition.toml");
    let out = tern_sim(&[
        "sweep",
        scenario.to_str().unwrap(),
        "--set",
        "router=epidemic,direct",
        "--set",
        "duration=1800",
        "--runs",
        "3",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("duration=1800 router=epidemic"), "{stdout}");
    assert!(stdout.contains("delivery_prob"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sweep.json")).unwrap())
            .unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1]["params"]["router"], "direct");
    assert_eq!(points[0]["metrics"]["created"]["n"], 3);
    let runs = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 2 * 3);
}

#[test]
fn sweep_names_a_bad_key() {
    let scenario = scenarios().join("partition.toml");
    let out = tern_sim(&[
        "sweep",
        scenario.to_str().unwrap(),
        "--set",
        "link.colour=red",
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--set link.colour=red:"), "{stderr}");
    assert!(stderr.contains("unknown field `colour`"), "{stderr}");
}
