//! Result files: CSV, PNG, plots.
