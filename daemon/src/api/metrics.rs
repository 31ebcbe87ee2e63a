//! `GET /metrics`: the node's counters and gauges in the Prometheus text exposition format
//! (version 0.0.4), so community mesh operators can graph a fleet with the tools they have.
//!
//! Counters restart at zero with the node; Prometheus's `rate()` and `increase()` handle that.
//! Every name starts with `tern_`; counters end in `_total` as the format's conventions ask.

use std::fmt::Write as _;

use super::json::StatusJson;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `status` as Prometheus text.
pub fn render(status: &StatusJson) -> String {
    let c = &status.counters;
    let counters: [(&str, &str, u64); 11] = [
        (
            "tern_bundles_received_total",
            "Bundles received from peers, valid or not.",
            c.received,
        ),
        (
            "tern_bundles_admitted_total",
            "Received bundles admitted to storage.",
            c.admitted,
        ),
        (
            "tern_bundles_refused_duplicate_total",
            "Received bundles refused as duplicates.",
            c.refused_duplicate,
        ),
        (
            "tern_bundles_refused_storage_total",
            "Received bundles refused for lack of storage.",
            c.refused_storage,
        ),
        (
            "tern_bundles_refused_invalid_total",
            "Received bundles refused as invalid (malformed, too large, expired, hop limit).",
            c.refused_invalid,
        ),
        (
            "tern_bundles_submitted_total",
            "Bundles submitted by local applications, status reports included.",
            c.submitted,
        ),
        (
            "tern_bundles_forwarded_total",
            "Transmissions a peer accepted.",
            c.forwarded,
        ),
        (
            "tern_bundles_forward_failed_total",
            "Transmissions that failed or were refused.",
            c.forward_failed,
        ),
        (
            "tern_bundles_delivered_total",
            "Deliveries to local applications.",
            c.delivered,
        ),
        (
            "tern_bundles_expired_total",
            "Bundles whose lifetime ended on this node.",
            c.expired,
        ),
        (
            "tern_bundles_evicted_total",
            "Relay copies evicted to make room for this node's own or incoming-for-it bundles.",
            c.evicted,
        ),
    ];
    let gauges: [(&str, &str, u64); 5] = [
        (
            "tern_stored_bundles",
            "Bundles in storage now.",
            status.bundles as u64,
        ),
        (
            "tern_stored_bytes",
            "Encoded bytes of the bundles in storage now.",
            status.stored_bytes,
        ),
        (
            "tern_links_up",
            "Convergence-layer links up now.",
            status.links as u64,
        ),
        (
            "tern_registrations",
            "Endpoints registered by local applications.",
            status.registrations.len() as u64,
        ),
        (
            "tern_uptime_seconds",
            "Seconds since the node started.",
            status.uptime_secs,
        ),
    ];
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP tern_node_info The node's identity; always 1.");
    let _ = writeln!(out, "# TYPE tern_node_info gauge");
    let _ = writeln!(
        out,
        "tern_node_info{{node_id=\"{}\",router=\"{}\"}} 1",
        escape_label(&status.node_id),
        escape_label(&status.router)
    );
    for (kind, list) in [("counter", &counters[..]), ("gauge", &gauges[..])] {
        for (name, help, value) in list {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
    }
    out
}

/// Escapes a label value: backslash, double quote and newline are the only special characters
/// in the text format.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;
    use crate::api::json::CountersJson;

    fn status() -> StatusJson {
        StatusJson {
            node_id: "dtn://van-3/".into(),
            router: "epidemic".into(),
            bundles: 2,
            stored_bytes: 300,
            links: 1,
            registrations: vec!["dtn://van-3/app".into()],
            uptime_secs: 42,
            counters: CountersJson {
                submitted: 5,
                ..CountersJson::default()
            },
        }
    }

    #[test]
    fn every_sample_has_help_and_type_before_it() {
        let text = render(&status());
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                lines[i - 2].starts_with(&format!("# HELP {name} ")),
                "{line}"
            );
            let kind = lines[i - 1]
                .strip_prefix(&format!("# TYPE {name} "))
                .unwrap();
            assert!(kind == "counter" || kind == "gauge", "{line}: {kind}");
        }
    }

    #[test]
    fn counters_and_gauges_carry_the_status_values() {
        let text = render(&status());
        assert!(
            text.contains("\ntern_bundles_submitted_total 5\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE tern_bundles_submitted_total counter\n"));
        assert!(text.contains("\ntern_stored_bytes 300\n"));
        assert!(text.contains("# TYPE tern_stored_bytes gauge\n"));
        assert!(text.contains("\ntern_registrations 1\n"));
        assert!(text.contains("tern_node_info{node_id=\"dtn://van-3/\",router=\"epidemic\"} 1\n"));
    }

    #[test]
    fn label_values_escape_quotes_backslashes_and_newlines() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
