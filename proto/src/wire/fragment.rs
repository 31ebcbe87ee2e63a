//! Fragmentation and reassembly (RFC 9171 §5.8, §5.9).
