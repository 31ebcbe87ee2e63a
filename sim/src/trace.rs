//! The ONE's external event files, as contact and workload sources.
//!
//! - Connectivity traces (`StandardEventsReader` `CONN` events):
//!   `<time> CONN <host> <host> up|down`.
//! - Message events: `<time> C <id> <from> <to> <size> [<response size>]`.
//!
//! Times are seconds (decimals allowed). Host addresses are integers, optionally behind a
//! letter prefix as in The ONE (`p12` is host 12). Blank lines and lines starting with `#` are
//! skipped. Any other event is an error naming its line: a silently ignored line would make
//! comparisons with The ONE wrong without anyone noticing.

use proto::routing::RouterKind;

use crate::clock::SimTime;
use crate::plan::{ContactEvent, ContactSource, MessageEvent, Plan};
use crate::units::BitRate;

/// A line of a trace that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TraceError {
    /// Line number (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A connectivity change read from a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContact {
    /// Where it was read.
    pub line: usize,
    /// When.
    pub time: SimTime,
    /// One host address.
    pub a: usize,
    /// The other.
    pub b: usize,
    /// Up or down.
    pub up: bool,
}

/// A message creation read from a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceMessage {
    /// Where it was read.
    pub line: usize,
    /// When.
    pub time: SimTime,
    /// The ONE's message id (kept for error messages; tern names bundles itself).
    pub id: String,
    /// Source address.
    pub from: usize,
    /// Destination address.
    pub to: usize,
    /// Size in bytes.
    pub size: u64,
}

impl TraceMessage {
    /// The plan's message, with `lifetime`.
    pub fn into_message(self, lifetime: SimTime) -> MessageEvent {
        MessageEvent {
            time: self.time,
            from: self.from,
            to: self.to,
            size: self.size,
            lifetime,
            priority: proto::wire::Priority::Normal,
        }
    }
}

/// The meaningful lines of `text`, numbered.
fn lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> + '_ {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.trim();
        (!l.is_empty() && !l.starts_with('#')).then(|| (i + 1, l.split_whitespace().collect()))
    })
}

fn time(line: usize, s: &str) -> Result<SimTime, TraceError> {
    s.parse::<f64>()
        .ok()
        .and_then(SimTime::from_secs_f64)
        .ok_or_else(|| TraceError {
            line,
            message: format!("'{s}' is not a time in seconds"),
        })
}

/// A host address: digits, optionally after a letter prefix.
fn address(line: usize, s: &str) -> Result<usize, TraceError> {
    s.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .map_err(|_| TraceError {
            line,
            message: format!("'{s}' is not a host address (such as 12 or p12)"),
        })
}

/// Reads a connectivity trace.
pub fn parse_connectivity(text: &str) -> Result<Vec<TraceContact>, TraceError> {
    lines(text)
        .map(|(line, f)| {
            let [t, action, a, b, state] = f[..] else {
                return Err(TraceError {
                    line,
                    message: "expected '<time> CONN <host> <host> up|down'".into(),
                });
            };
            if action != "CONN" {
                return Err(TraceError {
                    line,
                    message: format!(
                        "unsupported event '{action}': a connectivity trace has only CONN"
                    ),
                });
            }
            let up = match state {
                "up" => true,
                "down" => false,
                other => {
                    return Err(TraceError {
                        line,
                        message: format!("'{other}' is neither up nor down"),
                    });
                }
            };
            Ok(TraceContact {
                line,
                time: time(line, t)?,
                a: address(line, a)?,
                b: address(line, b)?,
                up,
            })
        })
        .collect()
}

/// Reads message creation events.
pub fn parse_messages(text: &str) -> Result<Vec<TraceMessage>, TraceError> {
    lines(text)
        .map(|(line, f)| {
            if f.get(1) != Some(&"C") {
                return Err(TraceError {
                    line,
                    message: format!(
                        "unsupported event '{}': only message creation (C) is read",
                        f.get(1).copied().unwrap_or("")
                    ),
                });
            }
            let ([t, _, id, from, to, size] | [t, _, id, from, to, size, _]) = f[..] else {
                return Err(TraceError {
                    line,
                    message: "expected '<time> C <id> <from> <to> <size> [<response size>]'".into(),
                });
            };
            let size = size.parse().map_err(|_| TraceError {
                line,
                message: format!("'{size}' is not a size in bytes"),
            })?;
            Ok(TraceMessage {
                line,
                time: time(line, t)?,
                id: id.to_owned(),
                from: address(line, from)?,
                to: address(line, to)?,
                size,
            })
        })
        .collect()
}

/// The settings of `tern-sim trace`.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Every host's router.
    pub router: RouterKind,
    /// Every host's storage quota.
    pub buffer: u64,
    /// Link rate.
    pub rate: BitRate,
    /// Message lifetime.
    pub ttl: SimTime,
    /// Master seed.
    pub seed: u64,
    /// End of the run; the last event's time if `None`.
    pub duration: Option<SimTime>,
}

/// A plan that replays a connectivity trace (and message events): hosts `n0..nN` for
/// addresses `0..N`, every link as `opts` says.
pub fn plan(
    name: &str,
    connectivity: &[TraceContact],
    messages: &[TraceMessage],
    opts: &TraceOptions,
) -> Plan {
    let last = connectivity
        .iter()
        .map(|c| c.time)
        .chain(messages.iter().map(|m| m.time))
        .max()
        .unwrap_or(SimTime::ZERO);
    let hosts = connectivity
        .iter()
        .flat_map(|c| [c.a, c.b])
        .chain(messages.iter().flat_map(|m| [m.from, m.to]))
        .max()
        .map_or(0, |m| m + 1);
    let mut plan = Plan::new(name, opts.duration.unwrap_or(last));
    plan.seed = opts.seed;
    plan.link.rate = opts.rate;
    plan.add_hosts("n", hosts, opts.router.clone(), opts.buffer);
    plan.contacts = connectivity
        .iter()
        .map(|c| ContactEvent {
            time: c.time,
            a: c.a,
            b: c.b,
            up: c.up,
            source: ContactSource::Trace,
        })
        .collect();
    plan.messages = messages
        .iter()
        .filter(|m| m.from != m.to)
        .map(|m| m.clone().into_message(opts.ttl))
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectivity_lines_are_read_with_prefixed_addresses() {
        let t = "# comment\n0.5 CONN p1 p2 up\n\n12 CONN 2 1 down\n";
        let c = parse_connectivity(t).unwrap();
        assert_eq!(
            c,
            [
                TraceContact {
                    line: 2,
                    time: SimTime(500_000),
                    a: 1,
                    b: 2,
                    up: true
                },
                TraceContact {
                    line: 4,
                    time: SimTime(12_000_000),
                    a: 2,
                    b: 1,
                    up: false
                },
            ]
        );
    }

    #[test]
    fn a_bad_connectivity_line_is_named() {
        let e = parse_connectivity("1 CONN 1 2 up\n2 CONN 1 2 sideways\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("sideways"));
        let e = parse_connectivity("1 DE 1 2 up\n").unwrap_err();
        assert!(e.message.contains("unsupported event 'DE'"));
    }

    #[test]
    fn message_events_are_read_with_or_without_a_response_size() {
        let m = parse_messages("10 C M1 p0 p3 500\n11.25 C M2 3 0 64 32\n").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].from, m[0].to, m[0].size), (0, 3, 500));
        assert_eq!(m[1].time, SimTime(11_250_000));
        assert_eq!(m[1].id, "M2");
    }

    #[test]
    fn other_message_events_are_refused() {
        let e = parse_messages("10 S M1 p0 p3\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("only message creation"));
    }

    #[test]
    fn trace_plan_has_one_host_per_address_and_ends_at_the_last_event() {
        let c = parse_connectivity("0 CONN 0 4 up\n30 CONN 0 4 down\n").unwrap();
        let m = parse_messages("5 C M1 0 4 100\n").unwrap();
        let opts = TraceOptions {
            router: RouterKind::Epidemic,
            buffer: 1000,
            rate: BitRate(None),
            ttl: SimTime(60_000_000),
            seed: 3,
            duration: None,
        };
        let p = plan("t", &c, &m, &opts);
        assert_eq!(p.hosts.len(), 5);
        assert_eq!(p.hosts[4].name, "n4");
        assert_eq!(p.duration, SimTime(30_000_000));
        assert_eq!(p.messages[0].lifetime, SimTime(60_000_000));
    }
}
