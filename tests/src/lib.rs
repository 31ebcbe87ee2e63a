//! tern-tests: cross-crate tests that drive the real `tern` binary and, later, real daemons,
//! simulator runs and the dtn7-rs peer. Helpers shared by the tests live here.

use std::path::PathBuf;

/// Path of a binary built by this workspace (`tern`, `tern-sim`), next to the test executable.
pub fn workspace_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap_or_default();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}
