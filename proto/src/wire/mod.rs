//! The Bundle Protocol v7 wire format (RFC 9171) and its companions.
//!
//! Everything here is pure: bytes in, values out, and back. Decoders take untrusted input and
//! never panic, never allocate from an unchecked length, and return a [`DecodeError`] that names
//! the rule, the block and the byte offset. A [`Bundle`] that exists is valid.
//!
//! Start with [`Bundle::decode`] and [`BundleBuilder`].

pub mod admin;
mod block;
mod builder;
mod bundle;
pub(crate) mod cbor;
pub mod copies;
mod crc;
mod eid;
mod error;
mod flags;
pub mod fragment;
mod primary;
pub mod priority;
pub mod splice;
mod time;

pub use block::{BlockBody, BlockType, CanonicalBlock, HopCount};
pub use builder::BundleBuilder;
pub use bundle::{Bundle, BundleId, DecodeLimits, UnknownBlockVerdict};
pub use crc::{CrcType, crc16_x25, crc32c};
pub use eid::{
    DEFAULT_MAX_EID_LEN, DtnEid, Eid, EidError, IPN_LOCAL_NODE, IpnEid, IpnForm, SCHEME_DTN,
    SCHEME_IPN,
};
pub use error::{BuildError, DecodeError, DecodeErrorDetail, DecodeErrorKind, Location};
pub use flags::{BlockFlags, BundleFlags};
pub use primary::{BP_VERSION, FragmentInfo, PrimaryBlock};
pub use priority::Priority;
pub use time::{CreationTimestamp, DTN_EPOCH_UNIX_MS, DtnTime};
