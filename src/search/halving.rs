//! Successive halving and Hyperband (Li et al., 2018, "Hyperband: A Novel Bandit-Based
//! Approach to Hyperparameter Optimization", JMLR 18) over training epochs.
//!
//! Every process of a distributed search calls these functions on its own and must reach
//! the same rungs, brackets and promotions without talking to the others, so they are
//! pure functions of the settings from `[search.halving]`, the run's `train.epochs`, the
//! trial indices and the metrics recorded in the run folders:
//!
//! - Integer arithmetic only. A float `log` or `powf` may round differently from one
//!   libm or CPU to the next, and one machine seeing 3 rungs where another sees 4 would
//!   split the search; multiplying integers in a loop cannot disagree.
//! - A trial's bracket depends on its index alone, never on how many trials the search
//!   has, so a search that is extended keeps every earlier trial (and its checkpoints)
//!   in the bracket it trained in.
//! - Equal metrics are ranked by trial index, never by which run finished first, so the
//!   order in which processes report cannot change who is promoted.
//! - A failed or diverged trial (metric NaN) ranks last and is never promoted: it has
//!   no sound checkpoint to continue from.
//!
//! Resource is epochs: `min_epochs` is the first rung of the most aggressive bracket,
//! each rung is `eta` times the one before, and the last rung is the run's full
//! `train.epochs` (Li et al.'s maximum resource R).

/// The rungs of the most aggressive bracket: `min_epochs * eta^i` for `i < s_max`, then
/// the full `epochs`, where `s_max` is the largest `s` with `min_epochs * eta^s <= epochs`.
///
/// The last rung is stretched to `epochs` rather than stopping at `min_epochs * eta^s_max`
/// so that the winners always end fully trained and comparable with plain runs; it is
/// never shortened, so no gap is narrower than `eta`. Hence `(2, 20, 3)` gives
/// `[2, 6, 20]`, and `(2, 5, 3)` gives `[5]`: 2 epochs then 6 would overshoot 5, so there
/// is no room for a cut and every trial simply trains to the end.
///
/// # Panics
/// On settings that [`check`] rejects (they would loop forever or promote no one).
pub fn rungs(min_epochs: usize, epochs: usize, eta: usize) -> Vec<usize> {
    or_panic(check_rungs(min_epochs, epochs, eta));
    let mut rungs = vec![min_epochs];
    while let Some(next) = next_rung(*rungs.last().unwrap_or(&min_epochs), epochs, eta) {
        rungs.push(next);
    }
    if let Some(last) = rungs.last_mut() {
        *last = epochs;
    }
    rungs
}

/// `checked_mul` so that huge settings end the loop instead of wrapping around.
fn next_rung(rung: usize, epochs: usize, eta: usize) -> Option<usize> {
    rung.checked_mul(eta).filter(|&next| next <= epochs)
}

/// Hyperband's `s_max + 1`: one bracket can start at each rung.
pub fn max_brackets(min_epochs: usize, epochs: usize, eta: usize) -> usize {
    rungs(min_epochs, epochs, eta).len()
}

/// One bracket of Hyperband: a successive-halving schedule that starts at a later rung
/// and so trades how many trials it tries against how long it trains each before a cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bracket {
    /// 0 is the most aggressive (Li et al.'s `s = s_max`), starting at the first rung.
    pub index: usize,
    /// Epochs at each of its rungs: bracket `b` uses `rungs()[b..]`.
    pub rungs: Vec<usize>,
    /// Li et al.'s `n`, `ceil((s_max + 1) / (s + 1) * eta^s)` with `s = s_max - index`:
    /// its share of trials, chosen so that every bracket spends about the same epochs.
    pub weight: usize,
}

/// The first `count` brackets, most aggressive first.
///
/// Weights always use the `s_max` of all the rungs, not `count`, so that asking for
/// fewer brackets drops the conservative ones without re-weighting those kept; with
/// `count = 1` this is plain successive halving over every rung.
///
/// # Panics
/// On settings that [`check`] rejects, `count` outside `1..=max_brackets` included.
pub fn brackets(min_epochs: usize, epochs: usize, eta: usize, count: usize) -> Vec<Bracket> {
    or_panic(check(min_epochs, epochs, eta, count));
    let all = rungs(min_epochs, epochs, eta);
    let s_max = all.len() - 1;
    (0..count)
        .map(|index| Bracket {
            index,
            rungs: all[index..].to_vec(),
            weight: li_n(s_max, s_max - index, eta),
        })
        .collect()
}

/// `ceil((s_max + 1) * eta^s / (s + 1))` in `u128`: `eta^s <= epochs` fits a `usize`,
/// and the factor `s_max + 1 <= 65` cannot overflow 128 bits.
fn li_n(s_max: usize, s: usize, eta: usize) -> usize {
    let power = (0..s).fold(1u128, |p, _| p * eta as u128);
    let (num, den) = ((s_max as u128 + 1) * power, s as u128 + 1);
    usize::try_from(num.div_ceil(den)).unwrap_or(usize::MAX)
}

/// The bracket of trial `trial`, from its index alone so that growing a search never
/// moves an earlier trial: indices cycle through blocks of `sum(weight)` positions, the
/// first `weight[0]` of each block in bracket 0, the next `weight[1]` in bracket 1, and
/// so on. A search of whole blocks therefore gets Li et al.'s proportions exactly; a
/// partial block fills the aggressive brackets first.
///
/// With one bracket (or none, or all weights 0) the answer is always 0.
pub fn bracket_of(brackets: &[Bracket], trial: usize) -> usize {
    let block: usize = brackets.iter().map(|b| b.weight).sum();
    if block == 0 {
        return 0;
    }
    let mut position = trial % block;
    brackets
        .iter()
        .position(|b| match position.checked_sub(b.weight) {
            Some(rest) => {
                position = rest;
                false
            }
            None => true,
        })
        .unwrap_or(0)
}

/// The outcome of one rung: the full ranking, so that a report can show every trial's
/// rank, and how many at its head go on to the next rung.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// `(trial index, metric)`, best first; NaN metrics last.
    pub ranking: Vec<(usize, f64)>,
    /// How many of `ranking`'s head are promoted; never a NaN trial.
    pub kept: usize,
}

impl Decision {
    /// The promoted trials with their metrics, best first.
    pub fn promoted(&self) -> &[(usize, f64)] {
        &self.ranking[..self.kept]
    }
}

/// Ranks the trials of a rung (lower metric is better) and keeps the best
/// `max(1, floor(n / eta))`, the same count as [`plan`] budgets for.
///
/// Ties go to the lower trial index so that report order cannot matter. NaN (a failed
/// or diverged trial) ranks after every number and is never kept, even when that leaves
/// fewer promoted than the count: a failed trial has nothing to continue from. The
/// caller passes each trial once.
///
/// # Panics
/// If `eta < 2`.
pub fn decide(scores: &[(usize, f64)], eta: usize) -> Decision {
    let mut ranking = scores.to_vec();
    ranking.sort_by(|a, b| {
        (a.1.is_nan(), a.1)
            .partial_cmp(&(b.1.is_nan(), b.1))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    let healthy = ranking.iter().take_while(|(_, m)| !m.is_nan()).count();
    let kept = survivors(ranking.len(), eta).min(healthy);
    Decision { ranking, kept }
}

/// `max(1, floor(n / eta))`, 0 for an empty rung: floor as in Li et al.'s
/// `floor(n * eta^-i)`, and at least one so that a rung never ends the search empty.
fn survivors(n: usize, eta: usize) -> usize {
    assert!(eta >= 2, "{}", eta_message(eta));
    if n == 0 {
        0
    } else {
        (n / eta).max(1)
    }
}

/// One rung of a bracket's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RungPlan {
    /// Epochs a trial has trained when it is judged at this rung.
    pub epochs: usize,
    /// How many trials reach this rung.
    pub trials: usize,
}

/// What a bracket will do with `trials` trials, assuming none fails: the trials that
/// reach each rung. Failures only lower the counts, so this is the budget's upper bound.
///
/// # Panics
/// If `eta < 2`.
pub fn plan(bracket: &Bracket, trials: usize, eta: usize) -> Vec<RungPlan> {
    let mut reaching = trials;
    bracket
        .rungs
        .iter()
        .enumerate()
        .map(|(i, &epochs)| {
            if i > 0 {
                reaching = survivors(reaching, eta);
            }
            RungPlan {
                epochs,
                trials: reaching,
            }
        })
        .collect()
}

/// Training epochs a plan costs, per seed (the caller multiplies by seeds): a promoted
/// trial resumes from its checkpoint, so reaching a rung costs only the epochs since the
/// previous one.
pub fn epochs_spent(plan: &[RungPlan]) -> usize {
    let mut previous = 0;
    plan.iter()
        .map(|rung| {
            let more = rung.epochs.saturating_sub(previous);
            previous = rung.epochs;
            rung.trials * more
        })
        .sum()
}

/// Checks the settings against each other, so that an experiment file is refused before
/// any training with a message that names the fix. The error's first part is the key at
/// fault under `[search.halving]`: `"eta"`, `"min_epochs"` or `"brackets"`.
pub fn check(
    min_epochs: usize,
    epochs: usize,
    eta: usize,
    brackets: usize,
) -> Result<(), (&'static str, String)> {
    check_rungs(min_epochs, epochs, eta)?;
    let all = rungs(min_epochs, epochs, eta);
    if brackets == 0 || brackets > all.len() {
        return Err((
            "brackets",
            brackets_message(min_epochs, epochs, eta, brackets, &all),
        ));
    }
    Ok(())
}

fn eta_message(eta: usize) -> String {
    let what = if eta == 0 {
        "promotes no trial"
    } else {
        "keeps every trial"
    };
    format!("eta = {eta} {what}: use eta >= 2 (3 is usual)")
}

fn min_epochs_zero_message(epochs: usize, eta: usize) -> String {
    format!(
        "min_epochs = 0 would judge trials before any training: use min_epochs >= 1{}",
        cut_hint(epochs, eta)
    )
}

fn min_epochs_high_message(min_epochs: usize, epochs: usize, eta: usize) -> String {
    format!(
        "min_epochs = {min_epochs} is more than train.epochs = {epochs}: \
         use min_epochs <= {epochs}{}, or raise train.epochs",
        cut_hint(epochs, eta)
    )
}

/// Where a value would leave room for at least one cut, say so: a min_epochs that is
/// merely allowed may still give a single rung, which halves nothing.
fn cut_hint(epochs: usize, eta: usize) -> String {
    match epochs / eta {
        0 => String::new(),
        most => format!(" (at most {most} leaves room for a cut at eta = {eta})"),
    }
}

fn brackets_message(
    min_epochs: usize,
    epochs: usize,
    eta: usize,
    brackets: usize,
    rungs: &[usize],
) -> String {
    let listed: Vec<String> = rungs.iter().map(usize::to_string).collect();
    let allowed = format!(
        "min_epochs = {min_epochs}, eta = {eta} and train.epochs = {epochs} allow at most {} (rungs {})",
        rungs.len(),
        listed.join(", ")
    );
    if brackets == 0 {
        format!(
            "brackets = 0 runs no trial: use brackets = 1 for successive halving, \
             or more for Hyperband; {allowed}"
        )
    } else {
        format!(
            "brackets = {brackets} but {allowed}: use brackets <= {}, \
             or lower min_epochs or raise train.epochs for more rungs",
            rungs.len()
        )
    }
}

/// The part of [`check`] that [`rungs`] needs: without it the rung loop never ends.
fn check_rungs(min_epochs: usize, epochs: usize, eta: usize) -> Result<(), (&'static str, String)> {
    if eta < 2 {
        return Err(("eta", eta_message(eta)));
    }
    if min_epochs == 0 {
        return Err(("min_epochs", min_epochs_zero_message(epochs, eta)));
    }
    if min_epochs > epochs {
        return Err((
            "min_epochs",
            min_epochs_high_message(min_epochs, epochs, eta),
        ));
    }
    Ok(())
}

/// The functions that assume valid settings fail with [`check`]'s own message.
fn or_panic(checked: Result<(), (&'static str, String)>) {
    if let Err((key, message)) = checked {
        panic!("search.halving.{key}: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_of_the_documented_examples() {
        assert_eq!(rungs(2, 20, 3), [2, 6, 20]);
        assert_eq!(rungs(1, 27, 3), [1, 3, 9, 27]);
        assert_eq!(rungs(5, 5, 3), [5]);
        assert_eq!(rungs(2, 5, 3), [5]);
        assert_eq!(rungs(2, 6, 3), [2, 6]);
        assert_eq!(rungs(1, 81, 3), [1, 3, 9, 27, 81]);
        assert_eq!(max_brackets(2, 20, 3), 3);
        assert_eq!(max_brackets(2, 5, 3), 1);
    }

    #[test]
    fn rungs_survive_huge_settings() {
        let r = rungs(1, usize::MAX, 2);
        assert_eq!(r.len(), usize::BITS as usize);
        assert_eq!(*r.last().unwrap(), usize::MAX);
        let b = brackets(1, usize::MAX, 2, r.len());
        assert_eq!(b[0].weight, 1 << (usize::BITS - 1));
    }

    /// Li et al. (2018), Table 1: R = 81, eta = 3.
    #[test]
    fn hyperband_matches_li_et_al_table() {
        let b = brackets(1, 81, 3, 5);
        let weights: Vec<usize> = b.iter().map(|b| b.weight).collect();
        assert_eq!(weights, [81, 34, 15, 8, 5]);
        let first: Vec<usize> = b.iter().map(|b| b.rungs[0]).collect();
        assert_eq!(first, [1, 3, 9, 27, 81]);
        let table: [&[(usize, usize)]; 5] = [
            &[(1, 81), (3, 27), (9, 9), (27, 3), (81, 1)],
            &[(3, 34), (9, 11), (27, 3), (81, 1)],
            &[(9, 15), (27, 5), (81, 1)],
            &[(27, 8), (81, 2)],
            &[(81, 5)],
        ];
        for (bracket, rows) in b.iter().zip(table) {
            let got: Vec<(usize, usize)> = plan(bracket, bracket.weight, 3)
                .iter()
                .map(|r| (r.epochs, r.trials))
                .collect();
            assert_eq!(got, rows, "bracket {}", bracket.index);
        }
    }

    #[test]
    fn fewer_brackets_keep_their_weights() {
        let all = brackets(1, 81, 3, 5);
        assert_eq!(brackets(1, 81, 3, 2), all[..2]);
        let one = brackets(2, 20, 3, 1);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].rungs, [2, 6, 20]);
        assert_eq!(one[0].weight, 9);
    }

    #[test]
    fn successive_halving_survivors() {
        let b = &brackets(1, 81, 3, 1)[0];
        let counts: Vec<usize> = plan(b, 81, 3).iter().map(|r| r.trials).collect();
        assert_eq!(counts, [81, 27, 9, 3, 1]);
        let scores: Vec<(usize, f64)> = (0..81).map(|t| (t, 81.0 - t as f64)).collect();
        let mut alive = scores;
        let mut seen = vec![];
        for _ in 0..5 {
            seen.push(alive.len());
            let d = decide(&alive, 3);
            alive = d.promoted().to_vec();
        }
        assert_eq!(seen, [81, 27, 9, 3, 1]);
        assert_eq!(alive, [(80, 1.0)]);
    }

    #[test]
    fn small_rungs_still_promote_one() {
        let b = &brackets(1, 27, 3, 1)[0];
        let counts: Vec<usize> = plan(b, 2, 3).iter().map(|r| r.trials).collect();
        assert_eq!(counts, [2, 1, 1, 1]);
        assert_eq!(decide(&[(4, 0.5), (7, 0.2)], 3).kept, 1);
        assert_eq!(decide(&[], 3).kept, 0);
        assert!(plan(b, 0, 3).iter().all(|r| r.trials == 0));
    }

    #[test]
    fn ties_go_to_the_lower_trial_index() {
        let d = decide(
            &[(9, 0.5), (3, 0.5), (5, 0.5), (1, 0.7), (0, 0.5), (2, 0.5)],
            3,
        );
        let order: Vec<usize> = d.ranking.iter().map(|r| r.0).collect();
        assert_eq!(order, [0, 2, 3, 5, 9, 1]);
        assert_eq!(d.kept, 2);
        assert_eq!(d.promoted(), [(0, 0.5), (2, 0.5)]);
        let zeros = decide(&[(4, 0.0), (1, -0.0), (2, 1.0)], 3);
        assert_eq!(zeros.promoted(), [(1, -0.0)]);
    }

    #[test]
    fn ranking_ignores_report_order() {
        let a = [
            (0, 0.3),
            (1, f64::NAN),
            (2, 0.1),
            (3, 0.3),
            (4, f64::INFINITY),
        ];
        let mut b = a;
        b.reverse();
        let (x, y) = (decide(&a, 2), decide(&b, 2));
        let idx = |d: &Decision| d.ranking.iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(idx(&x), idx(&y));
        assert_eq!(idx(&x), [2, 0, 3, 4, 1]);
        assert_eq!(x.kept, y.kept);
    }

    #[test]
    fn nan_ranks_last_and_is_never_kept() {
        let d = decide(&[(0, f64::NAN), (1, 2.0), (2, f64::NAN), (3, 1.0)], 2);
        let order: Vec<usize> = d.ranking.iter().map(|r| r.0).collect();
        assert_eq!(order, [3, 1, 0, 2]);
        assert_eq!(d.kept, 2);
        let d = decide(&[(5, f64::NAN), (6, 1.0), (7, f64::NAN)], 3);
        assert_eq!(d.kept, 1);
        assert_eq!(d.promoted(), [(6, 1.0)]);
        let d = decide(&[(8, f64::NAN), (3, f64::NAN), (1, f64::NAN)], 2);
        assert_eq!(d.kept, 0);
        let order: Vec<usize> = d.ranking.iter().map(|r| r.0).collect();
        assert_eq!(order, [1, 3, 8]);
        let d = decide(&[(0, f64::NAN), (1, 1.0), (2, f64::NAN), (3, f64::NAN)], 2);
        assert_eq!(d.kept, 1, "keep count reaches into NaN: those stay out");
    }

    #[test]
    fn bracket_of_follows_weights_over_a_block() {
        let b = brackets(1, 81, 3, 5);
        let block: usize = b.iter().map(|b| b.weight).sum();
        assert_eq!(block, 143);
        for (index, bracket) in b.iter().enumerate() {
            let n = (0..block).filter(|&t| bracket_of(&b, t) == index).count();
            assert_eq!(n, bracket.weight);
        }
        let first: Vec<usize> = (0..block).map(|t| bracket_of(&b, t)).collect();
        assert!(first.windows(2).all(|w| w[0] <= w[1]), "contiguous runs");
        assert_eq!((bracket_of(&b, 80), bracket_of(&b, 81)), (0, 1));
        assert_eq!(bracket_of(&b, 142), 4);
        for (t, &bracket) in first.iter().enumerate() {
            assert_eq!(bracket_of(&b, t + 3 * block), bracket);
        }
    }

    #[test]
    fn bracket_of_is_prefix_stable() {
        let b = brackets(2, 20, 3, 3);
        let short: Vec<usize> = (0..10).map(|t| bracket_of(&b, t)).collect();
        let long: Vec<usize> = (0..1000).map(|t| bracket_of(&b, t)).collect();
        assert_eq!(short[..], long[..10]);
        let one = brackets(2, 20, 3, 1);
        assert!((0..100).all(|t| bracket_of(&one, t) == 0));
        assert_eq!(bracket_of(&[], 7), 0);
    }

    /// Rungs 2, 6, 20 and 9 trials at eta 3: 9 x 2 + 3 x (6 - 2) + 1 x (20 - 6) = 44.
    #[test]
    fn epochs_spent_by_hand() {
        let b = &brackets(2, 20, 3, 1)[0];
        let p = plan(b, 9, 3);
        let rows: Vec<(usize, usize)> = p.iter().map(|r| (r.epochs, r.trials)).collect();
        assert_eq!(rows, [(2, 9), (6, 3), (20, 1)]);
        assert_eq!(epochs_spent(&p), 44);
        assert_eq!(epochs_spent(&[]), 0);
        let last = &brackets(2, 20, 3, 3)[2];
        assert_eq!(epochs_spent(&plan(last, 4, 3)), 80);
    }

    fn fails(settings: (usize, usize, usize, usize), key: &str, parts: &[&str]) {
        let (m, e, eta, b) = settings;
        let (k, message) = check(m, e, eta, b).unwrap_err();
        assert_eq!(k, key, "{message}");
        for part in parts {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
    }

    #[test]
    fn check_names_the_key_and_the_fix() {
        assert_eq!(check(2, 20, 3, 3), Ok(()));
        assert_eq!(check(2, 5, 3, 1), Ok(()));
        assert_eq!(check(1, 81, 3, 5), Ok(()));
        fails(
            (2, 20, 1, 1),
            "eta",
            &["eta = 1 keeps every trial: use eta >= 2 (3 is usual)"],
        );
        fails((2, 20, 0, 1), "eta", &["eta = 0", "use eta >= 2"]);
        fails(
            (0, 20, 3, 1),
            "min_epochs",
            &["min_epochs = 0", "min_epochs >= 1"],
        );
        fails(
            (30, 20, 3, 1),
            "min_epochs",
            &[
                "min_epochs = 30 is more than train.epochs = 20",
                "min_epochs <= 20",
                "at most 6",
            ],
        );
        fails(
            (2, 20, 3, 5),
            "brackets",
            &[
                "brackets = 5 but min_epochs = 2, eta = 3 and train.epochs = 20 allow at most 3 (rungs 2, 6, 20)",
                "use brackets <= 3",
            ],
        );
        fails(
            (2, 20, 3, 0),
            "brackets",
            &["brackets = 0", "brackets = 1", "at most 3"],
        );
    }

    #[test]
    #[should_panic(expected = "search.halving.eta: eta = 1 keeps every trial")]
    fn invalid_settings_panic_with_the_check_message() {
        rungs(2, 20, 1);
    }

    #[test]
    #[should_panic(expected = "search.halving.brackets: brackets = 4")]
    fn too_many_brackets_panic() {
        brackets(2, 20, 3, 4);
    }
}
