//! The command line of `neo-supportd`: every flag is also read from a
//! `NEO_SUPPORT_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Result;
use crate::store::{self, DEFAULT_DATABASE_URL, DatabaseOptions, Store};

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
    /// Serve gRPC until SIGINT or SIGTERM (creates a missing SQLite
    /// database, with a warning naming its absolute path).
    Serve(Box<ServeArgs>),
    /// Create the database if it is missing (SQLite; a PostgreSQL database
    /// is made with `createdb`) and apply the migrations. The other
    /// commands never create a database.
    Init {
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
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
    /// Database URL: `sqlite://PATH` (created by `serve` if missing, with a
    /// warning; never by the other commands) or
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
    /// Connects and runs the migrations; `create` says whether a missing
    /// SQLite file is created (`serve`) or refused (the admin commands).
    pub async fn connect(&self, create: bool) -> Result<Arc<dyn Store>> {
        let options = DatabaseOptions {
            max_connections: self.database_max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.database_timeout_secs.max(1)),
            create_if_missing: create,
        };
        store::connect(&self.database_url, &options).await
    }

    /// Where the database is, for messages: an absolute path or
    /// `postgres://HOST:PORT/DB`.
    pub fn describe(&self) -> String {
        store::describe_database(&self.database_url)
    }
}

/// The `--renewal-reminders` thresholds, in days before the end; empty
/// when reminders are off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderDays(pub Vec<u32>);

fn parse_reminder_days(text: &str) -> std::result::Result<ReminderDays, String> {
    crate::domain::reminders::parse_days(text).map(ReminderDays)
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Debug builds only: run the server's clock as if it had started at
    /// this RFC 3339 instant (README's dated examples in tests).
    #[cfg(debug_assertions)]
    #[arg(long, hide = true)]
    pub debug_start_at: Option<String>,
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
    /// Days a provisional key is valid: a reissue that waits for staff
    /// review gets one at once, bound to the requested fingerprint, with
    /// the PASETO `exp` claim. 0 turns provisional keys off.
    #[arg(
        long,
        env = "NEO_SUPPORT_PROVISIONAL_KEY_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(0..=365)
    )]
    pub provisional_key_days: u32,
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
    /// Serve the business calendar as an iCalendar feed on this address,
    /// plain HTTP: `GET /calendar.ics?from=YEAR&to=YEAR` (off when not
    /// given; it needs no token).
    #[arg(long, env = "NEO_SUPPORT_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Renewal reminders: days before the end of a support period that
    /// the contact is reminded, e.g. `60,30,7` (each 1-365); one more
    /// follows when support has ended and a last one 30 days before only
    /// re-continuation can be bought. Empty turns reminders off.
    #[arg(
        long,
        env = "NEO_SUPPORT_RENEWAL_REMINDERS",
        default_value = "60,30,7",
        value_parser = parse_reminder_days
    )]
    pub renewal_reminders: ReminderDays,
    /// Event watchers (WatchEvents) one token may have open at once.
    #[arg(long, env = "NEO_SUPPORT_WATCHERS_PER_TOKEN", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub watchers_per_token: u32,
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
