//! Reading a bundle that a person hands to `tern`: raw CBOR or hex text, from a file or stdin.
//!
//! Operators paste bundles from logs, packet captures and RFC appendices as hex, and pipe raw files
//! between commands, so `tern bundle inspect` takes both without a flag. The two cannot be
//! confused: a bundle is an indefinite-length CBOR array, so its first byte is 0x9f (RFC 9171
//! §4.1), which is not an ASCII character and so never starts hex text.

use std::io::{self, Read};

/// Most bytes read from one input. Four times the decoder's default bundle limit (64 MiB) leaves
/// room for hex text (two digits per byte) with whitespace, and stops a runaway pipe before it
/// exhausts memory.
pub const MAX_INPUT_LEN: u64 = 4 * 64 * 1024 * 1024;

/// The first byte of every encoded bundle: an indefinite-length array (RFC 9171 §4.1).
const BUNDLE_START: u8 = 0x9f;

/// The way the input was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Raw CBOR: the bundle's bytes as they travel.
    Raw,
    /// Hex digits (either case), whitespace anywhere.
    Hex,
}

/// Why an input is not a bundle's bytes. Decoding the bundle itself is the codec's job; these are
/// the errors before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Nothing (or only whitespace) was given.
    #[error("empty input: expected a bundle as raw CBOR or hex text")]
    Empty,
    /// Hex text holds something other than hex digits and whitespace.
    #[error(
        "invalid hex: {shown} at line {line}, column {column} (byte {offset}) is not a hex digit \
         (input is neither raw CBOR, which starts with byte 0x9f, nor hex text)"
    )]
    NotHex {
        /// The offending character, quoted, or its byte value if it is not printable.
        shown: String,
        /// 1-based line of the character.
        line: usize,
        /// 1-based column (in bytes) of the character.
        column: usize,
        /// 0-based byte offset of the character in the input.
        offset: usize,
    },
    /// Hex text with an odd number of digits: its last byte is half there.
    #[error("invalid hex: odd number of hex digits ({digits}), the last byte is incomplete")]
    OddDigits {
        /// How many digits there were.
        digits: usize,
    },
    /// The input is larger than [`MAX_INPUT_LEN`].
    #[error("input is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: u64,
    },
}

/// Tells raw CBOR from hex text by the first byte (see the module docs for why that suffices).
pub fn detect_format(input: &[u8]) -> InputFormat {
    if input.first() == Some(&BUNDLE_START) {
        InputFormat::Raw
    } else {
        InputFormat::Hex
    }
}

/// The bundle's bytes from an input in either format.
pub fn bundle_bytes(input: Vec<u8>) -> Result<Vec<u8>, InputError> {
    match detect_format(&input) {
        InputFormat::Raw => Ok(input),
        InputFormat::Hex => decode_hex_text(&input),
    }
}

/// Decodes hex text: digits of either case, ASCII whitespace anywhere (line breaks from a hex
/// dump, spaces between bytes). Errors name the first offending character and where it is.
pub fn decode_hex_text(text: &[u8]) -> Result<Vec<u8>, InputError> {
    // The output is bounded by the input, which is already in memory: no length field involved.
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0usize;
    let (mut line, mut line_start) = (1usize, 0usize);
    for (offset, &byte) in text.iter().enumerate() {
        if byte == b'\n' {
            line += 1;
            line_start = offset + 1;
            continue;
        }
        if byte.is_ascii_whitespace() {
            continue;
        }
        let Some(value) = hex_value(byte) else {
            return Err(InputError::NotHex {
                shown: show_byte(&text[offset..]),
                line,
                column: offset - line_start + 1,
                offset,
            });
        };
        digits += 1;
        match high.take() {
            None => high = Some(value),
            Some(h) => out.push(h << 4 | value),
        }
    }
    if high.is_some() {
        return Err(InputError::OddDigits { digits });
    }
    if out.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(out)
}

/// Reads a whole input, refusing one longer than [`MAX_INPUT_LEN`] without reading it all.
pub fn read_limited(reader: &mut dyn Read) -> io::Result<Result<Vec<u8>, InputError>> {
    let mut buf = Vec::new();
    reader.take(MAX_INPUT_LEN + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_INPUT_LEN {
        return Ok(Err(InputError::TooLarge { max: MAX_INPUT_LEN }));
    }
    Ok(Ok(buf))
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// `'z'` for a printable character (UTF-8 included), `byte 0xc3` otherwise.
fn show_byte(rest: &[u8]) -> String {
    // A UTF-8 character is at most 4 bytes; the slice may end inside a later one.
    let head = &rest[..rest.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s.len(),
        Err(e) => e.valid_up_to(),
    };
    let first = std::str::from_utf8(&head[..valid])
        .ok()
        .and_then(|s| s.chars().next());
    match first {
        Some(ch) if !ch.is_control() => format!("{ch:?}"),
        _ => format!("byte {:#04x}", head.first().copied().unwrap_or_default()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn bundle_start_byte_means_raw_cbor() {
        assert_eq!(detect_format(&[0x9f, 0x89, 0x07]), InputFormat::Raw);
        assert_eq!(detect_format(b"9f8907"), InputFormat::Hex);
        assert_eq!(detect_format(b""), InputFormat::Hex);
    }

    #[test]
    fn raw_input_is_passed_through_unchanged() {
        let raw = vec![0x9f, 0x00, 0xff];
        assert_eq!(bundle_bytes(raw.clone()).unwrap(), raw);
    }

    #[test]
    fn hex_text_of_either_case_with_whitespace_decodes() {
        let text = b"  9F 89\n07\t0a\r\nFf\n";
        assert_eq!(
            decode_hex_text(text).unwrap(),
            vec![0x9f, 0x89, 0x07, 0x0a, 0xff]
        );
    }

    #[test]
    fn non_hex_character_is_named_with_line_and_column() {
        let err = decode_hex_text(b"9f89\n07zz").unwrap_err();
        assert_eq!(
            err,
            InputError::NotHex {
                shown: "'z'".into(),
                line: 2,
                column: 3,
                offset: 7
            }
        );
        assert!(err.to_string().contains("'z' at line 2, column 3 (byte 7)"));
    }

    #[test]
    fn unprintable_byte_is_shown_as_its_value() {
        let err = decode_hex_text(&[b'9', 0x01]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid hex: byte 0x01 at line 1, column 2")
        );
    }

    #[test]
    fn non_ascii_character_is_shown_whole() {
        let err = decode_hex_text("9fé".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("'é' at line 1, column 3"), "{err}");
    }

    #[test]
    fn odd_number_of_digits_is_refused() {
        assert_eq!(
            decode_hex_text(b"9f8").unwrap_err(),
            InputError::OddDigits { digits: 3 }
        );
    }

    #[test]
    fn whitespace_only_input_is_empty() {
        assert_eq!(decode_hex_text(b" \n\t").unwrap_err(), InputError::Empty);
        assert_eq!(bundle_bytes(Vec::new()).unwrap_err(), InputError::Empty);
    }

    #[test]
    fn input_within_the_limit_is_read_whole() {
        let mut reader: &[u8] = b"9f00ff";
        assert_eq!(
            read_limited(&mut reader).unwrap().unwrap(),
            b"9f00ff".to_vec()
        );
    }
}
