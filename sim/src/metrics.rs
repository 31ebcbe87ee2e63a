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
//! `bytes_sent` (bytes of every bundle that crossed a link, control traffic included); the
//! delivery numbers per priority class; group-addressed alerts, counted per recipient; crashes;
//! and store occupancy sampled over time.

use std::fmt::Write as _;

use serde::Serialize;

use crate::plan::CLASSES;

/// Delivery numbers of one priority class (unicast messages only).
#[derive(Debug, Clone, Default)]
pub struct ClassMetrics {
    /// Messages created.
    pub created: u64,
    /// First deliveries.
    pub delivered: u64,
    latencies: Vec<f64>,
    hops: Vec<f64>,
}

/// Group-addressed alerts: each alert should reach every recipient but its source.
#[derive(Debug, Clone, Default)]
pub struct AlertMetrics {
    /// Alerts created.
    pub created: u64,
    /// Deliveries owed: recipients other than the source, summed over alerts.
    pub expected: u64,
    /// First deliveries at a recipient.
    pub deliveries: u64,
    latencies: Vec<f64>,
}

/// The state of the network at one instant, for the report's time series and plots.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the start.
    pub time: f64,
    /// Bundles stored, all hosts together.
    pub stored_bundles: u64,
    /// Bytes stored, all hosts together.
    pub stored_bytes: u64,
    /// Bytes stored on the fullest host.
    pub max_host_bytes: u64,
    /// Counted messages created so far.
    pub created: u64,
    /// Counted messages delivered so far.
    pub delivered: u64,
}

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
    /// Host crashes (scheduled or random).
    pub crashes: u64,
    /// Bytes of control messages (reconciliation, routing summaries) sent on links.
    pub control_bytes: u64,
    /// Per priority class, in [`CLASSES`] order (emergency first).
    pub classes: [ClassMetrics; 4],
    /// Group-addressed alerts.
    pub alerts: AlertMetrics,
    /// Occupancy and progress samples, in time order.
    pub samples: Vec<Sample>,
    latencies: Vec<f64>,
    hops: Vec<f64>,
    buffer_times: Vec<f64>,
}

impl Metrics {
    /// A counted unicast message of class `class` (0 emergency … 3 bulk) was created.
    pub fn creation(&mut self, class: usize) {
        self.created += 1;
        self.classes[class].created += 1;
    }

    /// A first delivery of a class-`class` message, `latency` seconds after creation, over
    /// `hops` links.
    pub fn delivery(&mut self, latency: f64, hops: u32, class: usize) {
        self.delivered += 1;
        self.latencies.push(latency);
        self.hops.push(f64::from(hops));
        let c = &mut self.classes[class];
        c.delivered += 1;
        c.latencies.push(latency);
        c.hops.push(f64::from(hops));
    }

    /// An alert was created, owed to `recipients` hosts.
    pub fn alert_creation(&mut self, recipients: u64) {
        self.alerts.created += 1;
        self.alerts.expected += recipients;
    }

    /// An alert reached one of its recipients `latency` seconds after creation.
    pub fn alert_delivery(&mut self, latency: f64) {
        self.alerts.deliveries += 1;
        self.alerts.latencies.push(latency);
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

    /// The samples so far.
    pub fn sample(&mut self, sample: Sample) {
        self.samples.push(sample);
    }

    /// The final numbers.
    pub fn report(&self, run: RunInfo) -> Report {
        let latency = Summary::of(&self.latencies);
        let hops = Summary::of(&self.hops);
        let buffer = Summary::of(&self.buffer_times);
        let ratio = |num: f64, den: u64| (den > 0).then(|| num / den as f64);
        let classes = CLASSES
            .iter()
            .zip(&self.classes)
            .map(|(p, c)| {
                let l = Summary::of(&c.latencies);
                ClassReport {
                    class: p.name(),
                    created: c.created,
                    delivered: c.delivered,
                    delivery_prob: ratio(c.delivered as f64, c.created),
                    latency_avg: l.avg,
                    latency_med: l.median,
                    latency_p95: l.p95,
                    hopcount_avg: Summary::of(&c.hops).avg,
                }
            })
            .collect();
        let a = &self.alerts;
        let al = Summary::of(&a.latencies);
        let bytes: Vec<f64> = self.samples.iter().map(|s| s.stored_bytes as f64).collect();
        let mut latencies = self.latencies.clone();
        latencies.sort_by(f64::total_cmp);
        Report {
            classes,
            alerts: AlertReport {
                created: a.created,
                expected: a.expected,
                deliveries: a.deliveries,
                delivery_prob: ratio(a.deliveries as f64, a.expected),
                latency_avg: al.avg,
                latency_p95: al.p95,
            },
            crashes: self.crashes,
            control_bytes: self.control_bytes,
            occupancy_peak_bytes: self
                .samples
                .iter()
                .map(|s| s.stored_bytes)
                .max()
                .unwrap_or(0),
            occupancy_avg_bytes: Summary::of(&bytes).avg,
            samples: self.samples.clone(),
            latencies,
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
    /// Host crashes.
    pub crashes: u64,
    /// Bytes of control messages sent on links.
    pub control_bytes: u64,
    /// Most bytes stored at a sample, all hosts together.
    pub occupancy_peak_bytes: u64,
    /// Mean over the samples of the bytes stored, all hosts together.
    pub occupancy_avg_bytes: Option<f64>,
    /// Delivery numbers per priority class, emergency first.
    pub classes: Vec<ClassReport>,
    /// Group-addressed alerts.
    pub alerts: AlertReport,
    /// Occupancy and progress over time.
    pub samples: Vec<Sample>,
    /// Every delivery latency (seconds), sorted: the latency CDF.
    #[serde(skip)]
    pub latencies: Vec<f64>,
}

/// The delivery numbers of one priority class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassReport {
    /// `emergency`, `high`, `normal` or `bulk`.
    pub class: &'static str,
    /// Messages created.
    pub created: u64,
    /// First deliveries.
    pub delivered: u64,
    /// delivered / created.
    pub delivery_prob: Option<f64>,
    /// Seconds.
    pub latency_avg: Option<f64>,
    /// Seconds.
    pub latency_med: Option<f64>,
    /// Seconds.
    pub latency_p95: Option<f64>,
    /// Links crossed by delivered copies.
    pub hopcount_avg: Option<f64>,
}

/// Group-addressed alerts, counted per recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReport {
    /// Alerts created.
    pub created: u64,
    /// Deliveries owed (recipients other than the source, summed over alerts).
    pub expected: u64,
    /// First deliveries at recipients.
    pub deliveries: u64,
    /// deliveries / expected.
    pub delivery_prob: Option<f64>,
    /// Seconds from creation to a recipient.
    pub latency_avg: Option<f64>,
    /// Seconds, 95th percentile.
    pub latency_p95: Option<f64>,
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
    /// Name, value and whether the table shows it, for every field in report order. Per-class
    /// rows are shown for classes that had messages, alert rows when there were alerts; CSV and
    /// JSON always carry every field, so reports of many runs line up.
    fn cells(&self) -> Vec<(String, Cell, bool)> {
        use Cell::{Int, Real, Text};
        let r = &self.run;
        let mut out: Vec<(String, Cell, bool)> = vec![
            ("tool".into(), Text(r.tool.clone()), true),
            ("scenario".into(), Text(r.scenario.clone()), true),
            ("seed".into(), Int(r.seed), true),
            ("hosts".into(), Int(r.hosts as u64), true),
            ("sim_time".into(), Real(Some(r.sim_time)), true),
            ("warmup".into(), Real(Some(r.warmup)), true),
            ("events".into(), Int(r.events), true),
            ("trace_hash".into(), Text(r.trace_hash.clone()), true),
        ];
        let main = [
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
            ("crashes", Int(self.crashes)),
            ("control_bytes", Int(self.control_bytes)),
            ("occupancy_peak_bytes", Int(self.occupancy_peak_bytes)),
            ("occupancy_avg_bytes", Real(self.occupancy_avg_bytes)),
        ];
        out.extend(main.into_iter().map(|(n, c)| (n.to_owned(), c, true)));
        for c in &self.classes {
            let show = c.created > 0;
            let rows = [
                ("created", Int(c.created)),
                ("delivered", Int(c.delivered)),
                ("delivery_prob", Real(c.delivery_prob)),
                ("latency_avg", Real(c.latency_avg)),
                ("latency_med", Real(c.latency_med)),
                ("latency_p95", Real(c.latency_p95)),
                ("hopcount_avg", Real(c.hopcount_avg)),
            ];
            out.extend(
                rows.into_iter()
                    .map(|(n, v)| (format!("{}_{n}", c.class), v, show)),
            );
        }
        let a = &self.alerts;
        let show = a.created > 0;
        let rows = [
            ("alerts_created", Int(a.created)),
            ("alert_expected", Int(a.expected)),
            ("alert_deliveries", Int(a.deliveries)),
            ("alert_delivery_prob", Real(a.delivery_prob)),
            ("alert_latency_avg", Real(a.latency_avg)),
            ("alert_latency_p95", Real(a.latency_p95)),
        ];
        out.extend(rows.into_iter().map(|(n, v)| (n.to_owned(), v, show)));
        out
    }

    /// Every numeric field by name (`None` where the value does not exist), for aggregating
    /// many runs.
    pub fn numbers(&self) -> Vec<(String, Option<f64>)> {
        self.cells()
            .into_iter()
            .filter_map(|(name, cell, _)| match cell {
                Cell::Int(v) => Some((name, Some(v as f64))),
                Cell::Real(v) => Some((name, v)),
                Cell::Text(_) => None,
            })
            .filter(|(name, _)| !matches!(name.as_str(), "seed" | "hosts" | "sim_time" | "warmup"))
            .collect()
    }

    /// A readable two-column table (empty values shown as `n/a`).
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (name, cell, show) in self.cells() {
            if !show {
                continue;
            }
            let v = cell.render();
            let v = if v.is_empty() { "n/a".to_owned() } else { v };
            let _ = writeln!(out, "{name:<24} {v}");
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
        let header: Vec<&str> = cells.iter().map(|(n, _, _)| n.as_str()).collect();
        let values: Vec<String> = cells
            .iter()
            .map(|(_, c, _)| csv_field(&c.render()))
            .collect();
        format!("{}\n{}\n", header.join(","), values.join(","))
    }
}

impl Report {
    /// The samples as CSV: one header line, one line per sample.
    pub fn samples_csv(&self) -> String {
        let mut out =
            String::from("time,stored_bundles,stored_bytes,max_host_bytes,created,delivered\n");
        for s in &self.samples {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                s.time, s.stored_bundles, s.stored_bytes, s.max_host_bytes, s.created, s.delivered
            );
        }
        out
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
        m.delivery(10.0, 2, 2);
        m.delivery(20.0, 3, 0);
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
        assert!(r.table().contains("overhead_ratio           n/a"));
    }

    #[test]
    fn deliveries_are_broken_down_by_class() {
        let mut m = Metrics::default();
        m.creation(0);
        m.creation(0);
        m.creation(3);
        m.delivery(4.0, 1, 0);
        let r = m.report(info());
        assert_eq!(r.classes[0].class, "emergency");
        assert_eq!(r.classes[0].delivery_prob, Some(0.5));
        assert_eq!(r.classes[0].latency_p95, Some(4.0));
        assert_eq!(r.classes[3].delivery_prob, Some(0.0));
        assert_eq!(r.classes[1].created, 0);
        let table = r.table();
        assert!(table.contains("emergency_delivery_prob  0.5000"), "{table}");
        assert!(
            !table.contains("high_created"),
            "classes without messages stay out"
        );
        assert!(r.csv().contains("high_created"), "CSV keeps every column");
    }

    #[test]
    fn alerts_count_each_recipient_and_occupancy_its_peak() {
        let mut m = Metrics::default();
        m.alert_creation(4);
        m.alert_delivery(2.0);
        m.alert_delivery(6.0);
        for (t, bytes) in [(0.0, 10), (1.0, 30), (2.0, 20)] {
            m.sample(Sample {
                time: t,
                stored_bundles: 1,
                stored_bytes: bytes,
                max_host_bytes: bytes,
                created: 0,
                delivered: 0,
            });
        }
        let r = m.report(info());
        assert_eq!(r.alerts.delivery_prob, Some(0.5));
        assert_eq!(r.alerts.latency_avg, Some(4.0));
        assert_eq!(r.occupancy_peak_bytes, 30);
        assert_eq!(r.occupancy_avg_bytes, Some(20.0));
        assert!(r.json().contains("\"samples\""));
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
