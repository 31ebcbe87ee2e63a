//! TCPCLv4 throughput and memory benchmark: two tern nodes on loopback, then the same workloads
//! between two dtn7-rs `dtnd` 0.21 nodes, printed as one markdown table.
//!
//! Run it through `tests/bench/tcpcl.sh`, which builds the release binaries first. Each workload
//! runs twice per system on fresh processes and fresh data directories:
//!
//! - **stream**: B is up and linked; the client submits N bundles to A over A's HTTP API (4
//!   keep-alive connections); measured from the first submit until B's counters say all N were
//!   delivered to its registered endpoint. The submit phase is timed on its own too, because
//!   the HTTP API can be the bottleneck rather than the link.
//! - **drain**: the N bundles are submitted to A while B is down; B is then started, and the
//!   clock runs from the moment B reports the link up until all N are delivered. This is the
//!   store-and-forward rate with the HTTP API out of the way.
//!
//! Both systems use a durable store (tern: sled, always; dtnd: `-D sled`) and log at `warn`.
//! Peak RSS is `VmHWM` from `/proc/PID/status` at the end of a run; idle RSS is `VmRSS` one
//! second after start-up, before any bundle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tern_tests::daemon::{encode, free_port};
use tern_tests::dtn7::{Dtnd, DtndOptions, StaticPeer, dtnd_binary};

/// The longest any single phase may take before the benchmark gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(900);

#[derive(Debug, Clone)]
struct Args {
    tern: PathBuf,
    dtnd: Option<PathBuf>,
    small_count: usize,
    small_size: usize,
    big_count: usize,
    big_size: usize,
    clients: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        tern: PathBuf::from("target/release/tern"),
        dtnd: None,
        small_count: 10_000,
        small_size: 100,
        big_count: 100,
        big_size: 1 << 20,
        clients: 4,
    };
    let mut skip_dtnd = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--tern" => args.tern = PathBuf::from(value()),
            "--dtnd" => args.dtnd = Some(PathBuf::from(value())),
            "--no-dtnd" => skip_dtnd = true,
            "--small" => args.small_count = value().parse().expect("--small N"),
            "--big" => args.big_count = value().parse().expect("--big N"),
            "--clients" => args.clients = value().parse().expect("--clients N"),
            other => panic!(
                "unknown argument {other}; use --tern PATH --dtnd PATH --no-dtnd --small N --big N --clients N"
            ),
        }
    }
    if !skip_dtnd && args.dtnd.is_none() {
        args.dtnd = Some(dtnd_binary().unwrap_or_else(|e| panic!("{e}")));
    }
    args
}

/// Which daemon a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tern,
    Dtnd,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Tern => "tern",
            Self::Dtnd => "dtnd 0.21",
        }
    }
}

/// One running daemon, killed on drop.
enum Proc {
    Tern { child: Child, api: SocketAddr },
    Dtnd(Dtnd),
}

impl Proc {
    fn pid(&self) -> u32 {
        match self {
            Self::Tern { child, .. } => child.id(),
            Self::Dtnd(d) => d.pid().unwrap_or(0),
        }
    }

    fn api(&self) -> SocketAddr {
        match self {
            Self::Tern { api, .. } => *api,
            Self::Dtnd(d) => d.web,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Self::Tern { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A Dtnd kills itself on drop.
    }
}

/// Starts node `name` of `kind` listening for TCPCL on `port`, with `peer` (port, name) as its
/// static peer, and `inbox` registered when it is a receiver.
fn start(
    args: &Args,
    kind: Kind,
    dir: &Path,
    name: &str,
    port: u16,
    peer: Option<(u16, &str)>,
    inbox: bool,
) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    match kind {
        Kind::Tern => {
            let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let config = dir.join("tern.toml");
            let registrations = if inbox {
                format!("registrations = [\"dtn://{name}/inbox\"]\n")
            } else {
                String::new()
            };
            // TERN_BENCH_WINDOW=N overrides the link window (bundles in flight per link).
            let window = std::env::var("TERN_BENCH_WINDOW")
                .map(|w| format!("[tcpcl]\nwindow = {w}\n"))
                .unwrap_or_default();
            std::fs::write(
                &config,
                format!("{registrations}[node]\nid = \"dtn://{name}/\"\n{window}"),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join("tern.log")).unwrap();
            let mut cmd = Command::new(&args.tern);
            cmd.arg("node")
                .arg("--config")
                .arg(&config)
                .arg("--data")
                .arg(dir.join("data"))
                .arg("--api")
                .arg(api.to_string())
                .arg("--tcpcl")
                .arg(format!("127.0.0.1:{port}"))
                // TERN_BENCH_LOG (e.g. `tern_daemon=debug`) to see where the time goes.
                .env(
                    "RUST_LOG",
                    std::env::var("TERN_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            if let Some((peer_port, _)) = peer {
                cmd.arg("--peer").arg(format!("127.0.0.1:{peer_port}"));
            }
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", args.tern.display()));
            let proc = Proc::Tern { child, api };
            wait_until("tern API", Duration::from_secs(20), || {
                get_json(api, "/api/v1/status").is_some()
            });
            proc
        }
        Kind::Dtnd => {
            let bin = args.dtnd.as_ref().expect("dtnd binary");
            let options = DtndOptions {
                static_peers: peer
                    .map(|(p, n)| StaticPeer {
                        tcpcl: SocketAddr::from(([127, 0, 0, 1], p)),
                        name: n.to_owned(),
                    })
                    .into_iter()
                    .collect(),
                endpoints: if inbox {
                    vec!["inbox".into()]
                } else {
                    Vec::new()
                },
                store: "sled".into(),
                log: "warn".into(),
                // Re-offers stored bundles every second once the peer is back (drain runs).
                janitor: Some("1s".into()),
            };
            Proc::Dtnd(Dtnd::start(bin, name, dir, port, &options))
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn get_json(api: SocketAddr, path: &str) -> Option<Value> {
    let mut resp = agent().get(&format!("http://{api}{path}")).call().ok()?;
    let text = resp.body_mut().read_to_string().ok()?;
    serde_json::from_str(&text).ok()
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Bundles delivered to the receiver's registered endpoint so far.
fn delivered(kind: Kind, proc: &Proc) -> u64 {
    let path = match kind {
        Kind::Tern => "/api/v1/status",
        Kind::Dtnd => "/status/info",
    };
    let Some(v) = get_json(proc.api(), path) else {
        return 0;
    };
    match kind {
        Kind::Tern => v["counters"]["delivered"].as_u64().unwrap_or(0),
        Kind::Dtnd => v["delivered"].as_u64().unwrap_or(0),
    }
}

/// True once the receiver has a session with the sender.
fn linked(kind: Kind, proc: &Proc) -> bool {
    match kind {
        Kind::Tern => get_json(proc.api(), "/api/v1/status")
            .and_then(|v| v["links"].as_u64())
            .is_some_and(|n| n > 0),
        Kind::Dtnd => get_json(proc.api(), "/status/peers")
            .and_then(|v| v.as_object().map(|o| !o.is_empty()))
            .unwrap_or(false),
    }
}

/// Submits `count` bundles of `size` bytes to `sender` from `clients` threads; the time taken.
fn submit(
    kind: Kind,
    sender: &Proc,
    dest_node: &str,
    count: usize,
    size: usize,
    clients: usize,
) -> Duration {
    let destination = format!("dtn://{dest_node}/inbox");
    let url = match kind {
        Kind::Tern => format!(
            "http://{}/api/v1/bundles?destination={}&lifetime=1h",
            sender.api(),
            encode(&destination)
        ),
        Kind::Dtnd => format!("http://{}/send?dst={destination}&lifetime=1h", sender.api()),
    };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    // Distinct payloads (the index leads), so no layer can dedupe them.
                    let mut payload = vec![b'.'; size];
                    let tag = format!("{i:08}");
                    let n = tag.len().min(size);
                    payload[..n].copy_from_slice(&tag.as_bytes()[..n]);
                    let mut req = agent.post(&url);
                    if kind == Kind::Tern {
                        req = req.header("content-type", "application/octet-stream");
                    }
                    match req.send(&payload[..]) {
                        Ok(mut resp) => {
                            let _ = resp.body_mut().read_to_string();
                        }
                        Err(e) => panic!("submit {i} to {}: {e}", kind.label()),
                    }
                }
            });
        }
    });
    started.elapsed()
}

/// `VmHWM` and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stream,
    Drain,
}

#[derive(Debug, Clone)]
struct Run {
    kind: Kind,
    mode: Mode,
    count: usize,
    size: usize,
    submit: Duration,
    relay: Duration,
    peak_a_kib: u64,
    peak_b_kib: u64,
    idle_a_kib: u64,
    idle_b_kib: u64,
}

impl Run {
    fn bundles_per_sec(&self) -> f64 {
        self.count as f64 / self.relay.as_secs_f64()
    }

    fn mbit_per_sec(&self) -> f64 {
        (self.count * self.size) as f64 * 8.0 / self.relay.as_secs_f64() / 1e6
    }

    fn submit_per_sec(&self) -> f64 {
        self.count as f64 / self.submit.as_secs_f64()
    }
}

fn run(args: &Args, kind: Kind, mode: Mode, count: usize, size: usize) -> Run {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tern-bench-tcpcl-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let port_a = free_port();
    let port_b = free_port();
    eprintln!(
        "== {} {:?}: {count} bundles of {size} B",
        kind.label(),
        mode
    );
    let start_b = || start(args, kind, &dir.join("b"), "b", port_b, None, true);
    let mut b = (mode == Mode::Stream).then(start_b);
    let a = start(
        args,
        kind,
        &dir.join("a"),
        "a",
        port_a,
        Some((port_b, "b")),
        false,
    );
    std::thread::sleep(Duration::from_secs(1));
    let idle_a_kib = memory_kib(a.pid()).1;
    let mut idle_b_kib = b.as_ref().map_or(0, |b| memory_kib(b.pid()).1);
    let (submit_time, relay) = match mode {
        Mode::Stream => {
            let receiver = b.as_ref().expect("receiver");
            if kind == Kind::Tern {
                // tern connects at start-up; dtnd connects on its first bundle.
                wait_until("link up", Duration::from_secs(30), || {
                    linked(kind, receiver)
                });
            }
            let started = Instant::now();
            let submit_time = submit(kind, &a, "b", count, size, args.clients);
            wait_until("all bundles delivered", PHASE_LIMIT, || {
                delivered(kind, receiver) >= count as u64
            });
            (submit_time, started.elapsed())
        }
        Mode::Drain => {
            let submit_time = submit(kind, &a, "b", count, size, args.clients);
            let receiver = b.insert(start_b());
            std::thread::sleep(Duration::from_millis(200));
            idle_b_kib = memory_kib(receiver.pid()).1;
            // A reconnects with backoff (tern) or on its janitor's next pass (dtnd): the clock
            // starts when B sees the session, so that wait is not counted.
            wait_until("link up", PHASE_LIMIT, || {
                linked(kind, receiver) || delivered(kind, receiver) > 0
            });
            let started = Instant::now();
            wait_until("all bundles delivered", PHASE_LIMIT, || {
                delivered(kind, receiver) >= count as u64
            });
            (submit_time, started.elapsed())
        }
    };
    let b = b.expect("receiver");
    let result = Run {
        kind,
        mode,
        count,
        size,
        submit: submit_time,
        relay,
        peak_a_kib: memory_kib(a.pid()).0,
        peak_b_kib: memory_kib(b.pid()).0,
        idle_a_kib,
        idle_b_kib,
    };
    eprintln!("   {result:?}");
    drop(a);
    drop(b);
    if std::env::var_os("TERN_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("   kept {}", dir.display());
    }
    result
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn size_label(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{size} B")
    }
}

fn table(runs: &[Run]) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload | mode | system | submit (bundles/s) | relay (bundles/s) | relay (Mbit/s) | peak RSS A / B (MiB) | idle RSS A / B (MiB) |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
    for r in runs {
        let _ = writeln!(
            out,
            "| {} × {} | {} | {} | {:.0} | {:.0} | {:.1} | {} / {} | {} / {} |",
            r.count,
            size_label(r.size),
            match r.mode {
                Mode::Stream => "stream",
                Mode::Drain => "drain",
            },
            r.kind.label(),
            r.submit_per_sec(),
            r.bundles_per_sec(),
            r.mbit_per_sec(),
            mib(r.peak_a_kib),
            mib(r.peak_b_kib),
            mib(r.idle_a_kib),
            mib(r.idle_b_kib),
        );
    }
    // tern/dtnd ratios for each workload and mode.
    let mut ratios = String::new();
    for t in runs.iter().filter(|r| r.kind == Kind::Tern) {
        let Some(d) = runs.iter().find(|d| {
            d.kind == Kind::Dtnd && d.mode == t.mode && d.count == t.count && d.size == t.size
        }) else {
            continue;
        };
        let _ = writeln!(
            ratios,
            "| {} × {} | {} | tern/dtnd | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
            t.count,
            size_label(t.size),
            match t.mode {
                Mode::Stream => "stream",
                Mode::Drain => "drain",
            },
            t.submit_per_sec() / d.submit_per_sec(),
            t.bundles_per_sec() / d.bundles_per_sec(),
            t.mbit_per_sec() / d.mbit_per_sec(),
            t.peak_a_kib as f64 / d.peak_a_kib as f64,
            t.peak_b_kib as f64 / d.peak_b_kib as f64,
            t.idle_a_kib as f64 / d.idle_a_kib as f64,
            t.idle_b_kib as f64 / d.idle_b_kib as f64,
        );
    }
    out.push_str(&ratios);
    out
}

fn main() {
    let args = parse_args();
    let mut kinds = vec![Kind::Tern];
    if args.dtnd.is_some() {
        kinds.push(Kind::Dtnd);
    }
    let workloads = [
        (args.small_count, args.small_size),
        (args.big_count, args.big_size),
    ];
    let mut runs = Vec::new();
    for (count, size) in workloads {
        for mode in [Mode::Stream, Mode::Drain] {
            for &kind in &kinds {
                runs.push(run(&args, kind, mode, count, size));
            }
        }
    }
    println!("{}", table(&runs));
}
