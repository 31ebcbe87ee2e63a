//! Decodes arbitrary bytes as an administrative record. Whatever decodes must re-encode to the
//! same bytes and decode again to an equal record.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tern_proto::wire::admin::AdminRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = AdminRecord::decode(&Bytes::copy_from_slice(data)) else {
        return;
    };
    let encoded = record.encode();
    let again = AdminRecord::decode(&Bytes::from(encoded.clone()))
        .expect("a re-encoded admin record must decode");
    assert_eq!(again, record, "decode(encode(r)) != r");
    assert_eq!(encoded, data, "re-encoding changed the bytes");
});
