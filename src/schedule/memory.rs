//! Memory a run needs, estimated from its settings before it starts.
//!
//! An allocation that fails aborts the whole process (Rust cannot unwind from it), so a
//! run too big for the machine must be refused before it allocates, and concurrent runs
//! must not together take more than there is: the scheduler starts a run only when its
//! estimate fits next to those already running.

use std::sync::{Condvar, Mutex};

use crate::config::RunConfig;
use crate::data::PIXELS;

/// Test images evaluated per forward pass (as in `train`).
const TEST_CHUNK: u128 = 1000;
/// What a run holds besides its tensors: thread stacks, allocator slack, small buffers.
const FIXED: u128 = 16 << 20;

/// Bytes a run needs at its peak, from its widths and batch size, on top of the shared
/// data set. An over-estimate: the measured peaks of 784-8192-784 and
/// 784-4096-4096-4096-4096-784 runs (batch 100) were 66% and 76% of it. Saturates
/// instead of overflowing.
pub fn estimate(config: &RunConfig) -> u64 {
    let t = &config.train;
    let dim = PIXELS as u128;
    let mut widths = vec![dim];
    widths.extend(t.hidden.iter().map(|&w| w as u128));
    widths.extend(t.hidden.iter().rev().skip(1).map(|&w| w as u128));
    widths.push(dim);
    let params: u128 = widths
        .windows(2)
        .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
        .fold(0, u128::saturating_add);
    let units: u128 = widths.iter().fold(0, |a, &w| a.saturating_add(w));
    let batch = t.batch_size as u128;
    // Weights, gradients and Adam's two moments, 4 bytes each.
    let weights = params.saturating_mul(4 * 4);
    // Activations kept for the backward pass and their gradients, a few copies each.
    let steps = batch.saturating_mul(units).saturating_mul(4 * 4);
    // The test set's forward pass, one chunk at a time, and its inputs.
    let test = TEST_CHUNK.saturating_mul(units).saturating_mul(4 * 2);
    let total = FIXED
        .saturating_add(weights)
        .saturating_add(steps)
        .saturating_add(test);
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// Bytes this process may still allocate: the machine's available memory, or its
/// cgroup's (a container's limit) where that is less. `None` where the platform does not
/// say.
pub fn available() -> Option<u64> {
    let mut system = sysinfo::System::new().ok()?;
    system.refresh_memory();
    let machine = system.available_memory();
    let cgroup = system.cgroup_limits().map(|c| c.free_memory);
    match (machine, cgroup) {
        (0, None) => None,
        (0, Some(c)) => Some(c),
        (m, Some(c)) => Some(m.min(c)),
        (m, None) => Some(m),
    }
}

/// "1.5 GB", "300 MB".
pub fn show(bytes: u64) -> String {
    let gb = bytes as f64 / 1e9;
    if gb >= 1000.0 {
        format!("{:.0} GB", gb)
    } else if gb >= 1.0 {
        format!("{gb:.1} GB")
    } else {
        format!("{:.0} MB", bytes as f64 / 1e6)
    }
}

/// Memory shared by the runs of one process: a run starts only when its estimate fits
/// next to the runs already going, or when nothing else runs.
pub struct Budget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Memory taken from a [`Budget`], given back on drop.
pub struct Grant<'b> {
    budget: &'b Budget,
    bytes: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits until `bytes` fit (at once when nothing else holds any).
    pub fn take(&self, bytes: u64) -> Grant<'_> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        while *used > 0 && used.saturating_add(bytes) > self.limit {
            used = self.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used = used.saturating_add(bytes);
        Grant {
            budget: self,
            bytes,
        }
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(self.bytes);
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hidden: Vec<usize>, batch_size: usize) -> RunConfig {
        let mut c = RunConfig::default();
        c.train.hidden = hidden;
        c.train.batch_size = batch_size;
        c
    }

    #[test]
    fn estimate_grows_with_the_model_and_never_overflows() {
        let small = estimate(&config(vec![256], 100));
        assert!(small > 16 << 20 && small < 100 << 20, "{small}");
        assert!(estimate(&config(vec![256, 128], 100)) > small);
        assert!(estimate(&config(vec![256], 1000)) > small);
        // 784 x 1e8 weights, twice: over a terabyte, which no run may try to allocate.
        assert!(estimate(&config(vec![100_000_000], 100)) > 1_000_000_000_000);
        // Measured: 209 MB above the data set for 784-8192-784.
        let measured = 209_000_000;
        let e = estimate(&config(vec![8192], 100));
        assert!(e > measured && e < 2 * measured, "{e}");
        assert_eq!(estimate(&config(vec![usize::MAX; 3], usize::MAX)), u64::MAX);
    }

    #[test]
    fn budget_lets_a_run_wait_until_memory_is_given_back() {
        let budget = Budget::new(10);
        let first = budget.take(6);
        let started = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _second = budget.take(6);
                started.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
            drop(first);
        });
        assert!(started.load(std::sync::atomic::Ordering::SeqCst));
        // Alone, even an over-large run is let through (it was checked up front).
        drop(budget.take(100));
    }
}
