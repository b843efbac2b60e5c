//! What the `neo-supportd` binary does:
//! - [`args`]: its command line, every flag also read from a
//!   `NEO_SUPPORT_*` environment variable;
//! - `serve`: the `serve` command, its wiring and graceful shutdown;
//! - `admin`: the commands that work on the database, the keys directory
//!   and certificate files directly (`init`, `token`, `keys`, `backup`,
//!   `tls`); only `serve` and `init` ever create a database.

mod admin;
pub mod args;
mod serve;

pub use args::{Cli, LogFormat};
use args::{Command, TlsCommand};
pub use serve::build_mailer;

use crate::error::{Error, Result};
use crate::signer::keys::KeyError;

/// Sets up logging to stderr: `NEO_SUPPORT_LOG` filters (default `info`).
/// PostgreSQL's notices (such as `relation "_sqlx_migrations" already
/// exists, skipping` at every start) show at warn and above unless the
/// filter names `sqlx` itself; colours only when stderr is a terminal.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let configured = std::env::var("NEO_SUPPORT_LOG").unwrap_or_default();
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("NEO_SUPPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if !configured.contains("sqlx")
        && let Ok(quiet) = "sqlx::postgres::notice=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs a parsed command line. Every file and directory it creates (the
/// SQLite database and its -wal/-shm files, backups, keys) is for this
/// user alone, whatever umask it was started with.
pub async fn run(cli: Cli) -> Result<()> {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    match cli.command {
        Command::Serve(args) => serve::run_serve(*args).await,
        Command::Init { database } => admin::init(&database).await,
        Command::Token(command) => admin::run_token(command).await,
        Command::Keys(command) => admin::run_keys(command),
        Command::Tls(TlsCommand::CreateDevCert { host, out }) => {
            admin::create_dev_cert(&host, &out)
        }
        Command::Backup { to, database } => admin::backup(&to, &database).await,
    }
}

pub(crate) fn key_error(error: KeyError) -> Error {
    Error::invalid("keys_dir", error.to_string())
}
