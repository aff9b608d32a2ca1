//! What each command-line mode does, kept out of `main.rs` so tests can call it.

use crate::cli::Args;

/// Runs the command line; the error decides the exit code (see [`crate::error::exit_code`]).
pub fn run(_args: Args) -> anyhow::Result<()> {
    Ok(())
}
