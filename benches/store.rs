//! One reissue transaction against the database, beside a bare one-row
//! write transaction on the same database, in one criterion group per
//! backend.
//!
//! - `reissue`: `Store::request_reissue` for a fresh fingerprint and request
//!   id each call, on 64 licenses in turn, each under an active first-year
//!   contract
//!   (`reissues_before_review: i64::MAX`, so every call signs): lock the
//!   license's contract and read its orders, look up the request id, check
//!   the contract, read the active key, count recent reissues, sign with a
//!   `Keyring` (as `&dyn Mint`), supersede the old key, insert the new key,
//!   its outbox e-mail and the reissue row, read the record back, commit.
//! - `bare INSERT transaction`: through the store's own pool, `BEGIN
//!   IMMEDIATE; INSERT one row into a scratch table; COMMIT` on SQLite
//!   (`BEGIN; INSERT; COMMIT` on PostgreSQL); the scratch table is created
//!   by the bench in its own database.
//!
//! Backends: SQLite, a file in a temporary directory (the store sets WAL
//! and `synchronous=NORMAL`); PostgreSQL too when
//! `NEO_SUPPORT_TEST_POSTGRES_URL` is set: the bench creates its own
//! database `neo_bench_<uuid>` there and drops it afterwards.
//!
//! Target: a reissue at >= 50 % of the bare INSERT-transaction rate.
//!
//! The ratio printed per backend at the end comes from an own timing loop
//! run after criterion, in the same process: several rounds, each timing a
//! batch of reissues and a batch of bare transactions with
//! `std::time::Instant`, taking turns so that load from other processes
//! hits both alike; each side's per-call time is the median over the
//! rounds, and the ratio is `bare time / reissue time`. The loop runs only
//! under `cargo bench` (not `--test`). Every reissue adds a key to its
//! license, so the keys per license are printed beside the ratio.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{Duration, Utc};
use criterion::Criterion;
use neo_support::domain::contract::{ContractId, EmailAddress, NewContract, NewOrder};
use neo_support::domain::dates::jst_date;
use neo_support::domain::license::{Fingerprint, Mint};
use neo_support::signer::keys::Keyring;
use neo_support::store::postgres::PostgresStore;
use neo_support::store::reissues::ReissueInput;
use neo_support::store::sqlite::SqliteStore;
use neo_support::store::{Audit, DatabaseOptions, Store};
use sqlx::Connection as _;
use tokio::runtime::Runtime;

const POSTGRES_ENV: &str = "NEO_SUPPORT_TEST_POSTGRES_URL";

/// A fresh fingerprint and request id per call, across the whole run.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The two transactions of one backend.
trait Backend {
    fn store(&self) -> &dyn Store;
    /// `BEGIN; INSERT one row; COMMIT`.
    async fn bare_insert(&self) -> sqlx::Result<()>;
}

impl Backend for SqliteStore {
    fn store(&self) -> &dyn Store {
        self
    }

    async fn bare_insert(&self) -> sqlx::Result<()> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO bench_scratch (note, created_at) VALUES ($1, $2)")
            .bind("bench")
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

impl Backend for PostgresStore {
    fn store(&self) -> &dyn Store {
        self
    }

    async fn bare_insert(&self) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO bench_scratch (note, created_at) VALUES ($1, $2)")
            .bind("bench")
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

/// A contract active today with its first key; returns the license id.
async fn licensed(store: &dyn Store, mint: &dyn Mint) -> String {
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
    contract.license_id
}

/// Licenses the reissues take turns on, as a server's many customers do.
const LICENSES: usize = 64;

/// One reissue to a new fingerprint, on the next license in turn.
async fn reissue(store: &dyn Store, mint: &dyn Mint, license_ids: &[String]) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let received_at = Utc::now();
    let input = ReissueInput {
        license_id: license_ids[n as usize % license_ids.len()].clone(),
        fingerprint: Fingerprint::parse(&format!("srv-{n:012}.bench.example")).expect("valid"),
        request_id: format!("bench-{n}"),
        requested_by: "bench".into(),
        received_at,
        delivery_on: jst_date(received_at),
        reissues_before_review: i64::MAX,
        // No provisional keys: the baseline measures what it did before.
        provisional_key_days: 0,
    };
    let record = store
        .request_reissue(&input, mint, &Audit::daemon())
        .await
        .expect("reissue recorded");
    black_box(record);
}

/// Median nanoseconds per call of the reissue and of the bare transaction.
fn interleaved(
    rt: &Runtime,
    db: &impl Backend,
    mint: &dyn Mint,
    license_ids: &[String],
    rounds: usize,
    batch: u32,
) -> (f64, f64) {
    let mut reissues = Vec::with_capacity(rounds);
    let mut inserts = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..batch {
            rt.block_on(reissue(db.store(), mint, license_ids));
        }
        reissues.push(start.elapsed().as_nanos() as f64 / f64::from(batch));
        let start = Instant::now();
        for _ in 0..batch {
            rt.block_on(db.bare_insert()).expect("bare insert");
        }
        inserts.push(start.elapsed().as_nanos() as f64 / f64::from(batch));
    }
    let median = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    (median(reissues), median(inserts))
}

/// Benches one backend; returns its ratio line (or None when not
/// benchmarking).
fn bench_backend(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    db: &impl Backend,
    mint: &dyn Mint,
    benchmarking: bool,
) -> Option<String> {
    let license_ids: Vec<String> = (0..LICENSES)
        .map(|_| rt.block_on(licensed(db.store(), mint)))
        .collect();
    let mut group = c.benchmark_group(format!("store/{name}"));
    group.bench_function("request_reissue (new fingerprint)", |b| {
        b.iter(|| rt.block_on(reissue(db.store(), mint, &license_ids)))
    });
    group.bench_function("bare INSERT transaction", |b| {
        b.iter(|| rt.block_on(db.bare_insert()).expect("bare insert"))
    });
    group.finish();
    if !benchmarking {
        return None;
    }
    const ROUNDS: usize = 21;
    const BATCH: u32 = 30;
    let keys_before = rt
        .block_on(db.store().list_license_keys(&license_ids[0]))
        .expect("keys")
        .len();
    let (reissue_ns, insert_ns) = interleaved(rt, db, mint, &license_ids, ROUNDS, BATCH);
    let keys_after = keys_before + ROUNDS * BATCH as usize / LICENSES;
    Some(format!(
        "reissue on {name}: {:.1} % of the bare INSERT-transaction rate (target >= 50 %): \
         reissue {:.0} µs, bare {:.0} µs (median of {ROUNDS} interleaved rounds x {BATCH}; \
         over {LICENSES} licenses with some {keys_before} -> {keys_after} keys each)",
        100.0 * insert_ns / reissue_ns,
        reissue_ns / 1000.0,
        insert_ns / 1000.0,
    ))
}

async fn sqlite_store(dir: &std::path::Path) -> SqliteStore {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let store = SqliteStore::connect(&url, &DatabaseOptions::default())
        .await
        .expect("SQLite store");
    sqlx::query(
        "CREATE TABLE bench_scratch (id INTEGER PRIMARY KEY, note TEXT NOT NULL, created_at TEXT NOT NULL)",
    )
    .execute(store.pool())
    .await
    .expect("scratch table");
    store
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
    async fn create(admin_url: &str) -> Self {
        let name = format!("neo_bench_{}", uuid::Uuid::new_v4().simple());
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
    let store = PostgresStore::connect(url, &DatabaseOptions::default())
        .await
        .expect("PostgreSQL store");
    sqlx::query(
        "CREATE TABLE bench_scratch (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
    )
    .execute(store.pool())
    .await
    .expect("scratch table");
    store
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let benchmarking =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list");
    let rt = Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (keyring, _) = Keyring::load_or_create(&dir.path().join("keys")).expect("a signing key");
    let mut criterion = Criterion::default().configure_from_args();
    let mut ratios = Vec::new();

    let sqlite = rt.block_on(sqlite_store(dir.path()));
    ratios.extend(bench_backend(
        &mut criterion,
        &rt,
        "sqlite",
        &sqlite,
        &keyring,
        benchmarking,
    ));
    rt.block_on(sqlite.pool().close());

    match std::env::var(POSTGRES_ENV) {
        Ok(admin_url) if !admin_url.is_empty() => {
            let database = rt.block_on(ScratchDatabase::create(&admin_url));
            let postgres = rt.block_on(postgres_store(&with_database(&admin_url, &database.name)));
            ratios.extend(bench_backend(
                &mut criterion,
                &rt,
                "postgres",
                &postgres,
                &keyring,
                benchmarking,
            ));
            rt.block_on(postgres.pool().close());
            drop(database);
        }
        _ => ratios.push(format!("{POSTGRES_ENV} not set: SQLite only")),
    }

    criterion.final_summary();
    println!();
    if !benchmarking {
        println!("ratios: skipped (only under `cargo bench`)");
    }
    for line in ratios {
        println!("{line}");
    }
}
