use std::path::{Path, PathBuf};

use proto::routing::RouterKind;

use super::*;
use crate::clock::SimTime;
use crate::plan::{ContactSource, Interval, Mobility};

fn parse_str(text: &str) -> Result<Plan, ScenarioError> {
    parse(text, Path::new("test.toml"), None)
}

fn error(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

const BASE: &str = "duration = \"1h\"\n[[group]]\nname = \"a\"\ncount = 3\n";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn every_example_scenario_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = load(&path, None).unwrap_or_else(|e| panic!("{e}"));
            assert!(!plan.hosts.is_empty(), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 3);
}

#[test]
fn groups_expand_to_numbered_hosts_with_their_settings() {
    let p = parse_str(
        "duration = 60\n[[group]]\nname = \"van\"\ncount = 2\nrouter = \"direct\"\nbuffer = \"5 MB\"\n",
    )
    .unwrap();
    let names: Vec<&str> = p.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["van0", "van1"]);
    assert_eq!(p.hosts[1].buffer, 5_000_000);
    assert_eq!(p.hosts[1].router, RouterKind::Direct);
    assert_eq!(p.duration, SimTime(60_000_000));
}

#[test]
fn the_command_line_seed_overrides_the_file() {
    let p = parse(&format!("seed = 5\n{BASE}"), Path::new("t.toml"), Some(9)).unwrap();
    assert_eq!(p.seed, 9);
    assert_eq!(parse_str(&format!("seed = 5\n{BASE}")).unwrap().seed, 5);
}

#[test]
fn an_unknown_key_is_named_with_file_line_and_table() {
    let e = error(&format!("{BASE}cuont = 3\n"));
    assert!(
        e.starts_with("test.toml:5:1: group[0].cuont: unknown field `cuont`"),
        "{e}"
    );
}

#[test]
fn a_bad_value_names_its_key() {
    let e = error("duration = \"1h\"\n[link]\nrate = \"fast\"\n");
    assert!(
        e.starts_with("test.toml:3:8: link.rate: 'fast' is not a rate"),
        "{e}"
    );
}

#[test]
fn a_missing_key_names_its_table() {
    let e = error(&format!(
        "{BASE}[[workload]]\nfrom = [\"a\"]\nto = [\"a\"]\n"
    ));
    assert!(
        e.contains("test.toml:5:1: workload[0]: missing field"),
        "{e}"
    );
}

#[test]
fn an_unknown_router_is_refused_where_it_is_named() {
    let e = error("duration = 1\n[[group]]\nname = \"a\"\nrouter = \"prophet\"\n");
    assert!(e.contains(":4:10:"), "{e}");
    assert!(e.contains("unknown router 'prophet'"), "{e}");
}

#[test]
fn an_unknown_name_is_refused_at_its_key() {
    let e = error(&format!(
        "{BASE}[[workload]]\nfrom = [\"a\"]\nto = [\"b\"]\ninterval = \"1m\"\nsize = 10\n"
    ));
    assert!(
        e.starts_with("test.toml:7:6: workload[0].to: no group or node is called 'b'"),
        "{e}"
    );
}

#[test]
fn a_name_used_twice_is_refused() {
    let e = error(&format!("{BASE}[[group]]\nname = \"a1\"\ncount = 0\n"));
    assert!(e.contains("the name 'a1' is used twice"), "{e}");
}

#[test]
fn workloads_take_groups_node_names_and_distributions() {
    let p = parse_str(&format!(
        "{BASE}[[workload]]\nfrom = [\"a0\"]\nto = [\"a\"]\ninterval = \"30s\"\ndistribution = \"fixed\"\nsize = [\"1 kB\", \"2kB\"]\nlifetime = \"10m\"\n"
    ))
    .unwrap();
    let w = &p.workloads[0];
    assert_eq!(w.from, [0]);
    assert_eq!(w.to, [0, 1, 2]);
    assert_eq!(w.interval, Interval::Fixed(SimTime(30_000_000)));
    assert_eq!(w.size, (1000, 2000));
    assert_eq!(w.lifetime, SimTime(600_000_000));
    assert_eq!(w.end, p.duration);
}

#[test]
fn periodic_contact_windows_become_up_and_down_events_for_every_pair() {
    let p = parse_str(&format!(
        "{BASE}[[contact]]\nbetween = [\"a0\", \"a\"]\nstart = \"0s\"\nend = \"10m\"\nevery = \"20m\"\n"
    ))
    .unwrap();
    // Pairs (0,1) and (0,2); windows at 0, 20 and 40 minutes: 2 × 3 × (up, down).
    assert_eq!(p.contacts.len(), 12);
    assert!(
        p.contacts
            .iter()
            .all(|c| c.source == ContactSource::Schedule)
    );
    let ups: Vec<u64> = p
        .contacts
        .iter()
        .filter(|c| c.up && c.b == 1)
        .map(|c| c.time.as_micros() / 60_000_000)
        .collect();
    assert_eq!(ups, [0, 20, 40]);
}

#[test]
fn a_host_on_two_sides_of_a_partition_is_refused() {
    let e = error(&format!(
        "{BASE}[[partition]]\nat = 10\nsides = [[\"a\"], [\"a2\"]]\n"
    ));
    assert!(
        e.contains("partition[0].sides: host 'a2' is on two sides"),
        "{e}"
    );
}

#[test]
fn stationary_positions_must_match_the_count() {
    let e = error(
        "duration = 1\n[[group]]\nname = \"s\"\ncount = 2\nmobility = \"stationary\"\npositions = [[0, 0]]\n",
    );
    assert!(
        e.contains("group[0].positions: has 1 positions for 2 nodes"),
        "{e}"
    );
}

#[test]
fn random_waypoint_needs_a_positive_speed_range() {
    let e = error(
        "duration = 1\n[[group]]\nname = \"w\"\nmobility = \"random_waypoint\"\nspeed = [0, 1]\n",
    );
    assert!(e.contains("group[0].speed: needs 0 < min <= max"), "{e}");
    let p = parse_str(
        "duration = 1\narea = [100, 50]\n[[group]]\nname = \"w\"\nmobility = \"random_waypoint\"\nspeed = [1, 2]\npause = [\"1s\", \"5s\"]\n",
    )
    .unwrap();
    assert!(matches!(
        p.hosts[0].mobility,
        Mobility::RandomWaypoint { speed: (1.0, 2.0), area, .. } if area.x1 == 100.0 && area.y1 == 50.0
    ));
}

#[test]
fn crashes_and_partitions_resolve_to_hosts() {
    let p = parse_str(&format!(
        "{BASE}[[crash]]\nnode = \"a1\"\nat = \"5m\"\nrestart = \"6m\"\n[[partition]]\nat = 10\nheal = 20\nsides = [[\"a0\"], [\"a1\", \"a2\"]]\n"
    ))
    .unwrap();
    assert_eq!(p.crashes[0].host, 1);
    assert_eq!(p.crashes[0].restart, Some(SimTime(360_000_000)));
    assert_eq!(p.partitions[0].sides, vec![vec![0], vec![1, 2]]);
}

#[test]
fn a_restart_before_the_crash_is_refused() {
    let e = error(&format!(
        "{BASE}[[crash]]\nnode = \"a1\"\nat = \"5m\"\nrestart = \"4m\"\n"
    ));
    assert!(e.contains("crash[0].restart: must come after `at`"), "{e}");
}

#[test]
fn trace_files_are_read_relative_to_the_scenario() {
    let p = load(&examples().join("one-trace.toml"), None).unwrap();
    assert_eq!(p.hosts.len(), 4);
    assert_eq!(p.messages.len(), 3);
    assert!(p.contacts.iter().all(|c| c.source == ContactSource::Trace));
}

#[test]
fn a_trace_naming_a_missing_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.txt"), "1 CONN 0 7 up\n").unwrap();
    let text = format!("{BASE}[trace]\nconnectivity = \"c.txt\"\n");
    let e = parse(&text, &dir.path().join("s.toml"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("c.txt:1: host 7 does not exist"), "{e}");
}
