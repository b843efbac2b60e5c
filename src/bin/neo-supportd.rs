//! `neo-supportd`: parse the command line, set up logging, run.

use clap::Parser;
use neo_support::daemon::{Cli, init_tracing, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "neo-supportd failed");
            eprintln!("neo-supportd: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
