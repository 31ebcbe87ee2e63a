//! `tern-sim`: command-line entry point of the simulator.

use clap::Parser;

/// Discrete-event simulator for tern networks.
#[derive(Debug, Parser)]
#[command(name = "tern-sim", version = tern_sim::VERSION, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!(
        "tern-sim has no scenarios to run yet: the simulator arrives with the node engine"
    )
}
