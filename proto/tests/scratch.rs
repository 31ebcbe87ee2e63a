use bytes::Bytes;
use tern_proto::wire::Bundle;
#[test]
fn scratch() {
    let v: serde_json::Value = serde_json::from_str(include_str!("data/bpv7/bpv7_bundles.json")).unwrap();
    for c in v["cases"].as_array().unwrap() {
        let h = c["hex"].as_str().unwrap();
        let bytes = Bytes::from(hex::decode(h).unwrap());
        match Bundle::decode(bytes.clone()) {
            Ok(b) => { let re = hex::encode(b.encode()); println!("{} OK reencode_same={}", c["id"], re == h); }
            Err(e) => println!("{} ERR {e}", c["id"]),
        }
    }
    for f in ["original_bundle_a1_a2_a4.input.hex","original_bundle_a3.input.hex","example_a1_simple_integrity.output.hex","example_a2_confidentiality_keywrap.output.hex","example_a3_multiple_sources.output.hex","example_a4_full_scope.output.hex"] {
        let h = std::fs::read_to_string(format!("tests/data/rfc9173/{f}")).unwrap();
        let h = h.trim();
        let bytes = Bytes::from(hex::decode(h).unwrap());
        match Bundle::decode(bytes.clone()) {
            Ok(b) => { let re = hex::encode(b.encode()); println!("{f} OK reencode_same={}", re == h); }
            Err(e) => println!("{f} ERR {e}"),
        }
    }
}
