//! Block CRCs of RFC 9171 §4.2.1: CRC-16/X.25 and CRC-32C (Castagnoli).
//!
//! The CRC of a block covers the block's whole CBOR encoding with the CRC value's bytes set to
//! zero (RFC 9171 §4.3.1). It is carried as a 2- or 4-byte CBOR byte string, big-endian, and is
//! always the last item of the block's array, so a block's CRC is computed as
//! `crc(block bytes up to the CRC value) ++ zeros`.
//!
//! CRC-32C uses the `crc32c` crate because it switches to the SSE4.2 / ARMv8 CRC instructions at
//! run time, which turns payload CRCs from a per-byte cost into a near-memcpy one. CRC-16/X.25
//! is computed here, slice-by-16, checked against the `crc` crate in the tests.

use super::error::DecodeErrorKind;

/// The CRC type field of a block (RFC 9171 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum CrcType {
    /// No CRC. dtn7-rs sends every block this way; valid, but only as safe as the link.
    None,
    /// CRC-16/X.25 (the HDLC CRC), 2 bytes.
    #[default]
    Crc16,
    /// CRC-32C (Castagnoli), 4 bytes.
    Crc32c,
}

/// CRC-16/X.25 tables for slice-by-16: `X25_TABLES[k][b]` is the CRC contribution of byte `b`
/// followed by `k` zero bytes (reflected polynomial 0x8408). Sixteen bytes a step keeps the chain
/// of dependent table rounds short (one per 16 bytes), which is what bounds the speed on both
/// short blocks and long payloads.
static X25_TABLES: [[u16; 256]; 16] = {
    let mut t = [[0u16; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u16;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x8408
            } else {
                c >> 1
            };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 16 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// Feeds `data` into a running (non-finalised) CRC-16/X.25 register: sixteen bytes a step, then
/// the rest in steps of 8, 4, 2 and 1 bytes (each one table round with independent lookups).
#[inline]
fn x25_update(mut crc: u16, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        crc = x25_step(crc, c);
    }
    let mut rest = chunks.remainder();
    if let Some((c, r)) = rest.split_first_chunk::<8>() {
        crc = x25_step(crc, c);
        rest = r;
    }
    if let Some((c, r)) = rest.split_first_chunk::<4>() {
        crc = x25_step(crc, c);
        rest = r;
    }
    if let Some((c, r)) = rest.split_first_chunk::<2>() {
        crc = x25_step(crc, c);
        rest = r;
    }
    if let [b] = rest {
        crc = (crc >> 8) ^ X25_TABLES[0][usize::from(crc.to_le_bytes()[0] ^ b)];
    }
    crc
}

/// One slice-by-`c.len()` step (2 ≤ len ≤ 16): the register is folded into the first two bytes,
/// and every byte is looked up in the table of the zeros that follow it within the step.
///
/// Only the first two lookups depend on the register. The others are independent of it and are
/// combined before them, so that the chain from one step's register to the next is a couple of
/// lookups long rather than sixteen serial XORs: that chain is what bounds the speed.
#[inline(always)]
fn x25_step(crc: u16, c: &[u8]) -> u16 {
    let t = &X25_TABLES;
    let n = c.len();
    let mut rest = 0;
    for i in 2..n {
        rest ^= t[n - 1 - i][usize::from(c[i])];
    }
    let x = crc ^ u16::from_le_bytes([c[0], c[1]]);
    rest ^ t[n - 1][usize::from(x & 0xff)] ^ t[n - 2][usize::from(x >> 8)]
}

/// Feeds the two zero bytes that stand for a CRC-16 field (RFC 9171 §4.2.1) into the register.
#[inline]
fn x25_zero_field(crc: u16) -> u16 {
    X25_TABLES[1][usize::from(crc & 0xff)] ^ X25_TABLES[0][usize::from(crc >> 8)]
}

impl CrcType {
    /// The code carried in the block (RFC 9171 §4.2.1).
    pub fn code(self) -> u64 {
        match self {
            Self::None => 0,
            Self::Crc16 => 1,
            Self::Crc32c => 2,
        }
    }

    /// Parses the CRC type code.
    pub fn from_code(code: u64) -> Result<Self, DecodeErrorKind> {
        match code {
            0 => Ok(Self::None),
            1 => Ok(Self::Crc16),
            2 => Ok(Self::Crc32c),
            other => Err(DecodeErrorKind::UnknownCrcType(other)),
        }
    }

    /// Length of the CRC value in bytes.
    pub fn value_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::Crc16 => 2,
            Self::Crc32c => 4,
        }
    }

    /// Human name used in errors and `tern bundle inspect`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Crc16 => "CRC-16/X.25",
            Self::Crc32c => "CRC-32C",
        }
    }

    /// CRC over `prefix` followed by `value_len()` zero bytes (the CRC field itself).
    pub(crate) fn compute(self, prefix: &[u8]) -> u32 {
        match self {
            Self::None => 0,
            Self::Crc16 => u32::from(crc16_with_zero_field(prefix)),
            Self::Crc32c => crc32c::crc32c_append(crc32c::crc32c(prefix), &[0, 0, 0, 0]),
        }
    }

    /// Reads a carried CRC value of this type.
    pub(crate) fn read_value(self, bytes: &[u8]) -> Result<u32, DecodeErrorKind> {
        if bytes.len() != self.value_len() {
            return Err(DecodeErrorKind::CrcLength {
                crc: self.name(),
                found: bytes.len(),
                expected: self.value_len(),
            });
        }
        Ok(match self {
            Self::None => 0,
            Self::Crc16 => u32::from(u16::from_be_bytes([bytes[0], bytes[1]])),
            Self::Crc32c => u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        })
    }
}

/// CRC-16/X.25 over `prefix` followed by the two zero bytes of the CRC field.
#[inline]
pub(crate) fn crc16_with_zero_field(prefix: &[u8]) -> u16 {
    !x25_zero_field(x25_update(0xffff, prefix))
}

/// Plain CRC-16/X.25 of `data` (for tests and tools).
pub fn crc16_x25(data: &[u8]) -> u16 {
    !x25_update(0xffff, data)
}

/// Plain CRC-32C of `data` (for tests and tools).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_match_the_catalogue() {
        assert_eq!(crc16_x25(b"123456789"), 0x906e);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn crc16_agrees_with_the_crc_crate_at_every_length() {
        let reference = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);
        let data: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..data.len() {
            assert_eq!(
                crc16_x25(&data[..len]),
                reference.checksum(&data[..len]),
                "len {len}"
            );
        }
    }

    #[test]
    fn compute_treats_the_crc_field_as_zeros() {
        let mut block = b"abc".to_vec();
        block.extend_from_slice(&[0, 0]);
        assert_eq!(CrcType::Crc16.compute(b"abc"), u32::from(crc16_x25(&block)));
        block.extend_from_slice(&[0, 0]);
        assert_eq!(CrcType::Crc32c.compute(b"abc"), crc32c(&block));
    }

    #[test]
    fn crc16_with_zeroed_field_agrees_with_the_crc_crate_at_every_length() {
        let reference = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);
        let data: Vec<u8> = (0..300u32).map(|i| (i * 53 + 7) as u8).collect();
        for len in 0..data.len() {
            let mut block = data[..len].to_vec();
            block.extend_from_slice(&[0, 0]);
            assert_eq!(
                CrcType::Crc16.compute(&data[..len]),
                u32::from(reference.checksum(&block)),
                "len {len}"
            );
        }
    }

    #[test]
    fn wrong_length_crc_value_is_refused() {
        let err = CrcType::Crc32c.read_value(&[1, 2]).unwrap_err();
        assert!(matches!(
            err,
            DecodeErrorKind::CrcLength { expected: 4, .. }
        ));
    }
}
