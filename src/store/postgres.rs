//! The PostgreSQL backend, for several replicas sharing one database.
//! sqlx's migrator takes an advisory lock, so replicas starting at once run
//! the migrations exactly once.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, Postgres};
use sqlx::{FromRow, Pool, QueryBuilder};

use crate::error::{Error, Result};
use crate::store::backend::{Backend, SqlStore};
use crate::store::{DatabaseOptions, OnEvent, OnRevoked, backup_not_supported, db_error};

/// The channel every token revocation notifies (migration 0008's
/// trigger), with the token's id as payload.
pub const REVOCATION_CHANNEL: &str = "neo_support_token_revoked";

/// The channel every committed batch of events notifies (migration
/// 0011's trigger).
pub const EVENT_CHANNEL: &str = "neo_support_event";

/// How long the revocation listener waits before reconnecting.
const REVOCATION_RETRY: Duration = Duration::from_millis(500);

/// A PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://...`) and runs the migrations.
    pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<Self> {
        let connect_options = PgConnectOptions::from_str(url)
            .map_err(|_| Error::invalid("database_url", "not a valid postgres:// URL"))?
            .application_name("neo-supportd");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options.clone())
            .await
            .map_err(|error| missing_database(error, &connect_options))?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(Error::internal)?;
        // Write transactions lock rows; they share the pool.
        Ok(Self {
            writer: pool.clone(),
            pool,
        })
    }
}

/// A clear refusal for a database that does not exist (SQLSTATE 3D000),
/// naming it; any other error as usual.
fn missing_database(error: sqlx::Error, options: &PgConnectOptions) -> Error {
    if let sqlx::Error::Database(db) = &error
        && db.code().as_deref() == Some("3D000")
    {
        let name = options.get_database().unwrap_or("?");
        return Error::FailedPrecondition {
            reason: "DATABASE_MISSING",
            message: format!(
                "the PostgreSQL database \"{name}\" does not exist on {}:{}; create it first \
                 (createdb -h {} -p {} -U {} {name})",
                options.get_host(),
                options.get_port(),
                options.get_host(),
                options.get_port(),
                options.get_username(),
            ),
        };
    }
    db_error(error)
}

/// `HOST:PORT/DATABASE` of a `postgres://` URL, without user or password.
pub(crate) fn describe(url: &str) -> Option<String> {
    let options = PgConnectOptions::from_str(url).ok()?;
    Some(format!(
        "postgres://{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    ))
}

/// LISTENs on [`REVOCATION_CHANNEL`] until the connection is lost. Once
/// listening it forgets every token remembered so far, so a revocation
/// made before LISTEN took hold is not missed.
async fn listen_for_revocations(pool: &PgPool, on_revoked: &OnRevoked) -> Result<()> {
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

/// LISTENs on [`EVENT_CHANNEL`] until the connection is lost; once
/// listening it reports a change, so that an event committed before
/// LISTEN took hold is read.
async fn listen_for_events(pool: &PgPool, on_event: &OnEvent) -> Result<()> {
    let mut listener = PgListener::connect_with(pool).await.map_err(db_error)?;
    listener.listen(EVENT_CHANNEL).await.map_err(db_error)?;
    on_event();
    loop {
        match listener.try_recv().await.map_err(db_error)? {
            Some(_) => on_event(),
            None => return Ok(()),
        }
    }
}

impl Backend for sqlx::Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: Option<&'static str> = None;
    const LOCK_ROW: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const UPDATES_IN_BATCH: bool = false;

    /// Every statement becomes a data-modifying `WITH` part of one
    /// statement, one round trip. They must not depend on one another's
    /// order; foreign keys between them are checked at the end of the
    /// statement.
    fn open_batch_statement(sql: &mut QueryBuilder<'_, Self>, index: usize) {
        if index == 0 {
            sql.push("WITH part0 AS (");
        } else {
            sql.push(format!("), part{index} AS ("));
        }
    }

    /// PostgreSQL runs every data-modifying `WITH` part to completion
    /// whether or not the main statement reads it.
    fn close_batch(sql: &mut QueryBuilder<'_, Self>, count: usize) {
        if count > 0 {
            sql.push(") SELECT 1");
        }
    }

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
        // A connection of its own, so the listener never takes one of the
        // calls' connections.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(store.pool.connect_options().as_ref().clone());
        loop {
            match listen_for_revocations(&pool, &on_revoked).await {
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

    async fn watch_events(store: &SqlStore<Self>, on_event: OnEvent) {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(store.pool.connect_options().as_ref().clone());
        loop {
            match listen_for_events(&pool, &on_event).await {
                Ok(()) => tracing::warn!("lost the event listener's connection; reconnecting"),
                Err(error) => tracing::warn!(%error, "cannot listen for events; retrying"),
            }
            on_event();
            tokio::time::sleep(REVOCATION_RETRY).await;
        }
    }

    /// PostgreSQL is backed up with `pg_dump`.
    async fn backup_to(_store: &SqlStore<Self>, _path: &Path) -> Result<()> {
        Err(backup_not_supported(Self::BACKEND))
    }
}
