//! Command-line subcommands of `tern`.

pub mod bundle;
