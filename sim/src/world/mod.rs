//! The world: hosts running the real node engine, the links between them, and the event loop
//! that drives both in virtual time.
//!
//! How one event flows: the loop pops the earliest event, feeds the matching [`Input`] to a
//! node, then *settles* that node — carries out every [`proto::node::Output`] in order (store
//! ops into its [`MemStore`](proto::node::store::MemStore), transmissions onto links,
//! verdicts back to senders), flushes the store when writes are durable at once, and arms the
//! node's timer from `poll_timeout`. Nothing a node does reaches another node synchronously:
//! every hand-over is a new event, so the order of effects is the order of the queue.
//!
//! The world never decides anything a node decides. It moves bytes, keeps time, and counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use bytes::Bytes;
use proto::node::{BundleKey, Input, LinkId, RxId, TxOutcome, TxToken};
use rand_chacha::ChaCha8Rng;

use crate::clock::SimTime;
use crate::metrics::{Metrics, Report, RunInfo};
use crate::mobility::Motion;
use crate::plan::Plan;
use crate::queue::{Class, EventQueue};
use crate::rng::{self, TraceHash};
use crate::workload::Generator;

mod contacts;
mod host;
mod link;
mod traffic;

use contacts::PairState;
use host::Host;
use link::{PendingRx, Session, Transfer};

/// Why a plan cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    /// A host name does not make a valid node ID.
    #[error("host name '{name}' does not make a valid node ID dtn://{name}/: {reason}")]
    BadHostName {
        /// The name.
        name: String,
        /// What the EID parser said.
        reason: String,
    },
    /// A host index in the plan points past the hosts.
    #[error("{what} refers to host {index}, but the plan has {hosts} hosts")]
    NoSuchHost {
        /// Where the index was found.
        what: &'static str,
        /// The index.
        index: usize,
        /// Number of hosts.
        hosts: usize,
    },
    /// A value is out of its range.
    #[error("{0}")]
    Invalid(String),
}

/// Something that happens at an instant.
#[derive(Debug)]
enum Event {
    /// The transfer at the head of a channel has left the sender.
    TxEnd { session: u64, dir: usize },
    /// A transfer's last bit reaches the receiver.
    Arrive {
        session: u64,
        dir: usize,
        transfer: Transfer,
    },
    /// A control message reaches the other end of a link.
    Control {
        session: u64,
        dir: usize,
        message: Bytes,
    },
    /// A receiver's accept/refuse (or a loss) reaches the sender.
    Verdict {
        host: usize,
        incarnation: u64,
        token: TxToken,
        outcome: TxOutcome,
    },
    /// A host's pending store writes become durable.
    Flush { host: usize, incarnation: u64 },
    /// A node's `poll_timeout` deadline.
    Timer { host: usize, incarnation: u64 },
    /// The next scheduled or traced contact change (index into the plan's contacts).
    Contact(usize),
    /// A random meeting of the given meeting process.
    MeetingStart(usize),
    /// A meeting ends.
    MeetingEnd { a: usize, b: usize },
    /// Positions move on and range-made contacts are recomputed.
    MobilityStep,
    /// A crash (index into the plan's crashes).
    Crash(usize),
    /// A restart (index into the plan's crashes).
    Restart(usize),
    /// A partition starts.
    PartitionStart(usize),
    /// A partition heals.
    PartitionHeal(usize),
    /// A workload creates its next message.
    Workload(usize),
    /// The next explicit message (index into the plan's messages).
    Message(usize),
    /// Host `host` of fault process `process` crashes at random.
    FaultCrash { process: usize, host: usize },
    /// Host `host` of fault process `process` comes back after its downtime.
    FaultRestart { process: usize, host: usize },
    /// Store occupancy and delivery progress are sampled.
    Sample,
    /// The run is over.
    End,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// One host's inbox.
    Host(usize),
    /// A group endpoint: every recipient host but the source.
    Group,
}

/// One message of the workload, as the metrics follow it.
#[derive(Debug, Clone, Copy)]
struct MessageRecord {
    created: SimTime,
    target: Target,
    from: usize,
    delivered: bool,
    /// Class index (0 emergency … 3 bulk).
    class: u8,
}

impl MessageRecord {
    /// Unicast messages are the ones The ONE's statistics count.
    fn unicast(&self) -> bool {
        matches!(self.target, Target::Host(_))
    }
}

/// One stored copy of a counted message: which message, how many links it crossed to get
/// here, and since when it is here.
#[derive(Debug, Clone, Copy)]
struct Held {
    msg: u32,
    hops: u32,
    since: SimTime,
    /// Delivered on this host: its deletion is not a buffer removal (The ONE never buffers a
    /// message at its final recipient).
    delivered_here: bool,
}

/// A simulated network running one plan.
#[derive(Debug)]
pub struct World {
    plan: Plan,
    now: SimTime,
    queue: EventQueue<Event>,
    hosts: Vec<Host>,
    /// Contact state of every pair in contact, keyed (low, high).
    pairs: BTreeMap<(usize, usize), PairState>,
    /// Peers each host is in contact with.
    adjacency: Vec<BTreeSet<usize>>,
    /// Established links (one session per pair).
    sessions: BTreeMap<u64, Session>,
    pair_sessions: BTreeMap<(usize, usize), u64>,
    /// Link id → (session, direction this host sends on).
    link_index: BTreeMap<LinkId, (u64, usize)>,
    /// Inbound transfers awaiting the receiver's verdict: (receiver, rx).
    pending_rx: BTreeMap<(usize, RxId), PendingRx>,
    next_session: u64,
    next_link: u64,
    next_rx: u64,
    active_partitions: BTreeSet<usize>,
    motion: Option<Motion>,
    generators: Vec<Generator>,
    meeting_rngs: Vec<ChaCha8Rng>,
    loss_rng: ChaCha8Rng,
    messages: Vec<MessageRecord>,
    /// Alerts delivered: (message, recipient), so a redelivery after a restart counts once.
    alert_reached: BTreeSet<(u32, usize)>,
    /// One generator per host of each fault process.
    fault_rngs: Vec<Vec<ChaCha8Rng>>,
    copies: BTreeMap<(usize, BundleKey), Held>,
    /// Rewritten bytes of stored bundles, by (host, key), while they stay stored.
    rewritten: BTreeMap<(usize, BundleKey), (proto::node::Rewrite, Bytes)>,
    /// Receiving a counted message: (message, hops) for the copy about to be admitted.
    rx_ctx: Option<(u32, u32)>,
    /// Zeros shared by every payload.
    payload: Bytes,
    scratch: Vec<proto::node::Output>,
    metrics: Metrics,
    trace: TraceHash,
    trace_file: Option<BufWriter<File>>,
    events: u64,
    finished: bool,
}

impl World {
    /// Builds the hosts (each node started fresh at time 0) and schedules the first events.
    pub fn new(mut plan: Plan) -> Result<Self, WorldError> {
        check(&plan)?;
        // Stable sorts: changes at the same instant keep the order the plan gave them.
        plan.contacts.sort_by_key(|c| c.time);
        plan.messages.sort_by_key(|m| m.time);
        let mut hosts = plan
            .hosts
            .iter()
            .map(|spec| Host::new(spec, plan.seed))
            .collect::<Result<Vec<_>, _>>()?;
        for w in &plan.workloads {
            let Some(name) = &w.alert else { continue };
            let group = alert_endpoint(name)?;
            for &h in &w.to {
                if !hosts[h].groups.contains(&group) {
                    hosts[h].groups.push(group.clone());
                }
            }
        }
        let fault_rngs = plan
            .fault_rates
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.hosts
                    .iter()
                    .map(|&h| rng::named(plan.seed, &format!("faults/{i}/{}", plan.hosts[h].name)))
                    .collect()
            })
            .collect();
        let n = hosts.len();
        let motion = Motion::new(&plan);
        let generators = (0..plan.workloads.len())
            .map(|i| Generator::new(plan.seed, i))
            .collect();
        let meeting_rngs = (0..plan.meetings.len())
            .map(|i| rng::named(plan.seed, &format!("meetings/{i}")))
            .collect();
        let payload = Bytes::from(vec![0u8; usize::try_from(plan.max_payload()).unwrap_or(0)]);
        let mut world = Self {
            loss_rng: rng::named(plan.seed, "link/loss"),
            now: SimTime::ZERO,
            queue: EventQueue::default(),
            hosts,
            pairs: BTreeMap::new(),
            adjacency: vec![BTreeSet::new(); n],
            sessions: BTreeMap::new(),
            pair_sessions: BTreeMap::new(),
            link_index: BTreeMap::new(),
            pending_rx: BTreeMap::new(),
            next_session: 1,
            next_link: 1,
            next_rx: 1,
            active_partitions: BTreeSet::new(),
            motion,
            generators,
            meeting_rngs,
            messages: Vec::new(),
            alert_reached: BTreeSet::new(),
            fault_rngs,
            copies: BTreeMap::new(),
            rewritten: BTreeMap::new(),
            rx_ctx: None,
            payload,
            scratch: Vec::new(),
            metrics: Metrics::default(),
            trace: TraceHash::default(),
            trace_file: None,
            events: 0,
            finished: false,
            plan,
        };
        for h in 0..n {
            world.boot(h);
        }
        world.schedule_start();
        Ok(world)
    }

    /// Writes every processed event as a line of text to `path` (for debugging; the hash in
    /// the report is computed whether or not a file is written).
    pub fn trace_to(&mut self, path: &Path) -> std::io::Result<()> {
        self.trace_file = Some(BufWriter::new(File::create(path)?));
        Ok(())
    }

    /// Runs to the end and returns the report.
    pub fn run(&mut self) -> Report {
        while self.step() {}
        self.report()
    }

    /// Processes one event; false once the run is over.
    pub fn step(&mut self) -> bool {
        if self.finished {
            return false;
        }
        let Some((time, event)) = self.queue.pop() else {
            self.finished = true;
            return false;
        };
        self.now = time;
        self.events += 1;
        self.dispatch(event);
        true
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The metrics so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Which counted messages (in creation order, from 0) reached their destination host so
    /// far. Why: comparing runs message by message — the parity test runs the same schedule
    /// with real daemons and checks they deliver the same set.
    pub fn delivered_messages(&self) -> Vec<usize> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.delivered)
            .map(|(i, _)| i)
            .collect()
    }

    /// The trace fingerprint so far.
    pub fn trace_hash(&self) -> u64 {
        self.trace.value()
    }

    /// The report of the run so far.
    pub fn report(&mut self) -> Report {
        if let Some(f) = self.trace_file.as_mut() {
            let _ = f.flush();
        }
        self.metrics.report(RunInfo {
            tool: format!("tern-sim {}", crate::VERSION),
            scenario: self.plan.name.clone(),
            seed: self.plan.seed,
            hosts: self.hosts.len(),
            sim_time: self.now.as_secs_f64(),
            warmup: self.plan.warmup.as_secs_f64(),
            events: self.events,
            trace_hash: format!("{:016x}", self.trace.value()),
        })
    }

    fn schedule(&mut self, at: SimTime, class: Class, event: Event) {
        self.queue.push(at, class, event);
    }

    fn schedule_start(&mut self) {
        self.schedule(self.plan.duration, Class::End, Event::End);
        if !self.plan.contacts.is_empty() {
            let t = self.plan.contacts[0].time;
            self.schedule(t, Class::World, Event::Contact(0));
        }
        if !self.plan.messages.is_empty() {
            let t = self.plan.messages[0].time;
            self.schedule(t, Class::Workload, Event::Message(0));
        }
        for i in 0..self.plan.meetings.len() {
            self.schedule_meeting(i);
        }
        for (i, c) in self.plan.crashes.clone().into_iter().enumerate() {
            self.schedule(c.at, Class::World, Event::Crash(i));
            if let Some(t) = c.restart {
                self.schedule(t, Class::World, Event::Restart(i));
            }
        }
        for (i, p) in self.plan.partitions.clone().into_iter().enumerate() {
            self.schedule(p.at, Class::World, Event::PartitionStart(i));
            if let Some(t) = p.heal {
                self.schedule(t, Class::World, Event::PartitionHeal(i));
            }
        }
        for i in 0..self.plan.workloads.len() {
            self.schedule_workload(i);
        }
        if self.motion.is_some() {
            self.schedule(SimTime::ZERO, Class::World, Event::MobilityStep);
        }
        for process in 0..self.plan.fault_rates.len() {
            for host in 0..self.plan.fault_rates[process].hosts.len() {
                self.schedule_fault(process, host);
            }
        }
        // Samples come after everything else at their instant, the end's included.
        self.schedule(SimTime::ZERO, Class::Workload, Event::Sample);
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::TxEnd { session, dir } => {
                self.note(Note::TxEnd, session, dir as u64);
                self.tx_end(session, dir);
            }
            Event::Arrive {
                session,
                dir,
                transfer,
            } => {
                self.note(Note::Arrive, session, dir as u64);
                self.arrive(session, dir, transfer);
            }
            Event::Control {
                session,
                dir,
                message,
            } => {
                self.note(Note::Control, session, message.len() as u64);
                self.control_arrives(session, dir, message);
            }
            Event::Verdict {
                host,
                incarnation,
                token,
                outcome,
            } => {
                self.note(Note::Verdict, host as u64, token.0);
                if self.hosts[host].incarnation == incarnation {
                    self.input(host, Input::Transmitted { token, outcome });
                }
            }
            Event::Flush { host, incarnation } => {
                self.note(Note::Flush, host as u64, incarnation);
                self.flush(host, incarnation);
            }
            Event::Timer { host, incarnation } => {
                self.note(Note::Timer, host as u64, incarnation);
                self.timer(host, incarnation);
            }
            Event::Contact(i) => self.contact_event(i),
            Event::MeetingStart(i) => self.meeting_start(i),
            Event::MeetingEnd { a, b } => {
                self.note(Note::MeetingEnd, a as u64, b as u64);
                self.set_contact(a, b, |p| p.meetings = p.meetings.saturating_sub(1));
            }
            Event::MobilityStep => self.mobility_step(),
            Event::Crash(i) => {
                let h = self.plan.crashes[i].host;
                self.note(Note::Crash, h as u64, 0);
                self.crash(h);
            }
            Event::Restart(i) => {
                let h = self.plan.crashes[i].host;
                self.note(Note::Restart, h as u64, 0);
                self.restart(h);
            }
            Event::PartitionStart(i) => {
                self.note(Note::Partition, i as u64, 1);
                self.active_partitions.insert(i);
                self.update_all_links();
            }
            Event::PartitionHeal(i) => {
                self.note(Note::Partition, i as u64, 0);
                self.active_partitions.remove(&i);
                self.update_all_links();
            }
            Event::Workload(i) => self.workload_message(i),
            Event::Message(i) => self.explicit_message(i),
            Event::FaultCrash { process, host } => {
                let h = self.plan.fault_rates[process].hosts[host];
                self.note(Note::Crash, h as u64, 1);
                self.crash(h);
                self.schedule_fault_restart(process, host);
            }
            Event::FaultRestart { process, host } => {
                let h = self.plan.fault_rates[process].hosts[host];
                self.note(Note::Restart, h as u64, 1);
                self.restart(h);
                self.schedule_fault(process, host);
            }
            Event::Sample => {
                self.sample();
                let next = self.now.plus(self.plan.sample_every);
                if next < self.plan.duration {
                    self.schedule(next, Class::Workload, Event::Sample);
                }
            }
            Event::End => {
                self.sample();
                self.note(Note::End, 0, 0);
                self.finished = true;
            }
        }
    }

    /// Records store occupancy (bundles and bytes, every host; a crashed host's durable
    /// store) and delivery progress now.
    fn sample(&mut self) {
        let (mut bundles, mut bytes, mut max) = (0u64, 0u64, 0u64);
        for h in &self.hosts {
            let (n, b) = match &h.node {
                Some(node) => (node.stored_bundles() as u64, node.stored_bytes()),
                None => {
                    let d = &h.store.durable().bundles;
                    (
                        d.len() as u64,
                        d.values().map(|(b, _)| b.len() as u64).sum(),
                    )
                }
            };
            bundles += n;
            bytes += b;
            max = max.max(b);
        }
        let sample = crate::metrics::Sample {
            time: self.now.as_secs_f64(),
            stored_bundles: bundles,
            stored_bytes: bytes,
            max_host_bytes: max,
            created: self.metrics.created,
            delivered: self.metrics.delivered,
        };
        // The end of the run may fall on a sample's instant: keep one sample per instant.
        if self.metrics.samples.last().map(|s| s.time) != Some(sample.time) {
            self.metrics.sample(sample);
        }
    }

    /// Schedules the next random crash of host `host` of fault process `process`.
    fn schedule_fault(&mut self, process: usize, host: usize) {
        let mean = self.plan.fault_rates[process].mean_interval.as_secs_f64();
        let gap = rng::exponential(&mut self.fault_rngs[process][host], mean);
        let Some(gap) = SimTime::from_secs_f64(gap) else {
            return;
        };
        let at = self.now.plus(gap);
        if at < self.plan.duration {
            self.schedule(at, Class::World, Event::FaultCrash { process, host });
        }
    }

    /// Schedules the restart of a randomly crashed host after a uniform downtime.
    fn schedule_fault_restart(&mut self, process: usize, host: usize) {
        let Some((lo, hi)) = self.plan.fault_rates[process].downtime else {
            return;
        };
        let r = &mut self.fault_rngs[process][host];
        let down = rng::uniform(r, lo.as_secs_f64(), hi.as_secs_f64());
        let at = self.now.plus(SimTime::from_secs_f64(down).unwrap_or(lo));
        if at < self.plan.duration {
            self.schedule(at, Class::World, Event::FaultRestart { process, host });
        }
    }

    /// Folds one happening into the trace hash (and the trace file, if any).
    fn note(&mut self, what: Note, a: u64, b: u64) {
        self.trace.write_u64(self.now.0);
        self.trace.write_u64(what as u64);
        self.trace.write_u64(a);
        self.trace.write_u64(b);
        if let Some(f) = self.trace_file.as_mut() {
            let _ = writeln!(f, "{} {} {a} {b}", self.now, what.name());
        }
    }
}

/// What happened, in the event trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    TxEnd,
    Arrive,
    Verdict,
    Flush,
    Timer,
    MeetingEnd,
    Crash,
    Restart,
    Partition,
    End,
    Deleted,
    Deliver,
    LinkUp,
    LinkDown,
    Transmit,
    Lost,
    Answer,
    ContactUp,
    ContactDown,
    Meeting,
    Mobility,
    Create,
    Control,
}

impl Note {
    /// The name in trace files.
    fn name(self) -> &'static str {
        match self {
            Self::TxEnd => "tx-end",
            Self::Arrive => "arrive",
            Self::Verdict => "verdict",
            Self::Flush => "flush",
            Self::Timer => "timer",
            Self::MeetingEnd => "meeting-end",
            Self::Crash => "crash",
            Self::Restart => "restart",
            Self::Partition => "partition",
            Self::End => "end",
            Self::Deleted => "deleted",
            Self::Deliver => "deliver",
            Self::LinkUp => "link-up",
            Self::LinkDown => "link-down",
            Self::Transmit => "transmit",
            Self::Lost => "lost",
            Self::Answer => "answer",
            Self::ContactUp => "contact-up",
            Self::ContactDown => "contact-down",
            Self::Meeting => "meeting",
            Self::Mobility => "mobility",
            Self::Create => "create",
            Self::Control => "control",
        }
    }
}

/// The group endpoint of alert `name`: `dtn://alerts/~NAME`, a non-singleton endpoint
/// (RFC 9171 §4.2.5.1.1) that every recipient registers.
pub fn alert_endpoint(name: &str) -> Result<proto::wire::Eid, WorldError> {
    format!("dtn://alerts/~{name}")
        .parse::<proto::wire::Eid>()
        .map_err(|e| WorldError::BadHostName {
            name: format!("alerts/~{name}"),
            reason: e.to_string(),
        })
}

/// Rejects plans whose indices or values the world cannot honour.
fn check(plan: &Plan) -> Result<(), WorldError> {
    let n = plan.hosts.len();
    let host = |what: &'static str, index: usize| {
        if index < n {
            Ok(())
        } else {
            Err(WorldError::NoSuchHost {
                what,
                index,
                hosts: n,
            })
        }
    };
    for w in &plan.workloads {
        for &i in w.from.iter().chain(&w.to) {
            host("a workload", i)?;
        }
        if w.from.is_empty() || w.to.is_empty() || w.size.0 > w.size.1 {
            return Err(WorldError::Invalid(
                "a workload needs sources, destinations and a size range min <= max".into(),
            ));
        }
    }
    for m in &plan.messages {
        host("a message", m.from)?;
        host("a message", m.to)?;
    }
    for c in &plan.contacts {
        host("a contact", c.a)?;
        host("a contact", c.b)?;
    }
    for m in &plan.meetings {
        for &i in &m.nodes {
            host("meetings", i)?;
        }
        if !(m.rate_per_pair.is_finite() && m.rate_per_pair > 0.0) {
            return Err(WorldError::Invalid(
                "meetings need a rate per pair greater than zero".into(),
            ));
        }
    }
    for c in &plan.crashes {
        host("a crash", c.host)?;
    }
    for f in &plan.fault_rates {
        for &i in &f.hosts {
            host("a fault process", i)?;
        }
        if f.mean_interval == SimTime::ZERO {
            return Err(WorldError::Invalid(
                "random crashes need a mean interval greater than zero".into(),
            ));
        }
    }
    if plan.sample_every == SimTime::ZERO {
        return Err(WorldError::Invalid(
            "the sampling interval must be greater than zero".into(),
        ));
    }
    for p in &plan.partitions {
        for &i in p.sides.iter().flatten() {
            host("a partition", i)?;
        }
    }
    if !(0.0..=1.0).contains(&plan.link.loss) {
        return Err(WorldError::Invalid(format!(
            "loss probability {} is not between 0 and 1",
            plan.link.loss
        )));
    }
    Ok(())
}
