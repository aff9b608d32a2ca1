//! Searches beyond grids, as pieces that swap independently (as Optuna's samplers and
//! pruners do): `space` (how one setting is sampled), `sampler` (where trial `i` falls in
//! each dimension: random or scrambled Sobol) and `halving` (successive halving and
//! Hyperband's rungs, brackets and promotions).
//!
//! Everything here is a pure function of the experiment file: trial `i`'s values of
//! the search seed, `i` and the key; a rung's promotions of the costs its trials
//! recorded. That is what lets any number of workers, shards and processes, killed and
//! resumed, reach the same search bit for bit. Running the rungs is the scheduler's
//! (`schedule::rungs`).

pub mod halving;
pub mod sampler;
pub mod space;

pub use sampler::Method;
pub use space::Distribution;

/// An experiment file's `[search]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    pub method: Method,
    pub trials: usize,
    pub seed: u64,
    /// The sampled settings and their distributions, in the canonical key order.
    pub space: Vec<Dimension>,
    /// The per-epoch cost that ranks trials (lower is better).
    pub metric: String,
    /// `[search.halving]`: trials are cut at rungs instead of all trained in full.
    pub halving: Option<Halving>,
}

/// An experiment file's `[search.halving]`, checked against `train.epochs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Halving {
    pub min_epochs: usize,
    pub eta: usize,
    pub brackets: usize,
    /// `train.epochs`: the last rung.
    pub epochs: usize,
}

impl Halving {
    /// Its brackets, most aggressive first (one for successive halving).
    pub fn brackets(&self) -> Vec<halving::Bracket> {
        halving::brackets(self.min_epochs, self.epochs, self.eta, self.brackets)
    }

    /// Every rung's epochs, of the most aggressive bracket.
    pub fn rungs(&self) -> Vec<usize> {
        halving::rungs(self.min_epochs, self.epochs, self.eta)
    }

    /// Each of the first `trials` trials' bracket and its place among that bracket's
    /// trials (0 its first).
    pub fn places(&self, trials: usize) -> Vec<(usize, usize)> {
        let brackets = self.brackets();
        let mut seen = vec![0; brackets.len()];
        (0..trials)
            .map(|t| {
                let b = halving::bracket_of(&brackets, t);
                seen[b] += 1;
                (b, seen[b] - 1)
            })
            .collect()
    }

    /// What each bracket does with its share of `trials` trials when none fails: the
    /// trials reaching each rung.
    pub fn plans(&self, trials: usize) -> Vec<(halving::Bracket, Vec<halving::RungPlan>)> {
        let brackets = self.brackets();
        let mut counts = vec![0; brackets.len()];
        for (bracket, _) in self.places(trials) {
            counts[bracket] += 1;
        }
        brackets
            .into_iter()
            .zip(counts)
            .map(|(b, n)| {
                let plan = halving::plan(&b, n, self.eta);
                (b, plan)
            })
            .collect()
    }
}

/// One sampled setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Dimension {
    pub key: String,
    pub distribution: Distribution,
    /// Its dimension in the sampler: the key's place among every setting, so that adding
    /// a key to the space never changes another key's values.
    pub index: u32,
}

impl Search {
    /// Trial `trial`'s sampled values, `(key, value)` in the space's order.
    pub fn values(&self, trial: usize) -> Vec<(String, toml::Value)> {
        self.space
            .iter()
            .map(|d| {
                let u = sampler::unit(self.method, self.seed, trial as u64, d.index);
                (d.key.clone(), d.distribution.value(u))
            })
            .collect()
    }

    /// Whether `key` is sampled.
    pub fn samples(&self, key: &str) -> bool {
        self.space.iter().any(|d| d.key == key)
    }
}

/// A trial's run id prefix: `t0007`. Four digits at least, never depending on the
/// number of trials, so that a search that grows keeps every earlier trial's id.
pub fn trial_id(trial: usize) -> String {
    format!("t{trial:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_ids_do_not_depend_on_the_count() {
        assert_eq!(trial_id(7), "t0007");
        assert_eq!(trial_id(12_345), "t12345");
    }
}
