//! tern-proto: the Bundle Protocol v7 codecs and the sans-IO node engine of tern.
//!
//! What it is: everything a tern node *decides* — wire formats (`wire`) and, in later modules,
//! the node state machine and routing — with no IO at all.
//!
//! What it must never do: read a clock, open a socket or file, spawn a task, use ambient
//! randomness or iterate a hash-ordered map. Time, randomness and storage are injected by the
//! driver (the `tern` daemon or the `tern-sim` simulator), so both run identical logic and every
//! run is reproducible. `clippy.toml` in this crate enforces the rule.
//!
//! How to drive it: decode peer bytes with [`wire::Bundle::decode_with`] and limits of your
//! choosing; build new bundles with [`wire::BundleBuilder`].

#![forbid(unsafe_code)]

pub mod cap;
pub mod node;
pub mod routing;
pub mod tcpcl;
pub mod wire;
