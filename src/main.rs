use clap::Parser;

fn main() {
    let args = runner::cli::Args::parse();
    if let Err(err) = runner::app::run(args) {
        eprintln!("error: {err:#}");
        std::process::exit(runner::error::exit_code(&err));
    }
}
