//! Where each trial of a search falls in the unit cube.
//!
//! A trial's value of a setting is a pure function of the search's seed, the trial's
//! index and the setting's dimension, so that any trial can be recomputed alone: a
//! resumed or extended search draws the same points, in any order, on any machine.
//! This module owns only that point in [0, 1) per dimension; turning it into a value of
//! a setting is [`super::space`]'s job.
//!
//! Two methods: `random`, independent uniform draws from a counter-based hash, and
//! `sobol`, an Owen-scrambled Sobol sequence, whose first 2^k trials cover each
//! dimension evenly (one per interval of width 2^-k), so that a small search leaves
//! fewer gaps than random draws.

/// The most dimensions (settings) a Sobol search can sample: `sobol_burley`'s table of
/// direction numbers ends there.
pub const MAX_DIMENSIONS: u32 = sobol_burley::NUM_DIMENSIONS;

/// `sobol_burley` supports sample indices below 2^16; past it, release builds return
/// unspecified numbers rather than failing.
const SOBOL_MAX_TRIALS: u64 = 1 << 16;

/// Far beyond any search that trains a network per trial, and small enough that a trial
/// index always fits a `u32` wherever one is stored.
const RANDOM_MAX_TRIALS: u64 = 1 << 32;

/// The methods by name, as written in an experiment file, for messages that list them.
pub const METHODS: &[&str] = &["random", "sobol"];

/// How a search spreads its trials over the space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Independent uniform draws.
    Random,
    /// Owen-scrambled Sobol points: even coverage for small searches.
    Sobol,
}

impl Method {
    /// The method named `s` in an experiment file, if any.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "random" => Some(Method::Random),
            "sobol" => Some(Method::Sobol),
            _ => None,
        }
    }

    /// The name [`Method::parse`] reads back.
    pub fn name(self) -> &'static str {
        match self {
            Method::Random => "random",
            Method::Sobol => "sobol",
        }
    }
}

/// Where in [0, 1) trial `trial` falls in dimension `dimension`.
///
/// # Panics
///
/// With [`Method::Sobol`], if `trial >= max_trials(Method::Sobol)` or
/// `dimension >= MAX_DIMENSIONS`: the caller checks a search's size when it reads the
/// experiment file, where it can say which setting to drop.
pub fn unit(method: Method, seed: u64, trial: u64, dimension: u32) -> f64 {
    match method {
        Method::Random => random_unit(seed, trial, dimension),
        Method::Sobol => sobol_unit(seed, trial, dimension),
    }
}

/// The most trials `method` can draw.
pub fn max_trials(method: Method) -> u64 {
    match method {
        Method::Random => RANDOM_MAX_TRIALS,
        Method::Sobol => SOBOL_MAX_TRIALS,
    }
}

/// SplitMix64's increment: the golden ratio in 64 bits, so that consecutive counters
/// land far apart before mixing.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finalizer: a bijection on `u64` whose every output bit depends on every
/// input bit.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Folds one more word into a hash state; the golden step keeps a zero state and word
/// from mapping to zero.
fn absorb(state: u64, word: u64) -> u64 {
    mix64(state.wrapping_add(word).wrapping_add(GOLDEN))
}

/// Hashing (seed, dimension, trial) in turn gives each dimension its own stream, with no
/// state to carry from one trial to the next.
fn random_unit(seed: u64, trial: u64, dimension: u32) -> f64 {
    let bits = absorb(absorb(absorb(0, seed), u64::from(dimension)), trial);
    // The top 53 bits fill an f64's mantissa exactly: at most 1 - 2^-53, never 1.
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `sobol_burley` takes a 32-bit seed; hashing the 64-bit one uses all of its bits.
fn sobol_seed(seed: u64) -> u32 {
    (absorb(0x50b0_1000_5eed_0001, seed) >> 32) as u32
}

fn sobol_unit(seed: u64, trial: u64, dimension: u32) -> f64 {
    assert!(
        trial < SOBOL_MAX_TRIALS,
        "a sobol search draws at most {SOBOL_MAX_TRIALS} trials, not trial {trial}"
    );
    assert!(
        dimension < MAX_DIMENSIONS,
        "a sobol search samples at most {MAX_DIMENSIONS} settings, not dimension {dimension}"
    );
    let x = sobol_burley::sample(trial as u32, dimension, sobol_seed(seed));
    below_one(f64::from(x))
}

/// `sobol_burley` promises [0, 1); this keeps that promise here even if it broke it.
fn below_one(x: f64) -> f64 {
    const LARGEST_BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;
    x.clamp(0.0, LARGEST_BELOW_ONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: [u64; 4] = [0, 1, 42, u64::MAX];

    #[test]
    fn names_round_trip() {
        for method in [Method::Random, Method::Sobol] {
            assert_eq!(Method::parse(method.name()), Some(method));
            assert!(METHODS.contains(&method.name()));
        }
        assert_eq!(Method::parse("Sobol"), None);
        assert_eq!(Method::parse("grid"), None);
    }

    #[test]
    fn units_lie_in_the_unit_interval() {
        for method in [Method::Random, Method::Sobol] {
            for seed in SEEDS {
                for dimension in [0, 1, 7, MAX_DIMENSIONS - 1] {
                    for trial in (0..2000).chain([max_trials(method) - 1]) {
                        let u = unit(method, seed, trial, dimension);
                        assert!((0.0..1.0).contains(&u), "{method:?} gave {u}");
                    }
                }
            }
        }
    }

    #[test]
    fn units_are_pure() {
        for method in [Method::Random, Method::Sobol] {
            for (seed, trial, dimension) in [(0, 0, 0), (5, 17, 3), (u64::MAX, 1000, 9)] {
                let first = unit(method, seed, trial, dimension);
                // Other draws in between must not change it: there is no hidden state.
                let _ = unit(method, seed.wrapping_add(1), trial + 1, dimension + 1);
                assert_eq!(first, unit(method, seed, trial, dimension));
            }
        }
    }

    /// Which of the 2^k equal intervals of [0, 1) holds each of the first 2^k trials.
    fn strata(method: Method, seed: u64, dimension: u32, k: u32) -> Vec<usize> {
        let n = 1u64 << k;
        let mut counts = vec![0; n as usize];
        for trial in 0..n {
            let u = unit(method, seed, trial, dimension);
            counts[(u * n as f64) as usize] += 1;
        }
        counts
    }

    #[test]
    fn sobol_prefixes_of_two_to_the_k_are_stratified() {
        for seed in SEEDS {
            for dimension in [0, 1, 2, 5, 31, MAX_DIMENSIONS - 1] {
                for k in 1..=6 {
                    let counts = strata(Method::Sobol, seed, dimension, k);
                    assert!(
                        counts.iter().all(|&c| c == 1),
                        "seed {seed}, dimension {dimension}, k {k}: {counts:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn random_is_not_stratified_by_construction() {
        // The contrast that makes the stratification test meaningful.
        let clumped = SEEDS
            .iter()
            .any(|&seed| strata(Method::Random, seed, 0, 6).iter().any(|&c| c != 1));
        assert!(clumped);
    }

    #[test]
    fn seeds_give_different_sequences() {
        for method in [Method::Random, Method::Sobol] {
            let sequence = |seed| {
                (0..16)
                    .map(|t| unit(method, seed, t, 0))
                    .collect::<Vec<_>>()
            };
            for (i, &a) in SEEDS.iter().enumerate() {
                for &b in &SEEDS[i + 1..] {
                    assert_ne!(sequence(a), sequence(b), "{method:?}: seeds {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn dimensions_give_different_sequences() {
        for method in [Method::Random, Method::Sobol] {
            let sequence = |d| (0..16).map(|t| unit(method, 7, t, d)).collect::<Vec<_>>();
            assert_ne!(sequence(0), sequence(1), "{method:?}");
            assert_ne!(sequence(1), sequence(2), "{method:?}");
        }
    }

    #[test]
    fn random_is_roughly_uniform() {
        for seed in SEEDS {
            let n = 10_000;
            let us: Vec<f64> = (0..n).map(|t| unit(Method::Random, seed, t, 3)).collect();
            let mean = us.iter().sum::<f64>() / n as f64;
            assert!((mean - 0.5).abs() < 0.02, "seed {seed}: mean {mean}");
            let below_tenth = us.iter().filter(|&&u| u < 0.1).count();
            assert!(
                (800..1200).contains(&below_tenth),
                "seed {seed}: {below_tenth}"
            );
        }
    }

    #[test]
    fn random_dimensions_are_uncorrelated() {
        let n = 10_000;
        let pairs: Vec<(f64, f64)> = (0..n)
            .map(|t| (unit(Method::Random, 9, t, 0), unit(Method::Random, 9, t, 1)))
            .collect();
        // For independent uniforms E[(x - 1/2)(y - 1/2)] = 0, with standard error 1/(12 sqrt n).
        let covariance = pairs
            .iter()
            .map(|(x, y)| (x - 0.5) * (y - 0.5))
            .sum::<f64>()
            / n as f64;
        assert!(
            covariance.abs() < 4.0 / (12.0 * (n as f64).sqrt()),
            "{covariance}"
        );
    }

    #[test]
    fn below_one_never_returns_one() {
        assert!(below_one(1.0) < 1.0);
        assert_eq!(below_one(0.25), 0.25);
        assert_eq!(below_one(-0.0), 0.0);
    }

    #[test]
    #[should_panic(expected = "at most 65536 trials")]
    fn sobol_refuses_trials_past_its_limit() {
        unit(Method::Sobol, 0, max_trials(Method::Sobol), 0);
    }

    #[test]
    #[should_panic(expected = "at most 256 settings")]
    fn sobol_refuses_dimensions_past_its_limit() {
        unit(Method::Sobol, 0, 0, MAX_DIMENSIONS);
    }
}
