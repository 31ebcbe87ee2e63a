//! ION contact plans as a contact source.
//!
//! ION (NASA JPL's Interplanetary Overlay Network) describes scheduled connectivity with
//! `ionrc` commands; the two that make a contact plan are
//!
//! - `a contact +START +END FROM TO RATE [CONFIDENCE]`: from `START` to `END` seconds after the
//!   start of the run, node `FROM` can transmit to node `TO` at `RATE` bytes per second. A
//!   contact is one direction; a two-way link is two contacts.
//! - `a range +START +END A B OWLT`: during that window the one-way light time between `A` and
//!   `B` (both ways) is `OWLT` seconds.
//!
//! Node numbers are ION (ipn) node numbers; the scenario maps them to hosts. Blank lines are
//! skipped and `#` starts a comment. Only relative times (`+SECONDS`) are read: a plan written
//! with absolute UTC times names a date the run has no anchor for. Any other command is an
//! error naming its line, so a plan is never half-read without anyone noticing.

use crate::clock::SimTime;
use crate::trace::TraceError;

/// One `a contact` line: a one-way transmission opportunity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IonContact {
    /// Where it was read (1-based).
    pub line: usize,
    /// When it starts.
    pub start: SimTime,
    /// When it ends.
    pub end: SimTime,
    /// The transmitting node number.
    pub from: u64,
    /// The receiving node number.
    pub to: u64,
    /// Bytes per second (ION's unit).
    pub rate: f64,
}

/// One `a range` line: the one-way light time between two nodes during a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IonRange {
    /// Where it was read (1-based).
    pub line: usize,
    /// When it starts.
    pub start: SimTime,
    /// When it ends.
    pub end: SimTime,
    /// One node number.
    pub a: u64,
    /// The other.
    pub b: u64,
    /// One-way light time.
    pub owlt: SimTime,
}

/// Everything a contact plan file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactPlan {
    /// The `a contact` lines, in file order.
    pub contacts: Vec<IonContact>,
    /// The `a range` lines, in file order.
    pub ranges: Vec<IonRange>,
}

impl ContactPlan {
    /// Every node number the plan mentions, sorted, without repeats.
    pub fn nodes(&self) -> Vec<u64> {
        let mut n: Vec<u64> = self
            .contacts
            .iter()
            .flat_map(|c| [c.from, c.to])
            .chain(self.ranges.iter().flat_map(|r| [r.a, r.b]))
            .collect();
        n.sort_unstable();
        n.dedup();
        n
    }
}

/// Reads an ION contact plan.
pub fn parse(text: &str) -> Result<ContactPlan, TraceError> {
    let mut plan = ContactPlan::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let f: Vec<&str> = content.split_whitespace().collect();
        let err = |message: String| TraceError { line, message };
        match f[..] {
            ["a", "contact", ..] => plan.contacts.push(contact(line, &f[2..])?),
            ["a", "range", ..] => plan.ranges.push(range(line, &f[2..])?),
            ["a", what, ..] => {
                return Err(err(format!(
                    "'a {what}' is not read: a contact plan has 'a contact' and 'a range' lines"
                )));
            }
            _ => {
                return Err(err(format!(
                    "'{content}' is not read: expected 'a contact +START +END FROM TO RATE' or 'a range +START +END A B OWLT'"
                )));
            }
        }
    }
    Ok(plan)
}

fn contact(line: usize, f: &[&str]) -> Result<IonContact, TraceError> {
    let err = |message: String| TraceError { line, message };
    let ([start, end, from, to, rate] | [start, end, from, to, rate, _]) = *f else {
        return Err(err(format!(
            "a contact: expected '+START +END FROM TO RATE [CONFIDENCE]', found {} fields",
            f.len()
        )));
    };
    if let [.., confidence] = *f
        && f.len() == 6
    {
        let ok = confidence
            .parse::<f64>()
            .is_ok_and(|c| (0.0..=1.0).contains(&c));
        if !ok {
            return Err(err(format!(
                "a contact: confidence '{confidence}' is not a probability between 0 and 1"
            )));
        }
    }
    let (start, end) = window(line, "a contact", start, end)?;
    let rate_value = rate
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0);
    let Some(rate) = rate_value else {
        return Err(err(format!(
            "a contact: rate '{rate}' is not a number of bytes per second greater than zero"
        )));
    };
    let (from, to) = (node(line, from)?, node(line, to)?);
    if from == to {
        return Err(err(format!(
            "a contact: node {from} cannot have a contact with itself"
        )));
    }
    Ok(IonContact {
        line,
        start,
        end,
        from,
        to,
        rate,
    })
}

fn range(line: usize, f: &[&str]) -> Result<IonRange, TraceError> {
    let err = |message: String| TraceError { line, message };
    let [start, end, a, b, owlt] = *f else {
        return Err(err(format!(
            "a range: expected '+START +END A B OWLT', found {} fields",
            f.len()
        )));
    };
    let (start, end) = window(line, "a range", start, end)?;
    let Some(owlt) = owlt.parse::<f64>().ok().and_then(SimTime::from_secs_f64) else {
        return Err(err(format!(
            "a range: one-way light time '{owlt}' is not a number of seconds (zero or more)"
        )));
    };
    Ok(IonRange {
        line,
        start,
        end,
        a: node(line, a)?,
        b: node(line, b)?,
        owlt,
    })
}

/// `+START +END` as times, END not before START.
fn window(line: usize, what: &str, s: &str, e: &str) -> Result<(SimTime, SimTime), TraceError> {
    let (start, end) = (time(line, what, s)?, time(line, what, e)?);
    if end < start {
        return Err(TraceError {
            line,
            message: format!("{what}: end {e} comes before start {s}"),
        });
    }
    Ok((start, end))
}

/// A relative time: `+SECONDS`.
fn time(line: usize, what: &str, s: &str) -> Result<SimTime, TraceError> {
    let err = |message: String| TraceError { line, message };
    let Some(rel) = s.strip_prefix('+') else {
        return Err(err(if s.contains('/') || s.contains(':') {
            format!(
                "{what}: absolute time '{s}' is not supported; write times relative to the start of the run, as +SECONDS"
            )
        } else {
            format!("{what}: time '{s}' must be relative, as +SECONDS")
        }));
    };
    rel.parse::<f64>()
        .ok()
        .and_then(SimTime::from_secs_f64)
        .ok_or_else(|| err(format!("{what}: '{s}' is not a time (+SECONDS)")))
}

fn node(line: usize, s: &str) -> Result<u64, TraceError> {
    s.parse().map_err(|_| TraceError {
        line,
        message: format!("'{s}' is not an ION node number"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "\
# Lander and orbiter
a contact +0 +600 1 2 125000   # uplink
a contact +0 +600 2 1 12500 0.9

a range +0 +600 1 2 1.5
";

    #[test]
    fn contacts_and_ranges_are_read_with_comments_skipped() {
        let p = parse(PLAN).unwrap();
        assert_eq!(p.contacts.len(), 2);
        assert_eq!(
            p.contacts[0],
            IonContact {
                line: 2,
                start: SimTime::ZERO,
                end: SimTime(600_000_000),
                from: 1,
                to: 2,
                rate: 125_000.0,
            }
        );
        assert_eq!(p.contacts[1].rate, 12_500.0);
        assert_eq!(p.ranges[0].owlt, SimTime(1_500_000));
        assert_eq!(p.ranges[0].line, 5);
        assert_eq!(p.nodes(), [1, 2]);
    }

    #[test]
    fn an_end_before_the_start_is_named_with_its_line() {
        let e = parse("a contact +0 +10 1 2 100\na contact +20 +10 1 2 100\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.message, "a contact: end +10 comes before start +20");
    }

    #[test]
    fn absolute_times_are_refused_with_the_reason() {
        let e = parse("a contact 2026/01/01-00:00:00 +10 1 2 100\n").unwrap_err();
        assert!(e.message.contains("absolute time"), "{}", e.message);
    }

    #[test]
    fn other_commands_are_refused() {
        let e = parse("a contact +0 +1 1 2 5\nm production 1000\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("'m production 1000' is not read"));
        let e = parse("a plan 2 100\n").unwrap_err();
        assert!(e.message.starts_with("'a plan' is not read"));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = parse("a contact +0 +1 1 2 fast\n").unwrap_err();
        assert!(e.message.contains("rate 'fast'"));
        let e = parse("a contact +0 +1 1 x 5\n").unwrap_err();
        assert_eq!(e.message, "'x' is not an ION node number");
        let e = parse("a range +0 +1 1 2\n").unwrap_err();
        assert!(e.message.contains("found 4 fields"));
        let e = parse("a contact +0 +1 3 3 5\n").unwrap_err();
        assert!(e.message.contains("with itself"));
        let e = parse("a contact +0 +1 1 2 5 1.5\n").unwrap_err();
        assert!(e.message.contains("confidence '1.5'"));
    }
}
