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
            // The operator's own terminal: say the causes too.
            let mut report = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                report.push_str(": ");
                report.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("neo-supportd: {report}");
            std::process::ExitCode::FAILURE
        }
    }
}
