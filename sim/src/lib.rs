//! tern-sim: a discrete-event simulator whose hosts run tern's real node engine.
//!
//! What it is: the second driver of `tern-proto`'s engine, beside the daemon. It depends on
//! `tern-proto` only, never on the daemon, so simulated nodes and deployed nodes share one
//! implementation of processing and routing: every host is a [`proto::node::Node`] with a
//! [`proto::node::store::MemStore`], and the simulator only moves bytes, keeps time and counts.
//!
//! What it must never do: read the wall clock, use ambient randomness or iterate a hash-ordered
//! map; every run is a function of its plan and seed, and the same seed gives the same report
//! byte for byte.
//!
//! How to drive it: load a scenario file ([`scenario::load`]) or a ONE trace ([`trace`]) into a
//! [`plan::Plan`], build a [`world::World`] from it and call [`world::World::run`]; the
//! [`metrics::Report`] renders as a table, JSON or CSV.

#![forbid(unsafe_code)]

pub mod clock;
pub mod ion;
pub mod metrics;
pub mod mobility;
pub mod plan;
pub mod plot;
pub mod queue;
pub mod rng;
pub mod scenario;
pub mod sweep;
pub mod trace;
pub mod units;
pub mod workload;
pub mod world;

/// The version printed by `tern-sim --version`, shared with reports so results name their tool.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `plan` to its end and returns the report.
pub fn run(plan: plan::Plan) -> Result<metrics::Report, world::WorldError> {
    Ok(world::World::new(plan)?.run())
}
