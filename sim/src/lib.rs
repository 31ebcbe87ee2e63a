//! tern-sim: a discrete-event simulator whose hosts run tern's real node engine.
//!
//! What it is: the second driver of `tern-proto`'s engine, beside the daemon. It depends on
//! `tern-proto` only, never on the daemon, so simulated nodes and deployed nodes share one
//! implementation of processing and routing.
//!
//! What it must never do: read the wall clock or use ambient randomness; every run is a function
//! of its scenario and seed.
//!
//! Status: the simulator's engine arrives with the node engine. Today this crate offers the
//! command-line entry point and nothing else.

#![forbid(unsafe_code)]

/// The version printed by `tern-sim --version`, shared with reports so results name their tool.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
