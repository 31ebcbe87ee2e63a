//! tern-tests: cross-crate tests that drive the real `tern` binary and, later, real daemons,
//! simulator runs and the dtn7-rs peer. Helpers shared by the tests live here.
//!
//! Tests that run a binary get its path from [`built_binary`], which builds it first: `cargo test
//! -p tern-tests` on its own does not build other packages' binaries.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

/// Environment variable naming a directory of prebuilt binaries (an installed or cross-built
/// tern) to test instead of building them.
pub const BIN_DIR_ENV: &str = "TERN_TEST_BIN_DIR";

/// Path of a binary built by this workspace (`tern`, `tern-sim`), next to the test executable.
/// It may be missing or stale; tests should use [`built_binary`].
pub fn workspace_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap_or_default();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// Path of the binary `bin` of workspace package `package`, freshly built.
///
/// Why build from here: cargo builds a package's binaries for its own tests only
/// (`CARGO_BIN_EXE_<name>` exists only there), and a dependency such as `daemon = { workspace =
/// true }` would build the library alone — binaries of dependencies need the unstable artifact
/// dependencies (`-Z bindeps`). Checking that `target/debug/tern` exists is not enough either: it
/// may be left over from an older checkout, and the test would pass or fail against old code.
/// So the first call per test process runs `cargo build -p <package> --bin <bin>`, a no-op of
/// well under a second when nothing changed, and takes the executable path from cargo's JSON
/// messages, which follows `CARGO_TARGET_DIR`, `--target` and profiles without guessing.
///
/// Set [`BIN_DIR_ENV`] to test prebuilt binaries instead. Panics with cargo's output if the build
/// fails, since no test of the binary can mean anything then.
pub fn built_binary(package: &str, bin: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Path::new(&dir).join(bin);
    }
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    // Holding the lock while building makes parallel tests wait for one build, not start many.
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let key = format!("{package}/{bin}");
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let path = cargo_build(package, bin);
    built.insert(key, path.clone());
    path
}

fn cargo_build(package: &str, bin: &str) -> PathBuf {
    // Cargo tells the processes it runs where it is; fall back to the one that built this crate.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from(env!("CARGO")));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args([
        "build",
        "--message-format=json-render-diagnostics",
        "-p",
        package,
        "--bin",
        bin,
    ]);
    // Test a release binary when the tests themselves were built for release.
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {package}/{bin}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        panic!(
            "`cargo build -p {package} --bin {bin}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == bin)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built {package} but reported no executable `{bin}`"))
}

pub mod daemon;
pub mod dtn7;
pub mod proxy;

/// Waits (at most 20 s) until `ready` answers true for a process just started, failing the test
/// with the process's log if it exits first or never answers. Shared by every process wrapper.
pub fn wait_until_ready(
    child: &mut std::process::Child,
    what: &str,
    log: impl Fn() -> String,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during start-up ({status}); log:\n{}", log());
        }
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not answer in 20 s; log:\n{}", log());
}

/// Polls `check` every 100 ms until it holds; panics naming `what` after `timeout`. Every test
/// that waits on a daemon waits through here, so each wait is bounded.
pub fn wait_for(what: &str, timeout: std::time::Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// An HTTP agent whose every request is bounded: a wedged process fails the test instead of
/// hanging it.
pub fn bounded_agent(timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into()
}
