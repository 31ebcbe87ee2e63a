//! Workloads: random message generators. Each draws from its own named generator
//! (`workload/INDEX`), so adding a workload leaves the others' messages unchanged.

use proto::wire::Priority;
use rand_chacha::ChaCha8Rng;

use crate::clock::SimTime;
use crate::plan::{CLASSES, Interval, WorkloadSpec};
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
    /// Priority class.
    pub priority: Priority,
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

    /// Source, destination, size and class of the next message: source uniform over `from`,
    /// destination uniform over `to` without the source, size uniform over the range, class
    /// by the workload's weights. `None` if the only destination is the source. An alert
    /// workload's destination is its group, so only the source and size are drawn; a
    /// workload of one class draws no class, so adding the mix changes no other draw.
    pub fn draw(&mut self, spec: &WorkloadSpec) -> Option<Draw> {
        let from = spec.from[rng::index(&mut self.rng, spec.from.len())];
        if spec.alert.is_some() {
            let size = self.size(spec);
            let priority = self.class(spec);
            return Some(Draw {
                from,
                to: from,
                size,
                priority,
            });
        }
        let candidates = spec.to.iter().filter(|&&t| t != from).count();
        if candidates == 0 {
            return None;
        }
        let pick = rng::index(&mut self.rng, candidates);
        let to = spec.to.iter().copied().filter(|&t| t != from).nth(pick)?;
        let size = self.size(spec);
        let priority = self.class(spec);
        Some(Draw {
            from,
            to,
            size,
            priority,
        })
    }

    fn size(&mut self, spec: &WorkloadSpec) -> u64 {
        let (lo, hi) = spec.size;
        if hi > lo {
            lo + rand::Rng::random_range(&mut self.rng, 0..=hi - lo)
        } else {
            lo
        }
    }

    /// A class drawn with the workload's weights (no draw when one class has all the weight).
    fn class(&mut self, spec: &WorkloadSpec) -> Priority {
        let w = spec.priority;
        let classes = w.iter().filter(|x| **x > 0.0).count();
        if classes <= 1 {
            let i = w.iter().position(|x| *x > 0.0).unwrap_or(2);
            return CLASSES[i];
        }
        let total: f64 = w.iter().sum();
        let mut u = rng::uniform(&mut self.rng, 0.0, total);
        for (i, x) in w.iter().enumerate() {
            if u < *x {
                return CLASSES[i];
            }
            u -= x;
        }
        // Rounding left u at the very top: the last class with weight.
        let last = w.iter().rposition(|x| *x > 0.0).unwrap_or(2);
        CLASSES[last]
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
            priority: crate::plan::ALL_NORMAL,
            alert: None,
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
    fn classes_follow_the_priority_weights() {
        let mut s = spec(vec![0], vec![1]);
        s.priority = [1.0, 0.0, 3.0, 0.0];
        let mut g = Generator::new(2, 0);
        let n = 8000;
        let emergencies = (0..n)
            .filter(|_| g.draw(&s).unwrap().priority == Priority::Emergency)
            .count();
        // p = 0.25, standard error sqrt(p(1-p)/n) = 0.0048; 4 standard errors.
        let share = emergencies as f64 / f64::from(n);
        assert!((share - 0.25).abs() < 0.02, "share {share}");
        let mut one = spec(vec![0], vec![1]);
        one.priority = [0.0, 0.0, 0.0, 2.0];
        assert_eq!(g.draw(&one).unwrap().priority, Priority::Bulk);
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
