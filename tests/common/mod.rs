//! Test harness: a fresh database per test on each backend (SQLite always,
//! PostgreSQL when `NEO_SUPPORT_TEST_POSTGRES_URL` is set) and a real
//! server on `127.0.0.1:0` with a pinned clock and a staff token.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use neo_support::client::{self, ClientOptions, SupportClient};
use neo_support::clock::{Clock, FixedClock};
use neo_support::domain::dates::jst;
use neo_support::domain::token::{Role, TokenSecret};
use neo_support::grpc::{AppState, Settings};
use neo_support::server::{ServeOptions, serve};
use neo_support::signer::keys::Keyring;
use neo_support::store::{self, Audit, DatabaseOptions, Store};
use sqlx::Connection;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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

/// `base_url` with its database name replaced.
fn with_database(base_url: &str, name: &str) -> String {
    let (head, query) = match base_url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (base_url, None),
    };
    let authority_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[authority_end..].find('/') {
        Some(slash) => &head[..authority_end + slash],
        None => head,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// One fresh database per backend the machine offers.
pub async fn test_databases() -> Vec<TestDb> {
    let mut databases = vec![TestDb::sqlite()];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => databases.push(TestDb::postgres(&url).await),
        _ => eprintln!("{POSTGRES_ENV} is not set: running on SQLite only"),
    }
    databases
}

/// Runs `test` against a fresh server on each backend, then stops the
/// server and removes its database.
pub async fn on_each_backend(test: impl AsyncFn(&TestServer)) {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        test(&server).await;
        server.stop().await;
        db.drop_database().await;
    }
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

/// A running server on a real port.
pub struct TestServer {
    /// The server's business settings.
    pub settings: Settings,
    /// The server's signing keys.
    pub keyring: Arc<Keyring>,
    /// Where its keys are (removed with the server).
    pub keys_dir: tempfile::TempDir,
    /// The backend's name, for assertion messages.
    pub label: &'static str,
    /// `http://127.0.0.1:PORT` (or https).
    pub url: String,
    /// The server's store, to arrange data and check what was written.
    pub store: Arc<dyn Store>,
    /// The server's clock.
    pub clock: Arc<FixedClock>,
    /// A staff token.
    pub staff_token: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<neo_support::Result<()>>,
}

impl TestServer {
    /// Serves over plaintext on `db`.
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, ServeOptions::default()).await
    }

    /// Serves on `db` with these options.
    pub async fn start_with(db: &TestDb, options: ServeOptions) -> Self {
        Self::start_full(db, options, Settings::default()).await
    }

    /// Serves on `db` with these options and settings, with a fresh
    /// signing key of its own.
    pub async fn start_full(db: &TestDb, options: ServeOptions, settings: Settings) -> Self {
        let keys_dir = tempfile::tempdir().expect("keys directory");
        let (keyring, _) = Keyring::load_or_create(keys_dir.path()).expect("signing key");
        Self::start_on(
            db,
            options,
            settings,
            Arc::new(keyring),
            keys_dir,
            "test staff",
        )
        .await
    }

    /// Another replica on the same database with the same signing keys and
    /// a staff token of its own.
    pub async fn replica(&self, db: &TestDb, number: usize) -> Self {
        let keys_dir = tempfile::tempdir().expect("keys directory");
        let name = format!("test staff (replica {number})");
        Self::start_on(
            db,
            ServeOptions::default(),
            self.settings.clone(),
            self.keyring.clone(),
            keys_dir,
            &name,
        )
        .await
    }

    async fn start_on(
        db: &TestDb,
        options: ServeOptions,
        settings: Settings,
        keyring: Arc<Keyring>,
        keys_dir: tempfile::TempDir,
        staff_name: &str,
    ) -> Self {
        let store = store::connect(&db.url, &DatabaseOptions::default())
            .await
            .expect("connect test database");
        let clock = Arc::new(FixedClock::new(jst_at(2026, 11, 25, 10, 0, 0)));
        let staff = TokenSecret::generate();
        store
            .create_token(
                staff_name,
                &Role::Staff,
                &staff.hash(),
                Clock::now(clock.as_ref()),
                &Audit::daemon(),
            )
            .await
            .expect("create staff token");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let state = AppState::new(
            store.clone(),
            clock.clone(),
            keyring.clone(),
            settings.clone(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, options, async {
            let _ = stopped.await;
        }));
        Self {
            settings,
            keyring,
            keys_dir,
            label: db.label,
            url: format!("{scheme}://127.0.0.1:{port}"),
            store,
            clock,
            staff_token: staff.expose().to_owned(),
            stop: Some(stop),
            task,
        }
    }

    /// Client options with a token.
    pub fn options(&self, token: Option<&str>) -> ClientOptions {
        ClientOptions {
            server: self.url.clone(),
            token: token.map(str::to_owned),
            ca_cert_pem: None,
        }
    }

    /// A LicenseService client with any token, or none.
    pub async fn licenses(&self, token: Option<&str>) -> neo_support::client::LicenseClient {
        client::license(&self.options(token))
            .await
            .expect("connect")
    }

    /// A SupportService client with the staff token.
    pub async fn staff(&self) -> SupportClient {
        self.client(Some(&self.staff_token)).await
    }

    /// A SupportService client with any token, or none.
    pub async fn client(&self, token: Option<&str>) -> SupportClient {
        client::support(&self.options(token))
            .await
            .expect("connect")
    }

    /// Creates a token with `role` directly in the store.
    pub async fn token(&self, name: &str, role: Role) -> (i64, String) {
        let secret = TokenSecret::generate();
        let record = self
            .store
            .create_token(name, &role, &secret.hash(), Utc::now(), &Audit::daemon())
            .await
            .expect("create token");
        (record.id, secret.expose().to_owned())
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .await
            .expect("server task")
            .expect("server result");
    }
}

/// The ErrorInfo reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// The fields named by a status's BadRequest violations.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn database_urls_get_their_name_replaced() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database(
            "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
            "x"
        ),
        "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    let _ = sqlx::postgres::PgConnectOptions::from_str("postgres://h/x").unwrap();
}

/// A CreateContractRequest for a customer.
pub fn new_contract(
    id: &str,
    license_id: &str,
    seats: i64,
    customized: bool,
) -> neo_support::pb::CreateContractRequest {
    neo_support::pb::CreateContractRequest {
        id: id.into(),
        customer_name: format!("株式会社テスト {id}"),
        contact_email: "it-admin@example.co.jp".into(),
        license_id: license_id.into(),
        seats,
        customized,
    }
}

/// A RecordOrderRequest of `kind` received on `received_on`.
pub fn order(
    contract_id: &str,
    kind: neo_support::pb::OrderKind,
    received_on: &str,
) -> neo_support::pb::RecordOrderRequest {
    neo_support::pb::RecordOrderRequest {
        contract_id: contract_id.into(),
        kind: kind.into(),
        received_on: received_on.into(),
        ..Default::default()
    }
}

/// A first-year order.
pub fn first_year(
    contract_id: &str,
    received_on: &str,
    purchased_on: &str,
) -> neo_support::pb::RecordOrderRequest {
    neo_support::pb::RecordOrderRequest {
        purchased_on: purchased_on.into(),
        ..order(
            contract_id,
            neo_support::pb::OrderKind::FirstYear,
            received_on,
        )
    }
}

/// A `neo-supportd serve` process and everything it has logged.
pub struct Daemon {
    child: Child,
    /// `HOST:PORT` it listens on.
    pub address: String,
    /// Everything it has logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `neo-supportd serve` on a free port with JSON logs.
    pub fn start(database_url: &str, keys_dir: &std::path::Path) -> Self {
        Self::start_with(database_url, keys_dir, &[])
    }

    /// Starts it with extra `serve` flags.
    pub fn start_with(database_url: &str, keys_dir: &std::path::Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
            .args([
                "--log-format",
                "json",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .arg("--keys-dir")
            .arg(keys_dir)
            .args(extra)
            .env_remove("NEO_SUPPORT_LISTEN")
            .env_remove("NEO_SUPPORT_KEYS_DIR")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start neo-supportd");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let address = loop {
            let line = lines
                .next()
                .expect("neo-supportd exited before listening")
                .unwrap();
            log.lock().unwrap().push_str(&line);
            log.lock().unwrap().push('\n');
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "neo-supportd listening" {
                break entry["fields"]["local"].as_str().unwrap().to_owned();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self {
            child,
            address,
            log,
        }
    }

    /// Sends SIGTERM, waits, and returns the exit status and the log.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = self.signal_and_wait();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }

    /// Sends SIGTERM and waits.
    pub fn signal_and_wait(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    /// A failed test still stops its server.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    /// Kills it with SIGKILL: no chance to finish anything.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs a plain-HTTP path and returns the whole response.
pub fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Creates a staff token named `name` on `database_url` with
/// `neo-supportd token create`, as an operator would, and returns it.
pub fn staff_token_on(database_url: &str, name: &str) -> String {
    let created = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args([
            "token",
            "create",
            "--staff",
            "--name",
            name,
            "--database-url",
            database_url,
        ])
        .output()
        .expect("run neo-supportd token create");
    assert!(created.status.success(), "{created:?}");
    String::from_utf8(created.stdout)
        .expect("the token is text")
        .trim()
        .to_owned()
}
