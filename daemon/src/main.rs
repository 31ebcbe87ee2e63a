//! `tern`: thin entry point; all logic lives in the `tern_daemon` library.

fn main() {}
