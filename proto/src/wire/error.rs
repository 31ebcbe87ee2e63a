//! Typed decode and build errors that say which rule was broken and where.
//!
//! Every decode error carries the absolute byte offset of the offending item and, once the decoder
//! has entered a block, which block it was (its position, number and type when known). The
//! `Display` form is one line meant for operators: `block #2 (type 7, bundle age) at byte 45:
//! CRC-32C mismatch: block carries 0x7f83e5ec, computed 0x00000000`.

use std::fmt;

/// Which part of the bundle an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Outside any block: the bundle's framing.
    Bundle,
    /// The primary block (block number 0).
    Primary,
    /// A canonical block: its position in the bundle (1-based after the primary block), and its
    /// number and type once they were read.
    Block {
        /// Position among canonical blocks, starting at 1.
        index: usize,
        /// The block number, if it was decoded before the error.
        number: Option<u64>,
        /// The block type code, if it was decoded before the error.
        block_type: Option<u64>,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bundle => Ok(()),
            Self::Primary => f.write_str("primary block "),
            Self::Block {
                index,
                number,
                block_type,
            } => {
                match number {
                    Some(n) => write!(f, "block #{n}")?,
                    None => write!(f, "canonical block {index}")?,
                }
                if let Some(t) = block_type {
                    write!(f, " (type {t}")?;
                    if let Some(name) = super::block::BlockType(*t).name() {
                        write!(f, ", {name}")?;
                    }
                    f.write_str(")")?;
                }
                f.write_str(" ")
            }
        }
    }
}

/// A bundle (or part of one) could not be decoded.
///
/// Boxed, so that every `Result` the decoder passes around stays two words wide: errors are
/// rare, successful decodes are the hot path. Read its parts through `Deref`: `err.kind`,
/// `err.offset`, `err.location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(Box<DecodeErrorDetail>);

/// What a [`DecodeError`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeErrorDetail {
    /// What rule was broken.
    pub kind: DecodeErrorKind,
    /// Absolute byte offset in the input of the item that broke it.
    pub offset: usize,
    /// Which block it was in.
    pub location: Location,
}

impl std::ops::Deref for DecodeError {
    type Target = DecodeErrorDetail;

    fn deref(&self) -> &DecodeErrorDetail {
        &self.0
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}at byte {}: {}", self.location, self.offset, self.kind)
    }
}

// No `source()`: the Display line already carries the kind, and a chain would repeat it.
impl std::error::Error for DecodeError {}

impl DecodeError {
    #[cold]
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self(Box::new(DecodeErrorDetail {
            kind,
            offset,
            location: Location::Bundle,
        }))
    }

    pub(crate) fn in_location(mut self, location: Location) -> Self {
        if self.0.location == Location::Bundle {
            self.0.location = location;
        }
        self
    }
}

/// The rule a decoder found broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended in the middle of an item.
    #[error("input ends in the middle of an item")]
    Truncated,
    /// Bytes follow the end of the bundle.
    #[error("{0} unexpected bytes after the end of the item")]
    TrailingBytes(usize),
    /// An item of another CBOR type was found.
    #[error("expected {expected}, found {found}")]
    UnexpectedType {
        /// What the rule wanted.
        expected: &'static str,
        /// What the input held.
        found: &'static str,
    },
    /// RFC 9171 §4.1 requires deterministic CBOR: integers and lengths in the shortest form.
    #[error("integer or length not in shortest form (RFC 9171 §4.1 requires deterministic CBOR)")]
    NotShortestForm,
    /// CBOR additional information 28–30 is reserved (RFC 8949 §3).
    #[error("reserved CBOR additional information {0}")]
    ReservedAdditionalInfo(u8),
    /// Only the bundle itself is an indefinite-length array (RFC 9171 §4.1).
    #[error("indefinite length is not allowed here (only the bundle array may be indefinite)")]
    IndefiniteNotAllowed,
    /// The bundle must be an indefinite-length array (RFC 9171 §4.1).
    #[error("a bundle must be an indefinite-length CBOR array")]
    BundleNotIndefinite,
    /// A length field announces more bytes than the input holds.
    #[error("length {announced} exceeds the {available} bytes left in the input")]
    LengthBeyondInput {
        /// The announced length.
        announced: u64,
        /// What was left.
        available: u64,
    },
    /// A string is longer than the configured limit.
    #[error("string of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text string is not valid UTF-8.
    #[error("text string is not valid UTF-8")]
    InvalidUtf8,
    /// An array has the wrong number of items.
    #[error("{what} has {found} items, expected {min}..={max}")]
    WrongArrayLength {
        /// What the array is.
        what: &'static str,
        /// How many it had.
        found: u64,
        /// Least allowed.
        min: u64,
        /// Most allowed.
        max: u64,
    },
    /// The bundle exceeds the configured size limit.
    #[error("bundle of {size} bytes exceeds the limit of {max}")]
    BundleTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bundle has more blocks than the configured limit.
    #[error("bundle has more than {max} blocks")]
    TooManyBlocks {
        /// The limit.
        max: usize,
    },
    /// Only BPv7 is spoken (RFC 9171 §4.3.1).
    #[error("bundle protocol version {0} is not supported (only 7)")]
    UnsupportedVersion(u64),
    /// CRC type other than 0, 1 or 2 (RFC 9171 §4.2.1).
    #[error("unknown CRC type {0}")]
    UnknownCrcType(u64),
    /// The CRC value's length does not fit its type.
    #[error("CRC value is {found} bytes, {crc} needs {expected}")]
    CrcLength {
        /// The CRC type's name.
        crc: &'static str,
        /// Bytes found.
        found: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// The block's CRC does not match its content.
    #[error("{crc} mismatch: block carries {carried:#x}, computed {computed:#x}")]
    CrcMismatch {
        /// The CRC type's name.
        crc: &'static str,
        /// Value in the block.
        carried: u32,
        /// Value computed over the block.
        computed: u32,
    },
    /// An endpoint ID could not be decoded.
    #[error("invalid endpoint ID: {0}")]
    Eid(#[from] super::eid::EidError),
    /// A block breaks a structural rule of RFC 9171.
    #[error("{0}")]
    Invalid(&'static str),
    /// Two blocks share a block number (RFC 9171 §4.3.2).
    #[error("block number {0} is used twice")]
    DuplicateBlockNumber(u64),
    /// An extension block type that may occur once occurs twice (RFC 9171 §4.4).
    #[error("block type {0} may occur only once")]
    DuplicateBlockType(u64),
    /// A block was marked "discard bundle if block can't be processed" and we can't.
    #[error("unprocessable block type {0} asks to discard the bundle")]
    DiscardRequested(u64),
    /// An administrative record type we do not know.
    #[error("unknown administrative record type {0}")]
    UnknownAdminRecord(u64),
}

/// A bundle could not be built from the given parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A rule of RFC 9171 would be broken.
    #[error("{0}")]
    Invalid(&'static str),
    /// Two blocks share a number.
    #[error("block number {0} is used twice")]
    DuplicateBlockNumber(u64),
    /// An extension block that may occur once was added twice.
    #[error("block type {0} may occur only once")]
    DuplicateBlockType(u64),
}
