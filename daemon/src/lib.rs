//! tern-daemon: the IO side of a tern node, and the `tern` command line.
//!
//! What it is: the driver of `tern-proto`'s sans-IO engine. It owns the clock ([`clock`]), the
//! sled store ([`store`]), the convergence layers ([`cla`]), the local application API ([`api`])
//! and the one task that owns the node ([`driver`]). [`runtime::run`] starts them all.
//!
//! What it must never do: make a routing or protocol decision itself — those belong to
//! `tern-proto`, so the simulator runs the same logic — or panic on anything a peer sends.
//!
//! How to drive it: `tern node` (see [`cli::node`]) or, embedded, [`runtime::run`] with
//! [`config::Settings`] and a shutdown future.

pub mod alerts;
pub mod api;
pub mod cla;
pub mod cli;
pub mod clock;
pub mod config;
pub mod driver;
pub mod runtime;
pub mod store;
