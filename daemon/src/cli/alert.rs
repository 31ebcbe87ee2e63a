//! `tern alert send` and `tern alert list`: early-warning alerts (CAP 1.2) through the local
//! node.
//!
//! `send` either builds a CAP document from flags (`--event`, `--severity`, `--urgency`, ...) or
//! takes an existing one (`tern alert send FILE.xml`); both are checked here before anything is
//! sent, so a mistake is reported with the element and line at fault and exit code 2. `list`
//! prints the alerts in force on the node, and with `--follow` keeps printing changes.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::cap::{
    Alert, AlertBuilder, AlertId, CapTime, Category, Certainty, MsgType, Severity, Status, Urgency,
};

use super::bundle::parse_lifetime;
use super::client::{ApiArgs, ApiClient, ClientError};
use super::input;
use crate::alerts::{AlertEvent, AlertJson};
use crate::api::alerts::AlertSubmitted;
use crate::clock::Clock;

/// How often `tern alert list --follow` asks the node again.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// `tern alert ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AlertCmd {
    /// Send a CAP 1.2 alert: built from flags, or FILE.xml after checking it.
    Send(Box<AlertSendArgs>),
    /// List the alerts in force on the node.
    List(AlertListArgs),
}

/// Arguments of `tern alert send`.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertSendArgs {
    /// A CAP 1.2 document to check and send instead of building one; `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Severity: extreme, severe, moderate, minor, unknown.
    #[arg(long, value_name = "LEVEL")]
    pub severity: Option<String>,
    /// Urgency: immediate, expected, future, past, unknown.
    #[arg(long, value_name = "LEVEL")]
    pub urgency: Option<String>,
    /// Certainty: observed, likely, possible, unlikely, unknown.
    #[arg(long, value_name = "LEVEL", default_value = "observed")]
    pub certainty: String,
    /// Category: geo, met, safety, security, rescue, fire, health, env, transport, infra,
    /// cbrne, other.
    #[arg(long, value_name = "CATEGORY", default_value = "safety")]
    pub category: String,
    /// The event, e.g. "Flood".
    #[arg(long, value_name = "TEXT")]
    pub event: Option<String>,
    /// One-line headline.
    #[arg(long, value_name = "TEXT")]
    pub headline: Option<String>,
    /// The affected area, in words; repeat for several.
    #[arg(long = "area", value_name = "TEXT")]
    pub areas: Vec<String>,
    /// When the alert ends: a duration from now (6h, 90m) or a CAP time
    /// (2026-11-29T18:00:00-00:00) [default: a day].
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// What people should do.
    #[arg(long, value_name = "TEXT")]
    pub instruction: Option<String>,
    /// The hazard in detail.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// The sender (no spaces or commas) [default: the node ID].
    #[arg(long, value_name = "ID")]
    pub sender: Option<String>,
    /// The message identifier, unique for the sender [default: tern-MILLISECONDS].
    #[arg(long, value_name = "ID")]
    pub identifier: Option<String>,
    /// Status: actual, exercise, system, test, draft.
    #[arg(long, value_name = "STATUS", default_value = "actual")]
    pub status: String,
    /// Message type: alert, update, cancel (update and cancel need --references).
    #[arg(long, value_name = "TYPE", default_value = "alert")]
    pub msg_type: String,
    /// An earlier message this one updates or cancels, as sender,identifier,sent (repeatable;
    /// `tern alert list` shows each alert's).
    #[arg(long = "references", value_name = "SENDER,ID,SENT")]
    pub references: Vec<String>,
    /// Print the node's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Where the node's API is.
    pub api: ApiArgs,
}

/// Arguments of `tern alert list`.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertListArgs {
    /// Keep printing changes until interrupted (Ctrl-C).
    #[arg(long)]
    pub follow: bool,
    /// Print JSON: the list, or with --follow one event per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Where the node's API is.
    pub api: ApiArgs,
}

/// Runs `tern alert ...`.
pub fn run(cmd: &AlertCmd, stdin: &mut dyn Read, out: &mut dyn Write) -> Result<(), ClientError> {
    match cmd {
        AlertCmd::Send(args) => {
            let client = ApiClient::new(&args.api.api)?;
            send_with(&client, args, stdin, out)
        }
        AlertCmd::List(args) => {
            let client = ApiClient::new(&args.api.api)?;
            list_with(&client, args, out)
        }
    }
}

/// `tern alert send` through a given client.
pub fn send_with(
    client: &ApiClient,
    args: &AlertSendArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let xml = match &args.file {
        Some(path) => {
            let bytes = read_document(path, stdin)?;
            // Check here: the node would refuse it with the same message, but a file the user
            // can fix should fail before anything is sent.
            proto::cap::parse(&bytes).map_err(|e| ClientError::BadArgument {
                flag: "FILE",
                reason: e.to_string(),
            })?;
            bytes
        }
        None => {
            let node_id = match &args.sender {
                Some(_) => String::new(),
                None => client.status()?.node_id,
            };
            let now = Clock::start().now().wall;
            let alert = build_alert(args, &node_id, CapTime::from_dtn(now), now.to_unix_ms())?;
            proto::cap::write(&alert).into_bytes()
        }
    };
    let answer = client.submit_alert(xml)?;
    let line = if args.json {
        serde_json::to_string(&answer).unwrap_or_default()
    } else {
        describe(&answer)
    };
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(ClientError::io("stdout"))
}

fn read_document(path: &Path, stdin: &mut dyn Read) -> Result<Vec<u8>, ClientError> {
    let limited = |reader: &mut dyn Read, name: &str| -> Result<Vec<u8>, ClientError> {
        input::read_limited(reader)
            .map_err(ClientError::io(name))?
            .map_err(|e| ClientError::BadArgument {
                flag: "FILE",
                reason: e.to_string(),
            })
    };
    if path == Path::new("-") {
        return limited(stdin, "stdin");
    }
    let name = path.display().to_string();
    let mut file = fs::File::open(path).map_err(ClientError::io(name.clone()))?;
    limited(&mut file, &name)
}

/// The alert the flags describe, sent at `sent` by `--sender` or else `node_id`; `unix_ms`
/// numbers the default identifier.
pub fn build_alert(
    args: &AlertSendArgs,
    node_id: &str,
    sent: CapTime,
    unix_ms: u64,
) -> Result<Alert, ClientError> {
    let sender = args.sender.as_deref().unwrap_or(node_id);
    let bad = |flag: &'static str| move |reason: String| ClientError::BadArgument { flag, reason };
    let msg_type = code("--msg-type", &args.msg_type, MsgType::ALL, MsgType::as_str)?;
    let status = code("--status", &args.status, Status::ALL, Status::as_str)?;
    let identifier = args
        .identifier
        .clone()
        .unwrap_or_else(|| format!("tern-{unix_ms}"));
    let mut builder = AlertBuilder::new(sender, identifier, sent)
        .status(status)
        .msg_type(msg_type);
    for text in &args.references {
        builder = builder.reference(reference(text).map_err(bad("--references"))?);
    }
    if matches!(msg_type, MsgType::Update | MsgType::Cancel) && args.references.is_empty() {
        return Err(bad("--references")(format!(
            "a {msg_type} names the alert it replaces: give --references SENDER,ID,SENT"
        )));
    }
    let has_info = args.event.is_some() || msg_type != MsgType::Cancel;
    if has_info {
        let event = args.event.clone().ok_or_else(|| {
            bad("--event")("say what the alert is about, e.g. --event Flood".to_owned())
        })?;
        let Some(severity) = &args.severity else {
            return Err(bad("--severity")(format!(
                "required: one of {}",
                lower(Severity::ALLOWED)
            )));
        };
        let Some(urgency) = &args.urgency else {
            return Err(bad("--urgency")(format!(
                "required: one of {}",
                lower(Urgency::ALLOWED)
            )));
        };
        let category = code(
            "--category",
            &args.category,
            Category::ALL,
            Category::as_str,
        )?;
        builder = builder
            .event(category, event)
            .severity(code(
                "--severity",
                severity,
                Severity::ALL,
                Severity::as_str,
            )?)
            .urgency(code("--urgency", urgency, Urgency::ALL, Urgency::as_str)?)
            .certainty(code(
                "--certainty",
                &args.certainty,
                Certainty::ALL,
                Certainty::as_str,
            )?);
        if let Some(text) = &args.headline {
            builder = builder.headline(text);
        }
        if let Some(text) = &args.description {
            builder = builder.description(text);
        }
        if let Some(text) = &args.instruction {
            builder = builder.instruction(text);
        }
        if let Some(text) = &args.expires {
            builder = builder.expires(expires(text, sent).map_err(bad("--expires"))?);
        }
        for area in &args.areas {
            builder = builder.area(area);
        }
    }
    builder.build().map_err(|e| ClientError::BadArgument {
        flag: "alert",
        reason: e.to_string(),
    })
}

/// A code-list value, spelled in any case.
fn code<T: Copy>(
    flag: &'static str,
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, ClientError> {
    all.iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            let names: Vec<String> = all.iter().map(|v| name(*v).to_ascii_lowercase()).collect();
            ClientError::BadArgument {
                flag,
                reason: format!("'{text}' is not one of {}", names.join(", ")),
            }
        })
}

fn lower(list: &str) -> String {
    list.to_ascii_lowercase()
}

/// `sender,identifier,sent`.
fn reference(text: &str) -> Result<AlertId, String> {
    let mut parts = text.trim().split(',');
    let (Some(sender), Some(identifier), Some(sent), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("'{text}' is not sender,identifier,sent"));
    };
    let sent = CapTime::parse(sent).map_err(|e| format!("'{sent}' {e}"))?;
    Ok(AlertId {
        sender: sender.to_owned(),
        identifier: identifier.to_owned(),
        sent,
    })
}

/// `--expires`: a CAP time, or a duration after `sent`.
fn expires(text: &str, sent: CapTime) -> Result<CapTime, String> {
    if let Ok(at) = CapTime::parse(text.trim()) {
        return Ok(at);
    }
    let ms = parse_lifetime(text)
        .map_err(|e| format!("{e}, or a CAP time such as 2026-11-29T18:00:00-00:00"))?;
    let secs = i64::try_from(ms.div_ceil(1000)).map_err(|_| format!("'{text}' is too long"))?;
    sent.unix_secs()
        .checked_add(secs)
        .and_then(|end| CapTime::new(end, sent.offset_minutes()))
        .ok_or_else(|| format!("'{text}' is too long"))
}

/// One sentence for people.
pub fn describe(answer: &AlertSubmitted) -> String {
    let lifetime = humantime::format_duration(Duration::from_secs(answer.lifetime_ms / 1000));
    format!(
        "alert {} queued as bundle {} for {} (priority {}, lifetime {lifetime})",
        answer.id, answer.key, answer.destination, answer.priority
    )
}

/// `tern alert list` through a given client.
pub fn list_with(
    client: &ApiClient,
    args: &AlertListArgs,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    if !args.follow {
        let alerts = client.alerts()?;
        let text = if args.json {
            format!("{}\n", serde_json::to_string(&alerts).unwrap_or_default())
        } else if alerts.is_empty() {
            "no alerts in force\n".to_owned()
        } else {
            alerts.iter().map(render).collect()
        };
        return out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(ClientError::io("stdout"));
    }
    let mut shown: BTreeMap<String, AlertJson> = BTreeMap::new();
    let mut first = true;
    let mut outage = false;
    loop {
        let alerts = match client.alerts() {
            Ok(alerts) => {
                outage = false;
                alerts
            }
            // A follower outlives a node restart: the alert list is rebuilt from its mailbox.
            Err(e @ ClientError::Unreachable { .. }) => {
                if !outage {
                    tracing::warn!("{e}; retrying every {} s", FOLLOW_EVERY.as_secs());
                    outage = true;
                }
                std::thread::sleep(FOLLOW_EVERY);
                continue;
            }
            Err(e) => return Err(e),
        };
        let now: BTreeMap<String, AlertJson> =
            alerts.into_iter().map(|a| (a.id.clone(), a)).collect();
        let mut text = String::new();
        for (id, alert) in &now {
            if !shown.contains_key(id) {
                let kind = if first { "current" } else { "added" };
                text.push_str(&follow_line(args, kind, alert));
            }
        }
        for (id, alert) in &shown {
            if !now.contains_key(id) {
                text.push_str(&follow_line(args, "removed", alert));
            }
        }
        if first && now.is_empty() && !args.json {
            text.push_str("no alerts in force; waiting for changes\n");
        }
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(ClientError::io("stdout"))?;
        shown = now;
        first = false;
        std::thread::sleep(FOLLOW_EVERY);
    }
}

fn follow_line(args: &AlertListArgs, kind: &str, alert: &AlertJson) -> String {
    if args.json {
        let event = AlertEvent {
            event: kind.to_owned(),
            alert: alert.clone(),
        };
        return format!("{}\n", serde_json::to_string(&event).unwrap_or_default());
    }
    match kind {
        "removed" => format!("- no longer in force: {}\n", alert.id),
        "added" => format!("+ {}", render(alert)),
        _ => render(alert),
    }
}

/// An alert as a few lines for people.
pub fn render(alert: &AlertJson) -> String {
    let mut text = String::new();
    let info = alert.infos.first();
    let event = info.map_or("(no info)", |i| i.event.as_str());
    let headline = info.and_then(|i| i.headline.as_deref());
    text.push_str(&format!("[{}] {event}", alert.priority));
    if let Some(headline) = headline {
        text.push_str(&format!(" — {headline}"));
    }
    if alert.status != "Actual" {
        text.push_str(&format!(" ({})", alert.status.to_uppercase()));
    }
    text.push('\n');
    if let Some(i) = info {
        text.push_str(&format!(
            "  {} · {} · {} · {}\n",
            i.severity,
            i.urgency,
            i.certainty,
            i.categories.join(", ")
        ));
        if !i.areas.is_empty() {
            text.push_str(&format!("  area: {}\n", i.areas.join("; ")));
        }
        if let Some(instruction) = &i.instruction {
            text.push_str(&format!("  do: {instruction}\n"));
        }
    }
    let ends = alert.expires.as_deref().unwrap_or("not given (kept a day)");
    text.push_str(&format!("  expires: {ends}\n"));
    if alert.msg_type == "Update" {
        text.push_str(&format!("  updates: {}\n", alert.references.join(" ")));
    }
    text.push_str(&format!(
        "  id: {}  (from {})\n",
        alert.id, alert.received_from
    ));
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use clap::Parser;
    use proto::wire::Priority;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: AlertCmd,
    }

    fn send_args(argv: &[&str]) -> AlertSendArgs {
        let mut all = vec!["tern-alert", "send"];
        all.extend_from_slice(argv);
        match Cli::try_parse_from(all).unwrap().cmd {
            AlertCmd::Send(args) => *args,
            AlertCmd::List(_) => unreachable!(),
        }
    }

    fn sent() -> CapTime {
        CapTime::parse("2026-11-29T01:00:00-00:00").unwrap()
    }

    #[test]
    fn flags_build_a_valid_emergency_alert() {
        let args = send_args(&[
            "--severity",
            "extreme",
            "--urgency",
            "immediate",
            "--event",
            "Flood",
            "--headline",
            "Evacuate low ground",
            "--area",
            "Riverside",
            "--area",
            "Old town",
            "--expires",
            "6h",
            "--instruction",
            "Go to the school on the hill",
        ]);
        let a = build_alert(&args, "dtn://hq/", sent(), 42).unwrap();
        assert_eq!(a.identifier, "tern-42");
        assert_eq!(a.sender, "dtn://hq/");
        let i = &a.infos[0];
        assert_eq!(
            (i.severity, i.urgency, i.certainty),
            (Severity::Extreme, Urgency::Immediate, Certainty::Observed)
        );
        assert_eq!(i.categories, [Category::Safety]);
        assert_eq!(i.expires.unwrap().to_string(), "2026-11-29T07:00:00-00:00");
        assert_eq!(i.areas.len(), 2);
        assert_eq!(a.priority(), Priority::Emergency);
        // What is sent parses as CAP 1.2.
        assert_eq!(
            proto::cap::parse(proto::cap::write(&a).as_bytes()).unwrap(),
            a
        );
    }

    #[test]
    fn missing_severity_names_the_flag_and_the_choices() {
        let args = send_args(&["--urgency", "immediate", "--event", "Flood"]);
        let e = build_alert(&args, "dtn://hq/", sent(), 1).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "--severity: required: one of extreme, severe, moderate, minor, unknown"
        );
    }

    #[test]
    fn bad_urgency_lists_the_values() {
        let args = send_args(&[
            "--severity",
            "extreme",
            "--urgency",
            "soon",
            "--event",
            "Flood",
        ]);
        let e = build_alert(&args, "dtn://hq/", sent(), 1).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--urgency: 'soon' is not one of immediate"),
            "{e}"
        );
    }

    #[test]
    fn sender_with_a_space_is_refused_with_the_cap_rule() {
        let args = send_args(&[
            "--severity",
            "minor",
            "--urgency",
            "future",
            "--event",
            "Fog",
            "--sender",
            "ops room",
        ]);
        let e = build_alert(&args, "unused", sent(), 1).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("alert: alert/sender (line 4): 'ops room' must not contain spaces"),
            "{e}"
        );
    }

    #[test]
    fn cancel_needs_references_and_no_info() {
        let args = send_args(&["--msg-type", "cancel"]);
        let e = build_alert(&args, "dtn://hq/", sent(), 1).unwrap_err();
        assert!(e.to_string().starts_with("--references: "), "{e}");
        let args = send_args(&[
            "--msg-type",
            "cancel",
            "--references",
            "dtn://hq/,tern-1,2026-11-29T00:00:00-00:00",
        ]);
        let a = build_alert(&args, "dtn://hq/", sent(), 2).unwrap();
        assert_eq!(a.msg_type, MsgType::Cancel);
        assert!(a.infos.is_empty());
        assert_eq!(a.references[0].identifier, "tern-1");
    }

    #[test]
    fn expires_takes_a_cap_time_too() {
        let at = expires("2026-11-29T18:00:00+01:00", sent()).unwrap();
        assert_eq!(at.to_string(), "2026-11-29T18:00:00+01:00");
        assert!(
            expires("tomorrow", sent())
                .unwrap_err()
                .contains("CAP time")
        );
    }

    #[test]
    fn invalid_file_is_refused_before_sending_with_the_element_named() {
        let dir = std::env::temp_dir().join(format!("tern-alert-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.xml");
        fs::write(
            &path,
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n<identifier>x</identifier>\n</alert>\n",
        )
        .unwrap();
        // Port 1: if the check did not stop it first, the error would be "cannot reach".
        let client = ApiClient::new("127.0.0.1:1").unwrap();
        let args = send_args(&[path.to_str().unwrap()]);
        let e = send_with(&client, &args, &mut std::io::empty(), &mut Vec::new()).unwrap_err();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "FILE: alert (line 1): missing required element <sender>"
        );
    }

    #[test]
    fn listing_shows_priority_event_area_and_identity() {
        let a = build_alert(
            &send_args(&[
                "--severity",
                "extreme",
                "--urgency",
                "immediate",
                "--event",
                "Flood",
                "--headline",
                "Evacuate",
                "--area",
                "Riverside",
            ]),
            "dtn://hq/",
            sent(),
            7,
        )
        .unwrap();
        let xml = proto::cap::write(&a);
        let mut registry = crate::alerts::AlertRegistry::new();
        registry.apply(3, "dtn://hq/", xml.as_bytes(), None);
        let text = render(&registry.list()[0]);
        assert_eq!(
            text,
            "[emergency] Flood — Evacuate\n  Extreme · Immediate · Observed · Safety\n  area: Riverside\n  \
             expires: not given (kept a day)\n  id: dtn://hq/,tern-7,2026-11-29T01:00:00-00:00  (from dtn://hq/)\n"
        );
    }
}
