//! Endpoint identifiers: the `dtn` and `ipn` URI schemes (RFC 9171 §4.2.5, RFC 9758).
//!
//! An [`Eid`] that exists is valid: both the URI parser and the CBOR decoder check every rule
//! before building one, and report the character or item that broke it.
//!
//! - `dtn:none` is the null endpoint; on the wire it is `[1, 0]`.
//! - `dtn://node/demux` names a service on a node; `dtn://node/` is the node itself. A demux that
//!   starts with `~` marks a non-singleton (group) endpoint (RFC 9171 §4.2.5.1.1).
//! - `ipn:node.service` (RFC 9171) and `ipn:allocator.node.service` (RFC 9758). On the wire the
//!   two-element form `[2, [fqnn, service]]` packs the allocator in the upper 32 bits of the node
//!   number; the three-element form `[2, [allocator, node, service]]` spells it out. Both decode to
//!   the same [`IpnEid`]; the form is remembered so that a forwarded bundle keeps its bytes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::cbor::{self, Reader, SliceWriter};
use super::error::{DecodeError, DecodeErrorKind};

/// URI scheme code of `dtn` (RFC 9171 §9.7).
pub const SCHEME_DTN: u64 = 1;
/// URI scheme code of `ipn` (RFC 9171 §9.7).
pub const SCHEME_IPN: u64 = 2;
/// Default limit on an EID's text length, generous for real names and small enough to bound work.
pub const DEFAULT_MAX_EID_LEN: usize = 1024;
/// RFC 9758 §3.4.2: the node number that means "this node" (`ipn:!.service`).
pub const IPN_LOCAL_NODE: u32 = u32::MAX;

/// An endpoint identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Eid {
    /// `dtn:none`, the null endpoint: "nobody" as a source, report-to or destination.
    Null,
    /// A `dtn` scheme EID other than `dtn:none`.
    Dtn(DtnEid),
    /// An `ipn` scheme EID.
    Ipn(IpnEid),
}

/// `dtn://node-name/demux`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DtnEid {
    /// The scheme-specific part as carried on the wire: `//node-name/demux`.
    /// Inline (no heap allocation) up to 23 bytes, which covers most names: decoding a bundle's
    /// three EIDs then allocates nothing.
    ssp: smol_str::SmolStr,
    /// Length of the node name (it starts at byte 2 of `ssp`).
    node_len: usize,
}

/// `ipn:[allocator.]node.service`.
#[derive(Debug, Clone, Copy)]
pub struct IpnEid {
    /// RFC 9758 allocator identifier; 0 for numbers assigned under RFC 9171.
    pub allocator: u32,
    /// Node number within the allocator's space.
    pub node: u32,
    /// Service number; 0 is the node's administrative endpoint (its node ID).
    pub service: u64,
    /// How it was, or will be, encoded. Not part of the EID's identity.
    pub form: IpnForm,
}

/// Which CBOR encoding an `ipn` EID uses (RFC 9758 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpnForm {
    /// `[fqnn, service]`, readable by every RFC 9171 implementation.
    #[default]
    TwoElement,
    /// `[allocator, node, service]`.
    ThreeElement,
}

/// Why a text or CBOR endpoint ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EidError {
    /// No `scheme:` prefix.
    #[error("'{0}' has no scheme: write dtn://node/service or ipn:node.service")]
    MissingScheme(String),
    /// A scheme other than dtn and ipn.
    #[error("unknown scheme '{0}' (tern speaks dtn and ipn)")]
    UnknownScheme(String),
    /// A scheme code other than 1 and 2 on the wire.
    #[error("unknown URI scheme code {0}")]
    UnknownSchemeCode(u64),
    /// The dtn SSP does not start with `//`.
    #[error("dtn EID must be dtn:none or start with dtn:// (got '{0}')")]
    MissingAuthority(String),
    /// `dtn:///...`.
    #[error("dtn EID has an empty node name")]
    EmptyNodeName,
    /// `dtn://node` without the `/` that separates node and demux.
    #[error("dtn EID needs a '/' after the node name: did you mean dtn://{0}/ ?")]
    MissingDemuxDelimiter(String),
    /// A character the scheme does not allow.
    #[error("character {ch:?} at position {pos} is not allowed in the {part}")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its byte position in the text.
        pos: usize,
        /// Which part of the EID.
        part: &'static str,
    },
    /// dtn:none must be encoded as the integer 0.
    #[error("dtn scheme-specific part must be a text string or the integer 0 (dtn:none)")]
    BadNoneEncoding,
    /// The ipn SSP is not two or three dot-separated numbers.
    #[error("ipn EID must be ipn:node.service or ipn:allocator.node.service (got '{0}')")]
    IpnShape(String),
    /// A number part of an ipn EID is not a decimal number in range.
    #[error("ipn {part} '{text}' is not a number in 0..={max}")]
    IpnNumber {
        /// Which part.
        part: &'static str,
        /// Its text.
        text: String,
        /// Its upper bound.
        max: u64,
    },
    /// The EID is longer than allowed.
    #[error("EID of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl Eid {
    /// Parses URI text, enforcing `max_len` on the whole text.
    pub fn parse_with_limit(text: &str, max_len: usize) -> Result<Self, EidError> {
        if text.len() > max_len {
            return Err(EidError::TooLong {
                len: text.len(),
                max: max_len,
            });
        }
        let Some((scheme, ssp)) = text.split_once(':') else {
            return Err(EidError::MissingScheme(text.to_owned()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "dtn" if ssp == "none" => Ok(Self::Null),
            "dtn" => DtnEid::from_ssp(ssp).map(Self::Dtn),
            "ipn" => IpnEid::parse_ssp(ssp).map(Self::Ipn),
            _ => Err(EidError::UnknownScheme(scheme.to_owned())),
        }
    }

    /// `dtn://{node}/{demux}`, checked.
    pub fn dtn(node: &str, demux: &str) -> Result<Self, EidError> {
        DtnEid::from_ssp(&format!("//{node}/{demux}")).map(Self::Dtn)
    }

    /// `ipn:{node}.{service}` with allocator 0.
    pub fn ipn(node: u32, service: u64) -> Self {
        Self::Ipn(IpnEid {
            allocator: 0,
            node,
            service,
            form: IpnForm::TwoElement,
        })
    }

    /// True for `dtn:none` and for `ipn:0.0` (RFC 9758 §3.4.1).
    pub fn is_null(&self) -> bool {
        match self {
            Self::Null => true,
            Self::Dtn(_) => false,
            Self::Ipn(i) => i.allocator == 0 && i.node == 0 && i.service == 0,
        }
    }

    /// False for group endpoints (`dtn://node/~group`), which deliver to many nodes.
    pub fn is_singleton(&self) -> bool {
        match self {
            Self::Dtn(d) => !d.demux().starts_with('~'),
            Self::Null | Self::Ipn(_) => true,
        }
    }

    /// The node ID of the node this endpoint is on: `dtn://node/` or `ipn:node.0`.
    pub fn node_id(&self) -> Option<Self> {
        match self {
            Self::Null => None,
            Self::Dtn(d) => Some(Self::Dtn(DtnEid {
                ssp: smol_str::format_smolstr!("//{}/", d.node_name()),
                node_len: d.node_len,
            })),
            Self::Ipn(i) => Some(Self::Ipn(IpnEid { service: 0, ..*i })),
        }
    }

    /// True if this is a node ID (`dtn://node/` or `ipn:node.0`).
    pub fn is_node_id(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Dtn(d) => d.demux().is_empty(),
            Self::Ipn(i) => i.service == 0,
        }
    }

    /// Appends the CBOR encoding (RFC 9171 §4.2.5.1).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        cbor::append_bounded(out, self.max_encoded_len(), |w| self.write(w));
    }

    /// Writes the CBOR encoding (RFC 9171 §4.2.5.1): `[1, "//node/demux"]`, `[1, 0]` for
    /// `dtn:none`, `[2, [fqnn, service]]` or `[2, [allocator, node, service]]`.
    #[inline(always)]
    pub(crate) fn write(&self, w: &mut SliceWriter<'_>) {
        match self {
            Self::Null => w.raw(&[0x82, SCHEME_DTN as u8, 0]),
            Self::Dtn(d) => {
                let ssp = d.ssp.as_str();
                if ssp.len() < 24 {
                    w.raw(&[0x82, SCHEME_DTN as u8, 0x60 | ssp.len() as u8]);
                    w.raw(ssp.as_bytes());
                } else {
                    w.raw(&[0x82, SCHEME_DTN as u8]);
                    w.text(ssp);
                }
            }
            Self::Ipn(i) => {
                match i.form {
                    IpnForm::TwoElement => {
                        w.raw(&[0x82, SCHEME_IPN as u8, 0x82]);
                        w.uint(i.fqnn());
                    }
                    IpnForm::ThreeElement => {
                        w.raw(&[0x82, SCHEME_IPN as u8, 0x83]);
                        w.uint(u64::from(i.allocator));
                        w.uint(u64::from(i.node));
                    }
                }
                w.uint(i.service);
            }
        }
    }

    /// An upper bound of the encoded size that counts every integer header at its longest, as
    /// [`SliceWriter`] needs.
    #[inline(always)]
    pub(crate) fn max_encoded_len(&self) -> usize {
        match self {
            Self::Dtn(d) => 2 + cbor::MAX_HEADER_LEN + d.ssp.len(),
            // `[2, [allocator, node, service]]`: three headers of up to 9 bytes; `[1, 0]` is less.
            Self::Ipn(_) | Self::Null => 3 + 3 * cbor::MAX_HEADER_LEN,
        }
    }

    /// The exact encoded size in bytes.
    pub(crate) fn encoded_len(&self) -> usize {
        match self {
            Self::Null => 3,
            Self::Dtn(d) => 2 + cbor::header_len(d.ssp.len() as u64) + d.ssp.len(),
            Self::Ipn(i) => {
                let numbers = match i.form {
                    IpnForm::TwoElement => cbor::header_len(i.fqnn()),
                    IpnForm::ThreeElement => {
                        cbor::header_len(u64::from(i.allocator))
                            + cbor::header_len(u64::from(i.node))
                    }
                };
                3 + numbers + cbor::header_len(i.service)
            }
        }
    }

    /// Decodes the CBOR encoding, allowing at most `max_len` bytes of dtn SSP text.
    pub(crate) fn decode(r: &mut Reader<'_>, max_len: usize) -> Result<Self, DecodeError> {
        r.array_of("endpoint ID", 2..=2)?;
        let at = r.offset();
        let scheme = r.uint()?;
        match scheme {
            SCHEME_DTN => {
                let at = r.offset();
                if r.peek().is_some_and(|b| b >> 5 == 0) {
                    return match r.uint()? {
                        0 => Ok(Self::Null),
                        _ => Err(DecodeError::new(EidError::BadNoneEncoding.into(), at)),
                    };
                }
                if let Some(eid) = DtnEid::decode_short(r, max_len) {
                    return Ok(Self::Dtn(eid));
                }
                let ssp = r.text(max_len)?;
                DtnEid::from_ssp(ssp)
                    .map(Self::Dtn)
                    .map_err(|e| DecodeError::new(e.into(), at))
            }
            SCHEME_IPN => {
                let n = r.array_of("ipn scheme-specific part", 2..=3)?;
                let (allocator, node, form) = if n == 2 {
                    let fqnn = r.uint()?;
                    ((fqnn >> 32) as u32, fqnn as u32, IpnForm::TwoElement)
                } else {
                    let at = r.offset();
                    let allocator = u32::try_from(r.uint()?).map_err(|_| {
                        DecodeError::new(
                            DecodeErrorKind::Invalid("ipn allocator exceeds 32 bits"),
                            at,
                        )
                    })?;
                    let at = r.offset();
                    let node = u32::try_from(r.uint()?).map_err(|_| {
                        DecodeError::new(
                            DecodeErrorKind::Invalid("ipn node number exceeds 32 bits"),
                            at,
                        )
                    })?;
                    (allocator, node, IpnForm::ThreeElement)
                };
                let service = r.uint()?;
                Ok(Self::Ipn(IpnEid {
                    allocator,
                    node,
                    service,
                    form,
                }))
            }
            other => Err(DecodeError::new(
                EidError::UnknownSchemeCode(other).into(),
                at,
            )),
        }
    }
}

impl FromStr for Eid {
    type Err = EidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_with_limit(s, DEFAULT_MAX_EID_LEN)
    }
}

impl fmt::Display for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("dtn:none"),
            Self::Dtn(d) => write!(f, "dtn:{}", d.ssp),
            Self::Ipn(i) => i.fmt(f),
        }
    }
}

impl DtnEid {
    /// Checks `//node-name/demux` (RFC 9171 §4.2.5.1.1: node-name is an RFC 3986 reg-name,
    /// demux is any visible ASCII).
    fn from_ssp(ssp: &str) -> Result<Self, EidError> {
        match Self::node_len_if_valid(ssp.as_bytes()) {
            Some(node_len) => Ok(Self {
                ssp: smol_str::SmolStr::new(ssp),
                node_len,
            }),
            None => Err(Self::ssp_error(ssp)),
        }
    }

    /// Decodes a valid SSP shorter than 24 bytes (one-byte text header), the common case, with
    /// one pass over its bytes before the UTF-8 check (which cannot fail on the ASCII the pass
    /// accepted). `None` leaves the reader untouched, for the general path to decode the item
    /// and name whatever is wrong with it.
    #[inline]
    fn decode_short(r: &mut Reader<'_>, max_len: usize) -> Option<Self> {
        let (&header, rest) = r.rest().split_first()?;
        let len = usize::from(header.wrapping_sub(0x60));
        if len >= 24 || len > max_len {
            return None;
        }
        let raw = rest.get(..len)?;
        let node_len = Self::node_len_if_valid(raw)?;
        let ssp = std::str::from_utf8(raw).ok()?;
        r.skip(1 + len);
        Some(Self {
            ssp: smol_str::SmolStr::new(ssp),
            node_len,
        })
    }

    /// The node name's length if `ssp` is a valid `//node-name/demux`, in one pass over its
    /// bytes: this runs for every dtn EID of every bundle received.
    #[inline]
    fn node_len_if_valid(ssp: &[u8]) -> Option<usize> {
        let rest = ssp.strip_prefix(b"//")?;
        // The node name runs up to the first byte it may not contain, which must be the '/'
        // ('/' is not a node-name byte).
        let node_len = rest
            .iter()
            .position(|&b| !NODE_NAME_BYTES[usize::from(b)])?;
        let demux = rest.get(node_len..)?.strip_prefix(b"/")?;
        (node_len > 0 && demux.iter().all(u8::is_ascii_graphic)).then_some(node_len)
    }

    /// Why `ssp` is not a valid `//node-name/demux` (for an SSP that
    /// [`Self::node_len_if_valid`] refused), naming the first rule broken.
    #[cold]
    fn ssp_error(ssp: &str) -> EidError {
        let Some(rest) = ssp.strip_prefix("//") else {
            return EidError::MissingAuthority(ssp.to_owned());
        };
        let Some(node_len) = rest.find('/') else {
            if rest.is_empty() {
                return EidError::EmptyNodeName;
            }
            return EidError::MissingDemuxDelimiter(rest.to_owned());
        };
        if node_len == 0 {
            return EidError::EmptyNodeName;
        }
        let node = &rest[..node_len];
        if let Some(i) = node.bytes().position(|b| !NODE_NAME_BYTES[usize::from(b)]) {
            return EidError::InvalidChar {
                ch: node[i..].chars().next().unwrap_or('?'),
                pos: 2 + i,
                part: "node name",
            };
        }
        let demux_start = node_len + 1;
        let demux = &rest[demux_start..];
        if let Some(i) = demux.bytes().position(|b| !b.is_ascii_graphic()) {
            return EidError::InvalidChar {
                ch: demux[i..].chars().next().unwrap_or('?'),
                pos: 2 + demux_start + i,
                part: "demux (service name)",
            };
        }
        // Unreachable for an SSP that was refused; a generic answer rather than a panic.
        EidError::MissingAuthority(ssp.to_owned())
    }

    /// The node name (between `//` and the next `/`).
    pub fn node_name(&self) -> &str {
        &self.ssp[2..2 + self.node_len]
    }

    /// The demux (service name) after the node name's `/`; empty for a node ID.
    pub fn demux(&self) -> &str {
        &self.ssp[3 + self.node_len..]
    }

    /// The scheme-specific part as carried on the wire.
    pub fn ssp(&self) -> &str {
        &self.ssp
    }
}

/// Bytes allowed in a node name: RFC 3986 reg-name (unreserved, pct-encoded, sub-delims). A
/// table, because this check runs for every dtn EID of every bundle received.
static NODE_NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~%!$&'()*+,;=";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

impl IpnEid {
    /// Fully qualified node number: allocator in the upper 32 bits (RFC 9758 §3.2).
    pub fn fqnn(&self) -> u64 {
        (u64::from(self.allocator) << 32) | u64::from(self.node)
    }

    fn parse_ssp(ssp: &str) -> Result<Self, EidError> {
        let parts: Vec<&str> = ssp.split('.').collect();
        let number = |part: &'static str, text: &str, max: u64| -> Result<u64, EidError> {
            let bad = || EidError::IpnNumber {
                part,
                text: text.to_owned(),
                max,
            };
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            // Leading zeros would make two spellings of one EID; RFC 9758 §4 forbids them.
            if text.len() > 1 && text.starts_with('0') {
                return Err(bad());
            }
            text.parse::<u64>()
                .ok()
                .filter(|&v| v <= max)
                .ok_or_else(bad)
        };
        let node_number = |text: &str, max: u64| -> Result<u64, EidError> {
            if text == "!" {
                return Ok(u64::from(IPN_LOCAL_NODE));
            }
            number("node number", text, max)
        };
        match parts.as_slice() {
            [node, service] => {
                let fqnn = node_number(node, u64::MAX)?;
                Ok(Self {
                    allocator: (fqnn >> 32) as u32,
                    node: fqnn as u32,
                    service: number("service number", service, u64::MAX)?,
                    form: IpnForm::TwoElement,
                })
            }
            [allocator, node, service] => Ok(Self {
                allocator: number("allocator", allocator, u64::from(u32::MAX))? as u32,
                node: node_number(node, u64::from(u32::MAX))? as u32,
                service: number("service number", service, u64::MAX)?,
                form: IpnForm::ThreeElement,
            }),
            _ => Err(EidError::IpnShape(ssp.to_owned())),
        }
    }
}

impl fmt::Display for IpnEid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ipn:")?;
        if self.allocator != 0 {
            write!(f, "{}.", self.allocator)?;
        }
        if self.node == IPN_LOCAL_NODE && self.allocator == 0 {
            f.write_str("!")?;
        } else {
            write!(f, "{}", self.node)?;
        }
        write!(f, ".{}", self.service)
    }
}

// The encoding form is how an EID travelled, not which endpoint it names.
impl PartialEq for IpnEid {
    fn eq(&self, other: &Self) -> bool {
        (self.allocator, self.node, self.service) == (other.allocator, other.node, other.service)
    }
}
impl Eq for IpnEid {}
impl Hash for IpnEid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.allocator, self.node, self.service).hash(state);
    }
}
impl PartialOrd for IpnEid {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for IpnEid {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.allocator, self.node, self.service).cmp(&(other.allocator, other.node, other.service))
    }
}

// EIDs travel through records (store, API) as their URI text: readable, and checked on the way in.
impl serde::Serialize for Eid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Eid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn decode_hex(h: &str) -> Result<Eid, DecodeError> {
        let b = Bytes::from(hex::decode(h).unwrap());
        Eid::decode(&mut Reader::new(&b), DEFAULT_MAX_EID_LEN)
    }

    fn encode_hex(e: &Eid) -> String {
        let mut out = Vec::new();
        e.encode(&mut out);
        hex::encode(out)
    }

    #[test]
    fn dtn_uri_splits_into_node_and_demux() {
        let e: Eid = "dtn://node1/inbox/x".parse().unwrap();
        let Eid::Dtn(d) = &e else { panic!() };
        assert_eq!(d.node_name(), "node1");
        assert_eq!(d.demux(), "inbox/x");
        assert_eq!(e.to_string(), "dtn://node1/inbox/x");
        assert_eq!(e.node_id().unwrap().to_string(), "dtn://node1/");
    }

    #[test]
    fn tilde_demux_is_a_group_endpoint() {
        let e: Eid = "dtn://alerts/~cap".parse().unwrap();
        assert!(!e.is_singleton());
        assert!("dtn://n/cap".parse::<Eid>().unwrap().is_singleton());
    }

    #[test]
    fn dtn_none_is_the_null_endpoint() {
        let e: Eid = "dtn:none".parse().unwrap();
        assert_eq!(e, Eid::Null);
        assert_eq!(encode_hex(&e), "820100");
        assert!(e.is_null());
    }

    #[test]
    fn missing_demux_slash_suggests_the_fix() {
        let err = "dtn://node1".parse::<Eid>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "dtn EID needs a '/' after the node name: did you mean dtn://node1/ ?"
        );
    }

    #[test]
    fn space_in_node_name_is_named_with_its_position() {
        let err = "dtn://no de/x".parse::<Eid>().unwrap_err();
        assert_eq!(
            err,
            EidError::InvalidChar {
                ch: ' ',
                pos: 4,
                part: "node name"
            }
        );
    }

    #[test]
    fn ipn_text_forms_parse_and_print() {
        assert_eq!("ipn:1.2".parse::<Eid>().unwrap().to_string(), "ipn:1.2");
        let three: Eid = "ipn:977000.1.1".parse().unwrap();
        assert_eq!(three.to_string(), "ipn:977000.1.1");
        assert_eq!("ipn:!.7".parse::<Eid>().unwrap().to_string(), "ipn:!.7");
        assert!("ipn:01.2".parse::<Eid>().is_err());
        assert!("ipn:1".parse::<Eid>().is_err());
        assert!("ipn:4294967296.1.1".parse::<Eid>().is_err());
    }

    #[test]
    fn two_element_fqnn_carries_the_allocator() {
        let e = decode_hex("8202821b000ee8680000000101").unwrap();
        let Eid::Ipn(i) = e else { panic!() };
        assert_eq!((i.allocator, i.node, i.service), (977_000, 1, 1));
        let three = decode_hex("8202831a000ee8680101").unwrap();
        assert_eq!(Eid::Ipn(i), three);
    }

    #[test]
    fn both_ipn_forms_re_encode_byte_exact() {
        for h in [
            "8202820102",
            "820283000101",
            "8202821b000ee8680000000101",
            "8202831a000ee8680101",
        ] {
            assert_eq!(encode_hex(&decode_hex(h).unwrap()), h);
        }
    }

    #[test]
    fn invalid_dtn_ssp_on_the_wire_names_the_first_rule_broken() {
        let cases = [
            (
                "//no de/x",
                EidError::InvalidChar {
                    ch: ' ',
                    pos: 4,
                    part: "node name",
                },
            ),
            (
                "//node/a b",
                EidError::InvalidChar {
                    ch: ' ',
                    pos: 8,
                    part: "demux (service name)",
                },
            ),
            ("//node", EidError::MissingDemuxDelimiter("node".to_owned())),
            ("///x", EidError::EmptyNodeName),
            ("node/x", EidError::MissingAuthority("node/x".to_owned())),
        ];
        for (ssp, expected) in cases {
            let mut h = format!("8201{:02x}", 0x60 + ssp.len());
            h.push_str(&hex::encode(ssp));
            let err = decode_hex(&h).unwrap_err();
            assert_eq!(err.kind, DecodeErrorKind::Eid(expected), "{ssp}");
            assert_eq!(err.offset, 2, "{ssp}");
        }
    }

    #[test]
    fn valid_dtn_ssp_decodes_to_its_node_name_and_demux() {
        let e = decode_hex(&format!("82016f{}", hex::encode("//node1/app/x~y"))).unwrap();
        let Eid::Dtn(d) = &e else { panic!() };
        assert_eq!((d.node_name(), d.demux()), ("node1", "app/x~y"));
        assert_eq!(
            encode_hex(&e),
            format!("82016f{}", hex::encode("//node1/app/x~y"))
        );
    }

    #[test]
    fn unknown_scheme_code_is_refused() {
        let err = decode_hex("82030100").unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::Eid(EidError::UnknownSchemeCode(3))
        );
        assert_eq!(err.offset, 1);
    }

    #[test]
    fn dtn_ssp_integer_other_than_zero_is_refused() {
        let err = decode_hex("820101").unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::Eid(EidError::BadNoneEncoding));
    }

    #[test]
    fn overlong_eid_text_is_refused() {
        let long = format!("dtn://n/{}", "a".repeat(2000));
        assert!(matches!(long.parse::<Eid>(), Err(EidError::TooLong { .. })));
    }
}
