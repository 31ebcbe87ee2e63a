//! Command-line subcommands of `tern`.
//!
//! The binary only parses arguments and maps errors to exit codes; each subcommand's logic lives
//! here, takes its streams as parameters and returns typed errors, so it can be tested without
//! spawning a process.

pub mod alert;
pub mod bundle;
pub mod client;
pub mod info;
pub mod input;
pub mod node;
pub mod send;
pub mod view;
