//! Drives a `Node` with arbitrary sequences of inputs, as an honest but erratic driver would:
//! links come and go, peers send garbage and valid bundles (built from input-chosen fields, so
//! decoding is passed), transmissions end every way, the store flushes when it likes and
//! reports durability late, the clock jumps, applications submit and register.
//!
//! The driver is honest in two ways the node relies on (`node::io`): store ops are applied in
//! order as they come out, and `Stored` is only reported for keys whose `PutBundle` a flush has
//! made durable. Within that, checked after every call:
//! - never panics; store keys and transmit tokens are never reused;
//! - every `Accept`/`Refuse` answers an rx given in `Received`, on its link, at most once; an
//!   `Accept` only once the admitted bundle's `PutBundle` is durable and reported `Stored`;
//!   after a final flush every rx has been answered;
//! - `Transmit` and `Deliver` name a bundle reported `Stored` whose bytes the store still has;
//!   a transmit goes on a link that is up with a known peer, and its `Rewrite` applies to the
//!   stored bundle giving a bundle that still decodes; a delivery goes to a registered
//!   endpoint that is the bundle's destination, once per bundle and endpoint;
//! - after a flush the node's bundles are exactly the store's (keys, sizes, `stored_bytes`,
//!   tombstones, registrations), each durable exactly when reported `Stored`; each stored
//!   bundle's persisted `BundleIndex` is the index of its stored bytes; and a node rebuilt from
//!   `MemStore::restored()` (indices, no bytes but local fragments') lists the same bundles and
//!   emits nothing;
//! - after a `Timeout` (with a wall clock) no deadline is left at or before now; `submit`,
//!   `register` and `unregister` answer as their rules say.
//!
//! Set `TERN_FUZZ_TRACE=1` to print every operation and output when reproducing a crash
//! (`cargo fuzz fmt node_inputs <file>` prints the operations alone).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tern_proto::node::RefuseReason as NodeRefuse;
use tern_proto::node::store::MemStore;
use tern_proto::node::{
    BundleIndex, BundleKey, BundleSummary, Config, Input, Instant, LinkId, Node, Now, Output, RegisterError,
    Report, Restored, RxId, StoreOp, Submit, SubmitError, TxOutcome, TxToken,
    control::{ControlLimits, ControlMessage},
};
use tern_proto::routing::RouterKind;
use tern_proto::wire::fragment::ReassemblyLimits;
use tern_proto::wire::{
    BlockBody, BlockFlags, Bundle, BundleBuilder, BundleFlags, CrcType, CreationTimestamp,
    DecodeLimits, DtnTime, Eid, FragmentInfo, HopCount,
};

/// Wall time at the start, in DTN ms (2025).
const T0: u64 = 800_000_000_000;
/// Most operations per input: enough for long stories, short enough for thousands of runs/s.
const MAX_OPS: usize = 64;
/// Link ids used; few, so that ops on the same link meet.
const LINKS: u8 = 3;
/// Whether a bundle's "peers that hold it" (`forwarded_to`) must be the same in memory and in
/// the store after a flush, and survive a restart. Off for now: when a duplicate arrives before
/// the first copy is durable, `Node::receive` adds the peer in memory but emits no
/// `UpdateMeta` (the `&& entry.durable` in `node/receive.rs`), so a restart forgets it. Turn
/// on once that is settled.
const CHECK_PERSISTED_PEERS: bool = true;
/// Whether a bundle reassembled from received fragments must respect the node's own
/// `max_bundle_size` and storage quota like any other admitted bundle. Off for now:
/// `Node::reassemble_if_local` admits the whole bundle without either check, so it can store
/// a bundle that it deletes as undecodable on restart, and exceed the quota. While off, an
/// input that gets there ends at that point (nothing after it is checked). Turn on once fixed.
const CHECK_REASSEMBLED_LIMITS: bool = true;

fuzz_target!(|plan: Plan| {
    let mut h = Harness::new(&plan.setup);
    for op in &plan.ops {
        h.run(op);
    }
    h.finish();
});

/// How the node is configured.
#[derive(Debug)]
struct Setup {
    /// `ipn:9.0` instead of `dtn://n/`.
    ipn: bool,
    epidemic: bool,
    quota: u64,
    window: usize,
    /// False: the node has no wall clock (`DtnTime(0)`).
    wall_clock: bool,
    max_bundle_size: usize,
    report_lifetime_ms: u64,
    small_reassembly: bool,
}

impl<'a> Arbitrary<'a> for Setup {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        let c = u8::arbitrary(u)?;
        Ok(Self {
            ipn: b & 1 != 0,
            epidemic: b & 2 == 0,
            quota: [1 << 30, 2000, 600, 0][usize::from((b >> 2) & 3)],
            window: 1 + usize::from((b >> 4) & 3),
            wall_clock: b & 0x40 == 0,
            max_bundle_size: if b & 0x80 == 0 { 1 << 20 } else { 300 },
            report_lifetime_ms: if c & 1 == 0 { 86_400_000 } else { 1000 },
            small_reassembly: c & 2 != 0,
        })
    }
}

/// A bundle a peer sends, from input-chosen fields.
#[derive(Debug)]
struct BundleSpec {
    source: u8,
    destination: u8,
    report_to: u8,
    /// 0: time 0 with an age block; 1: just created; 2: an hour ago; 3: in the future.
    creation: u8,
    sequence: u8,
    lifetime: u8,
    flags: u8,
    /// Some((limit, count)): a hop-count block.
    hops: Option<(u8, u8)>,
    age: Option<u16>,
    previous: Option<u8>,
    /// Some((type offset, block flags)): a block of a type the node does not know.
    unknown: Option<(u8, u8)>,
    crc: u8,
    payload_len: u8,
    /// Some((offset, extra)): a fragment at `offset` of an ADU `payload + offset + extra` long.
    fragment: Option<(u8, u8)>,
}

impl<'a> Arbitrary<'a> for BundleSpec {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut byte = || u8::arbitrary(u);
        let source = byte()?;
        let destination = byte()?;
        let report_to = byte()?;
        let creation = byte()?;
        let sequence = byte()?;
        let lifetime = byte()?;
        let flags = byte()?;
        let opt = byte()?;
        let (a, b, c, d) = (byte()?, byte()?, byte()?, byte()?);
        let crc = byte()?;
        let payload_len = byte()?;
        let (e, f) = (byte()?, byte()?);
        Ok(Self {
            source,
            destination,
            report_to,
            creation: creation % 4,
            sequence: sequence % 4,
            lifetime,
            flags,
            hops: (opt & 1 != 0).then_some((a, b)),
            age: (opt & 2 != 0).then_some(u16::from_be_bytes([c, d])),
            previous: (opt & 4 != 0).then_some(c),
            unknown: (opt & 8 != 0).then_some((d, a)),
            crc,
            payload_len,
            fragment: (opt & 16 != 0).then_some((e, f)),
        })
    }
}

/// What an application submits, from input-chosen fields.
#[derive(Debug)]
struct SubmitSpec {
    /// None: the node ID.
    source: Option<u8>,
    destination: u8,
    report_to: Option<u8>,
    lifetime: u8,
    flags: u8,
    hop_limit: Option<u8>,
    crc: u8,
    payload_len: u8,
}

impl<'a> Arbitrary<'a> for SubmitSpec {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut byte = || u8::arbitrary(u);
        let opt = byte()?;
        let (source, destination, report_to) = (byte()?, byte()?, byte()?);
        let (lifetime, flags, hop_limit, crc, payload_len) =
            (byte()?, byte()?, byte()?, byte()?, byte()?);
        Ok(Self {
            source: (opt & 1 != 0).then_some(source),
            destination,
            report_to: (opt & 2 != 0).then_some(report_to),
            lifetime,
            flags,
            hop_limit: (opt & 4 != 0).then_some(hop_limit),
            crc,
            payload_len,
        })
    }
}

/// One thing the driver does.
#[derive(Debug)]
enum Op {
    LinkUp {
        link: u8,
        peer: u8,
    },
    LinkDown {
        link: u8,
    },
    ReceiveRaw {
        link: u8,
        bytes: Vec<u8>,
    },
    ReceiveBundle {
        link: u8,
        spec: BundleSpec,
    },
    /// A stored (or once stored) bundle comes back from a peer.
    ReceiveStored {
        link: u8,
        pick: u8,
    },
    /// A transmission in flight ends.
    Transmitted {
        pick: u8,
        outcome: u8,
    },
    /// A token the node never issued, or one already settled.
    TransmittedStale {
        token: u8,
    },
    /// The store flushes; 0: report every key `Stored` at once, 1: none yet, 2: newest first.
    Flush {
        report: u8,
    },
    /// Report one flushed key `Stored`, late.
    Stored {
        pick: u8,
    },
    /// The clock advances, then `Timeout`.
    Advance {
        step: u8,
        fine: u16,
    },
    Submit(SubmitSpec),
    Register {
        endpoint: u8,
    },
    Unregister {
        endpoint: u8,
    },
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let tag = u8::arbitrary(u)?;
        let a = u8::arbitrary(u)?;
        Ok(match tag % 13 {
            0 => Self::LinkUp {
                link: a,
                peer: u8::arbitrary(u)?,
            },
            1 => Self::LinkDown { link: a },
            2 => {
                let len = usize::from(u8::arbitrary(u)?);
                let bytes = u.bytes(len.min(u.len()))?.to_vec();
                Self::ReceiveRaw { link: a, bytes }
            }
            3 | 4 => Self::ReceiveBundle {
                link: a,
                spec: BundleSpec::arbitrary(u)?,
            },
            5 => Self::ReceiveStored {
                link: a,
                pick: u8::arbitrary(u)?,
            },
            6 => Self::Transmitted {
                pick: a,
                outcome: u8::arbitrary(u)?,
            },
            7 => Self::TransmittedStale { token: a },
            8 => Self::Flush { report: a % 3 },
            9 => Self::Stored { pick: a },
            10 => Self::Advance {
                step: a,
                fine: u16::arbitrary(u)?,
            },
            11 => Self::Submit(SubmitSpec::arbitrary(u)?),
            _ if a & 0x80 == 0 => Self::Register { endpoint: a },
            _ => Self::Unregister { endpoint: a },
        })
    }
}

/// The node's setup and what it is put through.
#[derive(Debug)]
struct Plan {
    setup: Setup,
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Plan {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let setup = Setup::arbitrary(u)?;
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < MAX_OPS {
            ops.push(Op::arbitrary(u)?);
        }
        Ok(Self { setup, ops })
    }
}

/// Endpoints the input picks from: this node's, other nodes', groups, nobody.
struct Eids {
    node: Eid,
    pool: Vec<Eid>,
    /// Peers a link may report: unknown, two other nodes, this node itself, a non-node-ID.
    peers: Vec<Option<Eid>>,
}

impl Eids {
    fn new(ipn: bool) -> Self {
        let parse = |s: &str| s.parse::<Eid>().expect("harness EIDs parse");
        let (node, app, other) = if ipn {
            ("ipn:9.0", "ipn:9.1", "ipn:9.2")
        } else {
            ("dtn://n/", "dtn://n/app", "dtn://n/b")
        };
        let pool = [
            app,
            other,
            node,
            "dtn://n/~grp",
            "dtn://g/~all",
            "dtn://p1/",
            "dtn://p1/app",
            "ipn:2.0",
            "ipn:2.7",
            "dtn:none",
        ]
        .map(parse)
        .to_vec();
        let peers = vec![
            None,
            Some(parse("dtn://p1/")),
            Some(parse("ipn:2.0")),
            Some(parse(node)),
            Some(parse("dtn://p1/app")),
        ];
        Self {
            node: parse(node),
            pool,
            peers,
        }
    }

    fn pick(&self, i: u8) -> Eid {
        self.pool[usize::from(i) % self.pool.len()].clone()
    }
}

fn trace() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("TERN_FUZZ_TRACE").is_some())
}

fn crc(i: u8) -> CrcType {
    [CrcType::None, CrcType::Crc16, CrcType::Crc32c][usize::from(i % 3)]
}

fn flags(b: u8) -> BundleFlags {
    let table = [
        BundleFlags::REPORT_RECEPTION,
        BundleFlags::REPORT_FORWARDING,
        BundleFlags::REPORT_DELIVERY,
        BundleFlags::REPORT_DELETION,
        BundleFlags::STATUS_TIME_REQUESTED,
        BundleFlags::MUST_NOT_FRAGMENT,
        BundleFlags::APP_ACK_REQUESTED,
        BundleFlags::ADMIN_RECORD,
    ];
    table
        .iter()
        .enumerate()
        .filter(|(i, _)| b >> i & 1 != 0)
        .fold(BundleFlags::empty(), |acc, (_, f)| acc | *f)
}

fn lifetime(b: u8) -> u64 {
    [0, 1, 1000, 60_000, 3_600_000, 86_400_000, 1 << 40, u64::MAX][usize::from(b % 8)]
}

fn payload(len: u8, salt: u8) -> Bytes {
    (0..len)
        .map(|i| i.wrapping_mul(13) ^ salt)
        .collect::<Vec<u8>>()
        .into()
}

/// What the harness knows about an inbound transfer it gave the node.
#[derive(Debug)]
struct Rx {
    link: LinkId,
    /// The key the node admitted it under, from `Report::Admitted`.
    key: Option<BundleKey>,
}

struct Harness {
    node: Node,
    config: Config,
    seed: u64,
    eids: Eids,
    store: MemStore,
    wall_clock: bool,
    mono_ms: u64,
    /// Links up, as the driver sees them.
    links: BTreeMap<LinkId, Option<Eid>>,
    next_rx: u64,
    /// Given and not yet answered.
    open_rx: BTreeMap<RxId, Rx>,
    /// The rx whose `Received` is being handled.
    current_rx: Option<(LinkId, RxId)>,
    /// Every key that had a `PutBundle`, in order.
    put: Vec<BundleKey>,
    /// Keys reported `Stored`.
    stored: BTreeSet<BundleKey>,
    /// Flushed, not yet reported.
    unreported: Vec<BundleKey>,
    /// Transmissions in flight: token → link, key.
    in_flight: BTreeMap<TxToken, (LinkId, BundleKey)>,
    tokens_seen: BTreeSet<TxToken>,
    delivered: BTreeSet<(BundleKey, Eid)>,
    registered: BTreeSet<Eid>,
    /// Keys whose `PutBundle` came out of the last call.
    last_puts: Vec<BundleKey>,
    /// Source and creation of the fragment being received, to recognise its reassembly.
    receiving_fragment: Option<(Eid, CreationTimestamp)>,
    /// The last call stored a bundle reassembled from fragments.
    reassembled: bool,
    /// A known gap was reached (see `CHECK_REASSEMBLED_LIMITS`): stop checking.
    stopped: bool,
}

impl Harness {
    fn new(setup: &Setup) -> Self {
        let eids = Eids::new(setup.ipn);
        let mut config = Config::new(eids.node.clone());
        config.router = if setup.epidemic {
            RouterKind::Epidemic
        } else {
            RouterKind::Direct
        };
        config.storage_quota = setup.quota;
        config.window_per_link = setup.window;
        config.limits = DecodeLimits {
            max_bundle_size: setup.max_bundle_size,
            ..DecodeLimits::default()
        };
        config.report_lifetime_ms = setup.report_lifetime_ms;
        if setup.small_reassembly {
            config.reassembly = ReassemblyLimits {
                max_bytes: 256,
                max_pending: 1,
            };
        }
        let seed = 7;
        let wall = DtnTime(if setup.wall_clock { T0 } else { 0 });
        let now = Now::new(Instant::from_millis(0), wall);
        let mut h = Self {
            node: Node::new(config.clone(), seed, now, Restored::default()),
            config,
            seed,
            eids,
            store: MemStore::new(),
            wall_clock: setup.wall_clock,
            mono_ms: 0,
            links: BTreeMap::new(),
            next_rx: 1,
            open_rx: BTreeMap::new(),
            current_rx: None,
            put: Vec::new(),
            stored: BTreeSet::new(),
            unreported: Vec::new(),
            in_flight: BTreeMap::new(),
            tokens_seen: BTreeSet::new(),
            delivered: BTreeSet::new(),
            registered: BTreeSet::new(),
            last_puts: Vec::new(),
            receiving_fragment: None,
            reassembled: false,
            stopped: false,
        };
        h.drain();
        h
    }

    fn now(&self) -> Now {
        let wall = if self.wall_clock {
            DtnTime(T0 + self.mono_ms)
        } else {
            DtnTime(0)
        };
        Now::new(Instant::from_millis(self.mono_ms), wall)
    }

    fn link(i: u8) -> LinkId {
        LinkId(u64::from(i % LINKS))
    }

    fn handle(&mut self, input: Input) {
        let now = self.now();
        self.node.handle(now, input);
        self.drain();
    }

    fn run(&mut self, op: &Op) {
        if self.stopped {
            return;
        }
        if trace() {
            eprintln!("t={} {op:?}", self.mono_ms);
        }
        match op {
            Op::LinkUp { link, peer } => {
                let link = Self::link(*link);
                // The high bit: the link carries control messages.
                let control = *peer & 0x80 != 0;
                let peer = self.eids.peers[usize::from(*peer & 0x7f) % self.eids.peers.len()].clone();
                if self.links.contains_key(&link) {
                    // A driver reports the old session's end before the new one's start.
                    self.link_down(link);
                }
                self.links.insert(link, peer.clone());
                if control {
                    // As a driver should: ControlReady before draining LinkUp's outputs.
                    let now = self.now();
                    self.node.handle(now, Input::LinkUp { link, peer });
                    self.handle(Input::ControlReady { link });
                } else {
                    self.handle(Input::LinkUp { link, peer });
                }
            }
            Op::LinkDown { link } => self.link_down(Self::link(*link)),
            Op::ReceiveRaw { link: a, bytes } => {
                let (link, bytes) = (Self::link(*a), Bytes::copy_from_slice(bytes));
                // The high bit: the bytes arrive as a control message, not a bundle.
                if *a & 0x80 != 0 {
                    self.handle(Input::Control { link, bytes });
                } else {
                    self.receive(link, bytes);
                }
            }
            Op::ReceiveBundle { link, spec } => {
                if let Some(bytes) = self.build(spec) {
                    self.receive(Self::link(*link), bytes);
                }
            }
            Op::ReceiveStored { link, pick } => {
                if self.put.is_empty() {
                    return;
                }
                let key = self.put[usize::from(*pick) % self.put.len()];
                if let Some(bytes) = self.store.bundle(key) {
                    self.receive(Self::link(*link), bytes);
                }
            }
            Op::Transmitted { pick, outcome } => {
                let Some((&token, _)) = self
                    .in_flight
                    .iter()
                    .nth(usize::from(*pick) % self.in_flight.len().max(1))
                else {
                    return;
                };
                self.in_flight.remove(&token);
                let outcome = match outcome % 5 {
                    0 | 1 => TxOutcome::Accepted,
                    2 => TxOutcome::Refused(NodeRefuse::Duplicate),
                    3 => TxOutcome::Refused(if outcome & 8 == 0 {
                        NodeRefuse::StorageFull
                    } else {
                        NodeRefuse::NotAcceptable
                    }),
                    _ => TxOutcome::Failed,
                };
                self.handle(Input::Transmitted { token, outcome });
            }
            Op::TransmittedStale { token } => {
                let token = TxToken(u64::from(*token));
                if self.in_flight.contains_key(&token) {
                    return;
                }
                let outcome = TxOutcome::Accepted;
                self.handle(Input::Transmitted { token, outcome });
            }
            Op::Flush { report } => self.flush(*report),
            Op::Stored { pick } => {
                if self.unreported.is_empty() {
                    return;
                }
                let key = self
                    .unreported
                    .remove(usize::from(*pick) % self.unreported.len());
                self.report_stored(key);
            }
            Op::Advance { step, fine } => {
                let coarse = [0, 1, 1000, 60_000, 3_600_000, 86_400_000, 1 << 32, 0];
                self.mono_ms += coarse[usize::from(step % 8)] + u64::from(*fine);
                self.handle(Input::Timeout);
                if self.wall_clock {
                    let now = self.now().mono;
                    if let Some(at) = self.node.poll_timeout() {
                        assert!(
                            at > now,
                            "deadline {at:?} still due after Timeout at {now:?}"
                        );
                    }
                }
            }
            Op::Submit(spec) => self.submit(spec),
            Op::Register { endpoint } => {
                let endpoint = self.eids.pick(*endpoint);
                let result = self.node.register(endpoint.clone());
                match &result {
                    Ok(()) => {
                        assert!(!endpoint.is_null());
                        assert!(
                            !endpoint.is_singleton()
                                || endpoint.node_id().as_ref() == Some(&self.eids.node),
                            "registered a foreign singleton {endpoint}"
                        );
                        self.registered.insert(endpoint);
                    }
                    Err(RegisterError::Null) => assert!(endpoint.is_null()),
                    Err(RegisterError::ForeignEndpoint { .. }) => {
                        assert!(endpoint.is_singleton());
                        assert_ne!(endpoint.node_id().as_ref(), Some(&self.eids.node));
                    }
                    Err(e) => panic!("register({endpoint}) failed: {e}"),
                }
                self.drain();
            }
            Op::Unregister { endpoint } => {
                let endpoint = self.eids.pick(*endpoint);
                let removed = self.node.unregister(&endpoint);
                assert_eq!(removed, self.registered.remove(&endpoint), "unregister");
                self.drain();
            }
        }
    }

    fn link_down(&mut self, link: LinkId) {
        self.links.remove(&link);
        self.in_flight.retain(|_, (l, _)| *l != link);
        self.handle(Input::LinkDown { link });
    }

    fn receive(&mut self, link: LinkId, bytes: Bytes) {
        let rx = RxId(self.next_rx);
        self.next_rx += 1;
        self.open_rx.insert(rx, Rx { link, key: None });
        self.current_rx = Some((link, rx));
        self.receiving_fragment = Bundle::decode(bytes.clone())
            .ok()
            .filter(|b| b.fragment().is_some())
            .map(|b| (b.primary().source.clone(), b.primary().creation));
        self.handle(Input::Received { link, rx, bytes });
        self.current_rx = None;
        self.receiving_fragment = None;
    }

    fn report_stored(&mut self, key: BundleKey) {
        self.stored.insert(key);
        self.handle(Input::Stored { key });
    }

    fn flush(&mut self, report: u8) {
        let mut keys = self.store.flush();
        self.check_store();
        self.check_restore();
        match report {
            0 => keys.into_iter().for_each(|k| self.report_stored(k)),
            1 => self.unreported.append(&mut keys),
            _ => keys.into_iter().rev().for_each(|k| self.report_stored(k)),
        }
    }

    /// A bundle built from `spec`, encoded, or None if the fields make no valid bundle.
    fn build(&self, spec: &BundleSpec) -> Option<Bytes> {
        let wall = if self.wall_clock {
            T0 + self.mono_ms
        } else {
            T0
        };
        let time = match spec.creation {
            0 => 0,
            1 => wall,
            2 => wall.saturating_sub(3_600_000),
            _ => wall + 3_600_000,
        };
        let creation = CreationTimestamp::new(DtnTime(time), u64::from(spec.sequence));
        let mut b = BundleBuilder::new(
            self.eids.pick(spec.source),
            self.eids.pick(spec.destination),
            creation,
            lifetime(spec.lifetime),
        )
        .crc(crc(spec.crc))
        .report_to(self.eids.pick(spec.report_to))
        .flags(flags(spec.flags))
        .payload(payload(spec.payload_len, spec.sequence));
        if let Some((limit, count)) = spec.hops {
            let hops = HopCount {
                limit: u64::from(limit),
                count: u64::from(count),
            };
            b = b.extension(BlockBody::HopCount(hops), BlockFlags::empty());
        }
        if let Some(age) = spec.age {
            b = b.bundle_age(u64::from(age) * 100);
        } else if time == 0 {
            b = b.bundle_age(0);
        }
        if let Some(p) = spec.previous {
            b = b.previous_node(self.eids.pick(p));
        }
        if let Some((t, f)) = spec.unknown {
            let body = BlockBody::Other {
                block_type: 192 + u64::from(t % 8),
                data: Bytes::from_static(b"?"),
            };
            b = b.extension(body, BlockFlags::from_bits_retain(u64::from(f & 0x17)));
        }
        let bundle = b.build().ok()?;
        let bundle = match spec.fragment {
            None => bundle,
            Some((offset, extra)) => {
                let mut primary = bundle.primary().clone();
                let offset = u64::from(offset);
                primary.flags |= BundleFlags::IS_FRAGMENT;
                primary.flags.remove(BundleFlags::MUST_NOT_FRAGMENT);
                primary.fragment = Some(FragmentInfo {
                    offset,
                    total_adu_length: bundle.payload().len() as u64 + offset + u64::from(extra),
                });
                Bundle::from_parts(primary, bundle.blocks().to_vec()).ok()?
            }
        };
        Some(Bytes::from(bundle.encode()))
    }

    fn submit(&mut self, spec: &SubmitSpec) {
        let destination = self.eids.pick(spec.destination);
        let mut req = Submit::new(destination.clone(), payload(spec.payload_len, 0x5a));
        req.source = spec.source.map(|s| self.eids.pick(s));
        req.report_to = spec.report_to.map(|r| self.eids.pick(r));
        req.lifetime_ms = lifetime(spec.lifetime);
        req.flags = flags(spec.flags);
        req.hop_limit = spec.hop_limit;
        req.crc = crc(spec.crc);
        let now = self.now();
        let result = self.node.submit(now, req);
        self.drain();
        match result {
            Ok(key) => {
                assert!(
                    self.last_puts.contains(&key),
                    "submitted {key} was not stored"
                );
                let bytes = self
                    .store
                    .bundle(key)
                    .expect("a submitted bundle is stored");
                let bundle = Bundle::decode_with(bytes, &self.config.limits)
                    .expect("a submitted bundle decodes");
                assert_eq!(bundle.primary().destination, destination);
                assert_eq!(bundle.payload().len(), usize::from(spec.payload_len));
            }
            Err(SubmitError::ForeignSource(s)) => {
                assert_ne!(s.node_id().as_ref(), Some(&self.eids.node));
                assert!(!s.is_null());
            }
            Err(SubmitError::ZeroLifetime) => assert_eq!(lifetime(spec.lifetime), 0),
            Err(SubmitError::StorageFull {
                used,
                quota,
                needed,
                available,
                ..
            }) => {
                // Refused only when the bundle does not fit in the room its class had (the
                // quota, its share, the emergency reserve) and eviction could not make more.
                assert_eq!(used, self.node.stored_bytes());
                assert!(available <= quota.saturating_sub(used));
                assert!(needed > available, "refused {needed} bytes with {available} free");
            }
            Err(SubmitError::TooLarge { size, max }) => assert!(size > max),
            Err(_) => {}
        }
    }

    /// Carries out every output, checking each.
    fn drain(&mut self) {
        self.last_puts.clear();
        self.reassembled = false;
        let mut admitted = 0;
        while let Some(out) = self.node.poll_output() {
            if trace() {
                eprintln!("  {out:?}");
            }
            match out {
                Output::Store(op) => self.store_op(op),
                Output::Transmit {
                    link,
                    token,
                    key,
                    rewrite,
                } => {
                    assert!(self.tokens_seen.insert(token), "{token} issued twice");
                    assert!(
                        matches!(self.links.get(&link), Some(Some(_))),
                        "transmit on {link}, which is down or has no known peer"
                    );
                    assert!(
                        self.stored.contains(&key),
                        "transmit of {key} before Stored"
                    );
                    let bytes = self.store.bundle(key).expect("transmitted bundle in store");
                    let mut bundle = Bundle::decode_with(bytes, &self.config.limits)
                        .expect("a stored bundle decodes");
                    assert_eq!(rewrite.previous_node, self.eids.node);
                    rewrite.apply(&mut bundle);
                    Bundle::decode(Bytes::from(bundle.encode()))
                        .expect("a rewritten bundle decodes");
                    self.in_flight.insert(token, (link, key));
                }
                Output::Accept { link, rx } => {
                    let given = self.open_rx.remove(&rx).expect("Accept of an unknown rx");
                    assert_eq!(given.link, link, "Accept of {rx} on another link");
                    let key = given.key.expect("Accept of an rx that was never admitted");
                    assert!(self.stored.contains(&key), "Accept of {rx} before Stored");
                    assert!(
                        self.store.durable().bundles.contains_key(&key),
                        "Accept of {rx} while {key} is not durable"
                    );
                }
                Output::Refuse { link, rx, .. } => {
                    let given = self.open_rx.remove(&rx).expect("Refuse of an unknown rx");
                    assert_eq!(given.link, link, "Refuse of {rx} on another link");
                }
                Output::Deliver { endpoint, key } => {
                    assert!(
                        self.registered.contains(&endpoint),
                        "delivery to unregistered {endpoint}"
                    );
                    assert!(
                        self.stored.contains(&key),
                        "delivery of {key} before Stored"
                    );
                    assert!(
                        self.delivered.insert((key, endpoint.clone())),
                        "{key} delivered twice to {endpoint}"
                    );
                    let bytes = self.store.bundle(key).expect("delivered bundle in store");
                    let bundle = Bundle::decode_with(bytes, &self.config.limits)
                        .expect("a stored bundle decodes");
                    assert_eq!(bundle.primary().destination, endpoint);
                    assert!(bundle.fragment().is_none(), "a fragment was delivered");
                }
                Output::Report(Report::Admitted {
                    key,
                    link: Some(link),
                    ..
                }) => {
                    let (at, rx) = self.current_rx.expect("admitted from a link, unasked");
                    assert_eq!(at, link, "admitted from another link");
                    admitted += 1;
                    assert_eq!(admitted, 1, "one Received admitted twice");
                    assert!(self.last_puts.contains(&key), "admitted without PutBundle");
                    if let Some(given) = self.open_rx.get_mut(&rx) {
                        given.key = Some(key);
                    }
                }
                Output::Report(_) => {}
                Output::Control { link, message } => {
                    assert!(
                        self.links.contains_key(&link),
                        "control message on {link}, which is down"
                    );
                    let decoded = ControlMessage::decode(&message, &ControlLimits::default());
                    assert!(decoded.is_ok(), "our control message does not decode: {decoded:?}");
                }
            }
        }
        if self.node.stored_bytes() > self.config.storage_quota {
            if self.reassembled && !CHECK_REASSEMBLED_LIMITS {
                self.stopped = true;
            }
            assert!(self.stopped, "storage quota exceeded");
        }
        // The node's links are the driver's, each within its window.
        let links: Vec<_> = self.node.links().collect();
        assert_eq!(links.len(), self.links.len(), "link count");
        for l in links {
            assert_eq!(self.links.get(&l.link), Some(&l.peer), "link {}", l.link);
            assert!(
                l.in_flight <= self.config.window_per_link,
                "window exceeded"
            );
        }
    }

    fn store_op(&mut self, op: StoreOp) {
        match &op {
            StoreOp::PutBundle { key, bytes, .. } => {
                assert!(
                    self.put.last().is_none_or(|last| last < key),
                    "key {key} is not new"
                );
                let bundle = Bundle::decode(bytes.clone()).expect("a stored bundle decodes");
                let whole_of_fragment = self.receiving_fragment.as_ref().is_some_and(|(s, c)| {
                    bundle.fragment().is_none()
                        && bundle.primary().source == *s
                        && bundle.primary().creation == *c
                });
                self.reassembled |= whole_of_fragment;
                let fits = Bundle::decode_with(bytes.clone(), &self.config.limits).is_ok();
                if !fits && whole_of_fragment && !CHECK_REASSEMBLED_LIMITS {
                    self.stopped = true;
                }
                assert!(
                    fits || self.stopped,
                    "stored {key} exceeds the node's limits"
                );
                self.put.push(*key);
                self.last_puts.push(*key);
            }
            StoreOp::UpdateMeta { key, .. } => {
                assert!(
                    self.store.bundle(*key).is_some(),
                    "UpdateMeta of absent {key}"
                );
            }
            StoreOp::DeleteBundle { key } => {
                assert!(
                    self.store.bundle(*key).is_some(),
                    "DeleteBundle of absent {key}"
                );
            }
            _ => {}
        }
        self.store.apply(op);
    }

    /// After a flush: the node's bundles are exactly the store's.
    fn check_store(&self) {
        let durable = self.store.durable();
        let ours: Vec<BundleSummary> = self.node.bundles().collect();
        let keys: Vec<(BundleKey, u64)> = ours.iter().map(|b| (b.key, b.size)).collect();
        let stored: Vec<(BundleKey, u64)> = durable
            .bundles
            .iter()
            .map(|(k, (b, _))| (*k, b.len() as u64))
            .collect();
        assert_eq!(keys, stored, "node and store hold different bundles");
        for (key, (bytes, _)) in &durable.bundles {
            let index = durable.indices.get(key).expect("a stored bundle has an index");
            let decoded = Bundle::decode(bytes.clone()).expect("a stored bundle decodes");
            assert_eq!(
                *index,
                BundleIndex::of(&decoded, bytes.len() as u64),
                "{key}: persisted index differs from its bytes"
            );
        }
        let total: u64 = stored.iter().map(|(_, n)| n).sum();
        assert_eq!(self.node.stored_bytes(), total, "stored_bytes");
        assert_eq!(self.node.stored_bundles(), stored.len(), "stored_bundles");
        assert_eq!(
            self.node.tombstones(),
            durable.tombstones.len(),
            "tombstones"
        );
        let regs: BTreeSet<Eid> = self.node.registrations().cloned().collect();
        assert_eq!(regs, durable.registrations, "registrations");
        assert_eq!(regs, self.registered, "registrations (driver's view)");
        for b in &ours {
            assert_eq!(
                b.durable,
                self.stored.contains(&b.key),
                "{} durable flag",
                b.key
            );
            if CHECK_PERSISTED_PEERS {
                let meta = &durable.bundles[&b.key].1;
                let peers: Vec<Eid> = meta.forwarded_to.iter().cloned().collect();
                assert_eq!(
                    b.forwarded_to, peers,
                    "{}: forwarded_to not persisted",
                    b.key
                );
            }
        }
    }

    /// After a flush: a node restarted from the store lists the same bundles.
    fn check_restore(&self) {
        let restored = self.store.restored();
        for b in &restored.bundles {
            assert_eq!(
                b.bytes.is_some(),
                b.index.needs_bytes_on_restore(&restored.registrations),
                "{}: restored bytes only for local fragments",
                b.key
            );
        }
        let mut again = Node::new(self.config.clone(), self.seed, self.now(), restored);
        assert!(
            again.poll_output().is_none(),
            "a restored node had something to do at once"
        );
        let strip = |mut b: BundleSummary| {
            b.durable = true;
            if !CHECK_PERSISTED_PEERS {
                b.forwarded_to.clear();
            }
            b
        };
        let before: Vec<BundleSummary> = self.node.bundles().map(strip).collect();
        let after: Vec<BundleSummary> = again.bundles().map(strip).collect();
        assert_eq!(before, after, "restart changed the bundles");
        assert_eq!(again.stored_bundles(), self.node.stored_bundles());
        assert_eq!(again.stored_bytes(), self.node.stored_bytes());
        assert_eq!(again.tombstones(), self.node.tombstones());
        assert!(again.registrations().eq(self.node.registrations()));
    }

    /// Makes everything durable: every inbound transfer must then have been answered.
    fn finish(&mut self) {
        if self.stopped {
            return;
        }
        self.flush(0);
        while let Some(key) = self.unreported.pop() {
            self.report_stored(key);
        }
        assert!(
            self.open_rx.is_empty(),
            "never answered: {:?}",
            self.open_rx
        );
        self.flush(0);
    }
}
