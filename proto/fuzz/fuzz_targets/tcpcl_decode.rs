//! Decodes arbitrary bytes as a TCPCLv4 stream: a contact header on its own, and messages one
//! after another until the decoder wants more bytes or fails.
//!
//! Checks, besides "never panics": every decoded message re-encodes to exactly the bytes it was
//! framed from (unknown codes and reserved flag bits are kept, RFC 9174 §4, §5) and decodes again
//! to an equal message; `Message::check` frames the same length `decode` consumes; a message is
//! never decoded from a strict prefix of its bytes (streaming: "not yet" until all of it is
//! there); "not yet" and framing errors leave the buffer untouched.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tern_proto::tcpcl::msg::{CONTACT_HEADER_LEN, MAGIC};
use tern_proto::tcpcl::{ContactHeader, Limits, Message, TcpclError};

/// Small enough that inputs of a few kilobytes reach every "too long" refusal.
const LIMITS: Limits = Limits {
    max_segment_len: 1024,
    max_node_id_len: 64,
    max_extensions_len: 256,
};

/// Frames up to this length have every strict prefix checked; longer ones a sample.
const FULL_PREFIX_CHECK: usize = 128;

fuzz_target!(|data: &[u8]| {
    if let Some(rest) = contact_header(data) {
        messages(rest);
    }
    messages(data);
});

/// Decodes a contact header from the front of `data`; returns what follows it.
fn contact_header(data: &[u8]) -> Option<&[u8]> {
    let mut buf = BytesMut::from(data);
    match ContactHeader::decode(&mut buf) {
        Ok(Some(header)) => {
            assert_eq!(
                header.encode()[..],
                data[..CONTACT_HEADER_LEN],
                "a contact header re-encodes differently"
            );
            assert_eq!(buf[..], data[CONTACT_HEADER_LEN..], "consumed != 6 bytes");
            Some(&data[CONTACT_HEADER_LEN..])
        }
        Ok(None) => {
            assert!(data.len() < CONTACT_HEADER_LEN, "six bytes are not enough");
            // The magic is judged once all four bytes are there.
            if data.len() >= MAGIC.len() {
                assert_eq!(data[..MAGIC.len()], MAGIC, "bad magic was not refused");
            }
            assert_eq!(buf[..], data[..], "'not yet' consumed bytes");
            None
        }
        Err(_) => {
            assert!(
                data.len() >= MAGIC.len() && data[..MAGIC.len()] != MAGIC,
                "a good magic was refused"
            );
            assert_eq!(buf[..], data[..], "an error consumed bytes");
            None
        }
    }
}

/// Decodes messages off the front of `data` until "not yet" or an error.
fn messages(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.clone();
        let framed = Message::check(&buf, &LIMITS);
        match Message::decode(&mut buf, &LIMITS) {
            Ok(Some(msg)) => {
                let used = before.len() - buf.len();
                assert_eq!(
                    framed,
                    Ok(Some(used)),
                    "check and decode disagree on length"
                );
                let frame = &before[..used];
                round_trip(&msg, frame);
                prefixes_need_more(frame);
                assert_eq!(
                    buf[..],
                    before[used..],
                    "decode took bytes off the wrong end"
                );
            }
            Ok(None) => {
                assert_eq!(framed, Ok(None), "check and decode disagree");
                assert_eq!(buf, before, "'not yet' consumed bytes");
                return;
            }
            Err(e) => {
                match framed {
                    // A length or type error is found while framing: nothing is consumed.
                    Err(framing) => {
                        assert_eq!(framing, e, "check and decode disagree");
                        assert_eq!(buf, before, "a framing error consumed bytes");
                    }
                    // A framed message that does not parse (bad UTF-8, extension items that
                    // overrun their list): today `decode` has split the frame off by then, so
                    // the buffer loses exactly the frame. (Its doc says the buffer is left as
                    // it was; the session does not care, it ends the session either way.)
                    Ok(Some(len)) => {
                        assert!(
                            matches!(e, TcpclError::Malformed { .. }),
                            "a framed message failed with {e:?}"
                        );
                        assert!(
                            buf[..] == before[..] || buf[..] == before[len..],
                            "a parse error consumed other than the frame"
                        );
                    }
                    Ok(None) => panic!("decode failed with {e:?} where check wants more"),
                }
                return;
            }
        }
    }
}

fn round_trip(msg: &Message, frame: &[u8]) {
    let encoded = msg.to_bytes().expect("a decoded message must encode");
    assert_eq!(
        encoded[..],
        frame[..],
        "re-encoding changed the bytes of {msg:?}"
    );
    let mut again = BytesMut::from(&encoded[..]);
    let decoded = Message::decode(&mut again, &LIMITS)
        .expect("a re-encoded message must decode")
        .expect("a re-encoded message is complete");
    assert_eq!(&decoded, msg, "decode(encode(m)) != m");
    assert!(again.is_empty(), "re-decoding left bytes over");
    // `encode` appends: what was in the buffer before stays in front.
    let mut out = BytesMut::from(&b"xy"[..]);
    msg.encode(&mut out).expect("a decoded message must encode");
    assert_eq!(out[..2], b"xy"[..], "encode overwrote the buffer");
    assert_eq!(out[2..], frame[..], "encode appended other bytes");
    assert_eq!(
        msg.message_type().0,
        frame[0],
        "message_type is not the code"
    );
}

/// A strict prefix of a message that decodes is "not yet", never a message or an error: every
/// limit the whole message passes, its prefixes pass too.
fn prefixes_need_more(frame: &[u8]) {
    let n = frame.len();
    let check = |len: usize| {
        let mut part = BytesMut::from(&frame[..len]);
        assert_eq!(
            Message::decode(&mut part, &LIMITS),
            Ok(None),
            "a {len}-byte prefix of a {n}-byte message did not ask for more"
        );
        assert_eq!(part.len(), len, "'not yet' consumed bytes");
    };
    if n <= FULL_PREFIX_CHECK {
        (0..n).for_each(check);
    } else {
        [0, 1, n / 2, n - 2, n - 1].into_iter().for_each(check);
    }
}
