//! Decodes arbitrary bytes as a bundle. Whatever decodes must re-encode to the same bytes
//! (RFC 9171 §4.1 deterministic CBOR, CRCs recomputed) and decode again to an equal bundle.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tern_proto::wire::{Bundle, DecodeLimits};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_bundle_size: 1 << 20,
        ..DecodeLimits::default()
    };
    let Ok(bundle) = Bundle::decode_with(Bytes::copy_from_slice(data), &limits) else {
        return;
    };
    let encoded = bundle.encode();
    let again = Bundle::decode_with(Bytes::from(encoded.clone()), &limits)
        .expect("a re-encoded bundle must decode");
    assert_eq!(again, bundle, "decode(encode(b)) != b");
    assert_eq!(encoded, data, "re-encoding changed the bytes");
    // Accessors must not panic on any valid bundle.
    let _ = bundle.id();
    let _ = (
        bundle.payload(),
        bundle.hop_count(),
        bundle.bundle_age(),
        bundle.previous_node(),
    );
});
