//! Result files: CSV, PNG, plots, and what the user sees while runs go on.

pub mod atomic;
pub mod curves;
pub mod progress;

pub mod summary;
