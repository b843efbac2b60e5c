//! Whether the online calls cost the same with a large database as with an
//! almost empty one, and whether the listings page without scanning.
//!
//! The requirement: reissue and VerifyKey latency with 1,000,000 keys and
//! 100,000 contracts on record within 1.5x of an almost empty database;
//! listing contracts and the review queue page by page with keyset paging,
//! never a full scan.
//!
//! Two databases per backend, side by side:
//!
//! - almost empty: 120 contracts made through the `Store` API (create the
//!   contract, record a first-year order so that it is active today in JST,
//!   issue its first key), one reissue waiting for review on each
//!   (`reissues_before_review: 0`), and a customer token for 25 of them.
//! - at scale: the same schema filled with plain set-based SQL through the
//!   store's pool (a `WITH RECURSIVE` counter on SQLite, `generate_series`
//!   on PostgreSQL): `NEO_SUPPORT_SCALE_CONTRACTS` contracts (default
//!   100,000), each with a first-year order active today and a customer
//!   token; `NEO_SUPPORT_SCALE_KEYS` keys (default 1,000,000) spread evenly
//!   over their licenses (10 each: sequence 1..10, each superseding the
//!   one before, the last one active, issued 20 days apart up to 20 days
//!   ago); an `issued` reissue request for every key after the first; and
//!   one `pending_review` request per 25 contracts for the review queue.
//!   The token column holds a dummy of a real key's length. The outbox and
//!   the audit trail are not seeded. Then `ANALYZE` (PostgreSQL: `VACUUM
//!   ANALYZE`, as autovacuum would leave a long-lived database).
//!
//! What is timed, per call, on both databases:
//!
//! - `request_reissue`: a fresh fingerprint and request id each call,
//!   round-robin over 25 licenses (at scale: 25 seeded ones at random),
//!   `reissues_before_review: i64::MAX` so every call signs a key.
//! - the database part of an online VerifyKey: `find_active_token` (the
//!   call's token), `find_key` (the key's record; at scale a random one of
//!   the seeded keys), and the two one after the other.
//! - `list_contracts` and `list_reissues` (status `pending_review`), one
//!   page of 51 rows (page size 50 plus one, as the gRPC layer asks): the
//!   first page, and the last full page through the keyset cursor.
//! - `list_contracts` filtered by status `lapsed`, which no contract is:
//!   how long a filter that matches little takes to fill its page.
//!
//! The two databases take turns: several rounds, each timing a batch of
//! calls on one database and then the same batch on the other (which goes
//! first alternates), so that load from other processes hits both alike.
//! Each line prints the median and the 99th percentile of the single-call
//! times on each database, and their ratio (target for reissue and
//! VerifyKey: <= 1.5x).
//!
//! Then the plans of the statements behind those calls on the seeded
//! database (SQLite: `EXPLAIN QUERY PLAN`; PostgreSQL: `EXPLAIN` with the
//! values bound, and the generic plan a prepared statement may switch to
//! when its shape differs), each marked where it reads a whole table
//! (`SCAN <table>` without an index on SQLite, `Seq Scan` on PostgreSQL).
//!
//! Backends: SQLite, two files in a temporary directory; PostgreSQL too
//! when `NEO_SUPPORT_TEST_POSTGRES_URL` is set: the bench creates two
//! databases `neo_scale_<uuid>_empty` and `neo_scale_<uuid>_full` there and
//! drops them afterwards. Run it with `cargo bench --bench scale`; it does
//! nothing under `cargo test`. A full run takes a few minutes; set the two
//! scale variables lower for a quick one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as Elapsed, Instant};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use neo_support::domain::contract::{
    ContractId, ContractStatus, EmailAddress, NewContract, NewOrder, first_of_next, one_year_from,
    renewal_threshold,
};
use neo_support::domain::dates::jst_date;
use neo_support::domain::license::{Fingerprint, Mint, ReissueStatus};
use neo_support::domain::token::{Role, TokenSecret};
use neo_support::signer::keys::Keyring;
use neo_support::store::contracts::ContractQuery;
use neo_support::store::postgres::PostgresStore;
use neo_support::store::reissues::{ReissueInput, ReissueQuery};
use neo_support::store::sqlite::SqliteStore;
use neo_support::store::{Audit, DatabaseOptions, Store};
use neo_support::store::{Backend as StoreBackend, contracts, keys, orders, reissues, tokens};
use rand::Rng as _;
use sqlx::{Connection as _, Row as _};
use tokio::runtime::Runtime;

const POSTGRES_ENV: &str = "NEO_SUPPORT_TEST_POSTGRES_URL";
const KEYS_ENV: &str = "NEO_SUPPORT_SCALE_KEYS";
const CONTRACTS_ENV: &str = "NEO_SUPPORT_SCALE_CONTRACTS";

/// Contracts in the almost empty database.
const ALMOST_EMPTY_CONTRACTS: usize = 120;
/// Licenses the reissues go to, and customer tokens looked up.
const MEASURED_LICENSES: usize = 25;
/// Rows one page asks for: page size 50, plus one to see whether there is
/// another page.
const PAGE_ROWS: i64 = 51;
/// One review-queue request per this many seeded contracts.
const CONTRACTS_PER_PENDING_REVIEW: i64 = 25;
/// Seeded keys a statement inserts at most.
const KEYS_PER_STATEMENT: i64 = 100_000;
/// Seeded keys of a license are issued this far apart.
const SECONDS_BETWEEN_SEEDED_KEYS: i64 = 20 * 86_400;
/// Distinct key ids and token hashes looked up at scale.
const LOOKUP_TARGETS: usize = 5_000;

/// How many rounds of how many calls per database.
#[derive(Debug, Clone, Copy)]
struct Rounds {
    rounds: usize,
    batch: usize,
}

const REISSUE_ROUNDS: Rounds = Rounds {
    rounds: 20,
    batch: 25,
};
const LOOKUP_ROUNDS: Rounds = Rounds {
    rounds: 20,
    batch: 250,
};
const PAGE_ROUNDS: Rounds = Rounds {
    rounds: 20,
    batch: 10,
};
const SLOW_FILTER_ROUNDS: Rounds = Rounds {
    rounds: 3,
    batch: 1,
};

/// A fresh fingerprint and request id per reissue, across the whole run.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// How large the seeded database is.
#[derive(Debug, Clone, Copy)]
struct Scale {
    contracts: i64,
    keys_per_license: i64,
    pending_reviews: i64,
}

impl Scale {
    fn from_env() -> Self {
        let count = |name: &str, default: i64| match std::env::var(name) {
            Ok(text) => text
                .trim()
                .replace('_', "")
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .unwrap_or_else(|| panic!("{name} must be a positive whole number, not {text:?}")),
            Err(_) => default,
        };
        let keys = count(KEYS_ENV, 1_000_000);
        let contracts = count(CONTRACTS_ENV, 100_000);
        Self {
            contracts,
            keys_per_license: (keys / contracts).max(1),
            pending_reviews: (contracts / CONTRACTS_PER_PENDING_REVIEW).max(3 * PAGE_ROWS),
        }
    }

    fn keys(&self) -> i64 {
        self.contracts * self.keys_per_license
    }
}

// The ids of seeded rows, as the seeding SQL spells them.

fn seeded_license(contract: i64) -> String {
    format!("BS-SC-{contract:09}")
}

fn seeded_key(key: i64) -> String {
    format!("LK-{key:032X}")
}

fn seeded_token_hash(contract: i64) -> String {
    format!("{contract:064x}")
}

/// The values every seeded row shares.
#[derive(Debug, Clone)]
struct SeedShape {
    scale: Scale,
    now: DateTime<Utc>,
    today: NaiveDate,
    /// The first-year order: received (and purchased) 30 days ago.
    received_on: NaiveDate,
    start_on: NaiveDate,
    end_on: NaiveDate,
    covered_from: NaiveDate,
    /// The signing key of the almost empty database's keys.
    signing_key_id: String,
    /// The length of a real key's token.
    token_length: i64,
}

impl SeedShape {
    fn new(scale: Scale, signing_key_id: String, token_length: usize) -> Self {
        let now = Utc::now();
        let today = jst_date(now);
        let received_on = today - Duration::days(30);
        let start_on = first_of_next(received_on);
        Self {
            scale,
            now,
            today,
            received_on,
            start_on,
            end_on: one_year_from(start_on),
            covered_from: received_on.min(start_on),
            signing_key_id,
            token_length: i64::try_from(token_length).expect("a token length fits"),
        }
    }

    /// Filler the dummy tokens are cut from.
    fn token_filler(&self) -> String {
        "x".repeat(usize::try_from(self.token_length).unwrap_or(0))
    }

    /// Seeded licenses in statements of at most `KEYS_PER_STATEMENT` keys:
    /// inclusive ranges of key numbers.
    fn key_chunks(&self) -> Vec<(i64, i64)> {
        let per = self.scale.keys_per_license;
        let licenses_per_chunk = (KEYS_PER_STATEMENT / per).max(1);
        let mut chunks = Vec::new();
        let mut first_license = 1;
        while first_license <= self.scale.contracts {
            let last_license = (first_license + licenses_per_chunk - 1).min(self.scale.contracts);
            chunks.push(((first_license - 1) * per + 1, last_license * per));
            first_license = last_license + 1;
        }
        chunks
    }
}

/// A value bound to a statement whose plan is printed.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl Value {
    /// As an SQL literal, for `EXECUTE` of a prepared statement.
    fn literal(&self) -> String {
        match self {
            Value::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Value::Int(n) => n.to_string(),
            Value::Date(date) => format!("'{date}'"),
            Value::Time(at) => format!("'{}'", at.to_rfc3339()),
        }
    }
}

/// Binds `values` in order.
fn bind_values<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    values: &[Value],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for value in values {
        query = match value.clone() {
            Value::Text(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::Date(v) => query.bind(v),
            Value::Time(v) => query.bind(v),
        };
    }
    query
}

/// A statement the store runs, with values to plan it for.
struct Statement {
    /// Which store function runs it.
    mirrors: &'static str,
    sql: String,
    values: Vec<Value>,
}

impl Statement {
    /// The statement as the source builds it: column lists by name.
    fn shown(&self) -> String {
        [
            (keys::KEY_COLUMNS, "{KEY_COLUMNS}"),
            (reissues::REISSUE_COLUMNS, "{REISSUE_COLUMNS}"),
            (contracts::CONTRACT_COLUMNS, "{CONTRACT_COLUMNS}"),
            (orders::ORDER_COLUMNS, "{ORDER_COLUMNS}"),
            (tokens::TOKEN_COLUMNS, "{TOKEN_COLUMNS}"),
        ]
        .iter()
        .fold(self.sql.clone(), |sql, (columns, name)| {
            sql.replace(columns, name)
        })
    }
}

/// What differs per backend: seeding SQL, plans, sizes.
trait Backend {
    const NAME: &'static str;
    /// The store's backend, whose statements are planned.
    type Db: StoreBackend;
    /// The text of `list_contracts`'s statement for `query`, as the store
    /// builds it; `values` as it binds them (their count is checked).
    fn list_contracts_sql(query: &ContractQuery, values: &[Value]) -> String;
    /// The text of the statement that reads a page's orders.
    fn page_orders_sql(contract_ids: &[String]) -> String;
    /// How `analyze` refreshes the statistics.
    const ANALYZE: &'static str;

    fn store(&self) -> &dyn Store;
    /// Fills the database; returns how long each part took.
    async fn seed(&self, shape: &SeedShape) -> sqlx::Result<Vec<(&'static str, Elapsed)>>;
    /// Refreshes the planner's statistics (and, on PostgreSQL, vacuums).
    async fn analyze(&self) -> sqlx::Result<()>;
    /// The single number `sql` answers.
    async fn number(&self, sql: &str) -> sqlx::Result<i64>;
    /// The id of the contract at `offset` in id order.
    async fn contract_at(&self, offset: i64) -> sqlx::Result<String>;
    /// The `(delivery_on, id)` of the review-queue request at `offset`.
    async fn review_at(&self, offset: i64) -> sqlx::Result<(NaiveDate, String)>;
    /// The plan with the statement's values bound, one line per node.
    async fn plan(&self, statement: &Statement) -> sqlx::Result<Vec<String>>;
    /// The generic plan of the statement prepared, where the backend
    /// keeps one.
    async fn generic_plan(&self, statement: &Statement) -> sqlx::Result<Option<Vec<String>>>;
    /// The lines of a plan that read a whole table.
    fn full_scans(plan: &[String]) -> Vec<String>;
    /// The database's size on disk.
    async fn size_bytes(&self) -> sqlx::Result<i64>;
}

impl Backend for SqliteStore {
    const NAME: &'static str = "sqlite";
    type Db = sqlx::Sqlite;

    fn list_contracts_sql(query: &ContractQuery, values: &[Value]) -> String {
        built::<Self::Db>(|sql| contracts::push_list_contracts(sql, query), values)
    }

    fn page_orders_sql(contract_ids: &[String]) -> String {
        let values: Vec<Value> = contract_ids.iter().cloned().map(Value::Text).collect();
        built::<Self::Db>(
            |sql| orders::push_page_orders(sql, contract_ids.to_vec()),
            &values,
        )
    }
    const ANALYZE: &'static str = "ANALYZE";

    fn store(&self) -> &dyn Store {
        self
    }

    async fn seed(&self, shape: &SeedShape) -> sqlx::Result<Vec<(&'static str, Elapsed)>> {
        const COUNTER: &str =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)";
        const KEY_COUNTER: &str = "WITH RECURSIVE n(k) AS (SELECT $1 UNION ALL SELECT k + 1 FROM n WHERE k < $2), \
             s(k, i, q) AS (SELECT k, (k - 1) / $3 + 1, (k - 1) % $3 + 1 FROM n)";
        let scale = &shape.scale;
        let mut times = Vec::new();

        let started = Instant::now();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(&format!(
            "{COUNTER} INSERT INTO contracts (id, customer_name, contact_email, license_id, seats, customized, created_at) \
             SELECT printf('SC-%09d', i), '株式会社シード' || i, 'it' || i || '@seed.example.co.jp', \
             printf('BS-SC-%09d', i), 50 + i % 200, 0, $2 FROM n"
        ))
        .bind(scale.contracts)
        .bind(shape.now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "{COUNTER} INSERT INTO contract_orders (contract_id, kind, received_on, purchased_on, seats, start_on, end_on, covered_from, created_at, created_by) \
             SELECT printf('SC-%09d', i), 'first-year', $2, $2, 50 + i % 200, $3, $4, $5, $6, 'seed' FROM n"
        ))
        .bind(scale.contracts)
        .bind(shape.received_on)
        .bind(shape.start_on)
        .bind(shape.end_on)
        .bind(shape.covered_from)
        .bind(shape.now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "{COUNTER} INSERT INTO access_tokens (name, role, contract_id, token_hash, created_at) \
             SELECT 'customer-' || i, 'customer', printf('SC-%09d', i), printf('%064x', i), $2 FROM n"
        ))
        .bind(scale.contracts)
        .bind(shape.now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        times.push(("contracts, orders, tokens", started.elapsed()));

        let started = Instant::now();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let filler = shape.token_filler();
        for (first, last) in shape.key_chunks() {
            sqlx::query(&format!(
                "{KEY_COUNTER} INSERT INTO license_keys (id, license_id, contract_id, sequence, fingerprint, token, signing_key_id, status, supersedes, superseded_by, issued_at, requested_by) \
                 SELECT printf('LK-%032X', k), printf('BS-SC-%09d', i), printf('SC-%09d', i), q, \
                 printf('srv-%09d-%d.seed.example', i, q), substr('v4.public.seed.' || k || '.' || $4, 1, $5), $6, \
                 CASE WHEN q = $3 THEN 'active' ELSE 'superseded' END, \
                 CASE WHEN q > 1 THEN printf('LK-%032X', k - 1) END, \
                 CASE WHEN q < $3 THEN printf('LK-%032X', k + 1) END, \
                 strftime('%Y-%m-%dT%H:%M:%S+00:00', $7 - ($3 - q + 1) * $8, 'unixepoch'), 'seed' FROM s"
            ))
            .bind(first)
            .bind(last)
            .bind(scale.keys_per_license)
            .bind(&filler)
            .bind(shape.token_length)
            .bind(&shape.signing_key_id)
            .bind(shape.now.timestamp())
            .bind(SECONDS_BETWEEN_SEEDED_KEYS)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        times.push(("license keys", started.elapsed()));

        let started = Instant::now();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for (first, last) in shape.key_chunks() {
            sqlx::query(&format!(
                "{KEY_COUNTER} INSERT INTO reissue_requests (id, license_id, contract_id, request_id, fingerprint, status, received_at, delivery_on, key_id, requested_by) \
                 SELECT printf('RR-%032X', k), printf('BS-SC-%09d', i), printf('SC-%09d', i), 'seed-' || q, \
                 printf('srv-%09d-%d.seed.example', i, q), 'issued', \
                 strftime('%Y-%m-%dT%H:%M:%S+00:00', $4 - ($3 - q + 1) * $5, 'unixepoch'), \
                 date($4 - ($3 - q + 1) * $5, 'unixepoch'), printf('LK-%032X', k), 'seed' FROM s WHERE q > 1"
            ))
            .bind(first)
            .bind(last)
            .bind(scale.keys_per_license)
            .bind(shape.now.timestamp())
            .bind(SECONDS_BETWEEN_SEEDED_KEYS)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&format!(
            "{COUNTER} INSERT INTO reissue_requests (id, license_id, contract_id, request_id, fingerprint, status, received_at, delivery_on, key_id, requested_by) \
             SELECT printf('RR-F%031X', i), printf('BS-SC-%09d', (i * 7919) % $2 + 1), printf('SC-%09d', (i * 7919) % $2 + 1), \
             'seed-review-' || i, printf('srv-review-%09d.seed.example', i), 'pending_review', $3, \
             date($4, '+' || (i % 30) || ' days'), NULL, 'seed' FROM n"
        ))
        .bind(scale.pending_reviews)
        .bind(scale.contracts)
        .bind(shape.now)
        .bind(shape.today)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(self.pool())
            .await?;
        times.push(("reissue requests, checkpoint", started.elapsed()));
        Ok(times)
    }

    async fn analyze(&self) -> sqlx::Result<()> {
        sqlx::query(Self::ANALYZE).execute(self.pool()).await?;
        Ok(())
    }

    async fn number(&self, sql: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(sql).fetch_one(self.pool()).await
    }

    async fn contract_at(&self, offset: i64) -> sqlx::Result<String> {
        sqlx::query_scalar("SELECT id FROM contracts ORDER BY id LIMIT 1 OFFSET $1")
            .bind(offset)
            .fetch_one(self.pool())
            .await
    }

    async fn review_at(&self, offset: i64) -> sqlx::Result<(NaiveDate, String)> {
        sqlx::query_as(
            "SELECT delivery_on, id FROM reissue_requests WHERE status = 'pending_review' \
             ORDER BY delivery_on, id LIMIT 1 OFFSET $1",
        )
        .bind(offset)
        .fetch_one(self.pool())
        .await
    }

    async fn plan(&self, statement: &Statement) -> sqlx::Result<Vec<String>> {
        let sql = format!("EXPLAIN QUERY PLAN {}", statement.sql);
        let rows = bind_values(sqlx::query(&sql), &statement.values)
            .fetch_all(self.pool())
            .await?;
        // Rows are (id, parent, notused, detail), parents before children.
        let mut depths: Vec<(i64, usize)> = Vec::new();
        let mut lines = Vec::new();
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let parent: i64 = row.try_get(1)?;
            let detail: String = row.try_get(3)?;
            let depth = depths
                .iter()
                .find(|(node, _)| *node == parent)
                .map_or(0, |(_, depth)| depth + 1);
            depths.push((id, depth));
            lines.push(format!("{}{detail}", "  ".repeat(depth)));
        }
        Ok(lines)
    }

    async fn generic_plan(&self, _statement: &Statement) -> sqlx::Result<Option<Vec<String>>> {
        // SQLite plans a statement once, whatever values are bound later.
        Ok(None)
    }

    fn full_scans(plan: &[String]) -> Vec<String> {
        // `SCAN x` without `USING ...` reads all of x, unless x is a
        // subquery's result (a co-routine or a materialized view).
        let subqueries: Vec<&str> = plan
            .iter()
            .filter_map(|line| {
                let line = line.trim_start();
                line.strip_prefix("CO-ROUTINE ")
                    .or_else(|| line.strip_prefix("MATERIALIZE "))
            })
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        plan.iter()
            .filter(|line| {
                let line = line.trim_start();
                let Some(rest) = line.strip_prefix("SCAN ") else {
                    return false;
                };
                let name = rest.split_whitespace().next().unwrap_or_default();
                !line.contains(" USING ") && name != "CONSTANT" && !subqueries.contains(&name)
            })
            .map(|line| line.trim().to_owned())
            .collect()
    }

    async fn size_bytes(&self) -> sqlx::Result<i64> {
        self.number("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
            .await
    }
}

impl Backend for PostgresStore {
    const NAME: &'static str = "postgres";
    type Db = sqlx::Postgres;

    fn list_contracts_sql(query: &ContractQuery, values: &[Value]) -> String {
        built::<Self::Db>(|sql| contracts::push_list_contracts(sql, query), values)
    }

    fn page_orders_sql(contract_ids: &[String]) -> String {
        let values: Vec<Value> = contract_ids.iter().cloned().map(Value::Text).collect();
        built::<Self::Db>(
            |sql| orders::push_page_orders(sql, contract_ids.to_vec()),
            &values,
        )
    }
    const ANALYZE: &'static str = "VACUUM (ANALYZE)";

    fn store(&self) -> &dyn Store {
        self
    }

    async fn seed(&self, shape: &SeedShape) -> sqlx::Result<Vec<(&'static str, Elapsed)>> {
        const KEY_SERIES: &str = "generate_series($1, $2) AS k, \
             LATERAL (SELECT (k - 1) / $3 + 1 AS i, (k - 1) % $3 + 1 AS q) AS s";
        let scale = &shape.scale;
        let mut times = Vec::new();

        let started = Instant::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO contracts (id, customer_name, contact_email, license_id, seats, customized, created_at) \
             SELECT 'SC-' || lpad(i::text, 9, '0'), '株式会社シード' || i, 'it' || i || '@seed.example.co.jp', \
             'BS-SC-' || lpad(i::text, 9, '0'), 50 + i % 200, false, $2 FROM generate_series(1, $1) AS i",
        )
        .bind(scale.contracts)
        .bind(shape.now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO contract_orders (contract_id, kind, received_on, purchased_on, seats, start_on, end_on, covered_from, created_at, created_by) \
             SELECT 'SC-' || lpad(i::text, 9, '0'), 'first-year', $2, $2, 50 + i % 200, $3, $4, $5, $6, 'seed' \
             FROM generate_series(1, $1) AS i",
        )
        .bind(scale.contracts)
        .bind(shape.received_on)
        .bind(shape.start_on)
        .bind(shape.end_on)
        .bind(shape.covered_from)
        .bind(shape.now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO access_tokens (name, role, contract_id, token_hash, created_at) \
             SELECT 'customer-' || i, 'customer', 'SC-' || lpad(i::text, 9, '0'), lpad(to_hex(i), 64, '0'), $2 \
             FROM generate_series(1, $1) AS i",
        )
        .bind(scale.contracts)
        .bind(shape.now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        times.push(("contracts, orders, tokens", started.elapsed()));

        let started = Instant::now();
        let mut tx = self.pool().begin().await?;
        let filler = shape.token_filler();
        for (first, last) in shape.key_chunks() {
            sqlx::query(&format!(
                "INSERT INTO license_keys (id, license_id, contract_id, sequence, fingerprint, token, signing_key_id, status, supersedes, superseded_by, issued_at, requested_by) \
                 SELECT 'LK-' || lpad(upper(to_hex(k)), 32, '0'), 'BS-SC-' || lpad(i::text, 9, '0'), 'SC-' || lpad(i::text, 9, '0'), q, \
                 'srv-' || lpad(i::text, 9, '0') || '-' || q || '.seed.example', left('v4.public.seed.' || k || '.' || $4, $5::int), $6, \
                 CASE WHEN q = $3 THEN 'active' ELSE 'superseded' END, \
                 CASE WHEN q > 1 THEN 'LK-' || lpad(upper(to_hex(k - 1)), 32, '0') END, \
                 CASE WHEN q < $3 THEN 'LK-' || lpad(upper(to_hex(k + 1)), 32, '0') END, \
                 to_timestamp($7 - ($3 - q + 1) * $8), 'seed' FROM {KEY_SERIES}"
            ))
            .bind(first)
            .bind(last)
            .bind(scale.keys_per_license)
            .bind(&filler)
            .bind(shape.token_length)
            .bind(&shape.signing_key_id)
            .bind(shape.now.timestamp())
            .bind(SECONDS_BETWEEN_SEEDED_KEYS)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        times.push(("license keys", started.elapsed()));

        let started = Instant::now();
        let mut tx = self.pool().begin().await?;
        for (first, last) in shape.key_chunks() {
            sqlx::query(&format!(
                "INSERT INTO reissue_requests (id, license_id, contract_id, request_id, fingerprint, status, received_at, delivery_on, key_id, requested_by) \
                 SELECT 'RR-' || lpad(upper(to_hex(k)), 32, '0'), 'BS-SC-' || lpad(i::text, 9, '0'), 'SC-' || lpad(i::text, 9, '0'), 'seed-' || q, \
                 'srv-' || lpad(i::text, 9, '0') || '-' || q || '.seed.example', 'issued', \
                 to_timestamp($4 - ($3 - q + 1) * $5), (to_timestamp($4 - ($3 - q + 1) * $5) AT TIME ZONE 'UTC')::date, \
                 'LK-' || lpad(upper(to_hex(k)), 32, '0'), 'seed' FROM {KEY_SERIES} WHERE q > 1"
            ))
            .bind(first)
            .bind(last)
            .bind(scale.keys_per_license)
            .bind(shape.now.timestamp())
            .bind(SECONDS_BETWEEN_SEEDED_KEYS)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO reissue_requests (id, license_id, contract_id, request_id, fingerprint, status, received_at, delivery_on, key_id, requested_by) \
             SELECT 'RR-F' || lpad(upper(to_hex(i)), 31, '0'), 'BS-SC-' || lpad(((i * 7919) % $2 + 1)::text, 9, '0'), \
             'SC-' || lpad(((i * 7919) % $2 + 1)::text, 9, '0'), 'seed-review-' || i, \
             'srv-review-' || lpad(i::text, 9, '0') || '.seed.example', 'pending_review', $3, \
             $4::date + (i % 30)::int, NULL, 'seed' FROM generate_series(1, $1) AS i",
        )
        .bind(scale.pending_reviews)
        .bind(scale.contracts)
        .bind(shape.now)
        .bind(shape.today)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        times.push(("reissue requests", started.elapsed()));
        Ok(times)
    }

    async fn analyze(&self) -> sqlx::Result<()> {
        sqlx::query(Self::ANALYZE).execute(self.pool()).await?;
        Ok(())
    }

    async fn number(&self, sql: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(sql).fetch_one(self.pool()).await
    }

    async fn contract_at(&self, offset: i64) -> sqlx::Result<String> {
        sqlx::query_scalar("SELECT id FROM contracts ORDER BY id LIMIT 1 OFFSET $1")
            .bind(offset)
            .fetch_one(self.pool())
            .await
    }

    async fn review_at(&self, offset: i64) -> sqlx::Result<(NaiveDate, String)> {
        sqlx::query_as(
            "SELECT delivery_on, id FROM reissue_requests WHERE status = 'pending_review' \
             ORDER BY delivery_on, id LIMIT 1 OFFSET $1",
        )
        .bind(offset)
        .fetch_one(self.pool())
        .await
    }

    async fn plan(&self, statement: &Statement) -> sqlx::Result<Vec<String>> {
        let sql = format!("EXPLAIN {}", statement.sql);
        let rows = bind_values(sqlx::query(&sql), &statement.values)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| row.try_get::<String, _>(0)).collect()
    }

    async fn generic_plan(&self, statement: &Statement) -> sqlx::Result<Option<Vec<String>>> {
        let mut connection = self.pool().acquire().await?;
        sqlx::raw_sql(&format!("PREPARE scale_plan AS {}", statement.sql))
            .execute(&mut *connection)
            .await?;
        let values: Vec<String> = statement.values.iter().map(Value::literal).collect();
        let plan = sqlx::raw_sql(&format!(
            "SET plan_cache_mode = force_generic_plan; EXPLAIN EXECUTE scale_plan({})",
            values.join(", ")
        ))
        .fetch_all(&mut *connection)
        .await;
        sqlx::raw_sql("RESET plan_cache_mode; DEALLOCATE scale_plan")
            .execute(&mut *connection)
            .await?;
        let lines = plan?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Some(lines))
    }

    fn full_scans(plan: &[String]) -> Vec<String> {
        plan.iter()
            .filter(|line| line.contains("Seq Scan"))
            .map(|line| {
                let line = line.trim().trim_start_matches("->").trim();
                line.split("  (cost=").next().unwrap_or(line).to_owned()
            })
            .collect()
    }

    async fn size_bytes(&self) -> sqlx::Result<i64> {
        self.number("SELECT pg_database_size(current_database())")
            .await
    }
}

/// A plan without its cost estimates, to compare shapes.
fn plan_shape(plan: &[String]) -> Vec<String> {
    plan.iter()
        .map(|line| line.split("  (cost=").next().unwrap_or(line).to_owned())
        .collect()
}

/// A contract active today with its first key, made through the store;
/// returns `(contract id, license id)`.
async fn licensed(store: &dyn Store, mint: &dyn Mint) -> (String, String) {
    let now = Utc::now();
    let today = jst_date(now);
    let contract = NewContract {
        id: ContractId::generate(),
        customer_name: "株式会社ベンチマーク".into(),
        contact_email: EmailAddress::parse("it@bench.example.co.jp").expect("valid address"),
        license_id: ContractId::parse(&format!("BS-{}", ContractId::generate())).expect("valid"),
        seats: 250,
        customized: false,
    };
    let contract = store
        .create_contract(&contract, now, &Audit::daemon())
        .await
        .expect("contract");
    let order = NewOrder::FirstYear {
        received_on: today - Duration::days(30),
        purchased_on: today - Duration::days(30),
    };
    store
        .record_order(&contract.id, &order, "bench", now, &Audit::daemon())
        .await
        .expect("first-year order");
    let fingerprint = Fingerprint::parse("srv-00.bench.example:FIRST").expect("valid");
    store
        .issue_first_key(
            &contract.license_id,
            &fingerprint,
            "bench",
            now,
            today,
            mint,
            &Audit::daemon(),
        )
        .await
        .expect("first key");
    (contract.id, contract.license_id)
}

/// A reissue to a new fingerprint, signed at once or left for review.
async fn reissue(
    store: &dyn Store,
    mint: &dyn Mint,
    license_id: &str,
    reissues_before_review: i64,
) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let received_at = Utc::now();
    let input = ReissueInput {
        license_id: license_id.to_owned(),
        fingerprint: Fingerprint::parse(&format!("srv-{n:012}.bench.example")).expect("valid"),
        request_id: format!("bench-{n}"),
        requested_by: "bench".into(),
        received_at,
        delivery_on: jst_date(received_at),
        reissues_before_review,
        // No provisional keys: the baseline measures what it did before.
        provisional_key_days: 0,
    };
    let record = store
        .request_reissue(&input, mint, &Audit::daemon())
        .await
        .expect("reissue recorded");
    std::hint::black_box(record);
}

/// One database and what the timed calls ask it for.
struct Target<'a> {
    store: &'a dyn Store,
    /// Licenses the reissues go to, round-robin.
    reissue_licenses: Vec<String>,
    /// Keys looked up, round-robin.
    key_ids: Vec<String>,
    /// Token hashes looked up, round-robin.
    token_hashes: Vec<String>,
    /// Contracts on record, and the cursor of the last full page.
    contracts: i64,
    contracts_cursor: (i64, String),
    /// Requests waiting for review, and the cursor of the last full page.
    pending_reviews: i64,
    review_cursor: (i64, (NaiveDate, String)),
}

/// Where the last full page starts: two pages before the end.
fn last_page_offset(rows: i64) -> i64 {
    (rows - 2 * PAGE_ROWS).max(0)
}

impl<'a> Target<'a> {
    /// The almost empty database, filled through the store.
    async fn almost_empty<B: Backend>(db: &'a B, mint: &dyn Mint) -> Self {
        let store = db.store();
        let now = Utc::now();
        let mut licenses = Vec::new();
        let mut token_hashes = Vec::new();
        for n in 0..ALMOST_EMPTY_CONTRACTS {
            let (contract_id, license_id) = licensed(store, mint).await;
            reissue(store, mint, &license_id, 0).await;
            if n < MEASURED_LICENSES {
                let secret = TokenSecret::generate();
                store
                    .create_token(
                        &format!("customer-{n}"),
                        &Role::Customer { contract_id },
                        &secret.hash(),
                        now,
                        &Audit::daemon(),
                    )
                    .await
                    .expect("customer token");
                token_hashes.push(secret.hash());
            }
            licenses.push(license_id);
        }
        let mut key_ids = Vec::new();
        for license in &licenses {
            let keys = store.list_license_keys(license).await.expect("keys");
            key_ids.extend(keys.into_iter().map(|key| key.id));
        }
        licenses.truncate(MEASURED_LICENSES);
        Self::with_cursors(db, licenses, key_ids, token_hashes).await
    }

    /// The seeded database: random seeded licenses, keys and tokens.
    async fn at_scale<B: Backend>(db: &'a B, scale: &Scale) -> Self {
        let mut rng = rand::rng();
        let contracts = usize::try_from(scale.contracts).expect("a count fits");
        let licenses =
            rand::seq::index::sample(&mut rng, contracts, MEASURED_LICENSES.min(contracts))
                .into_iter()
                .map(|index| seeded_license(i64::try_from(index).expect("fits") + 1))
                .collect();
        let key_ids = (0..LOOKUP_TARGETS)
            .map(|_| seeded_key(rng.random_range(1..=scale.keys())))
            .collect();
        let token_hashes = (0..LOOKUP_TARGETS)
            .map(|_| seeded_token_hash(rng.random_range(1..=scale.contracts)))
            .collect();
        Self::with_cursors(db, licenses, key_ids, token_hashes).await
    }

    async fn with_cursors<B: Backend>(
        db: &'a B,
        reissue_licenses: Vec<String>,
        key_ids: Vec<String>,
        token_hashes: Vec<String>,
    ) -> Self {
        let contracts = db
            .number("SELECT COUNT(*) FROM contracts")
            .await
            .expect("contract count");
        let pending_reviews = db
            .number("SELECT COUNT(*) FROM reissue_requests WHERE status = 'pending_review'")
            .await
            .expect("review count");
        let contract_offset = last_page_offset(contracts);
        let review_offset = last_page_offset(pending_reviews);
        let contracts_cursor = (
            contract_offset,
            db.contract_at(contract_offset).await.expect("a contract"),
        );
        let review_cursor = (
            review_offset,
            db.review_at(review_offset).await.expect("a pending review"),
        );
        Self {
            store: db.store(),
            reissue_licenses,
            key_ids,
            token_hashes,
            contracts,
            contracts_cursor,
            pending_reviews,
            review_cursor,
        }
    }

    fn key_id(&self, call: usize) -> &str {
        &self.key_ids[call % self.key_ids.len()]
    }

    fn token_hash(&self, call: usize) -> &str {
        &self.token_hashes[call % self.token_hashes.len()]
    }
}

/// Median and 99th percentile of single-call times.
#[derive(Debug, Clone, Copy)]
struct Latency {
    median: Elapsed,
    p99: Elapsed,
}

impl Latency {
    fn of(mut samples: Vec<Elapsed>) -> Self {
        samples.sort();
        let at = |q: f64| {
            let last = samples.len().saturating_sub(1);
            let rank = (last as f64 * q).round() as usize;
            samples.get(rank).copied().unwrap_or_default()
        };
        Self {
            median: at(0.5),
            p99: at(0.99),
        }
    }
}

/// The same operation timed on both databases in alternating batches;
/// returns the almost empty and the at-scale latency.
async fn compare<'a, Op>(targets: [&Target<'a>; 2], rounds: Rounds, mut op: Op) -> [Latency; 2]
where
    Op: AsyncFnMut(&Target<'a>, usize),
{
    let mut samples: [Vec<Elapsed>; 2] = Default::default();
    let mut calls = [0usize; 2];
    // One untimed batch each first: connections, statement caches.
    for (side, target) in targets.iter().enumerate() {
        for _ in 0..rounds.batch.min(10) {
            op(target, calls[side]).await;
            calls[side] += 1;
        }
    }
    for round in 0..rounds.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            for _ in 0..rounds.batch {
                let started = Instant::now();
                op(targets[side], calls[side]).await;
                samples[side].push(started.elapsed());
                calls[side] += 1;
            }
        }
    }
    let [empty, full] = samples;
    [Latency::of(empty), Latency::of(full)]
}

/// One printed line: an operation on both databases.
struct Line {
    what: String,
    /// Whether the 1.5x target applies.
    targeted: bool,
    latency: [Latency; 2],
}

fn millis(elapsed: Elapsed) -> String {
    format!("{:.3}", elapsed.as_secs_f64() * 1000.0)
}

fn ratio(full: Elapsed, empty: Elapsed) -> f64 {
    full.as_secs_f64() / empty.as_secs_f64().max(1e-9)
}

fn print_lines(lines: &[Line]) {
    println!(
        "{:<46} {:>21} {:>21} {:>15}",
        "per call, ms", "almost empty", "at scale", "ratio"
    );
    println!(
        "{:<46} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7}",
        "", "p50", "p99", "p50", "p99", "p50", "p99"
    );
    for line in lines {
        let [empty, full] = line.latency;
        let median_ratio = ratio(full.median, empty.median);
        let verdict = match (line.targeted, median_ratio <= 1.5) {
            (false, _) => "",
            (true, true) => "  within 1.5x",
            (true, false) => "  OVER 1.5x",
        };
        println!(
            "{:<46} {:>10} {:>10} {:>10} {:>10} {:>6.2}x {:>6.2}x{verdict}",
            line.what,
            millis(empty.median),
            millis(empty.p99),
            millis(full.median),
            millis(full.p99),
            median_ratio,
            ratio(full.p99, empty.p99),
        );
    }
}

/// Times every operation on both databases.
async fn measure(targets: [&Target<'_>; 2], mint: &dyn Mint) -> Vec<Line> {
    let mut lines = Vec::new();
    let full = targets[1];

    let latency = compare(targets, REISSUE_ROUNDS, async |target, call| {
        let licenses = &target.reissue_licenses;
        reissue(
            target.store,
            mint,
            &licenses[call % licenses.len()],
            i64::MAX,
        )
        .await;
    })
    .await;
    lines.push(Line {
        what: format!(
            "request_reissue ({} licenses, round-robin)",
            full.reissue_licenses.len()
        ),
        targeted: true,
        latency,
    });

    let latency = compare(targets, LOOKUP_ROUNDS, async |target, call| {
        let token = target
            .store
            .find_active_token(target.token_hash(call))
            .await
            .expect("token look-up");
        assert!(token.is_some(), "the token is on record");
    })
    .await;
    lines.push(Line {
        what: "VerifyKey: find_active_token".into(),
        targeted: true,
        latency,
    });

    let latency = compare(targets, LOOKUP_ROUNDS, async |target, call| {
        let key = target
            .store
            .find_key(target.key_id(call))
            .await
            .expect("key look-up");
        assert!(key.is_some(), "the key is on record");
    })
    .await;
    lines.push(Line {
        what: "VerifyKey: find_key".into(),
        targeted: true,
        latency,
    });

    let latency = compare(targets, LOOKUP_ROUNDS, async |target, call| {
        let token = target
            .store
            .find_active_token(target.token_hash(call))
            .await
            .expect("token look-up");
        let key = target
            .store
            .find_key(target.key_id(call))
            .await
            .expect("key look-up");
        assert!(token.is_some() && key.is_some(), "both are on record");
    })
    .await;
    lines.push(Line {
        what: "VerifyKey: find_active_token + find_key".into(),
        targeted: true,
        latency,
    });

    let list_contracts = async |target: &Target<'_>, after_id: Option<String>| {
        let page = target
            .store
            .list_contracts(&ContractQuery {
                after_id,
                limit: PAGE_ROWS,
                ..ContractQuery::default()
            })
            .await
            .expect("a page of contracts");
        assert_eq!(page.len(), PAGE_ROWS as usize, "a full page");
    };
    let latency = compare(targets, PAGE_ROUNDS, async |target, _| {
        list_contracts(target, None).await;
    })
    .await;
    lines.push(Line {
        what: "list_contracts, first page".into(),
        targeted: false,
        latency,
    });
    let latency = compare(targets, PAGE_ROUNDS, async |target, _| {
        list_contracts(target, Some(target.contracts_cursor.1.clone())).await;
    })
    .await;
    lines.push(Line {
        what: "list_contracts, last full page".into(),
        targeted: false,
        latency,
    });

    let list_reviews = async |target: &Target<'_>, after: Option<(NaiveDate, String)>| {
        let page = target
            .store
            .list_reissues(&ReissueQuery {
                status: ReissueStatus::PendingReview,
                after,
                limit: PAGE_ROWS,
            })
            .await
            .expect("a page of the review queue");
        assert_eq!(page.len(), PAGE_ROWS as usize, "a full page");
    };
    let latency = compare(targets, PAGE_ROUNDS, async |target, _| {
        list_reviews(target, None).await;
    })
    .await;
    lines.push(Line {
        what: "list_reissues pending_review, first page".into(),
        targeted: false,
        latency,
    });
    let latency = compare(targets, PAGE_ROUNDS, async |target, _| {
        list_reviews(target, Some(target.review_cursor.1.clone())).await;
    })
    .await;
    lines.push(Line {
        what: "list_reissues pending_review, last full page".into(),
        targeted: false,
        latency,
    });

    let latency = compare(targets, SLOW_FILTER_ROUNDS, async |target, _| {
        let today = jst_date(Utc::now());
        let page = target
            .store
            .list_contracts(&ContractQuery {
                status: Some((ContractStatus::Lapsed, today)),
                limit: PAGE_ROWS,
                ..ContractQuery::default()
            })
            .await
            .expect("a page of lapsed contracts");
        assert!(page.is_empty(), "no contract is lapsed");
    })
    .await;
    lines.push(Line {
        what: "list_contracts status=lapsed (none is)".into(),
        targeted: false,
        latency,
    });
    lines
}

/// The text of a listing as the store builds it with its `QueryBuilder`
/// (`?` placeholders on SQLite, `$N` on PostgreSQL). `values` must be
/// given in the order the store binds them: the count is checked.
fn built<DB: StoreBackend>(
    push: impl FnOnce(&mut sqlx::QueryBuilder<'_, DB>),
    values: &[Value],
) -> String {
    let mut sql = sqlx::QueryBuilder::new("");
    push(&mut sql);
    let sql = sql.into_sql();
    let placeholders = if sql.contains('$') {
        (1..=values.len() + 1)
            .take_while(|n| sql.contains(&format!("${n}")))
            .count()
    } else {
        sql.matches('?').count()
    };
    assert_eq!(
        placeholders,
        values.len(),
        "the bench's values for {sql:?} no longer match the store's"
    );
    sql
}

/// The statements behind the timed calls, with values from the seeded
/// database. Each text is the store's own (the `*_sql` functions and
/// constants of src/store, and its listing builders); `mirrors` names the
/// function that runs it.
async fn statements<B: Backend>(db: &B, full: &Target<'_>) -> Vec<Statement> {
    let now = Utc::now();
    let today = jst_date(now);
    let license = Value::Text(full.reissue_licenses[0].clone());
    let contract_id = db
        .store()
        .contract_by_license(&full.reissue_licenses[0])
        .await
        .expect("contract look-up")
        .expect("the license is under contract")
        .id;
    let first_page = db
        .store()
        .list_contracts(&ContractQuery {
            limit: PAGE_ROWS,
            ..ContractQuery::default()
        })
        .await
        .expect("a page of contracts");
    let page_ids: Vec<String> = first_page.into_iter().map(|(c, _)| c.id).collect();
    let (review_on, review_id) = full.review_cursor.1.clone();
    let first_contracts = ContractQuery {
        limit: PAGE_ROWS,
        ..ContractQuery::default()
    };
    let later_contracts = ContractQuery {
        after_id: Some(full.contracts_cursor.1.clone()),
        limit: PAGE_ROWS,
        ..ContractQuery::default()
    };
    let lapsed = ContractQuery {
        status: Some((ContractStatus::Lapsed, today)),
        limit: PAGE_ROWS,
        ..ContractQuery::default()
    };
    let threshold = Value::Date(renewal_threshold(today));
    let on = Value::Date(today);
    // In the order push_list_contracts binds them for a lapsed filter:
    // the recent ends, then active, started and the last end, the limit.
    let lapsed_values = vec![
        threshold.clone(),
        on.clone(),
        on.clone(),
        on.clone(),
        on.clone(),
        on.clone(),
        threshold,
        Value::Int(PAGE_ROWS),
    ];
    let page_values: Vec<Value> = page_ids.iter().cloned().map(Value::Text).collect();
    let later_values = vec![
        Value::Text(full.contracts_cursor.1.clone()),
        Value::Int(PAGE_ROWS),
    ];
    vec![
        Statement {
            mirrors: "request_reissue: lock_license, the contract (FOR UPDATE on PostgreSQL)",
            sql: keys::lock_license_sql::<B::Db>(),
            values: vec![license.clone()],
        },
        Statement {
            mirrors: "request_reissue: lock_license, the contract's orders",
            sql: orders::contract_orders_sql(),
            values: vec![Value::Text(contract_id)],
        },
        Statement {
            mirrors: "request_reissue: active_key_facts_sql, the active key with the request id, \
                      the pending request and the recent count",
            sql: reissues::active_key_facts_sql(),
            values: vec![
                license.clone(),
                Value::Text("bench-1".into()),
                Value::Time(now - Duration::days(365)),
                Value::Int(i64::MAX),
            ],
        },
        Statement {
            mirrors: "request_reissue: the same request id, alone (when the license has no active key)",
            sql: reissues::EARLIER_REISSUE.into(),
            values: vec![license.clone(), Value::Text("bench-1".into())],
        },
        Statement {
            mirrors: "request_reissue: the request waiting for review, alone (no active key)",
            sql: reissues::PENDING_REISSUE.into(),
            values: vec![license.clone()],
        },
        Statement {
            mirrors: "request_reissue: the newest key (no active key)",
            sql: keys::newest_key_sql(),
            values: vec![license.clone()],
        },
        Statement {
            mirrors: "active_key_in, a license's active key (approve_reissue)",
            sql: keys::active_key_sql(),
            values: vec![license.clone()],
        },
        Statement {
            mirrors: "request_reissue: issue_key_in, supersede the old key",
            sql: keys::SUPERSEDE_KEY.into(),
            values: vec![
                Value::Text(seeded_key(1)),
                Value::Text(full.key_id(0).to_owned()),
            ],
        },
        Statement {
            mirrors: "find_key (VerifyKey's key record)",
            sql: keys::find_key_sql(),
            values: vec![Value::Text(full.key_id(0).to_owned())],
        },
        Statement {
            mirrors: "find_active_token (every call's token)",
            sql: tokens::find_active_token_sql(),
            values: vec![Value::Text(full.token_hash(0).to_owned())],
        },
        Statement {
            mirrors: "list_contracts, first page",
            sql: B::list_contracts_sql(&first_contracts, &[Value::Int(PAGE_ROWS)]),
            values: vec![Value::Int(PAGE_ROWS)],
        },
        Statement {
            mirrors: "list_contracts, a later page (keyset cursor)",
            sql: B::list_contracts_sql(&later_contracts, &later_values),
            values: later_values.clone(),
        },
        Statement {
            mirrors: "list_contracts, the page's orders",
            sql: B::page_orders_sql(&page_ids),
            values: page_values.clone(),
        },
        Statement {
            mirrors: "list_contracts with status lapsed (push_status), first page",
            sql: B::list_contracts_sql(&lapsed, &lapsed_values),
            values: lapsed_values.clone(),
        },
        Statement {
            mirrors: "list_reissues pending_review, first page",
            sql: reissues::list_reissues_sql(false),
            values: vec![Value::Text("pending_review".into()), Value::Int(PAGE_ROWS)],
        },
        Statement {
            mirrors: "list_reissues pending_review, a later page (keyset cursor)",
            sql: reissues::list_reissues_sql(true),
            values: vec![
                Value::Text("pending_review".into()),
                Value::Date(review_on),
                Value::Text(review_id),
                Value::Int(PAGE_ROWS),
            ],
        },
    ]
}

/// Prints each statement's plan on the seeded database; returns the
/// statements that read a whole table.
async fn print_plans<B: Backend>(db: &B, full: &Target<'_>) -> Vec<String> {
    let mut scanning = Vec::new();
    for statement in statements(db, full).await {
        println!();
        println!("{}:", statement.mirrors);
        println!("  {}", statement.shown());
        let plan = db.plan(&statement).await.expect("a plan");
        for line in &plan {
            println!("    {line}");
        }
        let mut scans = B::full_scans(&plan);
        if let Some(generic) = db.generic_plan(&statement).await.expect("a generic plan")
            && plan_shape(&generic) != plan_shape(&plan)
        {
            println!("  generic plan (a prepared statement may switch to it after 5 runs):");
            for line in &generic {
                println!("    {line}");
            }
            scans.extend(B::full_scans(&generic));
        }
        if scans.is_empty() {
            println!("  full table scan: no");
        } else {
            println!("  full table scan: YES ({})", scans.join("; "));
            scanning.push(format!("{} [{}]", statement.mirrors, scans.join("; ")));
        }
    }
    scanning
}

fn mebibytes(bytes: i64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Seeds `full`, times both databases, prints the plans.
async fn run_backend<B: Backend>(empty_db: &B, full_db: &B, mint: &dyn Mint, scale: Scale) {
    let name = B::NAME;
    println!();
    println!("=== {name} ===");
    let started = Instant::now();
    let empty = Target::almost_empty(empty_db, mint).await;
    empty_db.analyze().await.expect("ANALYZE");
    println!(
        "{name}: almost empty database: {} contracts, {} keys, {} pending reviews through the store API in {:.1} s",
        empty.contracts,
        empty.key_ids.len(),
        empty.pending_reviews,
        started.elapsed().as_secs_f64()
    );

    let sample = empty
        .store
        .find_key(empty.key_id(0))
        .await
        .expect("key look-up")
        .expect("a key");
    let shape = SeedShape::new(scale, sample.signing_key_id, sample.token.len());
    println!(
        "{name}: seeding {} contracts, {} keys ({} per license), {} issued + {} pending reissue requests, {} tokens ...",
        scale.contracts,
        scale.keys(),
        scale.keys_per_license,
        scale.keys() - scale.contracts,
        scale.pending_reviews,
        scale.contracts
    );
    let started = Instant::now();
    let parts = full_db.seed(&shape).await.expect("seeding");
    let seeding = started.elapsed();
    let started = Instant::now();
    full_db.analyze().await.expect("ANALYZE");
    let analyzing = started.elapsed();
    let parts: Vec<String> = parts
        .iter()
        .map(|(part, took)| format!("{part} {:.1} s", took.as_secs_f64()))
        .collect();
    println!(
        "{name}: seeded in {:.1} s ({}); {} {:.1} s",
        seeding.as_secs_f64(),
        parts.join(", "),
        B::ANALYZE,
        analyzing.as_secs_f64()
    );
    let count = async |sql: &str| full_db.number(sql).await.expect("a count");
    println!(
        "{name}: on record: {} contracts, {} orders, {} keys ({} active), {} reissue requests ({} pending review), {} tokens; {} on disk (almost empty: {})",
        count("SELECT COUNT(*) FROM contracts").await,
        count("SELECT COUNT(*) FROM contract_orders").await,
        count("SELECT COUNT(*) FROM license_keys").await,
        count("SELECT COUNT(*) FROM license_keys WHERE status = 'active'").await,
        count("SELECT COUNT(*) FROM reissue_requests").await,
        count("SELECT COUNT(*) FROM reissue_requests WHERE status = 'pending_review'").await,
        count("SELECT COUNT(*) FROM access_tokens").await,
        mebibytes(full_db.size_bytes().await.expect("size")),
        mebibytes(empty_db.size_bytes().await.expect("size")),
    );
    let full = Target::at_scale(full_db, &scale).await;

    println!();
    println!(
        "{name}: almost empty vs at scale, taking turns (target for reissue and VerifyKey: at scale <= 1.5x)"
    );
    let started = Instant::now();
    let lines = measure([&empty, &full], mint).await;
    print_lines(&lines);
    println!(
        "(last full page: contracts after row {} of {} / row {} of {}; review queue after row {} of {} / row {} of {})",
        empty.contracts_cursor.0 + 1,
        empty.contracts,
        full.contracts_cursor.0 + 1,
        full.contracts,
        empty.review_cursor.0 + 1,
        empty.pending_reviews,
        full.review_cursor.0 + 1,
        full.pending_reviews,
    );
    println!(
        "({:.1} s; reissue {} calls, look-ups {} calls, pages {} calls, lapsed filter {} calls per database)",
        started.elapsed().as_secs_f64(),
        REISSUE_ROUNDS.rounds * REISSUE_ROUNDS.batch,
        LOOKUP_ROUNDS.rounds * LOOKUP_ROUNDS.batch,
        PAGE_ROUNDS.rounds * PAGE_ROUNDS.batch,
        SLOW_FILTER_ROUNDS.rounds * SLOW_FILTER_ROUNDS.batch,
    );

    println!();
    println!("{name}: plans on the seeded database");
    let scanning = print_plans(full_db, &full).await;
    println!();
    if scanning.is_empty() {
        println!("{name}: no plan reads a whole table");
    } else {
        println!("{name}: plans that read a whole table:");
        for statement in scanning {
            println!("  {statement}");
        }
    }
}

async fn sqlite_store(path: &std::path::Path) -> SqliteStore {
    let url = format!("sqlite://{}", path.display());
    SqliteStore::connect(&url, &DatabaseOptions::default())
        .await
        .expect("SQLite store")
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

/// The bench's own PostgreSQL database, dropped with the guard.
struct ScratchDatabase {
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    async fn create(admin_url: &str, name: String) -> Self {
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("PostgreSQL answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        let _ = admin.close().await;
        Self {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            eprintln!("could not drop database {}", self.name);
            return;
        };
        let dropped = rt.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
            sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await?;
            admin.close().await
        });
        if let Err(error) = dropped {
            eprintln!("could not drop database {}: {error}", self.name);
        }
    }
}

async fn postgres_store(url: &str) -> PostgresStore {
    PostgresStore::connect(url, &DatabaseOptions::default())
        .await
        .expect("PostgreSQL store")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let benchmarking =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list");
    if !benchmarking {
        println!("scale: skipped (it runs under `cargo bench --bench scale`)");
        return;
    }
    let scale = Scale::from_env();
    let rt = Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (keyring, _) = Keyring::load_or_create(&dir.path().join("keys")).expect("a signing key");

    rt.block_on(async {
        let empty = sqlite_store(&dir.path().join("empty.db")).await;
        let full = sqlite_store(&dir.path().join("full.db")).await;
        run_backend(&empty, &full, &keyring, scale).await;
        empty.pool().close().await;
        full.pool().close().await;
    });

    match std::env::var(POSTGRES_ENV) {
        Ok(admin_url) if !admin_url.is_empty() => {
            let run = uuid::Uuid::new_v4().simple();
            let empty_database = rt.block_on(ScratchDatabase::create(
                &admin_url,
                format!("neo_scale_{run}_empty"),
            ));
            let full_database = rt.block_on(ScratchDatabase::create(
                &admin_url,
                format!("neo_scale_{run}_full"),
            ));
            rt.block_on(async {
                let empty = postgres_store(&empty_database.url()).await;
                let full = postgres_store(&full_database.url()).await;
                run_backend(&empty, &full, &keyring, scale).await;
                empty.pool().close().await;
                full.pool().close().await;
            });
            drop(full_database);
            drop(empty_database);
        }
        _ => {
            println!();
            println!("{POSTGRES_ENV} not set: SQLite only");
        }
    }
}
