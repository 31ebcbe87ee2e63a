//! `tern peers`, `tern status`, `tern bundles`: what a running node is doing, for operators.
//!
//! Human tables by default; `--json` prints the API's JSON unchanged for scripts. The
//! `render_*` functions are pure, so the tables are tested without a node.

use std::io::Write;

use super::client::{ApiArgs, ApiClient, ClientError};
use crate::api::json::{BundleJson, PeerJson, StatusJson};

/// Arguments shared by the three commands.
#[derive(Debug, Clone, clap::Args)]
pub struct InfoArgs {
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Where the node's API is.
    pub api: ApiArgs,
}

/// Which view to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoView {
    /// Links up now.
    Peers,
    /// Node status and counters.
    Status,
    /// Stored bundles.
    Bundles,
}

/// Runs `tern peers`, `tern status` or `tern bundles`.
pub fn run(view: InfoView, args: &InfoArgs, out: &mut dyn Write) -> Result<(), ClientError> {
    let client = ApiClient::new(&args.api.api)?;
    let text = match view {
        InfoView::Peers => {
            let peers = client.peers()?;
            if args.json {
                to_json(&peers)
            } else {
                render_peers(&peers)
            }
        }
        InfoView::Status => {
            let status = client.status()?;
            if args.json {
                to_json(&status)
            } else {
                render_status(&status)
            }
        }
        InfoView::Bundles => {
            let bundles = client.bundles()?;
            if args.json {
                to_json(&bundles)
            } else {
                render_bundles(&bundles)
            }
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(ClientError::io("stdout"))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing the API's own types to JSON cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The links table.
pub fn render_peers(peers: &[PeerJson]) -> String {
    if peers.is_empty() {
        return "no links up\n".to_owned();
    }
    let rows = peers
        .iter()
        .map(|p| {
            vec![
                p.link.to_string(),
                p.node_id.clone().unwrap_or_else(|| "?".to_owned()),
                p.address.clone(),
                p.cla.clone(),
                p.in_flight.to_string(),
            ]
        })
        .collect();
    table(&["LINK", "PEER", "ADDRESS", "CLA", "IN FLIGHT"], rows)
}

/// The status summary: identity, storage, links, then every counter.
pub fn render_status(s: &StatusJson) -> String {
    let registrations = if s.registrations.is_empty() {
        "none".to_owned()
    } else {
        s.registrations.join(", ")
    };
    let c = &s.counters;
    let lines = [
        ("node", s.node_id.clone()),
        ("router", s.router.clone()),
        ("uptime", uptime(s.uptime_secs)),
        (
            "stored",
            format!("{} bundles, {}", s.bundles, size(s.stored_bytes)),
        ),
        ("links up", s.links.to_string()),
        ("registrations", registrations),
        ("received", c.received.to_string()),
        ("admitted", c.admitted.to_string()),
        ("refused (duplicate)", c.refused_duplicate.to_string()),
        ("refused (storage)", c.refused_storage.to_string()),
        ("refused (invalid)", c.refused_invalid.to_string()),
        ("submitted", c.submitted.to_string()),
        ("forwarded", c.forwarded.to_string()),
        ("forward failed", c.forward_failed.to_string()),
        ("delivered", c.delivered.to_string()),
        ("expired", c.expired.to_string()),
        ("evicted", c.evicted.to_string()),
    ];
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// The stored-bundles table, in admission order.
pub fn render_bundles(bundles: &[BundleJson]) -> String {
    if bundles.is_empty() {
        return "no bundles stored\n".to_owned();
    }
    let rows = bundles
        .iter()
        .map(|b| {
            vec![
                b.key.to_string(),
                b.source.clone(),
                b.destination.clone(),
                b.priority.clone(),
                b.creation
                    .date
                    .clone()
                    .unwrap_or_else(|| format!("no clock #{}", b.creation.sequence)),
                size(b.size),
                b.expires_date.clone().unwrap_or_else(|| "-".to_owned()),
                if b.durable { "stored" } else { "writing" }.to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "KEY",
            "SOURCE",
            "DESTINATION",
            "CLASS",
            "CREATED",
            "SIZE",
            "EXPIRES",
            "STATE",
        ],
        rows,
    )
}

/// Left-aligned columns two spaces apart, the last one unpadded.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Bytes in binary units, one decimal.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Seconds as `2d 3h 4m 5s`, largest unit first, zero units left out.
fn uptime(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_owned();
    }
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::json::{CountersJson, CreationJson};

    #[test]
    fn peers_table_aligns_columns() {
        let peers = vec![PeerJson {
            link: 3,
            node_id: Some("dtn://van-3/".into()),
            address: "10.0.0.3:4556".into(),
            cla: "tcpcl".into(),
            in_flight: 2,
        }];
        assert_eq!(
            render_peers(&peers),
            "LINK  PEER          ADDRESS        CLA    IN FLIGHT\n\
             3     dtn://van-3/  10.0.0.3:4556  tcpcl  2\n"
        );
    }

    #[test]
    fn empty_lists_say_so() {
        assert_eq!(render_peers(&[]), "no links up\n");
        assert_eq!(render_bundles(&[]), "no bundles stored\n");
    }

    #[test]
    fn bundles_table_shows_class_dates_sizes_and_state() {
        let bundles = vec![BundleJson {
            key: 1,
            source: "dtn://a/".into(),
            destination: "ipn:2.1".into(),
            creation: CreationJson {
                time: 0,
                sequence: 5,
                date: None,
            },
            size: 2048,
            priority: "emergency".into(),
            expires: 0,
            expires_date: None,
            forwarded_to: vec![],
            durable: true,
        }];
        let text = render_bundles(&bundles);
        let row = text.lines().nth(1).unwrap_or_default();
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            [
                "1",
                "dtn://a/",
                "ipn:2.1",
                "emergency",
                "no clock #5",
                "2.0 KiB",
                "-",
                "stored"
            ]
        );
    }

    #[test]
    fn status_lists_identity_storage_and_counters() {
        let status = StatusJson {
            node_id: "dtn://a/".into(),
            router: "epidemic".into(),
            bundles: 2,
            stored_bytes: 1536,
            links: 0,
            registrations: vec![],
            uptime_secs: 3_725,
            counters: CountersJson {
                submitted: 7,
                ..CountersJson::default()
            },
        };
        let text = render_status(&status);
        assert!(
            text.starts_with("node                 dtn://a/\n"),
            "{text}"
        );
        assert!(text.contains("uptime               1h 2m 5s\n"), "{text}");
        assert!(
            text.contains("stored               2 bundles, 1.5 KiB\n"),
            "{text}"
        );
        assert!(text.contains("registrations        none\n"), "{text}");
        assert!(text.contains("submitted            7\n"), "{text}");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
    }
}
