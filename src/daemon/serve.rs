//! `neo-supportd serve`: reads the keys and secrets, connects the store,
//! starts the listeners and the outbox worker, and shuts down gracefully.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::clock::{Clock, SystemClock};
use crate::domain::Backlog;
use crate::error::{Error, Result};
use crate::grpc::gate::RateLimits;
use crate::grpc::{AppState, Settings};
use crate::mail::{Mailer, SmtpSettings, WorkerSettings, run_worker};
use crate::server::{ConnectionLimits, ServeOptions, TlsFiles, serve};
use crate::signer::keys::{self, KeyError, Keyring};
use crate::store::Store;
use crate::telemetry::GaugeSource;

use super::args::ServeArgs;
use super::key_error;

pub(super) async fn run_serve(args: ServeArgs) -> Result<()> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert_pem: read_file("tls_cert", cert)?,
            key_pem: read_secret_file("tls_key", key)?,
        }),
        _ => None,
    };
    let mailer = build_mailer(&args)?;
    let keyring = load_keyring(&args)?;
    let store = args.database.connect(true).await?;
    tracing::info!(
        backend = store.backend(),
        database = %args.database.describe(),
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
    let feed_listener = match args.http_listen {
        Some(address) => {
            let feed = TcpListener::bind(address).await.map_err(|error| {
                Error::invalid(
                    "http_listen",
                    format!("cannot listen on {address}: {error}"),
                )
            })?;
            let feed_local = feed.local_addr().map_err(Error::internal)?;
            tracing::info!(local = %feed_local, "calendar feed listening (GET /calendar.ics)");
            Some(feed)
        }
        None => None,
    };
    tracing::info!(%local, tls = tls.is_some(), "neo-supportd listening");

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    #[cfg(debug_assertions)]
    let clock: Arc<dyn Clock> = match &args.debug_start_at {
        Some(at) => {
            let at = chrono::DateTime::parse_from_rfc3339(at)
                .map_err(|_| Error::invalid("debug_start_at", "not an RFC 3339 instant"))?;
            tracing::warn!(%at, "debug build: the server's clock runs as if started at {at}");
            Arc::new(crate::clock::OffsetClock::starting_at(at.to_utc()))
        }
        None => clock,
    };
    let state = AppState::new(
        store,
        clock,
        Arc::new(keyring),
        Settings {
            reissues_before_review: i64::from(args.reissues_before_review),
            provisional_key_days: i64::from(args.provisional_key_days),
            cache_ttl: Duration::from_secs(args.cache_secs),
            rate_limits: RateLimits {
                per_token_per_second: args.rate_limit_per_token,
                per_token_burst: args.rate_limit_burst,
                auth_failures_per_minute: args.auth_failures_per_minute,
            },
            inquiries_per_day: i64::from(args.inquiries_per_day),
            watchers_per_token: usize::try_from(args.watchers_per_token).unwrap_or(4),
            ..Settings::default()
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
            let source = Arc::new(StoreGauges {
                store: state.store.clone(),
                clock: state.clock.clone(),
            });
            Some(tokio::spawn(crate::telemetry::refresh_gauges(
                source,
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
    let reminders = if args.renewal_reminders.0.is_empty() {
        tracing::info!("renewal reminders are off");
        None
    } else {
        Some(tokio::spawn(crate::mail::run_reminders(
            state.store.clone(),
            state.clock.clone(),
            args.renewal_reminders.0.clone(),
            crate::mail::REMINDER_INTERVAL,
        )))
    };
    let (feed_stop, mut feed_stopped) = tokio::sync::watch::channel(false);
    let feed = feed_listener.map(|listener| {
        tokio::spawn(crate::http_feed::serve_feed(
            listener,
            state.clone(),
            async move {
                let _ = feed_stopped.wait_for(|stop| *stop).await;
            },
        ))
    });
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
    let _ = feed_stop.send(true);
    if let Some(reminders) = reminders {
        reminders.abort();
    }
    if let Some(feed) = feed {
        feed.abort();
    }
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

/// The gauges' figures, read from the store.
struct StoreGauges {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl GaugeSource for StoreGauges {
    async fn backlog(&self) -> Option<Backlog> {
        match self.store.gauges(self.clock.now()).await {
            Ok(backlog) => Some(backlog),
            Err(error) => {
                tracing::debug!(%error, "gauges not refreshed: the database is not answering");
                None
            }
        }
    }

    fn pool_in_use(&self) -> u32 {
        self.store.pool_in_use()
    }
}
