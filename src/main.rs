//! The `runner` binary: parses the command line and hands it to [`runner::app::run`].
use clap::Parser;

fn main() {
    let args = runner::cli::Args::parse();
    if let Err(err) = runner::app::run(args) {
        // A closed stderr must not turn an error into a panic.
        let message = runner::error::printable(&format!("{err:#}"));
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("error: {message}\n").as_bytes(),
        );
        std::process::exit(runner::error::exit_code(&err));
    }
}
