//! Administrative records (RFC 9171 §6.1): bundle status reports.
//!
//! An administrative record is the payload of a bundle whose ADMIN_RECORD flag is set. It is a
//! CBOR array `[record type, content]`; tern understands record type 1, the bundle status report
//! (§6.1.1), and refuses other types with [`DecodeErrorKind::UnknownAdminRecord`] so the node can
//! tell "unknown" from "malformed".
//!
//! Decoding follows the rules of the bundle codec: bounded, no trailing bytes, offsets in errors.
//! [`StatusReport::for_bundle`] and [`status_report_bundle`] build the report a node sends about
//! a bundle it received, forwarded, delivered or deleted.

use std::fmt;

use bytes::Bytes;

use super::builder::BundleBuilder;
use super::bundle::Bundle;
use super::cbor::{self, Reader};
use super::eid::{DEFAULT_MAX_EID_LEN, Eid};
use super::error::{BuildError, DecodeError, DecodeErrorKind};
use super::flags::BundleFlags;
use super::time::{CreationTimestamp, DtnTime};

/// Record type code of a bundle status report (RFC 9171 §6.1, §9.6 registry).
pub const RECORD_TYPE_STATUS_REPORT: u64 = 1;

/// An administrative record tern understands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminRecord {
    /// A bundle status report (record type 1).
    StatusReport(StatusReport),
}

/// One of the four statuses a report can assert (RFC 9171 §6.1.1, in wire order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusKind {
    /// The reporting node received the bundle.
    Received,
    /// The reporting node forwarded the bundle.
    Forwarded,
    /// The reporting node delivered the bundle.
    Delivered,
    /// The reporting node deleted the bundle.
    Deleted,
}

/// One item of the bundle status information (RFC 9171 §6.1.1): whether the status is asserted
/// and, only when it is and the subject asked for times (flag STATUS_TIME_REQUESTED), when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusAssertion {
    /// `[false]`.
    #[default]
    NotAsserted,
    /// `[true]` or `[true, dtn-time]`.
    Asserted {
        /// DTN time of the event, present when the subject requested status times.
        time: Option<DtnTime>,
    },
}

impl StatusAssertion {
    /// True if the status is asserted.
    pub fn is_asserted(self) -> bool {
        matches!(self, Self::Asserted { .. })
    }

    /// The event time, if asserted with one.
    pub fn time(self) -> Option<DtnTime> {
        match self {
            Self::Asserted { time } => time,
            Self::NotAsserted => None,
        }
    }
}

/// Why a status was reached (RFC 9171 §6.1.1; codes 12–16 from RFC 9172 §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReasonCode {
    /// 0: no additional information.
    NoInformation,
    /// 1: lifetime expired.
    LifetimeExpired,
    /// 2: forwarded over unidirectional link.
    ForwardedOverUnidirectionalLink,
    /// 3: transmission canceled.
    TransmissionCanceled,
    /// 4: depleted storage.
    DepletedStorage,
    /// 5: destination endpoint ID unavailable.
    DestinationUnavailable,
    /// 6: no known route to destination from here.
    NoRoute,
    /// 7: no timely contact with next node on route.
    NoTimelyContact,
    /// 8: block unintelligible.
    BlockUnintelligible,
    /// 9: hop limit exceeded.
    HopLimitExceeded,
    /// 10: traffic pared (e.g. status reports).
    TrafficPared,
    /// 11: block unsupported.
    BlockUnsupported,
    /// 12: missing security operation (RFC 9172).
    MissingSecurityOperation,
    /// 13: unknown security operation (RFC 9172).
    UnknownSecurityOperation,
    /// 14: unexpected security operation (RFC 9172).
    UnexpectedSecurityOperation,
    /// 15: failed security operation (RFC 9172).
    FailedSecurityOperation,
    /// 16: conflicting security operation (RFC 9172).
    ConflictingSecurityOperation,
    /// Any other code, kept as received so a report can be relayed and displayed unchanged.
    Other(u64),
}

const REASONS: [(ReasonCode, &str); 17] = [
    (ReasonCode::NoInformation, "no additional information"),
    (ReasonCode::LifetimeExpired, "lifetime expired"),
    (
        ReasonCode::ForwardedOverUnidirectionalLink,
        "forwarded over unidirectional link",
    ),
    (ReasonCode::TransmissionCanceled, "transmission canceled"),
    (ReasonCode::DepletedStorage, "depleted storage"),
    (
        ReasonCode::DestinationUnavailable,
        "destination endpoint ID unavailable",
    ),
    (
        ReasonCode::NoRoute,
        "no known route to destination from here",
    ),
    (
        ReasonCode::NoTimelyContact,
        "no timely contact with next node on route",
    ),
    (ReasonCode::BlockUnintelligible, "block unintelligible"),
    (ReasonCode::HopLimitExceeded, "hop limit exceeded"),
    (ReasonCode::TrafficPared, "traffic pared"),
    (ReasonCode::BlockUnsupported, "block unsupported"),
    (
        ReasonCode::MissingSecurityOperation,
        "missing security operation",
    ),
    (
        ReasonCode::UnknownSecurityOperation,
        "unknown security operation",
    ),
    (
        ReasonCode::UnexpectedSecurityOperation,
        "unexpected security operation",
    ),
    (
        ReasonCode::FailedSecurityOperation,
        "failed security operation",
    ),
    (
        ReasonCode::ConflictingSecurityOperation,
        "conflicting security operation",
    ),
];

impl ReasonCode {
    /// The code for a wire value; unassigned values become [`Self::Other`].
    pub fn from_code(code: u64) -> Self {
        usize::try_from(code)
            .ok()
            .and_then(|i| REASONS.get(i))
            .map_or(Self::Other(code), |(r, _)| *r)
    }

    /// The wire value.
    pub fn code(self) -> u64 {
        if let Self::Other(c) = self {
            return c;
        }
        REASONS
            .iter()
            .position(|(r, _)| *r == self)
            .map_or(0, |i| i as u64)
    }

    /// The registry's description, for operators; `None` for unassigned codes.
    pub fn name(self) -> Option<&'static str> {
        REASONS.iter().find(|(r, _)| *r == self).map(|(_, n)| *n)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "reason code {}", self.code()),
        }
    }
}

/// A bundle status report (RFC 9171 §6.1.1): what happened to a subject bundle at the reporting
/// node, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Reporting node received the subject.
    pub received: StatusAssertion,
    /// Reporting node forwarded the subject.
    pub forwarded: StatusAssertion,
    /// Reporting node delivered the subject.
    pub delivered: StatusAssertion,
    /// Reporting node deleted the subject.
    pub deleted: StatusAssertion,
    /// Why.
    pub reason: ReasonCode,
    /// Source EID of the subject.
    pub source: Eid,
    /// Creation timestamp of the subject.
    pub creation: CreationTimestamp,
    /// Fragment offset and payload length, when the subject was a fragment.
    pub fragment: Option<(u64, u64)>,
}

impl StatusReport {
    /// The report asserting `kind` for `subject` at `now`. The time is included only if the
    /// subject set STATUS_TIME_REQUESTED (RFC 9171 §6.1.1); a fragment subject is identified by
    /// its offset and payload length.
    pub fn for_bundle(
        subject: &Bundle,
        kind: StatusKind,
        reason: ReasonCode,
        now: DtnTime,
    ) -> Self {
        let p = subject.primary();
        let time = p
            .flags
            .contains(BundleFlags::STATUS_TIME_REQUESTED)
            .then_some(now);
        let mut report = Self {
            received: StatusAssertion::NotAsserted,
            forwarded: StatusAssertion::NotAsserted,
            delivered: StatusAssertion::NotAsserted,
            deleted: StatusAssertion::NotAsserted,
            reason,
            source: p.source.clone(),
            creation: p.creation,
            fragment: p
                .fragment
                .map(|f| (f.offset, subject.payload().len() as u64)),
        };
        *report.assertion_mut(kind) = StatusAssertion::Asserted { time };
        report
    }

    /// The assertion for one status.
    pub fn assertion(&self, kind: StatusKind) -> StatusAssertion {
        match kind {
            StatusKind::Received => self.received,
            StatusKind::Forwarded => self.forwarded,
            StatusKind::Delivered => self.delivered,
            StatusKind::Deleted => self.deleted,
        }
    }

    fn assertion_mut(&mut self, kind: StatusKind) -> &mut StatusAssertion {
        match kind {
            StatusKind::Received => &mut self.received,
            StatusKind::Forwarded => &mut self.forwarded,
            StatusKind::Delivered => &mut self.delivered,
            StatusKind::Deleted => &mut self.deleted,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        cbor::write_array(out, if self.fragment.is_some() { 6 } else { 4 });
        cbor::write_array(out, 4);
        for a in [self.received, self.forwarded, self.delivered, self.deleted] {
            match a {
                StatusAssertion::NotAsserted => {
                    cbor::write_array(out, 1);
                    cbor::write_bool(out, false);
                }
                StatusAssertion::Asserted { time: None } => {
                    cbor::write_array(out, 1);
                    cbor::write_bool(out, true);
                }
                StatusAssertion::Asserted { time: Some(t) } => {
                    cbor::write_array(out, 2);
                    cbor::write_bool(out, true);
                    cbor::write_uint(out, t.0);
                }
            }
        }
        cbor::write_uint(out, self.reason.code());
        self.source.encode(out);
        cbor::write_array(out, 2);
        cbor::write_uint(out, self.creation.time.0);
        cbor::write_uint(out, self.creation.sequence);
        if let Some((offset, length)) = self.fragment {
            cbor::write_uint(out, offset);
            cbor::write_uint(out, length);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let items = r.array_of("bundle status report", 4..=6)?;
        if items == 5 {
            return Err(DecodeError::new(
                DecodeErrorKind::Invalid(
                    "a status report has 4 items, or 6 when its subject is a fragment (RFC 9171 §6.1.1)",
                ),
                at,
            ));
        }
        r.array_of("bundle status information", 4..=4)?;
        let received = decode_assertion(r)?;
        let forwarded = decode_assertion(r)?;
        let delivered = decode_assertion(r)?;
        let deleted = decode_assertion(r)?;
        let reason = ReasonCode::from_code(r.uint()?);
        let source = Eid::decode(r, DEFAULT_MAX_EID_LEN)?;
        r.array_of("subject creation timestamp", 2..=2)?;
        let creation = CreationTimestamp::new(DtnTime(r.uint()?), r.uint()?);
        let fragment = if items == 6 {
            Some((r.uint()?, r.uint()?))
        } else {
            None
        };
        Ok(Self {
            received,
            forwarded,
            delivered,
            deleted,
            reason,
            source,
            creation,
            fragment,
        })
    }
}

/// RFC 9171 §6.1.1: `[bool]`, or `[true, dtn-time]` when the status time was requested.
fn decode_assertion(r: &mut Reader<'_>) -> Result<StatusAssertion, DecodeError> {
    let n = r.array_of("status assertion", 1..=2)?;
    let at = r.offset();
    let asserted = r.bool()?;
    match (asserted, n) {
        (false, 1) => Ok(StatusAssertion::NotAsserted),
        (true, 1) => Ok(StatusAssertion::Asserted { time: None }),
        (true, _) => Ok(StatusAssertion::Asserted {
            time: Some(DtnTime(r.uint()?)),
        }),
        (false, _) => Err(DecodeError::new(
            DecodeErrorKind::Invalid(
                "a status that is not asserted carries no time (RFC 9171 §6.1.1)",
            ),
            at,
        )),
    }
}

impl AdminRecord {
    /// Decodes the payload of a bundle flagged ADMIN_RECORD: exactly one record, no trailing
    /// bytes. An unknown record type is [`DecodeErrorKind::UnknownAdminRecord`].
    pub fn decode(payload: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        r.array_of("administrative record", 2..=2)?;
        let at = r.offset();
        let record = match r.uint()? {
            RECORD_TYPE_STATUS_REPORT => Self::StatusReport(StatusReport::decode(&mut r)?),
            other => {
                return Err(DecodeError::new(
                    DecodeErrorKind::UnknownAdminRecord(other),
                    at,
                ));
            }
        };
        if !r.is_empty() {
            return Err(r.error(DecodeErrorKind::TrailingBytes(r.remaining())));
        }
        Ok(record)
    }

    /// The record's encoding: the payload of an administrative-record bundle.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        cbor::write_array(&mut out, 2);
        match self {
            Self::StatusReport(s) => {
                cbor::write_uint(&mut out, RECORD_TYPE_STATUS_REPORT);
                s.encode(&mut out);
            }
        }
        out
    }

    /// The bundle carrying this record from `node_id` to `destination`.
    ///
    /// It sets ADMIN_RECORD, requests no reports and has report-to `dtn:none`, because reports
    /// about administrative records are never generated (RFC 9171 §4.2.3, §5.1). With creation
    /// time 0 (a node without a clock) it carries a bundle age of 0 as §4.2.7 requires.
    pub fn to_bundle(
        &self,
        node_id: Eid,
        destination: Eid,
        creation: CreationTimestamp,
        lifetime_ms: u64,
    ) -> Result<Bundle, BuildError> {
        let mut b = BundleBuilder::new(node_id, destination, creation, lifetime_ms)
            .report_to(Eid::Null)
            .flags(BundleFlags::ADMIN_RECORD)
            .payload(self.encode());
        if creation.time.0 == 0 {
            b = b.bundle_age(0);
        }
        b.build()
    }
}

/// The status-report bundle a node (`node_id`) sends about `subject`: the report asserts `kind`
/// with `reason`, and goes to the subject's report-to endpoint (RFC 9171 §6.1.1).
///
/// Refuses when the subject's report-to is `dtn:none`: there is nobody to tell. Whether a report
/// is wanted at all (the subject's request flags, §5.1) is the caller's decision.
pub fn status_report_bundle(
    subject: &Bundle,
    kind: StatusKind,
    reason: ReasonCode,
    node_id: Eid,
    creation: CreationTimestamp,
    lifetime_ms: u64,
) -> Result<Bundle, BuildError> {
    let report_to = subject.primary().report_to.clone();
    if report_to.is_null() {
        return Err(BuildError::Invalid(
            "the subject's report-to is dtn:none: a status report has nowhere to go",
        ));
    }
    let report = StatusReport::for_bundle(subject, kind, reason, creation.time);
    AdminRecord::StatusReport(report).to_bundle(node_id, report_to, creation, lifetime_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{FragmentInfo, PrimaryBlock};

    fn vector(id: &str) -> serde_json::Value {
        let text = include_str!("../../tests/data/bpv7/bpv7_bundles.json");
        let all: serde_json::Value = serde_json::from_str(text).unwrap();
        all["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    }

    fn report(rec: AdminRecord) -> StatusReport {
        match rec {
            AdminRecord::StatusReport(s) => s,
        }
    }

    fn subject(flags: BundleFlags) -> Bundle {
        BundleBuilder::new(
            Eid::ipn(2, 1),
            Eid::ipn(3, 7),
            CreationTimestamp::new(DtnTime(755_000_000_000), 40),
            60_000,
        )
        .flags(flags)
        .payload(&b"subject payload"[..])
        .build()
        .unwrap()
    }

    #[test]
    fn status_report_vector_decodes_field_by_field() {
        let case = vector("selfgen-status-report-received");
        let bytes = Bytes::from(hex::decode(case["hex"].as_str().unwrap()).unwrap());
        let bundle = Bundle::decode(bytes).unwrap();
        assert!(bundle.primary().flags.contains(BundleFlags::ADMIN_RECORD));
        assert_eq!(bundle.primary().source, Eid::ipn(1, 0));
        assert_eq!(bundle.primary().destination, Eid::ipn(2, 1));
        let payload_hex = hex::encode(bundle.payload());
        assert_eq!(payload_hex, case["admin_record_hex"].as_str().unwrap());

        let s = report(AdminRecord::decode(bundle.payload()).unwrap());
        assert_eq!(s.received, StatusAssertion::Asserted { time: None });
        assert_eq!(s.forwarded, StatusAssertion::NotAsserted);
        assert_eq!(s.delivered, StatusAssertion::NotAsserted);
        assert_eq!(s.deleted, StatusAssertion::NotAsserted);
        assert_eq!(s.reason, ReasonCode::NoInformation);
        assert_eq!(s.source, Eid::ipn(2, 1));
        assert_eq!(s.creation, CreationTimestamp::new(DtnTime(0), 40));
        assert_eq!(s.fragment, None);
    }

    #[test]
    fn status_report_vector_re_encodes_byte_exact() {
        let case = vector("selfgen-status-report-received");
        let hex_str = case["admin_record_hex"].as_str().unwrap();
        let rec = AdminRecord::decode(&Bytes::from(hex::decode(hex_str).unwrap())).unwrap();
        assert_eq!(hex::encode(rec.encode()), hex_str);
    }

    #[test]
    fn fragment_subject_report_has_six_items_and_round_trips() {
        let rec = AdminRecord::StatusReport(StatusReport {
            received: StatusAssertion::NotAsserted,
            forwarded: StatusAssertion::Asserted {
                time: Some(DtnTime(755_000_001_000)),
            },
            delivered: StatusAssertion::NotAsserted,
            deleted: StatusAssertion::NotAsserted,
            reason: ReasonCode::Other(200),
            source: "dtn://src/app".parse().unwrap(),
            creation: CreationTimestamp::new(DtnTime(5), 6),
            fragment: Some((100, 50)),
        });
        let bytes = rec.encode();
        assert_eq!(bytes[2], 0x86, "status report array must have 6 items");
        assert_eq!(AdminRecord::decode(&Bytes::from(bytes)).unwrap(), rec);
    }

    #[test]
    fn unknown_record_type_is_reported_with_its_code() {
        let err = AdminRecord::decode(&Bytes::from_static(&[0x82, 0x04, 0x80])).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnknownAdminRecord(4));
        assert_eq!(err.offset, 1);
    }

    #[test]
    fn trailing_bytes_after_the_record_are_refused() {
        let case = vector("selfgen-status-report-received");
        let mut raw = hex::decode(case["admin_record_hex"].as_str().unwrap()).unwrap();
        raw.push(0x00);
        let err = AdminRecord::decode(&Bytes::from(raw)).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes(1));
    }

    #[test]
    fn five_item_status_report_is_refused() {
        // [1, [[[f],[f],[f],[f]], 0, [1,0], [0,0], 0]]
        let raw = hex::decode("8201858481f481f481f481f400820100820000 00".replace(' ', ""));
        let err = AdminRecord::decode(&Bytes::from(raw.unwrap())).unwrap_err();
        assert!(err.to_string().contains("4 items, or 6"), "{err}");
        assert_eq!(err.offset, 2);
    }

    #[test]
    fn unasserted_status_with_a_time_is_refused() {
        // [1, [[[false, 5],[f],[f],[f]], 0, [1,0], [0,0]]]
        let raw = hex::decode("8201848482f40581f481f481f400820100820000").unwrap();
        let err = AdminRecord::decode(&Bytes::from(raw)).unwrap_err();
        assert!(
            err.to_string().contains("not asserted carries no time"),
            "{err}"
        );
        assert_eq!(err.offset, 5);
    }

    #[test]
    fn every_reason_code_maps_to_itself_and_has_a_name() {
        for code in 0..=16 {
            let r = ReasonCode::from_code(code);
            assert_eq!(r.code(), code);
            assert!(r.name().is_some(), "code {code}");
        }
        assert_eq!(ReasonCode::from_code(9), ReasonCode::HopLimitExceeded);
        assert_eq!(ReasonCode::from_code(17), ReasonCode::Other(17));
        assert_eq!(ReasonCode::Other(17).to_string(), "reason code 17");
        assert_eq!(
            ReasonCode::NoRoute.to_string(),
            "no known route to destination from here"
        );
    }

    #[test]
    fn report_carries_time_only_when_subject_requested_it() {
        let now = DtnTime(755_000_009_000);
        let plain = StatusReport::for_bundle(
            &subject(BundleFlags::empty()),
            StatusKind::Delivered,
            ReasonCode::NoInformation,
            now,
        );
        assert_eq!(plain.delivered, StatusAssertion::Asserted { time: None });
        let timed = StatusReport::for_bundle(
            &subject(BundleFlags::STATUS_TIME_REQUESTED),
            StatusKind::Deleted,
            ReasonCode::LifetimeExpired,
            now,
        );
        assert_eq!(timed.deleted.time(), Some(now));
        assert_eq!(timed.received, StatusAssertion::NotAsserted);
        assert_eq!(timed.reason, ReasonCode::LifetimeExpired);
    }

    #[test]
    fn report_about_a_fragment_names_offset_and_payload_length() {
        let whole = subject(BundleFlags::empty());
        let mut primary: PrimaryBlock = whole.primary().clone();
        primary.flags |= BundleFlags::IS_FRAGMENT;
        primary.fragment = Some(FragmentInfo {
            offset: 20,
            total_adu_length: 100,
        });
        let frag = Bundle::from_parts(primary, whole.blocks().to_vec()).unwrap();
        let s = StatusReport::for_bundle(
            &frag,
            StatusKind::Received,
            ReasonCode::NoInformation,
            DtnTime(1),
        );
        assert_eq!(s.fragment, Some((20, 15)));
    }

    #[test]
    fn status_report_bundle_goes_to_report_to_as_an_admin_record() {
        let subj = subject(BundleFlags::REPORT_DELIVERY);
        let creation = CreationTimestamp::new(DtnTime(755_000_010_000), 3);
        let b = status_report_bundle(
            &subj,
            StatusKind::Delivered,
            ReasonCode::NoInformation,
            Eid::ipn(3, 0),
            creation,
            86_400_000,
        )
        .unwrap();
        let p = b.primary();
        assert!(p.flags.contains(BundleFlags::ADMIN_RECORD));
        assert!(!p.flags.intersects(BundleFlags::ALL_REPORTS));
        assert_eq!(p.destination, Eid::ipn(2, 1));
        assert_eq!(p.source, Eid::ipn(3, 0));
        assert_eq!(p.report_to, Eid::Null);
        let decoded = Bundle::decode(Bytes::from(b.encode())).unwrap();
        let s = report(AdminRecord::decode(decoded.payload()).unwrap());
        assert!(s.delivered.is_asserted());
        assert_eq!(s.creation, subj.primary().creation);
    }

    #[test]
    fn status_report_bundle_without_clock_carries_bundle_age() {
        let b = status_report_bundle(
            &subject(BundleFlags::empty()),
            StatusKind::Received,
            ReasonCode::NoInformation,
            Eid::ipn(3, 0),
            CreationTimestamp::new(DtnTime(0), 9),
            1000,
        )
        .unwrap();
        assert_eq!(b.bundle_age(), Some(0));
    }

    #[test]
    fn status_report_to_null_report_to_is_refused() {
        let subj = BundleBuilder::new(
            Eid::ipn(2, 1),
            Eid::ipn(3, 7),
            CreationTimestamp::new(DtnTime(1), 1),
            1000,
        )
        .report_to(Eid::Null)
        .build()
        .unwrap();
        let err = status_report_bundle(
            &subj,
            StatusKind::Received,
            ReasonCode::NoInformation,
            Eid::ipn(3, 0),
            CreationTimestamp::new(DtnTime(2), 0),
            1000,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nowhere to go"));
    }
}
