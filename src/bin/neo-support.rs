//! `neo-support`: parse the command line, run it, print, exit 0, 1 (refused)
//! or 2 (usage error, from clap).

use clap::Parser;
use neo_support::cli::{Cli, report, run};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let outcome = run(&cli).await;
    std::process::exit(report(&cli, outcome));
}
