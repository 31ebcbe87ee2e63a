//! The local API over real HTTP: a real driver owning a real `Node`, a real sled store in a
//! temporary directory, and `api::serve` on a loopback port — no mocks. Requests go through
//! ureq (blocking, so from `spawn_blocking`), the WebSocket through tokio-tungstenite, and the
//! CLI's own library functions through its `ApiClient`.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon::api;
use daemon::cli::client::{ApiArgs, ApiClient, ClientError, encode_segment};
use daemon::cli::send::{self, RecvArgs, SendArgs};
use daemon::clock::Clock;
use daemon::driver::Driver;
use daemon::store::SledStore;
use futures_util::StreamExt;
use proto::node::{Config, Node};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;

const NODE: &str = "dtn://a/";

/// One running node: driver, store and API. Dropping it stops them.
struct TestNode {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    _dir: TempDir,
}

impl TestNode {
    async fn start() -> Self {
        let dir = TempDir::new().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let clock = Clock::start();
        let node = Node::new(
            Config::new(NODE.parse().unwrap()),
            7,
            clock.now(),
            store.restored().unwrap(),
        );
        let (driver, handle) = Driver::new(node, store, clock);
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(driver.run(stopped.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut api_stop = stopped;
        tokio::spawn(api::serve(listener, handle, async move {
            let _ = api_stop.changed().await;
        }));
        Self {
            addr,
            stop,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> Reply {
        request("GET", self.url(path), None).await
    }

    async fn delete(&self, path: &str) -> Reply {
        request("DELETE", self.url(path), None).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).unwrap();
        request("POST", self.url(path), Some(("application/json", bytes))).await
    }

    /// Submits a text bundle and returns its key.
    async fn submit_text(&self, destination: &str, text: &str) -> u64 {
        let reply = self
            .post_json(
                "/api/v1/bundles",
                &json!({ "destination": destination, "payload": text }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()["key"].as_u64().unwrap()
    }

    async fn register(&self, endpoint: &str) -> Reply {
        self.post_json("/api/v1/registrations", &json!({ "endpoint": endpoint }))
            .await
    }

    fn client(&self) -> ApiClient {
        ApiClient::new(&self.addr.to_string()).unwrap()
    }

    fn api_args(&self) -> ApiArgs {
        ApiArgs {
            api: self.addr.to_string(),
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// An HTTP answer.
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `error` message of a failure answer.
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap().to_owned()
    }
}

async fn request(
    method: &'static str,
    url: String,
    body: Option<(&'static str, Vec<u8>)>,
) -> Reply {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let result = match (method, body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            (_, Some((content_type, bytes))) => {
                agent.post(&url).content_type(content_type).send(&bytes[..])
            }
            (_, None) => agent.post(&url).send_empty(),
        };
        let mut response = result.unwrap();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Reply {
            status: response.status().as_u16(),
            content_type,
            body: response.body_mut().read_to_vec().unwrap(),
        }
    })
    .await
    .unwrap()
}

fn mailbox(endpoint: &str, query: &str) -> String {
    format!(
        "/api/v1/endpoints/{}/bundles?{query}",
        encode_segment(endpoint)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_bundle_is_listed_with_its_identity() {
    let node = TestNode::start().await;
    let reply = node
        .post_json(
            "/api/v1/bundles",
            &json!({ "destination": "dtn://far/app", "payload": "hello", "lifetime": "1h" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let submitted = reply.json();
    assert_eq!(submitted["source"], NODE);
    assert_eq!(submitted["destination"], "dtn://far/app");
    assert_eq!(submitted["creation"]["sequence"], 0);
    let key = submitted["key"].as_u64().unwrap();

    let list = node.get("/api/v1/bundles").await.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["key"].as_u64(), Some(key));
    assert_eq!(list[0]["destination"], "dtn://far/app");
    assert_eq!(list[0]["creation"], submitted["creation"]);
    let lifetime =
        list[0]["expires"].as_u64().unwrap() - list[0]["creation"]["time"].as_u64().unwrap();
    assert_eq!(lifetime, 3_600_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_created_once_then_found() {
    let node = TestNode::start().await;
    let first = node.register("dtn://a/inbox").await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.json()["created"], true);
    let again = node.register("dtn://a/inbox").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["created"], false);
    let status = node.get("/api/v1/status").await.json();
    // Every node also registers the alerts group endpoint (daemon::alerts) on its own.
    let mut registrations: Vec<Value> = status["registrations"].as_array().unwrap().clone();
    registrations.retain(|r| r != daemon::alerts::ALERTS_ENDPOINT);
    assert_eq!(registrations, [json!("dtn://a/inbox")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_for_a_bundle_to_a_registered_endpoint() {
    let node = TestNode::start().await;
    assert_eq!(node.register("dtn://a/inbox").await.status, 201);
    // The poll starts first and must be woken by the delivery, not find it waiting.
    let poll = tokio::spawn(request(
        "GET",
        node.url(&mailbox("dtn://a/inbox", "wait=20")),
        None,
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.submit_text("dtn://a/inbox", "hello inbox").await;
    let reply = poll.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let deliveries = reply.json();
    let deliveries = deliveries.as_array().unwrap();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d["payload"], "hello inbox");
    assert_eq!(d["payload_base64"], "aGVsbG8gaW5ib3g=");
    assert_eq!(d["source"], NODE);
    assert_eq!(d["destination"], "dtn://a/inbox");
    assert_eq!(d["admin_record"], false);
    let seq = d["seq"].as_u64().unwrap();

    // Nothing after it; consuming it removes it once.
    let later = node
        .get(&mailbox("dtn://a/inbox", &format!("after={seq}")))
        .await;
    assert_eq!(later.json(), json!([]));
    let path = format!(
        "/api/v1/endpoints/{}/bundles/{seq}",
        encode_segment("dtn://a/inbox")
    );
    assert_eq!(node.delete(&path).await.status, 204);
    let gone = node.delete(&path).await;
    assert_eq!(gone.status, 404);
    assert!(
        gone.error().contains("already consumed"),
        "{}",
        gone.error()
    );
    assert_eq!(
        node.get(&mailbox("dtn://a/inbox", "")).await.json(),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_with_nothing_returns_empty_after_the_wait() {
    let node = TestNode::start().await;
    let started = Instant::now();
    let reply = node.get(&mailbox("dtn://a/quiet", "wait=0.5")).await;
    let waited = started.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!([]));
    assert!(
        waited >= Duration::from_millis(450),
        "returned after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "returned after {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_parameter_removes_what_it_returns() {
    let node = TestNode::start().await;
    assert_eq!(node.register("dtn://a/once").await.status, 201);
    node.submit_text("dtn://a/once", "one").await;
    let first = node
        .get(&mailbox("dtn://a/once", "wait=10&consume=true"))
        .await;
    assert_eq!(first.json()[0]["payload"], "one");
    let second = node.get(&mailbox("dtn://a/once", "wait=0")).await;
    assert_eq!(second.json(), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_another_nodes_endpoint_is_refused_naming_the_field() {
    let node = TestNode::start().await;
    let reply = node.register("dtn://other/app").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .error()
            .starts_with("endpoint: dtn://other/app is not on this node"),
        "{}",
        reply.error()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_octet_stream_submission_takes_fields_from_the_query() {
    let node = TestNode::start().await;
    assert_eq!(node.register("dtn://a/bin").await.status, 201);
    let url = node.url(&format!(
        "/api/v1/bundles?destination={}&lifetime=10m",
        encode_segment("dtn://a/bin")
    ));
    let payload = vec![0u8, 1, 0xfe, 0xff];
    let reply = request("POST", url, Some(("application/octet-stream", payload))).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let got = node.get(&mailbox("dtn://a/bin", "wait=10")).await.json();
    assert_eq!(got[0]["payload"], Value::Null);
    assert_eq!(got[0]["payload_base64"], "AAH+/w==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_submission_without_destination_names_the_parameter() {
    let node = TestNode::start().await;
    let url = node.url("/api/v1/bundles?lifetime=1h");
    let reply = request(
        "POST",
        url,
        Some(("application/octet-stream", b"x".to_vec())),
    )
    .await;
    assert_eq!(reply.status, 400);
    let error = reply.error();
    assert!(error.starts_with("query: "), "{error}");
    assert!(error.contains("missing field `destination`"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pushes_waiting_then_new_deliveries() {
    let node = TestNode::start().await;
    assert_eq!(node.register("dtn://a/ws").await.status, 201);
    node.submit_text("dtn://a/ws", "before").await;
    // Wait until the first one is in the mailbox, so the socket must send it from there.
    let waiting = node.get(&mailbox("dtn://a/ws", "wait=10")).await.json();
    assert_eq!(waiting[0]["payload"], "before");

    let url = format!(
        "ws://{}/api/v1/ws?endpoint={}",
        node.addr,
        encode_segment("dtn://a/ws")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut next_payload = async || {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("no WebSocket message within 10 s")
            .unwrap()
            .unwrap();
        let delivery: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        delivery["payload"].as_str().unwrap().to_owned()
    };
    assert_eq!(next_payload().await, "before");
    node.submit_text("dtn://a/ws", "after").await;
    assert_eq!(next_payload().await, "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_destination_is_400_naming_the_field() {
    let node = TestNode::start().await;
    let reply = node
        .post_json(
            "/api/v1/bundles",
            &json!({ "destination": "dtn://b", "payload": "x" }),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.error(),
        "destination: dtn EID needs a '/' after the node name: did you mean dtn://b/ ?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_is_400_with_line_and_column() {
    let node = TestNode::start().await;
    let url = node.url("/api/v1/bundles");
    let reply = request(
        "POST",
        url,
        Some(("application/json", b"{\"destination\": }".to_vec())),
    )
    .await;
    assert_eq!(reply.status, 400);
    let error = reply.error();
    assert!(error.starts_with("invalid JSON body: "), "{error}");
    assert!(error.contains("line 1 column 17"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_path_is_a_json_404() {
    let node = TestNode::start().await;
    let reply = node.get("/api/v2/nothing").await;
    assert_eq!(reply.status, 404);
    assert!(reply.error().contains("/api/v1"), "{}", reply.error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_with_one_submission_counted() {
    let node = TestNode::start().await;
    node.submit_text("dtn://far/app", "count me").await;
    let reply = node.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type
    );
    let samples = parse_prometheus(&reply.text());
    assert_eq!(samples["tern_bundles_submitted_total"], 1.0);
    assert_eq!(samples["tern_stored_bundles"], 1.0);
    assert_eq!(samples["tern_links_up"], 0.0);
    assert_eq!(
        samples["tern_node_info{node_id=\"dtn://a/\",router=\"epidemic\"}"],
        1.0
    );
}

/// Parses the Prometheus text format strictly enough to catch a malformed line: every sample
/// is `name[{labels}] value`, its metric declared by a `# TYPE` line before it.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut types = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name in {line}"
        );
        assert!(
            types.contains_key(name),
            "{name} has no # TYPE line before it"
        );
        samples.insert(series.to_owned(), value.parse::<f64>().unwrap());
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_send_and_recv_round_trip_through_the_api() {
    let node = TestNode::start().await;
    let (client, api) = (node.client(), node.api_args());
    let out = tokio::task::spawn_blocking(move || {
        let send_args = SendArgs {
            destination: "dtn://a/chat".into(),
            text: Some("hi there".into()),
            file: None,
            lifetime: Some("1h".into()),
            report_to: None,
            hop_limit: None,
            source: None,
            crc: None,
            request_delivery_report: false,
            priority: None,
            json: false,
            api: api.clone(),
        };
        let mut sent = Vec::new();
        send::send_with(&client, &send_args, &mut std::io::empty(), &mut sent).unwrap();
        let sent = String::from_utf8(sent).unwrap();
        assert!(
            sent.starts_with("bundle 1 queued for dtn://a/chat (id dtn://a/ "),
            "{sent}"
        );
        // Registering after the send still delivers: the bundle waited in the store.
        let mut received = Vec::new();
        send::recv_with(&client, &recv_args("dtn://a/chat", 10, api), &mut received).unwrap();
        String::from_utf8(received).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out, "hi there\n");
    // recv consumed it.
    assert_eq!(
        node.get(&mailbox("dtn://a/chat", "")).await.json(),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_recv_with_nothing_fails_after_its_wait() {
    let node = TestNode::start().await;
    let (client, api) = (node.client(), node.api_args());
    let err = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        send::recv_with(&client, &recv_args("dtn://a/empty", 1, api), &mut out).unwrap_err()
    })
    .await
    .unwrap();
    assert!(
        matches!(err, ClientError::NothingReceived { .. }),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 1);
    assert_eq!(err.to_string(), "no bundle for dtn://a/empty within 1 s");
}

fn recv_args(endpoint: &str, wait: u64, api: ApiArgs) -> RecvArgs {
    RecvArgs {
        endpoint: endpoint.into(),
        follow: false,
        json: false,
        raw: false,
        wait,
        keep: false,
        api,
    }
}
