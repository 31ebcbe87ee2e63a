//! The small subset of CBOR (RFC 8949) that BPv7 uses, read and written by hand.
//!
//! Why not a general CBOR crate: bundle decoding must report *where* a rule was broken (byte
//! offsets), hand out zero-copy `Bytes` slices of the input for payloads, refuse any length field
//! that points past the end of the input before allocating, and insist on the deterministic
//! (shortest-form) encoding that RFC 9171 §4.1 requires so that re-encoding reproduces the
//! received bytes and their CRCs. That is a few hundred lines we can audit completely.
//!
//! Reading never panics: every access is bounds-checked and every error carries the offset of the
//! item that broke the rule.

use bytes::Bytes;

use super::error::{DecodeError, DecodeErrorKind};

/// CBOR major types used by BPv7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Major {
    Unsigned,
    Negative,
    ByteString,
    TextString,
    Array,
    Map,
    Tag,
    Simple,
}

impl Major {
    fn from_bits(bits: u8) -> Self {
        match bits {
            0 => Self::Unsigned,
            1 => Self::Negative,
            2 => Self::ByteString,
            3 => Self::TextString,
            4 => Self::Array,
            5 => Self::Map,
            6 => Self::Tag,
            _ => Self::Simple,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Unsigned => 0,
            Self::Negative => 1,
            Self::ByteString => 2,
            Self::TextString => 3,
            Self::Array => 4,
            Self::Map => 5,
            Self::Tag => 6,
            Self::Simple => 7,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned integer",
            Self::Negative => "negative integer",
            Self::ByteString => "byte string",
            Self::TextString => "text string",
            Self::Array => "array",
            Self::Map => "map",
            Self::Tag => "tag",
            Self::Simple => "simple value or float",
        }
    }
}

/// The length announced by an array header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArrayLen {
    Definite(u64),
    Indefinite,
}

/// A cursor over untrusted input that hands out zero-copy slices of the underlying `Bytes`.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    /// The input, for zero-copy slices.
    src: &'a Bytes,
    /// The part of `src` this reader may read: all of it, or a window (see [`Self::window`]).
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` within the outermost input, so nested readers report absolute offsets.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Self {
            src: buf,
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over the next `len` bytes only (which the caller knows are there), in place: it
    /// reports the same absolute offsets and copies nothing. Embedded CBOR such as a hop-count
    /// block's data is decoded through one, so it cannot read past its byte string.
    #[inline(always)]
    pub(crate) fn window(&self, len: usize) -> Self {
        let end = (self.pos + len).min(self.buf.len());
        Self {
            src: self.src,
            buf: &self.buf[..end],
            pos: self.pos,
            base: self.base,
        }
    }

    /// Moves past `len` bytes (which the caller knows are there, e.g. read by a window).
    #[inline(always)]
    pub(crate) fn skip(&mut self, len: usize) {
        self.pos = (self.pos + len).min(self.buf.len());
    }

    /// Absolute offset of the next byte to read.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn raw(&self, start: usize, end: usize) -> &'a [u8] {
        &self.buf[start..end]
    }

    pub(crate) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.offset())
    }

    fn error_at(&self, kind: DecodeErrorKind, pos: usize) -> DecodeError {
        DecodeError::new(kind, self.base + pos)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Err(self.error(DecodeErrorKind::Truncated));
        };
        self.pos += 1;
        Ok(b)
    }

    /// The unread input.
    #[inline(always)]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Reads an item header: major type and argument. Indefinite lengths come back as `None`.
    fn header(&mut self) -> Result<(Major, Option<u64>, usize), DecodeError> {
        let start = self.pos;
        let initial = self.byte()?;
        let major = Major::from_bits(initial >> 5);
        let info = initial & 0x1f;
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24 => {
                let v = u64::from(self.byte()?);
                if v < 24 {
                    return Err(self.error_at(DecodeErrorKind::NotShortestForm, start));
                }
                Some(v)
            }
            25 => {
                let v = u64::from(u16::from_be_bytes(self.array::<2>()?));
                if v <= 0xff {
                    return Err(self.error_at(DecodeErrorKind::NotShortestForm, start));
                }
                Some(v)
            }
            26 => {
                let v = u64::from(u32::from_be_bytes(self.array::<4>()?));
                if v <= 0xffff {
                    return Err(self.error_at(DecodeErrorKind::NotShortestForm, start));
                }
                Some(v)
            }
            27 => {
                let v = u64::from_be_bytes(self.array::<8>()?);
                if v <= 0xffff_ffff {
                    return Err(self.error_at(DecodeErrorKind::NotShortestForm, start));
                }
                Some(v)
            }
            31 => None,
            _ => return Err(self.error_at(DecodeErrorKind::ReservedAdditionalInfo(info), start)),
        };
        Ok((major, arg, start))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos.checked_add(N).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(self.error(DecodeErrorKind::Truncated));
        };
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    fn expect(&mut self, want: Major) -> Result<(Option<u64>, usize), DecodeError> {
        let (major, arg, start) = self.header()?;
        if major != want {
            return Err(self.error_at(
                DecodeErrorKind::UnexpectedType {
                    expected: want.name(),
                    found: major.name(),
                },
                start,
            ));
        }
        Ok((arg, start))
    }

    /// An unsigned integer. Most BPv7 integers fit the initial byte, so that case is inlined
    /// and skips the general header decoding.
    #[inline(always)]
    pub(crate) fn uint(&mut self) -> Result<u64, DecodeError> {
        if let Some(&b) = self.buf.get(self.pos)
            && b < 24
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.uint_general()
    }

    /// Integers with 1, 2, 4 or 8 argument bytes; anything unusual goes to `uint_slow`.
    fn uint_general(&mut self) -> Result<u64, DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let (v, len) = match *rest {
            [0x18, a, ..] if a >= 24 => (u64::from(a), 2),
            [0x19, a, b, ..] if a != 0 => (u64::from(u16::from_be_bytes([a, b])), 3),
            [0x1a, a, b, c, d, ..] if a != 0 || b != 0 => {
                (u64::from(u32::from_be_bytes([a, b, c, d])), 5)
            }
            [0x1b, a, b, c, d, e, f, g, h, ..] if a != 0 || b != 0 || c != 0 || d != 0 => {
                (u64::from_be_bytes([a, b, c, d, e, f, g, h]), 9)
            }
            _ => return self.uint_slow(),
        };
        self.pos += len;
        Ok(v)
    }

    #[cold]
    fn uint_slow(&mut self) -> Result<u64, DecodeError> {
        let (arg, start) = self.expect(Major::Unsigned)?;
        arg.ok_or_else(|| self.error_at(DecodeErrorKind::IndefiniteNotAllowed, start))
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        let (arg, start) = self.expect(Major::Simple)?;
        match arg {
            Some(20) => Ok(false),
            Some(21) => Ok(true),
            _ => Err(self.error_at(
                DecodeErrorKind::UnexpectedType {
                    expected: "boolean",
                    found: "other simple value",
                },
                start,
            )),
        }
    }

    #[inline(always)]
    fn length(&mut self, want: Major) -> Result<(usize, usize), DecodeError> {
        // Fast path: a short string whose length sits in the initial byte.
        if let Some(&b) = self.buf.get(self.pos) {
            let len = usize::from(b & 0x1f);
            if Major::from_bits(b >> 5) == want && len < 24 && len < self.remaining() {
                let start = self.pos;
                self.pos += 1;
                return Ok((len, start));
            }
        }
        self.length_general(want)
    }

    /// Lengths with 1, 2 or 4 argument bytes that the input holds; anything else (including
    /// every error) goes to `length_slow`.
    fn length_general(&mut self, want: Major) -> Result<(usize, usize), DecodeError> {
        let start = self.pos;
        let mt = want.bits() << 5;
        let rest = self.buf.get(start..).unwrap_or_default();
        let (len, header) = match *rest {
            [b, a, ..] if b == mt | 24 && a >= 24 => (usize::from(a), 2),
            [b, a, c, ..] if b == mt | 25 && a != 0 => (usize::from(u16::from_be_bytes([a, c])), 3),
            [b, a, c, d, e, ..] if b == mt | 26 && (a != 0 || c != 0) => {
                match usize::try_from(u32::from_be_bytes([a, c, d, e])) {
                    Ok(len) => (len, 5),
                    Err(_) => return self.length_slow(want),
                }
            }
            _ => return self.length_slow(want),
        };
        if len > rest.len() - header {
            return self.length_slow(want);
        }
        self.pos += header;
        Ok((len, start))
    }

    #[cold]
    fn length_slow(&mut self, want: Major) -> Result<(usize, usize), DecodeError> {
        let (arg, start) = self.expect(want)?;
        let Some(len) = arg else {
            return Err(self.error_at(DecodeErrorKind::IndefiniteNotAllowed, start));
        };
        // A length is only believed once the input is known to hold that many bytes: no
        // allocation, and no arithmetic overflow, is ever driven by an untrusted length field.
        match usize::try_from(len) {
            Ok(len) if len <= self.remaining() => Ok((len, start)),
            _ => Err(self.error_at(
                DecodeErrorKind::LengthBeyondInput {
                    announced: len,
                    available: self.remaining() as u64,
                },
                start,
            )),
        }
    }

    /// The next `len` bytes (which the caller knows are there) as a zero-copy slice.
    #[inline(always)]
    pub(crate) fn take(&mut self, len: usize) -> Bytes {
        let start = self.pos;
        self.skip(len);
        self.src.slice(start..self.pos)
    }

    /// The header of a byte string: its length, checked against the input. The cursor is left
    /// at the content.
    #[inline(always)]
    pub(crate) fn byte_string_len(&mut self) -> Result<usize, DecodeError> {
        Ok(self.length(Major::ByteString)?.0)
    }

    /// A byte string as a borrowed slice plus its absolute start offset.
    pub(crate) fn bytes_ref(&mut self) -> Result<(&'a [u8], usize), DecodeError> {
        let (len, _) = self.length(Major::ByteString)?;
        let start = self.pos;
        self.pos += len;
        Ok((&self.buf[start..start + len], self.base + start))
    }

    /// A text string, checked to be UTF-8 and no longer than `max`.
    pub(crate) fn text(&mut self, max: usize) -> Result<&'a str, DecodeError> {
        let (len, start) = self.length(Major::TextString)?;
        if len > max {
            return Err(self.error_at(DecodeErrorKind::TooLong { len, max }, start));
        }
        let raw = &self.buf[self.pos..self.pos + len];
        let s = std::str::from_utf8(raw).map_err(|_| self.error(DecodeErrorKind::InvalidUtf8))?;
        self.pos += len;
        Ok(s)
    }

    /// An array header. The caller bounds how many items it will read.
    pub(crate) fn array_header(&mut self) -> Result<ArrayLen, DecodeError> {
        let (arg, _) = self.expect(Major::Array)?;
        Ok(arg.map_or(ArrayLen::Indefinite, ArrayLen::Definite))
    }

    /// A definite-length array header whose length must lie in `range`.
    #[inline(always)]
    pub(crate) fn array_of(
        &mut self,
        what: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, DecodeError> {
        // Fast path: a definite array of fewer than 24 items, as every BPv7 array is.
        if let Some(&b) = self.buf.get(self.pos) {
            let n = u64::from(b & 0x1f);
            if b >> 5 == 4 && n < 24 && range.contains(&n) {
                self.pos += 1;
                return Ok(n);
            }
        }
        self.array_of_slow(what, range)
    }

    #[cold]
    fn array_of_slow(
        &mut self,
        what: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, DecodeError> {
        let start = self.pos;
        match self.array_header()? {
            ArrayLen::Definite(n) if range.contains(&n) => Ok(n),
            ArrayLen::Definite(n) => Err(self.error_at(
                DecodeErrorKind::WrongArrayLength {
                    what,
                    found: n,
                    min: *range.start(),
                    max: *range.end(),
                },
                start,
            )),
            ArrayLen::Indefinite => {
                Err(self.error_at(DecodeErrorKind::IndefiniteNotAllowed, start))
            }
        }
    }

    /// True (and consumed) if the next byte is the "break" that ends an indefinite array.
    pub(crate) fn at_break(&mut self) -> bool {
        if self.peek() == Some(0xff) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
}

/// Appends CBOR items to a `Vec<u8>` in deterministic (shortest) form. Inlined with one
/// `extend_from_slice` per item: encoding is a sequence of these, and the per-call cost showed.
#[inline]
pub(crate) fn write_header(out: &mut Vec<u8>, major: u8, arg: u64) {
    let mt = major << 5;
    if arg < 24 {
        out.push(mt | arg as u8);
        return;
    }
    let mut buf = [0u8; 9];
    let len = if arg <= 0xff {
        buf[0] = mt | 24;
        buf[1] = arg as u8;
        2
    } else if arg <= 0xffff {
        buf[0] = mt | 25;
        buf[1..3].copy_from_slice(&(arg as u16).to_be_bytes());
        3
    } else if arg <= 0xffff_ffff {
        buf[0] = mt | 26;
        buf[1..5].copy_from_slice(&(arg as u32).to_be_bytes());
        5
    } else {
        buf[0] = mt | 27;
        buf[1..9].copy_from_slice(&arg.to_be_bytes());
        9
    };
    out.extend_from_slice(&buf[..len]);
}

#[inline]
pub(crate) fn write_uint(out: &mut Vec<u8>, v: u64) {
    write_header(out, 0, v);
}

#[inline]
pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_header(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

#[inline]
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    write_header(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

#[inline]
pub(crate) fn write_array(out: &mut Vec<u8>, len: u64) {
    write_header(out, 4, len);
}

pub(crate) fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xf5 } else { 0xf4 });
}

/// Most bytes one item header can take: the initial byte and an 8-byte argument.
pub(crate) const MAX_HEADER_LEN: usize = 9;

/// Writes CBOR items into a buffer sized in advance to an upper bound of the encoded length.
///
/// Bundle encoding first bounds its size (counting every integer at its longest, 9 bytes),
/// allocates once, and then fills the buffer through this cursor: no capacity check or length
/// update per item, and the cursor lives in registers once the encoders are inlined. Because the
/// bound counts 9 bytes for every integer, an integer header is always written as a fixed
/// 9-byte store (the bytes past its real length are overwritten by the next item or cut off at
/// the end), with no branch on its size. Writing past the end panics, which would be a bug in a
/// `max_encoded_len` (the tests encode every shape of bundle they build).
#[derive(Debug)]
pub(crate) struct SliceWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    #[inline(always)]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes written from `start` up to the cursor.
    #[inline(always)]
    pub(crate) fn written_since(&self, start: usize) -> &[u8] {
        &self.buf[start..self.pos]
    }

    #[inline(always)]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    #[inline(always)]
    pub(crate) fn raw(&mut self, b: &[u8]) {
        let len = b.len();
        let dst = &mut self.buf[self.pos..self.pos + len];
        // Names are mostly 8 to 32 bytes: two overlapping fixed-size copies instead of a call
        // to `memcpy`, whose call overhead was most of the cost at these sizes.
        if (8..=16).contains(&len) {
            dst[..8].copy_from_slice(&b[..8]);
            dst[len - 8..].copy_from_slice(&b[len - 8..]);
        } else if (16..=32).contains(&len) {
            dst[..16].copy_from_slice(&b[..16]);
            dst[len - 16..].copy_from_slice(&b[len - 16..]);
        } else {
            dst.copy_from_slice(b);
        }
        self.pos += len;
    }

    /// An item header in shortest form (RFC 8949 §4.2.1). Needs [`MAX_HEADER_LEN`] bytes of room
    /// whatever its real length.
    #[inline(always)]
    pub(crate) fn header(&mut self, major: u8, arg: u64) {
        let mt = major << 5;
        if arg < 24 {
            self.byte(mt | arg as u8);
            return;
        }
        // Additional info 24..=27 and its 1, 2, 4 or 8 argument bytes, by the count of
        // significant bytes in `arg`.
        const BY_BYTES: [(u8, u32); 9] = [
            (24, 1),
            (24, 1),
            (25, 2),
            (26, 4),
            (26, 4),
            (27, 8),
            (27, 8),
            (27, 8),
            (27, 8),
        ];
        let (info, n) = BY_BYTES[(8 - arg.leading_zeros() / 8) as usize];
        // The argument's low `n` bytes, big-endian, moved to the front of 8 bytes.
        let arg_be = (arg << (64 - 8 * n)).to_be_bytes();
        let out = &mut self.buf[self.pos..self.pos + MAX_HEADER_LEN];
        out[0] = mt | info;
        out[1..].copy_from_slice(&arg_be);
        self.pos += 1 + n as usize;
    }

    #[inline(always)]
    pub(crate) fn uint(&mut self, v: u64) {
        self.header(0, v);
    }

    #[inline(always)]
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.header(2, b.len() as u64);
        self.raw(b);
    }

    #[inline(always)]
    pub(crate) fn text(&mut self, s: &str) {
        self.header(3, s.len() as u64);
        self.raw(s.as_bytes());
    }
}

/// Appends an encoding of at most `max_len` bytes to `out`, written by `fill` through a
/// [`SliceWriter`]: one reservation, then `out` is cut to what was written.
#[inline(always)]
pub(crate) fn append_bounded(
    out: &mut Vec<u8>,
    max_len: usize,
    fill: impl FnOnce(&mut SliceWriter<'_>),
) {
    let start = out.len();
    out.resize(start + max_len, 0);
    let mut w = SliceWriter::new(&mut out[start..]);
    fill(&mut w);
    let written = w.position();
    out.truncate(start + written);
}

/// Bytes the header of an item with argument `arg` occupies.
#[inline(always)]
pub(crate) fn header_len(arg: u64) -> usize {
    // Indexed by the count of significant bytes in `arg`: 1 + the smallest of 1, 2, 4, 8 bytes
    // that holds them.
    const BY_BYTES: [u8; 9] = [1, 2, 3, 5, 5, 9, 9, 9, 9];
    if arg < 24 {
        1
    } else {
        usize::from(BY_BYTES[(8 - arg.leading_zeros() / 8) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_over(hex_str: &str) -> Bytes {
        Bytes::from(hex::decode(hex_str).unwrap())
    }

    #[test]
    fn integers_round_trip_in_shortest_form() {
        for v in [
            0u64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_uint(&mut out, v);
            assert_eq!(out.len(), header_len(v));
            let b = Bytes::from(out);
            let mut r = Reader::new(&b);
            assert_eq!(r.uint().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn slice_writer_headers_match_the_vec_writer_at_every_size_boundary() {
        for v in [
            0u64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            for major in [0u8, 2, 3, 4] {
                let mut expected = Vec::new();
                write_header(&mut expected, major, v);
                let mut out = vec![0xaa; 3];
                append_bounded(&mut out, MAX_HEADER_LEN, |w| w.header(major, v));
                assert_eq!(&out[..3], &[0xaa; 3], "bytes before the writer are kept");
                assert_eq!(&out[3..], &expected[..], "major {major}, value {v}");
                assert_eq!(expected.len(), header_len(v));
            }
        }
    }

    #[test]
    fn slice_writer_copies_byte_strings_of_every_short_length_exactly() {
        let data: Vec<u8> = (0..40u8).collect();
        for len in 0..data.len() {
            let mut expected = Vec::new();
            write_bytes(&mut expected, &data[..len]);
            let mut out = Vec::new();
            append_bounded(&mut out, MAX_HEADER_LEN + len, |w| w.bytes(&data[..len]));
            assert_eq!(out, expected, "len {len}");
        }
    }

    #[test]
    fn window_reader_stops_at_its_end_and_reports_absolute_offsets() {
        let b = reader_over("0102031819");
        let mut r = Reader::new(&b);
        r.skip(1);
        let mut w = r.window(2);
        assert_eq!(w.uint().unwrap(), 2);
        assert_eq!(w.uint().unwrap(), 3);
        let err = w.uint().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::Truncated);
        assert_eq!(err.offset, 3);
    }

    #[test]
    fn non_shortest_integer_is_rejected_with_its_offset() {
        let b = reader_over("820018ff"); // [0, 255] fine, then check 0x1817 (23 in 2 bytes)
        let mut r = Reader::new(&b);
        r.array_of("test", 2..=2).unwrap();
        r.uint().unwrap();
        r.uint().unwrap();
        let b = reader_over("1817");
        let err = Reader::new(&b).uint().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::NotShortestForm);
        assert_eq!(err.offset, 0);
    }

    #[test]
    fn byte_string_longer_than_input_is_refused_before_allocating() {
        let b = reader_over("5bffffffffffffffff00");
        let err = Reader::new(&b).bytes_ref().unwrap_err();
        assert!(matches!(
            err.kind,
            DecodeErrorKind::LengthBeyondInput { .. }
        ));
    }

    #[test]
    fn text_string_must_be_utf8() {
        let b = reader_over("62c328");
        let err = Reader::new(&b).text(10).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::InvalidUtf8);
    }

    #[test]
    fn type_mismatch_names_both_types() {
        let b = reader_over("6161");
        let err = Reader::new(&b).uint().unwrap_err();
        assert_eq!(
            err.to_string(),
            "at byte 0: expected unsigned integer, found text string"
        );
    }
}
