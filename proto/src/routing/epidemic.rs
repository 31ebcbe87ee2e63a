//! Epidemic routing (Vahdat & Becker, 2000): every contact exchanges what the other lacks.
//!
//! With per-peer history kept by the engine, a bundle is offered to each peer at most once. The
//! set-reconciliation variant, which makes the cost of a contact grow with the difference of two
//! stores rather than their size, comes with the routing suite.

use super::{BundleView, PeerView, Router};

/// Offers every bundle to every peer that does not have it yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epidemic;

impl Router for Epidemic {
    fn name(&self) -> &'static str {
        "epidemic"
    }

    fn should_offer(&mut self, _bundle: &BundleView<'_>, _peer: &PeerView<'_>) -> bool {
        true
    }
}
