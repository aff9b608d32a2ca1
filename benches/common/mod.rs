//! What the benchmarks share: CPU clocks that stay meaningful on a busy machine, the
//! median of rounds, and an epoch of training steps timed alone.
#![allow(dead_code)]

/// Seconds of CPU time `clock` has counted (a thread's or the whole process's).
fn cpu_seconds(clock: libc::clockid_t, name: &str) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({name}) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Seconds of CPU time used by the calling thread so far.
pub fn thread_cpu_seconds() -> f64 {
    cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID")
}

/// Seconds of CPU time used by the whole process so far, all its threads.
pub fn process_cpu_seconds() -> f64 {
    cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID")
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One epoch of `model`'s steps on a fresh shuffle of `batches`: its wall seconds.
pub fn timed_epoch(
    model: &mut runner::model::cpu::CpuModel,
    batches: &mut runner::train::Batches,
    batch: &mut runner::train::batches::Batch,
) -> anyhow::Result<f64> {
    use runner::model::Trainer;
    batches.shuffle();
    let started = std::time::Instant::now();
    for b in 0..batches.per_epoch() {
        batches.fill(b, batch);
        model.step(&batch.noisy, &batch.clean)?;
    }
    model.take_costs()?;
    Ok(started.elapsed().as_secs_f64())
}

/// A model's layer widths as the tables show them: `784-256-784`.
pub fn shape(hidden: &[usize]) -> String {
    runner::model::widths(784, hidden)
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}
