//! Which runs this invocation takes: `--filter` by id, `--shard INDEX/COUNT` for job
//! arrays. Shards split the runs sorted by id round-robin, so every shard computes the
//! same split without talking to the others and shard sizes differ by at most one.

use crate::config::Run;
use crate::error::input_error;

/// A shard of a sweep: this is shard `index` (0-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Parses `INDEX/COUNT` or `auto` (from Slurm's or Kubernetes' environment).
///
/// `shard_count` is `--shard-count`; `auto` falls back to `$RUNNER_SHARD_COUNT`. The count is
/// never taken from the engine: a resubmitted part of an array reports its own size, not the
/// sweep's, and a wrong count silently runs the wrong runs.
pub fn parse_shard(
    arg: &str,
    shard_count: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Shard> {
    if arg == "auto" {
        return shard_from_env(shard_count, env);
    }
    let usage = || {
        input_error(format!(
            "--shard {arg}: expected INDEX/COUNT with 0 <= INDEX < COUNT (e.g. --shard 0/4), or auto"
        ))
    };
    let (i, n) = arg.split_once('/').ok_or_else(usage)?;
    let index: usize = i.trim().parse().map_err(|_| usage())?;
    let count: usize = n.trim().parse().map_err(|_| usage())?;
    if count == 0 || index >= count {
        return Err(usage());
    }
    Ok(Shard { index, count })
}

/// Reads one whole number from the environment; `None` when the variable is unset.
fn env_number(env: &dyn Fn(&str) -> Option<String>, name: &str) -> anyhow::Result<Option<usize>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            input_error(format!(
                "--shard auto: ${name} is {v:?}, not a whole number"
            ))
        }),
    }
}

fn shard_from_env(
    shard_count: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Shard> {
    let count = match shard_count {
        Some(n) => Some(n),
        None => env_number(env, "RUNNER_SHARD_COUNT")?,
    };
    if count == Some(0) {
        return Err(input_error(
            "--shard auto: the shard count is 0; set --shard-count (or $RUNNER_SHARD_COUNT) to the number of array tasks",
        ));
    }
    let slurm_task = env_number(env, "SLURM_ARRAY_TASK_ID")?;
    if let (Some(id), Some(index)) = (slurm_task, env_number(env, "JOB_COMPLETION_INDEX")?) {
        return Err(input_error(format!(
            "--shard auto: both Slurm (SLURM_ARRAY_TASK_ID={id}) and Kubernetes (JOB_COMPLETION_INDEX={index}) name this task's shard; unset the one that does not apply, or pass --shard INDEX/COUNT"
        )));
    }
    if let Some(id) = slurm_task {
        let count = count.ok_or_else(|| {
            input_error(format!(
                "--shard auto: Slurm array task {id}, but no shard count; set it where the array is declared, \
                 e.g. `export RUNNER_SHARD_COUNT=5` beside `#SBATCH --array=0-4` (or pass --shard-count 5)"
            ))
        })?;
        let array = SlurmArray::from_env(env)?;
        return slurm_shard(id, count, &array);
    }
    if let Some(index) = env_number(env, "JOB_COMPLETION_INDEX")? {
        let count = count.ok_or_else(|| {
            input_error("--shard auto: JOB_COMPLETION_INDEX is set but the shard count is not; pass --shard-count N or set RUNNER_SHARD_COUNT (the Job's completions)")
        })?;
        if index >= count {
            return Err(input_error(format!(
                "--shard auto: Kubernetes gives completion index {index}, but the shard count is {count}; \
                 set RUNNER_SHARD_COUNT to the Job's `completions`"
            )));
        }
        return Ok(Shard { index, count });
    }
    if env("SLURM_JOB_ID").is_some() {
        return Err(input_error(
            "--shard auto: this Slurm job is not a job array (no SLURM_ARRAY_TASK_ID); submit it with --array=0-N \
             or use --shard INDEX/COUNT",
        ));
    }
    Err(input_error(
        "--shard auto: neither Slurm (SLURM_ARRAY_TASK_ID) nor a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) is in the environment; use --shard INDEX/COUNT",
    ))
}

/// The array a Slurm task belongs to, as Slurm describes the submission it came from.
#[derive(Clone, Copy, Debug)]
struct SlurmArray {
    min: usize,
    max: usize,
    step: usize,
    tasks: usize,
}

impl SlurmArray {
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let need = |name: &str| {
            env_number(env, name)?.ok_or_else(|| {
                input_error(format!(
                    "--shard auto: SLURM_ARRAY_TASK_ID is set but ${name} is not (Slurm older than 14.03?); \
                     use --shard \"$SLURM_ARRAY_TASK_ID/N\" instead"
                ))
            })
        };
        Ok(Self {
            min: need("SLURM_ARRAY_TASK_MIN")?,
            max: need("SLURM_ARRAY_TASK_MAX")?,
            step: need("SLURM_ARRAY_TASK_STEP")?.max(1),
            tasks: need("SLURM_ARRAY_TASK_COUNT")?,
        })
    }

    /// Slurm's spec for it, as a user would write `--array=`.
    fn spec(&self) -> String {
        match (self.tasks, self.step) {
            (1, _) => self.min.to_string(),
            (_, 1) => format!("{}-{}", self.min, self.max),
            _ => format!("{}-{}:{}", self.min, self.max, self.step),
        }
    }

    /// Task ids `min, min+step, ..., max`: false for a list such as `0,3,7`, where Slurm
    /// reports only the ends and the count.
    fn is_range(&self) -> bool {
        let span = self.step.checked_mul(self.tasks.saturating_sub(1));
        self.tasks >= 1 && span.is_some() && self.max.checked_sub(self.min) == span
    }
}

/// Shard of Slurm task `id` in a sweep of `count` shards: `id mod count`.
///
/// The shard depends on the task id alone, not on the submission's first id or size, so a
/// task resubmitted on its own (`sbatch --array=2`) runs exactly the shard it had in the
/// full array. The submission must be the whole array (`count` tasks that land on `count`
/// different shards: `0-4`, `1-5`, `0-8:2` for 5 shards) or a single task; anything else
/// could leave shards unrun or run one twice at the same time, so it is refused.
fn slurm_shard(id: usize, count: usize, array: &SlurmArray) -> anyhow::Result<Shard> {
    let shard = Shard {
        index: id % count,
        count,
    };
    if array.tasks == 1 {
        return Ok(shard);
    }
    let fix = format!(
        "submit the whole array with {count} tasks (e.g. --array=0-{}), rerun a single task with --array=ID \
         (it runs the same shard as in the full array), or pass --shard INDEX/{count} explicitly",
        count - 1
    );
    if array.tasks != count {
        return Err(input_error(format!(
            "--shard auto: Slurm runs {} array tasks ({}) but the shard count is {count} \
             (--shard-count or $RUNNER_SHARD_COUNT): the two must agree; {fix}",
            array.tasks,
            array.spec()
        )));
    }
    if !array.is_range() {
        return Err(input_error(format!(
            "--shard auto: Slurm runs a list of {} task ids between {} and {}, and lists are ambiguous \
             (Slurm reports only their ends and count, so whether two tasks share a shard cannot be checked); {fix}",
            array.tasks, array.min, array.max
        )));
    }
    let mut shards: Vec<usize> = (0..array.tasks)
        .map(|k| (array.min + k * array.step) % count)
        .collect();
    shards.sort_unstable();
    shards.dedup();
    check_task_in_array(id, array)?;
    if shards.len() != count {
        return Err(input_error(format!(
            "--shard auto: the tasks of --array={} fall on only {} of {count} shards (shard = task id mod {count}), \
             so some runs would never run; use a step that shares no factor with {count}, or {fix}",
            array.spec(),
            shards.len()
        )));
    }
    Ok(shard)
}

/// The task id must be one of the array's, as Slurm's other variables describe it.
fn check_task_in_array(id: usize, array: &SlurmArray) -> anyhow::Result<()> {
    let on_step = id
        .checked_sub(array.min)
        .is_some_and(|d| d % array.step == 0);
    if id > array.max || !on_step {
        return Err(input_error(format!(
            "--shard auto: SLURM_ARRAY_TASK_ID is {id}, which is not a task of the array Slurm describes (--array={}: SLURM_ARRAY_TASK_MIN, _MAX, _STEP and _COUNT); the variables disagree, so the shard cannot be trusted: pass --shard INDEX/COUNT",
            array.spec()
        )));
    }
    Ok(())
}

/// Keeps the runs whose id contains `filter` (if any) and that belong to `shard` (if any),
/// in their original order. One sort and one pass: a million-run sweep selects in a
/// fraction of a second.
pub fn select<'r>(runs: &'r [Run], filter: Option<&str>, shard: Option<Shard>) -> Vec<&'r Run> {
    let mut in_shard = vec![shard.is_none(); runs.len()];
    if let Some(s) = shard {
        let mut by_id: Vec<usize> = (0..runs.len()).collect();
        by_id.sort_unstable_by(|&a, &b| runs[a].id.cmp(&runs[b].id));
        for (pos, &i) in by_id.iter().enumerate() {
            in_shard[i] = pos % s.count == s.index;
        }
    }
    runs.iter()
        .zip(in_shard)
        .filter(|(r, keep)| *keep && filter.is_none_or(|f| r.id.contains(f)))
        .map(|(r, _)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::error::exit_code;

    fn runs(n: usize) -> Vec<Run> {
        (0..n)
            .map(|i| Run {
                id: format!("seed{i:03}"),
                values: Vec::new(),
                config: RunConfig::default(),
                trial: None,
            })
            .collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn shards_are_disjoint_balanced_and_cover_every_run() {
        for n in [0, 1, 5, 10, 17] {
            for count in [1, 2, 3, 4, 7, 25] {
                let runs = runs(n);
                let mut seen = Vec::new();
                for index in 0..count {
                    let part = select(&runs, None, Some(Shard { index, count }));
                    assert!(part.len() <= n / count + 1 && part.len() >= n / count);
                    seen.extend(part.iter().map(|r| r.id.clone()));
                }
                seen.sort();
                let all: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
                assert_eq!(seen, all, "n={n} count={count}");
            }
        }
    }

    #[test]
    fn shards_follow_id_order_and_keep_sweep_order() {
        // Sweep order differs from id order: shards deal by id, results keep sweep order.
        let ids = ["b", "d", "a", "c", "e"];
        let runs: Vec<Run> = ids
            .iter()
            .map(|id| Run {
                id: id.to_string(),
                values: Vec::new(),
                config: RunConfig::default(),
                trial: None,
            })
            .collect();
        let part = |index| -> Vec<&str> {
            select(&runs, None, Some(Shard { index, count: 2 }))
                .iter()
                .map(|r| r.id.as_str())
                .collect()
        };
        assert_eq!(part(0), ["a", "c", "e"]);
        assert_eq!(part(1), ["b", "d"]);
    }

    #[test]
    fn filter_matches_ids() {
        let runs = runs(12);
        let ids: Vec<_> = select(&runs, Some("seed01"), None)
            .iter()
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(ids, ["seed010", "seed011"]);
    }

    #[test]
    fn bad_shard_arguments_exit_2() {
        for arg in ["3/2", "0/0", "x/4", "1", "-1/3", "2/2"] {
            let err = parse_shard(arg, None, &no_env).expect_err(arg);
            assert_eq!(exit_code(&err), 2);
            assert!(format!("{err}").contains("INDEX/COUNT"), "{err}");
        }
        assert_eq!(
            parse_shard("1/3", None, &no_env).unwrap(),
            Shard { index: 1, count: 3 }
        );
    }

    /// Slurm's environment for task `id` of the submission `--array=min-max:step`.
    fn slurm(id: usize, min: usize, max: usize, step: usize) -> impl Fn(&str) -> Option<String> {
        let tasks = (max - min) / step + 1;
        slurm_list(id, min, max, step, tasks)
    }

    fn slurm_list(
        id: usize,
        min: usize,
        max: usize,
        step: usize,
        tasks: usize,
    ) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            let v = match k {
                "SLURM_JOB_ID" => 1000 + id,
                "SLURM_ARRAY_TASK_ID" => id,
                "SLURM_ARRAY_TASK_MIN" => min,
                "SLURM_ARRAY_TASK_MAX" => max,
                "SLURM_ARRAY_TASK_STEP" => step,
                "SLURM_ARRAY_TASK_COUNT" => tasks,
                _ => return None,
            };
            Some(v.to_string())
        }
    }

    fn auto_err(count: Option<usize>, env: &dyn Fn(&str) -> Option<String>) -> String {
        let err = parse_shard("auto", count, env).expect_err("refused");
        assert_eq!(exit_code(&err), 2, "{err}");
        format!("{err}")
    }

    #[test]
    fn slurm_whole_arrays_cover_every_shard_once() {
        // (first id, step, shards): plain, offset and stepped arrays.
        for (min, step, count) in [
            (0, 1, 5),
            (1, 1, 5),
            (0, 2, 5),
            (3, 3, 7),
            (0, 1, 1),
            (7, 1, 10),
        ] {
            let max = min + step * (count - 1);
            let mut shards: Vec<usize> = (min..=max)
                .step_by(step)
                .map(|id| {
                    let s = parse_shard("auto", Some(count), &slurm(id, min, max, step)).unwrap();
                    assert_eq!(s.count, count);
                    s.index
                })
                .collect();
            shards.sort();
            assert_eq!(
                shards,
                (0..count).collect::<Vec<_>>(),
                "--array={min}-{max}:{step}"
            );
        }
    }

    #[test]
    fn slurm_task_resubmitted_alone_runs_its_own_shard() {
        // Issue 17, case 3: `sbatch --array=2` makes Slurm report an array of one task
        // starting at 2; it must still run shard 2 of 5, not shard 0 of 1 (the whole sweep).
        assert_eq!(
            parse_shard("auto", Some(5), &slurm(2, 2, 2, 1)).unwrap(),
            Shard { index: 2, count: 5 }
        );
        // Any task of any accepted array, rerun alone, gets the shard it had in the array.
        for (min, step, count) in [(0, 1, 5), (1, 1, 5), (0, 2, 5), (3, 3, 7)] {
            let max = min + step * (count - 1);
            for id in (min..=max).step_by(step) {
                let in_array =
                    parse_shard("auto", Some(count), &slurm(id, min, max, step)).unwrap();
                let alone = parse_shard("auto", Some(count), &slurm(id, id, id, 1)).unwrap();
                assert_eq!(in_array, alone, "task {id} of --array={min}-{max}:{step}");
            }
        }
    }

    #[test]
    fn slurm_count_comes_from_the_script_not_from_slurm() {
        let err = auto_err(None, &slurm(2, 0, 4, 1));
        assert!(
            err.contains("RUNNER_SHARD_COUNT") && err.contains("--shard-count"),
            "{err}"
        );
        // $RUNNER_SHARD_COUNT is the script's way to say it; --shard-count wins over it.
        let with_env = |k: &str| match k {
            "RUNNER_SHARD_COUNT" => Some("5".to_string()),
            _ => slurm(2, 0, 4, 1)(k),
        };
        assert_eq!(
            parse_shard("auto", None, &with_env).unwrap(),
            Shard { index: 2, count: 5 }
        );
        assert!(auto_err(Some(4), &with_env)
            .contains("Slurm runs 5 array tasks (0-4) but the shard count is 4"));
    }

    #[test]
    fn slurm_arrays_that_disagree_with_the_count_are_refused() {
        // A 10-task array under a count of 5, and 5 tasks under a count of 10 (which would
        // leave half the sweep unrun), and a partial resubmission of several tasks.
        for (env, count) in [
            (slurm(0, 0, 9, 1), 5),
            (slurm(0, 0, 4, 1), 10),
            (slurm(1, 1, 3, 2), 5),
        ] {
            let err = auto_err(Some(count), &env);
            assert!(
                err.contains(&format!("the shard count is {count}")),
                "{err}"
            );
            assert!(err.contains("--shard INDEX/"), "{err}");
        }
    }

    #[test]
    fn slurm_lists_and_steps_that_collide_are_refused() {
        // Issue 17, case 4: `--array=0,3,7` reports min 0, max 7, step 1, 3 tasks.
        let err = auto_err(Some(3), &slurm_list(3, 0, 7, 1, 3));
        assert!(err.contains("list of 3 task ids between 0 and 7"), "{err}");
        // 0-18:2 under 10 shards: every id is even, so odd shards would never run.
        let err = auto_err(Some(10), &slurm(4, 0, 18, 2));
        assert!(
            err.contains("--array=0-18:2 fall on only 5 of 10 shards"),
            "{err}"
        );
        // Nonsense from the environment is an input error, not a panic.
        assert!(auto_err(Some(3), &slurm_list(3, 7, 0, 1, 3)).contains("list"));
        assert!(auto_err(Some(3), &slurm_list(3, 0, 7, usize::MAX, 3)).contains("list"));
    }

    #[test]
    fn slurm_environment_must_be_a_whole_array() {
        let no_array = |k: &str| (k == "SLURM_JOB_ID").then(|| "17".to_string());
        assert!(auto_err(Some(5), &no_array).contains("not a job array"));
        let old_slurm = |k: &str| (k == "SLURM_ARRAY_TASK_ID").then(|| "1".to_string());
        assert!(auto_err(Some(5), &old_slurm).contains("$SLURM_ARRAY_TASK_MIN is not"));
        let garbage = |k: &str| (k == "SLURM_ARRAY_TASK_ID").then(|| "one".to_string());
        assert!(auto_err(Some(5), &garbage).contains("not a whole number"));
    }

    #[test]
    fn auto_reads_kubernetes() {
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(
            parse_shard("auto", Some(5), &k8s).unwrap(),
            Shard { index: 3, count: 5 }
        );
        let k8s_env = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => Some("0".to_string()),
            "RUNNER_SHARD_COUNT" => Some("2".to_string()),
            _ => None,
        };
        assert_eq!(
            parse_shard("auto", None, &k8s_env).unwrap(),
            Shard { index: 0, count: 2 }
        );
        assert!(auto_err(None, &k8s).contains("--shard-count"));
        assert!(
            auto_err(Some(3), &k8s).contains("set RUNNER_SHARD_COUNT to the Job's `completions`")
        );
        assert!(auto_err(Some(0), &k8s).contains("shard count is 0"));
        assert!(auto_err(None, &no_env).contains("neither Slurm"));
    }
}
