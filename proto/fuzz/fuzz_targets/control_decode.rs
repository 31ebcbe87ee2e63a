//! Decodes arbitrary bytes as a tern control message (small limits, so short inputs reach every
//! cap), and feeds whatever decodes as reconciliation to a reconciler, as a hostile peer would.
//!
//! Checks, besides "never panics": whatever decodes re-encodes to exactly the same bytes and
//! decodes again to an equal message; a decoded message respects the limits it was decoded
//! with; a reconciler's answer to any decoded message respects the same limits (so an honest
//! node never sends what a peer must refuse), and it stops answering within its round limit.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tern_proto::node::control::{ControlLimits, ControlMessage, ReconBody};
use tern_proto::routing::recon::{ReconParams, Reconciler};

const LIMITS: ControlLimits = ControlLimits {
    max_message_len: 4096,
    max_items: 16,
    max_ids: 32,
    max_entries: 8,
    max_eid_len: 64,
};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let Ok(message) = ControlMessage::decode(&bytes, &LIMITS) else {
        return;
    };
    let encoded = message.encode();
    assert_eq!(encoded, data, "re-encoding changed the bytes");
    let again = ControlMessage::decode(&Bytes::from(encoded), &LIMITS)
        .expect("a re-encoded control message must decode");
    assert_eq!(again, message, "decode(encode(m)) != m");
    match &message {
        ControlMessage::Recon(items) => {
            assert!(items.len() <= LIMITS.max_items);
            assert!(ids(items) <= LIMITS.max_ids);
            answer(items);
        }
        ControlMessage::Predictabilities(entries) => {
            assert!(entries.len() <= LIMITS.max_entries);
        }
        _ => {}
    }
});

fn ids(items: &[tern_proto::node::control::ReconItem]) -> usize {
    items
        .iter()
        .map(|i| match &i.body {
            ReconBody::Ids { ids, .. } | ReconBody::Want { ids } => ids.len(),
            _ => 0,
        })
        .sum()
}

/// A reconciler over digests derived from the input answers it again and again.
fn answer(items: &[tern_proto::node::control::ReconItem]) {
    let params = ReconParams {
        limits: LIMITS,
        max_rounds: 4,
        ..ReconParams::default()
    };
    // Our own ids: the peer's ids and bounds shifted, so ranges overlap in interesting ways.
    let ours: Vec<u64> = items
        .iter()
        .flat_map(|i| {
            let mut v = vec![i.upper.saturating_sub(1), i.upper / 2];
            if let ReconBody::Ids { ids, .. } | ReconBody::Want { ids } = &i.body {
                v.extend(ids.iter().map(|d| d ^ 1));
            }
            v
        })
        .collect();
    let mut r = Reconciler::new(ours, params);
    for round in 0..6 {
        match r.receive(items) {
            Ok(Some(reply)) => {
                assert!(reply.len() <= LIMITS.max_items, "answer over the item cap");
                assert!(ids(&reply) <= LIMITS.max_ids, "answer over the id cap");
                let bytes = Bytes::from(ControlMessage::Recon(reply.clone()).encode());
                let back = ControlMessage::decode(&bytes, &LIMITS);
                assert!(back.is_ok(), "our answer does not decode: {back:?}");
            }
            Ok(None) | Err(_) => {
                assert!(round <= 4, "answered past the round limit");
                return;
            }
        }
    }
    panic!("a reconciler answered more rounds than its limit");
}
