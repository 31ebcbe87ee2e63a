//! Routing strategies, each behind the one [`Router`] interface.
//!
//! The engine owns the bundles, the links and the per-peer history ("this peer has it"); a router
//! only answers two questions: should this bundle be offered to this peer, and does the node keep
//! its copy after the peer took it. That keeps strategies small, lets them be swapped from
//! configuration ([`RouterConfig`]), and means no driver ever contains routing logic.
//!
//! Strategies that count copies (spray-and-wait) also say how many copies a bundle starts with
//! and how many travel with each transfer; the engine keeps the count in the bundle's metadata and
//! writes the number handed on into a tern-private copies block
//! ([`crate::wire::copies::COPIES_BLOCK_TYPE`]), so the receiver knows its share.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::node::control::ControlMessage;
use crate::node::{BundleKey, Now};
use crate::wire::{DtnTime, Eid};

mod contact_plan;
mod direct;
mod epidemic;
mod first_contact;
mod prophet;
pub mod recon;
mod spray;
mod static_routes;

#[cfg(test)]
mod config_tests;

pub use contact_plan::{
    Contact, ContactPlan, ContactPlanRouter, PlanError, PlanErrorKind, PlanTime, Range,
};
pub use direct::DirectDelivery;
pub use epidemic::Epidemic;
pub use first_contact::FirstContact;
pub use prophet::{Prophet, ProphetParams};
pub use spray::SprayAndWait;
pub use static_routes::{StaticRoute, StaticRoutes};

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
    /// Copies this node may still hand on (spray-and-wait): those it holds minus those promised
    /// to transfers in flight. `None` when the strategy does not count copies.
    pub copies: Option<u32>,
    /// Transmissions of this bundle in flight now, on any link: single-copy strategies offer a
    /// bundle to one peer at a time.
    pub in_flight: usize,
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

    /// The engine's clock, told before each round of decisions, so that strategies that plan
    /// over time (contact plans) read injected time and never a clock.
    fn set_now(&mut self, _now: Now) {}

    /// Copies of a bundle this node holds on admitting it: `carried` is the count its copies
    /// block carries ([`crate::wire::copies::COPIES_BLOCK_TYPE`]), `local` is true for this
    /// node's own submissions. `None` (the default): the strategy does not count copies.
    fn initial_copies(&mut self, _carried: Option<u32>, _local: bool) -> Option<u32> {
        None
    }

    /// How many of its copies this node hands to `peer` with `bundle`, written into the copies
    /// block on the way out and deducted once the peer accepts. `None` (the default): no copies
    /// block is written.
    fn copies_to_hand(&mut self, _bundle: &BundleView<'_>, _peer: &PeerView<'_>) -> Option<u32> {
        None
    }

    /// A link to `peer` came up: an encounter (PRoPHET updates `P(self, peer)`). Called for
    /// every link whose peer is known, control-capable or not; time comes from `set_now`.
    fn on_contact(&mut self, _peer: &Eid) {}

    /// What to tell `peer` at the start of a contact over the control channel (PRoPHET: its
    /// predictabilities). Only asked on control-capable links.
    fn contact_message(&mut self, _peer: &Eid) -> Option<ControlMessage> {
        None
    }

    /// A control message for the router from `peer` (what the peer's `contact_message` said).
    /// It is hostile input, already decoded within [`crate::node::control::ControlLimits`].
    fn on_control(&mut self, _peer: &Eid, _message: &ControlMessage) {}

    /// The router's durable state if it changed since last taken, for
    /// `StoreOp::PutRouterState`. `None` (the default): nothing to persist.
    fn take_state(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// The state last taken before a restart (`Restored::router_state`). A state the router
    /// cannot read is ignored.
    fn restore_state(&mut self, _state: &Bytes) {}
}

/// True if `peer` is the node that hosts `destination`.
pub fn reaches_destination(destination: &Eid, peer: &Eid) -> bool {
    destination.node_id().as_ref() == Some(peer)
}

/// A strategy and its parameters, as data: the daemon's config file and the simulator's
/// scenarios select every strategy from this one type, never from code.
///
/// Simple names parse with [`FromStr`] (`direct`, `epidemic`, `first-contact`,
/// `spray-and-wait`, `spray-and-wait:L`); strategies that need tables (static routes, contact
/// plans) come from serde, tagged by `strategy`:
/// ```toml
/// strategy = "static-routes"
/// routes = [{ pattern = "dtn://c/*", via = "dtn://b/" }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RouterConfig {
    /// Only hand bundles to their destination node.
    Direct,
    /// Give every peer a copy of everything it lacks.
    #[default]
    Epidemic,
    /// Hand each bundle to the first peer met and let it go (one copy in the network).
    FirstContact,
    /// PRoPHET (RFC 6693) with its default constants: forward to peers more likely to meet
    /// the destination (GRTR); predictabilities travel over the control channel.
    Prophet,
    /// Binary spray-and-wait with `copies` (L) copies per bundle.
    SprayAndWait {
        /// L: copies of each bundle this node originates.
        #[serde(default = "default_spray_copies")]
        copies: u32,
    },
    /// Forward along configured next hops, one copy.
    StaticRoutes {
        /// Tried in order; the first matching pattern wins.
        routes: Vec<StaticRoute>,
    },
    /// Forward along the earliest-arrival path over an ION contact plan.
    ContactPlan {
        /// The plan, in ION's `ionadmin` syntax (`a contact +t1 +t2 n1 n2 rate`, `a range ...`).
        plan: String,
        /// The wall time relative plan times (`+t`) count from; the node's start if absent.
        #[serde(default)]
        epoch: Option<DtnTime>,
    },
}

/// The name older code uses for [`RouterConfig`].
pub type RouterKind = RouterConfig;

/// L when configuration names spray-and-wait without a count: enough copies to reach a
/// destination in a few hops on mid-sized networks (Spyropoulos et al. pick L ≈ 10 % of nodes).
pub const DEFAULT_SPRAY_COPIES: u32 = 8;

fn default_spray_copies() -> u32 {
    DEFAULT_SPRAY_COPIES
}

impl RouterConfig {
    /// A fresh router of this kind for the node `node_id`, created at `now` (contact plans count
    /// relative times from it when they name no epoch).
    pub fn build(&self, node_id: &Eid, now: Now) -> Box<dyn Router> {
        match self {
            Self::Direct => Box::new(DirectDelivery),
            Self::Epidemic => Box::new(Epidemic),
            Self::FirstContact => Box::new(FirstContact),
            Self::Prophet => Box::new(Prophet::new(node_id.clone(), ProphetParams::default())),
            Self::SprayAndWait { copies } => Box::new(SprayAndWait::new(*copies)),
            Self::StaticRoutes { routes } => Box::new(StaticRoutes::new(routes.clone())),
            Self::ContactPlan { plan, epoch } => {
                // Checked at configuration time (`validate`); a plan that fails here routes
                // nothing rather than bringing the node down.
                let parsed = plan.parse::<ContactPlan>().unwrap_or_default();
                let epoch = epoch.unwrap_or(now.wall);
                Box::new(ContactPlanRouter::new(node_id.clone(), parsed, epoch))
            }
        }
    }

    /// Checks parameters that serde cannot: a zero copy count, an unparsable plan.
    pub fn validate(&self) -> Result<(), RouterConfigError> {
        match self {
            Self::SprayAndWait { copies: 0 } => Err(RouterConfigError::BadParameter {
                strategy: "spray-and-wait",
                reason: "copies must be at least 1".into(),
            }),
            Self::ContactPlan { plan, .. } => {
                plan.parse::<ContactPlan>()
                    .map(drop)
                    .map_err(|e| RouterConfigError::BadParameter {
                        strategy: "contact-plan",
                        reason: e.to_string(),
                    })
            }
            _ => Ok(()),
        }
    }

    /// The name used in configuration.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Epidemic => "epidemic",
            Self::FirstContact => "first-contact",
            Self::Prophet => "prophet",
            Self::SprayAndWait { .. } => "spray-and-wait",
            Self::StaticRoutes { .. } => "static-routes",
            Self::ContactPlan { .. } => "contact-plan",
        }
    }
}

/// A router configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterConfigError {
    /// No strategy has this name.
    #[error(
        "unknown router '{0}': choose direct, epidemic, first-contact, prophet or spray-and-wait[:L] \
         (static-routes and contact-plan take a table)"
    )]
    Unknown(String),
    /// A parameter is out of range or malformed.
    #[error("{strategy}: {reason}")]
    BadParameter {
        /// The strategy.
        strategy: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The former name of [`RouterConfigError`].
pub type UnknownRouter = RouterConfigError;

impl FromStr for RouterConfig {
    type Err = RouterConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let config = match (name, arg) {
            ("direct", None) => Self::Direct,
            ("epidemic", None) => Self::Epidemic,
            ("first-contact", None) => Self::FirstContact,
            ("prophet", None) => Self::Prophet,
            ("spray-and-wait", None) => Self::SprayAndWait {
                copies: DEFAULT_SPRAY_COPIES,
            },
            ("spray-and-wait", Some(l)) => Self::SprayAndWait {
                copies: l.parse().map_err(|_| RouterConfigError::BadParameter {
                    strategy: "spray-and-wait",
                    reason: format!("'{l}' is not a copy count (spray-and-wait:L, L >= 1)"),
                })?,
            },
            _ => return Err(RouterConfigError::Unknown(s.to_owned())),
        };
        config.validate()?;
        Ok(config)
    }
}
