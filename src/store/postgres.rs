//! The PostgreSQL backend, for several replicas sharing one database.
//! sqlx's migrator takes an advisory lock, so replicas starting at once run
//! the migrations exactly once.

use std::str::FromStr;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::error::{Error, Result};
use crate::store::common::impl_common_store;
use crate::store::licenses::impl_license_helpers;
use crate::store::{DatabaseOptions, db_error};

/// The channel every token revocation notifies (migration 0008's
/// trigger), with the token's id as payload.
pub const REVOCATION_CHANNEL: &str = "neo_support_token_revoked";

/// How long the revocation listener waits before reconnecting.
const REVOCATION_RETRY: Duration = Duration::from_millis(500);

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and runs the migrations.
    pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Self> {
        let connect_options = PgConnectOptions::from_str(url)
            .map_err(|_| Error::invalid("database_url", "not a valid postgres:// URL"))?
            .application_name("neo-supportd");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(Error::internal)?;
        Ok(Self { pool })
    }

    /// PostgreSQL locks the row a write transaction reads first.
    const LOCK_ROW: &'static str = " FOR UPDATE";

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }

    /// How a claim skips rows another transaction holds.
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    /// The parts of a `WITH` run in no set order: the UPDATE that
    /// supersedes a key must run before the batch that inserts the next.
    const UPDATES_IN_BATCH: bool = false;

    /// Several INSERTs run as one statement, one round trip: all but the
    /// last become data-modifying `WITH` parts. They must not depend on
    /// one another's order; foreign keys between them are checked at the
    /// end of the statement.
    fn batch_sql(statements: &[&str]) -> String {
        let Some((last, first)) = statements.split_last() else {
            return String::new();
        };
        let parts: Vec<String> = first
            .iter()
            .enumerate()
            .map(|(n, statement)| format!("part{n} AS ({statement})"))
            .collect();
        if parts.is_empty() {
            (*last).to_owned()
        } else {
            format!("WITH {} {last}", parts.join(", "))
        }
    }

    /// LISTENs on [`REVOCATION_CHANNEL`] until the connection is lost.
    /// Once listening it forgets every token remembered so far, so a
    /// revocation made before LISTEN took hold is not missed.
    async fn listen_for_revocations(
        pool: &PgPool,
        on_revoked: &crate::store::OnRevoked,
    ) -> Result<()> {
        let mut listener = PgListener::connect_with(pool).await.map_err(db_error)?;
        listener
            .listen(REVOCATION_CHANNEL)
            .await
            .map_err(db_error)?;
        on_revoked(None);
        loop {
            match listener.try_recv().await.map_err(db_error)? {
                Some(notification) => on_revoked(notification.payload().parse().ok()),
                None => return Ok(()),
            }
        }
    }

    /// The connection pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl_license_helpers!(PostgresStore, sqlx::Postgres);

impl_common_store!(PostgresStore, "postgres", {
    async fn watch_revocations(&self, on_revoked: crate::store::OnRevoked) {
        // A connection of its own, so the listener never takes one of the
        // calls' connections.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(self.pool.connect_options().as_ref().clone());
        loop {
            match Self::listen_for_revocations(&pool, &on_revoked).await {
                Ok(()) => tracing::warn!("lost the revocation listener's connection; reconnecting"),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for token revocations; retrying");
                }
            }
            // Whatever was revoked while nobody listened is forgotten.
            on_revoked(None);
            tokio::time::sleep(REVOCATION_RETRY).await;
        }
    }
});
