//! Databases for tests: a fresh SQLite file or PostgreSQL database per
//! test, so that tests run in parallel without touching each other's rows.

use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;

use super::skip_or_fail;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "NEO_SUPPORT_TEST_POSTGRES_URL";

/// A database made for one test.
pub struct TestDb {
    /// `sqlite` or `postgres`, for assertion messages.
    pub label: &'static str,
    /// The URL the server connects to.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        Self {
            label: "sqlite",
            url,
            dir: Some(dir),
            postgres: None,
        }
    }

    /// A new, empty PostgreSQL database on the server at `base_url`.
    pub async fn postgres(base_url: &str) -> Self {
        let name = format!("neo_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(base_url)
            .await
            .unwrap_or_else(|e| {
                panic!("{POSTGRES_ENV} is set but PostgreSQL cannot be reached: {e}")
            });
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        Self {
            label: "postgres",
            url: with_database(base_url, &name),
            dir: None,
            postgres: Some((base_url.to_owned(), name)),
        }
    }

    /// The PostgreSQL database's name (`None` for SQLite).
    pub fn postgres_name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, name)| name.as_str())
    }

    /// Removes the database.
    pub async fn drop_database(self) {
        if let Some((base_url, name)) = &self.postgres
            && let Ok(mut admin) = sqlx::PgConnection::connect(base_url).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
}

/// `base_url` naming the database `name` instead.
fn with_database(base_url: &str, name: &str) -> String {
    PgConnectOptions::from_str(base_url)
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is not a PostgreSQL URL: {e}"))
        .database(name)
        .to_url_lossy()
        .to_string()
}

/// One fresh database per backend the machine offers.
pub async fn test_databases() -> Vec<TestDb> {
    let mut databases = vec![TestDb::sqlite()];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => databases.push(TestDb::postgres(&url).await),
        _ => skip_or_fail(&format!(
            "{POSTGRES_ENV} is not set: running on SQLite only"
        )),
    }
    databases
}

/// The PostgreSQL server's URL for a test that needs PostgreSQL, or
/// `None` after saying that `test` is skipped (a failure under `CI=true`).
pub fn postgres_or_skip(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_or_fail(&format!("{POSTGRES_ENV} is not set: skipping {test}"));
            None
        }
    }
}

#[test]
fn a_test_database_url_keeps_the_server_and_names_the_new_database() {
    let url = with_database("postgres://postgres@127.0.0.1:5432/test", "neo_test_x");
    let options = PgConnectOptions::from_str(&url).unwrap();
    assert_eq!(options.get_database(), Some("neo_test_x"));
    assert_eq!(options.get_host(), "127.0.0.1");
    assert_eq!(options.get_port(), 5432);
    assert_eq!(options.get_username(), "postgres");
}
