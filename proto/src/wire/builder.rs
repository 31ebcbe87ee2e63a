//! A builder for bundles a node originates.
//!
//! The builder numbers blocks (payload 1, extensions from 2), applies one CRC type to every block
//! unless told otherwise, and checks the result against RFC 9171 before handing out a [`Bundle`].

use bytes::Bytes;

use super::block::{BlockBody, CanonicalBlock, HopCount};
use super::bundle::Bundle;
use super::crc::CrcType;
use super::eid::Eid;
use super::error::BuildError;
use super::flags::{BlockFlags, BundleFlags};
use super::primary::PrimaryBlock;
use super::time::CreationTimestamp;

/// Assembles a new bundle.
#[derive(Debug, Clone)]
pub struct BundleBuilder {
    primary: PrimaryBlock,
    extensions: Vec<CanonicalBlock>,
    payload: Bytes,
    payload_flags: BlockFlags,
}

impl BundleBuilder {
    /// A bundle from `source` to `destination` created at `creation`, living `lifetime_ms`.
    /// Report-to defaults to the source; CRC defaults to CRC-32C on every block.
    pub fn new(
        source: Eid,
        destination: Eid,
        creation: CreationTimestamp,
        lifetime_ms: u64,
    ) -> Self {
        let flags = if source.is_null() {
            BundleFlags::MUST_NOT_FRAGMENT
        } else {
            BundleFlags::empty()
        };
        Self {
            primary: PrimaryBlock {
                flags,
                crc: CrcType::Crc32c,
                destination,
                report_to: source.clone(),
                source,
                creation,
                lifetime_ms,
                fragment: None,
            },
            extensions: Vec::new(),
            payload: Bytes::new(),
            payload_flags: BlockFlags::empty(),
        }
    }

    /// Where status reports go.
    pub fn report_to(mut self, eid: Eid) -> Self {
        self.primary.report_to = eid;
        self
    }

    /// Adds bundle processing control flags.
    pub fn flags(mut self, flags: BundleFlags) -> Self {
        self.primary.flags |= flags;
        self
    }

    /// CRC type for the primary block and every block added after this call.
    pub fn crc(mut self, crc: CrcType) -> Self {
        self.primary.crc = crc;
        for b in &mut self.extensions {
            b.crc = crc;
        }
        self
    }

    /// The application data.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Block processing flags of the payload block.
    pub fn payload_flags(mut self, flags: BlockFlags) -> Self {
        self.payload_flags = flags;
        self
    }

    /// Adds a hop-count block with this limit and count 0.
    pub fn hop_limit(self, limit: u8) -> Self {
        self.extension(
            BlockBody::HopCount(HopCount {
                limit: u64::from(limit),
                count: 0,
            }),
            BlockFlags::empty(),
        )
    }

    /// Adds a bundle-age block (required when the creation time is 0).
    pub fn bundle_age(self, age_ms: u64) -> Self {
        self.extension(BlockBody::BundleAge(age_ms), BlockFlags::empty())
    }

    /// Adds a previous-node block.
    pub fn previous_node(self, node: Eid) -> Self {
        self.extension(BlockBody::PreviousNode(node), BlockFlags::empty())
    }

    /// Adds an extension block, numbered after those already added.
    pub fn extension(mut self, body: BlockBody, flags: BlockFlags) -> Self {
        let number = 2 + self.extensions.len() as u64;
        let mut block = CanonicalBlock::new(number, self.primary.crc, body);
        block.flags = flags;
        self.extensions.push(block);
        self
    }

    /// Checks and returns the bundle.
    pub fn build(self) -> Result<Bundle, BuildError> {
        let mut blocks = self.extensions;
        let mut payload =
            CanonicalBlock::new(1, self.primary.crc, BlockBody::Payload(self.payload));
        payload.flags = self.payload_flags;
        blocks.push(payload);
        Bundle::from_parts(self.primary, blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DtnTime;

    fn ts() -> CreationTimestamp {
        CreationTimestamp::new(DtnTime(755_000_000_000), 1)
    }

    #[test]
    fn built_bundle_round_trips() {
        let b = BundleBuilder::new(
            "dtn://a/".parse().unwrap(),
            "dtn://b/inbox".parse().unwrap(),
            ts(),
            3_600_000,
        )
        .hop_limit(16)
        .payload(&b"hello"[..])
        .build()
        .unwrap();
        let bytes = Bytes::from(b.encode());
        assert_eq!(Bundle::decode(bytes).unwrap(), b);
    }

    #[test]
    fn small_bundle_encoding_holds_no_slack_memory() {
        let b = BundleBuilder::new(
            "dtn://a/".parse().unwrap(),
            "dtn://b/inbox".parse().unwrap(),
            ts(),
            3_600_000,
        )
        .payload(&b"a short field report"[..])
        .build()
        .unwrap();
        let encoded = b.encode();
        // Stored bundles keep their vector: a capacity of twice the length would double a
        // store of small bundles.
        assert_eq!(encoded.capacity(), encoded.len());
        assert_eq!(Bundle::decode(Bytes::from(encoded)).unwrap(), b);
    }

    #[test]
    fn report_to_sharing_only_a_prefix_with_the_source_decodes_as_itself() {
        let b = BundleBuilder::new(
            "dtn://a/x".parse().unwrap(),
            "dtn://b/inbox".parse().unwrap(),
            ts(),
            3_600_000,
        )
        .report_to("dtn://a/xy".parse().unwrap())
        .payload(&b"hi"[..])
        .build()
        .unwrap();
        let decoded = Bundle::decode(Bytes::from(b.encode())).unwrap();
        assert_eq!(decoded.primary().report_to.to_string(), "dtn://a/xy");
        assert_eq!(decoded.primary().source.to_string(), "dtn://a/x");
    }

    #[test]
    fn encoding_with_every_integer_at_its_longest_fits_the_size_hint_and_round_trips() {
        let long_node = format!("dtn://{}/{}", "n".repeat(40), "s".repeat(300));
        let b = BundleBuilder::new(
            "ipn:4294967295.4294967295.18446744073709551615"
                .parse()
                .unwrap(),
            long_node.parse().unwrap(),
            CreationTimestamp::new(DtnTime(u64::MAX), u64::MAX),
            u64::MAX,
        )
        .report_to("ipn:4294967295.18446744073709551615".parse().unwrap())
        .crc(CrcType::Crc32c)
        .hop_limit(255)
        .bundle_age(u64::MAX)
        .previous_node(long_node.parse().unwrap())
        .extension(
            BlockBody::Other {
                block_type: u64::MAX,
                data: Bytes::from(vec![7u8; 300]),
            },
            BlockFlags::empty(),
        )
        .payload(vec![1u8; 70_000])
        .build()
        .unwrap();
        let mut out = vec![0xee; 5];
        b.encode_into(&mut out);
        assert_eq!(&out[..5], &[0xee; 5]);
        let encoded = b.encode();
        assert_eq!(&out[5..], &encoded[..]);
        assert!(encoded.len() <= b.size_hint());
        assert_eq!(Bundle::decode(Bytes::from(encoded)).unwrap(), b);
    }

    #[test]
    fn large_payload_appended_directly_round_trips_with_every_crc_type() {
        for crc in [CrcType::None, CrcType::Crc16, CrcType::Crc32c] {
            let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
            let b = BundleBuilder::new(
                "dtn://a/x".parse().unwrap(),
                "dtn://b/y".parse().unwrap(),
                ts(),
                1000,
            )
            .crc(crc)
            .hop_limit(9)
            .payload(payload.clone())
            .build()
            .unwrap();
            let encoded = b.encode();
            assert!(encoded.len() <= b.size_hint());
            let decoded = Bundle::decode(Bytes::from(encoded)).unwrap();
            assert_eq!(decoded, b, "{crc:?}");
            assert_eq!(&decoded.payload()[..], &payload[..]);
        }
    }

    #[test]
    fn zero_creation_time_without_age_block_is_refused() {
        let err = BundleBuilder::new(
            "dtn://a/".parse().unwrap(),
            "dtn://b/x".parse().unwrap(),
            CreationTimestamp::default(),
            1000,
        )
        .build()
        .unwrap_err();
        assert!(err.to_string().contains("bundle age"));
    }

    #[test]
    fn anonymous_bundle_gets_must_not_fragment() {
        let b = BundleBuilder::new(Eid::Null, "dtn://b/x".parse().unwrap(), ts(), 1000)
            .build()
            .unwrap();
        assert!(b.primary().flags.contains(BundleFlags::MUST_NOT_FRAGMENT));
    }
}
