//! What the `neo-supportd` binary does: its command line (every flag also
//! read from a `NEO_SUPPORT_*` environment variable), logging, the `serve`
//! command with graceful shutdown, and the bootstrap `token` commands that
//! work on the database directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::clock::{Clock, SystemClock};
use crate::domain::token::{Role, TokenSecret, check_token_name};
use crate::error::{Error, Result};
use crate::grpc::gate::RateLimits;
use crate::grpc::{AppState, Settings};
use crate::mail::{Mailer, SmtpSettings, WorkerSettings, run_worker};
use crate::server::{ConnectionLimits, ServeOptions, TlsFiles, serve};
use crate::signer::keys::{self, KeyError, Keyring};
use crate::store::{self, DEFAULT_DATABASE_URL, DatabaseOptions, NewToken, Store};

/// neo-supportd: the neo-support gRPC server.
#[derive(Debug, Parser)]
#[command(name = "neo-supportd", version, about)]
pub struct Cli {
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "NEO_SUPPORT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// neo-supportd's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve gRPC until SIGINT or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Manage access tokens directly in the database (for bootstrapping).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the signing keys in the keys directory.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// TLS certificates for development and small deployments.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Write a consistent copy of a SQLite database while the server runs
    /// (PostgreSQL: use pg_dump).
    Backup {
        /// The backup file to create (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// `tls` commands.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Write a small CA (ca.crt, ca.key) and a server certificate for
    /// --host, localhost and 127.0.0.1 signed by it (server.crt,
    /// server.key); private keys get mode 0600. Prints the commands that
    /// use them.
    CreateDevCert {
        /// The name clients use to reach the server (DNS name or IP).
        #[arg(long)]
        host: String,
        /// The directory to write into (created if missing; existing
        /// files are never overwritten).
        #[arg(long, default_value = "tls")]
        out: PathBuf,
    },
}

/// Where the signing keys are.
#[derive(Debug, Clone, Args)]
pub struct KeysDirArgs {
    /// The keys directory: PKCS#8 private keys (mode 0600) and their public
    /// keys.
    #[arg(long, env = "NEO_SUPPORT_KEYS_DIR", default_value = "keys")]
    pub keys_dir: PathBuf,
}

/// `keys` commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a signing key; it signs when it is the first one.
    Generate {
        /// The keys directory.
        #[command(flatten)]
        dir: KeysDirArgs,
    },
    /// List the signing keys and their status.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The keys directory.
        #[command(flatten)]
        dir: KeysDirArgs,
    },
    /// Create a new signing key that signs from now on; the old ones keep
    /// verifying. Restart the servers to pick it up.
    Rotate {
        /// The keys directory.
        #[command(flatten)]
        dir: KeysDirArgs,
    },
    /// Retire a signing key from verification too (not the active one).
    Retire {
        /// The key's id (k4.pid) or file name.
        key: String,
        /// The keys directory.
        #[command(flatten)]
        dir: KeysDirArgs,
    },
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (created if missing) or
    /// `postgres://USER@HOST/DB`.
    #[arg(long, env = "NEO_SUPPORT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Most database connections this process opens.
    #[arg(
        long,
        env = "NEO_SUPPORT_DATABASE_MAX_CONNECTIONS",
        default_value_t = 8
    )]
    pub database_max_connections: u32,
    /// Seconds a call waits for a database connection before it answers
    /// UNAVAILABLE.
    #[arg(long, env = "NEO_SUPPORT_DATABASE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_timeout_secs: u64,
}

impl DatabaseArgs {
    /// Connects and runs the migrations.
    pub async fn connect(&self) -> Result<Arc<dyn Store>> {
        let options = DatabaseOptions {
            max_connections: self.database_max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.database_timeout_secs.max(1)),
        };
        store::connect(&self.database_url, &options).await
    }
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NEO_SUPPORT_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// TLS certificate chain (PEM file); needs --tls-key.
    #[arg(long, env = "NEO_SUPPORT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM file); needs --tls-cert.
    #[arg(long, env = "NEO_SUPPORT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds the calls in flight get to finish after SIGINT or SIGTERM.
    #[arg(long, env = "NEO_SUPPORT_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Seconds between the health service's database checks.
    #[arg(long, env = "NEO_SUPPORT_HEALTH_INTERVAL_SECS", default_value_t = 2)]
    pub health_interval_secs: u64,
    /// The signing keys.
    #[command(flatten)]
    pub keys: KeysDirArgs,
    /// Refuse to start when the keys directory holds no key, instead of
    /// creating a development key (for production).
    #[arg(long, env = "NEO_SUPPORT_REQUIRE_SIGNING_KEY")]
    pub require_signing_key: bool,
    /// Reissues of one license signed at once per rolling 365 days; more
    /// wait for staff review.
    #[arg(long, env = "NEO_SUPPORT_REISSUES_BEFORE_REVIEW", default_value_t = 2)]
    pub reissues_before_review: u32,
    /// Seconds (0-60) the server answers token checks, key records and the
    /// calendar from what it last read: a closure added through another
    /// replica takes effect within this time. A revoked token is refused
    /// within a second on every server (PostgreSQL LISTEN/NOTIFY, SQLite a
    /// poll every 250 ms), and never later than this time. 0 reads the
    /// database on every call.
    #[arg(
        long,
        env = "NEO_SUPPORT_CACHE_SECS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(0..=60)
    )]
    pub cache_secs: u64,
    /// Calls per second one token may make on average (0: no limit).
    #[arg(long, env = "NEO_SUPPORT_RATE_LIMIT_PER_TOKEN", default_value_t = 50)]
    pub rate_limit_per_token: u32,
    /// Calls one token may make at once above --rate-limit-per-token.
    #[arg(long, env = "NEO_SUPPORT_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Failed authentications per minute from one client address (IPv4, or
    /// an IPv6 /64) before it is refused without a database look-up until
    /// its allowance is back (0: no limit).
    #[arg(
        long,
        env = "NEO_SUPPORT_AUTH_FAILURES_PER_MINUTE",
        default_value_t = 30
    )]
    pub auth_failures_per_minute: u32,
    /// Calls open at once on one connection (HTTP/2 streams).
    #[arg(long, env = "NEO_SUPPORT_MAX_CONCURRENT_STREAMS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_concurrent_streams: u32,
    /// Seconds a call may take before it is answered DEADLINE_EXCEEDED
    /// (a shorter grpc-timeout from the client wins).
    #[arg(long, env = "NEO_SUPPORT_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// Seconds between HTTP/2 pings on a connection; one not answered
    /// within --keepalive-timeout-secs closes it.
    #[arg(long, env = "NEO_SUPPORT_KEEPALIVE_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub keepalive_interval_secs: u64,
    /// Seconds the server waits for the answer to a ping.
    #[arg(long, env = "NEO_SUPPORT_KEEPALIVE_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keepalive_timeout_secs: u64,
    /// The largest header list a client may send, in bytes.
    #[arg(long, env = "NEO_SUPPORT_MAX_HEADER_LIST_BYTES", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u32).range(1024..=1024 * 1024))]
    pub max_header_list_bytes: u32,
    /// Streams a client may open and reset before the server has answered
    /// them; past it the connection is closed (HTTP/2 rapid reset).
    #[arg(long, env = "NEO_SUPPORT_MAX_PENDING_RESET_STREAMS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_pending_reset_streams: u64,
    /// Inquiries one contract may submit per JST calendar day; the next is
    /// refused RESOURCE_EXHAUSTED `RATE_LIMITED` until 00:00 JST.
    #[arg(
        long,
        env = "NEO_SUPPORT_INQUIRIES_PER_DAY",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub inquiries_per_day: u32,
    /// Serve Prometheus metrics on this address (off when not given).
    #[arg(long, env = "NEO_SUPPORT_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The SMTP server for the outbox: `smtp://[USER@]HOST[:PORT]`
    /// (STARTTLS required), `smtps://[USER@]HOST[:PORT]`,
    /// `smtp://HOST[:PORT]?tls=opportunistic` (STARTTLS when offered), or
    /// `smtp://HOST:PORT?tls=none` for a local relay. A user name with
    /// `tls=opportunistic` or `tls=none` is refused unless the host is a
    /// loopback address. Without it, mail stays in the outbox.
    #[arg(long, env = "NEO_SUPPORT_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// A file holding the SMTP password.
    #[arg(long, env = "NEO_SUPPORT_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// The From address of every mail.
    #[arg(
        long,
        env = "NEO_SUPPORT_MAIL_FROM",
        default_value = "neo-support@localhost"
    )]
    pub mail_from: String,
    /// Sending attempts before a mail is marked failed for staff.
    #[arg(long, env = "NEO_SUPPORT_SMTP_MAX_ATTEMPTS", default_value_t = 8)]
    pub smtp_max_attempts: u32,
    /// Seconds before the first retry of a mail; each next retry doubles.
    #[arg(long, env = "NEO_SUPPORT_SMTP_RETRY_SECS", default_value_t = 30)]
    pub smtp_retry_secs: u64,
}

/// `token` commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a staff token and print it once.
    Create {
        /// Create a staff token (customer tokens are created through the
        /// server by staff).
        #[arg(long, required = true)]
        staff: bool,
        /// A name that says whose token it is.
        #[arg(long)]
        name: String,
        /// Days until the token expires (1-3650); never when not given.
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u16).range(1..=3650))]
        expires_in: Option<u16>,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by its id; running servers refuse it within a second.
    Revoke {
        /// The token's id, from `token list`.
        id: i64,
        /// Why (kept with the token and in the audit trail).
        #[arg(long)]
        reason: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Sets up logging to stderr: `NEO_SUPPORT_LOG` filters (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NEO_SUPPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
        Command::Serve(args) => run_serve(*args).await,
        Command::Token(command) => run_token(command).await,
        Command::Keys(command) => run_keys(command),
        Command::Tls(TlsCommand::CreateDevCert { host, out }) => create_dev_cert(&host, &out),
        Command::Backup { to, database } => {
            let store = database.connect().await?;
            store.backup_to(&to).await?;
            eprintln!("backed up to {}", to.display());
            Ok(())
        }
    }
}

async fn run_serve(args: ServeArgs) -> Result<()> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert_pem: read_file("tls_cert", cert)?,
            key_pem: read_secret_file("tls_key", key)?,
        }),
        _ => None,
    };
    let mailer = build_mailer(&args)?;
    let keyring = load_keyring(&args)?;
    let store = args.database.connect().await?;
    tracing::info!(
        backend = store.backend(),
        "database ready, migrations applied"
    );
    let listener = TcpListener::bind(args.listen).await.map_err(|error| {
        Error::invalid(
            "listen",
            format!("cannot listen on {}: {error}", args.listen),
        )
    })?;
    let local = listener.local_addr().map_err(Error::internal)?;
    if tls.is_none() && !local.ip().is_loopback() {
        tracing::warn!(%local, "serving PLAINTEXT gRPC on a non-loopback address: tokens cross the network unencrypted; give --tls-cert and --tls-key");
    }
    tracing::info!(%local, tls = tls.is_some(), "neo-supportd listening");

    let state = AppState::new(
        store,
        Arc::new(SystemClock),
        Arc::new(keyring),
        Settings {
            reissues_before_review: i64::from(args.reissues_before_review),
            cache_ttl: Duration::from_secs(args.cache_secs),
            rate_limits: RateLimits {
                per_token_per_second: args.rate_limit_per_token,
                per_token_burst: args.rate_limit_burst,
                auth_failures_per_minute: args.auth_failures_per_minute,
            },
            inquiries_per_day: i64::from(args.inquiries_per_day),
        },
    );
    let options = ServeOptions {
        tls,
        health_interval: Duration::from_secs(args.health_interval_secs.max(1)),
        limits: ConnectionLimits {
            max_concurrent_streams: args.max_concurrent_streams,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            keepalive_interval: Duration::from_secs(args.keepalive_interval_secs),
            keepalive_timeout: Duration::from_secs(args.keepalive_timeout_secs),
            max_header_list_bytes: args.max_header_list_bytes,
            max_pending_reset_streams: usize::try_from(args.max_pending_reset_streams)
                .unwrap_or(usize::MAX),
        },
    };
    let gauges = match args.metrics_listen {
        Some(address) => {
            crate::telemetry::install_prometheus(address)
                .map_err(|message| Error::invalid("metrics_listen", message))?;
            tracing::info!(%address, "Prometheus metrics listening");
            Some(tokio::spawn(crate::telemetry::refresh_gauges(
                state.store.clone(),
                state.clock.clone(),
                Duration::from_secs(10),
            )))
        }
        None => None,
    };
    let (worker_stop, worker_stopped) = tokio::sync::watch::channel(false);
    let worker = match mailer {
        Some(mailer) => {
            let worker_settings = WorkerSettings {
                max_attempts: i64::from(args.smtp_max_attempts.max(1)),
                retry_base: Duration::from_secs(args.smtp_retry_secs.max(1)),
                ..WorkerSettings::default()
            };
            Some(tokio::spawn(run_worker(
                state.store.clone(),
                Arc::new(mailer),
                state.clock.clone(),
                worker_settings,
                worker_stopped,
            )))
        }
        None => None,
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, options, async {
        let _ = stop_rx.await;
    }));
    shutdown_signal().await;
    tracing::info!(
        grace_secs = args.shutdown_grace_secs,
        "shutting down: finishing calls in flight"
    );
    let _ = stop_tx.send(());
    let _ = worker_stop.send(true);
    match tokio::time::timeout(Duration::from_secs(args.shutdown_grace_secs), server).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => return Err(Error::internal(join)),
        Err(_) => tracing::warn!("grace period over: calls still in flight were cut off"),
    }
    if let Some(gauges) = gauges {
        gauges.abort();
    }
    if let Some(worker) = worker {
        let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The outbox's mailer, checked before anything listens: an SMTP URL that
/// would send credentials unencrypted stops the start. `None` without an
/// SMTP URL (mail then stays in the outbox).
pub fn build_mailer(args: &ServeArgs) -> Result<Option<Mailer>> {
    let Some(url) = &args.smtp_url else {
        tracing::warn!("no SMTP URL (--smtp-url / NEO_SUPPORT_SMTP_URL): mail stays in the outbox");
        return Ok(None);
    };
    let password = match &args.smtp_password_file {
        Some(path) => Some(
            String::from_utf8(read_secret_file("smtp_password_file", path)?)
                .map_err(|_| Error::invalid("smtp_password_file", "not UTF-8 text"))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        ),
        None => None,
    };
    let settings = SmtpSettings {
        url: url.clone(),
        password,
        from: args.mail_from.clone(),
    };
    let mailer = Mailer::new(&settings).map_err(|message| Error::invalid("smtp_url", message))?;
    tracing::info!(smtp = %redact_url(url), "outbox worker sending mail over SMTP");
    Ok(Some(mailer))
}

fn create_dev_cert(host: &str, out: &std::path::Path) -> Result<()> {
    let files = crate::devcert::create(host, out)
        .map_err(|error| Error::invalid("host", error.to_string()))?;
    let host = host.trim();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let listen = if loopback {
        "127.0.0.1:50051"
    } else {
        "0.0.0.0:50051"
    };
    let authority = if host.contains(':') {
        format!("[{host}]:50051")
    } else {
        format!("{host}:50051")
    };
    eprintln!(
        "wrote {} and {} (the CA), {} and {} (the server); private keys are mode 0600",
        files.ca_cert.display(),
        files.ca_key.display(),
        files.server_cert.display(),
        files.server_key.display(),
    );
    eprintln!("start the server with the server certificate:");
    println!(
        "neo-supportd serve --listen {listen} --tls-cert {} --tls-key {}",
        files.server_cert.display(),
        files.server_key.display(),
    );
    eprintln!("and let clients trust the CA (copy ca.crt to them; never ca.key):");
    println!(
        "neo-support --server https://{authority} --ca-cert {} keys public",
        files.ca_cert.display(),
    );
    Ok(())
}

fn key_error(error: KeyError) -> Error {
    Error::invalid("keys_dir", error.to_string())
}

/// Loads the signing keys; with none at all, creates a development key
/// and says so loudly, unless keys are required.
fn load_keyring(args: &ServeArgs) -> Result<Keyring> {
    let dir = &args.keys.keys_dir;
    if args.require_signing_key {
        let keyring = Keyring::load(dir).map_err(key_error)?;
        tracing::info!(key_id = keyring.active_id(), "signing key loaded");
        return Ok(keyring);
    }
    if !args.listen.ip().is_loopback() {
        // A development key only for a server nobody else can reach.
        return match Keyring::load(dir) {
            Ok(keyring) => {
                tracing::info!(key_id = keyring.active_id(), "signing key loaded");
                Ok(keyring)
            }
            Err(KeyError::NoKey(_)) => Err(Error::invalid(
                "keys_dir",
                format!(
                    "no signing key in {dir}, and {listen} is not a loopback address: a development key is \
                     created only for a server listening on 127.0.0.1 or ::1. Create a signing key with \
                     `neo-supportd keys generate --keys-dir {dir}`, keep its .private.pem file (mode 0600) safe, \
                     and start the server with --require-signing-key",
                    dir = dir.display(),
                    listen = args.listen,
                ),
            )),
            Err(error) => Err(key_error(error)),
        };
    }
    let (keyring, created) = Keyring::load_or_create(dir).map_err(key_error)?;
    if let Some(created) = created {
        tracing::warn!(
            key_id = %created.id,
            dir = %dir.display(),
            "NO SIGNING KEY WAS FOUND: created a DEVELOPMENT signing key. Do not use it in production: \
             generate and protect a real key with `neo-supportd keys generate`, and start with --require-signing-key"
        );
    } else {
        tracing::info!(key_id = keyring.active_id(), "signing key loaded");
    }
    Ok(keyring)
}

fn run_keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Generate { dir } => {
            let info = keys::generate(&dir.keys_dir, false).map_err(key_error)?;
            println!("{}\t{}\t{}", info.id, info.status.as_str(), info.name);
        }
        KeysCommand::Rotate { dir } => {
            let info = keys::generate(&dir.keys_dir, true).map_err(key_error)?;
            eprintln!("the new key signs from the next server start; the old keys keep verifying");
            println!("{}\t{}\t{}", info.id, info.status.as_str(), info.name);
        }
        KeysCommand::Retire { key, dir } => {
            let info = keys::retire(&dir.keys_dir, &key).map_err(key_error)?;
            println!("{}\t{}\t{}", info.id, info.status.as_str(), info.name);
        }
        KeysCommand::List { json, dir } => {
            let infos = keys::list(&dir.keys_dir).map_err(key_error)?;
            if json {
                let rows: Vec<_> = infos
                    .iter()
                    .map(|k| serde_json::json!({"id": k.id, "status": k.status.as_str(), "name": k.name, "paserk": k.paserk}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("ID\tSTATUS\tNAME");
                for k in infos {
                    println!("{}\t{}\t{}", k.id, k.status.as_str(), k.name);
                }
            }
        }
    }
    Ok(())
}

/// An SMTP URL without its user name, for the log.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "<unparsable>".into(),
    }
}

fn read_file(field: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|error| Error::invalid(field, format!("cannot read {}: {error}", path.display())))
}

/// Reads a secret (the TLS private key, the SMTP password), refusing a
/// file that group or others may read, as signing keys are refused.
fn read_secret_file(field: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    keys::check_private_mode(path).map_err(|error| Error::invalid(field, error.to_string()))?;
    read_file(field, path)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM; stopping on SIGINT only");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn run_token(command: TokenCommand) -> Result<()> {
    let now = SystemClock.now();
    let at =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match command {
        TokenCommand::Create {
            name,
            expires_in,
            database,
            ..
        } => {
            check_token_name(&name).map_err(|message| Error::invalid("name", message))?;
            let store = database.connect().await?;
            let secret = TokenSecret::generate();
            let hash = secret.hash();
            let token = NewToken {
                name: &name,
                role: &Role::Staff,
                token_hash: &hash,
                expires_at: expires_in.map(|days| now + chrono::Duration::days(i64::from(days))),
                created_by: None,
            };
            let record = store
                .create_access_token(&token, now, &crate::store::Audit::daemon())
                .await?;
            let expiry = record
                .expires_at
                .map(|expires| format!(", expires {}", at(expires)))
                .unwrap_or_default();
            eprintln!(
                "created staff token {} (id {}{expiry}); it is shown only this once:",
                record.name, record.id
            );
            println!("{}", secret.expose());
        }
        TokenCommand::List { json, database } => {
            let store = database.connect().await?;
            let tokens = store.list_tokens().await?;
            if json {
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id,
                            "name": t.name,
                            "role": t.role.kind(),
                            "contract_id": match &t.role { Role::Customer { contract_id } => Some(contract_id), Role::Staff => None },
                            "created_by": t.created_by,
                            "created_at": at(t.created_at),
                            "expire_time": t.expires_at.map(at),
                            "revoked_at": t.revoked_at.map(at),
                            "revoke_reason": t.revoke_reason,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("ID\tROLE\tNAME\tCREATED BY\tCREATED\tEXPIRES\tREVOKED\tREASON");
                let dash = || "-".to_owned();
                for t in tokens {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.role.kind(),
                        t.name,
                        t.created_by.map(|id| id.to_string()).unwrap_or_else(dash),
                        at(t.created_at),
                        t.expires_at.map(at).unwrap_or_else(dash),
                        t.revoked_at.map(at).unwrap_or_else(dash),
                        t.revoke_reason.unwrap_or_else(dash),
                    );
                }
            }
        }
        TokenCommand::Revoke {
            id,
            reason,
            database,
        } => {
            let reason = reason.trim();
            if reason.is_empty()
                || reason.chars().count() > 100
                || reason.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    "reason",
                    "1 to 100 characters, no control characters",
                ));
            }
            let store = database.connect().await?;
            if store
                .revoke_access_token(id, reason, now, &crate::store::Audit::daemon())
                .await?
                .is_none()
            {
                return Err(Error::NotFound {
                    reason: "TOKEN_NOT_FOUND",
                    message: format!("no token in use has id {id}"),
                });
            }
            eprintln!("revoked token {id}; running servers refuse it within a second");
        }
    }
    Ok(())
}
