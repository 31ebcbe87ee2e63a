//! TCPCLv4, the TCP convergence layer of RFC 9174: its messages and a sans-IO session.
//!
//! What it is: [`msg`] and [`decode`] turn every RFC 9174 message into a typed value and back,
//! decoding incrementally from a stream buffer; [`Session`] runs one session — contact header,
//! SESS_INIT negotiation, segmented and pipelined bundle transfers, keepalives, SESS_TERM.
//!
//! What it must never do: read a clock, touch a socket, panic on peer bytes, or buffer more than
//! the limits it advertised. The daemon's TCP task owns a `Session`, feeds it the stream and the
//! time, and writes what it returns; the simulator can run two sessions back to back.
//!
//! How to drive it:
//!
//! ```
//! use tern_proto::tcpcl::{Event, Role, Session, SessionConfig};
//!
//! let mut active = Session::new(Role::Active, SessionConfig::new("dtn://a/"), 0).unwrap();
//! let mut passive = Session::new(Role::Passive, SessionConfig::new("dtn://b/"), 0).unwrap();
//! // Pipe bytes both ways until neither side has anything to say.
//! loop {
//!     let mut moved = false;
//!     while let Some(chunk) = active.poll_transmit() {
//!         passive.handle_bytes(0, &chunk);
//!         moved = true;
//!     }
//!     while let Some(chunk) = passive.poll_transmit() {
//!         active.handle_bytes(0, &chunk);
//!         moved = true;
//!     }
//!     if !moved {
//!         break;
//!     }
//! }
//! assert!(matches!(active.poll_event(), Some(Event::Established { .. })));
//! assert!(passive.is_established());
//! ```
//!
//! Interoperability notes (dtn7-rs 0.21): it acks with flags 0, so acks are matched by transfer
//! ID and length only; it ends a session when no KEEPALIVE arrives within its interval, so
//! keepalives go out at half the negotiated interval; it fails on transfer extension items, so
//! Transfer Length is off by default ([`SessionConfig::send_transfer_length`]).
//!
//! tern peers also exchange link-local control messages (set reconciliation, PRoPHET) as
//! transfers marked with a private critical extension item ([`msg::TERN_CONTROL_EXTENSION`]),
//! sent with [`Session::send_control`] and reported as [`Event::ControlReceived`]. Capability is
//! learned in band — each side sends [`msg::CONTROL_HELLO`] first — because dtn7-rs ends a
//! session on any session extension item in SESS_INIT.

mod config;
pub mod decode;
mod event;
pub mod msg;
mod session;

pub use config::{ConfigError, Role, SessionConfig, TlsMode};
pub use decode::{Limits, TcpclError};
pub use event::{AckError, Event, SendError, SessionError, TransferId};
pub use msg::{
    ContactFlags, ContactHeader, EncodeError, ExtensionFlags, ExtensionItem, Message, MessageType,
    MsgReject, RefuseReason, RejectReason, SegmentFlags, SessInit, SessTerm, SessTermFlags,
    SessTermReason, XferAck, XferRefuse, XferSegment,
};
pub use session::Session;
