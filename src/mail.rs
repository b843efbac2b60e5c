//! E-mail delivery: the outbox worker sends what the outbox holds over SMTP
//! with `lettre`, at least once and never lost. A message is claimed (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas never send one
//! message twice at once), sent, then marked sent; a failure is retried
//! with exponential backoff up to a limit, then marked failed for staff.
//!
//! SMTP URLs: `smtp://[user@]host[:port]` (STARTTLS required: a server
//! that does not offer it gets nothing, neither credentials nor mail; port
//! 587 by default), `smtps://[user@]host[:port]` (TLS from the start; port
//! 465), `smtp://host[:port]?tls=opportunistic` (STARTTLS when offered,
//! plain text otherwise) and `smtp://host:port?tls=none` for a local relay.
//! Credentials are refused at start on a connection that may be
//! unencrypted (`tls=opportunistic` or `tls=none`), except to a loopback
//! address. The password comes from a file, never from the URL or the
//! command line.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::clock::Clock;
use crate::store::Store;
use crate::store::outbox::{Delivery, OutboxMessage};

/// How to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    /// `smtp://`, `smtps://` URL (no password in it).
    pub url: String,
    /// The password, read from a file.
    pub password: Option<String>,
    /// The `From:` address.
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long to wait when nothing is due.
    pub poll: Duration,
    /// Attempts before a message is marked failed.
    pub max_attempts: i64,
    /// The first retry's delay; each next one doubles, up to an hour.
    pub retry_base: Duration,
    /// How long a claim holds a message (longer than one sending attempt).
    pub lease: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(2),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            lease: Duration::from_secs(120),
        }
    }
}

/// Sends outbox messages over SMTP.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

impl Mailer {
    /// A mailer for these settings; the connection is made when sending.
    /// Call it inside the tokio runtime (the connection pool starts a task).
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let url =
            url::Url::parse(&settings.url).map_err(|_| "the SMTP URL does not parse".to_owned())?;
        let host = url.host_str().ok_or("the SMTP URL has no host")?.to_owned();
        if url.password().is_some() {
            return Err(
                "the SMTP URL must not hold a password: put it in --smtp-password-file".into(),
            );
        }
        let mut tls_mode = None;
        for (key, value) in url.query_pairs() {
            if key != "tls" || tls_mode.is_some() {
                return Err(format!(
                    "the SMTP URL takes one parameter, tls, not {key:?}"
                ));
            }
            tls_mode = Some(value.into_owned());
        }
        let parameters = || {
            TlsParameters::new_rustls(host.clone()).map_err(|e| format!("TLS set-up failed: {e}"))
        };
        let (tls, default_port) = match (url.scheme(), tls_mode.as_deref()) {
            ("smtp", Some("none")) => (Tls::None, 25),
            ("smtp", None | Some("required")) => (Tls::Required(parameters()?), 587),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic(parameters()?), 587),
            ("smtps", None) => (Tls::Wrapper(parameters()?), 465),
            _ => {
                return Err(
                    "use smtp://HOST[:PORT] (STARTTLS required), smtps://HOST[:PORT], or \
                     smtp://HOST[:PORT]?tls=opportunistic|none"
                        .into(),
                );
            }
        };
        let encrypted = matches!(tls, Tls::Required(_) | Tls::Wrapper(_));
        let has_user = !url.username().is_empty();
        if has_user && !encrypted && !is_loopback(&url) {
            return Err(format!(
                "refusing to send SMTP credentials over a connection that may be unencrypted \
                 (tls={}) to {host}, which is not a loopback address: use smtp:// (STARTTLS \
                 required) or smtps://",
                tls_mode.as_deref().unwrap_or_default()
            ));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if has_user {
            let user = percent_decode(url.username());
            builder = builder.credentials(Credentials::new(
                user,
                settings.password.clone().unwrap_or_default(),
            ));
        }
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| format!("{:?} is not a valid From address", settings.from))?;
        let domain = from.email.domain().to_owned();
        Ok(Self {
            transport: builder.build(),
            from,
            domain,
        })
    }

    /// Sends one message; returns its Message-ID. The Message-ID is the
    /// same for every attempt at one outbox row, so a message delivered
    /// twice (at least once) can be recognised.
    pub async fn send(&self, message: &OutboxMessage) -> Result<String, String> {
        let message_id = format!("<neo-support.outbox.{}@{}>", message.id, self.domain);
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|_| format!("{:?} is not a valid recipient", message.recipient))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        Ok(message_id)
    }
}

/// Whether the URL's host is this machine: `localhost` or a loopback IP.
/// (`smtp:` is not a special scheme to the URL parser, so an IPv4 address
/// comes back as a domain name.)
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The delay before retry number `attempts` (1 for the first retry).
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(2u32.saturating_pow(exponent))
        .min(Duration::from_secs(3600))
}

/// Sends one due message, if any; returns whether there was one.
pub async fn deliver_one(
    store: &dyn Store,
    mailer: &Mailer,
    clock: &dyn Clock,
    settings: &WorkerSettings,
) -> crate::error::Result<bool> {
    let now = clock.now();
    let lease_until =
        now + chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::seconds(120));
    let Some(message) = store.claim_outbox(now, lease_until).await? else {
        return Ok(false);
    };
    let delivery = match mailer.send(&message).await {
        Ok(message_id) => {
            tracing::info!(outbox_id = message.id, kind = %message.kind, "mail sent");
            Delivery::Sent { message_id }
        }
        Err(error) => {
            let attempts = message.attempts + 1;
            tracing::warn!(outbox_id = message.id, attempts, %error, "mail not sent");
            if attempts >= settings.max_attempts {
                Delivery::Failed { error }
            } else {
                let delay = backoff(settings.retry_base, attempts);
                let next: DateTime<Utc> = clock.now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                Delivery::Retry {
                    error,
                    next_attempt_at: next,
                }
            }
        }
    };
    store
        .finish_outbox(message.id, &delivery, clock.now())
        .await?;
    Ok(true)
}

/// Runs the outbox worker until `stop` says so.
pub async fn run_worker(
    store: Arc<dyn Store>,
    mailer: Arc<Mailer>,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = match deliver_one(store.as_ref(), &mailer, clock.as_ref(), &settings).await {
            Ok(busy) => busy,
            Err(error) => {
                tracing::warn!(%error, "outbox worker: the database is not answering");
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(settings.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// How often the renewal reminder check runs (and once at start).
pub const REMINDER_INTERVAL: Duration = Duration::from_secs(3600);

/// Queues the renewal reminders due today, at start and then every
/// `interval`, forever. Each is queued once per contract, period and
/// threshold, whichever replica runs the check (the store's unique key).
pub async fn run_reminders(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    days_before: Vec<u32>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = clock.now();
        let today = crate::domain::dates::jst_date(now);
        let result = match store.load_calendar().await {
            Ok(calendar) => {
                store
                    .queue_renewal_reminders(&calendar, &days_before, today, now)
                    .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(queued) => {
                crate::telemetry::count_reminders(queued);
                tracing::info!(queued, %today, "renewal reminder check done");
            }
            Err(error) => tracing::warn!(%error, "renewal reminder check failed; next in an hour"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> SmtpSettings {
        SmtpSettings {
            url: url.into(),
            password: Some("secret".into()),
            from: "サポート <support@example.co.jp>".into(),
        }
    }

    /// The connection pool spawns its janitor on the tokio runtime.
    #[tokio::test]
    async fn smtp_urls_of_each_kind_are_accepted() {
        for url in [
            "smtp://mail.example.co.jp",
            "smtp://user@mail.example.co.jp:2525",
            "smtps://mail.example.co.jp:465",
            "smtp://mail.example.co.jp?tls=required",
            "smtp://mail.example.co.jp?tls=opportunistic",
            "smtp://127.0.0.1:2525?tls=none",
            "smtp://user@127.0.0.1:2525?tls=none",
            "smtp://user@[::1]:2525?tls=opportunistic",
            "smtp://user@localhost:2525?tls=none",
        ] {
            assert!(Mailer::new(&settings(url)).is_ok(), "{url}");
        }
        for url in [
            "http://mail.example.co.jp",
            "smtps://x?tls=none",
            "smtp://x?tls=maybe",
            "smtp://x?tls=required&tls=none",
            "smtp://x?auth=plain",
            "smtp://user:secret@mail.example.co.jp",
            "not a url",
        ] {
            assert!(Mailer::new(&settings(url)).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn credentials_over_a_connection_that_may_be_unencrypted_are_refused_at_start() {
        for url in [
            "smtp://user@mail.example.co.jp:25?tls=none",
            "smtp://user@mail.example.co.jp?tls=opportunistic",
            "smtp://user@192.0.2.1:587?tls=none",
            "smtp://user@localhost.example.co.jp?tls=none",
        ] {
            let error = Mailer::new(&settings(url)).err().unwrap_or_default();
            assert!(
                error.contains("refusing to send SMTP credentials"),
                "{url}: {error:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        assert!(!format!("{:?}", settings("smtp://x")).contains("secret"));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 3), Duration::from_secs(120));
        assert_eq!(backoff(base, 30), Duration::from_secs(3600));
    }
}
