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
    let e = error("duration = 1\n[[group]]\nname = \"a\"\nrouter = \"teleport\"\n");
    assert!(e.contains(":4:10:"), "{e}");
    assert!(e.contains("unknown router 'teleport'"), "{e}");
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

/// A scenario with three hosts and an ION plan `rc`, in a temporary directory.
fn with_ion_plan(rc: &str, ion_table: &str) -> Result<Plan, ScenarioError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.rc"), rc).unwrap();
    let path = dir.path().join("s.toml");
    let text = format!("{BASE}[ion]\nplan = \"plan.rc\"\n{ion_table}");
    std::fs::write(&path, &text).unwrap();
    load(&path, None)
}

#[test]
fn an_ion_plan_becomes_one_way_contacts_with_rates_and_ranges() {
    let p = with_ion_plan(
        "a contact +10 +20 1 3 1000\na contact +15 +30 1 3 1000\na range +0 +60 3 1 2\n",
        "",
    )
    .unwrap();
    // Without [ion].nodes node N is host N-1; overlapping windows of a direction merge.
    let ups: Vec<(u64, usize, usize, bool)> = p
        .contacts
        .iter()
        .map(|c| (c.time.as_micros() / 1_000_000, c.a, c.b, c.up))
        .collect();
    assert_eq!(ups, [(10, 0, 2, true), (30, 0, 2, false)]);
    assert!(p.contacts.iter().all(|c| c.source == ContactSource::Ion));
    assert_eq!(p.ion.rate(0, 2, SimTime(12_000_000)), Some(8000.0));
    assert_eq!(p.ion.rate(2, 0, SimTime(12_000_000)), None);
    assert_eq!(p.ion.delay(0, 2, SimTime(1)), Some(SimTime(2_000_000)));
}

#[test]
fn ion_node_numbers_map_to_the_named_hosts() {
    let p = with_ion_plan(
        "a contact +0 +5 7 9 100\n",
        "nodes = { 7 = \"a2\", 9 = \"a0\" }\n",
    )
    .unwrap();
    assert_eq!((p.contacts[0].a, p.contacts[0].b), (2, 0));
}

#[test]
fn an_unmapped_ion_node_is_named_with_the_plan_file_and_line() {
    let e = with_ion_plan("# header\na contact +0 +5 1 4 100\n", "")
        .unwrap_err()
        .to_string();
    assert!(e.contains("plan.rc:2: ION node 4 is not a host"), "{e}");
    let e = with_ion_plan("a contact +0 +5 1 2 100\n", "nodes = { 1 = \"a0\" }\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plan.rc:1: ION node 2 is not mapped to a host"),
        "{e}"
    );
}

#[test]
fn a_bad_ion_line_is_named_with_the_plan_file_and_line() {
    let e = with_ion_plan("a contact +0 +5 1 2 100\na contact +0 5 1 2 100\n", "")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plan.rc:2: a contact: time '5' must be relative, as +SECONDS"),
        "{e}"
    );
}

#[test]
fn an_ion_node_mapped_to_a_group_is_refused() {
    let e = with_ion_plan(
        "a contact +0 +5 1 2 100\n",
        "nodes = { 1 = \"a\", 2 = \"a0\" }\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ion.nodes.1: 'a' is a group of 3; name one node"),
        "{e}"
    );
}

#[test]
fn random_direction_reads_speed_and_leg_and_the_world_may_be_a_torus() {
    let p = parse_str(
        "duration = 1\narea = [500, 500]\ntorus = true\n[[group]]\nname = \"d\"\nmobility = \"random_direction\"\nspeed = 2\nleg = [\"10s\", \"1m\"]\n",
    )
    .unwrap();
    assert_eq!(p.torus.map(|t| (t.x1, t.y1)), Some((500.0, 500.0)));
    assert!(matches!(
        p.hosts[0].mobility,
        Mobility::RandomDirection { speed: (2.0, 2.0), leg, .. }
            if leg == (SimTime(10_000_000), SimTime(60_000_000))
    ));
    let e = error(
        "duration = 1\n[[group]]\nname = \"d\"\nmobility = \"random_direction\"\nspeed = 2\nleg = 0\n",
    );
    assert!(e.contains("group[0].leg: needs 0 < min <= max"), "{e}");
}

#[test]
fn ferries_of_a_group_share_a_route_spread_along_it() {
    let p = parse_str(
        "duration = 1\n[[group]]\nname = \"f\"\ncount = 4\nmobility = \"ferry\"\nroute = [[0, 0], [100, 0], [100, 100]]\nspeed = 10\npause = \"5m\"\n",
    )
    .unwrap();
    let phases: Vec<f64> = p
        .hosts
        .iter()
        .map(|h| match &h.mobility {
            Mobility::Ferry {
                phase,
                route,
                speed,
                pause,
            } => {
                assert_eq!(
                    (route.len(), *speed, *pause),
                    (3, 10.0, SimTime(300_000_000))
                );
                *phase
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(phases, [0.0, 0.25, 0.5, 0.75]);
}

#[test]
fn a_ferry_needs_a_route_and_one_speed() {
    let e = error("duration = 1\n[[group]]\nname = \"f\"\nmobility = \"ferry\"\nspeed = 3\n");
    assert!(e.contains("group[0].mobility: ferry needs route"), "{e}");
    let e = error(
        "duration = 1\n[[group]]\nname = \"f\"\nmobility = \"ferry\"\nroute = [[0, 0], [1, 1]]\nspeed = [1, 3]\n",
    );
    assert!(
        e.contains("group[0].speed: a ferry keeps a timetable: give one speed"),
        "{e}"
    );
    let e = error(
        "duration = 1\n[[group]]\nname = \"f\"\nmobility = \"ferry\"\nroute = [[0, 0]]\nspeed = 1\n",
    );
    assert!(e.contains("group[0].route: needs two stops or more"), "{e}");
}

#[test]
fn a_mobility_key_of_another_model_is_named() {
    let e = error(
        "duration = 1\n[[group]]\nname = \"w\"\nmobility = \"random_waypoint\"\nspeed = [1, 2]\nroute = [[0, 0], [1, 1]]\n",
    );
    assert!(
        e.contains("group[0].route: only applies to mobility = \"ferry\""),
        "{e}"
    );
    let e = error("duration = 1\n[[group]]\nname = \"s\"\nleg = 5\n");
    assert!(
        e.contains("group[0].leg: only applies to mobility = \"random_direction\""),
        "{e}"
    );
}

#[test]
fn a_workload_takes_a_priority_mix_or_one_class() {
    let p = parse_str(&format!(
        "{BASE}[[workload]]\nfrom = [\"a0\"]\nto = [\"a\"]\ninterval = 10\nsize = 10\npriority = {{ emergency = 1, bulk = 3 }}\n[[workload]]\nfrom = [\"a0\"]\nto = [\"a\"]\ninterval = 10\nsize = 10\npriority = \"high\"\n"
    ))
    .unwrap();
    assert_eq!(p.workloads[0].priority, [1.0, 0.0, 0.0, 3.0]);
    assert_eq!(p.workloads[1].priority, [0.0, 1.0, 0.0, 0.0]);
    let e = error(&format!(
        "{BASE}[[workload]]\nfrom = [\"a0\"]\nto = [\"a\"]\ninterval = 10\nsize = 10\npriority = \"urgent\"\n"
    ));
    assert!(
        e.contains(
            "workload[0].priority: 'urgent' is not a class: choose emergency, high, normal, bulk"
        ),
        "{e}"
    );
}

#[test]
fn an_alert_workload_goes_to_every_host_unless_to_names_recipients() {
    let p = parse_str(&format!(
        "{BASE}[[workload]]\nfrom = [\"a0\"]\nalert = \"flood\"\ninterval = 10\nsize = 10\n"
    ))
    .unwrap();
    assert_eq!(p.workloads[0].alert.as_deref(), Some("flood"));
    assert_eq!(p.workloads[0].to, [0, 1, 2]);
    assert_eq!(p.alert_recipients("flood"), [0, 1, 2]);
    let e = error(&format!(
        "{BASE}[[workload]]\nfrom = [\"a0\"]\ninterval = 10\nsize = 10\n"
    ));
    assert!(e.contains("workload[0].to: missing"), "{e}");
}

#[test]
fn crashes_at_a_rate_take_a_mean_interval_and_a_downtime() {
    let p = parse_str(&format!(
        "sample = \"5m\"\n{BASE}[[crash]]\nnode = \"a\"\nmean_interval = \"6h\"\ndowntime = [\"10m\", \"30m\"]\n"
    ))
    .unwrap();
    assert_eq!(p.sample_every, SimTime(300_000_000));
    let f = &p.fault_rates[0];
    assert_eq!(f.hosts, [0, 1, 2]);
    assert_eq!(f.mean_interval, SimTime(6 * 3_600_000_000));
    assert_eq!(
        f.downtime,
        Some((SimTime(600_000_000), SimTime(1_800_000_000)))
    );
    let e = error(&format!(
        "{BASE}[[crash]]\nnode = \"a\"\nat = 5\nmean_interval = \"6h\"\n"
    ));
    assert!(e.contains("crash[0].at: give either `at`"), "{e}");
    let e = error(&format!(
        "{BASE}[[crash]]\nnode = \"a\"\nmean_interval = \"6h\"\nrestart = 9\n"
    ));
    assert!(
        e.contains("crash[0].restart: only applies with `at`"),
        "{e}"
    );
}
