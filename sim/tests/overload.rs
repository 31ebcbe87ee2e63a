//! Emergency first under overload: `scenarios/overload.toml` offers about twice the traffic its
//! one van can carry between two camps. The engine sends by class and evicts bulk first, so
//! every emergency message must still cross while bulk mostly does not.
//!
//! The full scenario (12 h) takes seconds in release but too long for a debug test, so this
//! runs the same file cut to 5 h of simulated time with messages for the first 3 h, leaving the
//! last ones 2 h to cross as in the full run (a message created in camp B just after the van
//! left needs almost 1 h 30 min to reach camp A). Camps, van timetable, link, buffers and offered
//! load per hour are unchanged, so it is just as overloaded. `scenarios/compare.sh` prints the
//! full run's numbers per class.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use tern_sim::metrics::{ClassReport, Report};
use tern_sim::scenario;
use tern_sim::world::World;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/overload.toml");

/// `overload.toml` with its run cut to 5 h and its workloads to the first 3 h.
fn shortened() -> String {
    let text = std::fs::read_to_string(SCENARIO).unwrap();
    assert_eq!(text.matches("duration = \"12h\"").count(), 1);
    assert_eq!(text.matches("end = \"10h\"").count(), 5);
    text.replace("duration = \"12h\"", "duration = \"5h\"")
        .replace("end = \"10h\"", "end = \"3h\"")
}

fn run(seed: u64) -> Report {
    let plan = scenario::parse(&shortened(), Path::new(SCENARIO), Some(seed)).unwrap();
    World::new(plan).unwrap().run()
}

fn class<'a>(report: &'a Report, name: &str) -> &'a ClassReport {
    report.classes.iter().find(|c| c.class == name).unwrap()
}

#[test]
fn the_full_overload_scenario_compiles() {
    let plan = scenario::load(Path::new(SCENARIO), None).unwrap();
    assert_eq!(plan.name, "overload");
    assert_eq!(plan.hosts.len(), 9);
}

#[test]
fn emergency_gets_through_an_overloaded_van_while_bulk_degrades() {
    for seed in [11, 12] {
        let report = run(seed);
        let emergency = class(&report, "emergency");
        let bulk = class(&report, "bulk");
        // Enough messages that the proportions mean something.
        assert!(emergency.created >= 20, "seed {seed}: {emergency:?}");
        assert!(bulk.created >= 500, "seed {seed}: {bulk:?}");
        let emergency_prob = emergency.delivery_prob.unwrap();
        let bulk_prob = bulk.delivery_prob.unwrap();
        assert!(
            emergency_prob >= 0.99,
            "seed {seed}: emergency delivered {emergency_prob}"
        );
        assert!(
            bulk_prob <= 0.5,
            "seed {seed}: bulk delivered {bulk_prob}, the scenario is not overloaded"
        );
        // Overloaded means sources had to turn messages away, and only bulk loses.
        assert!(report.submit_failed > 0, "seed {seed}");
        assert_eq!(class(&report, "high").delivery_prob, Some(1.0));
        // Alerts are emergency too: every camp member hears each one.
        assert_eq!(report.alerts.delivery_prob, Some(1.0), "seed {seed}");
    }
}
