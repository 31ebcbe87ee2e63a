//! Early-warning alerts (CAP 1.2): the alert group endpoint, and the registry of the alerts in
//! force on this node.
//!
//! # How alerts travel
//!
//! An alert is a bundle whose payload is a CAP 1.2 document, addressed to the group endpoint
//! [`ALERTS_ENDPOINT`] (`dtn://alerts/~cap`: a `~` demux makes it non-singleton, RFC 9171
//! §4.2.5.1.1). Every node registers that endpoint when its API starts, so the engine delivers
//! each alert locally *and* keeps the bundle spreading to every peer until it expires. The bundle
//! carries the alert's priority class and a lifetime that ends with the alert's latest `expires`
//! (see [`proto::cap`]).
//!
//! # The registry
//!
//! Deliveries land in the endpoint's durable mailbox like any other. A follower task reads them
//! in order ([`spawn`]), parses each payload and applies it to an [`AlertRegistry`]:
//! - `Alert` adds an alert, identified by (sender, identifier, sent) — CAP's own identity;
//! - `Update` replaces the alerts named in its `references`, `Cancel` retires them;
//! - `Ack` and `Error` are bookkeeping and are not listed;
//! - an alert past its end drops out.
//!
//! An `Update` or `Cancel` only retires alerts *of the same sender*: anyone can send a bundle,
//! and naming another authority's alert must not be enough to silence it. Retired identities are
//! remembered until the retiring message ends, so an original that arrives late (over a slower
//! path) is not brought back.
//!
//! The mailbox is the registry's durable state: a record is consumed when it is unreadable, a
//! duplicate, or has ended (a retired alert's record is kept until it would have ended, a
//! Cancel's until the Cancel ends), and what remains is replayed in order at start-up, so a
//! restarted node lists, and refuses, what it did before. Nothing else should consume this
//! mailbox.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proto::cap::{Alert, AlertId, MsgType};
use proto::wire::{BundleId, DtnTime, Eid};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot, watch};
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::driver::{Command, DeliveryNotice, DriverHandle};
use crate::store::MailboxRecord;

/// The group endpoint alerts are sent to and every node receives on.
pub const ALERTS_ENDPOINT: &str = "dtn://alerts/~cap";

/// Mailbox records read per page.
const PAGE: usize = 100;

/// How often the follower looks at expiry when nothing arrives: alerts end on the second they
/// name, but a listing a few seconds late is harmless and a timer per alert is not worth it.
const PRUNE_EVERY: Duration = Duration::from_secs(5);

/// The alerts endpoint as an EID.
pub fn alerts_endpoint() -> Eid {
    // The constant is a valid group EID (checked by a test); the fallback is never taken.
    ALERTS_ENDPOINT.parse().unwrap_or(Eid::Null)
}

/// An alert in force, as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertJson {
    /// `sender,identifier,sent`: the identity `references` use.
    pub id: String,
    /// `identifier`.
    pub identifier: String,
    /// `sender`.
    pub sender: String,
    /// `sent`, as written.
    pub sent: String,
    /// `status`: Actual, Exercise, System, Test or Draft.
    pub status: String,
    /// `msgType`: Alert or Update (cancels retire, they are not listed).
    pub msg_type: String,
    /// `scope`.
    pub scope: String,
    /// Priority class the alert travels in.
    pub priority: String,
    /// The latest `expires`, as written; `None` if no `info` names one.
    pub expires: Option<String>,
    /// When the node drops it: `expires`, or a day after `sent` (RFC 3339 UTC).
    pub ends: Option<String>,
    /// The messages this one updates.
    pub references: Vec<String>,
    /// `note`.
    pub note: Option<String>,
    /// The `info` blocks.
    pub infos: Vec<InfoJson>,
    /// Source EID of the bundle that brought it.
    pub received_from: String,
    /// Its sequence number in the alerts mailbox.
    pub seq: u64,
    /// The alert as a canonical CAP 1.2 document.
    pub xml: String,
}

/// One `info` block, in short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoJson {
    /// `language`, if given.
    pub language: Option<String>,
    /// `category` values.
    pub categories: Vec<String>,
    /// `event`.
    pub event: String,
    /// `urgency`.
    pub urgency: String,
    /// `severity`.
    pub severity: String,
    /// `certainty`.
    pub certainty: String,
    /// `responseType` values.
    pub response_types: Vec<String>,
    /// `senderName`.
    pub sender_name: Option<String>,
    /// `headline`.
    pub headline: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `instruction`.
    pub instruction: Option<String>,
    /// `expires`, as written.
    pub expires: Option<String>,
    /// Each `area`'s `areaDesc`.
    pub areas: Vec<String>,
}

/// A change to the alerts in force, as the WebSocket streams it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// `current` (in force when the stream started or resynchronised), `added`, `updated`
    /// (replaces the alerts in its `references`), `cancelled` or `expired`.
    pub event: String,
    /// The alert added or updated, or the one cancelled or expired.
    pub alert: AlertJson,
}

impl AlertJson {
    fn new(held: &Held) -> Self {
        let a = &held.alert;
        let ends = DtnTime::from_unix_ms(u64::try_from(a.end_unix_secs()).unwrap_or(0) * 1000);
        Self {
            id: a.id().to_string(),
            identifier: a.identifier.clone(),
            sender: a.sender.clone(),
            sent: a.sent.to_string(),
            status: a.status.to_string(),
            msg_type: a.msg_type.to_string(),
            scope: a.scope.to_string(),
            priority: a.priority().to_string(),
            expires: a.expires().map(|t| t.to_string()),
            ends: crate::api::json::date(ends),
            references: a.references.iter().map(ToString::to_string).collect(),
            note: a.note.clone(),
            infos: a
                .infos
                .iter()
                .map(|i| InfoJson {
                    language: i.language.clone(),
                    categories: i.categories.iter().map(ToString::to_string).collect(),
                    event: i.event.clone(),
                    urgency: i.urgency.to_string(),
                    severity: i.severity.to_string(),
                    certainty: i.certainty.to_string(),
                    response_types: i.response_types.iter().map(ToString::to_string).collect(),
                    sender_name: i.sender_name.clone(),
                    headline: i.headline.clone(),
                    description: i.description.clone(),
                    instruction: i.instruction.clone(),
                    expires: i.expires.map(|t| t.to_string()),
                    areas: i.areas.iter().map(|a| a.area_desc.clone()).collect(),
                })
                .collect(),
            received_from: held.source.clone(),
            seq: held.seq,
            xml: proto::cap::write(a),
        }
    }
}

/// An alert the registry holds, with the mailbox record it came from.
#[derive(Debug, Clone)]
struct Held {
    alert: Alert,
    seq: u64,
    source: String,
}

/// What applying a delivery or the passing of time changed.
#[derive(Debug, Default)]
pub struct Applied {
    /// Changes to announce.
    pub events: Vec<AlertEvent>,
    /// Mailbox records no longer needed: consume them.
    pub consumed: Vec<u64>,
    /// Bundles of retired alerts, to withdraw from the store (so they stop spreading) and
    /// refuse until the given DTN time.
    pub withdraw: Vec<(BundleId, DtnTime)>,
}

/// The alerts in force, updated by deliveries and time. Pure state: no IO, no clock (callers
/// pass `now` as Unix seconds, or `None` when the node has no accurate clock and nothing may
/// expire).
#[derive(Debug, Default)]
pub struct AlertRegistry {
    current: BTreeMap<AlertId, Held>,
    /// Cancels, kept until they end so their retirements survive a restart (by replay).
    cancels: BTreeMap<AlertId, Held>,
    /// Identities an Update or Cancel retired: refused until they would have ended.
    retired: BTreeMap<AlertId, Retired>,
    /// The bundle each mailbox record came in, where known: what to withdraw on retirement.
    bundles: BTreeMap<u64, BundleId>,
}

/// A retired identity: until when (Unix seconds) a copy is refused, and the mailbox record of
/// the retired alert, kept until then so a replay after a restart retires it again.
#[derive(Debug, Clone, Copy)]
struct Retired {
    until: i64,
    seq: Option<u64>,
}

impl AlertRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alerts in force, oldest `sent` first.
    pub fn list(&self) -> Vec<AlertJson> {
        let mut held: Vec<&Held> = self.current.values().collect();
        held.sort_by_key(|h| (h.alert.sent, h.seq));
        held.into_iter().map(AlertJson::new).collect()
    }

    /// Remembers that mailbox record `seq` arrived in bundle `id`, so retiring its alert can
    /// withdraw the bundle too.
    pub fn note_bundle(&mut self, seq: u64, id: BundleId) {
        self.bundles.insert(seq, id);
    }

    /// Applies mailbox record `seq`: a CAP document from bundle source `source`.
    pub fn apply(&mut self, seq: u64, source: &str, payload: &[u8], now: Option<i64>) -> Applied {
        let applied = self.apply_document(seq, source, payload, now);
        self.forget_consumed(&applied);
        applied
    }

    /// Consumed records need no bundle id any more.
    fn forget_consumed(&mut self, applied: &Applied) {
        for seq in &applied.consumed {
            self.bundles.remove(seq);
        }
    }

    fn apply_document(
        &mut self,
        seq: u64,
        source: &str,
        payload: &[u8],
        now: Option<i64>,
    ) -> Applied {
        let mut applied = Applied::default();
        let alert = match proto::cap::parse(payload) {
            Ok(alert) => alert,
            Err(e) => {
                warn!(seq, %source, error = %e, "dropping an invalid CAP document from the alerts endpoint");
                applied.consumed.push(seq);
                return applied;
            }
        };
        let id = alert.id();
        let ended = now.is_some_and(|now| alert.end_unix_secs() <= now);
        let known = self.current.contains_key(&id) || self.cancels.contains_key(&id);
        if ended || known || self.retired.contains_key(&id) {
            debug!(seq, %id, ended, known, "alert not listed");
            applied.consumed.push(seq);
            return applied;
        }
        let held = Held {
            alert,
            seq,
            source: source.to_owned(),
        };
        match held.alert.msg_type {
            MsgType::Ack | MsgType::Error => applied.consumed.push(seq),
            MsgType::Alert => {
                info!(%id, "alert added");
                applied.events.push(event("added", &held));
                self.current.insert(id, held);
            }
            MsgType::Update => {
                self.retire_references(&held, "updated", &mut applied);
                info!(%id, "alert updated");
                applied.events.push(event("updated", &held));
                self.current.insert(id, held);
            }
            MsgType::Cancel => {
                self.retire_references(&held, "cancelled", &mut applied);
                self.cancels.insert(id, held);
            }
        }
        applied
    }

    /// Retires the alerts `by` names in `references`, if they are from the same sender.
    ///
    /// A retired identity is refused until the later of the retiring message's end and the
    /// retired alert's own, so a copy of the original still travelling is not listed again.
    fn retire_references(&mut self, by: &Held, verb: &str, applied: &mut Applied) {
        let by_end = by.alert.end_unix_secs();
        for reference in &by.alert.references {
            if reference.sender != by.alert.sender {
                warn!(by = %by.alert.id(), %reference, "ignoring a reference to another sender's alert");
                continue;
            }
            let old = self.current.remove(reference);
            let retired = self.retired.entry(reference.clone()).or_insert(Retired {
                until: by_end,
                seq: None,
            });
            retired.until = retired.until.max(by_end);
            if let Some(old) = old {
                info!(%reference, by = %by.alert.id(), "alert {verb}");
                retired.until = retired.until.max(old.alert.end_unix_secs());
                retired.seq = Some(old.seq);
                if let Some(bundle) = self.bundles.get(&old.seq) {
                    let until = unix_to_dtn(old.alert.end_unix_secs());
                    applied.withdraw.push((bundle.clone(), until));
                }
                if verb == "cancelled" {
                    applied.events.push(event("cancelled", &old));
                }
            }
        }
    }

    /// Drops what has ended by `now` (Unix seconds).
    pub fn prune(&mut self, now: i64) -> Applied {
        let applied = self.prune_ended(now);
        self.forget_consumed(&applied);
        applied
    }

    fn prune_ended(&mut self, now: i64) -> Applied {
        let mut applied = Applied::default();
        let ended: Vec<AlertId> = self
            .current
            .iter()
            .filter(|(_, h)| h.alert.end_unix_secs() <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            if let Some(old) = self.current.remove(&id) {
                info!(%id, "alert expired");
                applied.consumed.push(old.seq);
                applied.events.push(event("expired", &old));
            }
        }
        self.cancels.retain(|_, h| {
            let keep = h.alert.end_unix_secs() > now;
            if !keep {
                applied.consumed.push(h.seq);
            }
            keep
        });
        self.retired.retain(|_, retired| {
            let keep = retired.until > now;
            if !keep {
                applied.consumed.extend(retired.seq);
            }
            keep
        });
        applied
    }
}

fn event(kind: &str, held: &Held) -> AlertEvent {
    AlertEvent {
        event: kind.to_owned(),
        alert: AlertJson::new(held),
    }
}

/// What the API needs of the follower: the current list, and the changes as they happen.
#[derive(Debug, Clone)]
pub struct Alerts {
    list: watch::Receiver<Arc<Vec<AlertJson>>>,
    events: broadcast::Sender<AlertEvent>,
}

impl Alerts {
    /// The alerts in force now.
    pub fn list(&self) -> Arc<Vec<AlertJson>> {
        self.list.borrow().clone()
    }

    /// Changes from now on. Subscribe *before* reading [`Self::list`] so nothing falls between.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.events.subscribe()
    }
}

/// Registers [`ALERTS_ENDPOINT`] and starts the follower task that keeps the registry, until
/// `stop` turns true. Must be called inside a tokio runtime.
pub fn spawn(handle: DriverHandle, stop: watch::Receiver<bool>) -> Alerts {
    let (list_tx, list) = watch::channel(Arc::new(Vec::new()));
    let (events, _) = broadcast::channel(256);
    let alerts = Alerts {
        list,
        events: events.clone(),
    };
    tokio::spawn(follow(handle, list_tx, events, stop));
    alerts
}

/// Current Unix seconds, or `None` when the node has no accurate clock (DTN time 0).
fn unix_now(clock: &Clock) -> Option<i64> {
    let wall = clock.now().wall;
    (wall.millis() != 0).then(|| (wall.to_unix_ms() / 1000) as i64)
}

async fn follow(
    handle: DriverHandle,
    list: watch::Sender<Arc<Vec<AlertJson>>>,
    events: broadcast::Sender<AlertEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let endpoint = alerts_endpoint();
    let clock = Clock::start();
    // Subscribe before registering: registration delivers what already waits.
    let mut notices = handle.deliveries.subscribe();
    let (reply, answer) = oneshot::channel();
    let register = Command::Register {
        endpoint: endpoint.clone(),
        reply,
    };
    if handle.commands.send(register).await.is_err() {
        return;
    }
    match answer.await {
        Ok(Ok(())) => debug!(%endpoint, "alerts endpoint registered"),
        Ok(Err(e)) => {
            warn!(%endpoint, error = %e, "cannot register the alerts endpoint; alerts are off");
            return;
        }
        Err(_) => return,
    }
    let mut registry = AlertRegistry::new();
    let mut after: Option<u64> = None;
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        let mut changed = false;
        // Read everything new; at start-up this replays the whole mailbox.
        loop {
            let page = match handle.store.mailbox_peek(&endpoint, after, PAGE) {
                Ok(page) => page,
                Err(e) => {
                    warn!(error = %e, "reading the alerts mailbox failed");
                    break;
                }
            };
            if page.is_empty() {
                break;
            }
            for (seq, record) in &page {
                after = Some(*seq);
                let applied = apply_record(&mut registry, *seq, record, unix_now(&clock));
                changed |= publish(&handle, &endpoint, &events, applied);
            }
        }
        if let Some(now) = unix_now(&clock) {
            changed |= publish(&handle, &endpoint, &events, registry.prune(now));
        }
        if changed {
            let _ = list.send(Arc::new(registry.list()));
        }
        tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => return,
            _ = tick.tick() => {}
            woken = delivery_for(&mut notices, &endpoint) => if !woken { return },
        }
    }
}

fn apply_record(
    registry: &mut AlertRegistry,
    seq: u64,
    record: &MailboxRecord,
    now: Option<i64>,
) -> Applied {
    registry.note_bundle(
        seq,
        BundleId {
            source: record.source.clone(),
            creation: record.creation,
            fragment: None,
        },
    );
    registry.apply(seq, &record.source.to_string(), &record.payload[..], now)
}

/// DTN time (RFC 9171 §4.2.6) of a Unix time in seconds; before 2000, 0 (unknown).
fn unix_to_dtn(unix_secs: i64) -> DtnTime {
    DtnTime::from_unix_ms(u64::try_from(unix_secs).unwrap_or(0).saturating_mul(1000))
}

/// Consumes the records `applied` no longer needs and announces its events; true if anything
/// changed.
fn publish(
    handle: &DriverHandle,
    endpoint: &Eid,
    events: &broadcast::Sender<AlertEvent>,
    applied: Applied,
) -> bool {
    for (id, until) in applied.withdraw {
        // The driver deletes the bundle and tombstones it; a busy queue only delays that.
        let commands = handle.commands.clone();
        tokio::spawn(async move {
            let _ = commands.send(Command::Discard { id, until }).await;
        });
    }
    for seq in &applied.consumed {
        if let Err(e) = handle.store.mailbox_remove(endpoint, *seq) {
            warn!(seq, error = %e, "consuming an alerts mailbox record failed");
        }
    }
    let changed = !applied.events.is_empty();
    for event in applied.events {
        // No subscriber is fine: the list is the truth.
        let _ = events.send(event);
    }
    changed
}

/// Waits for a delivery to `endpoint` (or a lag, which may hide one); false once deliveries
/// end.
async fn delivery_for(notices: &mut broadcast::Receiver<DeliveryNotice>, endpoint: &Eid) -> bool {
    use broadcast::error::RecvError;
    loop {
        match notices.recv().await {
            Ok(notice) if notice.endpoint == *endpoint => return true,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use proto::cap::{AlertBuilder, CapTime, Category, Certainty, Severity, Urgency};

    use super::*;

    const T0: i64 = 1_790_000_000;

    fn doc(identifier: &str, msg_type: MsgType, refs: &[(&str, i64)], sent: i64) -> Vec<u8> {
        let mut b = AlertBuilder::new(
            "ops@example.org",
            identifier,
            CapTime::new(sent, 0).unwrap(),
        )
        .msg_type(msg_type);
        for (id, at) in refs {
            b = b.reference(AlertId {
                sender: "ops@example.org".into(),
                identifier: (*id).into(),
                sent: CapTime::new(*at, 0).unwrap(),
            });
        }
        if msg_type != MsgType::Cancel {
            b = b
                .event(Category::Met, "Flood")
                .urgency(Urgency::Immediate)
                .severity(Severity::Extreme)
                .certainty(Certainty::Observed)
                .expires(CapTime::new(sent + 3600, 0).unwrap())
                .area("Riverside");
        }
        proto::cap::write(&b.build().unwrap()).into_bytes()
    }

    fn ids(r: &AlertRegistry) -> Vec<String> {
        r.list().into_iter().map(|a| a.identifier).collect()
    }

    #[test]
    fn alerts_endpoint_is_a_group_endpoint() {
        let eid = alerts_endpoint();
        assert_eq!(eid.to_string(), ALERTS_ENDPOINT);
        assert!(!eid.is_singleton());
    }

    #[test]
    fn alert_is_listed_once() {
        let mut r = AlertRegistry::new();
        let first = r.apply(1, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        assert_eq!(first.events[0].event, "added");
        let again = r.apply(2, "dtn://b/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        assert!(again.events.is_empty());
        assert_eq!(again.consumed, [2]);
        assert_eq!(ids(&r), ["a1"]);
        assert_eq!(r.list()[0].priority, "emergency");
    }

    #[test]
    fn update_replaces_the_alert_it_references() {
        let mut r = AlertRegistry::new();
        r.apply(1, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        let up = r.apply(
            2,
            "dtn://a/",
            &doc("a2", MsgType::Update, &[("a1", T0)], T0 + 60),
            Some(T0),
        );
        assert!(
            up.consumed.is_empty(),
            "the replaced alert's record is kept for replay"
        );
        assert_eq!(up.events[0].event, "updated");
        assert_eq!(ids(&r), ["a2"]);
    }

    #[test]
    fn retiring_an_alert_withdraws_the_bundle_it_came_in_until_it_ends() {
        let mut r = AlertRegistry::new();
        let bundle = BundleId {
            source: "dtn://a/".parse().unwrap(),
            creation: proto::wire::CreationTimestamp {
                time: DtnTime(5),
                sequence: 1,
            },
            fragment: None,
        };
        r.note_bundle(1, bundle.clone());
        r.apply(1, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        let cancel = doc("c1", MsgType::Cancel, &[("a1", T0)], T0 + 60);
        let applied = r.apply(2, "dtn://a/", &cancel, Some(T0));
        assert_eq!(applied.withdraw.len(), 1);
        let (id, until) = &applied.withdraw[0];
        assert_eq!(id, &bundle);
        // Refused until the alert's own end: `doc` alerts expire an hour after T0.
        assert_eq!(
            until.0,
            u64::try_from(T0 + 3_600 - 946_684_800).unwrap() * 1000
        );
    }

    #[test]
    fn cancel_retires_the_alert_and_a_late_original_stays_retired() {
        let mut r = AlertRegistry::new();
        let cancel = doc("c1", MsgType::Cancel, &[("a1", T0)], T0 + 60);
        let applied = r.apply(1, "dtn://a/", &cancel, Some(T0));
        assert!(applied.consumed.is_empty(), "the cancel is kept for replay");
        let late = r.apply(2, "dtn://b/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        assert_eq!(late.consumed, [2]);
        assert!(ids(&r).is_empty());
    }

    #[test]
    fn cancel_of_a_listed_alert_announces_it() {
        let mut r = AlertRegistry::new();
        r.apply(1, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        let c = r.apply(
            2,
            "dtn://a/",
            &doc("c1", MsgType::Cancel, &[("a1", T0)], T0 + 60),
            Some(T0),
        );
        assert!(
            c.consumed.is_empty(),
            "the cancelled alert's record is kept for replay"
        );
        assert_eq!(c.events[0].event, "cancelled");
        assert_eq!(c.events[0].alert.identifier, "a1");
        assert!(ids(&r).is_empty());
    }

    #[test]
    fn retired_alert_record_is_kept_until_both_it_and_its_cancel_end() {
        let mut r = AlertRegistry::new();
        r.apply(1, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        let cancel = doc("c1", MsgType::Cancel, &[("a1", T0)], T0 + 60);
        r.apply(2, "dtn://a/", &cancel, Some(T0));
        // The cancel names no expires: it ends a day after it was sent, after a1's hour.
        let day_later = T0 + 60 + 24 * 3600;
        assert!(r.prune(day_later - 1).consumed.is_empty());
        let mut consumed = r.prune(day_later).consumed;
        consumed.sort_unstable();
        assert_eq!(consumed, [1, 2]);
        // Once both ended, a copy of a1 is refused as ended, not listed.
        let late = r.apply(
            3,
            "dtn://b/",
            &doc("a1", MsgType::Alert, &[], T0),
            Some(day_later),
        );
        assert_eq!(late.consumed, [3]);
        assert!(ids(&r).is_empty());
    }

    #[test]
    fn another_senders_cancel_retires_nothing() {
        let mut r = AlertRegistry::new();
        r.apply(1, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        let forged = String::from_utf8(doc("c1", MsgType::Cancel, &[("a1", T0)], T0))
            .unwrap()
            .replace(
                "<sender>ops@example.org</sender>",
                "<sender>mallory</sender>",
            );
        r.apply(2, "dtn://m/", forged.as_bytes(), Some(T0));
        assert_eq!(ids(&r), ["a1"]);
    }

    #[test]
    fn expired_alert_drops_out_and_its_record_is_consumed() {
        let mut r = AlertRegistry::new();
        r.apply(7, "dtn://a/", &doc("a1", MsgType::Alert, &[], T0), Some(T0));
        let pruned = r.prune(T0 + 3600);
        assert_eq!(pruned.consumed, [7]);
        assert_eq!(pruned.events[0].event, "expired");
        assert!(ids(&r).is_empty());
    }

    #[test]
    fn invalid_document_is_consumed_and_not_listed() {
        let mut r = AlertRegistry::new();
        let applied = r.apply(3, "dtn://a/", b"<alert/>", Some(T0));
        assert_eq!(applied.consumed, [3]);
        assert!(ids(&r).is_empty());
    }

    #[test]
    fn replaying_the_kept_records_rebuilds_the_same_list() {
        let mut r = AlertRegistry::new();
        let records = [
            (1, doc("a1", MsgType::Alert, &[], T0)),
            (2, doc("b1", MsgType::Alert, &[], T0 + 1)),
            (3, doc("a2", MsgType::Update, &[("a1", T0)], T0 + 60)),
            (4, doc("c1", MsgType::Cancel, &[("b1", T0 + 1)], T0 + 90)),
        ];
        let mut consumed = Vec::new();
        for (seq, payload) in &records {
            consumed.extend(r.apply(*seq, "dtn://a/", payload, Some(T0)).consumed);
        }
        let mut replayed = AlertRegistry::new();
        for (seq, payload) in records.iter().filter(|(s, _)| !consumed.contains(s)) {
            replayed.apply(*seq, "dtn://a/", payload, Some(T0));
        }
        assert_eq!(ids(&replayed), ["a2"]);
        assert_eq!(replayed.list(), r.list());
    }
}
