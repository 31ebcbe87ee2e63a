//! Early-warning alerts (CAP 1.2) across real `tern node` processes on loopback: a chain
//! A – B – C, where A only reaches C through B. An alert sent on A is listed on every node; an
//! Update replaces it and a Cancel retires it everywhere; an invalid document is refused with
//! the element at fault named, by the API and by `tern alert send`.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

    // A Cancel sent on C (the far end) retires it on every node.
    let cancel = alert_xml("flood-3", &cap_time(2), "Cancel", Some(&update_id), "");
    let (status, answer) = post_alert(c, &cancel);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["priority"], "high");
    for node in &nodes {
        wait_for_list(node, &[]);
    }

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
