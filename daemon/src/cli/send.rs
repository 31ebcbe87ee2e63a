//! `tern send` and `tern recv`: an application's two verbs, through the local node.
//!
//! `send` hands a payload to the node, which builds the bundle and carries it when it can.
//! `recv` registers an endpoint (idempotent), long-polls its mailbox, prints each delivery and
//! then consumes it, so a delivery printed is a delivery handled: if `recv` dies before the
//! consume, the next `recv` prints it again (at-least-once).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::bundle::{CrcArg, parse_lifetime};
use super::client::{ApiArgs, ApiClient, ClientError};
use super::input;
use crate::api::MAX_WAIT_SECS;
use crate::api::json::{Delivery, SubmitRequest, Submitted, parse_eid};
use proto::wire::Priority;

/// Deliveries asked for per poll.
const BATCH: usize = 100;

/// Pause before `recv --follow` tries an unreachable node again.
const FOLLOW_RETRY: Duration = Duration::from_secs(2);

/// Arguments of `tern send`.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// Destination endpoint: dtn://node/service or ipn:node.service.
    #[arg(value_name = "DST")]
    pub destination: String,
    /// Payload as text (UTF-8).
    #[arg(value_name = "TEXT", conflicts_with = "file")]
    pub text: Option<String>,
    /// Payload read from a file, byte for byte; `-` reads stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// How long the bundle lives, e.g. 90s, 15m, 1h, 2d [default: the node's, 24h].
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
    /// Where status reports go [default: none].
    #[arg(long, value_name = "EID")]
    pub report_to: Option<String>,
    /// Hop limit, 1–255 (RFC 9171 §4.4.3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub hop_limit: Option<u8>,
    /// Source endpoint on the node [default: the node ID].
    #[arg(long, value_name = "EID")]
    pub source: Option<String>,
    /// CRC type of every block (RFC 9171 §4.2.1) [default: 32c].
    #[arg(long, value_enum)]
    pub crc: Option<CrcArg>,
    /// Priority class: emergency, high, normal or bulk [default: normal]. Contacts carry the
    /// more urgent classes first; storage evicts the less urgent first.
    #[arg(long, value_name = "CLASS")]
    pub priority: Option<Priority>,
    /// Ask for a status report when the bundle is delivered.
    #[arg(long)]
    pub request_delivery_report: bool,
    /// Print the node's answer as JSON instead of a sentence.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    /// Where the node's API is.
    pub api: ApiArgs,
}

/// Arguments of `tern recv`. With `--follow` it keeps going across node restarts, retrying
/// every 2 s while the node is unreachable.
#[derive(Debug, Clone, clap::Args)]
pub struct RecvArgs {
    /// The endpoint to receive on, e.g. dtn://this-node/app.
    #[arg(value_name = "ENDPOINT")]
    pub endpoint: String,
    /// Keep receiving until interrupted (Ctrl-C) instead of returning after the first batch.
    #[arg(long)]
    pub follow: bool,
    /// Print each delivery as one line of JSON (source, creation, payload...).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Write payloads' bytes unchanged, with nothing between them (binary is base64 otherwise).
    #[arg(long)]
    pub raw: bool,
    /// Seconds to wait for a first delivery before giving up (without --follow).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub wait: u64,
    /// Leave deliveries in the mailbox instead of consuming them.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    /// Where the node's API is.
    pub api: ApiArgs,
}

/// `tern send`: submits the payload and prints the bundle's key and identity.
pub fn send(args: &SendArgs, stdin: &mut dyn Read, out: &mut dyn Write) -> Result<(), ClientError> {
    let client = ApiClient::new(&args.api.api)?;
    send_with(&client, args, stdin, out)
}

/// [`send`] through a given client.
pub fn send_with(
    client: &ApiClient,
    args: &SendArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let request = submit_request(args)?;
    let answer = match (&args.text, &args.file) {
        (Some(text), _) => client.submit(&SubmitRequest {
            payload: Some(text.clone()),
            ..request
        })?,
        (None, Some(path)) => client.submit_raw(&request, read_payload(path, stdin)?)?,
        (None, None) => {
            return Err(ClientError::BadArgument {
                flag: "TEXT",
                reason: "give the payload as TEXT or --file FILE (- reads stdin)".to_owned(),
            });
        }
    };
    let line = if args.json {
        serde_json::to_string(&answer).unwrap_or_default()
    } else {
        describe(&answer)
    };
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(ClientError::io("stdout"))
}

/// The request `args` describe, checked here so a typo is refused before anything is sent and
/// the error names the flag as typed.
pub fn submit_request(args: &SendArgs) -> Result<SubmitRequest, ClientError> {
    let bad = |flag: &'static str| move |reason: String| ClientError::BadArgument { flag, reason };
    let check_eid =
        |flag: &'static str, text: &str| parse_eid(flag, text).map_err(|e| bad(flag)(e.reason));
    check_eid("DST", &args.destination)?;
    if let Some(eid) = &args.report_to {
        check_eid("--report-to", eid)?;
    }
    if let Some(eid) = &args.source {
        check_eid("--source", eid)?;
    }
    let lifetime_ms = args
        .lifetime
        .as_deref()
        .map(parse_lifetime)
        .transpose()
        .map_err(bad("--lifetime"))?;
    Ok(SubmitRequest {
        destination: args.destination.clone(),
        lifetime_ms,
        source: args.source.clone(),
        report_to: args.report_to.clone(),
        hop_limit: args.hop_limit.map(u64::from),
        crc: args.crc.map(|c| crc_text(c).to_owned()),
        request_delivery_report: args.request_delivery_report,
        priority: args.priority.map(|p| p.name().to_owned()),
        ..SubmitRequest::default()
    })
}

fn crc_text(crc: CrcArg) -> &'static str {
    match crc {
        CrcArg::None => "none",
        CrcArg::Crc16 => "16",
        CrcArg::Crc32c => "32c",
    }
}

/// One sentence for people: the key to look the bundle up, and its network-wide identity.
pub fn describe(answer: &Submitted) -> String {
    let mut line = format!("bundle {} queued for {}", answer.key, answer.destination);
    if let (Some(source), Some(creation)) = (&answer.source, &answer.creation) {
        let when = creation.date.as_deref().unwrap_or("no clock");
        line.push_str(&format!(" (id {source} {when} #{})", creation.sequence));
    }
    line
}

fn read_payload(path: &Path, stdin: &mut dyn Read) -> Result<Vec<u8>, ClientError> {
    let limited = |reader: &mut dyn Read, name: &str| -> Result<Vec<u8>, ClientError> {
        input::read_limited(reader)
            .map_err(ClientError::io(name))?
            .map_err(|e| ClientError::BadArgument {
                flag: "--file",
                reason: e.to_string(),
            })
    };
    if path == Path::new("-") {
        return limited(stdin, "stdin");
    }
    let name = format!("--file {}", path.display());
    let mut file = fs::File::open(path).map_err(ClientError::io(name.clone()))?;
    limited(&mut file, &name)
}

/// `tern recv`: registers, waits, prints and consumes.
pub fn recv(args: &RecvArgs, out: &mut dyn Write) -> Result<(), ClientError> {
    let client = ApiClient::new(&args.api.api)?;
    recv_with(&client, args, out)
}

/// [`recv`] through a given client.
pub fn recv_with(
    client: &ApiClient,
    args: &RecvArgs,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    parse_eid("ENDPOINT", &args.endpoint).map_err(|e| ClientError::BadArgument {
        flag: "ENDPOINT",
        reason: e.reason,
    })?;
    let registered = client.register(&args.endpoint)?;
    let endpoint = registered.endpoint;
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut after = None;
    let mut outage = false;
    loop {
        let wait = if args.follow {
            Duration::from_secs(MAX_WAIT_SECS)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let batch = match client.receive(&endpoint, after, wait, BATCH) {
            Ok(batch) => {
                outage = false;
                batch
            }
            // A follower outlives a node restart: registrations and mailboxes are durable.
            Err(e @ ClientError::Unreachable { .. }) if args.follow => {
                if !outage {
                    tracing::warn!("{e}; retrying every {} s", FOLLOW_RETRY.as_secs());
                    outage = true;
                }
                std::thread::sleep(FOLLOW_RETRY);
                continue;
            }
            Err(e) => return Err(e),
        };
        for delivery in &batch {
            print_delivery(args, client.addr(), delivery, out)?;
            after = Some(delivery.seq);
            if !args.keep {
                // False means another reader consumed it meanwhile: it is handled either way.
                client.consume(&endpoint, delivery.seq)?;
            }
        }
        if args.follow {
            continue;
        }
        if !batch.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClientError::NothingReceived {
                endpoint,
                secs: args.wait,
            });
        }
    }
}

/// Writes one delivery as `args` ask, and flushes it, so a consumer downstream sees it before
/// the delivery is consumed.
fn print_delivery(
    args: &RecvArgs,
    addr: &str,
    delivery: &Delivery,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let result = if args.json {
        let line = serde_json::to_string(delivery).unwrap_or_default();
        writeln!(out, "{line}")
    } else if args.raw {
        let bytes = delivery
            .payload_bytes()
            .map_err(|e| ClientError::BadAnswer {
                addr: addr.to_owned(),
                detail: format!("payload_base64 of delivery {}: {e}", delivery.seq),
            })?;
        out.write_all(&bytes)
    } else {
        match &delivery.payload {
            Some(text) if text.ends_with('\n') => out.write_all(text.as_bytes()),
            Some(text) => writeln!(out, "{text}"),
            None => writeln!(out, "{}", delivery.payload_base64),
        }
    };
    result
        .and_then(|()| out.flush())
        .map_err(ClientError::io("stdout"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use clap::Parser;

    use super::*;
    use crate::api::json::CreationJson;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        send: SendArgs,
    }

    fn send_args(argv: &[&str]) -> SendArgs {
        let mut all = vec!["tern-send"];
        all.extend_from_slice(argv);
        Cli::try_parse_from(all).unwrap().send
    }

    #[test]
    fn flags_become_request_fields() {
        let args = send_args(&[
            "dtn://b/app",
            "hi",
            "--lifetime",
            "90s",
            "--hop-limit",
            "3",
            "--crc",
            "16",
            "--request-delivery-report",
            "--priority",
            "emergency",
        ]);
        let r = submit_request(&args).unwrap();
        assert_eq!(r.priority.as_deref(), Some("emergency"));
        assert_eq!(r.destination, "dtn://b/app");
        assert_eq!(r.lifetime_ms, Some(90_000));
        assert_eq!(r.hop_limit, Some(3));
        assert_eq!(r.crc.as_deref(), Some("16"));
        assert!(r.request_delivery_report);
    }

    #[test]
    fn bad_destination_is_refused_before_sending_and_names_the_argument() {
        let err = submit_request(&send_args(&["dtn://b", "hi"])).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with("DST: dtn EID needs a '/'"),
            "{err}"
        );
    }

    #[test]
    fn unknown_priority_class_is_refused_by_the_parser() {
        let mut argv = vec!["tern-send", "ipn:2.1", "x", "--priority", "urgent"];
        let err = Cli::try_parse_from(argv.drain(..)).unwrap_err();
        assert!(err.to_string().contains("urgent"), "{err}");
    }

    #[test]
    fn bad_lifetime_names_the_flag() {
        let err = submit_request(&send_args(&["ipn:2.1", "x", "--lifetime", "90"])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--lifetime: '90' is not a duration"),
            "{err}"
        );
    }

    #[test]
    fn description_names_key_destination_and_identity() {
        let answer = Submitted {
            key: 12,
            source: Some("dtn://a/".into()),
            destination: "dtn://b/app".into(),
            creation: Some(CreationJson {
                time: 1_000,
                sequence: 4,
                date: Some("2000-01-01T00:00:01.000Z".into()),
            }),
        };
        assert_eq!(
            describe(&answer),
            "bundle 12 queued for dtn://b/app (id dtn://a/ 2000-01-01T00:00:01.000Z #4)"
        );
    }
}
