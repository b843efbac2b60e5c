//! Storage. The [`Store`] trait says what the service keeps; [`SqlStore`]
//! implements it once, generic over the [`Backend`]: [`sqlite`] (the
//! embedded default, one machine) and [`postgres`] (several replicas
//! sharing one database), on sqlx's native drivers, each with its own
//! migrations folder embedded in the binary.
//!
//! The statements are written once, by topic: [`calendar`], [`tokens`],
//! [`contracts`], [`orders`], [`inquiries`], [`keys`], [`reissues`],
//! [`outbox`], [`events`]. The store gathers facts and records decisions;
//! the rules that decide (`decide_order`, `decide_reissue`, ...) are in
//! [`crate::domain`]. What differs per backend (how a write transaction
//! begins, row locks, batching, the revocation watcher, backups) is the
//! [`Backend`] trait, implemented in `sqlite.rs` and `postgres.rs`.

pub mod backend;
pub mod calendar;
pub mod contracts;
pub mod events;
pub mod inquiries;
pub mod keys;
pub mod orders;
pub mod outbox;
pub mod postgres;
pub mod reissues;
pub mod reminders;
mod sql_store;
pub mod sqlite;
pub mod tokens;

pub use backend::{Backend, SqlStore};
pub use events::Audit;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::calendar::{Calendar, Closure, ClosureRange, HolidayOverride, OverrideAction};
use crate::domain::contract::{Contract, NewContract, NewOrder, Order};
use crate::domain::inquiry::{Inquiry, NewInquiry};
use crate::domain::license::{Fingerprint, KeyRecord, Mint, ReissueRecord};
use crate::domain::token::Role;
use crate::error::{Error, Reason, Result};

/// The default database: a SQLite file under `./data/`, created on first
/// start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/neo-support.db";

/// How the service connects to its database.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a call waits for a connection before it answers
    /// UNAVAILABLE.
    pub acquire_timeout: Duration,
    /// Whether a SQLite file that does not exist is created (with a
    /// warning naming its absolute path) or refused, naming the path.
    /// `serve` creates; the admin commands never do.
    pub create_if_missing: bool,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            create_if_missing: true,
        }
    }
}

/// Where a database URL points, for people: a SQLite file's absolute path,
/// or PostgreSQL's host and database name (never the password).
pub fn describe_database(url: &str) -> String {
    if url.starts_with("sqlite:") {
        sqlite::absolute_path(url).unwrap_or_else(|| url.to_owned())
    } else {
        postgres::describe(url).unwrap_or_else(|| "a PostgreSQL database".to_owned())
    }
}

/// A stored access token (never the token itself, only what it grants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Store-assigned id.
    pub id: i64,
    /// The name staff gave it.
    pub name: String,
    /// What its holder may do.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked (empty for revocations before reasons were kept).
    pub revoke_reason: Option<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// The id of the token that created it; `None` for tokens made with
    /// `neo-supportd token create`.
    pub created_by: Option<i64>,
}

impl TokenRecord {
    /// Whether the token has expired at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expires| expires <= now)
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// The name staff gave it.
    pub name: &'a str,
    /// What its holder may do.
    pub role: &'a Role,
    /// The hash of its secret.
    pub token_hash: &'a str,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// The token that created it, if one did.
    pub created_by: Option<i64>,
}

/// Which tokens to list, one page, by id.
#[derive(Debug, Clone)]
pub struct TokenQuery {
    /// Only the customer tokens of this contract.
    pub contract_id: Option<String>,
    /// Start after this id.
    pub after_id: Option<i64>,
    /// Most rows.
    pub limit: i64,
}

/// Calls the function it holds whenever tokens a server remembers may have
/// been revoked: `Some(id)` for one token, `None` for any (after a gap in
/// watching, or when the backend cannot tell which).
pub type OnRevoked = Arc<dyn Fn(Option<i64>) + Send + Sync>;

/// Called when events may have been committed.
pub type OnEvent = Arc<dyn Fn() + Send + Sync>;

/// What the service keeps, on either backend. Every method that changes
/// something takes the [`Audit`] of who changes it, in which request; the
/// change and its audit event are written in one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Stores a new company closure.
    async fn create_closure(
        &self,
        name: &str,
        range: &ClosureRange,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Closure>;
    /// Every company closure, oldest first.
    async fn list_closures(&self) -> Result<Vec<Closure>>;
    /// Removes a closure; false when there was none with that id.
    async fn delete_closure(&self, id: i64, now: DateTime<Utc>, audit: &Audit) -> Result<bool>;

    /// Stores a holiday override; ALREADY_EXISTS when the date has one.
    async fn create_holiday_override(
        &self,
        date: NaiveDate,
        action: &OverrideAction,
        note: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<HolidayOverride>;
    /// Every holiday override, in date order.
    async fn list_holiday_overrides(&self) -> Result<Vec<HolidayOverride>>;
    /// Removes an override; false when there was none with that id.
    async fn delete_holiday_override(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<bool>;

    /// Stores a token's hash, with its expiry and creator; ALREADY_EXISTS
    /// when a token in use has the name.
    async fn create_access_token(
        &self,
        token: &NewToken<'_>,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<TokenRecord>;
    /// Stores a token's hash that never expires and no token created;
    /// ALREADY_EXISTS when a token in use has the name.
    async fn create_token(
        &self,
        name: &str,
        role: &Role,
        token_hash: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<TokenRecord> {
        let token = NewToken {
            name,
            role,
            token_hash,
            expires_at: None,
            created_by: None,
        };
        self.create_access_token(&token, now, audit).await
    }
    /// The unrevoked token with this hash, if any (expired or not).
    async fn find_active_token(&self, token_hash: &str) -> Result<Option<TokenRecord>>;
    /// One token by id.
    async fn get_token(&self, id: i64) -> Result<Option<TokenRecord>>;
    /// One page of tokens, by id.
    async fn list_access_tokens(&self, query: &TokenQuery) -> Result<Vec<TokenRecord>>;
    /// Every token, oldest first.
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.list_access_tokens(&TokenQuery {
            contract_id: None,
            after_id: None,
            limit: i64::MAX,
        })
        .await
    }
    /// Revokes the token in use with this id, keeping the reason; `None`
    /// when no token in use has it.
    async fn revoke_access_token(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<TokenRecord>>;
    /// Revokes every token in use that the token `creator` created, in one
    /// transaction; the tokens revoked.
    async fn revoke_tokens_created_by(
        &self,
        creator: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Vec<TokenRecord>>;
    /// Revokes the token in use with this id without a reason; false when
    /// there is none.
    async fn revoke_token(&self, id: i64, now: DateTime<Utc>, audit: &Audit) -> Result<bool> {
        Ok(self
            .revoke_access_token(id, "", now, audit)
            .await?
            .is_some())
    }
    /// Runs until the future is dropped, calling `on_revoked` whenever a
    /// token may have been revoked by any process: PostgreSQL LISTENs for
    /// the notification every revocation sends, SQLite polls a revision
    /// that every revocation bumps. After any gap (a lost connection, a
    /// failed poll) it calls `on_revoked(None)`, so nothing revoked in the
    /// gap stays remembered.
    async fn watch_revocations(&self, on_revoked: OnRevoked);

    /// Runs until dropped, calling `on_event` whenever events may have
    /// been committed by any server on the database: within a second
    /// (PostgreSQL LISTEN/NOTIFY on [`postgres::EVENT_CHANNEL`], SQLite a
    /// poll of the last event id), and once after each reconnection.
    async fn watch_events(&self, on_event: OnEvent);

    /// Queues the renewal reminders due on `today` (JST), each with its
    /// mail and an event `renewal.reminded` in one transaction, at most
    /// once per contract, period and threshold; returns how many.
    async fn queue_renewal_reminders(
        &self,
        calendar: &Calendar,
        days_before: &[u32],
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<usize>;
    /// The renewal reminders queued for a contract, oldest first.
    async fn list_renewal_reminders(
        &self,
        contract_id: &str,
    ) -> Result<Vec<reminders::ReminderRecord>>;

    /// Stores a new contract; ALREADY_EXISTS when the id or the license is
    /// taken.
    async fn create_contract(
        &self,
        contract: &NewContract,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Contract>;
    /// A contract and all its orders, oldest first.
    async fn contract_with_orders(&self, id: &str) -> Result<Option<(Contract, Vec<Order>)>>;
    /// One page of contracts with their orders, in id order.
    async fn list_contracts(
        &self,
        query: &contracts::ContractQuery,
    ) -> Result<Vec<(Contract, Vec<Order>)>>;
    /// Decides an order against the contract's history and stores it with
    /// its period in one write transaction; nothing is written when it is
    /// refused.
    async fn record_order(
        &self,
        contract_id: &str,
        order: &NewOrder,
        created_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Order>;

    /// The mail domains staff added to a contract (not the contact
    /// address's own), in name order.
    async fn contract_mail_domains(&self, contract_id: &str) -> Result<Vec<String>>;
    /// Adds and removes mail domains of a contract in one write
    /// transaction, as `decide_mail_domains` decides; returns the added
    /// domains after the change. NOT_FOUND without the contract; nothing is
    /// written when the change is refused.
    async fn update_mail_domains(
        &self,
        contract_id: &str,
        add: &[crate::domain::reply_to::MailDomain],
        remove: &[crate::domain::reply_to::MailDomain],
        updated_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Vec<String>>;

    /// Stores an admitted inquiry with its acknowledgement mail, unless the
    /// contract has `per_day` inquiries received on the same JST day
    /// already: then RESOURCE_EXHAUSTED `RATE_LIMITED` and nothing is
    /// written. The count is taken inside the write transaction (the
    /// contract row locked on PostgreSQL), so concurrent submissions cannot
    /// pass the limit together.
    async fn create_inquiry(
        &self,
        inquiry: &NewInquiry,
        received_at: DateTime<Utc>,
        handling_starts_at: DateTime<Utc>,
        submitted_by: &str,
        per_day: i64,
        audit: &Audit,
    ) -> Result<Inquiry>;
    /// One inquiry.
    async fn get_inquiry(&self, id: i64) -> Result<Option<Inquiry>>;
    /// One page of inquiries in order of `handling_starts_at`.
    async fn list_inquiries(&self, query: &inquiries::InquiryQuery) -> Result<Vec<Inquiry>>;
    /// Marks an inquiry answered and queues the answer's e-mail to the
    /// reply-to address in the same transaction; an answered or closed
    /// inquiry may be answered again. `None` when there is no such inquiry.
    async fn answer_inquiry(
        &self,
        id: i64,
        answer: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<Inquiry>>;
    /// Closes an inquiry without a reply, with the reason; `None` when there
    /// is no such inquiry, FAILED_PRECONDITION when it is closed already.
    async fn close_inquiry(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<Inquiry>>;

    /// The contract a license is under.
    async fn contract_by_license(&self, license_id: &str) -> Result<Option<Contract>>;
    /// Gives a license its first key (FAILED_PRECONDITION when it has
    /// keys already), in one transaction with its e-mail.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is one input of the key it issues"
    )]
    async fn issue_first_key(
        &self,
        license_id: &str,
        fingerprint: &Fingerprint,
        requested_by: &str,
        now: DateTime<Utc>,
        delivery_on: NaiveDate,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<KeyRecord>;
    /// Decides and records a reissue in one transaction (SPEC.md section
    /// 4): idempotent by request id, refused unless the contract is active,
    /// the current key for the same fingerprint, a review beyond the
    /// allowance, else a new key that supersedes the old one.
    async fn request_reissue(
        &self,
        input: &reissues::ReissueInput,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<ReissueRecord>;
    /// Approves a pending reissue: signs its key now.
    async fn approve_reissue(
        &self,
        id: &str,
        decided_by: &str,
        now: DateTime<Utc>,
        mint: &dyn Mint,
        audit: &Audit,
    ) -> Result<ReissueRecord>;
    /// Rejects a pending reissue.
    async fn reject_reissue(
        &self,
        id: &str,
        reason: &str,
        decided_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<ReissueRecord>;
    /// One reissue request.
    async fn get_reissue(&self, id: &str) -> Result<Option<ReissueRecord>>;
    /// One page of reissue requests by delivery date.
    async fn list_reissues(&self, query: &reissues::ReissueQuery) -> Result<Vec<ReissueRecord>>;
    /// Revokes a key.
    async fn revoke_key(
        &self,
        key_id: &str,
        reason: &str,
        revoked_by: &str,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<KeyRecord>;
    /// One key by id.
    async fn find_key(&self, key_id: &str) -> Result<Option<KeyRecord>>;
    /// One provisional key by id (status provisional, superseded or
    /// revoked).
    async fn find_provisional_key(&self, key_id: &str) -> Result<Option<KeyRecord>>;
    /// Every key of a license, in sequence order.
    async fn list_license_keys(&self, license_id: &str) -> Result<Vec<KeyRecord>>;
    /// Outbox messages, oldest first.
    async fn list_outbox(&self, query: &outbox::OutboxQuery) -> Result<Vec<outbox::OutboxMessage>>;
    /// One outbox message.
    async fn get_outbox(&self, id: i64) -> Result<Option<outbox::OutboxMessage>>;
    /// Claims the next message due for sending until `lease_until`; no
    /// other worker (or replica) gets it meanwhile.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<outbox::OutboxMessage>>;
    /// Records how a sending attempt ended.
    async fn finish_outbox(
        &self,
        id: i64,
        delivery: &outbox::Delivery,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Figures for the metrics gauges.
    async fn gauges(&self, now: DateTime<Utc>) -> Result<crate::domain::Backlog>;
    /// Database connections in use now.
    fn pool_in_use(&self) -> u32;
    /// Puts a failed (or pending) message back in line now.
    async fn retry_outbox(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<outbox::OutboxMessage>;

    /// Writes a consistent copy of the database to `path` while it is in
    /// use (SQLite's `VACUUM INTO`); PostgreSQL is backed up with
    /// `pg_dump` instead.
    async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        let _ = path;
        Err(backup_not_supported(self.backend()))
    }

    /// One page of the audit trail, oldest first.
    async fn list_events(&self, query: &events::EventQuery) -> Result<Vec<events::Event>>;

    /// The business calendar as staff have set it.
    async fn load_calendar(&self) -> Result<Calendar> {
        let closures = self.list_closures().await?;
        let overrides = self.list_holiday_overrides().await?;
        Ok(Calendar::new(closures, overrides))
    }
}

/// Opens the database at `url` (`sqlite://PATH` or `postgres://...`),
/// creating a SQLite file that does not exist yet, and runs the migrations.
pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::connect(url, options).await?,
        ))
    } else {
        Err(Error::invalid(
            "database_url",
            "the database URL must start with sqlite:// or postgres://",
        ))
    }
}

/// Maps a driver error: a database that cannot be reached is UNAVAILABLE,
/// anything else internal.
pub(crate) fn db_error(error: sqlx::Error) -> Error {
    let unavailable = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite answers extended codes; the low byte is the
                // primary one: busy (5), read-only (8), I/O error (10),
                // cannot open (14), not a database (26).
                code.parse::<i32>()
                    .is_ok_and(|code| matches!(code & 0xff, 5 | 8 | 10 | 14 | 26))
            } else {
                // PostgreSQL: connection exceptions (08), operator
                // intervention such as a terminated backend or a server
                // starting up (57P), too many connections, a database not
                // accepting connections (55000, only ever seen when
                // connecting).
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53300"
                    || code == "55000"
            }
        }
        _ => false,
    };
    if unavailable {
        Error::DatabaseUnavailable(Box::new(error))
    } else {
        Error::internal(error)
    }
}

/// A backend whose databases are backed up with their own tools.
pub(crate) fn backup_not_supported(backend: &str) -> Error {
    Error::FailedPrecondition {
        reason: Reason::BackupNotSupported.as_str(),
        message: format!("{backend} databases are backed up with their own tools (pg_dump)"),
    }
}

/// A stored row that does not convert to its domain type.
pub(crate) fn corrupt(what: &str) -> Error {
    Error::internal(format!("stored {what} is corrupt"))
}

/// Whether a driver error is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}
