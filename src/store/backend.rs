//! What differs between the two databases, as one small trait, and the
//! store that is generic over it.
//!
//! [`SqlStore`] holds the connection pools; every statement that reads the
//! same on SQLite and PostgreSQL is written once, in the topic files
//! (`calendar`, `tokens`, `contracts`, ...), as methods of
//! `impl<DB> SqlStore<DB>`. [`Backend`] says the few things that differ:
//! how a write transaction begins, how a read locks a row, how a claim
//! skips locked rows, how several writes travel as one call, and how many
//! rows a statement changed. The revocation watcher and the backup are
//! written per backend, in `sqlite.rs` and `postgres.rs`.
//!
//! Each topic's `impl` block carries the same `where` clause: the sqlx
//! bounds that let one method body run on either database (an executor
//! for a connection, arguments, and the column types the store reads and
//! writes). Rust does not carry such bounds over from a trait, so each
//! block states them; both backends meet them.

use std::future::Future;
use std::path::Path;

use sqlx::{Database, Decode, Encode, FromRow, Pool, QueryBuilder, Transaction, Type};

use crate::error::Result;
use crate::store::{OnEvent, OnRevoked, db_error};

/// A column type the store both binds and reads on a backend.
pub trait Column<DB: Database>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

impl<DB: Database, T> Column<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

/// What differs between SQLite and PostgreSQL.
pub trait Backend: Database {
    /// `sqlite` or `postgres`.
    const BACKEND: &'static str;

    /// How a write transaction begins: SQLite takes the database's write
    /// lock at `BEGIN IMMEDIATE`, so a read-then-write transaction never
    /// fails half-way on a busy lock; PostgreSQL begins plainly and locks
    /// rows as it reads them.
    const BEGIN_WRITE: Option<&'static str>;

    /// Appended to the read that a write transaction starts with:
    /// PostgreSQL locks the row (`FOR UPDATE`); SQLite holds the whole
    /// database from `BEGIN IMMEDIATE` on.
    const LOCK_ROW: &'static str;

    /// Appended to a claim's inner SELECT, so that replicas skip the rows
    /// another transaction holds (PostgreSQL only).
    const SKIP_LOCKED: &'static str;

    /// Whether an UPDATE may go in a batch of writes before an INSERT that
    /// depends on it. SQLite runs a batch's statements in order;
    /// PostgreSQL runs the `WITH` parts of one statement in no set order.
    const UPDATES_IN_BATCH: bool;

    /// Runs the statement that `build` writes on a [`QueryBuilder`] and
    /// reads every row.
    ///
    /// Written per backend only because the borrow checker cannot see,
    /// for a backend it does not know, that a builder's arguments do not
    /// use their lifetime when they are dropped; the two bodies are the
    /// same.
    fn fetch_all<'e, T, F>(
        pool: &'e Pool<Self>,
        build: F,
    ) -> impl Future<Output = sqlx::Result<Vec<T>>> + Send + 'e
    where
        T: for<'r> FromRow<'r, Self::Row> + Send + Unpin + 'e,
        F: for<'args> FnOnce(&mut QueryBuilder<'args, Self>) + Send + 'e;

    /// Runs the statement that `build` writes, on a transaction's
    /// connection (see [`Backend::fetch_all`]).
    fn execute<'c, F>(
        connection: &'c mut Self::Connection,
        build: F,
    ) -> impl Future<Output = sqlx::Result<()>> + Send + 'c
    where
        F: for<'args> FnOnce(&mut QueryBuilder<'args, Self>) + Send + 'c;

    /// Starts statement number `index` (from 0) of a batch.
    fn open_batch_statement(sql: &mut QueryBuilder<'_, Self>, index: usize);

    /// Ends a batch of `count` statements.
    fn close_batch(sql: &mut QueryBuilder<'_, Self>, count: usize);

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Runs until the future is dropped, calling `on_revoked` whenever a
    /// token may have been revoked (see `Store::watch_revocations`).
    fn watch_revocations(
        store: &SqlStore<Self>,
        on_revoked: OnRevoked,
    ) -> impl Future<Output = ()> + Send;

    /// Runs until the future is dropped, calling `on_event` whenever an
    /// event may have been committed, by this or any other process (see
    /// `Store::watch_events`).
    fn watch_events(store: &SqlStore<Self>, on_event: OnEvent) -> impl Future<Output = ()> + Send;

    /// Writes a consistent copy of the database to `path` while it is in
    /// use, where the backend can.
    fn backup_to(store: &SqlStore<Self>, path: &Path) -> impl Future<Output = Result<()>> + Send;
}

/// One statement of a [`Batch`]: writes itself, with its values, on the
/// batch's builder.
type BatchStatement<DB> = Box<dyn for<'args> FnOnce(&mut QueryBuilder<'args, DB>) + Send>;

/// Several writes sent to the database as one call: one hop to a SQLite
/// connection's thread, one round trip to PostgreSQL. Each statement binds
/// its values with `push_bind`, so the builder numbers the placeholders.
pub(crate) struct Batch<DB: Backend> {
    statements: Vec<BatchStatement<DB>>,
}

impl<DB: Backend> Batch<DB> {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        Self {
            statements: Vec::new(),
        }
    }

    /// Adds a statement: `write` pushes its text and values.
    pub(crate) fn push<F>(&mut self, write: F)
    where
        F: for<'args> FnOnce(&mut QueryBuilder<'args, DB>) + Send + 'static,
    {
        self.statements.push(Box::new(write));
    }

    /// Sends the statements as one call, inside `tx`.
    pub(crate) async fn run(self, tx: &mut Transaction<'static, DB>) -> Result<()> {
        if self.statements.is_empty() {
            return Ok(());
        }
        let count = self.statements.len();
        DB::execute(&mut **tx, move |sql| {
            for (index, write) in self.statements.into_iter().enumerate() {
                DB::open_batch_statement(sql, index);
                write(sql);
            }
            DB::close_batch(sql, count);
        })
        .await
        .map_err(db_error)
    }
}

/// A database on either backend: a pool for reads and a pool for write
/// transactions (on SQLite one connection, so that writers queue for it in
/// order instead of polling the file's lock with SQLite's busy handler,
/// whose sleeps grow to 100 ms; on PostgreSQL the same pool).
#[derive(Debug)]
pub struct SqlStore<DB: Backend> {
    pub(crate) pool: Pool<DB>,
    pub(crate) writer: Pool<DB>,
}

// By hand: a derive would ask for `DB: Clone`, which the sqlx database
// types are not.
impl<DB: Backend> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
        }
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The connection pool, for tests and tools.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Begins a write transaction ([`Backend::BEGIN_WRITE`]).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, DB>> {
        match DB::BEGIN_WRITE {
            Some(begin) => self.writer.begin_with(begin).await,
            None => self.writer.begin().await,
        }
        .map_err(db_error)
    }

    /// Database connections in use now.
    pub(crate) fn connections_in_use(&self) -> u32 {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        self.pool.size().saturating_sub(idle)
    }
}

/// The conditions of a listing's `WHERE`, pushed one by one: `WHERE`
/// before the first, `AND` before the others.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    any: bool,
}

impl Conditions {
    /// Starts the next condition: push its text and values on the builder
    /// returned.
    pub(crate) fn and<'s, 'args, DB: Database>(
        &mut self,
        sql: &'s mut QueryBuilder<'args, DB>,
    ) -> &'s mut QueryBuilder<'args, DB> {
        sql.push(if self.any { " AND " } else { " WHERE " });
        self.any = true;
        sql
    }
}
