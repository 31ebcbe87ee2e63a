//! OASIS Common Alerting Protocol 1.2 (ITU-T X.1303 bis): the early-warning messages tern
//! carries ahead of everything else.
//!
//! What it is: a model of CAP 1.2 messages ([`Alert`] and its blocks), a checking parser for
//! untrusted XML ([`parse`], [`parse_with`]), a canonical writer ([`write()`]), a builder for the
//! common case ([`AlertBuilder`]) and what a node derives from an alert to carry it
//! ([`Alert::priority`], [`Alert::lifetime_ms`], [`Alert::id`]).
//!
//! What it must never do: read a clock (callers pass `now`), expand an entity, or panic or
//! allocate without bound on hostile input — alerts arrive from any peer.
//!
//! How to use it: `parse(bytes)?` on what arrives, `write(&alert)` for what leaves;
//! `parse(write(&a)) == a` for every alert that passes the checks.

mod builder;
mod derive;
mod error;
mod model;
mod parse;
mod time;
mod write;

pub use builder::AlertBuilder;
pub use derive::{DEFAULT_LIFETIME_SECS, MAX_LIFETIME_SECS, info_priority};
pub use error::{CapError, CapErrorKind};
pub use model::{
    Alert, AlertId, Area, Category, Certainty, Circle, Info, MsgType, NamedValue, Point, Polygon,
    Resource, ResponseType, Scope, Severity, Status, Urgency,
};
pub use parse::{ParseLimits, parse, parse_with};
pub use time::CapTime;
pub use write::write;

/// The CAP 1.2 XML namespace (CAP 1.2 §3.3.1).
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// The MIME type of a CAP document (CAP 1.2 §3.3.1, `application/common-alerting-protocol+xml`).
pub const MEDIA_TYPE: &str = "application/common-alerting-protocol+xml";
