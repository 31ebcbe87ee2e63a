//! Real `tern node` processes for end-to-end tests: started on loopback ports of their own, with
//! a temporary data directory, talked to over the real HTTP API, and killed by PID when the test
//! ends (even when it fails).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::built_binary;

/// A free loopback port (bound, then released: the daemon binds it again right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// How to start a node.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// Static TCPCL peers (`host:port`).
    pub peers: Vec<String>,
    /// Registrations made at start-up.
    pub registrations: Vec<String>,
    /// Storage quota in bytes.
    pub storage_quota: Option<u64>,
    /// Routing strategy: a name, or an inline TOML table for strategies with parameters.
    pub router: Option<String>,
}

impl NodeOptions {
    /// A node that keeps bundles for `endpoint` until they are read.
    pub fn receiving(endpoint: &str) -> Self {
        Self {
            registrations: vec![endpoint.to_owned()],
            ..Self::default()
        }
    }

    /// A node with `node` as its static TCPCL peer.
    pub fn peer_of(node: &TernNode) -> Self {
        Self {
            peers: vec![node.tcpcl.to_string()],
            ..Self::default()
        }
    }
}

/// A running `tern node`.
#[derive(Debug)]
pub struct TernNode {
    /// Node name (`dtn://NAME/`).
    pub name: String,
    /// API address.
    pub api: SocketAddr,
    /// TCPCL address.
    pub tcpcl: SocketAddr,
    /// Data directory (kept across restarts).
    pub dir: PathBuf,
    options: NodeOptions,
    child: Option<Child>,
}

impl TernNode {
    /// Starts node `name` with its data in `dir` (created if missing) and waits until its API
    /// answers.
    pub fn start(name: &str, dir: &Path, options: NodeOptions) -> Self {
        let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let tcpcl = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut node = Self {
            name: name.to_owned(),
            api,
            tcpcl,
            dir: dir.to_owned(),
            options,
            child: None,
        };
        node.spawn();
        node
    }

    /// The node ID.
    pub fn node_id(&self) -> String {
        format!("dtn://{}/", self.name)
    }

    /// Process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap_or_else(|e| panic!("mkdir {:?}: {e}", self.dir));
        let config = self.dir.join("tern.toml");
        let mut text = format!("[node]\nid = \"{}\"\n", self.node_id());
        if let Some(q) = self.options.storage_quota {
            text.push_str(&format!("storage_quota = {q}\n"));
        }
        if let Some(r) = &self.options.router {
            // A name (`"epidemic"`) or an inline TOML table (`{ strategy = ... }`).
            if r.trim_start().starts_with('{') {
                text.push_str(&format!("router = {r}\n"));
            } else {
                text.push_str(&format!("router = \"{r}\"\n"));
            }
        }
        text.push_str("[tcpcl]\nkeepalive_secs = 10\n");
        let regs: Vec<String> = self
            .options
            .registrations
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect();
        text = format!("registrations = [{}]\n{text}", regs.join(", "));
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("write {config:?}: {e}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tern.log"))
            .unwrap_or_else(|e| panic!("log file: {e}"));
        let mut cmd = Command::new(built_binary("tern-daemon", "tern"));
        cmd.arg("node")
            .arg("--config")
            .arg(&config)
            .arg("--data")
            .arg(self.dir.join("data"))
            .arg("--api")
            .arg(self.api.to_string())
            .arg("--tcpcl")
            .arg(self.tcpcl.to_string())
            .env("RUST_LOG", "tern_daemon=debug,info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for p in &self.options.peers {
            cmd.arg("--peer").arg(p);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tern node: {e}"));
        self.child = Some(child);
        self.wait_ready();
    }

    /// Starts the node again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.spawn();
    }

    fn wait_ready(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let what = format!("tern node {}", self.name);
        crate::wait_until_ready(
            &mut child,
            &what,
            || self.log(),
            || self.try_get("/api/v1/status").is_some(),
        );
        self.child = Some(child);
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tern.log")).unwrap_or_default()
    }

    fn agent() -> ureq::Agent {
        crate::bounded_agent(Duration::from_secs(75))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    fn try_get(&self, path: &str) -> Option<Value> {
        let mut resp = Self::agent().get(&self.url(path)).call().ok()?;
        // Mailbox pages of large bundles exceed ureq's default 10 MB answer limit.
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .ok()?;
        serde_json::from_slice(&body).ok()
    }

    /// GET a JSON document from the API.
    pub fn get(&self, path: &str) -> Value {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path} failed on {}; log:\n{}", self.name, self.log()))
    }

    /// POST JSON to the API.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        match Self::agent().post(&self.url(path)).send_json(body) {
            Ok(mut resp) => resp.body_mut().read_json::<Value>().unwrap_or(Value::Null),
            Err(e) => panic!("POST {path} failed on {}: {e}", self.name),
        }
    }

    /// Submits a text bundle.
    pub fn send(&self, destination: &str, text: &str) -> Value {
        self.post(
            "/api/v1/bundles",
            &serde_json::json!({ "destination": destination, "payload": text, "lifetime": "1h" }),
        )
    }

    /// Long-polls and consumes up to `max` bundles for `endpoint`; returns their payload texts.
    pub fn receive(&self, endpoint: &str, wait_secs: u64, max: usize) -> Vec<String> {
        let path = format!(
            "/api/v1/endpoints/{}/bundles?wait={wait_secs}&max={max}&consume=true",
            encode(endpoint)
        );
        let v = self.get(&path);
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["payload"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Receives until `count` payloads arrived or `timeout` passed.
    pub fn receive_n(&self, endpoint: &str, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < count && Instant::now() < deadline {
            got.extend(self.receive(endpoint, 2, count - got.len()));
        }
        got
    }

    /// The status document.
    pub fn status(&self) -> Value {
        self.get("/api/v1/status")
    }

    /// Sends SIGTERM and waits for the process to exit (graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("tern node {} ignored SIGTERM for 15 s", self.name);
        }
    }

    /// Kills the process with SIGKILL (a power cut, as far as the process can tell).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TernNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Percent-encodes an EID for a URL path segment.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
