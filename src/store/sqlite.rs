//! The SQLite backend: the embedded default, for one machine. WAL journal,
//! `synchronous=NORMAL`, a busy timeout, and foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Error, Result};
use crate::store::common::impl_common_store;
use crate::store::licenses::impl_license_helpers;
use crate::store::{DatabaseOptions, db_error};

/// How often a server reads the token revocation revision.
pub const REVOCATION_POLL: Duration = Duration::from_millis(250);

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for write transactions: writers queue for it in
    /// order instead of polling the file's lock with SQLite's busy handler
    /// (whose sleeps grow to 100 ms), so a burst of writes costs no tail.
    /// Another process on the same file still meets the busy timeout.
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if need be) the file at `url` (`sqlite://PATH`) and
    /// runs the migrations.
    pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Self> {
        let connect_options = SqliteConnectOptions::from_str(url)
            .map_err(|_| Error::invalid("database_url", "not a valid sqlite:// URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let filename = connect_options.get_filename();
        if let Some(parent) = filename.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            private_dir(parent).map_err(Error::internal)?;
        }
        // Created 0600 before SQLite opens it: SQLite gives the -wal and
        // -shm files the database file's mode, whatever the umask.
        if filename != std::path::Path::new(":memory:") && !url.contains("mode=memory") {
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(db_error)?;
        Ok(Self { pool, writer })
    }

    /// SQLite takes the database's write lock at `BEGIN IMMEDIATE`, so a
    /// read-then-write transaction never fails half-way on a busy lock.
    const LOCK_ROW: &'static str = "";

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }

    /// How a claim skips rows another transaction holds.
    const SKIP_LOCKED: &'static str = "";

    /// A batch runs its statements in order, so the UPDATE that supersedes
    /// a key can go with the INSERT of the next one.
    const UPDATES_IN_BATCH: bool = true;

    /// Several statements run as one call, in order: SQLite takes them as
    /// one string, each `$N` bound from the same list. One call is one
    /// hop to the connection's thread instead of one per statement.
    fn batch_sql(statements: &[&str]) -> String {
        statements.join(";\n")
    }

    /// The connection pool, for tests and tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
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

impl_license_helpers!(SqliteStore, sqlx::Sqlite);

impl_common_store!(SqliteStore, "sqlite", {
    async fn watch_revocations(&self, on_revoked: crate::store::OnRevoked) {
        // One row read every REVOCATION_POLL: the revision every revocation
        // bumps (migration 0008), also from another process on the file.
        let mut last: Option<i64> = None;
        let mut ticker = tokio::time::interval(REVOCATION_POLL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let revision: std::result::Result<i64, _> =
                sqlx::query_scalar("SELECT revision FROM token_revocations WHERE id = 1")
                    .fetch_one(&self.pool)
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

    async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
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
            .execute(&self.pool)
            .await
            .map_err(db_error);
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result.map(|_| ())
    }
});
