//! Routing strategies, each behind the one [`Router`] interface.
//!
//! The engine owns the bundles, the links and the per-peer history ("this peer has it"); a router
//! only answers two questions: should this bundle be offered to this peer, and does the node keep
//! its copy after the peer took it. That keeps strategies small, lets them be swapped from
//! configuration, and means no driver ever contains routing logic.

use std::fmt;
use std::str::FromStr;

use crate::node::BundleKey;
use crate::wire::Eid;

mod direct;
mod epidemic;

pub use direct::DirectDelivery;
pub use epidemic::Epidemic;

/// What a router may look at when deciding about one bundle.
#[derive(Debug, Clone, Copy)]
pub struct BundleView<'a> {
    /// The stored bundle.
    pub key: BundleKey,
    /// Its source.
    pub source: &'a Eid,
    /// Its destination.
    pub destination: &'a Eid,
    /// The node it came from, if known.
    pub from: Option<&'a Eid>,
}

/// The peer on the other end of a link.
#[derive(Debug, Clone, Copy)]
pub struct PeerView<'a> {
    /// The peer's node ID.
    pub node_id: &'a Eid,
}

/// After a peer accepted a bundle: keep our copy or let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retain {
    /// Keep carrying it (to offer it to others).
    Keep,
    /// Delete our copy: the bundle's work here is done.
    Release,
}

/// A forwarding strategy.
pub trait Router: fmt::Debug + Send {
    /// The strategy's name, as in configuration.
    fn name(&self) -> &'static str;

    /// Should `bundle` be offered to `peer`? The engine has already excluded peers that hold
    /// it (per-peer history), so this is the strategy's own choice.
    fn should_offer(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> bool;

    /// `peer` accepted `bundle`. By default a bundle handed to its (singleton) destination node
    /// is released and anything else kept.
    fn after_forward(&mut self, bundle: &BundleView<'_>, peer: &PeerView<'_>) -> Retain {
        if reaches_destination(bundle.destination, peer.node_id)
            && bundle.destination.is_singleton()
        {
            Retain::Release
        } else {
            Retain::Keep
        }
    }
}

/// True if `peer` is the node that hosts `destination`.
pub fn reaches_destination(destination: &Eid, peer: &Eid) -> bool {
    destination.node_id().as_ref() == Some(peer)
}

/// The strategies a node can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouterKind {
    /// Only hand bundles to their destination node.
    Direct,
    /// Give every peer a copy of everything it lacks.
    #[default]
    Epidemic,
}

impl RouterKind {
    /// A fresh router of this kind.
    pub fn build(self) -> Box<dyn Router> {
        match self {
            Self::Direct => Box::new(DirectDelivery),
            Self::Epidemic => Box::new(Epidemic),
        }
    }

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Epidemic => "epidemic",
        }
    }
}

/// An unknown router name in configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown router '{0}': choose direct or epidemic")]
pub struct UnknownRouter(pub String);

impl FromStr for RouterKind {
    type Err = UnknownRouter;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "direct" => Ok(Self::Direct),
            "epidemic" => Ok(Self::Epidemic),
            other => Err(UnknownRouter(other.to_owned())),
        }
    }
}
