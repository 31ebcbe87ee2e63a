//! The local application API: HTTP + JSON (and one WebSocket) between a node and the programs
//! on its machine — `tern send`/`recv`, scripts, the web UI, Prometheus.
//!
//! It is bound to loopback by default (`127.0.0.1:4557`) and has no authentication: whoever can
//! reach it can send as this node. Expose it beyond the machine only behind something that
//! authenticates. Everything it does goes through the driver's [`Command`] channel, except
//! mailbox reads, which go to the store directly (the driver never reads them back).
//!
//! # Endpoints (all JSON unless noted; `daemon/API.md` has examples)
//!
//! | method and path | what |
//! |---|---|
//! | `POST /api/v1/bundles` | send a bundle ([`json::SubmitRequest`]); 201 [`json::Submitted`] |
//! | `GET /api/v1/bundles` | stored bundles, [`json::BundleJson`] list |
//! | `POST /api/v1/registrations` | `{"endpoint": EID}`; 201 if new, 200 if it existed |
//! | `GET /api/v1/endpoints/{eid}/bundles` | long-poll the mailbox: `wait`, `after`, `max`, `consume` |
//! | `DELETE /api/v1/endpoints/{eid}/bundles/{seq}` | consume one delivery; 204, or 404 |
//! | `GET /api/v1/ws?endpoint=EID` | WebSocket: each delivery as a JSON text message |
//! | `GET /api/v1/peers` | links up, [`json::PeerJson`] list |
//! | `GET /api/v1/status` | node status and counters, [`json::StatusJson`] |
//! | `POST /api/v1/alerts` | send a CAP 1.2 alert (XML body); 201 [`alerts::AlertSubmitted`] |
//! | `GET /api/v1/alerts` | the alerts in force, [`crate::alerts::AlertJson`] list |
//! | `GET /api/v1/alerts/ws` | WebSocket: the alerts in force, then each change |
//! | `GET /metrics` | the same numbers in Prometheus text format |
//!
//! `{eid}` is the endpoint's URI text, percent-encoded (`dtn%3A%2F%2Fnode%2Fapp`).
//!
//! A submission is either a JSON body, or a raw `application/octet-stream` body (the payload, up
//! to the node's bundle size limit) with the other fields as query parameters:
//! `POST /api/v1/bundles?destination=ipn:2.1&lifetime=1h`.
//!
//! # Delivery semantics
//!
//! Deliveries wait in a durable per-endpoint mailbox until the application removes them, so an
//! application may be offline when its bundle arrives. Read, handle, then `DELETE` each one for
//! at-least-once processing; `?consume=true` removes what a GET returns, for simple scripts that
//! accept losing a message if they crash while handling it. Sequence numbers only increase, so
//! `after` pages through a mailbox without removing anything.
//!
//! # Errors
//!
//! Every error is `{"error": "..."}` naming the field at fault: 400 for a bad field or invalid
//! JSON (serde's message, with line and column), 404 for an unknown path or delivery, 413 for a
//! bundle over the node's size limit, 415 for a body that is neither JSON nor octet-stream, 507
//! when the node's storage quota is reached, 503 when the node is shutting down.

use std::future::Future;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Router, serve as axum_serve};
use proto::node::SubmitError;
use proto::wire::DecodeLimits;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::driver::{Command, DriverHandle};
use crate::store::StoreError;

pub mod alerts;
mod handlers;
pub mod json;
mod mailbox;
pub mod metrics;

use json::{ErrorJson, FieldError};

/// Longest a long-poll waits, in seconds: under the idle timeouts of common proxies and HTTP
/// clients, so a quiet mailbox never looks like a dead connection.
pub const MAX_WAIT_SECS: u64 = 60;

/// How the API is set up.
#[derive(Debug, Clone, Copy)]
pub struct ApiOptions {
    /// Largest bundle the node accepts: the raw-body limit of a submission. JSON bodies may be
    /// twice as large plus 64 KiB, for base64 and escaping; the node refuses an oversize bundle
    /// itself either way.
    pub max_bundle_size: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            max_bundle_size: DecodeLimits::default().max_bundle_size,
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes, with default options.
pub async fn serve(
    listener: TcpListener,
    handle: DriverHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, handle, ApiOptions::default(), shutdown).await
}

/// Serves the API on `listener` until `shutdown` completes.
///
/// On shutdown the listener closes at once; long-polls answer with what they have (nothing) and
/// WebSockets are closed, so in-flight requests end promptly instead of holding the node's exit
/// for up to [`MAX_WAIT_SECS`].
pub async fn serve_with(
    listener: TcpListener,
    handle: DriverHandle,
    options: ApiOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Handlers watch `stop` to cut waits short; axum watches the future below to stop accepting.
    let (stop_tx, stop) = watch::channel(false);
    let app = router(handle, options, stop);
    axum_serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await
}

/// The API's routes, ready to serve. `stop` turning true ends long-polls and WebSockets.
///
/// Also starts the alert registry's follower ([`crate::alerts::spawn`]), which registers the
/// alerts endpoint; so this must be called inside a tokio runtime, once per node.
pub fn router(handle: DriverHandle, options: ApiOptions, stop: watch::Receiver<bool>) -> Router {
    let alerts = crate::alerts::spawn(handle.clone(), stop.clone());
    let state = ApiState {
        handle,
        max_bundle_size: options.max_bundle_size,
        stop,
        alerts,
    };
    let v1 = Router::new()
        .route("/bundles", get(handlers::bundles).post(handlers::submit))
        .route("/registrations", post(handlers::register))
        .route("/endpoints/{endpoint}/bundles", get(mailbox::receive))
        .route(
            "/endpoints/{endpoint}/bundles/{seq}",
            delete(mailbox::remove),
        )
        .route("/ws", get(mailbox::websocket))
        .route("/peers", get(handlers::peers))
        .route("/status", get(handlers::status))
        .route("/alerts", get(alerts::list).post(alerts::submit))
        .route("/alerts/ws", get(alerts::websocket));
    Router::new()
        .nest("/api/v1", v1)
        .route("/metrics", get(handlers::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Handlers read bodies themselves with their own limits (see `handlers::read_body`).
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// What every handler shares.
#[derive(Debug, Clone)]
struct ApiState {
    handle: DriverHandle,
    max_bundle_size: usize,
    stop: watch::Receiver<bool>,
    alerts: crate::alerts::Alerts,
}

impl ApiState {
    /// Sends a command to the driver and waits for its answer.
    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.handle
            .commands
            .send(command(reply))
            .await
            .map_err(|_| ApiError::driver_gone())?;
        answer.await.map_err(|_| ApiError::driver_gone())
    }

    /// Resolves once the API is shutting down.
    async fn stopped(&self) {
        let mut stop = self.stop.clone();
        // An error means the sender is gone, which also means the server is stopping.
        let _ = stop.wait_for(|stopping| *stopping).await;
    }
}

/// An error answer: a status and one line saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn driver_gone() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is shutting down: its driver no longer takes requests",
        )
    }

    fn store(e: &StoreError) -> Self {
        tracing::warn!(error = %e, "API store access failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }

    /// The status for each way the engine refuses a submission.
    fn submit(e: &SubmitError) -> Self {
        let status = match e {
            SubmitError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            SubmitError::StorageFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let message = match e {
            SubmitError::ForeignSource(_) => format!("source: {e}"),
            SubmitError::ZeroLifetime => format!("lifetime: {e}"),
            _ => e.to_string(),
        };
        Self::new(status, message)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorJson {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API path: the API lives under /api/v1 (see daemon/API.md)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not take that method (see daemon/API.md)",
    )
}
