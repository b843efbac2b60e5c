//! The SQLite backend: the embedded default, for one machine. WAL journal,
//! `synchronous=NORMAL`, a busy timeout, and foreign keys on; one queued
//! connection for write transactions, which begin `IMMEDIATE`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{FromRow, Pool, QueryBuilder};

use crate::error::{Error, Result};
use crate::store::backend::{Backend, SqlStore};
use crate::store::{DatabaseOptions, OnEvent, OnRevoked, db_error};

/// How often a server reads the token revocation revision.
pub const REVOCATION_POLL: Duration = Duration::from_millis(250);

/// How often a server reads the last event id, for the event watchers.
pub const EVENT_POLL: Duration = Duration::from_millis(200);

/// A SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if need be) the file at `url` (`sqlite://PATH`) and
    /// runs the migrations.
    pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Self> {
        let connect_options = SqliteConnectOptions::from_str(url)
            .map_err(|_| Error::invalid("database_url", "not a valid sqlite:// URL"))?
            .create_if_missing(options.create_if_missing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let filename = connect_options.get_filename();
        let in_memory = filename == Path::new(":memory:") || url.contains("mode=memory");
        if !in_memory && !filename.exists() {
            let shown = absolute(filename);
            if !options.create_if_missing {
                return Err(Error::FailedPrecondition {
                    reason: "DATABASE_MISSING",
                    message: format!(
                        "there is no database at {shown}; this command never creates one: \
                         give the --database-url (or NEO_SUPPORT_DATABASE_URL) the server \
                         uses, or start `neo-supportd serve` on it first"
                    ),
                });
            }
            tracing::warn!(path = %shown, "creating a new, empty SQLite database at {shown}");
        }
        if let Some(parent) = filename.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            private_dir(parent).map_err(Error::internal)?;
        }
        // Created 0600 before SQLite opens it: SQLite gives the -wal and
        // -shm files the database file's mode, whatever the umask.
        if !in_memory {
            create_private_file(filename).map_err(Error::internal)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options.clone())
            .await
            .map_err(db_error)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(Error::internal)?;
        widen_inquiry_status(&pool).await?;
        // One connection for write transactions: writers queue for it in
        // order instead of polling the file's lock with SQLite's busy
        // handler (whose sleeps grow to 100 ms), so a burst of writes costs
        // no tail. Another process on the same file still meets the busy
        // timeout.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(db_error)?;
        Ok(Self { pool, writer })
    }
}

/// The status CHECK of `inquiries` with 'closed' (migration 0012), made
/// once: the table is rebuilt with foreign keys off (the outbox points at
/// it), in a write transaction of its own, on one connection. A database
/// that has it already is left alone.
const WIDEN_INQUIRY_STATUS: &str = "\
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE inquiries_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id        TEXT NOT NULL REFERENCES contracts (id),
    product            TEXT NOT NULL,
    category           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    body               TEXT NOT NULL,
    reply_to           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'answered', 'closed')),
    received_at        TEXT NOT NULL,
    handling_starts_at TEXT NOT NULL,
    answered_at        TEXT,
    submitted_by       TEXT NOT NULL,
    closed_at          TEXT,
    close_reason       TEXT
);
INSERT INTO inquiries_new (id, contract_id, product, category, subject, body, reply_to, status,
                           received_at, handling_starts_at, answered_at, submitted_by,
                           closed_at, close_reason)
    SELECT id, contract_id, product, category, subject, body, reply_to, status,
           received_at, handling_starts_at, answered_at, submitted_by, closed_at, close_reason
    FROM inquiries;
DROP TABLE inquiries;
ALTER TABLE inquiries_new RENAME TO inquiries;
CREATE INDEX inquiries_queue ON inquiries (handling_starts_at, id);
CREATE INDEX inquiries_by_contract ON inquiries (contract_id, handling_starts_at, id);
CREATE INDEX inquiries_by_contract_received ON inquiries (contract_id, received_at);
COMMIT;";

async fn widen_inquiry_status(pool: &Pool<Sqlite>) -> Result<()> {
    use sqlx::Connection;
    const CURRENT: &str =
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'inquiries'";
    let widened = |sql: &str| sql.contains("'closed'");
    let schema: String = sqlx::query_scalar(CURRENT)
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    if widened(&schema) {
        return Ok(());
    }
    let mut connection = pool.acquire().await.map_err(db_error)?;
    let result = sqlx::raw_sql(WIDEN_INQUIRY_STATUS)
        .execute(&mut *connection)
        .await;
    if result.is_err() {
        // Another process may have done it first; roll back ours.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
    }
    let restored = sqlx::raw_sql("PRAGMA foreign_keys = ON")
        .execute(&mut *connection)
        .await;
    if restored.is_err() {
        // Never hand a connection without foreign keys back to the pool.
        let _ = connection.detach().close().await;
    }
    let schema: String = sqlx::query_scalar(CURRENT)
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    match result {
        Ok(_) if widened(&schema) => Ok(()),
        _ if widened(&schema) => Ok(()),
        Ok(_) => Err(Error::internal("the inquiries table was not rebuilt")),
        Err(error) => Err(db_error(error)),
    }
}

/// A path made absolute against the working directory, for messages.
fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}

/// The absolute path of the file a `sqlite://` URL names.
pub(crate) fn absolute_path(url: &str) -> Option<String> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    Some(absolute(options.get_filename()))
}

impl Backend for sqlx::Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const LOCK_ROW: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const UPDATES_IN_BATCH: bool = true;

    /// SQLite takes several statements as one string, run in order: one
    /// hop to the connection's thread instead of one per statement.
    fn open_batch_statement(sql: &mut QueryBuilder<'_, Self>, index: usize) {
        if index > 0 {
            sql.push(";\n");
        }
    }

    fn close_batch(_sql: &mut QueryBuilder<'_, Self>, _count: usize) {}

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    async fn fetch_all<'e, T, F>(pool: &'e Pool<Self>, build: F) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> FromRow<'r, Self::Row> + Send + Unpin + 'e,
        F: for<'args> FnOnce(&mut QueryBuilder<'args, Self>) + Send + 'e,
    {
        let mut sql = QueryBuilder::new("");
        build(&mut sql);
        sql.build_query_as().fetch_all(pool).await
    }

    async fn execute<'c, F>(connection: &'c mut Self::Connection, build: F) -> sqlx::Result<()>
    where
        F: for<'args> FnOnce(&mut QueryBuilder<'args, Self>) + Send + 'c,
    {
        let mut sql = QueryBuilder::new("");
        build(&mut sql);
        sql.build().execute(connection).await?;
        Ok(())
    }

    async fn watch_revocations(store: &SqlStore<Self>, on_revoked: OnRevoked) {
        // One row read every REVOCATION_POLL: the revision every revocation
        // bumps (migration 0008), also from another process on the file.
        let mut last: Option<i64> = None;
        let mut ticker = tokio::time::interval(REVOCATION_POLL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let revision: std::result::Result<i64, _> =
                sqlx::query_scalar("SELECT revision FROM token_revocations WHERE id = 1")
                    .fetch_one(&store.pool)
                    .await;
            match revision {
                Ok(revision) => {
                    if last.is_some_and(|last| last != revision) {
                        on_revoked(None);
                    }
                    last = Some(revision);
                }
                Err(error) => {
                    // Cannot tell what changed: forget everything.
                    tracing::warn!(%error, "cannot read the token revocation revision");
                    on_revoked(None);
                }
            }
        }
    }

    async fn watch_events(store: &SqlStore<Self>, on_event: OnEvent) {
        // The last id every EVENT_POLL (the primary key's last row, one
        // index step), also catching writes by another process on the
        // file. SQLite writes one transaction at a time, so ids are
        // committed in order.
        let mut last: Option<i64> = None;
        let mut ticker = tokio::time::interval(EVENT_POLL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let newest: std::result::Result<Option<i64>, _> =
                sqlx::query_scalar("SELECT MAX(id) FROM events")
                    .fetch_one(&store.pool)
                    .await;
            match newest {
                Ok(newest) => {
                    let newest = newest.unwrap_or(0);
                    if last != Some(newest) {
                        on_event();
                    }
                    last = Some(newest);
                }
                Err(error) => tracing::warn!(%error, "cannot read the last event id"),
            }
        }
    }

    /// `VACUUM INTO` takes a consistent snapshot while others read and
    /// write.
    async fn backup_to(store: &SqlStore<Self>, path: &Path) -> Result<()> {
        let target = path
            .to_str()
            .ok_or_else(|| Error::invalid("to", "the backup path is not UTF-8"))?;
        // The copy holds keys and addresses: made empty with mode 0600
        // first (VACUUM INTO fills an empty file and keeps its mode).
        let created = create_private_file(path).map_err(|error| {
            Error::invalid("to", format!("cannot create {}: {error}", path.display()))
        })?;
        if !created {
            return Err(Error::invalid(
                "to",
                format!("{} exists already; choose a new file", path.display()),
            ));
        }
        // VACUUM INTO takes a consistent snapshot while others read and write.
        let result = sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&store.pool)
            .await
            .map_err(db_error);
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result.map(|_| ())
    }
}

/// Makes a directory and its missing parents with mode 0700.
fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates an empty file with mode 0600 if none exists; `Ok(true)` when
/// it created one.
fn create_private_file(path: &std::path::Path) -> std::io::Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(file) => {
            // The mode given to open() passes through the umask; set it.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            #[cfg(not(unix))]
            let _ = file;
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}
