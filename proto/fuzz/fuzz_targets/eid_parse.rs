//! Parses arbitrary UTF-8 text as an endpoint ID. Whatever parses must display as text that
//! parses to an equal EID, and must survive a trip through a bundle's CBOR encoding.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tern_proto::wire::{Bundle, BundleBuilder, CreationTimestamp, DtnTime, Eid};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(eid) = text.parse::<Eid>() else {
        return;
    };
    let shown = eid.to_string();
    let again: Eid = shown.parse().expect("a displayed EID must parse");
    assert_eq!(again, eid, "parse(display(e)) != e for {shown:?}");
    assert_eq!(again.to_string(), shown, "display is not stable");

    // The CBOR form, via a bundle addressed to the EID.
    let creation = CreationTimestamp::new(DtnTime(1), 0);
    let Ok(bundle) = BundleBuilder::new(Eid::ipn(1, 1), eid.clone(), creation, 1000).build() else {
        return;
    };
    let decoded = Bundle::decode(Bytes::from(bundle.encode())).expect("built bundle must decode");
    assert_eq!(decoded.primary().destination, eid);
});
