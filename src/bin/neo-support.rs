//! `neo-support`: parse the command line, run it, print, exit 0, 1 (refused)
//! or 2 (usage error, from clap).

use neo_support::cli::{Cli, report, run};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::from_env_args();
    let outcome = run(&cli).await;
    std::process::exit(report(&cli, outcome));
}
