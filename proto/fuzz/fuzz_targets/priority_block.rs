//! tern's private extension blocks and the contact-plan parser on arbitrary input. The first byte
//! picks the decoder: 0 = priority block data, 1 = copies block data, 2 = a contact plan (UTF-8)
//! routed over from node 1 to every node it names. Decoded blocks must re-encode to the same
//! bytes; a bundle carrying them must keep them through encode and decode.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tern_proto::routing::{ContactPlan, ContactPlanRouter};
use tern_proto::wire::copies::{copies_of, decode_copies, encode_copies, set_copies};
use tern_proto::wire::{
    BlockFlags, Bundle, BundleBuilder, CreationTimestamp, DtnTime, Eid, Priority,
};

fn bundle() -> BundleBuilder {
    BundleBuilder::new(
        Eid::ipn(1, 1),
        Eid::ipn(2, 1),
        CreationTimestamp::new(DtnTime(1), 0),
        1000,
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = Bytes::copy_from_slice(rest);
    match mode % 3 {
        0 => {
            let Ok(p) = Priority::decode(&bytes) else {
                return;
            };
            assert_eq!(
                p.encode(),
                rest,
                "priority data must re-encode to its bytes"
            );
            let b = bundle()
                .extension(p.block_body(), BlockFlags::empty())
                .build()
                .expect("a bundle with a priority block builds");
            let back = Bundle::decode(Bytes::from(b.encode())).expect("and decodes");
            assert_eq!(Priority::of(&back), Ok(p));
        }
        1 => {
            let Ok(n) = decode_copies(&bytes) else {
                return;
            };
            assert_eq!(
                encode_copies(n),
                rest,
                "copies data must re-encode to its bytes"
            );
            let mut b = bundle().build().expect("a plain bundle builds");
            set_copies(&mut b, n);
            let back = Bundle::decode(Bytes::from(b.encode())).expect("a rewritten bundle decodes");
            assert_eq!(copies_of(&back), Ok(Some(n)));
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let Ok(plan) = text.parse::<ContactPlan>() else {
                return;
            };
            let nodes: Vec<Eid> = plan
                .contacts()
                .iter()
                .flat_map(|c| [c.from.clone(), c.to.clone()])
                .collect();
            let router = ContactPlanRouter::new(Eid::ipn(1, 0), plan, DtnTime(1_000));
            for n in nodes.iter().take(16) {
                if let Some((_, arrival)) = router.earliest_arrival(n, DtnTime(1_000)) {
                    assert!(arrival >= DtnTime(1_000), "no arrival before departure");
                }
            }
        }
    }
});
