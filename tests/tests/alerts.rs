//! Early-warning alerts (CAP 1.2) across real `tern node` processes on loopback: a chain
//! A – B – C, where A only reaches C through B. An alert sent on A is listed on every node; an
//! Update replaces it and a Cancel retires it everywhere; an invalid document is refused with
//! the element at fault named, by the API and by `tern alert send`. The list survives a
//! restart, and the WebSocket and `tern alert list --follow` report each change.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use proto::cap::CapTime;
use serde_json::Value;
use tempfile::TempDir;
use tern_tests::built_binary;
use tern_tests::daemon::{NodeOptions, TernNode};

/// How long an alert may take to cross the chain (links come up, then the bundle hops twice).
const SPREAD: Duration = Duration::from_secs(45);

/// A CAP time `offset_secs` from now, in UTC.
fn cap_time(offset_secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    CapTime::new(now + offset_secs, 0).unwrap().to_string()
}

fn alert_xml(
    identifier: &str,
    sent: &str,
    msg_type: &str,
    references: Option<&str>,
    headline: &str,
) -> String {
    let references = references
        .map(|r| format!("  <references>{r}</references>\n"))
        .unwrap_or_default();
    let info = if msg_type == "Cancel" {
        String::new()
    } else {
        format!(
            "  <info>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <expires>{}</expires>
    <headline>{headline}</headline>
    <area>
      <areaDesc>Riverside</areaDesc>
    </area>
  </info>
",
            cap_time(3600)
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">
  <identifier>{identifier}</identifier>
  <sender>ops@example.org</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
{references}{info}</alert>
"
    )
}

/// POSTs a CAP document; the status and the JSON answer.
fn post_alert(node: &TernNode, xml: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut resp = agent
        .post(&format!("http://{}/api/v1/alerts", node.api))
        .content_type("application/common-alerting-protocol+xml")
        .send(xml)
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        resp.body_mut().read_json::<Value>().unwrap_or(Value::Null),
    )
}

fn alerts(node: &TernNode) -> Vec<Value> {
    node.get("/api/v1/alerts")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn identifiers(node: &TernNode) -> Vec<String> {
    alerts(node)
        .iter()
        .filter_map(|a| a["identifier"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until `node` lists exactly `want` (identifiers), failing with its log if it never does.
fn wait_for_list(node: &TernNode, want: &[&str]) {
    let deadline = Instant::now() + SPREAD;
    loop {
        let got = identifiers(node);
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{} lists {got:?}, not {want:?}; log:\n{}",
                node.name,
                node.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// C, then B peering with C, then A peering with B.
/// Bundles addressed to the alerts group that `node` stores.
fn alert_bundles(node: &TernNode) -> usize {
    node.get("/api/v1/bundles").as_array().map_or(0, |all| {
        all.iter()
            .filter(|b| b["destination"] == "dtn://alerts/~cap")
            .count()
    })
}

/// Waits until every node stores exactly `want` alert bundles: retired alerts are withdrawn.
fn wait_for_alert_bundles(nodes: &[TernNode], want: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for node in nodes {
        while alert_bundles(node) != want {
            assert!(
                Instant::now() < deadline,
                "{} stores {} alert bundles, expected {want}: {}",
                node.name,
                alert_bundles(node),
                node.get("/api/v1/bundles")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn chain(dir: &TempDir) -> [TernNode; 3] {
    let c = TernNode::start("c", &dir.path().join("c"), NodeOptions::default());
    let b = TernNode::start("b", &dir.path().join("b"), NodeOptions::peer_of(&c));
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::peer_of(&b));
    [a, b, c]
}

fn tern() -> Command {
    Command::new(built_binary("tern-daemon", "tern"))
}

#[test]
fn alert_update_and_cancel_reach_every_node_of_a_chain() {
    let dir = TempDir::new().unwrap();
    let nodes = chain(&dir);
    let [a, b, c] = &nodes;

    // An alert built by `tern alert send` on A is listed on A, B and C.
    let out = tern()
        .args([
            "alert",
            "send",
            "--api",
            &a.api.to_string(),
            "--sender",
            "ops@example.org",
        ])
        .args([
            "--identifier",
            "flood-1",
            "--severity",
            "extreme",
            "--urgency",
            "immediate",
        ])
        .args([
            "--event",
            "Flood",
            "--headline",
            "Evacuate low ground",
            "--area",
            "Riverside",
        ])
        .args(["--expires", "1h"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("priority emergency"), "{said}");
    for node in &nodes {
        wait_for_list(node, &["flood-1"]);
    }
    let listed = &alerts(c)[0];
    assert_eq!(listed["priority"], "emergency");
    assert_eq!(listed["infos"][0]["headline"], "Evacuate low ground");
    assert_eq!(listed["received_from"], "dtn://a/");
    let first_id = listed["id"].as_str().unwrap().to_owned();

    // C holds one bundle to the alerts group, which it keeps spreading until it expires.
    let carried = c.get("/api/v1/bundles");
    let to_alerts: Vec<&Value> = carried
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["destination"] == "dtn://alerts/~cap")
        .collect();
    assert_eq!(to_alerts.len(), 1, "{carried}");

    // An Update from A replaces it on every node.
    let update = alert_xml(
        "flood-2",
        &cap_time(1),
        "Update",
        Some(&first_id),
        "Water still rising: leave now",
    );
    let (status, answer) = post_alert(a, &update);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["priority"], "emergency");
    for node in &nodes {
        wait_for_list(node, &["flood-2"]);
    }
    assert_eq!(
        alerts(b)[0]["infos"][0]["headline"],
        "Water still rising: leave now"
    );
    assert_eq!(alerts(b)[0]["references"][0], first_id.as_str());
    let update_id = alerts(c)[0]["id"].as_str().unwrap().to_owned();
    // The replaced alert's bundle is withdrawn everywhere: only the update keeps spreading.
    wait_for_alert_bundles(&nodes, 1);

    // A Cancel sent on C (the far end) retires it on every node.
    let cancel = alert_xml("flood-3", &cap_time(2), "Cancel", Some(&update_id), "");
    let (status, answer) = post_alert(c, &cancel);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["priority"], "high");
    for node in &nodes {
        wait_for_list(node, &[]);
    }
    // The cancelled update is withdrawn too; the cancel itself spreads until it ends.
    wait_for_alert_bundles(&nodes, 1);

    // `tern alert list` agrees.
    let out = tern()
        .args(["alert", "list", "--api", &b.api.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no alerts in force\n");
}

#[test]
fn invalid_alert_is_refused_with_the_element_named() {
    let dir = TempDir::new().unwrap();
    let node = TernNode::start("solo", &dir.path().join("solo"), NodeOptions::default());
    let bad = alert_xml("x-1", &cap_time(0), "Alert", None, "Flood")
        .replace("<urgency>Immediate</urgency>", "<urgency>Soon</urgency>");

    let (status, answer) = post_alert(&node, &bad);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"],
        "alert/info[1]/urgency (line 12): 'Soon' is not one of Immediate, Expected, Future, Past, Unknown"
    );

    let file = dir.path().join("bad.xml");
    std::fs::write(&file, &bad).unwrap();
    let out = tern()
        .args(["alert", "send", "--api", &node.api.to_string()])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: FILE: alert/info[1]/urgency (line 12): 'Soon' is not one of Immediate, Expected, Future, Past, Unknown"
    );
    assert!(alerts(&node).is_empty());
}

#[test]
fn alerts_and_their_retirements_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let mut node = TernNode::start("solo", &dir.path().join("solo"), NodeOptions::default());
    let first_sent = cap_time(0);
    let first = alert_xml("flood-1", &first_sent, "Alert", None, "Evacuate");
    assert_eq!(post_alert(&node, &first).0, 201);
    wait_for_list(&node, &["flood-1"]);
    let first_id = format!("ops@example.org,flood-1,{first_sent}");
    let update = alert_xml(
        "flood-2",
        &cap_time(1),
        "Update",
        Some(&first_id),
        "Still rising",
    );
    assert_eq!(post_alert(&node, &update).0, 201);
    wait_for_list(&node, &["flood-2"]);

    node.stop();
    node.restart();
    wait_for_list(&node, &["flood-2"]);
    assert_eq!(alerts(&node)[0]["infos"][0]["headline"], "Still rising");

    // The replaced original stays retired: another copy of it is taken but not listed.
    assert_eq!(post_alert(&node, &first).0, 201);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(identifiers(&node), ["flood-2"]);
}

/// Lines `tern alert list --follow --json` prints, as JSON, through a channel.
fn follow(node: &TernNode) -> (std::process::Child, mpsc::Receiver<Value>) {
    let mut child = tern()
        .args([
            "alert",
            "list",
            "--follow",
            "--json",
            "--api",
            &node.api.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                return;
            };
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// The next `count` follow events as `(event, identifier)`, sorted (one poll may report an
/// addition and a removal in either order).
fn next_follow(rx: &mpsc::Receiver<Value>, count: usize) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = (0..count)
        .map(|_| {
            let v = rx
                .recv_timeout(SPREAD)
                .expect("no line from tern alert list --follow");
            let kind = v["event"].as_str().unwrap().to_owned();
            (kind, v["alert"]["identifier"].as_str().unwrap().to_owned())
        })
        .collect();
    got.sort();
    got
}

fn pair(event: &str, identifier: &str) -> (String, String) {
    (event.to_owned(), identifier.to_owned())
}

#[test]
fn websocket_and_follow_report_each_change() {
    let dir = TempDir::new().unwrap();
    let b = TernNode::start("b", &dir.path().join("b"), NodeOptions::default());
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::peer_of(&b));
    let (mut follower, lines) = follow(&b);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("ws://{}/api/v1/alerts/ws", b.api);
    let (mut socket, _) = runtime
        .block_on(tokio_tungstenite::connect_async(url))
        .unwrap();
    let mut next_event = || -> (String, Value) {
        let message = runtime
            .block_on(async { tokio::time::timeout(SPREAD, socket.next()).await })
            .expect("no WebSocket message in time")
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        (
            event["event"].as_str().unwrap().to_owned(),
            event["alert"].clone(),
        )
    };

    let first_sent = cap_time(0);
    assert_eq!(
        post_alert(&a, &alert_xml("flood-1", &first_sent, "Alert", None, "Go")).0,
        201
    );
    let (kind, alert) = next_event();
    assert_eq!(
        (kind.as_str(), &alert["identifier"]),
        ("added", &Value::from("flood-1"))
    );
    assert_eq!(alert["priority"], "emergency");
    // `current` if the follower's first poll came after the alert (a slow start), else `added`.
    let (kind, identifier) = next_follow(&lines, 1).remove(0);
    assert!(kind == "added" || kind == "current", "{kind}");
    assert_eq!(identifier, "flood-1");

    let first_id = format!("ops@example.org,flood-1,{first_sent}");
    let update = alert_xml("flood-2", &cap_time(1), "Update", Some(&first_id), "Go now");
    assert_eq!(post_alert(&a, &update).0, 201);
    let (kind, alert) = next_event();
    assert_eq!(
        (kind.as_str(), &alert["identifier"]),
        ("updated", &Value::from("flood-2"))
    );
    assert_eq!(alert["references"][0], first_id.as_str());
    assert_eq!(
        next_follow(&lines, 2),
        [pair("added", "flood-2"), pair("removed", "flood-1")]
    );

    let update_id = alert["id"].as_str().unwrap().to_owned();
    let cancel = alert_xml("flood-3", &cap_time(2), "Cancel", Some(&update_id), "");
    assert_eq!(post_alert(&a, &cancel).0, 201);
    let (kind, alert) = next_event();
    assert_eq!(
        (kind.as_str(), &alert["identifier"]),
        ("cancelled", &Value::from("flood-2"))
    );
    assert_eq!(next_follow(&lines, 1), [pair("removed", "flood-2")]);

    let _ = follower.kill();
    let _ = follower.wait();
}
