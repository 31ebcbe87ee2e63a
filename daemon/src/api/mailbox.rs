//! Receiving: long-poll and WebSocket reads of an endpoint's mailbox, and consuming deliveries.
//!
//! Both readers subscribe to the driver's delivery announcements *before* they look at the
//! mailbox, so a delivery that lands between the look and the wait still wakes them: nothing
//! falls into the gap. A reader that falls behind the announcement channel (it lagged) simply
//! looks again — announcements are hints, the mailbox is the truth.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use proto::wire::Eid;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::json::{Delivery, parse_eid};
use super::{ApiError, ApiState, MAX_WAIT_SECS};
use crate::driver::DeliveryNotice;

/// Deliveries per answer when the client names no `max`.
const DEFAULT_MAX: usize = 100;
/// Most deliveries per answer, so one reply stays a bounded size.
const MAX_MAX: usize = 1000;

/// Query of `GET /api/v1/endpoints/{endpoint}/bundles`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReceiveQuery {
    /// Seconds to wait when nothing is there (0–60, fractions allowed; larger values mean 60).
    wait: Option<f64>,
    /// Only deliveries after this sequence number.
    after: Option<u64>,
    /// Most deliveries returned (1–1000).
    max: Option<usize>,
    /// Remove what is returned.
    #[serde(default)]
    consume: bool,
}

/// `GET /api/v1/endpoints/{endpoint}/bundles`: returns at once if the mailbox has deliveries
/// after `after`, else waits up to `wait` seconds for one.
pub(super) async fn receive(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ReceiveQuery>, QueryRejection>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let endpoint = endpoint_from_path(path)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))?;
    let wait = wait_duration(query.wait)?;
    let max = query.max.unwrap_or(DEFAULT_MAX).clamp(1, MAX_MAX);
    let deadline = Instant::now() + wait;
    // Subscribe first: see the module docs.
    let mut notices = state.handle.deliveries.subscribe();
    loop {
        let records = state
            .handle
            .store
            .mailbox_peek(&endpoint, query.after, max)
            .map_err(|e| ApiError::store(&e))?;
        if !records.is_empty() {
            let deliveries: Vec<Delivery> = records
                .iter()
                .map(|(seq, r)| Delivery::new(*seq, r))
                .collect();
            if query.consume {
                consume(&state, &endpoint, deliveries.iter().map(|d| d.seq))?;
            }
            return Ok(Json(deliveries));
        }
        let woken = tokio::select! {
            () = tokio::time::sleep_until(deadline) => false,
            () = state.stopped() => false,
            woken = delivery_for(&mut notices, &endpoint) => woken,
        };
        if !woken {
            return Ok(Json(Vec::new()));
        }
    }
}

/// `DELETE /api/v1/endpoints/{endpoint}/bundles/{seq}`: 204 once removed, 404 if not there.
pub(super) async fn remove(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((endpoint, seq)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let endpoint = parse_eid("endpoint", &endpoint)?;
    let seq: u64 = seq.parse().map_err(|_| {
        ApiError::bad_request(format!("seq: '{seq}' is not a delivery's sequence number"))
    })?;
    let removed = state
        .handle
        .store
        .mailbox_remove(&endpoint, seq)
        .map_err(|e| ApiError::store(&e))?;
    if !removed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no delivery {seq} in the mailbox of {endpoint} (already consumed?)"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/v1/ws`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SocketQuery {
    /// The endpoint whose deliveries to push.
    endpoint: String,
    /// Start after this sequence number instead of at the mailbox's beginning.
    after: Option<u64>,
    /// Remove each delivery once it is sent.
    #[serde(default)]
    consume: bool,
}

/// `GET /api/v1/ws?endpoint=EID`: a WebSocket that pushes every delivery for `endpoint` as a
/// JSON text message ([`Delivery`]), starting with what already waits in the mailbox.
pub(super) async fn websocket(
    State(state): State<ApiState>,
    query: Result<Query<SocketQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))?;
    let endpoint = parse_eid("endpoint", &query.endpoint)?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::bad_request(format!(
            "this path speaks WebSocket; connect with a WebSocket client ({})",
            e.body_text()
        ))
    })?;
    Ok(upgrade.on_upgrade(move |socket| push(socket, state, endpoint, query.after, query.consume)))
}

/// Sends deliveries on `socket` until the client leaves or the API stops.
async fn push(
    mut socket: WebSocket,
    state: ApiState,
    endpoint: Eid,
    mut after: Option<u64>,
    consume: bool,
) {
    let mut notices = state.handle.deliveries.subscribe();
    loop {
        // Send all that waits after `after`, in pages.
        loop {
            let page = match state
                .handle
                .store
                .mailbox_peek(&endpoint, after, DEFAULT_MAX)
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(%endpoint, error = %e, "WebSocket mailbox read failed");
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            };
            if page.is_empty() {
                break;
            }
            for (seq, record) in &page {
                let Ok(text) = serde_json::to_string(&Delivery::new(*seq, record)) else {
                    return;
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return; // The client left.
                }
                after = Some(*seq);
                if consume && consume_one(&state, &endpoint, *seq).is_err() {
                    return;
                }
            }
        }
        tokio::select! {
            () = state.stopped() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the socket itself; other client messages mean nothing.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            woken = delivery_for(&mut notices, &endpoint) => if !woken { return },
        }
    }
}

/// Waits for an announcement that may concern `endpoint`: true for one (or after lagging, when
/// some may have been missed), false if announcements ended.
async fn delivery_for(notices: &mut broadcast::Receiver<DeliveryNotice>, endpoint: &Eid) -> bool {
    loop {
        match notices.recv().await {
            Ok(notice) if notice.endpoint == *endpoint => return true,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

fn consume(
    state: &ApiState,
    endpoint: &Eid,
    seqs: impl Iterator<Item = u64>,
) -> Result<(), ApiError> {
    for seq in seqs {
        consume_one(state, endpoint, seq)?;
    }
    Ok(())
}

fn consume_one(state: &ApiState, endpoint: &Eid, seq: u64) -> Result<(), ApiError> {
    state
        .handle
        .store
        .mailbox_remove(endpoint, seq)
        .map(|_| ())
        .map_err(|e| ApiError::store(&e))
}

fn endpoint_from_path(path: Result<Path<String>, PathRejection>) -> Result<Eid, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(parse_eid("endpoint", &text)?)
}

/// The `wait` parameter as a duration, at most [`MAX_WAIT_SECS`].
fn wait_duration(wait: Option<f64>) -> Result<Duration, ApiError> {
    let secs = wait.unwrap_or(0.0);
    if !secs.is_finite() || secs < 0.0 {
        return Err(ApiError::bad_request(format!(
            "wait: {secs} is not a number of seconds from 0 to {MAX_WAIT_SECS}"
        )));
    }
    Ok(Duration::from_secs_f64(secs.min(MAX_WAIT_SECS as f64)))
}
