//! The priority block: a tern-private extension block carrying a bundle's priority class, so
//! that every node on the way sends an evacuation order before a photo upload.
//!
//! # Wire format
//! - Block type code **192**, the first of RFC 9171's private/experimental range 192–255
//!   (RFC 9171 §9.1). [`PRIORITY_BLOCK_TYPE`].
//! - Block-type-specific data: one CBOR unsigned integer (major type 0, shortest form), the class
//!   code — `0` bulk, `1` normal, `2` high, `3` emergency. The codes 0–2 follow the bulk / normal /
//!   expedited classes of BPv6's class of service (RFC 5050 §4.2); 3 adds emergency above them.
//!   Any other code, another CBOR type or trailing bytes are errors.
//! - Example: an emergency block with CRC-32C is `86 18 C0 02 00 02 41 03 44 <crc>`: type 192,
//!   block number 2, no flags, CRC type 2, data `h'03'`.
//! - Block processing flags are left clear, so nodes that do not know the block (dtn7-rs, ION)
//!   keep it and forward it unchanged (RFC 9171 §4.3.2) and the class survives their hops.
//! - A bundle without the block is normal. Only the first priority block counts.
//!
//! The class is declared by the source and not authenticated: a network that must not trust
//! every source protects the block with a BPSec integrity block (RFC 9172).

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::block::{BlockBody, BlockType};
use super::bundle::Bundle;
use super::cbor::{self, Reader};
use super::error::{DecodeError, DecodeErrorKind};

/// Block type code of the priority block (private use, RFC 9171 §9.1).
pub const PRIORITY_BLOCK_TYPE: BlockType = BlockType(192);

/// A bundle's priority class. Ordered from least to most urgent, so `max()` is the most urgent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Bulk data (photos, logs, map tiles): goes last, evicted first, capped in storage.
    Bulk,
    /// Ordinary messages. Bundles without a priority block are normal.
    #[default]
    Normal,
    /// Urgent operational traffic.
    High,
    /// Alerts and evacuation orders: first on every contact, never evicted for a lower class.
    Emergency,
}

impl Priority {
    /// Every class, most urgent first: the order bundles go out on a contact.
    pub const ALL: [Self; 4] = [Self::Emergency, Self::High, Self::Normal, Self::Bulk];

    /// The class code carried in the block (0 bulk … 3 emergency).
    pub fn code(self) -> u8 {
        match self {
            Self::Bulk => 0,
            Self::Normal => 1,
            Self::High => 2,
            Self::Emergency => 3,
        }
    }

    /// The class with this code, if any.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Bulk,
            1 => Self::Normal,
            2 => Self::High,
            3 => Self::Emergency,
            _ => return None,
        })
    }

    /// The name used in configuration, the API and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bulk => "bulk",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Emergency => "emergency",
        }
    }

    /// The block-type-specific data for this class.
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1);
        cbor::write_uint(&mut out, u64::from(self.code()));
        out
    }

    /// The block body to add to a bundle ([`super::BundleBuilder::extension`]).
    pub fn block_body(self) -> BlockBody {
        BlockBody::Other {
            block_type: PRIORITY_BLOCK_TYPE.0,
            data: Bytes::from(self.encode()),
        }
    }

    /// Decodes block-type-specific data. Offsets in errors count from the start of `data`.
    pub fn decode(data: &Bytes) -> Result<Self, PriorityError> {
        let mut r = Reader::new(data);
        let at = r.offset();
        let code = r.uint().map_err(PriorityError::Malformed)?;
        if !r.is_empty() {
            return Err(PriorityError::Malformed(
                r.error(DecodeErrorKind::TrailingBytes(r.remaining())),
            ));
        }
        Self::from_code(code).ok_or(PriorityError::UnknownClass { code, offset: at })
    }

    /// The class of `bundle`: its first priority block, normal without one.
    pub fn of(bundle: &Bundle) -> Result<Self, PriorityError> {
        match bundle.block(PRIORITY_BLOCK_TYPE).map(|b| &b.body) {
            Some(BlockBody::Other { data, .. }) => Self::decode(data),
            _ => Ok(Self::Normal),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A priority class name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority '{0}': choose emergency, high, normal or bulk")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPriority(s.to_owned()))
    }
}

/// A priority block's data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriorityError {
    /// Not exactly one CBOR unsigned integer.
    #[error("priority block data {0}")]
    Malformed(DecodeError),
    /// A code outside 0..=3.
    #[error(
        "priority block data at byte {offset}: unknown class code {code} \
         (0 bulk, 1 normal, 2 high, 3 emergency)"
    )]
    UnknownClass {
        /// The code found.
        code: u64,
        /// Where, from the start of the block's data.
        offset: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{BlockFlags, BundleBuilder, CreationTimestamp, DtnTime};

    #[test]
    fn every_class_round_trips_through_its_code() {
        for p in Priority::ALL {
            assert_eq!(Priority::decode(&Bytes::from(p.encode())), Ok(p));
        }
        assert_eq!(Priority::Emergency.encode(), [0x03]);
    }

    #[test]
    fn classes_order_from_bulk_to_emergency() {
        assert!(Priority::Bulk < Priority::Normal);
        assert!(Priority::High < Priority::Emergency);
        assert_eq!(Priority::ALL[0], Priority::Emergency);
    }

    #[test]
    fn an_unknown_code_is_refused_with_its_value() {
        let e = Priority::decode(&Bytes::from_static(&[0x04])).unwrap_err();
        assert_eq!(e, PriorityError::UnknownClass { code: 4, offset: 0 });
    }

    #[test]
    fn trailing_bytes_and_other_types_are_refused() {
        let e = Priority::decode(&Bytes::from_static(&[0x01, 0x00])).unwrap_err();
        assert!(
            matches!(e, PriorityError::Malformed(ref d) if d.offset == 1),
            "{e}"
        );
        let e = Priority::decode(&Bytes::from_static(&[0x41, 0x01])).unwrap_err();
        assert!(matches!(e, PriorityError::Malformed(_)), "{e}");
        let e = Priority::decode(&Bytes::new()).unwrap_err();
        assert!(matches!(e, PriorityError::Malformed(_)), "{e}");
    }

    #[test]
    fn a_bundle_carries_its_class_through_encode_and_decode() {
        let bundle = BundleBuilder::new(
            "dtn://a/".parse().unwrap(),
            "dtn://b/x".parse().unwrap(),
            CreationTimestamp::new(DtnTime(1), 0),
            1000,
        )
        .extension(Priority::Emergency.block_body(), BlockFlags::empty())
        .payload(&b"evacuate"[..])
        .build()
        .unwrap();
        let back = Bundle::decode(Bytes::from(bundle.encode())).unwrap();
        assert_eq!(Priority::of(&back), Ok(Priority::Emergency));
    }

    #[test]
    fn a_bundle_without_the_block_is_normal() {
        let bundle = BundleBuilder::new(
            "dtn://a/".parse().unwrap(),
            "dtn://b/x".parse().unwrap(),
            CreationTimestamp::new(DtnTime(1), 0),
            1000,
        )
        .build()
        .unwrap();
        assert_eq!(Priority::of(&bundle), Ok(Priority::Normal));
    }

    #[test]
    fn names_parse_back_to_their_class() {
        for p in Priority::ALL {
            assert_eq!(p.name().parse::<Priority>(), Ok(p));
        }
        assert!("urgent".parse::<Priority>().is_err());
    }
}
