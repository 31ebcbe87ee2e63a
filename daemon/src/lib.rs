//! tern-daemon: the `tern` binary's library — commands today, the node's IO driver next.
//!
//! What it is: the IO side of tern. It owns sockets, files and the clock, and drives
//! `tern-proto`'s sans-IO engine. Commands live in [`cli`].
//!
//! What it must never do: make a routing or protocol decision itself — those belong to
//! `tern-proto`, so the simulator runs the same logic.

pub mod cli;
