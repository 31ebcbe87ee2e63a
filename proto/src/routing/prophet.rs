//! PRoPHET (RFC 6693): forward a bundle to a peer that is more likely to meet its destination.
//!
//! Each node keeps a delivery predictability `P(self, X)` for the nodes it has met or heard of:
//! - on every encounter with B: `P(A,B) = P(A,B)_old + (1 - δ - P(A,B)_old) · P_encounter`, where
//!   `P_encounter` grows with the time since the last encounter up to `I_typ` (RFC 6693 §2.1.1,
//!   equation 1); a node met for the first time gets `P_encounter_first`;
//! - as time passes: `P = P_old · γ^K` for K elapsed time units (equation 2);
//! - from B's predictabilities, exchanged at contact over the control channel:
//!   `P(A,C) = max(P(A,C)_old, P(A,B) · P(B,C) · β)` (equation 3).
//!
//! Forwarding follows GRTR (RFC 6693 §3.6): offer a bundle for D to B if B is D, or if
//! `P(B,D) > P(A,D)`. Group (`~`) bundles spread to everyone, as alerts must. Without B's
//! predictabilities (a link without control messages), only B's own bundles go to it.
//!
//! Time is the injected wall clock (`Now::wall`), so aging continues across restarts; the table
//! is persisted through [`super::Router::take_state`] whenever it changes.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{BundleView, PeerView, Router, reaches_destination};
use crate::node::Now;
use crate::node::control::{ControlLimits, ControlMessage, PREDICTABILITY_SCALE};
use crate::wire::Eid;
use crate::wire::cbor::{self, Reader};

/// PRoPHET's constants; the defaults are RFC 6693 §3.3's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProphetParams {
    /// Largest `P_encounter` (0.7).
    pub p_encounter_max: f64,
    /// `P(A,B)` on a first encounter (0.5).
    pub p_encounter_first: f64,
    /// Below this a predictability is forgotten (0.1).
    pub p_first_threshold: f64,
    /// Transitivity scaling β (0.9).
    pub beta: f64,
    /// Aging γ per time unit (0.999).
    pub gamma: f64,
    /// δ, keeping every predictability below 1 (0.01).
    pub delta: f64,
    /// The aging time unit, in ms (RFC 6693 leaves it to the deployment; 30 s here).
    pub time_unit_ms: u64,
    /// `I_typ`, the typical time between encounters, in ms (30 min here).
    pub typical_interval_ms: u64,
}

impl Default for ProphetParams {
    fn default() -> Self {
        Self {
            p_encounter_max: 0.7,
            p_encounter_first: 0.5,
            p_first_threshold: 0.1,
            beta: 0.9,
            gamma: 0.999,
            delta: 0.01,
            time_unit_ms: 30_000,
            typical_interval_ms: 30 * 60_000,
        }
    }
}

/// Most predictabilities kept (and sent): the strongest win.
const MAX_ENTRIES: usize = 1024;
/// Most peers whose predictabilities are remembered at once.
const MAX_PEER_TABLES: usize = 64;
/// Version of the persisted state.
const STATE_VERSION: u64 = 1;

/// A PRoPHET router.
#[derive(Debug, Clone)]
pub struct Prophet {
    node_id: Eid,
    params: ProphetParams,
    /// Wall time in ms (the injected clock).
    now_ms: u64,
    /// When the table was last aged (a whole number of time units ago, at most).
    aged_ms: u64,
    /// P(self, X).
    table: BTreeMap<Eid, f64>,
    /// Wall time of the last encounter with each node, for `I_typ`.
    met_ms: BTreeMap<Eid, u64>,
    /// The latest predictabilities each peer sent, and when.
    peers: BTreeMap<Eid, (u64, BTreeMap<Eid, f64>)>,
    dirty: bool,
}

impl Prophet {
    /// A router for node `node_id` with no history.
    pub fn new(node_id: Eid, params: ProphetParams) -> Self {
        Self {
            node_id,
            params,
            now_ms: 0,
            aged_ms: 0,
            table: BTreeMap::new(),
            met_ms: BTreeMap::new(),
            peers: BTreeMap::new(),
            dirty: false,
        }
    }

    /// `P(self, node)`, 0 if unknown.
    pub fn predictability(&self, node: &Eid) -> f64 {
        self.table.get(node).copied().unwrap_or(0.0)
    }

    /// RFC 6693 §2.1.1 equation 2: age every predictability by the whole time units elapsed.
    fn age(&mut self) {
        let unit = self.params.time_unit_ms.max(1);
        if self.aged_ms == 0 || self.now_ms < self.aged_ms {
            // First use, or the clock stepped back (restart without a clock): restart aging.
            self.aged_ms = self.now_ms;
            return;
        }
        let k = (self.now_ms - self.aged_ms) / unit;
        if k == 0 {
            return;
        }
        let factor = self.params.gamma.powf(k as f64);
        for p in self.table.values_mut() {
            *p *= factor;
        }
        let threshold = self.params.p_first_threshold;
        self.table.retain(|_, p| *p >= threshold);
        self.aged_ms += k * unit;
        self.dirty = true;
    }

    /// Keeps the table within [`MAX_ENTRIES`], dropping the weakest.
    fn trim(&mut self) {
        while self.table.len() > MAX_ENTRIES {
            let weakest = self
                .table
                .iter()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| k.clone());
            if let Some(k) = weakest {
                self.table.remove(&k);
            }
        }
    }

    fn encode_state(&self) -> Vec<u8> {
        let mut out = Vec::new();
        cbor::write_array(&mut out, 4);
        cbor::write_uint(&mut out, STATE_VERSION);
        cbor::write_uint(&mut out, self.aged_ms);
        cbor::write_array(&mut out, self.table.len() as u64);
        for (eid, p) in &self.table {
            cbor::write_array(&mut out, 2);
            cbor::write_text(&mut out, &eid.to_string());
            cbor::write_uint(&mut out, p.to_bits());
        }
        cbor::write_array(&mut out, self.met_ms.len() as u64);
        for (eid, at) in &self.met_ms {
            cbor::write_array(&mut out, 2);
            cbor::write_text(&mut out, &eid.to_string());
            cbor::write_uint(&mut out, *at);
        }
        out
    }

    fn decode_state(&mut self, state: &Bytes) -> Option<()> {
        let limits = ControlLimits::default();
        let mut r = Reader::new(state);
        r.array_of("prophet state", 4..=4).ok()?;
        if r.uint().ok()? != STATE_VERSION {
            return None;
        }
        let aged_ms = r.uint().ok()?;
        let mut table = BTreeMap::new();
        for _ in 0..r
            .array_of("predictabilities", 0..=MAX_ENTRIES as u64)
            .ok()?
        {
            r.array_of("entry", 2..=2).ok()?;
            let eid =
                Eid::parse_with_limit(r.text(limits.max_eid_len).ok()?, limits.max_eid_len).ok()?;
            let p = f64::from_bits(r.uint().ok()?);
            if !(0.0..=1.0).contains(&p) {
                return None;
            }
            table.insert(eid, p);
        }
        let mut met_ms = BTreeMap::new();
        for _ in 0..r.array_of("encounters", 0..=u64::from(u16::MAX)).ok()? {
            r.array_of("entry", 2..=2).ok()?;
            let eid =
                Eid::parse_with_limit(r.text(limits.max_eid_len).ok()?, limits.max_eid_len).ok()?;
            met_ms.insert(eid, r.uint().ok()?);
        }
        self.aged_ms = aged_ms;
        self.table = table;
        self.met_ms = met_ms;
        Some(())
    }
}

impl Router for Prophet {
    fn name(&self) -> &'static str {
        "prophet"
    }

    fn set_now(&mut self, now: Now) {
        // Without a wall clock, the monotonic clock still ages the table within one run.
        self.now_ms = if now.wall.0 != 0 {
            now.wall.0
        } else {
            now.mono.as_micros() / 1000
        };
    }

    /// GRTR (RFC 6693 §3.6): to the destination itself, or to a better-placed peer.
    fn should_offer(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> bool {
        if reaches_destination(bundle.destination, peer.node_id) {
            return true;
        }
        if !bundle.destination.is_singleton() {
            return true;
        }
        let Some(dest) = bundle.destination.node_id() else {
            return false;
        };
        let Some((_, theirs)) = self.peers.get(peer.node_id) else {
            return false;
        };
        theirs.get(&dest).copied().unwrap_or(0.0) > self.predictability(&dest)
    }

    /// RFC 6693 §2.1.1 equation 1.
    fn on_contact(&mut self, peer: &Eid) {
        if *peer == self.node_id {
            return;
        }
        self.age();
        let params = self.params;
        let p = match self.table.get(peer) {
            None => params.p_encounter_first,
            Some(&old) => {
                let since = self
                    .met_ms
                    .get(peer)
                    .map_or(u64::MAX, |at| self.now_ms.saturating_sub(*at));
                let typical = params.typical_interval_ms.max(1);
                let encounter = if since < typical {
                    params.p_encounter_max * since as f64 / typical as f64
                } else {
                    params.p_encounter_max
                };
                old + (1.0 - params.delta - old) * encounter
            }
        };
        self.table.insert(peer.clone(), p);
        self.met_ms.insert(peer.clone(), self.now_ms);
        if self.met_ms.len() > MAX_ENTRIES {
            let oldest = self
                .met_ms
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.met_ms.remove(&k);
            }
        }
        self.trim();
        self.dirty = true;
    }

    fn contact_message(&mut self, _peer: &Eid) -> Option<ControlMessage> {
        self.age();
        let scale = f64::from(PREDICTABILITY_SCALE);
        let entries = self
            .table
            .iter()
            .map(|(eid, p)| (eid.clone(), (p.clamp(0.0, 1.0) * scale).round() as u16))
            .collect();
        Some(ControlMessage::Predictabilities(entries))
    }

    /// Remembers the peer's predictabilities and applies transitivity (equation 3).
    fn on_control(&mut self, peer: &Eid, message: &ControlMessage) {
        let ControlMessage::Predictabilities(entries) = message else {
            return;
        };
        if *peer == self.node_id {
            return;
        }
        self.age();
        let scale = f64::from(PREDICTABILITY_SCALE);
        let theirs: BTreeMap<Eid, f64> = entries
            .iter()
            .map(|(eid, p)| (eid.clone(), f64::from(*p) / scale))
            .collect();
        let via = self.predictability(peer);
        for (c, p_bc) in &theirs {
            if *c == self.node_id || c == peer {
                continue;
            }
            let candidate = via * p_bc * self.params.beta;
            if candidate >= self.params.p_first_threshold && candidate > self.predictability(c) {
                self.table.insert(c.clone(), candidate);
                self.dirty = true;
            }
        }
        self.trim();
        self.peers.insert(peer.clone(), (self.now_ms, theirs));
        if self.peers.len() > MAX_PEER_TABLES {
            let oldest = self
                .peers
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.peers.remove(&k);
            }
        }
    }

    fn take_state(&mut self) -> Option<Vec<u8>> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        Some(self.encode_state())
    }

    fn restore_state(&mut self, state: &Bytes) {
        // A state this version cannot read starts the table afresh rather than failing the node.
        let _ = self.decode_state(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{BundleKey, Instant};
    use crate::wire::DtnTime;

    const T0: u64 = 800_000_000_000;

    fn eid(s: &str) -> Eid {
        s.parse().unwrap()
    }

    fn at(r: &mut Prophet, ms: u64) {
        r.set_now(Now::new(Instant::from_millis(ms), DtnTime(T0 + ms)));
    }

    fn view<'a>(src: &'a Eid, dst: &'a Eid) -> BundleView<'a> {
        BundleView {
            key: BundleKey(1),
            source: src,
            destination: dst,
            from: None,
            copies: None,
            in_flight: 0,
        }
    }

    #[test]
    fn a_first_encounter_sets_p_encounter_first() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        assert_eq!(r.predictability(&eid("dtn://b/")), 0.5);
    }

    #[test]
    fn a_later_encounter_moves_towards_one_minus_delta() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        // Met again after I_typ (and 60 time units of aging): P_encounter = P_encounter_max.
        let later = 30 * 60_000;
        at(&mut r, later);
        r.on_contact(&eid("dtn://b/"));
        let aged = 0.5 * 0.999f64.powi(60);
        let want = aged + (1.0 - 0.01 - aged) * 0.7;
        assert!((r.predictability(&eid("dtn://b/")) - want).abs() < 1e-12);
    }

    #[test]
    fn an_encounter_soon_after_the_last_adds_less() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        // A tenth of I_typ later (no whole time unit has passed at 1 ms... use 3 min = 6 units).
        at(&mut r, 180_000);
        r.on_contact(&eid("dtn://b/"));
        let aged = 0.5 * 0.999f64.powi(6);
        let want = aged + (1.0 - 0.01 - aged) * 0.7 * 0.1;
        assert!((r.predictability(&eid("dtn://b/")) - want).abs() < 1e-12);
    }

    #[test]
    fn predictabilities_age_by_whole_time_units() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        at(&mut r, 10 * 30_000 + 29_999);
        r.age();
        assert!((r.predictability(&eid("dtn://b/")) - 0.5 * 0.999f64.powi(10)).abs() < 1e-12);
    }

    #[test]
    fn transitivity_takes_the_larger_value() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        let summary = ControlMessage::Predictabilities(vec![(eid("dtn://c/"), u16::MAX)]);
        r.on_control(&eid("dtn://b/"), &summary);
        assert!((r.predictability(&eid("dtn://c/")) - 0.5 * 1.0 * 0.9).abs() < 1e-12);
        // A weaker path does not lower it.
        let weaker = ControlMessage::Predictabilities(vec![(eid("dtn://c/"), 1000)]);
        r.on_control(&eid("dtn://b/"), &weaker);
        assert!((r.predictability(&eid("dtn://c/")) - 0.45).abs() < 1e-12);
    }

    #[test]
    fn grtr_offers_only_to_a_better_placed_peer() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        r.on_contact(&eid("dtn://c/"));
        r.on_control(
            &eid("dtn://b/"),
            &ControlMessage::Predictabilities(vec![(eid("dtn://d/"), 60_000)]),
        );
        r.on_control(
            &eid("dtn://c/"),
            &ControlMessage::Predictabilities(vec![(eid("dtn://d/"), 10_000)]),
        );
        // P(a,d) = 0.5 · 60000/65535 · 0.9 ≈ 0.41 (via b); b knows d better, c does not.
        let (src, dst) = (eid("dtn://a/"), eid("dtn://d/inbox"));
        let b = eid("dtn://b/");
        let c = eid("dtn://c/");
        assert!(r.should_offer(&view(&src, &dst), &PeerView { node_id: &b }));
        assert!(!r.should_offer(&view(&src, &dst), &PeerView { node_id: &c }));
    }

    #[test]
    fn without_a_summary_only_the_destination_gets_the_bundle() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        let (src, dst) = (eid("dtn://a/"), eid("dtn://d/inbox"));
        let b = eid("dtn://b/");
        let d = eid("dtn://d/");
        assert!(!r.should_offer(&view(&src, &dst), &PeerView { node_id: &b }));
        assert!(r.should_offer(&view(&src, &dst), &PeerView { node_id: &d }));
    }

    #[test]
    fn state_survives_a_restart() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        at(&mut r, 0);
        r.on_contact(&eid("dtn://b/"));
        let state = Bytes::from(r.take_state().unwrap());
        assert!(r.take_state().is_none(), "state is taken once per change");
        let mut again = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        again.restore_state(&state);
        assert_eq!(again.predictability(&eid("dtn://b/")), 0.5);
        // Aging continues from the persisted time.
        at(&mut again, 30_000);
        again.age();
        assert!((again.predictability(&eid("dtn://b/")) - 0.4995).abs() < 1e-12);
    }

    #[test]
    fn a_corrupt_state_starts_afresh() {
        let mut r = Prophet::new(eid("dtn://a/"), ProphetParams::default());
        r.restore_state(&Bytes::from_static(&[0x84, 0x01, 0xff]));
        assert_eq!(r.predictability(&eid("dtn://b/")), 0.0);
    }
}
