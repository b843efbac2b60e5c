//! Test harness, in three parts:
//! - [`db`]: a fresh database per test on each backend (SQLite always,
//!   PostgreSQL when `NEO_SUPPORT_TEST_POSTGRES_URL` is set);
//! - [`server`]: a real server on `127.0.0.1:0` with a pinned clock and a
//!   staff token;
//! - [`daemon`]: the binaries run as child processes.
//!
//! A test that needs something this machine lacks (PostgreSQL, aiosmtpd)
//! says it is skipped and why; under `CI=true` it fails instead.

#![allow(dead_code)]

pub mod daemon;
pub mod db;
pub mod server;

use chrono::{DateTime, TimeZone, Utc};
use neo_support::domain::dates::jst;

pub use daemon::{Daemon, http_get, staff_token_on};
pub use db::{TestDb, postgres_or_skip, test_databases};
pub use server::{
    TestServer, bad_fields, first_year, new_contract, on_each_backend, order, reason,
};

/// Says that a test is skipped and why; under `CI=true`, where every
/// dependency must be present, fails the test instead.
pub fn skip_or_fail(why: &str) {
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("{why}, and CI=true: CI must provide it");
    }
    eprintln!("skipped: {why}");
}

/// The JST date 30 days ago, `YYYY-MM-DD`: a first year received then
/// covers today, whatever today is.
pub fn a_month_ago() -> String {
    let today = Utc::now().with_timezone(&jst()).date_naive();
    (today - chrono::Days::new(30))
        .format("%Y-%m-%d")
        .to_string()
}

/// A JST wall-clock instant.
pub fn jst_at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    jst()
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .with_timezone(&Utc)
}
