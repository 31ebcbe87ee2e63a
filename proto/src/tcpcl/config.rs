//! What a TCPCLv4 session is told before it starts: its role, its own parameters and limits.

use crate::wire::{Eid, EidError};

use super::decode::{DEFAULT_MAX_EXTENSIONS_LEN, DEFAULT_MAX_NODE_ID_LEN, Limits};

/// Which end of the TCP connection this session is (RFC 9174 §3.2): the order of the contact
/// header and SESS_INIT exchange depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This side opened the connection: it speaks first (§4.1, §4.6 Figure 8).
    Active,
    /// This side accepted the connection: it answers (§4.1, §4.6 Figure 9).
    Passive,
}

/// Whether TLS is offered in the contact header (RFC 9174 §4.2, §4.4).
///
/// A seam for the future: tern does not implement TCPCL TLS yet, so the only mode advertises
/// CAN_TLS = 0 and the negotiated "Enable TLS" (the AND of both flags, §4.3) is always false.
/// Adding TLS means adding `Offer`/`Require` here, pausing the session after the contact headers
/// with an event that asks the driver to run the handshake, and resuming it afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Advertise CAN_TLS = 0; sessions run in clear text.
    #[default]
    Disabled,
}

/// This side's session parameters and local policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our node ID as EID text (`dtn://node/` or `ipn:N.0`), sent in SESS_INIT (§4.6).
    pub node_id: String,
    /// Keepalive interval we propose in seconds; the session uses the smaller of both sides'
    /// (§4.7), 0 disables keepalives. RFC 9174 §5.1.1 recommends 30–600 s on shared networks.
    /// The idle timeout is twice the negotiated interval; with keepalives off there is none, and
    /// a vanished peer is only noticed by TCP.
    pub keepalive_secs: u16,
    /// Largest segment data we accept (§4.6). It also bounds how much one message can make us
    /// buffer, so keep it modest.
    pub segment_mru: u64,
    /// Largest bundle we accept (§4.6); a reassembled transfer never grows past it.
    pub transfer_mru: u64,
    /// Most outgoing transfers that may be unacknowledged at once (pipelining, §3.3 Figure 11).
    pub max_in_flight: usize,
    /// Local cap on the segments we send, below the peer's segment MRU: smaller segments let
    /// control messages (acks, keepalives, refusals) through sooner.
    pub max_tx_segment: u64,
    /// How long, in milliseconds, the contact header and SESS_INIT exchange may take
    /// (§4.1 recommends at most 60 s for the contact header).
    pub contact_timeout_ms: u64,
    /// How long, in milliseconds, an ending session waits for the SESS_TERM reply and for
    /// in-flight transfers before it closes anyway (§6.1).
    pub ending_timeout_ms: u64,
    /// Announce each multi-segment transfer's length with a Transfer Length extension
    /// (§5.2.5.1). Off by default: some peers (dtn7-rs) fail on any transfer extension item.
    pub send_transfer_length: bool,
    /// Understand tern control transfers ([`super::msg::TERN_CONTROL_EXTENSION`]): deliver them
    /// as [`super::Event::ControlReceived`]. Off, they are refused like any unknown critical
    /// extension.
    pub tern_control: bool,
    /// TLS offer; see [`TlsMode`].
    pub tls: TlsMode,
    /// Longest peer node ID accepted.
    pub max_node_id_len: u16,
    /// Longest session or transfer extension item list accepted from the peer.
    pub max_extensions_len: u32,
}

impl SessionConfig {
    /// Defaults that interoperate with dtn7-rs (30 s keepalive) and bound memory per session:
    /// 1 MiB segments, 16 MiB bundles, 8 transfers in flight.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            keepalive_secs: 30,
            segment_mru: 1 << 20,
            transfer_mru: 16 << 20,
            max_in_flight: 8,
            max_tx_segment: 1 << 20,
            contact_timeout_ms: 60_000,
            ending_timeout_ms: 30_000,
            send_transfer_length: false,
            tern_control: true,
            tls: TlsMode::Disabled,
            max_node_id_len: DEFAULT_MAX_NODE_ID_LEN,
            max_extensions_len: DEFAULT_MAX_EXTENSIONS_LEN,
        }
    }

    /// Checks the parameters a session cannot run with. (The EID parser's length limit also
    /// keeps the node ID within SESS_INIT's 16-bit length field.)
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let eid: Eid = self.node_id.parse().map_err(|source| ConfigError::NodeId {
            text: self.node_id.clone(),
            source,
        })?;
        if !eid.is_node_id() {
            return Err(ConfigError::NotANodeId(self.node_id.clone()));
        }
        if self.segment_mru == 0 {
            return Err(ConfigError::Zero("segment_mru"));
        }
        if self.transfer_mru == 0 {
            return Err(ConfigError::Zero("transfer_mru"));
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::Zero("max_in_flight"));
        }
        if self.max_tx_segment == 0 {
            return Err(ConfigError::Zero("max_tx_segment"));
        }
        Ok(())
    }

    /// Decoder limits that enforce what this side advertised.
    pub(super) fn limits(&self) -> Limits {
        Limits {
            max_segment_len: self.segment_mru,
            max_node_id_len: self.max_node_id_len,
            max_extensions_len: self.max_extensions_len,
        }
    }
}

/// A [`SessionConfig`] the session cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The node ID is not an EID.
    #[error("node ID '{text}' is not an endpoint ID: {source}")]
    NodeId {
        /// The configured text.
        text: String,
        /// Why it does not parse.
        source: EidError,
    },
    /// The node ID is an EID but not a node ID (`dtn://node/`, `ipn:N.0`).
    #[error("'{0}' is not a node ID: use dtn://node/ or ipn:N.0")]
    NotANodeId(String),
    /// A parameter that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}
