//! `tern`: thin entry point; all logic lives in the `tern_daemon` library.
//!
//! It parses the command line, sets up logging to stderr and turns a command's error into one
//! `error: …` line and an exit code (2: bad input, 1: IO failure; clap uses 2 for bad usage).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use tern_daemon::cli::alert::{self, AlertCmd};
use tern_daemon::cli::bundle::{self, BundleCmd};
use tern_daemon::cli::client::ClientError;
use tern_daemon::cli::info::{self, InfoArgs, InfoView};
use tern_daemon::cli::node::{self, NodeArgs};
use tern_daemon::cli::send::{self, RecvArgs, SendArgs};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// tern: a delay-tolerant networking node (Bundle Protocol v7, RFC 9171).
#[derive(Debug, Parser)]
#[command(name = "tern", version, about)]
enum Command {
    /// Run a node in the foreground (embedded defaults; --config FILE for a TOML file).
    Node(NodeArgs),
    /// Create and inspect bundles offline.
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// Send a bundle through the local node (its API: --api or TERN_API).
    Send(SendArgs),
    /// Receive bundles for an endpoint of the local node, consuming each one printed.
    Recv(RecvArgs),
    /// Show the node's links that are up.
    Peers(InfoArgs),
    /// Show the node's identity, storage and counters.
    Status(InfoArgs),
    /// List the bundles the node stores.
    Bundles(InfoArgs),
    /// Early-warning alerts (CAP 1.2): send one, list those in force.
    #[command(subcommand)]
    Alert(AlertCmd),
}

/// A failed command, whatever its error type: the line to print and the exit code.
struct Failure {
    message: String,
    code: u8,
    broken_pipe: bool,
}

impl From<bundle::BundleError> for Failure {
    fn from(e: bundle::BundleError) -> Self {
        Self {
            message: e.to_string(),
            code: e.exit_code(),
            broken_pipe: e.is_broken_pipe(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self {
            message: e.to_string(),
            code: e.exit_code(),
            broken_pipe: e.is_broken_pipe(),
        }
    }
}

fn main() -> ExitCode {
    let command = Command::parse();
    // A node is a long-running service: its operators want to see what it does (info); the
    // one-shot commands stay quiet unless something is wrong (warn).
    init_logging(if matches!(command, Command::Node(_)) {
        LevelFilter::INFO
    } else {
        LevelFilter::WARN
    });
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let result: Result<(), Failure> = match command {
        Command::Node(args) => node::run_blocking(&args).map_err(|e| Failure {
            message: e.to_string(),
            code: e.exit_code(),
            broken_pipe: false,
        }),
        Command::Bundle(cmd) => {
            bundle::run(cmd, &mut io::stdin().lock(), &mut stdout).map_err(Failure::from)
        }
        Command::Send(args) => {
            send::send(&args, &mut io::stdin().lock(), &mut stdout).map_err(Failure::from)
        }
        Command::Recv(args) => send::recv(&args, &mut stdout).map_err(Failure::from),
        Command::Peers(args) => {
            info::run(InfoView::Peers, &args, &mut stdout).map_err(Failure::from)
        }
        Command::Status(args) => {
            info::run(InfoView::Status, &args, &mut stdout).map_err(Failure::from)
        }
        Command::Bundles(args) => {
            info::run(InfoView::Bundles, &args, &mut stdout).map_err(Failure::from)
        }
        Command::Alert(cmd) => {
            alert::run(&cmd, &mut io::stdin().lock(), &mut stdout).map_err(Failure::from)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`… | head`): nothing is wrong with us, and nobody is listening.
        Err(e) if e.broken_pipe => ExitCode::SUCCESS,
        Err(e) => {
            // Flush what was written before the error; a failure here changes nothing.
            let _ = stdout.flush();
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// Logs go to stderr so they never mix with a bundle written to stdout. `RUST_LOG` selects what
/// is shown (`RUST_LOG=tern_daemon=debug`); without it, `default`.
fn init_logging(default: LevelFilter) {
    let filter = EnvFilter::builder()
        .with_default_directive(default.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}
