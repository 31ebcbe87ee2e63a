//! Parses arbitrary bytes as a CAP 1.2 document (small limits, so deep and crowded inputs hit
//! them). Never panics; whatever parses writes as a canonical document that parses to an equal
//! alert and writes again to the same text, and its derived priority and lifetime are defined.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::cap::{ParseLimits, parse, parse_with, write};
use tern_proto::wire::DtnTime;

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits {
        max_bytes: 64 * 1024,
        max_depth: 8,
        max_elements: 512,
    };
    let Ok(alert) = parse_with(data, &limits) else {
        return;
    };
    let text = write(&alert);
    let again = parse(text.as_bytes()).expect("a written alert must parse");
    assert_eq!(again, alert, "parse(write(a)) != a:\n{text}");
    assert_eq!(write(&again), text, "writing is not canonical");
    let _ = alert.priority();
    let _ = alert.lifetime_ms(DtnTime(1));
});
