//! A blocking client of the node's local API ([`crate::api`]), for `tern send`, `recv`,
//! `peers`, `status` and `bundles`.
//!
//! The commands stay thin: they parse arguments, call one of [`ApiClient`]'s methods and print.
//! Requests and answers are the API's own JSON types ([`crate::api::json`]), so the two sides
//! cannot drift apart. The client speaks plain HTTP, never through a proxy: the API is on
//! loopback, and an `HTTP_PROXY` meant for the internet must not capture it.

use std::io;
use std::time::Duration;

use serde::de::DeserializeOwned;
use ureq::Agent;
use ureq::http::Response;

use crate::alerts::AlertJson;
use crate::api::alerts::AlertSubmitted;
use crate::api::json::{
    BundleJson, Delivery, ErrorJson, PeerJson, RegisterRequest, Registered, StatusJson,
    SubmitRequest, Submitted,
};

/// Where `tern` looks for the node's API unless told otherwise (see
/// [`crate::config::DEFAULT_API_PORT`]).
pub const DEFAULT_API: &str = "127.0.0.1:4557";

/// Environment variable that overrides [`DEFAULT_API`], for a shell talking to one node.
pub const API_ENV: &str = "TERN_API";

/// Largest answer read: a mailbox page of the most deliveries of the largest bundles.
const MAX_ANSWER: u64 = 1 << 30;

/// Time allowed to connect: on loopback, failure is immediate, so this only bounds a remote
/// `--api` that does not answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed for a request that does not wait on purpose.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The `--api` option every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Address of the node's local API, host:port or http://host:port.
    #[arg(long, value_name = "ADDR", env = API_ENV, default_value = DEFAULT_API)]
    pub api: String,
}

/// Why a client command failed. Each message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing answered at the API address.
    #[error("cannot reach the tern API at {addr}: is `tern node` running? ({detail})")]
    Unreachable {
        /// The address tried.
        addr: String,
        /// What the connection attempt reported.
        detail: String,
    },
    /// The node refused the request; its message names the field at fault.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The node's message.
        message: String,
    },
    /// The answer is not what the API sends: another program is listening there, or a `tern`
    /// of a different version.
    #[error(
        "the tern API at {addr} sent an answer tern cannot read ({detail}): is it a tern node of the same version?"
    )]
    BadAnswer {
        /// The address.
        addr: String,
        /// What was wrong.
        detail: String,
    },
    /// A command-line value was refused before anything was sent.
    #[error("{flag}: {reason}")]
    BadArgument {
        /// The flag or argument, as typed.
        flag: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// Reading a file or writing the output failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `tern recv` waited and nothing came.
    #[error("no bundle for {endpoint} within {secs} s")]
    NothingReceived {
        /// The endpoint.
        endpoint: String,
        /// How long it waited.
        secs: u64,
    },
}

impl ClientError {
    /// The process exit code: 2 for input the user can fix (a bad argument or a request the node
    /// refused as invalid), 1 for everything else (unreachable node, IO, nothing received).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadArgument { .. } => 2,
            Self::Refused { status, .. } if (400..500).contains(status) => 2,
            _ => 1,
        }
    }

    /// True when the reader of our output went away (`tern recv --follow … | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }

    /// A closure that wraps an IO error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// A connection to one node's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    addr: String,
    base: String,
    agent: Agent,
}

impl ApiClient {
    /// A client for the API at `addr` (`host:port`, or `http://host:port`).
    pub fn new(addr: &str) -> Result<Self, ClientError> {
        let addr = addr.trim().trim_end_matches('/');
        if addr.starts_with("https://") {
            return Err(ClientError::BadArgument {
                flag: "--api",
                reason: "the local API speaks plain HTTP (it listens on loopback): use \
                         http://HOST:PORT or HOST:PORT"
                    .to_owned(),
            });
        }
        if addr.is_empty() {
            return Err(ClientError::BadArgument {
                flag: "--api",
                reason: format!("empty address: write HOST:PORT, e.g. {DEFAULT_API}"),
            });
        }
        let base = if addr.starts_with("http://") {
            addr.to_owned()
        } else {
            format!("http://{addr}")
        };
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build();
        Ok(Self {
            addr: addr.trim_start_matches("http://").to_owned(),
            base,
            agent: Agent::new_with_config(config),
        })
    }

    /// The address this client talks to, as shown in messages.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `POST /api/v1/bundles` with a JSON body.
    pub fn submit(&self, request: &SubmitRequest) -> Result<Submitted, ClientError> {
        let result = self
            .agent
            .post(self.url("/api/v1/bundles"))
            .config()
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .send_json(request);
        self.answer(result)
    }

    /// `POST /api/v1/bundles` with `payload` as a raw body and the other fields of `request` as
    /// query parameters: no base64 inflation for files.
    pub fn submit_raw(
        &self,
        request: &SubmitRequest,
        payload: Vec<u8>,
    ) -> Result<Submitted, ClientError> {
        let mut call = self.agent.post(self.url("/api/v1/bundles"));
        for (name, value) in query_pairs(request) {
            call = call.query(name, value);
        }
        let result = call
            .config()
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .content_type("application/octet-stream")
            .send(payload);
        self.answer(result)
    }

    /// `POST /api/v1/registrations`.
    pub fn register(&self, endpoint: &str) -> Result<Registered, ClientError> {
        let request = RegisterRequest {
            endpoint: endpoint.to_owned(),
        };
        let result = self
            .agent
            .post(self.url("/api/v1/registrations"))
            .config()
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .send_json(&request);
        self.answer(result)
    }

    /// `GET /api/v1/endpoints/{endpoint}/bundles`: up to `max` deliveries after `after`, waiting
    /// up to `wait` (at most the API's 60 s) for the first.
    pub fn receive(
        &self,
        endpoint: &str,
        after: Option<u64>,
        wait: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, ClientError> {
        let path = format!("/api/v1/endpoints/{}/bundles", encode_segment(endpoint));
        let mut call = self
            .agent
            .get(self.url(&path))
            .query("wait", format!("{:.3}", wait.as_secs_f64()))
            .query("max", max.to_string());
        if let Some(seq) = after {
            call = call.query("after", seq.to_string());
        }
        let result = call
            .config()
            .timeout_global(Some(wait + CALL_TIMEOUT))
            .build()
            .call();
        self.answer(result)
    }

    /// `DELETE /api/v1/endpoints/{endpoint}/bundles/{seq}`: true if removed, false if it was
    /// not there (another reader consumed it).
    pub fn consume(&self, endpoint: &str, seq: u64) -> Result<bool, ClientError> {
        let path = format!(
            "/api/v1/endpoints/{}/bundles/{seq}",
            encode_segment(endpoint)
        );
        let result = self
            .agent
            .delete(self.url(&path))
            .config()
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .call();
        let mut response = result.map_err(|e| self.unreachable(&e))?;
        match response.status().as_u16() {
            204 | 200 => Ok(true),
            404 => Ok(false),
            status => Err(self.refusal(status, &self.body(&mut response)?)),
        }
    }

    /// `GET /api/v1/status`.
    pub fn status(&self) -> Result<StatusJson, ClientError> {
        self.get("/api/v1/status")
    }

    /// `GET /api/v1/peers`.
    pub fn peers(&self) -> Result<Vec<PeerJson>, ClientError> {
        self.get("/api/v1/peers")
    }

    /// `GET /api/v1/bundles`.
    pub fn bundles(&self) -> Result<Vec<BundleJson>, ClientError> {
        self.get("/api/v1/bundles")
    }

    /// `POST /api/v1/alerts` with a CAP 1.2 document as the body.
    pub fn submit_alert(&self, xml: Vec<u8>) -> Result<AlertSubmitted, ClientError> {
        let result = self
            .agent
            .post(self.url("/api/v1/alerts"))
            .config()
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .content_type(proto::cap::MEDIA_TYPE)
            .send(xml);
        self.answer(result)
    }

    /// `GET /api/v1/alerts`.
    pub fn alerts(&self) -> Result<Vec<AlertJson>, ClientError> {
        self.get("/api/v1/alerts")
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let result = self
            .agent
            .get(self.url(path))
            .config()
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .call();
        self.answer(result)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The JSON of a success, or the node's error message.
    fn answer<T: DeserializeOwned>(
        &self,
        result: Result<Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut response = result.map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        let body = self.body(&mut response)?;
        if status >= 400 {
            return Err(self.refusal(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            addr: self.addr.clone(),
            detail: format!("HTTP {status}: {e}"),
        })
    }

    fn body(&self, response: &mut Response<ureq::Body>) -> Result<Vec<u8>, ClientError> {
        response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| self.unreachable(&e))
    }

    /// The node's `{"error": ...}` message, or the status and body text if it sent none.
    fn refusal(&self, status: u16, body: &[u8]) -> ClientError {
        let message = match serde_json::from_slice::<ErrorJson>(body) {
            Ok(e) => e.error,
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                let text: String = text.chars().take(200).collect();
                format!(
                    "the tern API at {} answered HTTP {status}: {text}",
                    self.addr
                )
            }
        };
        ClientError::Refused { status, message }
    }

    fn unreachable(&self, e: &ureq::Error) -> ClientError {
        ClientError::Unreachable {
            addr: self.addr.clone(),
            detail: e.to_string(),
        }
    }
}

/// The fields of `request` as query parameters (strings as they are, numbers and flags as
/// their JSON text), skipping what is unset.
fn query_pairs(request: &SubmitRequest) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(request) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter_map(|(name, value)| match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((name, s)),
            other => Some((name, other.to_string())),
        })
        .collect()
}

/// Percent-encodes EID text for one path segment: everything but RFC 3986 unreserved
/// characters, so the `/` and `:` of `dtn://node/app` stay inside the segment.
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn eid_path_segments_encode_slashes_and_colons() {
        assert_eq!(encode_segment("dtn://n-1/app"), "dtn%3A%2F%2Fn-1%2Fapp");
        assert_eq!(encode_segment("ipn:2.1"), "ipn%3A2.1");
    }

    #[test]
    fn addresses_with_and_without_scheme_give_the_same_base() {
        let a = ApiClient::new("127.0.0.1:4557").unwrap();
        let b = ApiClient::new("http://127.0.0.1:4557/").unwrap();
        assert_eq!(a.base, "http://127.0.0.1:4557");
        assert_eq!(a.base, b.base);
        assert_eq!(b.addr(), "127.0.0.1:4557");
    }

    #[test]
    fn https_is_refused_with_the_reason() {
        let err = ApiClient::new("https://node:4557").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("--api: "), "{err}");
    }

    #[test]
    fn query_pairs_skip_unset_fields_and_spell_numbers() {
        let request = SubmitRequest {
            destination: "ipn:2.1".into(),
            lifetime_ms: Some(90_000),
            request_delivery_report: true,
            ..SubmitRequest::default()
        };
        let mut pairs = query_pairs(&request);
        pairs.sort();
        let expected = [
            ("destination", "ipn:2.1"),
            ("lifetime_ms", "90000"),
            ("request_delivery_report", "true"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn unreachable_node_is_named_with_a_hint() {
        // Port 1 on loopback: nothing listens there on any sane machine.
        let client = ApiClient::new("127.0.0.1:1").unwrap();
        let err = client.status().unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let text = err.to_string();
        assert!(
            text.starts_with("cannot reach the tern API at 127.0.0.1:1: is `tern node` running?"),
            "{text}"
        );
    }

    #[test]
    fn refused_requests_are_input_errors_and_server_failures_are_not() {
        let bad = ClientError::Refused {
            status: 400,
            message: "destination: x".into(),
        };
        let full = ClientError::Refused {
            status: 507,
            message: "storage full".into(),
        };
        assert_eq!(bad.exit_code(), 2);
        assert_eq!(full.exit_code(), 1);
        assert_eq!(bad.to_string(), "destination: x");
    }
}
