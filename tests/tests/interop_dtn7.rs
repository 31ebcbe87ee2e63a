//! Interoperability with dtn7-rs: a real `tern node` and a real `dtnd` 0.21 exchange bundles
//! over TCPCLv4 on loopback, in both directions — one text bundle, one 1 MiB bundle, 100 small
//! bundles, both directions at once, and an idle session longer than dtnd's keepalive timeout.
//! Payloads are compared byte for byte: at dtnd through its HTTP API (what `dtnrecv` uses), at
//! tern through its own API.
//!
//! dtnd is found by `tern_tests::dtn7::dtnd_binary` (`TERN_DTND`, `DTN7_BIN_DIR`, the CI cache,
//! `PATH`). Without it these tests fail, unless `TERN_SKIP_INTEROP=1` is set.
//!
//! Each test runs its own pair: tern has dtnd as a static peer (so tern opens a session to dtnd)
//! and dtnd has tern as a static peer (dtnd opens its own session to tern when it sends). Both
//! processes are killed by PID when the test ends, pass or fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use proto::wire::Bundle;
use proto::wire::fragment::{Reassembler, ReassemblyLimits};
use serde_json::Value;
use tempfile::TempDir;
use tern_tests::daemon::{NodeOptions, TernNode, encode, free_port};
use tern_tests::dtn7::{Dtnd, DtndOptions, StaticPeer, dtnd_for_test};

const DTND_NAME: &str = "dtn7";
const DTND_INBOX: &str = "dtn://dtn7/incoming";
const TERN_INBOX: &str = "dtn://tern/inbox";
/// dtnd 0.21's TCPCL transfer MRU (its SESS_INIT): tern fragments anything bigger.
const DTND_TRANSFER_MRU: usize = 64_000;
const MIB: usize = 1 << 20;

/// A tern node and a dtnd that know each other, with tern's session to dtnd up.
struct Pair {
    tern: TernNode,
    dtnd: Dtnd,
    _dir: TempDir,
}

impl Pair {
    fn start(dtnd_bin: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dtnd_port = free_port();
        // tern first: dtnd needs tern's TCPCL port; tern retries its connection to dtnd (1 s
        // backoff) until dtnd listens.
        let tern = TernNode::start(
            "tern",
            &dir.path().join("tern"),
            NodeOptions {
                peers: vec![format!("127.0.0.1:{dtnd_port}")],
                registrations: vec![TERN_INBOX.into()],
                ..NodeOptions::default()
            },
        );
        let dtnd = Dtnd::start(
            dtnd_bin,
            DTND_NAME,
            &dir.path().join("dtnd"),
            dtnd_port,
            &DtndOptions {
                static_peers: vec![StaticPeer {
                    tcpcl: tern.tcpcl,
                    name: "tern".into(),
                }],
                endpoints: vec!["incoming".into()],
                ..DtndOptions::default()
            },
        );
        let pair = Self {
            tern,
            dtnd,
            _dir: dir,
        };
        pair.wait_for("tern's session to dtnd", Duration::from_secs(30), |p| {
            !p.links_to_dtnd().is_empty()
        });
        pair
    }

    /// tern's links to dtnd, by link id.
    fn links_to_dtnd(&self) -> BTreeSet<u64> {
        let peers = self.tern.get("/api/v1/peers");
        peers
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["node_id"] == "dtn://dtn7/")
            .filter_map(|p| p["link"].as_u64())
            .collect()
    }

    fn logs(&self) -> String {
        format!(
            "---- tern log:\n{}\n---- dtnd log:\n{}",
            self.tern.log(),
            self.dtnd.log()
        )
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out after {timeout:?} waiting for {what}\n{}",
            self.logs()
        );
    }
}

/// Submits a binary payload to tern (`application/octet-stream`, no base64).
fn tern_submit(tern: &TernNode, destination: &str, payload: &[u8]) -> Value {
    let url = format!(
        "http://{}/api/v1/bundles?destination={}&lifetime=1h",
        tern.api,
        encode(destination)
    );
    let mut resp = ureq::post(&url)
        .header("content-type", "application/octet-stream")
        .send(payload)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    resp.body_mut().read_json::<Value>().unwrap()
}

/// Takes up to `count` deliveries for `endpoint` from tern within `timeout`: (source, payload).
fn tern_take(
    tern: &TernNode,
    endpoint: &str,
    count: usize,
    timeout: Duration,
) -> Vec<(String, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < count && Instant::now() < deadline {
        let path = format!(
            "/api/v1/endpoints/{}/bundles?wait=2&max={}&consume=true",
            encode(endpoint),
            count - got.len()
        );
        for item in tern.get(&path).as_array().into_iter().flatten() {
            let source = item["source"].as_str().unwrap_or_default().to_owned();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(item["payload_base64"].as_str().unwrap_or_default())
                .unwrap();
            got.push((source, payload));
        }
    }
    got
}

/// Deterministic bytes covering every byte value (xorshift64), so a corrupted, shifted or
/// truncated payload cannot compare equal by accident.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Takes fragments from dtnd until they reassemble into one bundle, or `timeout` passes.
///
/// dtnd 0.21 does not reassemble fragments (RFC 9171 §5.9): it delivers each to the
/// application as it arrives, so reassembly is done here, with tern's own reassembler.
fn take_reassembled(pair: &Pair, timeout: Duration) -> (Bundle, usize) {
    let mut reassembler = Reassembler::new(ReassemblyLimits::default());
    let deadline = Instant::now() + timeout;
    let mut fragments = 0;
    // Bounded in count too: 1 MiB in 64,000-byte fragments is 17; 64 means something is wrong.
    while Instant::now() < deadline && fragments < 64 {
        let Some(bundle) = pair.dtnd.take("incoming") else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        fragments += 1;
        assert!(
            bundle.fragment().is_some(),
            "dtnd delivered an unfragmented bundle of {} payload bytes",
            bundle.payload().len()
        );
        if let Some(whole) = reassembler.insert(&bundle).unwrap() {
            return (whole, fragments);
        }
    }
    panic!(
        "no complete bundle after {fragments} fragments; pending: {:?}\n{}",
        reassembler.pending().collect::<Vec<_>>(),
        pair.logs()
    );
}

#[test]
fn text_bundle_from_tern_is_delivered_by_dtnd() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    pair.tern.send(DTND_INBOX, "hello dtn7, this is tern");
    let got = pair.dtnd.take_n("incoming", 1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "nothing arrived at dtnd\n{}", pair.logs());
    assert_eq!(got[0].payload().as_ref(), b"hello dtn7, this is tern");
    assert_eq!(got[0].primary().source.to_string(), "dtn://tern/");
    assert_eq!(got[0].primary().destination.to_string(), DTND_INBOX);
}

#[test]
fn one_mib_bundle_from_tern_reaches_dtnd_as_fragments_that_reassemble_exactly() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    let data = pattern(MIB, 0x7e44);
    tern_submit(&pair.tern, DTND_INBOX, &data);
    let (whole, fragments) = take_reassembled(&pair, Duration::from_secs(60));
    // dtnd offers a 64,000-byte transfer MRU, so tern must fragment (RFC 9171 §5.8).
    assert!(
        fragments >= MIB / DTND_TRANSFER_MRU,
        "only {fragments} fragments"
    );
    assert_eq!(whole.payload().len(), MIB);
    assert!(
        whole.payload().as_ref() == data.as_slice(),
        "payload differs"
    );
    assert_eq!(whole.primary().source.to_string(), "dtn://tern/");
}

#[test]
fn hundred_small_bundles_from_tern_are_each_delivered_once_by_dtnd() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    let want: BTreeSet<Vec<u8>> = (0..100)
        .map(|i| format!("tern small {i:03}").into_bytes())
        .collect();
    for payload in &want {
        pair.tern
            .send(DTND_INBOX, std::str::from_utf8(payload).unwrap());
    }
    let got = pair.dtnd.take_n("incoming", 100, Duration::from_secs(60));
    let payloads: Vec<Vec<u8>> = got.iter().map(|b| b.payload().to_vec()).collect();
    let unique: BTreeSet<Vec<u8>> = payloads.iter().cloned().collect();
    assert_eq!(unique, want, "missing or wrong payloads\n{}", pair.logs());
    assert_eq!(payloads.len(), 100, "duplicates delivered");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        pair.dtnd.take("incoming").is_none(),
        "dtnd delivered more than 100 bundles"
    );
}

#[test]
fn text_bundle_from_dtnd_is_delivered_by_tern() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    pair.dtnd.send(TERN_INBOX, b"hello tern, this is dtn7");
    let got = tern_take(&pair.tern, TERN_INBOX, 1, Duration::from_secs(20));
    assert_eq!(
        got,
        [(
            "dtn://dtn7/".to_owned(),
            b"hello tern, this is dtn7".to_vec()
        )],
        "\n{}",
        pair.logs()
    );
}

#[test]
fn one_mib_bundle_from_dtnd_is_delivered_whole_by_tern() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    let data = pattern(MIB, 0xd7d7);
    pair.dtnd.send(TERN_INBOX, &data);
    let got = tern_take(&pair.tern, TERN_INBOX, 1, Duration::from_secs(60));
    assert_eq!(got.len(), 1, "nothing arrived at tern\n{}", pair.logs());
    assert_eq!(got[0].0, "dtn://dtn7/");
    assert_eq!(got[0].1.len(), MIB);
    assert!(got[0].1 == data, "payload differs");
}

#[test]
fn hundred_small_bundles_from_dtnd_are_each_delivered_once_by_tern() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    let want: BTreeSet<Vec<u8>> = (0..100)
        .map(|i| format!("dtn7 small {i:03}").into_bytes())
        .collect();
    for payload in &want {
        pair.dtnd.send(TERN_INBOX, payload);
    }
    let got = tern_take(&pair.tern, TERN_INBOX, 100, Duration::from_secs(60));
    let payloads: Vec<Vec<u8>> = got.into_iter().map(|(_, p)| p).collect();
    let unique: BTreeSet<Vec<u8>> = payloads.iter().cloned().collect();
    assert_eq!(unique, want, "missing or wrong payloads\n{}", pair.logs());
    assert_eq!(payloads.len(), 100, "duplicates delivered");
    let more = tern_take(&pair.tern, TERN_INBOX, 1, Duration::from_secs(1));
    assert!(more.is_empty(), "tern delivered more than 100 bundles");
}

#[test]
fn transfers_in_both_directions_at_once_all_arrive() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    let big_to_dtnd = pattern(MIB, 1);
    let big_to_tern = pattern(MIB, 2);
    std::thread::scope(|s| {
        s.spawn(|| {
            tern_submit(&pair.tern, DTND_INBOX, &big_to_dtnd);
            for i in 0..30 {
                pair.tern.send(DTND_INBOX, &format!("to dtn7 {i:02}"));
            }
        });
        s.spawn(|| {
            pair.dtnd.send(TERN_INBOX, &big_to_tern);
            for i in 0..30 {
                pair.dtnd
                    .send(TERN_INBOX, format!("to tern {i:02}").as_bytes());
            }
        });
    });
    // At tern: everything arrives whole.
    let at_tern: BTreeSet<Vec<u8>> = tern_take(&pair.tern, TERN_INBOX, 31, Duration::from_secs(60))
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut want_tern: BTreeSet<Vec<u8>> = (0..30)
        .map(|i| format!("to tern {i:02}").into_bytes())
        .collect();
    want_tern.insert(big_to_tern);
    assert!(
        at_tern == want_tern,
        "tern got {} of 31 bundles\n{}",
        at_tern.len(),
        pair.logs()
    );
    // At dtnd: the small ones whole, the big one as fragments.
    let mut reassembler = Reassembler::new(ReassemblyLimits::default());
    let mut small = BTreeSet::new();
    let mut big = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (small.len() < 30 || big.is_none()) && Instant::now() < deadline {
        let Some(bundle) = pair.dtnd.take("incoming") else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if bundle.fragment().is_some() {
            big = big.or(reassembler.insert(&bundle).unwrap());
        } else {
            small.insert(bundle.payload().to_vec());
        }
    }
    let want_small: BTreeSet<Vec<u8>> = (0..30)
        .map(|i| format!("to dtn7 {i:02}").into_bytes())
        .collect();
    assert_eq!(small, want_small, "\n{}", pair.logs());
    let big = big.unwrap_or_else(|| panic!("1 MiB bundle incomplete at dtnd\n{}", pair.logs()));
    assert!(
        big.payload().as_ref() == big_to_dtnd.as_slice(),
        "payload differs"
    );
}

#[test]
fn idle_sessions_with_dtnd_outlive_its_keepalive_interval() {
    let Some(bin) = dtnd_for_test() else { return };
    let pair = Pair::start(&bin);
    // One bundle each way, so both sessions exist: tern's to dtnd and dtnd's to tern.
    pair.dtnd.send(TERN_INBOX, b"open your session");
    assert_eq!(
        tern_take(&pair.tern, TERN_INBOX, 1, Duration::from_secs(20)).len(),
        1
    );
    pair.wait_for("dtnd's session to tern", Duration::from_secs(10), |p| {
        p.links_to_dtnd().len() == 2
    });
    let links = pair.links_to_dtnd();
    // The test nodes negotiate a 10 s keepalive; dtnd ends a session that stays silent for
    // one interval, so 25 s of silence from tern would end both sessions.
    std::thread::sleep(Duration::from_secs(25));
    assert_eq!(
        pair.links_to_dtnd(),
        links,
        "a session ended\n{}",
        pair.logs()
    );
    pair.tern.send(DTND_INBOX, "still there?");
    let got = pair.dtnd.take_n("incoming", 1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "\n{}", pair.logs());
    assert_eq!(got[0].payload().as_ref(), b"still there?");
    assert!(
        !pair.dtnd.log().contains("Session terminated"),
        "dtnd ended a session\n{}",
        pair.logs()
    );
}
