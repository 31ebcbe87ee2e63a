//! The primary block (RFC 9171 §4.3.1): who sent the bundle, to whom, when, for how long.

use super::cbor::{self, Reader, SliceWriter};
use super::crc::CrcType;
use super::eid::Eid;
use super::error::{DecodeError, DecodeErrorKind};
use super::flags::BundleFlags;
use super::time::{CreationTimestamp, DtnTime};

/// The only bundle protocol version tern speaks.
pub const BP_VERSION: u64 = 7;

/// Where a fragment's payload sits in the original application data unit (RFC 9171 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragmentInfo {
    /// Offset of this fragment's payload within the original ADU.
    pub offset: u64,
    /// Length of the whole original ADU.
    pub total_adu_length: u64,
}

/// The primary block. Its fields are plain data; a [`super::Bundle`] that holds one has checked
/// them against each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryBlock {
    /// Bundle processing control flags.
    pub flags: BundleFlags,
    /// CRC type of the primary block.
    pub crc: CrcType,
    /// Destination endpoint.
    pub destination: Eid,
    /// Source node (or `dtn:none` for anonymous bundles).
    pub source: Eid,
    /// Where status reports go.
    pub report_to: Eid,
    /// Creation timestamp.
    pub creation: CreationTimestamp,
    /// Lifetime in milliseconds after creation.
    pub lifetime_ms: u64,
    /// Present if and only if the bundle is a fragment.
    pub fragment: Option<FragmentInfo>,
}

impl PrimaryBlock {
    /// Checks the rules that tie primary-block fields together (RFC 9171 §4.2.3, §4.3.1).
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.flags.contains(BundleFlags::IS_FRAGMENT) != self.fragment.is_some() {
            return Err(
                "the is-fragment flag must be set exactly when fragment fields are present",
            );
        }
        if let Some(f) = self.fragment {
            if f.offset >= f.total_adu_length {
                return Err("fragment offset must be less than the total ADU length");
            }
            if self.flags.contains(BundleFlags::MUST_NOT_FRAGMENT) {
                return Err("a fragment cannot carry the must-not-fragment flag");
            }
        }
        if self.flags.contains(BundleFlags::ADMIN_RECORD)
            && self.flags.intersects(BundleFlags::ALL_REPORTS)
        {
            return Err(
                "an administrative record must not request status reports (RFC 9171 §4.2.3)",
            );
        }
        if self.source.is_null() {
            if !self.flags.contains(BundleFlags::MUST_NOT_FRAGMENT) {
                return Err("an anonymous bundle (source dtn:none) must set must-not-fragment");
            }
            if self.flags.intersects(BundleFlags::ALL_REPORTS) {
                return Err(
                    "an anonymous bundle (source dtn:none) must not request status reports",
                );
            }
        }
        Ok(())
    }

    /// Appends the encoding, CRC included.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        cbor::append_bounded(out, self.max_encoded_len(), |w| self.write(w));
    }

    /// An upper bound of the encoded size that counts every integer at its longest (9 bytes).
    #[inline(always)]
    pub(crate) fn max_encoded_len(&self) -> usize {
        // Array header, version, flags, CRC type; creation timestamp (array header and two
        // integers); lifetime; fragment offset and total length; the CRC item (at most 5 bytes).
        3 + cbor::MAX_HEADER_LEN
            + self.destination.max_encoded_len()
            + self.source.max_encoded_len()
            + self.report_to.max_encoded_len()
            + 1
            + 5 * cbor::MAX_HEADER_LEN
            + 5
    }

    /// Writes the encoding (RFC 9171 §4.3.1), CRC included.
    #[inline(always)]
    pub(crate) fn write(&self, w: &mut SliceWriter<'_>) {
        let start = w.position();
        let items = 8 + 2 * u8::from(self.fragment.is_some()) + u8::from(self.crc != CrcType::None);
        let flags = self.flags.bits();
        if flags < 24 {
            w.raw(&[
                0x80 | items,
                BP_VERSION as u8,
                flags as u8,
                self.crc.code() as u8,
            ]);
        } else {
            w.raw(&[0x80 | items, BP_VERSION as u8]);
            w.uint(flags);
            w.byte(self.crc.code() as u8);
        }
        self.destination.write(w);
        self.source.write(w);
        self.report_to.write(w);
        w.byte(0x82);
        w.uint(self.creation.time.0);
        w.uint(self.creation.sequence);
        w.uint(self.lifetime_ms);
        if let Some(f) = self.fragment {
            w.uint(f.offset);
            w.uint(f.total_adu_length);
        }
        super::block::finish_crc(w, start, self.crc);
    }

    /// Decodes and verifies one primary block. Inlined into its one caller, so that the block
    /// is built where the bundle holds it rather than moved there.
    #[inline]
    pub(crate) fn decode(r: &mut Reader<'_>, max_eid_len: usize) -> Result<Self, DecodeError> {
        let start = r.position();
        let at = r.offset();
        let items = r.array_of("primary block", 8..=11)?;
        let at_version = r.offset();
        let version = r.uint()?;
        if version != BP_VERSION {
            return Err(DecodeError::new(
                DecodeErrorKind::UnsupportedVersion(version),
                at_version,
            ));
        }
        let flags = BundleFlags::from_bits_retain(r.uint()?);
        let at_crc = r.offset();
        let crc = CrcType::from_code(r.uint()?).map_err(|k| DecodeError::new(k, at_crc))?;
        let is_fragment = flags.contains(BundleFlags::IS_FRAGMENT);
        let expected = 8 + if is_fragment { 2 } else { 0 } + u64::from(crc != CrcType::None);
        if items != expected {
            return Err(DecodeError::new(
                DecodeErrorKind::WrongArrayLength {
                    what: "primary block (given its fragment flag and CRC type)",
                    found: items,
                    min: expected,
                    max: expected,
                },
                at,
            ));
        }
        let destination = Eid::decode(r, max_eid_len)?;
        let source_start = r.position();
        let source = Eid::decode(r, max_eid_len)?;
        let source_bytes = r.raw(source_start, r.position());
        // Report-to is usually the source itself (tern's builder and most others default to
        // it): the very same encoded item is the very same, already checked, EID. A CBOR item
        // is self-delimiting, so a prefix match is an item match.
        let report_to = if r.rest().starts_with(source_bytes) {
            r.skip(source_bytes.len());
            source.clone()
        } else {
            Eid::decode(r, max_eid_len)?
        };
        r.array_of("creation timestamp", 2..=2)?;
        let creation = CreationTimestamp {
            time: DtnTime(r.uint()?),
            sequence: r.uint()?,
        };
        let lifetime_ms = r.uint()?;
        let fragment = if is_fragment {
            Some(FragmentInfo {
                offset: r.uint()?,
                total_adu_length: r.uint()?,
            })
        } else {
            None
        };
        super::block::verify_crc(r, start, crc)?;
        let primary = Self {
            flags,
            crc,
            destination,
            source,
            report_to,
            creation,
            lifetime_ms,
            fragment,
        };
        primary
            .check()
            .map_err(|m| DecodeError::new(DecodeErrorKind::Invalid(m), at))?;
        Ok(primary)
    }
}
