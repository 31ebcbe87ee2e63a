//! Handlers that ask the driver: submit, register, and the operator's views (bundles, peers,
//! status, metrics). Mailbox reads are in [`super::mailbox`].

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;

use super::json::{BundleJson, PeerJson, RegisterRequest, Registered, StatusJson, SubmitRequest};
use super::json::{CreationJson, Submitted, parse_eid};
use super::{ApiError, ApiState, metrics};
use crate::driver::Command;

/// Room for JSON around a payload: field names, other fields, whitespace.
const JSON_OVERHEAD: usize = 64 * 1024;

/// How a submission's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Raw,
}

/// `POST /api/v1/bundles`.
pub(super) async fn submit(
    State(state): State<ApiState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let (request, raw) = match body_kind(&headers)? {
        BodyKind::Raw => {
            let Query(request) = Query::<SubmitRequest>::try_from_uri(&uri)
                .map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))?;
            let payload = read_body(body, state.max_bundle_size).await?;
            (request, Some(payload))
        }
        BodyKind::Json => {
            let limit = state.max_bundle_size.saturating_mul(2) + JSON_OVERHEAD;
            let bytes = read_body(body, limit).await?;
            (parse_json::<SubmitRequest>(&bytes)?, None)
        }
    };
    let submit = request.to_submit(raw)?;
    let destination = submit.destination.to_string();
    let stored = state
        .call(|reply| Command::Submit { req: submit, reply })
        .await?
        .map_err(|e| ApiError::submit(&e))?;
    let answer = Submitted {
        key: stored.key.0,
        source: Some(stored.source.to_string()),
        destination,
        creation: Some(CreationJson::from(stored.creation)),
    };
    tracing::debug!(key = answer.key, destination = %answer.destination, "bundle submitted over the API");
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `POST /api/v1/registrations`.
pub(super) async fn register(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    if body_kind(&headers)? == BodyKind::Raw {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a registration is JSON: {\"endpoint\": \"dtn://node/app\"}",
        ));
    }
    let bytes = read_body(body, JSON_OVERHEAD).await?;
    let request = parse_json::<RegisterRequest>(&bytes)?;
    let endpoint = parse_eid("endpoint", &request.endpoint)?;
    let text = endpoint.to_string();
    let existed = state
        .call(|reply| Command::Status { reply })
        .await?
        .registrations
        .contains(&text);
    state
        .call(|reply| Command::Register {
            endpoint: endpoint.clone(),
            reply,
        })
        .await?
        .map_err(|e| ApiError::bad_request(format!("endpoint: {e}")))?;
    let waiting = state
        .handle
        .store
        .mailbox_len(&endpoint)
        .map_err(|e| ApiError::store(&e))?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let answer = Registered {
        endpoint: text,
        created: !existed,
        waiting,
    };
    Ok((status, Json(answer)))
}

/// `GET /api/v1/bundles`.
pub(super) async fn bundles(
    State(state): State<ApiState>,
) -> Result<Json<Vec<BundleJson>>, ApiError> {
    let list = state.call(|reply| Command::Bundles { reply }).await?;
    Ok(Json(list.into_iter().map(BundleJson::from).collect()))
}

/// `GET /api/v1/peers`.
pub(super) async fn peers(State(state): State<ApiState>) -> Result<Json<Vec<PeerJson>>, ApiError> {
    let list = state.call(|reply| Command::Peers { reply }).await?;
    Ok(Json(list.into_iter().map(PeerJson::from).collect()))
}

/// `GET /api/v1/status`.
pub(super) async fn status(State(state): State<ApiState>) -> Result<Json<StatusJson>, ApiError> {
    let view = state.call(|reply| Command::Status { reply }).await?;
    Ok(Json(view.into()))
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub(super) async fn metrics(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let view = state.call(|reply| Command::Status { reply }).await?;
    let text = metrics::render(&view.into());
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text))
}

/// Tells JSON from a raw payload by `Content-Type`; no header means JSON, so `curl -d '{...}'`
/// works without `-H`.
fn body_kind(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyKind::Json);
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/octet-stream" => Ok(BodyKind::Raw),
        // What `curl -d` sends when no type is given: it is still JSON text.
        "application/x-www-form-urlencoded" => Ok(BodyKind::Json),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type '{text}' is not accepted: send application/json, or the payload as \
                 application/octet-stream with the other fields as query parameters"
            ),
        )),
    }
}

/// Reads a whole body of at most `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    // Reading fails only when the limit is passed or the client went away; in the second case
    // nobody reads the answer, so "too large" is the only one worth wording.
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes, the limit for this request"),
        )
    })
}

/// Parses a JSON body; serde's message names the field, line and column.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}
