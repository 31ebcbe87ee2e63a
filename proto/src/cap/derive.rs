//! What a node derives from an alert to carry it: its priority class, its bundle lifetime, and
//! its identity.
//!
//! # Priority (documented mapping)
//!
//! The class is the engine's [`Priority`] (carried in the priority block). Per `info` block, from severity × urgency, for `status` Actual:
//!
//! | urgency \ severity | Extreme | Severe | Moderate | Unknown | Minor |
//! |---|---|---|---|---|---|
//! | Immediate | emergency | emergency | high | high | normal |
//! | Expected | emergency | emergency | high | high | normal |
//! | Future | high | high | normal | normal | normal |
//! | Unknown | high | high | normal | normal | normal |
//! | Past | normal | normal | bulk | bulk | bulk |
//!
//! The alert takes its most urgent `info`'s class; an alert without `info` is normal. Then
//! `msgType` and `status` adjust it:
//! - `Cancel` is high: the all-clear should overtake ordinary traffic, but not real warnings.
//! - `Ack` and `Error` are normal (alerting-network bookkeeping).
//! - `Exercise` is capped at high and `System` is normal: neither may ever compete with a real
//!   emergency. `Test` and `Draft` ("all recipients disregard") are bulk.
//!
//! So only an `Actual` `Alert` or `Update` with Extreme/Severe severity and Immediate/Expected
//! urgency is ever an emergency bundle.
//!
//! # Lifetime
//!
//! A bundle carrying an alert lives until the alert's latest `expires`; without one, for
//! [`DEFAULT_LIFETIME_SECS`] after `sent` (CAP leaves an alert without `expires` in force until
//! updated or cancelled, which a bundle cannot be). Either way at most
//! [`MAX_LIFETIME_SECS`], so a mistyped year cannot clog every store for decades.

use super::model::{Alert, Info, MsgType, Severity, Status, Urgency};
use super::time::CapTime;
use crate::wire::{DtnTime, Priority};

/// Lifetime of an alert that names no `expires`: a day.
pub const DEFAULT_LIFETIME_SECS: i64 = 24 * 3600;

/// Longest lifetime derived from an alert: 30 days.
pub const MAX_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// The class of one `info` block of an `Actual` alert (the table in the module docs).
pub fn info_priority(urgency: Urgency, severity: Severity) -> Priority {
    use Priority::{Bulk, Emergency, High, Normal};
    let grave = matches!(severity, Severity::Extreme | Severity::Severe);
    let middling = matches!(severity, Severity::Moderate | Severity::Unknown);
    match urgency {
        Urgency::Immediate | Urgency::Expected if grave => Emergency,
        Urgency::Immediate | Urgency::Expected if middling => High,
        Urgency::Immediate | Urgency::Expected => Normal,
        Urgency::Future | Urgency::Unknown if grave => High,
        Urgency::Future | Urgency::Unknown => Normal,
        Urgency::Past if grave => Normal,
        Urgency::Past => Bulk,
    }
}

impl Alert {
    /// The priority class to carry this alert in (see the module docs for the mapping).
    pub fn priority(&self) -> Priority {
        let content = match self.msg_type {
            MsgType::Cancel => Priority::High,
            MsgType::Ack | MsgType::Error => Priority::Normal,
            MsgType::Alert | MsgType::Update => self
                .infos
                .iter()
                .map(|i: &Info| info_priority(i.urgency, i.severity))
                .max()
                .unwrap_or(Priority::Normal),
        };
        match self.status {
            Status::Actual => content,
            Status::Exercise => content.min(Priority::High),
            Status::System => Priority::Normal,
            Status::Test | Status::Draft => Priority::Bulk,
        }
    }

    /// The latest `expires` of any `info` block, if one names it.
    pub fn expires(&self) -> Option<CapTime> {
        self.infos.iter().filter_map(|i| i.expires).max()
    }

    /// When the alert stops being in force as far as a node is concerned: the latest `expires`,
    /// else `sent` + [`DEFAULT_LIFETIME_SECS`], and never more than [`MAX_LIFETIME_SECS`] after
    /// `sent`. Seconds since 1970 (UTC).
    pub fn end_unix_secs(&self) -> i64 {
        let sent = self.sent.unix_secs();
        let end = self.expires().map_or(
            sent.saturating_add(DEFAULT_LIFETIME_SECS),
            CapTime::unix_secs,
        );
        end.min(sent.saturating_add(MAX_LIFETIME_SECS))
    }

    /// The lifetime in milliseconds for a bundle created at `now` to carry this alert, or `None`
    /// if the alert has already ended. A node without an accurate clock (`now` = DTN time 0,
    /// RFC 9171 §4.2.7) counts from `sent` instead.
    pub fn lifetime_ms(&self, now: DtnTime) -> Option<u64> {
        let end = self.end_unix_secs();
        let from_ms = if now.millis() == 0 {
            i128::from(self.sent.unix_secs()) * 1000
        } else {
            i128::from(now.to_unix_ms())
        };
        let left = i128::from(end) * 1000 - from_ms;
        if left <= 0 {
            return None;
        }
        u64::try_from(left).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::{AlertBuilder, Category, Certainty};

    fn alert(status: Status, msg_type: MsgType, urgency: Urgency, severity: Severity) -> Alert {
        let sent = CapTime::parse("2026-11-29T01:00:00-00:00").unwrap();
        AlertBuilder::new("ops@example.org", "a1", sent)
            .status(status)
            .msg_type(msg_type)
            .event(Category::Met, "Flood")
            .urgency(urgency)
            .severity(severity)
            .certainty(Certainty::Observed)
            .area("Riverside")
            .build()
            .unwrap()
    }

    #[test]
    fn cap_actual_extreme_immediate_is_emergency() {
        let a = alert(
            Status::Actual,
            MsgType::Alert,
            Urgency::Immediate,
            Severity::Extreme,
        );
        assert_eq!(a.priority(), Priority::Emergency);
    }

    #[test]
    fn cap_exercise_never_gets_the_emergency_class() {
        let a = alert(
            Status::Exercise,
            MsgType::Alert,
            Urgency::Immediate,
            Severity::Extreme,
        );
        assert_eq!(a.priority(), Priority::High);
    }

    #[test]
    fn cap_test_and_draft_are_bulk() {
        for status in [Status::Test, Status::Draft] {
            let a = alert(
                status,
                MsgType::Alert,
                Urgency::Immediate,
                Severity::Extreme,
            );
            assert_eq!(a.priority(), Priority::Bulk, "{status}");
        }
    }

    #[test]
    fn cap_no_status_or_type_gives_emergency_except_actual_alerts_and_updates() {
        for &status in Status::ALL {
            for &msg_type in MsgType::ALL {
                let a = alert(status, msg_type, Urgency::Immediate, Severity::Extreme);
                let emergency = status == Status::Actual
                    && matches!(msg_type, MsgType::Alert | MsgType::Update);
                assert_eq!(
                    a.priority() == Priority::Emergency,
                    emergency,
                    "{status} {msg_type}"
                );
            }
        }
    }

    #[test]
    fn cap_priority_table_matches_the_documentation() {
        use Priority::{Bulk as B, Emergency as E, High as H, Normal as N};
        let severities = [
            Severity::Extreme,
            Severity::Severe,
            Severity::Moderate,
            Severity::Unknown,
            Severity::Minor,
        ];
        let table = [
            (Urgency::Immediate, [E, E, H, H, N]),
            (Urgency::Expected, [E, E, H, H, N]),
            (Urgency::Future, [H, H, N, N, N]),
            (Urgency::Unknown, [H, H, N, N, N]),
            (Urgency::Past, [N, N, B, B, B]),
        ];
        for (urgency, row) in table {
            for (severity, want) in severities.iter().zip(row) {
                assert_eq!(
                    info_priority(urgency, *severity),
                    want,
                    "{urgency} {severity}"
                );
            }
        }
    }

    #[test]
    fn cap_cancel_is_high() {
        let a = alert(
            Status::Actual,
            MsgType::Cancel,
            Urgency::Past,
            Severity::Minor,
        );
        assert_eq!(a.priority(), Priority::High);
    }

    #[test]
    fn cap_lifetime_runs_to_the_latest_expires() {
        let mut a = alert(
            Status::Actual,
            MsgType::Alert,
            Urgency::Immediate,
            Severity::Extreme,
        );
        a.infos[0].expires = Some(CapTime::parse("2026-11-29T03:00:00-00:00").unwrap());
        let mut second = a.infos[0].clone();
        second.expires = Some(CapTime::parse("2026-11-29T05:00:00+02:00").unwrap()); // 03:00 UTC
        second.language = Some("fr-FR".into());
        a.infos.push(second);
        a.infos[0].expires = Some(CapTime::parse("2026-11-29T02:00:00-00:00").unwrap());
        let now = CapTime::parse("2026-11-29T01:30:00-00:00")
            .unwrap()
            .to_dtn()
            .unwrap();
        assert_eq!(a.lifetime_ms(now), Some(90 * 60 * 1000));
    }

    #[test]
    fn cap_lifetime_defaults_to_a_day_after_sent() {
        let a = alert(
            Status::Actual,
            MsgType::Alert,
            Urgency::Immediate,
            Severity::Extreme,
        );
        let now = a.sent.to_dtn().unwrap();
        assert_eq!(a.lifetime_ms(now), Some(24 * 3600 * 1000));
        assert_eq!(a.lifetime_ms(DtnTime(0)), Some(24 * 3600 * 1000));
    }

    #[test]
    fn cap_expired_alert_has_no_lifetime() {
        let mut a = alert(
            Status::Actual,
            MsgType::Alert,
            Urgency::Immediate,
            Severity::Extreme,
        );
        a.infos[0].expires = Some(CapTime::parse("2026-11-29T02:00:00-00:00").unwrap());
        let now = CapTime::parse("2026-11-29T02:00:00-00:00")
            .unwrap()
            .to_dtn()
            .unwrap();
        assert_eq!(a.lifetime_ms(now), None);
    }

    #[test]
    fn cap_lifetime_is_capped_at_thirty_days() {
        let mut a = alert(
            Status::Actual,
            MsgType::Alert,
            Urgency::Immediate,
            Severity::Extreme,
        );
        a.infos[0].expires = Some(CapTime::parse("2099-01-01T00:00:00-00:00").unwrap());
        let now = a.sent.to_dtn().unwrap();
        assert_eq!(a.lifetime_ms(now), Some(30 * 24 * 3600 * 1000));
    }
}
