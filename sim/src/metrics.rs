//! Message statistics with The ONE's `MessageStatsReport` definitions, and the report a run
//! prints and writes.
//!
//! Definitions (counting only messages created after the warm-up, as The ONE does):
//! - `created`: messages the workload generated; `started`: transfers that began on a link;
//!   `relayed`: transfers the receiver accepted (delivery included); `aborted`: transfers cut
//!   by the end of their contact; `dropped`: copies deleted for expiry, limits or a crash;
//!   `removed`: copies deleted because their work was done (handed to the destination);
//!   `delivered`: first deliveries at the destination.
//! - `delivery_prob = delivered / created`; `overhead_ratio = (relayed - delivered) / delivered`.
//! - latency: creation to first delivery; hop count: links crossed by the delivered copy;
//!   buffer time: how long each deleted copy sat in its node's store.
//!
//! tern adds: `lost` (dropped by link loss), `refused` (the receiver said no: duplicate, full,
//! unacceptable), `submit_failed` (the source could not store a new message), latency p95 and
//! `bytes_sent` (bytes of every bundle that crossed a link, control traffic included).

use std::fmt::Write as _;

use serde::Serialize;

/// Running totals and samples, fed by the world.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Messages created.
    pub created: u64,
    /// Transfers started.
    pub started: u64,
    /// Transfers accepted by the receiver.
    pub relayed: u64,
    /// Transfers aborted by a contact's end.
    pub aborted: u64,
    /// Transfers lost on the link.
    pub lost: u64,
    /// Transfers the receiver refused.
    pub refused: u64,
    /// Copies dropped (expiry, limits, crash).
    pub dropped: u64,
    /// Copies removed after their work was done.
    pub removed: u64,
    /// First deliveries.
    pub delivered: u64,
    /// Messages the source could not store.
    pub submit_failed: u64,
    /// Bytes that crossed links.
    pub bytes_sent: u64,
    /// Links brought up.
    pub contacts: u64,
    latencies: Vec<f64>,
    hops: Vec<f64>,
    buffer_times: Vec<f64>,
}

impl Metrics {
    /// A first delivery, `latency` seconds after creation, over `hops` links.
    pub fn delivery(&mut self, latency: f64, hops: u32) {
        self.delivered += 1;
        self.latencies.push(latency);
        self.hops.push(f64::from(hops));
    }

    /// A copy left a store after `held` seconds; `dropped` tells a drop from a removal.
    pub fn deletion(&mut self, held: f64, dropped: bool) {
        if dropped {
            self.dropped += 1;
        } else {
            self.removed += 1;
        }
        self.buffer_times.push(held);
    }

    /// The delivery latencies so far (seconds), in delivery order.
    pub fn latencies(&self) -> &[f64] {
        &self.latencies
    }

    /// The hop counts of deliveries so far, in delivery order.
    pub fn hop_counts(&self) -> &[f64] {
        &self.hops
    }

    /// The final numbers.
    pub fn report(&self, run: RunInfo) -> Report {
        let latency = Summary::of(&self.latencies);
        let hops = Summary::of(&self.hops);
        let buffer = Summary::of(&self.buffer_times);
        let ratio = |num: f64, den: u64| (den > 0).then(|| num / den as f64);
        Report {
            run,
            created: self.created,
            started: self.started,
            relayed: self.relayed,
            aborted: self.aborted,
            lost: self.lost,
            refused: self.refused,
            dropped: self.dropped,
            removed: self.removed,
            delivered: self.delivered,
            submit_failed: self.submit_failed,
            delivery_prob: ratio(self.delivered as f64, self.created),
            overhead_ratio: ratio(self.relayed as f64 - self.delivered as f64, self.delivered),
            latency_avg: latency.avg,
            latency_med: latency.median,
            latency_p95: latency.p95,
            hopcount_avg: hops.avg,
            hopcount_med: hops.median,
            buffertime_avg: buffer.avg,
            buffertime_med: buffer.median,
            bytes_sent: self.bytes_sent,
            contacts: self.contacts,
        }
    }
}

/// Mean, median and 95th percentile of a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Mean.
    pub avg: Option<f64>,
    /// Median (mean of the two middle values for an even count).
    pub median: Option<f64>,
    /// 95th percentile, nearest rank.
    pub p95: Option<f64>,
}

impl Summary {
    /// Summarizes `values` (empty: all `None`).
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Self {
            avg: Some(v.iter().sum::<f64>() / n as f64),
            median: Some(median),
            p95: Some(v[rank - 1]),
        }
    }
}

/// What was run: printed with the numbers so a report names its own origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// `tern-sim` and its version.
    pub tool: String,
    /// The scenario's name.
    pub scenario: String,
    /// The master seed.
    pub seed: u64,
    /// Hosts.
    pub hosts: usize,
    /// Simulated seconds.
    pub sim_time: f64,
    /// Warm-up seconds.
    pub warmup: f64,
    /// Events processed.
    pub events: u64,
    /// Fingerprint of the event trace (hex): equal runs have equal hashes.
    pub trace_hash: String,
}

/// The numbers of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What was run.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Messages created (see the module documentation for every definition).
    pub created: u64,
    /// Transfers started.
    pub started: u64,
    /// Transfers accepted (delivery included).
    pub relayed: u64,
    /// Transfers cut by a contact's end.
    pub aborted: u64,
    /// Transfers lost on the link.
    pub lost: u64,
    /// Transfers the receiver refused.
    pub refused: u64,
    /// Copies dropped (expiry, limits, crash).
    pub dropped: u64,
    /// Copies removed once their work was done.
    pub removed: u64,
    /// First deliveries.
    pub delivered: u64,
    /// Messages the source could not store.
    pub submit_failed: u64,
    /// `None` when nothing was created.
    pub delivery_prob: Option<f64>,
    /// `None` when nothing was delivered.
    pub overhead_ratio: Option<f64>,
    /// Seconds.
    pub latency_avg: Option<f64>,
    /// Seconds.
    pub latency_med: Option<f64>,
    /// Seconds.
    pub latency_p95: Option<f64>,
    /// Links crossed by delivered copies.
    pub hopcount_avg: Option<f64>,
    /// Links crossed by delivered copies.
    pub hopcount_med: Option<f64>,
    /// Seconds.
    pub buffertime_avg: Option<f64>,
    /// Seconds.
    pub buffertime_med: Option<f64>,
    /// Bytes that crossed links.
    pub bytes_sent: u64,
    /// Links brought up.
    pub contacts: u64,
}

/// A value as a report shows it.
enum Cell {
    Int(u64),
    Real(Option<f64>),
    Text(String),
}

impl Cell {
    fn render(&self) -> String {
        match self {
            Self::Int(v) => v.to_string(),
            Self::Real(Some(v)) => format!("{v:.4}"),
            Self::Real(None) => String::new(),
            Self::Text(t) => t.clone(),
        }
    }
}

impl Report {
    /// Name and value of every field, in report order.
    fn cells(&self) -> Vec<(&'static str, Cell)> {
        use Cell::{Int, Real, Text};
        let r = &self.run;
        vec![
            ("tool", Text(r.tool.clone())),
            ("scenario", Text(r.scenario.clone())),
            ("seed", Int(r.seed)),
            ("hosts", Int(r.hosts as u64)),
            ("sim_time", Real(Some(r.sim_time))),
            ("warmup", Real(Some(r.warmup))),
            ("events", Int(r.events)),
            ("trace_hash", Text(r.trace_hash.clone())),
            ("created", Int(self.created)),
            ("started", Int(self.started)),
            ("relayed", Int(self.relayed)),
            ("aborted", Int(self.aborted)),
            ("lost", Int(self.lost)),
            ("refused", Int(self.refused)),
            ("dropped", Int(self.dropped)),
            ("removed", Int(self.removed)),
            ("delivered", Int(self.delivered)),
            ("submit_failed", Int(self.submit_failed)),
            ("delivery_prob", Real(self.delivery_prob)),
            ("overhead_ratio", Real(self.overhead_ratio)),
            ("latency_avg", Real(self.latency_avg)),
            ("latency_med", Real(self.latency_med)),
            ("latency_p95", Real(self.latency_p95)),
            ("hopcount_avg", Real(self.hopcount_avg)),
            ("hopcount_med", Real(self.hopcount_med)),
            ("buffertime_avg", Real(self.buffertime_avg)),
            ("buffertime_med", Real(self.buffertime_med)),
            ("bytes_sent", Int(self.bytes_sent)),
            ("contacts", Int(self.contacts)),
        ]
    }

    /// A readable two-column table (empty values shown as `n/a`).
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (name, cell) in self.cells() {
            let v = cell.render();
            let v = if v.is_empty() { "n/a".to_owned() } else { v };
            let _ = writeln!(out, "{name:<15} {v}");
        }
        out
    }

    /// Pretty JSON (`null` for values that do not exist, such as the overhead with no
    /// deliveries).
    pub fn json(&self) -> String {
        // Serializing plain numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// A CSV header line and one value line, so reports of many runs concatenate.
    pub fn csv(&self) -> String {
        let cells = self.cells();
        let header: Vec<&str> = cells.iter().map(|(n, _)| *n).collect();
        let values: Vec<String> = cells.iter().map(|(_, c)| csv_field(&c.render())).collect();
        format!("{}\n{}\n", header.join(","), values.join(","))
    }
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            tool: "tern-sim test".into(),
            scenario: "s".into(),
            seed: 3,
            hosts: 2,
            sim_time: 10.0,
            warmup: 0.0,
            events: 5,
            trace_hash: "00".into(),
        }
    }

    #[test]
    fn summary_uses_middle_values_and_nearest_rank() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.avg, Some(2.5));
        assert_eq!(s.median, Some(2.5));
        assert_eq!(s.p95, Some(4.0));
        let odd = Summary::of(&(1..=21).map(f64::from).collect::<Vec<_>>());
        assert_eq!(odd.median, Some(11.0));
        // ceil(0.95 * 21) = 20th value.
        assert_eq!(odd.p95, Some(20.0));
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn overhead_counts_relays_beyond_deliveries() {
        let mut m = Metrics {
            created: 4,
            relayed: 7,
            ..Metrics::default()
        };
        m.delivery(10.0, 2);
        m.delivery(20.0, 3);
        let r = m.report(info());
        assert_eq!(r.delivery_prob, Some(0.5));
        assert_eq!(r.overhead_ratio, Some(2.5));
        assert_eq!(r.latency_avg, Some(15.0));
        assert_eq!(r.hopcount_med, Some(2.5));
    }

    #[test]
    fn ratios_without_a_denominator_are_absent() {
        let r = Metrics::default().report(info());
        assert_eq!(r.delivery_prob, None);
        assert_eq!(r.overhead_ratio, None);
        assert!(r.json().contains("\"overhead_ratio\": null"));
        assert!(r.table().contains("overhead_ratio  n/a"));
    }

    #[test]
    fn csv_has_a_header_and_one_row_of_equal_width() {
        let csv = Metrics::default().report(info()).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
        assert!(lines[0].starts_with("tool,scenario,seed"));
    }
}
