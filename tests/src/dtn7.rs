//! Real dtn7-rs daemons (`dtnd` 0.21) for interoperability tests and benchmarks: started on
//! loopback ports of their own with a temporary working directory, driven over dtnd's own HTTP
//! API (the one `dtnsend` and `dtnrecv` use), and killed by PID when dropped.
//!
//! dtnd is not built by this workspace. [`dtnd_binary`] finds it; [`dtnd_for_test`] turns "not
//! found" into a failing test, unless `TERN_SKIP_INTEROP=1` says the run knowingly goes without.
//! `.ci/run` builds dtnd once into `/root/.cache/tern-ci/dtn7-0.21.0` and exports `TERN_DTND`.
//!
//! How dtnd is run, and why:
//! - `-i 0 --disable_nd`: no discovery beacons, so nothing leaves loopback and peers are only
//!   the ones the test names.
//! - `-C tcp:port=P:bind=127.0.0.1`: its TCPCLv4 listener on loopback.
//! - `-s tcp://127.0.0.1:PORT/NAME`: tern as a *static* peer. dtnd records a peer that connects
//!   to it by the TCP source port of that connection, where nothing listens, so without a static
//!   entry it could not reconnect to tern; with one, dtnd opens its own session to tern's
//!   listener when it has something to send.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proto::wire::Bundle;
use serde_json::Value;

use crate::daemon::free_port;

/// Environment variable naming the `dtnd` executable.
pub const DTND_ENV: &str = "TERN_DTND";
/// Environment variable naming a directory that holds `dtnd` (and `dtnsend`, `dtnrecv`).
pub const DTN7_BIN_DIR_ENV: &str = "DTN7_BIN_DIR";
/// Where `.ci/run` installs dtnd 0.21.0.
pub const CI_DTND: &str = "/root/.cache/tern-ci/dtn7-0.21.0/bin/dtnd";
/// Set to `1` to let interoperability tests pass without dtnd (they print a loud note).
pub const SKIP_ENV: &str = "TERN_SKIP_INTEROP";

/// What dtnd answers on `GET /endpoint?NAME` when the endpoint's queue is empty.
const NOTHING_TO_RECEIVE: &[u8] = b"Nothing to receive";

/// Finds dtnd: `$TERN_DTND`, else `$DTN7_BIN_DIR/dtnd`, else [`CI_DTND`], else `dtnd` on
/// `PATH`. A variable that is set is authoritative: if it names no file, that is the error
/// (rather than quietly testing some other dtnd).
pub fn dtnd_binary() -> Result<PathBuf, String> {
    let hint = format!(
        "install it with `cargo install dtn7 --version 0.21.0 --locked --root \
         /root/.cache/tern-ci/dtn7-0.21.0` (what .ci/run does), or point {DTND_ENV} at it, or \
         set {SKIP_ENV}=1 to skip the interoperability tests knowingly"
    );
    if let Some(path) = std::env::var_os(DTND_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(format!(
            "dtn7-rs dtnd not found: {DTND_ENV}={} is not a file; {hint}",
            path.display()
        ));
    }
    if let Some(dir) = std::env::var_os(DTN7_BIN_DIR_ENV) {
        let path = Path::new(&dir).join("dtnd");
        if path.is_file() {
            return Ok(path);
        }
        return Err(format!(
            "dtn7-rs dtnd not found: {DTN7_BIN_DIR_ENV}/dtnd = {} is not a file; {hint}",
            path.display()
        ));
    }
    if Path::new(CI_DTND).is_file() {
        return Ok(PathBuf::from(CI_DTND));
    }
    if let Some(paths) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&paths)
            .map(|dir| dir.join("dtnd"))
            .find(|p| p.is_file())
    {
        return Ok(found);
    }
    Err(format!(
        "dtn7-rs dtnd not found (tried {CI_DTND} and `dtnd` on PATH; {DTND_ENV} and \
         {DTN7_BIN_DIR_ENV} are unset); {hint}"
    ))
}

/// dtnd for a test: its path, or `None` (after a loud note on stderr) when it is missing and
/// `TERN_SKIP_INTEROP=1` is set. Panics when it is missing otherwise, so that a machine without
/// dtnd fails the interoperability tests instead of passing them silently.
pub fn dtnd_for_test() -> Option<PathBuf> {
    match dtnd_binary() {
        Ok(path) => Some(path),
        Err(why) if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") => {
            eprintln!(
                "\n!!!!!!!! {SKIP_ENV}=1: SKIPPING a dtn7-rs interoperability test !!!!!!!!\n\
                 !!!!!!!! {why}\n"
            );
            None
        }
        Err(why) => panic!("{why}"),
    }
}

/// A peer dtnd keeps a session to.
#[derive(Debug, Clone)]
pub struct StaticPeer {
    /// Its TCPCLv4 listener.
    pub tcpcl: SocketAddr,
    /// Its node name: `NAME` of `dtn://NAME/`.
    pub name: String,
}

/// How to start a dtnd.
#[derive(Debug, Clone)]
pub struct DtndOptions {
    /// Static TCPCL peers.
    pub static_peers: Vec<StaticPeer>,
    /// Local endpoints to register, by name (`incoming` is `dtn://NODE/incoming`).
    pub endpoints: Vec<String>,
    /// Bundle store: `mem` or `sled` (durable).
    pub store: String,
    /// dtnd's `RUST_LOG`; `info` by default, `warn` for benchmarks.
    pub log: String,
    /// Janitor interval (`-j`, e.g. `1s`): how often dtnd re-offers stored bundles to peers.
    /// dtnd's default (10 s) when `None`.
    pub janitor: Option<String>,
}

impl Default for DtndOptions {
    fn default() -> Self {
        Self {
            static_peers: Vec::new(),
            endpoints: Vec::new(),
            store: "mem".to_owned(),
            log: "dtn7=info,dtnd=info".to_owned(),
            janitor: None,
        }
    }
}

/// A running dtnd.
#[derive(Debug)]
pub struct Dtnd {
    /// Node name (`dtn://NAME/`).
    pub name: String,
    /// TCPCLv4 listener.
    pub tcpcl: SocketAddr,
    /// dtnd's HTTP API (`-w`), on loopback.
    pub web: SocketAddr,
    /// Working directory.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Dtnd {
    /// Starts dtnd `name` from `binary` with its working directory `dir` (created if missing) on
    /// the given TCPCL port, and waits until its HTTP API answers.
    pub fn start(
        binary: &Path,
        name: &str,
        dir: &Path,
        tcpcl_port: u16,
        options: &DtndOptions,
    ) -> Self {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {dir:?}: {e}"));
        let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let tcpcl = SocketAddr::from(([127, 0, 0, 1], tcpcl_port));
        let log = std::fs::File::create(dir.join("dtnd.log"))
            .unwrap_or_else(|e| panic!("dtnd log file: {e}"));
        let mut cmd = Command::new(binary);
        cmd.arg("--nodeid")
            .arg(name)
            .arg("--workdir")
            .arg(dir)
            .args(["--interval", "0", "--disable_nd"])
            .arg("--cla")
            .arg(format!("tcp:port={tcpcl_port}:bind=127.0.0.1"))
            .arg("--web-port")
            .arg(web.port().to_string())
            .arg("--db")
            .arg(&options.store)
            .env("RUST_LOG", &options.log)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(janitor) = &options.janitor {
            cmd.arg("--janitor").arg(janitor);
        }
        for endpoint in &options.endpoints {
            cmd.arg("--endpoint").arg(endpoint);
        }
        for peer in &options.static_peers {
            cmd.arg("--static-peer")
                .arg(format!("tcp://{}/{}", peer.tcpcl, peer.name));
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut node = Self {
            name: name.to_owned(),
            tcpcl,
            web,
            dir: dir.to_owned(),
            child: Some(child),
        };
        node.wait_ready();
        node
    }

    /// The node ID, `dtn://NAME/`.
    pub fn node_id(&self) -> String {
        format!("dtn://{}/", self.name)
    }

    /// Process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn wait_ready(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let what = format!("dtnd {}", self.name);
        // The TCP CLA starts before the HTTP server, so an answer means both are up.
        crate::wait_until_ready(
            &mut child,
            &what,
            || self.log(),
            || self.try_get("/status/nodeid").is_some(),
        );
        self.child = Some(child);
    }

    /// dtnd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dtnd.log")).unwrap_or_default()
    }

    fn agent() -> ureq::Agent {
        crate::bounded_agent(Duration::from_secs(60))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.web)
    }

    fn try_get(&self, path: &str) -> Option<Vec<u8>> {
        let mut resp = Self::agent().get(&self.url(path)).call().ok()?;
        resp.body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .ok()
    }

    /// `GET /status/info`: dtnd's counters (`incoming`, `dups`, `outgoing`, `delivered`, ...).
    pub fn info(&self) -> Value {
        let body = self
            .try_get("/status/info")
            .unwrap_or_else(|| panic!("GET /status/info failed on dtnd {}", self.name));
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    }

    /// `GET /status/peers`: the peers dtnd knows, keyed by node name.
    pub fn peers(&self) -> Value {
        self.try_get("/status/peers")
            .and_then(|body| serde_json::from_slice(&body).ok())
            .unwrap_or(Value::Null)
    }

    /// Sends `payload` to `destination` as a new bundle from this node (`POST /send`, what
    /// `dtnsend` does). dtnd flags it must-not-fragment and asks for a delivery report.
    pub fn send(&self, destination: &str, payload: &[u8]) -> String {
        let url = self.url(&format!("/send?dst={destination}&lifetime=1h"));
        match Self::agent().post(&url).send(payload) {
            Ok(mut resp) => resp.body_mut().read_to_string().unwrap_or_default(),
            Err(e) => panic!("POST /send to dtnd {} failed: {e}", self.name),
        }
    }

    /// Takes the next bundle delivered to local endpoint `endpoint` (`GET /endpoint?NAME`, what
    /// `dtnrecv` does), or `None` if none waits.
    pub fn take(&self, endpoint: &str) -> Option<Bundle> {
        let body = self
            .try_get(&format!("/endpoint?{endpoint}"))
            .unwrap_or_else(|| panic!("GET /endpoint?{endpoint} failed on dtnd {}", self.name));
        if body == NOTHING_TO_RECEIVE {
            return None;
        }
        match Bundle::decode(Bytes::from(body)) {
            Ok(bundle) => Some(bundle),
            Err(e) => panic!(
                "dtnd {} handed out a bundle tern cannot decode: {e}",
                self.name
            ),
        }
    }

    /// Takes bundles from `endpoint` until `count` arrived or `timeout` passed.
    pub fn take_n(&self, endpoint: &str, count: usize, timeout: Duration) -> Vec<Bundle> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < count && Instant::now() < deadline {
            match self.take(endpoint) {
                Some(bundle) => got.push(bundle),
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        got
    }

    /// Sends SIGTERM (dtnd has no graceful shutdown to wait for) and reaps the process.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Dtnd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
