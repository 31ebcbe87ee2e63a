//! The JSON view that `tern bundle inspect` prints: every field of every block, typed.
//!
//! The view is built from a decoded [`Bundle`], so everything it shows has passed the codec's
//! checks — in particular every CRC was verified (decoding fails on a mismatch), which is why a
//! block's `crc` says `"verified": true` rather than carrying a verdict of its own. Field order
//! follows the wire order of RFC 9171 §4.3, so the output reads like the bundle.
//!
//! Numbers appear raw (for scripts) next to a readable form (for people): flags as bits and
//! names, times as DTN milliseconds and UTC, lifetimes as milliseconds and a duration.

use std::io::{self, Write};
use std::time::Duration;

use proto::wire::admin::{AdminRecord, RECORD_TYPE_STATUS_REPORT, StatusAssertion, StatusReport};
use proto::wire::{
    BlockBody, BlockFlags, Bundle, BundleFlags, CanonicalBlock, CrcType, CreationTimestamp, DtnTime,
};
use serde::Serialize;

/// How many bytes of a payload or an unknown block's data are shown as hex.
pub const PREVIEW_LEN: usize = 64;

/// Writes the pretty-printed JSON view of `bundle`, whose encoding was `size` bytes long.
pub fn write_json(out: &mut dyn Write, bundle: &Bundle, size: usize) -> io::Result<()> {
    let view = BundleView::new(bundle, size);
    serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Renders a UTC instant given in milliseconds since the Unix epoch as ISO 8601
/// (`2023-12-04T10:13:20.000Z`). Years past 9999 get a `+` sign (ISO 8601 expanded form), so a
/// garbage creation time from a peer still prints rather than failing.
pub fn utc_iso8601(unix_ms: u64) -> String {
    let days = unix_ms / 86_400_000;
    let ms_of_day = unix_ms % 86_400_000;
    let (year, month, day) = civil_from_days(days);
    let sign = if year > 9999 { "+" } else { "" };
    format!(
        "{sign}{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    )
}

/// Year, month (1–12) and day (1–31) of the proleptic Gregorian calendar, `days` after
/// 1970-01-01. The calendar repeats every 400 years (146,097 days); counting from 0000-03-01
/// puts the leap day last in each year, so month lengths follow a fixed 153-days-per-5-months
/// pattern and no table is needed.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    // Leap years every 4 years, except every 100, except every 400 (the last day of an era).
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 = March … 11 = February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[derive(Debug, Serialize)]
struct BundleView {
    /// Encoded size of the whole bundle in bytes.
    size: usize,
    primary: PrimaryView,
    /// Canonical blocks in wire order (the payload block last).
    blocks: Vec<BlockView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_record: Option<AdminView>,
}

#[derive(Debug, Serialize)]
struct PrimaryView {
    version: u64,
    flags: FlagsView,
    crc: CrcView,
    destination: String,
    source: String,
    report_to: String,
    creation: CreationView,
    lifetime: LifetimeView,
    /// Creation time plus lifetime, or null when the creation time is unknown (0).
    expires_utc: Option<String>,
    /// Present only for fragments (RFC 9171 §4.3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    fragment: Option<FragmentView>,
}

#[derive(Debug, Serialize)]
struct FlagsView {
    bits: u64,
    names: Vec<String>,
}

#[derive(Debug, Serialize)]
struct CrcView {
    #[serde(rename = "type")]
    name: &'static str,
    code: u64,
    /// Absent for CRC type none: there was nothing to verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
}

#[derive(Debug, Serialize)]
struct CreationView {
    time_ms: u64,
    sequence: u64,
    /// Null when the time is 0: the source had no accurate clock (RFC 9171 §4.2.7).
    utc: Option<String>,
}

#[derive(Debug, Serialize)]
struct LifetimeView {
    ms: u64,
    human: String,
}

#[derive(Debug, Serialize)]
struct FragmentView {
    offset: u64,
    total_adu_length: u64,
}

#[derive(Debug, Serialize)]
struct BlockView {
    number: u64,
    #[serde(rename = "type")]
    block_type: TypeView,
    flags: FlagsView,
    crc: CrcView,
    #[serde(flatten)]
    content: ContentView,
}

#[derive(Debug, Serialize)]
struct TypeView {
    code: u64,
    name: &'static str,
}

/// A block's typed content; serialised as one field named for the content.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum ContentView {
    Payload(DataView),
    PreviousNode(String),
    BundleAgeMs(u64),
    HopCount {
        limit: u64,
        count: u64,
    },
    /// A block type tern does not interpret (BPSec blocks included): its raw data.
    Data(DataView),
}

#[derive(Debug, Serialize)]
struct DataView {
    length: usize,
    /// The first [`PREVIEW_LEN`] bytes.
    hex: String,
    truncated: bool,
    /// The previewed bytes as text, when they are valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl BundleView {
    fn new(bundle: &Bundle, size: usize) -> Self {
        Self {
            size,
            primary: PrimaryView::new(bundle),
            blocks: bundle.blocks().iter().map(BlockView::new).collect(),
            admin_record: admin_record(bundle),
        }
    }
}

impl PrimaryView {
    fn new(bundle: &Bundle) -> Self {
        let p = bundle.primary();
        let known_time = p.creation.time != DtnTime(0);
        Self {
            version: proto::wire::BP_VERSION,
            flags: bundle_flags(p.flags),
            crc: CrcView::new(p.crc),
            destination: p.destination.to_string(),
            source: p.source.to_string(),
            report_to: p.report_to.to_string(),
            creation: CreationView::new(p.creation),
            lifetime: LifetimeView {
                ms: p.lifetime_ms,
                human: humantime::format_duration(Duration::from_millis(p.lifetime_ms)).to_string(),
            },
            expires_utc: known_time
                .then(|| utc_iso8601(p.creation.time.to_unix_ms().saturating_add(p.lifetime_ms))),
            fragment: p.fragment.map(|f| FragmentView {
                offset: f.offset,
                total_adu_length: f.total_adu_length,
            }),
        }
    }
}

impl CreationView {
    fn new(c: CreationTimestamp) -> Self {
        Self {
            time_ms: c.time.millis(),
            sequence: c.sequence,
            utc: (c.time != DtnTime(0)).then(|| utc_iso8601(c.time.to_unix_ms())),
        }
    }
}

impl BlockView {
    fn new(block: &CanonicalBlock) -> Self {
        let t = block.block_type();
        let content = match &block.body {
            BlockBody::Payload(data) => ContentView::Payload(DataView::new(data, true)),
            BlockBody::PreviousNode(eid) => ContentView::PreviousNode(eid.to_string()),
            BlockBody::BundleAge(ms) => ContentView::BundleAgeMs(*ms),
            BlockBody::HopCount(h) => ContentView::HopCount {
                limit: h.limit,
                count: h.count,
            },
            BlockBody::Other { data, .. } => ContentView::Data(DataView::new(data, false)),
        };
        Self {
            number: block.number,
            block_type: TypeView {
                code: t.0,
                name: t.name().unwrap_or("unknown"),
            },
            flags: block_flags(block.flags),
            crc: CrcView::new(block.crc),
            content,
        }
    }
}

impl CrcView {
    fn new(crc: CrcType) -> Self {
        Self {
            name: crc.name(),
            code: crc.code(),
            // Decoding verified it, or the bundle would not exist.
            verified: (crc != CrcType::None).then_some(true),
        }
    }
}

impl DataView {
    fn new(data: &[u8], with_text: bool) -> Self {
        let shown = &data[..data.len().min(PREVIEW_LEN)];
        Self {
            length: data.len(),
            hex: hex::encode(shown),
            truncated: shown.len() < data.len(),
            text: if with_text {
                std::str::from_utf8(shown).ok().map(str::to_owned)
            } else {
                None
            },
        }
    }
}

fn bundle_flags(flags: BundleFlags) -> FlagsView {
    FlagsView {
        bits: flags.bits(),
        names: flags.names(),
    }
}

fn block_flags(flags: BlockFlags) -> FlagsView {
    FlagsView {
        bits: flags.bits(),
        names: flags.names(),
    }
}

/// The administrative record view of a bundle flagged as carrying one (RFC 9171 §6.1), or
/// `None` for ordinary bundles. A payload that does not decode is shown as the error, not
/// refused: the bundle itself is valid, and seeing why its record is not is the point.
fn admin_record(bundle: &Bundle) -> Option<AdminView> {
    if !bundle.primary().flags.contains(BundleFlags::ADMIN_RECORD) {
        return None;
    }
    let view = match AdminRecord::decode(bundle.payload()) {
        Ok(AdminRecord::StatusReport(report)) => AdminView::status_report(&report),
        Ok(other) => AdminView::Error {
            error: format!("record not shown by this version of tern: {other:?}"),
        },
        Err(e) => AdminView::Error {
            error: format!("invalid administrative record: payload {e}"),
        },
    };
    Some(view)
}

/// A decoded administrative record, or why the payload is not one.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum AdminView {
    /// Record type 1 (RFC 9171 §6.1.1); boxed, being far larger than an error.
    StatusReport(Box<StatusReportView>),
    Error {
        error: String,
    },
}

#[derive(Debug, Serialize)]
struct StatusReportView {
    record_type: u64,
    kind: &'static str,
    received: AssertionView,
    forwarded: AssertionView,
    delivered: AssertionView,
    deleted: AssertionView,
    reason: ReasonView,
    /// The bundle the report is about.
    subject: SubjectView,
}

#[derive(Debug, Serialize)]
struct AssertionView {
    asserted: bool,
    /// Present only when the subject asked for status times.
    #[serde(skip_serializing_if = "Option::is_none")]
    time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    utc: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReasonView {
    code: u64,
    name: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct SubjectView {
    source: String,
    creation: CreationView,
    #[serde(skip_serializing_if = "Option::is_none")]
    fragment: Option<SubjectFragmentView>,
}

#[derive(Debug, Serialize)]
struct SubjectFragmentView {
    offset: u64,
    length: u64,
}

impl AdminView {
    fn status_report(r: &StatusReport) -> Self {
        Self::StatusReport(Box::new(StatusReportView {
            record_type: RECORD_TYPE_STATUS_REPORT,
            kind: "bundle status report",
            received: AssertionView::new(r.received),
            forwarded: AssertionView::new(r.forwarded),
            delivered: AssertionView::new(r.delivered),
            deleted: AssertionView::new(r.deleted),
            reason: ReasonView {
                code: r.reason.code(),
                name: r.reason.name(),
            },
            subject: SubjectView {
                source: r.source.to_string(),
                creation: CreationView::new(r.creation),
                fragment: r
                    .fragment
                    .map(|(offset, length)| SubjectFragmentView { offset, length }),
            },
        }))
    }
}

impl AssertionView {
    fn new(a: StatusAssertion) -> Self {
        let time = a.time();
        Self {
            asserted: a.is_asserted(),
            time_ms: time.map(DtnTime::millis),
            utc: time.map(|t| utc_iso8601(t.to_unix_ms())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use bytes::Bytes;
    use proto::wire::{BundleBuilder, Eid};
    use serde_json::Value;

    use super::*;

    fn sample(crc: CrcType, payload: &'static [u8]) -> Bundle {
        BundleBuilder::new(
            "dtn://node1/".parse().unwrap(),
            "ipn:2.1".parse::<Eid>().unwrap(),
            CreationTimestamp::new(DtnTime(755_000_000_000), 3),
            3_600_000,
        )
        .crc(crc)
        .hop_limit(30)
        .payload(Bytes::from_static(payload))
        .build()
        .unwrap()
    }

    fn render(bundle: &Bundle) -> Value {
        let mut out = Vec::new();
        write_json(&mut out, bundle, 99).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn dtn_epoch_renders_as_midnight_2000() {
        assert_eq!(
            utc_iso8601(DtnTime(0).to_unix_ms()),
            "2000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn utc_rendering_handles_leap_days_and_milliseconds() {
        assert_eq!(utc_iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc_iso8601(1_701_684_800_000), "2023-12-04T10:13:20.000Z");
        assert_eq!(utc_iso8601(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn far_future_years_get_the_expanded_sign() {
        assert!(utc_iso8601(u64::MAX).starts_with('+'));
    }

    #[test]
    fn primary_block_fields_are_all_shown() {
        let v = render(&sample(CrcType::Crc32c, b"hi"));
        let p = &v["primary"];
        assert_eq!(v["size"], 99);
        assert_eq!(p["version"], 7);
        assert_eq!(p["destination"], "ipn:2.1");
        assert_eq!(p["source"], "dtn://node1/");
        assert_eq!(p["report_to"], "dtn://node1/");
        assert_eq!(p["crc"]["type"], "CRC-32C");
        assert_eq!(p["crc"]["verified"], true);
        assert_eq!(p["creation"]["time_ms"], 755_000_000_000_u64);
        assert_eq!(p["creation"]["sequence"], 3);
        assert_eq!(p["creation"]["utc"], "2023-12-04T10:13:20.000Z");
        assert_eq!(p["lifetime"]["ms"], 3_600_000);
        assert_eq!(p["lifetime"]["human"], "1h");
        assert_eq!(p["expires_utc"], "2023-12-04T11:13:20.000Z");
        assert!(p.get("fragment").is_none());
    }

    #[test]
    fn crc_none_is_shown_without_a_verdict() {
        let v = render(&sample(CrcType::None, b"hi"));
        assert_eq!(v["primary"]["crc"]["type"], "none");
        assert!(v["primary"]["crc"].get("verified").is_none());
    }

    #[test]
    fn extension_and_payload_blocks_show_typed_content() {
        let v = render(&sample(CrcType::Crc16, b"Hello, DTN!"));
        let hop = &v["blocks"][0];
        assert_eq!(hop["number"], 2);
        assert_eq!(hop["type"]["code"], 10);
        assert_eq!(hop["type"]["name"], "hop count");
        assert_eq!(hop["crc"]["type"], "CRC-16/X.25");
        assert_eq!(hop["hop_count"]["limit"], 30);
        assert_eq!(hop["hop_count"]["count"], 0);
        let payload = &v["blocks"][1];
        assert_eq!(payload["number"], 1);
        assert_eq!(payload["payload"]["length"], 11);
        assert_eq!(payload["payload"]["text"], "Hello, DTN!");
        assert_eq!(payload["payload"]["truncated"], false);
    }

    #[test]
    fn long_payload_preview_is_truncated() {
        let v = render(&sample(CrcType::None, &[0xab; 100]));
        let data = &v["blocks"][1]["payload"];
        assert_eq!(data["length"], 100);
        assert_eq!(data["hex"], "ab".repeat(PREVIEW_LEN));
        assert_eq!(data["truncated"], true);
        assert!(data.get("text").is_none());
    }

    #[test]
    fn flags_show_bits_and_names() {
        let b = BundleBuilder::new(
            Eid::Null,
            "ipn:5.1".parse().unwrap(),
            CreationTimestamp::new(DtnTime(1), 0),
            1000,
        )
        .build()
        .unwrap();
        let v = render(&b);
        assert_eq!(v["primary"]["flags"]["bits"], 4);
        assert_eq!(v["primary"]["flags"]["names"][0], "must_not_fragment");
        assert_eq!(v["primary"]["source"], "dtn:none");
    }

    #[test]
    fn unknown_creation_time_has_no_utc() {
        let b = BundleBuilder::new(
            "ipn:1.1".parse().unwrap(),
            "ipn:5.1".parse().unwrap(),
            CreationTimestamp::default(),
            1000,
        )
        .bundle_age(5)
        .build()
        .unwrap();
        let v = render(&b);
        assert_eq!(v["primary"]["creation"]["utc"], Value::Null);
        assert_eq!(v["primary"]["expires_utc"], Value::Null);
        assert_eq!(v["blocks"][0]["bundle_age_ms"], 5);
    }

    /// `selfgen-status-report-received` from the BPv7 vectors: "received" for ipn:2.1's bundle
    /// created at [0, 40], reason 0.
    const STATUS_REPORT_HEX: &str = "9f8907020182028202018202820100820100821b000000afc981be00001a\
        05265c0042010b8501010000568201848481f581f481f481f400820282020182001828ff";

    #[test]
    fn status_report_payload_is_decoded() {
        let b = Bundle::decode(Bytes::from(hex::decode(STATUS_REPORT_HEX).unwrap())).unwrap();
        let v = render(&b);
        let rec = &v["admin_record"];
        assert_eq!(rec["record_type"], 1);
        assert_eq!(rec["received"]["asserted"], true);
        assert!(rec["received"].get("time_ms").is_none());
        assert_eq!(rec["deleted"]["asserted"], false);
        assert_eq!(rec["reason"]["code"], 0);
        assert_eq!(rec["reason"]["name"], "no additional information");
        assert_eq!(rec["subject"]["source"], "ipn:2.1");
        assert_eq!(rec["subject"]["creation"]["time_ms"], 0);
        assert_eq!(rec["subject"]["creation"]["sequence"], 40);
    }

    #[test]
    fn ordinary_bundle_has_no_admin_record() {
        let v = render(&sample(CrcType::None, b"hi"));
        assert!(v.get("admin_record").is_none());
    }

    #[test]
    fn undecodable_admin_record_is_shown_as_its_error() {
        let b = BundleBuilder::new(
            "ipn:1.0".parse().unwrap(),
            "ipn:2.1".parse().unwrap(),
            CreationTimestamp::new(DtnTime(1), 0),
            1000,
        )
        .flags(BundleFlags::ADMIN_RECORD)
        .payload(Bytes::from_static(b"\x82\x01"))
        .build()
        .unwrap();
        let v = render(&b);
        let error = v["admin_record"]["error"].as_str().unwrap();
        assert!(
            error.starts_with("invalid administrative record: payload at byte 2: "),
            "{error}"
        );
    }
}
