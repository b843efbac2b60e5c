//! A real server on `127.0.0.1:0` in the test's own process, with a
//! pinned clock and a staff token, and the request builders and status
//! readers the tests share.

use std::sync::Arc;

use chrono::Utc;
use neo_support::client::{self, ClientOptions, SupportClient};
use neo_support::clock::{Clock, FixedClock};
use neo_support::domain::token::{Role, TokenSecret};
use neo_support::grpc::{AppState, Settings};
use neo_support::server::{ServeOptions, serve};
use neo_support::signer::keys::Keyring;
use neo_support::store::{self, Audit, DatabaseOptions, Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::db::{TestDb, test_databases};
use super::jst_at;

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
