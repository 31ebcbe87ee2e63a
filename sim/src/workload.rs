//! Workloads: random message generators. Each draws from its own named generator
//! (`workload/INDEX`), so adding a workload leaves the others' messages unchanged.

use rand_chacha::ChaCha8Rng;

use crate::clock::SimTime;
use crate::plan::{Interval, WorkloadSpec};
use crate::rng;

/// The random state of one workload.
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
}

/// One message to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// Source host.
    pub from: usize,
    /// Destination host (never the source).
    pub to: usize,
    /// Payload bytes.
    pub size: u64,
}

impl Generator {
    /// The generator of workload `index` in a run seeded with `seed`.
    pub fn new(seed: u64, index: usize) -> Self {
        Self {
            rng: rng::named(seed, &format!("workload/{index}")),
        }
    }

    /// Time until the next message.
    pub fn gap(&mut self, spec: &WorkloadSpec) -> SimTime {
        match spec.interval {
            Interval::Fixed(t) => t,
            Interval::Exponential(mean) => {
                let secs = rng::exponential(&mut self.rng, mean.as_secs_f64());
                SimTime::from_secs_f64(secs).unwrap_or(SimTime::NEVER)
            }
        }
    }

    /// Source, destination and size of the next message: source uniform over `from`,
    /// destination uniform over `to` without the source, size uniform over the range. `None`
    /// if the only destination is the source.
    pub fn draw(&mut self, spec: &WorkloadSpec) -> Option<Draw> {
        let from = spec.from[rng::index(&mut self.rng, spec.from.len())];
        let candidates = spec.to.iter().filter(|&&t| t != from).count();
        if candidates == 0 {
            return None;
        }
        let pick = rng::index(&mut self.rng, candidates);
        let to = spec.to.iter().copied().filter(|&t| t != from).nth(pick)?;
        let (lo, hi) = spec.size;
        let size = if hi > lo {
            lo + rand::Rng::random_range(&mut self.rng, 0..=hi - lo)
        } else {
            lo
        };
        Some(Draw { from, to, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(from: Vec<usize>, to: Vec<usize>) -> WorkloadSpec {
        WorkloadSpec {
            interval: Interval::Exponential(SimTime(10_000_000)),
            size: (100, 200),
            from,
            to,
            lifetime: SimTime(1),
            start: SimTime::ZERO,
            end: SimTime::NEVER,
        }
    }

    #[test]
    fn destination_is_never_the_source() {
        let s = spec(vec![0, 1, 2], vec![0, 1, 2]);
        let mut g = Generator::new(5, 0);
        for _ in 0..1000 {
            let d = g.draw(&s).unwrap();
            assert_ne!(d.from, d.to);
            assert!((100..=200).contains(&d.size));
        }
    }

    #[test]
    fn a_source_that_is_the_only_destination_draws_nothing() {
        let s = spec(vec![3], vec![3]);
        assert_eq!(Generator::new(5, 0).draw(&s), None);
    }

    #[test]
    fn exponential_gaps_average_the_mean() {
        let s = spec(vec![0], vec![1]);
        let mut g = Generator::new(9, 0);
        let n = 10_000;
        let mean = (0..n).map(|_| g.gap(&s).as_secs_f64()).sum::<f64>() / f64::from(n);
        // Standard error 10/sqrt(10000) = 0.1 s; 4 standard errors.
        assert!((mean - 10.0).abs() < 0.4, "mean gap {mean}");
    }
}
