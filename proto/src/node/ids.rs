//! Typed identifiers: each names one kind of thing, so they cannot be mixed up.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stored bundle, stable across restarts: the store's key. Allocated by the node in increasing
/// order, so keys sort by admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BundleKey(pub u64);

/// A link (one session with one peer over one convergence layer), allocated by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

/// One transmission the node asked for, allocated by the node and echoed in `Transmitted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxToken(pub u64);

/// One inbound transfer on a link, allocated by the driver (e.g. the TCPCL transfer id) and
/// echoed in the node's accept or refuse verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RxId(pub u64);

macro_rules! display_id {
    ($($t:ty => $prefix:literal),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    )*};
}
display_id!(BundleKey => "b", LinkId => "link", TxToken => "tx", RxId => "rx");
