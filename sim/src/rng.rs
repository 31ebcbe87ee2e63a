//! Seeded randomness and the run fingerprint: the two things that make a run replayable.
//!
//! Every random process (a host's mobility, a workload, link loss...) draws from its own ChaCha8
//! generator, derived from the run's one master seed and the process's *name*. Adding a process
//! or a host therefore never shifts the numbers another process sees, and a run is a function of
//! its scenario and seed alone. [`TraceHash`] folds every processed event into a 64-bit FNV-1a
//! hash so two runs can be compared cheaply, event by event.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator of the process called `name` in a run seeded with `master`: the master seed
/// picks the key, the name picks one of ChaCha's 2^64 independent streams.
pub fn named(master: u64, name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(master);
    rng.set_stream(fnv1a(name.as_bytes()));
    rng
}

/// An exponentially distributed draw with the given mean (inverse transform sampling).
pub fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    -mean * u.ln()
}

/// A uniform draw in `[lo, hi]` (or `lo` when the range is empty).
pub fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return lo;
    }
    lo + (hi - lo) * rng.random::<f64>()
}

/// A uniform index in `0..n` (`n > 0`).
pub fn index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// An incremental 64-bit hash of a run's events (one multiply-rotate round per value, as in
/// FxHash). Not cryptographic: it only has to differ when two runs differ, and be cheap enough
/// to run on every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        Self(FNV_OFFSET)
    }
}

impl TraceHash {
    /// Folds one value in.
    pub fn write_u64(&mut self, v: u64) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
    }

    /// The hash so far.
    pub fn value(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_give_the_same_stream() {
        let mut r1 = named(7, "host/a");
        let mut r2 = named(7, "host/a");
        for _ in 0..100 {
            assert_eq!(r1.random::<u64>(), r2.random::<u64>());
        }
    }

    #[test]
    fn different_names_give_different_streams() {
        let x: u64 = named(7, "host/a").random();
        let y: u64 = named(7, "host/b").random();
        let z: u64 = named(8, "host/a").random();
        assert_ne!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn exponential_draws_have_the_requested_mean() {
        let mut r = named(1, "exp");
        let n = 20_000;
        let mean = (0..n).map(|_| exponential(&mut r, 2.0)).sum::<f64>() / n as f64;
        // Standard error 2/sqrt(20000) = 0.014; 4 standard errors is 0.057.
        assert!((mean - 2.0).abs() < 0.057, "mean {mean}");
    }

    #[test]
    fn trace_hash_depends_on_order() {
        let mut a = TraceHash::default();
        a.write_u64(1);
        a.write_u64(2);
        let mut b = TraceHash::default();
        b.write_u64(2);
        b.write_u64(1);
        assert_ne!(a.value(), b.value());
    }
}
