//! Result files: CSV, PNG, plots.

pub mod atomic;
pub mod metrics;
pub mod reconstruction;

pub use atomic::write_atomic;
