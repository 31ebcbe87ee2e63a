//! The local API's JSON documents: what applications send, what the node answers.
//!
//! These types are the API's contract, kept apart from the driver's internal views so the driver
//! can change without breaking scripts. Each derives both `Serialize` and `Deserialize`: the API
//! writes them and `tern`'s own client ([`crate::cli::client`]) reads them back, so the two can
//! never disagree on a field name.
//!
//! Endpoint IDs travel as URI text (`dtn://node/app`, `ipn:2.1`); times as DTN time (milliseconds
//! since 2000-01-01, RFC 9171 §4.2.6) with an RFC 3339 `date` beside them for people.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use proto::node::{BundleSummary, Submit};
use proto::wire::{BundleFlags, CrcType, CreationTimestamp, DtnTime, Eid};
use serde::{Deserialize, Serialize};

use crate::driver::{PeerView, StatusView};
use crate::store::MailboxRecord;

/// Lifetime of a submitted bundle when the request names none: a day, long enough to wait for
/// the next contact in a typical field deployment, short enough not to clog stores for weeks.
pub const DEFAULT_LIFETIME_MS: u64 = 24 * 3_600_000;

/// A refused request field: which one, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The field (or query parameter), as the client spelled it.
    pub field: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

impl FieldError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// `POST /api/v1/bundles`: a bundle to send. As a JSON body, or — with a raw
/// `application/octet-stream` body holding the payload — as query parameters of the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Destination endpoint.
    pub destination: String,
    /// Payload as UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Payload as standard base64, for binary data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// Lifetime as a human duration (`90s`, `1h`, `2d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<String>,
    /// Lifetime in milliseconds (instead of `lifetime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_ms: Option<u64>,
    /// Source endpoint on this node; the node ID if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where status reports go; none if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_to: Option<String>,
    /// Hop limit, 1–255 (RFC 9171 §4.4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_limit: Option<u64>,
    /// CRC of every block: `none`, `16` or `32c` (default `32c`, RFC 9171 §4.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc: Option<String>,
    /// Priority class: `emergency`, `high`, `normal` (default) or `bulk`. Decides the order in
    /// which contacts carry bundles and which are evicted first when storage runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Forbid fragmenting the bundle.
    #[serde(default, skip_serializing_if = "is_false")]
    pub must_not_fragment: bool,
    /// Ask for a status report on reception (RFC 9171 §4.2.3).
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_reception_report: bool,
    /// Ask for a status report on forwarding.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_forwarding_report: bool,
    /// Ask for a status report on delivery.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_delivery_report: bool,
    /// Ask for a status report on deletion.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_deletion_report: bool,
    /// Ask that status reports carry the time of the event.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_status_time: bool,
    /// Ask the destination application to acknowledge receipt.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_app_ack: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl SubmitRequest {
    /// The engine's submission. `body` is the raw payload of an `application/octet-stream`
    /// request (then neither `payload` field may be set); `None` for a JSON request.
    pub fn to_submit(&self, body: Option<Bytes>) -> Result<Submit, FieldError> {
        let destination = parse_eid("destination", &self.destination)?;
        let payload = self.payload_bytes(body)?;
        let mut submit = Submit::new(destination, payload);
        submit.lifetime_ms = self.lifetime_ms()?;
        submit.source = self
            .source
            .as_deref()
            .map(|s| parse_eid("source", s))
            .transpose()?;
        submit.report_to = self
            .report_to
            .as_deref()
            .map(|s| parse_eid("report_to", s))
            .transpose()?;
        submit.hop_limit = match self.hop_limit {
            None => None,
            Some(n @ 1..=255) => u8::try_from(n).ok(),
            Some(n) => {
                return Err(FieldError::new(
                    "hop_limit",
                    format!("{n} is out of range: a hop limit is 1 to 255 (RFC 9171 §4.4.3)"),
                ));
            }
        };
        if let Some(crc) = &self.crc {
            submit.crc = parse_crc(crc)?;
        }
        if let Some(priority) = &self.priority {
            submit.priority = priority.parse().map_err(|_| {
                FieldError::new(
                    "priority",
                    format!("'{priority}' is not a class: use emergency, high, normal or bulk"),
                )
            })?;
        }
        submit.flags = self.flags();
        Ok(submit)
    }

    fn payload_bytes(&self, body: Option<Bytes>) -> Result<Bytes, FieldError> {
        match (body, &self.payload, &self.payload_base64) {
            (Some(_), Some(_), _) => Err(FieldError::new(
                "payload",
                "the request body is the payload; do not also give a payload parameter",
            )),
            (Some(_), None, Some(_)) => Err(FieldError::new(
                "payload_base64",
                "the request body is the payload; do not also give payload_base64",
            )),
            (Some(body), None, None) => Ok(body),
            (None, Some(_), Some(_)) => Err(FieldError::new(
                "payload",
                "give either payload (text) or payload_base64 (binary), not both",
            )),
            (None, Some(text), None) => Ok(Bytes::from(text.clone().into_bytes())),
            (None, None, Some(b64)) => BASE64
                .decode(b64.trim())
                .map(Bytes::from)
                .map_err(|e| FieldError::new("payload_base64", format!("not base64: {e}"))),
            (None, None, None) => Ok(Bytes::new()),
        }
    }

    fn lifetime_ms(&self) -> Result<u64, FieldError> {
        match (&self.lifetime, self.lifetime_ms) {
            (Some(_), Some(_)) => Err(FieldError::new(
                "lifetime",
                "give either lifetime (e.g. \"1h\") or lifetime_ms, not both",
            )),
            (Some(text), None) => crate::cli::bundle::parse_lifetime(text)
                .map_err(|reason| FieldError::new("lifetime", reason)),
            (None, Some(0)) => Err(FieldError::new(
                "lifetime_ms",
                "must be greater than zero: the bundle would expire on creation",
            )),
            (None, Some(ms)) => Ok(ms),
            (None, None) => Ok(DEFAULT_LIFETIME_MS),
        }
    }

    /// The bundle processing control flags asked for (RFC 9171 §4.2.3).
    pub fn flags(&self) -> BundleFlags {
        [
            (self.must_not_fragment, BundleFlags::MUST_NOT_FRAGMENT),
            (self.request_reception_report, BundleFlags::REPORT_RECEPTION),
            (
                self.request_forwarding_report,
                BundleFlags::REPORT_FORWARDING,
            ),
            (self.request_delivery_report, BundleFlags::REPORT_DELIVERY),
            (self.request_deletion_report, BundleFlags::REPORT_DELETION),
            (self.request_status_time, BundleFlags::STATUS_TIME_REQUESTED),
            (self.request_app_ack, BundleFlags::APP_ACK_REQUESTED),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(BundleFlags::empty(), |acc, (_, flag)| acc | flag)
    }
}

/// Parses EID text, naming the field in the error.
pub fn parse_eid(field: &'static str, text: &str) -> Result<Eid, FieldError> {
    text.parse()
        .map_err(|e: proto::wire::EidError| FieldError::new(field, e.to_string()))
}

fn parse_crc(text: &str) -> Result<CrcType, FieldError> {
    match text.to_ascii_lowercase().as_str() {
        "none" => Ok(CrcType::None),
        "16" | "crc16" => Ok(CrcType::Crc16),
        "32c" | "crc32c" => Ok(CrcType::Crc32c),
        _ => Err(FieldError::new(
            "crc",
            format!("'{text}' is not a CRC type: write none, 16 or 32c"),
        )),
    }
}

/// The answer to a submission (201 Created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// The node's store key for the bundle.
    pub key: u64,
    /// The bundle's source EID. `None` only if the bundle already left the store (delivered
    /// locally and deleted) before the API could look it up.
    pub source: Option<String>,
    /// The destination EID.
    pub destination: String,
    /// The creation timestamp, which with `source` names the bundle everywhere (RFC 9171
    /// §4.2.7); `None` in the same rare case as `source`.
    pub creation: Option<CreationJson>,
}

/// A creation timestamp (RFC 9171 §4.2.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreationJson {
    /// DTN time in milliseconds; 0 if the source had no accurate clock.
    pub time: u64,
    /// Sequence number among bundles created in the same millisecond.
    pub sequence: u64,
    /// `time` as RFC 3339 UTC, or `None` when the time is unknown (0).
    pub date: Option<String>,
}

impl From<CreationTimestamp> for CreationJson {
    fn from(c: CreationTimestamp) -> Self {
        Self {
            time: c.time.millis(),
            sequence: c.sequence,
            date: date(c.time),
        }
    }
}

/// A DTN time as RFC 3339 UTC text, `None` for 0 ("no accurate clock").
pub fn date(time: DtnTime) -> Option<String> {
    if time.millis() == 0 {
        return None;
    }
    let at = UNIX_EPOCH.checked_add(Duration::from_millis(time.to_unix_ms()))?;
    Some(humantime::format_rfc3339_millis(at).to_string())
}

/// `POST /api/v1/registrations` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The endpoint to receive on: on this node, or a group (`~`) endpoint.
    pub endpoint: String,
}

/// The answer to a registration: 201 if it is new, 200 if it existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The endpoint, normalized.
    pub endpoint: String,
    /// Whether this request created the registration.
    pub created: bool,
    /// Deliveries waiting in its mailbox now.
    pub waiting: usize,
}

/// One delivered bundle, as the mailbox and WebSocket endpoints return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Mailbox sequence number: pass it as `after`, or DELETE it once handled.
    pub seq: u64,
    /// The bundle's source.
    pub source: String,
    /// The bundle's destination.
    pub destination: String,
    /// The bundle's creation timestamp.
    pub creation: CreationJson,
    /// The payload as text, if it is valid UTF-8.
    pub payload: Option<String>,
    /// The payload as standard base64, always.
    pub payload_base64: String,
    /// Whether the payload is an administrative record such as a status report (RFC 9171 §6.1).
    pub admin_record: bool,
}

impl Delivery {
    /// The JSON view of mailbox record `seq`.
    pub fn new(seq: u64, record: &MailboxRecord) -> Self {
        Self {
            seq,
            source: record.source.to_string(),
            destination: record.destination.to_string(),
            creation: record.creation.into(),
            payload: std::str::from_utf8(&record.payload).ok().map(str::to_owned),
            payload_base64: BASE64.encode(&record.payload),
            admin_record: record.admin_record,
        }
    }

    /// The payload's bytes, from whichever field holds them.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match &self.payload {
            Some(text) => Ok(text.clone().into_bytes()),
            None => BASE64.decode(&self.payload_base64),
        }
    }
}

/// A stored bundle, as `GET /api/v1/bundles` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleJson {
    /// Store key.
    pub key: u64,
    /// Source EID.
    pub source: String,
    /// Destination EID.
    pub destination: String,
    /// Creation timestamp.
    pub creation: CreationJson,
    /// Encoded size in bytes.
    pub size: u64,
    /// Priority class (`emergency`, `high`, `normal`, `bulk`): the order contacts carry it in.
    pub priority: String,
    /// Expiry, DTN time in milliseconds.
    pub expires: u64,
    /// Expiry as RFC 3339 UTC (`None` if unknown).
    pub expires_date: Option<String>,
    /// Peers known to hold a copy.
    pub forwarded_to: Vec<String>,
    /// Whether the store has confirmed it durable.
    pub durable: bool,
}

impl From<BundleSummary> for BundleJson {
    fn from(b: BundleSummary) -> Self {
        Self {
            key: b.key.0,
            source: b.source.to_string(),
            destination: b.destination.to_string(),
            creation: b.creation.into(),
            size: b.size,
            priority: b.priority.name().to_owned(),
            expires: b.expires.millis(),
            expires_date: date(b.expires),
            forwarded_to: b.forwarded_to.iter().map(ToString::to_string).collect(),
            durable: b.durable,
        }
    }
}

/// A link that is up, as `GET /api/v1/peers` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerJson {
    /// The driver's link id.
    pub link: u64,
    /// The peer's node ID, if the convergence layer learned it.
    pub node_id: Option<String>,
    /// The peer's address.
    pub address: String,
    /// Convergence layer (`tcpcl`, ...).
    pub cla: String,
    /// Transmissions in flight.
    pub in_flight: usize,
}

impl From<PeerView> for PeerJson {
    fn from(p: PeerView) -> Self {
        Self {
            link: p.link,
            node_id: p.node_id,
            address: p.address,
            cla: p.cla.to_owned(),
            in_flight: p.in_flight,
        }
    }
}

/// `GET /api/v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusJson {
    /// Node ID.
    pub node_id: String,
    /// Routing strategy.
    pub router: String,
    /// Bundles stored.
    pub bundles: usize,
    /// Bytes of bundles stored.
    pub stored_bytes: u64,
    /// Links up.
    pub links: usize,
    /// Registered endpoints.
    pub registrations: Vec<String>,
    /// Seconds since the node started.
    pub uptime_secs: u64,
    /// Running totals since start.
    pub counters: CountersJson,
}

/// Running totals since the node started (they restart at zero with the node): the engine's
/// own record, serialized as is.
pub type CountersJson = proto::node::Counters;

impl From<StatusView> for StatusJson {
    fn from(s: StatusView) -> Self {
        Self {
            node_id: s.node_id,
            router: s.router.to_owned(),
            bundles: s.bundles,
            stored_bytes: s.stored_bytes,
            links: s.links,
            registrations: s.registrations,
            uptime_secs: s.uptime_secs,
            counters: s.counters,
        }
    }
}

/// Every error answer: one line saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorJson {
    /// The message, naming the field or parameter at fault.
    pub error: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    fn request(destination: &str) -> SubmitRequest {
        SubmitRequest {
            destination: destination.to_owned(),
            ..SubmitRequest::default()
        }
    }

    #[test]
    fn bad_destination_names_the_field_and_the_fix() {
        let err = request("dtn://b").to_submit(None).unwrap_err();
        assert_eq!(err.field, "destination");
        assert!(err.to_string().contains("did you mean dtn://b/"), "{err}");
    }

    #[test]
    fn unknown_priority_names_the_field_and_the_classes() {
        let req = SubmitRequest {
            priority: Some("urgent".into()),
            ..request("ipn:2.1")
        };
        let err = req.to_submit(None).unwrap_err();
        assert_eq!(err.field, "priority");
        assert!(
            err.to_string().contains("emergency, high, normal or bulk"),
            "{err}"
        );
    }

    #[test]
    fn defaults_are_a_day_of_lifetime_crc32c_and_no_flags() {
        let s = request("ipn:2.1").to_submit(None).unwrap();
        assert_eq!(s.lifetime_ms, DEFAULT_LIFETIME_MS);
        assert_eq!(s.crc, CrcType::Crc32c);
        assert_eq!(s.flags, BundleFlags::empty());
        assert!(s.payload.is_empty());
        assert_eq!(s.hop_limit, None);
    }

    #[test]
    fn options_reach_the_submission() {
        let req = SubmitRequest {
            payload: Some("hi".into()),
            lifetime: Some("90s".into()),
            report_to: Some("dtn://ops/reports".into()),
            hop_limit: Some(7),
            crc: Some("16".into()),
            request_delivery_report: true,
            must_not_fragment: true,
            priority: Some("emergency".into()),
            ..request("dtn://b/app")
        };
        let s = req.to_submit(None).unwrap();
        assert_eq!(s.priority, proto::wire::Priority::Emergency);
        assert_eq!(s.payload.as_ref(), b"hi");
        assert_eq!(s.lifetime_ms, 90_000);
        assert_eq!(s.report_to.unwrap().to_string(), "dtn://ops/reports");
        assert_eq!(s.hop_limit, Some(7));
        assert_eq!(s.crc, CrcType::Crc16);
        assert_eq!(
            s.flags,
            BundleFlags::REPORT_DELIVERY | BundleFlags::MUST_NOT_FRAGMENT
        );
    }

    #[test]
    fn base64_payload_is_decoded() {
        let req = SubmitRequest {
            payload_base64: Some("AAH/".into()),
            ..request("ipn:2.1")
        };
        assert_eq!(req.to_submit(None).unwrap().payload.as_ref(), [0, 1, 255]);
    }

    #[test]
    fn invalid_base64_names_the_field() {
        let req = SubmitRequest {
            payload_base64: Some("*".into()),
            ..request("ipn:2.1")
        };
        assert_eq!(req.to_submit(None).unwrap_err().field, "payload_base64");
    }

    #[test]
    fn raw_body_excludes_payload_fields() {
        let req = SubmitRequest {
            payload: Some("x".into()),
            ..request("ipn:2.1")
        };
        let err = req.to_submit(Some(Bytes::from_static(b"y"))).unwrap_err();
        assert_eq!(err.field, "payload");
    }

    #[test]
    fn two_lifetimes_are_refused() {
        let req = SubmitRequest {
            lifetime: Some("1h".into()),
            lifetime_ms: Some(5),
            ..request("ipn:2.1")
        };
        assert_eq!(req.to_submit(None).unwrap_err().field, "lifetime");
    }

    #[test]
    fn hop_limit_zero_is_refused() {
        let req = SubmitRequest {
            hop_limit: Some(0),
            ..request("ipn:2.1")
        };
        let err = req.to_submit(None).unwrap_err();
        assert_eq!(err.field, "hop_limit");
        assert!(err.reason.contains("1 to 255"), "{err}");
    }

    #[test]
    fn unknown_crc_lists_the_choices() {
        let req = SubmitRequest {
            crc: Some("md5".into()),
            ..request("ipn:2.1")
        };
        assert!(
            req.to_submit(None)
                .unwrap_err()
                .to_string()
                .contains("none, 16 or 32c")
        );
    }

    #[test]
    fn binary_delivery_has_no_text_but_base64() {
        let record = MailboxRecord {
            source: "ipn:9.1".parse().unwrap(),
            destination: "ipn:1.1".parse().unwrap(),
            creation: CreationTimestamp::new(DtnTime(0), 3),
            payload: Bytes::from_static(&[0xff, 0x00]),
            admin_record: false,
        };
        let d = Delivery::new(7, &record);
        assert_eq!(d.payload, None);
        assert_eq!(d.payload_base64, "/wA=");
        assert_eq!(d.creation.date, None);
        assert_eq!(d.payload_bytes().unwrap(), vec![0xff, 0x00]);
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        // 2000-01-01T00:00:01Z is DTN time 1000.
        assert_eq!(
            date(DtnTime(1_000)).as_deref(),
            Some("2000-01-01T00:00:01.000Z")
        );
    }
}
