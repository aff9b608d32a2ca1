//! Result files: CSV, PNG, plots, and what the user sees while runs go on.

pub mod atomic;
pub mod cells;
pub mod columns;
pub mod compare;
pub mod curves;
pub mod epochs;
pub mod groups;
pub mod html;
pub mod metrics;
pub mod progress;
pub mod rebuild;
pub mod reconstruction;
pub mod rungs;
pub mod stats;
pub mod stats_md;
pub mod summary;
pub mod tensorboard;

pub use atomic::write_atomic;
