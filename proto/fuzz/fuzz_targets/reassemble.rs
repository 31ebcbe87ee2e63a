//! Feeds fragment-like input through the `Reassembler` and checks it never panics, stays within
//! its limits and only ever completes an ADU with exactly the bytes its fragments carried.
//!
//! The first input byte picks a mode:
//! - 0: fragments synthesised from 6-byte records (ADU, offset, length, control) whose payload
//!   bytes follow a known pattern, so any completed ADU can be checked byte by byte;
//! - 1: a bundle built from the input, split with `fragment` at an input-chosen limit, shuffled,
//!   duplicated and rejoined: the result must equal the original;
//! - 2: length-prefixed chunks decoded as bundles and fed in as they are.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tern_proto::wire::fragment::{Reassembler, ReassemblyLimits, fragment};
use tern_proto::wire::{
    BlockBody, BlockFlags, Bundle, BundleBuilder, BundleFlags, CanonicalBlock, CrcType,
    CreationTimestamp, DtnTime, Eid, FragmentInfo, PrimaryBlock,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => synthetic_fragments(rest),
        1 => split_and_rejoin(rest),
        _ => decoded_fragments(rest),
    }
});

/// The byte at ADU offset `i` of ADU `seq`.
fn pattern(seq: u64, i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ seq.wrapping_mul(101)) as u8
}

fn u16_at(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_be_bytes([b[i], b[i + 1]]))
}

fn check_limits(r: &Reassembler, limits: ReassemblyLimits) {
    assert!(
        r.reserved_bytes() <= limits.max_bytes,
        "reserved beyond the limit"
    );
    assert!(
        r.pending().count() <= limits.max_pending,
        "too many pending ADUs"
    );
    for (_, covered, total) in r.pending() {
        assert!(covered < total, "a covered ADU is still pending");
    }
}

fn synthetic_fragments(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let total = 1 + u16_at(data, 0) % 4096;
    let limits = ReassemblyLimits {
        max_bytes: 4096 * (1 + u64::from(data[2] % 4)),
        max_pending: 1 + usize::from(data[2] >> 4) % 4,
    };
    let mut r = Reassembler::new(limits);
    for rec in data[3..].chunks_exact(6) {
        let seq = u64::from(rec[0] % 4);
        let ctl = rec[5];
        let creation = CreationTimestamp::new(DtnTime(1000), seq);
        if ctl & 0x80 != 0 {
            let key = tern_proto::wire::fragment::AduKey {
                source: Eid::ipn(1, 1),
                creation,
            };
            r.drop_pending(&key);
            continue;
        }
        // Each ADU has its own length; bit 6 announces a wrong one.
        let t = total + seq + u64::from(ctl >> 6 & 1);
        let offset = u16_at(rec, 1) % t;
        let len = (u16_at(rec, 3) % 1024).min(t - offset);
        let bytes: Vec<u8> = (offset..offset + len).map(|i| pattern(seq, i)).collect();
        let primary = PrimaryBlock {
            flags: BundleFlags::IS_FRAGMENT,
            crc: CrcType::None,
            destination: Eid::ipn(2, 1),
            source: Eid::ipn(1, 1),
            report_to: Eid::ipn(1, 1),
            creation,
            lifetime_ms: 60_000,
            fragment: Some(FragmentInfo {
                offset,
                total_adu_length: t,
            }),
        };
        let mut blocks = Vec::new();
        if ctl & 1 != 0 {
            blocks.push(CanonicalBlock::new(
                2,
                CrcType::None,
                BlockBody::BundleAge(5),
            ));
        }
        blocks.push(CanonicalBlock::new(
            1,
            CrcType::Crc16,
            BlockBody::Payload(bytes.into()),
        ));
        let Ok(frag) = Bundle::from_parts(primary, blocks) else {
            continue;
        };
        if let Ok(Some(whole)) = r.insert(&frag) {
            assert!(
                whole.fragment().is_none(),
                "a reassembled bundle is not a fragment"
            );
            let payload = whole.payload();
            let n = payload.len() as u64;
            assert!(
                n == total + seq || n == total + seq + 1,
                "wrong ADU length {n}"
            );
            for (i, b) in payload.iter().enumerate() {
                assert_eq!(*b, pattern(seq, i as u64), "byte {i} of ADU {seq}");
            }
        }
        check_limits(&r, limits);
    }
}

fn split_and_rejoin(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let limit = 100 + (u16_at(data, 0) % 2048) as usize;
    let payload = Bytes::copy_from_slice(&data[2..]);
    let Ok(original) = BundleBuilder::new(
        Eid::ipn(1, 1),
        Eid::ipn(2, 1),
        CreationTimestamp::new(DtnTime(1000), 1),
        60_000,
    )
    .hop_limit(9)
    .extension(
        BlockBody::Other {
            block_type: 200,
            data: Bytes::from_static(b"every fragment"),
        },
        BlockFlags::REPLICATE_IN_EVERY_FRAGMENT,
    )
    .payload(payload)
    .build() else {
        return;
    };
    let Ok(mut frags) = fragment(&original, limit) else {
        return;
    };
    if frags.first() == Some(&original) {
        assert!(original.encode().len() <= limit);
        return;
    }
    for f in &frags {
        assert!(f.encode().len() <= limit, "fragment exceeds the limit");
    }
    // Duplicate every third fragment, then shuffle with a generator seeded from the input.
    let dups: Vec<Bundle> = frags.iter().step_by(3).cloned().collect();
    frags.extend(dups);
    let mut state = data.iter().fold(0x9e37_79b9_7f4a_7c15u64, |s, &b| {
        (s ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    for i in (1..frags.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        frags.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut r = Reassembler::new(ReassemblyLimits::default());
    let mut whole = None;
    for f in &frags {
        if let Some(w) = r
            .insert(f)
            .expect("a fragment of a good bundle is accepted")
        {
            whole.get_or_insert(w);
        }
    }
    assert_eq!(whole.as_ref(), Some(&original), "rejoined bundle differs");
}

fn decoded_fragments(mut data: &[u8]) {
    let limits = ReassemblyLimits {
        max_bytes: 1 << 16,
        max_pending: 4,
    };
    let mut r = Reassembler::new(limits);
    while data.len() >= 2 {
        let len = (u16_at(data, 0) as usize).min(data.len() - 2);
        let chunk = &data[2..2 + len];
        data = &data[2 + len..];
        let Ok(b) = Bundle::decode(Bytes::copy_from_slice(chunk)) else {
            continue;
        };
        if let Ok(Some(whole)) = r.insert(&b) {
            assert!(whole.fragment().is_none());
        }
        check_limits(&r, limits);
    }
}
