//! `/api/v1/alerts`: send a CAP 1.2 alert, list the alerts in force, stream their changes.
//!
//! Sending checks the document with [`proto::cap::parse`] (400 with the checker's message, which
//! names the element and line) and submits it to [`ALERTS_ENDPOINT`] with the priority class and
//! lifetime the alert implies. The list and the stream come from the registry kept by
//! [`crate::alerts`].

use axum::Json;
use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use proto::cap::{Alert, MsgType, ParseLimits};
use proto::node::Submit;
use proto::wire::DtnTime;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, ApiState};
use crate::alerts::{ALERTS_ENDPOINT, AlertEvent, AlertJson, alerts_endpoint};
use crate::clock::Clock;
use crate::driver::Command;

/// The answer to `POST /api/v1/alerts` (201 Created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSubmitted {
    /// The node's store key for the bundle carrying the alert.
    pub key: u64,
    /// The alert's identity, `sender,identifier,sent`.
    pub id: String,
    /// Where the bundle goes: the alerts group endpoint.
    pub destination: String,
    /// The priority class the bundle carries.
    pub priority: String,
    /// The bundle's lifetime, milliseconds: until the alert's latest `expires`.
    pub lifetime_ms: u64,
}

/// `POST /api/v1/alerts`: the body is a CAP 1.2 XML document.
pub(super) async fn submit(
    State(state): State<ApiState>,
    body: Body,
) -> Result<(StatusCode, Json<AlertSubmitted>), ApiError> {
    let limit = ParseLimits::default().max_bytes;
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a CAP document may be at most {limit} bytes"),
        )
    })?;
    let alert = proto::cap::parse(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = Clock::start().now().wall;
    let Some(lifetime_ms) = alert.lifetime_ms(now) else {
        let when = alert
            .expires()
            .map_or_else(|| "a day after it was sent".to_owned(), |t| t.to_string());
        return Err(ApiError::bad_request(format!(
            "alert/info/expires: the alert has already ended ({when}); nothing to send"
        )));
    };
    let lifetime_ms = lifetime_ms.max(retiring_lifetime_ms(&alert, &state.alerts.list(), now));
    let priority = alert.priority();
    let mut submit = Submit::new(alerts_endpoint(), bytes);
    submit.lifetime_ms = lifetime_ms;
    submit.priority = priority;
    let stored = state
        .call(|reply| Command::Submit { req: submit, reply })
        .await?
        .map_err(|e| ApiError::submit(&e))?;
    let answer = AlertSubmitted {
        key: stored.key.0,
        id: alert.id().to_string(),
        destination: ALERTS_ENDPOINT.to_owned(),
        priority: priority.to_string(),
        lifetime_ms,
    };
    tracing::info!(id = %answer.id, %priority, lifetime_ms, "alert submitted over the API");
    Ok((StatusCode::CREATED, Json(answer)))
}

/// How long an Update or Cancel must live to outlast the alerts it retires that this node
/// knows (0 if none): a node that receives a copy of the original later still needs the
/// message that retires it.
fn retiring_lifetime_ms(alert: &Alert, known: &[AlertJson], now: DtnTime) -> u64 {
    if !matches!(alert.msg_type, MsgType::Update | MsgType::Cancel) {
        return 0;
    }
    known
        .iter()
        .filter(|k| alert.references.iter().any(|r| r.to_string() == k.id))
        .filter_map(|k| proto::cap::parse(k.xml.as_bytes()).ok())
        .filter_map(|old| old.lifetime_ms(now))
        .max()
        .unwrap_or(0)
}

/// `GET /api/v1/alerts`: the alerts in force, oldest first.
pub(super) async fn list(State(state): State<ApiState>) -> Json<Vec<AlertJson>> {
    Json(state.alerts.list().as_ref().clone())
}

/// `GET /api/v1/alerts/ws`: each alert in force as a `current` event, then every change.
pub(super) async fn websocket(
    State(state): State<ApiState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| {
        ApiError::bad_request(format!(
            "this path speaks WebSocket; connect with a WebSocket client ({})",
            e.body_text()
        ))
    })?;
    Ok(upgrade.on_upgrade(move |socket| stream(socket, state)))
}

/// Sends the current alerts, then changes, until the client leaves or the API stops. A client
/// that falls behind gets the current list again (as `current` events): identities let it
/// merge.
async fn stream(mut socket: WebSocket, state: ApiState) {
    // Subscribe before reading the list, so a change in between is not lost.
    let mut changes = state.alerts.subscribe();
    if send_current(&mut socket, &state).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            () = state.stopped() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            change = changes.recv() => {
                let sent = match change {
                    Ok(event) => send_event(&mut socket, &event).await,
                    Err(RecvError::Lagged(_)) => send_current(&mut socket, &state).await,
                    Err(RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send_current(socket: &mut WebSocket, state: &ApiState) -> Result<(), axum::Error> {
    for alert in state.alerts.list().iter() {
        let event = AlertEvent {
            event: "current".to_owned(),
            alert: alert.clone(),
        };
        send_event(socket, &event).await?;
    }
    Ok(())
}

async fn send_event(socket: &mut WebSocket, event: &AlertEvent) -> Result<(), axum::Error> {
    let text = serde_json::to_string(event).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use proto::cap::{AlertBuilder, AlertId, CapTime, Category, Severity, Urgency};

    use super::*;
    use crate::alerts::AlertRegistry;

    const T0: i64 = 1_790_000_000;

    fn flood(identifier: &str, msg_type: MsgType, hours: i64) -> Alert {
        let sent = CapTime::new(T0, 0).unwrap();
        let mut b = AlertBuilder::new("ops", identifier, sent).msg_type(msg_type);
        if msg_type == MsgType::Cancel {
            b = b.reference(AlertId {
                sender: "ops".into(),
                identifier: "a1".into(),
                sent,
            });
        } else {
            b = b
                .event(Category::Met, "Flood")
                .urgency(Urgency::Immediate)
                .severity(Severity::Extreme)
                .expires(CapTime::new(T0 + hours * 3600, 0).unwrap());
        }
        b.build().unwrap()
    }

    #[test]
    fn cancel_lives_as_long_as_the_alert_it_retires() {
        let mut registry = AlertRegistry::new();
        let original = proto::cap::write(&flood("a1", MsgType::Alert, 72));
        registry.apply(1, "dtn://a/", original.as_bytes(), Some(T0));
        let cancel = flood("c1", MsgType::Cancel, 0);
        let now = CapTime::new(T0, 0).unwrap().to_dtn().unwrap();
        assert_eq!(cancel.lifetime_ms(now), Some(24 * 3_600_000));
        assert_eq!(
            retiring_lifetime_ms(&cancel, &registry.list(), now),
            72 * 3_600_000
        );
    }

    #[test]
    fn a_new_alert_needs_no_extra_lifetime() {
        let mut registry = AlertRegistry::new();
        let original = proto::cap::write(&flood("a1", MsgType::Alert, 72));
        registry.apply(1, "dtn://a/", original.as_bytes(), Some(T0));
        let other = flood("a2", MsgType::Alert, 1);
        let now = CapTime::new(T0, 0).unwrap().to_dtn().unwrap();
        assert_eq!(retiring_lifetime_ms(&other, &registry.list(), now), 0);
    }
}
